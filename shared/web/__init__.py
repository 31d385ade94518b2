"""The HTTP edge: Powertools resolver setup, problem documents and the link pages."""
