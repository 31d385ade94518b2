"""The local gateway (``make run``): ``GET /v1/contact`` against a route the gateway answers itself
(``GET /__dev/faults``), interleaved, over a new connection per request as tests and curl make them,
and over one kept-alive connection."""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable

from scripts.bench.stats import Pair, interleave

WARM_UP = 500


def _timed_get(port: int, path: str, headers: dict[str, str], connection: http.client.HTTPConnection | None) -> float:
    conn = connection or http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    took = time.perf_counter() - started
    if connection is None:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status}")
    return took


def run(port: int, token: str, rounds: int) -> dict[str, Pair]:
    contact = {"authorization": f"Bearer {token}"}
    results = {}
    for label, keep_alive in (("new connection", False), ("kept alive", True)):
        connection = http.client.HTTPConnection("127.0.0.1", port) if keep_alive else None

        def get(
            path: str, headers: dict[str, str], conn: http.client.HTTPConnection | None = connection
        ) -> Callable[[], float]:
            return lambda: _timed_get(port, path, headers, conn)

        # Warm up first: the containers, and DynamoDB Local's JIT (its GetItem takes half as long after
        # a few thousand requests), which the gateway-only route never touches.
        interleave(WARM_UP, get("/v1/contact", contact), get("/__dev/faults", {}))
        results[label] = interleave(rounds, get("/v1/contact", contact), get("/__dev/faults", {}))
        if connection is not None:
            connection.close()
    return results
