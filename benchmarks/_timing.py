"""Interleaved timing: contenders alternate in one process, the median of per-round ratios is reported.

One helper for each job the benchmarks share: ``interleaved`` (median time per call of each
contender, round-robin), ``median_ratio`` (the median of per-round ratios of two of them),
``jit_vmap_ratio`` (an optax schedule of ours against another over the same counts, the loop
every schedule benchmark runs) and ``float32_exactness`` (how many float32 values equal
float32 of a reference, and the worst ulp distance).
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np

Clock = Callable[[], float]


def interleaved(
    contenders: dict[str, Callable[[], object]],
    *,
    rounds: int = 15,
    number: int = 1,
    warmup: int = 2,
    clock: Clock = time.perf_counter,
) -> dict[str, float]:
    """Median seconds per call of each contender, measured round-robin to share the noise.

    ``clock``: ``time.perf_counter`` (wall time) or ``time.process_time`` (this process's CPU
    time over all its threads, which other processes on a shared machine disturb far less)."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list] = {name: [] for name in contenders}
    order = list(contenders.items())
    for r in range(rounds):
        # alternate the order: whoever runs first in a round can be favoured (caches, clocks)
        for name, fn in order if r % 2 == 0 else order[::-1]:
            t0 = clock()
            for _ in range(number):
                fn()
            samples[name].append((clock() - t0) / number)
    return {name: statistics.median(v) for name, v in samples.items()}


def median_ratio(contenders: dict[str, Callable[[], object]], numerator: str, denominator: str, **kw) -> tuple:
    """(median of per-round time ratios numerator/denominator, median times)."""
    ratios = []
    times: dict[str, list] = {n: [] for n in contenders}
    for _ in range(kw.pop("repeats", 5)):
        t = interleaved(contenders, **kw)
        for n in t:
            times[n].append(t[n])
        ratios.append(t[numerator] / max(t[denominator], 1e-12))
    return statistics.median(ratios), {n: statistics.median(v) for n, v in times.items()}


def jit_vmap_ratio(ours: Callable, theirs: Callable, counts, **kw) -> tuple[float, float, float]:
    """``jax.jit(jax.vmap(schedule))`` over ``counts`` for two optax schedules, interleaved:
    (our ms, their ms, the median ratio ours / theirs). ``kw`` as for ``median_ratio``."""
    import jax

    fns = {}
    for label, schedule in (("ours", ours), ("theirs", theirs)):
        jitted = jax.jit(jax.vmap(schedule))  # optax schedules are scalar functions of the count
        jitted(counts).block_until_ready()
        fns[label] = (lambda j: lambda: j(counts).block_until_ready())(jitted)
    ratio, times = median_ratio(fns, "ours", "theirs", **kw)
    return times["ours"] * 1e3, times["theirs"] * 1e3, ratio


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ulp distance between float32 arrays (through their ordered integer bits)."""

    def ordered(x):
        i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return np.abs(ordered(a) - ordered(np.asarray(b, np.float32)))


def float32_exactness(values, reference) -> tuple[float, int, float]:
    """(fraction of steps equal to float32(reference), worst ulp distance, max relative error)
    of float32 ``values`` against a float64 ``reference`` (torch's lrs)."""
    values = np.asarray(values, np.float32)
    target = np.asarray(reference, np.float64).astype(np.float32)
    distance = ulps(values, target)
    positive = reference > 0
    rel = float(np.max(np.abs(values[positive] - reference[positive]) / reference[positive])) if positive.any() else 0.0
    return float(np.mean(distance == 0)), int(distance.max()), rel
