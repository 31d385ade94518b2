"""The account registry on moto: number fingerprints, and NumberChanges.commit, the one place a number
change is committed (all journeys go through it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction, from_attributes
from shared.adapters.keys import MissingSecretError, keyed_hash, number_fingerprint
from shared.config import Settings
from shared.domain.accounts import Account, AccountRegistry, ChangeMethod, account_key, number_claim_key
from shared.domain.number_change import NumberChanges
from shared.errors import ServiceError

OLD = "+6285712345678"
NEW = "+6281234567890"
PHONE = "+6281298765432"
NOW = 1_750_000_000

Scan = Callable[[str], list[dict[str, Any]]]
MakeAccount = Callable[..., Account]


def audit_records(scan: Scan) -> list[dict[str, Any]]:
    return [from_attributes(item) for item in scan("AuditTable")]


# ----------------------------------------------------------------- number fingerprints


def test_the_fingerprint_uses_its_own_key_not_the_token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    fingerprint = number_fingerprint(NEW)
    assert fingerprint != keyed_hash("number", NEW)
    monkeypatch.setenv("TOKEN_HMAC_KEY", "rotated-token-key")  # rotating the token key ...
    assert number_fingerprint(NEW) == fingerprint  # ... leaves fingerprints alone
    monkeypatch.setenv("NUMBER_HASH_KEY", "another-number-key")
    assert number_fingerprint(NEW) != fingerprint


def test_the_fingerprint_tells_numbers_apart() -> None:
    assert number_fingerprint(NEW) == number_fingerprint(NEW)
    assert number_fingerprint(NEW) != number_fingerprint(OLD)
    assert len(number_fingerprint(NEW)) == 64
    assert NEW[1:] not in number_fingerprint(NEW)


def test_the_number_key_must_be_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBER_HASH_KEY")
    with pytest.raises(MissingSecretError):
        number_fingerprint(NEW)


def test_claims_survive_a_rotation_of_the_token_key(
    make_account: MakeAccount, registry: AccountRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_account("jss-1001", whatsapp_number=NEW)
    assert number_claim_key(NEW) == {"pk": f"NUMBER#{number_fingerprint(NEW)}"}
    monkeypatch.setenv("TOKEN_HMAC_KEY", "rotated-token-key")
    assert registry.owner_of(NEW) == "jss-1001"


# ----------------------------------------------------------------- NumberChanges.commit


@pytest.fixture
def account(make_account: MakeAccount) -> Account:
    return make_account("jss-5005", phone_number=PHONE, whatsapp_number=OLD)


class Steps:
    """The journey's own parts of a commit: what ``check`` saw, and a ``stage`` that adds nothing."""

    def __init__(self) -> None:
        self.checked: list[Account] = []
        self.staged: list[int] = []

    def check(self, account: Account) -> None:
        self.checked.append(account)

    def stage(self, tx: Transaction, now: int) -> None:
        self.staged.append(now)


def commit(registry: AccountRegistry, steps: Steps, number: str = NEW, **kwargs: Any) -> tuple[Account, int]:
    done = NumberChanges(registry).commit(
        "jss-5005",
        number,
        kwargs.pop("method", ChangeMethod.WHATSAPP_CHANGE),
        "flow-1",
        clock=lambda: NOW + 0.9,
        check=kwargs.pop("check", steps.check),
        stage=kwargs.pop("stage", steps.stage),
        **kwargs,
    )
    return done.before, done.at


def test_a_commit_changes_the_number_claims_and_audit(registry: AccountRegistry, account: Account, scan: Scan) -> None:
    steps = Steps()
    before, now = commit(registry, steps)

    assert before == account  # the account as it was before the change
    assert now == NOW
    assert steps.checked == [account]
    assert steps.staged == [NOW]
    changed = registry.get("jss-5005")
    assert changed is not None
    assert (changed.whatsapp_number, changed.whatsapp_verified_via) == (NEW, "whatsapp")
    stored = registry.db.get("AccountsTable", account_key("jss-5005"))
    assert stored is not None
    assert stored["whatsapp_number_changed_ms"] == NOW * 1000 + 900  # to the millisecond, for JSS's times
    assert changed.phone_number == PHONE
    assert changed.version == 1
    assert registry.owner_of(NEW) == "jss-5005"
    assert registry.owner_of(OLD) is None
    [audit] = audit_records(scan)
    assert audit["flow_id"] == "flow-1"
    assert audit["old_number_hash"] == number_fingerprint(OLD)
    assert audit["new_number_hash"] == number_fingerprint(NEW)
    assert "phone_number_replaced" not in audit


def test_a_migration_commit_records_the_phone_number_it_replaced(
    registry: AccountRegistry, make_account: MakeAccount, scan: Scan
) -> None:
    make_account("jss-5005", phone_number=PHONE, whatsapp_number=None)
    commit(registry, Steps(), method=ChangeMethod.WHATSAPP_MIGRATION, also_phone_number=True)
    changed = registry.get("jss-5005")
    assert changed is not None
    assert changed.phone_number == changed.whatsapp_number == NEW
    [audit] = audit_records(scan)
    assert audit["phone_number_replaced"] is True
    assert audit["old_phone_masked"] == "0812-****-5432"
    assert audit["old_phone_hash"] == number_fingerprint(PHONE)
    assert PHONE[3:] not in str(audit)


def test_a_migration_of_an_account_without_a_phone_number(
    registry: AccountRegistry, make_account: MakeAccount, scan: Scan
) -> None:
    make_account("jss-5005", phone_number=None, whatsapp_number=None)
    commit(registry, Steps(), method=ChangeMethod.WHATSAPP_MIGRATION, also_phone_number=True)
    [audit] = audit_records(scan)
    assert audit["phone_number_replaced"] is True
    assert not {"old_phone_masked", "old_phone_hash"} & set(audit)


def test_a_commit_is_retried_when_only_the_account_moved(
    registry: AccountRegistry, account: Account, db: Dynamo, config: Settings, scan: Scan
) -> None:
    steps = Steps()

    def check(seen: Account) -> None:
        steps.check(seen)
        if len(steps.checked) == 1:  # another change of the account lands between the read and the commit
            db.update(config.accounts_table, account_key("jss-5005"), "SET version = :v", v=7)

    before, _ = commit(registry, steps, check=check)

    assert [a.version for a in steps.checked] == [0, 7]  # read again, checked again
    assert before.version == 7
    assert registry.get("jss-5005").version == 8  # type: ignore[union-attr]
    assert registry.owner_of(NEW) == "jss-5005"
    assert len(audit_records(scan)) == 1


def test_a_commit_is_retried_after_a_clash_that_lost_no_condition(
    registry: AccountRegistry, account: Account, scan: Scan, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transactions that kept clashing (or a throttled cancellation) name no lost condition: retry."""
    real_commit = Transaction.commit
    clashes: list[int] = []

    def clash_once(tx: Transaction, attempts: int = 4) -> None:
        if not clashes:
            clashes.append(1)
            raise ConditionFailed(frozenset())
        real_commit(tx, attempts)

    monkeypatch.setattr(Transaction, "commit", clash_once)
    commit(registry, Steps())
    assert clashes == [1]
    assert registry.owner_of(NEW) == "jss-5005"
    assert len(audit_records(scan)) == 1


def test_an_account_that_keeps_moving_gives_up_without_writing(
    registry: AccountRegistry, account: Account, db: Dynamo, config: Settings, scan: Scan
) -> None:
    def check(seen: Account) -> None:
        db.update(config.accounts_table, account_key("jss-5005"), "SET version = :v", v=seen.version + 1)

    with pytest.raises(ServiceError) as busy:
        commit(registry, Steps(), check=check)
    # The documented "busy, try again" answer (429 with Retry-After), not a 500.
    assert (busy.value.code, busy.value.status, busy.value.retry_after) == ("busy", 429, 1)
    assert registry.get("jss-5005").whatsapp_number == OLD  # type: ignore[union-attr]
    assert registry.owner_of(NEW) is None
    assert audit_records(scan) == []


def test_a_number_verified_elsewhere_meanwhile_is_reported_as_the_claim_and_not_retried(
    registry: AccountRegistry, account: Account, scan: Scan
) -> None:
    steps = Steps()
    # The check is the journey's; the claim still holds. (An unverified holder is taken over:
    # tests/unit/test_number_takeover.py.)
    registry.save(Account("jss-9009", whatsapp_number=NEW, whatsapp_verified_via="whatsapp"))
    with pytest.raises(ConditionFailed) as caught:
        commit(registry, steps)
    assert "claim" in caught.value.labels
    assert len(steps.checked) == 1
    assert registry.get("jss-5005").whatsapp_number == OLD  # type: ignore[union-attr]
    assert registry.owner_of(NEW) == "jss-9009"
    assert audit_records(scan) == []


def test_a_lost_condition_of_the_journeys_own_stage_is_reported_by_its_label(
    registry: AccountRegistry, account: Account, config: Settings, scan: Scan
) -> None:
    steps = Steps()

    def stage(tx: Transaction, now: int) -> None:  # e.g. the flow was finished by another request
        tx.check("flow", config.tokens_table, {"pk": "FLOW#gone"}, "attribute_exists(pk)")

    with pytest.raises(ConditionFailed) as caught:
        commit(registry, steps, stage=stage)
    assert caught.value.labels == {"flow"}
    assert len(steps.checked) == 1  # not retried
    assert registry.get("jss-5005") == account
    assert audit_records(scan) == []


def test_a_refusing_check_stops_the_commit(registry: AccountRegistry, account: Account, scan: Scan) -> None:
    class Refused(Exception):
        pass

    def check(_: Account) -> None:
        raise Refused

    with pytest.raises(Refused):
        commit(registry, Steps(), check=check)
    assert registry.get("jss-5005") == account
    assert audit_records(scan) == []


def test_a_commit_for_an_account_that_is_gone(registry: AccountRegistry) -> None:
    with pytest.raises(ServiceError) as caught:
        commit(registry, Steps())
    assert caught.value.code == "account_not_found"


def test_audit_records_sort_in_the_order_of_the_changes_within_one_second(
    registry: AccountRegistry, account: Account, scan: Scan
) -> None:
    numbers = [f"+62812345678{i}{i}" for i in range(6)]
    for number in numbers:  # every change at the same clock second
        commit(registry, Steps(), number)

    chain = [record["new_number_hash"] for record in sorted(audit_records(scan), key=lambda r: r["event"])]

    assert chain == [number_fingerprint(n) for n in numbers]
    assert [r["event"] for r in sorted(audit_records(scan), key=lambda r: r["event"])][-1] == "v000000000006"
