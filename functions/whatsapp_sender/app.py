"""Sends the city's WhatsApp messages from the outbox queue: read receipts, replies, warnings.

Partial batch failures are reported, so only a message Meta could not take now comes back, and the
others of its batch are not sent twice (``shared.domain.whatsapp_sending``).
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import instrumented
from shared.services import whatsapp_sender

# Meta down fails every record of a batch: that is WhatsAppSendRetried and the dead-letter alarm,
# not a crashed function (whose alarm would roll a deployment back for Meta's outage).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sender = whatsapp_sender()
    sender.cloud.fresh_connections()

    def send(record: SQSRecord) -> None:
        sender.deliver(record.body, context)

    return dict(process_partial_response(event=event, record_handler=send, processor=processor, context=context))
