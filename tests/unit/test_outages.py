"""An AWS dependency that does not answer: short timeouts everywhere, and a 503 the client can retry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from shared import services
from shared.adapters import keys
from shared.adapters.aws import CLIENT_CONFIG, outage_kind
from shared.adapters.dynamo import Dynamo
from shared.adapters.event_bus import EventBus
from shared.adapters.mail import Mailer
from tests.unit.test_web import (
    assert_problem,
    call,
    http_event,
    post_webhook,
    signature,
    signed_delivery,
    start_migration,
    web,  # noqa: F401 - the fixture every test here uses
)

pytestmark = pytest.mark.usefixtures("web")


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (EndpointConnectionError(endpoint_url="http://dynamodb"), "unreachable"),
        (ConnectTimeoutError(endpoint_url="http://dynamodb"), "unreachable"),
        (ReadTimeoutError(endpoint_url="http://dynamodb"), "unreachable"),
        (client_error("ProvisionedThroughputExceededException"), "throttled"),
        (client_error("ThrottlingException"), "throttled"),
        (client_error("TooManyRequestsException", 429), "throttled"),
        (client_error("InternalServerError", 500), "failing"),
        (client_error("SomethingNew", 503), "failing"),
        (client_error("ConditionalCheckFailedException"), None),
        (client_error("ValidationException"), None),
        (ValueError("a bug"), None),
    ],
)
def test_an_outage_is_told_from_a_bug(error: Exception, kind: str | None) -> None:
    assert outage_kind(error) == kind


def store_down(**_: Any) -> Any:
    """What Powertools Idempotency raises when its table cannot be reached."""
    try:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.ap-southeast-3.amazonaws.com")
    except EndpointConnectionError as cause:
        raise IdempotencyPersistenceLayerError("Failed to save in progress record") from cause


def test_an_outage_wrapped_by_powertools_is_still_an_outage() -> None:
    with pytest.raises(IdempotencyPersistenceLayerError) as wrapped:
        store_down()
    assert outage_kind(wrapped.value) == "unreachable"


def test_every_aws_client_has_the_one_short_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-3")
    clients = [
        services.webhook_receiver().message_ids.client,  # Powertools Idempotency's own client
        Dynamo().client,
        Mailer("no-reply@example.com").client,
        EventBus("bus", "source").client,
        keys._ssm().client,
        keys._secrets_manager().client,
    ]
    for client in clients:
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (CLIENT_CONFIG.connect_timeout, 2)
        assert config.retries == CLIENT_CONFIG.retries
        # The worst case must stay well under the 20 s function timeout (template.yaml).
        worst = config.retries["total_max_attempts"] * (config.connect_timeout + config.read_timeout)
        assert worst <= 6


@pytest.fixture
def dynamodb_stub() -> Iterator[Stubber]:
    client = services.dynamo().client
    with Stubber(client) as stubber:
        yield stubber


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException"])
def test_a_throttled_dynamodb_answers_503_with_retry_after(dynamodb_stub: Stubber, code: str) -> None:
    dynamodb_stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
    answer = call("contact", http_event("GET", "/v1/contact", sub="jss-5005"))
    problem = assert_problem(answer, 503, "service_unavailable")
    assert answer.headers["Retry-After"] == str(problem["retry_after"])
    assert code not in answer.body


def test_an_unreachable_dynamodb_answers_503(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(**_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.ap-southeast-3.amazonaws.com")

    monkeypatch.setattr(services.dynamo().client, "transact_write_items", unreachable)
    answer = call("migrate", http_event("POST", "/v1/migrations", sub="jss-1001"))
    assert_problem(answer, 503, "service_unavailable")


def test_an_unreachable_idempotency_store_answers_503_so_meta_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    body = signed_delivery(start_migration()["message"])
    receiver = services.webhook_receiver()
    with monkeypatch.context() as patched:
        patched.setattr(receiver, "_once", lambda: store_down)
        answer = post_webhook(body, signature(body))
    assert_problem(answer, 503, "service_unavailable")
    assert post_webhook(body, signature(body)).json()["outcomes"] == ["completed"]


def test_a_transaction_cancelled_by_throttling_is_an_outage_not_contention(monkeypatch: pytest.MonkeyPatch) -> None:
    cancelled: Any = {
        "Error": {"Code": "TransactionCanceledException", "Message": "..."},
        "CancellationReasons": [{"Code": "None"}, {"Code": "ThrottlingError"}],
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }

    def throttled(**_: Any) -> Any:
        raise ClientError(cancelled, "TransactWriteItems")

    assert outage_kind(ClientError(cancelled, "TransactWriteItems")) == "throttled"
    monkeypatch.setattr(services.dynamo().client, "transact_write_items", throttled)
    answer = call("migrate", http_event("POST", "/v1/migrations", sub="jss-1001"))
    assert_problem(answer, 503, "service_unavailable")  # not busy (429), not a 500
