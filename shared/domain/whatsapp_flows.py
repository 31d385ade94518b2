"""Journeys A (migrate to WhatsApp) and B1 (change the number through WhatsApp).

Both work the same way: the app starts a flow, the citizen sends a prepared WhatsApp message that
carries a single-use link token, the webhook receives it (which proves the number), and the blue link
shows the result. B1 then asks for the account password before the number changes. The flow items
and their reads and writes: ``shared.domain.flows``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import quote

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction
from shared.adapters.mail import Mailer
from shared.clock import iso, wib_time
from shared.config import Settings
from shared.domain.accounts import Account, ChangeMethod
from shared.domain.flows import (
    CHANGE_SUCCESS,
    MIGRATION_SUCCESS,
    OPEN_STATES,
    TOKEN_BYTES,
    ConfirmResult,
    FailureReason,
    Flow,
    FlowKind,
    FlowRecords,
    FlowStatus,
    InboundMessage,
    LinkView,
    StartedFlow,
)
from shared.domain.journey import Journey
from shared.domain.limits import LimitReached, Window
from shared.domain.notifications import notify_number_changed, notify_number_taken_over
from shared.domain.number_change import CommittedChange, NumberHeld
from shared.domain.passwords import verify_password
from shared.domain.phone import mask_email
from shared.domain.sealing import seal, unseal
from shared.errors import ServiceError
from shared.observability import logger, metrics, tracer


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
        self.records = FlowRecords(db, settings, clock)
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

        token = secrets.token_urlsafe(TOKEN_BYTES)
        flow = Flow(
            flow_id=str(uuid.uuid4()),
            kind=kind,
            account_id=account_id,
            status=FlowStatus.PENDING,
            created_at=int(now),
            expires_at=int(now) + self.settings.flow_ttl_seconds,
        )
        self.records.open(flow, token)
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

    # ----------------------------------------------------------------- reading

    @tracer.capture_method(capture_response=False)
    def status(self, account_id: str, flow_id: str, kind: FlowKind) -> tuple[Flow, FlowStatus]:
        """The flow as its owner's app sees it. Another account's flow does not exist for you."""
        flow = self.records.get(flow_id)
        if flow is None or flow.account_id != account_id or flow.kind is not kind:
            raise ServiceError("flow_not_found")
        return flow, flow.status_at(self.clock())

    @tracer.capture_method(capture_response=False)
    def view_link(self, token: str, kind: FlowKind) -> LinkView:
        """What the blue link shows. Never changes state: chat apps fetch links for previews."""
        return self._view(self._visible_flow(token, kind))

    def _current_view(self, flow: Flow) -> LinkView:
        """The view of the flow as it is now, after this request or a parallel one moved it."""
        return self._view(self.records.get(flow.flow_id) or flow)

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
            expires_at=flow.expires_at if status in OPEN_STATES else None,
        )
        if status is FlowStatus.COMPLETED:
            return replace(view, success_message=_success_message(flow.kind))
        if status is FlowStatus.AWAITING_PASSWORD:
            return replace(view, tries_left=self.settings.password_tries_per_flow - flow.password_attempts)
        return view

    def _visible_flow(self, token: str, kind: FlowKind) -> Flow:
        flow = self.records.by_link(token)
        now = self.clock()
        if flow is None or flow.kind is not kind or flow.reason == FailureReason.REPLACED:
            raise ServiceError("link_not_found")
        status = flow.status_at(now)
        if status is FlowStatus.EXPIRED:
            raise ServiceError("link_not_found")
        if status not in OPEN_STATES and now >= (flow.finished_at or 0) + self.settings.result_view_seconds:
            raise ServiceError("link_not_found")  # used up: the result was shown long enough
        return flow

    # ----------------------------------------------------------------- the WhatsApp message

    @tracer.capture_method(capture_response=False)
    def receive(self, message: InboundMessage) -> dict[str, str]:
        """Applies one inbound message. Returns a small outcome record (no personal data) for logs and
        for the idempotency store. Business outcomes never raise: Meta must not retry them."""
        found = self.records.in_text(message.text)
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
            self.records.finish(flow, FlowStatus.EXPIRED, FailureReason.MESSAGE_AFTER_EXPIRY)
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

    def _complete_migration(self, flow: Flow, sender: str) -> dict[str, str]:
        def check(account: Account) -> None:
            if account.whatsapp_number:
                raise _Refused(FailureReason.ALREADY_LINKED)

        def stage(tx: Transaction, now: int) -> None:
            self.records.stage_finish(tx, flow, FlowStatus.COMPLETED, now, number=sender)

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
        if not self.records.await_password(flow, sender, seal(token, flow.flow_id, sender)):
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
                self.records.finish(flow, FlowStatus.LOCKED, None, expected=FlowStatus.AWAITING_PASSWORD)
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
            self.records.stage_finish(tx, flow, FlowStatus.COMPLETED, now, number=new_number, remove_sealed=True)

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
            return self.records.add_password_try(flow)
        except ConditionFailed:
            current = self.records.get(flow.flow_id) or flow
            if current.status is FlowStatus.AWAITING_PASSWORD:
                # Every try is taken by requests still comparing: the last wrong one locks the flow,
                # a right one completes it. Which, this request cannot know yet (they may all be right).
                raise ServiceError("busy", retry_after=1) from None
            if current.status is FlowStatus.LOCKED:
                raise ServiceError("flow_locked") from None
            raise _Finished from None

    def _fail(
        self,
        flow: Flow,
        reason: FailureReason,
        number: str | None = None,
        expected: FlowStatus = FlowStatus.PENDING,
    ) -> dict[str, str]:
        self.records.finish(flow, FlowStatus.FAILED, reason, number, expected)
        metrics.add_metric(name="FlowFailed", unit="Count", value=1)
        logger.info("flow failed", extra={"flow_id": flow.flow_id, "reason": str(reason)})
        return {"outcome": str(reason), "flow_id": flow.flow_id}


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
