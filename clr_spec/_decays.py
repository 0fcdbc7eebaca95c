"""torch's step decays: ``StepLR``, ``MultiStepLR``, ``ExponentialLR`` and ``PolynomialLR``.

torch steps each of them recursively: every ``step()`` multiplies the lr the optimizer holds by
a factor (``group["lr"] * gamma``), and its closed form (``base_lr * gamma ** n``) differs from
that in the last bits after a few decays. A torch run produces the recursion, so that is what
these specs give: the recursion is replayed on the host in float64, as torch computes it, into a
table of the lr after each decay, and the schedule looks the step's decay up in it (numpy, XLA
float64, and float32 rounded once from it: ``float32(torch)`` exactly).

The table ends where the recursion stops changing (0, or a subnormal fixed point) or after
``MAX_DECAYS`` (2**20) decays. Past that (only ``ExponentialLR``'s per-step decay with a gamma
within about 7e-4 of 1, a ``StepLR`` that decays more than 1,048,576 times, or a ``PolynomialLR``
longer than that) the value continues from the table's last entry in closed form: within
``(n - MAX_DECAYS) * 2**-53`` relative of torch's recursion in float64, and within 1 ulp of
``float32(torch)`` in float32 (README, "Precision").
"""

from __future__ import annotations

import bisect
import collections
import math
from typing import Any, Mapping, Sequence

import numpy as np

from . import _validation as v
from ._family import PhaseSpec, register
from ._replayed import REPLAYED_STEPS, lookup

MAX_DECAYS = REPLAYED_STEPS  # table entries per param group: 8 MiB of float64 at most
INT32_MAX = 2**31 - 1  # the float32-only path's steps are int32


def _replayed(initial_lr: float, factor: Any, count: int, constant: bool) -> np.ndarray:
    """torch's recursion ``lr = lr * factor(i)`` for ``i = 1..count`` from ``initial_lr``, in
    Python floats (torch's arithmetic), stopping early where it can no longer change: at 0, or
    (``constant``: every factor the same) where a value repeats."""
    if constant:
        # numpy's accumulate is the same left fold, one rounded float64 product per decay
        values = np.multiply.accumulate(np.concatenate([[initial_lr], np.full(count, factor(1))]))
        repeats = np.flatnonzero(values[1:] == values[:-1])
        return values[: repeats[0] + 2] if repeats.size else values
    out = [initial_lr]
    lr = initial_lr
    for i in range(1, count + 1):
        lr = lr * factor(i)
        out.append(lr)
        if lr == 0.0:
            break
    return np.asarray(out, dtype=np.float64)


class _RecursiveDecay(PhaseSpec):
    """A phase whose torch lr is a recursion over decays: ``decays(ops, steps)`` says how many
    decays a step has seen, ``_factor(i)`` is the i-th decay's factor (torch's expression),
    ``_decay_count()`` how many there can be, and ``_continued(ops, last, n, done)`` the value
    past the table (``done`` decays tabled)."""

    def _decay_count(self) -> int:
        raise NotImplementedError

    def _factor(self, i: int) -> float:
        raise NotImplementedError

    def decays(self, ops: Any, steps: Any) -> Any:
        raise NotImplementedError

    def _continued(self, ops: Any, last: float, n: Any, done: int) -> Any:
        raise NotImplementedError

    def _constant_factor(self) -> bool:
        """Whether every decay multiplies by the same factor (a repeated value is then a fixed point)."""
        return True

    def _host_decays(self, step: int) -> int:
        """``decays`` of one step, in Python integers."""
        raise NotImplementedError

    CHAINABLE = True

    def torch_step(self, lr: float, step: int, group: int) -> float:
        # torch's get_lr: the lr the group holds, times the factor of a decay that falls on this step
        n = self._host_decays(step)
        if n != (self._host_decays(step - 1) if step > 0 else 0):
            return lr * self._factor(n)
        return lr

    def table(self, initial_lr: float) -> tuple[np.ndarray, bool]:
        """torch's lr after 0, 1, 2, ... decays, for a group whose lr is ``initial_lr``, and
        whether the table holds every decay's value (cached per lr)."""
        cache = self.__dict__.setdefault("_tables", {})
        if initial_lr not in cache:
            count = self._decay_count()
            values = _replayed(initial_lr, self._factor, min(count, MAX_DECAYS), self._constant_factor())
            ended = values[-1] == 0.0 or len(values) == count + 1  # 0 stays 0; no more decays
            if self._constant_factor() and len(values) >= 2 and values[-1] == values[-2]:
                values, ended = values[:-1], True  # a fixed point: every later decay gives it again
            cache[initial_lr] = (values, ended)
        return cache[initial_lr]

    @property
    def float32_exact(self) -> bool:
        lrs = self.initial_lr if isinstance(self.initial_lr, tuple) else (self.initial_lr,)
        return all(self.table(lr)[1] for lr in lrs)  # every step a lookup: float32 rounded once

    def lr_at(self, ops: Any, steps: Any, initial_lr: float) -> Any:
        values, ended = self.table(initial_lr)
        last = len(values) - 1
        n = ops.index(self.decays(ops, steps))
        tabled = lookup(ops, values, n, lrs=True)
        if ended:
            return tabled
        return ops.where(n <= last, tabled, self._continued(ops, values[last], n, last))


def _gamma(value: Any) -> float:
    return v.in_range(
        "gamma", value, 0.0, 1.0, low_open=True, why=" (the factor of each decay; above 1 the lr grows without bound)"
    )


@register
class StepSpec(_RecursiveDecay):
    r"""torch's ``StepLR``: the lr times ``gamma`` every ``step_size`` steps.

    .. math:: \text{lr}(k) = \text{lr} \cdot \gamma^{\lfloor k / \text{step\_size} \rfloor}

    (as torch's stepping computes it: one rounded product per decay).

    Args:
      lr: the lr torch decays (the optimizer's ``initial_lr``), a float or one per group.
      step_size: steps between decays, an int >= 1.
      gamma: the factor of each decay, in (0, 1], torch's default 0.1.

    >>> from clr_spec import StepSpec
    >>> StepSpec(lr=1.0, step_size=2, gamma=0.5).lr(range(6)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    FORMAT = "clr.StepSpec"
    TORCH_CLASS = "StepLR"
    TORCH_STATE_KEYS = frozenset({"step_size", "gamma"})
    FIELDS = (("step_size", None), ("gamma", 0.1))
    step_size: int
    gamma: float

    def __init__(self, lr: Any, step_size: int, gamma: float = 0.1):
        self._init(lr, step_size=step_size, gamma=gamma)

    def _check(self) -> None:
        object.__setattr__(self, "step_size", v.integer("step_size", self.step_size, low=1))
        object.__setattr__(self, "gamma", _gamma(self.gamma))

    def describe(self) -> str:
        return f"lr times {self.gamma:g} every {self.step_size} steps"

    def landmarks(self) -> tuple[int, ...]:
        return (self.step_size, 2 * self.step_size, 3 * self.step_size)

    def _decay_count(self) -> int:
        return (2**31 - 1) // self.step_size

    def _factor(self, i: int) -> float:
        return self.gamma

    def _host_decays(self, step: int) -> int:
        return step // self.step_size

    def decays(self, ops: Any, steps: Any) -> Any:
        if not ops.in_float64 and self.step_size > INT32_MAX:  # int32 steps never reach a decay
            return ops.zeros_like(steps)
        return ops.floor_divide(steps, self.step_size)

    def _continued(self, ops: Any, last: Any, n: Any, done: int) -> Any:
        return last * ops.power(self.gamma, ops.maximum(n - done, 0))


@register
class ExponentialSpec(_RecursiveDecay):
    r"""torch's ``ExponentialLR``: the lr times ``gamma`` every step.

    .. math:: \text{lr}(k) = \text{lr} \cdot \gamma^{k}

    (as torch's stepping computes it: one rounded product per step).

    Args:
      lr: the lr torch decays (the optimizer's ``initial_lr``), a float or one per group.
      gamma: the factor of each step, in (0, 1].

    >>> from clr_spec import ExponentialSpec
    >>> ExponentialSpec(lr=1.0, gamma=0.5).lr(range(4)).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """

    FORMAT = "clr.ExponentialSpec"
    TORCH_CLASS = "ExponentialLR"
    TORCH_STATE_KEYS = frozenset({"gamma"})
    FIELDS = (("gamma", None),)
    gamma: float

    def __init__(self, lr: Any, gamma: float):
        self._init(lr, gamma=gamma)

    def _check(self) -> None:
        object.__setattr__(self, "gamma", _gamma(self.gamma))

    def describe(self) -> str:
        return f"lr times {self.gamma:g} every step"

    def landmarks(self) -> tuple[int, ...]:
        # where the lr has halved (at most a million steps)
        half = math.log(0.5) / math.log(self.gamma) if self.gamma < 1 else 50
        return (int(min(half, 500_000)),)

    def _decay_count(self) -> int:
        return 2**31 - 1

    def _factor(self, i: int) -> float:
        return self.gamma

    def _host_decays(self, step: int) -> int:
        return step

    def decays(self, ops: Any, steps: Any) -> Any:
        return steps

    def _continued(self, ops: Any, last: Any, n: Any, done: int) -> Any:
        return last * ops.power(self.gamma, ops.maximum(n - done, 0))


@register
class MultiStepSpec(_RecursiveDecay):
    r"""torch's ``MultiStepLR``: the lr times ``gamma`` at each milestone (a milestone given
    twice decays twice: torch multiplies by ``gamma ** count`` there).

    Args:
      lr: the lr torch decays (the optimizer's ``initial_lr``), a float or one per group.
      milestones: the steps of the decays, ints >= 0 (any order; kept sorted, repeats kept).
      gamma: the factor of each decay, in (0, 1], torch's default 0.1.

    >>> from clr_spec import MultiStepSpec
    >>> MultiStepSpec(lr=1.0, milestones=[2, 4, 4], gamma=0.5).lr(range(6)).tolist()
    [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]
    """

    FORMAT = "clr.MultiStepSpec"
    TORCH_CLASS = "MultiStepLR"
    TORCH_STATE_KEYS = frozenset({"milestones", "gamma"})
    FIELDS = (("milestones", None), ("gamma", 0.1))
    milestones: tuple
    gamma: float
    _distinct: tuple  # the distinct milestones, sorted
    _counts: tuple  # how often each is given

    def __init__(self, lr: Any, milestones: Sequence[int], gamma: float = 0.1):
        self._init(lr, milestones=milestones, gamma=gamma)

    def _check(self) -> None:
        milestones: Any = self.milestones
        if isinstance(milestones, Mapping):  # torch keeps a Counter: {milestone: count}
            milestones = list(
                collections.Counter(
                    {k: v.integer(f"milestones[{k!r}] (a count)", c, low=0) for k, c in milestones.items()}
                ).elements()
            )
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, (Sequence, np.ndarray)):
            raise TypeError(f"milestones must be a list of ints, got {type(milestones).__name__}")
        checked = tuple(sorted(v.integer(f"milestones[{i}]", m, low=0) for i, m in enumerate(milestones)))
        if checked and checked[-1] >= 2**53:
            raise ValueError(f"milestones must be < 2**53 (whole float64 steps), got {checked[-1]}")
        object.__setattr__(self, "milestones", checked)
        object.__setattr__(self, "gamma", _gamma(self.gamma))
        counts = collections.Counter(checked)
        object.__setattr__(self, "_distinct", tuple(sorted(counts)))
        object.__setattr__(self, "_counts", tuple(counts[m] for m in sorted(counts)))

    def describe(self) -> str:
        return f"lr times {self.gamma:g} at steps {list(self.milestones)}"

    def landmarks(self) -> tuple[int, ...]:
        return self._distinct

    def torch_kwargs(self) -> dict[str, Any]:
        return {"milestones": list(self.milestones), "gamma": self.gamma}

    def _decay_count(self) -> int:
        return len(self._distinct)

    def _factor(self, i: int) -> float:
        return self.gamma ** self._counts[i - 1]  # torch: group["lr"] * gamma ** count

    def _constant_factor(self) -> bool:
        return False

    def _host_decays(self, step: int) -> int:
        return bisect.bisect_right(self._distinct, step)

    def decays(self, ops: Any, steps: Any) -> Any:
        # bisect_right over the distinct milestones, as a sum of comparisons (a handful of them)
        out = ops.zeros_like(steps)
        for milestone in self._distinct:
            if ops.in_float64 or milestone <= INT32_MAX:  # int32 steps never reach a later one
                out = out + (steps >= milestone)
        return out

    def _continued(self, ops: Any, last: float, n: Any, done: int) -> Any:
        raise AssertionError("unreachable: the table holds every milestone")


@register
class PolynomialSpec(_RecursiveDecay):
    r"""torch's ``PolynomialLR``: the lr decays to 0 over ``total_iters`` steps as
    ``(1 - k / total_iters) ** power``, then stays 0.

    torch steps it recursively, ``lr * ((1 - k/T) / (1 - (k-1)/T)) ** power``: so do these.

    Args:
      lr: the lr torch decays (the optimizer's ``initial_lr``), a float or one per group.
      total_iters: steps to 0, an int >= 1, torch's default 5.
      power: the polynomial's power, >= 0, torch's default 1.0.

    >>> from clr_spec import PolynomialSpec
    >>> PolynomialSpec(lr=1.0, total_iters=4, power=1.0).lr(range(6)).tolist()
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    FORMAT = "clr.PolynomialSpec"
    TORCH_CLASS = "PolynomialLR"
    TORCH_STATE_KEYS = frozenset({"total_iters", "power"})
    FIELDS = (("total_iters", 5), ("power", 1.0))
    total_iters: int
    power: float

    def __init__(self, lr: Any, total_iters: int = 5, power: float = 1.0):
        self._init(lr, total_iters=total_iters, power=power)

    def _check(self) -> None:
        object.__setattr__(self, "total_iters", v.integer("total_iters", self.total_iters, low=1))
        object.__setattr__(
            self,
            "power",
            v.in_range("power", self.power, 0.0, 1e6, why=" (torch divides by 0 ** power at total_iters)"),
        )

    def describe(self) -> str:
        return f"(1 - k / {self.total_iters}) ** {self.power:g} times lr, then 0"

    def landmarks(self) -> tuple[int, ...]:
        return (self.total_iters,)

    def _decay_count(self) -> int:
        return self.total_iters

    def _factor(self, i: int) -> float:
        total = self.total_iters
        return ((1.0 - i / total) / (1.0 - (i - 1) / total)) ** self.power  # torch's decay_factor

    def _constant_factor(self) -> bool:
        return False

    def _host_decays(self, step: int) -> int:
        return min(step, self.total_iters)

    def decays(self, ops: Any, steps: Any) -> Any:
        # int32 steps stop at 2**31 - 1: a longer decay is clipped there, where it cannot be reached
        return ops.minimum(steps, self.total_iters if ops.in_float64 else min(self.total_iters, INT32_MAX))

    def _continued(self, ops: Any, last: float, n: Any, done: int) -> Any:
        # past the table: the closed form's ratio to the last tabled step. Not torch's recursion
        # (within the stated bound of it), so the array module's own power serves: C's pow
        # (ops.real_power, the exponent as data) would cost 30 times as much under XLA and buy
        # no exactness here.
        total = float(self.total_iters)
        return last * ops.xp.float_power((1.0 - n / total) / (1.0 - done / total), self.power)
