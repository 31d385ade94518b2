"""The anti-forgery value of the password form (B1): a per-page value, signed with the server key,
bound to the link token and to the time the page was made.

Form posts must carry it: a form is what another site could make a citizen's browser submit
without any script. JSON posts (``Content-Type: application/json`` exactly, as api.md allows) need
not: the API's CORS rules let any origin send them, but whoever can send one already holds the link
token, the route's only credential, which no browser attaches by itself (it is not a cookie). Any
other body type is refused before this check (``shared.web.api.parse_form``).
"""

from __future__ import annotations

import hmac
import time

from shared.adapters.keys import keyed_hash
from shared.config import settings
from shared.errors import ServiceError

_MAX_TIME_DIGITS = 12  # epoch seconds; a longer "time" is no time at all


def issue(token: str, now: float | None = None) -> str:
    issued_at = int(time.time() if now is None else now)
    return f"{issued_at}.{keyed_hash('csrf', f'{token}.{issued_at}')}"


def is_valid(token: str, value: str | None, now: float | None = None) -> bool:
    return _check(token, value, now) == "valid"


def _check(token: str, value: str | None, now: float | None) -> str:
    """``valid``, ``expired`` (ours, for this link, but older than a flow lives) or ``forged``."""
    given = value or ""
    issued, _, _ = given.partition(".")
    # ASCII only: isdigit() accepts digits int() refuses, and compare_digest refuses non-ASCII.
    if not given.isascii() or not issued.isdigit() or len(issued) > _MAX_TIME_DIGITS:
        return "forged"
    if not hmac.compare_digest(issue(token, int(issued)), given):
        return "forged"
    age = (time.time() if now is None else now) - int(issued)
    if age < 0:
        return "forged"
    return "valid" if age <= settings().flow_ttl_seconds else "expired"


def require(token: str, value: str | None, is_form_post: bool) -> None:
    """A form post must carry this link's value; an old one means the page sat open too long, and
    the citizen is told so (and to start again) rather than that the form is not valid."""
    if not is_form_post:
        return
    outcome = _check(token, value, None)
    if outcome == "expired":
        raise ServiceError("form_expired", minutes=settings().flow_ttl_seconds // 60)
    if outcome == "forged":
        raise ServiceError("forgery_check_failed")
