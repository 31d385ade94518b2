"""Keeping up with JSS after the import: one entry, ``AccountSync.apply``, for one queue message.

JSS publishes account changes (``account.created``, ``account.contact_changed``,
``account.password_changed``, ``account.deleted``; ``docs/account-sync.md``) to the account-sync
queue. Each message is checked (``shared.domain.jss_records``) and merged newest-wins per field
(``shared.domain.account_mirror``), so duplicates and messages out of order are harmless. A message
that cannot be applied now raises, and the queue hands it back later; one that never can (not valid,
a number held by another account) ends in the dead-letter queue after its retries, where an operator
sees it.
"""

from __future__ import annotations

from pydantic import ValidationError

from shared.domain.account_mirror import AccountMirror, Outcome
from shared.domain.jss_records import refusal_of, sync_messages
from shared.observability import logger, metrics


class MessageRefused(Exception):
    """The message is not a valid account-sync message; ``reason`` is a stable code."""

    def __init__(self, reason: str, field: str | None) -> None:
        super().__init__(f"{reason} ({field})" if field else reason)
        self.reason = reason


class AccountNotYetKnown(Exception):
    """A partial change for an account this service does not hold (its ``created`` may come later)."""


class AccountSync:
    def __init__(self, mirror: AccountMirror) -> None:
        self.mirror = mirror

    def apply(self, body: str) -> Outcome:
        try:
            message = sync_messages().validate_json(body)
        except ValidationError as error:
            refusal = refusal_of(error)
            metrics.add_metric(name="AccountSyncRefused", unit="Count", value=1)
            logger.warning("account-sync message refused", extra={"reason": refusal.reason, "field": refusal.field})
            raise MessageRefused(refusal.reason, refusal.field) from None
        outcome = self.mirror.apply(message.change())
        if outcome == "unknown":
            raise AccountNotYetKnown(message.account_id)
        metrics.add_metric(name=f"AccountSync{outcome.title()}", unit="Count", value=1)
        logger.info(
            "account-sync message applied",
            extra={"type": message.type, "account_id": message.account_id, "outcome": outcome},
        )
        return outcome
