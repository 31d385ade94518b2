"""'One open item per account': a newer flow or email code replaces the one still open.

A pointer item (``ACTIVE#...``) names the account's open item. Opening a new one writes it, moves
the pointer on condition it still names what was read, and closes the previous item, in one
transaction; a lost race reads again. So two starts at the same moment leave exactly one open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.adapters.dynamo import ConditionFailed, Dynamo, Item, Transaction
from shared.errors import ServiceError

_ATTEMPTS = 4


@dataclass(frozen=True)
class OpenPointer:
    """The account's pointer as read: the open item it names, None when there is no pointer."""

    open_id: str | None

    @classmethod
    def of(cls, item: Item | None) -> OpenPointer:
        return cls(str(item["open_id"]) if item else None)


def replace_open_item(
    db: Dynamo,
    table: str,
    pointer_key: dict[str, str],
    new_id: str,
    expires_at: int,
    *,
    write_new: Callable[[Transaction], None],
    close_previous: Callable[[Transaction, str], None],
    seen: OpenPointer | None = None,
) -> None:
    """``write_new`` adds the new item to the transaction; ``close_previous`` adds whatever closes
    the previous open item (nothing, if it is already closed). ``seen``: the pointer as the caller
    read it already (with other items), for the first attempt; a lost race reads it again."""
    for attempt in range(_ATTEMPTS):
        pointer = seen if attempt == 0 and seen is not None else OpenPointer.of(db.get(table, pointer_key))
        tx = db.transaction()
        write_new(tx)
        item = {**pointer_key, "open_id": new_id, "ttl": expires_at}
        if pointer.open_id is not None:
            tx.put("pointer", table, item, "open_id = :previous", previous=pointer.open_id)
            close_previous(tx, pointer.open_id)
        else:
            tx.put("pointer", table, item, "attribute_not_exists(pk)")
        try:
            tx.commit()
            return
        except ConditionFailed:
            continue  # another request moved the pointer or closed the previous item: read again
    raise ServiceError("busy", retry_after=1)  # nothing was written: the client may simply retry
