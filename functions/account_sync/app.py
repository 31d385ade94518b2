"""Applies the account changes JSS publishes to the account-sync queue (``docs/account-sync.md``).

Partial batch failures are reported, so a message that cannot be applied is retried (and finally
dead-lettered) alone, and the others of its batch are not applied twice.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import instrumented
from shared.services import account_sync

processor = BatchProcessor(event_type=EventType.SQS)


def apply(record: SQSRecord) -> None:
    account_sync().apply(record.body)


@instrumented
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=apply, processor=processor, context=context))
