"""The local gateway under a burst of new connections, and on kept-alive ones.

A browser, a load test or a journey test in parallel opens many connections at once; the gateway must
take all of them at once, keep a connection usable after an error answer, and answer without the 40 ms
Nagle/delayed-ACK stall per response. With a listen backlog of 5, the kernel drops the connections of a
burst beyond it: where it aborts on overflow they are reset, elsewhere (Linux by default) each waits
for a SYN retransmission, 1 s at the least, and some time out.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from tests.integration.conftest import Stack

BURST = 50
CHEAP_ROUTE = "/openapi.json"  # served from memory by the gateway itself: only the connection counts
# A dropped connection attempt is retried after TCP's initial retransmission timeout, 1 s (RFC 6298);
# an accepted one is answered in milliseconds.
SYN_RETRANSMISSION_SECONDS = 1.0


def _address(stack: Stack) -> tuple[str, int]:
    url = urlsplit(stack.base_url)
    return url.hostname or "127.0.0.1", url.port or 80


def _one_new_connection(address: tuple[str, int], barrier: threading.Barrier) -> tuple[str, float]:
    """Opens a fresh connection once every thread is ready: the status or what went wrong, and how
    long the answer took."""
    connection = http.client.HTTPConnection(*address, timeout=10)
    barrier.wait()
    started = time.perf_counter()
    try:
        connection.request("GET", CHEAP_ROUTE)
        response = connection.getresponse()
        response.read()
        return str(response.status), time.perf_counter() - started
    except OSError as error:  # ConnectionResetError, RemoteDisconnected, timeouts
        return type(error).__name__, time.perf_counter() - started
    finally:
        connection.close()


def test_a_burst_of_new_connections_is_answered_in_full_at_once(stack: Stack) -> None:
    assert _one_new_connection(_address(stack), threading.Barrier(1))[0] == "200"  # the document is rendered once
    barrier = threading.Barrier(BURST)
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        outcomes = list(pool.map(lambda _: _one_new_connection(_address(stack), barrier), range(BURST)))

    failed = [outcome for outcome, _ in outcomes if outcome != "200"]
    waited = [seconds for outcome, seconds in outcomes if outcome == "200" and seconds >= SYN_RETRANSMISSION_SECONDS]
    assert not failed, f"{len(failed)} of {BURST} connections failed: {sorted(failed)}"
    assert not waited, f"{len(waited)} of {BURST} connections waited for a SYN retransmission: {sorted(waited)}"


def test_a_kept_alive_connection_answers_without_a_delayed_ack_stall(stack: Stack) -> None:
    connection = http.client.HTTPConnection(*_address(stack), timeout=10)
    timings, local_ports = [], set()
    for _ in range(20):
        started = time.perf_counter()
        connection.request("GET", CHEAP_ROUTE)
        response = connection.getresponse()
        response.read()
        timings.append(time.perf_counter() - started)
        assert response.status == 200
        assert connection.sock is not None, "the gateway closed a kept-alive connection"
        local_ports.add(connection.sock.getsockname()[1])
    connection.close()

    assert len(local_ports) == 1  # one connection served all 20
    # Nagle's algorithm holding the body until the client's delayed ACK costs 40 ms per response.
    assert statistics.median(timings) < 0.02, f"median {statistics.median(timings) * 1000:.1f} ms per request"


def test_a_connection_stays_usable_after_error_answers(stack: Stack) -> None:
    connection = http.client.HTTPConnection(*_address(stack), timeout=10)
    statuses = []
    for method, path in [("GET", "/no/such/route"), ("TRACE", "/"), ("QUERY", CHEAP_ROUTE), ("GET", CHEAP_ROUTE)]:
        connection.request(method, path)
        response = connection.getresponse()
        statuses.append((response.status, response.read()[:30]))
    connection.close()

    not_found = (404, b'{"message": "Not Found"}')  # API Gateway's answer for a method without a route
    assert statuses[:3] == [not_found] * 3
    assert statuses[3][0] == 200


def test_a_chunked_request_body_reaches_the_route(stack: Stack) -> None:
    connection = http.client.HTTPConnection(*_address(stack), timeout=10)
    pieces = iter([b'{"sub": ', b'"jss-1001"}'])
    connection.request("POST", "/__dev/token", body=pieces, headers={"Content-Type": "application/json"})
    response = connection.getresponse()

    assert response.status == 200, response.read()
    assert "token" in json.loads(response.read())


def test_a_request_with_an_unusable_length_is_refused_and_its_connection_closed(stack: Stack) -> None:
    """The gateway cannot know where such a request ends, so it must not read the rest as a new one."""
    with socket.create_connection(_address(stack), timeout=5) as raw:
        raw.sendall(
            b"POST /v1/migrations HTTP/1.1\r\nHost: local\r\nContent-Length: nonsense\r\n\r\nGET / HTTP/1.1\r\n\r\n"
        )
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.count(b"HTTP/1.1 ") == 1, answer  # the smuggled GET was not answered
