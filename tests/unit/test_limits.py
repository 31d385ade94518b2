"""Sliding-window limits: the pure window arithmetic, and the limiter on (moto) DynamoDB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.adapters.dynamo import ConditionFailed, Dynamo
from shared.config import Settings
from shared.domain import limits
from shared.domain.limits import LimitReached, Recorded, SlidingWindowLimiter, Window
from shared.errors import ServiceError

T0 = 1_750_000_000


# ----------------------------------------------------------------- Window.blocked_for


@pytest.mark.parametrize(
    ("hits", "now", "expected"),
    [
        pytest.param([], T0, 0, id="no-hits"),
        pytest.param([T0 - 50, T0 - 40], T0, 0, id="below-limit"),
        pytest.param([T0 - 50, T0 - 40, T0 - 30], T0, 50, id="at-limit-oldest-frees-first"),
        pytest.param([T0 - 30, T0 - 50, T0 - 40], T0, 50, id="unsorted-hits"),
        pytest.param([T0 - 500, T0 - 50, T0 - 40, T0 - 30], T0, 50, id="hit-outside-window-ignored"),
        pytest.param([T0 - 100, T0 - 40, T0 - 30], T0, 0, id="oldest-exactly-window-ago-is-out"),
        pytest.param([T0 - 99, T0 - 40, T0 - 30], T0, 1, id="one-second-left"),
        pytest.param([T0 - 99.5, T0 - 40, T0 - 30], T0, 1, id="fraction-rounds-up"),
        pytest.param([T0 - 90, T0 - 80, T0 - 70, T0 - 60, T0 - 50], T0, 30, id="over-limit-waits-for-enough-slots"),
    ],
)
def test_blocked_for_without_lock(hits: list[float], now: float, expected: int) -> None:
    assert Window(limit=3, seconds=100).blocked_for(hits, now) == expected


def test_blocked_for_with_lock_counts_from_the_last_hit() -> None:
    window = Window(limit=3, seconds=3600, lock_seconds=900)
    hits = [T0, T0 + 10, T0 + 20]
    assert window.blocked_for(hits[:2], T0 + 30) == 0
    assert window.blocked_for(hits, T0 + 30) == 890  # 20 + 900 - 30, not 3600 - 30
    assert window.blocked_for(hits, T0 + 919) == 1
    assert window.blocked_for(hits, T0 + 920) == 0  # the lock is over though the window is still full


def test_lock_ends_early_when_hits_leave_the_window() -> None:
    window = Window(limit=2, seconds=100, lock_seconds=900)
    assert window.blocked_for([T0, T0 + 50], T0 + 60) == 890
    assert window.blocked_for([T0, T0 + 50], T0 + 100) == 0  # the first hit left the window


def test_without_lock_the_wait_is_window_based() -> None:
    assert Window(limit=3, seconds=3600).blocked_for([T0, T0 + 10, T0 + 20], T0 + 30) == 3570


# ----------------------------------------------------------------- SlidingWindowLimiter on DynamoDB


@pytest.fixture
def limiter(db: Dynamo, config: Settings) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(db, config.tokens_table)


def test_hits_up_to_the_limit_then_limit_reached(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=3, seconds=600)
    for offset in (0, 10, 20):
        limiter.hit("start#a", [window], T0 + offset)
    with pytest.raises(LimitReached) as caught:
        limiter.hit("start#a", [window], T0 + 100)
    assert caught.value.retry_after == 500  # the first hit leaves the window at T0 + 600
    assert limiter.recent("start#a", window, T0 + 100) == [T0, T0 + 10, T0 + 20]  # the refusal is not recorded


def test_slot_frees_when_the_oldest_hit_leaves(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=2, seconds=600)
    limiter.hit("k", [window], T0)
    limiter.hit("k", [window], T0 + 1)
    with pytest.raises(LimitReached):
        limiter.hit("k", [window], T0 + 599)
    limiter.hit("k", [window], T0 + 600)
    assert limiter.recent("k", window, T0 + 600) == [T0 + 1, T0 + 600]


def test_names_are_independent(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=1, seconds=600)
    limiter.hit("password#alice", [window], T0)
    limiter.hit("password#bob", [window], T0)
    with pytest.raises(LimitReached):
        limiter.hit("password#alice", [window], T0 + 1)


def test_check_refuses_without_recording(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=2, seconds=60)
    limiter.check("k", window, T0)
    limiter.check("k", window, T0)
    assert limiter.recent("k", window, T0) == []
    limiter.hit("k", [window], T0)
    limiter.hit("k", [window], T0 + 5)
    with pytest.raises(LimitReached) as caught:
        limiter.check("k", window, T0 + 10)
    assert caught.value.retry_after == 50
    assert caught.value.window == window


def test_several_windows_report_the_tightest(limiter: SlidingWindowLimiter) -> None:
    per_minute = Window(limit=5, seconds=60)
    per_hour = Window(limit=3, seconds=3600)
    for offset in (0, 100, 200):
        limiter.hit("codes", [per_minute, per_hour], T0 + offset)
    with pytest.raises(LimitReached) as caught:
        limiter.hit("codes", [per_minute, per_hour], T0 + 300)
    assert caught.value.retry_after == 3300
    assert caught.value.window == per_hour


def test_hits_older_than_the_longest_window_are_dropped(
    limiter: SlidingWindowLimiter, db: Dynamo, config: Settings
) -> None:
    window = Window(limit=10, seconds=60)
    limiter.hit("k", [window], T0)
    limiter.hit("k", [window], T0 + 61)
    item = db.get(config.tokens_table, {"pk": "LIMIT#k"})
    assert item is not None
    assert item["hits"] == [T0 + 61]
    assert item["version"] == 2
    assert item["ttl"] == T0 + 61 + 60  # DynamoDB may drop the item once no hit can count


def test_lock_window_on_dynamodb(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=3, seconds=3600, lock_seconds=900)
    for offset in (0, 10, 20):
        limiter.hit("password#a", [window], T0 + offset)
    with pytest.raises(LimitReached) as caught:
        limiter.hit("password#a", [window], T0 + 30)
    assert caught.value.retry_after == 890
    limiter.hit("password#a", [window], T0 + 920)  # lock over: one more try
    with pytest.raises(LimitReached) as again:
        limiter.hit("password#a", [window], T0 + 921)  # and locked again right away
    assert again.value.retry_after == 899


def test_fractional_times_round_trip(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=3, seconds=60)
    limiter.hit("k", [window], T0 + 0.25)
    limiter.hit("k", [window], T0 + 1.5)
    assert limiter.recent("k", window, T0 + 2) == [T0 + 0.25, T0 + 1.5]
    limiter.remove("k", T0 + 0.25)
    assert limiter.recent("k", window, T0 + 2) == [T0 + 1.5]


def test_remove_gives_back_one_slot(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=2, seconds=600)
    limiter.hit("k", [window], T0)
    limiter.hit("k", [window], T0 + 1)
    limiter.remove("k", T0 + 1)
    limiter.hit("k", [window], T0 + 2)
    assert limiter.recent("k", window, T0 + 3) == [T0, T0 + 2]


def test_remove_of_unknown_hit_or_name_is_harmless(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=2, seconds=600)
    limiter.remove("never-used", T0)
    limiter.hit("k", [window], T0)
    limiter.remove("k", T0 + 999)
    assert limiter.recent("k", window, T0 + 1) == [T0]


def test_reset_forgets_every_hit(limiter: SlidingWindowLimiter) -> None:
    window = Window(limit=1, seconds=600)
    limiter.hit("k", [window], T0)
    limiter.reset("k")
    limiter.hit("k", [window], T0 + 1)
    assert limiter.recent("k", window, T0 + 1) == [T0 + 1]


class RacingDynamo(Dynamo):
    """Runs ``race`` right after the first read, as if another request wrote in between."""

    def __init__(self, race: Callable[[], Any]) -> None:
        super().__init__()
        self._race: Callable[[], Any] | None = race
        self.reads = 0

    def get(self, table: str, key: Any) -> Any:
        item = super().get(table, key)
        self.reads += 1
        if self._race is not None:
            race, self._race = self._race, None
            race()
        return item


def test_concurrent_hit_cannot_take_the_last_slot_twice(limiter: SlidingWindowLimiter, config: Settings) -> None:
    window = Window(limit=2, seconds=600)
    limiter.hit("k", [window], T0)
    racing = RacingDynamo(lambda: limiter.hit("k", [window], T0 + 1))  # takes the last slot meanwhile
    with pytest.raises(LimitReached):
        SlidingWindowLimiter(racing, config.tokens_table).hit("k", [window], T0 + 1)
    assert racing.reads == 2  # the stale write was refused and the limiter read again
    assert limiter.recent("k", window, T0 + 2) == [T0, T0 + 1]


def test_concurrent_hit_with_room_left_keeps_both(limiter: SlidingWindowLimiter, config: Settings) -> None:
    window = Window(limit=5, seconds=600)
    racing = RacingDynamo(lambda: limiter.hit("k", [window], T0))
    SlidingWindowLimiter(racing, config.tokens_table).hit("k", [window], T0 + 1)
    assert limiter.recent("k", window, T0 + 2) == [T0, T0 + 1]  # neither hit was lost


class AlwaysLosingDynamo(Dynamo):
    """Every conditional put loses its condition, as if other requests always wrote first."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.puts = 0

    def put(self, table: str, item: Any, condition: str | None = None, **values: Any) -> None:
        self.puts += 1
        raise ConditionFailed(frozenset())


def test_still_contended_after_every_attempt_asks_to_come_back_soon(
    db: Dynamo, config: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(limits.time, "sleep", pauses.append)
    losing = AlwaysLosingDynamo(db.client)
    first, second = Window(limit=3, seconds=600), Window(limit=10, seconds=3600)

    # Not a limit the citizen reached (that would read "too many tries"), nor a 500: "busy, try again".
    with pytest.raises(ServiceError) as caught:
        SlidingWindowLimiter(losing, config.tokens_table).hit("k", [first, second], T0)

    assert (caught.value.code, caught.value.status, caught.value.retry_after) == ("busy", 429, 1)
    assert losing.puts == limits._ATTEMPTS  # every attempt was tried
    assert len(pauses) >= losing.puts - 1  # with a pause between lost races
    assert all(0 <= pause <= 0.2 for pause in pauses)
    assert SlidingWindowLimiter(db, config.tokens_table).recent("k", second, T0) == []  # nothing recorded


def test_pauses_between_lost_races_are_jittered_and_grow(
    db: Dynamo, config: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        ranges.append((low, high))
        return high / 2

    monkeypatch.setattr(limits.random, "uniform", uniform)
    monkeypatch.setattr(limits.time, "sleep", lambda _seconds: None)
    with pytest.raises(ServiceError):
        SlidingWindowLimiter(AlwaysLosingDynamo(db.client), config.tokens_table).hit("k", [Window(3, 600)], T0)

    assert len(ranges) >= limits._ATTEMPTS - 1
    assert all(low == 0 for low, _ in ranges)  # a random pause, from zero up
    highs = [high for _, high in ranges]
    assert highs == sorted(highs)  # never shrinking
    assert highs[0] < highs[-1] <= 0.2  # growing, with a cap


def test_a_race_lost_once_is_retried_after_a_pause(
    limiter: SlidingWindowLimiter, config: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(limits.time, "sleep", pauses.append)
    window = Window(limit=5, seconds=600)
    racing = RacingDynamo(lambda: limiter.hit("k", [window], T0))
    SlidingWindowLimiter(racing, config.tokens_table).hit("k", [window], T0 + 1)
    assert len(pauses) == 1
    assert limiter.recent("k", window, T0 + 2) == [T0, T0 + 1]


# ----------------------------------------------------------------- a limit read with other items


def test_check_on_a_limit_read_already_reads_nothing(limiter: SlidingWindowLimiter, config: Settings) -> None:
    window = Window(limit=2, seconds=60)
    limiter.hit("k", [window], T0)
    limiter.hit("k", [window], T0 + 5)
    recorded = limiter.read("k")
    counting = RacingDynamo(lambda: None)
    with pytest.raises(LimitReached) as caught:
        SlidingWindowLimiter(counting, config.tokens_table).check("k", window, T0 + 10, recorded)
    assert caught.value.retry_after == 50
    assert counting.reads == 0
    assert Recorded.of(None) == Recorded([], 0)  # a limit never hit


def test_a_hit_on_a_limit_read_already_writes_on_its_version(limiter: SlidingWindowLimiter, config: Settings) -> None:
    window = Window(limit=5, seconds=600)
    limiter.hit("k", [window], T0)
    recorded = limiter.read("k")
    counting = RacingDynamo(lambda: None)
    SlidingWindowLimiter(counting, config.tokens_table).hit("k", [window], T0 + 1, recorded)
    assert counting.reads == 0
    assert limiter.read("k") == Recorded([T0, T0 + 1], recorded.version + 1)


def test_a_hit_on_a_stale_read_loses_its_condition_and_reads_again(
    limiter: SlidingWindowLimiter, config: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits.time, "sleep", lambda _seconds: None)
    window = Window(limit=2, seconds=600)
    stale = limiter.read("k")  # read with the other items of a request ...
    limiter.hit("k", [window], T0)  # ... then two other requests take both slots
    limiter.hit("k", [window], T0 + 1)
    with pytest.raises(LimitReached):
        limiter.hit("k", [window], T0 + 2, stale)
    assert limiter.recent("k", window, T0 + 3) == [T0, T0 + 1]  # nothing overwritten, nothing added


def test_a_reset_keeps_counting_versions_so_an_old_read_cannot_write_over_newer_hits(
    limiter: SlidingWindowLimiter,
) -> None:
    window = Window(10, 3600)
    limiter.hit("password#jss-1", [window], 100.0)
    stale = limiter.read("password#jss-1")  # a request still holding this read...
    limiter.reset("password#jss-1")  # ...while a right password clears the tries
    limiter.hit("password#jss-1", [window], 200.0)  # and a new try is recorded
    limiter.hit("password#jss-1", [window], 300.0, stale)
    # Had the reset deleted the item, the new try would be version 1 again, as the stale read.
    assert limiter.read("password#jss-1").hits == [200.0, 300.0]


def test_a_reset_of_a_limit_never_hit_writes_nothing(limiter: SlidingWindowLimiter) -> None:
    limiter.reset("password#jss-2")
    assert limiter.db.get(limiter.table, {"pk": "LIMIT#password#jss-2"}) is None
