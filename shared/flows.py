"""Journeys A (migrate to WhatsApp) and B1 (change the number through WhatsApp).

Both work the same way: the app starts a flow, the citizen sends a prepared WhatsApp message that
carries a single-use link token, the webhook receives it (which proves the number), and the blue link
shows the result. B1 then asks for the account password before the number changes.

Only a keyed hash of the token is stored. Every read checks expiry itself, because DynamoDB removes
expired items lazily and DynamoDB Local never does.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from shared.accounts import AccountRegistry, ChangeMethod
from shared.clock import iso
from shared.config import Settings
from shared.dynamo import ConditionFailed, Dynamo
from shared.errors import ServiceError
from shared.keys import keyed_hash
from shared.limits import LimitReached, SlidingWindowLimiter, Window
from shared.notifications import Mailer, notify_number_changed
from shared.observability import logger, metrics, tracer
from shared.passwords import verify_password
from shared.phone import mask_email, mask_number

MIGRATION_SUCCESS = "Migrasi akun aplikasi Jogja Smart Service berhasil"
CHANGE_SUCCESS = "Pergantian No. WhatsApp Berhasil"

# A link token is 24 random bytes (192 bits) in base64url: 32 characters.
_TOKEN_BYTES = 24
_TOKEN_CANDIDATE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")
_MAX_CANDIDATES = 3
_TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{32}")


class FlowKind(StrEnum):
    MIGRATION = "migration"
    NUMBER_CHANGE = "number_change"

    @property
    def link_prefix(self) -> str:
        return "m" if self is FlowKind.MIGRATION else "c"


class FlowStatus(StrEnum):
    PENDING = "pending"
    AWAITING_PASSWORD = "awaiting_password"  # noqa: S105 - a state, not a secret
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    LOCKED = "locked"


class FailureReason(StrEnum):
    FORWARDED = "forwarded_message"
    SENDER_NUMBER_HIDDEN = "sender_number_hidden"
    NUMBER_TAKEN = "number_taken"
    SAME_NUMBER = "same_number"
    ALREADY_LINKED = "whatsapp_already_linked"
    MESSAGE_AFTER_EXPIRY = "message_after_expiry"
    REPLACED = "replaced_by_newer_request"


_OPEN = (FlowStatus.PENDING, FlowStatus.AWAITING_PASSWORD)


@dataclass(frozen=True)
class Flow:
    flow_id: str
    kind: FlowKind
    account_id: str
    status: FlowStatus
    created_at: int
    expires_at: int
    reason: str | None = None
    finished_at: int | None = None
    number_masked: str | None = None
    password_attempts: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Flow:
        return cls(
            flow_id=item["flow_id"],
            kind=FlowKind(item["kind"]),
            account_id=item["account_id"],
            status=FlowStatus(item["status"]),
            created_at=int(item["created_at"]),
            expires_at=int(item["expires_at"]),
            reason=item.get("reason"),
            finished_at=item.get("finished_at"),
            number_masked=item.get("number_masked"),
            password_attempts=int(item.get("password_attempts", 0)),
        )

    def status_at(self, now: float) -> FlowStatus:
        if self.status in _OPEN and now >= self.expires_at:
            return FlowStatus.EXPIRED
        return self.status


@dataclass(frozen=True)
class StartedFlow:
    flow_id: str
    status: FlowStatus
    whatsapp_url: str
    message: str
    link_url: str
    expires_at: int


@dataclass(frozen=True)
class LinkView:
    """What the blue link shows. ``csrf_token`` is set only while the password form is open."""

    kind: FlowKind
    status: FlowStatus
    account_masked: str
    number_masked: str | None = None
    reason: str | None = None
    tries_left: int | None = None
    csrf_token: str | None = None
    success_message: str | None = None
    expires_at: int | None = None


@dataclass(frozen=True)
class ConfirmResult:
    view: LinkView
    error: ServiceError | None = None


@dataclass(frozen=True)
class InboundMessage:
    """One text message from a WhatsApp user, as the webhook extracted it."""

    message_id: str
    sender: str | None
    text: str
    forwarded: bool
    sent_at: int


def flow_key(flow_id: str) -> dict[str, str]:
    return {"pk": f"FLOW#{flow_id}"}


def link_key(token: str) -> dict[str, str]:
    return {"pk": f"LINK#{keyed_hash('link', token)}"}


def active_key(account_id: str, kind: FlowKind) -> dict[str, str]:
    return {"pk": f"ACTIVE#{kind}#{account_id}"}


def _whatsapp_url(business_number: str, message: str) -> str:
    """A click-to-chat link: opens WhatsApp on a chat with the city's number, the message typed in."""
    return f"https://wa.me/{business_number.lstrip('+')}?text={quote(message, safe='')}"


def _success_message(kind: FlowKind) -> str:
    return MIGRATION_SUCCESS if kind is FlowKind.MIGRATION else CHANGE_SUCCESS


def _prepared_message(kind: FlowKind, link_url: str) -> str:
    if kind is FlowKind.MIGRATION:
        intent = "saya ingin memigrasi nomor telepon akun Jogja Smart Service (JSS) saya ke nomor WhatsApp ini."
    else:
        intent = "saya ingin mengganti Nomor WhatsApp akun Jogja Smart Service (JSS) saya dengan nomor WhatsApp ini."
    return (
        f"Halo JSS Kota Yogyakarta, {intent}\n\n"
        f"Setelah pesan ini terkirim (centang dua), buka tautan berikut:\n{link_url}"
    )


class WhatsAppFlows:
    def __init__(
        self,
        db: Dynamo,
        settings: Settings,
        mailer: Mailer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.settings = settings
        self.mailer = mailer
        self.clock = clock
        self.accounts = AccountRegistry(db, settings)
        self.limiter = SlidingWindowLimiter(db, settings.tokens_table)

    # ----------------------------------------------------------------- starting a flow

    @tracer.capture_method(capture_response=False)
    def start(self, account_id: str, kind: FlowKind) -> StartedFlow:
        account = self.accounts.require(account_id)
        if kind is FlowKind.MIGRATION and account.whatsapp_number:
            raise ServiceError("whatsapp_already_linked")
        if kind is FlowKind.NUMBER_CHANGE and not account.whatsapp_number:
            raise ServiceError("migration_required")
        now = self.clock()
        window = Window(self.settings.flow_start_limit, self.settings.flow_start_window_seconds)
        try:
            self.limiter.hit(f"start#{kind}#{account_id}", [window], now)
        except LimitReached as limit:
            metrics.add_metric(name="FlowStartLimited", unit="Count", value=1)
            raise ServiceError("too_many_starts", retry_after=limit.retry_after) from None

        token = secrets.token_urlsafe(_TOKEN_BYTES)
        flow = Flow(
            flow_id=str(uuid.uuid4()),
            kind=kind,
            account_id=account_id,
            status=FlowStatus.PENDING,
            created_at=int(now),
            expires_at=int(now) + self.settings.flow_ttl_seconds,
        )
        self._create_replacing_open_flow(flow, token)
        metrics.add_metric(name=f"{kind.title().replace('_', '')}Started", unit="Count", value=1)
        link_url = f"{self.settings.public_base_url}/{kind.link_prefix}/{token}"
        message = _prepared_message(kind, link_url)
        return StartedFlow(
            flow_id=flow.flow_id,
            status=flow.status,
            whatsapp_url=_whatsapp_url(self.settings.whatsapp_business_number, message),
            message=message,
            link_url=link_url,
            expires_at=flow.expires_at,
        )

    def _create_replacing_open_flow(self, flow: Flow, token: str) -> None:
        table = self.settings.tokens_table
        keep_for = self.settings.flow_ttl_seconds + self.settings.result_view_seconds
        for _ in range(4):
            active = self.db.get(table, active_key(flow.account_id, flow.kind))
            tx = self.db.transaction()
            tx.put(
                "flow",
                table,
                {
                    **flow_key(flow.flow_id),
                    "flow_id": flow.flow_id,
                    "kind": str(flow.kind),
                    "account_id": flow.account_id,
                    "status": str(flow.status),
                    "created_at": flow.created_at,
                    "expires_at": flow.expires_at,
                    "ttl": flow.created_at + keep_for,
                },
                "attribute_not_exists(pk)",
            )
            tx.put("link", table, {**link_key(token), "flow_id": flow.flow_id, "ttl": flow.expires_at})
            if active:
                tx.put(
                    "active",
                    table,
                    {**active_key(flow.account_id, flow.kind), "flow_id": flow.flow_id, "ttl": flow.expires_at},
                    "flow_id = :previous",
                    previous=active["flow_id"],
                )
                previous = self._flow(active["flow_id"])
                if previous and previous.status in _OPEN:
                    tx.update(
                        "previous",
                        table,
                        flow_key(previous.flow_id),
                        "SET #status = :failed, reason = :reason, finished_at = :now",
                        "#status = :open",
                        failed=str(FlowStatus.FAILED),
                        reason=str(FailureReason.REPLACED),
                        now=flow.created_at,
                        open=str(previous.status),
                    )
            else:
                tx.put(
                    "active",
                    table,
                    {**active_key(flow.account_id, flow.kind), "flow_id": flow.flow_id, "ttl": flow.expires_at},
                    "attribute_not_exists(pk)",
                )
            try:
                tx.commit()
                return
            except ConditionFailed:
                continue  # another start or the webhook moved the previous flow: read again
        raise RuntimeError("could not start a flow under concurrent changes")

    # ----------------------------------------------------------------- reading

    @tracer.capture_method(capture_response=False)
    def status(self, account_id: str, flow_id: str, kind: FlowKind) -> tuple[Flow, FlowStatus]:
        """The flow as its owner's app sees it. Another account's flow does not exist for you."""
        flow = self._flow(flow_id)
        if flow is None or flow.account_id != account_id or flow.kind is not kind:
            raise ServiceError("flow_not_found")
        return flow, flow.status_at(self.clock())

    @tracer.capture_method(capture_response=False)
    def view_link(self, token: str, kind: FlowKind) -> LinkView:
        """What the blue link shows. Never changes state: chat apps fetch links for previews."""
        flow = self._visible_flow(token, kind)
        now = self.clock()
        status = flow.status_at(now)
        account = self.accounts.require(flow.account_id)
        view = LinkView(
            kind=kind,
            status=status,
            account_masked=mask_email(account.email) if account.email else _mask_id(account.account_id),
            number_masked=flow.number_masked,
            reason=flow.reason if status is FlowStatus.FAILED else None,
            expires_at=flow.expires_at if status in _OPEN else None,
        )
        if status is FlowStatus.COMPLETED:
            return replace(view, success_message=_success_message(kind))
        if status is FlowStatus.AWAITING_PASSWORD:
            return replace(
                view,
                tries_left=self.settings.password_tries_per_flow - flow.password_attempts,
                csrf_token=self._csrf_token(token, int(now)),
            )
        return view

    def _visible_flow(self, token: str, kind: FlowKind) -> Flow:
        if not _TOKEN_FORMAT.fullmatch(token):
            raise ServiceError("link_not_found")
        link = self.db.get(self.settings.tokens_table, link_key(token))
        flow = self._flow(link["flow_id"]) if link else None
        now = self.clock()
        if flow is None or flow.kind is not kind or flow.reason == FailureReason.REPLACED:
            raise ServiceError("link_not_found")
        status = flow.status_at(now)
        if status is FlowStatus.EXPIRED:
            raise ServiceError("link_not_found")
        if status not in _OPEN and now >= (flow.finished_at or 0) + self.settings.result_view_seconds:
            raise ServiceError("link_not_found")  # used up: the result was shown long enough
        return flow

    # ----------------------------------------------------------------- the WhatsApp message

    @tracer.capture_method(capture_response=False)
    def receive(self, message: InboundMessage) -> dict[str, str]:
        """Applies one inbound message. Returns a small outcome record (no personal data) for logs and
        for the idempotency store."""
        flow = self._flow_for_text(message.text)
        if flow is None:
            return {"outcome": "no_token"}
        if flow.status is not FlowStatus.PENDING:
            return {"outcome": "flow_not_pending", "flow_id": flow.flow_id}
        # Judged by when the citizen sent it; a delivery Meta retried for longer than the result is
        # shown no longer completes anything.
        now = self.clock()
        late = now >= flow.expires_at + self.settings.result_view_seconds
        if (message.sent_at or now) >= flow.expires_at or late:
            self._finish(flow, FlowStatus.EXPIRED, FailureReason.MESSAGE_AFTER_EXPIRY)
            return {"outcome": str(FailureReason.MESSAGE_AFTER_EXPIRY), "flow_id": flow.flow_id}
        if message.forwarded:
            return self._fail(flow, FailureReason.FORWARDED)
        if message.sender is None:
            return self._fail(flow, FailureReason.SENDER_NUMBER_HIDDEN)
        if flow.kind is FlowKind.MIGRATION:
            return self._complete_migration(flow, message.sender)
        return self._propose_change(flow, message.sender)

    def _flow_for_text(self, text: str) -> Flow | None:
        # People edit the draft, so look for the token anywhere; a few lookups at most per message.
        for candidate in _TOKEN_CANDIDATE.findall(text)[:_MAX_CANDIDATES]:
            link = self.db.get(self.settings.tokens_table, link_key(candidate))
            if link and (flow := self._flow(link["flow_id"])):
                return flow
        return None

    def _complete_migration(self, flow: Flow, sender: str) -> dict[str, str]:
        for _ in range(3):
            account = self.accounts.require(flow.account_id)
            if account.whatsapp_number:
                return self._fail(flow, FailureReason.ALREADY_LINKED)
            if self.accounts.owner_of(sender) not in (None, account.account_id):
                return self._fail(flow, FailureReason.NUMBER_TAKEN, sender)
            now = int(self.clock())
            tx = self.db.transaction()
            self._stage_finish(tx, flow, FlowStatus.PENDING, FlowStatus.COMPLETED, now, sender)
            self.accounts.stage_number_change(
                tx, account, sender, ChangeMethod.WHATSAPP_MIGRATION, flow.flow_id, now, also_phone_number=True
            )
            try:
                tx.commit()
            except ConditionFailed as failed:
                if "flow" in failed.labels:
                    return {"outcome": "flow_not_pending", "flow_id": flow.flow_id}
                if "claim" in failed.labels:
                    return self._fail(flow, FailureReason.NUMBER_TAKEN, sender)
                continue  # the account changed meanwhile: read it again
            metrics.add_metric(name="MigrationCompleted", unit="Count", value=1)
            notify_number_changed(self.mailer, account.email, MIGRATION_SUCCESS, sender, now)
            return {"outcome": "completed", "flow_id": flow.flow_id}
        raise RuntimeError("account kept changing during migration")

    def _propose_change(self, flow: Flow, sender: str) -> dict[str, str]:
        account = self.accounts.require(flow.account_id)
        if sender == account.whatsapp_number:
            return self._fail(flow, FailureReason.SAME_NUMBER, sender)
        if self.accounts.owner_of(sender) not in (None, account.account_id):
            return self._fail(flow, FailureReason.NUMBER_TAKEN, sender)
        tx = self.db.transaction()
        tx.update(
            "flow",
            self.settings.tokens_table,
            flow_key(flow.flow_id),
            "SET #status = :next, number_masked = :masked, number_hash = :hash",
            "#status = :pending",
            next=str(FlowStatus.AWAITING_PASSWORD),
            masked=mask_number(sender),
            hash=keyed_hash("number", sender),
            pending=str(FlowStatus.PENDING),
        )
        self.accounts.propose(tx, account, sender, flow.flow_id)
        try:
            tx.commit()
        except ConditionFailed:
            return {"outcome": "flow_not_pending", "flow_id": flow.flow_id}
        return {"outcome": "awaiting_password", "flow_id": flow.flow_id}

    # ----------------------------------------------------------------- B1: password confirmation

    @tracer.capture_method(capture_response=False)
    def confirm_password(self, token: str, password: str, csrf_token: str | None) -> ConfirmResult:
        """Checks the password and, if right, changes the number. A refused try comes back as the
        page to show again with the error, so a form can say what went wrong and how many tries remain."""
        try:
            return ConfirmResult(self._confirm(token, password, csrf_token))
        except ServiceError as error:
            if error.code == "link_not_found":
                raise
            return ConfirmResult(self.view_link(token, FlowKind.NUMBER_CHANGE), error)

    def _confirm(self, token: str, password: str, csrf_token: str | None) -> LinkView:
        flow = self._visible_flow(token, FlowKind.NUMBER_CHANGE)
        if not self._csrf_valid(token, csrf_token):
            raise ServiceError("forgery_check_failed")
        status = flow.status_at(self.clock())
        if status is FlowStatus.PENDING:
            raise ServiceError("flow_awaiting_message")
        if status is FlowStatus.LOCKED:
            raise ServiceError("flow_locked")
        if status is not FlowStatus.AWAITING_PASSWORD:
            return self.view_link(token, FlowKind.NUMBER_CHANGE)  # done or failed: show it, change nothing

        account = self.accounts.require(flow.account_id)
        self._count_account_password_try(account.account_id)
        attempts = self._count_flow_password_try(flow)
        if attempts is None:
            return self._view_after_race(token)

        if not verify_password(password, account.password_hash):
            metrics.add_metric(name="WrongPassword", unit="Count", value=1)
            tries_left = self.settings.password_tries_per_flow - attempts
            if tries_left <= 0:
                self._finish(flow, FlowStatus.LOCKED, None, expected=FlowStatus.AWAITING_PASSWORD)
                raise ServiceError("flow_locked")
            raise ServiceError("wrong_password", tries_left=tries_left)

        self.limiter.reset(self._password_limit_name(account.account_id))
        return self._complete_change(token, flow)

    def _complete_change(self, token: str, flow: Flow) -> LinkView:
        for _ in range(3):
            account = self.accounts.require(flow.account_id)
            if account.proposed_for_flow != flow.flow_id or not account.proposed_number:
                return self._view_after_race(token)
            new_number = account.proposed_number
            now = int(self.clock())
            tx = self.db.transaction()
            self._stage_finish(tx, flow, FlowStatus.AWAITING_PASSWORD, FlowStatus.COMPLETED, now, new_number)
            self.accounts.stage_number_change(tx, account, new_number, ChangeMethod.WHATSAPP_CHANGE, flow.flow_id, now)
            try:
                tx.commit()
            except ConditionFailed as failed:
                if "flow" in failed.labels:
                    return self._view_after_race(token)
                if "claim" in failed.labels:
                    self._fail(flow, FailureReason.NUMBER_TAKEN, new_number, expected=FlowStatus.AWAITING_PASSWORD)
                    return self.view_link(token, FlowKind.NUMBER_CHANGE)
                continue
            metrics.add_metric(name="NumberChangeCompleted", unit="Count", value=1)
            notify_number_changed(self.mailer, account.email, CHANGE_SUCCESS, new_number, now)
            return self.view_link(token, FlowKind.NUMBER_CHANGE)
        raise RuntimeError("account kept changing during number change")

    def _view_after_race(self, token: str) -> LinkView:
        """Another request finished or locked the flow a moment ago: show what it left."""
        view = self.view_link(token, FlowKind.NUMBER_CHANGE)
        if view.status is FlowStatus.LOCKED:
            raise ServiceError("flow_locked")
        return view

    def _password_limit_name(self, account_id: str) -> str:
        return f"password#{account_id}"

    def _count_account_password_try(self, account_id: str) -> None:
        window = Window(
            self.settings.password_tries_per_account,
            self.settings.password_window_seconds,
            lock_seconds=self.settings.password_lock_seconds,
        )
        try:
            self.limiter.hit(self._password_limit_name(account_id), [window], self.clock())
        except LimitReached as limit:
            metrics.add_metric(name="PasswordLocked", unit="Count", value=1)
            locked_until = int(self.clock()) + limit.retry_after
            raise ServiceError(
                "password_locked", retry_after=limit.retry_after, locked_until=iso(locked_until)
            ) from None

    def _count_flow_password_try(self, flow: Flow) -> int | None:
        """Counts a try before the comparison; None when the flow is no longer open for tries."""
        try:
            item = self.db.update(
                self.settings.tokens_table,
                flow_key(flow.flow_id),
                "ADD password_attempts :one",
                "#status = :awaiting AND (attribute_not_exists(password_attempts) OR password_attempts < :max)",
                one=1,
                awaiting=str(FlowStatus.AWAITING_PASSWORD),
                max=self.settings.password_tries_per_flow,
            )
        except ConditionFailed:
            return None
        return int(item["password_attempts"])

    def _csrf_token(self, token: str, issued_at: int) -> str:
        return f"{issued_at}.{keyed_hash('csrf', f'{token}.{issued_at}')}"

    def _csrf_valid(self, token: str, csrf_token: str | None) -> bool:
        given = csrf_token or ""
        issued, _, _ = given.partition(".")
        # ASCII only: isdigit() accepts digits int() refuses, and compare_digest refuses non-ASCII.
        if not given.isascii() or not issued.isdigit():
            return False
        if self.clock() - int(issued) > self.settings.flow_ttl_seconds:
            return False
        return hmac.compare_digest(self._csrf_token(token, int(issued)), given)

    # ----------------------------------------------------------------- shared steps

    def _flow(self, flow_id: str) -> Flow | None:
        item = self.db.get(self.settings.tokens_table, flow_key(flow_id))
        return Flow.from_item(item) if item else None

    def _stage_finish(
        self, tx: Any, flow: Flow, expected: FlowStatus, status: FlowStatus, now: int, number: str
    ) -> None:
        tx.update(
            "flow",
            self.settings.tokens_table,
            flow_key(flow.flow_id),
            "SET #status = :status, finished_at = :now, number_masked = :masked, number_hash = :hash",
            "#status = :expected",
            status=str(status),
            now=now,
            masked=mask_number(number),
            hash=keyed_hash("number", number),
            expected=str(expected),
        )

    def _fail(
        self,
        flow: Flow,
        reason: FailureReason,
        number: str | None = None,
        expected: FlowStatus = FlowStatus.PENDING,
    ) -> dict[str, str]:
        self._finish(flow, FlowStatus.FAILED, reason, number, expected)
        metrics.add_metric(name="FlowFailed", unit="Count", value=1)
        logger.info("flow failed", extra={"flow_id": flow.flow_id, "reason": str(reason)})
        return {"outcome": str(reason), "flow_id": flow.flow_id}

    def _finish(
        self,
        flow: Flow,
        status: FlowStatus,
        reason: FailureReason | None,
        number: str | None = None,
        expected: FlowStatus = FlowStatus.PENDING,
    ) -> None:
        assignments = "SET #status = :status, finished_at = :now"
        values: dict[str, Any] = {"status": str(status), "now": int(self.clock()), "expected": str(expected)}
        if reason is not None:
            assignments += ", reason = :reason"
            values["reason"] = str(reason)
        if number is not None:
            assignments += ", number_masked = :masked"
            values["masked"] = mask_number(number)
        # If someone else finished the flow first, their outcome stands.
        with suppress(ConditionFailed):
            self.db.update(
                self.settings.tokens_table, flow_key(flow.flow_id), assignments, "#status = :expected", **values
            )


def _mask_id(account_id: str) -> str:
    return f"{account_id[:2]}***{account_id[-2:]}" if len(account_id) > 4 else "***"
