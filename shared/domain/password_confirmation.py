"""Journey B1, last step: the account password confirms the number proposed through WhatsApp.

Every try is counted before the password is compared: on the flow (the fifth wrong one locks it) and
account-wide (too many wrong tries lock confirmation for the account a while). A right password
changes the number. Apart from ``shared.domain.whatsapp_flows`` so that only the function confirming
passwords loads the password hashers (bcrypt, argon2).
"""

from __future__ import annotations

from dataclasses import replace

from shared.adapters.dynamo import ConditionFailed, Transaction
from shared.clock import iso, wib_time
from shared.domain.accounts import Account, ChangeMethod, required
from shared.domain.flows import (
    CHANGE_SUCCESS,
    ConfirmResult,
    FailureReason,
    Flow,
    FlowKind,
    FlowStatus,
    LinkView,
    OpenedFlow,
)
from shared.domain.limits import LimitReached, Recorded
from shared.domain.passwords import verify_password
from shared.domain.phone import mask_number
from shared.domain.sealing import unseal
from shared.domain.whatsapp_flows import Refused, WhatsAppFlows, password_limit_name
from shared.errors import ServiceError
from shared.observability import metrics


class PasswordConfirmation:
    """The password step of the flows of ``flows`` (its records, limits and number change)."""

    def __init__(self, flows: WhatsAppFlows) -> None:
        self.flows = flows
        self.records = flows.records
        self.limiter = flows.limiter
        self.window = flows.password_window

    def confirm(self, token: str, password: str) -> ConfirmResult:
        # The account's tries are read with the flow: no round trip of their own.
        opened = self.flows.visible(token, FlowKind.NUMBER_CHANGE, self.flows.password_tries_ref)
        try:
            return ConfirmResult(self._confirm(opened, token, password))
        except _Finished:
            return ConfirmResult(self.flows.current_view(opened.flow))
        except ServiceError as error:
            return ConfirmResult(self.flows.current_view(opened.flow), error)

    def _confirm(self, opened: OpenedFlow, token: str, password: str) -> LinkView:
        flow, account = opened.flow, opened.account
        status = flow.status_at(self.flows.clock())
        if status is FlowStatus.PENDING:
            raise ServiceError("flow_awaiting_message")
        if status is FlowStatus.LOCKED:
            raise ServiceError("flow_locked")
        if status is not FlowStatus.AWAITING_PASSWORD:
            return self.flows.view(flow, account)  # done or failed: show it, change nothing
        account = required(account)
        limit_name = password_limit_name(account.account_id)
        [limit_item] = opened.extra
        tries = Recorded.of(limit_item)
        self._refuse_if_account_locked(limit_name, tries)
        attempts = self._count_flow_password_try(flow)
        self._count_account_password_try(limit_name, tries)

        if not verify_password(password, account.password_hash):
            metrics.add_metric(name="WrongPassword", unit="Count", value=1)
            tries_left = self.flows.settings.password_tries_per_flow - attempts
            if tries_left <= 0:
                self.records.finish(flow, FlowStatus.LOCKED, None, expected=FlowStatus.AWAITING_PASSWORD)
                raise ServiceError("flow_locked")
            raise ServiceError("wrong_password", tries_left=tries_left)

        self.limiter.reset(limit_name)
        new_number = unseal(token, flow.flow_id, flow.proposed_sealed or "")
        if new_number is None:  # the sealed value was damaged: nothing to confirm
            self.flows.fail(flow, FailureReason.PROPOSAL_UNREADABLE, expected=FlowStatus.AWAITING_PASSWORD)
            return self.flows.current_view(flow)
        return self._complete_change(flow, account, new_number)

    def _complete_change(self, flow: Flow, account: Account, new_number: str) -> LinkView:
        def check(current: Account) -> None:
            if current.whatsapp_number == new_number:
                raise Refused(FailureReason.SAME_NUMBER)

        def stage(tx: Transaction, now: int) -> None:
            self.records.stage_finish(tx, flow, FlowStatus.COMPLETED, now, number=new_number, remove_sealed=True)

        try:
            done = self.flows.commit_change(flow, account, new_number, ChangeMethod.WHATSAPP_CHANGE, check, stage)
        except Refused as refused:
            self.flows.fail(flow, refused.reason, new_number, expected=FlowStatus.AWAITING_PASSWORD)
            return self.flows.current_view(flow)
        if done is None:
            return self.flows.current_view(flow)  # a parallel request finished the flow first
        metrics.add_metric(name="NumberChangeCompleted", unit="Count", value=1)
        self.flows.notify(done, CHANGE_SUCCESS, new_number)
        # The flow as this commit left it (``stage`` above): nothing to read again.
        completed = replace(
            flow,
            status=FlowStatus.COMPLETED,
            finished_at=done.at,
            number_masked=mask_number(new_number),
            proposed_sealed=None,
        )
        return self.flows.view(completed, done.before)

    def _refuse_if_account_locked(self, limit_name: str, tries: Recorded) -> None:
        """Across flows, too many wrong passwords lock confirmation for the account for a while."""
        now = self.flows.clock()
        try:
            self.limiter.check(limit_name, self.window, now, tries)
        except LimitReached as limit:
            raise _password_locked(limit, now) from None

    def _count_account_password_try(self, limit_name: str, tries: Recorded) -> None:
        """Records the try for the account-wide lock (atomically: parallel tries cannot slip past)."""
        now = self.flows.clock()
        try:
            self.limiter.hit(limit_name, [self.window], now, tries)
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


class _Finished(Exception):
    """The flow was finished by a parallel request while this one was on its way."""


def _password_locked(limit: LimitReached, now: float) -> ServiceError:
    metrics.add_metric(name="PasswordLocked", unit="Count", value=1)
    until = now + limit.retry_after
    return ServiceError(
        "password_locked", retry_after=limit.retry_after, locked_until=iso(until), text_locked_until=wib_time(until)
    )
