"""``WhatsAppNumberChanged``: JSS hears of every number change made here, exactly as it committed.

A journey (A, B1 or B2) puts its event into the outbox table inside the very transaction that
changes the number (``NumberChanges.stage``), so an event exists if and only if the
change committed. The new number waits there sealed (``shared.domain.sealing``): the outbox never
holds a clear number. Two paths publish it to the EventBridge bus:

- the relay, run by the outbox table's stream for every new event, publishes within a second;
- the sweep, scheduled, publishes whatever is still pending after ``stranded_after`` seconds (the bus
  was unreachable and the stream's retries ran out).

An event is marked published (and its sealed number removed) only after EventBridge accepted it. A
crash in between publishes it again with the same ``event_id``, which is what consumers dedupe on:
delivery is at least once, never lost.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction
from shared.observability import logger, metrics

DETAIL_TYPE = "WhatsAppNumberChanged"
REMOVED_DETAIL_TYPE = "WhatsAppNumberRemoved"
DETAIL_TYPES = (DETAIL_TYPE, REMOVED_DETAIL_TYPE)
"""Every detail type JSS receives; its rule names them all (docs/events.md)."""
EVENT_SOURCE = "id.go.jogjakota.jss.whatsapp"
SCHEMA_VERSION: Literal[1] = 1
KEEP_PUBLISHED_SECONDS = 7 * 24 * 3600
_PENDING = "pending"
PENDING_INDEX = "PendingByAge"


@dataclass(frozen=True, kw_only=True)
class _Event:
    """What every event about an account carries. ``event_id`` is what consumers deduplicate on."""

    account_id: str
    audit_id: str
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    detail_type: ClassVar[str]


@dataclass(frozen=True, kw_only=True)
class NumberChanged(_Event):
    """A committed change of an account's WhatsApp number, as the journey knows it."""

    whatsapp_number: str
    whatsapp_verified: bool
    previous_number_masked: str | None
    journey: str
    phone_number_replaced: bool
    changed_at: int
    end_sessions: bool = False
    undoes_audit_id: str | None = None

    detail_type: ClassVar[str] = DETAIL_TYPE

    @property
    def at(self) -> int:
        return self.changed_at


@dataclass(frozen=True, kw_only=True)
class NumberRemoved(_Event):
    """An account lost its unverified WhatsApp number to another account's WhatsApp proof."""

    previous_number_masked: str
    reason: str
    removed_at: int

    detail_type: ClassVar[str] = REMOVED_DETAIL_TYPE

    @property
    def at(self) -> int:
        return self.removed_at


class WhatsAppNumberChangedDetail(BaseModel):
    """The ``detail`` of a ``WhatsAppNumberChanged`` event (``docs/events.md``)."""

    model_config = ConfigDict(extra="forbid", title="WhatsAppNumberChanged")

    schema_version: Literal[1] = Field(description="Changes only when a field changes meaning or goes away.")
    event_id: str = Field(description="Unique per change and stable across redeliveries: deduplicate on it.")
    account_id: str = Field(description="The JSS account (the JWT sub).")
    whatsapp_number: str = Field(description="The new WhatsApp number in E.164.", pattern=r"^\+[1-9][0-9]{6,14}$")
    whatsapp_verified: bool = Field(description="True when the citizen proved the number through WhatsApp (A, B1).")
    previous_whatsapp_number_masked: str | None = Field(
        description="The number it replaced, masked by whole groups (0812-****-7890); null when there was none."
    )
    journey: Literal["whatsapp_migration", "whatsapp_change", "email_change", "undo", "whatsapp_moved_away"] = Field(
        description="A: whatsapp_migration, B1: whatsapp_change, B2: email_change; undo: the account's owner "
        'put the previous number back through the "Bukan saya" link of a B1 or B2 change; whatsapp_moved_away: '
        "WhatsApp said the number's user moved to another number, so the same number is no longer verified."
    )
    phone_number_replaced: bool = Field(
        description="True for a migration (A): the account's phone number is now this WhatsApp number too."
    )
    changed_at: datetime = Field(description="When the change committed (ISO 8601, UTC).")
    audit_id: str = Field(description="The change's record in this service's audit trail.")
    end_sessions: bool = Field(
        default=False,
        description="True for an undo: someone else changed the number, so JSS should end every session of the "
        "account (the owner is told to change the password).",
    )
    undoes_audit_id: str | None = Field(
        default=None, description="For an undo: the audit_id of the change it undid (its earlier event's audit_id)."
    )


class WhatsAppNumberRemovedDetail(BaseModel):
    """The ``detail`` of a ``WhatsAppNumberRemoved`` event (``docs/events.md``)."""

    model_config = ConfigDict(extra="forbid", title="WhatsAppNumberRemoved")

    schema_version: Literal[1] = Field(description="Changes only when a field changes meaning or goes away.")
    event_id: str = Field(description="Unique per removal and stable across redeliveries: deduplicate on it.")
    account_id: str = Field(description="The JSS account that no longer has a WhatsApp number.")
    previous_whatsapp_number_masked: str = Field(
        description="The number it lost, masked by whole groups (0812-****-7890)."
    )
    reason: Literal["proven_by_another_account"] = Field(
        description="The account held the number unverified (set with an email code, or recorded by JSS), "
        "and the number's owner proved it through WhatsApp on another account."
    )
    removed_at: datetime = Field(description="When the removal committed (ISO 8601, UTC).")
    audit_id: str = Field(description="The removal's record in this service's audit trail.")


AccountEvent = NumberChanged | NumberRemoved
_UNDO_ONLY = ("end_sessions", "undoes_audit_id")
"""Stored only when set (an undo): every other event's item keeps its shape."""


def outbox_key(event_id: str) -> dict[str, str]:
    return {"pk": f"EVENT#{event_id}"}


def stage_event(tx: Transaction, table: str, event: AccountEvent, label: str = "event") -> None:
    """Adds the event to ``tx``, pending; a new number goes sealed to this event."""
    from shared.domain.sealing import seal_at_rest

    public = {k: v for k, v in asdict(event).items() if k not in _UNDO_ONLY or v}
    item: dict[str, Any] = {
        **outbox_key(event.event_id),
        "event_id": event.event_id,
        "detail_type": event.detail_type,
        "status": _PENDING,
        "pending": _PENDING,
        "created_at": event.at,
    }
    if isinstance(event, NumberChanged):
        item["number_sealed"] = seal_at_rest(event.event_id, public.pop("whatsapp_number"))
    tx.put(label, table, {**item, "event": json.dumps(public)}, "attribute_not_exists(pk)")


def detail_of(event: AccountEvent) -> dict[str, Any]:
    if isinstance(event, NumberRemoved):
        removed = WhatsAppNumberRemovedDetail(
            schema_version=SCHEMA_VERSION,
            event_id=event.event_id,
            account_id=event.account_id,
            previous_whatsapp_number_masked=event.previous_number_masked,
            reason=event.reason,  # type: ignore[arg-type]
            removed_at=datetime.fromtimestamp(event.removed_at, UTC),
            audit_id=event.audit_id,
        )
        return removed.model_dump(mode="json")
    detail = WhatsAppNumberChangedDetail(
        schema_version=SCHEMA_VERSION,
        event_id=event.event_id,
        account_id=event.account_id,
        whatsapp_number=event.whatsapp_number,
        whatsapp_verified=event.whatsapp_verified,
        previous_whatsapp_number_masked=event.previous_number_masked,
        journey=event.journey,  # type: ignore[arg-type]
        phone_number_replaced=event.phone_number_replaced,
        changed_at=datetime.fromtimestamp(event.changed_at, UTC),
        audit_id=event.audit_id,
        end_sessions=event.end_sessions,
        undoes_audit_id=event.undoes_audit_id,
    )
    return detail.model_dump(mode="json")


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any], at: int) -> str: ...


class UnreadableEvent(Exception):
    """An outbox item whose sealed number cannot be opened (damaged, or written under another key)."""


@dataclass
class SweepReport:
    published: int = 0
    failed: int = 0


class ChangeEventRelay:
    """Publishes outbox events to the bus and marks them published."""

    def __init__(
        self,
        db: Dynamo,
        table: str,
        publisher: EventPublisher,
        stranded_after: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.table = table
        self.publisher = publisher
        self.stranded_after = stranded_after
        self.clock = clock

    def publish_new(self, item: dict[str, Any]) -> None:
        """Publishes one event the stream brought. Raises when the bus did not take it, so the stream
        retries it (and, if that runs out, the sweep does)."""
        self._publish(item)

    def publish_stranded(self, limit: int = 100) -> SweepReport:
        """Publishes events still pending after ``stranded_after`` seconds, oldest first. A failure
        leaves the event pending for the next sweep and is counted, never raised."""
        report = SweepReport()
        for item in self._stranded(limit):
            try:
                self._publish(item)
                report.published += 1
            except Exception:
                report.failed += 1
                logger.exception("stranded event not published", extra={"event_id": item.get("event_id")})
        if report.published:
            metrics.add_metric(name="ChangeEventRepublished", unit="Count", value=report.published)
        return report

    def _stranded(self, limit: int) -> list[dict[str, Any]]:
        older_than = int(self.clock()) - self.stranded_after
        return self.db.query(
            self.table,
            "pending = :pending AND created_at <= :older_than",
            index=PENDING_INDEX,
            limit=limit,
            pending=_PENDING,
            older_than=older_than,
        )

    def _publish(self, item: dict[str, Any]) -> None:
        if item.get("status") != _PENDING:
            return  # published meanwhile (the stream and the sweep both saw it)
        try:
            event = _event_of(item)
        except UnreadableEvent:
            self._set_aside(str(item["event_id"]))
            return
        try:
            self.publisher.publish(event.detail_type, detail_of(event), event.at)
        except Exception as error:
            metrics.add_metric(name="ChangeEventNotPublished", unit="Count", value=1)
            logger.warning("event not published", extra={"event_id": event.event_id, "error": str(error)})
            raise
        now = int(self.clock())
        # Marked by the other path a moment ago if the condition fails: the event went out all the same.
        with suppress(ConditionFailed):
            self.db.update(
                self.table,
                outbox_key(event.event_id),
                "SET #status = :published, published_at = :now, #ttl = :expires REMOVE pending, number_sealed",
                "#status = :pending",
                published="published",
                now=now,
                expires=now + KEEP_PUBLISHED_SECONDS,
                pending=_PENDING,
            )
        metrics.add_metric(name="ChangeEventPublished", unit="Count", value=1)

    def _set_aside(self, event_id: str) -> None:
        """An event that can never be published leaves the pending index, loudly, instead of being
        retried forever; its audit record still tells what changed."""
        logger.error("outbox event unreadable, set aside", extra={"event_id": event_id})
        metrics.add_metric(name="ChangeEventUnreadable", unit="Count", value=1)
        with suppress(ConditionFailed):
            self.db.update(
                self.table,
                outbox_key(event_id),
                "SET #status = :unreadable REMOVE pending",
                "#status = :pending",
                unreadable="unreadable",
                pending=_PENDING,
            )


def _event_of(item: dict[str, Any]) -> AccountEvent:
    """The event an outbox item holds; ``UnreadableEvent`` when it cannot be rebuilt (so it is set
    aside rather than retried for ever)."""
    from shared.domain.sealing import unseal_at_rest

    event_id = str(item["event_id"])
    try:
        public = json.loads(item["event"])
        if item.get("detail_type") == REMOVED_DETAIL_TYPE:
            return NumberRemoved(**public)
        number = unseal_at_rest(event_id, str(item.get("number_sealed", "")))
        if number is None:
            raise UnreadableEvent(event_id)
        return NumberChanged(**{**public, "whatsapp_number": number})
    except (TypeError, ValueError, KeyError):
        raise UnreadableEvent(event_id) from None
