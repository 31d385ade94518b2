"""Journeys A (migrate to WhatsApp) and B1 (change the number through WhatsApp).

Both work the same way: the app starts a flow, the citizen sends a prepared WhatsApp message that
carries a single-use link token, the webhook receives it (which proves the number), and the blue link
shows the result. B1 then asks for the account password before the number changes
(``shared.domain.password_confirmation``). The flow items and their reads and writes:
``shared.domain.flows``.

A link's reader gets the flow and its account in one batch read after the link (two round trips);
what a step already read is handed on rather than read again.
"""

from __future__ import annotations

import math
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import quote

from shared.adapters.dynamo import ConditionFailed, Dynamo, Transaction
from shared.adapters.mail import Mailer
from shared.adapters.whatsapp_outbox import WhatsAppOutbox
from shared.config import Settings
from shared.domain.accounts import Account, account_from_item, mask_email, required
from shared.domain.change_notices import ChangeNotices
from shared.domain.flows import (
    CHANGE_SUCCESS,
    MIGRATION_SUCCESS,
    OPEN_STATES,
    TOKEN_BYTES,
    ConfirmResult,
    ExtraItems,
    FailureReason,
    Flow,
    FlowKind,
    FlowRecords,
    FlowStatus,
    InboundMessage,
    LinkView,
    OpenedFlow,
    StartedFlow,
    no_extra,
)
from shared.domain.journey import Journey
from shared.domain.limits import LimitReached, Recorded, Window
from shared.domain.notifications import notify_number_taken_over
from shared.domain.number_change import CommittedChange, refuse_while_blocked
from shared.domain.open_items import OpenPointer
from shared.errors import ServiceError
from shared.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from shared.adapters.dynamo import ItemRef
    from shared.domain.hidden_senders import SharedNumber
    from shared.domain.message_proofs import MessageProofs
    from shared.domain.password_confirmation import PasswordConfirmation


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
        outbox: WhatsAppOutbox | None = None,
    ) -> None:
        super().__init__(db, settings, mailer, clock, outbox)
        self.records = FlowRecords(db, settings, clock)
        self.password_window = Window(
            settings.password_tries_per_account,
            settings.password_window_seconds,
            lock_seconds=settings.password_lock_seconds,
        )

    # ----------------------------------------------------------------- starting a flow

    @tracer.capture_method(capture_response=False)
    def start(self, account_id: str, kind: FlowKind) -> StartedFlow:
        limit_name = f"start#{kind}#{account_id}"
        # What a start reads, in one round trip: the account, its recent starts and its open flow.
        account_item, starts, open_flow = self.db.batch_read(
            [self.accounts.ref(account_id), self.limiter.ref(limit_name), self.records.open_flow_ref(account_id, kind)]
        )
        account = required(account_from_item(account_item))
        if kind is FlowKind.MIGRATION and account.whatsapp_number:
            raise ServiceError("whatsapp_already_linked")
        if kind is FlowKind.NUMBER_CHANGE and not account.whatsapp_number:
            raise ServiceError("migration_required")
        now = self.clock()
        if kind is FlowKind.NUMBER_CHANGE:
            refuse_while_blocked(account, now)  # said now, not after the message and the password
        window = Window(self.settings.flow_start_limit, self.settings.flow_start_window_seconds)
        try:
            self.limiter.hit(limit_name, [window], now, Recorded.of(starts))
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
        self.records.open(flow, token, OpenPointer.of(open_flow))
        metrics.add_metric(name=f"{kind.title().replace('_', '')}Started", unit="Count", value=1)
        link_url = self.link_url(token, kind)
        message = _prepared_message(kind, link_url)
        return StartedFlow(
            flow_id=flow.flow_id,
            status=flow.status,
            whatsapp_url=_whatsapp_url(self.settings.whatsapp_business_number, message),
            message=message,
            link_url=link_url,
            expires_at=flow.expires_at,
        )

    def link_url(self, token: str, kind: FlowKind) -> str:
        return f"{self.settings.public_base_url}/{kind.link_prefix}/{token}"

    def whatsapp_url(self, token: str, kind: FlowKind) -> str:
        """The click-to-chat link of a flow's prepared message, as its start answered it."""
        message = _prepared_message(kind, self.link_url(token, kind))
        return _whatsapp_url(self.settings.whatsapp_business_number, message)

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
        """What the blue link shows. Never changes state: chat apps fetch links for previews.
        A number change's page also knows whether the account's password confirmation is locked
        (its tries come in the same read), so it never offers a form that cannot work."""
        if kind is not FlowKind.NUMBER_CHANGE:
            opened = self.visible(token, kind)
            return self.view(opened.flow, opened.account)
        opened = self.visible(token, kind, self.password_tries_ref)
        view = self.view(opened.flow, opened.account)
        if view.status is not FlowStatus.AWAITING_PASSWORD:
            return view
        [tries] = opened.extra
        now = self.clock()
        locked_for = self.password_window.blocked_for(Recorded.of(tries).hits, now)
        return replace(view, password_locked_until=math.ceil(now) + locked_for) if locked_for else view

    def password_tries_ref(self, account_id: str, _kind: FlowKind) -> list[ItemRef]:
        """The account-wide record of password tries (B1), to read along with a flow."""
        return [self.limiter.ref(password_limit_name(account_id))]

    def visible(self, token: str, kind: FlowKind, extra: ExtraItems = no_extra) -> OpenedFlow:
        """The flow a link of ``kind`` opens, with its account (and ``extra`` items, in the same
        read), while the link may still show it."""
        opened = self.records.by_link(token, extra)
        if opened is None or opened.flow.kind is not kind or opened.flow.reason == FailureReason.REPLACED:
            raise ServiceError("link_not_found")
        flow, now = opened.flow, self.clock()
        status = flow.status_at(now)
        if status is FlowStatus.EXPIRED:
            raise ServiceError("link_not_found")
        if status not in OPEN_STATES and now >= (flow.finished_at or 0) + self.settings.result_view_seconds:
            raise ServiceError("link_not_found")  # used up: the result was shown long enough
        return opened

    def current_view(self, flow: Flow) -> LinkView:
        """The view of the flow as it is now, after this request or a parallel one moved it."""
        current = self.records.read(flow.flow_id, flow.account_id)
        if current is None:  # the flow item is gone: show it as it was read
            return self.view(flow, self.accounts.get(flow.account_id))
        return self.view(current.flow, current.account)

    def view(self, flow: Flow, account: Account | None) -> LinkView:
        """The page of ``flow`` (as read or as this request left it) for its ``account``."""
        if account is None:
            raise ServiceError("link_not_found")
        status = flow.status_at(self.clock())
        view = LinkView(
            kind=flow.kind,
            status=status,
            account_masked=mask_email(account.email) if account.email else _short_name(account.name),
            account_has_email=bool(account.email),
            number_masked=flow.number_masked,
            reason=flow.reason if status is FlowStatus.FAILED else None,
            expires_at=flow.expires_at if status in OPEN_STATES else None,
        )
        if status is FlowStatus.COMPLETED:
            return replace(view, success_message=_success_message(flow.kind))
        if status is FlowStatus.AWAITING_PASSWORD:
            return replace(view, tries_left=self.settings.password_tries_per_flow - flow.password_attempts)
        return view

    # ----------------------------------------------------------------- the WhatsApp message

    @tracer.capture_method(capture_response=False)
    def receive(self, message: InboundMessage) -> dict[str, str]:
        """Applies one inbound message. Returns a small outcome record (no personal data) for logs,
        for the idempotency store and for the reply. Business outcomes never raise: Meta must not
        retry them."""
        return self._messages.receive(message)

    @tracer.capture_method(capture_response=False)
    def receive_shared_number(self, shared: SharedNumber) -> dict[str, str]:
        """A hidden sender shared the number: their waiting flow goes on as if it came from it."""
        return self._messages.receive_shared_number(shared)

    @cached_property
    def _messages(self) -> MessageProofs:
        # Imported on first use: only the webhook applies messages.
        from shared.domain.message_proofs import MessageProofs

        return MessageProofs(self)

    # ----------------------------------------------------------------- B1: password confirmation

    @tracer.capture_method(capture_response=False)
    def confirm_password(self, token: str, password: str) -> ConfirmResult:
        """Checks the password and, if right, changes the number. A refused try comes back with the
        page to show again, so a form can say what went wrong and how many tries remain."""
        return self._password_confirmation.confirm(token, password)

    @cached_property
    def _password_confirmation(self) -> PasswordConfirmation:
        # Imported on first use: only the function confirming passwords loads the password hashers.
        from shared.domain.password_confirmation import PasswordConfirmation

        return PasswordConfirmation(self)

    # ----------------------------------------------------------------- shared by both steps that bind

    def commit_change(
        self,
        flow: Flow,
        account: Account,
        number: str,
        method: str,
        check: Callable[[Account], None],
        stage: Callable[[Transaction, int], None],
        also_phone: bool = False,
    ) -> CommittedChange | None:
        """The number change and the flow's completion in one transaction, starting from ``account``
        as just read; None when another request finished the flow first. A number held where this
        proof cannot take it is refused as taken."""
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
                known=account,
            )
        except ConditionFailed as failed:
            if "flow" in failed.labels:
                return None
            if "claim" in failed.labels:
                raise Refused(FailureReason.NUMBER_TAKEN) from None
            raise

    def notify(self, done: CommittedChange, headline: str, number: str) -> None:
        ChangeNotices(self.mailer, self.settings, self.outbox).number_changed(done, headline, number)
        if done.displaced is not None:
            metrics.add_metric(name="UnverifiedNumberTakenOver", unit="Count", value=1)
            notify_number_taken_over(self.mailer, done.displaced.email, number, done.at)

    def fail(
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


class Refused(Exception):
    """A message or a confirmation that cannot change the number, for a reason the page explains."""

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(str(reason))
        self.reason = reason


def password_limit_name(account_id: str) -> str:
    return f"password#{account_id}"


def _short_name(name: str | None) -> str | None:
    """``Budi Santoso Wibowo`` as ``Budi S. W.``: enough for the citizen to know the account, no more."""
    words = (name or "").split()
    if not words:
        return None  # nothing a citizen would recognise: the page leaves the account out
    return " ".join([words[0], *(f"{word[0]}." for word in words[1:])])
