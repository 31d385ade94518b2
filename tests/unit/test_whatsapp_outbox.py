"""The WhatsApp outbox (``shared/adapters/whatsapp_outbox.py``): a message goes on the SQS queue as
JSON, and a queue that does not take it never fails the journey that queued it."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from botocore.exceptions import EndpointConnectionError

from shared.adapters.whatsapp_outbox import WhatsAppOutbox
from shared.domain.whatsapp_messages import OutboundMessage, Template
from tests.unit.conftest import REGION, AwsClients, QueuedMessages, counted

NUMBER = "+6281234567891"
REPLY = OutboundMessage(
    key="reply:wamid.A",
    to=NUMBER,
    read_message_id="wamid.A",
    reply_to="wamid.A",
    text="Pesan Anda sudah kami terima.",
    send_before=1_750_086_400,
)
WARNING = OutboundMessage(
    key="warn:f1", to=NUMBER, template=Template(name="jss_number_changed", language="id", body_parameters=("a", "b"))
)


pytestmark = pytest.mark.usefixtures("fresh_metrics")


def test_a_message_is_queued_as_json_in_the_order_put(outbox: WhatsAppOutbox, queued: QueuedMessages) -> None:
    assert outbox.put(REPLY) is True
    assert outbox.put(WARNING) is True

    assert queued.take() == [REPLY, WARNING]
    assert counted("WhatsAppNotQueued") == 0


def test_the_queued_json_leaves_out_what_the_message_does_not_say(
    aws: AwsClients, outbox: WhatsAppOutbox, queued: QueuedMessages
) -> None:
    outbox.put(WARNING)

    [raw] = aws.sqs.receive_message(QueueUrl=queued.queue_url)["Messages"]
    body = json.loads(raw["Body"])
    assert body == {
        "key": "warn:f1",
        "to": NUMBER,
        "template": {"name": "jss_number_changed", "language": "id", "body_parameters": ["a", "b"]},
    }


class Unreachable:
    """An SQS client whose endpoint cannot be reached."""

    def send_message(self, **_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=f"https://sqs.{REGION}.amazonaws.com")


@pytest.mark.parametrize("failure", ["no-such-queue", "unreachable"])
def test_a_message_sqs_does_not_take_is_counted_and_does_not_fail_the_caller(
    aws: AwsClients, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The journey's change is committed already: losing the message must not undo or fail it."""
    if failure == "no-such-queue":
        outbox = WhatsAppOutbox(f"https://sqs.{REGION}.amazonaws.com/123456789012/NoSuchQueue", aws.sqs)
    else:
        outbox = WhatsAppOutbox("https://sqs.example/queue", cast(Any, Unreachable()))

    assert outbox.put(REPLY) is False

    assert counted("WhatsAppNotQueued") == 1
    [record] = [r for r in caplog.records if r.getMessage() == "whatsapp message not queued"]
    assert (getattr(record, "key", None), getattr(record, "kind", None)) == ("reply:wamid.A", "text")
    assert NUMBER.lstrip("+") not in str(vars(record))
