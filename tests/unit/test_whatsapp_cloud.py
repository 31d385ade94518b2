"""Meta's WhatsApp Cloud API client (``shared/adapters/whatsapp_cloud.py``): the JSON Meta takes, the
request it gets, how its answers and silences are classified, and the bounded retry policy.

No server: a fake pool stands in for urllib3's ``PoolManager`` and answers with real
``HTTPResponse`` objects or raises what urllib3 raises.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
import urllib3
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError
from urllib3.response import HTTPResponse
from urllib3.util import Retry, Timeout

from shared.adapters.whatsapp_cloud import (
    RATE_LIMIT_CODES,
    TIMEOUT,
    CloudApiConfig,
    CloudApiError,
    WhatsAppCloud,
    _retry_policy,
    request_body,
)
from shared.domain.whatsapp_messages import OutboundMessage, Template

API = CloudApiConfig("https://graph.facebook.com/", "v23.0", "100000000000001")
MESSAGES_URL = "https://graph.facebook.com/v23.0/100000000000001/messages"
NUMBER = "+6281234567891"
HIDDEN = "ID.1502576394655843"
INBOUND = "wamid.HBgNNjI4MTIzNDU2Nzg5MRUCABIYFjNFQjBDNzk2"
WAMID = "wamid.HBgNNjI4MTIzNDU2Nzg5MRUCABEYEjRBRkE5NkQ0"
SEND_BEFORE = 1_750_086_400


# ----------------------------------------------------------------- request_body


def test_a_text_reply_to_a_number_is_meta_s_text_message_quoting_the_inbound_one() -> None:
    message = OutboundMessage(
        key="reply:1", to=NUMBER, reply_to=INBOUND, text="Pesan Anda sudah kami terima.", send_before=SEND_BEFORE
    )

    assert request_body(message) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567891",
        "context": {"message_id": INBOUND},
        "type": "text",
        "text": {"preview_url": False, "body": "Pesan Anda sudah kami terima."},
    }


def test_a_text_to_a_hidden_sender_goes_to_the_business_scoped_user_id() -> None:
    """WhatsApp hides the number: ``recipient`` names the user, and no ``to`` may be guessed."""
    message = OutboundMessage(key="reply:2", recipient=HIDDEN, text="Halo.", send_before=SEND_BEFORE)

    assert request_body(message) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "recipient": HIDDEN,
        "type": "text",
        "text": {"preview_url": False, "body": "Halo."},
    }


def test_a_template_carries_its_body_parameters_as_text_in_their_order() -> None:
    said = Template(name="jss_number_changed", language="id", body_parameters=("+62 812-****-7891", "kemarin", "u"))
    message = OutboundMessage(key="warn:1", to=NUMBER, template=said)

    assert request_body(message) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567891",
        "type": "template",
        "template": {
            "name": "jss_number_changed",
            "language": {"code": "id"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "+62 812-****-7891"},
                        {"type": "text", "text": "kemarin"},
                        {"type": "text", "text": "u"},
                    ],
                }
            ],
        },
    }


def test_a_template_without_parameters_has_no_components() -> None:
    """Meta refuses an empty parameter list for a body that takes none."""
    message = OutboundMessage(key="t", to=NUMBER, template=Template(name="jss_hello", language="id"))

    assert request_body(message) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567891",
        "type": "template",
        "template": {"name": "jss_hello", "language": {"code": "id"}},
    }


def test_a_contact_request_is_meta_s_request_contact_info_interactive_message() -> None:
    message = OutboundMessage(
        key="reply:3",
        recipient=HIDDEN,
        reply_to=INBOUND,
        contact_request="Ketuk tombol di bawah.",
        send_before=SEND_BEFORE,
    )

    assert request_body(message) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "recipient": HIDDEN,
        "context": {"message_id": INBOUND},
        "type": "interactive",
        "interactive": {
            "type": "request_contact_info",
            "body": {"text": "Ketuk tombol di bawah."},
            "action": {"name": "request_contact_info"},
        },
    }


# ----------------------------------------------------------------- WhatsAppCloud on a fake pool


class FakePool:
    """Answers each request with the next scripted response, or raises the next scripted error."""

    def __init__(self, *answers: HTTPResponse | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.cleared = 0

    def request(self, method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        self.requests.append({"method": method, "url": url, "body": body, "headers": dict(headers or {})})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def clear(self) -> None:
        self.cleared += 1

    def sent_json(self, index: int = -1) -> Any:
        body = self.requests[index]["body"]
        assert isinstance(body, bytes)
        return json.loads(body.decode("utf-8"))


def answer(status: int, body: Any) -> HTTPResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTPResponse(body=data, status=status, preload_content=True)


def sent(wamid: str = WAMID) -> HTTPResponse:
    return answer(
        200,
        {"messaging_product": "whatsapp", "contacts": [{"input": "6281234567891"}], "messages": [{"id": wamid}]},
    )


def meta_error(status: int, code: int) -> HTTPResponse:
    return answer(status, {"error": {"message": "...", "type": "OAuthException", "code": code, "fbtrace_id": "A"}})


def cloud_on(pool: FakePool, token: str = "unit-access-token") -> WhatsAppCloud:
    return WhatsAppCloud(API, lambda: token, cast(urllib3.PoolManager, pool))


def a_text(text: str = "Pesan Anda sudah kami terima.") -> OutboundMessage:
    return OutboundMessage(key="reply:1", to=NUMBER, reply_to=INBOUND, text=text, send_before=SEND_BEFORE)


def test_a_message_is_posted_as_json_to_the_phone_number_s_messages_endpoint() -> None:
    pool = FakePool(sent())
    message = a_text("Silakan buka aplikasi JSS — menu Profil.")

    cloud_on(pool).send(message)

    [request] = pool.requests
    assert request["method"] == "POST"
    assert request["url"] == MESSAGES_URL
    assert request["headers"]["Content-Type"] == "application/json"
    assert pool.sent_json() == request_body(message)


def test_sending_returns_meta_s_id_for_the_message() -> None:
    assert cloud_on(FakePool(sent())).send(a_text()) == WAMID


def test_the_access_token_is_read_at_each_call_so_a_rotated_one_is_used_next() -> None:
    """The token lives in Parameter Store and rotates; a warm container must not keep the old one."""
    pool = FakePool(sent(), sent())
    tokens = ["first-token"]
    cloud = WhatsAppCloud(API, lambda: tokens[-1], cast(urllib3.PoolManager, pool))

    cloud.send(a_text())
    tokens.append("rotated-token")
    cloud.send(a_text())

    assert [r["headers"]["Authorization"] for r in pool.requests] == ["Bearer first-token", "Bearer rotated-token"]


def test_a_read_receipt_posts_the_status_read_of_the_inbound_message() -> None:
    pool = FakePool(answer(200, {"success": True}))

    cloud_on(pool).mark_read(INBOUND)

    assert pool.requests[0]["url"] == MESSAGES_URL
    assert pool.requests[0]["headers"]["Authorization"] == "Bearer unit-access-token"
    assert pool.sent_json() == {"messaging_product": "whatsapp", "status": "read", "message_id": INBOUND}


@pytest.mark.parametrize(
    ("response", "kind", "status", "code"),
    [
        pytest.param(meta_error(429, 130429), "rate_limited", 429, 130429, id="429"),
        pytest.param(answer(429, b"Too Many Requests"), "rate_limited", 429, None, id="429-not-json"),
        *(
            pytest.param(meta_error(400, code), "rate_limited", 400, code, id=f"400-code-{code}")
            for code in sorted(RATE_LIMIT_CODES)
        ),
        pytest.param(meta_error(500, 1), "unavailable", 500, 1, id="500"),
        pytest.param(meta_error(503, 2), "unavailable", 503, 2, id="503"),
        pytest.param(answer(503, b"<html>Service Unavailable</html>"), "unavailable", 503, None, id="503-html"),
        pytest.param(answer(502, b""), "unavailable", 502, None, id="502-empty"),
        pytest.param(meta_error(400, 131047), "refused", 400, 131047, id="outside-24h-window"),
        pytest.param(meta_error(401, 190), "refused", 401, 190, id="bad-token"),
        pytest.param(meta_error(400, 100), "refused", 400, 100, id="bad-parameter"),
        pytest.param(answer(400, b"Bad Request"), "refused", 400, None, id="400-not-json"),
        pytest.param(answer(400, b"[1, 2]"), "refused", 400, None, id="400-json-not-an-object"),
    ],
)
def test_an_error_answer_is_classified_by_status_and_meta_s_error_code(
    response: HTTPResponse, kind: str, status: int, code: int | None
) -> None:
    with pytest.raises(CloudApiError) as raised:
        cloud_on(FakePool(response)).send(a_text())

    assert (raised.value.kind, raised.value.status, raised.value.code) == (kind, status, code)
    assert raised.value.retryable is (kind in ("rate_limited", "unavailable"))


def test_a_read_receipt_is_classified_as_a_message_is() -> None:
    with pytest.raises(CloudApiError) as raised:
        cloud_on(FakePool(meta_error(400, 131056))).mark_read(INBOUND)

    assert raised.value.kind == "rate_limited"


POOL = HTTPSConnectionPool("graph.facebook.com", 443)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        pytest.param(
            MaxRetryError(POOL, MESSAGES_URL, reason=ReadTimeoutError(POOL, MESSAGES_URL, "Read timed out.")),
            "uncertain",
            id="read-timeout",
        ),
        pytest.param(
            MaxRetryError(POOL, MESSAGES_URL, reason=ProtocolError("Connection aborted.", ConnectionResetError())),
            "uncertain",
            id="dropped-mid-answer",
        ),
        pytest.param(
            MaxRetryError(
                POOL,
                MESSAGES_URL,
                reason=NewConnectionError(HTTPSConnection("graph.facebook.com"), "Connection refused"),
            ),
            "unavailable",
            id="no-connection",
        ),
        pytest.param(ReadTimeoutError(POOL, MESSAGES_URL, "Read timed out."), "uncertain", id="bare-read-timeout"),
        pytest.param(ProtocolError("Connection aborted.", ConnectionResetError()), "uncertain", id="bare-protocol"),
    ],
)
def test_a_request_meta_may_have_received_is_uncertain_and_one_never_sent_is_unavailable(
    error: Exception, kind: str
) -> None:
    """An uncertain send is not retried: the citizen may have the message already."""
    with pytest.raises(CloudApiError) as raised:
        cloud_on(FakePool(error)).send(a_text())

    assert raised.value.kind == kind
    assert raised.value.retryable is (kind == "unavailable")


def test_fresh_connections_drops_the_pooled_connections() -> None:
    pool = FakePool()

    cloud_on(pool).fresh_connections()

    assert pool.cleared == 1
    assert pool.requests == []


# ----------------------------------------------------------------- bounded retries and timeouts


def test_the_retry_policy_never_repeats_a_request_meta_may_have_read() -> None:
    policy = _retry_policy()

    assert policy.read == 0
    for error in (ReadTimeoutError(POOL, MESSAGES_URL, "Read timed out."), ProtocolError("Connection reset")):
        with pytest.raises(MaxRetryError):
            policy.increment(method="POST", url=MESSAGES_URL, error=error)


def test_the_retry_policy_tries_a_refused_connection_again() -> None:
    """Nothing reached Meta: sending again cannot deliver twice."""
    refused = NewConnectionError(HTTPSConnection("graph.facebook.com"), "Connection refused")

    again = _retry_policy().increment(method="POST", url=MESSAGES_URL, error=refused)

    assert isinstance(again, Retry)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_the_retry_policy_retries_a_post_that_meta_refused_for_load_or_failed(status: int) -> None:
    assert _retry_policy().is_retry("POST", status) is True


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_the_retry_policy_does_not_retry_a_client_error(status: int) -> None:
    assert _retry_policy().is_retry("POST", status) is False


def test_the_retry_policy_gives_up_after_two_more_tries() -> None:
    policy = _retry_policy()
    assert isinstance(policy.total, int)
    assert policy.total <= 2

    for _ in range(policy.total):
        policy = policy.increment(method="POST", url=MESSAGES_URL, response=answer(503, b""))
    with pytest.raises(MaxRetryError):
        policy.increment(method="POST", url=MESSAGES_URL, response=answer(503, b""))


def test_the_retry_policy_caps_a_long_retry_after() -> None:
    """A long wait is the queue's business: the invocation does not sleep for an hour."""
    policy = _retry_policy()

    assert policy.retry_after_max <= 5
    assert policy.parse_retry_after("3600") <= 5


def test_the_retry_policy_backs_off_within_a_bound() -> None:
    """Every wait, whether backoff or Retry-After, stays short: the retries fit well inside one invocation."""
    policy = _retry_policy()
    assert isinstance(policy.total, int)

    assert policy.backoff_factor > 0
    assert policy.backoff_max <= 5
    assert policy.total * max(policy.backoff_max + policy.backoff_jitter, policy.retry_after_max) <= 10


def test_the_default_pool_has_a_bounded_timeout_and_the_retry_policy() -> None:
    cloud = WhatsAppCloud(API, lambda: "token")
    assert isinstance(cloud.http, urllib3.PoolManager)

    timeout = cloud.http.connection_pool_kw["timeout"]
    retries = cloud.http.connection_pool_kw["retries"]

    assert isinstance(timeout, Timeout)
    assert isinstance(timeout.connect_timeout, float)
    assert timeout.connect_timeout <= 2
    assert isinstance(timeout.read_timeout, float)
    assert timeout.read_timeout <= 5
    assert timeout is TIMEOUT
    assert isinstance(retries, Retry)
    assert retries.read == 0
