"""JSS accounts' contact data and the rule that a WhatsApp number belongs to at most one account.

Clear phone numbers live only on the account item (the contact record this service exists to keep).
Claims and audit records hold a keyed fingerprint of the number and a masked form, never the number.

Every write of an account item is conditioned on its ``version`` and increments it, whoever writes:
the journeys here, and the JSS import and sync (``shared.domain.account_mirror``). Each field that
JSS and the journeys both change keeps the time of its last change (``<field>_changed_ms``), so a
change from JSS never overwrites a newer one (see ``account_mirror``). A deleted account leaves a
tombstone (``deleted_ms``, no personal data) that reads as no account at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction, back_off
from shared.adapters.keys import number_fingerprint
from shared.config import Settings
from shared.domain.phone import mask_number
from shared.errors import ServiceError
from shared.observability import metrics

_CHANGE_ATTEMPTS = 5


def account_key(account_id: str) -> dict[str, str]:
    return {"pk": f"ACCOUNT#{account_id}"}


def number_claim_key(e164: str) -> dict[str, str]:
    return {"pk": f"NUMBER#{number_fingerprint(e164)}"}


def changed_ms_attribute(field: str) -> str:
    """The item attribute keeping when ``field`` last changed (epoch milliseconds)."""
    return f"{field}_changed_ms"


Via = Literal["whatsapp", "email", "jss"]


class VerifiedVia:
    """How the account's WhatsApp number came to be: proven through WhatsApp, set with an email code,
    or recorded by JSS without proof."""

    WHATSAPP: Final = "whatsapp"
    EMAIL: Final = "email"
    JSS: Final = "jss"


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    whatsapp_number: str | None = None
    whatsapp_verified_via: Via | None = None
    password_hash: str | None = None
    version: int = 0

    @property
    def whatsapp_verified(self) -> bool:
        """True when WhatsApp itself proved the number (journeys A and B1), not an email code."""
        return self.whatsapp_number is not None and self.whatsapp_verified_via == VerifiedVia.WHATSAPP

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Account:
        fields = {k: item[k] for k in cls.__dataclass_fields__ if k in item}
        return cls(**fields)

    def to_item(self) -> dict[str, Any]:
        return {**account_key(self.account_id), **{k: getattr(self, k) for k in self.__dataclass_fields__}}


def is_tombstone(item: dict[str, Any]) -> bool:
    return "deleted_ms" in item


class ChangeMethod:
    WHATSAPP_MIGRATION = "whatsapp_migration"
    WHATSAPP_CHANGE = "whatsapp_change"
    EMAIL_CHANGE = "email_change"


VERIFIED_VIA: dict[str, Via] = {
    ChangeMethod.WHATSAPP_MIGRATION: VerifiedVia.WHATSAPP,
    ChangeMethod.WHATSAPP_CHANGE: VerifiedVia.WHATSAPP,
    ChangeMethod.EMAIL_CHANGE: VerifiedVia.EMAIL,
}


class AccountRegistry:
    def __init__(self, db: Dynamo, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def get(self, account_id: str) -> Account | None:
        item = self.db.get(self.settings.accounts_table, account_key(account_id))
        return Account.from_item(item) if item and not is_tombstone(item) else None

    def require(self, account_id: str) -> Account:
        """The account behind a checked token; a token for an account we do not hold is a 404."""
        account = self.get(account_id)
        if account is None:
            raise ServiceError("account_not_found")
        return account

    def save(self, account: Account) -> None:
        """Writes a whole account record (seeding and administration, never the journeys)."""
        self.db.put(self.settings.accounts_table, account.to_item())
        if account.whatsapp_number:
            self.db.put(
                self.settings.accounts_table,
                {**number_claim_key(account.whatsapp_number), "account_id": account.account_id},
            )

    def owner_of(self, e164: str) -> str | None:
        item = self.db.get(self.settings.accounts_table, number_claim_key(e164))
        return str(item["account_id"]) if item else None

    def held_by_another(self, e164: str, account_id: str) -> bool:
        """True when the number is claimed by an account other than ``account_id``."""
        return self.owner_of(e164) not in (None, account_id)

    def stage_number_change(
        self,
        tx: Transaction,
        account: Account,
        new_number: str,
        method: str,
        flow_id: str,
        moment: float,
        *,
        also_phone_number: bool = False,
    ) -> None:
        """Adds to ``tx`` everything one change of WhatsApp number consists of.

        The account must be unchanged since it was read (``version``), the new number must be free or
        already ours, the old claim is released, an audit record is appended, and the
        ``WhatsAppNumberChanged`` event for JSS is put in the outbox (``shared.domain.change_events``).
        Condition failures are reported under the labels ``account`` and ``claim``.
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
        )
        tx.put(
            "claim",
            table,
            {**number_claim_key(new_number), "account_id": account.account_id, "claimed_at": now},
            "attribute_not_exists(pk) OR account_id = :account",
            account=account.account_id,
        )
        old = account.whatsapp_number
        if old and old != new_number:
            tx.delete(
                "old_claim",
                table,
                number_claim_key(old),
                "attribute_not_exists(pk) OR account_id = :account",
                account=account.account_id,
            )
        audit_id = f"{now:012d}#{uuid.uuid4().hex}"
        tx.put(
            "audit",
            self.settings.audit_table,
            {
                "account_id": account.account_id,
                "event": audit_id,
                "at": now,
                "method": method,
                "flow_id": flow_id,
                "old_number_masked": mask_number(old) if old else None,
                "old_number_hash": number_fingerprint(old) if old else None,
                "new_number_masked": mask_number(new_number),
                "new_number_hash": number_fingerprint(new_number),
                **(_old_phone(account.phone_number) if also_phone_number else {}),
            },
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

    def commit_number_change(
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
    ) -> tuple[Account, int]:
        """Reads the account, lets ``check`` refuse it (by raising), and commits the journey's own
        ``stage`` (consuming its flow or token) together with the number change, all or nothing.

        Retried when only the account changed meanwhile (or transactions clashed without a lost
        condition); any other lost condition is raised as
        ``ConditionFailed`` naming it (``claim``, or a label of ``stage``). An account that keeps
        changing under every attempt is ``busy`` (429 with ``Retry-After``), with nothing written.
        Returns the account as it was before the change, and the time of the change.
        """
        for attempt in range(_CHANGE_ATTEMPTS):
            if attempt:
                back_off(attempt - 1)
            account = self.require(account_id)
            check(account)
            moment = clock()
            now = int(moment)
            tx = self.db.transaction()
            stage(tx, now)
            self.stage_number_change(
                tx, account, new_number, method, reference, moment, also_phone_number=also_phone_number
            )
            try:
                tx.commit()
            except ConditionFailed as failed:
                if failed.labels <= {"account"}:
                    continue  # another change of this account, or a clash in flight: read it again
                raise
            return account, now
        # Nothing was written: the journey's flow or token is still usable, so the client may retry.
        metrics.add_metric(name="NumberChangeContended", unit="Count", value=1)
        raise ServiceError("busy", retry_after=1)


def _old_phone(phone_number: str | None) -> dict[str, Any]:
    """Journey A replaces the phone number too; the audit keeps what it was, masked and fingerprinted."""
    if not phone_number:
        return {"phone_number_replaced": True}
    return {
        "phone_number_replaced": True,
        "old_phone_masked": mask_number(phone_number),
        "old_phone_hash": number_fingerprint(phone_number),
    }
