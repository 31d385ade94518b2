"""Journeys A and B1, the WhatsApp message: what a received message proves, and what it does.

The message carries a flow's link token; the sender's number, as Meta's signed delivery names it, is
what it proves. A migration (A) binds the number at once; a change (B1) proposes it, sealed on the
flow until the account password (``shared.domain.password_confirmation``). A sender whose number
WhatsApp hides is asked for it and the flow waits (``shared.domain.hidden_senders``). Apart from
``shared.domain.whatsapp_flows`` so that only the webhook loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.adapters.dynamo import Transaction
from shared.domain.accounts import Account, ChangeMethod, claim_owner
from shared.domain.flows import (
    MIGRATION_SUCCESS,
    ExtraItems,
    FailureReason,
    Flow,
    FlowKind,
    FlowStatus,
    InboundMessage,
    OpenedFlow,
)
from shared.domain.hidden_senders import HiddenSenders, SharedNumber
from shared.domain.number_change import NumberHeld
from shared.domain.whatsapp_flows import Refused, WhatsAppFlows
from shared.errors import ServiceError
from shared.observability import metrics

if TYPE_CHECKING:
    from shared.adapters.dynamo import ItemRef


class MessageProofs:
    """The messages of the flows of ``flows`` (its records, accounts and number change)."""

    def __init__(self, flows: WhatsAppFlows) -> None:
        self.flows = flows
        self.hidden_senders = HiddenSenders(flows.db, flows.settings, flows.clock)

    def receive(self, message: InboundMessage) -> dict[str, str]:
        found = self.flows.records.in_text(message.text, self._sender_claim(message.sender))
        if found is None:
            return {"outcome": "no_token"}
        opened, token = found
        return self._apply(opened, token, message)

    def receive_shared_number(self, shared: SharedNumber) -> dict[str, str]:
        token = self.hidden_senders.token_for(shared.sender_user_id)
        opened = self.flows.records.by_link(token, self._sender_claim(shared.number)) if token else None
        if token is None or opened is None:
            return {"outcome": "no_waiting_request"}
        message = InboundMessage(
            message_id=shared.message_id,
            sender=shared.number,
            text="",
            forwarded=False,
            sent_at=shared.sent_at,
            sender_user_id=shared.sender_user_id,
        )
        return self._apply(opened, token, message)

    def _sender_claim(self, sender: str | None) -> ExtraItems:
        """What a message's flow is read with: for B1, the sender's number claim, so a number it
        could never take is refused before the password."""

        def claim(_account_id: str, kind: FlowKind) -> list[ItemRef]:
            return [self.flows.accounts.claim_ref(sender)] if kind is FlowKind.NUMBER_CHANGE and sender else []

        return claim

    def _apply(self, opened: OpenedFlow, token: str, message: InboundMessage) -> dict[str, str]:
        flow = opened.flow
        if flow.status is not FlowStatus.PENDING:
            # What the reply tells the citizen: finished already, replaced by a newer request...
            return {"outcome": "flow_not_pending", "flow_id": flow.flow_id, "reason": flow.reason or str(flow.status)}
        # Judged by when the citizen sent it; a delivery Meta retried for longer than the result is
        # shown no longer completes anything.
        now = self.flows.clock()
        late = now >= flow.expires_at + self.flows.settings.result_view_seconds
        if (message.sent_at or now) >= flow.expires_at or late:
            self.flows.records.finish(flow, FlowStatus.EXPIRED, FailureReason.MESSAGE_AFTER_EXPIRY)
            return {"outcome": str(FailureReason.MESSAGE_AFTER_EXPIRY), "flow_id": flow.flow_id}
        if message.forwarded:
            return self.flows.fail(flow, FailureReason.FORWARDED)
        if message.sender is None:
            if message.sender_user_id:  # ask for the number; the flow waits for it
                self.hidden_senders.wait_for_number(flow, token, message.sender_user_id)
                return {"outcome": "awaiting_shared_number", "flow_id": flow.flow_id}
            return self.flows.fail(flow, FailureReason.SENDER_NUMBER_HIDDEN)
        if opened.account is None:  # the account behind the flow is gone
            return self.flows.fail(flow, FailureReason.ACCOUNT_GONE)
        try:
            if flow.kind is FlowKind.MIGRATION:
                return self._complete_migration(flow, opened.account, message.sender)
            [claim] = opened.extra
            return self._propose_change(flow, opened.account, token, message.sender, claim_owner(claim))
        except Refused as refused:
            return self.flows.fail(flow, refused.reason, message.sender)
        except ServiceError as error:  # the account was deleted meanwhile
            if error.code != "account_not_found":
                raise
            return self.flows.fail(flow, FailureReason.ACCOUNT_GONE)

    def _complete_migration(self, flow: Flow, account: Account, sender: str) -> dict[str, str]:
        def check(current: Account) -> None:
            if current.whatsapp_number:
                raise Refused(FailureReason.ALREADY_LINKED)

        def stage(tx: Transaction, now: int) -> None:
            self.flows.records.stage_finish(tx, flow, FlowStatus.COMPLETED, now, number=sender)

        done = self.flows.commit_change(
            flow, account, sender, ChangeMethod.WHATSAPP_MIGRATION, check, stage, also_phone=True
        )
        if done is None:
            return {"outcome": "flow_not_pending", "flow_id": flow.flow_id}
        metrics.add_metric(name="MigrationCompleted", unit="Count", value=1)
        self.flows.notify(done, MIGRATION_SUCCESS, sender)
        return {"outcome": "completed", "flow_id": flow.flow_id}

    def _propose_change(
        self, flow: Flow, account: Account, token: str, sender: str, holder: str | None
    ) -> dict[str, str]:
        """B1: the sender becomes the proposed number, sealed on the flow until the password. A number
        this proof could not take over (``holder``: who its claim names) is refused before the password."""
        if sender == account.whatsapp_number:
            raise Refused(FailureReason.SAME_NUMBER)
        try:
            self.flows.number_changes.displaceable(holder, sender, account.account_id, ChangeMethod.WHATSAPP_CHANGE)
        except NumberHeld:
            raise Refused(FailureReason.NUMBER_TAKEN) from None
        from shared.domain.sealing import seal  # here: functions that never bind a number never load cryptography

        if not self.flows.records.await_password(flow, sender, seal(token, flow.flow_id, sender)):
            return {"outcome": "flow_not_pending", "flow_id": flow.flow_id}
        return {"outcome": "awaiting_password", "flow_id": flow.flow_id}
