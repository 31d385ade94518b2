"""One change of an account's WhatsApp number, all or nothing, and who may take a number from whom.

Every journey (A, B1, B2) commits its change here, in one transaction with its own single-use
credential: the account (on its ``version``), the number claim, the release of the old claim, an
audit record and the event for JSS.

**The takeover rule.** A number is *verified* on an account when WhatsApp itself proved it (A or
B1: the citizen sent a message from it); a number set with an email code (B2) or recorded by JSS is
held *unverified*. Proof beats a claim: a WhatsApp proof takes the number over from an unverified
holder in the same transaction that binds it. The holder loses the number (audited, an event for
JSS, an email), and can prove it back only from that phone. A verified holder is never displaced
this way, and B2 never takes a number anyone holds. (``docs/data-model.md``, "Number claims".)

**Bukan saya.** A B1 or B2 change that replaces a number issues, in the same transaction, the
single-use link that puts the previous number back (``shared.domain.undo``). Once a change was put
back that way, the account's number cannot change for a day (``number_changes_blocked_until``):
``commit`` refuses it, whatever journey asks, so nothing slips through.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.adapters.dynamo import ConditionFailed, Transaction, back_off
from shared.adapters.keys import number_fingerprint
from shared.clock import iso, wib_datetime
from shared.domain.accounts import (
    VERIFIED_VIA,
    Account,
    AccountRegistry,
    ChangeMethod,
    VerifiedVia,
    account_key,
    changed_ms_attribute,
    number_claim_key,
)
from shared.domain.phone import mask_number
from shared.errors import ServiceError
from shared.observability import metrics

_ATTEMPTS = 5
_PROVEN_BY_WHATSAPP = {ChangeMethod.WHATSAPP_MIGRATION, ChangeMethod.WHATSAPP_CHANGE}
# An audit key is the version after the change: a stale read loses its audit put with its account update.
_RETRY_LABELS = {"account", "audit", "claim", "displaced", "displaced_audit"}


def audit_key(version: int) -> str:
    """An audit record's sort key: the account's version after the change, so one account's records
    sort exactly in the order of its changes (``v`` sorts after the older time-based keys)."""
    return f"v{version:012d}"


class NumberHeld(Exception):
    """The number belongs to another account, verified there or out of this change's reach."""


@dataclass(frozen=True)
class CommittedChange:
    before: Account
    """The account as it was just before the change."""
    at: int
    displaced: Account | None = None
    """The account the number was taken from (as it was before), when a WhatsApp proof took it over."""
    undo: IssuedUndo | None = None
    """The "Bukan saya" link, when the change replaced a number (B1, B2): for the notices only."""

    @property
    def audit_id(self) -> str:
        return audit_key(self.before.version + 1)

    @property
    def undo_token(self) -> str | None:
        return self.undo.token if self.undo else None


@dataclass(frozen=True)
class IssuedUndo:
    token: str
    key: str
    """The record's key, which the account keeps (``open_undo``) until ``until``."""
    until: int
    origin: str | None = None
    """The number the link puts back when an earlier change's open link carried it forward (it is
    not the number this change replaced): the notices warn it too."""


_BLOCKED_METHODS = frozenset({ChangeMethod.WHATSAPP_CHANGE, ChangeMethod.EMAIL_CHANGE})
"""What the block after an undo refuses: the journeys that replace a number. (An undo leaves the
account with a number, so a migration, which binds a first one, cannot meet the block.)"""


def refuse_while_blocked(account: Account, now: float) -> None:
    """``number_changes_blocked`` (429, ``Retry-After``) while an undo blocks the account's number."""
    wait = account.number_changes_blocked_for(now)
    if wait:
        until = account.number_changes_blocked_until or 0
        metrics.add_metric(name="NumberChangeBlocked", unit="Count", value=1)
        raise ServiceError(
            "number_changes_blocked", retry_after=wait, locked_until=iso(until), text_locked_until=wib_datetime(until)
        )


class NumberChanges:
    def __init__(self, accounts: AccountRegistry) -> None:
        self.accounts = accounts
        self.db = accounts.db
        self.settings = accounts.settings

    def commit(
        self,
        account_id: str,
        new_number: str,
        method: str,
        reference: str,
        *,
        clock: Callable[[], float],
        check: Callable[[Account], None],
        stage: Callable[[Transaction, int], None],
        also_phone_number: bool = False,
        known: Account | None = None,
    ) -> CommittedChange:
        """Reads the account, lets ``check`` refuse it (by raising), and commits the journey's own
        ``stage`` (consuming its flow or token) together with the number change, all or nothing.
        A B1 or B2 change is refused while an undo blocks the account (``refuse_while_blocked``), and
        one that replaces a number issues its "Bukan saya" link in the same transaction.
        ``known``: the account as the journey read it a moment ago, used instead of the first read
        (the update is conditioned on its ``version`` all the same); every retry reads it again.

        Read again and retried when only the account (or the holder being displaced) changed
        meanwhile, or transactions clashed. A number held elsewhere is taken over when the rule above
        allows it; otherwise, and for any other lost condition, ``ConditionFailed`` names it
        (``claim``, or a label of ``stage``). An account that keeps changing under every attempt is
        ``busy`` (429 with ``Retry-After``), with nothing written.
        """
        displacing: Account | None = None
        for attempt in range(_ATTEMPTS):
            if attempt:
                back_off(attempt - 1)
            account = known if attempt == 0 and known is not None else self.accounts.require(account_id)
            moment = clock()
            if method in _BLOCKED_METHODS:
                refuse_while_blocked(account, moment)  # the account's version is the write's condition
            check(account)
            tx = self.db.transaction()
            stage(tx, int(moment))
            undo = self._issue_undo(tx, account, new_number, method, moment)
            self.stage(tx, account, new_number, method, reference, moment, also_phone_number, displacing, undo)
            try:
                tx.commit()
            except ConditionFailed as failed:
                if failed.labels - _RETRY_LABELS:
                    raise  # the journey's own credential was used meanwhile
                if "claim" in failed.labels:
                    try:
                        displacing = self.holder_to_displace(new_number, account_id, method)
                    except NumberHeld:
                        raise failed from None
                elif "displaced" in failed.labels:
                    displacing = None  # the holder changed: the claim tells again who holds it
                continue
            return CommittedChange(account, int(moment), displacing, undo)
        # Nothing was written: the journey's flow or token is still usable, so the client may retry.
        metrics.add_metric(name="NumberChangeContended", unit="Count", value=1)
        raise ServiceError("busy", retry_after=1)

    def _issue_undo(
        self, tx: Transaction, account: Account, new_number: str, method: str, moment: float
    ) -> IssuedUndo | None:
        """The change's "Bukan saya" record, when it gets one: carrying forward what the account's
        link still open would put back (``shared.domain.undo.records``)."""
        from shared.domain.undo import records

        if not records.undoable(method, account.whatsapp_number, new_number):
            return None
        table = self.settings.tokens_table
        origin = records.open_origin(self.db, table, account, moment)
        token = records.new_token()
        valid = self.settings.undo_ttl_seconds
        audit_id = audit_key(account.version + 1)
        records.stage_issue(
            tx, table, token, account, new_number, method=method, audit_id=audit_id, moment=moment,
            valid_seconds=valid, origin=origin,
        )  # fmt: skip
        return IssuedUndo(token, records.undo_key(token)["pk"], int(moment) + valid, origin.number if origin else None)

    def holder_to_displace(self, number: str, account_id: str, method: str) -> Account | None:
        """The unverified account a change by ``method`` would take ``number`` from; None when the
        number is free or already ``account_id``'s. Raises ``NumberHeld`` when it cannot be taken."""
        return self.displaceable(self.accounts.owner_of(number), number, account_id, method)

    def displaceable(self, owner: str | None, number: str, account_id: str, method: str) -> Account | None:
        """``holder_to_displace`` for a claim read already: ``owner`` is the account it names."""
        if owner is None or owner == account_id:
            return None
        if method not in _PROVEN_BY_WHATSAPP:
            raise NumberHeld(mask_number(number))  # only a WhatsApp proof takes a number over
        holder = self.accounts.get(owner)
        # A claim whose account does not (yet) show the number is an import in flight: not ours to take.
        if holder is None or holder.whatsapp_number != number or holder.whatsapp_verified:
            raise NumberHeld(mask_number(number))
        return holder

    def stage(
        self,
        tx: Transaction,
        account: Account,
        new_number: str,
        method: str,
        flow_id: str,
        moment: float,
        also_phone_number: bool = False,
        displacing: Account | None = None,
        undo: IssuedUndo | None = None,
    ) -> None:
        """Adds to ``tx`` everything one change of WhatsApp number consists of (and, with ``undo``,
        the account remembers its link as open).

        The account must be unchanged since it was read (``version``), the new number must be free,
        already ours, or held by ``displacing`` (which loses it, see ``_stage_takeover``); the old
        claim is released, an audit record is appended, and the ``WhatsAppNumberChanged`` event for
        JSS is put in the outbox (``shared.domain.change_events``). Condition failures are reported
        under the labels ``account``, ``claim``, ``old_claim`` and ``audit``, and for a takeover
        ``displaced`` and ``displaced_audit`` (the events cannot fail: their ids are new).
        """
        from shared.domain.change_events import NumberChanged, stage_event

        now, now_ms = int(moment), int(moment * 1000)
        table = self.settings.accounts_table
        assignments = [
            "whatsapp_number = :number",
            "whatsapp_verified_via = :via",
            f"{changed_ms_attribute('whatsapp_number')} = :now_ms",
            "version = :next_version",
        ]
        if also_phone_number:
            assignments += ["phone_number = :number", f"{changed_ms_attribute('phone_number')} = :now_ms"]
        remembered: dict[str, Any] = {}
        if undo is not None:
            assignments += ["open_undo = :undo_key", "open_undo_until = :undo_until"]
            remembered = {"undo_key": undo.key, "undo_until": undo.until}
        tx.update(
            "account",
            table,
            account_key(account.account_id),
            "SET " + ", ".join(assignments),
            "attribute_exists(pk) AND attribute_not_exists(deleted_ms) AND version = :version",
            number=new_number,
            via=VERIFIED_VIA[method],
            now_ms=now_ms,
            version=account.version,
            next_version=account.version + 1,
            **remembered,
        )
        claim = {**number_claim_key(new_number), "account_id": account.account_id, "claimed_at": now}
        if displacing is None:
            free_or_ours = "attribute_not_exists(pk) OR account_id = :account"
            tx.put("claim", table, claim, free_or_ours, account=account.account_id)
        else:
            tx.put("claim", table, claim, "account_id = :holder", holder=displacing.account_id)
            self._stage_takeover(tx, displacing, new_number, flow_id, moment)
        old = account.whatsapp_number
        if old and old != new_number:
            tx.delete(
                "old_claim",
                table,
                number_claim_key(old),
                "attribute_not_exists(pk) OR account_id = :account",
                account=account.account_id,
            )
        audit_id = audit_key(account.version + 1)
        stage_audit(
            tx,
            self.settings.audit_table,
            "audit",
            account.account_id,
            audit_id,
            now,
            method=method,
            flow_id=flow_id,
            old=old,
            new=new_number,
            **(_old_phone(account.phone_number) if also_phone_number else {}),
        )
        event = NumberChanged(
            account_id=account.account_id,
            whatsapp_number=new_number,
            whatsapp_verified=VERIFIED_VIA[method] == VerifiedVia.WHATSAPP,
            previous_number_masked=mask_number(old) if old else None,
            journey=method,
            phone_number_replaced=also_phone_number,
            changed_at=now,
            audit_id=audit_id,
        )
        stage_event(tx, self.settings.outbox_table, event)

    def _stage_takeover(self, tx: Transaction, holder: Account, number: str, flow_id: str, moment: float) -> None:
        """The unverified holder loses ``number``: on condition it still holds it unverified, exactly
        as read (its ``version``), with its own audit record and event."""
        from shared.domain.change_events import NumberRemoved, stage_event

        now = int(moment)
        tx.update(
            "displaced",
            self.settings.accounts_table,
            account_key(holder.account_id),
            f"REMOVE whatsapp_number, whatsapp_verified_via SET {changed_ms_attribute('whatsapp_number')} = :now_ms, "
            "version = :next_version",
            "attribute_not_exists(deleted_ms) AND version = :version AND whatsapp_number = :number "
            "AND (attribute_not_exists(whatsapp_verified_via) OR whatsapp_verified_via <> :proven)",
            now_ms=int(moment * 1000),
            next_version=holder.version + 1,
            version=holder.version,
            number=number,
            proven=VerifiedVia.WHATSAPP,
        )
        audit_id = audit_key(holder.version + 1)
        method = ChangeMethod.TAKEN_OVER_BY_WHATSAPP_PROOF
        stage_audit(
            tx,
            self.settings.audit_table,
            "displaced_audit",
            holder.account_id,
            audit_id,
            now,
            method,
            flow_id,
            number,
            None,
        )
        removed = NumberRemoved(
            account_id=holder.account_id,
            previous_number_masked=mask_number(number),
            reason="proven_by_another_account",
            removed_at=now,
            audit_id=audit_id,
        )
        stage_event(tx, self.settings.outbox_table, removed, label="displaced_event")


def stage_audit(
    tx: Transaction,
    audit_table: str,
    label: str,
    account_id: str,
    audit_id: str,
    now: int,
    method: str,
    flow_id: str,
    old: str | None,
    new: str | None,
    **extra: Any,
) -> None:
    """Adds an audit record of ``account_id``'s version ``audit_id``: numbers masked and fingerprinted."""
    tx.put(
        label,
        audit_table,
        {
            "account_id": account_id,
            "event": audit_id,
            "at": now,
            "method": method,
            "flow_id": flow_id,
            "old_number_masked": mask_number(old) if old else None,
            "old_number_hash": number_fingerprint(old) if old else None,
            "new_number_masked": mask_number(new) if new else None,
            "new_number_hash": number_fingerprint(new) if new else None,
            **extra,
        },
        "attribute_not_exists(account_id)",  # each version of an account is written once
    )


def _old_phone(phone_number: str | None) -> dict[str, Any]:
    """Journey A replaces the phone number too; the audit keeps what it was, masked and fingerprinted."""
    if not phone_number:
        return {"phone_number_replaced": True}
    return {
        "phone_number_replaced": True,
        "old_phone_masked": mask_number(phone_number),
        "old_phone_hash": number_fingerprint(phone_number),
    }
