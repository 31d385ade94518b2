"""Sliding-window limits kept in DynamoDB: the exact times of recent hits, updated optimistically.

Used for flow starts, email codes and wrong passwords. Each write is conditional on the version it
read, so two requests at the same moment can never both take the last slot.
"""

from __future__ import annotations

import math
import random
import time
from contextlib import suppress
from dataclasses import dataclass

from shared.adapters.dynamo import ConditionFailed, Dynamo, Item, ItemRef
from shared.errors import ServiceError

_ATTEMPTS = 8


@dataclass(frozen=True)
class Window:
    """At most ``limit`` hits in ``seconds``. With ``lock_seconds``, reaching the limit blocks only
    for that long after the last hit (a lockout), not until the window frees a slot."""

    limit: int
    seconds: int
    lock_seconds: int | None = None

    def blocked_for(self, hits: list[float], now: float) -> int:
        """Seconds until one more hit is allowed; 0 when it is allowed now."""
        recent = sorted(h for h in hits if h > now - self.seconds)
        if len(recent) < self.limit:
            return 0
        if self.lock_seconds is not None:
            free_at = recent[-1] + self.lock_seconds
        else:
            free_at = recent[-self.limit] + self.seconds  # the slot that frees first
        return max(0, math.ceil(free_at - now))


@dataclass(frozen=True)
class Recorded:
    """A limit's item as read: the recorded hits and the version a write must still find."""

    hits: list[float]
    version: int = 0

    @classmethod
    def of(cls, item: Item | None) -> Recorded:
        item = item or {}
        return cls(list(item.get("hits", [])), int(item.get("version", 0)))


class LimitReached(Exception):
    def __init__(self, retry_after: int, window: Window) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after
        self.window = window


class SlidingWindowLimiter:
    def __init__(self, db: Dynamo, table: str) -> None:
        self.db = db
        self.table = table

    def _key(self, name: str) -> dict[str, str]:
        return {"pk": f"LIMIT#{name}"}

    def ref(self, name: str) -> ItemRef:
        """Where the limit is, for a caller reading it with other items in one batch (``Recorded.of``)."""
        return self.table, self._key(name)

    def read(self, name: str) -> Recorded:
        return Recorded.of(self.db.get(self.table, self._key(name)))

    def recent(self, name: str, window: Window, now: float) -> list[float]:
        return [h for h in self.read(name).hits if h > now - window.seconds]

    def check(self, name: str, window: Window, now: float, recorded: Recorded | None = None) -> None:
        """Raises ``LimitReached`` if one more hit would exceed the window, without recording one.
        ``recorded``: the limit as the caller read it already (else it is read now)."""
        if recorded is None:
            recorded = self.read(name)
        if wait := window.blocked_for(recorded.hits, now):
            raise LimitReached(wait, window)

    def hit(self, name: str, windows: list[Window], now: float, recorded: Recorded | None = None) -> None:
        """Records one hit if every window has room, else raises ``LimitReached`` for the tightest.

        ``recorded`` (the limit as the caller read it) spares the first read: the write is
        conditional on its version all the same, and a lost race reads again."""
        longest = max(w.seconds for w in windows)
        for attempt in range(_ATTEMPTS):
            seen = recorded if attempt == 0 and recorded is not None else self.read(name)
            hits = sorted(h for h in seen.hits if h > now - longest)
            wait, blocking = max(((w.blocked_for(hits, now), w) for w in windows), key=lambda pair: pair[0])
            if wait:
                raise LimitReached(wait, blocking)
            try:
                self._write(name, [*hits, now], seen.version, now + longest)
                return
            except ConditionFailed:
                _back_off(attempt)
        # Still contended after every try: a burst at this very moment. Not a limit: ask to come back.
        raise ServiceError("busy", retry_after=1)

    def remove(self, name: str, hit: float) -> None:
        """Takes back one recorded hit (the action it counted did not happen)."""
        for attempt in range(_ATTEMPTS):
            item = self.db.get(self.table, self._key(name))
            if not item or hit not in item.get("hits", []):
                return
            hits = list(item["hits"])
            hits.remove(hit)
            try:
                self._write(name, hits, int(item["version"]), int(item.get("ttl", hit)))
                return
            except ConditionFailed:
                _back_off(attempt)

    def reset(self, name: str) -> None:
        """Clears the recorded hits. The version counts on: were the item deleted, a new one would
        start at version 1 again, and a writer holding an older read of that version could write
        over the hits recorded since."""
        with suppress(ConditionFailed):  # no item: nothing recorded to clear
            self.db.update(
                self.table, self._key(name), "SET hits = :none ADD version :one", "attribute_exists(pk)", none=[], one=1
            )

    def _write(self, name: str, hits: list[float], version: int, expires: float) -> None:
        self.db.put(
            self.table,
            {**self._key(name), "hits": hits, "version": version + 1, "ttl": math.ceil(expires)},
            "attribute_not_exists(pk) OR version = :version",
            version=version,
        )


def _back_off(attempt: int) -> None:
    """Jittered, growing pause after a lost race, so a burst of writers spreads out."""
    time.sleep(random.uniform(0, min(0.2, 0.01 * 2**attempt)))  # noqa: S311 - jitter, not a secret
