"""An HTTP server that does what API Gateway (HTTP API, payload format 2.0) does for this service:
match a route from ``template.yaml``, run the JWT authorizer, build the event, invoke the function's
handler, and turn its answer back into an HTTP response."""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import multiprocessing
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any
from urllib.parse import parse_qs, urlsplit

from devserver.authorizer import LocalAuthorizer
from devserver.template import ROOT, Function, Route

# Several warm containers per function, each its own process, so concurrent requests really run
# concurrently, and each container handles one event at a time, as in Lambda.
CONTAINERS_PER_FUNCTION = 4
_SPAWN = multiprocessing.get_context("spawn")
# What API Gateway (HTTP API) passes as text; everything else, form posts and a missing
# Content-Type included, arrives base64-encoded (as checked against AWS).
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
# Link tokens in paths are credentials: the access log shows only their start.
_LINK_TOKEN = re.compile(r"(/[mc]/[A-Za-z0-9_-]{4})[A-Za-z0-9_-]+")
MAX_BODY_BYTES = 1024 * 1024
# A chunk-size line of a chunked body: hex digits, then optional extensions.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?\r?\n")


@dataclass
class LocalResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str] | None = None


DevRoute = Callable[["Request"], LocalResponse]


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    source_ip: str

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


class LambdaContext:
    """The parts of Lambda's context object that Powertools reads."""

    def __init__(self, function: str, timeout_seconds: int = 10) -> None:
        self.function_name = function
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function}"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _container(
    name: str,
    app_file: str,
    handler_name: str,
    root: str,
    environment: dict[str, str],
    connection: Connection,
    timeout_seconds: int,
) -> None:
    """One warm 'container': imports the handler once, then answers one event at a time, as Lambda
    does. Runs in its own process because Powertools keeps the current event in process-wide state.
    ``environment`` is the function's own: it may differ from the stack's (DynamoDB and SES through
    the fault proxies), so it is set here, before the handler's module reads any of it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stack stops containers itself
    os.environ.update(environment)
    sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(f"{name}_app", app_file)
    if spec is None or spec.loader is None:
        raise ImportError(app_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = getattr(module, handler_name)
    while True:
        try:
            event = connection.recv()
        except EOFError:
            return  # the stack went away
        if event is None:
            return
        try:
            connection.send(("ok", handler(event, LambdaContext(name, timeout_seconds))))
        except Exception as error:  # the function crashed; Lambda would log the traceback, so do we
            traceback.print_exc()
            connection.send(("error", repr(error)))


class FunctionCrashed(Exception):
    pass


class FunctionPool:
    """Up to ``CONTAINERS_PER_FUNCTION`` warm containers of one function, started on demand, each
    with ``environment`` as its variables (over what the stack's process has)."""

    @staticmethod
    def for_each(functions: dict[str, Function], environment: dict[str, str]) -> dict[str, FunctionPool]:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))  # where the shared layer's package lives locally
        return {name: FunctionPool(function, environment) for name, function in functions.items()}

    def __init__(self, function: Function, environment: dict[str, str]) -> None:
        self.name = function.name
        self.timeout = function.timeout  # what the context tells the handler it has left
        self.environment = dict(environment)
        module_file, self.handler_name = function.handler.rsplit(".", 1)
        self.app_file = str(function.code_dir / f"{module_file}.py")
        self._idle: queue.LifoQueue[tuple[BaseProcess, Connection]] = queue.LifoQueue()
        self._all: list[tuple[BaseProcess, Connection]] = []
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        container = self._acquire()
        try:
            container[1].send(event)
            outcome, result = container[1].recv()
        finally:
            self._idle.put(container)
        if outcome != "ok":
            raise FunctionCrashed(f"{self.name}: {result}")
        return result  # type: ignore[no-any-return]

    def _acquire(self) -> tuple[BaseProcess, Connection]:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < CONTAINERS_PER_FUNCTION:
                ours, theirs = _SPAWN.Pipe()
                process = _SPAWN.Process(
                    target=_container,
                    args=(
                        self.name,
                        self.app_file,
                        self.handler_name,
                        str(ROOT),
                        self.environment,
                        theirs,
                        self.timeout,
                    ),
                    name=f"lambda-{self.name}",
                    daemon=True,
                )
                process.start()
                self._all.append((process, ours))
                return process, ours
        return self._idle.get()

    def stop(self) -> None:
        for _, connection in self._all:
            with contextlib.suppress(OSError):  # already gone
                connection.send(None)
        for process, _ in self._all:
            process.join(5)
            if process.is_alive():
                process.kill()


class Gateway:
    def __init__(self, routes: list[Route], authorizer: LocalAuthorizer, pools: dict[str, FunctionPool]) -> None:
        self.routes = routes
        self.authorizer = authorizer
        self.pools = pools
        self.dev_routes: dict[tuple[str, str], DevRoute] = {}

    def add_dev_route(self, method: str, path: str, handler: DevRoute) -> None:
        self.dev_routes[(method, path)] = handler

    def handle(self, request: Request) -> LocalResponse:
        if dev := self.dev_routes.get((request.method, request.path)):
            return dev(request)
        if request.method == "OPTIONS":
            return self._preflight()
        matched = [
            (route, params)
            for route in self.routes
            if (params := route.match(request.method, request.path)) is not None
        ]
        if not matched:
            return json_response(404, {"message": "Not Found"})  # what API Gateway says for no route
        route, params = matched[0]
        claims = None
        if route.authorized:
            claims = self.authorizer.claims(request.headers.get("authorization"))
            if claims is None:
                return LocalResponse(
                    401,
                    {"content-type": "application/json", "www-authenticate": 'Bearer error="invalid_token"'},
                    b'{"message":"Unauthorized"}',
                )
        event = build_event(request, route, params, claims)
        return to_local_response(self.pools[route.function.name].invoke(event))

    def _preflight(self) -> LocalResponse:
        return LocalResponse(
            204,
            {
                "access-control-allow-origin": "*",
                "access-control-allow-headers": "authorization,content-type",
                "access-control-allow-methods": "GET,POST,PUT",
                "access-control-max-age": "600",
            },
            b"",
        )


def build_event(
    request: Request, route: Route, params: dict[str, str], claims: dict[str, str] | None
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event."""
    now = datetime.now(UTC)
    content_type = request.headers.get("content-type", "")
    is_text = content_type.startswith(_TEXT_TYPES) or not request.body
    try:
        body: str | None = request.body.decode() if is_text else None
    except UnicodeDecodeError:
        body, is_text = None, False
    if not is_text:
        body = base64.b64encode(request.body).decode()
    query = {k: ",".join(v) for k, v in parse_qs(request.query, keep_blank_values=True).items()}
    headers = {k: v for k, v in request.headers.items() if k != "cookie"}
    cookies = [c.strip() for c in request.headers.get("cookie", "").split(";") if c.strip()]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": request.headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if body:
        event["body"] = body
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if params:
        event["pathParameters"] = params
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def to_local_response(result: dict[str, Any]) -> LocalResponse:
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {
        k.lower(): ", ".join(v) if isinstance(v, list) else str(v) for k, v in (result.get("headers") or {}).items()
    }
    headers.setdefault("access-control-allow-origin", "*")
    return LocalResponse(int(result.get("statusCode", 200)), headers, raw, result.get("cookies"))


def json_response(status: int, payload: Any) -> LocalResponse:
    return LocalResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())


class LocalHTTPServer(ThreadingHTTPServer):
    """A thread per connection, fit for bursts and kept-alive connections.

    ``socketserver``'s listen backlog of 5 makes the kernel drop the connections of a burst beyond it
    (each costs a client a SYN retransmission: 1 s, 3 s, 7 s ..., or a reset where the kernel aborts
    on overflow). Accepted sockets get TCP_NODELAY: a response goes out as a header write and a body
    write, and Nagle's algorithm would hold the body until the client's delayed ACK, 40 ms later.
    """

    request_queue_size = 1024  # the kernel caps it at net.core.somaxconn
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client went away mid-answer: nothing to report
        super().handle_error(request, client_address)


class BodyRefused(Exception):
    """A request body that cannot be read: the answer is ``status``, and the connection must close,
    since the rest of the body would otherwise be read as the next request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_body(headers: Message | Mapping[str, str], stream: BufferedIOBase, limit: int = MAX_BODY_BYTES) -> bytes:
    """A request's body, framed by ``Content-Length`` or ``Transfer-Encoding: chunked`` (``headers``
    by lower-case name, or a ``Message``)."""
    if "transfer-encoding" in headers:
        if headers["transfer-encoding"].strip().lower() != "chunked":
            raise BodyRefused(501, "Not Implemented")
        return _read_chunked(stream, limit)
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        raise BodyRefused(400, "Bad Request") from None
    if length < 0:
        raise BodyRefused(400, "Bad Request")
    if length > limit:
        raise BodyRefused(413, "Request Entity Too Large")
    body = stream.read(length) if length else b""
    if len(body) < length:
        raise BodyRefused(400, "Bad Request")  # the client hung up mid-body
    return body


def _read_chunked(stream: BufferedIOBase, limit: int) -> bytes:
    body = bytearray()
    while True:
        size_line = _CHUNK_SIZE.fullmatch(stream.readline(1024))
        if size_line is None:
            raise BodyRefused(400, "Bad Request")
        size = int(size_line[1], 16)
        if len(body) + size > limit:
            raise BodyRefused(413, "Request Entity Too Large")
        if size == 0:
            break
        chunk = stream.read(size)
        if len(chunk) < size or stream.readline(3) not in (b"\r\n", b"\n"):
            raise BodyRefused(400, "Bad Request")
        body += chunk
    while stream.readline(8192) not in (b"\r\n", b"\n", b""):
        pass  # trailer fields: nothing here uses them
    return bytes(body)


def serve(gateway: Gateway, host: str, port: int, quiet: bool = False) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        timeout = 15  # a client that promises more body than it sends is dropped

        def _handle(self) -> None:
            url = urlsplit(self.path)
            try:
                body = read_body(self.headers, self.rfile)
            except BodyRefused as refused:
                response = json_response(refused.status, {"message": refused.message})
                response.headers["connection"] = "close"  # also makes the handler close it
                self._send(response)
                return
            request = Request(
                method=self.command,
                path=url.path,
                query=url.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                source_ip=self.client_address[0],
            )
            try:
                response = gateway.handle(request)
            except Exception as error:  # the Lambda itself crashed: API Gateway answers 500
                sys.stderr.write(f"function error: {error!r}\n")
                response = json_response(500, {"message": "Internal Server Error"})
            self._send(response)

        def _send(self, response: LocalResponse) -> None:
            self.send_response(response.status)
            for key, value in response.headers.items():
                self.send_header(key, value)
            for cookie in response.cookies or []:
                self.send_header("set-cookie", cookie)
            self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def __getattr__(self, name: str) -> Callable[[], None]:
            """``do_<METHOD>`` for every method, TRACE and made-up ones too: all go to the route table, as
            on API Gateway (no route is its 404, not http.server's 501 page)."""
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            if not quiet:
                line = _LINK_TOKEN.sub(r"\1…", format % args)
                sys.stderr.write(f"{self.address_string()} {line}\n")

    return LocalHTTPServer((host, port), Handler)
