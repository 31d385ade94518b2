"""The journeys and the rules they keep; data access goes through ``shared.adapters``."""
