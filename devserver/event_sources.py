"""What Lambda's event source mappings and EventBridge schedules do for this service, locally.

- ``SQS``: long-polls the queue (moto's server), hands up to ``BatchSize`` messages to the function as
  Lambda's SQS event, deletes those not listed in ``batchItemFailures``; the rest become visible again
  after the queue's visibility timeout, and moto moves them to the dead-letter queue after
  ``maxReceiveCount`` receives, as SQS does.
- ``DynamoDB``: reads the table's stream on DynamoDB Local from ``TRIM_HORIZON``, keeps the records
  the template's ``FilterCriteria`` let through (the subset of EventBridge patterns it uses: fields
  matched against lists of values), and retries a batch from its first failed record, up to
  ``MaximumRetryAttempts``; then it sends the batch's description to the ``OnFailure`` queue and
  moves on, as Lambda does.
- ``Schedule``: invokes the function with a "Scheduled Event" every ``LOCAL_SCHEDULE_SECONDS``
  (the template's rate would make a developer wait minutes).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from devserver.gateway import FunctionCrashed, FunctionPool
from devserver.template import EventSource, logical_id

LOCAL_SCHEDULE_SECONDS = float(os.environ.get("LOCAL_SCHEDULE_SECONDS", "10"))
_ACCOUNT = "000000000000"


class Poller(threading.Thread):
    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.poll()
            except Exception as error:  # a poller must outlive a bad moment of the local services
                if not self.stopped.is_set():
                    print(f"{self.name}: {error!r}", flush=True)
                    self.stopped.wait(1)

    def poll(self) -> None:
        raise NotImplementedError


def _failures(result: dict[str, Any] | None) -> list[str]:
    return [str(f["itemIdentifier"]) for f in (result or {}).get("batchItemFailures", [])]


class SqsPoller(Poller):
    def __init__(self, source: EventSource, pool: FunctionPool, sqs: Any, queue_url: str, queue_arn: str) -> None:
        super().__init__(f"sqs-{source.function.name}")
        self.pool, self.sqs, self.queue_url, self.queue_arn = pool, sqs, queue_url, queue_arn
        self.batch_size = min(10, int(source.properties.get("BatchSize", 10)))

    def poll(self) -> None:
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return
        try:
            failed = set(_failures(self.pool.invoke({"Records": [self._record(m) for m in received]})))
        except FunctionCrashed:
            return  # every message comes back after the visibility timeout
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": os.environ.get("AWS_DEFAULT_REGION", "ap-southeast-3"),
        }


def matches(pattern: dict[str, Any], record: dict[str, Any]) -> bool:
    """The part of EventBridge's pattern language the template's FilterCriteria use."""
    for key, allowed in pattern.items():
        value = record.get(key)
        if isinstance(allowed, dict):
            if not isinstance(value, dict) or not matches(allowed, value):
                return False
        elif value not in allowed:
            return False
    return True


class StreamPoller(Poller):
    def __init__(
        self, source: EventSource, pool: FunctionPool, streams: Any, stream_arn: str, on_failure: Callable[[str], None]
    ) -> None:
        super().__init__(f"stream-{source.function.name}")
        self.pool, self.streams, self.stream_arn, self.on_failure = pool, streams, stream_arn, on_failure
        properties = source.properties
        self.batch_size = int(properties.get("BatchSize", 100))
        self.retries = int(properties.get("MaximumRetryAttempts", -1))
        filters = properties.get("FilterCriteria", {}).get("Filters", [])
        self.patterns = [json.loads(f["Pattern"]) for f in filters]
        self.iterators: dict[str, str | None] = {}
        self.last_read: dict[str, str] = {}  # the sequence number each shard was read up to
        self._described = 0.0

    def poll(self) -> None:
        if time.monotonic() - self._described > 5:
            self._discover_shards()
        for shard, iterator in list(self.iterators.items()):
            if iterator is None:
                continue
            try:
                answer = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            except self.streams.exceptions.TrimmedDataAccessException:
                # DynamoDB Local lets an iterator chain that started on an empty shard go stale once
                # records arrive; a fresh iterator after what was read continues the same way.
                self.iterators[shard] = self._iterator(shard)
                continue
            self.iterators[shard] = answer.get("NextShardIterator")
            records = [self._record(r) for r in answer.get("Records", [])]
            if records:
                self.last_read[shard] = records[-1]["dynamodb"]["SequenceNumber"]
            wanted = [r for r in records if not self.patterns or any(matches(p, r) for p in self.patterns)]
            if wanted:
                self._deliver(shard, wanted)
        self.stopped.wait(0.2)

    def _discover_shards(self) -> None:
        described = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in described.get("Shards", []):
            if shard["ShardId"] not in self.iterators:
                self.iterators[shard["ShardId"]] = self._iterator(shard["ShardId"])
        self._described = time.monotonic()

    def _iterator(self, shard: str) -> str:
        position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard in self.last_read:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.last_read[shard]}
        answer = self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard, **position)
        return str(answer["ShardIterator"])

    def _record(self, record: dict[str, Any]) -> dict[str, Any]:
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        return {**record, "dynamodb": change, "eventSourceARN": self.stream_arn}

    def _deliver(self, shard: str, batch: list[dict[str, Any]]) -> None:
        attempt = 0
        while batch and not self.stopped.is_set():
            try:
                failed = _failures(self.pool.invoke({"Records": batch}))
            except FunctionCrashed:
                failed = [batch[0]["dynamodb"]["SequenceNumber"]]
            if not failed:
                return
            first = min(int(sequence) for sequence in failed)
            batch = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= first]
            attempt += 1
            if 0 <= self.retries < attempt:
                self.on_failure(json.dumps(self._failure_record(shard, batch)))
                return
            self.stopped.wait(0.5)

    def _failure_record(self, shard: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
        """What Lambda sends to a stream's on-failure destination: where the batch was, not its data."""
        return {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": self.retries + 1},
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
            "timestamp": datetime.now(UTC).isoformat(),
        }


class Schedule(Poller):
    def __init__(self, source: EventSource, pool: FunctionPool, every: float = LOCAL_SCHEDULE_SECONDS) -> None:
        super().__init__(f"schedule-{source.function.name}")
        self.pool, self.every, self.source = pool, every, source

    def poll(self) -> None:
        if self.stopped.wait(self.every):
            return
        region = os.environ.get("AWS_DEFAULT_REGION", "ap-southeast-3")
        with contextlib.suppress(FunctionCrashed):  # the next tick tries again, as a schedule does
            self.pool.invoke(
                {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": _ACCOUNT,
                    "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": region,
                    "resources": [f"arn:aws:events:{region}:{_ACCOUNT}:rule/local-{self.source.function.name}"],
                    "detail": {},
                }
            )


def on_failure_queue(source: EventSource) -> str | None:
    destination = source.properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    return logical_id(destination) if destination else None
