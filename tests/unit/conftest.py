"""Fixtures of the unit suite: environment, moto (DynamoDB tables from template.yaml and SES), a
controllable clock, and accounts with PHP bcrypt or argon2id password hashes.

Nothing here reaches the network: moto answers every AWS call in process, and an autouse guard
makes any outbound socket connection fail loudly.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import bcrypt
import boto3
import pytest
from argon2 import PasswordHasher
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devserver import template  # noqa: E402
from shared import services  # noqa: E402
from shared.adapters.dynamo import Dynamo  # noqa: E402
from shared.adapters.mail import Mailer  # noqa: E402
from shared.adapters.whatsapp_outbox import WhatsAppOutbox  # noqa: E402
from shared.config import Settings, settings  # noqa: E402
from shared.domain.accounts import Account, AccountRegistry  # noqa: E402
from shared.domain.whatsapp_flows import WhatsAppFlows  # noqa: E402
from shared.domain.whatsapp_messages import OutboundMessage  # noqa: E402
from shared.observability import metrics  # noqa: E402
from tests.unit import declared_problems  # noqa: E402

REGION = "ap-southeast-3"
# The pattern docs/events.md gives JSS for its rule.
JSS_EVENT_PATTERN = {
    "source": ["id.go.jogjakota.jss.whatsapp"],
    "detail-type": ["WhatsAppNumberChanged", "WhatsAppNumberRemoved"],
}
MAIL_FROM = "no-reply@jss.example"

ENVIRONMENT = {
    "ACCOUNTS_TABLE": "AccountsTable",
    "TOKENS_TABLE": "TokensTable",
    "AUDIT_TABLE": "AuditTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "OUTBOX_TABLE": "OutboxTable",
    "EVENT_BUS_NAME": "AccountEventBus",
    "PUBLIC_BASE_URL": "https://jss.example",
    "WHATSAPP_BUSINESS_NUMBER": "+6281100000000",
    "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
    "TOKEN_HMAC_KEY": "unit-test-key",
    "NUMBER_HASH_KEY": "unit-number-key",
    "WHATSAPP_APP_SECRET": "unit-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "unit-verify",
    "WHATSAPP_ACCESS_TOKEN": "unit-access-token",
    "WHATSAPP_OUTBOX_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/WhatsAppOutboxQueue",
    "MAIL_FROM": MAIL_FROM,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "unit-tests",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}

# Anything that would send the code elsewhere than moto, or change the production defaults.
UNSET = (
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SESV2",
    "TOKEN_HMAC_KEY_PARAMETER",
    "NUMBER_HASH_KEY_PARAMETER",
    "WHATSAPP_APP_SECRET_PARAMETER",
    "WHATSAPP_VERIFY_TOKEN_PARAMETER",
    "WHATSAPP_ACCESS_TOKEN_PARAMETER",
    "WHATSAPP_GRAPH_URL",
    "FLOW_TTL_SECONDS",
    "FLOW_START_LIMIT",
    "FLOW_START_WINDOW_SECONDS",
    "RESULT_VIEW_SECONDS",
    "PASSWORD_TRIES_PER_FLOW",
    "PASSWORD_TRIES_PER_ACCOUNT",
    "PASSWORD_WINDOW_SECONDS",
    "PASSWORD_LOCK_SECONDS",
)


def _clear_caches() -> None:
    """Settings and every service factory of shared/services.py (whatever factories it grows)."""
    settings.cache_clear()
    for factory in list(vars(services).values()):
        if callable(getattr(factory, "cache_clear", None)):
            factory.cache_clear()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto intercepts AWS calls before any socket is opened; a real connection is a test bug."""

    def refuse(_self: socket.socket, address: Any, *_: Any) -> None:
        raise RuntimeError(f"unit tests must not open network connections (tried {address!r})")

    def resolve(host: Any, *_: Any, **__: Any) -> Any:
        raise OSError(f"unit tests must not resolve or reach hosts (tried {host!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.fixture(autouse=True)
def only_declared_problems(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A route that answers a problem code docs/openapi.json does not declare for it fails the test
    (``tests/unit/declared_problems.py``)."""
    undeclared = declared_problems.watch(monkeypatch)
    yield
    assert not undeclared, "\n".join(undeclared)


@cache
def _table_requests() -> tuple[dict[str, Any], ...]:
    return tuple(template.tables(template.load()).values())


@dataclass(frozen=True)
class AwsClients:
    """Clients for moto. Built once: moto's hook sits in every botocore client, and each test's own
    ``mock_aws()`` starts from empty backends. (Building a boto3 client costs ~50 ms.)"""

    dynamodb: Any
    sesv2: Any
    events: Any
    sqs: Any


@cache
def _clients() -> AwsClients:
    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")

    return AwsClients(dynamodb=client("dynamodb"), sesv2=client("sesv2"), events=client("events"), sqs=client("sqs"))


@pytest.fixture
def aws() -> Iterator[AwsClients]:
    """moto with every DynamoDB table of template.yaml, the verified SES sender and the event bus."""
    with mock_aws():
        clients = _clients()
        for request in _table_requests():
            clients.dynamodb.create_table(**request)
        clients.sesv2.create_email_identity(EmailIdentity=MAIL_FROM)
        clients.events.create_event_bus(Name=ENVIRONMENT["EVENT_BUS_NAME"])
        clients.sqs.create_queue(QueueName="WhatsAppOutboxQueue")
        yield clients


@pytest.fixture
def fresh_metrics() -> Iterator[None]:
    """Powertools' metrics start empty and are left empty (they are process-wide)."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def counted(name: str) -> float:
    """How much of metric ``name`` was added since ``fresh_metrics`` emptied them."""
    entry: Any = metrics.metric_set.get(name)
    return float(sum(entry["Value"])) if entry else 0.0


@pytest.fixture
def config() -> Settings:
    return settings()


class FakeClock:
    """Callable like ``time.time``; tests move it explicitly."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(aws: AwsClients) -> Dynamo:
    return Dynamo(aws.dynamodb)


@pytest.fixture
def registry(db: Dynamo, config: Settings) -> AccountRegistry:
    return AccountRegistry(db, config)


@pytest.fixture
def mailer(aws: AwsClients, config: Settings) -> Mailer:
    return Mailer(config.mail_from, aws.sesv2)


class QueuedMessages:
    """What was put on the WhatsApp outbox queue (moto), oldest first, as ``OutboundMessage``."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs, self.queue_url = sqs, queue_url

    def take(self) -> list[OutboundMessage]:
        found = []
        while batch := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in batch:
                found.append(OutboundMessage.model_validate_json(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def outbox(aws: AwsClients, config: Settings) -> WhatsAppOutbox:
    return WhatsAppOutbox(config.whatsapp_outbox_queue_url, aws.sqs)


@pytest.fixture
def queued(aws: AwsClients, config: Settings) -> QueuedMessages:
    return QueuedMessages(aws.sqs, config.whatsapp_outbox_queue_url)


@pytest.fixture
def flows(db: Dynamo, config: Settings, mailer: Mailer, clock: FakeClock) -> WhatsAppFlows:
    return WhatsAppFlows(db, config, mailer, clock=clock)


# ----------------------------------------------------------------- password hashes


@cache
def _php_bcrypt(password: str) -> str:
    """What PHP's password_hash(PASSWORD_BCRYPT) stores: ``$2y$``, first 72 bytes only."""
    hashed = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert hashed.startswith("$2b$")
    return "$2y$" + hashed[4:]


@cache
def _argon2id(password: str) -> str:
    # argon2 needs at least 8 KiB per lane, so one lane with the smallest memory cost.
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(password)


@pytest.fixture
def php_bcrypt() -> Callable[[str], str]:
    return _php_bcrypt


@pytest.fixture
def argon2id() -> Callable[[str], str]:
    return _argon2id


HASHERS: dict[str, Callable[[str], str]] = {"bcrypt": _php_bcrypt, "argon2id": _argon2id}


@pytest.fixture
def make_account(registry: AccountRegistry) -> Callable[..., Account]:
    """Saves an account through ``AccountRegistry.save`` and returns it as stored."""

    def make(
        account_id: str,
        *,
        password: str = "rahasia-JSS-2024",
        scheme: str = "bcrypt",
        email: str | None = "budi@example.com",
        phone_number: str | None = "+6281298765432",
        whatsapp_number: str | None = None,
        whatsapp_verified_via: str | None = None,
        name: str | None = None,
    ) -> Account:
        account = Account(
            account_id=account_id,
            name=name,
            email=email,
            phone_number=phone_number,
            whatsapp_number=whatsapp_number,
            whatsapp_verified_via=whatsapp_verified_via or ("whatsapp" if whatsapp_number else None),
            password_hash=HASHERS[scheme](password),
        )
        registry.save(account)
        return account

    return make


# ----------------------------------------------------------------- reading what the code stored


@pytest.fixture
def scan(aws: AwsClients) -> Callable[[str], list[dict[str, Any]]]:
    """Raw DynamoDB items (attribute-value form) of a table."""

    def read(table: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": table}
        while True:
            page = aws.dynamodb.scan(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    return read


@pytest.fixture
def sent_mail(aws: AwsClients) -> Callable[[], list[Any]]:
    """The messages moto's SES accepted, oldest first (``source``, ``destinations``, ``subject``, ``body``)."""
    from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
    from moto.ses.models import ses_backends

    def messages() -> list[Any]:
        return [m for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages if hasattr(m, "subject")]

    return messages


@pytest.fixture
def published_events(aws: AwsClients) -> Callable[[], list[dict[str, Any]]]:
    """What JSS would receive: a rule on the bus (the one docs/events.md gives JSS) delivering to a
    queue; returns the events delivered so far, oldest first, each as EventBridge sends it."""
    queue_url = aws.sqs.create_queue(QueueName="jss-core-events")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = ENVIRONMENT["EVENT_BUS_NAME"]
    aws.events.put_rule(Name="jss-core", EventBusName=bus, EventPattern=json.dumps(JSS_EVENT_PATTERN))
    aws.events.put_targets(Rule="jss-core", EventBusName=bus, Targets=[{"Id": "jss-core", "Arn": queue_arn}])
    delivered: list[dict[str, Any]] = []

    def read() -> list[dict[str, Any]]:
        while messages := aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                delivered.append(json.loads(message["Body"]))
                aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return list(delivered)

    return read
