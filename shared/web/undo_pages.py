"""The "Bukan saya" link's page, ``/u/<token>``: what will be undone, the button, and what happened.

The rules of the blue links' pages (``shared.web.pages``, whose frame and helpers it uses):
Indonesian unless the browser prefers English, JSON when the client asks for it, only the page's own
nonce-tagged style, no caches, referrers or frames. Opening the link never changes anything. The
button posts a form with the page's anti-forgery value, answered with a 303 to the page
(Post/Redirect/Get); the page then shows the state the link and the account are in now (undone, or
why not), so nothing has to ride along in a cookie. An app may post JSON instead and gets the
outcome, or the problem that refused it.

The link's refusals are pages too, saying what happened and who to contact: routes answer them
here, since the shared error pages know only the blue links' paths.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.clock import iso, wib_datetime
from shared.config import settings
from shared.domain.undo.records import undo_url
from shared.domain.undo.service import UndoStatus, UndoView
from shared.errors import ServiceError
from shared.web import anti_forgery

# The blue links' page frame and its small builders: one look, one policy for every link page.
from shared.web.pages import facts_list, lang_attribute, language, page_headers, paragraph, render_page, wants_html

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

    from shared.domain.undo.service import NumberChangeUndo
    from shared.web.api import CheckedRequest

SUBMIT = "Ya, batalkan perubahan"
_TEXT: dict[str, dict[str, str]] = {
    "id": {
        "ready_title": "Batalkan penggantian Nomor WhatsApp?",
        "ready_body": "Nomor WhatsApp akun JSS Anda diganti pada {changed}. Jika bukan Anda yang menggantinya, "
        "batalkan perubahan ini: nomor sebelumnya dipulihkan dan nomor baru dilepas dari akun Anda.",
        "ready_after": "Setelah dibatalkan, Nomor WhatsApp akun ini tidak dapat diganti selama {hours} jam. "
        "Segera ganti juga password akun JSS dan password email Anda.",
        "its_mine": "Jika Anda sendiri yang mengganti nomor, tutup halaman ini; tidak ada yang berubah.",
        "previous": "Nomor sebelumnya (dipulihkan)",
        "new": "Nomor baru (dilepas)",
        "changed_at": "Diganti pada",
        "valid_until": "Tautan berlaku sampai",
        "undone_title": "Perubahan dibatalkan",
        "undone_body": "Nomor WhatsApp akun JSS Anda kembali {previous} sejak {undone}. Nomor {new} sudah dilepas "
        "dari akun Anda.",
        "undone_next": "Orang lain mungkin dapat masuk ke akun Anda: segera ganti password akun JSS dan password "
        "email Anda. Nomor WhatsApp akun ini tidak dapat diganti sampai {until}.",
        "refused_title": "Perubahan tidak dapat dibatalkan",
        "not_found_title": "Tautan tidak berlaku",
        "expired_title": "Tautan sudah kedaluwarsa",
        "error_title": "Terjadi kesalahan",
        "reload": "Muat ulang",
    },
    "en": {
        "ready_title": "Undo the WhatsApp number change?",
        "ready_body": "The WhatsApp number of your JSS account was changed on {changed}. If it was not you, undo "
        "the change: the previous number comes back and the new one is removed from your account.",
        "ready_after": "After the undo, this account's WhatsApp number cannot be changed for {hours} hours. "
        "Change your JSS password and your email password too, right away.",
        "its_mine": "If you changed the number yourself, close this page; nothing changes.",
        "previous": "Previous number (restored)",
        "new": "New number (removed)",
        "changed_at": "Changed on",
        "valid_until": "Link valid until",
        "undone_title": "Change undone",
        "undone_body": "Your JSS account's WhatsApp number is {previous} again since {undone}. The number {new} "
        "was removed from your account.",
        "undone_next": "Someone else may be able to sign in to your account: change your JSS password and your "
        "email password right away. This account's WhatsApp number cannot be changed until {until}.",
        "refused_title": "The change cannot be undone",
        "not_found_title": "Link not valid",
        "expired_title": "Link expired",
        "error_title": "Something went wrong",
        "reload": "Reload",
    },
}
_TITLES = {
    "undo_not_found": "not_found_title",
    "account_not_found": "not_found_title",
    "not_found": "not_found_title",
    "undo_expired": "expired_title",
}
# Refusals the page shows by itself once the browser is back on it (Post/Redirect/Get).
_SHOWN_BY_THE_PAGE = frozenset(
    {"undo_used", "undo_superseded", "undo_number_taken", "undo_expired", "undo_not_found", "account_not_found"}
)


class UndoConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    csrf_token: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        default=None, description="The page's anti-forgery value: required for a form post, not for JSON."
    )


# Read by the route itself (a form or JSON, shared.web.api.parse_form): declared for the document.
UNDO_CONFIRMATION_BODY = {
    "required": True,
    "content": {
        media_type: {"schema": UndoConfirmation.model_json_schema()}
        for media_type in ("application/json", "application/x-www-form-urlencoded")
    },
}


class UndoState(BaseModel):
    """The link's page as JSON (``Accept: application/json``)."""

    status: Literal["ready", "undone", "superseded", "number_taken"] = Field(
        description="ready: it can be undone now; undone; superseded: the number changed again since; "
        "number_taken: another account holds the previous number now."
    )
    previous_number_masked: str = Field(description="The number an undo puts back, masked: 0812-****-7890.")
    new_number_masked: str = Field(description="The number the change put in its place, masked.")
    changed_at: str
    expires_at: str = Field(description="Until when the link can undo the change.")
    undone_at: str | None = None
    number_changes_blocked_until: str | None = Field(
        default=None, description="Once undone: no journey can change the number before then."
    )
    reason: str | None = Field(default=None, description="Why it cannot be undone (a problem code).")
    reason_text: str | None = Field(default=None, description="Why, and who to contact, in the page's language.")
    csrf_token: str | None = Field(default=None, description="For the form post, while it can be undone.")


PAGE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The page for the link's state (HTML), or the same as JSON",
        "content": {"text/html": {"schema": {"type": "string"}}, "application/json": {"model": UndoState}},
    }
}
CONFIRMED: dict[int, OpenAPIResponse] = {
    **PAGE,
    303: {
        "description": "A form post's answer, whatever the outcome: to the link's page (Location), which shows it",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}


def show(undo: NumberChangeUndo, token: str, request: BaseProxyEvent) -> Response[str]:
    """``GET /u/<token>``: never changes state."""
    return _answering(request, lambda: _respond(undo.view(token), token, request))


def confirm(undo: NumberChangeUndo, token: str, request: CheckedRequest, form_post: bool) -> Response[str]:
    """``POST /u/<token>``: a form post is answered with a 303 to the page, whatever happened there;
    JSON with the outcome, or the problem that refused it."""

    def run() -> Response[str]:
        from shared.web.api import parse_form  # the page alone never reads a body

        form = parse_form(request, UndoConfirmation)
        try:
            anti_forgery.require(token, form.csrf_token, form_post)
        except ServiceError:  # an old page, or not ours: the blue links' wording does not fit here
            raise ServiceError("undo_form_invalid") from None
        try:
            view = undo.confirm(token)
        except ServiceError as refused:
            if form_post and refused.code in _SHOWN_BY_THE_PAGE:
                return _to_the_page(undo, token)
            raise
        return _to_the_page(undo, token) if form_post else _respond(view, token, request)

    return _answering(request, run)


def _answering(request: BaseProxyEvent, answer: Callable[[], Response[str]]) -> Response[str]:
    """A refusal as a page for a browser; as a problem document otherwise (``shared.web.api``)."""
    try:
        return answer()
    except ServiceError as error:
        if wants_html(request.headers):
            return error_page(error, language(request.headers))
        raise


def _to_the_page(undo: NumberChangeUndo, token: str) -> Response[str]:
    location = undo_url(undo.settings.public_base_url, token)
    return Response(303, "text/plain", "", {"Location": location, "Cache-Control": "no-store"})


def _respond(view: UndoView, token: str, request: BaseProxyEvent) -> Response[str]:
    lang = language(request.headers)
    if wants_html(request.headers):
        return undo_page(view, token, lang)
    body = json.dumps(undo_payload(view, token, lang), ensure_ascii=False)
    return Response(200, "application/json", body, page_headers(secrets.token_urlsafe(16)))


def undo_page(view: UndoView, token: str, lang: str) -> Response[str]:
    t = _TEXT[lang]
    page = partial(render_page, lang, 200)
    if view.status is UndoStatus.UNDONE:
        undone = wib_datetime(view.undone_at or 0)
        body = paragraph(t["undone_body"].format(previous=view.previous_masked, undone=undone, new=view.new_masked))
        body += paragraph(t["undone_next"].format(until=wib_datetime(view.blocked_until or 0)))
        return page(t["undone_title"], body, state="undone", tone="ok")
    rows: list[tuple[str, str | None]] = [
        (t["previous"], view.previous_masked),
        (t["new"], view.new_masked),
        (t["changed_at"], wib_datetime(view.changed_at)),
    ]
    if view.refusal is not None:
        body = paragraph(view.refusal.detail(lang)) + facts_list(rows)
        return page(t["refused_title"], body, state=str(view.status), tone="bad")
    hours = settings().undo_block_seconds // 3600
    body = (
        paragraph(t["ready_body"].format(changed=wib_datetime(view.changed_at)))
        + facts_list([*rows, (t["valid_until"], wib_datetime(view.expires_at))])
        + paragraph(t["ready_after"].format(hours=hours))
        + _form(token, lang)
        + paragraph(t["its_mine"], "next")
    )
    return page(t["ready_title"], body, state="ready")


def _form(token: str, lang: str) -> str:
    return (
        '<form method="post" action="" autocomplete="off">'
        f'<input type="hidden" name="csrf_token" value="{anti_forgery.issue(token)}">'
        f'<button type="submit"{lang_attribute("id", lang)}>{html.escape(SUBMIT)}</button></form>'
    )


def error_page(error: ServiceError, lang: str) -> Response[str]:
    """What the link cannot do, why, and who to contact; a stale form also gets a way back."""
    t = _TEXT[lang]
    title = t[_TITLES.get(error.code, "error_title")]
    body = paragraph(error.detail(lang))
    if error.code == "undo_form_invalid":
        body += f'<a class="button" href="">{t["reload"]}</a>'
    return render_page(lang, error.status, title, body, state=error.code, tone="bad", retry_after=error.retry_after)


def undo_payload(view: UndoView, token: str, lang: str) -> dict[str, Any]:
    refusal = view.refusal if view.status is not UndoStatus.UNDONE else None
    return UndoState(
        status=view.status.value,
        previous_number_masked=view.previous_masked,
        new_number_masked=view.new_masked,
        changed_at=iso(view.changed_at),
        expires_at=iso(view.expires_at),
        undone_at=iso(view.undone_at) if view.undone_at else None,
        number_changes_blocked_until=iso(view.blocked_until) if view.blocked_until else None,
        reason=refusal.code if refusal else None,
        reason_text=refusal.detail(lang) if refusal else None,
        csrf_token=anti_forgery.issue(token) if view.status is UndoStatus.READY else None,
    ).model_dump()
