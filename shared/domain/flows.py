"""Journeys A (migrate to WhatsApp) and B1 (change the number through WhatsApp).

Both work the same way: the app starts a flow, the citizen sends a prepared WhatsApp message that
carries a single-use link token, the webhook receives it (which proves the number), and the blue link
shows the result. B1 then asks for the account password before the number changes.

Only a keyed hash of the token is stored; the number proposed in B1 waits on the flow sealed with
the token (``shared.domain.sealing``). Every read checks expiry itself, because DynamoDB removes expired
items lazily and DynamoDB Local never does.
"""

from __future__ import annotations

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

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction
from shared.adapters.keys import keyed_hash
from shared.adapters.mail import Mailer
from shared.clock import iso, wib_time
from shared.config import Settings
from shared.domain.accounts import Account, ChangeMethod
from shared.domain.journey import Journey
from shared.domain.limits import LimitReached, Window
from shared.domain.notifications import notify_number_changed, notify_number_taken_over
from shared.domain.number_change import CommittedChange, NumberHeld
from shared.domain.open_items import replace_open_item
from shared.domain.passwords import verify_password
from shared.domain.phone import mask_email, mask_number
from shared.domain.sealing import seal, unseal
from shared.errors import ServiceError
from shared.observability import logger, metrics, tracer

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
    ACCOUNT_GONE = "account_not_found"
    SENDER_NUMBER_HIDDEN = "sender_number_hidden"
    NUMBER_TAKEN = "number_taken"
    SAME_NUMBER = "same_number"
    ALREADY_LINKED = "whatsapp_already_linked"
    MESSAGE_AFTER_EXPIRY = "message_after_expiry"
    REPLACED = "replaced_by_newer_request"
    PROPOSAL_UNREADABLE = "proposal_unreadable"


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
    proposed_sealed: str | None = None

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
            proposed_sealed=item.get("proposed_sealed"),
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
    """What the blue link shows, in every state of its flow."""

    kind: FlowKind
    status: FlowStatus
    account_masked: str
    number_masked: str | None = None
    reason: str | None = None
    tries_left: int | None = None
    success_message: str | None = None
    expires_at: int | None = None


@dataclass(frozen=True)
class ConfirmResult:
    """The page after a password try: ``error`` says why the try was refused, if it was."""

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


def open_flow_key(account_id: str, kind: FlowKind) -> dict[str, str]:
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


class WhatsAppFlows(Journey):
    def __init__(
        self,
        db: Dynamo,
        settings: Settings,
        mailer: Mailer,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(db, settings, mailer, clock)
        self.password_window = Window(
            settings.password_tries_per_account,
            settings.password_window_seconds,
            lock_seconds=settings.password_lock_seconds,
        )

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
        self._open(flow, token)
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

    def _open(self, flow: Flow, token: str) -> None:
        """Writes the flow and its link, replacing the account's open flow of the same kind."""
        table = self.settings.tokens_table
        keep_for = self.settings.flow_ttl_seconds + self.settings.result_view_seconds

        def write_new(tx: Transaction) -> None:
            item = {
                **flow_key(flow.flow_id),
                "flow_id": flow.flow_id,
                "kind": str(flow.kind),
                "account_id": flow.account_id,
                "status": str(flow.status),
                "created_at": flow.created_at,
                "expires_at": flow.expires_at,
                "ttl": flow.created_at + keep_for,
            }
            tx.put("flow", table, item, "attribute_not_exists(pk)")
            tx.put("link", table, {**link_key(token), "flow_id": flow.flow_id, "ttl": flow.expires_at})

        def close_previous(tx: Transaction, previous_id: str) -> None:
            previous = self._flow(previous_id)
            if previous and previous.status in _OPEN:
                self._stage_finish(
                    tx, previous, FlowStatus.FAILED, flow.created_at, reason=FailureReason.REPLACED, remove_sealed=True
                )

        replace_open_item(
            self.db,
            table,
            open_flow_key(flow.account_id, flow.kind),
            flow.flow_id,
            flow.expires_at,
            write_new=write_new,
            close_previous=close_previous,
        )

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
        return self._view(self._visible_flow(token, kind))

    def _current_view(self, flow: Flow) -> LinkView:
        """The view of the flow as it is now, after this request or a parallel one moved it."""
        return self._view(self._flow(flow.flow_id) or flow)

    def _view(self, flow: Flow) -> LinkView:
        status = flow.status_at(self.clock())
        account = self.accounts.get(flow.account_id)
        if account is None:
            raise ServiceError("link_not_found")
        view = LinkView(
            kind=flow.kind,
            status=status,
            account_masked=mask_email(account.email) if account.email else _mask_id(account.account_id),
            number_masked=flow.number_masked,
            reason=flow.reason if status is FlowStatus.FAILED else None,
            expires_at=flow.expires_at if status in _OPEN else None,
        )
        if status is FlowStatus.COMPLETED:
            return replace(view, success_message=_success_message(flow.kind))
        if status is FlowStatus.AWAITING_PASSWORD:
            return replace(view, tries_left=self.settings.password_tries_per_flow - flow.password_attempts)
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
        for the idempotency store. Business outcomes never raise: Meta must not retry them."""
        found = self._flow_for_text(message.text)
        if found is None:
            return {"outcome": "no_token"}
        flow, token = found
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
        try:
            if flow.kind is FlowKind.MIGRATION:
                return self._complete_migration(flow, message.sender)
            return self._propose_change(flow, token, message.sender)
        except _Refused as refused:
            return self._fail(flow, refused.reason, message.sender)
        except ServiceError as error:  # the account behind the flow is gone
            if error.code != "account_not_found":
                raise
            return self._fail(flow, FailureReason.ACCOUNT_GONE)

    def _flow_for_text(self, text: str) -> tuple[Flow, str] | None:
        # People edit the draft, so look for the token anywhere; a few lookups at most per message.
        for candidate in _TOKEN_CANDIDATE.findall(text)[:_MAX_CANDIDATES]:
            link = self.db.get(self.settings.tokens_table, link_key(candidate))
            if link and (flow := self._flow(link["flow_id"])):
                return flow, candidate
        return None

    def _complete_migration(self, flow: Flow, sender: str) -> dict[str, str]:
        def check(account: Account) -> None:
            if account.whatsapp_number:
                raise _Refused(FailureReason.ALREADY_LINKED)

        def stage(tx: Transaction, now: int) -> None:
            self._stage_finish(tx, flow, FlowStatus.COMPLETED, now, number=sender)

        done = self._commit_change(flow, sender, ChangeMethod.WHATSAPP_MIGRATION, check, stage, also_phone=True)
        if done is None:
            return {"outcome": "flow_not_pending", "flow_id": flow.flow_id}
        metrics.add_metric(name="MigrationCompleted", unit="Count", value=1)
        self._notify(done, MIGRATION_SUCCESS, sender)
        return {"outcome": "completed", "flow_id": flow.flow_id}

    def _propose_change(self, flow: Flow, token: str, sender: str) -> dict[str, str]:
        """B1: the sender becomes the proposed number, sealed on the flow until the password."""
        account = self.accounts.require(flow.account_id)
        if sender == account.whatsapp_number:
            raise _Refused(FailureReason.SAME_NUMBER)
        self._refuse_if_held_verified(account, sender)
        try:
            self.db.update(
                self.settings.tokens_table,
                flow_key(flow.flow_id),
                "SET #status = :next, number_masked = :masked, proposed_sealed = :sealed",
                "#status = :pending",
                next=str(FlowStatus.AWAITING_PASSWORD),
                masked=mask_number(sender),
                sealed=seal(token, flow.flow_id, sender),
                pending=str(FlowStatus.PENDING),
            )
        except ConditionFailed:
            return {"outcome": "flow_not_pending", "flow_id": flow.flow_id}
        return {"outcome": "awaiting_password", "flow_id": flow.flow_id}

    def _refuse_if_held_verified(self, account: Account, number: str) -> None:
        """Refuses early (before the password) a number this proof could not take over."""
        try:
            self.number_changes.holder_to_displace(number, account.account_id, ChangeMethod.WHATSAPP_CHANGE)
        except NumberHeld:
            raise _Refused(FailureReason.NUMBER_TAKEN) from None

    def _notify(self, done: CommittedChange, headline: str, number: str) -> None:
        notify_number_changed(self.mailer, done.before.email, headline, number, done.at)
        if done.displaced is not None:
            metrics.add_metric(name="UnverifiedNumberTakenOver", unit="Count", value=1)
            notify_number_taken_over(self.mailer, done.displaced.email, number, done.at)

    def _commit_change(
        self,
        flow: Flow,
        number: str,
        method: str,
        check: Callable[[Account], None],
        stage: Callable[[Transaction, int], None],
        also_phone: bool = False,
    ) -> CommittedChange | None:
        """The number change and the flow's completion in one transaction; None when another
        request finished the flow first. A number held where this proof cannot take it is refused as
        taken."""
        try:
            return self.number_changes.commit(
                flow.account_id,
                number,
                method,
                flow.flow_id,
                clock=self.clock,
                check=check,
                stage=stage,
                also_phone_number=also_phone,
            )
        except ConditionFailed as failed:
            if "flow" in failed.labels:
                return None
            if "claim" in failed.labels:
                raise _Refused(FailureReason.NUMBER_TAKEN) from None
            raise

    # ----------------------------------------------------------------- B1: password confirmation

    @tracer.capture_method(capture_response=False)
    def confirm_password(self, token: str, password: str) -> ConfirmResult:
        """Checks the password and, if right, changes the number. A refused try comes back with the
        page to show again, so a form can say what went wrong and how many tries remain."""
        flow = self._visible_flow(token, FlowKind.NUMBER_CHANGE)
        try:
            return ConfirmResult(self._confirm(flow, token, password))
        except _Finished:
            return ConfirmResult(self._current_view(flow))
        except ServiceError as error:
            return ConfirmResult(self._current_view(flow), error)

    def _confirm(self, flow: Flow, token: str, password: str) -> LinkView:
        status = flow.status_at(self.clock())
        if status is FlowStatus.PENDING:
            raise ServiceError("flow_awaiting_message")
        if status is FlowStatus.LOCKED:
            raise ServiceError("flow_locked")
        if status is not FlowStatus.AWAITING_PASSWORD:
            return self._view(flow)  # done or failed: show it, change nothing

        account = self.accounts.require(flow.account_id)
        limit_name = _password_limit(account.account_id)
        self._refuse_if_account_locked(limit_name)
        attempts = self._count_flow_password_try(flow)
        self._count_account_password_try(limit_name)

        if not verify_password(password, account.password_hash):
            metrics.add_metric(name="WrongPassword", unit="Count", value=1)
            tries_left = self.settings.password_tries_per_flow - attempts
            if tries_left <= 0:
                self._finish(flow, FlowStatus.LOCKED, None, expected=FlowStatus.AWAITING_PASSWORD)
                raise ServiceError("flow_locked")
            raise ServiceError("wrong_password", tries_left=tries_left)

        self.limiter.reset(limit_name)
        new_number = unseal(token, flow.flow_id, flow.proposed_sealed or "")
        if new_number is None:  # the sealed value was damaged: nothing to confirm
            self._fail(flow, FailureReason.PROPOSAL_UNREADABLE, expected=FlowStatus.AWAITING_PASSWORD)
            return self._current_view(flow)
        return self._complete_change(flow, new_number)

    def _complete_change(self, flow: Flow, new_number: str) -> LinkView:
        def check(account: Account) -> None:
            if account.whatsapp_number == new_number:
                raise _Refused(FailureReason.SAME_NUMBER)

        def stage(tx: Transaction, now: int) -> None:
            self._stage_finish(tx, flow, FlowStatus.COMPLETED, now, number=new_number, remove_sealed=True)

        try:
            done = self._commit_change(flow, new_number, ChangeMethod.WHATSAPP_CHANGE, check, stage)
        except _Refused as refused:
            self._fail(flow, refused.reason, new_number, expected=FlowStatus.AWAITING_PASSWORD)
            return self._current_view(flow)
        if done is not None:
            metrics.add_metric(name="NumberChangeCompleted", unit="Count", value=1)
            self._notify(done, CHANGE_SUCCESS, new_number)
        return self._current_view(flow)  # done, by this request or a parallel one

    def _refuse_if_account_locked(self, limit_name: str) -> None:
        """Across flows, too many wrong passwords lock confirmation for the account for a while."""
        now = self.clock()
        try:
            self.limiter.check(limit_name, self.password_window, now)
        except LimitReached as limit:
            raise _password_locked(limit, now) from None

    def _count_account_password_try(self, limit_name: str) -> None:
        """Records the try for the account-wide lock (atomically: parallel tries cannot slip past)."""
        now = self.clock()
        try:
            self.limiter.hit(limit_name, [self.password_window], now)
        except LimitReached as limit:
            raise _password_locked(limit, now) from None

    def _count_flow_password_try(self, flow: Flow) -> int:
        """Counts a try on the flow before the comparison. A flow with no tries left is locked."""
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
            current = self._flow(flow.flow_id) or flow
            if current.status is FlowStatus.AWAITING_PASSWORD:
                # Every try is taken by requests still comparing: the last wrong one locks the flow,
                # a right one completes it. Which, this request cannot know yet (they may all be right).
                raise ServiceError("busy", retry_after=1) from None
            if current.status is FlowStatus.LOCKED:
                raise ServiceError("flow_locked") from None
            raise _Finished from None
        return int(item["password_attempts"])

    # ----------------------------------------------------------------- shared steps

    def _flow(self, flow_id: str) -> Flow | None:
        item = self.db.get(self.settings.tokens_table, flow_key(flow_id))
        return Flow.from_item(item) if item else None

    def _stage_finish(
        self,
        tx: Transaction,
        flow: Flow,
        status: FlowStatus,
        now: int,
        *,
        number: str | None = None,
        reason: FailureReason | None = None,
        remove_sealed: bool = False,
        expected: FlowStatus | None = None,
    ) -> None:
        """Adds to ``tx`` the move of an open flow to a final state, on condition it is still in the
        state it was read in (or ``expected``)."""
        assignments = ["#status = :status", "finished_at = :now"]
        values: dict[str, Any] = {"status": str(status), "now": now, "expected": str(expected or flow.status)}
        if reason is not None:
            assignments.append("reason = :reason")
            values["reason"] = str(reason)
        if number is not None:
            assignments.append("number_masked = :masked")
            values["masked"] = mask_number(number)
        expression = "SET " + ", ".join(assignments) + (" REMOVE proposed_sealed" if remove_sealed else "")
        tx.update(
            "flow", self.settings.tokens_table, flow_key(flow.flow_id), expression, "#status = :expected", **values
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
        """Ends the flow unless someone else ended it first (their outcome stands). A sealed
        proposed number goes with it."""
        tx = self.db.transaction()
        now = int(self.clock())
        self._stage_finish(tx, flow, status, now, number=number, reason=reason, remove_sealed=True, expected=expected)
        with suppress(ConditionFailed):
            tx.commit()


class _Refused(Exception):
    """A message or a confirmation that cannot change the number, for a reason the page explains."""

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(str(reason))
        self.reason = reason


class _Finished(Exception):
    """The flow was finished by a parallel request while this one was on its way."""


def _password_locked(limit: LimitReached, now: float) -> ServiceError:
    metrics.add_metric(name="PasswordLocked", unit="Count", value=1)
    until = now + limit.retry_after
    return ServiceError(
        "password_locked", retry_after=limit.retry_after, locked_until=iso(until), text_locked_until=wib_time(until)
    )


def _password_limit(account_id: str) -> str:
    return f"password#{account_id}"


def _mask_id(account_id: str) -> str:
    return f"{account_id[:2]}***{account_id[-2:]}" if len(account_id) > 4 else "***"
