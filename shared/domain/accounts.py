"""JSS accounts' contact data and the rule that a WhatsApp number belongs to at most one account.

Clear phone numbers live only on the account item (the contact record this service exists to keep).
Claims and audit records hold a keyed fingerprint of the number and a masked form, never the number.

Every write of an account item is conditioned on its ``version`` and increments it, whoever writes:
the journeys (``shared.domain.number_change``), and the JSS import and sync
(``shared.domain.account_mirror``). Each field that
JSS and the journeys both change keeps the time of its last change (``<field>_changed_ms``), so a
change from JSS never overwrites a newer one (see ``account_mirror``). A deleted account leaves a
tombstone (``deleted_ms``, no personal data) that reads as no account at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal

from shared.adapters.dynamo import Dynamo, ItemRef
from shared.adapters.keys import number_fingerprint
from shared.config import Settings
from shared.errors import ServiceError


def account_key(account_id: str) -> dict[str, str]:
    return {"pk": f"ACCOUNT#{account_id}"}


def number_claim_key(e164: str) -> dict[str, str]:
    return claim_key_of(number_fingerprint(e164))


def claim_key_of(fingerprint: str) -> dict[str, str]:
    """The claim of the number with this fingerprint (``number_fingerprint``)."""
    return {"pk": f"NUMBER#{fingerprint}"}


def changed_ms_attribute(field: str) -> str:
    """The item attribute keeping when ``field`` last changed (epoch milliseconds)."""
    return f"{field}_changed_ms"


Via = Literal["whatsapp", "email", "jss", "moved_away"]


class VerifiedVia:
    """How the account's WhatsApp number came to be: proven through WhatsApp, set with an email code,
    or recorded by JSS without proof."""

    WHATSAPP: Final = "whatsapp"
    EMAIL: Final = "email"
    JSS: Final = "jss"
    MOVED_AWAY: Final = "moved_away"
    """Proven through WhatsApp once; then WhatsApp said its user changed to another number."""


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
    number_changes_blocked_until: int | None = None
    """Epoch seconds: after a "Bukan saya" undo, no journey may change the number before then."""
    open_undo: str | None = None
    """The key of the last change's "Bukan saya" record, until ``open_undo_until`` (its expiry):
    a change made meanwhile carries what it would put back (``shared.domain.undo.records``)."""
    open_undo_until: int | None = None

    @property
    def whatsapp_verified(self) -> bool:
        """True when WhatsApp itself proved the number (journeys A and B1), not an email code."""
        return self.whatsapp_number is not None and self.whatsapp_verified_via == VerifiedVia.WHATSAPP

    def number_changes_blocked_for(self, now: float) -> int:
        """Seconds until the WhatsApp number may change again (0: it may now)."""
        return max(0, math.ceil((self.number_changes_blocked_until or 0) - now))

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Account:
        fields = {k: item[k] for k in cls.__dataclass_fields__ if k in item}
        return cls(**fields)

    def to_item(self) -> dict[str, Any]:
        return {**account_key(self.account_id), **{k: getattr(self, k) for k in self.__dataclass_fields__}}


def is_tombstone(item: dict[str, Any]) -> bool:
    return "deleted_ms" in item


def account_from_item(item: dict[str, Any] | None) -> Account | None:
    """The account an item holds; none for a missing item or a deleted account's tombstone."""
    return Account.from_item(item) if item and not is_tombstone(item) else None


def required(account: Account | None) -> Account:
    """The account behind a checked token; a token for an account we do not hold is a 404."""
    if account is None:
        raise ServiceError("account_not_found")
    return account


def claim_owner(item: dict[str, Any] | None) -> str | None:
    """The account a number claim item names; none when the number is free."""
    return str(item["account_id"]) if item else None


class ChangeMethod:
    WHATSAPP_MIGRATION = "whatsapp_migration"
    WHATSAPP_CHANGE = "whatsapp_change"
    EMAIL_CHANGE = "email_change"
    TAKEN_OVER_BY_WHATSAPP_PROOF = "taken_over_by_whatsapp_proof"
    """Audited on the account that lost an unverified number to another account's WhatsApp proof."""
    UNDONE_BY_OWNER = "undone_by_owner"
    """A change put back through its "Bukan saya" link (``shared.domain.undo``)."""


VERIFIED_VIA: dict[str, Via] = {
    ChangeMethod.WHATSAPP_MIGRATION: VerifiedVia.WHATSAPP,
    ChangeMethod.WHATSAPP_CHANGE: VerifiedVia.WHATSAPP,
    ChangeMethod.EMAIL_CHANGE: VerifiedVia.EMAIL,
}


class AccountRegistry:
    def __init__(self, db: Dynamo, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def ref(self, account_id: str) -> ItemRef:
        """Where the account is, for a batch read with other items (``account_from_item`` reads it)."""
        return self.settings.accounts_table, account_key(account_id)

    def claim_ref(self, e164: str) -> ItemRef:
        """Where the number's claim is, for a batch read (``claim_owner`` reads it)."""
        return self.settings.accounts_table, number_claim_key(e164)

    def get(self, account_id: str) -> Account | None:
        return account_from_item(self.db.get(*self.ref(account_id)))

    def require(self, account_id: str) -> Account:
        return required(self.get(account_id))

    def save(self, account: Account) -> None:
        """Writes a whole account record (seeding and administration, never the journeys)."""
        self.db.put(self.settings.accounts_table, account.to_item())
        if account.whatsapp_number:
            self.db.put(
                self.settings.accounts_table,
                {**number_claim_key(account.whatsapp_number), "account_id": account.account_id},
            )

    def owner_of(self, e164: str) -> str | None:
        return claim_owner(self.db.get(*self.claim_ref(e164)))


def mask_email(email: str) -> str:
    """``budi@example.com`` becomes ``b***i@example.com``. (Here, not with the numbers in
    ``shared.domain.phone``: the contact card shows it without loading phonenumbers.)"""
    local, _, domain = email.partition("@")
    if len(local) <= 2:
        return f"{local[:1]}***@{domain}"
    return f"{local[0]}***{local[-1]}@{domain}"
