"""The WhatsApp outbox: an SQS queue of ``OutboundMessage`` for ``WhatsAppSenderFunction``.

Putting a message never fails the caller: the journey's change is already committed, and a message
that could not be queued is logged (without the number) and counted as ``WhatsAppNotQueued``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws import CLIENT_CONFIG
from shared.domain.whatsapp_messages import OutboundMessage
from shared.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class WhatsAppOutbox:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            self._client = boto3.client("sqs", config=CLIENT_CONFIG)
        return self._client

    def put(self, message: OutboundMessage) -> bool:
        """Queues ``message``; False (logged and counted) when SQS did not take it."""
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json(exclude_none=True))
        except (ClientError, BotoCoreError) as error:
            metrics.add_metric(name="WhatsAppNotQueued", unit="Count", value=1)
            logger.warning(
                "whatsapp message not queued",
                extra={"key": message.key, "kind": message.kind, "error": type(error).__name__},
            )
            return False
        return True
