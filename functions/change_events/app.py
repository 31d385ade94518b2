"""Publishes the outbox's WhatsAppNumberChanged events to the EventBridge bus JSS listens to.

``relay_handler`` runs on the outbox table's stream (new events only) and reports partial batch
failures, so only the events the bus refused are retried. ``sweep_handler`` runs on a schedule and
publishes events left pending once the stream's retries ran out.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.dynamo import from_attributes
from shared.observability import instrumented
from shared.services import change_event_relay

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def publish(record: DynamoDBRecord) -> None:
    change_event_relay().publish_new(from_attributes(record.raw_event["dynamodb"]["NewImage"]))


@instrumented
def relay_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=publish, processor=processor, context=context))


@instrumented
def sweep_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = change_event_relay().publish_stranded()
    return {"published": report.published, "failed": report.failed}
