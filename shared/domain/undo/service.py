"""What a "Bukan saya" link shows, and the confirmation that puts the previous number back.

Showing never writes (mail scanners and chat apps fetch links). Confirming is one transaction:

- the undo record is marked used, on condition it was not and has not expired;
- the account gets the previous number back (with how it was verified), a day's block on number
  changes (``number_changes_blocked_until``) and ``version + 1``, on condition of the version read,
  whose read showed the undone change as still the account's latest number change (the new number,
  and the change's own ``whatsapp_number_changed_ms``: an unrelated update, such as the owner's
  password reset arriving from JSS first, does not stand in the way);
- the previous number's claim is put back on condition it is free or already this account's, and
  the new number's claim is released on condition it is not another account's;
- an audit record (``undone_by_owner``) and a ``WhatsAppNumberChanged`` event with journey ``undo``
  and ``end_sessions``: JSS updates the profile and ends the account's sessions.

Lost only to a newer version of the account (or a clash), it is read, judged and tried again; every
other case is refused with what happened and who to contact: ``undo_used``, ``undo_expired``,
``undo_superseded`` (the number changed again since), ``undo_number_taken`` (another account holds
the previous number now), ``undo_not_found``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction, back_off
from shared.adapters.keys import number_fingerprint
from shared.config import Settings
from shared.domain.accounts import (
    Account,
    AccountRegistry,
    ChangeMethod,
    VerifiedVia,
    account_from_item,
    account_key,
    changed_ms_attribute,
    claim_key_of,
    claim_owner,
    number_claim_key,
)
from shared.domain.change_events import NumberChanged, stage_event
from shared.domain.change_notices import ChangeNotices
from shared.domain.number_change import audit_key, stage_audit
from shared.domain.phone import mask_number
from shared.domain.undo.records import UndoRecord, undo_key
from shared.errors import ServiceError
from shared.observability import logger, metrics, tracer

_ATTEMPTS = 5
# Lost to a newer version of the account, or to a parallel use of the link: read and judge again.
_READ_AGAIN = frozenset({"account", "audit", "undo"})
_FREE_OR_OURS = "attribute_not_exists(pk) OR account_id = :account"


class UndoStatus(StrEnum):
    READY = "ready"
    """The change can be undone now: the page offers the button."""
    UNDONE = "undone"
    SUPERSEDED = "superseded"
    NUMBER_TAKEN = "number_taken"


_REFUSAL = {
    UndoStatus.UNDONE: "undo_used",
    UndoStatus.SUPERSEDED: "undo_superseded",
    UndoStatus.NUMBER_TAKEN: "undo_number_taken",
}


@dataclass(frozen=True)
class UndoView:
    """What the link's page shows: masked numbers and times, never a clear number."""

    status: UndoStatus
    previous_masked: str
    new_masked: str
    changed_at: int
    expires_at: int
    undone_at: int | None = None
    blocked_until: int | None = None

    @property
    def refusal(self) -> ServiceError | None:
        """Why a confirmation would be refused in this state (None when it may go ahead)."""
        code = _REFUSAL.get(self.status)
        return ServiceError(code) if code else None


class NumberChangeUndo:
    def __init__(
        self, db: Dynamo, settings: Settings, notices: ChangeNotices, clock: Callable[[], float] = time.time
    ) -> None:
        self.db = db
        self.settings = settings
        self.notices = notices
        self.clock = clock
        self.accounts = AccountRegistry(db, settings)

    @tracer.capture_method(capture_response=False)
    def view(self, token: str) -> UndoView:
        """The link's page: what would be undone, or what happened. Never changes state."""
        record = self._open(token)
        if record.used_at is not None:
            return self._view(record, UndoStatus.UNDONE)
        status, _ = self._judge(record)
        return self._view(record, status)

    @tracer.capture_method(capture_response=False)
    def confirm(self, token: str) -> UndoView:
        """Puts the previous number back, or refuses with why (``ServiceError``)."""
        for attempt in range(_ATTEMPTS):
            if attempt:
                back_off(attempt - 1)
            record = self._open(token)
            if record.used_at is not None:
                raise ServiceError("undo_used")
            status, account = self._judge(record)
            if status is not UndoStatus.READY:
                raise ServiceError(_REFUSAL[status])
            previous = record.previous_number(token)
            if previous is None:  # the token does not open it: damaged, or sealed before a key rotation
                logger.error("undo record unreadable", extra={"audit_id": record.audit_id})
                raise ServiceError("undo_not_found")
            now = int(self.clock())
            tx = self.db.transaction()
            audit_id = self._stage(tx, token, record, account, previous, now)
            try:
                tx.commit()
            except ConditionFailed as failed:
                if "claim" in failed.labels:
                    raise ServiceError("undo_number_taken") from None  # taken between the read and the write
                if "new_claim" in failed.labels:
                    raise ServiceError("undo_superseded") from None
                if failed.labels - _READ_AGAIN:
                    raise
                continue
            metrics.add_metric(name="NumberChangeUndone", unit="Count", value=1)
            logger.info("number change undone", extra={"audit_id": audit_id, "undoes": record.audit_id})
            self.notices.number_restored(account, previous, record, audit_id, now)
            return self._view(record, UndoStatus.UNDONE, undone_at=now)
        metrics.add_metric(name="NumberChangeContended", unit="Count", value=1)
        raise ServiceError("busy", retry_after=1)

    def _open(self, token: str) -> UndoRecord:
        """The link's record while it may be shown: a used one says so until it is removed."""
        item = self.db.get(self.settings.tokens_table, undo_key(token))
        if item is None:
            raise ServiceError("undo_not_found")
        record = UndoRecord.from_item(item)
        if record.used_at is None and self.clock() >= record.expires_at:
            raise ServiceError("undo_expired")
        return record

    def _judge(self, record: UndoRecord) -> tuple[UndoStatus, Account]:
        """Whether the change can be undone now, from the account and the previous number's claim
        (read together); with the account as read, whose version the write is conditioned on."""
        table = self.settings.accounts_table
        account_item, claim = self.db.batch_read(
            [self.accounts.ref(record.account_id), (table, claim_key_of(record.previous_hash))]
        )
        account = account_from_item(account_item)
        if account is None or account_item is None:
            raise ServiceError("account_not_found")
        if not _still_latest(record, account, account_item):
            return UndoStatus.SUPERSEDED, account
        if claim_owner(claim) not in (None, account.account_id):
            return UndoStatus.NUMBER_TAKEN, account
        return UndoStatus.READY, account

    def _stage(self, tx: Transaction, token: str, record: UndoRecord, account: Account, previous: str, now: int) -> str:
        """Adds the whole undo to ``tx``; returns its audit id."""
        table, account_id = self.settings.accounts_table, account.account_id
        replaced = account.whatsapp_number or ""  # _still_latest: the undone change's new number
        via = record.previous_via
        assignments = [
            "whatsapp_number = :previous",
            f"{changed_ms_attribute('whatsapp_number')} = :now_ms",
            "number_changes_blocked_until = :until",
            "version = :next_version",
        ]
        values: dict[str, Any] = {}
        if via:
            assignments.append("whatsapp_verified_via = :via")
            values["via"] = via
        # The chain of changes this link closes is over: a later change starts a new one.
        removed = ["open_undo", "open_undo_until"] + ([] if via else ["whatsapp_verified_via"])
        expression = "SET " + ", ".join(assignments) + " REMOVE " + ", ".join(removed)
        tx.update(
            "account",
            table,
            account_key(account_id),
            expression,
            "attribute_exists(pk) AND attribute_not_exists(deleted_ms) AND version = :version",
            previous=previous,
            now_ms=now * 1000,
            until=now + self.settings.undo_block_seconds,
            version=account.version,
            next_version=account.version + 1,
            **values,
        )
        claim = {**number_claim_key(previous), "account_id": account_id, "claimed_at": now}
        tx.put("claim", table, claim, _FREE_OR_OURS, account=account_id)
        tx.delete("new_claim", table, number_claim_key(replaced), _FREE_OR_OURS, account=account_id)
        tx.update(
            "undo",
            self.settings.tokens_table,
            undo_key(token),
            "SET used_at = :now",
            "attribute_exists(pk) AND attribute_not_exists(used_at) AND expires_at > :now",
            now=now,
        )
        audit_id = audit_key(account.version + 1)
        method = ChangeMethod.UNDONE_BY_OWNER
        # flow_id: for an undo, the audit record of the change it undid.
        stage_audit(
            tx,
            self.settings.audit_table,
            "audit",
            account_id,
            audit_id,
            now,
            method,
            record.audit_id,
            replaced,
            previous,
        )
        event = NumberChanged(
            account_id=account_id,
            whatsapp_number=previous,
            whatsapp_verified=via == VerifiedVia.WHATSAPP,
            previous_number_masked=mask_number(replaced),
            journey="undo",
            phone_number_replaced=False,
            changed_at=now,
            audit_id=audit_id,
            end_sessions=True,
            undoes_audit_id=record.audit_id,
        )
        stage_event(tx, self.settings.outbox_table, event)
        return audit_id

    def _view(self, record: UndoRecord, status: UndoStatus, undone_at: int | None = None) -> UndoView:
        undone_at = undone_at if undone_at is not None else record.used_at
        return UndoView(
            status=status,
            previous_masked=record.previous_masked,
            new_masked=record.new_masked,
            changed_at=record.changed_at,
            expires_at=record.expires_at,
            undone_at=undone_at,
            blocked_until=undone_at + self.settings.undo_block_seconds if undone_at is not None else None,
        )


def _still_latest(record: UndoRecord, account: Account, item: dict[str, Any]) -> bool:
    """The account still shows the undone change: its new number, stamped at the change's time."""
    number = account.whatsapp_number
    stamp = item.get(changed_ms_attribute("whatsapp_number"))
    return number is not None and number_fingerprint(number) == record.new_hash and stamp == record.changed_ms
