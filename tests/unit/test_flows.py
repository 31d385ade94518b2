"""Journeys A (migration) and B1 (number change) on moto, with a fake clock and moto's SES."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.accounts import Account, AccountRegistry
from shared.clock import iso
from shared.config import Settings
from shared.dynamo import Dynamo, from_attributes
from shared.errors import ServiceError
from shared.flows import (
    CHANGE_SUCCESS,
    MIGRATION_SUCCESS,
    FailureReason,
    FlowKind,
    FlowStatus,
    InboundMessage,
    StartedFlow,
    WhatsAppFlows,
)
from shared.keys import keyed_hash
from shared.notifications import Mailer

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
    assert account.whatsapp_updated_at == int(clock.now)
    assert account.number_version == 1
    assert registry.owner_of(SENDER) == citizen.account_id

    flow, status = flows.status(citizen.account_id, started.flow_id, FlowKind.MIGRATION)
    assert status is FlowStatus.COMPLETED
    assert flow.number_masked == "+62 812-****-*890"

    [audit] = audit_records(scan, citizen.account_id)
    assert audit["method"] == "whatsapp_migration"
    assert audit["flow_id"] == started.flow_id
    assert audit["new_number_masked"] == "+62 812-****-*890"
    assert audit["new_number_hash"] == keyed_hash("number", SENDER)
    assert audit["phone_number_replaced"] is True
    assert "old_number_hash" not in audit  # there was no WhatsApp number before
    assert_no_clear_number(scan, SENDER, OLD_PHONE)

    [mail] = sent_mail()
    assert mail.destinations["ToAddresses"] == ["budi@example.com"]
    assert mail.source == "no-reply@jss.example"
    assert MIGRATION_SUCCESS in mail.subject
    assert "+62 812-****-*890" in mail.body
    assert SENDER[3:] not in mail.body
    assert "(diubah pada 15-06-2025 22:07 WIB)" in mail.body  # the fake clock's time, in Yogyakarta


def test_link_shows_the_result_after_completion(flows: WhatsAppFlows, citizen: Account, clock: Any) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    flows.receive(message_for(started, clock))

    view = flows.view_link(token_of(started), FlowKind.MIGRATION)

    assert view.status is FlowStatus.COMPLETED
    assert view.success_message == MIGRATION_SUCCESS
    assert view.number_masked == "+62 812-****-*890"
    assert view.account_masked == "b***i@example.com"
    assert view.csrf_token is None


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
    assert flow.number_masked == "+62 812-****-*890"
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
    make_account("jss-3003", email=None)
    started = flows.start("jss-3003", FlowKind.MIGRATION)
    assert flows.receive(message_for(started, clock))["outcome"] == "completed"
    assert sent_mail() == []
    assert flows.view_link(token_of(started), FlowKind.MIGRATION).account_masked == "js***03"


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
    assert str(error.retry_after) in error.detail("id")
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


def awaiting_password(
    flows: WhatsAppFlows, clock: Any, account_id: str, sender: str = NEW
) -> tuple[StartedFlow, str, str]:
    """Starts B1 and delivers the message: the flow waits for the password. Returns the csrf token."""
    started = flows.start(account_id, FlowKind.NUMBER_CHANGE)
    clock.advance(5)
    assert flows.receive(message_for(started, clock, sender))["outcome"] == "awaiting_password"
    clock.advance(5)
    view = flows.view_link(token_of(started), FlowKind.NUMBER_CHANGE)
    assert view.csrf_token
    return started, token_of(started), view.csrf_token


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
    assert view.csrf_token is None
    assert registry.get(linked_bcrypt.account_id) == linked_bcrypt


def test_message_from_a_number_of_another_account_fails(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, make_account: MakeAccount
) -> None:
    make_account("jss-2002", email="siti@example.com", whatsapp_number=NEW)
    started = flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    assert flows.receive(message_for(started, clock, NEW))["outcome"] == FailureReason.NUMBER_TAKEN


def test_message_moves_the_flow_to_awaiting_password(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry, scan: Scan
) -> None:
    started, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)

    account = registry.get(linked_bcrypt.account_id)
    assert account is not None
    assert account.whatsapp_number == CURRENT_WA  # nothing changes before the password
    assert account.proposed_number == NEW
    assert account.proposed_for_flow == started.flow_id
    assert registry.owner_of(NEW) is None
    assert flows.status(linked_bcrypt.account_id, started.flow_id, FlowKind.NUMBER_CHANGE)[1] is (
        FlowStatus.AWAITING_PASSWORD
    )
    view = flows.view_link(token, FlowKind.NUMBER_CHANGE)
    assert view.status is FlowStatus.AWAITING_PASSWORD
    assert view.tries_left == 5
    assert view.number_masked == "+62 812-****-*890"
    assert csrf.split(".")[0].isdigit()
    assert_no_clear_number(scan, NEW, CURRENT_WA)


def test_view_link_on_the_password_form_never_changes_state(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, scan: Scan
) -> None:
    _, token, _ = awaiting_password(flows, clock, linked_bcrypt.account_id)
    before = state(scan)
    for _ in range(3):
        flows.view_link(token, FlowKind.NUMBER_CHANGE)
    assert state(scan) == before


def test_right_password_changes_the_number(
    flows: WhatsAppFlows,
    linked: Account,
    clock: Any,
    registry: AccountRegistry,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
) -> None:
    started, token, csrf = awaiting_password(flows, clock, linked.account_id)

    result = flows.confirm_password(token, PASSWORD, csrf)

    assert result.error is None
    assert result.view.status is FlowStatus.COMPLETED
    assert result.view.success_message == CHANGE_SUCCESS
    assert flows.status(linked.account_id, started.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.COMPLETED
    account = registry.get(linked.account_id)
    assert account is not None
    assert account.whatsapp_number == NEW
    assert account.phone_number == linked.phone_number  # B1 leaves the phone number alone
    assert account.proposed_number is None
    assert account.proposed_for_flow is None
    assert account.whatsapp_verified is True
    assert registry.owner_of(NEW) == linked.account_id
    assert registry.owner_of(CURRENT_WA) is None  # the old claim is released

    [audit] = audit_records(scan, linked.account_id)
    assert audit["method"] == "whatsapp_change"
    assert audit["old_number_masked"] == "+62 857-****-*678"
    assert audit["old_number_hash"] == keyed_hash("number", CURRENT_WA)
    assert audit["new_number_hash"] == keyed_hash("number", NEW)
    assert audit["phone_number_replaced"] is False
    assert_no_clear_number(scan, NEW, CURRENT_WA)

    [mail] = sent_mail()
    assert mail.destinations["ToAddresses"] == ["budi@example.com"]
    assert CHANGE_SUCCESS in mail.subject
    assert "+62 812-****-*890" in mail.body


def test_wrong_password_says_how_many_tries_are_left(
    flows: WhatsAppFlows, linked: Account, clock: Any, registry: AccountRegistry
) -> None:
    _, token, csrf = awaiting_password(flows, clock, linked.account_id)

    result = flows.confirm_password(token, PASSWORD + "?", csrf)

    assert result.error is not None
    assert result.error.code == "wrong_password"
    assert result.error.status == 403
    assert result.error.fields["tries_left"] == 4
    assert "Sisa percobaan: 4" in result.error.detail("id")
    assert result.view.status is FlowStatus.AWAITING_PASSWORD
    assert result.view.tries_left == 4
    assert registry.get(linked.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]


def test_five_wrong_passwords_lock_the_flow(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry
) -> None:
    started, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)
    codes = []
    for _ in range(5):
        codes.append(flows.confirm_password(token, "salah", csrf).error.code)  # type: ignore[union-attr]
        clock.advance(1)
    assert codes == ["wrong_password"] * 4 + ["flow_locked"]

    # Locked for good: even the right password does nothing now.
    result = flows.confirm_password(token, PASSWORD, csrf)
    assert result.error is not None
    assert result.error.code == "flow_locked"
    assert result.error.status == 423
    assert result.view.status is FlowStatus.LOCKED
    assert flows.status(linked_bcrypt.account_id, started.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.LOCKED
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]
    assert registry.owner_of(NEW) is None


def test_ten_wrong_passwords_across_flows_lock_password_confirmation(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry, config: Settings
) -> None:
    account_id = linked_bcrypt.account_id
    for _ in range(2):
        _, token, csrf = awaiting_password(flows, clock, account_id)
        for _ in range(5):
            flows.confirm_password(token, "salah", csrf)
            clock.advance(1)
    last_wrong_at = clock.now - 1

    _, token, csrf = awaiting_password(flows, clock, account_id)
    result = flows.confirm_password(token, PASSWORD, csrf)  # right, but too late

    assert result.error is not None
    assert result.error.code == "password_locked"
    assert result.error.status == 429
    assert result.error.retry_after == int(last_wrong_at + config.password_lock_seconds - clock.now)
    assert result.error.fields["locked_until"] == iso(clock.now + result.error.retry_after)
    assert result.error.fields["locked_until"] in result.error.detail("id")
    assert result.view.status is FlowStatus.AWAITING_PASSWORD
    assert result.view.tries_left == 5  # the refused try was not counted against this flow
    assert registry.get(account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]

    # After the lock, a new flow with the right password goes through.
    clock.advance(result.error.retry_after)
    _, token, csrf = awaiting_password(flows, clock, account_id)
    assert flows.confirm_password(token, PASSWORD, csrf).view.status is FlowStatus.COMPLETED
    assert registry.get(account_id).whatsapp_number == NEW  # type: ignore[union-attr]


def test_right_password_clears_the_account_wide_count(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: Any
) -> None:
    make_account("jss-7007", password=PASSWORD, whatsapp_number=CURRENT_WA)
    _, token, csrf = awaiting_password(flows, clock, "jss-7007")
    for _ in range(5):
        flows.confirm_password(token, "salah", csrf)
    _, token, csrf = awaiting_password(flows, clock, "jss-7007", sender=NEW)
    for _ in range(4):
        flows.confirm_password(token, "salah", csrf)  # nine wrong in all
    assert flows.confirm_password(token, PASSWORD, csrf).view.status is FlowStatus.COMPLETED

    # Changing back later: one wrong try is an ordinary wrong password, not a lock.
    _, token, csrf = awaiting_password(flows, clock, "jss-7007", sender=CURRENT_WA)
    result = flows.confirm_password(token, "salah", csrf)
    assert result.error is not None
    assert result.error.code == "wrong_password"


def test_wrong_passwords_of_another_account_do_not_count(
    flows: WhatsAppFlows, make_account: MakeAccount, linked_bcrypt: Account, clock: Any
) -> None:
    make_account("jss-8008", password="lain", email="lain@example.com", whatsapp_number="+6281311112222")
    for _ in range(2):
        _, token, csrf = awaiting_password(flows, clock, "jss-8008", sender="+6281311113333")
        for _ in range(5):
            flows.confirm_password(token, "salah", csrf)
    _, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)
    assert flows.confirm_password(token, PASSWORD, csrf).error is None


@pytest.mark.parametrize(
    "csrf",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("garbage", id="garbage"),
        pytest.param("1750000000", id="timestamp-only"),
        pytest.param("1750000010." + "0" * 64, id="wrong-signature"),
        pytest.param("-1.abc", id="negative"),
    ],
)
def test_confirm_without_a_valid_csrf_token_is_refused(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry, csrf: str | None
) -> None:
    _, token, _ = awaiting_password(flows, clock, linked_bcrypt.account_id)

    result = flows.confirm_password(token, PASSWORD, csrf)

    assert result.error is not None
    assert result.error.code == "forgery_check_failed"
    assert result.error.status == 403
    assert result.view.tries_left == 5  # not counted as a password try
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]


def test_tampered_or_foreign_csrf_token_is_refused(
    flows: WhatsAppFlows, linked_bcrypt: Account, make_account: MakeAccount, clock: Any
) -> None:
    make_account("jss-8008", password="lain", email="lain@example.com", whatsapp_number="+6281311112222")
    _, other_token, other_csrf = awaiting_password(flows, clock, "jss-8008", sender="+6281311113333")
    _, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)

    issued, _, signature = csrf.partition(".")
    forged = [
        other_csrf,  # issued for another link
        f"{int(issued) + 1}.{signature}",  # another time with the same signature
        f"{issued}.{signature[:-1]}{'0' if signature[-1] != '0' else '1'}",
        f"{issued}.{signature.upper()}",
    ]
    for candidate in forged:
        result = flows.confirm_password(token, PASSWORD, candidate)
        assert result.error is not None, candidate
        assert result.error.code == "forgery_check_failed"
    assert flows.confirm_password(token, PASSWORD, csrf).view.status is FlowStatus.COMPLETED
    assert flows.view_link(other_token, FlowKind.NUMBER_CHANGE).status is FlowStatus.AWAITING_PASSWORD


@pytest.mark.parametrize(
    "suffix",
    [pytest.param(".é", id="non-ascii-signature"), pytest.param("²", id="superscript-digit")],
)
def test_non_ascii_csrf_token_is_a_forgery_not_a_crash(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, suffix: str
) -> None:
    _, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)
    candidate = csrf.partition(".")[0] + suffix if suffix.startswith(".") else suffix + ".x"
    result = flows.confirm_password(token, PASSWORD, candidate)
    assert result.error is not None
    assert result.error.code == "forgery_check_failed"


def test_password_on_a_pending_flow_changes_nothing(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry
) -> None:
    started = flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    result = flows.confirm_password(token_of(started), PASSWORD, None)
    assert result.error is not None
    assert result.view.status is FlowStatus.PENDING
    assert result.view.csrf_token is None
    assert registry.get(linked_bcrypt.account_id) == linked_bcrypt


def test_confirm_with_a_migration_link_is_link_not_found(
    flows: WhatsAppFlows, citizen: Account, linked_bcrypt: Account, clock: Any
) -> None:
    started = flows.start(citizen.account_id, FlowKind.MIGRATION)
    with pytest.raises(ServiceError) as caught:
        flows.confirm_password(token_of(started), PASSWORD, "1.x")
    assert caught.value.code == "link_not_found"


def test_confirm_after_expiry_is_link_not_found(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, config: Settings, registry: AccountRegistry
) -> None:
    started, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)
    clock.now = started.expires_at
    with pytest.raises(ServiceError) as caught:
        flows.confirm_password(token, PASSWORD, csrf)
    assert caught.value.code == "link_not_found"
    assert flows.status(linked_bcrypt.account_id, started.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.EXPIRED
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]


def test_second_confirmation_changes_nothing_more(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, scan: Scan, sent_mail: Callable[[], list[Any]]
) -> None:
    _, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)
    assert flows.confirm_password(token, PASSWORD, csrf).view.status is FlowStatus.COMPLETED
    again = flows.confirm_password(token, "salah", csrf)
    assert again.error is None
    assert again.view.status is FlowStatus.COMPLETED
    assert len(audit_records(scan, linked_bcrypt.account_id)) == 1
    assert len(sent_mail()) == 1


def test_number_claimed_elsewhere_before_the_password_fails_the_flow(
    flows: WhatsAppFlows,
    linked_bcrypt: Account,
    clock: Any,
    registry: AccountRegistry,
    sent_mail: Callable[[], list[Any]],
) -> None:
    _, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)
    registry.save(Account("jss-9009", email="x@example.com", whatsapp_number=NEW))

    result = flows.confirm_password(token, PASSWORD, csrf)

    assert result.view.status is FlowStatus.FAILED
    assert result.view.reason == FailureReason.NUMBER_TAKEN
    assert registry.owner_of(NEW) == "jss-9009"
    assert registry.owner_of(CURRENT_WA) == linked_bcrypt.account_id
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]
    assert sent_mail() == []


def test_replacing_an_awaiting_change_invalidates_its_form(
    flows: WhatsAppFlows, linked_bcrypt: Account, clock: Any, registry: AccountRegistry
) -> None:
    first, token, csrf = awaiting_password(flows, clock, linked_bcrypt.account_id)
    second = flows.start(linked_bcrypt.account_id, FlowKind.NUMBER_CHANGE)
    with pytest.raises(ServiceError) as caught:
        flows.confirm_password(token, PASSWORD, csrf)
    assert caught.value.code == "link_not_found"
    assert registry.get(linked_bcrypt.account_id).whatsapp_number == CURRENT_WA  # type: ignore[union-attr]
    assert flows.status(linked_bcrypt.account_id, first.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.FAILED
    assert flows.status(linked_bcrypt.account_id, second.flow_id, FlowKind.NUMBER_CHANGE)[1] is FlowStatus.PENDING


def test_public_base_url_trailing_slash_is_ignored(
    monkeypatch: pytest.MonkeyPatch, db: Dynamo, mailer: Mailer, citizen: Account, clock: Any
) -> None:
    from shared.config import settings

    monkeypatch.setenv("PUBLIC_BASE_URL", "https://jss.example/")
    settings.cache_clear()
    started = WhatsAppFlows(db, settings(), mailer, clock=clock).start(citizen.account_id, FlowKind.MIGRATION)
    assert started.link_url.startswith("https://jss.example/m/")
    assert "//m/" not in started.link_url
