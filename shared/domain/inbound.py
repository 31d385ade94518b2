"""Webhook deliveries from Meta: checked, split into messages, each applied exactly once.

Meta retries a delivery for up to seven days and sometimes sends the same message twice at once.
Each message id goes through Powertools Idempotency on DynamoDB (kept eight days), and the flow
transitions are conditional writes, so a message has one effect however often it arrives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
from shared.adapters.whatsapp_webhook import Delivery, handshake_answer, inbound_text_messages, signature_valid
from shared.config import Settings
from shared.domain.flows import InboundMessage, WhatsAppFlows
from shared.errors import ServiceError
from shared.observability import logger, metrics

KEEP_MESSAGE_IDS_SECONDS = 8 * 24 * 3600  # longer than Meta's seven days of retries


@dataclass
class DeliveryReport:
    outcomes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"received": len(self.outcomes), "outcomes": self.outcomes}


class WebhookReceiver:
    def __init__(self, flows: WhatsAppFlows, settings: Settings) -> None:
        self.flows = flows
        self.settings = settings
        self.config = IdempotencyConfig(event_key_jmespath="message_id", expires_after_seconds=KEEP_MESSAGE_IDS_SECONDS)
        self._apply_once: Any = None

    def handshake(self, mode: str | None, token: str | None, challenge: str | None) -> str:
        answer = handshake_answer(mode, token, challenge, secret("WHATSAPP_VERIFY_TOKEN"))
        if answer is None:
            raise ServiceError("verification_failed")
        return answer

    def receive(self, raw_body: bytes, signature: str | None, context: LambdaContext | None = None) -> DeliveryReport:
        """Checks the signature before anything else, then applies every text message to us.

        The Lambda context lets an in-progress marker expire with the invocation, so a crash mid-way
        does not block Meta's retries."""
        if context is not None:
            self.config.register_lambda_context(context)
        if not signature_valid(secret("WHATSAPP_APP_SECRET"), raw_body, signature):
            metrics.add_metric(name="WebhookBadSignature", unit="Count", value=1)
            raise ServiceError("invalid_signature")
        report = DeliveryReport()
        try:
            delivery = Delivery.model_validate(json.loads(raw_body))
        except (ValueError, ValidationError):
            # Signed by Meta but not understood: acknowledge, or Meta retries it for a week.
            logger.warning("signed webhook delivery not understood")
            return report
        failure: Exception | None = None
        for message in inbound_text_messages(delivery, self.settings.whatsapp_phone_number_id):
            try:
                report.outcomes.append(self._apply(message) if message else "ignored")
            except Exception as error:  # infrastructure, not a business outcome
                # Apply the others first; then fail the request so Meta retries. Messages already
                # applied are recognised by their id on the retry.
                logger.exception("webhook message not applied")
                report.outcomes.append("error")
                failure = failure or error
        metrics.add_metric(name="WebhookMessages", unit="Count", value=len(report.outcomes))
        if failure is not None:
            raise failure
        return report

    def _apply(self, message: InboundMessage) -> str:
        try:
            outcome: dict[str, str] = self._once()(message=message)
        except IdempotencyAlreadyInProgressError:
            # The same message is being applied by a concurrent delivery; that one decides.
            metrics.add_metric(name="WebhookDuplicateInFlight", unit="Count", value=1)
            return "duplicate_in_progress"
        logger.info("webhook message applied", extra={"message_id": message.message_id, **outcome})
        return outcome["outcome"]

    def _once(self) -> Any:
        if self._apply_once is None:
            persistence = DynamoDBPersistenceLayer(table_name=self.settings.idempotency_table)
            self._apply_once = idempotent_function(
                data_keyword_argument="message", persistence_store=persistence, config=self.config
            )(self._receive_message)
        return self._apply_once

    def _receive_message(self, message: InboundMessage) -> dict[str, str]:
        return self.flows.receive(message)
