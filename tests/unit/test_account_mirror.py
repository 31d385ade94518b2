"""How a change from JSS lands on an account item (``shared.domain.account_mirror``): ``plan()`` on its
own, and ``AccountMirror.apply`` on moto. Newest wins per field (``<field>_changed_ms``), against JSS's
own earlier records and against changes made through the journeys; the number claim moves in the
same transaction as the account; a deletion leaves a tombstone without personal data; the import
lease holds back creations; and an item that changes under the write is merged again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.dynamo import Dynamo, Transaction
from shared.domain.account_mirror import (
    AccountChanging,
    AccountMirror,
    ImportInProgress,
    NumberHeldElsewhere,
    Plan,
    plan,
)
from shared.domain.accounts import Account, AccountRegistry, ChangeMethod, account_key, number_claim_key
from shared.domain.jss_records import JssChange
from shared.domain.number_change import NumberChanges
from tests.unit.conftest import FakeClock

TABLE = "AccountsTable"
ACCOUNT = "jss-1001"
PASSWORD = "rahasia-JSS-2024"
PHONE = "+6281298765432"
NUMBER = "+6285712345678"
OTHER_NUMBER = "+6281234567890"
THIRD_NUMBER = "+6281311112222"
# JSS times, epoch milliseconds; the clock (1_750_000_000 s) sits between T3 and T4.
T1 = 1_748_739_600_000  # 2025-06-01 08:00 WIB
T2 = T1 + 3_600_000
T3 = T1 + 7_200_000
T4 = 1_750_100_000_000  # after the clock: newer than a journey's change made now
TIMED = ("name", "email", "phone_number", "whatsapp_number", "password_hash")
PERSONAL = ("name", "email", "phone_number", "whatsapp_number", "whatsapp_verified_via", "password_hash")

MakeAccount = Callable[..., Account]


@pytest.fixture
def password_hash(php_bcrypt: Callable[[str], str]) -> str:
    return php_bcrypt(PASSWORD)


@pytest.fixture
def mirror(db: Dynamo, clock: FakeClock) -> AccountMirror:
    return AccountMirror(db, TABLE, clock=clock)


def whole(at_ms: int, password_hash: str = "$2y$04$hash", account_id: str = ACCOUNT, **changes: Any) -> JssChange:
    """A whole account as an export row or ``account.created`` gives it; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "name": "Budi Santoso",
        "email": "budi@example.com",
        "phone_number": PHONE,
        "whatsapp_number": NUMBER,
        "whatsapp_verified_via": "jss",
        "password_hash": password_hash,
    }
    fields.update(changes)
    if fields["whatsapp_number"] is None:
        fields["whatsapp_verified_via"] = None
    return JssChange(account_id, at_ms, fields, whole=True)


def created_item(at_ms: int, password_hash: str) -> dict[str, Any]:
    """The item a whole record (``whole``) creates: every field stamped with the record's time."""
    return {
        "pk": f"ACCOUNT#{ACCOUNT}",
        "account_id": ACCOUNT,
        "version": 1,
        "name": "Budi Santoso",
        "email": "budi@example.com",
        "phone_number": PHONE,
        "whatsapp_number": NUMBER,
        "whatsapp_verified_via": "jss",
        "password_hash": password_hash,
        **{f"{field}_changed_ms": at_ms for field in TIMED},
        "jss_changed_ms": at_ms,
    }


def partial(at_ms: int, account_id: str = ACCOUNT, **fields: Any) -> JssChange:
    return JssChange(account_id, at_ms, fields)


def deleted(at_ms: int, account_id: str = ACCOUNT) -> JssChange:
    return JssChange(account_id, at_ms, deleted=True)


def stored(db: Dynamo, account_id: str = ACCOUNT) -> dict[str, Any] | None:
    return db.get(TABLE, account_key(account_id))


def owner(db: Dynamo, number: str) -> str | None:
    claim = db.get(TABLE, number_claim_key(number))
    return None if claim is None else str(claim["account_id"])


def stamps(item: dict[str, Any] | None) -> dict[str, int]:
    assert item is not None
    return {name: item[f"{name}_changed_ms"] for name in TIMED}


def all_items(db: Dynamo, scan: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    from shared.adapters.dynamo import from_attributes

    return sorted((from_attributes(item) for item in scan(TABLE)), key=lambda item: str(item["pk"]))


def spy_transactions(db: Dynamo, monkeypatch: pytest.MonkeyPatch) -> list[Transaction]:
    """Every transaction the code under test builds on ``db``, with its labelled parts."""
    made: list[Transaction] = []
    real = db.transaction

    def transaction() -> Transaction:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(db, "transaction", transaction)
    return made


def hold_lease(db: Dynamo, expires_ms: int) -> None:
    db.put(TABLE, {"pk": "IMPORT#lease", "run_id": "another-import", "expires_ms": expires_ms})


# ================================================================= plan()


def test_plan_creates_an_unknown_account_whole_with_its_claim(password_hash: str) -> None:
    planned = plan(None, whole(T1, password_hash))
    assert planned == Plan(
        "created",
        ACCOUNT,
        created_item(T1, password_hash),
        expected_version=None,
        claim=NUMBER,
        release=None,
    )
    assert planned.creates
    assert planned.keys() == [f"ACCOUNT#{ACCOUNT}", number_claim_key(NUMBER)["pk"]]
    assert planned.keys(claim_only=True) == [number_claim_key(NUMBER)["pk"]]


def test_plan_leaves_out_fields_jss_does_not_have() -> None:
    item = plan(None, whole(T1, email=None, name=None, whatsapp_number=None)).item
    assert item is not None
    assert not {"email", "name", "whatsapp_number", "whatsapp_verified_via"} & set(item)
    assert item["email_changed_ms"] == item["whatsapp_number_changed_ms"] == T1


def test_plan_of_a_partial_change_for_an_unknown_account_is_unknown() -> None:
    assert plan(None, partial(T1, email="budi@example.com")) == Plan("unknown", ACCOUNT)


def test_plan_remembers_the_deletion_of_an_unknown_account() -> None:
    planned = plan(None, deleted(T1))
    assert planned == Plan(
        "created",
        ACCOUNT,
        {"pk": f"ACCOUNT#{ACCOUNT}", "account_id": ACCOUNT, "deleted_ms": T1, "jss_changed_ms": T1, "version": 1},
    )


def test_plan_of_a_number_move_claims_the_new_number_and_releases_the_old() -> None:
    current = plan(None, whole(T1)).item
    planned = plan(current, whole(T2, whatsapp_number=OTHER_NUMBER))
    assert (planned.outcome, planned.expected_version, planned.claim, planned.release) == (
        "updated",
        1,
        OTHER_NUMBER,
        NUMBER,
    )
    assert planned.keys() == [
        f"ACCOUNT#{ACCOUNT}",
        number_claim_key(OTHER_NUMBER)["pk"],
        number_claim_key(NUMBER)["pk"],
    ]


def test_plan_of_the_same_change_again_writes_nothing() -> None:
    current = plan(None, whole(T1)).item
    assert plan(current, whole(T1)) == Plan("unchanged", ACCOUNT)
    assert plan(current, partial(T1 - 1, name="Siti")) == Plan("unchanged", ACCOUNT)


# ================================================================= creating


def test_a_whole_record_creates_the_account_with_its_times_and_claim(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry, password_hash: str
) -> None:
    assert mirror.apply(whole(T1, password_hash)) == "created"

    item = stored(db)
    assert item == created_item(T1, password_hash)
    assert db.get(TABLE, number_claim_key(NUMBER)) == {
        **number_claim_key(NUMBER),
        "account_id": ACCOUNT,
        "claimed_at": 1_750_000_000,
    }
    account = registry.get(ACCOUNT)
    assert account is not None
    assert (account.whatsapp_number, account.whatsapp_verified, account.version) == (NUMBER, False, 1)


def test_an_account_without_whatsapp_number_claims_nothing(
    mirror: AccountMirror, db: Dynamo, scan: Callable[[str], list[dict[str, Any]]]
) -> None:
    assert mirror.apply(whole(T1, whatsapp_number=None)) == "created"
    assert [item["pk"] for item in all_items(db, scan)] == [f"ACCOUNT#{ACCOUNT}"]


def test_the_same_record_twice_changes_nothing(
    mirror: AccountMirror, db: Dynamo, scan: Callable[[str], list[dict[str, Any]]]
) -> None:
    mirror.apply(whole(T1))
    before = all_items(db, scan)
    assert mirror.apply(whole(T1)) == "unchanged"
    assert all_items(db, scan) == before


def test_a_create_that_loses_the_race_to_another_creator_is_merged_again(
    mirror: AccountMirror, db: Dynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another creator wrote the item between this read (nothing) and this write."""
    mirror.apply(whole(T1))
    real_get = db.get
    reads: list[dict[str, Any]] = []

    def first_read_sees_nothing(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        reads.append(key)
        return None if len(reads) == 1 else real_get(table, key)

    monkeypatch.setattr(db, "get", first_read_sees_nothing)
    assert mirror.apply(whole(T1)) == "unchanged"
    assert len(reads) == 2
    assert stored(db)["version"] == 1  # type: ignore[index]


# ================================================================= updating, newest wins per field


def test_a_newer_record_updates_what_changed_and_bumps_the_version(
    mirror: AccountMirror, db: Dynamo, password_hash: str
) -> None:
    mirror.apply(whole(T1, password_hash))
    before = stored(db)
    assert before is not None

    assert mirror.apply(whole(T2, password_hash, email="budi.santoso@example.com")) == "updated"

    after = stored(db)
    assert after == {
        **before,
        "email": "budi.santoso@example.com",
        **{f"{name}_changed_ms": T2 for name in TIMED},
        "jss_changed_ms": T2,
        "version": 2,
    }
    assert owner(db, NUMBER) == ACCOUNT


def test_an_older_record_changes_nothing(
    mirror: AccountMirror, db: Dynamo, scan: Callable[[str], list[dict[str, Any]]]
) -> None:
    mirror.apply(whole(T2))
    before = all_items(db, scan)
    assert mirror.apply(whole(T1, email="lama@example.com", whatsapp_number=OTHER_NUMBER)) == "unchanged"
    assert all_items(db, scan) == before
    assert owner(db, OTHER_NUMBER) is None


def test_records_out_of_order_end_as_they_would_have_in_order(mirror: AccountMirror, db: Dynamo) -> None:
    """Email changed at T3 arrives first; a contact change at T2 (email and name) arrives after it."""
    mirror.apply(whole(T1))
    assert mirror.apply(partial(T3, email="baru@example.com")) == "updated"

    assert mirror.apply(partial(T2, email="lama@example.com", name="Budi S.")) == "updated"

    item = stored(db)
    assert item is not None
    assert (item["email"], item["name"]) == ("baru@example.com", "Budi S.")
    assert stamps(item) == {
        "name": T2,
        "email": T3,
        "phone_number": T1,
        "whatsapp_number": T1,
        "password_hash": T1,
    }
    assert item["jss_changed_ms"] == T3  # the newest JSS time applied, not the last to arrive
    assert item["version"] == 3


def test_a_partial_change_touches_only_its_fields(mirror: AccountMirror, db: Dynamo) -> None:
    mirror.apply(whole(T1))
    before = stored(db)
    assert before is not None
    assert mirror.apply(partial(T2, password_hash="$2y$04$newhash")) == "updated"
    assert stored(db) == {
        **before,
        "password_hash": "$2y$04$newhash",
        "password_hash_changed_ms": T2,
        "jss_changed_ms": T2,
        "version": 2,
    }


def test_a_change_that_removes_the_email_drops_the_attribute(mirror: AccountMirror, db: Dynamo) -> None:
    mirror.apply(whole(T1))
    assert mirror.apply(partial(T2, email=None)) == "updated"
    item = stored(db)
    assert item is not None
    assert "email" not in item
    assert item["email_changed_ms"] == T2


def test_a_removed_email_is_not_brought_back_by_an_older_record(mirror: AccountMirror, db: Dynamo) -> None:
    mirror.apply(whole(T1))
    mirror.apply(partial(T3, email=None))
    assert mirror.apply(whole(T2)) == "updated"  # other fields move to T2, the email stays removed
    assert "email" not in stored(db)  # type: ignore[operator]


def test_a_newer_record_with_the_same_number_verified_by_whatsapp_keeps_the_claim(
    mirror: AccountMirror, db: Dynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror.apply(whole(T1))
    transactions = spy_transactions(db, monkeypatch)
    assert mirror.apply(partial(T2, whatsapp_number=NUMBER, whatsapp_verified_via="whatsapp")) == "updated"
    assert stored(db)["whatsapp_verified_via"] == "whatsapp"  # type: ignore[index]
    assert [tx.labels for tx in transactions] == [["account"]]  # the claim stays as it is
    assert owner(db, NUMBER) == ACCOUNT


# ----------------------------------------------------------------- against the journeys


def change_through_a_journey(registry: AccountRegistry, clock: FakeClock, number: str) -> None:
    NumberChanges(registry).commit(
        ACCOUNT,
        number,
        ChangeMethod.WHATSAPP_CHANGE,
        "flow-1",
        clock=clock,
        check=lambda _account: None,
        stage=lambda _tx, _now: None,
    )


def test_a_number_set_through_a_journey_is_not_overwritten_by_an_older_record(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry, clock: FakeClock
) -> None:
    mirror.apply(whole(T1))
    change_through_a_journey(registry, clock, OTHER_NUMBER)
    assert stored(db)["whatsapp_number_changed_ms"] == 1_750_000_000_000  # type: ignore[index]

    assert mirror.apply(whole(T3, name="Budi S.", whatsapp_number=THIRD_NUMBER)) == "updated"

    item = stored(db)
    assert item is not None
    assert (item["name"], item["whatsapp_number"], item["whatsapp_verified_via"]) == (
        "Budi S.",
        OTHER_NUMBER,
        "whatsapp",
    )
    assert item["whatsapp_number_changed_ms"] == 1_750_000_000_000
    assert (owner(db, OTHER_NUMBER), owner(db, THIRD_NUMBER), owner(db, NUMBER)) == (ACCOUNT, None, None)


def test_a_number_set_through_a_journey_is_overwritten_by_a_newer_record(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry, clock: FakeClock
) -> None:
    mirror.apply(whole(T1))
    change_through_a_journey(registry, clock, OTHER_NUMBER)

    assert mirror.apply(whole(T4, whatsapp_number=THIRD_NUMBER)) == "updated"

    item = stored(db)
    assert item is not None
    assert (item["whatsapp_number"], item["whatsapp_verified_via"]) == (THIRD_NUMBER, "jss")
    assert item["whatsapp_number_changed_ms"] == T4
    assert (owner(db, THIRD_NUMBER), owner(db, OTHER_NUMBER)) == (ACCOUNT, None)


def test_a_journey_stamp_written_directly_holds_back_older_records(
    mirror: AccountMirror, db: Dynamo, make_account: MakeAccount
) -> None:
    """An account saved without JSS times takes any JSS record, except fields a journey stamped."""
    make_account(ACCOUNT, whatsapp_number=OTHER_NUMBER)
    db.update(TABLE, account_key(ACCOUNT), "SET whatsapp_number_changed_ms = :t", t=T2)

    assert mirror.apply(whole(T1, email="jss@example.com")) == "updated"

    item = stored(db)
    assert item is not None
    assert (item["email"], item["whatsapp_number"]) == ("jss@example.com", OTHER_NUMBER)
    assert owner(db, NUMBER) is None


@pytest.mark.parametrize("proof", ["whatsapp", "email"])
def test_a_newer_record_does_not_undo_the_proof_of_the_same_number(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry, clock: FakeClock, proof: str
) -> None:
    """JSS not knowing that a journey proved the number is not the proof going away."""
    mirror.apply(whole(T1))
    method = ChangeMethod.WHATSAPP_CHANGE if proof == "whatsapp" else ChangeMethod.EMAIL_CHANGE
    NumberChanges(registry).commit(
        ACCOUNT, OTHER_NUMBER, method, "flow-1", clock=clock, check=lambda _a: None, stage=lambda _tx, _now: None
    )

    assert mirror.apply(whole(T4, name="Budi S.", whatsapp_number=OTHER_NUMBER)) == "updated"  # not verified

    item = stored(db)
    assert item is not None
    assert (item["name"], item["whatsapp_number"], item["whatsapp_verified_via"]) == ("Budi S.", OTHER_NUMBER, proof)
    assert item["whatsapp_number_changed_ms"] == T4


def test_jss_knowing_the_number_was_proven_through_whatsapp_is_taken(mirror: AccountMirror, db: Dynamo) -> None:
    mirror.apply(whole(T1))  # unverified: "jss"
    assert mirror.apply(partial(T2, whatsapp_number=NUMBER, whatsapp_verified_via="whatsapp")) == "updated"
    assert stored(db)["whatsapp_verified_via"] == "whatsapp"  # type: ignore[index]


# ----------------------------------------------------------------- number moves


def test_a_number_move_releases_the_old_claim_and_takes_the_new_in_one_transaction(
    mirror: AccountMirror, db: Dynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror.apply(whole(T1))
    transactions = spy_transactions(db, monkeypatch)

    assert mirror.apply(partial(T2, whatsapp_number=OTHER_NUMBER, whatsapp_verified_via="whatsapp")) == "updated"

    [tx] = transactions
    assert tx.labels == ["account", "claim", "release"]
    assert [next(iter(part)) for part in tx.parts] == ["Put", "Put", "Delete"]
    assert (owner(db, OTHER_NUMBER), owner(db, NUMBER)) == (ACCOUNT, None)
    assert stored(db)["whatsapp_number"] == OTHER_NUMBER  # type: ignore[index]


def test_removing_the_number_releases_its_claim(mirror: AccountMirror, db: Dynamo) -> None:
    mirror.apply(whole(T1))
    assert mirror.apply(partial(T2, whatsapp_number=None, whatsapp_verified_via=None)) == "updated"
    item = stored(db)
    assert item is not None
    assert not {"whatsapp_number", "whatsapp_verified_via"} & set(item)
    assert owner(db, NUMBER) is None


def test_a_new_account_whose_number_another_account_holds_is_not_written(
    mirror: AccountMirror, db: Dynamo, make_account: MakeAccount
) -> None:
    make_account("jss-2002", whatsapp_number=NUMBER)
    with pytest.raises(NumberHeldElsewhere):
        mirror.apply(whole(T1))
    assert stored(db) is None
    assert owner(db, NUMBER) == "jss-2002"


def test_a_move_to_a_number_another_account_holds_writes_nothing(
    mirror: AccountMirror, db: Dynamo, make_account: MakeAccount
) -> None:
    mirror.apply(whole(T1))
    before = stored(db)
    make_account("jss-2002", whatsapp_number=OTHER_NUMBER)

    with pytest.raises(NumberHeldElsewhere):
        mirror.apply(whole(T2, name="Budi S.", whatsapp_number=OTHER_NUMBER))

    assert stored(db) == before
    assert (owner(db, NUMBER), owner(db, OTHER_NUMBER)) == (ACCOUNT, "jss-2002")


def test_a_claim_left_by_a_stopped_import_is_found_to_be_the_accounts_own(mirror: AccountMirror, db: Dynamo) -> None:
    db.put(TABLE, {**number_claim_key(NUMBER), "account_id": ACCOUNT, "claimed_at": 1})
    assert mirror.apply(whole(T1)) == "created"
    assert owner(db, NUMBER) == ACCOUNT


# ================================================================= deleting


def test_a_deletion_leaves_a_tombstone_without_personal_data(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry
) -> None:
    mirror.apply(whole(T1))

    assert mirror.apply(deleted(T2)) == "updated"

    item = stored(db)
    assert item == {
        "pk": f"ACCOUNT#{ACCOUNT}",
        "account_id": ACCOUNT,
        "deleted_ms": T2,
        "jss_changed_ms": T2,
        "version": 2,
    }
    assert not set(PERSONAL) & set(item)
    assert owner(db, NUMBER) is None
    assert registry.get(ACCOUNT) is None
    assert registry.owner_of(NUMBER) is None


def test_a_deletion_of_an_account_saved_without_jss_times_applies(
    mirror: AccountMirror, db: Dynamo, make_account: MakeAccount, registry: AccountRegistry
) -> None:
    make_account(ACCOUNT, whatsapp_number=NUMBER)
    assert mirror.apply(deleted(T1)) == "updated"
    assert registry.get(ACCOUNT) is None
    assert owner(db, NUMBER) is None


@pytest.mark.parametrize("deleted_at", [T1, T2])
def test_a_deletion_not_newer_than_the_last_jss_change_is_ignored(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry, deleted_at: int
) -> None:
    mirror.apply(whole(T1))
    mirror.apply(partial(T2, name="Budi S."))
    before = stored(db)

    assert mirror.apply(deleted(deleted_at)) == "unchanged"

    assert stored(db) == before
    assert registry.get(ACCOUNT) is not None
    assert owner(db, NUMBER) == ACCOUNT


def test_a_created_older_than_the_deletion_does_not_bring_the_account_back(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry
) -> None:
    mirror.apply(whole(T1))
    mirror.apply(deleted(T3))
    tombstone = stored(db)

    assert mirror.apply(whole(T2)) == "unchanged"
    assert mirror.apply(whole(T3)) == "unchanged"
    assert mirror.apply(partial(T4, name="Budi S.")) == "unchanged"  # only a whole account brings it back
    assert mirror.apply(deleted(T4)) == "unchanged"

    assert stored(db) == tombstone
    assert registry.get(ACCOUNT) is None
    assert owner(db, NUMBER) is None


def test_a_newer_whole_account_brings_a_deleted_one_back(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry
) -> None:
    mirror.apply(whole(T1))
    mirror.apply(deleted(T2))

    assert mirror.apply(whole(T3, whatsapp_number=OTHER_NUMBER)) == "created"

    item = stored(db)
    assert item is not None
    assert "deleted_ms" not in item
    assert item["version"] == 3
    assert stamps(item) == dict.fromkeys(TIMED, T3)
    assert item["jss_changed_ms"] == T3
    account = registry.get(ACCOUNT)
    assert account is not None
    assert account.whatsapp_number == OTHER_NUMBER
    assert (owner(db, OTHER_NUMBER), owner(db, NUMBER)) == (ACCOUNT, None)


def test_a_deletion_of_an_unknown_account_is_remembered(
    mirror: AccountMirror, db: Dynamo, registry: AccountRegistry
) -> None:
    assert mirror.apply(deleted(T2)) == "created"
    assert stored(db) == {
        "pk": f"ACCOUNT#{ACCOUNT}",
        "account_id": ACCOUNT,
        "deleted_ms": T2,
        "jss_changed_ms": T2,
        "version": 1,
    }
    assert mirror.apply(whole(T1)) == "unchanged"  # its older "created", arriving late
    assert registry.get(ACCOUNT) is None
    assert owner(db, NUMBER) is None


def test_a_partial_change_for_an_unknown_account_is_unknown_and_writes_nothing(
    mirror: AccountMirror, db: Dynamo, scan: Callable[[str], list[dict[str, Any]]]
) -> None:
    assert mirror.apply(partial(T1, name="Budi")) == "unknown"
    assert mirror.apply(partial(T1, password_hash="$2y$04$hash")) == "unknown"
    assert all_items(db, scan) == []


# ================================================================= the import lease


def test_no_account_is_created_while_an_import_holds_the_lease(
    mirror: AccountMirror, db: Dynamo, clock: FakeClock, scan: Callable[[str], list[dict[str, Any]]]
) -> None:
    hold_lease(db, expires_ms=int(clock() * 1000) + 60_000)
    with pytest.raises(ImportInProgress):
        mirror.apply(whole(T1))
    with pytest.raises(ImportInProgress):
        mirror.apply(deleted(T1))  # a tombstone is an item created too
    assert [item["pk"] for item in all_items(db, scan)] == ["IMPORT#lease"]


def test_an_expired_lease_does_not_hold_back_a_creation(mirror: AccountMirror, db: Dynamo, clock: FakeClock) -> None:
    hold_lease(db, expires_ms=int(clock() * 1000) - 1)
    assert mirror.apply(whole(T1)) == "created"
    assert owner(db, NUMBER) == ACCOUNT


def test_the_lease_never_holds_back_a_change_of_an_existing_account(
    mirror: AccountMirror, db: Dynamo, clock: FakeClock
) -> None:
    mirror.apply(whole(T1))
    hold_lease(db, expires_ms=int(clock() * 1000) + 60_000)
    assert mirror.apply(whole(T2, whatsapp_number=OTHER_NUMBER)) == "updated"
    assert mirror.apply(deleted(T3)) == "updated"
    assert mirror.apply(whole(T4)) == "created"  # brought back: the tombstone exists, nothing is created
    assert owner(db, NUMBER) == ACCOUNT


# ================================================================= contention


def bump_version_after_reading(db: Dynamo, monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """``db.get`` reads the item, then another writer changes it ``times`` times before the write."""
    real_get = db.get
    bumps: list[int] = []

    def get(table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item = real_get(table, key)
        if item is not None and len(bumps) < times:
            bumps.append(int(item["version"]) + 1)
            db.update(
                table,
                key,
                "SET version = :v, email = :email, email_changed_ms = :t",
                v=bumps[-1],
                email=f"journey{len(bumps)}@example.com",
                t=T4,
            )
        return item

    monkeypatch.setattr(db, "get", get)
    return bumps


def test_an_item_that_changed_between_read_and_write_is_merged_again(
    mirror: AccountMirror, db: Dynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror.apply(whole(T1))
    bumps = bump_version_after_reading(db, monkeypatch, times=1)

    assert mirror.apply(partial(T2, name="Budi S.", email="jss@example.com")) == "updated"

    item = stored(db)
    assert item is not None
    assert bumps == [2]
    assert item["version"] == 3
    assert item["name"] == "Budi S."
    assert item["email"] == "journey1@example.com"  # the other writer's newer email, merged in, kept


def test_an_item_that_keeps_changing_gives_up_after_four_tries(
    mirror: AccountMirror, db: Dynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror.apply(whole(T1))
    bumps = bump_version_after_reading(db, monkeypatch, times=10)

    with pytest.raises(AccountChanging):
        mirror.apply(partial(T2, name="Budi S."))

    assert bumps == [2, 3, 4, 5]
    item = stored(db)
    assert item is not None
    assert item["version"] == 5  # the other writer's, never this change's
    assert item["name"] == "Budi Santoso"
