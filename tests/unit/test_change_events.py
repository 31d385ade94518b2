"""WhatsAppNumberChanged on moto: one event per committed change (A, B1, B2), none for a refused one,
published once the bus takes it, retried when it does not, and never a clear number in the outbox."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.dynamo import Dynamo, from_attributes, to_attributes
from shared.adapters.event_bus import EventBus, EventNotPublished
from shared.adapters.mail import Mailer
from shared.config import Settings
from shared.domain.accounts import Account
from shared.domain.change_events import (
    DETAIL_TYPE,
    EVENT_SOURCE,
    ChangeEventRelay,
    WhatsAppNumberChangedDetail,
    outbox_key,
)
from shared.domain.email_change import EmailNumberChange
from shared.domain.flows import FlowKind, InboundMessage
from shared.domain.sealing import unseal_at_rest
from shared.domain.whatsapp_flows import WhatsAppFlows
from tests.unit.conftest import FakeClock
from tests.unit.lambdas import FakeLambdaContext, load_function

SENDER = "+6281234567890"
PHONE = "+6281298765432"
CURRENT_WA = "+6285712345678"
PASSWORD = "rahasia-JSS-2024"

Scan = Callable[[str], list[dict[str, Any]]]
MakeAccount = Callable[..., Account]
Published = Callable[[], list[dict[str, Any]]]
STREAM_ARN = "arn:aws:dynamodb:ap-southeast-3:123456789012:table/OutboxTable/stream/2025-06-15T00:00:00.000"


def outbox(scan: Scan) -> list[dict[str, Any]]:
    return [from_attributes(item) for item in scan("OutboxTable")]


def audit(scan: Scan) -> list[dict[str, Any]]:
    return [from_attributes(item) for item in scan("AuditTable")]


def send(flows: WhatsAppFlows, message: str, sender: str, clock: FakeClock) -> dict[str, str]:
    return flows.receive(InboundMessage(f"wamid.{uuid.uuid4().hex}", sender, message, False, int(clock.now)))


class FailingBus:
    """An EventPublisher that refuses the first ``failures`` events, then hands over to a real bus."""

    def __init__(self, bus: EventBus, failures: int) -> None:
        self.bus = bus
        self.failures = failures
        self.tries = 0

    def publish(self, detail_type: str, detail: dict[str, Any], at: int) -> str:
        self.tries += 1
        if self.failures > 0:
            self.failures -= 1
            raise EventNotPublished("ServiceUnavailable")
        return self.bus.publish(detail_type, detail, at)


@pytest.fixture
def bus(aws: Any, config: Settings) -> EventBus:
    return EventBus(config.event_bus_name, EVENT_SOURCE, aws.events)


@pytest.fixture
def relay(db: Dynamo, config: Settings, bus: EventBus, clock: FakeClock) -> ChangeEventRelay:
    return ChangeEventRelay(db, config.outbox_table, bus, config.outbox_stranded_after_seconds, clock=clock)


@pytest.fixture
def relay_failing(db: Dynamo, config: Settings, bus: EventBus, clock: FakeClock) -> Callable[[int], ChangeEventRelay]:
    """A relay whose bus refuses the first ``failures`` events."""

    def make(failures: int) -> ChangeEventRelay:
        failing = FailingBus(bus, failures)
        return ChangeEventRelay(db, config.outbox_table, failing, config.outbox_stranded_after_seconds, clock=clock)

    return make


@pytest.fixture
def migrated(flows: WhatsAppFlows, make_account: MakeAccount, clock: FakeClock) -> Account:
    """Journey A done for jss-1001: its event waits in the outbox."""
    citizen = make_account("jss-1001", phone_number=PHONE)
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    assert send(flows, started.message, SENDER, clock)["outcome"] == "completed"
    return citizen


# ================================================================= staged with the change


def test_a_migration_puts_one_pending_event_in_the_outbox_with_the_number_sealed(migrated: Account, scan: Scan) -> None:
    [item] = outbox(scan)
    [record] = audit(scan)
    assert item["status"] == "pending"
    assert item["pk"] == f"EVENT#{item['event_id']}"
    assert "81234567890" not in json.dumps(scan("OutboxTable"))  # no clear number, in any spelling
    assert unseal_at_rest(item["event_id"], item["number_sealed"]) == SENDER
    assert unseal_at_rest("another-event", item["number_sealed"]) is None  # bound to its own event
    event = json.loads(item["event"])
    assert event == {
        "account_id": "jss-1001",
        "whatsapp_verified": True,
        "previous_number_masked": None,
        "journey": "whatsapp_migration",
        "phone_number_replaced": True,
        "changed_at": record["at"],
        "audit_id": record["event"],
        "event_id": item["event_id"],
    }


def test_a_change_through_whatsapp_puts_its_event_with_the_old_number_masked(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: FakeClock, scan: Scan
) -> None:
    citizen = make_account("jss-1002", password=PASSWORD, whatsapp_number=CURRENT_WA)
    started = flows.start(citizen.account_id, FlowKind.NUMBER_CHANGE)
    send(flows, started.message, SENDER, clock)
    assert outbox(scan) == []  # the message alone changes nothing: no event yet
    flows.confirm_password(started.link_url.rsplit("/", 1)[1], PASSWORD)

    [item] = outbox(scan)
    event = json.loads(item["event"])
    assert (event["journey"], event["whatsapp_verified"], event["phone_number_replaced"]) == (
        "whatsapp_change",
        True,
        False,
    )
    assert event["previous_number_masked"] == "0857-****-5678"
    assert unseal_at_rest(item["event_id"], item["number_sealed"]) == SENDER


def test_a_change_by_email_puts_an_unverified_event(
    db: Dynamo,
    config: Settings,
    aws: Any,
    make_account: MakeAccount,
    clock: FakeClock,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
) -> None:
    citizen = make_account("jss-1003", whatsapp_number=CURRENT_WA)
    service = EmailNumberChange(db, config, Mailer(config.mail_from, aws.sesv2), clock=clock)
    sent = service.send_code(citizen.account_id)
    code = re.findall(r"\b\d{6}\b", sent_mail()[-1].body)[0]
    permit = service.verify_code(citizen.account_id, sent.verification_id, code)
    service.change_number(citizen.account_id, permit.change_token, "0812-3456-7890")

    [item] = outbox(scan)
    event = json.loads(item["event"])
    assert (event["journey"], event["whatsapp_verified"]) == ("email_change", False)


def test_a_refused_change_puts_no_event(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: FakeClock, scan: Scan
) -> None:
    make_account("jss-1004", whatsapp_number=SENDER)  # holds the sender's number already
    citizen = make_account("jss-1005", phone_number=PHONE)
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)

    assert send(flows, started.message, SENDER, clock)["outcome"] == "number_taken"
    assert outbox(scan) == []


def test_the_same_message_twice_puts_one_event(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: FakeClock, scan: Scan
) -> None:
    citizen = make_account("jss-1006", phone_number=PHONE)
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    send(flows, started.message, SENDER, clock)
    send(flows, started.message, SENDER, clock)  # a second delivery finds the flow done

    assert len(outbox(scan)) == 1


def test_an_event_whose_transaction_fails_is_not_left_behind(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: FakeClock, scan: Scan, db: Dynamo, config: Settings
) -> None:
    """The outbox put is part of the change: a change that does not commit leaves no event."""
    citizen = make_account("jss-1007", phone_number=PHONE)
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    db.delete(config.accounts_table, {"pk": f"ACCOUNT#{citizen.account_id}"})  # the account went away

    assert send(flows, started.message, SENDER, clock)["outcome"] == "account_not_found"
    assert outbox(scan) == []


# ================================================================= published


def test_the_relay_publishes_the_event_and_marks_it_published(
    migrated: Account, relay: ChangeEventRelay, scan: Scan, published_events: Published, clock: FakeClock
) -> None:
    [item] = outbox(scan)
    relay.publish_new(item)

    [delivered] = published_events()
    assert delivered["source"] == EVENT_SOURCE
    assert delivered["detail-type"] == DETAIL_TYPE
    detail = WhatsAppNumberChangedDetail.model_validate(delivered["detail"])
    [record] = audit(scan)
    assert detail.event_id == item["event_id"]
    assert (detail.account_id, detail.whatsapp_number, detail.journey) == ("jss-1001", SENDER, "whatsapp_migration")
    assert detail.audit_id == record["event"]
    assert detail.phone_number_replaced is True
    assert detail.previous_whatsapp_number_masked is None
    assert int(detail.changed_at.timestamp()) == record["at"]

    [after] = outbox(scan)
    assert after["status"] == "published"
    assert "number_sealed" not in after  # nothing left to open once JSS has it
    assert "pending" not in after  # out of the sweep's index
    assert after["ttl"] == int(clock.now) + 7 * 24 * 3600


def test_publishing_an_event_already_published_sends_nothing(
    migrated: Account, relay: ChangeEventRelay, scan: Scan, published_events: Published
) -> None:
    [item] = outbox(scan)
    relay.publish_new(item)
    relay.publish_new(outbox(scan)[0])  # the stream's record of the "published" update, or a replay

    assert len(published_events()) == 1


def test_a_refused_publication_raises_and_leaves_the_event_pending(
    migrated: Account, relay_failing: Callable[[int], ChangeEventRelay], scan: Scan
) -> None:
    relay = relay_failing(1)
    [item] = outbox(scan)

    with pytest.raises(EventNotPublished):
        relay.publish_new(item)
    [still] = outbox(scan)
    assert still["status"] == "pending"
    assert still["number_sealed"] == item["number_sealed"]


def test_the_sweep_publishes_an_event_stranded_by_a_bus_outage_once(
    migrated: Account,
    relay_failing: Callable[[int], ChangeEventRelay],
    config: Settings,
    clock: FakeClock,
    scan: Scan,
    published_events: Published,
) -> None:
    relay = relay_failing(4)  # the stream's first try and its three retries
    [item] = outbox(scan)
    for _ in range(4):
        with pytest.raises(EventNotPublished):
            relay.publish_new(item)

    assert relay.publish_stranded().published == 0  # too fresh: the stream may still be at it
    clock.advance(config.outbox_stranded_after_seconds)
    report = relay.publish_stranded()

    assert (report.published, report.failed) == (1, 0)
    [delivered] = published_events()
    assert delivered["detail"]["event_id"] == item["event_id"]
    assert relay.publish_stranded().published == 0  # published events leave the index
    assert len(published_events()) == 1


def test_a_sweep_during_an_outage_counts_the_failure_and_keeps_the_event(
    migrated: Account,
    relay_failing: Callable[[int], ChangeEventRelay],
    config: Settings,
    clock: FakeClock,
    scan: Scan,
) -> None:
    relay = relay_failing(1)
    clock.advance(config.outbox_stranded_after_seconds)

    assert (relay.publish_stranded().failed, outbox(scan)[0]["status"]) == (1, "pending")
    assert relay.publish_stranded().published == 1


def test_a_missing_bus_is_a_refused_publication(aws: Any, config: Settings) -> None:
    bus = EventBus("no-such-bus", EVENT_SOURCE, aws.events)
    with pytest.raises(EventNotPublished):
        bus.publish(DETAIL_TYPE, {"event_id": "x"}, 1_750_000_000)


def test_an_entry_the_bus_refuses_is_a_refused_publication() -> None:
    class RefusingClient:
        def put_events(self, **_: Any) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]}

    bus = EventBus("bus", EVENT_SOURCE, RefusingClient())  # type: ignore[arg-type]
    with pytest.raises(EventNotPublished) as refused:
        bus.publish(DETAIL_TYPE, {"event_id": "x"}, 1_750_000_000)
    assert refused.value.reason == "InternalFailure"


def test_an_event_that_cannot_be_opened_is_set_aside_not_retried_forever(
    migrated: Account, relay: ChangeEventRelay, db: Dynamo, config: Settings, scan: Scan, published_events: Published
) -> None:
    [item] = outbox(scan)
    db.update(config.outbox_table, outbox_key(item["event_id"]), "SET number_sealed = :damaged", damaged="AAAA")

    relay.publish_new(outbox(scan)[0])

    [after] = outbox(scan)
    assert (after["status"], "pending" in after) == ("unreadable", False)
    assert published_events() == []


# ================================================================= the functions


def stream_record(item: dict[str, Any], sequence: str) -> dict[str, Any]:
    """A DynamoDB Streams record of an INSERT into the outbox, as Lambda passes it."""
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-southeast-3",
        "dynamodb": {
            "Keys": to_attributes({"pk": item["pk"]}),
            "NewImage": to_attributes(item),
            "SequenceNumber": sequence,
            "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": STREAM_ARN,
    }


def test_the_relay_function_reports_only_the_events_the_bus_refused(
    flows: WhatsAppFlows,
    make_account: MakeAccount,
    clock: FakeClock,
    scan: Scan,
    relay_failing: Callable[[int], ChangeEventRelay],
    published_events: Published,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n, sender in enumerate(("+6281234567890", "+6281234567891")):
        citizen = make_account(f"jss-20{n}", phone_number=PHONE)
        send(flows, flows.start(citizen.account_id, FlowKind.MIGRATION).message, sender, clock)
    first, second = sorted(outbox(scan), key=lambda i: i["event_id"])
    app = load_function("change_events")
    relay = relay_failing(1)
    monkeypatch.setattr(app, "change_event_relay", lambda: relay)

    answer = app.relay_handler(
        {"Records": [stream_record(first, "100"), stream_record(second, "200")]}, FakeLambdaContext()
    )

    assert answer == {"batchItemFailures": [{"itemIdentifier": "100"}]}
    assert [e["detail"]["event_id"] for e in published_events()] == [second["event_id"]]


def test_the_sweep_function_answers_what_it_did(
    migrated: Account,
    relay: ChangeEventRelay,
    clock: FakeClock,
    published_events: Published,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = load_function("change_events")
    monkeypatch.setattr(app, "change_event_relay", lambda: relay)
    clock.advance(600)

    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert app.sweep_handler(scheduled, FakeLambdaContext()) == {"published": 1, "failed": 0}
    assert len(published_events()) == 1


def test_the_detail_schema_refuses_a_number_that_is_not_e164() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        WhatsAppNumberChangedDetail.model_validate(
            {
                "schema_version": 1,
                "event_id": "e",
                "account_id": "a",
                "whatsapp_number": "0812-3456-7890",
                "whatsapp_verified": True,
                "previous_whatsapp_number_masked": None,
                "journey": "email_change",
                "phone_number_replaced": False,
                "changed_at": "2026-01-01T00:00:00Z",
                "audit_id": "x",
            }
        )


def test_an_outbox_item_that_cannot_be_rebuilt_is_set_aside_not_retried_for_ever(
    db: Dynamo, config: Settings, relay: ChangeEventRelay, published_events: Callable[[], list[dict[str, Any]]]
) -> None:
    from shared.domain.change_events import REMOVED_DETAIL_TYPE, outbox_key

    item = {**outbox_key("broken"), "event_id": "broken", "detail_type": REMOVED_DETAIL_TYPE, "status": "pending"}
    db.put(config.outbox_table, {**item, "pending": "pending", "created_at": 1, "event": '{"unexpected": 1}'})

    relay.publish_new(db.get(config.outbox_table, outbox_key("broken")) or {})

    stored = db.get(config.outbox_table, outbox_key("broken")) or {}
    assert stored["status"] == "unreadable"
    assert "pending" not in stored
    assert published_events() == []
