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
- WhatsApp: the functions reach Meta's Graph API emulator (``devserver.graph_api``); ``ok``,
  ``rate_limited``, ``failing``, ``timeout`` or ``rejected``, for good or for the next ``times``
  requests only.

``GET /__dev/faults`` answers the current modes; ``POST /__dev/faults`` with any of
``{"dynamodb": ..., "ses": ..., "eventbridge": ..., "whatsapp": ..., "times": N}`` sets them and
answers the modes of all of them.
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from io import BufferedIOBase, BufferedReader
from socketserver import StreamRequestHandler
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
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
# What http.server and http.client allow a head: lines of 64 KiB, 100 header fields.
_MAX_LINE_BYTES = 65536
_MAX_HEADERS = 100
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: |$)")
# A chunk-size line of a chunked body: hex digits, then optional extensions.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?\r?\n")


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


@runtime_checkable
class CountedSwitch(Protocol):
    """A switch whose fault may last for a number of requests only, then ends by itself (its first
    mode is the one without a fault)."""

    @property
    def modes(self) -> tuple[str, ...]: ...

    @property
    def mode(self) -> str: ...

    @property
    def times_left(self) -> int | None: ...

    def set_mode(self, mode: str, times: int | None = None) -> None: ...


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


class _Garbled(Exception):
    """The backend answered something that is not HTTP/1.x."""


@dataclass(frozen=True)
class _Head:
    """A request's or an answer's start line and header fields: the bytes as they came (the blank
    line included), and what framing them needs."""

    raw: bytes
    start: bytes  # the start line, without its line end
    fields: dict[str, str]  # lower-case name: its first value


def _read_head(stream: BufferedIOBase) -> _Head | None:
    """The next head on ``stream``, or None when the peer closed the connection before it. Lines and
    fields are limited as ``http.server`` limits them (a request over them is refused, 431)."""
    start = stream.readline(_MAX_LINE_BYTES + 1)
    if not start:
        return None
    if len(start) > _MAX_LINE_BYTES:
        raise BodyRefused(414, "Request-URI Too Long")
    lines = [start]
    fields: dict[str, str] = {}
    while start.strip():  # (an empty start line is no head: the caller refuses it)
        line = stream.readline(_MAX_LINE_BYTES + 1)
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ConnectionResetError("the peer closed the connection mid-head")
        if len(line) > _MAX_LINE_BYTES or len(lines) > _MAX_HEADERS + 1:
            raise BodyRefused(431, "Request Header Fields Too Large")
        name, colon, value = line.partition(b":")
        if colon:
            fields.setdefault(name.strip().lower().decode("latin-1"), value.strip().decode("latin-1"))
    return _Head(b"".join(lines), start.rstrip(b"\r\n"), fields)


def _request_line(start: bytes) -> tuple[bytes, tuple[int, int]]:
    """The method and HTTP version of a request line; a line that is neither is refused (400)."""
    words = start.split()
    if len(words) != 3 or not words[2].startswith(b"HTTP/"):
        raise BodyRefused(400, "Bad Request")
    major, dot, minor = words[2][5:].partition(b".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise BodyRefused(400, "Bad Request")
    if int(major) >= 2:
        raise BodyRefused(505, "HTTP Version Not Supported")
    return words[0], (int(major), int(minor))


def _keeps_alive(version: tuple[int, int], fields: Mapping[str, str]) -> bool:
    """Whether a request leaves its connection open, as ``http.server`` decides it."""
    connection = fields.get("connection", "").lower()
    if connection == "close":
        return False
    return version >= (1, 1) or connection == "keep-alive"


class _ProxyHandler(StreamRequestHandler):
    """One client connection, kept alive, paired with one kept-alive connection to the backend.

    A request is read just far enough to frame it (request line, header fields, body), then what the
    mode says is done with it; ``up`` relays it upstream as the bytes it came as, in one write, and
    the answer back the same way. Both connections have TCP_NODELAY (``LocalHTTPServer`` sets it on
    the client's)."""

    timeout = UPSTREAM_TIMEOUT_SECONDS  # an idle client connection is closed after this long
    proxy: FaultProxy
    _upstream: socket.socket | None = None
    _answers: BufferedReader | None = None  # what the backend sends on ``_upstream``

    def handle(self) -> None:
        with contextlib.suppress(TimeoutError):  # a quiet client: its connection is closed
            while self._relay():
                pass

    def _relay(self) -> bool:
        """One request, and what the mode makes of it; False when the connection is to close."""
        try:
            request = _read_head(self.rfile)
            if request is None:
                return False  # the client closed the connection
            method, version = _request_line(request.start)
            if version >= (1, 1) and request.fields.get("expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = read_body(request.fields, self.rfile, MAX_RELAYED_BYTES)
        except BodyRefused as refused:
            self.wfile.write(self._head(refused.status, [("Content-Length", "0"), ("Connection", "close")]))
            return False
        keep_alive = _keeps_alive(version, request.fields)
        mode, thawed = self.proxy.current()
        if mode == "up":
            return self._forward(request, method, body) and keep_alive
        if mode == "down":
            return False
        if mode == "frozen":
            hold_unanswered(self.connection, thawed)
            return False
        self._answer(self.proxy.canned[mode])
        return keep_alive

    def _forward(self, request: _Head, method: bytes, body: bytes) -> bool:
        """The backend's answer, status line, header fields and body, byte for byte; False when the
        backend closes the connection after it (or is gone, or garbled: the client then sees its
        connection closed, as it would directly)."""
        if "transfer-encoding" in request.fields:  # read_body took only chunked: re-chunk it
            sent = request.raw + (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        else:
            sent = request.raw + body
        try:
            answer, status, version = self._exchange(sent)
            return self._relay_answer(answer, status, version, method)
        except (OSError, _Garbled):
            self._close_upstream()
            return False

    def _exchange(self, sent: bytes) -> tuple[_Head, int, tuple[int, int]]:
        """Sends the request upstream and reads the answer's head; once more on a fresh connection
        when a reused one turns out to have been closed by the backend meanwhile (nothing was
        answered on it)."""
        reused = self._upstream is not None
        try:
            return self._send_upstream(sent)
        except (ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            self._close_upstream()
            return self._send_upstream(sent)

    def _send_upstream(self, sent: bytes) -> tuple[_Head, int, tuple[int, int]]:
        if self._upstream is None or self._answers is None:
            upstream = socket.create_connection(
                (self.proxy.upstream_host, self.proxy.upstream_port), timeout=UPSTREAM_TIMEOUT_SECONDS
            )
            upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._upstream, self._answers = upstream, upstream.makefile("rb")
        self._upstream.sendall(sent)
        while True:
            try:
                answer = _read_head(self._answers)
            except BodyRefused as too_large:
                raise _Garbled(too_large.message) from None
            if answer is None:
                raise ConnectionResetError("the backend closed the connection unanswered")
            status_line = _STATUS_LINE.match(answer.start)
            if status_line is None:
                raise _Garbled(answer.start[:80])
            status = int(status_line[3])
            if status >= 200:  # 1xx answers are interim (100 Continue): the final one follows
                return answer, status, (int(status_line[1]), int(status_line[2]))

    def _relay_answer(self, answer: _Head, status: int, version: tuple[int, int], method: bytes) -> bool:
        """Writes the answer to the client, framed as ``http.client`` frames it; False when the
        backend closes the connection after it."""
        assert self._answers is not None  # noqa: S101 - _exchange connected it
        fields = answer.fields
        connection = fields.get("connection", "").lower()
        if version >= (1, 1):
            will_close = "close" in connection
        else:
            will_close = "keep-alive" not in connection and not fields.get("keep-alive")
        if method == b"HEAD" or status in (204, 304):
            self.wfile.write(answer.raw)
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            self._relay_chunks(answer.raw)
        elif (length := _content_length(fields)) is not None:
            body = self._answers.read(length)
            if len(body) < length:
                raise ConnectionResetError("the backend closed the connection mid-body")
            self.wfile.write(answer.raw + body)
        else:  # a body that ends where the backend closes the connection
            self.wfile.write(answer.raw)
            while piece := self._answers.read1(_RELAY_PIECE_BYTES):
                self.wfile.write(piece)
            will_close = True
        if will_close:
            self._close_upstream()
        return not will_close

    def _relay_chunks(self, head: bytes) -> None:
        """A chunked body as it arrives, chunk sizes, extensions and trailer fields included, in
        writes of up to about ``_RELAY_PIECE_BYTES``."""
        assert self._answers is not None  # noqa: S101 - _exchange connected it
        out = bytearray(head)
        while True:
            size_line = self._answers.readline(_MAX_LINE_BYTES + 1)
            size = _CHUNK_SIZE.fullmatch(size_line)
            if size is None:
                raise _Garbled(size_line[:80])
            out += size_line
            length = int(size[1], 16)
            if length == 0:
                break
            chunk = self._answers.read(length)
            end = self._answers.readline(3)
            if len(chunk) < length or end not in (b"\r\n", b"\n"):
                raise _Garbled("a chunk cut short")
            out += chunk + end
            if len(out) >= _RELAY_PIECE_BYTES:
                self.wfile.write(out)
                out.clear()
        while True:  # trailer fields, then the blank line
            line = self._answers.readline(_MAX_LINE_BYTES + 1)
            if not line:
                raise _Garbled("no end of the chunked body")
            out += line
            if line in (b"\r\n", b"\n"):
                break
        self.wfile.write(out)

    def _answer(self, canned: CannedAnswer) -> None:
        body = json.dumps(canned.body).encode()
        self.wfile.write(self._head(canned.status, canned.headers(body)) + body)

    @staticmethod
    def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", *(f"{n}: {v}" for n, v in headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _close_upstream(self) -> None:
        if self._answers is not None:
            self._answers.close()
        if self._upstream is not None:
            self._upstream.close()
        self._upstream = self._answers = None

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._close_upstream()


def hold_unanswered(connection: socket.socket, released: threading.Event, seconds: float = FREEZE_SECONDS) -> None:
    """Answers nothing, as a hung service does, until ``released`` is set, the client hangs up, or
    ``seconds`` pass; the caller then closes the connection unanswered."""
    deadline = time.monotonic() + seconds
    while not released.wait(_HUNG_UP_POLL_SECONDS):
        if time.monotonic() > deadline or _client_hung_up(connection):
            return


def _client_hung_up(connection: socket.socket) -> bool:
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        waiting: bytes = connection.recv(1, socket.MSG_PEEK)
    except OSError:
        return True
    return waiting == b""


def _content_length(fields: Mapping[str, str]) -> int | None:
    """The length an answer's ``Content-Length`` gives, None when it gives none (``http.client``'s
    reading: the body then ends where the connection does)."""
    try:
        length = int(fields["content-length"])
    except (KeyError, ValueError):
        return None
    return length if length >= 0 else None


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
    """``/__dev/faults``: every switch of the stack, by name. ``"times": N`` with a counted switch's
    fault makes it answer the next N requests only (the answer shows how many are left)."""

    def __init__(self, switches: Mapping[str, Switch | CountedSwitch]) -> None:
        self.switches = dict(switches)

    def modes(self) -> dict[str, str | int]:
        shown: dict[str, str | int] = {name: switch.mode for name, switch in self.switches.items()}
        for switch in self.switches.values():
            if isinstance(switch, CountedSwitch) and switch.times_left is not None:
                shown["times"] = switch.times_left
        return shown

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
        times = wanted.pop("times", None)
        for name, mode in wanted.items():
            switch = self.switches.get(name)
            if switch is None:
                known = ", ".join(self.switches)
                return json_response(400, {"message": f"no fault named {name!r}: known are {known}"})
            if mode not in switch.modes:
                return json_response(400, {"message": f"{name} must be one of {', '.join(switch.modes)}"})
        if times is not None and (refused := self._refuse_times(wanted, times)):
            return json_response(400, {"message": refused})
        for name, mode in wanted.items():
            switch = self.switches[name]
            if isinstance(switch, CountedSwitch):
                switch.set_mode(mode, times)
            else:
                switch.set_mode(mode)
        return json_response(200, self.modes())

    def _refuse_times(self, wanted: dict[str, Any], times: Any) -> str | None:
        """Why ``times`` cannot go with these modes, or None when it can."""
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            return "times must be a whole number of requests, 1 or more"
        counted = [name for name, switch in self.switches.items() if isinstance(switch, CountedSwitch)]
        if not wanted:
            return f"times goes with a fault of {', '.join(counted)}"
        for name, mode in wanted.items():
            switch = self.switches[name]
            if not isinstance(switch, CountedSwitch):
                return f"{name} cannot fail a number of times; times goes with {', '.join(counted)}"
            if mode == switch.modes[0]:
                return f"times counts the requests a fault answers, and {name} {mode!r} is no fault"
        return None

    def _example(self) -> str:
        return json.dumps({name: switch.modes[-1] for name, switch in self.switches.items()})
