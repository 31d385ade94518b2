"""What the city's WhatsApp number sends, on the local stack: the Graph API emulator the functions
send through (``devserver/graph_api.py``), ``/__dev/whatsapp/outbox`` and ``/attempts``, the
``whatsapp`` switch of ``/__dev/faults``, the simulator's answer (the inbound message's id), and
journey A answered in the chat: a read receipt for the citizen's message and a reply, through the
outbox queue and ``WhatsAppSenderFunction``, also when Meta rate-limits the first tries, and from a
hidden number: the contact request to its user id, then the number it shares (``share_number``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devserver.meta import HIDDEN_SENDER_USER_ID
from tests.integration.conftest import PHONE_NUMBER_ID, Api, Stack, eventually, random_mobile

LOCAL_ACCESS_TOKEN = "local-whatsapp-access-token"  # the stack's default (README, "Local configuration")


@pytest.fixture
def faults_route(stack: Stack) -> Iterator[str]:
    """The route; WhatsApp is back to ``ok`` after each test, whatever it left."""
    yield stack.url("/__dev/faults")
    requests.post(stack.url("/__dev/faults"), json={"whatsapp": "ok"}, timeout=10).raise_for_status()


@pytest.fixture
def graph_api(stack: Stack) -> str:
    """The messages endpoint of the stack's emulator, from the stack's state file."""
    endpoint = json.loads(stack.state_file.read_text())["whatsapp_graph_url"]
    return f"{endpoint}/v23.0/{PHONE_NUMBER_ID}/messages"


def send_text(graph_api: str, to: str, body: str, token: str = LOCAL_ACCESS_TOKEN) -> requests.Response:
    """What the sender posts for a reply, in Meta's format."""
    message = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.lstrip("+"),
        "type": "text",
        "text": {"preview_url": False, "body": body},
    }
    return requests.post(graph_api, json=message, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def outbox(stack: Stack, route: str = "outbox", **query: Any) -> list[dict[str, Any]]:
    answer = requests.get(stack.url(f"/__dev/whatsapp/{route}"), params=query, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def quiet(stack: Stack, seconds: float = 2.0) -> None:
    """Waits until nothing has been sent for ``seconds``: a counted fault is global, and a reply an
    earlier test left on the queue would otherwise use up its count."""
    deadline = time.monotonic() + 30
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        newest = max((record["seq"] for record in outbox(stack) + outbox(stack, "attempts")), default=0)
        if newest != last:
            last, since = newest, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        time.sleep(0.25)
    pytest.fail("the Graph API emulator never went quiet")


def simulate(stack: Stack, text: str, sender: str | None) -> requests.Response:
    return requests.post(stack.url("/__dev/whatsapp/send"), json={"text": text, "sender": sender}, timeout=30)


# ---------------------------------------------------------------------------------------- the routes


def test_the_outbox_lists_what_the_emulator_sent_newest_first(stack: Stack, graph_api: str) -> None:
    number = random_mobile()
    first = send_text(graph_api, number, "pertama")
    second = send_text(graph_api, number, "kedua")
    assert first.status_code == second.status_code == 200, first.text

    mine = [record for record in outbox(stack) if record["to"] == number]

    assert [(record["type"], record["text"]) for record in mine] == [("text", "kedua"), ("text", "pertama")]
    assert [record["id"] for record in mine] == [
        second.json()["messages"][0]["id"],
        first.json()["messages"][0]["id"],
    ]
    assert {"at", "seq", "recipient", "template", "language", "parameters", "reply_to", "message_id"} <= set(mine[0])
    newer = outbox(stack, after=mine[1]["seq"])
    assert [record["text"] for record in newer if record["to"] == number] == ["kedua"]


def test_the_outbox_route_refuses_an_after_that_is_no_seq(stack: Stack) -> None:
    answer = requests.get(stack.url("/__dev/whatsapp/outbox"), params={"after": "kemarin"}, timeout=10)
    assert answer.status_code == 400
    assert "after" in answer.json()["message"]


def test_the_emulator_takes_only_the_stacks_token(graph_api: str) -> None:
    refused = send_text(graph_api, random_mobile(), "halo", token="someone-elses-token")

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == 190


def test_the_faults_route_switches_whatsapp_for_a_number_of_requests(
    stack: Stack, graph_api: str, faults_route: str
) -> None:
    assert requests.get(faults_route, timeout=10).json()["whatsapp"] == "ok"
    number = random_mobile()
    quiet(stack)

    changed = requests.post(faults_route, json={"whatsapp": "rate_limited", "times": 2}, timeout=10)

    assert changed.status_code == 200, changed.text
    assert changed.json()["whatsapp"] == "rate_limited"
    assert changed.json()["times"] == 2
    answers = [send_text(graph_api, number, f"coba {n}") for n in range(3)]
    assert [answer.status_code for answer in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[0].json()["error"]["code"] == 130429
    shown = requests.get(faults_route, timeout=10).json()
    assert shown["whatsapp"] == "ok"
    assert "times" not in shown
    tried = [record for record in outbox(stack, "attempts") if record["to"] == number]
    assert [(record["fault"], record["status"], record["text"]) for record in tried] == [
        ("rate_limited", 429, "coba 1"),
        ("rate_limited", 429, "coba 0"),
    ]
    assert [record["text"] for record in outbox(stack) if record["to"] == number] == ["coba 2"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"whatsapp": "sideways"}, "whatsapp must be one of ok, rate_limited, failing, timeout, rejected"),
        ({"dynamodb": "down", "times": 2}, "dynamodb cannot fail a number of times"),
        ({"whatsapp": "failing", "times": -1}, "times must be a whole number"),
    ],
)
def test_the_faults_route_refuses_what_whatsapp_cannot_do_and_changes_nothing(
    faults_route: str, body: dict[str, Any], says: str
) -> None:
    before = requests.get(faults_route, timeout=10).json()

    refused = requests.post(faults_route, json=body, timeout=10)

    assert refused.status_code == 400
    assert says in refused.json()["message"]
    assert requests.get(faults_route, timeout=10).json() == before


def test_the_simulator_answers_the_message_id_with_the_webhooks_answer(stack: Stack) -> None:
    number = random_mobile()
    shown = simulate(stack, "Halo JSS", number)
    hidden = simulate(stack, "Halo JSS", None)
    refused = simulate(stack, "Halo JSS", "bukan nomor")

    assert shown.status_code == 200, shown.text
    assert shown.json()["message_id"].startswith("wamid.")
    assert shown.json()["sender"] == number
    assert isinstance(shown.json()["webhook"], dict)  # the webhook's own JSON answer, as it gave it
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["sender"] == HIDDEN_SENDER_USER_ID
    assert hidden.json()["message_id"] != shown.json()["message_id"]
    assert refused.status_code == 422
    assert "sender" in refused.json()["message"]


# ------------------------------------------------------------------------- journey A, answered


def migrate(api: Api, stack: Stack) -> tuple[str, str]:
    """Journey A through the simulator: the sender's number and the id of the message it sent."""
    citizen = api.citizen()
    started = api.call("POST", "/v1/migrations", citizen)
    assert started.status_code == 201, started.text
    sender = random_mobile()
    sent = simulate(stack, started.json()["message"], sender)
    assert sent.status_code == 200, sent.text
    return sender, str(sent.json()["message_id"])


def answered(stack: Stack, sender: str, message_id: str) -> list[dict[str, Any]] | None:
    """The read receipt and the reply to the message, once both were sent."""
    records = outbox(stack)
    read = [r for r in records if r["type"] == "read" and r["message_id"] == message_id]
    reply = [r for r in records if r["type"] == "text" and r["to"] == sender and r["reply_to"] == message_id]
    return read + reply if read and reply else None


def test_journey_a_is_marked_read_and_answered_in_the_chat(api: Api, stack: Stack) -> None:
    sender, message_id = migrate(api, stack)

    read, reply = eventually(lambda: answered(stack, sender, message_id), what="the read receipt and the reply")

    assert "sudah terhubung dengan akun Jogja Smart Service" in reply["text"]
    assert read["seq"] < reply["seq"]  # the blue ticks come first


def test_a_rate_limited_reply_is_tried_again_and_sent_once(api: Api, stack: Stack, faults_route: str) -> None:
    quiet(stack)
    requests.post(faults_route, json={"whatsapp": "rate_limited", "times": 2}, timeout=10).raise_for_status()

    sender, message_id = migrate(api, stack)

    eventually(lambda: answered(stack, sender, message_id), what="the read receipt and the reply")
    tried = [r for r in outbox(stack, "attempts") if r["message_id"] == message_id]
    assert [(r["type"], r["fault"]) for r in tried] == [("read", "rate_limited")] * 2
    replies = [r for r in outbox(stack) if r["to"] == sender]
    assert len(replies) == 1


# ------------------------------------------------------------- journey A from a hidden number


def share(stack: Stack, number: str) -> requests.Response:
    """The hidden sender taps the city's "Bagikan nomor" and WhatsApp shares ``number``."""
    return requests.post(stack.url("/__dev/whatsapp/send"), json={"share_number": number}, timeout=30)


def test_a_hidden_sender_shares_the_number_and_journey_a_completes(api: Api, stack: Stack) -> None:
    citizen = api.citizen()
    started = api.call("POST", "/v1/migrations", citizen)
    assert started.status_code == 201, started.text
    status_path = f"/v1/migrations/{started.json()['flow_id']}"

    hidden = simulate(stack, started.json()["message"], None)

    assert hidden.status_code == 200, hidden.text
    asked = eventually(
        lambda: [
            r for r in outbox(stack) if r["type"] == "interactive" and r["reply_to"] == hidden.json()["message_id"]
        ],
        what="the contact request",
    )[0]
    assert (asked["recipient"], asked["to"]) == (HIDDEN_SENDER_USER_ID, None)
    assert "membagikan nomor WhatsApp Anda" in asked["text"]
    assert api.call("GET", status_path, citizen).json()["status"] == "pending"

    refused = share(stack, "bukan nomor")
    number = random_mobile()
    shared = share(stack, number)

    assert refused.status_code == 422
    assert "share_number" in refused.json()["message"]
    assert shared.status_code == 200, shared.text
    assert shared.json()["sender"] == number
    assert shared.json()["message_id"].startswith("wamid.")
    assert isinstance(shared.json()["webhook"], dict)
    assert api.call("GET", status_path, citizen).json()["status"] == "completed"
    account = requests.get(stack.url("/__dev/accounts"), params={"id": citizen.account_id}, timeout=10).json()
    assert account["whatsapp_number"] == number
    read, reply = eventually(
        lambda: answered(stack, number, str(shared.json()["message_id"])), what="the read receipt and the reply"
    )
    assert "sudah terhubung dengan akun Jogja Smart Service" in reply["text"]
    assert read["seq"] < reply["seq"]
