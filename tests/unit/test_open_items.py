"""'One open item per account' (shared/domain/open_items.py), the one place that replaces an account's open
flow or email code, on moto."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.dynamo import Dynamo, Transaction
from shared.config import Settings
from shared.domain.open_items import OpenPointer, replace_open_item
from shared.errors import ServiceError

POINTER = {"pk": "ACTIVE#test#jss-1001"}


class Opener:
    """Opens items named ``item-N`` and records which previous items it was asked to close."""

    def __init__(self, db: Dynamo, table: str) -> None:
        self.db, self.table = db, table
        self.closed: list[str] = []
        self.meanwhile: list[Any] = []  # callables run while the next transaction is being built
        self.after_read: list[Any] = []  # callables run right after the previous item was read

    def open(self, new_id: str, expires_at: int = 1_750_000_600, seen: OpenPointer | None = None) -> None:
        def write_new(tx: Transaction) -> None:
            if self.meanwhile:
                self.meanwhile.pop(0)()
            tx.put("item", self.table, {"pk": f"ITEM#{new_id}", "status": "open"}, "attribute_not_exists(pk)")

        def close_previous(tx: Transaction, previous_id: str) -> None:
            # Like the real callers: read the previous item, and close it only if it is still open.
            self.closed.append(previous_id)
            previous = self.db.get(self.table, {"pk": f"ITEM#{previous_id}"})
            if self.after_read:
                self.after_read.pop(0)()
            if not previous or previous["status"] != "open":
                return
            tx.update(
                "previous",
                self.table,
                {"pk": f"ITEM#{previous_id}"},
                "SET #status = :closed",
                "#status = :open",
                closed="closed",
                open="open",
            )

        replace_open_item(
            self.db,
            self.table,
            POINTER,
            new_id,
            expires_at,
            write_new=write_new,
            close_previous=close_previous,
            seen=seen,
        )

    def pointer(self) -> dict[str, Any] | None:
        return self.db.get(self.table, POINTER)

    def status(self, item_id: str) -> str:
        item = self.db.get(self.table, {"pk": f"ITEM#{item_id}"})
        assert item is not None
        return str(item["status"])


@pytest.fixture
def opener(db: Dynamo, config: Settings) -> Opener:
    return Opener(db, config.tokens_table)


def test_the_first_item_opens_without_closing_anything(opener: Opener) -> None:
    opener.open("item-1", 1_750_000_600)
    assert opener.pointer() == {**POINTER, "open_id": "item-1", "ttl": 1_750_000_600}
    assert opener.closed == []
    assert opener.status("item-1") == "open"


def test_a_new_item_replaces_the_open_one(opener: Opener) -> None:
    opener.open("item-1")
    opener.open("item-2", 1_750_000_900)
    assert opener.closed == ["item-1"]
    assert opener.pointer() == {**POINTER, "open_id": "item-2", "ttl": 1_750_000_900}
    assert (opener.status("item-1"), opener.status("item-2")) == ("closed", "open")


def test_a_pointer_moved_meanwhile_is_read_again(opener: Opener) -> None:
    opener.open("item-1")
    opener.meanwhile.append(lambda: Opener(opener.db, opener.table).open("item-x"))  # a parallel start wins
    opener.open("item-2")
    assert opener.closed == ["item-1", "item-x"]  # the second attempt closes what the winner opened
    assert opener.pointer()["open_id"] == "item-2"  # type: ignore[index]
    assert [opener.status(i) for i in ("item-1", "item-x", "item-2")] == ["closed", "closed", "open"]


def test_a_first_open_racing_another_first_open_is_read_again(opener: Opener) -> None:
    opener.meanwhile.append(lambda: Opener(opener.db, opener.table).open("item-x"))
    opener.open("item-1")
    assert opener.closed == ["item-x"]
    assert opener.pointer()["open_id"] == "item-1"  # type: ignore[index]
    assert (opener.status("item-x"), opener.status("item-1")) == ("closed", "open")


def test_a_previous_item_closed_meanwhile_is_read_again(opener: Opener) -> None:
    opener.open("item-1")

    def closed_elsewhere() -> None:
        opener.db.update(opener.table, {"pk": "ITEM#item-1"}, "SET #status = :done", done="done")

    opener.after_read.append(closed_elsewhere)  # e.g. the webhook finished the previous flow
    opener.open("item-2")
    assert opener.closed == ["item-1", "item-1"]  # read again; then it had nothing left to close
    assert opener.pointer()["open_id"] == "item-2"  # type: ignore[index]
    assert opener.status("item-2") == "open"
    assert opener.status("item-1") == "done"  # the other outcome stands


def test_always_contended_gives_up_without_writing(opener: Opener) -> None:
    opener.open("item-1")
    racers = iter(range(100))
    opener.meanwhile.extend((lambda: Opener(opener.db, opener.table).open(f"item-x{next(racers)}")) for _ in range(10))
    with pytest.raises(ServiceError) as busy:
        opener.open("item-2")
    assert (busy.value.code, busy.value.status, busy.value.retry_after) == ("busy", 429, 1)
    assert opener.db.get(opener.table, {"pk": "ITEM#item-2"}) is None
    assert opener.pointer()["open_id"] != "item-2"  # type: ignore[index]


def test_a_pointer_read_already_is_used_as_read(opener: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    opener.open("item-1")
    seen = OpenPointer.of(opener.pointer())
    reads: list[Any] = []
    get = opener.db.get
    monkeypatch.setattr(opener.db, "get", lambda table, key: reads.append(key) or get(table, key))
    opener.open("item-2", seen=seen)
    assert POINTER not in reads  # only the previous item was read, to close it
    assert opener.closed == ["item-1"]
    assert (opener.status("item-1"), opener.status("item-2")) == ("closed", "open")


@pytest.mark.parametrize("stale", [None, "item-0"], ids=["no-pointer-then", "another-item-then"])
def test_a_pointer_read_before_it_moved_loses_the_race_and_is_read_again(opener: Opener, stale: str | None) -> None:
    opener.open("item-1")  # after the caller read the pointer
    opener.open("item-2", seen=OpenPointer(stale))
    assert opener.closed[-1] == "item-1"  # the second attempt closes what is open now
    assert opener.pointer()["open_id"] == "item-2"  # type: ignore[index]
    assert (opener.status("item-1"), opener.status("item-2")) == ("closed", "open")
