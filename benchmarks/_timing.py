"""Interleaved timing: contenders alternate in one process, the median of per-round ratios is reported."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved(contenders: dict[str, Callable[[], object]], *, rounds: int = 15, number: int = 1,
                warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each contender, measured round-robin to share the noise."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list] = {name: [] for name in contenders}
    order = list(contenders.items())
    for r in range(rounds):
        # alternate the order: whoever runs first in a round can be favoured (caches, clocks)
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples[name].append((time.perf_counter() - t0) / number)
    return {name: statistics.median(v) for name, v in samples.items()}


def median_ratio(contenders: dict[str, Callable[[], object]], numerator: str, denominator: str, **kw) -> tuple:
    """(median of per-round time ratios numerator/denominator, median times)."""
    ratios = []
    times: dict[str, list] = {n: [] for n in contenders}
    for _ in range(kw.pop("repeats", 5)):
        t = interleaved(contenders, **kw)
        for n in t:
            times[n].append(t[n])
        ratios.append(t[numerator] / t[denominator])
    return statistics.median(ratios), {n: statistics.median(v) for n, v in times.items()}
