"""The fault proxies of the local stack: each mode as botocore meets it, byte-exact forwarding when
``up``, and ``/__dev/faults`` switching what the functions (and only they) reach.

Proxies of the tests' own sit in front of the session stack's DynamoDB Local and moto, so the modes
are checked without touching what the stack's functions use; the last tests go through the stack's.
"""

from __future__ import annotations

import http.client
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from devserver.faults import DYNAMODB_FAULTS, SES_FAULTS, CannedAnswer, FaultProxy
from tests.integration.conftest import Api, Stack

MAIL_FROM = "no-reply@jss.jogjakota.go.id"  # the stack's default sender, a verified identity in moto
ONE_QUICK_ATTEMPT = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 1})


@contextmanager
def running_proxy(name: str, upstream: str, canned: Mapping[str, CannedAnswer]) -> Iterator[FaultProxy]:
    proxy = FaultProxy(name, upstream, 0, canned)  # port 0: whichever is free
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def dynamodb_proxy(stack: Stack) -> Iterator[FaultProxy]:
    with running_proxy("dynamodb", stack.dynamodb_endpoint, DYNAMODB_FAULTS) as proxy:
        yield proxy


@pytest.fixture
def ses_proxy(stack: Stack) -> Iterator[FaultProxy]:
    with running_proxy("ses", stack.moto_endpoint, SES_FAULTS) as proxy:
        yield proxy


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="ap-southeast-3",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=ONE_QUICK_ATTEMPT,
    )


def send_email(ses: Any) -> Any:
    return ses.send_email(
        FromEmailAddress=MAIL_FROM,
        Destination={"ToAddresses": ["fault-proxy@example.com"]},
        Content={"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}},
    )


def error_of(call: Callable[[], Any]) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value


# ================================================================= up


def test_up_forwards_to_the_backend(stack: Stack, dynamodb_proxy: FaultProxy, ses_proxy: FaultProxy) -> None:
    direct = client("dynamodb", stack.dynamodb_endpoint).list_tables()["TableNames"]
    assert client("dynamodb", dynamodb_proxy.endpoint).list_tables()["TableNames"] == direct
    identities = client("sesv2", ses_proxy.endpoint).list_email_identities()["EmailIdentities"]
    assert MAIL_FROM in [identity["IdentityName"] for identity in identities]


class ScriptedBackend(BaseHTTPRequestHandler):
    """A backend answering the raw bytes ``ANSWERS`` holds for the path, counting its connections."""

    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self) -> None:
        super().setup()
        type(self).connections += 1

    def do_GET(self) -> None:
        self.wfile.write(ANSWERS[self.path])

    def log_message(self, format: str, *args: Any) -> None:
        pass


PLAIN = (
    b"HTTP/1.1 418 I'm a teapot\r\n"
    b"content-TYPE: application/octet-stream\r\n"
    b"X-Amz-Crc32: 123\r\n"
    b"Set-Cookie: a=1\r\n"
    b"Set-Cookie: b=2\r\n"
    b"Content-Length: 8\r\n"
    b"\r\n"
    b"\x00\xff\r\n\r\nok"
)
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKED = CHUNKED_HEAD + b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"
CHUNKED_WITH_TRAILER = CHUNKED_HEAD + b"5;name=value\r\nhello\r\n0\r\nX-Checksum: 42\r\n\r\n"
ANSWERS = {"/plain": PLAIN, "/chunked": CHUNKED, "/trailer": CHUNKED_WITH_TRAILER}


@pytest.fixture
def scripted() -> Iterator[tuple[FaultProxy, type[ScriptedBackend]]]:
    """A proxy in front of a fresh ``ScriptedBackend``, and the backend's handler class."""
    backend = type("Backend", (ScriptedBackend,), {"connections": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with running_proxy("scripted", f"http://127.0.0.1:{server.server_address[1]}", DYNAMODB_FAULTS) as proxy:
            yield proxy, backend
    finally:
        server.shutdown()
        server.server_close()


def _raw_exchange(sock: socket.socket, path: str, answer_length: int) -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: backend\r\n\r\n".encode())
    received = b""
    while len(received) < answer_length and (piece := sock.recv(65536)):
        received += piece
    return received


def test_up_forwards_status_headers_and_body_byte_for_byte_on_one_kept_alive_connection(
    scripted: tuple[FaultProxy, type[ScriptedBackend]],
) -> None:
    proxy, backend = scripted
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        answers = [_raw_exchange(sock, "/plain", len(PLAIN)) for _ in range(3)]

    assert answers == [PLAIN] * 3
    assert backend.connections == 1  # the proxy kept its own connection to the backend too


def test_up_relays_a_chunked_body_and_keeps_the_connection(scripted: tuple[FaultProxy, type[ScriptedBackend]]) -> None:
    proxy, backend = scripted
    connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
    bodies = []
    for path in ("/chunked", "/plain", "/chunked"):
        connection.request("GET", path)
        response = connection.getresponse()
        bodies.append((response.status, response.getheader("transfer-encoding"), response.read()))
        assert connection.sock is not None, "the proxy closed a kept-alive connection"
    connection.close()

    assert backend.connections == 1
    assert bodies == [
        (200, "chunked", b"hello, world"),
        (418, None, b"\x00\xff\r\n\r\nok"),
        (200, "chunked", b"hello, world"),
    ]


def test_up_relays_a_chunked_answer_byte_for_byte(scripted: tuple[FaultProxy, type[ScriptedBackend]]) -> None:
    proxy, _ = scripted
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        answers = [_raw_exchange(sock, path, len(ANSWERS[path])) for path in ("/trailer", "/chunked", "/plain")]

    assert answers == [CHUNKED_WITH_TRAILER, CHUNKED, PLAIN]  # chunk sizes, extensions and trailer kept


def test_a_fault_meets_an_already_open_connection_and_up_serves_it_again(
    scripted: tuple[FaultProxy, type[ScriptedBackend]],
) -> None:
    """The mode is read for every request, not when a connection opens: a warm function's kept-alive
    connection meets a fault switched on after it was opened, and the proxy's own connection to the
    backend outlives the fault."""
    proxy, backend = scripted
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        before = _raw_exchange(sock, "/plain", len(PLAIN))
        proxy.set_mode("throttle")
        sock.sendall(b"GET /plain HTTP/1.1\r\nHost: backend\r\n\r\n")
        throttled = _one_answer(sock)
        proxy.set_mode("up")
        after = _raw_exchange(sock, "/plain", len(PLAIN))
        proxy.set_mode("down")
        sock.sendall(b"GET /plain HTTP/1.1\r\nHost: backend\r\n\r\n")
        closed = sock.recv(65536)

    assert before == after == PLAIN
    assert throttled.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"ThrottlingException" in throttled
    assert closed == b""
    assert backend.connections == 1


def _one_answer(sock: socket.socket) -> bytes:
    """One answer framed by its ``Content-Length``."""
    received = b""
    while b"\r\n\r\n" not in received and (piece := sock.recv(65536)):
        received += piece
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
    while len(body) < length and (piece := sock.recv(65536)):
        body += piece
    return head + b"\r\n\r\n" + body


class RecordingBackend(socketserver.StreamRequestHandler):
    """A backend that keeps the bytes of each request it gets (its head and a ``Content-Length`` or
    chunked body, read as the bytes they are) and answers ``PLAIN``."""

    received: list[bytes]

    def handle(self) -> None:
        while head := self._head():
            request = head
            if b"chunked" in head.lower():
                while (line := self.rfile.readline()) not in (b"", b"0\r\n"):
                    request += line + self.rfile.read(int(line, 16) + 2)
                request += line + self.rfile.readline()
            else:
                length = next((int(v) for k, v in self._fields(head) if k == b"content-length"), 0)
                request += self.rfile.read(length)
            self.received.append(request)
            self.wfile.write(PLAIN)

    def _head(self) -> bytes:
        head = b""
        while (line := self.rfile.readline()) not in (b"", b"\r\n"):
            head += line
        return head + line if head else b""

    @staticmethod
    def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
        return [
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
        ]


@pytest.fixture
def recording() -> Iterator[tuple[FaultProxy, list[bytes]]]:
    received: list[bytes] = []
    backend = type("Backend", (RecordingBackend,), {"received": received})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), backend)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with running_proxy("recorded", f"http://127.0.0.1:{server.server_address[1]}", {}) as proxy:
            yield proxy, received
    finally:
        server.shutdown()
        server.server_close()


def test_up_relays_the_request_byte_for_byte(recording: tuple[FaultProxy, list[bytes]]) -> None:
    proxy, received = recording
    body = '{"Key": "é"}'.encode()
    request = (
        b"POST /op?x=1 HTTP/1.1\r\nhost: backend\r\nX-Amz-Target:  DynamoDB_20120810.GetItem \r\n"
        b"X-Twice: 1\r\nx-twice: 2\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    chunked_head = b"POST /op HTTP/1.1\r\nHost: backend\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(request)
        first = _one_answer(sock)
        sock.sendall(chunked_head + b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n")
        second = _one_answer(sock)

    assert first == second == PLAIN
    assert received == [request, chunked_head + b"5\r\nhello\r\n0\r\n\r\n"]  # a chunked body in one chunk


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", b"505"),
        (b"GET / HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n", b"431"),
        (b"POST / HTTP/1.1\r\nContent-Length: many\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
    ],
)
def test_a_request_the_proxy_cannot_frame_is_refused_and_its_connection_closed(
    recording: tuple[FaultProxy, list[bytes]], request_bytes: bytes, status: bytes
) -> None:
    proxy, received = recording
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(request_bytes)
        answer = b""
        while piece := sock.recv(65536):
            answer += piece

    assert answer.startswith(b"HTTP/1.1 " + status + b" ")
    assert answer.endswith(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    assert received == []


# ================================================================= down, frozen


def test_down_closes_the_connection_unanswered(dynamodb_proxy: FaultProxy) -> None:
    dynamodb = client("dynamodb", dynamodb_proxy.endpoint)
    dynamodb.list_tables()  # a kept-alive connection, as a warm function has
    dynamodb_proxy.set_mode("down")
    started = time.monotonic()

    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        dynamodb.list_tables()
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client("dynamodb", dynamodb_proxy.endpoint).list_tables()  # and a new connection
    assert time.monotonic() - started < 1

    dynamodb_proxy.set_mode("up")
    assert dynamodb.list_tables()["TableNames"]


def test_frozen_answers_nothing_until_the_client_gives_up(dynamodb_proxy: FaultProxy) -> None:
    dynamodb_proxy.set_mode("frozen")
    started = time.monotonic()

    with pytest.raises(ReadTimeoutError):
        client("dynamodb", dynamodb_proxy.endpoint).list_tables()
    assert 1 <= time.monotonic() - started < 3


def test_leaving_frozen_lets_a_held_request_go_at_once(dynamodb_proxy: FaultProxy) -> None:
    dynamodb_proxy.set_mode("frozen")
    with socket.create_connection(("127.0.0.1", dynamodb_proxy.port), timeout=10) as held:
        held.sendall(b"POST / HTTP/1.1\r\nHost: dynamodb\r\nContent-Length: 2\r\n\r\n{}")
        threading.Timer(0.3, dynamodb_proxy.set_mode, ("up",)).start()
        started = time.monotonic()
        answer = held.recv(65536)

    assert answer == b""  # closed, unanswered
    assert time.monotonic() - started < 2


# ================================================================= the services' own refusals


def test_dynamodb_throttling_is_what_dynamodb_answers(dynamodb_proxy: FaultProxy) -> None:
    dynamodb_proxy.set_mode("throttle")

    error = error_of(client("dynamodb", dynamodb_proxy.endpoint).list_tables)

    assert error.response["Error"]["Code"] == "ThrottlingException"
    assert error.response["Error"]["Message"] == "Rate of requests exceeds the allowed throughput."
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_ses_throttling_is_what_ses_answers(ses_proxy: FaultProxy) -> None:
    ses_proxy.set_mode("throttle")

    error = error_of(lambda: send_email(client("sesv2", ses_proxy.endpoint)))

    assert error.response["Error"]["Code"] == "TooManyRequestsException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_ses_refusing_a_message_is_what_ses_answers(ses_proxy: FaultProxy) -> None:
    ses_proxy.set_mode("refuse")
    ses = client("sesv2", ses_proxy.endpoint)

    error = error_of(lambda: send_email(ses))

    assert error.response["Error"]["Code"] == "MessageRejected"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert isinstance(error, ses.exceptions.MessageRejected)


def test_a_proxy_knows_only_its_service_modes(dynamodb_proxy: FaultProxy, ses_proxy: FaultProxy) -> None:
    assert dynamodb_proxy.modes == ("up", "down", "frozen", "throttle")
    assert ses_proxy.modes == ("up", "down", "frozen", "throttle", "refuse")
    with pytest.raises(ValueError, match="refuse"):
        dynamodb_proxy.set_mode("refuse")


# ================================================================= /__dev/faults on the stack


@pytest.fixture
def faults_route(stack: Stack) -> Iterator[str]:
    """The route; whatever a test breaks is back up after it."""
    yield stack.url("/__dev/faults")
    requests.post(stack.url("/__dev/faults"), json={"dynamodb": "up", "ses": "up", "eventbridge": "up"}, timeout=10)


ALL_UP = {"dynamodb": "up", "ses": "up", "eventbridge": "up", "whatsapp": "ok"}


def test_the_route_sets_modes_and_answers_all_of_them(faults_route: str) -> None:
    assert requests.get(faults_route, timeout=10).json() == ALL_UP

    changed = requests.post(faults_route, json={"dynamodb": "throttle", "ses": "refuse"}, timeout=10)

    assert changed.status_code == 200
    assert changed.json() == {"dynamodb": "throttle", "ses": "refuse", "eventbridge": "up", "whatsapp": "ok"}
    assert requests.post(faults_route, json={"dynamodb": "up", "ses": "up"}, timeout=10).json() == ALL_UP


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"kinesis": "down"}, "no fault named 'kinesis'"),
        ({"dynamodb": "down", "ses": "sideways"}, "ses must be one of up, down, frozen, throttle, refuse"),
        ({"dynamodb": "refuse"}, "dynamodb must be one of up, down, frozen, throttle"),
        ({"eventbridge": "frozen"}, "eventbridge must be one of up, down"),
        (["dynamodb", "down"], "body must be a JSON object"),
    ],
)
def test_the_route_refuses_an_unknown_fault_or_mode_and_changes_nothing(
    faults_route: str, body: Any, says: str
) -> None:
    refused = requests.post(faults_route, json=body, timeout=10)

    assert refused.status_code == 400
    assert says in refused.json()["message"]
    assert requests.get(faults_route, timeout=10).json() == ALL_UP


def test_the_functions_reach_dynamodb_through_the_proxy_and_the_stack_does_not(
    api: Api, stack: Stack, faults_route: str
) -> None:
    citizen = api.citizen()
    requests.post(faults_route, json={"dynamodb": "down"}, timeout=10).raise_for_status()
    try:
        unreachable = api.call("GET", "/v1/contact", citizen)
        assert requests.get(stack.url("/__dev/accounts"), timeout=10).status_code == 200
    finally:
        requests.post(faults_route, json={"dynamodb": "up"}, timeout=10).raise_for_status()

    assert unreachable.status_code == 503, unreachable.text
    assert api.call("GET", "/v1/contact", citizen).status_code == 200


def test_the_functions_reach_ses_through_the_proxy(api: Api, faults_route: str) -> None:
    citizen = api.citizen(whatsapp=True)
    requests.post(faults_route, json={"ses": "refuse"}, timeout=10).raise_for_status()
    try:
        refused = api.call("POST", "/v1/email-verifications", citizen)
    finally:
        requests.post(faults_route, json={"ses": "up"}, timeout=10).raise_for_status()

    assert refused.status_code == 503, refused.text
    assert api.call("POST", "/v1/email-verifications", citizen).status_code == 202
