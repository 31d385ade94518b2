"""A thin layer over the low-level DynamoDB client: lazy client, plain-Python items, transactions.

The client is created on first use, not at import, so moto's mocks and the local endpoint
(``AWS_ENDPOINT_URL_DYNAMODB``) apply to it whenever it is made.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from shared.adapters.aws import CLIENT_CONFIG, THROTTLED_CANCELLATIONS, BatchIncomplete

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Item = dict[str, Any]
ItemRef = tuple[str, Mapping[str, Any]]
"""Where an item is: its table and its key."""
_BATCH_GET_LIMIT = 100
_BATCH_WRITE_LIMIT = 25
_BATCH_ATTEMPTS = 10
_BATCH_READ_ATTEMPTS = 3  # a request's reads: unprocessed keys three times running are an outage (503)
# ``#status`` in an expression stands for the attribute ``status`` (many names are reserved words).
_NAME_PLACEHOLDER = re.compile(r"#\w+")


def to_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _attribute(v) for k, v in item.items() if v is not None}


def from_attributes(attributes: Mapping[str, Any]) -> Item:
    return {k: _value(v) for k, v in attributes.items()}


def _attribute(value: Any) -> Any:
    # Strings and whole numbers are nearly every attribute: skip boto3's general serializer for them
    # (a bulk import serializes millions).
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"N": str(value)}
    return _serializer.serialize(_to_dynamo(value))


def _value(attribute: Any) -> Any:
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute and attribute["N"].lstrip("-").isdigit():
        return int(attribute["N"])
    return _from_dynamo(_deserializer.deserialize(attribute))


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    return value


class ConditionFailed(Exception):
    """A conditional write or a transaction lost its condition; ``labels`` name the failed parts."""

    def __init__(self, labels: frozenset[str]) -> None:
        super().__init__(", ".join(sorted(labels)) or "condition failed")
        self.labels = labels


class Dynamo:
    def __init__(self, client: DynamoDBClient | None = None) -> None:
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = boto3.client("dynamodb", config=CLIENT_CONFIG)
        return self._client

    def get(self, table: str, key: Mapping[str, Any]) -> Item | None:
        response = self.client.get_item(TableName=table, Key=to_attributes(key), ConsistentRead=True)
        attributes = response.get("Item")
        return from_attributes(attributes) if attributes else None

    def put(self, table: str, item: Mapping[str, Any], condition: str | None = None, **values: Any) -> None:
        request: dict[str, Any] = {"TableName": table, "Item": to_attributes(item)}
        _add_condition(request, condition, values)
        try:
            self.client.put_item(**request)
        except ClientError as error:
            raise _condition_failed_or(error) from error

    def update(
        self, table: str, key: Mapping[str, Any], expression: str, condition: str | None = None, **values: Any
    ) -> Item:
        """Runs an update expression and returns the item as it is afterwards."""
        request: dict[str, Any] = {
            "TableName": table,
            "Key": to_attributes(key),
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        _add_condition(request, condition, values)
        try:
            response = self.client.update_item(**request)
        except ClientError as error:
            raise _condition_failed_or(error) from error
        return from_attributes(response.get("Attributes", {}))

    def delete(self, table: str, key: Mapping[str, Any], condition: str | None = None, **values: Any) -> None:
        request: dict[str, Any] = {"TableName": table, "Key": to_attributes(key)}
        _add_condition(request, condition, values)
        try:
            self.client.delete_item(**request)
        except ClientError as error:
            raise _condition_failed_or(error) from error

    def query(
        self, table: str, key_condition: str, *, index: str | None = None, limit: int | None = None, **values: Any
    ) -> list[Item]:
        """Items matching ``key_condition`` (strongly consistent on the table, eventually on an index)."""
        request: dict[str, Any] = {"TableName": table, "KeyConditionExpression": key_condition}
        if index:
            request["IndexName"] = index
        else:
            request["ConsistentRead"] = True
        if limit:
            request["Limit"] = limit
        _add_condition(request, None, values)
        items: list[Item] = []
        while True:
            page = self.client.query(**request)
            items.extend(from_attributes(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page or (limit and len(items) >= limit):
                return items[:limit] if limit else items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def batch_get(self, table: str, keys: list[Mapping[str, Any]]) -> list[Item]:
        """The items that exist among ``keys`` (strongly consistent), in no particular order."""
        found: list[Item] = []
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            chunk = [to_attributes(k) for k in keys[start : start + _BATCH_GET_LIMIT]]
            found.extend(self._batch_get({table: chunk}, _BATCH_ATTEMPTS).get(table, []))
        return found

    def batch_read(self, refs: Sequence[ItemRef]) -> list[Item | None]:
        """The item at each ``(table, key)``, in the order asked, None where there is none: one
        ``BatchGetItem`` across tables (strongly consistent) instead of one ``GetItem`` each. For a
        request's few reads: keys DynamoDB leaves unprocessed three times running are an outage."""
        wanted: dict[str, list[Mapping[str, Any]]] = {}
        for table, key in refs:
            if key not in wanted.setdefault(table, []):  # BatchGetItem refuses a key asked twice
                wanted[table].append(key)
        if sum(map(len, wanted.values())) > _BATCH_GET_LIMIT:
            raise ValueError(f"at most {_BATCH_GET_LIMIT} keys in one batch read")
        keys = {table: [to_attributes(k) for k in table_keys] for table, table_keys in wanted.items()}
        found = self._batch_get(keys, _BATCH_READ_ATTEMPTS)
        by_ref = {
            (table, _key_values(item, wanted[table][0])): item for table, items in found.items() for item in items
        }
        return [by_ref.get((table, _key_values(key, key))) for table, key in refs]

    def _batch_get(self, keys: dict[str, list[dict[str, Any]]], attempts: int) -> dict[str, list[Item]]:
        """The items found among ``keys`` (up to 100, in attribute-value form), by table. DynamoDB may
        leave keys unprocessed under load; they are asked for again after a pause."""
        pending: dict[str, Any] = {table: {"Keys": k, "ConsistentRead": True} for table, k in keys.items()}
        found: dict[str, list[Item]] = {}
        for attempt in range(attempts):
            if attempt:
                back_off(attempt - 1)
            response = self.client.batch_get_item(RequestItems=pending)
            for table, items in response.get("Responses", {}).items():
                found.setdefault(table, []).extend(from_attributes(item) for item in items)
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return found
        raise BatchIncomplete(f"{', '.join(pending)}: keys left unprocessed after {attempts} attempts")

    def batch_write(self, table: str, items: list[Mapping[str, Any]]) -> None:
        """Puts ``items`` unconditionally, 25 to a call; unprocessed items are sent again after a
        growing, jittered pause. Only for items no one else can be writing (see the callers)."""
        for start in range(0, len(items), _BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {
                table: [{"PutRequest": {"Item": to_attributes(i)}} for i in items[start : start + _BATCH_WRITE_LIMIT]]
            }
            for attempt in range(_BATCH_ATTEMPTS):
                response = self.client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                back_off(attempt)
            else:
                raise BatchIncomplete(f"{table}: items left unprocessed after {_BATCH_ATTEMPTS} attempts")

    def transaction(self) -> Transaction:
        return Transaction(self)


def back_off(attempt: int) -> None:
    """Exponential backoff with full jitter: up to 50 ms, 100 ms, ... capped at 5 s."""
    time.sleep(random.uniform(0, min(5.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter, not a secret


def _add_condition(request: dict[str, Any], condition: str | None, values: Mapping[str, Any]) -> None:
    """Placeholders are written ``:name`` in expressions and passed as keyword arguments."""
    if condition:
        request["ConditionExpression"] = condition
    if values:
        request["ExpressionAttributeValues"] = to_attributes({f":{k}": v for k, v in values.items()})
    expressions = ("UpdateExpression", "ConditionExpression", "KeyConditionExpression")
    expression = " ".join(str(request.get(k, "")) for k in expressions)
    names = set(_NAME_PLACEHOLDER.findall(expression))
    if names:
        request["ExpressionAttributeNames"] = {name: name[1:] for name in names}


def _key_values(item: Mapping[str, Any], key: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values of ``key``'s attributes in ``item``: what matches a batch's answers to its keys."""
    return tuple(item.get(name) for name in sorted(key))


def _condition_failed_or(error: ClientError) -> Exception:
    if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
        return ConditionFailed(frozenset())
    return error


@dataclass
class Transaction:
    """Collects writes for one ``TransactWriteItems`` call; each part has a label for error reports."""

    db: Dynamo
    parts: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def put(
        self, label: str, table: str, item: Mapping[str, Any], condition: str | None = None, **values: Any
    ) -> Transaction:
        request: dict[str, Any] = {"TableName": table, "Item": to_attributes(item)}
        _add_condition(request, condition, values)
        return self._add(label, {"Put": request})

    def update(
        self,
        label: str,
        table: str,
        key: Mapping[str, Any],
        expression: str,
        condition: str | None = None,
        **values: Any,
    ) -> Transaction:
        request: dict[str, Any] = {"TableName": table, "Key": to_attributes(key), "UpdateExpression": expression}
        _add_condition(request, condition, values)
        return self._add(label, {"Update": request})

    def delete(
        self, label: str, table: str, key: Mapping[str, Any], condition: str | None = None, **values: Any
    ) -> Transaction:
        request: dict[str, Any] = {"TableName": table, "Key": to_attributes(key)}
        _add_condition(request, condition, values)
        return self._add(label, {"Delete": request})

    def check(self, label: str, table: str, key: Mapping[str, Any], condition: str, **values: Any) -> Transaction:
        request: dict[str, Any] = {"TableName": table, "Key": to_attributes(key)}
        _add_condition(request, condition, values)
        return self._add(label, {"ConditionCheck": request})

    def _add(self, label: str, part: dict[str, Any]) -> Transaction:
        self.parts.append(part)
        self.labels.append(label)
        return self

    def commit(self, attempts: int = 4) -> None:
        """Commits all parts or none. Raises ``ConditionFailed`` naming the parts whose condition failed.

        A clash with another transaction in flight is retried: every condition is evaluated again, so
        a retry can never apply a change twice.
        """
        for attempt in range(attempts):
            try:
                self.db.client.transact_write_items(TransactItems=self.parts)  # type: ignore[arg-type]
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
                if set(reasons) & THROTTLED_CANCELLATIONS:
                    raise  # an outage (503), not a lost condition or a clash: shared.adapters.aws.outage_kind
                failed = frozenset(
                    label for label, code in zip(self.labels, reasons, strict=False) if code == "ConditionalCheckFailed"
                )
                if failed or "TransactionConflict" not in reasons or attempt == attempts - 1:
                    raise ConditionFailed(failed) from error
                time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))  # noqa: S311 - jitter, not a secret
