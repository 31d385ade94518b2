"""How a change from JSS (an import row, a sync message) lands on an account item: newest wins, per field.

Each field JSS sends (name, email, phone number, WhatsApp number with how it was verified, password
hash) keeps the time of its last change in ``<field>_changed_ms``. A change from JSS is applied to a
field only if it is newer than that time; the journeys stamp the fields they change with their own
time (``NumberChanges.stage``). So a row older than a change made through the service
never overwrites it, the same record twice changes nothing, and records arriving out of order end
where they would have in order. ``jss_changed_ms`` keeps the newest JSS time applied, against which a
deletion is judged: an account deleted in JSS becomes a tombstone without personal data, its number
claim released in the same transaction.

Items are written whole (``Put``) on condition that their ``version`` is the one read, and the number
claims move in the same transaction, so a WhatsApp number still belongs to at most one account.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction
from shared.domain.accounts import VerifiedVia, account_key, changed_ms_attribute, is_tombstone, number_claim_key
from shared.domain.jss_records import JssChange

# Fields that carry their own change time; whatsapp_verified_via travels with whatsapp_number.
TIMED_FIELDS = ("name", "email", "phone_number", "whatsapp_number", "password_hash")
_COMPANIONS = {"whatsapp_number": ("whatsapp_verified_via",)}
# While a bulk import holds this lease, nobody else creates account items (see ``account_import``).
IMPORT_LEASE_KEY = {"pk": "IMPORT#lease"}
LEASE_FREE = "attribute_not_exists(pk) OR expires_ms < :now_ms"

# "unknown": a partial change for an account this service does not have (yet): the sync waits for it.
Outcome = Literal["created", "updated", "unchanged", "unknown"]


@dataclass(frozen=True)
class Plan:
    """What one JSS change does to one account: the item to write (on condition it is still at
    ``expected_version``, or absent when None), and the number claims to take and to release."""

    outcome: Outcome
    account_id: str
    item: dict[str, Any] | None = None
    expected_version: int | None = None
    claim: str | None = None
    release: str | None = None

    @property
    def creates(self) -> bool:
        return self.outcome == "created" and self.expected_version is None

    def keys(self, *, claim_only: bool = False) -> list[str]:
        """The items the plan writes (``pk``), one transaction part each."""
        if self.item is None:
            return []
        if claim_only:
            return [number_claim_key(self.claim)["pk"]] if self.claim else []
        numbers = [n for n in (self.claim, self.release) if n]
        return [str(self.item["pk"]), *(number_claim_key(n)["pk"] for n in numbers)]


def plan(current: dict[str, Any] | None, change: JssChange) -> Plan:
    """Merges ``change`` into the account item as read (``None`` when there is none)."""
    if current is None:
        return _create(change)
    if is_tombstone(current):
        if change.at_ms <= current["deleted_ms"] or not change.whole:
            return Plan("unchanged", change.account_id)  # only a whole account, newer, brings it back
        return _create(change, version=int(current["version"]))
    if change.deleted:
        return _delete(current, change)
    return _update(current, change)


def _create(change: JssChange, version: int | None = None) -> Plan:
    if change.deleted:
        # Remembered, so that an older "created" arriving late cannot bring the account back.
        return Plan("created", change.account_id, _tombstone(change.account_id, change.at_ms, 0))
    if not change.whole:
        return Plan("unknown", change.account_id)
    item = {**account_key(change.account_id), "account_id": change.account_id, "version": (version or 0) + 1}
    for name in TIMED_FIELDS:
        item[changed_ms_attribute(name)] = change.at_ms
    item.update({k: v for k, v in change.fields.items() if v is not None})
    item["jss_changed_ms"] = change.at_ms
    return Plan("created", change.account_id, item, version, claim=change.fields.get("whatsapp_number"))


def _delete(current: dict[str, Any], change: JssChange) -> Plan:
    if change.at_ms <= current.get("jss_changed_ms", -1):
        return Plan("unchanged", change.account_id)  # JSS changed the account after this deletion
    version = int(current["version"])
    item = _tombstone(change.account_id, change.at_ms, version)
    return Plan("updated", change.account_id, item, version, release=current.get("whatsapp_number"))


def _tombstone(account_id: str, at_ms: int, version: int) -> dict[str, Any]:
    return {
        **account_key(account_id),
        "account_id": account_id,
        "deleted_ms": at_ms,
        "jss_changed_ms": at_ms,
        "version": version + 1,
    }


def _update(current: dict[str, Any], change: JssChange) -> Plan:
    item = dict(current)
    for name in change.fields:
        if name not in TIMED_FIELDS:
            continue
        stamp = changed_ms_attribute(name)
        if change.at_ms <= current.get(stamp, -1):
            continue  # the item already holds a newer value of this field
        item[stamp] = change.at_ms
        for attribute in (name, *_COMPANIONS.get(name, ())):
            _set(item, attribute, change.fields.get(attribute))
    if _proof_lost(current, item):
        item["whatsapp_verified_via"] = current["whatsapp_verified_via"]
    if change.at_ms > current.get("jss_changed_ms", -1):
        item["jss_changed_ms"] = change.at_ms
    if item == current:
        return Plan("unchanged", change.account_id)
    version = int(current["version"])
    item["version"] = version + 1
    old, new = current.get("whatsapp_number"), item.get("whatsapp_number")
    moved = old != new
    return Plan(
        "updated", change.account_id, item, version, claim=new if moved else None, release=old if moved else None
    )


def _proof_lost(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """JSS saying "not verified" of the very number this service saw proven (through WhatsApp or an
    email code) means JSS does not know of the proof, not that it went away."""
    same_number = before.get("whatsapp_number") is not None and before.get("whatsapp_number") == after.get(
        "whatsapp_number"
    )
    proven = before.get("whatsapp_verified_via") in (VerifiedVia.WHATSAPP, VerifiedVia.EMAIL)
    return same_number and proven and after.get("whatsapp_verified_via") == VerifiedVia.JSS


def _set(item: dict[str, Any], attribute: str, value: Any) -> None:
    if value is None:
        item.pop(attribute, None)
    else:
        item[attribute] = value


def claim_item(number: str, account_id: str, at: int) -> dict[str, Any]:
    return {**number_claim_key(number), "account_id": account_id, "claimed_at": at}


def stage(
    tx: Transaction,
    table: str,
    change: Plan,
    now: float,
    *,
    label: str = "",
    check_lease: bool = True,
    claim_only: bool = False,
    taking_from: str | None = None,
) -> None:
    """Adds the plan's writes to ``tx``, each part labelled ``<label>account``, ``<label>claim`` and
    ``<label>release`` (and ``<label>lease``). Creating an item checks that no import holds the lease,
    unless the caller is that import. ``claim_only``: just the claim on the new number.
    ``taking_from``: the account the number is taken from in a swap; the same transaction gives that
    account this one's old number, so nothing is released."""
    if change.item is None:
        return
    mine, account = "attribute_not_exists(pk) OR account_id = :account", change.account_id
    if taking_from is not None:
        condition = mine + " OR account_id = :partner"
        claim = claim_item(change.claim or "", account, int(now))
        tx.put(f"{label}account", table, change.item, "version = :version", version=change.expected_version)
        tx.put(f"{label}claim", table, claim, condition, account=account, partner=taking_from)
        return
    if claim_only:
        if change.claim:
            tx.put(f"{label}claim", table, claim_item(change.claim, account, int(now)), mine, account=account)
        return
    if change.expected_version is None:
        tx.put(f"{label}account", table, change.item, "attribute_not_exists(pk)")
        if check_lease:
            tx.check(f"{label}lease", table, IMPORT_LEASE_KEY, LEASE_FREE, now_ms=int(now * 1000))
    else:
        tx.put(f"{label}account", table, change.item, "version = :version", version=change.expected_version)
    if change.claim:
        tx.put(f"{label}claim", table, claim_item(change.claim, account, int(now)), mine, account=account)
    if change.release:
        tx.delete(f"{label}release", table, number_claim_key(change.release), mine, account=account)


class NumberHeldElsewhere(Exception):
    """The WhatsApp number JSS gives the account belongs to another account here."""


class ImportInProgress(Exception):
    """A bulk import holds the lease: creating an account must wait until it is over."""


class AccountChanging(Exception):
    """The account kept changing under the write (contention): try the change again later."""


class AccountMirror:
    """Applies JSS changes one account at a time: the sync consumer's path, and the import's for a
    row that lost a race (the import holds the lease itself, so it does not check it)."""

    def __init__(
        self,
        db: Dynamo,
        table: str,
        clock: Callable[[], float] = time.time,
        *,
        attempts: int = 4,
        check_lease: bool = True,
    ) -> None:
        self.db = db
        self.table = table
        self.clock = clock
        self.attempts = attempts
        self.check_lease = check_lease

    def apply(self, change: JssChange) -> Outcome:
        for _ in range(self.attempts):
            current = self.db.get(self.table, account_key(change.account_id))
            planned = plan(current, change)
            if planned.item is None:
                return planned.outcome
            tx = self.db.transaction()
            stage(tx, self.table, planned, self.clock(), check_lease=self.check_lease)
            try:
                tx.commit()
            except ConditionFailed as failed:
                if "claim" in failed.labels:
                    raise NumberHeldElsewhere(change.account_id) from None
                if "lease" in failed.labels:
                    raise ImportInProgress(change.account_id) from None
                continue  # the item changed since it was read (or transactions clashed): merge again
            return planned.outcome
        raise AccountChanging(change.account_id)
