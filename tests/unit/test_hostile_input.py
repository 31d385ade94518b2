"""Bodies an attacker or a careless client sends: every one a 4xx problem, never a 500.

The webhook is the exception to "4xx": a delivery signed with Meta's secret that cannot be read is
acknowledged with 200 and recorded as unreadable, or Meta would retry it for a week.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from shared import services
from shared.json_input import MAX_DEPTH
from tests.unit.test_web import (
    Answer,
    assert_problem,
    call,
    http_event,
    post_webhook,
    signature,
    signed_delivery,
    start_migration,
    token_of,
    web,  # noqa: F401 - the fixture every test here uses
)

pytestmark = pytest.mark.usefixtures("web")

VERIFY = f"/v1/email-verifications/{uuid.uuid4()}/verify"
LINK = "/c/" + "A" * 32
DEEP = "[" * 5000 + "]" * 5000
HUGE_INTEGER = '{"code": ' + "7" * 5000 + "}"


def send(route: str, content_type: str, body: bytes) -> Answer:
    method, path, function = {
        "put": ("PUT", "/v1/whatsapp-number", "verify_email"),
        "verify": ("POST", VERIFY, "verify_email"),
        "link": ("POST", LINK, "change_number"),
    }[route]
    headers = {"content-type": content_type, "accept": "application/json"}
    event = http_event(
        method, path, sub="jss-5005", headers=headers, body=base64.b64encode(body).decode(), is_base64=True
    )
    return call(function, event)


ROUTES = ["put", "verify", "link"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain;charset=UTF-8",  # what fetch() sends for a string body
        "application/merge-patch+json",
        "application/jsonp",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
def test_a_media_type_the_route_does_not_take_is_415(route: str, content_type: str) -> None:
    assert_problem(send(route, content_type, b'{"code": "123456"}'), 415, "unsupported_media_type")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("content_type", ["Application/JSON", "APPLICATION/JSON; Charset=UTF-8"])
def test_a_media_type_differing_only_in_case_is_read_as_json(route: str, content_type: str) -> None:
    # Media types ignore case (RFC 9110): the body is read, and the model refuses an empty object.
    assert_problem(send(route, content_type, b"{}"), 422, "invalid_request")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"code": "\xff\xfe"}', "not_utf8"),
        (HUGE_INTEGER.encode(), "number_too_long"),
        (b'{"code": 1e999}', "number_too_long"),
        (DEEP.encode(), "too_deep"),
        (("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode(), "too_deep"),
        (b'{"code": NaN}', "malformed"),
        (b"{not json", "malformed"),
    ],
)
def test_an_unreadable_body_is_400(route: str, body: bytes, reason: str) -> None:
    problem = assert_problem(send(route, "application/json", body), 400, "body_unreadable")
    assert problem["reason"] == reason


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_over_the_limit_is_413(route: str) -> None:
    body = json.dumps({"code": "1" * 20_000}).encode()
    assert_problem(send(route, "application/json", body), 413, "body_too_large")


def test_a_refused_body_on_a_link_opened_in_a_browser_is_a_page() -> None:
    headers = {"content-type": "text/plain;charset=UTF-8", "accept": "text/html"}
    answer = call("change_number", http_event("POST", LINK, headers=headers, body="password=x"))
    assert answer.status == 415
    assert answer.content_type.startswith("text/html")


def test_a_body_at_the_depth_limit_is_read() -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    body = json.dumps({"code": "123456"})[:-1] + f', "x": {nested}}}'
    # Read, then refused by the model for the extra field: the limit is not in the way of real bodies.
    assert_problem(send("verify", "application/json", body.encode()), 422, "invalid_request")


# ----------------------------------------------------------------- Meta's webhook


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (DEEP.encode(), "too_deep"),
        (('{"object": "whatsapp_business_account", "entry": ' + DEEP + "}").encode(), "too_deep"),
        (HUGE_INTEGER.encode(), "number_too_long"),
        (b'{"object": "\xff"}', "not_utf8"),
        (b"[]", "not_a_delivery"),
        (b" " * (1024 * 1024 + 1), "too_large"),
    ],
)
def test_a_signed_delivery_that_cannot_be_read_is_acknowledged_as_unreadable(body: bytes, reason: str) -> None:
    answer = post_webhook(body, signature(body))
    assert answer.status == 200, answer.body
    assert answer.json() == {"received": 0, "outcomes": [], "unreadable": reason}


def test_an_unsigned_unreadable_delivery_is_still_401() -> None:
    assert_problem(post_webhook(DEEP.encode(), "sha256=" + "0" * 64), 401, "invalid_signature")


def test_a_message_another_invocation_is_applying_is_not_acknowledged(monkeypatch: pytest.MonkeyPatch) -> None:
    started = start_migration()
    body = signed_delivery(started["message"])
    receiver = services.webhook_receiver()

    def held_elsewhere(**_: Any) -> dict[str, str]:
        raise IdempotencyAlreadyInProgressError("in progress")

    with monkeypatch.context() as patched:
        patched.setattr(receiver, "_once", lambda: held_elsewhere)
        answer = post_webhook(body, signature(body))

    # Meta delivers it again unless the answer is 2xx; should the holder die, the retry applies it.
    problem = assert_problem(answer, 409, "message_in_progress")
    assert int(answer.headers["Retry-After"]) > 0
    assert problem["retry_after"] == int(answer.headers["Retry-After"])
    retry = post_webhook(body, signature(body))
    assert retry.json()["outcomes"] == ["completed"]
    link = call("migrate", http_event("GET", f"/m/{token_of(started)}", headers={"accept": "application/json"}))
    assert link.json()["status"] == "completed"
