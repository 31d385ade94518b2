"""Webhook deliveries from Meta: checked, split into messages, each applied exactly once.

Meta retries a delivery for up to seven days and sometimes sends the same message twice at once.
Each message id goes through Powertools Idempotency on DynamoDB (kept eight days), and the flow
transitions are conditional writes, so a message has one effect however often it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.adapters.keys import secret
from shared.adapters.whatsapp_outbox import WhatsAppOutbox
from shared.adapters.whatsapp_webhook import Delivery, Inbound, handshake_answer, inbound_messages, signature_valid
from shared.config import Settings
from shared.domain.hidden_senders import SharedNumber
from shared.domain.number_moves import NumberMoved, NumberMoves
from shared.domain.whatsapp_flows import WhatsAppFlows
from shared.domain.whatsapp_replies import reply_to
from shared.errors import ServiceError
from shared.json_input import JsonRefused, read_json
from shared.observability import logger, metrics

KEEP_MESSAGE_IDS_SECONDS = 8 * 24 * 3600  # longer than Meta's seven days of retries
RETRY_IN_PROGRESS_SECONDS = 30
WEBHOOK_BODY_BYTES = 1024 * 1024
"""Meta's deliveries are a few KiB; a signed body above this is recorded as unreadable."""


@dataclass
class DeliveryReport:
    outcomes: list[str] = field(default_factory=list)
    unreadable: str | None = None
    """Why a signed delivery could not be read (``shared.json_input`` reasons, or ``not_a_delivery``)."""

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {"received": len(self.outcomes), "outcomes": self.outcomes}
        if self.unreadable:
            report["unreadable"] = self.unreadable
        return report


class MessageInProgress(ServiceError):
    """Another invocation is applying the same message right now: Meta must deliver it again."""

    def __init__(self) -> None:
        super().__init__("message_in_progress", retry_after=RETRY_IN_PROGRESS_SECONDS)


class WebhookReceiver:
    def __init__(self, flows: WhatsAppFlows, settings: Settings, outbox: WhatsAppOutbox) -> None:
        self.flows = flows
        self.settings = settings
        self.outbox = outbox
        self.number_moves = NumberMoves(flows.accounts, flows.mailer, flows.clock)
        self.config = IdempotencyConfig(event_key_jmespath="message_id", expires_after_seconds=KEEP_MESSAGE_IDS_SECONDS)
        self._apply_once: Any = None

    def handshake(self, mode: str | None, token: str | None, challenge: str | None) -> str:
        answer = handshake_answer(mode, token, challenge, secret("WHATSAPP_VERIFY_TOKEN"))
        if answer is None:
            raise ServiceError("verification_failed")
        return answer

    def receive(self, raw_body: bytes, signature: str | None, context: LambdaContext | None = None) -> DeliveryReport:
        """Checks the signature before anything else, then applies every message to us and queues
        the reply to each.

        The Lambda context lets an in-progress marker expire with the invocation, so a crash mid-way
        does not block Meta's retries."""
        if context is not None:
            self.config.register_lambda_context(context)
        if not signature_valid(secret("WHATSAPP_APP_SECRET"), raw_body, signature):
            metrics.add_metric(name="WebhookBadSignature", unit="Count", value=1)
            raise ServiceError("invalid_signature")
        report = DeliveryReport()
        try:
            delivery = Delivery.model_validate(read_json(raw_body, WEBHOOK_BODY_BYTES))
        except (JsonRefused, ValidationError) as error:
            # Signed by Meta but not understood: recorded and acknowledged, or Meta retries it for a week.
            reason = error.reason if isinstance(error, JsonRefused) else "not_a_delivery"
            logger.warning("signed webhook delivery unreadable", extra={"reason": reason, "bytes": len(raw_body)})
            metrics.add_metric(name="WebhookUnreadable", unit="Count", value=1)
            report.unreadable = reason
            return report
        failure: Exception | None = None
        for message in inbound_messages(delivery, self.settings.whatsapp_phone_number_id):
            try:
                report.outcomes.append(self._apply(message) if message else "ignored")
            except Exception as error:  # infrastructure, or the same message still in progress elsewhere
                # Apply the others first; then fail the request so Meta retries. Messages already
                # applied are recognised by their id on the retry.
                if not isinstance(error, MessageInProgress):
                    logger.exception("webhook message not applied")
                report.outcomes.append("error")
                failure = failure or error
        metrics.add_metric(name="WebhookMessages", unit="Count", value=len(report.outcomes))
        if failure is not None:
            raise failure
        return report

    def _apply(self, message: Inbound) -> str:
        try:
            outcome: dict[str, str] = self._once()(message=message)
        except IdempotencyAlreadyInProgressError:
            # A concurrent delivery holds this message id. Should it die, only Meta's retry brings
            # the message back, so this delivery must not be acknowledged.
            metrics.add_metric(name="WebhookDuplicateInFlight", unit="Count", value=1)
            logger.info("webhook message in progress elsewhere", extra={"message_id": message.message_id})
            raise MessageInProgress from None
        logger.info("webhook message applied", extra={"message_id": message.message_id, **outcome})
        self._reply(message, outcome)
        return outcome["outcome"]

    def _reply(self, message: Inbound, outcome: dict[str, str]) -> None:
        """Queues the city's answer in the chat. A retried delivery queues it again under the same
        key, which the sender sends once; a queue that cannot take it loses the reply, not the change."""
        if isinstance(message, NumberMoved):
            return  # a notice from WhatsApp itself, not the citizen writing: the owner gets an email
        reply = reply_to(message, outcome, self.flows.clock())
        if reply is not None:
            self.outbox.put(reply)

    @cached_property
    def message_ids(self) -> DynamoDBPersistenceLayer:
        """The store of message ids already applied (or being applied right now), on the journeys'
        own DynamoDB client: a second one would cost the webhook's cold start its making."""
        return DynamoDBPersistenceLayer(table_name=self.settings.idempotency_table, boto3_client=self.flows.db.client)

    def _once(self) -> Any:
        if self._apply_once is None:
            self._apply_once = idempotent_function(
                data_keyword_argument="message", persistence_store=self.message_ids, config=self.config
            )(self._receive_message)
        return self._apply_once

    def _receive_message(self, message: Inbound) -> dict[str, str]:
        if isinstance(message, SharedNumber):
            return self.flows.receive_shared_number(message)
        if isinstance(message, NumberMoved):
            return self.number_moves.moved(message)
        return self.flows.receive(message)
