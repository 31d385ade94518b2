"""The webhook's side of issue 13 on moto: every applied message queues the city's reply, a hidden
sender is asked for the number and the flow finishes when it is shared, and WhatsApp's
``user_changed_number`` makes the account's number unverified."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.whatsapp_outbox import WhatsAppOutbox
from shared.config import Settings
from shared.domain.accounts import Account, AccountRegistry, VerifiedVia, account_key
from shared.domain.flows import FlowKind, FlowStatus
from shared.domain.inbound import WebhookReceiver
from shared.domain.whatsapp_flows import WhatsAppFlows
from shared.domain.whatsapp_replies import FAILED, RECEIVED, SHARE_YOUR_NUMBER
from tests.unit.conftest import QueuedMessages
from tests.unit.test_inbound import CONTEXT, sign

MakeAccount = Callable[..., Account]
Scan = Callable[[str], list[dict[str, Any]]]
SENDER = "6281234567890"
USER_ID = "ID.1502576394655843"


def delivery(*messages: dict[str, Any], contacts: list[dict[str, Any]] | None = None) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "6281100000000", "phone_number_id": "100000000000001"},
        "contacts": contacts or [],
        "messages": list(messages),
    }
    entry = {"id": "WABA", "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def text(body: str, message_id: str, sent_at: float, sender: str | None = SENDER, **extra: Any) -> dict[str, Any]:
    message = {"id": message_id, "timestamp": str(int(sent_at)), "type": "text", "text": {"body": body}, **extra}
    if sender:
        message["from"] = sender
    return message


def shared_number(message_id: str, sent_at: float, user_id: str = USER_ID, wa_id: str = SENDER) -> dict[str, Any]:
    return {
        "id": message_id,
        "timestamp": str(int(sent_at)),
        "type": "contacts",
        "from_user_id": user_id,
        "origin": "contact_request",
        "contacts": [{"name": {"formatted_name": "Budi"}, "phones": [{"phone": "+" + wa_id, "wa_id": wa_id}]}],
    }


@pytest.fixture
def receiver(flows: WhatsAppFlows, config: Settings, outbox: WhatsAppOutbox) -> WebhookReceiver:
    return WebhookReceiver(flows, config, outbox)


def receive(receiver: WebhookReceiver, *messages: dict[str, Any]) -> list[str]:
    body = delivery(*messages)
    return receiver.receive(body, sign(body), CONTEXT).outcomes


# ----------------------------------------------------------------- replies


def test_a_completed_migration_is_answered_in_the_chat_and_marked_read(
    receiver: WebhookReceiver, flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, queued: QueuedMessages
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    assert receive(receiver, text(started.message, "wamid.a", clock.now)) == ["completed"]
    [reply] = queued.take()
    assert (reply.key, reply.to, reply.read_message_id, reply.reply_to) == (
        "reply:wamid.a",
        "+" + SENDER,
        "wamid.a",
        "wamid.a",
    )
    assert reply.text == RECEIVED["completed"]
    assert reply.send_before == int(clock.now) + 24 * 3600
    assert started.link_url.rsplit("/", 1)[1] not in reply.model_dump_json()  # never the token


def test_a_retried_delivery_queues_the_same_reply_which_the_sender_sends_once(
    receiver: WebhookReceiver, flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, queued: QueuedMessages
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    message = text(started.message, "wamid.again", clock.now)
    receive(receiver, message)
    receive(receiver, message)  # Meta delivers it again
    assert [reply.key for reply in queued.take()] == ["reply:wamid.again", "reply:wamid.again"]


def test_a_forwarded_message_is_told_why_it_failed(
    receiver: WebhookReceiver, flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, queued: QueuedMessages
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    receive(receiver, text(started.message, "wamid.fw", clock.now, context={"forwarded": True}))
    [reply] = queued.take()
    assert reply.text == FAILED["forwarded_message"]  # type: ignore[index]


def test_a_queue_that_cannot_take_the_reply_changes_nothing_of_the_journey(
    flows: WhatsAppFlows,
    config: Settings,
    aws: Any,
    make_account: MakeAccount,
    clock: Any,
    registry: AccountRegistry,
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    gone = WhatsAppOutbox(config.whatsapp_outbox_queue_url.replace("WhatsAppOutboxQueue", "NoSuchQueue"), aws.sqs)
    assert receive(WebhookReceiver(flows, config, gone), text(started.message, "wamid.q", clock.now)) == ["completed"]
    assert registry.owner_of("+" + SENDER) == "jss-1001"


# ----------------------------------------------------------------- hidden senders


def test_a_hidden_sender_is_asked_to_share_the_number_and_the_flow_waits(
    receiver: WebhookReceiver, flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, queued: QueuedMessages
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    assert receive(receiver, text(started.message, "wamid.h", clock.now, sender=None, from_user_id=USER_ID)) == [
        "awaiting_shared_number"
    ]
    [ask] = queued.take()
    assert (ask.recipient, ask.to, ask.contact_request) == (USER_ID, None, SHARE_YOUR_NUMBER)
    assert flows.status("jss-1001", started.flow_id, FlowKind.MIGRATION)[1] is FlowStatus.PENDING


def test_the_shared_number_finishes_the_flow_within_its_lifetime(
    receiver: WebhookReceiver,
    flows: WhatsAppFlows,
    make_account: MakeAccount,
    clock: Any,
    queued: QueuedMessages,
    registry: AccountRegistry,
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    receive(receiver, text(started.message, "wamid.h1", clock.now, sender=None, from_user_id=USER_ID))
    clock.advance(60)
    assert receive(receiver, shared_number("wamid.share1", clock.now)) == ["completed"]
    assert registry.owner_of("+" + SENDER) == "jss-1001"
    replies = queued.take()
    assert (replies[-1].to, replies[-1].text) == ("+" + SENDER, RECEIVED["completed"])


def test_a_number_shared_after_the_flow_expired_completes_nothing(
    receiver: WebhookReceiver,
    flows: WhatsAppFlows,
    make_account: MakeAccount,
    clock: Any,
    config: Settings,
    registry: AccountRegistry,
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    receive(receiver, text(started.message, "wamid.h2", clock.now, sender=None, from_user_id=USER_ID))
    clock.advance(config.flow_ttl_seconds + 1)
    assert receive(receiver, shared_number("wamid.share2", clock.now)) == ["no_waiting_request"]
    assert registry.owner_of("+" + SENDER) is None


def test_a_number_shared_by_another_user_finds_nothing_waiting(
    receiver: WebhookReceiver, flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, registry: AccountRegistry
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    receive(receiver, text(started.message, "wamid.h3", clock.now, sender=None, from_user_id=USER_ID))
    assert receive(receiver, shared_number("wamid.share3", clock.now, user_id="ID.999")) == ["no_waiting_request"]
    assert registry.owner_of("+" + SENDER) is None


def test_the_waiting_token_is_neither_in_the_clear_nor_named_by_the_user_id(
    receiver: WebhookReceiver, flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, scan: Scan
) -> None:
    make_account("jss-1001")
    started = flows.start("jss-1001", FlowKind.MIGRATION)
    receive(receiver, text(started.message, "wamid.h4", clock.now, sender=None, from_user_id=USER_ID))
    items = scan("TokensTable")
    assert [item for item in items if item["pk"]["S"].startswith("SHARE#")]  # it is remembered...
    stored = json.dumps(items)
    assert started.link_url.rsplit("/", 1)[1] not in stored  # ...but not readable from the table
    assert USER_ID not in stored


# ----------------------------------------------------------------- user_changed_number


def moved(message_id: str, sent_at: float, old: str = SENDER, new: str = "6281399990000") -> dict[str, Any]:
    system = {"body": f"User Budi changed from {old} to {new}", "wa_id": new, "type": "user_changed_number"}
    return {"from": old, "id": message_id, "timestamp": str(int(sent_at)), "type": "system", "system": system}


def test_a_number_whatsapp_says_was_left_becomes_unverified_audited_and_mailed(
    receiver: WebhookReceiver,
    make_account: MakeAccount,
    clock: Any,
    registry: AccountRegistry,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
    queued: QueuedMessages,
) -> None:
    make_account("jss-1001", whatsapp_number="+" + SENDER, whatsapp_verified_via=VerifiedVia.WHATSAPP)
    assert receive(receiver, moved("wamid.m1", clock.now)) == ["marked_unverified"]
    account = registry.get("jss-1001")
    assert account is not None
    assert (account.whatsapp_number, account.whatsapp_verified) == ("+" + SENDER, False)  # never the new number
    assert registry.owner_of("+6281399990000") is None
    [audit] = scan("AuditTable")
    assert audit["method"]["S"] == "whatsapp_user_changed_number"
    assert SENDER not in json.dumps(audit)
    assert "6281399990000" not in json.dumps(audit)
    [mail] = sent_mail()
    assert "Melalui WhatsApp" in mail.body
    assert queued.take() == []  # no reply: WhatsApp sent it, not the citizen


@pytest.mark.parametrize(
    ("via", "outcome"),
    [(VerifiedVia.EMAIL, "already_unverified"), (None, "number_not_linked")],
)
def test_a_number_moved_away_from_an_unproven_or_unknown_holder_changes_nothing(
    receiver: WebhookReceiver, make_account: MakeAccount, clock: Any, scan: Scan, via: str | None, outcome: str
) -> None:
    if via:
        make_account("jss-1001", whatsapp_number="+" + SENDER, whatsapp_verified_via=via)
    assert receive(receiver, moved("wamid.m2", clock.now)) == [outcome]
    assert scan("AuditTable") == []


def test_jss_hears_that_the_number_is_no_longer_verified(
    receiver: WebhookReceiver, make_account: MakeAccount, clock: Any, scan: Scan
) -> None:
    make_account("jss-1001", whatsapp_number="+" + SENDER, whatsapp_verified_via=VerifiedVia.WHATSAPP)
    receive(receiver, moved("wamid.m3", clock.now))
    [event] = [json.loads(item["event"]["S"]) for item in scan("OutboxTable")]
    assert (event["journey"], event["whatsapp_verified"]) == ("whatsapp_moved_away", False)
    assert event["previous_number_masked"] == "0812-****-7890"


def test_a_late_delivery_of_the_notice_leaves_a_number_proven_since_alone(
    receiver: WebhookReceiver,
    make_account: MakeAccount,
    clock: Any,
    registry: AccountRegistry,
    db: Any,
    config: Settings,
) -> None:
    """Meta retries a delivery for a week: a number proven again after WhatsApp's notice stays verified."""
    make_account("jss-1001", whatsapp_number="+" + SENDER, whatsapp_verified_via=VerifiedVia.WHATSAPP)
    db.update(
        config.accounts_table,
        account_key("jss-1001"),
        "SET whatsapp_number_changed_ms = :ms",
        ms=int(clock.now * 1000),
    )
    assert receive(receiver, moved("wamid.m4", clock.now - 3600)) == ["proven_since"]
    assert registry.get("jss-1001").whatsapp_verified is True  # type: ignore[union-attr]
