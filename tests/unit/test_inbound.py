"""WebhookReceiver (shared/domain/inbound.py) on moto: every message of a delivery is applied, exactly once,
and an infrastructure failure on one message fails the delivery only after the others were applied."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.dynamo import Dynamo
from shared.adapters.whatsapp_outbox import WhatsAppOutbox
from shared.config import Settings
from shared.domain.accounts import Account, AccountRegistry, account_key
from shared.domain.flows import FailureReason, FlowKind, FlowStatus, InboundMessage, StartedFlow
from shared.domain.inbound import WebhookReceiver
from shared.domain.whatsapp_flows import WhatsAppFlows
from shared.errors import ServiceError

MakeAccount = Callable[..., Account]
Scan = Callable[[str], list[dict[str, Any]]]

FIRST_SENDER = "6281234567890"
SECOND_SENDER = "6281398765432"


def text_message(text: str, sender: str, sent_at: float) -> dict[str, Any]:
    return {
        "from": sender,
        "id": f"wamid.{uuid.uuid4().hex}",
        "timestamp": str(int(sent_at)),
        "type": "text",
        "text": {"body": text},
    }


def delivery(*messages: dict[str, Any]) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000000", "phone_number_id": "100000000000001"},
        "contacts": [{"profile": {"name": "Budi"}, "wa_id": m["from"]} for m in messages],
        "messages": list(messages),
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


class LambdaContext:
    function_name = "whatsapp_webhook"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


CONTEXT: Any = LambdaContext()


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(b"unit-app-secret", body, hashlib.sha256).hexdigest()


@pytest.fixture
def receiver(flows: WhatsAppFlows, config: Settings, outbox: WhatsAppOutbox) -> WebhookReceiver:
    return WebhookReceiver(flows, config, outbox)


@pytest.fixture
def two_migrations(flows: WhatsAppFlows, make_account: MakeAccount) -> tuple[StartedFlow, StartedFlow]:
    make_account("jss-1001", email="budi@example.com")
    make_account("jss-1002", email="sari@example.com")
    return flows.start("jss-1001", FlowKind.MIGRATION), flows.start("jss-1002", FlowKind.MIGRATION)


def test_every_message_of_a_delivery_is_applied(
    receiver: WebhookReceiver, two_migrations: tuple[StartedFlow, StartedFlow], clock: Any, registry: AccountRegistry
) -> None:
    first, second = two_migrations
    body = delivery(
        text_message(first.message, FIRST_SENDER, clock.now), text_message(second.message, SECOND_SENDER, clock.now)
    )
    report = receiver.receive(body, sign(body), CONTEXT)
    assert report.as_dict() == {"received": 2, "outcomes": ["completed", "completed"]}
    assert receiver.config.lambda_context is CONTEXT  # an in-progress marker expires with the invocation
    assert registry.owner_of("+" + FIRST_SENDER) == "jss-1001"
    assert registry.owner_of("+" + SECOND_SENDER) == "jss-1002"


def test_a_flow_whose_account_is_gone_does_not_stop_the_delivery(
    receiver: WebhookReceiver,
    flows: WhatsAppFlows,
    two_migrations: tuple[StartedFlow, StartedFlow],
    clock: Any,
    db: Dynamo,
    config: Settings,
    registry: AccountRegistry,
) -> None:
    orphan, live = two_migrations
    db.delete(config.accounts_table, account_key("jss-1001"))
    body = delivery(
        text_message(orphan.message, FIRST_SENDER, clock.now), text_message(live.message, SECOND_SENDER, clock.now)
    )

    report = receiver.receive(body, sign(body), CONTEXT)  # no exception: Meta must not retry a business outcome

    assert report.outcomes == ["account_not_found", "completed"]
    flow, status = flows.status("jss-1001", orphan.flow_id, FlowKind.MIGRATION)
    assert (status, flow.reason) == (FlowStatus.FAILED, FailureReason.ACCOUNT_GONE)
    assert registry.owner_of("+" + SECOND_SENDER) == "jss-1002"
    assert receiver.receive(body, sign(body), CONTEXT).outcomes == ["account_not_found", "completed"]  # Meta's retry


def test_an_infrastructure_failure_is_raised_after_the_other_messages_were_applied(
    receiver: WebhookReceiver,
    flows: WhatsAppFlows,
    two_migrations: tuple[StartedFlow, StartedFlow],
    clock: Any,
    registry: AccountRegistry,
    scan: Scan,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing, applied = two_migrations
    body = delivery(
        text_message(failing.message, FIRST_SENDER, clock.now), text_message(applied.message, SECOND_SENDER, clock.now)
    )
    receive = flows.receive

    class Outage(Exception):
        pass

    def flaky_receive(message: InboundMessage) -> dict[str, str]:
        if message.sender == "+" + FIRST_SENDER:
            raise Outage("DynamoDB timed out")
        return receive(message)

    with monkeypatch.context() as patched:
        patched.setattr(flows, "receive", flaky_receive)
        with pytest.raises(Outage):  # the request fails, so Meta retries the delivery
            receiver.receive(body, sign(body), CONTEXT)

    assert registry.owner_of("+" + SECOND_SENDER) == "jss-1002"  # the other message was applied first
    assert registry.owner_of("+" + FIRST_SENDER) is None
    assert flows.status("jss-1001", failing.flow_id, FlowKind.MIGRATION)[1] is FlowStatus.PENDING

    # Meta's retry: the failed message is applied now, the applied one is recognised by its id.
    assert receiver.receive(body, sign(body), CONTEXT).outcomes == ["completed", "completed"]
    assert registry.owner_of("+" + FIRST_SENDER) == "jss-1001"
    assert len(scan("AuditTable")) == 2


def test_the_first_failure_is_the_one_raised(
    receiver: WebhookReceiver,
    flows: WhatsAppFlows,
    two_migrations: tuple[StartedFlow, StartedFlow],
    clock: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = two_migrations
    body = delivery(
        text_message(first.message, FIRST_SENDER, clock.now), text_message(second.message, SECOND_SENDER, clock.now)
    )
    seen: list[str] = []

    def failing_receive(message: InboundMessage) -> dict[str, str]:
        seen.append(message.message_id)
        raise RuntimeError(message.sender)

    monkeypatch.setattr(flows, "receive", failing_receive)
    with pytest.raises(RuntimeError) as caught:
        receiver.receive(body, sign(body), CONTEXT)
    assert str(caught.value) == "+" + FIRST_SENDER
    assert len(seen) == 2  # both were tried


def test_a_bad_signature_applies_nothing(
    receiver: WebhookReceiver, two_migrations: tuple[StartedFlow, StartedFlow], clock: Any, registry: AccountRegistry
) -> None:
    first, _ = two_migrations
    body = delivery(text_message(first.message, FIRST_SENDER, clock.now))
    with pytest.raises(ServiceError) as caught:
        receiver.receive(body, sign(body + b" "))
    assert caught.value.code == "invalid_signature"
    assert registry.owner_of("+" + FIRST_SENDER) is None
