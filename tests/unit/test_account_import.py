"""The bulk import engine on moto (``shared.domain.account_import``): ``AccountImport.run`` over rows
built here, with two workers and chunks of seven rows so that several chunks run at once.

What is tested: every kind of refused row (line, reason, field; nothing written for it), duplicates
judged in file order, the summary, a rerun that changes nothing, a resumed run, rows older than a
change made through the service, numbers held by other accounts (refused, or landing once another
row of the export released them), checkpoints, the import lease, and which items go through
BatchWriteItem."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from shared.adapters.dynamo import Dynamo, from_attributes
from shared.domain.account_import import AccountImport, ImportRunning, ImportSummary, RowOutcome, SourceRow
from shared.domain.account_mirror import AccountMirror, ImportInProgress
from shared.domain.accounts import Account, AccountRegistry, ChangeMethod, account_key, number_claim_key
from shared.domain.jss_records import JssChange
from shared.domain.number_change import NumberChanges
from tests.unit.conftest import AwsClients, FakeClock

TABLE = "AccountsTable"
PASSWORD = "rahasia-JSS-2024"
MD5 = "5f4dcc3b5aa765d61d8327deb882cf99"
# The clock stands at 2025-06-15 15:06:40 UTC; the export's rows changed before it.
JUNE_1 = "2025-06-01T08:00:00+07:00"
JUNE_1_MS = 1_748_739_600_000
JUNE_2 = "2025-06-02T08:00:00+07:00"
JUNE_2_MS = JUNE_1_MS + 86_400_000
DROP: Any = object()  # a column the row does not have

Scan = Callable[[str], list[dict[str, Any]]]
MakeAccount = Callable[..., Account]
RowOf = Callable[..., SourceRow]


class Serialized:
    """The moto client, one request at a time. DynamoDB applies each request atomically; moto does not
    under threads (a transaction deep-copies the table another worker is writing, and a cancelled one
    restores that copy), and the import writes from several workers."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


@pytest.fixture
def db(aws: AwsClients) -> Dynamo:
    return Dynamo(cast(Any, Serialized(aws.dynamodb)))


def mobile(n: int) -> str:
    """A distinct valid Indonesian mobile number, in E.164."""
    return f"+6285720{n:06d}"


def typed(n: int) -> str:
    """The same number as a citizen types it."""
    digits = f"{n:06d}"
    return f"0857-20{digits[:2]}-{digits[2:]}"


@pytest.fixture
def password_hash(php_bcrypt: Callable[[str], str]) -> str:
    return php_bcrypt(PASSWORD)


@pytest.fixture
def row(password_hash: str) -> RowOf:
    """A row of the export at ``line``, as the CSV reader gives it; keyword arguments replace columns."""

    def make(line: int, account_id: str, **changes: Any) -> SourceRow:
        data: dict[str, Any] = {
            "account_id": account_id,
            "name": f"Warga {account_id}",
            "email": f"{account_id}@example.com",
            "phone_number": "0812-9876-5432",
            "whatsapp_number": "",
            "whatsapp_verified": "",
            "password_hash": password_hash,
            "updated_at": JUNE_1,
        }
        data.update(changes)
        return SourceRow(line, {k: v for k, v in data.items() if v is not DROP})

    return make


def importer(db: Dynamo, clock: FakeClock) -> AccountImport:
    return AccountImport(db, TABLE, workers=2, chunk_rows=7, clock=clock)


def run_import(
    db: Dynamo, clock: FakeClock, rows: list[SourceRow], **kwargs: Any
) -> tuple[ImportSummary, list[RowOutcome]]:
    """Runs the import; returns its summary and every reported outcome, in line order."""
    reported: list[RowOutcome] = []
    summary = importer(db, clock).run(rows, reported.append, **kwargs)
    assert len({outcome.line for outcome in reported}) == len(reported)  # one outcome per row
    return summary, sorted(reported, key=lambda outcome: outcome.line)


def items(scan: Scan) -> dict[str, dict[str, Any]]:
    return {str(item["pk"]): item for item in (from_attributes(raw) for raw in scan(TABLE))}


def accounts(scan: Scan) -> dict[str, dict[str, Any]]:
    return {str(item["account_id"]): item for pk, item in items(scan).items() if pk.startswith("ACCOUNT#")}


def claims(scan: Scan) -> dict[str, str]:
    """Claimed numbers (as fingerprints' keys) to the account holding them."""
    return {pk: str(item["account_id"]) for pk, item in items(scan).items() if pk.startswith("NUMBER#")}


def claim(number: str) -> str:
    return number_claim_key(number)["pk"]


def owner(db: Dynamo, number: str) -> str | None:
    found = db.get(TABLE, number_claim_key(number))
    return None if found is None else str(found["account_id"])


def refused(line: int, reason: str, field: str | None = None, first_line: int | None = None) -> RowOutcome:
    return RowOutcome(line, "refused", reason, field, first_line)


def hold_lease(db: Dynamo, expires_ms: int) -> None:
    db.put(TABLE, {"pk": "IMPORT#lease", "run_id": "another-import", "expires_ms": expires_ms})


# ================================================================= a mixed file


GOOD_TAIL = range(22, 34)  # twelve good rows, every other one with a WhatsApp number


@pytest.fixture
def mixed(row: RowOf) -> list[SourceRow]:
    return [
        row(2, "jss-a", whatsapp_number="0812-3456-0001", whatsapp_verified="true"),
        row(3, "jss-b"),
        row(4, "jss-c", whatsapp_number="6281234560003"),
        row(5, "jss-bad-email", email="budi.example.com"),
        SourceRow(6, problem="row_malformed"),
        row(7, "jss-a", name="Another Budi"),  # the account of line 2 again
        row(8, "jss-d", whatsapp_number="+62 812 3456 0001"),  # line 2's number, otherwise a good row
        row(9, "jss-toll-free", whatsapp_number="0800-1-234567"),
        row(10, "jss-md5", password_hash=MD5),
        row(11, "jss-no-phone", phone_number=DROP),
        row(12, "jss-future", updated_at="2025-06-17T00:00:00+07:00"),
        row(13, "jss-verified", whatsapp_verified="1"),
        SourceRow(14, problem="row_not_utf8"),
        row(15, "jss-e", email="", whatsapp_number=typed(15)),
        row(16, "jss f", email="jss-f@example.com"),
        row(17, "jss-g", whatsapp_number="0812 3456 0003"),  # line 4's number, written otherwise
        row(18, "jss-h", updated_at="kemarin"),
        row(19, "jss-i", name="N" * 201),
        row(20, "jss-j", whatsapp_number=typed(20), whatsapp_verified="maybe"),
        row(21, "jss-k", password_hash=DROP),
        *(row(line, f"jss-{line}", whatsapp_number=typed(line) if line % 2 else "") for line in GOOD_TAIL),
    ]


MIXED_REFUSALS = [
    refused(5, "email_invalid", "email"),
    refused(6, "row_malformed"),
    refused(7, "duplicate_account_id", "account_id", first_line=2),
    refused(8, "duplicate_whatsapp_number", "whatsapp_number", first_line=2),
    refused(9, "whatsapp_number_service_number", "whatsapp_number"),
    refused(10, "password_hash_unsupported", "password_hash"),
    refused(11, "phone_number_missing", "phone_number"),
    refused(12, "updated_at_in_future", "updated_at"),
    refused(13, "whatsapp_verified_without_number", "whatsapp_verified"),
    refused(14, "row_not_utf8"),
    refused(16, "account_id_invalid", "account_id"),
    refused(17, "duplicate_whatsapp_number", "whatsapp_number", first_line=4),
    refused(18, "updated_at_invalid", "updated_at"),
    refused(19, "name_invalid", "name"),
    refused(20, "whatsapp_verified_invalid", "whatsapp_verified"),
    refused(21, "password_hash_missing", "password_hash"),
]
MIXED_CREATED = [2, 3, 4, 15, *GOOD_TAIL]


def test_a_mixed_file_creates_the_good_rows_and_refuses_each_bad_one_with_its_line(
    db: Dynamo, clock: FakeClock, mixed: list[SourceRow]
) -> None:
    summary, reported = run_import(db, clock, mixed)

    assert [outcome for outcome in reported if outcome.outcome == "refused"] == MIXED_REFUSALS
    assert [outcome.line for outcome in reported if outcome.outcome == "created"] == MIXED_CREATED
    assert summary == ImportSummary(
        read=32,
        created=16,
        updated=0,
        unchanged=0,
        refused=Counter(
            {
                "duplicate_whatsapp_number": 2,
                "email_invalid": 1,
                "row_malformed": 1,
                "duplicate_account_id": 1,
                "whatsapp_number_service_number": 1,
                "password_hash_unsupported": 1,
                "phone_number_missing": 1,
                "updated_at_in_future": 1,
                "whatsapp_verified_without_number": 1,
                "row_not_utf8": 1,
                "account_id_invalid": 1,
                "updated_at_invalid": 1,
                "name_invalid": 1,
                "whatsapp_verified_invalid": 1,
                "password_hash_missing": 1,
            }
        ),
    )
    assert summary.imported == 16


def test_a_mixed_file_writes_the_good_rows_and_nothing_of_the_refused_ones(
    db: Dynamo, clock: FakeClock, mixed: list[SourceRow], scan: Scan, password_hash: str
) -> None:
    run_import(db, clock, mixed)

    stored = accounts(scan)
    good = {"jss-a", "jss-b", "jss-c", "jss-e", *(f"jss-{line}" for line in GOOD_TAIL)}
    assert set(stored) == good
    numbered = {
        "+6281234560001": "jss-a",
        "+6281234560003": "jss-c",
        mobile(15): "jss-e",
        **{mobile(line): f"jss-{line}" for line in GOOD_TAIL if line % 2},
    }
    assert claims(scan) == {claim(number): account for number, account in numbered.items()}
    assert "IMPORT#lease" not in items(scan)

    assert stored["jss-a"] == {
        "pk": "ACCOUNT#jss-a",
        "account_id": "jss-a",
        "version": 1,
        "name": "Warga jss-a",
        "email": "jss-a@example.com",
        "phone_number": "+6281298765432",
        "whatsapp_number": "+6281234560001",
        "whatsapp_verified_via": "whatsapp",
        "password_hash": password_hash,
        **{f"{name}_changed_ms": JUNE_1_MS for name in ("name", "email", "phone_number", "whatsapp_number")},
        "password_hash_changed_ms": JUNE_1_MS,
        "jss_changed_ms": JUNE_1_MS,
    }
    assert stored["jss-a"]["name"] == "Warga jss-a"  # not "Another Budi" of the duplicate on line 7
    assert stored["jss-c"]["whatsapp_verified_via"] == "jss"
    assert "whatsapp_number" not in stored["jss-b"]
    assert "email" not in stored["jss-e"]


def test_the_first_row_keeps_a_number_even_when_a_later_row_gives_it_to_a_valid_account(
    db: Dynamo, clock: FakeClock, row: RowOf
) -> None:
    rows = [row(2, "jss-a", whatsapp_number="0812-3456-0001"), row(3, "jss-b", whatsapp_number="62 812 3456 0001")]
    _, reported = run_import(db, clock, rows)
    assert reported == [
        RowOutcome(2, "created"),
        refused(3, "duplicate_whatsapp_number", "whatsapp_number", first_line=2),
    ]
    assert owner(db, "+6281234560001") == "jss-a"
    assert db.get(TABLE, account_key("jss-b")) is None


def test_a_refused_first_row_does_not_take_the_account_id_or_the_number(
    db: Dynamo, clock: FakeClock, row: RowOf
) -> None:
    rows = [
        row(2, "jss-a", whatsapp_number=typed(1), email="not-an-email"),
        row(3, "jss-a", whatsapp_number=typed(1)),
    ]
    _, reported = run_import(db, clock, rows)
    assert reported == [refused(2, "email_invalid", "email"), RowOutcome(3, "created")]
    assert owner(db, mobile(1)) == "jss-a"


# ================================================================= running again


def test_running_the_same_rows_again_changes_nothing(
    db: Dynamo, clock: FakeClock, mixed: list[SourceRow], scan: Scan
) -> None:
    run_import(db, clock, mixed)
    before = items(scan)
    clock.advance(3600)

    summary, reported = run_import(db, clock, mixed)

    assert items(scan) == before
    assert [outcome.line for outcome in reported if outcome.outcome == "unchanged"] == MIXED_CREATED
    assert [outcome for outcome in reported if outcome.outcome == "refused"] == MIXED_REFUSALS
    assert (summary.read, summary.created, summary.updated, summary.unchanged) == (32, 0, 0, 16)
    assert sum(summary.refused.values()) == 16


def test_a_newer_export_updates_what_changed_and_leaves_the_rest(
    db: Dynamo, clock: FakeClock, row: RowOf, scan: Scan
) -> None:
    run_import(db, clock, [row(2, "jss-a", whatsapp_number=typed(1)), row(3, "jss-b"), row(4, "jss-c")])
    before = accounts(scan)

    summary, reported = run_import(
        db,
        clock,
        [
            row(2, "jss-a", whatsapp_number=typed(2), updated_at=JUNE_2),  # moves to another number
            row(3, "jss-b"),  # as before
            row(4, "jss-c", email="baru@example.com", updated_at=JUNE_2),
            row(5, "jss-d"),
        ],
    )

    assert [(outcome.line, outcome.outcome) for outcome in reported] == [
        (2, "updated"),
        (3, "unchanged"),
        (4, "updated"),
        (5, "created"),
    ]
    assert (summary.created, summary.updated, summary.unchanged) == (1, 2, 1)
    after = accounts(scan)
    assert after["jss-b"] == before["jss-b"]
    assert after["jss-c"]["email"] == "baru@example.com"
    assert (after["jss-c"]["email_changed_ms"], after["jss-c"]["version"]) == (JUNE_2_MS, 2)
    assert (owner(db, mobile(2)), owner(db, mobile(1))) == ("jss-a", None)


# ================================================================= resuming


def test_a_resumed_run_skips_the_lines_before_the_checkpoint(db: Dynamo, clock: FakeClock, row: RowOf) -> None:
    rows = [
        row(2, "jss-a", whatsapp_number=typed(1)),
        row(3, "jss-b", email="bad-email"),
        row(4, "jss-c", whatsapp_number=typed(1)),  # line 2's number
        row(5, "jss-a"),  # line 2's account
        row(6, "jss-d", whatsapp_number=typed(6)),
    ]

    summary, reported = run_import(db, clock, rows, done_before=4)

    assert reported == [
        refused(4, "duplicate_whatsapp_number", "whatsapp_number", first_line=2),
        refused(5, "duplicate_account_id", "account_id", first_line=2),
        RowOutcome(6, "created"),
    ]
    assert summary.read == 5
    assert (summary.created, summary.refused) == (1, Counter(duplicate_whatsapp_number=1, duplicate_account_id=1))
    assert db.get(TABLE, account_key("jss-a")) is None  # line 2 was final before: not written again
    assert owner(db, mobile(1)) is None
    assert owner(db, mobile(6)) == "jss-d"


def test_a_run_stopped_half_way_and_resumed_ends_as_one_run_would(
    db: Dynamo, clock: FakeClock, row: RowOf, scan: Scan
) -> None:
    rows = [row(line, f"jss-{line}", whatsapp_number=typed(line) if line % 3 else "") for line in range(2, 30)]
    run_import(db, clock, rows[:12])  # the first run got this far
    reported: list[RowOutcome] = []

    summary = importer(db, clock).run(rows, reported.append, done_before=9)

    assert sorted(outcome.line for outcome in reported) == list(range(9, 30))
    assert {outcome.outcome for outcome in reported if outcome.line < 14} == {"unchanged"}
    assert {outcome.outcome for outcome in reported if outcome.line >= 14} == {"created"}
    assert summary.created == 16
    assert set(accounts(scan)) == {f"jss-{line}" for line in range(2, 30)}
    assert len(claims(scan)) == len([line for line in range(2, 30) if line % 3])


# ================================================================= numbers and the service's own changes


def test_a_row_older_than_a_number_changed_through_the_service_keeps_that_number(
    db: Dynamo, clock: FakeClock, row: RowOf, registry: AccountRegistry
) -> None:
    run_import(db, clock, [row(2, "jss-a", whatsapp_number=typed(1))])
    NumberChanges(registry).commit(
        "jss-a",
        mobile(2),
        ChangeMethod.WHATSAPP_CHANGE,
        "flow-1",
        clock=clock,
        check=lambda _account: None,
        stage=lambda _tx, _now: None,
    )

    _, reported = run_import(db, clock, [row(2, "jss-a", whatsapp_number=typed(3), name="Budi", updated_at=JUNE_2)])

    assert reported == [RowOutcome(2, "updated")]
    account = registry.get("jss-a")
    assert account is not None
    assert (account.name, account.whatsapp_number, account.whatsapp_verified_via) == ("Budi", mobile(2), "whatsapp")
    assert (owner(db, mobile(2)), owner(db, mobile(3)), owner(db, mobile(1))) == ("jss-a", None, None)


def test_a_row_whose_number_another_account_holds_is_refused_and_not_written(
    db: Dynamo, clock: FakeClock, row: RowOf, make_account: MakeAccount, scan: Scan
) -> None:
    make_account("jss-holder", whatsapp_number=mobile(1))
    make_account("jss-holder-2", whatsapp_number=mobile(5))
    run_import(db, clock, [row(3, "jss-b", whatsapp_number=typed(2))])
    before = items(scan)

    summary, reported = run_import(
        db,
        clock,
        [
            row(2, "jss-a", whatsapp_number=typed(1)),  # a new account
            row(3, "jss-b", whatsapp_number=typed(5), name="Budi", updated_at=JUNE_2),  # an existing one
            row(4, "jss-c", whatsapp_number=typed(4)),
        ],
    )

    assert reported == [
        refused(2, "whatsapp_number_taken", "whatsapp_number"),
        refused(3, "whatsapp_number_taken", "whatsapp_number"),
        RowOutcome(4, "created"),
    ]
    assert summary.refused == Counter(whatsapp_number_taken=2)
    after = items(scan)
    assert {pk: item for pk, item in after.items() if pk in before} == before  # jss-b not even renamed
    assert set(after) - set(before) == {"ACCOUNT#jss-c", claim(mobile(4))}
    assert (owner(db, mobile(1)), owner(db, mobile(5)), owner(db, mobile(2))) == ("jss-holder", "jss-holder-2", "jss-b")


@pytest.mark.parametrize("rows_between", [0, 9], ids=["same chunk", "later chunk"])
@pytest.mark.parametrize("q_exists", [False, True], ids=["new Q", "existing Q"])
def test_a_number_moving_to_an_account_on_an_earlier_line_lands_after_the_other_row(
    db: Dynamo, clock: FakeClock, row: RowOf, rows_between: int, q_exists: bool
) -> None:
    """P holds X in the table; the export gives X to Q (line 2) and Y to P (a later line)."""
    first = [row(2, "jss-p", whatsapp_number=typed(1))]
    if q_exists:
        first.append(row(3, "jss-q"))
    run_import(db, clock, first)
    filler = [row(3 + i, f"jss-filler-{i}") for i in range(rows_between)]
    p_line = 3 + rows_between
    rows = [
        row(2, "jss-q", whatsapp_number=typed(1), updated_at=JUNE_2),
        *filler,
        row(p_line, "jss-p", whatsapp_number=typed(2), updated_at=JUNE_2),
    ]

    summary, reported = run_import(db, clock, rows)

    outcomes = {outcome.line: outcome for outcome in reported}
    assert outcomes[2] == RowOutcome(2, "updated" if q_exists else "created")
    assert outcomes[p_line] == RowOutcome(p_line, "updated")
    assert not summary.refused
    assert (owner(db, mobile(1)), owner(db, mobile(2))) == ("jss-q", "jss-p")
    p, q = db.get(TABLE, account_key("jss-p")), db.get(TABLE, account_key("jss-q"))
    assert p is not None
    assert q is not None
    assert (p["whatsapp_number"], q["whatsapp_number"]) == (mobile(2), mobile(1))


# ================================================================= checkpoints


def test_checkpoints_never_go_back_and_only_pass_lines_already_reported(
    db: Dynamo, clock: FakeClock, row: RowOf, make_account: MakeAccount
) -> None:
    make_account("jss-holder", whatsapp_number=mobile(5))
    rows = [
        row(line, f"jss-{line}", whatsapp_number=typed(line) if line % 2 else "", email="x" if line % 7 == 0 else "")
        for line in range(2, 40)
    ]
    rows[3] = row(5, "jss-5", whatsapp_number=typed(5))  # deferred: its number is held, refused at the end
    reported: list[int] = []
    checkpoints: list[tuple[int, set[int]]] = []

    importer(db, clock).run(
        rows,
        lambda outcome: reported.append(outcome.line),
        checkpoint=lambda line: checkpoints.append((line, set(reported))),
    )

    values = [line for line, _ in checkpoints]
    assert len(values) >= 2
    assert values == sorted(values)
    assert values[-1] > max(source.line for source in rows)
    for line, seen in checkpoints:
        assert {source.line for source in rows if source.line < line} <= seen
    assert all(line <= 5 for line in values[:-1])  # the deferred row holds every checkpoint back


def test_a_run_without_rows_checkpoints_its_end(db: Dynamo, clock: FakeClock) -> None:
    checkpoints: list[int] = []
    summary = importer(db, clock).run([], lambda _outcome: None, checkpoint=checkpoints.append)
    assert summary == ImportSummary()
    assert checkpoints == [1]


# ================================================================= the lease


def test_the_lease_is_held_during_the_run_and_gone_after_it(
    db: Dynamo, clock: FakeClock, row: RowOf, scan: Scan
) -> None:
    mirror = AccountMirror(db, TABLE, clock=clock)
    seen: list[dict[str, Any] | None] = []

    def report(_outcome: RowOutcome) -> None:
        if not seen:
            seen.append(db.get(TABLE, {"pk": "IMPORT#lease"}))
            with pytest.raises(ImportInProgress):  # the sync cannot create accounts meanwhile
                mirror.apply(JssChange("jss-sync", JUNE_1_MS, {"phone_number": "+6281298765432"}, whole=True))

    importer(db, clock).run([row(2, "jss-a"), row(3, "jss-b", email="bad")], report)

    [lease] = seen
    assert lease is not None
    assert lease["expires_ms"] == (1_750_000_000 + 120) * 1000
    assert "IMPORT#lease" not in items(scan)
    assert db.get(TABLE, account_key("jss-sync")) is None
    assert mirror.apply(JssChange("jss-sync", JUNE_1_MS, {"phone_number": "+6281298765432"}, whole=True)) == "created"


def test_the_lease_is_released_when_the_run_fails(db: Dynamo, clock: FakeClock, row: RowOf, scan: Scan) -> None:
    def rows() -> Iterator[SourceRow]:
        yield row(2, "jss-a")
        raise OSError("the file went away")

    with pytest.raises(OSError, match="went away"):
        importer(db, clock).run(rows(), lambda _outcome: None)
    assert "IMPORT#lease" not in items(scan)


def test_a_run_while_another_import_holds_the_lease_writes_nothing(
    db: Dynamo, clock: FakeClock, row: RowOf, scan: Scan
) -> None:
    hold_lease(db, expires_ms=int(clock() * 1000) + 1)
    read: list[int] = []

    def rows() -> Iterator[SourceRow]:
        for source in [row(2, "jss-a", whatsapp_number=typed(1)), row(3, "jss-b")]:
            read.append(source.line)
            yield source

    with pytest.raises(ImportRunning):
        importer(db, clock).run(rows(), lambda _outcome: None)

    assert read == []
    assert list(items(scan)) == ["IMPORT#lease"]
    assert items(scan)["IMPORT#lease"]["run_id"] == "another-import"


def test_an_expired_lease_of_another_import_is_taken_over(db: Dynamo, clock: FakeClock, row: RowOf, scan: Scan) -> None:
    hold_lease(db, expires_ms=int(clock() * 1000) - 1)
    summary, _ = run_import(db, clock, [row(2, "jss-a")])
    assert summary.created == 1
    assert "IMPORT#lease" not in items(scan)


# ================================================================= BatchWriteItem


def test_batch_write_carries_exactly_the_new_accounts(
    db: Dynamo, clock: FakeClock, row: RowOf, make_account: MakeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New accounts go in bulk, their numbers claimed first on condition; updates and claims never do."""
    make_account("jss-holder", whatsapp_number=mobile(9))
    run_import(db, clock, [row(2, "jss-old", whatsapp_number=typed(1))])
    written: list[dict[str, Any]] = []
    real_batch_write = db.batch_write

    def spy(table: str, batch: list[Any]) -> None:
        written.extend(dict(item) for item in batch)
        real_batch_write(table, batch)

    monkeypatch.setattr(db, "batch_write", spy)

    _, reported = run_import(
        db,
        clock,
        [
            row(2, "jss-old", whatsapp_number=typed(2), updated_at=JUNE_2),
            row(3, "jss-new-plain"),
            row(4, "jss-new-numbered", whatsapp_number=typed(4)),
            row(5, "jss-new-held", whatsapp_number=typed(9)),
            row(6, "jss-new-refused", email="bad"),
        ],
    )

    assert sorted(str(item["pk"]) for item in written) == ["ACCOUNT#jss-new-numbered", "ACCOUNT#jss-new-plain"]
    assert [(outcome.line, outcome.outcome) for outcome in reported] == [
        (2, "updated"),
        (3, "created"),
        (4, "created"),
        (5, "refused"),
        (6, "refused"),
    ]
    assert owner(db, mobile(4)) == "jss-new-numbered"
    assert owner(db, mobile(2)) == "jss-old"


def test_a_number_passed_along_a_chain_of_accounts_lands_whatever_the_order_of_the_rows(
    db: Dynamo, clock: FakeClock, row: RowOf
) -> None:
    run_import(db, clock, [row(2, "jss-p", whatsapp_number=typed(1)), row(3, "jss-q", whatsapp_number=typed(2))])

    summary, _ = run_import(
        db,
        clock,
        [
            row(2, "jss-r", whatsapp_number=typed(2)),
            row(3, "jss-q", whatsapp_number=typed(1), updated_at=JUNE_2),
            row(4, "jss-p", whatsapp_number=typed(3), updated_at=JUNE_2),
        ],
    )

    assert not summary.refused
    assert (owner(db, mobile(1)), owner(db, mobile(2)), owner(db, mobile(3))) == ("jss-q", "jss-r", "jss-p")


def test_two_accounts_swapping_their_numbers_in_one_export_both_land(db: Dynamo, clock: FakeClock, row: RowOf) -> None:
    run_import(db, clock, [row(2, "jss-p", whatsapp_number=typed(1)), row(3, "jss-q", whatsapp_number=typed(2))])

    summary, _ = run_import(
        db,
        clock,
        [
            row(2, "jss-p", whatsapp_number=typed(2), updated_at=JUNE_2),
            row(3, "jss-q", whatsapp_number=typed(1), updated_at=JUNE_2),
        ],
    )

    assert not summary.refused
    assert (owner(db, mobile(1)), owner(db, mobile(2))) == ("jss-q", "jss-p")


def test_three_accounts_passing_their_numbers_round_in_one_export_all_land(
    db: Dynamo, clock: FakeClock, row: RowOf, scan: Scan
) -> None:
    accounts = ("jss-p", "jss-q", "jss-r")
    run_import(db, clock, [row(n + 2, account, whatsapp_number=typed(n)) for n, account in enumerate(accounts)])

    summary, _ = run_import(
        db,
        clock,
        [
            row(n + 2, account, whatsapp_number=typed((n + 1) % 3), updated_at=JUNE_2)
            for n, account in enumerate(accounts)
        ],
    )

    assert not summary.refused
    assert summary.updated == 3
    assert [owner(db, mobile(n)) for n in range(3)] == ["jss-r", "jss-p", "jss-q"]
    claims = [item for key, item in items(scan).items() if key.startswith("NUMBER#")]
    assert len(claims) == 3  # nothing released that was not taken again, nothing left behind
