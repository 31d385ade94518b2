"""When WhatsApp fails, on the local stack (the Graph API emulator's faults, ``/__dev/faults``): the
journey's outcome never changes, a reply Meta refused for load or failure comes back through the
queue and is sent once, a request Meta may have received is never repeated, and a refusal for good
is not retried."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devserver.services import client
from tests.integration.conftest import Api, Stack, eventually, random_mobile
from tests.integration.test_whatsapp_outbox import answered, outbox, simulate

QUICK_REDELIVERY_SECONDS = 2
LONG_POLL_SECONDS = 1


@pytest.fixture
def whatsapp_fault(stack: Stack) -> Iterator[Any]:
    """Makes WhatsApp fail until the test says otherwise (a fault counted in requests could be used up
    by a late message of an earlier test); WhatsApp is back to ``ok`` afterwards."""

    def set_fault(mode: str) -> None:
        answer = requests.post(stack.url("/__dev/faults"), json={"whatsapp": mode}, timeout=10)
        answer.raise_for_status()

    yield set_fault
    set_fault("ok")


@pytest.fixture
def quick_redelivery(stack: Stack) -> Iterator[None]:
    """The outbox queue's visibility timeout is 360 s (six times the sender's timeout); a failed
    message coming back after 2 s shows the same redelivery without the wait."""
    sqs = client("sqs", stack.moto_endpoint)
    url = sqs.get_queue_url(QueueName="WhatsAppOutboxQueue")["QueueUrl"]
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(QUICK_REDELIVERY_SECONDS)})
    # A receive takes the queue's visibility when it starts, then long-polls (1 s, devserver's poller):
    # one started before the change could still hand out a message with the old 360 s.
    time.sleep(LONG_POLL_SECONDS + 0.5)
    yield
    sqs.set_queue_attributes(QueueUrl=url, Attributes=before)


def test_the_local_queues_keep_the_templates_timeouts_and_redrive(stack: Stack) -> None:
    """What makes a refused message come back later, and finally go to the dead-letter queue."""
    sqs = client("sqs", stack.moto_endpoint)
    url = sqs.get_queue_url(QueueName="WhatsAppOutboxQueue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "360"
    assert attributes["MessageRetentionPeriod"] == "86400"
    assert '"maxReceiveCount": 5' in attributes["RedrivePolicy"]
    assert "WhatsAppOutboxDeadLetterQueue" in attributes["RedrivePolicy"]


def start_migration(api: Api, stack: Stack, sender: str) -> tuple[str, str, Any]:
    """Journey A up to the message: the message id, the flow id, and the citizen."""
    citizen = api.citizen()
    started = api.call("POST", "/v1/migrations", citizen)
    assert started.status_code == 201, started.text
    sent = simulate(stack, started.json()["message"], sender)
    assert sent.status_code == 200, sent.text
    return str(sent.json()["message_id"]), started.json()["flow_id"], citizen


def flow_status(api: Api, citizen: Any, flow_id: str) -> str:
    answer = api.call("GET", f"/v1/migrations/{flow_id}", citizen)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def mine(stack: Stack, route: str, message_id: str, sender: str) -> list[dict[str, Any]]:
    """The records of ``route`` for the read receipt of ``message_id`` and for messages to ``sender``."""
    return [r for r in outbox(stack, route) if r["message_id"] == message_id or r["to"] == sender]


@pytest.mark.usefixtures("quick_redelivery")
def test_meta_failing_through_every_try_of_a_call_is_sent_once_when_the_queue_brings_it_back(
    api: Api, stack: Stack, whatsapp_fault: Any
) -> None:
    whatsapp_fault("failing")
    sender = random_mobile()
    message_id, flow_id, citizen = start_migration(api, stack, sender)

    assert flow_status(api, citizen, flow_id) == "completed"  # WhatsApp's outage is not the journey's
    tried = eventually(lambda: len(mine(stack, "attempts", message_id, sender)) >= 3, what="three tries of a call")
    assert tried
    whatsapp_fault("ok")  # Meta is back: the queue brings the message again

    eventually(lambda: answered(stack, sender, message_id), seconds=60, what="the reply after redelivery")
    failed = mine(stack, "attempts", message_id, sender)
    assert {(r["type"], r["fault"]) for r in failed} == {("read", "failing")}  # it never got further
    assert len([r for r in outbox(stack) if r["to"] == sender and r["type"] == "text"]) == 1


def test_a_call_meta_never_answered_is_not_repeated(api: Api, stack: Stack, whatsapp_fault: Any) -> None:
    """The read receipt and the reply reached Meta and no answer came: sending either again could
    double it. Both count as sent (uncertain), and neither is sent again once Meta answers."""
    whatsapp_fault("timeout")
    sender = random_mobile()
    message_id, flow_id, citizen = start_migration(api, stack, sender)

    assert flow_status(api, citizen, flow_id) == "completed"
    held = eventually(
        lambda: {r["type"] for r in mine(stack, "attempts", message_id, sender)} == {"read", "text"},
        seconds=60,
        what="the read receipt and the reply held unanswered",
    )
    assert held
    whatsapp_fault("ok")
    time.sleep(QUICK_REDELIVERY_SECONDS * 3)  # a redelivery, were there one, would have come by now
    assert [(r["type"], r["fault"]) for r in mine(stack, "attempts", message_id, sender)] == [
        ("text", "timeout"),
        ("read", "timeout"),
    ]  # newest first, once each
    assert mine(stack, "outbox", message_id, sender) == []


@pytest.mark.usefixtures("quick_redelivery")
def test_a_reply_meta_refuses_for_good_is_not_retried_and_changes_nothing(
    api: Api, stack: Stack, whatsapp_fault: Any
) -> None:
    whatsapp_fault("rejected")  # 131047: outside the 24-hour window, for free-form messages only
    sender = random_mobile()
    message_id, flow_id, citizen = start_migration(api, stack, sender)

    assert flow_status(api, citizen, flow_id) == "completed"
    eventually(lambda: [r for r in outbox(stack, "attempts") if r["to"] == sender], what="the refused reply")
    whatsapp_fault("ok")
    time.sleep(QUICK_REDELIVERY_SECONDS * 3)  # long enough for a redelivery, were there one
    tried = [r for r in outbox(stack, "attempts") if r["to"] == sender]
    assert [(r["type"], r["fault"], r["status"]) for r in tried] == [("text", "rejected", 400)]
    assert [r["type"] for r in mine(stack, "outbox", message_id, sender)] == ["read"]
