"""Sending the outbox queue's messages (``shared/domain/whatsapp_sending.py``): each key at most once,
on the real Idempotency table (moto), with a fake Cloud API that records calls and fails as scripted.

SQS delivers at least once; only a failure that certainly did not reach Meta may be tried again.
"""

from __future__ import annotations

from typing import cast

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.whatsapp_cloud import CloudApiError, WhatsAppCloud
from shared.config import Settings
from shared.domain.whatsapp_messages import OutboundMessage, Template
from shared.domain.whatsapp_sending import WhatsAppSender
from tests.unit.conftest import AwsClients, FakeClock, counted

# Outside Lambda there is no remaining time to bound an in-progress record by; Powertools says so.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left:UserWarning"),
    pytest.mark.usefixtures("fresh_metrics"),
]

NUMBER = "+6281234567891"
INBOUND = "wamid.HBgNNjI4MTIzNDU2Nzg5MRUCABIYFjNFQjBDNzk2"


class FakeCloud:
    """Records ``mark_read`` and ``send`` in order; each raises the next error scripted for it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.failures: dict[str, list[CloudApiError]] = {"mark_read": [], "send": []}

    def fail(self, call: str, *errors: CloudApiError) -> None:
        self.failures[call].extend(errors)

    def mark_read(self, message_id: str) -> None:
        self.calls.append(("mark_read", message_id))
        if self.failures["mark_read"]:
            raise self.failures["mark_read"].pop(0)

    def send(self, message: OutboundMessage) -> str:
        self.calls.append(("send", message.key))
        if self.failures["send"]:
            raise self.failures["send"].pop(0)
        return f"wamid.sent.{len(self.calls)}"

    def sends(self) -> list[str]:
        return [key for call, key in self.calls if call == "send"]


@pytest.fixture
def cloud() -> FakeCloud:
    return FakeCloud()


@pytest.fixture
def sender(aws: AwsClients, config: Settings, cloud: FakeCloud, clock: FakeClock) -> WhatsAppSender:
    sent_keys = DynamoDBPersistenceLayer(table_name=config.idempotency_table, boto3_client=aws.dynamodb)
    return WhatsAppSender(cast(WhatsAppCloud, cloud), sent_keys, clock)


def reply(clock: FakeClock, key: str = f"reply:{INBOUND}", *, read: bool = True, window: float = 3600) -> str:
    """A queued reply, as ``WhatsAppOutbox.put`` writes it."""
    message = OutboundMessage(
        key=key,
        to=NUMBER,
        read_message_id=INBOUND if read else None,
        reply_to=INBOUND,
        text="Pesan Anda sudah kami terima.",
        send_before=int(clock.now + window),
    )
    return message.model_dump_json(exclude_none=True)


def warning(key: str = "warn:1") -> str:
    said = Template(name="jss_number_changed", language="id", body_parameters=("+62 812-****-7891", "x", "y"))
    return OutboundMessage(key=key, to=NUMBER, template=said).model_dump_json(exclude_none=True)


# ----------------------------------------------------------------- once per key


def test_a_message_delivered_twice_is_sent_once(sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock) -> None:
    body = reply(clock)

    assert sender.deliver(body) == "sent"
    assert sender.deliver(body) == "sent"

    assert cloud.sends() == [f"reply:{INBOUND}"]


def test_a_redelivery_with_the_read_receipt_dropped_is_still_the_same_message(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock
) -> None:
    """The key names the message, whatever else the body says."""
    sender.deliver(reply(clock))

    assert sender.deliver(reply(clock, read=False)) == "sent"
    assert cloud.sends() == [f"reply:{INBOUND}"]


def test_messages_with_different_keys_are_each_sent(sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock) -> None:
    assert sender.deliver(reply(clock, "reply:wamid.A")) == "sent"
    assert sender.deliver(reply(clock, "reply:wamid.B")) == "sent"

    assert cloud.sends() == ["reply:wamid.A", "reply:wamid.B"]


def test_a_delivery_with_the_lambda_context_sends_too(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock
) -> None:
    class Context:
        function_name = "WhatsAppSenderFunction"
        aws_request_id = "req-1"

        def get_remaining_time_in_millis(self) -> int:
            return 60_000  # a fresh invocation: its whole timeout ahead

    body = reply(clock)

    assert sender.deliver(body, cast(LambdaContext, Context())) == "sent"
    assert sender.deliver(body, cast(LambdaContext, Context())) == "sent"
    assert cloud.sends() == [f"reply:{INBOUND}"]


# ----------------------------------------------------------------- the read receipt


def test_the_citizen_s_message_is_marked_read_before_the_reply(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock
) -> None:
    sender.deliver(reply(clock))

    assert cloud.calls == [("mark_read", INBOUND), ("send", f"reply:{INBOUND}")]


def test_a_message_without_a_read_receipt_is_only_sent(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock
) -> None:
    sender.deliver(reply(clock, read=False))

    assert cloud.calls == [("send", f"reply:{INBOUND}")]


def test_a_refused_read_receipt_does_not_hold_back_the_reply(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock
) -> None:
    """Blue ticks are a courtesy; the answer is what the citizen needs."""
    cloud.fail("mark_read", CloudApiError("refused", 400, 100))

    assert sender.deliver(reply(clock)) == "sent"
    assert cloud.calls == [("mark_read", INBOUND), ("send", f"reply:{INBOUND}")]


@pytest.mark.parametrize("kind", ["rate_limited", "unavailable"])
def test_a_read_receipt_meta_could_not_take_now_brings_the_message_back(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock, kind: str
) -> None:
    cloud.fail("mark_read", CloudApiError(kind, 503))
    body = reply(clock)

    with pytest.raises(CloudApiError):
        sender.deliver(body)
    assert cloud.sends() == []

    assert sender.deliver(body) == "sent"
    assert cloud.calls == [("mark_read", INBOUND), ("mark_read", INBOUND), ("send", f"reply:{INBOUND}")]


# ----------------------------------------------------------------- failures


@pytest.mark.parametrize(
    "error",
    [
        CloudApiError("rate_limited", 429, 130429),
        CloudApiError("rate_limited", 400, 131056),
        CloudApiError("unavailable", 503),
    ],
    ids=["429", "pair-rate", "503"],
)
def test_a_send_meta_could_not_take_now_raises_and_the_next_delivery_tries_again(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock, error: CloudApiError
) -> None:
    """Raising lets SQS bring the message back; the key must not be kept as done."""
    cloud.fail("send", error)
    body = reply(clock)

    with pytest.raises(CloudApiError) as raised:
        sender.deliver(body)
    assert raised.value is error
    assert counted("WhatsAppSendRetried") == 1

    assert sender.deliver(body) == "sent"
    assert sender.deliver(body) == "sent"
    assert cloud.sends() == [f"reply:{INBOUND}", f"reply:{INBOUND}"]


def test_a_send_without_an_answer_is_uncertain_and_never_sent_again(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock
) -> None:
    """Meta may have delivered it: a second send could put the reply twice in the chat."""
    cloud.fail("send", CloudApiError("uncertain"))
    body = reply(clock)

    assert sender.deliver(body) == "uncertain"
    assert sender.deliver(body) == "uncertain"

    assert cloud.sends() == [f"reply:{INBOUND}"]
    assert counted("WhatsAppSendUncertain") == 1


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (CloudApiError("refused", 400, 131047), "refused_131047"),
        (CloudApiError("refused", 401, 190), "refused_190"),
        (CloudApiError("refused", 400, None), "refused_400"),
    ],
)
def test_a_refused_message_says_why_and_is_not_tried_again(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock, error: CloudApiError, outcome: str
) -> None:
    cloud.fail("send", error)
    body = reply(clock)

    assert sender.deliver(body) == outcome
    assert sender.deliver(body) == outcome

    assert cloud.sends() == [f"reply:{INBOUND}"]
    assert counted("WhatsAppNotSent") == 1


# ----------------------------------------------------------------- the 24-hour window


@pytest.mark.parametrize("window", [0, -1, -86_400])
def test_a_reply_past_its_window_is_too_late_and_never_reaches_meta(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock, window: float
) -> None:
    """Meta would refuse it (131047); the read receipt would be a courtesy hours late."""
    assert sender.deliver(reply(clock, window=window)) == "too_late"

    assert cloud.calls == []
    assert counted("WhatsAppNotSent") == 1


def test_a_reply_queued_in_time_is_too_late_once_the_window_closed(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock
) -> None:
    body = reply(clock, window=60)
    clock.advance(60)

    assert sender.deliver(body) == "too_late"
    assert cloud.calls == []


def test_a_reply_a_second_before_its_window_closes_is_sent(
    sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock
) -> None:
    assert sender.deliver(reply(clock, window=1)) == "sent"
    assert cloud.sends() == [f"reply:{INBOUND}"]


def test_a_template_is_sent_whatever_the_time(sender: WhatsAppSender, cloud: FakeCloud, clock: FakeClock) -> None:
    """Templates are what may be sent outside the window: they carry no send_before."""
    clock.advance(365 * 86_400)

    assert sender.deliver(warning()) == "sent"
    assert cloud.calls == [("send", "warn:1")]


# ----------------------------------------------------------------- unreadable bodies


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="not-json"),
        pytest.param("", id="empty"),
        pytest.param("[]", id="json-list"),
        pytest.param('{"key": "reply:1"}', id="nobody-to-send-to"),
        pytest.param('{"key": "reply:1", "to": "+6281234567891", "text": "Halo"}', id="text-without-window"),
        pytest.param(
            '{"key": "reply:1", "to": "+6281234567891", "text": "Halo", "send_before": 1, "bcc": "x"}',
            id="unknown-field",
        ),
        pytest.param('{"key": "reply:1", "to": "081234567891", "text": "Halo", "send_before": 1}', id="not-e164"),
    ],
)
def test_an_unreadable_body_is_dropped_without_raising_or_calling_meta(
    aws: AwsClients, config: Settings, sender: WhatsAppSender, cloud: FakeCloud, body: str
) -> None:
    """Only this service queues messages: an unreadable one is a bug, and retrying cannot fix it."""
    assert sender.deliver(body) == "unreadable"

    assert cloud.calls == []
    assert counted("WhatsAppNotSent") == 1
    assert aws.dynamodb.scan(TableName=config.idempotency_table)["Items"] == []
