"""Side-by-side timing on a noisy machine: interleaved rounds, medians and their ratio."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Pair:
    """Seconds of a measured thing and of its floor, one sample of each per round."""

    measured: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Median of the measured ÷ median of the floor: both met the same moments of the machine."""
        return statistics.median(self.measured) / statistics.median(self.floor)

    def ms(self, which: str) -> float:
        samples: list[float] = getattr(self, which)
        return 1000 * statistics.median(samples)


def interleave(rounds: int, measured: Callable[[], float], floor: Callable[[], float]) -> Pair:
    """Runs both ``rounds`` times, alternating which goes first, so drift hits both alike."""
    pair = Pair()
    for round_ in range(rounds):
        if round_ % 2:
            pair.floor.append(floor())
            pair.measured.append(measured())
        else:
            pair.measured.append(measured())
            pair.floor.append(floor())
    return pair
