"""The parts of ``make bench`` its figures rest on: side-by-side rounds and the floor's twin tables."""

from __future__ import annotations

from scripts.bench.stats import Pair, interleave
from scripts.bench.warm import AwsCall, _to_twin_tables, _writes


def test_rounds_alternate_which_goes_first() -> None:
    order: list[str] = []

    def timed(label: str, seconds: float) -> float:
        order.append(label)
        return seconds

    pair = interleave(4, lambda: timed("measured", 0.3), lambda: timed("floor", 0.1))
    assert order == ["measured", "floor", "floor", "measured"] * 2
    assert round(pair.ratio, 6) == 3.0
    assert Pair([1.0, 3.0, 2.0], [1.0]).ms("measured") == 2000


def test_the_floor_writes_to_twin_tables_and_reads_the_journeys_own() -> None:
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "TokensTable", "Item": {"pk": {"S": "FLOW#1"}}}},
            {"Update": {"TableName": "AccountsTable", "Key": {"pk": {"S": "ACCOUNT#1"}}}},
        ]
    }
    assert _to_twin_tables(transaction) == {
        "TransactItems": [
            {"Put": {"TableName": "TokensTableTwin", "Item": {"pk": {"S": "FLOW#1"}}}},
            {"Update": {"TableName": "AccountsTableTwin", "Key": {"pk": {"S": "ACCOUNT#1"}}}},
        ]
    }
    assert _writes(AwsCall("dynamodb", "TransactWriteItems", transaction))
    assert not _writes(AwsCall("dynamodb", "BatchGetItem", {"RequestItems": {"TokensTable": {}}}))
    assert not _writes(AwsCall("sesv2", "SendEmail", {}))
