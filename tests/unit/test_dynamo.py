"""``Dynamo.batch_read``: several items of several tables in one round trip, on moto."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters import dynamo
from shared.adapters.aws import BatchIncomplete, outage_kind
from shared.adapters.dynamo import Dynamo
from shared.config import Settings


class Recording:
    """moto's client, counting ``BatchGetItem`` calls; the first ``unprocessed`` answers leave
    every key unprocessed, as DynamoDB does under load."""

    def __init__(self, client: Any, unprocessed: int = 0) -> None:
        self._client = client
        self.unprocessed = unprocessed
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # boto3's parameter name
        self.requests.append(RequestItems)
        if self.unprocessed:
            self.unprocessed -= 1
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        answer: dict[str, Any] = self._client.batch_get_item(RequestItems=RequestItems)
        return answer


@pytest.fixture
def items(db: Dynamo, config: Settings) -> Settings:
    db.put(config.tokens_table, {"pk": "FLOW#1", "status": "pending"})
    db.put(config.tokens_table, {"pk": "LIMIT#x", "hits": [1.5], "version": 3})
    db.put(config.accounts_table, {"pk": "ACCOUNT#a", "email": "budi@example.com", "version": 7})
    return config


def test_items_of_several_tables_come_in_the_order_asked_in_one_call(db: Dynamo, items: Settings) -> None:
    recording = Recording(db.client)
    refs = [
        (items.accounts_table, {"pk": "ACCOUNT#a"}),
        (items.tokens_table, {"pk": "FLOW#1"}),
        (items.tokens_table, {"pk": "MISSING#1"}),
        (items.tokens_table, {"pk": "LIMIT#x"}),
        (items.accounts_table, {"pk": "ACCOUNT#a"}),  # asked twice: read once, answered twice
    ]
    found = Dynamo(recording).batch_read(refs)  # type: ignore[arg-type]

    assert found == [
        {"pk": "ACCOUNT#a", "email": "budi@example.com", "version": 7},
        {"pk": "FLOW#1", "status": "pending"},
        None,
        {"pk": "LIMIT#x", "hits": [1.5], "version": 3},
        {"pk": "ACCOUNT#a", "email": "budi@example.com", "version": 7},
    ]
    [request] = recording.requests
    assert len(request[items.accounts_table]["Keys"]) == 1
    assert all(part["ConsistentRead"] for part in request.values())


def test_keys_left_unprocessed_are_asked_for_again(
    db: Dynamo, items: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamo.time, "sleep", lambda _seconds: None)
    recording = Recording(db.client, unprocessed=2)
    found = Dynamo(recording).batch_read([(items.tokens_table, {"pk": "FLOW#1"})])  # type: ignore[arg-type]
    assert found == [{"pk": "FLOW#1", "status": "pending"}]
    assert len(recording.requests) == 3


def test_keys_unprocessed_three_times_running_are_an_outage(
    db: Dynamo, items: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamo.time, "sleep", lambda _seconds: None)
    recording = Recording(db.client, unprocessed=3)
    with pytest.raises(BatchIncomplete) as caught:
        Dynamo(recording).batch_read([(items.tokens_table, {"pk": "FLOW#1"})])  # type: ignore[arg-type]
    assert len(recording.requests) == 3  # a request's reads do not wait long: the client may retry
    assert outage_kind(caught.value) == "throttled"  # answered 503 with Retry-After, not 500


def test_more_keys_than_one_call_takes_are_refused(db: Dynamo, config: Settings) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        db.batch_read([(config.tokens_table, {"pk": f"FLOW#{n}"}) for n in range(101)])
