"""The HTTP edge through the real function apps, with API Gateway HTTP API (payload 2.0) events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import ValidationError

from shared import services
from shared.domain.accounts import Account, AccountRegistry, account_key
from shared.domain.flows import CHANGE_SUCCESS, MIGRATION_SUCCESS, InboundMessage
from shared.errors import ServiceError
from shared.web import anti_forgery, pages
from shared.web.models import CodeEntry
from tests.unit.lambdas import FakeLambdaContext, load_function

ROOT = Path(__file__).resolve().parents[2]
SENDER = "6281234567890"  # as WhatsApp sends it
SENDER_E164 = "+" + SENDER
PASSWORD = "rahasia-JSS-2024"
FLOW_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

Scan = Callable[[str], list[dict[str, Any]]]


def http_event(
    method: str,
    path: str,
    *,
    sub: str | None = None,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    query: dict[str, str] | None = None,
    is_base64: bool = False,
    claims: dict[str, Any] | None = None,
    cookies: list[str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0 (header names arrive in lower case)."""
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "unitapi",
        "domainName": "unitapi.execute-api.ap-southeast-3.amazonaws.com",
        "domainPrefix": "unitapi",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.10",
            "userAgent": "Mozilla/5.0 (Linux; Android 14)",
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": "$default",
        "stage": "$default",
        "time": "15/Jun/2025:12:00:00 +0000",
        "timeEpoch": 1750000000000,
    }
    if sub is not None or claims is not None:
        jwt_claims = claims if claims is not None else {"sub": sub, "iss": "https://id.jss.example", "aud": "jss-app"}
        context["authorizer"] = {"jwt": {"claims": jwt_claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {
            "host": "unitapi.execute-api.ap-southeast-3.amazonaws.com",
            "user-agent": "Mozilla/5.0 (Linux; Android 14)",
            **{k.lower(): v for k, v in (headers or {}).items()},
        },
        "requestContext": context,
        "isBase64Encoded": is_base64,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    if cookies:
        event["cookies"] = cookies
    return event


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        return json.loads(self.body)


def call(function: str, event: dict[str, Any]) -> Answer:
    raw = load_function(function).lambda_handler(event, FakeLambdaContext(function_name=function))
    body = raw.get("body") or ""
    if raw.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    headers = {**raw.get("headers", {}), **{k: ",".join(v) for k, v in (raw.get("multiValueHeaders") or {}).items()}}
    # Header names are case-insensitive; keep the spelling the tests use.
    normalized = {k.title(): v for k, v in headers.items()}
    return Answer(status=raw["statusCode"], headers=normalized, body=body, cookies=raw.get("cookies") or [])


def assert_problem(answer: Answer, status: int, code: str) -> dict[str, Any]:
    assert answer.status == status, answer.body
    assert answer.content_type == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"].endswith("/" + code.replace("_", "-"))
    assert problem["title"]
    assert problem["detail"]
    assert answer.headers["Cache-Control"] == "no-store"
    return problem


@pytest.fixture
def web(aws: Any, registry: AccountRegistry, php_bcrypt: Callable[[str], str]) -> AccountRegistry:
    """moto plus two accounts: jss-1001 (not migrated yet) and jss-5005 (migrated, can change)."""
    registry.save(Account("jss-1001", email="budi@example.com", phone_number="+6281298765432"))
    registry.save(
        Account(
            "jss-5005",
            email="siti@example.com",
            phone_number="+6285712345678",
            whatsapp_number="+6285712345678",
            whatsapp_verified_via="whatsapp",
            password_hash=php_bcrypt(PASSWORD),
        )
    )
    return registry


def start_migration(sub: str = "jss-1001") -> dict[str, Any]:
    answer = call("migrate", http_event("POST", "/v1/migrations", sub=sub))
    assert answer.status == 201, answer.body
    return answer.json()


def token_of(started: dict[str, Any]) -> str:
    return str(started["link_url"].rsplit("/", 1)[1])


def signed_delivery(text: str, *, sender: str = SENDER, msg_id: str | None = None) -> bytes:
    delivery = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "WABA",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "6281100000000", "phone_number_id": "100000000000001"},
                            "contacts": [{"profile": {"name": "Budi"}, "wa_id": sender}],
                            "messages": [
                                {
                                    "from": sender,
                                    "id": msg_id or f"wamid.{uuid.uuid4().hex}",
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(delivery, ensure_ascii=False).encode()


def signature(body: bytes, secret: str = "unit-app-secret") -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(body: bytes, header: str | None, *, base64_body: bool = True) -> Answer:
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["x-hub-signature-256"] = header
    payload = base64.b64encode(body).decode() if base64_body else body.decode()
    return call(
        "whatsapp_webhook",
        http_event("POST", "/whatsapp/webhook", headers=headers, body=payload, is_base64=base64_body),
    )


# ----------------------------------------------------------------- journey A over HTTP


def test_start_answers_201_with_the_contract_fields(web: AccountRegistry) -> None:
    answer = call("migrate", http_event("POST", "/v1/migrations", sub="jss-1001"))

    assert answer.status == 201
    assert answer.content_type == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    started = answer.json()
    assert set(started) >= {"flow_id", "status", "whatsapp_url", "message", "link_url", "expires_at"}
    assert FLOW_ID.match(started["flow_id"])
    assert started["status"] == "pending"
    assert started["whatsapp_url"].startswith("https://wa.me/6281100000000?text=")
    assert started["link_url"].startswith("https://jss.example/m/")
    assert started["link_url"] in started["message"]
    assert ISO_Z.match(started["expires_at"])


def test_status_is_for_the_owner_only(web: AccountRegistry) -> None:
    started = start_migration()
    mine = call("migrate", http_event("GET", f"/v1/migrations/{started['flow_id']}", sub="jss-1001"))
    assert mine.status == 200
    assert mine.json()["status"] == "pending"
    assert mine.json()["flow_id"] == started["flow_id"]

    theirs = call("migrate", http_event("GET", f"/v1/migrations/{started['flow_id']}", sub="jss-5005"))
    problem = assert_problem(theirs, 404, "flow_not_found")
    assert problem["detail"] == "Proses verifikasi tidak ditemukan."


def test_malformed_flow_id_is_an_invalid_request(web: AccountRegistry) -> None:
    answer = call("migrate", http_event("GET", "/v1/migrations/not-a-uuid", sub="jss-1001"))
    problem = assert_problem(answer, 422, "invalid_request")
    assert problem["errors"]
    assert any("flow_id" in e["field"] for e in problem["errors"])


def test_too_many_starts_is_a_429_problem_with_retry_after(web: AccountRegistry) -> None:
    for _ in range(5):
        start_migration()
    answer = call("migrate", http_event("POST", "/v1/migrations", sub="jss-1001"))

    problem = assert_problem(answer, 429, "too_many_starts")
    assert 0 < problem["retry_after"] <= 600
    assert answer.headers["Retry-After"] == str(problem["retry_after"])
    minutes = -(-problem["retry_after"] // 60)  # a wait as people say it, not "418 detik"
    assert problem["detail"] == f"Terlalu banyak permintaan. Silakan coba lagi dalam {minutes} menit."


def test_already_linked_account_gets_409(web: AccountRegistry) -> None:
    answer = call("migrate", http_event("POST", "/v1/migrations", sub="jss-5005"))
    problem = assert_problem(answer, 409, "whatsapp_already_linked")
    assert "sudah memakai Nomor WhatsApp" in problem["detail"]


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(None, id="no-authorizer"),
        pytest.param({"iss": "https://id.jss.example"}, id="no-sub-claim"),
        pytest.param({"sub": ""}, id="empty-sub"),
    ],
)
def test_missing_sub_is_401(web: AccountRegistry, claims: dict[str, Any] | None) -> None:
    event = http_event("POST", "/v1/migrations", claims=claims)
    problem = assert_problem(call("migrate", event), 401, "unauthorized")
    assert problem["detail"] == "Sesi Anda tidak valid. Silakan masuk kembali ke aplikasi JSS."


def test_unknown_account_is_404(web: AccountRegistry) -> None:
    assert_problem(call("migrate", http_event("POST", "/v1/migrations", sub="jss-9999")), 404, "account_not_found")


def test_unknown_route_is_a_404_problem(web: AccountRegistry) -> None:
    problem = assert_problem(call("migrate", http_event("GET", "/v1/nothing-here", sub="jss-1001")), 404, "not_found")
    assert problem["detail"] == "Alamat yang Anda tuju tidak ditemukan."


# ----------------------------------------------------------------- the blue link page


def assert_page_headers(answer: Answer) -> str:
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    csp = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None
    return nonce.group(1)


def test_link_page_is_an_indonesian_html_page_with_safe_headers(web: AccountRegistry, scan: Scan) -> None:
    started = start_migration()
    before = sorted(json.dumps(i, sort_keys=True) for i in scan("TokensTable"))

    answer = call("migrate", http_event("GET", f"/m/{token_of(started)}"))

    assert answer.status == 200
    assert answer.content_type.startswith("text/html")
    nonce = assert_page_headers(answer)
    assert f'<style nonce="{nonce}">' in answer.body  # the only style the CSP lets through
    assert '<html lang="id">' in answer.body
    assert "Menunggu pesan WhatsApp Anda" in answer.body
    assert '<meta http-equiv="refresh"' in answer.body
    assert "b***i@example.com" in answer.body
    assert "budi@example.com" not in answer.body
    assert sorted(json.dumps(i, sort_keys=True) for i in scan("TokensTable")) == before  # never changes state


@pytest.mark.parametrize(
    ("accept_language", "lang"),
    [
        ("en-US,en;q=0.9", "en"),
        ("en-GB,en;q=0.9,id;q=0.8", "en"),
        ("id-ID,id;q=0.9,en;q=0.8", "id"),
        ("en;q=0.5,id", "id"),
        ("id,en", "id"),  # equal weights: the first listed wins
        ("en,id", "en"),
        ("fr-FR", "id"),
        ("", "id"),
    ],
)
def test_link_page_language_follows_accept_language(web: AccountRegistry, accept_language: str, lang: str) -> None:
    started = start_migration()
    answer = call("migrate", http_event("GET", f"/m/{token_of(started)}", headers={"accept-language": accept_language}))
    assert f'<html lang="{lang}">' in answer.body
    title = "Waiting for your WhatsApp message" if lang == "en" else "Menunggu pesan WhatsApp Anda"
    assert title in answer.body


def test_link_as_json_on_request(web: AccountRegistry) -> None:
    started = start_migration()
    answer = call("migrate", http_event("GET", f"/m/{token_of(started)}", headers={"accept": "application/json"}))
    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert_page_headers(answer)
    payload = answer.json()
    assert payload["kind"] == "migration"
    assert payload["status"] == "pending"
    assert payload["account_masked"] == "b***i@example.com"
    assert payload["csrf_token"] is None
    assert payload["expires_at"] == started["expires_at"]


@pytest.mark.parametrize("token", ["short", "A" * 32, "A" * 40, "%3Cscript%3E"])
def test_bad_token_shows_the_not_found_page(web: AccountRegistry, token: str) -> None:
    answer = call("migrate", http_event("GET", f"/m/{token}"))
    assert answer.status == 404
    assert answer.content_type.startswith("text/html")
    assert_page_headers(answer)
    assert '<html lang="id">' in answer.body
    assert "Tautan tidak berlaku" in answer.body
    assert "<script>" not in answer.body


def test_bad_token_as_json_is_a_problem(web: AccountRegistry) -> None:
    answer = call("migrate", http_event("GET", "/m/short", headers={"accept": "application/json"}))
    assert_problem(answer, 404, "link_not_found")


def test_bad_token_page_in_english(web: AccountRegistry) -> None:
    answer = call("migrate", http_event("GET", "/m/short", headers={"accept-language": "en"}))
    assert answer.status == 404
    assert '<html lang="en">' in answer.body
    assert "Link not valid" in answer.body


# ----------------------------------------------------------------- the WhatsApp webhook


def test_bad_signature_is_401_and_nothing_is_stored(web: AccountRegistry, scan: Scan) -> None:
    started = start_migration()
    body = signed_delivery(started["message"])
    before = sorted(json.dumps(i, sort_keys=True) for t in ("TokensTable", "AccountsTable") for i in scan(t))

    for header in [None, signature(body, "wrong-secret"), signature(body + b" "), "sha256=", "garbage"]:
        assert_problem(post_webhook(body, header), 401, "invalid_signature")

    after = sorted(json.dumps(i, sort_keys=True) for t in ("TokensTable", "AccountsTable") for i in scan(t))
    assert after == before
    assert scan("IdempotencyTable") == []
    assert scan("AuditTable") == []


def test_signed_base64_delivery_completes_the_migration(
    web: AccountRegistry, scan: Scan, sent_mail: Callable[[], list[Any]]
) -> None:
    started = start_migration()
    body = signed_delivery(started["message"])

    answer = post_webhook(body, signature(body), base64_body=True)

    assert answer.status == 200, answer.body
    assert answer.json() == {"received": 1, "outcomes": ["completed"]}
    account = web.get("jss-1001")
    assert account is not None
    assert account.whatsapp_number == SENDER_E164
    assert len(sent_mail()) == 1

    status = call("migrate", http_event("GET", f"/v1/migrations/{started['flow_id']}", sub="jss-1001")).json()
    assert status["status"] == "completed"
    assert status["number_masked"] == "0812-****-7890"
    page = call("migrate", http_event("GET", f"/m/{token_of(started)}"))
    assert page.status == 200
    assert MIGRATION_SUCCESS in page.body
    assert "0812-****-7890" in page.body

    # The message id is remembered for retries, without the number in clear.
    idempotency = json.dumps(scan("IdempotencyTable"))
    assert scan("IdempotencyTable")
    assert SENDER[2:] not in idempotency


def test_plain_text_body_with_the_right_signature_is_accepted(web: AccountRegistry) -> None:
    started = start_migration()
    body = signed_delivery(started["message"])
    answer = post_webhook(body, signature(body), base64_body=False)
    assert answer.json() == {"received": 1, "outcomes": ["completed"]}


def test_signature_is_checked_on_the_decoded_bytes(web: AccountRegistry) -> None:
    started = start_migration()
    body = signed_delivery(started["message"])
    encoded = base64.b64encode(body)
    assert_problem(post_webhook(body, signature(encoded), base64_body=True), 401, "invalid_signature")


def test_redelivered_message_is_applied_once(
    web: AccountRegistry, scan: Scan, sent_mail: Callable[[], list[Any]]
) -> None:
    started = start_migration()
    body = signed_delivery(started["message"], msg_id="wamid.same")
    first = post_webhook(body, signature(body))
    second = post_webhook(body, signature(body))
    assert first.json()["outcomes"] == ["completed"]
    assert second.status == 200
    assert second.json()["outcomes"] == ["completed"]  # the remembered outcome, not a second change
    assert len(scan("AuditTable")) == 1
    assert len(sent_mail()) == 1


def test_signed_delivery_that_is_not_json_is_acknowledged(web: AccountRegistry) -> None:
    body = b"this is not json"
    answer = post_webhook(body, signature(body))
    assert answer.status == 200
    assert answer.json() == {"received": 0, "outcomes": [], "unreadable": "malformed"}


def test_status_only_delivery_is_acknowledged(web: AccountRegistry) -> None:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "metadata": {"phone_number_id": "100000000000001"},
                                "statuses": [{"id": "wamid.x", "status": "read", "recipient_id": SENDER}],
                            },
                        }
                    ]
                }
            ],
        }
    ).encode()
    answer = post_webhook(body, signature(body))
    assert answer.json() == {"received": 0, "outcomes": []}


def test_non_ascii_signature_header_is_401(web: AccountRegistry) -> None:
    body = signed_delivery("halo")
    assert_problem(post_webhook(body, "sha256=é"), 401, "invalid_signature")


def test_handshake_echoes_the_challenge(web: AccountRegistry) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "unit-verify", "hub.challenge": "1158201444"}
    answer = call("whatsapp_webhook", http_event("GET", "/whatsapp/webhook", query=query))
    assert answer.status == 200
    assert answer.content_type.startswith("text/plain")
    assert answer.body == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1158201444"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "unit-verify", "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
        {},
    ],
)
def test_handshake_refused_is_403(web: AccountRegistry, query: dict[str, str]) -> None:
    answer = call("whatsapp_webhook", http_event("GET", "/whatsapp/webhook", query=query))
    problem = assert_problem(answer, 403, "verification_failed")
    assert "1158201444" not in answer.body
    assert problem["detail"] == "Verifikasi webhook gagal."


# ----------------------------------------------------------------- journey B1 over HTTP


def change_awaiting_password() -> tuple[dict[str, Any], str]:
    """Starts B1 for jss-5005 and delivers its message: returns the start answer and the csrf token."""
    answer = call("change_number", http_event("POST", "/v1/number-changes", sub="jss-5005"))
    assert answer.status == 201, answer.body
    started = answer.json()
    assert started["link_url"].startswith("https://jss.example/c/")
    body = signed_delivery(started["message"])
    assert post_webhook(body, signature(body)).json()["outcomes"] == ["awaiting_password"]
    view = call("change_number", http_event("GET", f"/c/{token_of(started)}", headers={"accept": "application/json"}))
    assert view.json()["status"] == "awaiting_password"
    return started, view.json()["csrf_token"]


def confirm(token: str, fields: dict[str, str], *, as_json: bool = False) -> Answer:
    if as_json:
        headers = {"content-type": "application/json", "accept": "application/json"}
        body = json.dumps(fields)
    else:
        headers = {"content-type": "application/x-www-form-urlencoded", "accept": "text/html"}
        body = urlencode(fields)
    return call("change_number", http_event("POST", f"/c/{token}", headers=headers, body=body))


def form_value(page: Answer) -> str:
    """The anti-forgery value of the password form on a page."""
    found = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', page.body)
    assert found is not None, page.body
    return found.group(1)


def test_password_form_page(web: AccountRegistry) -> None:
    started, csrf = change_awaiting_password()
    token = token_of(started)
    page = call("change_number", http_event("GET", f"/c/{token}"))
    assert page.status == 200
    assert_page_headers(page)
    assert '<form method="post"' in page.body
    # The two requests may fall in different seconds, so the values may differ; what matters is that
    # both the form and the JSON view carry a value good for this link, and for no other.
    value = form_value(page)
    assert anti_forgery.is_valid(token, value)
    assert anti_forgery.is_valid(token, csrf)
    assert not anti_forgery.is_valid("B" * 32, value)
    assert ">Ubah</button>" in page.body
    assert "0812-****-7890" in page.body


def follow(answer: Answer, token: str, accept_language: str = "id") -> Answer:
    """The browser's next step after a form post's 303: the link page, with the notice cookie."""
    assert answer.status == 303, answer.body
    assert answer.headers["Location"] == f"https://jss.example/c/{token}"
    sent = [cookie.split(";")[0] for cookie in answer.cookies]
    headers = {"accept": "text/html", "accept-language": accept_language}
    return call("change_number", http_event("GET", f"/c/{token}", headers=headers, cookies=sent))


def test_wrong_password_form_post_redirects_to_the_form_with_the_problem_once(web: AccountRegistry) -> None:
    started, csrf = change_awaiting_password()
    token = token_of(started)
    answer = confirm(token, {"password": "salah", "csrf_token": csrf})
    assert answer.body == ""  # nothing a Back button could post again
    [cookie] = answer.cookies
    assert cookie.startswith("jss_notice=wrong_password.")
    assert {"Path=/c/", "Max-Age=60", "HttpOnly", "SameSite=Lax"} <= {part.strip() for part in cookie.split(";")}
    assert "salah" not in cookie.replace("wrong_password", "")
    assert token not in cookie

    page = follow(answer, token)
    assert page.status == 200
    assert "Password salah. Sisa percobaan: 4." in page.body
    assert '<form method="post"' in page.body
    assert 'aria-invalid="true" autofocus' in page.body  # the field takes the focus, and says why
    assert "salah" not in page.body.replace("Password salah", "")  # the typed password is never echoed
    assert any(cookie.startswith("jss_notice=;") and "Max-Age=0" in cookie for cookie in page.cookies)

    again = call("change_number", http_event("GET", f"/c/{token}"))  # a reload: shown once only
    assert "Password salah" not in again.body
    assert "autofocus" not in again.body


@pytest.mark.parametrize(
    "notice",
    [
        pytest.param("wrong_password.000000000000", id="another-link"),
        pytest.param("flow_locked.{tag}", id="a-code-the-page-does-not-take"),
        pytest.param("wrong_password", id="no-tag"),
    ],
)
def test_a_notice_that_is_not_this_links_says_nothing(web: AccountRegistry, notice: str) -> None:
    started, _ = change_awaiting_password()
    token = token_of(started)
    tag = hashlib.sha256(token.encode()).hexdigest()[:12]
    cookie = "jss_notice=" + notice.format(tag=tag)
    page = call("change_number", http_event("GET", f"/c/{token}", cookies=[cookie]))
    assert page.status == 200
    assert 'role="alert"' not in page.body
    assert any("Max-Age=0" in cookie for cookie in page.cookies)


def test_a_wrong_password_notice_tells_the_tries_left_now(web: AccountRegistry) -> None:
    started, csrf = change_awaiting_password()
    token = token_of(started)
    first = confirm(token, {"password": "salah", "csrf_token": csrf})
    confirm(token, {"password": "salah lagi"}, as_json=True)  # another try in between
    assert "Sisa percobaan: 3." in follow(first, token).body


def test_wrong_password_as_json_is_a_problem(web: AccountRegistry) -> None:
    started, csrf = change_awaiting_password()
    answer = confirm(token_of(started), {"password": "salah", "csrf_token": csrf}, as_json=True)
    problem = assert_problem(answer, 403, "wrong_password")
    assert problem["tries_left"] == 4


def tries_left(started: dict[str, Any]) -> int:
    view = call("change_number", http_event("GET", f"/c/{token_of(started)}", headers={"accept": "application/json"}))
    return int(view.json()["tries_left"])


def assert_forgery_page(answer: Answer) -> None:
    """A refused form post: an error page (403), not the form shown again."""
    assert answer.status == 403, answer.body
    assert answer.content_type.startswith("text/html")
    assert_page_headers(answer)
    assert "Formulir ini tidak berasal dari halaman tautan Anda" in answer.body
    assert "<form" not in answer.body


def test_a_form_left_open_past_the_flows_lifetime_says_the_time_is_over(web: AccountRegistry) -> None:
    started, _ = change_awaiting_password()
    token = token_of(started)
    old_form = anti_forgery.issue(token, time.time() - 11 * 60)  # the page sat open for 11 minutes
    answer = confirm(token, {"password": PASSWORD, "csrf_token": old_form})
    assert answer.status == 403
    assert "Waktu 10 menit untuk mengganti nomor sudah habis" in answer.body
    assert "Melalui WhatsApp" in answer.body  # where to start again
    assert "<form" not in answer.body
    assert tries_left(started) == 5
    event = http_event(
        "POST",
        f"/c/{token}",
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
        body=urlencode({"password": PASSWORD, "csrf_token": old_form}),
    )
    assert assert_problem(call("change_number", event), 403, "form_expired")["minutes"] == 10


def test_a_form_post_without_an_anti_forgery_value_is_a_403_page(web: AccountRegistry) -> None:
    started, _ = change_awaiting_password()
    answer = confirm(token_of(started), {"password": PASSWORD})
    assert_forgery_page(answer)
    assert web.get("jss-5005").whatsapp_number == "+6285712345678"  # type: ignore[union-attr]
    assert tries_left(started) == 5  # not counted as a password try


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param("1750000000", id="timestamp-only"),
        pytest.param("1750000010." + "0" * 64, id="wrong-signature"),
        pytest.param("-1.abc", id="negative"),
        pytest.param("².x", id="superscript-digit"),
    ],
)
def test_a_form_post_with_a_bad_anti_forgery_value_is_a_403_page(web: AccountRegistry, forged: str) -> None:
    started, _ = change_awaiting_password()
    assert_forgery_page(confirm(token_of(started), {"password": PASSWORD, "csrf_token": forged}))
    assert web.get("jss-5005").whatsapp_number == "+6285712345678"  # type: ignore[union-attr]
    assert tries_left(started) == 5


def test_a_form_post_with_the_value_of_another_link_is_a_403_page(web: AccountRegistry) -> None:
    started, _ = change_awaiting_password()
    foreign = anti_forgery.issue("B" * 32)
    assert_forgery_page(confirm(token_of(started), {"password": PASSWORD, "csrf_token": foreign}))
    assert web.get("jss-5005").whatsapp_number == "+6285712345678"  # type: ignore[union-attr]


def test_a_forgery_asked_for_in_json_is_a_problem(web: AccountRegistry) -> None:
    started, _ = change_awaiting_password()
    event = http_event(
        "POST",
        f"/c/{token_of(started)}",
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
        body=urlencode({"password": PASSWORD}),
    )
    assert_problem(call("change_number", event), 403, "forgery_check_failed")


def test_a_json_post_needs_no_anti_forgery_value(web: AccountRegistry) -> None:
    """api.md documents JSON {"password": ...} only."""
    started, _ = change_awaiting_password()
    answer = confirm(token_of(started), {"password": PASSWORD}, as_json=True)
    assert answer.status == 200, answer.body
    assert answer.content_type == "application/json"
    assert answer.json()["status"] == "completed"
    assert answer.json()["message"] == CHANGE_SUCCESS
    assert answer.json()["csrf_token"] is None
    assert web.get("jss-5005").whatsapp_number == SENDER_E164  # type: ignore[union-attr]


def test_a_json_post_is_answered_in_json_without_an_accept_header(web: AccountRegistry) -> None:
    started, _ = change_awaiting_password()
    event = http_event(
        "POST", f"/c/{token_of(started)}", headers={"content-type": "application/json"}, body='{"password": "salah"}'
    )
    problem = assert_problem(call("change_number", event), 403, "wrong_password")
    assert problem["tries_left"] == 4
    event["body"] = json.dumps({"password": PASSWORD})
    answer = call("change_number", event)
    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert answer.json()["status"] == "completed"


def test_a_text_plain_post_cannot_skip_the_anti_forgery_check(web: AccountRegistry) -> None:
    started, _ = change_awaiting_password()
    # What <form enctype="text/plain"> sends for <input name='{"password":"rahasia-JSS-2024","csrf_token":"'
    # value='"}'>: name, "=", value; the "=" lands inside a field the model allows.
    body = f'{{"password":"{PASSWORD}","csrf_token":"="}}\r\n'
    event = http_event("POST", f"/c/{token_of(started)}", headers={"content-type": "text/plain"}, body=body)
    answer = call("change_number", event)
    assert answer.status in (403, 415, 422), answer.body
    assert web.get("jss-5005").whatsapp_number == "+6285712345678"  # type: ignore[union-attr]


def test_right_password_form_post_changes_the_number(web: AccountRegistry) -> None:
    started, csrf = change_awaiting_password()
    answer = confirm(token_of(started), {"password": PASSWORD, "csrf_token": csrf})
    assert answer.cookies == []  # nothing refused, nothing to carry
    page = follow(answer, token_of(started))
    assert page.status == 200
    assert CHANGE_SUCCESS in page.body
    assert web.get("jss-5005").whatsapp_number == SENDER_E164  # type: ignore[union-attr]
    assert web.owner_of("+6285712345678") is None
    status = call("change_number", http_event("GET", f"/v1/number-changes/{started['flow_id']}", sub="jss-5005"))
    assert status.json()["status"] == "completed"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"password": ""})),
        ("application/json", json.dumps({"password": "Sangat-Rahasia-1", "extra": 1})),
        ("application/json", json.dumps({"password": "Sangat-Rahasia-2" * 100})),
        ("application/json", json.dumps({"password": ["Sangat-Rahasia-3"]})),
        ("application/x-www-form-urlencoded", "csrf_token=abc"),
    ],
)
def test_malformed_confirmation_is_an_invalid_request(web: AccountRegistry, content_type: str, body: str) -> None:
    started, _ = change_awaiting_password()
    event = http_event(
        "POST",
        f"/c/{token_of(started)}",
        headers={"content-type": content_type, "accept": "application/json"},
        body=body,
    )
    answer = call("change_number", event)
    assert_problem(answer, 422, "invalid_request")
    assert "Sangat-Rahasia" not in answer.body  # rejected input (maybe a password) is never echoed
    view = call("change_number", http_event("GET", f"/c/{token_of(started)}", headers={"accept": "application/json"}))
    assert view.json()["tries_left"] == 5  # a refused request is not a password try


@pytest.mark.parametrize("suffix", [".é", "é.x", ".\u00a0"])
def test_non_ascii_csrf_token_is_403_not_500(web: AccountRegistry, suffix: str) -> None:
    started, csrf = change_awaiting_password()
    forged = csrf.partition(".")[0] + suffix if suffix.startswith(".") else suffix
    assert_forgery_page(confirm(token_of(started), {"password": PASSWORD, "csrf_token": forged}))
    assert web.get("jss-5005").whatsapp_number == "+6285712345678"  # type: ignore[union-attr]


def test_a_link_asked_for_with_a_json_content_type_answers_json(web: AccountRegistry) -> None:
    started = start_migration()
    answer = call("migrate", http_event("GET", f"/m/{token_of(started)}", headers={"content-type": "application/json"}))
    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert answer.json()["status"] == "pending"
    missing = call("migrate", http_event("GET", "/m/short", headers={"content-type": "application/json"}))
    assert_problem(missing, 404, "link_not_found")


# ----------------------------------------------------------------- the account-wide password lock over HTTP


def lock_password_confirmation() -> dict[str, Any]:
    """Ten wrong passwords over two flows of jss-5005; returns a third flow, waiting for the password."""
    for _ in range(2):
        started, _ = change_awaiting_password()
        for _ in range(5):
            confirm(token_of(started), {"password": "salah"}, as_json=True)
    started, _ = change_awaiting_password()
    return started


def test_a_locked_password_confirmation_is_a_429_problem_with_the_time_it_ends(web: AccountRegistry) -> None:
    started = lock_password_confirmation()
    before = time.time()
    answer = confirm(token_of(started), {"password": PASSWORD}, as_json=True)

    problem = assert_problem(answer, 429, "password_locked")
    assert 0 < problem["retry_after"] <= 900
    assert answer.headers["Retry-After"] == str(problem["retry_after"])
    assert ISO_Z.match(problem["locked_until"])
    assert "text_locked_until" not in problem  # the citizen's wording stays in the detail
    wib = re.search(r"dikunci sampai pukul (\d{2}:\d{2}) WIB\.", problem["detail"])
    assert wib is not None
    until = datetime.fromisoformat(problem["locked_until"].replace("Z", "+00:00"))
    assert (until + timedelta(hours=7)).strftime("%H:%M") == wib.group(1)  # the same moment, in Yogyakarta
    assert abs(until.timestamp() - (before + problem["retry_after"])) <= 2
    assert web.get("jss-5005").whatsapp_number == "+6285712345678"  # type: ignore[union-attr]


def test_a_locked_password_confirmation_hides_the_form_and_says_what_to_do(web: AccountRegistry) -> None:
    started = lock_password_confirmation()
    page = call("change_number", http_event("GET", f"/c/{token_of(started)}"))
    assert page.status == 200
    assert re.search(r"dikunci sampai pukul \d{2}:\d{2} WIB karena terlalu banyak password yang salah\.", page.body)
    assert "Tautan ini berakhir sebelum itu." in page.body  # the lock outlasts the 10-minute link
    assert "Melalui Email" in page.body  # the account has an email: a way that needs no password
    assert "<form" not in page.body
    assert "Ubah" not in page.body
    view = call("change_number", http_event("GET", f"/c/{token_of(started)}", headers={"accept": "application/json"}))
    assert ISO_Z.match(view.json()["password_locked_until"])


def test_a_password_posted_to_a_locked_account_redirects_to_the_locked_page(web: AccountRegistry) -> None:
    started = lock_password_confirmation()
    token = token_of(started)
    answer = confirm(token, {"password": PASSWORD, "csrf_token": anti_forgery.issue(token)})
    assert answer.cookies == []  # the page shows the lock by itself
    page = follow(answer, token)
    assert "dikunci sampai pukul" in page.body
    assert "<form" not in page.body
    assert web.get("jss-5005").whatsapp_number == "+6285712345678"  # type: ignore[union-attr]


def test_an_html_error_page_carries_retry_after() -> None:
    page = pages.error_page(ServiceError("too_many_starts", retry_after=30), "id")
    assert page.status_code == 429
    assert page.headers["Retry-After"] == "30"


def test_an_html_error_page_without_retry_after_has_none() -> None:
    page = pages.error_page(ServiceError("link_not_found"), "id")
    assert page.status_code == 404
    assert "Retry-After" not in page.headers
    assert page.headers["Cache-Control"] == "no-store"


# ----------------------------------------------------------------- JSON answers are never cached


def test_status_answers_are_never_cached(web: AccountRegistry) -> None:
    started = start_migration()
    answer = call("migrate", http_event("GET", f"/v1/migrations/{started['flow_id']}", sub="jss-1001"))
    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"

    change = call("change_number", http_event("POST", "/v1/number-changes", sub="jss-5005")).json()
    answer = call("change_number", http_event("GET", f"/v1/number-changes/{change['flow_id']}", sub="jss-5005"))
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"


def test_the_contact_answer_is_never_cached(web: AccountRegistry) -> None:
    answer = call("contact", http_event("GET", "/v1/contact", sub="jss-5005"))
    assert answer.status == 200
    assert answer.content_type == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.json()["whatsapp_number"] == "+6285712345678"
    assert answer.json()["email"] == "s***i@example.com"


def test_the_contact_answer_gives_numbers_as_people_write_them(web: AccountRegistry) -> None:
    card = call("contact", http_event("GET", "/v1/contact", sub="jss-5005")).json()
    assert card["whatsapp_number_display"] == "0857-1234-5678"
    assert card["phone_number_display"] == "0857-1234-5678"
    migrating = call("contact", http_event("GET", "/v1/contact", sub="jss-1001")).json()
    assert migrating["whatsapp_number"] is None
    assert migrating["whatsapp_number_display"] is None


def send_email_code(sent_mail: Callable[[], list[Any]]) -> tuple[str, str]:
    answer = call("verify_email", http_event("POST", "/v1/email-verifications", sub="jss-5005"))
    assert answer.status == 202, answer.body
    assert answer.headers["Cache-Control"] == "no-store"
    [code] = re.findall(r"\b\d{6}\b", sent_mail()[-1].body)
    return answer.json()["verification_id"], code


def verify_email_code(verification_id: str, code: str) -> Answer:
    event = http_event(
        "POST",
        f"/v1/email-verifications/{verification_id}/verify",
        sub="jss-5005",
        headers={"content-type": "application/json"},
        body=json.dumps({"code": code}, ensure_ascii=False),
    )
    return call("verify_email", event)


def test_the_verify_answer_is_never_cached(web: AccountRegistry, sent_mail: Callable[[], list[Any]]) -> None:
    verification_id, code = send_email_code(sent_mail)
    answer = verify_email_code(verification_id, code)
    assert answer.status == 200, answer.body
    assert answer.content_type == "application/json"
    assert answer.headers["Cache-Control"] == "no-store"  # it carries a change token
    assert answer.json()["change_token"]


# ----------------------------------------------------------------- the email code accepts ASCII digits only


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("١٢٣٤٥٦", id="arabic-indic"),
        pytest.param("۱۲۳۴۵۶", id="extended-arabic-indic"),
        pytest.param("１２３４５６", id="fullwidth"),
        pytest.param("12345²", id="superscript"),
        pytest.param("12345", id="five-digits"),
        pytest.param("1234567", id="seven-digits"),
        pytest.param("123456\n", id="trailing-newline"),
    ],
)
def test_a_code_entry_takes_six_ascii_digits_only(code: str) -> None:
    with pytest.raises(ValidationError):
        CodeEntry(code=code)
    assert CodeEntry(code="012345").code == "012345"


def test_a_code_in_arabic_indic_digits_is_a_422_and_not_a_try(
    web: AccountRegistry, sent_mail: Callable[[], list[Any]]
) -> None:
    verification_id, code = send_email_code(sent_mail)
    answer = verify_email_code(verification_id, code.translate(ARABIC_INDIC))
    problem = assert_problem(answer, 422, "invalid_request")
    assert any("code" in error["field"] for error in problem["errors"])
    assert code.translate(ARABIC_INDIC) not in answer.body  # the rejected input is never echoed
    for _ in range(4):  # the refused entry was not counted: four wrong tries still leave the right one
        assert_problem(verify_email_code(verification_id, f"{(int(code) + 1) % 10**6:06d}"), 422, "code_wrong")
    assert verify_email_code(verification_id, code).status == 200


# ----------------------------------------------------------------- the webhook, message by message


def two_message_delivery(first: dict[str, Any], second: dict[str, Any], second_sender: str) -> bytes:
    one = json.loads(signed_delivery(first["message"]))
    other = json.loads(signed_delivery(second["message"], sender=second_sender))
    value = one["entry"][0]["changes"][0]["value"]
    value["messages"] += other["entry"][0]["changes"][0]["value"]["messages"]
    value["contacts"] += other["entry"][0]["changes"][0]["value"]["contacts"]
    return json.dumps(one).encode()


@pytest.fixture
def second_citizen(web: AccountRegistry) -> AccountRegistry:
    web.save(Account("jss-1002", email="sari@example.com", phone_number="+6281311112222"))
    return web


def test_a_flow_whose_account_is_gone_does_not_fail_the_delivery(second_citizen: AccountRegistry, db: Any) -> None:
    orphan, live = start_migration("jss-1001"), start_migration("jss-1002")
    db.delete("AccountsTable", account_key("jss-1001"))
    body = two_message_delivery(orphan, live, "6281398765432")

    answer = post_webhook(body, signature(body))

    assert answer.status == 200  # a business outcome: Meta must not retry it
    assert answer.json() == {"received": 2, "outcomes": ["account_not_found", "completed"]}
    assert second_citizen.get("jss-1002").whatsapp_number == "+6281398765432"  # type: ignore[union-attr]
    status = call("migrate", http_event("GET", f"/v1/migrations/{orphan['flow_id']}", sub="jss-1001")).json()
    assert (status["status"], status["reason"]) == ("failed", "account_not_found")


def test_an_infrastructure_failure_answers_500_after_the_other_messages(
    second_citizen: AccountRegistry, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing, applied = start_migration("jss-1001"), start_migration("jss-1002")
    body = two_message_delivery(failing, applied, "6281398765432")
    flows = services.whatsapp_flows()
    receive = flows.receive

    def flaky_receive(message: InboundMessage) -> dict[str, str]:
        if message.sender == SENDER_E164:
            raise ConnectionError("DynamoDB did not answer")
        return receive(message)

    with monkeypatch.context() as patched:
        patched.setattr(flows, "receive", flaky_receive)
        answer = post_webhook(body, signature(body))

    assert_problem(answer, 500, "internal_error")  # so Meta retries the delivery
    assert "DynamoDB" not in answer.body
    assert second_citizen.get("jss-1002").whatsapp_number == "+6281398765432"  # type: ignore[union-attr]
    assert second_citizen.get("jss-1001").whatsapp_number is None  # type: ignore[union-attr]

    retry = post_webhook(body, signature(body))
    assert retry.json() == {"received": 2, "outcomes": ["completed", "completed"]}
    assert second_citizen.get("jss-1001").whatsapp_number == SENDER_E164  # type: ignore[union-attr]
    assert len(scan("AuditTable")) == 2  # the message applied before was not applied again


@pytest.mark.parametrize(
    ("headers", "html"),
    [
        ({}, True),  # a chat app's link preview, curl without options
        ({"accept": "*/*"}, True),
        ({"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, True),  # Chrome
        ({"accept": "application/json"}, False),
        ({"accept": "application/problem+json"}, False),
        ({"accept": "text/html;q=0.5, application/json"}, False),
        ({"accept": "application/json;q=0.2, text/*"}, True),
        ({"accept": "text/html, application/json;q=0"}, True),
        ({"content-type": "application/json"}, False),  # a JSON post is answered in JSON
        ({"content-type": "application/x-www-form-urlencoded", "accept": "text/html"}, True),
    ],
)
def test_link_routes_answer_pages_unless_the_client_asks_for_json(headers: dict[str, str], html: bool) -> None:
    assert pages.wants_html(headers) is html


def test_a_starts_qr_code_opens_whatsapp_through_the_blue_link(web: AccountRegistry, scan: Scan) -> None:
    """The QR code carries the short blue link (version 5, not 14: it scans, and draws in a fifth of
    the time); with ?open=whatsapp the link goes on to WhatsApp while the flow waits."""
    import segno

    started = start_migration()
    token = token_of(started)
    assert started["qr_svg"] == segno.make(f"{started['link_url']}?open=whatsapp", error="m", mask=2).svg_inline(
        scale=4, title="Buka WhatsApp"
    )
    before = sorted(json.dumps(i, sort_keys=True) for i in scan("TokensTable"))

    opened = call("migrate", http_event("GET", f"/m/{token}", query={"open": "whatsapp"}))

    assert opened.status == 302
    assert opened.headers["Location"] == started["whatsapp_url"]
    assert opened.headers["Cache-Control"] == "no-store"
    assert sorted(json.dumps(i, sort_keys=True) for i in scan("TokensTable")) == before  # never changes state


def test_once_the_message_arrived_the_qr_code_shows_the_link_page(web: AccountRegistry) -> None:
    started = start_migration()
    body = signed_delivery(started["message"])
    assert post_webhook(body, signature(body)).json()["outcomes"] == ["completed"]

    answer = call("migrate", http_event("GET", f"/m/{token_of(started)}", query={"open": "whatsapp"}))

    assert answer.status == 200
    assert "Migrasi akun aplikasi Jogja Smart Service berhasil" in answer.body


def test_a_number_change_link_opens_whatsapp_too_and_refuses_other_targets(web: AccountRegistry) -> None:
    answer = call("change_number", http_event("POST", "/v1/number-changes", sub="jss-5005"))
    started = answer.json()
    token = token_of(started)
    opened = call("change_number", http_event("GET", f"/c/{token}", query={"open": "whatsapp"}))
    assert opened.status == 302
    assert opened.headers["Location"] == started["whatsapp_url"]
    elsewhere = call("change_number", http_event("GET", f"/c/{token}", query={"open": "https://evil.example"}))
    assert elsewhere.status == 422
    assert "Location" not in elsewhere.headers


def migrated_page(accept_language: str) -> Answer:
    started = start_migration()
    body = signed_delivery(started["message"])
    assert post_webhook(body, signature(body)).json()["outcomes"] == ["completed"]
    return call("migrate", http_event("GET", f"/m/{token_of(started)}", headers={"accept-language": accept_language}))


def test_a_success_page_says_what_to_do_next(web: AccountRegistry) -> None:
    page = migrated_page("id")
    assert '<h1 tabindex="-1">Migrasi akun aplikasi Jogja Smart Service berhasil</h1>' in page.body
    assert "<p>Silakan kembali ke aplikasi JSS.</p>" in page.body


def test_on_an_english_phone_the_guides_sentence_is_marked_indonesian(web: AccountRegistry) -> None:
    page = migrated_page("en-US,en;q=0.9")
    assert '<html lang="en">' in page.body
    assert '<h1 tabindex="-1" lang="id">Migrasi akun aplikasi Jogja Smart Service berhasil</h1>' in page.body
    assert "<p>You can go back to the JSS app now.</p>" in page.body


def test_on_an_english_phone_ubah_is_marked_indonesian(web: AccountRegistry) -> None:
    started, _ = change_awaiting_password()
    form = call("change_number", http_event("GET", f"/c/{token_of(started)}", headers={"accept-language": "en"}))
    assert '<button type="submit" lang="id">Ubah</button>' in form.body


@pytest.mark.parametrize(
    ("seconds", "indonesian", "english"),
    [
        (5, "5 detik", "5 seconds"),
        (1, "1 detik", "1 second"),
        (60, "1 menit", "1 minute"),
        (418, "7 menit", "7 minutes"),
    ],
)
def test_waits_are_told_in_seconds_or_whole_minutes(seconds: int, indonesian: str, english: str) -> None:
    from shared.errors import ServiceError

    error = ServiceError("too_many_starts", retry_after=seconds)
    assert error.detail("id") == f"Terlalu banyak permintaan. Silakan coba lagi dalam {indonesian}."
    assert error.detail("en") == f"Too many requests. Please try again in {english}."
    assert error.public_fields() == {"retry_after": seconds}  # the app still reads seconds


def test_a_waiting_page_says_until_when_the_link_works_in_wib(web: AccountRegistry) -> None:
    from shared.clock import wib_time

    started = start_migration()
    page = call("migrate", http_event("GET", f"/m/{token_of(started)}"))
    expires = datetime.fromisoformat(started["expires_at"]).timestamp()
    assert f"<dt>Berlaku sampai</dt><dd>{wib_time(expires)}</dd>" in page.body


def test_a_failed_page_names_the_number_the_message_came_from_not_a_new_one(web: AccountRegistry) -> None:
    answer = call("change_number", http_event("POST", "/v1/number-changes", sub="jss-5005"))
    started = answer.json()
    current = web.get("jss-5005").whatsapp_number  # type: ignore[union-attr]
    body = signed_delivery(started["message"], sender=current.lstrip("+"))  # from the number it already has
    assert post_webhook(body, signature(body)).json()["outcomes"] == ["same_number"]

    page = call("change_number", http_event("GET", f"/c/{token_of(started)}"))

    assert "<dt>Nomor WhatsApp pengirim</dt>" in page.body
    assert "Nomor WhatsApp baru" not in page.body
    assert "Berlaku sampai" not in page.body  # a finished flow has no deadline


# ----------------------------------------------------------------- the waiting page polls without reloading


def test_the_waiting_page_polls_with_its_own_script_and_refreshes_slowly_without_one(web: AccountRegistry) -> None:
    started = start_migration()
    page = call("migrate", http_event("GET", f"/m/{token_of(started)}"))
    nonce = re.search(r"script-src 'nonce-([^']+)'", page.headers["Content-Security-Policy"])
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in page.body
    assert "connect-src 'self'" in page.headers["Content-Security-Policy"]
    assert 'id="card" data-state="pending" aria-live="polite"' in page.body
    # A meta refresh only for browsers without scripts: it would reload the page under a screen reader.
    head = page.body.split("</head>")[0]
    assert re.findall(r"<meta http-equiv=\"refresh\"[^>]*>", page.body) == ['<meta http-equiv="refresh" content="30">']
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in head
    assert "Muat ulang" in page.body


def test_pages_that_wait_for_nothing_carry_no_script(web: AccountRegistry) -> None:
    started, _ = change_awaiting_password()
    page = call("change_number", http_event("GET", f"/c/{token_of(started)}"))
    assert "<script" not in page.body
    assert "refresh" not in page.body
    assert 'data-state="awaiting_password"' in page.body


def test_the_status_answer_says_why_and_what_to_do_next(web: AccountRegistry) -> None:
    started = call("change_number", http_event("POST", "/v1/number-changes", sub="jss-5005")).json()
    body = signed_delivery(started["message"], sender="6285712345678")  # the account's own number
    assert post_webhook(body, signature(body)).json()["outcomes"] == ["same_number"]
    status = call("change_number", http_event("GET", f"/v1/number-changes/{started['flow_id']}", sub="jss-5005"))
    assert status.json()["reason"] == "same_number"
    assert "kirim pesan dari WhatsApp di nomor yang baru" in status.json()["reason_text"]
    assert "Melalui WhatsApp" in status.json()["reason_text"]
