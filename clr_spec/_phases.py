"""The phases real runs chain around the cycles: torch's ``LinearLR`` (a warmup),
``ConstantLR`` and ``CosineAnnealingLR`` (tails), each a spec with torch's keywords.

torch's ``LinearLR``, ``ConstantLR`` and ``CosineAnnealingLR`` scale the lr the optimizer had
when the scheduler was built (its ``initial_lr``), not anything another scheduler set: the spec
takes that lr explicitly (``lr=``). Each formula is written once over an ``Ops`` namespace (``clr_spec._ops``)
and follows torch's closed form (``_get_closed_form_lr``) operation for operation; torch
itself steps ``LinearLR`` and ``CosineAnnealingLR`` recursively (each lr from the last), so its
values carry rounding the closed form does not (``LinearLR``'s within 1e-11 relative, held after
the ramp; ``CosineAnnealingLR``'s up to 1e-7 past a bottom): so ``LinearLR``'s ramp and
``CosineAnnealingLR``'s first period are replayed on the host as torch steps them (a table,
exact, up to 2**20 steps), and ``ConstantLR``'s recursion is replayed exactly.
"""

from __future__ import annotations

import array
import math
from typing import Any, Optional

import numpy as np

from . import _validation as v
from ._family import PhaseSpec, register
from ._ops import NUMPY
from ._replayed import REPLAYED_STEPS, float32_flushed, replay, replayed_lookup, replayed_or


def _step_count(name: str, value: Any) -> int:
    return v.integer(name, value, low=1)


@register
class LinearSpec(PhaseSpec):
    r"""torch's ``LinearLR``: the lr moves linearly from ``start_factor * lr`` to ``end_factor * lr``
    over ``total_iters`` steps, then stays.

    .. math:: \text{lr}(k) = \text{lr} \cdot \big(s + (e - s) \cdot \min(T, k) / T\big)

    Args:
      lr: the lr torch scales: the optimizer's lr when ``LinearLR`` was built (its
        ``initial_lr``), a float or one per param group. Note: not a ``CyclicLR``'s
        ``base_lr``; to warm up to a cycle's ``base_lr``, pass ``lr=base_lr``.
      start_factor: in (0, 1], torch's default 1/3.
      end_factor: in [0, 1], default 1.
      total_iters: steps of the ramp, an int >= 1, default 5.

    >>> from clr_spec import LinearSpec
    >>> LinearSpec(lr=1.0, start_factor=0.25, total_iters=3).lr(range(5)).tolist()
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    FORMAT = "clr.LinearSpec"
    TORCH_CLASS = "LinearLR"
    TORCH_STATE_KEYS = frozenset({"start_factor", "end_factor", "total_iters"})
    FIELDS = (("start_factor", 1.0 / 3), ("end_factor", 1.0), ("total_iters", 5))

    start_factor: float
    end_factor: float
    total_iters: int

    def __init__(self, lr: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5):
        self._init(lr, start_factor=start_factor, end_factor=end_factor, total_iters=total_iters)

    def _check(self) -> None:
        set_ = object.__setattr__
        set_(
            self,
            "start_factor",
            v.in_range(
                "start_factor",
                self.start_factor,
                0.0,
                1.0,
                low_open=True,
                why=" (torch's LinearLR: the ramp's first lr over lr)",
            ),
        )
        set_(self, "end_factor", v.in_range("end_factor", self.end_factor, 0.0, 1.0))
        set_(self, "total_iters", _step_count("total_iters", self.total_iters))

    CHAINABLE = True

    def torch_step(self, lr: float, step: int, group: int) -> float:
        # torch's LinearLR.get_lr, recursive: each lr from the one the group holds
        if step == 0:
            return lr * self.start_factor
        if step > self.total_iters:
            return lr
        delta = self.end_factor - self.start_factor
        return lr * (1.0 + delta / (self.total_iters * self.start_factor + (step - 1) * delta))

    def describe(self) -> str:
        return (
            f"linear ramp from {self.start_factor:g} to {self.end_factor:g} times lr over "
            f"{self.total_iters} steps, then constant"
        )

    def landmarks(self) -> tuple[int, ...]:
        return (self.total_iters,)

    def lr_at(self, ops: Any, steps: Any, initial_lr: float) -> Any:
        closed = self._closed_form(ops, steps, initial_lr)
        values = self.table(initial_lr)
        if len(values) < self.total_iters + 1:  # a ramp longer than the replay: the closed form past it
            return replayed_or(ops, values, steps, closed)
        # the whole ramp, its last lr held after it (as torch holds it)
        index = ops.index(ops.minimum(steps, v.below_int_range(self.total_iters, steps)))
        return replayed_lookup(ops, values, index, closed, lambda: self._float32_differs(initial_lr))

    def _closed_form(self, ops: Any, steps: Any, initial_lr: float) -> Any:
        # torch: base_lr * (start + (end - start) * min(total_iters, last_epoch) / total_iters). The
        # minimum is taken against a total_iters the steps' dtype holds (no int32 step exceeds it).
        # (ops.divide: XLA would multiply by the reciprocal, a rounding torch does not make; the
        # divisor a float: JAX takes no Python int past int32 beside an int32 array.)
        ramp = ops.divide(
            (self.end_factor - self.start_factor) * ops.minimum(steps, v.below_int_range(self.total_iters, steps)),
            float(self.total_iters),
        )
        value = initial_lr * (self.start_factor + ramp)
        # A decay to end_factor=0 ends a rounding away from 0, which can be below it (-1.4e-18 for
        # start_factor=0.1, total_iters=3; torch's recursion -1.6e-18 for 0.491 over 20 steps): an
        # lr is never negative, so that residue is 0 here (docs/differences.md).
        return ops.where(value > 0, value, 0.0)

    def _float32_differs(self, initial_lr: float) -> np.ndarray:
        """The steps of the ramp where float32 of torch's recursion and of the closed form differ
        (cached per lr): a few in a long ramp, or none."""
        cache = self.__dict__.setdefault("_differs", {})
        if initial_lr not in cache:
            values = self.table(initial_lr)
            closed = self._closed_form(NUMPY, np.arange(len(values)), initial_lr)
            cache[initial_lr] = np.flatnonzero(float32_flushed(values) != float32_flushed(closed))
        return cache[initial_lr]

    def table(self, initial_lr: float) -> np.ndarray:
        """torch's lr at steps 0 .. ``min(total_iters, REPLAYED_STEPS)`` of the ramp for a group
        whose lr is ``initial_lr``: its recursion, in Python floats (cached per lr), never below 0
        (as ``lr_at``'s closed form)."""
        cache = self.__dict__.setdefault("_tables", {})
        if initial_lr not in cache:
            cache[initial_lr] = np.maximum(
                replay(self.torch_step, initial_lr, min(self.total_iters, REPLAYED_STEPS)), 0.0
            )
        return cache[initial_lr]


@register
class ConstantSpec(PhaseSpec):
    r"""torch's ``ConstantLR``: ``factor * lr`` for ``total_iters`` steps, then ``lr``.

    torch gets back to ``lr`` by dividing, ``(lr * factor) * (1 / factor)``, which can differ
    from ``lr`` in the last bit; so does this.

    Args:
      lr: the lr torch scales (the optimizer's ``initial_lr``), a float or one per group.
      factor: in (0, 1], torch's default 1/3 (torch takes 0, then divides by it).
      total_iters: an int >= 1, default 5.

    >>> from clr_spec import ConstantSpec
    >>> ConstantSpec(lr=1.0, factor=0.5, total_iters=2).lr(range(4)).tolist()
    [0.5, 0.5, 1.0, 1.0]
    """

    FORMAT = "clr.ConstantSpec"
    TORCH_CLASS = "ConstantLR"
    TORCH_STATE_KEYS = frozenset({"factor", "total_iters"})
    FIELDS = (("factor", 1.0 / 3), ("total_iters", 5))

    factor: float
    total_iters: int

    def __init__(self, lr: Any, factor: float = 1.0 / 3, total_iters: int = 5):
        self._init(lr, factor=factor, total_iters=total_iters)

    def _check(self) -> None:
        object.__setattr__(
            self,
            "factor",
            v.in_range("factor", self.factor, 0.0, 1.0, low_open=True, why=" (torch divides by it at total_iters)"),
        )
        object.__setattr__(self, "total_iters", _step_count("total_iters", self.total_iters))

    CHAINABLE = True

    def torch_step(self, lr: float, step: int, group: int) -> float:
        # torch's ConstantLR.get_lr: scale at 0, undo at total_iters
        if step == 0:
            return lr * self.factor
        return lr * (1.0 / self.factor) if step == self.total_iters else lr

    def describe(self) -> str:
        return f"{self.factor:g} times lr for {self.total_iters} steps, then lr"

    def landmarks(self) -> tuple[int, ...]:
        return (self.total_iters,)

    def lr_at(self, ops: Any, steps: Any, initial_lr: float) -> Any:
        during = initial_lr * self.factor
        after = during * (1.0 / self.factor)  # torch's recursion: group["lr"] * (1.0 / factor)
        # steps < total_iters, against a bound the steps' dtype holds (total_iters may pass 2**31)
        return ops.where(steps <= v.below_int_range(self.total_iters - 1, steps), during, after)


@register
class CosineAnnealingSpec(PhaseSpec):
    r"""torch's ``CosineAnnealingLR``: half a cosine from ``lr`` down to ``eta_min`` over
    ``T_max`` steps (and, as torch, back up after, with period ``2 * T_max``).

    .. math:: \text{lr}(k) = \eta_{min} + (\text{lr} - \eta_{min}) \cdot (1 + \cos(\pi k / T_{max})) / 2

    torch steps it recursively (each lr a ratio of cosines times the last), which drifts from
    the formula (up to 1e-7 relative past a bottom with ``eta_min > 0``). So the first period
    (``2 * T_max`` steps, at most 2**20) is torch's recursion, replayed on the host as torch
    computes it (``table``): bitwise torch's. Past it, the formula, evaluated at the step's
    exact distance to the nearest multiple of ``2 * T_max`` (which keeps its precision far into
    training), within ``torch_drift`` of torch.

    Args:
      lr: the lr torch anneals from (the optimizer's ``initial_lr``), a float or one per group.
      T_max: steps to ``eta_min``, an int >= 1.
      eta_min: the lowest lr, >= 0, default 0.

    >>> from clr_spec import CosineAnnealingSpec
    >>> CosineAnnealingSpec(lr=1.0, T_max=2, eta_min=0.5).lr(range(5)).tolist()
    [1.0, 0.75, 0.5, 0.75, 1.0]
    """

    FORMAT = "clr.CosineAnnealingSpec"
    TORCH_CLASS = "CosineAnnealingLR"
    TORCH_STATE_KEYS = frozenset({"T_max", "eta_min"})
    FIELDS = (("T_max", None), ("eta_min", 0.0))

    T_max: int
    eta_min: float

    def __init__(self, lr: Any, T_max: int, eta_min: float = 0.0):  # noqa: N803 - torch's name
        self._init(lr, T_max=T_max, eta_min=eta_min)

    def _check(self) -> None:
        object.__setattr__(self, "T_max", _step_count("T_max", self.T_max))
        object.__setattr__(self, "eta_min", v.non_negative("eta_min", self.eta_min))

    def describe(self) -> str:
        return (
            f"cosine anneal from lr to eta_min={self.eta_min:g} over {self.T_max} steps, back up over the "
            "next T_max (periodic, as torch's)"
        )

    def landmarks(self) -> tuple[int, ...]:
        return (self.T_max, 2 * self.T_max)

    def past_end_note(self, steps: int) -> Optional[str]:
        # torch's CosineAnnealingLR is periodic: past T_max it climbs back to lr (optax's cosine holds)
        if steps - 1 <= self.T_max:
            return None
        lr = self.group_lr(0)
        alpha = f", alpha={self.eta_min / lr!r}" if self.eta_min and lr else ""
        return (
            f"CosineAnnealingLR (T_max={self.T_max}) runs {steps} steps here, past T_max: like torch's, it "
            f"rises again from eta_min={self.eta_min:g} back to lr over the next {self.T_max} steps (period "
            f"{2 * self.T_max}). For a cosine that holds at its end, use clr_spec.cosine_decay_schedule("
            f"init_value={lr!r}, decay_steps={self.T_max}{alpha}) (optax's)"
        )

    def torch_drift(self, steps: Any, group: int = 0) -> np.ndarray:
        """How far torch's recursively stepped CosineAnnealingLR can be from this closed form at each
        of ``steps``, past the per-step rounding both share (docs/precision.md).

        torch's recursion reaches eta_min at each bottom and climbs back by adding
        ``c = (lr - eta_min) * (1 - cos(pi / T_max)) / 2`` to it at the step after, then multiplies
        by ratios of ``1 + cos``: from there its ``lr - eta_min`` is the closed form's times
        ``(fl(eta_min + c) - eta_min) / ((lr - eta_min) (1 + cos(pi k_b / T_max)) / 2)``, one
        factor per bottom k_b, set by two roundings (``eta_min + c``, and ``1 + cos`` near -1) that
        are relative to a value of order ``T_max**-2``: up to 3e-7 for T_max=122264, 0 for most.
        The factor is computed here as torch computes its parts; this is twice its distance from 1,
        times the anneal's amplitude. 0 where the table of torch's recursion reaches."""
        k = v.steps_array(steps)
        t_max, eta, lr = self.T_max, self.eta_min, self.group_lr(group)
        out = np.zeros(k.shape, dtype=np.float64)
        c = (lr - eta) * (1 - math.cos(math.pi / t_max)) / 2  # torch's expression
        if c == 0:
            return out
        bottom = np.where(k > t_max, (k - t_max - 1) // (2 * t_max) + 1, 0)  # bottoms passed
        bottom[k <= self._replayed_steps()] = 0  # torch's own values there (the table)
        passed = np.unique(bottom[bottom > 0])
        if len(passed) > 4096:  # a bound instead: both roundings at their worst
            eps = 2.0**-52 * (2 * t_max / math.pi) ** 2 + 2.0**-52 * (abs(eta) + abs(c)) / abs(c)
            out[bottom > 0] = 2 * abs(lr - eta) * eps
            return out
        for n in passed.tolist():
            step = t_max + 1 + 2 * t_max * (n - 1)
            ratio = 1 + math.cos(math.pi * step / t_max)
            eps = abs(((eta + c) - eta) / ((lr - eta) * ratio / 2) - 1) if ratio else 1.0
            out[bottom == n] = 2 * abs(lr - eta) * eps
        return out

    def table(self, initial_lr: float) -> np.ndarray:
        """torch's lr at steps 0 .. ``min(2 * T_max, REPLAYED_STEPS)`` for a group whose lr is
        ``initial_lr`` (its base_lr): torch's recursion, in Python floats (cached per lr)."""
        cache = self.__dict__.setdefault("_tables", {})
        if initial_lr not in cache:
            first = initial_lr
            if self.__dict__.get("_from_milestone"):  # torch's closed form at step 0 (at_milestone)
                first = self.eta_min + (initial_lr - self.eta_min) * (1 + math.cos(math.pi * 0 / self.T_max)) / 2
            cache[initial_lr] = _cosine_recursion(first, initial_lr, self.eta_min, self.T_max, self._replayed_steps())
        return cache[initial_lr]

    def _replayed_steps(self) -> int:
        """The last step the table holds: the first period, at most REPLAYED_STEPS."""
        return min(2 * self.T_max, REPLAYED_STEPS)

    def at_milestone(self) -> "CosineAnnealingSpec":
        # SequentialLR's _update_lr(0) writes eta_min + (lr - eta_min), which can be an ulp off lr,
        # and torch's recursion runs from that value: a copy (equal to this spec) whose table does.
        copy = self.replace()
        object.__setattr__(copy, "_from_milestone", True)
        return copy

    def lr_at(self, ops: Any, steps: Any, initial_lr: float) -> Any:
        # torch: eta_min + (base_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2, periodic in
        # 2 T_max and symmetric: evaluated at the exact distance d of k to the nearest multiple of
        # 2 T_max, without cancellation near eta_min and without loss for large k.
        period, t_max = 2 * self.T_max, v.below_int_range(self.T_max, steps)
        # A period the steps' dtype cannot hold (past 2**31 on clr_optax's int32 path) is never
        # completed: the step is its own rest. min(rest, period - rest) is written so that no
        # constant exceeds the dtype either (the branch not taken may wrap; it is not used).
        # (An integer remainder: float64 steps are whole numbers, and XLA's float64 % is a loop of its
        # own, 40 times the cost of an integer one.)
        rest = steps if v.below_int_range(period, steps) < period else ops.index(steps) % period
        d = ops.where(rest <= t_max, rest, (t_max - rest) + t_max)  # in [0, T_max]
        # unfused: torch rounds the product, then the sum (LLVM would fuse them into one FMA)
        closed = self.eta_min + ops.unfused((initial_lr - self.eta_min) * ops.cosine_anneal(d, float(self.T_max)))
        return replayed_or(ops, self.table(initial_lr), steps, closed)


def _cosine_recursion(lr: float, base_lr: float, eta_min: float, t_max: int, count: int) -> np.ndarray:
    """torch's CosineAnnealingLR stepped ``count`` times from a group lr ``lr``: its get_lr,
    operation for operation, one cosine per step (the last step's ``1 + cos`` is this
    step's divisor, the same expression). The divisor is 0 only after a bottom (k - 1 = T_max
    mod 2 T_max), which torch's additive branch takes instead; elsewhere it is at least about
    (pi / T_max)**2 / 2 within the steps replayed (<= 2**20: above 0, as it is in torch)."""
    values = array.array("d", [lr])
    climb = (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
    previous = 1 + math.cos(math.pi * 0 / t_max)
    for k in range(1, count + 1):
        current = 1 + math.cos(math.pi * k / t_max)
        if (k - 1 - t_max) % (2 * t_max) == 0:
            lr = lr + climb  # torch: group["lr"] + (base_lr - eta_min) * (1 - cos(pi / T_max)) / 2
        else:
            lr = current / previous * (lr - eta_min) + eta_min
        previous = current
        values.append(lr)
    return np.frombuffer(values, dtype=np.float64).copy()
