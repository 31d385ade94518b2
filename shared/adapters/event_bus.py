"""Events to an Amazon EventBridge bus (PutEvents), one entry per call.

PutEvents can succeed as a call and still refuse an entry (``FailedEntryCount``), so both a refused
call and a refused entry raise ``EventNotPublished``: the caller keeps the event and tries again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from shared.adapters.aws import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient


class EventNotPublished(Exception):
    """EventBridge did not take the event; ``reason`` is its error code, never the event itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EventBus:
    def __init__(self, bus_name: str, source: str, client: EventBridgeClient | None = None) -> None:
        self.bus_name = bus_name
        self.source = source
        self._client = client

    @property
    def client(self) -> EventBridgeClient:
        if self._client is None:
            self._client = boto3.client("events", config=CLIENT_CONFIG)
        return self._client

    def publish(self, detail_type: str, detail: dict[str, Any], at: int) -> str:
        """Puts one event on the bus and returns EventBridge's id for it."""
        try:
            response = self.client.put_events(
                Entries=[
                    {
                        "EventBusName": self.bus_name,
                        "Source": self.source,
                        "DetailType": detail_type,
                        "Detail": json.dumps(detail, ensure_ascii=False),
                        "Time": datetime.fromtimestamp(at, UTC),
                    }
                ]
            )
        except ClientError as error:
            raise EventNotPublished(error.response["Error"]["Code"]) from error
        except BotoCoreError as error:
            raise EventNotPublished(type(error).__name__) from error
        result = response["Entries"][0] if response.get("Entries") else {}
        if response.get("FailedEntryCount") or "EventId" not in result:
            raise EventNotPublished(str(result.get("ErrorCode", "FailedEntry")))
        return str(result["EventId"])
