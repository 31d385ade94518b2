"""The only code that talks to AWS services and to Meta's formats."""
