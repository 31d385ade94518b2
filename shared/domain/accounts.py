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

from dataclasses import dataclass
from typing import Any, Final, Literal

from shared.adapters.dynamo import Dynamo
from shared.adapters.keys import number_fingerprint
from shared.config import Settings
from shared.errors import ServiceError


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
    TAKEN_OVER_BY_WHATSAPP_PROOF = "taken_over_by_whatsapp_proof"
    """Audited on the account that lost an unverified number to another account's WhatsApp proof."""


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
