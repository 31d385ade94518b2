"""One client configuration for every AWS call of the service, and how to tell an outage from a bug.

botocore's defaults (60 s connect and read timeouts, legacy retries) let one unreachable dependency
hold a request for minutes, past the function's own timeout. Every client, ours and the ones
Powertools makes (idempotency, parameters), gets ``CLIENT_CONFIG`` instead: a hung call gives up
after ``read_timeout``, at most ``total_max_attempts`` times, so the worst case (about 6 s, with
the retry's back-off) stays well under the 20 s function timeout and the caller can still answer 503.
"""

from __future__ import annotations

from typing import Final

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    ReadTimeoutError,
)

CLIENT_CONFIG: Final = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 2},
    tcp_keepalive=True,
)


def default_session() -> boto3.Session:
    """The session ``boto3.client`` uses, for the clients Powertools makes too: clients of one session
    share what botocore loads once (endpoint rules, partitions); each new session parses it all again,
    about 20 ms of a cold start."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    return boto3.DEFAULT_SESSION  # type: ignore[return-value]


# Error codes AWS services answer when they shed load or fail on their side.
_THROTTLED = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
}
# Why DynamoDB cancels a transaction when one of its items is throttled (CancellationReasons).
THROTTLED_CANCELLATIONS = {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
_FAILING = {"InternalServerError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException"}


class BatchIncomplete(Exception):
    """DynamoDB kept part of a batch unprocessed through every retry (sustained throttling)."""


def outage_kind(error: BaseException) -> str | None:
    """``unreachable``, ``throttled`` or ``failing`` when ``error`` (or what caused it: Powertools
    wraps botocore's errors) is an AWS dependency not answering; None for anything else."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, ConnectionClosedError, ReadTimeoutError)):
            return "unreachable"
        if isinstance(current, BatchIncomplete):
            return "throttled"
        if isinstance(current, ClientError):
            code = current.response.get("Error", {}).get("Code", "")
            cancelled = {reason.get("Code") for reason in current.response.get("CancellationReasons", [])}
            if code in _THROTTLED or cancelled & THROTTLED_CANCELLATIONS:
                return "throttled"
            if code in _FAILING or current.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                return "failing"
            return None
        current = current.__cause__ or current.__context__
    return None
