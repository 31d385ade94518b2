"""Sending what the outbox queue holds, each message at most once (``WhatsAppSenderFunction``).

SQS delivers a message at least once, and again after a failed try. Powertools Idempotency on the
message's ``key`` makes the send happen once: a key already sent, or sent without an answer
(``uncertain``), is never sent again. Only a try that certainly did not reach Meta (429, 5xx, no
connection) raises, so that SQS brings the message back after its visibility timeout, up to the
queue's ``maxReceiveCount``; then it goes to the dead-letter queue (an alarm watches it).

A reply past WhatsApp's 24-hour window would be refused by Meta: it is dropped and counted instead.
Nothing here can change a journey: the change was committed before the message was queued.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.adapters.whatsapp_cloud import CALL_SECONDS_MAX, CloudApiError, WhatsAppCloud
from shared.domain.whatsapp_messages import OutboundMessage
from shared.observability import logger, metrics

# Longer than the queue keeps a message (a day), so no redelivery outlives the record of its send.
KEEP_SENT_KEYS_SECONDS = 2 * 24 * 3600
MESSAGE_SECONDS_MAX = 2 * CALL_SECONDS_MAX
"""One message at its slowest: the read receipt and the message itself (48 s)."""


class NoTimeLeft(Exception):
    """Too little of the invocation is left to send one more message at its slowest: the queue
    brings it back, rather than Lambda's timeout cutting a send in the middle."""


class WhatsAppSender:
    def __init__(self, cloud: WhatsAppCloud, sent_keys: DynamoDBPersistenceLayer, clock: Callable[[], float]) -> None:
        self.cloud = cloud
        self.clock = clock
        self.config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=KEEP_SENT_KEYS_SECONDS)
        self._send_once = idempotent_function(
            data_keyword_argument="message", persistence_store=sent_keys, config=self.config
        )(self._send)

    def deliver(self, body: str, context: LambdaContext | None = None) -> str:
        """Sends one queued message; its outcome. Raises only for a try worth repeating later."""
        if context is not None:
            if context.get_remaining_time_in_millis() < MESSAGE_SECONDS_MAX * 1000:
                raise NoTimeLeft
            self.config.register_lambda_context(context)
        try:
            message = OutboundMessage.model_validate_json(body)
        except ValidationError:
            # Only this service queues messages: one it cannot read is a bug, not worth retrying.
            metrics.add_metric(name="WhatsAppNotSent", unit="Count", value=1)
            logger.error("whatsapp message unreadable", extra={"bytes": len(body)})
            return "unreadable"
        outcome: dict[str, str] = self._send_once(message=message)
        return outcome["outcome"]

    def _send(self, message: OutboundMessage) -> dict[str, str]:
        """Powertools keys the send on ``message.key`` and passes the message through as read."""
        log = {"key": message.key, "kind": message.kind}
        if message.send_before is not None and self.clock() >= message.send_before:
            metrics.add_metric(name="WhatsAppNotSent", unit="Count", value=1)
            logger.warning("whatsapp message past its 24-hour window", extra=log)
            return {"outcome": "too_late"}
        try:
            if message.read_message_id:
                self._mark_read(message.read_message_id, log)
            self.cloud.send(message)
        except CloudApiError as error:
            return self._not_sent(error, log)
        metrics.add_metric(name="WhatsAppSent", unit="Count", value=1)
        logger.info("whatsapp message sent", extra=log)
        return {"outcome": "sent"}

    def _mark_read(self, message_id: str, log: dict[str, str]) -> None:
        """Blue ticks are a courtesy: a refusal does not hold back the reply itself."""
        try:
            self.cloud.mark_read(message_id)
        except CloudApiError as error:
            if error.retryable:
                raise
            logger.warning("whatsapp read receipt refused", extra={**log, "status": error.status, "code": error.code})

    def _not_sent(self, error: CloudApiError, log: dict[str, str]) -> dict[str, str]:
        detail = {**log, "status": error.status, "code": error.code}
        if error.retryable:
            metrics.add_metric(name="WhatsAppSendRetried", unit="Count", value=1)
            logger.warning("whatsapp unavailable, the queue retries", extra={**detail, "reason": error.kind})
            raise error  # Idempotency forgets the key, so the queue's next delivery tries again
        if error.kind == "uncertain":
            metrics.add_metric(name="WhatsAppSendUncertain", unit="Count", value=1)
            logger.warning("whatsapp did not answer; not sent again", extra=detail)
            return {"outcome": "uncertain"}
        metrics.add_metric(name="WhatsAppNotSent", unit="Count", value=1)
        logger.error("whatsapp refused the message", extra=detail)
        return {"outcome": f"refused_{error.code or error.status}"}
