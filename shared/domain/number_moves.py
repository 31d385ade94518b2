"""WhatsApp says a citizen moved to a new number (the ``user_changed_number`` system message).

The account's WhatsApp number is then no longer proven: the citizen no longer answers on it, and
the operator may give it to someone else. It stays on the account, marked ``moved_away`` (held
unverified, so its next owner can prove it through WhatsApp and take it, ``shared.domain.number_change``),
never replaced by the new number on WhatsApp's word alone: the citizen links it with journey B1, as
the email sent here explains. The change is audited like every other, and JSS hears of it (a
``WhatsAppNumberChanged`` event, journey ``whatsapp_moved_away``, ``whatsapp_verified: false``).
A message Meta delivers late (it retries for a week) changes nothing once the number was set or
proven again after it was sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.adapters.dynamo import ConditionFailed
from shared.adapters.mail import Mailer
from shared.domain.accounts import (
    AccountRegistry,
    VerifiedVia,
    account_from_item,
    account_key,
    changed_ms_attribute,
)
from shared.domain.change_events import NumberChanged, stage_event
from shared.domain.notifications import notify_number_moved
from shared.domain.number_change import audit_key, stage_audit
from shared.domain.phone import mask_number
from shared.observability import logger, metrics

MOVED_AWAY = "whatsapp_user_changed_number"
"""The audit method of an account whose number WhatsApp said its user left."""
MOVED_AWAY_JOURNEY = "whatsapp_moved_away"
"""The ``journey`` of its event: JSS hears that the number is no longer verified."""


@dataclass(frozen=True)
class NumberMoved:
    message_id: str
    old_number: str
    new_number: str | None
    sent_at: int


class NumberMoves:
    def __init__(self, accounts: AccountRegistry, mailer: Mailer, clock: Callable[[], float]) -> None:
        self.accounts = accounts
        self.mailer = mailer
        self.clock = clock

    def moved(self, event: NumberMoved) -> dict[str, str]:
        """Marks the account holding ``old_number`` proven through WhatsApp as unverified, and tells
        its owner by email; an outcome record without personal data."""
        owner = self.accounts.owner_of(event.old_number)
        item = self.accounts.db.get(*self.accounts.ref(owner)) if owner else None
        account = account_from_item(item)
        if account is None or account.whatsapp_number != event.old_number:
            return {"outcome": "number_not_linked"}
        if not account.whatsapp_verified:
            return {"outcome": "already_unverified"}
        if item and event.sent_at and int(item.get(changed_ms_attribute("whatsapp_number"), 0)) > event.sent_at * 1000:
            # Meta retries for a week: the number was proven again after WhatsApp said this.
            return {"outcome": "proven_since"}
        now = int(self.clock())
        tx = self.accounts.db.transaction()
        # The number itself (and its change stamp, which a "Bukan saya" link checks) stays.
        tx.update(
            "account",
            self.accounts.settings.accounts_table,
            account_key(account.account_id),
            "SET whatsapp_verified_via = :moved, version = :next_version",
            "attribute_not_exists(deleted_ms) AND version = :version AND whatsapp_number = :number",
            moved=VerifiedVia.MOVED_AWAY,
            version=account.version,
            next_version=account.version + 1,
            number=event.old_number,
        )
        stage_audit(
            tx,
            self.accounts.settings.audit_table,
            "audit",
            account.account_id,
            audit_key(account.version + 1),
            now,
            MOVED_AWAY,
            event.message_id,
            event.old_number,
            event.new_number,
        )
        stage_event(
            tx,
            self.accounts.settings.outbox_table,
            NumberChanged(
                account_id=account.account_id,
                whatsapp_number=event.old_number,
                whatsapp_verified=False,
                previous_number_masked=mask_number(event.old_number),
                journey=MOVED_AWAY_JOURNEY,
                phone_number_replaced=False,
                changed_at=now,
                audit_id=audit_key(account.version + 1),
            ),
        )
        try:
            tx.commit()
        except ConditionFailed:
            # The account changed since it was read: the webhook's retry reads it again.
            logger.info("account changed while marking its number moved", extra={"account_id": account.account_id})
            raise
        metrics.add_metric(name="WhatsAppNumberMovedAway", unit="Count", value=1)
        notify_number_moved(self.mailer, account.email, event.old_number, now)
        return {"outcome": "marked_unverified", "account_id": account.account_id}
