"""The password check for an account without a usable hash (a dummy comparison, so the answer takes
as long) against a real check of a stored bcrypt hash of cost 10, as Laravel writes them."""

from __future__ import annotations

import time
from collections.abc import Callable

from devserver.seed import password_hash
from scripts.bench.stats import Pair, interleave


def _timed(check: Callable[[], bool]) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        check()
        return time.perf_counter() - started

    return run


def run(rounds: int) -> tuple[Pair, float]:
    """The pair (dummy, real) and the CPU seconds of one real check."""
    from shared.domain.passwords import verify_password

    stored = password_hash("Malioboro#2020", "bcrypt-2y")
    pair = interleave(
        rounds, _timed(lambda: verify_password("salah", None)), _timed(lambda: verify_password("salah", stored))
    )
    cpu_started = time.process_time()
    for _ in range(5):
        verify_password("Malioboro#2020", stored)
    return pair, (time.process_time() - cpu_started) / 5
