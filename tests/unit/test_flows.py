"""Journeys A (migration) and B1 (number change) on moto, with a fake clock and moto's SES."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.adapters.dynamo import Dynamo, from_attributes
from shared.adapters.keys import keyed_hash, number_fingerprint
from shared.adapters.mail import Mailer
from shared.clock import iso, wib_time
from shared.config import Settings
from shared.domain import password_confirmation
from shared.domain.accounts import Account, AccountRegistry, account_key
from shared.domain.flows import (
    CHANGE_SUCCESS,
    MIGRATION_SUCCESS,
    FailureReason,
    FlowKind,
    FlowStatus,
    InboundMessage,
    StartedFlow,
    flow_key,
    open_flow_key,
)
from shared.domain.sealing import unseal
from shared.domain.whatsapp_flows import WhatsAppFlows
from shared.errors import ServiceError
from shared.web import anti_forgery
from shared.web.models import FlowState
from shared.web.pages import link_page, link_payload

SENDER = "+6281234567890"  # the WhatsApp number the citizen writes from
OLD_PHONE = "+6281298765432"  # the account's phone number before the migration
CURRENT_WA = "+6285712345678"  # the WhatsApp number before a change (journey B1)
PASSWORD = "rahasia-JSS-2024"

Scan = Callable[[str], list[dict[str, Any]]]
MakeAccount = Callable[..., Account]


def token_of(started: StartedFlow) -> str:
    return started.link_url.rsplit("/", 1)[1]


def message_for(
    started: StartedFlow,
    clock: Any,
    sender: str | None = SENDER,
    *,
    forwarded: bool = False,
    sent_at: int | None = None,
    text: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        message_id=f"wamid.{uuid.uuid4().hex}",
        sender=sender,
        text=started.message if text is None else text,
        forwarded=forwarded,
        sent_at=int(clock.now) if sent_at is None else sent_at,
    )


def items(scan: Scan, table: str) -> list[dict[str, Any]]:
    return [from_attributes(item) for item in scan(table)]


def audit_records(scan: Scan, account_id: str) -> list[dict[str, Any]]:
    return sorted((i for i in items(scan, "AuditTable") if i["account_id"] == account_id), key=lambda i: i["event"])


def assert_no_clear_number(scan: Scan, *numbers: str) -> None:
    """Flows, links, limits and audit records keep hashes and masked forms only."""
    for table in ("TokensTable", "AuditTable"):
        dump = json.dumps(scan(table))
        for number in numbers:
            national = number[3:]  # "81234567890": also catches "081234567890" and "6281234567890"
            assert national not in dump, f"{table} holds {number} in clear"


def flow_item(db: Dynamo, config: Settings, flow_id: str) -> dict[str, Any]:
    item = db.get(config.tokens_table, flow_key(flow_id))
    assert item is not None
    return item


def tables_holding(aws: Any, scan: Scan, number: str) -> set[str]:
    """Every table (whatever template.yaml declares) with the number in clear, in any spelling."""
    national = number[3:]
    return {t for t in aws.dynamodb.list_tables()["TableNames"] if national in json.dumps(scan(t))}


def state(scan: Scan) -> list[Any]:
    return sorted(
        json.dumps(i, sort_keys=True) for t in ("TokensTable", "AccountsTable", "AuditTable") for i in scan(t)
    )


# ================================================================= journey A: migration


@pytest.fixture
def citizen(make_account: MakeAccount) -> Account:
    return make_account("jss-1001", phone_number=OLD_PHONE, email="budi@example.com")


def test_start_answers_a_prepared_whatsapp_message(
    flows: WhatsAppFlows, citizen: Account, clock: Any, config: Settings
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)

    assert started.status is FlowStatus.PENDING
    assert started.expires_at == int(clock.now) + config.flow_ttl_seconds
    assert started.whatsapp_url.startswith("https://wa.me/6281100000000?text=")
    [text] = parse_qs(urlsplit(started.whatsapp_url).query)["text"]
    assert text == started.message
    assert started.link_url in started.message
    assert started.link_url.startswith("https://jss.example/m/")
    token = token_of(started)
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    uuid.UUID(started.flow_id)
    assert flows.status(citizen.account_id, started.flow_id, FlowKind.MIGRATION)[1] is FlowStatus.PENDING


def test_every_start_gets_a_new_token(flows: WhatsAppFlows, citizen: Account) -> None:
    first = flows.start(citizen.account_id, FlowKind.MIGRATION)
    second = flows.start(citizen.account_id, FlowKind.MIGRATION)
    assert token_of(first) != token_of(second)
    assert first.flow_id != second.flow_id


def test_only_a_hash_of_the_link_token_is_stored(flows: WhatsAppFlows, citizen: Account, scan: Scan) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    token = token_of(started)
    dump = json.dumps(scan("TokensTable"))
    assert token not in dump
    assert keyed_hash("link", token) in dump


def test_message_completes_the_migration(
    flows: WhatsAppFlows,
    citizen: Account,
    clock: Any,
    registry: AccountRegistry,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    clock.advance(30)

    outcome = flows.receive(message_for(started, clock))

    assert outcome == {"outcome": "completed", "flow_id": started.flow_id}
    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number == SENDER
    assert account.phone_number == SENDER  # the migration replaces the phone number
    assert account.whatsapp_verified is True
    stored = registry.db.get("AccountsTable", account_key(citizen.account_id))
    assert stored is not None
    assert stored["whatsapp_number_changed_ms"] == stored["phone_number_changed_ms"] == int(clock.now * 1000)
    assert account.version == 1
    assert registry.owner_of(SENDER) == citizen.account_id

    flow, status = flows.status(citizen.account_id, started.flow_id, FlowKind.MIGRATION)
    assert status is FlowStatus.COMPLETED
    assert flow.number_masked == "0812-****-7890"

    [audit] = audit_records(scan, citizen.account_id)
    assert audit["method"] == "whatsapp_migration"
    assert audit["flow_id"] == started.flow_id
    assert audit["new_number_masked"] == "0812-****-7890"
    assert audit["new_number_hash"] == number_fingerprint(SENDER)
    assert audit["new_number_hash"] != keyed_hash("number", SENDER)  # the never-rotated key, not the token key
    assert audit["phone_number_replaced"] is True
    assert audit["old_phone_masked"] == "0812-****-5432"  # the phone number the migration replaced
    assert audit["old_phone_hash"] == number_fingerprint(OLD_PHONE)
    assert "old_number_hash" not in audit  # there was no WhatsApp number before
    assert_no_clear_number(scan, SENDER, OLD_PHONE)

    [mail] = sent_mail()
    assert mail.destinations["ToAddresses"] == ["budi@example.com"]
    assert mail.source == "no-reply@jss.example"
    assert MIGRATION_SUCCESS in mail.subject
    assert "0812-****-7890" in mail.body
    assert SENDER[3:] not in mail.body
    assert "(diubah pada 15-06-2025 22:07 WIB)" in mail.body  # the fake clock's time, in Yogyakarta


def test_link_shows_the_result_after_completion(flows: WhatsAppFlows, citizen: Account, clock: Any) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    flows.receive(message_for(started, clock))

    view = flows.view_link(token_of(started), FlowKind.MIGRATION)

    assert view.status is FlowStatus.COMPLETED
    assert view.success_message == MIGRATION_SUCCESS
    assert view.number_masked == "0812-****-7890"
    assert view.account_masked == "b***i@example.com"
    # The done page carries no anti-forgery value and no form (they live in the page layer now).
    assert link_payload(view, token_of(started), "id")["csrf_token"] is None
    assert 'name="csrf_token"' not in link_page(view, token_of(started), "id").body


def test_result_link_stops_working_after_the_result_view_time(
    flows: WhatsAppFlows, citizen: Account, clock: Any, config: Settings
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    flows.receive(message_for(started, clock))
    clock.advance(config.result_view_seconds - 1)
    assert flows.view_link(token_of(started), FlowKind.MIGRATION).status is FlowStatus.COMPLETED
    clock.advance(1)
    with pytest.raises(ServiceError) as caught:
        flows.view_link(token_of(started), FlowKind.MIGRATION)
    assert caught.value.code == "link_not_found"


def test_view_link_never_changes_state(flows: WhatsAppFlows, citizen: Account, clock: Any, scan: Scan) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    before = state(scan)
    for _ in range(3):
        view = flows.view_link(token_of(started), FlowKind.MIGRATION)
        clock.advance(5)
    assert view.status is FlowStatus.PENDING
    assert view.expires_at == started.expires_at
    assert view.account_masked == "b***i@example.com"
    assert state(scan) == before


@pytest.mark.parametrize(
    "token",
    [
        "",
        "short",
        "A" * 32,  # well-formed, unknown
        "A" * 31 + "=",
        "A" * 33,
        "../" + "A" * 29,
    ],
)
def test_unknown_or_malformed_token_is_link_not_found(flows: WhatsAppFlows, citizen: Account, token: str) -> None:
    with pytest.raises(ServiceError) as caught:
        flows.view_link(token, FlowKind.MIGRATION)
    assert caught.value.code == "link_not_found"
    assert caught.value.status == 404


def test_migration_token_is_not_a_number_change_link(flows: WhatsAppFlows, citizen: Account) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    with pytest.raises(ServiceError) as caught:
        flows.view_link(token_of(started), FlowKind.NUMBER_CHANGE)
    assert caught.value.code == "link_not_found"


def test_a_new_start_replaces_the_open_flow(
    flows: WhatsAppFlows, citizen: Account, clock: Any, registry: AccountRegistry
) -> None:
    first = flows.start(citizen.account_id, FlowKind.MIGRATION)
    clock.advance(10)
    second = flows.start(citizen.account_id, FlowKind.MIGRATION)

    with pytest.raises(ServiceError) as caught:
        flows.view_link(token_of(first), FlowKind.MIGRATION)
    assert caught.value.code == "link_not_found"
    flow, status = flows.status(citizen.account_id, first.flow_id, FlowKind.MIGRATION)
    assert status is FlowStatus.FAILED
    assert flow.reason == FailureReason.REPLACED

    assert flows.receive(message_for(first, clock))["outcome"] == "flow_not_pending"
    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number is None

    assert flows.receive(message_for(second, clock))["outcome"] == "completed"


def test_flow_expires_after_its_ttl(flows: WhatsAppFlows, citizen: Account, clock: Any, config: Settings) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    clock.advance(config.flow_ttl_seconds - 1)
    assert flows.view_link(token_of(started), FlowKind.MIGRATION).status is FlowStatus.PENDING
    clock.advance(1)
    with pytest.raises(ServiceError) as caught:
        flows.view_link(token_of(started), FlowKind.MIGRATION)
    assert caught.value.code == "link_not_found"
    assert flows.status(citizen.account_id, started.flow_id, FlowKind.MIGRATION)[1] is FlowStatus.EXPIRED


def test_message_sent_after_expiry_changes_nothing(
    flows: WhatsAppFlows, citizen: Account, clock: Any, registry: AccountRegistry, sent_mail: Callable[[], list[Any]]
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    clock.advance(700)

    outcome = flows.receive(message_for(started, clock, sent_at=started.expires_at))

    assert outcome["outcome"] == FailureReason.MESSAGE_AFTER_EXPIRY
    assert registry.get(citizen.account_id) == citizen
    assert registry.owner_of(SENDER) is None
    assert flows.status(citizen.account_id, started.flow_id, FlowKind.MIGRATION)[1] is FlowStatus.EXPIRED
    assert sent_mail() == []


def test_message_sent_in_time_but_delivered_late_still_counts(
    flows: WhatsAppFlows, citizen: Account, clock: Any
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    clock.advance(900)  # Meta retried the delivery; the citizen sent it before expiry
    outcome = flows.receive(message_for(started, clock, sent_at=started.expires_at - 1))
    assert outcome["outcome"] == "completed"


def test_delivery_later_than_the_result_view_time_is_refused(
    flows: WhatsAppFlows, citizen: Account, clock: Any, config: Settings, registry: AccountRegistry
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    clock.advance(config.flow_ttl_seconds + config.result_view_seconds)
    outcome = flows.receive(message_for(started, clock, sent_at=started.expires_at - 60))
    assert outcome["outcome"] == FailureReason.MESSAGE_AFTER_EXPIRY
    assert registry.owner_of(SENDER) is None


def test_forwarded_message_fails_the_flow(
    flows: WhatsAppFlows, citizen: Account, clock: Any, registry: AccountRegistry
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    outcome = flows.receive(message_for(started, clock, forwarded=True))

    assert outcome["outcome"] == FailureReason.FORWARDED
    assert registry.get(citizen.account_id) == citizen
    view = flows.view_link(token_of(started), FlowKind.MIGRATION)
    assert view.status is FlowStatus.FAILED
    assert view.reason == FailureReason.FORWARDED
    # A failed flow is final: the same message, not forwarded this time, changes nothing.
    assert flows.receive(message_for(started, clock))["outcome"] == "flow_not_pending"
    assert registry.owner_of(SENDER) is None


def test_number_held_by_another_account_fails_the_flow(
    flows: WhatsAppFlows, citizen: Account, clock: Any, make_account: MakeAccount, registry: AccountRegistry, scan: Scan
) -> None:
    make_account("jss-2002", email="siti@example.com", whatsapp_number=SENDER)
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)

    outcome = flows.receive(message_for(started, clock))

    assert outcome["outcome"] == FailureReason.NUMBER_TAKEN
    assert registry.get(citizen.account_id) == citizen
    assert registry.owner_of(SENDER) == "jss-2002"
    flow, status = flows.status(citizen.account_id, started.flow_id, FlowKind.MIGRATION)
    assert status is FlowStatus.FAILED
    assert flow.reason == FailureReason.NUMBER_TAKEN
    assert flow.number_masked == "0812-****-7890"
    assert audit_records(scan, citizen.account_id) == []


def test_sender_without_a_number_fails_the_flow(
    flows: WhatsAppFlows, citizen: Account, clock: Any, registry: AccountRegistry
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    outcome = flows.receive(message_for(started, clock, sender=None))
    assert outcome["outcome"] == FailureReason.SENDER_NUMBER_HIDDEN
    assert registry.get(citizen.account_id) == citizen
    assert flows.view_link(token_of(started), FlowKind.MIGRATION).reason == FailureReason.SENDER_NUMBER_HIDDEN


def test_account_linked_meanwhile_fails_the_flow(
    flows: WhatsAppFlows, citizen: Account, clock: Any, registry: AccountRegistry
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    registry.save(Account(citizen.account_id, email=citizen.email, whatsapp_number=CURRENT_WA))
    outcome = flows.receive(message_for(started, clock))
    assert outcome["outcome"] == FailureReason.ALREADY_LINKED
    assert registry.owner_of(SENDER) is None


def test_message_without_a_token_is_ignored(flows: WhatsAppFlows, citizen: Account, clock: Any, scan: Scan) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    before = state(scan)
    for text in ["Halo JSS", "", "https://jss.example/m/" + "B" * 32, started.message.replace(token_of(started), "")]:
        assert flows.receive(message_for(started, clock, text=text)) == {"outcome": "no_token"}
    assert state(scan) == before


def test_token_is_found_in_an_edited_message(flows: WhatsAppFlows, citizen: Account, clock: Any) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    text = f"Selamat pagi, ini token saya:\n{token_of(started)}\nTerima kasih."
    assert flows.receive(message_for(started, clock, text=text))["outcome"] == "completed"


def test_same_message_twice_has_one_effect(
    flows: WhatsAppFlows, citizen: Account, clock: Any, scan: Scan, sent_mail: Callable[[], list[Any]]
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    message = message_for(started, clock)
    assert flows.receive(message)["outcome"] == "completed"
    assert flows.receive(message)["outcome"] == "flow_not_pending"
    assert len(audit_records(scan, citizen.account_id)) == 1
    assert len(sent_mail()) == 1


def test_mail_failure_does_not_undo_the_migration(
    db: Dynamo, config: Settings, citizen: Account, clock: Any, registry: AccountRegistry
) -> None:
    flows = WhatsAppFlows(db, config, Mailer("not-verified@elsewhere.example"), clock=clock)
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    assert flows.receive(message_for(started, clock))["outcome"] == "completed"
    account = registry.get(citizen.account_id)
    assert account is not None
    assert account.whatsapp_number == SENDER


def test_account_without_email_migrates_without_mail(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: Any, sent_mail: Callable[[], list[Any]]
) -> None:
    make_account("jss-3003", email=None, name="Sri Rahayu Ningsih")
    started = flows.start("jss-3003", FlowKind.MIGRATION)
    assert flows.receive(message_for(started, clock))["outcome"] == "completed"
    assert sent_mail() == []
    view = flows.view_link(token_of(started), FlowKind.MIGRATION)
    assert view.account_masked == "Sri R. N."  # the name, shortened: an account id means nothing to a citizen
    assert not view.account_has_email


def test_an_account_without_email_or_name_is_left_out_of_the_page(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: Any
) -> None:
    make_account("jss-3004", email=None, name=None)
    started = flows.start("jss-3004", FlowKind.MIGRATION)
    assert flows.view_link(token_of(started), FlowKind.MIGRATION).account_masked is None


def test_sixth_start_within_ten_minutes_is_refused(flows: WhatsAppFlows, citizen: Account, clock: Any) -> None:
    first_at = clock.now
    for _ in range(5):
        flows.start(citizen.account_id, FlowKind.MIGRATION)
        clock.advance(20)

    with pytest.raises(ServiceError) as caught:
        flows.start(citizen.account_id, FlowKind.MIGRATION)

    error = caught.value
    assert error.code == "too_many_starts"
    assert error.status == 429
    assert error.retry_after == int(first_at + 600 - clock.now)
    assert f"dalam {-(-error.retry_after // 60)} menit" in error.detail("id")  # 500 s: "9 menit"
    clock.advance(error.retry_after)
    flows.start(citizen.account_id, FlowKind.MIGRATION)  # the oldest start left the window


def test_start_limit_is_per_account(flows: WhatsAppFlows, citizen: Account, make_account: MakeAccount) -> None:
    make_account("jss-2002", email="siti@example.com")
    for _ in range(5):
        flows.start(citizen.account_id, FlowKind.MIGRATION)
    flows.start("jss-2002", FlowKind.MIGRATION)


def test_start_refused_when_already_linked(flows: WhatsAppFlows, make_account: MakeAccount) -> None:
    make_account("jss-4004", whatsapp_number=CURRENT_WA)
    with pytest.raises(ServiceError) as caught:
        flows.start("jss-4004", FlowKind.MIGRATION)
    assert caught.value.code == "whatsapp_already_linked"
    assert caught.value.status == 409


def test_start_for_an_unknown_account(flows: WhatsAppFlows) -> None:
    with pytest.raises(ServiceError) as caught:
        flows.start("nobody", FlowKind.MIGRATION)
    assert caught.value.code == "account_not_found"


def test_status_of_another_accounts_flow_is_not_found(
    flows: WhatsAppFlows, citizen: Account, make_account: MakeAccount
) -> None:
    make_account("jss-2002", email="siti@example.com")
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    for account_id, flow_id, kind in [
        ("jss-2002", started.flow_id, FlowKind.MIGRATION),
        (citizen.account_id, started.flow_id, FlowKind.NUMBER_CHANGE),
        (citizen.account_id, str(uuid.uuid4()), FlowKind.MIGRATION),
    ]:
        with pytest.raises(ServiceError) as caught:
            flows.status(account_id, flow_id, kind)
        assert caught.value.code == "flow_not_found"


def test_the_open_flow_pointer_names_the_newest_flow(
    flows: WhatsAppFlows, citizen: Account, clock: Any, db: Dynamo, config: Settings
) -> None:
    first = flows.start(citizen.account_id, FlowKind.MIGRATION)
    pointer = db.get(config.tokens_table, open_flow_key(citizen.account_id, FlowKind.MIGRATION))
    assert pointer is not None
    assert pointer["open_id"] == first.flow_id
    assert pointer["ttl"] == first.expires_at
    clock.advance(10)
    second = flows.start(citizen.account_id, FlowKind.MIGRATION)
    pointer = db.get(config.tokens_table, open_flow_key(citizen.account_id, FlowKind.MIGRATION))
    assert pointer is not None
    assert pointer["open_id"] == second.flow_id


@pytest.mark.parametrize(
    ("kind", "whatsapp_number"),
    [(FlowKind.MIGRATION, None), (FlowKind.NUMBER_CHANGE, CURRENT_WA)],
)
def test_a_message_for_a_flow_whose_account_is_gone_fails_the_flow(
    flows: WhatsAppFlows,
    make_account: MakeAccount,
    clock: Any,
    db: Dynamo,
    config: Settings,
    registry: AccountRegistry,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
    kind: FlowKind,
    whatsapp_number: str | None,
) -> None:
    account = make_account("jss-4040", whatsapp_number=whatsapp_number)
    started = flows.start(account.account_id, kind)
    db.delete(config.accounts_table, account_key(account.account_id))  # closed while the message was on its way

    outcome = flows.receive(message_for(started, clock))  # a business outcome: never raised, so Meta does not retry

    assert outcome == {"outcome": "account_not_found", "flow_id": started.flow_id}
    assert FailureReason.ACCOUNT_GONE == "account_not_found"
    flow, status = flows.status(account.account_id, started.flow_id, kind)
    assert status is FlowStatus.FAILED
    assert flow.reason == FailureReason.ACCOUNT_GONE
    assert "proposed_sealed" not in flow_item(db, config, started.flow_id)
    assert registry.owner_of(SENDER) is None
    assert audit_records(scan, account.account_id) == []
    assert sent_mail() == []
    # The flow is final: the same message again changes nothing.
    assert flows.receive(message_for(started, clock))["outcome"] == "flow_not_pending"


def test_flow_state_says_why_a_flow_failed_or_expired(flows: WhatsAppFlows, citizen: Account, clock: Any) -> None:
    late = flows.start(citizen.account_id, FlowKind.MIGRATION)
    clock.advance(700)
    flows.receive(message_for(late, clock, sent_at=late.expires_at))
    flow, status = flows.status(citizen.account_id, late.flow_id, FlowKind.MIGRATION)
    answer = FlowState.of(flow, status)
    assert answer.status == "expired"
    assert answer.reason == FailureReason.MESSAGE_AFTER_EXPIRY  # the app can tell the citizen the message came late
    assert answer.expires_at == iso(late.expires_at)

    silent = flows.start(citizen.account_id, FlowKind.MIGRATION)
    clock.advance(600)
    answer = FlowState.of(*flows.status(citizen.account_id, silent.flow_id, FlowKind.MIGRATION))
    assert (answer.status, answer.reason) == ("expired", None)  # no message ever came

    forwarded = flows.start(citizen.account_id, FlowKind.MIGRATION)
    flows.receive(message_for(forwarded, clock, forwarded=True))
    answer = FlowState.of(*flows.status(citizen.account_id, forwarded.flow_id, FlowKind.MIGRATION))
    assert (answer.status, answer.reason) == ("failed", FailureReason.FORWARDED)

    pending = flows.start(citizen.account_id, FlowKind.MIGRATION)
    answer = FlowState.of(*flows.status(citizen.account_id, pending.flow_id, FlowKind.MIGRATION))
    assert (answer.status, answer.reason) == ("pending", None)


# ================================================================= journey B1: number change


NEW = SENDER


@pytest.fixture(params=["bcrypt", "argon2id"])
def linked(request: pytest.FixtureRequest, make_account: MakeAccount) -> Account:
    """An account that migrated already, its password hashed like the JSS app does."""
    return make_account(
        "jss-5005", password=PASSWORD, scheme=request.param, email="budi@example.com", whatsapp_number=CURRENT_WA
    )


@pytest.fixture
def linked_bcrypt(make_account: MakeAccount) -> Account:
    return make_account("jss-5005", password=PASSWORD, email="budi@example.com", whatsapp_number=CURRENT_WA)


def awaiting_password(flows: WhatsAppFlows, clock: Any, account_id: str, sender: str = NEW) -> tuple[StartedFlow, str]:
    """Starts B1 and delivers the message: the flow waits for the password. Returns the link token."""
    started = flows.start(account_id, FlowKind.NUMBER_CHANGE)
    clock.advance(5)
    assert flows.receive(message_for(started, clock, sender))["outcome"] == "awaiting_password"
    clock.advance(5)
    return started, token_of(started)


def password_hits(flows: WhatsAppFlows, account_id: str, now: float) -> list[float]:
    """The wrong-password tries recorded against the account (the account-wide lock)."""
    return flows.limiter.recent(f"password#{account_id}", flows.password_window, now)


def test_change_requires_a_whatsapp_number(flows: WhatsAppFlows, make_account: MakeAccount) -> None:
    make_account("jss-6006", whatsapp_number=None)
    with pytest.raises(ServiceError) as caught:
        flows.start("jss-6006", FlowKind.NUMBER_CHANGE)
    assert caught.value.code == "migration_required"
    assert caught.value.status == 409


def test_change_link_is_under_c(flows: WhatsAppFlows, linked_bcrypt: Account) -> None:
    started = flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    assert started.link_url.startswith("https://jss.example/c/")
    assert started.link_url in started.message
    assert "mengganti" in started.message


def test_message_from_the_current_number_fails(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry
) -> None:
    started = flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    outcome = flows.receive(message_for(started, clock, CURRENT_WA))
    assert outcome["outcome"] == FailureReason.SAME_NUMBER
    view = flows.view_link(token_of(started), FlowKind.NUMBER_CHANGE)
    assert view.status is FlowStatus.FAILED
    assert link_payload(view, token_of(started), "id")["csrf_token"] is None  # no form, no anti-forgery value
    assert 'name="csrf_token"' not in link_page(view, token_of(started), "id").body
    assert registry.get(linked_bcrypt.account_id) == linked_bcrypt


def test_message_from_a_number_of_another_account_fails(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, make_account: MakeAccount
) -> None:
    make_account("jss-2002", email="siti@example.com", whatsapp_number=NEW)
    started = flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    assert flows.receive(message_for(started, clock, NEW))["outcome"] == FailureReason.NUMBER_TAKEN


def test_message_moves_the_flow_to_awaiting_password(
    flows: WhatsAppFlows,
    linked_bcrypt: Account,
    clock: Any,
    registry: AccountRegistry,
    db: Dynamo,
    config: Settings,
    scan: Scan,
) -> None:
    started, token = awaiting_password(flows, clock, linked_bcrypt.account_id)

    account = registry.get(linked_bcrypt.account_id)
    assert account is not None
    assert account.whatsapp_number == CURRENT_WA  # nothing changes before the password
    stored_account = db.get(config.accounts_table, account_key(linked_bcrypt.account_id))
    assert stored_account is not None
    assert not {"proposed_number", "proposed_for_flow"} & set(stored_account)  # not on the account any more
    # The proposed number waits on the flow, sealed with the link token and bound to the flow.
    sealed = flow_item(db, config, started.flow_id)["proposed_sealed"]
    assert unseal(token, started.flow_id, sealed) == NEW
    assert registry.owner_of(NEW) is None
    assert flows.status(linked_bcrypt.account_id, started.flow_id, FlowKind.NUMBER_CHANGE)[1] is (
        FlowStatus.AWAITING_PASSWORD
    )
    view = flows.view_link(token, FlowKind.NUMBER_CHANGE)
    assert view.status is FlowStatus.AWAITING_PASSWORD
    assert view.tries_left == 5
    assert view.number_masked == "0812-****-7890"
    csrf = link_payload(view, token, "id")["csrf_token"]
    assert csrf.split(".")[0].isdigit()
    assert anti_forgery.is_valid(token, csrf)
    form_value = re.search(r'name="csrf_token" value="([^"]+)"', link_page(view, token, "id").body)
    assert form_value is not None
    assert anti_forgery.is_valid(token, form_value.group(1))
    assert_no_clear_number(scan, NEW, CURRENT_WA)


def test_the_proposed_number_is_nowhere_in_clear_before_the_password(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, aws: Any, scan: Scan
) -> None:
    _, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    assert tables_holding(aws, scan, NEW) == set()  # every table, the account's own item included

    assert flows.confirm_password(token, PASSWORD).view.status is FlowStatus.COMPLETED
    assert tables_holding(aws, scan, NEW) == {"AccountsTable"}  # now it is the account's number
    [holder] = [i for i in scan("AccountsTable") if NEW[3:] in json.dumps(i)]
    assert from_attributes(holder)["pk"] == account_key(linked_bcrypt.account_id)["pk"]  # the claim holds a hash


def test_view_link_on_the_password_form_never_changes_state(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, scan: Scan
) -> None:
    _, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    before = state(scan)
    for _ in range(3):
        flows.view_link(token, FlowKind.NUMBER_CHANGE)
    assert state(scan) == before


def test_right_password_changes_the_number(
    flows: WhatsAppFlows,
    linked: Account,
    clock: Any,
    registry: AccountRegistry,
    db: Dynamo,
    config: Settings,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
) -> None:
    started, token = awaiting_password(flows, clock, linked.account_id)

    result = flows.confirm_password(token, PASSWORD)

    assert result.error is None
    assert result.view.status is FlowStatus.COMPLETED
    assert result.view.success_message == CHANGE_SUCCESS
    assert flows.status(linked.account_id, started.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.COMPLETED
    account = registry.get(linked.account_id)
    assert account is not None
    assert account.whatsapp_number == NEW
    assert account.phone_number == linked.phone_number  # B1 leaves the phone number alone
    assert "proposed_sealed" not in flow_item(db, config, started.flow_id)  # the sealed proposal is gone
    stored_account = db.get(config.accounts_table, account_key(linked.account_id))
    assert stored_account is not None
    assert not {"proposed_number", "proposed_for_flow"} & set(stored_account)
    assert account.whatsapp_verified is True
    assert registry.owner_of(NEW) == linked.account_id
    assert registry.owner_of(CURRENT_WA) is None  # the old claim is released

    [audit] = audit_records(scan, linked.account_id)
    assert audit["method"] == "whatsapp_change"
    assert audit["old_number_masked"] == "0857-****-5678"
    assert audit["old_number_hash"] == number_fingerprint(CURRENT_WA)
    assert audit["new_number_hash"] == number_fingerprint(NEW)
    assert "phone_number_replaced" not in audit  # only the migration replaces the phone number
    assert not {"old_phone_masked", "old_phone_hash"} & set(audit)
    assert_no_clear_number(scan, NEW, CURRENT_WA)

    [mail] = sent_mail()
    assert mail.destinations["ToAddresses"] == ["budi@example.com"]
    assert CHANGE_SUCCESS in mail.subject
    assert "0812-****-7890" in mail.body


def test_wrong_password_says_how_many_tries_are_left(
    flows: WhatsAppFlows, linked: Account, clock: Any, registry: AccountRegistry
) -> None:
    _, token = awaiting_password(flows, clock, linked.account_id)

    result = flows.confirm_password(token, PASSWORD + "?")

    assert result.error is not None
    assert result.error.code == "wrong_password"
    assert result.error.status == 403
    assert result.error.fields["tries_left"] == 4
    assert "Sisa percobaan: 4" in result.error.detail("id")
    assert result.view.status is FlowStatus.AWAITING_PASSWORD
    assert result.view.tries_left == 4
    assert registry.get(linked.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]


def test_a_try_is_counted_on_the_flow_and_the_account_before_the_comparison(
    flows: WhatsAppFlows,
    linked_bcrypt: Account,
    clock: Any,
    db: Dynamo,
    config: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    steps: list[tuple[str, int, int]] = []

    def seen(step: str) -> None:
        attempts = int(flow_item(db, config, started.flow_id).get("password_attempts", 0))
        steps.append((step, attempts, len(password_hits(flows, linked_bcrypt.account_id, clock.now))))

    check, hit, verify = flows.limiter.check, flows.limiter.hit, password_confirmation.verify_password

    def spy_check(*args: Any) -> None:
        seen("account lock looked at")
        check(*args)

    def spy_hit(*args: Any) -> None:
        seen("account try recorded")
        hit(*args)

    def spy_verify(*args: Any) -> bool:
        seen("password compared")
        return verify(*args)

    monkeypatch.setattr(flows.limiter, "check", spy_check)
    monkeypatch.setattr(flows.limiter, "hit", spy_hit)
    monkeypatch.setattr(password_confirmation, "verify_password", spy_verify)

    assert flows.confirm_password(token, "salah").error.code == "wrong_password"  # type: ignore[union-attr]

    # (step, flow tries counted, account tries recorded) when each step began
    assert steps == [
        ("account lock looked at", 0, 0),  # look only: nothing recorded by the check
        ("account try recorded", 1, 0),  # the flow try was counted first, atomically
        ("password compared", 1, 1),  # both counted before the comparison
    ]


def test_five_wrong_passwords_lock_the_flow(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry, db: Dynamo, config: Settings
) -> None:
    started, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    codes = []
    for _ in range(5):
        codes.append(flows.confirm_password(token, "salah").error.code)  # type: ignore[union-attr]
        clock.advance(1)
    assert codes == ["wrong_password"] * 4 + ["flow_locked"]
    assert "proposed_sealed" not in flow_item(db, config, started.flow_id)  # a locked flow keeps no proposal

    # Locked for good: even the right password does nothing now.
    result = flows.confirm_password(token, PASSWORD)
    assert result.error is not None
    assert result.error.code == "flow_locked"
    assert result.error.status == 423
    assert result.view.status is FlowStatus.LOCKED
    assert flows.status(linked_bcrypt.account_id, started.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.LOCKED
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]
    assert registry.owner_of(NEW) is None


def test_a_try_while_every_try_is_still_being_compared_is_busy_and_locks_nothing(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry, db: Dynamo, config: Settings
) -> None:
    started, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    # Five parallel tries were counted and are still comparing: they may all hold the right password
    # (a citizen tapping Ubah five times). Locking now would lock out the citizen for nothing.
    db.update(config.tokens_table, flow_key(started.flow_id), "SET password_attempts = :five", five=5)

    result = flows.confirm_password(token, PASSWORD)  # even the right password is never compared

    assert result.error is not None
    assert (result.error.code, result.error.status, result.error.retry_after) == ("busy", 429, 1)
    assert result.view.status is FlowStatus.AWAITING_PASSWORD
    assert "proposed_sealed" in flow_item(db, config, started.flow_id)
    assert password_hits(flows, linked_bcrypt.account_id, clock.now) == []  # no try reached the account count
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]


def test_a_try_that_loses_the_race_to_a_completion_shows_the_done_page(
    flows: WhatsAppFlows,
    linked_bcrypt: Account,
    clock: Any,
    registry: AccountRegistry,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    check = flows.limiter.check
    parallel: list[Any] = []

    def racing_check(*args: Any) -> None:
        if not parallel:  # another request with the right password completes the flow meanwhile
            parallel.append(None)
            parallel[0] = flows.confirm_password(token, PASSWORD)
        check(*args)

    monkeypatch.setattr(flows.limiter, "check", racing_check)
    result = flows.confirm_password(token, "salah")

    assert parallel[0].view.status is FlowStatus.COMPLETED
    assert result.error is None  # not an error: the change the citizen asked for happened
    assert result.view.status is FlowStatus.COMPLETED
    assert result.view.success_message == CHANGE_SUCCESS
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == NEW  # type: ignore[union-attr]
    assert password_hits(flows, linked_bcrypt.account_id, clock.now) == []  # the late try was never counted
    assert len(audit_records(scan, linked_bcrypt.account_id)) == 1
    assert len(sent_mail()) == 1


def test_ten_wrong_passwords_across_flows_lock_password_confirmation(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry, config: Settings
) -> None:
    account_id = linked_bcrypt.account_id
    for _ in range(2):
        _, token = awaiting_password(flows, clock, account_id)
        for _ in range(5):
            flows.confirm_password(token, "salah")
            clock.advance(1)
    last_wrong_at = clock.now - 1

    _, token = awaiting_password(flows, clock, account_id)
    result = flows.confirm_password(token, PASSWORD)  # right, but too late

    assert result.error is not None
    assert result.error.code == "password_locked"
    assert result.error.status == 429
    assert result.error.retry_after == int(last_wrong_at + config.password_lock_seconds - clock.now)
    locked_until = clock.now + result.error.retry_after
    assert result.error.fields["locked_until"] == iso(locked_until)
    # Citizens read the time in Yogyakarta (WIB, UTC+7); the app gets the ISO time in UTC.
    wib = (datetime.fromtimestamp(locked_until, UTC) + timedelta(hours=7)).strftime("%H:%M WIB")
    assert result.error.fields["text_locked_until"] == wib == wib_time(locked_until)
    assert re.fullmatch(r"\d{2}:\d{2} WIB", wib)
    assert f"dikunci sampai pukul {wib}." in result.error.detail("id")
    assert result.error.fields["locked_until"] not in result.error.detail("id")
    assert result.error.public_fields() == {"locked_until": iso(locked_until), "retry_after": result.error.retry_after}
    assert result.view.status is FlowStatus.AWAITING_PASSWORD
    assert result.view.tries_left == 5  # the refused try was not counted against this flow
    assert len(password_hits(flows, account_id, clock.now)) == 10  # nor recorded: the lock was only looked at
    assert registry.get(account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]

    # After the lock, a new flow with the right password goes through.
    clock.advance(result.error.retry_after)
    _, token = awaiting_password(flows, clock, account_id)
    assert flows.confirm_password(token, PASSWORD).view.status is FlowStatus.COMPLETED
    assert registry.get(account_id).whatsapp_number == NEW  # type: ignore[union-attr]


def test_right_password_clears_the_account_wide_count(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: Any
) -> None:
    make_account("jss-7007", password=PASSWORD, whatsapp_number=CURRENT_WA)
    _, token = awaiting_password(flows, clock, "jss-7007")
    for _ in range(5):
        flows.confirm_password(token, "salah")
    _, token = awaiting_password(flows, clock, "jss-7007", sender=NEW)
    for _ in range(4):
        flows.confirm_password(token, "salah")  # nine wrong in all
    assert flows.confirm_password(token, PASSWORD).view.status is FlowStatus.COMPLETED

    # Changing back later: one wrong try is an ordinary wrong password, not a lock.
    _, token = awaiting_password(flows, clock, "jss-7007", sender=CURRENT_WA)
    result = flows.confirm_password(token, "salah")
    assert result.error is not None
    assert result.error.code == "wrong_password"


def test_wrong_passwords_of_another_account_do_not_count(
    flows: WhatsAppFlows, make_account: MakeAccount, linked_bcrypt: Account, clock: Any
) -> None:
    make_account("jss-8008", password="lain", email="lain@example.com", whatsapp_number="+6281311112222")
    for _ in range(2):
        _, token = awaiting_password(flows, clock, "jss-8008", sender="+6281311113333")
        for _ in range(5):
            flows.confirm_password(token, "salah")
    _, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    assert flows.confirm_password(token, PASSWORD).error is None


def test_another_links_token_cannot_unseal_the_proposal(
    flows: WhatsAppFlows, make_account: MakeAccount, linked_bcrypt: Account, clock: Any, db: Dynamo, config: Settings
) -> None:
    make_account("jss-8008", password="lain", email="lain@example.com", whatsapp_number="+6281311112222")
    other, other_token = awaiting_password(flows, clock, "jss-8008", sender="+6281311113333")
    mine, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    sealed = flow_item(db, config, mine.flow_id)["proposed_sealed"]
    assert unseal(token, mine.flow_id, sealed) == NEW
    assert unseal(other_token, mine.flow_id, sealed) is None
    assert unseal(token, other.flow_id, sealed) is None  # not movable to another flow


def test_a_proposal_that_cannot_be_unsealed_fails_the_flow(
    flows: WhatsAppFlows,
    linked_bcrypt: Account,
    clock: Any,
    registry: AccountRegistry,
    db: Dynamo,
    config: Settings,
) -> None:
    started, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    sealed = flow_item(db, config, started.flow_id)["proposed_sealed"]
    damaged = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    db.update(config.tokens_table, flow_key(started.flow_id), "SET proposed_sealed = :damaged", damaged=damaged)

    result = flows.confirm_password(token, PASSWORD)

    assert result.view.status is FlowStatus.FAILED
    assert result.view.reason == FailureReason.PROPOSAL_UNREADABLE
    assert "proposed_sealed" not in flow_item(db, config, started.flow_id)
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]
    assert registry.owner_of(CURRENT_WA) == linked_bcrypt.account_id


def test_password_on_a_pending_flow_changes_nothing(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry
) -> None:
    started = flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    result = flows.confirm_password(token_of(started), PASSWORD)
    assert result.error is not None
    assert result.error.code == "flow_awaiting_message"
    assert result.error.status == 409
    assert result.view.status is FlowStatus.PENDING
    assert link_payload(result.view, token_of(started), "id")["csrf_token"] is None  # no form yet
    assert password_hits(flows, linked_bcrypt.account_id, clock.now) == []
    assert registry.get(linked_bcrypt.account_id) == linked_bcrypt


def test_confirm_with_a_migration_link_is_link_not_found(
    flows: WhatsAppFlows, citizen: Account, linked_bcrypt: Account, clock: Any
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    with pytest.raises(ServiceError) as caught:
        flows.confirm_password(token_of(started), PASSWORD)
    assert caught.value.code == "link_not_found"


def test_confirm_after_expiry_is_link_not_found(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, config: Settings, registry: AccountRegistry
) -> None:
    started, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    clock.now = started.expires_at
    with pytest.raises(ServiceError) as caught:
        flows.confirm_password(token, PASSWORD)
    assert caught.value.code == "link_not_found"
    assert flows.status(linked_bcrypt.account_id, started.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.EXPIRED
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]


def test_second_confirmation_changes_nothing_more(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, scan: Scan, sent_mail: Callable[[], list[Any]]
) -> None:
    _, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    assert flows.confirm_password(token, PASSWORD).view.status is FlowStatus.COMPLETED
    again = flows.confirm_password(token, "salah")
    assert again.error is None
    assert again.view.status is FlowStatus.COMPLETED
    assert len(audit_records(scan, linked_bcrypt.account_id)) == 1
    assert len(sent_mail()) == 1


def test_number_verified_elsewhere_before_the_password_fails_the_flow(
    flows: WhatsAppFlows,
    linked_bcrypt: Account,
    clock: Any,
    registry: AccountRegistry,
    db: Dynamo,
    config: Settings,
    sent_mail: Callable[[], list[Any]],
) -> None:
    started, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    registry.save(Account("jss-9009", email="x@example.com", whatsapp_number=NEW, whatsapp_verified_via="whatsapp"))

    result = flows.confirm_password(token, PASSWORD)

    assert result.view.status is FlowStatus.FAILED
    assert result.view.reason == FailureReason.NUMBER_TAKEN
    assert "proposed_sealed" not in flow_item(db, config, started.flow_id)
    assert registry.owner_of(NEW) == "jss-9009"
    assert registry.owner_of(CURRENT_WA) == linked_bcrypt.account_id
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]
    assert sent_mail() == []


def test_replacing_an_awaiting_change_invalidates_its_form(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry
) -> None:
    first, token = awaiting_password(flows, clock, linked_bcrypt.account_id)
    second = flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    with pytest.raises(ServiceError) as caught:
        flows.confirm_password(token, PASSWORD)
    assert caught.value.code == "link_not_found"
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]
    assert flows.status(linked_bcrypt.account_id, first.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.FAILED
    assert flows.status(linked_bcrypt.account_id, second.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.PENDING


def test_replacing_an_awaiting_change_removes_its_sealed_proposal(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, db: Dynamo, config: Settings
) -> None:
    first, _ = awaiting_password(flows, clock, linked_bcrypt.account_id)
    flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    replaced = flow_item(db, config, first.flow_id)
    assert replaced["reason"] == FailureReason.REPLACED
    assert "proposed_sealed" not in replaced


def test_public_base_url_trailing_slash_is_ignored(
    monkeypatch: pytest.MonkeyPatch, db: Dynamo, mailer: Mailer, citizen: Account, clock: Any
) -> None:
    from shared.config import settings

    monkeypatch.setenv("PUBLIC_BASE_URL", "https://jss.example/")
    settings.cache_clear()
    started = WhatsAppFlows(db, settings(), mailer, clock=clock).start(citizen.account_id, FlowKind.MIGRATION)
    assert started.link_url.startswith("https://jss.example/m/")
    assert "//m/" not in started.link_url
