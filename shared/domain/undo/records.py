"""The undo record: what one "Bukan saya" link may put back, issued inside the change it undoes.

``UNDO#<keyed hash of the token>`` in the tokens table, put by the very transaction that replaces
the number (``NumberChanges.commit``), so a link exists if and only if the change committed. It holds
no clear number and no token: the previous number is sealed with the link's token (AES-256-GCM,
``shared.domain.sealing``), so only the holder of the link can restore it; both numbers are kept
masked (for the page) and fingerprinted (to find their claims). The token itself goes out only in
the change's notices. Rotating ``TOKEN_HMAC_KEY`` ends the links issued before (like every token).

Only a change that *replaces* an existing WhatsApp number by the account's own journey (B1, B2) gets
one: a migration (A) binds a first number, and an account that lost an unverified number to another
account's proof is told how to prove it back instead.

**A chain of changes.** Someone with the password or the email could change the number twice, so
that the first link (sent to the owner's number) finds its change superseded, and the second one
would only put back the first intruder's number. So the account remembers its open link
(``open_undo``, ``open_undo_until``) and a change made while it is open carries its *origin* forward:
the new link puts back the number from before the first change, and the notices reach that number
too. The origin waits on each record sealed at rest as well (server key), since the later change has
no earlier token to open it with.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from shared.adapters.dynamo import Dynamo, Transaction
from shared.adapters.keys import keyed_hash, number_fingerprint
from shared.domain.accounts import Account, ChangeMethod
from shared.domain.phone import mask_number

TOKEN_BYTES = 32
UNDOABLE = frozenset({ChangeMethod.WHATSAPP_CHANGE, ChangeMethod.EMAIL_CHANGE})
KEEP_AFTER_EXPIRY_SECONDS = 86400
"""An expired or used link still says so for a day, then TTL removes it (and it is not known at all)."""


def undo_key(token: str) -> dict[str, str]:
    return {"pk": f"UNDO#{keyed_hash('undo', token)}"}


def undo_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url}/u/{token}"


def undoable(method: str, old: str | None, new: str) -> bool:
    """Whether a change by ``method`` from ``old`` to ``new`` gets a "Bukan saya" link."""
    return method in UNDOABLE and old is not None and old != new


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class UndoRecord:
    account_id: str
    audit_id: str
    """The undone change's audit record (and its event's ``audit_id``)."""
    method: str
    changed_at: int
    changed_ms: int
    """The change's ``whatsapp_number_changed_ms``: while the account still shows it, with the new
    number, the change is still the account's latest number change (other fields may change)."""
    previous_sealed: str
    previous_masked: str
    previous_hash: str
    new_masked: str
    new_hash: str
    expires_at: int
    previous_via: str | None = None
    """How the previous number was verified (absent for a number JSS recorded without saying)."""
    used_at: int | None = None
    previous_at_rest: str | None = None
    """The previous number sealed with the server key: for a later change to carry it forward."""

    @property
    def context(self) -> str:
        """What the sealed number is bound to: it cannot be moved to another record."""
        return f"undo#{self.account_id}#{self.audit_id}"

    def previous_number(self, token: str) -> str | None:
        """The number to restore, or None when this token does not open it (damaged, or sealed
        before a key rotation)."""
        from shared.domain.sealing import unseal

        return unseal(token, self.context, self.previous_sealed)

    def previous_for_a_later_change(self) -> str | None:
        from shared.domain.sealing import unseal_at_rest

        return unseal_at_rest(self.context, self.previous_at_rest) if self.previous_at_rest else None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> UndoRecord:
        fields = {name: item[name] for name in cls.__dataclass_fields__ if name in item}
        return cls(**fields)

    def to_item(self, token: str) -> dict[str, Any]:
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {**undo_key(token), **fields, "ttl": self.expires_at + KEEP_AFTER_EXPIRY_SECONDS}


@dataclass(frozen=True)
class Origin:
    """The number an open link would put back, carried to the link of a later change."""

    number: str
    via: str | None


def open_origin(db: Dynamo, table: str, account: Account, now: float) -> Origin | None:
    """The origin of the account's link still open (unused, unexpired), if it has one."""
    if not account.open_undo or (account.open_undo_until or 0) <= now:
        return None
    item = db.get(table, {"pk": account.open_undo})
    if item is None:
        return None
    record = UndoRecord.from_item(item)
    number = record.previous_for_a_later_change()
    if record.used_at is not None or number is None:
        return None
    return Origin(number, record.previous_via)


def stage_issue(
    tx: Transaction,
    table: str,
    token: str,
    account: Account,
    new_number: str,
    *,
    method: str,
    audit_id: str,
    moment: float,
    valid_seconds: int,
    origin: Origin | None = None,
) -> None:
    """Adds the undo record of the change from ``account`` (as read) to ``new_number`` to ``tx``,
    under the label ``undo`` (its key is new: it cannot fail). ``origin``: what an open link of an
    earlier change would put back, which this one puts back instead."""
    from shared.domain.sealing import seal, seal_at_rest

    previous = origin.number if origin else account.whatsapp_number
    via = origin.via if origin else account.whatsapp_verified_via
    if previous is None:
        raise ValueError("only a change that replaces a number can be undone")
    now = int(moment)
    record = UndoRecord(
        account_id=account.account_id,
        audit_id=audit_id,
        method=method,
        changed_at=now,
        changed_ms=int(moment * 1000),
        previous_sealed="",
        previous_via=via,
        previous_masked=mask_number(previous),
        previous_hash=number_fingerprint(previous),
        new_masked=mask_number(new_number),
        new_hash=number_fingerprint(new_number),
        expires_at=now + valid_seconds,
    )
    sealed = {"previous_sealed": seal(token, record.context, previous)}
    sealed["previous_at_rest"] = seal_at_rest(record.context, previous)
    tx.put("undo", table, {**record.to_item(token), **sealed}, "attribute_not_exists(pk)")
