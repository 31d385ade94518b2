"""Proof beats a claim: a number set with an email code (B2) or recorded by JSS is held unverified,
and WhatsApp proof (A, B1) takes it over; a verified number is never taken, and B2 takes nothing.

The attack this closes: through B2 any account with an email could set another citizen's phone as
its WhatsApp number, and from then on that citizen's own journey A from that very phone failed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.dynamo import Dynamo, Transaction, from_attributes
from shared.adapters.keys import number_fingerprint
from shared.adapters.mail import Mailer
from shared.config import Settings
from shared.domain.accounts import Account, AccountRegistry, ChangeMethod
from shared.domain.email_change import EmailNumberChange
from shared.domain.flows import FailureReason, FlowKind, FlowStatus
from shared.domain.number_change import NumberChanges
from shared.domain.whatsapp_flows import WhatsAppFlows
from shared.errors import ServiceError
from tests.unit.test_flows import PASSWORD, awaiting_password, message_for

PHONE = "+6281234567890"  # the victim's phone, from which WhatsApp delivers
OTHER = "+6281398765432"
CITY = "+6281100000000"

Scan = Callable[[str], list[dict[str, Any]]]
MakeAccount = Callable[..., Account]


def audit(scan: Scan, account_id: str) -> list[dict[str, Any]]:
    records = [from_attributes(i) for i in scan("AuditTable")]
    return sorted((r for r in records if r["account_id"] == account_id), key=lambda r: r["event"])


def outbox(scan: Scan) -> list[dict[str, Any]]:
    return [from_attributes(i) for i in scan("OutboxTable")]


@pytest.fixture
def squatter(make_account: MakeAccount) -> Account:
    """An account that set the victim's phone as its WhatsApp number with an email code (B2)."""
    return make_account("jss-6666", email="squatter@example.com", whatsapp_number=PHONE, whatsapp_verified_via="email")


@pytest.fixture
def victim(make_account: MakeAccount) -> Account:
    return make_account("jss-1001", email="budi@example.com", phone_number=PHONE, whatsapp_number=None)


def test_journey_a_from_the_phone_takes_the_number_over_from_an_email_claim(
    flows: WhatsAppFlows,
    victim: Account,
    squatter: Account,
    clock: Any,
    registry: AccountRegistry,
    scan: Scan,
    sent_mail: Callable[[], list[Any]],
) -> None:
    started = flows.start(victim.account_id, FlowKind.MIGRATION)

    assert flows.receive(message_for(started, clock, PHONE))["outcome"] == "completed"

    taker, displaced = registry.get(victim.account_id), registry.get(squatter.account_id)
    assert (taker.whatsapp_number, taker.whatsapp_verified) == (PHONE, True)  # type: ignore[union-attr]
    assert displaced.whatsapp_number is None  # type: ignore[union-attr]
    assert displaced.whatsapp_verified_via is None  # type: ignore[union-attr]
    assert displaced.version == squatter.version + 1  # type: ignore[union-attr]
    assert registry.owner_of(PHONE) == victim.account_id
    [record] = audit(scan, squatter.account_id)
    assert record["method"] == ChangeMethod.TAKEN_OVER_BY_WHATSAPP_PROOF
    assert record["old_number_hash"] == number_fingerprint(PHONE)
    assert record["flow_id"] == started.flow_id
    assert "new_number_hash" not in record
    assert len(audit(scan, victim.account_id)) == 1
    events = {item["detail_type"]: json.loads(item["event"]) for item in outbox(scan)}
    assert events["WhatsAppNumberRemoved"]["account_id"] == squatter.account_id
    assert events["WhatsAppNumberRemoved"]["reason"] == "proven_by_another_account"
    assert events["WhatsAppNumberChanged"]["account_id"] == victim.account_id
    notices = {m.destinations["ToAddresses"][0]: m for m in sent_mail()}
    assert "dilepas" in notices["squatter@example.com"].subject
    assert "Migrasi ke WhatsApp" in notices["squatter@example.com"].body
    assert PHONE not in notices["squatter@example.com"].body  # masked, like every notice
    assert "budi@example.com" in notices


@pytest.mark.parametrize("held_via", ["email", "jss"])
def test_journey_b1_takes_an_unverified_number_over_after_the_password(
    flows: WhatsAppFlows,
    make_account: MakeAccount,
    clock: Any,
    registry: AccountRegistry,
    scan: Scan,
    held_via: str,
) -> None:
    citizen = make_account("jss-5005", password=PASSWORD, whatsapp_number=OTHER)
    holder = make_account("jss-7007", email=None, whatsapp_number=PHONE, whatsapp_verified_via=held_via)
    _, token = awaiting_password(flows, clock, citizen.account_id, sender=PHONE)

    result = flows.confirm_password(token, PASSWORD)

    assert result.view.status is FlowStatus.COMPLETED
    assert registry.get(citizen.account_id).whatsapp_number == PHONE  # type: ignore[union-attr]
    assert registry.get(holder.account_id).whatsapp_number is None  # type: ignore[union-attr]
    assert registry.owner_of(PHONE) == citizen.account_id
    assert registry.owner_of(OTHER) is None  # the citizen's old number is released as always


def test_a_verified_holder_is_never_displaced(
    flows: WhatsAppFlows, victim: Account, make_account: MakeAccount, clock: Any, registry: AccountRegistry, scan: Scan
) -> None:
    holder = make_account("jss-2002", whatsapp_number=PHONE, whatsapp_verified_via="whatsapp")
    started = flows.start(victim.account_id, FlowKind.MIGRATION)

    assert flows.receive(message_for(started, clock, PHONE))["outcome"] == FailureReason.NUMBER_TAKEN

    assert registry.get(holder.account_id) == holder
    assert registry.owner_of(PHONE) == holder.account_id
    assert audit(scan, holder.account_id) == []


def test_b1_refuses_a_verified_number_before_asking_for_the_password(
    flows: WhatsAppFlows, make_account: MakeAccount, clock: Any
) -> None:
    citizen = make_account("jss-5005", password=PASSWORD, whatsapp_number=OTHER)
    make_account("jss-2002", whatsapp_number=PHONE, whatsapp_verified_via="whatsapp")
    started = flows.start(citizen.account_id, FlowKind.NUMBER_CHANGE)

    assert flows.receive(message_for(started, clock, PHONE))["outcome"] == FailureReason.NUMBER_TAKEN


def test_a_claim_whose_account_does_not_show_the_number_is_not_taken(
    flows: WhatsAppFlows, victim: Account, db: Dynamo, config: Settings, clock: Any, registry: AccountRegistry
) -> None:
    # What an import leaves for a moment: the claim first, the account right after.
    db.put(config.accounts_table, {"pk": f"NUMBER#{number_fingerprint(PHONE)}", "account_id": "jss-importing"})
    started = flows.start(victim.account_id, FlowKind.MIGRATION)

    assert flows.receive(message_for(started, clock, PHONE))["outcome"] == FailureReason.NUMBER_TAKEN
    assert registry.owner_of(PHONE) == "jss-importing"


def test_a_holder_that_lets_go_meanwhile_is_not_touched(
    registry: AccountRegistry, squatter: Account, victim: Account, scan: Scan
) -> None:
    changes = NumberChanges(registry)
    attempts: list[int] = []

    def check(_: Account) -> None:
        attempts.append(1)
        if len(attempts) == 2:  # the takeover is planned: now the squatter moves to another number
            changes.commit(
                squatter.account_id,
                OTHER,
                ChangeMethod.EMAIL_CHANGE,
                "verification-1",
                clock=lambda: 1_750_000_000.0,
                check=lambda _: None,
                stage=lambda _tx, _now: None,
            )

    def stage(_tx: Transaction, _now: int) -> None:
        return None

    done = changes.commit(
        victim.account_id,
        PHONE,
        ChangeMethod.WHATSAPP_MIGRATION,
        "flow-1",
        clock=lambda: 1_750_000_001.0,
        check=check,
        stage=stage,
    )

    assert done.displaced is None  # the number was free by then: nothing was taken from anyone
    assert registry.get(squatter.account_id).whatsapp_number == OTHER  # type: ignore[union-attr]
    assert registry.owner_of(PHONE) == victim.account_id
    assert [r["method"] for r in audit(scan, squatter.account_id)] == [ChangeMethod.EMAIL_CHANGE]


# ----------------------------------------------------------------- B2 takes nothing


@pytest.fixture
def email_change(db: Dynamo, config: Settings, mailer: Mailer, clock: Any) -> EmailNumberChange:
    return EmailNumberChange(db, config, mailer, clock=clock)


def change_token(service: EmailNumberChange, account_id: str, sent_mail: Callable[[], list[Any]]) -> str:
    sent = service.send_code(account_id)
    code = re.findall(r"\b\d{6}\b", sent_mail()[-1].body)[0]
    return service.verify_code(account_id, sent.verification_id, code).change_token


@pytest.mark.parametrize(
    ("number", "held_via", "code"),
    [
        (PHONE, "whatsapp", "whatsapp_number_taken"),  # verified on another account
        (PHONE, "email", "whatsapp_number_taken"),  # held unverified elsewhere: B2 proves nothing
        (CITY, None, "whatsapp_number_is_city"),  # the city's own WhatsApp Business number
        (OTHER, None, "whatsapp_number_unchanged"),  # the number the account holds already
    ],
)
def test_b2_refuses_numbers_it_must_not_set(
    email_change: EmailNumberChange,
    make_account: MakeAccount,
    registry: AccountRegistry,
    sent_mail: Callable[[], list[Any]],
    number: str,
    held_via: str | None,
    code: str,
) -> None:
    citizen = make_account("jss-5005", email="budi@example.com", whatsapp_number=OTHER)
    if held_via:
        make_account("jss-2002", email=None, whatsapp_number=PHONE, whatsapp_verified_via=held_via)
    token = change_token(email_change, citizen.account_id, sent_mail)

    with pytest.raises(ServiceError) as refused:
        email_change.change_number(citizen.account_id, token, number)

    assert refused.value.code == code
    assert refused.value.status < 500
    assert registry.get(citizen.account_id).whatsapp_number == OTHER  # type: ignore[union-attr]
    # The refusal did not use the permission up: the citizen can type another number.
    updated = email_change.change_number(citizen.account_id, token, "0811-2233-4455")
    assert updated.whatsapp_number == "+6281122334455"


def test_a_holder_recorded_without_any_proof_attribute_is_taken_over(
    flows: WhatsAppFlows, victim: Account, registry: AccountRegistry, db: Dynamo, config: Settings, clock: Any
) -> None:
    # An account item with the number but no whatsapp_verified_via at all (written before the attribute).
    holder = {"pk": "ACCOUNT#jss-7777", "account_id": "jss-7777", "whatsapp_number": PHONE, "version": 3}
    db.put(config.accounts_table, holder)
    db.put(config.accounts_table, {"pk": f"NUMBER#{number_fingerprint(PHONE)}", "account_id": "jss-7777"})
    started = flows.start(victim.account_id, FlowKind.MIGRATION)

    assert flows.receive(message_for(started, clock, PHONE))["outcome"] == "completed"
    assert registry.get("jss-7777").whatsapp_number is None  # type: ignore[union-attr]
    assert registry.owner_of(PHONE) == victim.account_id


@pytest.mark.parametrize("spelled", ["+6281100000000", "6281100000000", " +6281100000000 "])
def test_the_city_number_is_e164_however_the_setting_spells_it(spelled: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_BUSINESS_NUMBER", spelled)
    assert Settings.from_environment().whatsapp_business_number == CITY
