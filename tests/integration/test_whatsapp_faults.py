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
from tests.integration.test_whatsapp_outbox import answered, outbox, quiet, simulate

QUICK_REDELIVERY_SECONDS = 2


@pytest.fixture
def whatsapp_fault(stack: Stack) -> Iterator[Any]:
    """Sets a counted WhatsApp fault once the emulator is quiet (a counted fault answers whatever
    comes first); WhatsApp is back to ``ok`` afterwards."""

    def set_fault(mode: str, times: int) -> None:
        quiet(stack)
        answer = requests.post(stack.url("/__dev/faults"), json={"whatsapp": mode, "times": times}, timeout=10)
        answer.raise_for_status()

    yield set_fault
    requests.post(stack.url("/__dev/faults"), json={"whatsapp": "ok"}, timeout=10).raise_for_status()


@pytest.fixture
def quick_redelivery(stack: Stack) -> Iterator[None]:
    """The outbox queue's visibility timeout is 180 s (six times the sender's timeout); a failed
    message coming back after 2 s shows the same redelivery without the wait."""
    sqs = client("sqs", stack.moto_endpoint)
    url = sqs.get_queue_url(QueueName="WhatsAppOutboxQueue")["QueueUrl"]
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(QUICK_REDELIVERY_SECONDS)})
    yield
    sqs.set_queue_attributes(QueueUrl=url, Attributes=before)


def test_the_local_queues_keep_the_templates_timeouts_and_redrive(stack: Stack) -> None:
    """What makes a refused message come back later, and finally go to the dead-letter queue."""
    sqs = client("sqs", stack.moto_endpoint)
    url = sqs.get_queue_url(QueueName="WhatsAppOutboxQueue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "180"
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


def attempts_for(stack: Stack, message_id: str, sender: str) -> list[dict[str, Any]]:
    return [
        r
        for r in outbox(stack, "attempts")
        if r["message_id"] == message_id or (r["to"] == sender and r["type"] != "read")
    ]


@pytest.mark.usefixtures("quick_redelivery")
def test_meta_failing_through_every_try_of_a_call_is_sent_once_when_the_queue_brings_it_back(
    api: Api, stack: Stack, whatsapp_fault: Any
) -> None:
    whatsapp_fault("failing", 3)  # the first try and both retries of the first call
    sender = random_mobile()
    message_id, flow_id, citizen = start_migration(api, stack, sender)

    assert flow_status(api, citizen, flow_id) == "completed"  # WhatsApp's outage is not the journey's
    eventually(lambda: answered(stack, sender, message_id), seconds=60, what="the reply after redelivery")
    tried = attempts_for(stack, message_id, sender)
    assert [(r["type"], r["fault"]) for r in tried] == [("read", "failing")] * 3
    assert len([r for r in outbox(stack) if r["to"] == sender and r["type"] == "text"]) == 1


def test_a_call_meta_never_answered_is_not_repeated(api: Api, stack: Stack, whatsapp_fault: Any) -> None:
    """The read receipt reached Meta and no answer came: sending it again could double it. It counts
    as sent (uncertain), and the reply goes on."""
    whatsapp_fault("timeout", 1)
    sender = random_mobile()
    message_id, flow_id, citizen = start_migration(api, stack, sender)

    assert flow_status(api, citizen, flow_id) == "completed"
    reply = eventually(
        lambda: [r for r in outbox(stack) if r["to"] == sender and r["reply_to"] == message_id],
        seconds=60,
        what="the reply after the read receipt timed out",
    )
    assert len(reply) == 1
    time.sleep(QUICK_REDELIVERY_SECONDS + 1)
    tried = attempts_for(stack, message_id, sender)
    assert [(r["type"], r["fault"]) for r in tried] == [("read", "timeout")]  # once, never again
    assert not [r for r in outbox(stack) if r["type"] == "read" and r["message_id"] == message_id]


@pytest.mark.usefixtures("quick_redelivery")
def test_a_reply_meta_refuses_for_good_is_not_retried_and_changes_nothing(
    api: Api, stack: Stack, whatsapp_fault: Any
) -> None:
    whatsapp_fault("rejected", 1)  # 131047: outside the 24-hour window, for free-form messages only
    sender = random_mobile()
    message_id, flow_id, citizen = start_migration(api, stack, sender)

    assert flow_status(api, citizen, flow_id) == "completed"
    eventually(
        lambda: [r for r in outbox(stack, "attempts") if r["to"] == sender], seconds=30, what="the refused reply"
    )
    time.sleep(QUICK_REDELIVERY_SECONDS * 3)  # long enough for a redelivery, were there one
    tried = [r for r in outbox(stack, "attempts") if r["to"] == sender]
    assert [(r["type"], r["fault"], r["status"]) for r in tried] == [("text", "rejected", 400)]
    assert [r["type"] for r in outbox(stack) if r.get("message_id") == message_id or r["to"] == sender] == ["read"]
