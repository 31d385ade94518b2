"""The blue-link pages a citizen opens from WhatsApp: small, phone-friendly, Indonesian first.

The waiting page asks for its own state every few seconds with a small script and swaps in the
next state's card, which a screen reader announces politely; without JavaScript, a slow refresh
and a reload button do the same. The password form is a plain form post answered with a 303
(``shared.web.notices``). Pages are served with headers that keep them out of caches, referrers and
frames, and a policy that runs only their own nonce-tagged style and script.
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Mapping
from functools import partial
from string import Template
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from shared.clock import iso, wib_time
from shared.domain.flows import ConfirmResult, FlowKind, FlowStatus, LinkView
from shared.errors import ServiceError
from shared.web import anti_forgery, notices
from shared.web.models import LinkState
from shared.web.outcomes import AccountFacts, change_by_email, failure_text, forgot_password, start_again

if TYPE_CHECKING:
    from shared.domain.whatsapp_flows import WhatsAppFlows

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
        "back_to_app": "Silakan kembali ke aplikasi JSS.",
        "password_locked": "Konfirmasi password untuk akun ini dikunci sampai pukul {until} karena terlalu "
        "banyak password yang salah.",
        "link_ends_first": "Tautan ini berakhir sebelum itu.",
        "no_script": "Halaman ini diperbarui setiap 30 detik. Tekan Muat ulang untuk memeriksa sekarang.",
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
        "back_to_app": "You can go back to the JSS app now.",
        "password_locked": "Password confirmation for this account is locked until {until} after too many "
        "wrong passwords.",
        "link_ends_first": "This link ends before then.",
        "no_script": "This page updates every 30 seconds. Press Reload to check now.",
        "not_found_title": "Link not valid",
        "error_title": "Something went wrong",
    },
}

_PAGE = Template(
    """<!doctype html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
$no_script_refresh<title>$title - $service</title>
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
button,.button{box-sizing:border-box;display:inline-block;margin-top:1rem;width:100%;font-size:1.05rem;
padding:.75rem;border:0;border-radius:8px;background:#0b5cab;color:#fff;text-align:center;text-decoration:none}
a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #f9a825;outline-offset:2px;
box-shadow:0 0 0 5px #1b1f24}
h1:focus{outline:none}
.next{border-top:1px solid #ddd;padding-top:.75rem;font-size:.95rem}
.alert{background:#fdecea;color:#8c1d18;border-radius:8px;padding:.75rem;margin:.75rem 0}
h1,p,dd{overflow-wrap:anywhere}
@media (max-width:320px){main{padding:.75rem .5rem}.card{padding:.75rem}}
</style>
</head>
<body>
<main>
<header>$service</header>
<section class="card $tone" id="card" data-state="$state" aria-live="polite">
<h1 tabindex="-1"$heading_lang>$title</h1>
$body
</section>
</main>
$script</body>
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
    """The links a citizen opens in a browser (the blue links, "Bukan saya"): refusals are pages."""
    return path.startswith(("/m/", "/c/", "/u/"))


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
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; connect-src 'self'; "
            "form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
    }


def render_page(
    lang: str,
    status: int,
    title: str,
    body: str,
    *,
    state: str,
    tone: str = "",
    poll: bool = False,
    retry_after: int | None = None,
    title_lang: str | None = None,
    cookies: list[Cookie] | None = None,
) -> Response[str]:
    """``state`` names the card's state (the polling script swaps cards when it changes).
    ``title_lang``: the heading's own language, when it is not the page's (the guide's sentences
    stay Indonesian on an English page, and screen readers must say them so)."""
    nonce = secrets.token_urlsafe(16)
    document = _PAGE.substitute(
        lang=lang,
        service=_TEXT[lang]["service"],
        title=html.escape(title),
        heading_lang=lang_attribute(title_lang, lang),
        body=body,
        tone=tone,
        state=state,
        nonce=nonce,
        no_script_refresh=_NO_SCRIPT_REFRESH if poll else "",
        script=f'<script nonce="{nonce}">{_POLL_SCRIPT}</script>\n' if poll else "",
    )
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=document,
        headers=page_headers(nonce, retry_after),
        cookies=cookies or [],
    )


POLL_SECONDS = 5
_NO_SCRIPT_REFRESH = '<noscript><meta http-equiv="refresh" content="30"></noscript>\n'
# Asks for this page every few seconds (longer after a failure) and, once its state changes, puts
# the new card in place of the old: the live region announces it, and focus, if it was on the card,
# goes to the new heading rather than to the top of the page.
_POLL_SCRIPT = (
    """(()=>{const every=EVERY,card=document.getElementById("card");let wait=every;"""
    """const poll=async()=>{try{const answer=await fetch(location.pathname,{headers:{Accept:"text/html"},"""
    """cache:"no-store",credentials:"same-origin"});"""
    """const page=new DOMParser().parseFromString(await answer.text(),"text/html");"""
    """const next=page.getElementById("card");"""
    """if(next&&next.dataset.state!==card.dataset.state){const focused=card.contains(document.activeElement);"""
    """card.className=next.className;card.dataset.state=next.dataset.state;card.innerHTML=next.innerHTML;"""
    """document.title=page.title;if(focused){card.querySelector("h1").focus();}return;}wait=every;}"""
    """catch(error){wait=Math.min(wait*2,60000);}setTimeout(poll,wait);};setTimeout(poll,wait);})();"""
).replace("EVERY", str(POLL_SECONDS * 1000))


def facts_list(rows: list[tuple[str, str | None]]) -> str:
    """A page's facts (label and value, escaped); rows without a value are left out."""
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows if v)
    return f"<dl>{items}</dl>"


def paragraph(text: str, css_class: str = "") -> str:
    """One paragraph of escaped text."""
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<p{attribute}>{html.escape(text)}</p>"


def lang_attribute(part: str | None, page: str) -> str:
    """``lang`` for a part in another language than its page (the guide's Indonesian on English pages)."""
    return f' lang="{part}"' if part and part != page else ""


def link_page(
    view: LinkView,
    token: str,
    lang: str,
    notice: ServiceError | None = None,
    cookies: list[Cookie] | None = None,
) -> Response[str]:
    """The page for one state of a flow; ``notice``, what the password post that led here refused,
    shows above the form. A page is always a 200: form posts are answered with a 303 to it."""
    t = _TEXT[lang]
    alert = f'<p class="alert" role="alert" id="problem">{html.escape(notice.detail(lang))}</p>' if notice else ""
    if view.status is FlowStatus.FAILED:  # the number a message came from, refused: new or not
        number_label = t["sender"]
    else:
        number_label = t["new_number"] if view.kind is FlowKind.NUMBER_CHANGE else t["number"]
    until = wib_time(view.expires_at) if view.expires_at else None  # only open flows have one
    facts = facts_list(
        [(number_label, view.number_masked), (t["account"], view.account_masked), (t["valid_until"], until)]
    )
    page = partial(render_page, lang, 200, cookies=cookies)

    if view.status is FlowStatus.COMPLETED and view.success_message:
        body = facts + paragraph(t["back_to_app"])
        return page(view.success_message, body, state="completed", tone="ok", title_lang="id")
    if view.status is FlowStatus.PENDING:
        reload = f'<a class="button" href="">{t["refresh"]}</a><noscript>{paragraph(t["no_script"])}</noscript>'
        body = alert + paragraph(t["waiting_body"]) + facts + reload
        return page(t["waiting_title"], body, state="pending", poll=True)
    if view.status is FlowStatus.AWAITING_PASSWORD and view.password_locked_until:
        return page(t["locked_title"], _account_locked(view, lang) + facts, state="password_locked", tone="bad")
    if view.status is FlowStatus.AWAITING_PASSWORD:
        form = _password_form(token, lang, notice) + _forgot_password(view, lang)
        body = alert + paragraph(t["confirm_body"]) + facts + form
        retry_after = notice.retry_after if notice else None
        return page(t["confirm_title"], body, state="awaiting_password", retry_after=retry_after)
    if view.status is FlowStatus.LOCKED:
        detail = ServiceError("flow_locked").detail(lang)
        return page(
            t["locked_title"], paragraph(detail) + facts + _forgot_password(view, lang), state="locked", tone="bad"
        )
    next_step = failure_text(view.reason, lang, AccountFacts(view.kind, view.account_has_email))
    return page(t["failed_title"], alert + paragraph(next_step) + facts, state="failed", tone="bad")


def _password_form(token: str, lang: str, notice: ServiceError | None) -> str:
    t = _TEXT[lang]
    # After a refused try, the field says why and takes the focus, so the citizen can type again.
    described = ' aria-describedby="problem" aria-invalid="true" autofocus' if notice else ""
    return (
        '<form method="post" action="" autocomplete="off">'
        f'<input type="hidden" name="csrf_token" value="{anti_forgery.issue(token)}">'
        f'<label for="password">{t["password"]}</label>'
        f'<input id="password" name="password" type="password" required autocomplete="current-password"{described}>'
        f'<button type="submit"{lang_attribute("id", lang)}>{t["submit"]}</button></form>'
    )


def _forgot_password(view: LinkView, lang: str) -> str:
    return paragraph(forgot_password(lang, view.account_has_email), "next")


def _account_locked(view: LinkView, lang: str) -> str:
    """Too many wrong passwords on the account: no form, and what to do, since the link ends first."""
    t = _TEXT[lang]
    locked_until = view.password_locked_until or 0
    text = [t["password_locked"].format(until=wib_time(locked_until))]
    if view.expires_at and view.expires_at < locked_until:
        text.append(t["link_ends_first"])
    text.append(start_again(lang, view.kind))
    steps = paragraph(" ".join(text))
    return steps + (paragraph(change_by_email(lang), "next") if view.account_has_email else "")


def error_page(error: ServiceError, lang: str) -> Response[str]:
    t = _TEXT[lang]
    title = t["not_found_title"] if error.status == 404 else t["error_title"]
    body = paragraph(error.detail(lang))
    return render_page(lang, error.status, title, body, state=error.code, tone="bad", retry_after=error.retry_after)


def link_payload(view: LinkView, token: str, lang: str) -> dict[str, Any]:
    """The JSON form of a link page, for ``Accept: application/json``."""
    facts = AccountFacts(view.kind, view.account_has_email)
    return LinkState(
        kind=str(view.kind),
        status=str(view.status),
        message=view.success_message,
        number_masked=view.number_masked,
        account_masked=view.account_masked,
        reason=view.reason,
        reason_text=failure_text(view.reason, lang, facts) if view.reason else None,
        tries_left=view.tries_left,
        csrf_token=anti_forgery.issue(token) if view.status is FlowStatus.AWAITING_PASSWORD else None,
        expires_at=iso(view.expires_at) if view.expires_at else None,
        password_locked_until=iso(view.password_locked_until) if view.password_locked_until else None,
    ).model_dump()


def link_response(view: LinkView, token: str, request: BaseProxyEvent) -> Response[str]:
    """The page, or its JSON form, for one flow state. A page shows, once, what the password post
    that led to it refused (``shared.web.notices``)."""
    headers = request.headers
    lang = language(headers)
    if wants_html(headers):
        notice, cookies = notices.take(token, request.get("cookies") or [], view)
        return link_page(view, token, lang, notice, cookies)
    nonce = secrets.token_urlsafe(16)
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps(link_payload(view, token, lang), ensure_ascii=False),
        headers=page_headers(nonce),
    )


def after_password_post(
    flows: WhatsAppFlows, token: str, request: BaseProxyEvent, is_form_post: bool, result: ConfirmResult
) -> Response[str]:
    """A form post is answered with a 303 to the link page (Post/Redirect/Get); a JSON post with
    the outcome itself, or the problem that refused it."""
    if is_form_post:
        location = flows.link_url(token, FlowKind.NUMBER_CHANGE)
        return Response(303, "text/plain", "", {"Location": location}, cookies=notices.carry(token, result.error))
    if result.error:
        raise result.error
    return link_response(result.view, token, request)


def blue_link(
    flows: WhatsAppFlows, token: str, kind: FlowKind, request: BaseProxyEvent, open_whatsapp: bool
) -> Response[str]:
    """The blue link's page; with ``?open=whatsapp`` (what a start's QR code carries) and while the
    flow waits for its message, a redirect to WhatsApp with the prepared message typed in. Neither
    changes state."""
    view = flows.view_link(token, kind)
    if open_whatsapp and view.status is FlowStatus.PENDING:
        location = flows.whatsapp_url(token, kind)
        return Response(302, "text/plain", "", {"Location": location, "Cache-Control": "no-store"})
    return link_response(view, token, request)
