"""Schedules replayed on the host to a horizon: torch's recursion, step by step, into a table.

``MultiplicativeSpec`` (a user's factor each step) and ``ChainedSpec`` (members stepped in
order) have no closed form: each lr is torch's ``get_lr`` of the one before. ``ReplayedToHorizon``
replays the spec's ``torch_step`` (torch's arithmetic, Python floats) for steps 0..``horizon``
into a float64 table per param group; ``spec.lr`` refuses steps past the horizon, and the
optax schedule (a lookup, ``float32_exact``) holds its last value there.
"""

from __future__ import annotations

import array
from typing import Any, Callable

import numpy as np

from . import _validation as v

MAX_HORIZON = 2**24  # steps replayed on the host: 128 MiB of float64 per group at most
# Steps (or decays) of a closed-form torch scheduler's recursion replayed on the host by its spec,
# where torch's recursion drifts from its closed form (LinearLR, CosineAnnealingLR, ExponentialLR,
# PolynomialLR): 8 MiB of float64 per group at most (4 MiB of float32 in a float32 schedule's
# program); past it, the closed form within its bound.
REPLAYED_STEPS = 2**20
SELECT_BELOW = 16  # tables shorter than this are read by a chain of selects (XLA: faster than a gather)


def replay(torch_step: Callable[[float, int, int], Any], lr: float, count: int, group: int = 0) -> np.ndarray:
    """torch's recursive get_lr (``torch_step(lr, step, group)``, a spec's) from a group lr ``lr``:
    its lrs at step 0 (the scheduler's construction) and steps 1..``count``, each from the last, in
    Python floats."""
    lr = torch_step(lr, 0, group)
    values = array.array("d", [float(lr)])
    for k in range(1, count + 1):
        lr = torch_step(lr, k, group)
        values.append(float(lr))
    return np.frombuffer(values, dtype=np.float64).copy()


def float32_flushed(values: Any) -> np.ndarray:
    """float64 values rounded once to float32, subnormals flushed to 0, as XLA flushes every
    float32 result (README, "Precision")."""
    with np.errstate(over="ignore"):  # past float32's range: inf (a float32 schedule refuses it first)
        table = np.asarray(values, dtype=np.float64).astype(np.float32)
    return np.where(np.abs(table) < np.finfo(np.float32).tiny, np.float32(0), table)


def lookup(ops: Any, values: Any, index: Any, *, lrs: bool = False) -> Any:
    """``values[min(index, last)]`` of a host table of float64 values over ``ops`` (``index``
    whole and >= 0); ``lrs``: the values are the schedule's own (torch's lr), which a schedule
    rounded to float32 after may hold in float32 (``ops.lr_table``), not terms of a formula."""
    table = np.asarray(values, dtype=np.float64)
    constant = ops.lr_table(table) if lrs else ops.constant(table)
    if len(table) == 1:
        out = constant[0] + 0 * index
    elif len(table) < SELECT_BELOW:
        # a chain of selects, which XLA runs several times faster than a gather; the same values
        out = constant[-1] + 0 * index
        for j in reversed(range(len(table) - 1)):
            out = ops.where(index <= j, constant[j], out)
    else:
        out = ops.take(constant, ops.minimum(index, len(table) - 1))
    # the values read, in the evaluator's float dtype (a float32 lr_table's converted after the
    # read: a converted table would be a second constant of the program, folded when compiled)
    return out.astype(ops.xp.float64 if ops.in_float64 else ops.xp.float32)


def replayed_lookup(ops: Any, values: Any, index: Any, closed: Any, differs: Callable[[], Any]) -> Any:
    """torch's replayed lrs ``values[index]`` (``index`` in the table). An evaluator whose result
    is rounded to float32 (``ops.rounds_to_float32``) takes ``closed`` (the closed form there)
    instead, with the table's float32 values at ``differs()`` alone, the indices where float32 of
    the two differ, where they are a few: the same float32 values, without the table's read."""
    if ops.rounds_to_float32:
        rounds_apart = differs()
        if len(rounds_apart) < SELECT_BELOW:
            out = closed
            for i in rounds_apart:
                out = ops.where(index == int(i), float(np.float32(values[i])), out)
            return out
    return lookup(ops, values, index, lrs=True)


def replayed_or(ops: Any, values: Any, steps: Any, closed: Any) -> Any:
    """torch's replayed lr ``values[steps]`` where the table reaches, ``closed`` (the closed form at
    ``steps``) past it."""
    index = ops.index(steps)
    return ops.tabled_or(index < len(values), lookup(ops, values, index, lrs=True), closed)


def horizon(value: Any) -> int:
    """A replay's horizon: an int in [1, MAX_HORIZON]."""
    value = v.integer("horizon", value, low=1)
    if value > MAX_HORIZON:
        raise ValueError(f"horizon must be <= 2**24 (the steps replayed on the host), got {value}")
    return value


class ReplayedToHorizon:
    """Mixin of a spec with ``horizon``, ``group_lr(group)`` and ``torch_step(lr, step, group)``
    (step 0: the scheduler's construction): its values are the replayed table's."""

    horizon: int

    def table(self, group: int) -> np.ndarray:
        """torch's lr at steps 0..horizon for ``group`` (cached)."""
        cache = self.__dict__.setdefault("_tables", {})
        if group not in cache:
            cache[group] = replay(self.torch_step, self.group_lr(group), self.horizon, group)  # type: ignore[attr-defined]
        return cache[group]

    @property
    def float32_exact(self) -> bool:
        return True  # a lookup in torch's values, rounded once, at every step

    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        arr = v.steps_array(steps)
        if arr.size and arr.max() > self.horizon:
            raise ValueError(
                f"step {int(arr.max())} is past the horizon ({self.horizon}) this {type(self).__name__} "
                "replays torch's recursion to: build it with a larger horizon="
            )
        return super().lr(arr, group)  # type: ignore[misc]

    def values_at(self, ops: Any, steps: Any, what: str, group: int) -> Any:
        if what != "lr":
            self.check_sets_momentum()  # type: ignore[attr-defined]
        return lookup(ops, self.table(group), ops.index(steps), lrs=True)
