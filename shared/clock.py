"""Time as the API shows it: ISO 8601 in UTC with a ``Z``."""

from datetime import UTC, datetime


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).isoformat().replace("+00:00", "Z")
