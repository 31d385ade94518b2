"""The local stack's emulator of Meta's Graph API messages endpoint (``devserver/graph_api.py``):
the shapes Meta takes and refuses, its answers, what it records (newest first), its faults, and the
``/__dev/faults`` switchboard counting a fault down (``devserver/faults.py``).

Each test starts an emulator on a free loopback port and calls it over HTTP, as the sender does.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devserver.faults import FaultSwitchboard
from devserver.gateway import Request
from devserver.graph_api import GraphApiEmulator

PHONE_NUMBER_ID = "100000000000001"
TOKEN = "unit-whatsapp-access-token"
NUMBER = "+6281234567891"
HIDDEN = "ID.1502576394655843"
INBOUND = "wamid.HBgNNjI4MTIzNDU2Nzg5MRUCABIYFjNFQjBDNzk2"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replaces the suite's guard for this module: loopback only, where the emulator listens."""
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def loopback(address: Any) -> None:
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise RuntimeError(f"unit tests reach only the loopback emulator (tried {address!r})")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        loopback(address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        loopback(address)
        return connect_ex(self, address)

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "127.0.0.1":
            raise OSError(f"unit tests must not resolve or reach hosts (tried {host!r})")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.fixture
def emulator() -> Iterator[GraphApiEmulator]:
    running = GraphApiEmulator(PHONE_NUMBER_ID, TOKEN, port=0)
    running.start()
    yield running
    running.stop()


def messages_url(emulator: GraphApiEmulator, phone_number_id: str = PHONE_NUMBER_ID) -> str:
    return f"{emulator.endpoint}/v23.0/{phone_number_id}/messages"


def post(
    emulator: GraphApiEmulator, body: Any, *, token: str | None = TOKEN, url: str | None = None, timeout: float = 5
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers["Content-Type"] = "application/json"
    return requests.post(url or messages_url(emulator), data=data, headers=headers, timeout=timeout)


def text(body: str = "Migrasi berhasil.", **extra: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": NUMBER.lstrip("+"),
        "type": "text",
        "text": {"preview_url": False, "body": body},
        **extra,
    }


def template(*parameters: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": NUMBER.lstrip("+"),
        "type": "template",
        "template": {
            "name": "jss_nomor_whatsapp_diganti",
            "language": {"code": "id"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}],
        },
    }


def read_receipt(message_id: str = INBOUND) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}


def contact_request() -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "recipient": HIDDEN,
        "type": "interactive",
        "interactive": {
            "type": "request_contact_info",
            "body": {"text": "Bagikan nomor WhatsApp Anda."},
            "action": {"name": "request_contact_info"},
        },
    }


def error_of(answer: requests.Response) -> dict[str, Any]:
    """Meta's error format: message, type, code, a trace id, and the details when Meta gives them."""
    error: dict[str, Any] = answer.json()["error"]
    assert {"message", "type", "code", "fbtrace_id"} <= set(error)
    return error


# ------------------------------------------------------------------------------------ what it takes


def test_a_text_is_answered_with_its_wamid_and_recorded_as_sent(emulator: GraphApiEmulator) -> None:
    answer = post(emulator, text("Migrasi berhasil.", context={"message_id": INBOUND}))

    assert answer.status_code == 200, answer.text
    said = answer.json()
    assert said["messaging_product"] == "whatsapp"
    assert said["contacts"] == [{"input": "6281234567891", "wa_id": "6281234567891"}]
    wamid = said["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    [sent] = emulator.sent()
    assert sent == {
        "seq": sent["seq"],
        "id": wamid,
        "at": sent["at"],
        "to": NUMBER,  # in E.164, whatever form it was given in
        "recipient": None,
        "type": "text",
        "text": "Migrasi berhasil.",
        "template": None,
        "language": None,
        "parameters": [],
        "reply_to": INBOUND,
        "message_id": None,
    }
    assert sent["at"].endswith("Z")
    assert emulator.attempts() == []


def test_a_number_hidden_behind_a_user_id_is_sent_to_as_recipient(emulator: GraphApiEmulator) -> None:
    answer = post(emulator, contact_request())

    assert answer.status_code == 200, answer.text
    assert answer.json()["contacts"] == [{"input": HIDDEN, "user_id": HIDDEN}]
    [sent] = emulator.sent()
    assert (sent["to"], sent["recipient"], sent["type"]) == (None, HIDDEN, "interactive")
    assert sent["text"] == "Bagikan nomor WhatsApp Anda."


def test_a_template_is_recorded_with_its_name_language_and_body_parameters(emulator: GraphApiEmulator) -> None:
    answer = post(emulator, template("0812-****-7890", "1 Mei 2026 10.00 WIB", "https://jss.example/u/abc"))

    assert answer.status_code == 200, answer.text
    [sent] = emulator.sent()
    assert sent["type"] == "template"
    assert (sent["template"], sent["language"]) == ("jss_nomor_whatsapp_diganti", "id")
    assert sent["parameters"] == ["0812-****-7890", "1 Mei 2026 10.00 WIB", "https://jss.example/u/abc"]
    assert sent["text"] is None


def test_a_read_receipt_is_answered_success_and_names_the_inbound_message(emulator: GraphApiEmulator) -> None:
    answer = post(emulator, read_receipt())

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True}
    [read] = emulator.sent()
    assert (read["type"], read["message_id"], read["id"], read["to"]) == ("read", INBOUND, None, None)


@pytest.mark.parametrize("to", ["+6281234567891", "6281234567891", "+62 812-3456-7891"])
def test_a_number_is_taken_in_the_forms_meta_takes(emulator: GraphApiEmulator, to: str) -> None:
    assert post(emulator, {**text(), "to": to}).status_code == 200
    assert emulator.sent()[0]["to"] == NUMBER


def test_the_outbox_is_newest_first_and_can_start_after_a_record(emulator: GraphApiEmulator) -> None:
    post(emulator, read_receipt())
    post(emulator, text("pertama"))
    post(emulator, text("kedua"))

    sent = emulator.sent()
    assert [record["type"] for record in sent] == ["text", "text", "read"]
    assert [record["text"] for record in sent[:2]] == ["kedua", "pertama"]
    assert sent[0]["seq"] > sent[1]["seq"] > sent[2]["seq"]
    assert [record["text"] for record in emulator.sent(after=sent[1]["seq"])] == ["kedua"]
    sent[0]["text"] = "diubah"  # a caller's copy: the record stays as it was
    assert emulator.sent()[0]["text"] == "kedua"


# ----------------------------------------------------------------------------------- what it refuses


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({**text(), "messaging_product": "sms"}, "messaging_product"),
        ({key: value for key, value in text().items() if key != "messaging_product"}, "messaging_product"),
        ({**text(), "recipient": HIDDEN}, "exactly one of to and recipient"),
        ({key: value for key, value in text().items() if key != "to"}, "exactly one of to and recipient"),
        ({**text(), "to": "0812-3456-7891x"}, "to must be a phone number"),
        ({**text(), "to": 6281234567891}, "to must be a phone number"),
        ({**contact_request(), "recipient": "6281234567891"}, "recipient must be a business-scoped user id"),
        ({**text(), "recipient_type": "group"}, "recipient_type"),
        (text(""), "text.body"),
        (text(" "), "text.body"),
        (text("x" * 4097), "longer than 4096"),
        ({**text(), "text": {"body": "hai", "preview_url": "no"}}, "preview_url"),
        ({**text(), "text": "hai"}, "text must be an object"),
        ({**text(), "type": "image"}, "type 'image'"),
        ({**text(), "context": {"id": INBOUND}}, "context.message_id"),
        ({**template(), "template": {"name": "jss_nomor_whatsapp_diganti"}}, "template.language"),
        ({**template(), "template": {"name": "", "language": {"code": "id"}}}, "template.name"),
        ({**template(), "template": {"name": "x", "language": {"code": "id"}, "components": {}}}, "components"),
        (template(""), "template parameter text"),
        ({**contact_request(), "interactive": {"type": "button", "body": {"text": "x"}}}, "request_contact_info"),
        (
            {**contact_request(), "interactive": {**contact_request()["interactive"], "action": {"name": "send"}}},
            "action.name",
        ),
        ({**read_receipt(), "status": "delivered"}, "status must be 'read'"),
        ({"messaging_product": "whatsapp", "status": "read"}, "message_id"),
        ([text()], "the request body must be an object"),
        (b"{not json", "not JSON"),
    ],
)
def test_a_body_meta_would_refuse_is_answered_code_100_and_not_recorded(
    emulator: GraphApiEmulator, body: Any, details: str
) -> None:
    answer = post(emulator, body)

    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert (error["code"], error["type"]) == (100, "OAuthException")
    assert details in error["error_data"]["details"]
    assert emulator.sent() == []
    assert emulator.attempts() == []


@pytest.mark.parametrize("token", ["wrong-token", "", "t\u00f6k\u00e9n", None])
def test_a_wrong_or_missing_token_is_answered_401_code_190(emulator: GraphApiEmulator, token: str | None) -> None:
    answer = post(emulator, text(), token=token)

    assert answer.status_code == 401
    assert error_of(answer)["code"] == 190
    assert "invalid_token" in answer.headers["WWW-Authenticate"]
    assert emulator.sent() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v23.0/999999999999999/messages"),  # another business number
        ("POST", f"/v23.0/{PHONE_NUMBER_ID}/media"),
        ("POST", f"/latest/{PHONE_NUMBER_ID}/messages"),
        ("GET", f"/v23.0/{PHONE_NUMBER_ID}/messages"),
        ("POST", "/"),
    ],
)
def test_an_unknown_object_or_operation_is_answered_code_100(
    emulator: GraphApiEmulator, method: str, path: str
) -> None:
    answer = requests.request(
        method, emulator.endpoint + path, json=text(), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )

    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert (error["code"], error["type"], error["error_subcode"]) == (100, "GraphMethodException", 33)
    assert error["message"].startswith(f"Unsupported {method.lower()} request")
    assert emulator.sent() == []


# ------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("mode", "status", "code"), [("rate_limited", 429, 130429), ("failing", 503, 2), ("rejected", 400, 131047)]
)
def test_a_fault_answers_as_meta_does_until_changed_and_nothing_is_sent(
    emulator: GraphApiEmulator, mode: str, status: int, code: int
) -> None:
    emulator.set_mode(mode)

    answers = [post(emulator, text(f"coba {n}")) for n in range(3)]

    assert [answer.status_code for answer in answers] == [status] * 3
    error = error_of(answers[0])
    assert error["code"] == code
    assert error["error_data"]["details"]
    assert error["message"].startswith(f"(#{code}) ")
    assert emulator.mode == mode
    assert emulator.sent() == []
    attempts = emulator.attempts()
    assert [(a["fault"], a["status"], a["text"]) for a in attempts] == [(mode, status, f"coba {n}") for n in (2, 1, 0)]

    emulator.set_mode("ok")
    assert post(emulator, text("akhirnya")).status_code == 200
    assert [sent["text"] for sent in emulator.sent()] == ["akhirnya"]


def test_a_rate_limit_says_when_to_try_again(emulator: GraphApiEmulator) -> None:
    emulator.set_mode("rate_limited")
    assert post(emulator, text()).headers["Retry-After"] == "1"


def test_a_counted_fault_answers_the_next_requests_only_then_sends(emulator: GraphApiEmulator) -> None:
    emulator.set_mode("rate_limited", times=2)
    assert emulator.times_left == 2

    statuses = [post(emulator, text(f"coba {n}")).status_code for n in range(3)]

    assert statuses == [429, 429, 200]
    assert (emulator.mode, emulator.times_left) == ("ok", None)
    assert len(emulator.attempts()) == 2
    assert [sent["text"] for sent in emulator.sent()] == ["coba 2"]


def test_a_rejection_refuses_free_form_messages_only(emulator: GraphApiEmulator) -> None:
    """Outside the 24-hour window Meta still takes templates and read receipts."""
    emulator.set_mode("rejected", times=1)

    assert post(emulator, read_receipt()).status_code == 200
    assert post(emulator, template("0812-****-7890")).status_code == 200
    assert emulator.times_left == 1  # neither was the fault's to answer
    assert post(emulator, contact_request()).status_code == 400
    assert post(emulator, text()).status_code == 200

    assert [sent["type"] for sent in emulator.sent()] == ["text", "template", "read"]
    assert [attempt["type"] for attempt in emulator.attempts()] == ["interactive"]


def test_a_timeout_reads_the_request_and_never_answers(emulator: GraphApiEmulator) -> None:
    emulator.set_mode("timeout", times=1)
    started = time.monotonic()

    with pytest.raises(requests.ReadTimeout):
        post(emulator, text("tertahan"), timeout=0.5)

    assert time.monotonic() - started < 3
    [attempt] = emulator.attempts()
    assert (attempt["fault"], attempt["status"], attempt["text"]) == ("timeout", None, "tertahan")
    assert emulator.sent() == []
    assert post(emulator, text("lagi")).status_code == 200  # the client's retry goes through


def test_a_held_request_is_let_go_unanswered_when_the_mode_is_changed(emulator: GraphApiEmulator) -> None:
    emulator.set_mode("timeout")
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    outcome: list[BaseException | int] = []

    def send() -> None:
        try:
            connection.request(
                "POST",
                f"/v23.0/{PHONE_NUMBER_ID}/messages",
                body=json.dumps(text()),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            outcome.append(connection.getresponse().status)
        except (http.client.HTTPException, OSError) as error:
            outcome.append(error)

    waiting = threading.Thread(target=send)
    waiting.start()
    waiting.join(1.0)
    assert waiting.is_alive(), f"answered while the fault holds it: {outcome}"

    emulator.set_mode("ok")
    waiting.join(3.0)

    assert not waiting.is_alive()
    assert isinstance(outcome[0], http.client.RemoteDisconnected)  # closed, never answered
    connection.close()


def test_an_unknown_mode_is_refused(emulator: GraphApiEmulator) -> None:
    with pytest.raises(ValueError, match="sideways"):
        emulator.set_mode("sideways")


# -------------------------------------------------------------------------- /__dev/faults, counted


class Bus:
    """A switch that cannot count (as JSS's event bus and the fault proxies)."""

    modes = ("up", "down")
    mode = "up"

    def set_mode(self, mode: str) -> None:
        self.mode = mode


def change(board: FaultSwitchboard, body: Any) -> tuple[int, dict[str, Any]]:
    request = Request("POST", "/__dev/faults", "", {}, json.dumps(body).encode(), "127.0.0.1")
    answer = board.change(request)
    return answer.status, json.loads(answer.body)


def test_the_switchboard_counts_a_whatsapp_fault_and_shows_what_is_left() -> None:
    emulator = GraphApiEmulator(PHONE_NUMBER_ID, TOKEN)  # never started: only its switch is used
    board = FaultSwitchboard({"eventbridge": Bus(), "whatsapp": emulator})
    assert board.modes() == {"eventbridge": "up", "whatsapp": "ok"}

    status, modes = change(board, {"whatsapp": "rate_limited", "times": 2})

    assert status == 200
    assert modes == {"eventbridge": "up", "whatsapp": "rate_limited", "times": 2}
    assert (emulator.mode, emulator.times_left) == ("rate_limited", 2)
    assert change(board, {"whatsapp": "failing"}) == (200, {"eventbridge": "up", "whatsapp": "failing"})
    assert emulator.times_left is None  # a fault set without times lasts until changed


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"whatsapp": "rate_limited", "times": 0}, "times must be a whole number"),
        ({"whatsapp": "rate_limited", "times": "2"}, "times must be a whole number"),
        ({"whatsapp": "rate_limited", "times": True}, "times must be a whole number"),
        ({"whatsapp": "ok", "times": 2}, "is no fault"),
        ({"eventbridge": "down", "times": 2}, "eventbridge cannot fail a number of times"),
        ({"eventbridge": "down", "whatsapp": "failing", "times": 2}, "eventbridge cannot fail"),
        ({"times": 2}, "times goes with a fault of whatsapp"),
        ({"whatsapp": "down"}, "whatsapp must be one of ok, rate_limited, failing, timeout, rejected"),
    ],
)
def test_the_switchboard_refuses_times_it_cannot_count_and_changes_nothing(body: Any, says: str) -> None:
    emulator = GraphApiEmulator(PHONE_NUMBER_ID, TOKEN)
    board = FaultSwitchboard({"eventbridge": Bus(), "whatsapp": emulator})

    status, answer = change(board, body)

    assert status == 400
    assert says in answer["message"]
    assert board.modes() == {"eventbridge": "up", "whatsapp": "ok"}
