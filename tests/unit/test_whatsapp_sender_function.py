"""``WhatsAppSenderFunction`` with SQS batches in Lambda's format, over a scripted Cloud API: only a
message Meta could not take now comes back, and Meta being down is not a crashed function."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared import services
from shared.adapters.whatsapp_cloud import CloudApiError
from shared.domain.whatsapp_messages import OutboundMessage
from shared.domain.whatsapp_sending import MESSAGE_SECONDS_MAX
from tests.unit.lambdas import FakeLambdaContext, load_function
from tests.unit.test_account_sync import sqs_record


class ScriptedCloud:
    """Answers each send from ``failures`` (by recipient), else with a wamid; records what was sent."""

    def __init__(self, failures: dict[str, CloudApiError] | None = None) -> None:
        self.failures = failures or {}
        self.sent: list[str] = []
        self.read: list[str] = []
        self.fresh = 0

    def fresh_connections(self) -> None:
        self.fresh += 1

    def mark_read(self, message_id: str) -> None:
        self.read.append(message_id)

    def send(self, message: OutboundMessage) -> str:
        if failure := self.failures.get(message.to or ""):
            raise failure
        self.sent.append(message.key)
        return "wamid.out"


def message(key: str, to: str, now: float) -> str:
    return OutboundMessage(
        key=key,
        to=to,
        read_message_id=f"wamid.in.{key}",
        text="Pesan Anda sudah kami terima.",
        send_before=int(now) + 60,
    ).model_dump_json(exclude_none=True)


@pytest.fixture
def cloud(aws: Any, monkeypatch: pytest.MonkeyPatch) -> ScriptedCloud:
    scripted = ScriptedCloud()
    monkeypatch.setattr(services.whatsapp_sender(), "cloud", scripted)
    return scripted


class FreshContext(FakeLambdaContext):
    """A new invocation of the sender: its whole 60 s timeout ahead."""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def handle(*bodies: str) -> dict[str, Any]:
    event = {"Records": [sqs_record(body, f"0a1b2c3d-0000-4000-8000-00000000000{i}") for i, body in enumerate(bodies)]}
    result: dict[str, Any] = load_function("whatsapp_sender").lambda_handler(event, FreshContext())
    return result


def test_a_batch_is_sent_with_fresh_connections(cloud: ScriptedCloud) -> None:
    now = time.time()
    assert handle(message("reply:a", "+6281234567890", now), message("reply:b", "+6281398765432", now)) == {
        "batchItemFailures": []
    }
    assert cloud.sent == ["reply:a", "reply:b"]
    assert cloud.read == ["wamid.in.reply:a", "wamid.in.reply:b"]
    assert cloud.fresh == 1


def test_only_the_message_meta_could_not_take_comes_back(cloud: ScriptedCloud) -> None:
    now = time.time()
    cloud.failures["+6281398765432"] = CloudApiError("rate_limited", 429, 130429)
    result = handle(message("reply:c", "+6281234567890", now), message("reply:d", "+6281398765432", now))
    assert result == {"batchItemFailures": [{"itemIdentifier": "0a1b2c3d-0000-4000-8000-000000000001"}]}
    assert cloud.sent == ["reply:c"]


def test_meta_down_for_the_whole_batch_is_not_a_crashed_function(cloud: ScriptedCloud) -> None:
    now = time.time()
    down = CloudApiError("unavailable", 503, 2)
    cloud.failures.update({"+6281234567890": down, "+6281398765432": down})
    result = handle(message("reply:e", "+6281234567890", now), message("reply:f", "+6281398765432", now))
    assert len(result["batchItemFailures"]) == 2  # both come back; no exception for Lambda's Errors


class ShortContext(FakeLambdaContext):
    """An invocation with less time left than one message at its slowest."""

    def get_remaining_time_in_millis(self) -> int:
        return int(MESSAGE_SECONDS_MAX * 1000) - 1


def test_a_message_is_not_started_without_the_time_to_finish_it(cloud: ScriptedCloud) -> None:
    """Lambda's timeout would cut a send in the middle (and count as a crashed function)."""
    event = {"Records": [sqs_record(message("reply:g", "+6281234567890", time.time()), "0a1b2c3d-0000-4000-8000-0")]}
    result = load_function("whatsapp_sender").lambda_handler(event, ShortContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "0a1b2c3d-0000-4000-8000-0"}]}
    assert cloud.sent == []


def test_the_senders_timeout_leaves_room_for_one_message_at_its_slowest() -> None:
    from devserver import template

    properties = template.load()["Resources"]["WhatsAppSenderFunction"]["Properties"]
    assert properties["Timeout"] >= MESSAGE_SECONDS_MAX + 5
