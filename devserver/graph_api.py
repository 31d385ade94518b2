"""Meta's WhatsApp Cloud API as the local stack's functions meet it: the messages endpoint of the
Graph API (``POST /<version>/<phone number id>/messages``), on a port of its own.

It checks what Meta checks (the bearer token, the phone number id, each body's shape: a read receipt,
a text, a template or a ``request_contact_info`` message, to a number or to a hidden number's user
id), answers as Meta answers (a ``wamid`` per message, errors in Meta's ``{"error": ...}`` format),
and keeps every message it accepted for ``GET /__dev/whatsapp/outbox``, newest first: the console
shows them in its chat, and tests read them.

Its fault (``POST /__dev/faults {"whatsapp": ...}``, ``devserver.faults``) plays what Meta does on a
bad day: ``rate_limited`` (429, code 130429, ``Retry-After``), ``failing`` (503, code 2), ``timeout``
(the request is read and never answered) and ``rejected`` (400, code 131047: the 24-hour window has
closed, so free-form messages are refused while templates and read receipts still go through). With
``times`` it answers only the next requests so, then ``ok`` again. A request a fault answered was not
sent: it is kept apart, for ``GET /__dev/whatsapp/attempts``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from devserver.faults import hold_unanswered
from devserver.gateway import BodyRefused, LocalHTTPServer, LocalResponse, Request, json_response, read_body
from shared.domain.whatsapp_messages import TEXT_LIMIT

_MESSAGES_PATH = re.compile(r"/(?P<version>v\d+\.\d+)/(?P<phone_number_id>[^/]+)/messages")
# Meta's own limit for the body of an interactive message.
INTERACTIVE_BODY_LIMIT = 1024
# A number as Meta takes it in ``to``: digits, optionally a leading + and the usual separators.
_NUMBER_SEPARATORS = re.compile(r"[\s().-]")
_NUMBER = re.compile(r"\+?[1-9][0-9]{6,14}")
# A business-scoped user id, as Meta gives one for a sender who hides the number: "ID.1502576394655843".
_USER_ID = re.compile(r"[A-Z]{2}\.[0-9A-Za-z]{1,64}")
# A request the ``timeout`` fault holds is let go after this long, in case its client never gives up.
HOLD_SECONDS = 60.0


@dataclass(frozen=True)
class GraphAnswer:
    """An HTTP answer of the emulator: its status, JSON body and header fields beyond the usual."""

    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()


class GraphError(Exception):
    """An answer in Meta's error format."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        details: str | None = None,
        error_type: str = "OAuthException",
        subcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.error_type = error_type
        self.subcode = subcode

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)  # an opaque id Meta's support asks for
        return {"error": error}

    def answer(self) -> GraphAnswer:
        headers: tuple[tuple[str, str], ...] = ()
        if self.status == 429:
            headers = (("Retry-After", "1"),)
        elif self.status == 401:
            headers = (("WWW-Authenticate", f'OAuth "Facebook Platform" "invalid_token" "{self.message}"'),)
        return GraphAnswer(self.status, self.body(), headers)


def invalid_parameter(details: str) -> GraphError:
    return GraphError(400, 100, "(#100) Invalid parameter", details)


def _invalid_token() -> GraphError:
    return GraphError(401, 190, "Invalid OAuth access token - Cannot parse access token")


def _unsupported(method: str, target: str) -> GraphError:
    return GraphError(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{target}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        error_type="GraphMethodException",
        subcode=33,
    )


# What each fault answers instead of sending (``timeout`` answers nothing).
FAULT_ANSWERS: Mapping[str, GraphError] = {
    "rate_limited": GraphError(
        429, 130429, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."
    ),
    "failing": GraphError(503, 2, "(#2) Service temporarily unavailable", "Service temporarily unavailable."),
    "rejected": GraphError(
        400,
        131047,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
    ),
}
# Outside the 24-hour window Meta still takes templates (and read receipts): only these are rejected.
_FREE_FORM = ("text", "interactive")


def _string(value: Any, name: str, *, limit: int = 1024) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid_parameter(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise invalid_parameter(f"{name} is longer than {limit} characters")
    return value


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_parameter(f"{name} must be an object")
    return value


def _read_message(body: Any) -> dict[str, Any]:
    """What a request asks to send, as the outbox records it; ``GraphError`` (400, code 100) when its
    shape is not one Meta takes."""
    message = _object(body, "the request body")
    if message.get("messaging_product") != "whatsapp":
        raise invalid_parameter("messaging_product must be 'whatsapp'")
    recorded: dict[str, Any] = dict.fromkeys(
        ("to", "recipient", "text", "template", "language", "reply_to", "message_id"), None
    )
    recorded["parameters"] = []
    if "status" in message:
        if message["status"] != "read":
            raise invalid_parameter("status must be 'read'")
        return {**recorded, "type": "read", "message_id": _string(message.get("message_id"), "message_id")}
    recorded.update(_addressee(message))
    if message.get("recipient_type", "individual") != "individual":
        raise invalid_parameter("recipient_type must be 'individual'")
    if "context" in message:
        recorded["reply_to"] = _string(_object(message["context"], "context").get("message_id"), "context.message_id")
    kind = message.get("type", "text")  # Meta's default
    if kind == "text":
        text = _object(message.get("text"), "text")
        if not isinstance(text.get("preview_url", False), bool):
            raise invalid_parameter("text.preview_url must be true or false")
        recorded["text"] = _string(text.get("body"), "text.body", limit=TEXT_LIMIT)
    elif kind == "template":
        recorded.update(_template(_object(message.get("template"), "template")))
    elif kind == "interactive":
        recorded["text"] = _contact_request(_object(message.get("interactive"), "interactive"))
    else:
        raise invalid_parameter(f"type {kind!r}: this emulator takes text, template and interactive")
    return {**recorded, "type": kind}


def _addressee(message: dict[str, Any]) -> dict[str, str | None]:
    """Exactly one of ``to`` (a number, recorded in E.164) and ``recipient`` (a user id)."""
    if ("to" in message) == ("recipient" in message):
        raise invalid_parameter("exactly one of to and recipient is required")
    if "recipient" in message:
        recipient = message["recipient"]
        if not isinstance(recipient, str) or not _USER_ID.fullmatch(recipient):
            raise invalid_parameter("recipient must be a business-scoped user id such as ID.1502576394655843")
        return {"to": None, "recipient": recipient}
    to = message["to"]
    number = _NUMBER_SEPARATORS.sub("", to) if isinstance(to, str) else ""
    if not _NUMBER.fullmatch(number):
        raise invalid_parameter("to must be a phone number with its country code")
    return {"to": "+" + number.lstrip("+"), "recipient": None}


def _template(template: dict[str, Any]) -> dict[str, Any]:
    name = _string(template.get("name"), "template.name", limit=512)
    language = _string(_object(template.get("language"), "template.language").get("code"), "template.language.code")
    components = template.get("components", [])
    if not isinstance(components, list):
        raise invalid_parameter("template.components must be a list")
    parameters: list[str] = []
    for component in components:
        if _object(component, "template.components[]").get("type") != "body":
            continue  # header and button parameters are not shown in the outbox
        given = component.get("parameters", [])
        if not isinstance(given, list):
            raise invalid_parameter("template body parameters must be a list")
        for parameter in given:
            if _object(parameter, "template parameter").get("type") == "text":
                parameters.append(_string(parameter.get("text"), "template parameter text", limit=TEXT_LIMIT))
            elif not isinstance(parameter.get("type"), str):
                raise invalid_parameter("a template parameter needs a type")
    return {"template": name, "language": language, "parameters": parameters}


def _contact_request(interactive: dict[str, Any]) -> str:
    if interactive.get("type") != "request_contact_info":
        raise invalid_parameter("interactive.type: this emulator takes request_contact_info")
    if _object(interactive.get("action"), "interactive.action").get("name") != "request_contact_info":
        raise invalid_parameter("interactive.action.name must be 'request_contact_info'")
    body = _object(interactive.get("body"), "interactive.body")
    return _string(body.get("text"), "interactive.body.text", limit=INTERACTIVE_BODY_LIMIT)


def _sent_answer(message: dict[str, Any], recorded: dict[str, Any], wamid: str) -> dict[str, Any]:
    """Meta's answer to a send: who it went to, as given and as WhatsApp knows them, and its id."""
    if recorded["recipient"] is not None:
        contact = {"input": message["recipient"], "user_id": recorded["recipient"]}
    else:
        contact = {"input": message["to"], "wa_id": recorded["to"].lstrip("+")}
    return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}


class GraphApiEmulator:
    """The emulator, its fault switch (``devserver.faults.CountedSwitch``) and what it recorded."""

    modes = ("ok", "rate_limited", "failing", "timeout", "rejected")

    def __init__(self, phone_number_id: str, access_token: str, port: int = 0) -> None:
        self.phone_number_id = phone_number_id
        self.access_token = access_token
        self.port = port
        self._mode = "ok"
        self._times_left: int | None = None
        # Set when the mode is changed by hand or the emulator stops: what a held request waits for.
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._sent: list[dict[str, Any]] = []
        self._attempts: list[dict[str, Any]] = []
        self._seq = 0
        self._server: LocalHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def times_left(self) -> int | None:
        """How many more requests the fault answers, None when it lasts until changed."""
        return self._times_left

    def set_mode(self, mode: str, times: int | None = None) -> None:
        """A change by hand lets the requests ``timeout`` holds go: their connections close at once."""
        if mode not in self.modes:
            raise ValueError(f"whatsapp has no mode {mode!r}")
        with self._lock:
            self._mode = mode
            self._times_left = times if mode != "ok" else None
            self._released.set()
            self._released = threading.Event()

    def sent(self, after: int = 0) -> list[dict[str, Any]]:
        """The messages and read receipts accepted (those numbered after ``after``), newest first."""
        with self._lock:
            return [dict(record) for record in reversed(self._sent) if record["seq"] > after]

    def attempts(self, after: int = 0) -> list[dict[str, Any]]:
        """The requests a fault answered instead, newest first, each with ``fault`` and ``status``."""
        with self._lock:
            return [dict(record) for record in reversed(self._attempts) if record["seq"] > after]

    def answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> GraphAnswer | threading.Event:
        """What Meta answers this request, or the event a ``timeout`` fault holds it until."""
        try:
            message, recorded = self._accepted(method, path, headers, body)
        except GraphError as refused:
            return refused.answer()
        with self._lock:
            fault = self._fault_for(recorded["type"])
            self._seq += 1
            recorded = {"seq": self._seq, "id": None, "at": _now(), **recorded}
            if fault is not None:
                canned = FAULT_ANSWERS.get(fault)
                self._attempts.append({**recorded, "fault": fault, "status": canned.status if canned else None})
                if canned is None:  # timeout: held until let go, never answered
                    return self._released
                return canned.answer()
            if recorded["type"] == "read":
                self._sent.append(recorded)
                return GraphAnswer(200, {"success": True})
            recorded["id"] = f"wamid.{uuid.uuid4().hex}"
            self._sent.append(recorded)
        return GraphAnswer(200, _sent_answer(message, recorded, recorded["id"]))

    def _accepted(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The request's body and what it sends, when Meta would take it; ``GraphError`` when not.
        Meta checks the token first, then the object, then the body."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        # As bytes: a header may carry any latin-1 character, which compare_digest refuses in a str.
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), self.access_token.encode()):
            raise _invalid_token()
        found = _MESSAGES_PATH.fullmatch(path)
        if method != "POST" or found is None or found["phone_number_id"] != self.phone_number_id:
            segments = path.strip("/").split("/")
            raise _unsupported(method, segments[1] if len(segments) > 1 else segments[0])
        try:
            message = json.loads(body)
        except ValueError:
            raise invalid_parameter("the request body is not JSON") from None
        return message, _read_message(message)

    def _fault_for(self, kind: str) -> str | None:
        """The fault that answers a request of this kind, counting it down (under ``_lock``)."""
        mode = self._mode
        if mode == "ok" or (mode == "rejected" and kind not in _FREE_FORM):
            return None
        if self._times_left is not None:
            self._times_left -= 1
            if self._times_left == 0:  # the last counted request: ok from the next one on
                self._mode, self._times_left = "ok", None
        return mode

    def start(self) -> None:
        handler = type("GraphApiHandler", (_GraphApiHandler,), {"emulator": self})
        self._server = LocalHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]  # the one given, or the one bound for port 0
        # A short poll: stop() waits for it, and the unit tests start and stop one emulator per test.
        serve = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="graph-api", daemon=True)
        serve.start()

    def stop(self) -> None:
        with self._lock:
            self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------ the local stack's dev routes

    def outbox_route(self, request: Request) -> LocalResponse:
        """``GET /__dev/whatsapp/outbox[?after=<seq>]``: what was sent, newest first."""
        return self._listing(request, self.sent)

    def attempts_route(self, request: Request) -> LocalResponse:
        """``GET /__dev/whatsapp/attempts[?after=<seq>]``: what a fault answered instead, newest first."""
        return self._listing(request, self.attempts)

    @staticmethod
    def _listing(request: Request, records: Callable[[int], list[dict[str, Any]]]) -> LocalResponse:
        after = parse_qs(request.query).get("after", ["0"])[0]
        if not after.isdigit():
            return json_response(400, {"message": "after must be the seq of a record (a whole number)"})
        return json_response(200, records(int(after)))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _GraphApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept-alive connections, as urllib3's pool uses them
    timeout = 120  # an idle client connection is closed after this long
    emulator: GraphApiEmulator

    def _handle(self) -> None:
        try:
            body = read_body(self.headers, self.rfile)
        except BodyRefused as refused:
            self.close_connection = True  # the rest of the body would be read as the next request
            self._send(GraphAnswer(refused.status, invalid_parameter(refused.message).body()))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.emulator.answer(self.command, self.path.split("?")[0], headers, body)
        if isinstance(answer, threading.Event):
            hold_unanswered(self.connection, answer, HOLD_SECONDS)
            self.close_connection = True
            return
        self._send(answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _send(self, answer: GraphAnswer) -> None:
        payload = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the outbox route shows what was sent."""
