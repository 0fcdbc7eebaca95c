"""SGDR (Loshchilov & Hutter 2017): torch's ``CosineAnnealingWarmRestarts`` as a spec.

torch steps it with integers, ``T_cur += 1``, and at ``T_cur >= T_i`` restarts (``T_cur -= T_i``,
``T_i *= T_mult``), then takes ``eta_min + (lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``.
Here ``T_cur`` and ``T_i`` come from the step in exact integer arithmetic (the restarts fall at
``T_0 * (T_mult**n - 1) / (T_mult - 1)``), so step 2**31 - 1 is as exact as step 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validation as v
from ._family import PhaseSpec, register

_MAX_STEP = 2**53  # steps beyond are not whole float64 numbers


@register
class WarmRestartsSpec(PhaseSpec):
    r"""torch's ``CosineAnnealingWarmRestarts`` (SGDR): cosine anneals from ``lr`` to ``eta_min``,
    restarting after ``T_0`` steps, then ``T_0 * T_mult``, ``T_0 * T_mult**2``, ...

    .. math:: \text{lr}(k) = \eta_{min} + (\text{lr} - \eta_{min}) (1 + \cos(\pi T_{cur} / T_i)) / 2

    Args:
      lr: the lr torch anneals from (the optimizer's ``initial_lr``), a float or one per group.
      T_0: steps to the first restart, an int >= 1.
      T_mult: the factor by which each period grows, an int >= 1, default 1.
      eta_min: the lowest lr, >= 0, default 0.

    >>> from clr_spec import WarmRestartsSpec
    >>> WarmRestartsSpec(lr=1.0, T_0=2, T_mult=2).lr(range(7)).round(6).tolist()   # periods 2, 4, ...
    [1.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 1.0]
    """

    FORMAT = "clr.WarmRestartsSpec"
    TORCH_CLASS = "CosineAnnealingWarmRestarts"
    TORCH_STATE_KEYS = frozenset({"T_0", "T_mult", "T_i", "T_cur", "eta_min"})
    FIELDS = (("T_0", None), ("T_mult", 1), ("eta_min", 0.0))

    T_0: int
    T_mult: int
    eta_min: float
    _period_starts: np.ndarray  # float64: the step where each period starts, while below 2**53
    _period_lengths: np.ndarray  # float64: each period's length

    def __init__(self, lr: Any, T_0: int, T_mult: int = 1, eta_min: float = 0.0):  # noqa: N803 - torch's names
        self._init(lr, T_0=T_0, T_mult=T_mult, eta_min=eta_min)

    def _check(self) -> None:
        object.__setattr__(self, "T_0", v.integer("T_0", self.T_0, low=1))
        object.__setattr__(self, "T_mult", v.integer("T_mult", self.T_mult, low=1))
        object.__setattr__(self, "eta_min", v.non_negative("eta_min", self.eta_min))
        # The steps where each period starts, exact integers, while they stay below 2**53.
        starts, length = [0], self.T_0
        while self.T_mult > 1 and starts[-1] + length < _MAX_STEP:
            starts.append(starts[-1] + length)
            length *= self.T_mult
        object.__setattr__(self, "_period_starts", np.array(starts, dtype=np.float64))
        object.__setattr__(
            self, "_period_lengths", np.array([self.T_0 * self.T_mult**n for n in range(len(starts))], dtype=np.float64)
        )

    def describe(self) -> str:
        growth = f", each period {self.T_mult} times the last" if self.T_mult > 1 else ""
        return f"cosine anneals from lr to eta_min={self.eta_min:g}, restarting after {self.T_0} steps{growth}"

    def landmarks(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self._period_starts[1:4]) or (self.T_0, 2 * self.T_0, 3 * self.T_0)

    def default_steps(self) -> int:
        return v.shown_steps(self.T_0 * (1 + self.T_mult + self.T_mult**2))  # three periods

    def position(self, ops: Any, steps: Any) -> tuple[Any, Any]:
        """``(T_cur, T_i)`` after ``steps`` updates, as torch's integer recursion has them."""
        if self.T_mult == 1:
            # A T_0 the steps' dtype cannot hold (past 2**31 on clr_optax's int32 path) never restarts.
            if v.below_int_range(self.T_0, steps) < self.T_0:
                return steps, float(self.T_0)
            # An integer remainder (float64 steps are whole numbers): XLA's float64 % is a loop of
            # its own, 40 times the cost of an integer one.
            return ops.index(steps) % self.T_0, float(self.T_0)
        # A select chain over the periods a step can reach (int32 counts: ~22 for T_mult=2, where
        # 2**53 has 43), not searchsorted, which XLA runs as a loop of gathers. ``ops.max_step``:
        # the largest step the evaluator is given (clr_optax's counts are clipped to 2**31 - 1).
        reachable = self._period_starts <= ops.max_step
        starts = [int(s) for s in self._period_starts[reachable]]
        lengths = [float(n) for n in self._period_lengths[reachable]]
        start: Any = 0
        length: Any = lengths[0]
        for period_start, period_length in zip(starts[1:], lengths[1:]):
            past = steps >= period_start
            start, length = ops.where(past, period_start, start), ops.where(past, period_length, length)
        return steps - start, length

    def lr_at(self, ops: Any, steps: Any, initial_lr: float) -> Any:
        t_cur, t_i = self.position(ops, steps)
        # unfused: torch rounds the product, then the sum (LLVM would fuse them into one FMA)
        return self.eta_min + ops.unfused((initial_lr - self.eta_min) * ops.cosine_anneal(t_cur, t_i))
