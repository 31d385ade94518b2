"""The outcome of a password form post, carried across its 303 to the link page, which shows it once.

A browser that posted a form and got a page back asks to post again on Back or refresh ("Confirm
Form Resubmission"); answered with 303 See Other, it only ever reloads the link page (Post/Redirect/
Get). What the page must still say (a wrong password, a busy moment) rides in a short-lived cookie
scoped to the blue links and bound to this link: the error's code only, never a password or a
token. The page rebuilds the message from the flow as it is now (tries left, locks), so a forged
or stale notice can say nothing the flow does not; reading the notice clears it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from aws_lambda_powertools.shared.cookies import Cookie, SameSite

from shared.config import settings
from shared.domain.flows import FlowStatus, LinkView
from shared.errors import ServiceError

NOTICE_COOKIE = "jss_notice"
NOTICE_SECONDS = 60
_PATH = "/c/"
# What a refused try leaves to say; the other refusals are states the page shows by itself
# (a locked flow or account, a flow still waiting for its message).
_SHOWN = ("wrong_password", "busy")


def carry(token: str, error: ServiceError | None) -> list[Cookie]:
    """The cookie telling the next view of this link what the post refused, if anything."""
    if error is None or error.code not in _SHOWN:
        return []
    value = f"{error.code}.{_link_tag(token)}"
    return [_cookie(value, NOTICE_SECONDS)]


def take(token: str, cookies: Sequence[str], view: LinkView) -> tuple[ServiceError | None, list[Cookie]]:
    """The notice left for this link, as an error to show with ``view``, and the cookie clearing it."""
    given = _notice_value(cookies)
    if given is None:
        return None, []
    clearing = [_cookie("", 0)]
    code, _, tag = given.partition(".")
    if tag != _link_tag(token) or view.status is not FlowStatus.AWAITING_PASSWORD or view.password_locked_until:
        return None, clearing
    if code == "wrong_password" and view.tries_left:
        return ServiceError("wrong_password", tries_left=view.tries_left), clearing
    if code == "busy":
        return ServiceError("busy", retry_after=1), clearing
    return None, clearing


def _notice_value(cookies: Sequence[str]) -> str | None:
    for cookie in cookies:
        name, _, value = cookie.strip().partition("=")
        if name == NOTICE_COOKIE and value:
            return value
    return None


def _link_tag(token: str) -> str:
    # A digest of the link, not the link: enough to tell two open links apart.
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def _cookie(value: str, max_age: int) -> Cookie:
    return Cookie(
        name=NOTICE_COOKIE,
        value=value,
        path=_PATH,
        secure=settings().public_base_url.startswith("https://"),  # plain http only on a developer's machine
        http_only=True,
        max_age=max_age,
        same_site=SameSite.LAX_MODE,
    )
