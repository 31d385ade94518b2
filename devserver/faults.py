"""Faults the local stack injects on purpose, so tests and developers can watch the service meet an
outage: one module owns all of them and ``/__dev/faults``.

- DynamoDB and SES: the functions reach DynamoDB Local and moto's SES through a ``FaultProxy`` each
  (their ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL_SESV2``); the stack's own work (tables,
  seeding, pollers, dev routes, ``make import``) goes to them directly and is never faulted. A proxy
  is ``up`` (forwards every byte), ``down`` (closes the connection unanswered, as a dead process would
  leave it: botocore's ``ConnectionClosedError``), ``frozen`` (reads the request and answers nothing:
  a hung service, botocore's ``ReadTimeoutError``), ``throttle`` (the service's own throttling answer:
  ``ThrottlingException`` from DynamoDB, ``TooManyRequestsException`` from SES), and for SES
  ``refuse`` (``MessageRejected``).
- EventBridge: ``down`` takes JSS's event bus away (the bus, its rule and target), ``up`` brings it
  back, to watch the outbox retry.

``GET /__dev/faults`` answers the current modes; ``POST /__dev/faults`` with any of
``{"dynamodb": ..., "ses": ..., "eventbridge": ...}`` sets them and answers the modes of all three.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from devserver.gateway import BodyRefused, LocalHTTPServer, LocalResponse, Request, json_response, read_body

if TYPE_CHECKING:
    from devserver.jss_side import LocalJss

# A frozen request is let go (its connection closed) after this long even if the mode stays frozen.
FREEZE_SECONDS = 60.0
# Longer than any botocore read timeout of the service: the proxy never gives up before its client.
UPSTREAM_TIMEOUT_SECONDS = 120.0
# The largest request relayed: DynamoDB's own limit (BatchWriteItem) is 16 MB.
MAX_RELAYED_BYTES = 16 * 1024 * 1024
_RELAY_PIECE_BYTES = 64 * 1024
_HUNG_UP_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class CannedAnswer:
    """What a service answers instead of doing the work, as it answers it on AWS."""

    status: int
    content_type: str
    body: dict[str, str]
    error_type_header: str | None = None  # ``x-amzn-ErrorType``, how REST-JSON services name the error

    def headers(self, body: bytes) -> list[tuple[str, str]]:
        headers = [
            ("x-amzn-RequestId", str(uuid.uuid4())),
            ("Date", formatdate(usegmt=True)),
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(body))),
        ]
        if self.error_type_header:
            headers.append(("x-amzn-ErrorType", self.error_type_header))
        return headers


def _sesv2_error(status: int, code: str, message: str) -> CannedAnswer:
    """SES v2 (REST-JSON): the code in ``x-amzn-ErrorType``, the message in the body."""
    return CannedAnswer(status, "application/json", {"message": message}, error_type_header=code)


DYNAMODB_FAULTS: Mapping[str, CannedAnswer] = {
    "throttle": CannedAnswer(
        400,
        "application/x-amz-json-1.0",
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            "message": "Rate of requests exceeds the allowed throughput.",
        },
    ),
}
SES_FAULTS: Mapping[str, CannedAnswer] = {
    "throttle": _sesv2_error(429, "TooManyRequestsException", "Maximum sending rate exceeded."),
    "refuse": _sesv2_error(400, "MessageRejected", "Email address is not verified."),
}


class Switch(Protocol):
    """Something the local stack can make fail on purpose, one mode at a time."""

    @property
    def modes(self) -> tuple[str, ...]: ...

    @property
    def mode(self) -> str: ...

    def set_mode(self, mode: str) -> None: ...


class FaultProxy:
    """A forwarding HTTP/1.1 proxy in front of one backend, whose mode changes while it runs."""

    def __init__(self, name: str, upstream: str, port: int, canned: Mapping[str, CannedAnswer]) -> None:
        address = urlsplit(upstream)
        self.name = name
        self.upstream_host = address.hostname or "127.0.0.1"
        self.upstream_port = address.port or 80
        self.port = port
        self.canned = dict(canned)
        self.modes: tuple[str, ...] = ("up", "down", "frozen", *self.canned)
        self._mode = "up"
        self._thawed = threading.Event()
        self._thawed.set()
        self._lock = threading.Lock()
        self._server: LocalHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """A change out of ``frozen`` lets the held requests go: their connections close at once."""
        if mode not in self.modes:
            raise ValueError(f"{self.name} has no mode {mode!r}")
        with self._lock:
            if mode == "frozen" and self._mode != "frozen":
                self._thawed = threading.Event()
            elif mode != "frozen":
                self._thawed.set()
            self._mode = mode

    def current(self) -> tuple[str, threading.Event]:
        """The mode and, for ``frozen``, the event its end sets (read together)."""
        with self._lock:
            return self._mode, self._thawed

    def start(self) -> None:
        handler = type(f"{self.name}ProxyHandler", (_ProxyHandler,), {"proxy": self})
        self._server = LocalHTTPServer(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]  # the one given, or the one bound for port 0
        threading.Thread(target=self._server.serve_forever, name=f"{self.name}-proxy", daemon=True).start()

    def stop(self) -> None:
        self.set_mode("up")
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    """One client connection, kept alive, paired with one kept-alive connection to the backend.
    (``http.client`` sets TCP_NODELAY on that one; ``LocalHTTPServer`` on the client's.)"""

    protocol_version = "HTTP/1.1"
    timeout = UPSTREAM_TIMEOUT_SECONDS  # an idle client connection is closed after this long
    proxy: FaultProxy
    _upstream: http.client.HTTPConnection | None = None

    def _relay(self) -> None:
        try:
            body = read_body(self.headers, self.rfile, MAX_RELAYED_BYTES)
        except BodyRefused as refused:
            self.wfile.write(self._head(refused.status, [("Content-Length", "0"), ("Connection", "close")]))
            self.close_connection = True
            return
        mode, thawed = self.proxy.current()
        if mode == "up":
            self._forward(body)
        elif mode == "down":
            self.close_connection = True
        elif mode == "frozen":
            self._hold(thawed)
            self.close_connection = True
        else:
            self._answer(self.proxy.canned[mode])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _relay

    def _forward(self, body: bytes) -> None:
        """The backend's answer, status line, headers and body as it sent them (a chunked body is
        relayed as it arrives: the same bytes, in chunks of the proxy's own)."""
        try:
            response = self._exchange(body)
        except (OSError, http.client.HTTPException):  # the backend is gone or garbled: the client sees
            self.close_connection = True  # a closed connection, as it would directly
            return
        head = self._head(response.status, response.getheaders(), response.reason, response.version)
        has_body = self.command != "HEAD" and response.status >= 200 and response.status not in (204, 304)
        if response.chunked and has_body:
            self.wfile.write(head)
            while piece := response.read1(_RELAY_PIECE_BYTES):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(head + response.read())
        if response.will_close:  # the backend closes (or ends its body by closing): so does the proxy
            self.close_connection = True

    def _exchange(self, body: bytes) -> http.client.HTTPResponse:
        """Sends the request upstream; once more on a fresh connection when a reused one turns out
        to have been closed by the backend meanwhile (nothing was answered on it)."""
        reused = self._upstream is not None and self._upstream.sock is not None
        try:
            return self._send_upstream(body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            self._close_upstream()
            return self._send_upstream(body)

    def _send_upstream(self, body: bytes) -> http.client.HTTPResponse:
        if self._upstream is None:
            self._upstream = http.client.HTTPConnection(
                self.proxy.upstream_host, self.proxy.upstream_port, timeout=UPSTREAM_TIMEOUT_SECONDS
            )
        chunked = "transfer-encoding" in self.headers  # read_body took only chunked: re-chunk it
        self._upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            self._upstream.putheader(name, value)
        self._upstream.endheaders([body] if chunked else body or None, encode_chunked=chunked)
        return self._upstream.getresponse()

    def _hold(self, thawed: threading.Event) -> None:
        """Answers nothing until the mode changes, the client hangs up, or ``FREEZE_SECONDS`` pass."""
        deadline = time.monotonic() + FREEZE_SECONDS
        while not thawed.wait(_HUNG_UP_POLL_SECONDS):
            if time.monotonic() > deadline or self._client_hung_up():
                return

    def _client_hung_up(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            waiting: bytes = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True
        return waiting == b""

    def _answer(self, canned: CannedAnswer) -> None:
        body = json.dumps(canned.body).encode()
        self.wfile.write(self._head(canned.status, canned.headers(body)) + body)

    @staticmethod
    def _head(status: int, headers: list[tuple[str, str]], reason: str | None = None, version: int = 11) -> bytes:
        reason = HTTPStatus(status).phrase if reason is None else reason
        lines = [f"HTTP/{version // 10}.{version % 10} {status} {reason}", *(f"{n}: {v}" for n, v in headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _close_upstream(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None

    def finish(self) -> None:
        super().finish()
        self._close_upstream()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the gateway's access log tells what the functions were asked; this would repeat it


class EventBusSwitch:
    """JSS's event bus: ``down`` takes it away (with JSS's rule and target), ``up`` brings it back."""

    modes = ("up", "down")

    def __init__(self, jss: LocalJss) -> None:
        self.jss = jss

    @property
    def mode(self) -> str:
        return "up" if self.jss.bus_up else "down"

    def set_mode(self, mode: str) -> None:
        if mode == "down":
            self.jss.take_bus_away()
        elif mode == "up":
            self.jss.bring_bus_back()
        else:
            raise ValueError(f"the event bus has no mode {mode!r}")


class FaultSwitchboard:
    """``/__dev/faults``: every switch of the stack, by name."""

    def __init__(self, switches: Mapping[str, Switch]) -> None:
        self.switches = dict(switches)

    def modes(self) -> dict[str, str]:
        return {name: switch.mode for name, switch in self.switches.items()}

    def show(self, _: Request) -> LocalResponse:
        return json_response(200, self.modes())

    def change(self, request: Request) -> LocalResponse:
        """Sets every mode the body names, or none of them when one is unknown."""
        try:
            wanted = request.json()
        except ValueError:
            wanted = None
        if not isinstance(wanted, dict):
            return json_response(400, {"message": f"body must be a JSON object such as {self._example()}"})
        for name, mode in wanted.items():
            switch = self.switches.get(name)
            if switch is None:
                known = ", ".join(self.switches)
                return json_response(400, {"message": f"no fault named {name!r}: known are {known}"})
            if mode not in switch.modes:
                return json_response(400, {"message": f"{name} must be one of {', '.join(switch.modes)}"})
        for name, mode in wanted.items():
            self.switches[name].set_mode(mode)
        return json_response(200, self.modes())

    def _example(self) -> str:
        return json.dumps({name: switch.modes[-1] for name, switch in self.switches.items()})
