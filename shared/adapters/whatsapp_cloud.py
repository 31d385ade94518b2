"""Meta's WhatsApp Cloud API, for what the city's number sends: read receipts and messages.

A thin client on urllib3, which the layer has already (botocore's HTTP library): a Cloud API library
would bring its own HTTP stack (pywa: httpx and its dependencies) into a function that needs one POST
(README, "WhatsApp replies"). Every call is ``POST /<version>/<phone_number_id>/messages``.

**Bounded.** Meta gets ``TIMEOUT`` to connect and to answer, and up to ``RETRIES`` more tries, with
exponential backoff and jitter, when it refuses for load (429) or fails on its side (5xx), honouring a
``Retry-After`` of up to ``WAIT_SECONDS_MAX``. A connection refused before the request was sent is
tried again too. One call never takes longer than ``CALL_SECONDS_MAX``.

**Never twice.** A request Meta may have received but did not answer (a read timeout, a connection
dropped mid-answer) is not sent again: the message may have reached the citizen already. That ends
as ``CloudApiError("uncertain")``, which the sender records as done.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util import Retry, Timeout

from shared.domain.whatsapp_messages import OutboundMessage

CONNECT_SECONDS: Final = 2.0
READ_SECONDS: Final = 4.0
TIMEOUT: Final = Timeout(connect=CONNECT_SECONDS, read=READ_SECONDS)
RETRIES: Final = 2
WAIT_SECONDS_MAX: Final = 3
"""The longest pause between two tries, Meta's ``Retry-After`` included."""
CALL_SECONDS_MAX: Final = (RETRIES + 1) * (CONNECT_SECONDS + READ_SECONDS) + RETRIES * WAIT_SECONDS_MAX
"""The longest one call can take, every try slow and every pause the longest (24 s)."""
# Meta's codes for "too many requests", which it may answer with 400 rather than 429: the app's or
# the account's call limits, the number's throughput, and the pair rate (one user, too many at once).
RATE_LIMIT_CODES: Final = frozenset({4, 80007, 130429, 131056})
_RETRYABLE_STATUSES: Final = (429, 500, 502, 503, 504)


class CloudApiError(Exception):
    """Meta did not take a request. ``kind``:

    - ``rate_limited`` or ``unavailable``: not sent; try again later (``retryable``).
    - ``uncertain``: sent, and no answer came: Meta may have delivered it.
    - ``refused``: Meta will not send it (outside the 24-hour window, a bad token, a bad request).
    """

    def __init__(self, kind: str, status: int | None = None, code: int | None = None) -> None:
        super().__init__(f"{kind} (HTTP {status}, code {code})")
        self.kind = kind
        self.status = status
        self.code = code

    @property
    def retryable(self) -> bool:
        return self.kind in ("rate_limited", "unavailable")


@dataclass(frozen=True)
class CloudApiConfig:
    base_url: str
    version: str
    phone_number_id: str

    @property
    def messages_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.version}/{self.phone_number_id}/messages"


def _retry_policy() -> Retry:
    return Retry(
        total=RETRIES,
        connect=RETRIES,
        read=0,  # the request reached Meta: sending it again could deliver it twice
        other=0,
        redirect=0,
        status=RETRIES,
        status_forcelist=_RETRYABLE_STATUSES,
        allowed_methods=None,  # POST too: these statuses mean Meta did not act on it
        backoff_factor=0.5,
        backoff_jitter=0.25,
        backoff_max=WAIT_SECONDS_MAX,
        retry_after_max=WAIT_SECONDS_MAX,  # a longer wait is the queue's business, not this invocation's
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


class WhatsAppCloud:
    def __init__(
        self,
        config: CloudApiConfig,
        access_token: Callable[[], str],
        http: urllib3.PoolManager | None = None,
    ) -> None:
        self.config = config
        self.access_token = access_token
        self.http = http or urllib3.PoolManager(timeout=TIMEOUT, retries=_retry_policy(), maxsize=4)

    def fresh_connections(self) -> None:
        """Drops pooled connections: after Lambda froze the container, one may look open and be
        closed at Meta's end, and a request lost on it would count as uncertain, never sent again."""
        self.http.clear()

    def mark_read(self, message_id: str) -> None:
        """The citizen's message shows two blue ticks."""
        self._post({"messaging_product": "whatsapp", "status": "read", "message_id": message_id})

    def send(self, message: OutboundMessage) -> str:
        """Sends ``message``; Meta's id for it (``wamid...``)."""
        answer = self._post(request_body(message))
        sent = answer.get("messages") or [{}]
        return str(sent[0].get("id", ""))

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.request(
                "POST",
                self.config.messages_url,
                body=json.dumps(body, ensure_ascii=False).encode(),
                headers={"Authorization": f"Bearer {self.access_token()}", "Content-Type": "application/json"},
            )
        except MaxRetryError as error:
            raise _transport_error(error.reason) from None
        except HTTPError as error:
            raise _transport_error(error) from None
        answer = _json(response.data)
        if response.status < 300:
            return answer
        code = _error_code(answer)
        if response.status == 429 or code in RATE_LIMIT_CODES:
            raise CloudApiError("rate_limited", response.status, code)
        if response.status >= 500:
            raise CloudApiError("unavailable", response.status, code)
        raise CloudApiError("refused", response.status, code)


def _transport_error(reason: Exception | None) -> CloudApiError:
    # A read timeout or a connection dropped after the request went out: Meta may have it.
    if isinstance(reason, (ReadTimeoutError, ProtocolError)):
        return CloudApiError("uncertain")
    return CloudApiError("unavailable")


def _json(data: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(data or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _error_code(answer: dict[str, Any]) -> int | None:
    error = answer.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


def request_body(message: OutboundMessage) -> dict[str, Any]:
    """``message`` in the Cloud API's format."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if message.to is not None:
        body["to"] = message.to.lstrip("+")
    else:
        body["recipient"] = message.recipient  # a business-scoped user id: the number is hidden
    if message.reply_to:
        body["context"] = {"message_id": message.reply_to}
    if message.text is not None:
        body.update(type="text", text={"preview_url": False, "body": message.text})
    elif message.template is not None:
        template: dict[str, Any] = {"name": message.template.name, "language": {"code": message.template.language}}
        if message.template.body_parameters:
            parameters = [{"type": "text", "text": value} for value in message.template.body_parameters]
            template["components"] = [{"type": "body", "parameters": parameters}]
        body.update(type="template", template=template)
    else:
        body.update(
            type="interactive",
            interactive={
                "type": "request_contact_info",
                "body": {"text": message.contact_request},
                "action": {"name": "request_contact_info"},
            },
        )
    return body
