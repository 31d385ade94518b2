"""Time as people read it: ISO 8601 in UTC for the API, Western Indonesian Time for citizens."""

from datetime import UTC, datetime, timedelta, timezone

# Yogyakarta keeps Western Indonesian Time all year.
WIB = timezone(timedelta(hours=7), "WIB")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).isoformat().replace("+00:00", "Z")


def wib_time(epoch: float) -> str:
    """``17:45 WIB``"""
    return datetime.fromtimestamp(int(epoch), WIB).strftime("%H:%M WIB")


def wib_datetime(epoch: float) -> str:
    """``26-11-2026 17:45 WIB``"""
    return datetime.fromtimestamp(int(epoch), WIB).strftime("%d-%m-%Y %H:%M WIB")
