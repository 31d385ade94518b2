"""The blue-link pages a citizen opens from WhatsApp: small, phone-friendly, Indonesian first.

Pages work without JavaScript (the waiting page refreshes itself with a meta refresh, the password
form is a plain form post) and are served with headers that keep them out of caches, referrers and
frames.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Mapping
from string import Template
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from shared.clock import iso, wib_time
from shared.domain.flows import FailureReason, FlowKind, FlowStatus, LinkView
from shared.errors import ServiceError
from shared.web import anti_forgery
from shared.web.models import LinkState

if TYPE_CHECKING:
    from shared.domain.whatsapp_flows import WhatsAppFlows

REFRESH_SECONDS = 5

_TEXT: dict[str, dict[str, str]] = {
    "id": {
        "service": "Jogja Smart Service",
        "account": "Akun",
        "number": "Nomor WhatsApp",
        "new_number": "Nomor WhatsApp baru",
        "sender": "Nomor WhatsApp pengirim",
        "valid_until": "Berlaku sampai",
        "waiting_title": "Menunggu pesan WhatsApp Anda",
        "waiting_body": "Kirim pesan yang sudah disiapkan di WhatsApp tanpa mengubahnya. "
        "Halaman ini akan diperbarui otomatis setelah pesan kami terima.",
        "refresh": "Muat ulang",
        "confirm_title": "Konfirmasi Pergantian Nomor WhatsApp",
        "confirm_body": "Masukkan password akun JSS Anda untuk mengganti Nomor WhatsApp.",
        "password": "Password akun JSS",
        "submit": "Ubah",
        "failed_title": "Proses tidak berhasil",
        "locked_title": "Proses dikunci",
        "start_again": "Silakan mulai lagi dari menu Profil di aplikasi JSS.",
        "back_to_app": "Silakan kembali ke aplikasi JSS.",
        "not_found_title": "Tautan tidak berlaku",
        "error_title": "Terjadi kesalahan",
    },
    "en": {
        "service": "Jogja Smart Service",
        "account": "Account",
        "number": "WhatsApp number",
        "new_number": "New WhatsApp number",
        "sender": "Sender's WhatsApp number",
        "valid_until": "Valid until",
        "waiting_title": "Waiting for your WhatsApp message",
        "waiting_body": "Send the prepared message in WhatsApp without changing it. "
        "This page updates itself once we have received it.",
        "refresh": "Reload",
        "confirm_title": "Confirm the WhatsApp number change",
        "confirm_body": "Enter your JSS account password to change your WhatsApp number.",
        "password": "JSS account password",
        "submit": "Ubah",
        "failed_title": "The process did not succeed",
        "locked_title": "Process locked",
        "start_again": "Please start again from the Profile menu in the JSS app.",
        "back_to_app": "You can go back to the JSS app now.",
        "not_found_title": "Link not valid",
        "error_title": "Something went wrong",
    },
}

REASONS: dict[str, dict[str, str]] = {
    FailureReason.FORWARDED: {
        "id": "Pesan yang diteruskan (forward) tidak dapat dipakai. Kirim pesan langsung dari WhatsApp di HP Anda.",
        "en": "A forwarded message cannot be used. Send the message directly from WhatsApp on your phone.",
    },
    FailureReason.SENDER_NUMBER_HIDDEN: {
        "id": "Nomor WhatsApp pengirim tidak terlihat karena akun WhatsApp Anda memakai nama pengguna "
        "(username) yang menyembunyikan nomor. Tampilkan nomor Anda di pengaturan WhatsApp, "
        "lalu coba lagi, atau gunakan verifikasi melalui Email.",
        "en": "The sender's number is hidden because your WhatsApp account uses a username. Show your number "
        "in WhatsApp's settings and try again, or use verification by email.",
    },
    FailureReason.NUMBER_TAKEN: {
        "id": "Nomor WhatsApp ini sudah terhubung dengan akun JSS lain.",
        "en": "This WhatsApp number is already linked to another JSS account.",
    },
    FailureReason.SAME_NUMBER: {
        "id": "Pesan dikirim dari Nomor WhatsApp yang sudah terdaftar di akun Anda. "
        "Kirim pesan dari nomor WhatsApp yang baru.",
        "en": "The message came from the WhatsApp number already on your account. Send it from the new number.",
    },
    FailureReason.ALREADY_LINKED: {
        "id": "Akun Anda sudah memiliki Nomor WhatsApp.",
        "en": "Your account already has a WhatsApp number.",
    },
}

_PAGE = Template(
    """<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
$refresh<title>$title - $service</title>
<style nonce="$nonce">
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f4f6f8;color:#1b1f24;line-height:1.5}
main{max-width:28rem;margin:0 auto;padding:1.5rem 1rem}
header{font-weight:600;color:#0b5cab;margin-bottom:1rem}
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 .75rem}
.ok h1{color:#137333}.bad h1{color:#b3261e}
dl{margin:.75rem 0}dt{font-size:.85rem;color:#555}dd{margin:0 0 .5rem;font-weight:600}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=password]{box-sizing:border-box;width:100%;font-size:1rem;padding:.7rem;
border:1px solid #888;border-radius:8px}
button,.button{display:inline-block;margin-top:1rem;width:100%;font-size:1.05rem;padding:.75rem;border:0;border-radius:8px;background:#0b5cab;color:#fff;text-align:center;text-decoration:none}
.alert{background:#fdecea;color:#8c1d18;border-radius:8px;padding:.75rem;margin:.75rem 0}
h1,p,dd{overflow-wrap:anywhere}
@media (max-width:320px){main{padding:.75rem .5rem}.card{padding:.75rem}}
</style>
</head>
<body>
<main>
<header>$service</header>
<section class="card $tone" aria-live="polite">
<h1$heading_lang>$title</h1>
$body
</section>
</main>
</body>
</html>
"""
)


def language(headers: Mapping[str, str]) -> str:
    """Indonesian unless the browser prefers English over it (``Accept-Language`` q-values)."""
    best, best_q = "id", 0.0
    for part in _header(headers, "accept-language").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in _TEXT and q > best_q:
            best, best_q = primary, q
    return best


_JSON_TYPES = ("application/json", "application/problem+json")


def wants_html(headers: Mapping[str, str]) -> bool:
    """Link routes are pages: HTML, unless the client sends JSON or its ``Accept`` ranks a JSON type
    above ``text/html`` (no ``Accept``, or ``*/*``, is a browser's or a chat app's: HTML)."""
    if _header(headers, "content-type").split(";")[0].strip().lower() in _JSON_TYPES:
        return False
    accept = _header(headers, "accept")
    if not accept.strip():
        return True
    return accept_quality(accept, "text/html") >= max(accept_quality(accept, kind) for kind in _JSON_TYPES)


def accept_quality(accept: str, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type``: the most specific matching range wins (RFC 9110)."""
    family = media_type.split("/", maxsplit=1)[0]
    specificity, quality = -1, 0.0
    for part in accept.split(","):
        name, *params = (piece.strip() for piece in part.split(";"))
        rank = {media_type: 2, f"{family}/*": 1, "*/*": 0}.get(name.lower(), -1)
        if rank <= specificity:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        specificity, quality = rank, q
    return quality


def is_link_path(path: str) -> bool:
    return path.startswith(("/m/", "/c/"))


def _header(headers: Mapping[str, str] | None, name: str) -> str:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return ""


def page_headers(nonce: str, retry_after: int | None = None) -> dict[str, str]:
    extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return {
        **extra,
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
    }


def _render(
    lang: str,
    status: int,
    title: str,
    body: str,
    tone: str = "",
    refresh: bool = False,
    retry_after: int | None = None,
    title_lang: str | None = None,
) -> Response[str]:
    """``title_lang``: the heading's own language, when it is not the page's (the guide's sentences
    stay Indonesian on an English page, and screen readers must say them so)."""
    nonce = secrets.token_urlsafe(16)
    document = _PAGE.substitute(
        lang=lang,
        service=_TEXT[lang]["service"],
        title=html.escape(title),
        heading_lang=_lang_attribute(title_lang, lang),
        body=body,
        tone=tone,
        nonce=nonce,
        refresh=f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">\n' if refresh else "",
    )
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=document,
        headers=page_headers(nonce, retry_after),
    )


def _facts(rows: list[tuple[str, str | None]]) -> str:
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows if v)
    return f"<dl>{items}</dl>"


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def reason_text(reason: str | None, lang: str) -> str:
    if reason and reason in REASONS:
        return REASONS[reason][lang]
    return _TEXT[lang]["start_again"]


def _lang_attribute(part: str | None, page: str) -> str:
    return f' lang="{part}"' if part and part != page else ""


def link_page(view: LinkView, token: str, lang: str, error: ServiceError | None = None) -> Response[str]:
    """The page for one state of a flow; ``error`` (a refused password, say) shows above the form."""
    t = _TEXT[lang]
    status = error.status if error else 200
    retry_after = error.retry_after if error else None
    alert = f'<p class="alert" role="alert" id="problem">{html.escape(error.detail(lang))}</p>' if error else ""
    if view.status is FlowStatus.FAILED:  # the number a message came from, refused: new or not
        number_label = t["sender"]
    else:
        number_label = t["new_number"] if view.kind is FlowKind.NUMBER_CHANGE else t["number"]
    until = wib_time(view.expires_at) if view.expires_at else None  # only open flows have one
    facts = _facts([(number_label, view.number_masked), (t["account"], view.account_masked), (t["valid_until"], until)])

    if view.status is FlowStatus.COMPLETED and view.success_message:
        return _render(lang, 200, view.success_message, facts + _p(t["back_to_app"]), "ok", title_lang="id")
    if view.status is FlowStatus.PENDING:
        body = alert + _p(t["waiting_body"]) + facts + f'<a class="button" href="">{t["refresh"]}</a>'
        return _render(lang, status, t["waiting_title"], body, refresh=True)
    if view.status is FlowStatus.AWAITING_PASSWORD:
        described = ' aria-describedby="problem" aria-invalid="true"' if error else ""
        form = (
            '<form method="post" action="" autocomplete="off">'
            f'<input type="hidden" name="csrf_token" value="{anti_forgery.issue(token)}">'
            f'<label for="password">{t["password"]}</label>'
            f'<input id="password" name="password" type="password" required autocomplete="current-password"{described}>'
            f'<button type="submit"{_lang_attribute("id", lang)}>{t["submit"]}</button></form>'
        )
        body = alert + _p(t["confirm_body"]) + facts + form
        return _render(lang, status, t["confirm_title"], body, retry_after=retry_after)
    if view.status is FlowStatus.LOCKED:
        detail = ServiceError("flow_locked").detail(lang)
        return _render(lang, error.status if error else 200, t["locked_title"], _p(detail) + facts, "bad")
    body = alert + _p(reason_text(view.reason, lang)) + facts + _p(t["start_again"])
    return _render(lang, status, t["failed_title"], body, "bad")


def error_page(error: ServiceError, lang: str) -> Response[str]:
    t = _TEXT[lang]
    title = t["not_found_title"] if error.status == 404 else t["error_title"]
    return _render(lang, error.status, title, _p(error.detail(lang)), "bad", retry_after=error.retry_after)


def link_payload(view: LinkView, token: str, lang: str) -> dict[str, Any]:
    """The JSON form of a link page, for ``Accept: application/json``."""
    return LinkState(
        kind=str(view.kind),
        status=str(view.status),
        message=view.success_message,
        number_masked=view.number_masked,
        account_masked=view.account_masked,
        reason=view.reason,
        reason_text=reason_text(view.reason, lang) if view.reason else None,
        tries_left=view.tries_left,
        csrf_token=anti_forgery.issue(token) if view.status is FlowStatus.AWAITING_PASSWORD else None,
        expires_at=iso(view.expires_at) if view.expires_at else None,
    ).model_dump()


def link_response(
    view: LinkView, token: str, headers: Mapping[str, str], error: ServiceError | None = None
) -> Response[str]:
    """The page, or its JSON form, for one flow state."""
    lang = language(headers)
    if wants_html(headers):
        return link_page(view, token, lang, error)
    if error:
        raise error
    nonce = secrets.token_urlsafe(16)
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps(link_payload(view, token, lang), ensure_ascii=False),
        headers=page_headers(nonce),
    )


def blue_link(
    flows: WhatsAppFlows, token: str, kind: FlowKind, headers: Mapping[str, str], open_whatsapp: bool
) -> Response[str]:
    """The blue link's page; with ``?open=whatsapp`` (what a start's QR code carries) and while the
    flow waits for its message, a redirect to WhatsApp with the prepared message typed in. Neither
    changes state."""
    view = flows.view_link(token, kind)
    if open_whatsapp and view.status is FlowStatus.PENDING:
        location = flows.whatsapp_url(token, kind)
        return Response(302, "text/plain", "", {"Location": location, "Cache-Control": "no-store"})
    return link_response(view, token, headers)
