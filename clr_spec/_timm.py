"""timm's ``CosineLRScheduler`` (SGDR with warmup, growing cycles and a decaying peak) as a spec.

timm's ``_get_lr(t)`` (``timm/scheduler/cosine_lr.py``, timm 1.0) in its float64 Python order:

    t < warmup_t:   warmup_lr_init + t * ((lr - warmup_lr_init) / warmup_t)
    else:           t -= warmup_t                                     (warmup_prefix only)
                    cycle_mul == 1:  i = t // t_initial,  t_i = t_initial,  t_curr = t - t_initial * i
                    else:            i = floor(log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))
                                     t_i = cycle_mul**i * t_initial
                                     t_curr = t - (1 - cycle_mul**i) / (1 - cycle_mul) * t_initial
                    i < cycle_limit: lr_min + 0.5 * (lr * cycle_decay**i - lr_min)
                                              * (1 + cos(pi * t_curr**k_decay / t_i**k_decay))
                    else:            lr_min

and each param group's lr is that times its ``lr_scale`` where the group has one (timm's layer
decay). ``t`` is what the training loop passes to ``step(epoch)`` (``t_in_epochs=True``) or
``step_update(num_updates)`` (``t_in_epochs=False``): the spec's step. At construction timm
writes ``lr`` (``warmup_lr_init`` with a warmup) into the groups without calling ``_get_lr``:
that is the spec's step 0 (timm's own train loop never calls ``step(0)``; see the guide).

Exactness. The cycle index of a growing cycle is timm's floating-point log, not the exact one
(``math.log(1000, 10) == 2.9999999999999996``: timm puts step ``111 * t_initial`` of
``cycle_mul=10`` in cycle 2, at its bottom, not at the restart): it is monotone in ``t``, so the
first step of each cycle as timm computes it is found on the host in timm's own arithmetic and
the step's cycle looked up among them (``searchsorted``), with the cycle's ``t_i``, offset,
``t_i**k_decay`` and peak ``lr * cycle_decay**i`` from host tables (Python's ``pow``). What is
left per step is one subtraction, ``t_curr**k_decay`` (``ops.real_power``: C ``pow``), a
product, a division, a cosine and the sum, in timm's order: numpy's values are timm's bit for
bit, and so are XLA's float64 ones on CPU (its cos, and pow of two arrays, are C's there).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from . import _validation as v
from ._family import FormulaSpec, register, spec_lr_spec
from ._replayed import lookup

INT32_MAX = 2**31 - 1  # the largest length and count a spec takes (clr_optax's int32 steps)
MAX_STEP = 2**53  # numpy's steps are whole float64 numbers below it
# Restarts of a growing cycle (cycle_mul > 1) tabled, at most: cycle_mul within ~1e-4 of 1 with
# an unbounded cycle_limit restarts more often before step 2**53 (refused: the message says so).
MAX_CYCLES = 2**16
# Peaks (lr * cycle_decay**i) tabled for cycle_mul == 1; past them cycle_decay**i per step.
MAX_PEAKS = 2**16
SUM_BELOW = 64  # up to this many cycle starts, a step's cycle is a sum of comparisons
MAX_K_DECAY = 16.0  # t_i**k_decay stays finite for every cycle length below 2**53 (2**848)

TIMM_CLASS = "CosineLRScheduler"
# timm's other schedulers, by a state key only they keep (from_timm names what it was given).
_OTHER_TIMM = (
    ("power", "PolyLRScheduler"),
    ("lb", "TanhLRScheduler"),
    ("decay_t", "StepLRScheduler or MultiStepLRScheduler"),
    ("lr_scheduler", "PlateauLRScheduler"),
    ("decay_fn", "WSDLRScheduler"),
)
# The state timm 1.0's CosineLRScheduler.state_dict() holds (its __dict__ minus the optimizer).
_TIMM_REQUIRED = frozenset(
    {
        "base_values",
        "t_initial",
        "lr_min",
        "cycle_mul",
        "cycle_decay",
        "cycle_limit",
        "warmup_t",
        "warmup_lr_init",
        "warmup_prefix",
        "k_decay",
        "t_in_epochs",
        "noise_range_t",
        "warmup_steps",
    }
)
_TIMM_OPTIONAL = frozenset(
    {"param_group_field", "_initial_param_group_field", "metric", "noise_pct", "noise_type", "noise_std", "noise_seed"}
)


def timm_cycle(t: int, t_initial: int, cycle_mul: float) -> int:
    """timm's cycle index of (warmup-free) step ``t`` for ``cycle_mul != 1``, in timm's arithmetic."""
    return math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {type(value).__name__} {v.shown(value)}")


def _count(name: str, value: Any, low: int, why: str = "") -> int:
    n = v.integer(name, value, low=low, why=why)
    if n > INT32_MAX:
        raise ValueError(f"{name} must be an int in [{low}, 2**31 - 1]{why} (clr_optax's steps are int32), got {n}")
    return n


def _non_negative(name: str, value: Any) -> float:
    return v.non_negative(name, value) + 0.0  # -0.0 as 0.0


@register
class TimmCosineSpec(FormulaSpec):
    r"""timm's ``CosineLRScheduler``: cosine anneals from ``lr`` to ``lr_min`` over ``t_initial``
    steps, restarting ``cycle_limit`` times in all, each cycle ``cycle_mul`` times longer and its
    peak ``cycle_decay`` times lower, after a linear warmup from ``warmup_lr_init``.

    .. math:: \text{lr}(t) = \text{lr}_{min} + \tfrac12 (\text{lr} \cdot \text{cycle\_decay}^i - \text{lr}_{min})
              (1 + \cos(\pi\, t_{curr}^k / t_i^k))

    timm's keywords and defaults, minus the optimizer (module docstring: the formula).

    Args:
      lr: the lr timm reads from the optimizer (each group's ``initial_lr``, else its ``lr``: timm's
        ``base_values``), >= 0, a float or one per param group.
      t_initial: the first cycle's length, an int in [1, 2**31 - 1].
      lr_min: the lr at the bottom of each cycle and after the last, >= 0, default 0.
      cycle_mul: each cycle's length over the last's, a float in [1, 2**53], default 1 (below 1
        timm's cycles shrink to nothing and its log raises after ``t_initial / (1 - cycle_mul)``).
      cycle_decay: each cycle's peak over the last's, in [0, 1], default 1.
      cycle_limit: the number of cycles; after them ``lr_min``. An int in [0, 2**31 - 1], default 1
        (timm's: one cycle, no restart).
      warmup_t: warmup steps, an int in [0, 2**31 - 1], default 0.
      warmup_lr_init: the warmup's first lr, >= 0, default 0.
      warmup_prefix: whether the cycles start after the warmup (else the warmup covers the
        cycle's first ``warmup_t`` steps), default False.
      t_in_epochs: whether timm steps it per epoch (``step(epoch)``) or per update
        (``step_update(num_updates)``); the values of a step are the same. Default True.
      k_decay: the k-decay exponent (``t_curr**k / t_i**k``), in (0, 16], default 1.
      lr_scale: timm's ``lr_scale`` of each param group (its layer decay multiplies each group's
        lr by it), >= 0, a float or one per group, default 1 (a group without one).
      noise_range_t: must be None: timm's noise draws from torch's generator at each step, which
        this spec does not reproduce. (``noise_pct``, ``noise_std``, ``noise_seed`` do nothing
        without it, in timm as here: taken and not kept.)

    >>> from clr_spec import TimmCosineSpec
    >>> spec = TimmCosineSpec(lr=1.0, t_initial=4, cycle_limit=2, cycle_decay=0.5, warmup_t=2,
    ...                       warmup_prefix=True)
    >>> spec.lr(range(12)).round(4).tolist()     # warmup, a cycle, a restart at half the peak, lr_min
    [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.5, 0.4268, 0.25, 0.0732, 0.0, 0.0]
    """

    FORMAT = "clr.TimmCosineSpec"
    TORCH_CLASS = ""  # timm's scheduler is no torch class: clr_torch runs the spec as SpecLR
    NOT_IN_SEQUENCE = "a timm schedule is a whole run's schedule, warmup included (timm has no sequence of schedulers)"
    FIELDS = (
        "lr",
        "t_initial",
        "lr_min",
        "cycle_mul",
        "cycle_decay",
        "cycle_limit",
        "warmup_t",
        "warmup_lr_init",
        "warmup_prefix",
        "t_in_epochs",
        "k_decay",
        "lr_scale",
    )

    initial_lr: v.Bound  # the lr given (timm's base_values), kept under torch's name as the phases keep it
    t_initial: int
    lr_min: float
    cycle_mul: float
    cycle_decay: float
    cycle_limit: int
    warmup_t: int
    warmup_lr_init: float
    warmup_prefix: bool
    t_in_epochs: bool
    k_decay: float
    lr_scale: v.Bound

    def __init__(
        self,
        lr: Any,
        t_initial: int,
        lr_min: float = 0.0,
        cycle_mul: float = 1.0,
        cycle_decay: float = 1.0,
        cycle_limit: int = 1,
        warmup_t: int = 0,
        warmup_lr_init: float = 0.0,
        warmup_prefix: bool = False,
        t_in_epochs: bool = True,
        k_decay: float = 1.0,
        lr_scale: Any = 1.0,
        *,
        noise_range_t: Any = None,
        noise_pct: Any = None,
        noise_std: Any = None,
        noise_seed: Any = None,
    ):
        if noise_range_t is not None:
            raise ValueError(
                f"noise_range_t must be None, got {v.shown(noise_range_t)}: timm's lr noise draws from "
                "torch's random generator at every step (seeded noise_seed + t), which this spec does not "
                "reproduce; a noisy timm schedule has no spec"
            )
        set_ = object.__setattr__
        set_(self, "initial_lr", v.bound("lr", lr, _non_negative))
        set_(self, "t_initial", _count("t_initial", t_initial, 1, " (the first cycle's length)"))
        set_(self, "lr_min", _non_negative("lr_min", lr_min))
        set_(
            self,
            "cycle_mul",
            v.in_range(
                "cycle_mul",
                cycle_mul,
                1.0,
                float(MAX_STEP),
                why=(
                    " (each cycle's length over the last's: below 1 timm's cycles shrink to nothing and its log raises a "
                    "math domain error after t_initial / (1 - cycle_mul) steps)"
                ),
            ),
        )
        set_(
            self,
            "cycle_decay",
            v.in_range(
                "cycle_decay",
                cycle_decay,
                0.0,
                1.0,
                why=(" (each restart's peak over the last's; above 1 the peak grows without bound)"),
            ),
        )
        set_(self, "cycle_limit", _count("cycle_limit", cycle_limit, 0, " (the number of cycles, then lr_min)"))
        set_(self, "warmup_t", _count("warmup_t", warmup_t, 0, " (warmup steps)"))
        set_(self, "warmup_lr_init", _non_negative("warmup_lr_init", warmup_lr_init))
        set_(self, "warmup_prefix", _flag("warmup_prefix", warmup_prefix))
        set_(self, "t_in_epochs", _flag("t_in_epochs", t_in_epochs))
        set_(
            self,
            "k_decay",
            v.in_range(
                "k_decay",
                k_decay,
                0.0,
                MAX_K_DECAY,
                low_open=True,
                why=(
                    " (t_curr**k_decay / t_i**k_decay: at 0 timm divides 0**0 by 1, past 16 a long cycle's t_i**k_decay "
                    "overflows float64)"
                ),
            ),
        )
        set_(self, "lr_scale", v.bound("lr_scale", lr_scale, _non_negative))
        for name, value in (("noise_pct", noise_pct), ("noise_std", noise_std), ("noise_seed", noise_seed)):
            if value is not None:
                v.finite(name, value)  # a number, as timm takes it; inert without noise_range_t
        v.group_count({"lr": self.initial_lr, "lr_scale": self.lr_scale})
        if self.cycle_mul != 1.0:
            needed = self._restarts_needed()
            if needed > MAX_CYCLES:
                raise ValueError(
                    f"cycle_mul={self.cycle_mul!r} with cycle_limit={self.cycle_limit} restarts about {needed} times "
                    f"before step 2**53; this spec tables at most {MAX_CYCLES} restarts of a growing cycle (timm's "
                    "float log decides each): lower cycle_limit (lr_min after it) or take cycle_mul=1"
                )

    def _values(self) -> dict[str, Any]:
        return {"lr": self.initial_lr, **{name: getattr(self, name) for name in self.FIELDS[1:]}}

    # ------------------------------------------------------------------ structure
    @property
    def num_groups(self) -> Optional[int]:
        return next((len(b) for b in (self.initial_lr, self.lr_scale) if isinstance(b, tuple)), None)

    def describe(self) -> str:
        warmup = f"after {self.warmup_t} warmup steps from {self.warmup_lr_init:g}, " if self.warmup_t else ""
        growth = f", each {self.cycle_mul:g} times longer" if self.cycle_mul != 1 else ""
        decay = f", each peak {self.cycle_decay:g} times the last" if self.cycle_decay != 1 else ""
        return (
            f"timm cosine: {warmup}{self.cycle_limit} cycle(s) of {self.t_initial} steps{growth}{decay} "
            f"down to lr_min={self.lr_min:g}, then lr_min"
        )

    def landmarks(self) -> tuple[int, ...]:
        shift = self.warmup_t if self.warmup_prefix else 0
        starts = [int(b) + shift for b in self._cycles(4)["starts"][1:4]]
        return tuple(
            sorted(
                {
                    k
                    for k in ([self.warmup_t] if self.warmup_t else []) + starts + [shift + self.t_initial]
                    if 0 < k < MAX_STEP
                }
            )
        )

    def default_steps(self) -> int:
        return v.shown_steps(1.2 * max(self.landmarks(), default=self.t_initial) + 10)

    def group_lr(self, group: int = 0) -> float:
        return v.pick_group(self.initial_lr, group, self.num_groups)

    def group_scale(self, group: int = 0) -> float:
        return v.pick_group(self.lr_scale, group, self.num_groups)

    # ------------------------------------------------------------------ timm's cycles, on the host
    def _restarts_needed(self) -> int:
        """About how many cycles start below 2**53 and below ``cycle_limit`` (cycle_mul > 1)."""
        m, t0 = self.cycle_mul, self.t_initial
        reachable = math.log1p(MAX_STEP / t0 * (m - 1)) / math.log(m) + 2
        return int(min(self.cycle_limit, reachable))

    def _cycles(self, limit: Optional[int] = None) -> dict[str, np.ndarray]:
        """timm's cycles (``cycle_mul != 1``; one cycle per ``t_initial`` otherwise, of which the
        first ``limit``), cached: ``starts`` (the first warmup-free step of each, as timm's float
        log puts it: ``searchsorted(starts, t, "right") - 1`` is timm's ``i``), and per cycle ``t_i``,
        the offset timm subtracts, ``t_i**k_decay`` and ``cycle_mul**i``. The last start is the
        first step after the last cycle (``cycle_limit``) where that is below 2**53."""
        cache = self.__dict__.setdefault("_cycle_cache", {})
        if limit in cache:
            return cache[limit]
        t0, m, k = self.t_initial, self.cycle_mul, self.k_decay
        count = self.cycle_limit if limit is None else min(self.cycle_limit, limit)
        starts, powers = [0], [1.0]
        if m == 1.0:
            n = 1
            while n <= count and n * t0 < MAX_STEP:
                starts.append(n * t0)
                powers.append(1.0)
                n += 1
        else:
            for n in range(1, count + 1):
                estimate = t0 * (m**n - 1) / (m - 1)
                if estimate >= MAX_STEP:
                    break
                start = _first_step_of_cycle(n, starts[-1], estimate, t0, m)
                if start >= MAX_STEP:
                    break
                starts.append(start)
                powers.append(m**n)
        cycles = len(starts)
        pw = powers[:cycles]
        if m == 1.0:
            lengths = [float(t0)] * cycles
            offsets = [float(t0 * i) for i in range(cycles)]
        else:
            lengths = [p * t0 for p in pw]  # timm: cycle_mul ** i * t_initial
            offsets = [(1 - p) / (1 - m) * t0 for p in pw]  # timm: (1 - m**i) / (1 - m) * t_initial
        out = {
            "starts": np.array(starts, dtype=np.float64),
            "lengths": np.array(lengths, dtype=np.float64),
            "offsets": np.array(offsets, dtype=np.float64),
            "lengths_k": np.array([length**k for length in lengths], dtype=np.float64),
        }
        cache[limit] = out
        return out

    def _peaks(self, group: int) -> tuple[np.ndarray, bool]:
        """timm's ``lr * cycle_decay**i`` of each cycle with a peak (below ``cycle_limit``; at most
        ``MAX_PEAKS``, or the growing cycles tabled), and whether the table holds every peak a step
        can reach (it also does where they underflow to 0: Python's ``cycle_decay**i`` stays 0)."""
        cache = self.__dict__.setdefault("_peak_cache", {})
        if group not in cache:
            lr, d = self.group_lr(group), self.cycle_decay
            cycles = self.cycle_limit if self.cycle_mul == 1.0 else min(self.cycle_limit, len(self._cycles()["starts"]))
            peaks = [lr]
            while len(peaks) < min(cycles, MAX_PEAKS) and peaks[-1] != 0.0:
                peaks.append(lr * d ** len(peaks))
            cache[group] = (np.array(peaks, dtype=np.float64), len(peaks) >= cycles or peaks[-1] == 0.0)
        return cache[group]

    # ------------------------------------------------------------------ values
    def values_at(self, ops: Any, steps: Any, what: str, group: int) -> Any:
        if what != "lr":
            self.check_sets_momentum()  # raises: timm's CosineLRScheduler sets no momentum
        lr = self.group_lr(group)
        scale = self.group_scale(group)
        value = self._lr(ops, steps, lr, group)
        # At construction timm writes lr (warmup_lr_init with a warmup) into the groups: step 0.
        first = self.warmup_lr_init if self.warmup_t else lr
        value = ops.where(steps == 0, first, value)
        return value if scale == 1.0 else value * scale  # timm: value * param_group['lr_scale']

    def _lr(self, ops: Any, steps: Any, lr: float, group: int) -> Any:
        """timm's ``_get_lr(t)`` of one group (before ``lr_scale``)."""
        w, warmup_t = self.warmup_lr_init, self.warmup_t
        t = steps
        if self.warmup_prefix and warmup_t:
            t = ops.maximum(steps - warmup_t, 0)  # where t < warmup_t the warmup's value is taken
        if ops.in_float64:
            value = self._cosine_float64(ops, t, lr, group)
        else:
            value = self._cosine_float32(ops, t, lr, group)
        if not warmup_t:
            return value
        slope = (lr - w) / warmup_t  # timm's warmup_steps
        if ops.in_float64:
            warm = w + ops.step0_barrier(steps * slope)  # not an FMA: timm rounds the product
        else:
            warm = w + steps.astype(np.float32) * np.float32(slope)
        return ops.where(steps < v.below_int_range(warmup_t, steps), warm, value)

    def _position(self, ops: Any, t: Any) -> tuple[Any, Any]:
        """(timm's ``i``, the index of its cycle tables) of warmup-free step ``t``."""
        if self.cycle_mul == 1.0:
            return ops.index(t) // self.t_initial, None
        cycles = self._cycles()
        reach = cycles["starts"] <= ops.max_step
        starts = cycles["starts"][reach]
        if len(starts) <= SUM_BELOW:
            # the starts a step has passed, as a sum of comparisons: searchsorted is a loop of
            # gathers under XLA (twice the time of the whole schedule, measured)
            n = 0 * ops.index(t)
            for start in starts[1:].tolist():
                n = n + ops.index(t >= int(start))
            return n, int(reach.sum())
        if ops.in_float64:
            table = ops.asarray(starts, dtype=ops.xp.float64)
        else:
            table = ops.asarray(starts.astype(np.int32))
        return ops.searchsorted(table, t, side="right") - 1, int(reach.sum())

    def _cosine_float64(self, ops: Any, t: Any, lr: float, group: int) -> Any:
        """timm's cosine branch in its float64 order (bitwise in numpy, and in XLA on CPU)."""
        i, reachable = self._position(ops, t)
        k = self.k_decay
        if reachable is None:  # cycle_mul == 1: integers
            t_curr = t - self.t_initial * i
            t_i_k = float(self.t_initial) ** k
        else:
            cycles = self._cycles()
            t_curr = t - lookup(ops, cycles["offsets"][:reachable], i)
            t_i_k = lookup(ops, cycles["lengths_k"][:reachable], i)
        lr_max = self._peak(ops, i, lr, group)
        if k != 1.0:
            t_curr = self._signed_power(ops, t_curr)
        cos1 = 1 + ops.cos(ops.divide(math.pi * t_curr, t_i_k))
        value = self.lr_min + ops.step0_barrier((0.5 * (lr_max - self.lr_min)) * cos1)
        return ops.where(i < v.below_int_range(self.cycle_limit, i), value, self.lr_min)

    def _signed_power(self, ops: Any, t_curr: Any) -> Any:
        """timm's ``t_curr ** k_decay`` (C pow). ``t_curr`` is below 0 (by less than 1) at the first
        step of a cycle whose start timm's log puts before its offset: an integer k_decay gives
        pow's signed value; a fractional one makes timm's power complex and its cos raise, and the
        spec takes the restart's peak there (``t_curr`` 0; the guide's "Differences")."""
        k = self.k_decay
        magnitude = ops.real_power(ops.where(t_curr < 0, -t_curr, t_curr), ops.step0_barrier(k))
        if not float(k).is_integer():
            return ops.where(t_curr < 0, 0.0, magnitude)
        return ops.where(t_curr < 0, -magnitude, magnitude) if int(k) % 2 else magnitude

    def _peak(self, ops: Any, i: Any, lr: float, group: int) -> Any:
        """timm's ``lr * cycle_decay ** i`` (host table; past it ``cycle_decay ** i`` per step)."""
        if self.cycle_decay == 1.0:
            return lr
        peaks, complete = self._peaks(group)
        tabled = lookup(ops, peaks, i)  # past the last entry: the last (0, or a cycle past cycle_limit)
        if complete:
            return tabled
        # Only cycle_mul == 1 with more than MAX_PEAKS cycles and a cycle_decay near 1: C pow per step
        # in float64 (Python's cycle_decay ** i), float-float's in float32.
        i = ops.maximum(i, 0)
        gamma = (
            ops.real_power(ops.step0_barrier(self.cycle_decay), i) if ops.in_float64 else ops.power(self.cycle_decay, i)
        )
        return ops.where(i < len(peaks), tabled, lr * gamma)

    def _cosine_float32(self, ops: Any, t: Any, lr: float, group: int) -> Any:
        """float32 arithmetic alone (TPUs; int32 steps): positions exact in integers, the anneal
        through an angle of at most pi/4 (half of it near the start, half of what is left near
        the end, where ``1 + cos`` cancels)."""
        f32 = np.float32
        i, reachable = self._position(ops, t)
        k = self.k_decay
        if reachable is None:
            position = t - self.t_initial * i  # int32, exact
            p = position.astype(f32)
            rest = (self.t_initial - position).astype(f32)
            length: Any = f32(self.t_initial)
        else:
            cycles = self._cycles()
            offsets, lengths = cycles["offsets"][:reachable], cycles["lengths"][:reachable]
            whole, frac = _split(offsets)
            end_whole, end_frac = _split([Fraction(o) + Fraction(n) for o, n in zip(offsets, lengths)])
            p = (t - _lookup_int(ops, whole, i)).astype(f32) - lookup(ops, frac, i)
            rest = (_lookup_int(ops, end_whole, i) - t).astype(f32) + lookup(ops, end_frac, i)
            length = lookup(ops, lengths, i)
        if k == 1.0:
            u, left = p / length, rest / length
        else:
            u = ops.exp(f32(k) * ops.log(ops.maximum(p, 0) / length))
            left = -ops.expm1(f32(k) * ops.log1p(-ops.minimum(ops.maximum(rest, 0) / length, 1)))
        # (1 + cos(pi u)) / 2 = cos(pi u / 2)**2 and its complement sin(pi u / 2)**2, each from the
        # smaller angle; the lr as lr_max f + lr_min (1 - f), two positive terms (lr_min + (lr_max -
        # lr_min) f cancels where a decayed peak is below lr_min: 20 ulps measured).
        start = u <= 0.5
        angle = ops.where(start, f32(math.pi / 2) * u, f32(math.pi / 2) * left)
        cos2, sin2 = ops.cos(angle) ** 2, ops.sin(angle) ** 2
        factor, complement = ops.where(start, cos2, sin2), ops.where(start, sin2, cos2)
        lr_min = f32(self.lr_min)
        lr_max = self._peak(ops, i, lr, group)
        value = lr_max * factor + lr_min * complement
        return ops.where(i < v.below_int_range(self.cycle_limit, i), value, lr_min)

    # ------------------------------------------------------------------ torch, JSON
    def torch_kwargs(self) -> dict[str, Any]:
        return {}

    def timm_kwargs(self) -> dict[str, Any]:
        """timm's ``CosineLRScheduler`` keywords, minus the optimizer (the groups' lr is ``lr``;
        ``lr_scale`` goes in the param groups): ``CosineLRScheduler(opt, **spec.timm_kwargs())``."""
        return {name: getattr(self, name) for name in self.FIELDS[1:-1]}

    @classmethod
    def from_torch(cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any) -> Any:
        """The spec a clr_torch ``SpecLR`` runs (it or its state); timm's own scheduler: ``from_timm``."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_torch takes no keywords but optimizer_state, got {sorted(kwargs)}")
        return spec_lr_spec(scheduler_or_state, cls)

    @classmethod
    def _document_fields(cls) -> tuple[set, tuple]:
        return set(cls.FIELDS), ("lr", "t_initial")


def _first_step_of_cycle(n: int, previous: int, estimate: float, t0: int, m: float) -> int:
    """The first step timm's log puts in cycle ``n`` or later (its cycle index is monotone in the
    step: every operation of it rounds monotonically), searched from the exact start ``estimate``."""
    t = max(previous, int(estimate))
    while t > previous and timm_cycle(t - 1, t0, m) >= n:
        t -= 1
    while timm_cycle(t, t0, m) < n:
        t += 1
    return t


def _lookup_int(ops: Any, values: Any, index: Any) -> Any:
    """``values[index]`` of a host table of int32 values (cycle offsets below 2**31)."""
    table = ops.asarray(np.asarray(values, dtype=np.int32))
    return ops.take(table, ops.minimum(index, len(values) - 1))


def _split(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each value as its whole part (int32, clipped to 2**31 - 1) and the float32 rest."""
    exact = [Fraction(x) for x in values]
    whole = [min(math.floor(x), INT32_MAX) for x in exact]
    return (
        np.array(whole, dtype=np.int64).astype(np.int32),
        np.array([float(x - w) for x, w in zip(exact, whole)], dtype=np.float64),
    )


# ------------------------------------------------------------------------------ from timm
def from_timm(scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None) -> TimmCosineSpec:
    """The spec of a timm ``CosineLRScheduler`` (the object, or its ``state_dict()``).

    timm saves its ``__dict__`` minus the optimizer: every parameter and the base lrs
    (``base_values``), but not the step (timm is stateless: the loop passes ``t`` to each call),
    so the step the run is at comes from the loop (timm's train script: ``epoch`` from the
    checkpoint, ``num_updates = epoch * updates_per_epoch``) and goes to ``clr_torch.scheduler(opt,
    spec, step=t)`` or ``clr_optax.set_count``. The groups' ``lr_scale`` (timm's layer decay) is
    read from the optimizer: the object's own, or ``optimizer_state`` (``optimizer.state_dict()``)
    with a state; without it, a state's groups are taken to have none.

    Another timm scheduler, a noisy schedule (``noise_range_t``) or a damaged state is a ValueError
    that says which. No timm import: an object is known by its class name and module.
    """
    if isinstance(scheduler_or_state, Mapping):
        state: Mapping = scheduler_or_state
    else:
        names = [(klass.__module__, klass.__name__) for klass in type(scheduler_or_state).__mro__]
        timm_names = [name for module, name in names if module.split(".")[0] == "timm"]
        if TIMM_CLASS not in timm_names:
            kind = f"timm's {timm_names[0]}" if timm_names else f"a {type(scheduler_or_state).__name__}"
            raise TypeError(
                f"from_timm takes a timm {TIMM_CLASS} or its state_dict(), got {kind}; clr_spec reads "
                f"timm's {TIMM_CLASS} only"
            )
        state = scheduler_or_state.state_dict()
        if not isinstance(state, Mapping):
            raise TypeError(f"a timm scheduler's state_dict() must be a mapping, got {type(state).__name__}")
        optimizer = getattr(scheduler_or_state, "optimizer", None)
        if optimizer_state is None and optimizer is not None:
            optimizer_state = {"param_groups": list(optimizer.param_groups)}
    return _from_timm_state(state, optimizer_state)


def _from_timm_state(state: Mapping, optimizer_state: Optional[Mapping]) -> TimmCosineSpec:
    where = f"timm {TIMM_CLASS}"
    if any(not isinstance(key, str) for key in state):
        raise ValueError(f"not a {where} state: its keys must be strings")
    v.nesting_depth(state, v.MAX_JSON_DEPTH, "the timm scheduler state")
    keys = set(state)
    for key, other in _OTHER_TIMM:
        if key in keys:
            raise ValueError(
                f"this is the state of timm's {other} (it has {key!r}), not of a {TIMM_CLASS}: clr_spec "
                f"reads timm's {TIMM_CLASS} only"
            )
    if {"t_mul", "decay_rate"} & keys:
        raise ValueError(
            f"this {where} state is from timm < 0.5 (t_mul, decay_rate; there cycle_limit=0 meant no "
            "limit): not read, timm 1.0's is"
        )
    missing = sorted(_TIMM_REQUIRED - keys)
    if missing:
        raise ValueError(f"not a {where} state: it has no {missing} (its keys: {sorted(keys)})")
    extra = sorted(keys - _TIMM_REQUIRED - _TIMM_OPTIONAL)
    if extra:
        raise ValueError(f"not a {where} state: it has {extra}, which timm's {TIMM_CLASS} does not keep")
    if state.get("param_group_field", "lr") != "lr":
        raise ValueError(f"{where} state: param_group_field must be 'lr', got {v.shown(state['param_group_field'])}")
    base = v.state_reals(state["base_values"], "base_values", where)
    noise = state["noise_range_t"]
    if noise is not None:
        raise ValueError(
            f"{where} state: noise_range_t is {v.shown(noise)}: timm adds seeded noise (torch's "
            "generator) to the lr there, which this spec does not reproduce"
        )

    def field(name: str) -> Any:
        value = state[name]
        if hasattr(value, "item") and hasattr(value, "numel"):  # a one-element tensor
            value = v.state_real(value, name, where)
        return value

    scales = _group_scales(optimizer_state, len(base))
    spec = TimmCosineSpec(
        lr=_per_group(base),
        t_initial=field("t_initial"),
        lr_min=field("lr_min"),
        cycle_mul=field("cycle_mul"),
        cycle_decay=field("cycle_decay"),
        cycle_limit=field("cycle_limit"),
        warmup_t=field("warmup_t"),
        warmup_lr_init=field("warmup_lr_init"),
        warmup_prefix=field("warmup_prefix"),
        t_in_epochs=field("t_in_epochs"),
        k_decay=field("k_decay"),
        lr_scale=_per_group(scales),
    )
    # timm's warmup_steps follow from the rest: a state where they do not was not written by timm.
    steps = state["warmup_steps"]
    expected = [(b - spec.warmup_lr_init) / spec.warmup_t for b in base] if spec.warmup_t else [1] * len(base)
    if (
        isinstance(steps, (str, bytes))
        or not isinstance(steps, Sequence)
        or len(steps) != len(base)
        or any(v.state_real(s, f"warmup_steps[{i}]", where) != e for i, (s, e) in enumerate(zip(steps, expected)))
    ):
        raise ValueError(
            f"{where} state: warmup_steps {v.shown(steps)} are not (base_values - warmup_lr_init) / "
            f"warmup_t ({expected}): a damaged state"
        )
    return spec


def _group_scales(optimizer_state: Optional[Mapping], groups: int) -> list[float]:
    """Each param group's ``lr_scale`` (1.0 where it has none)."""
    if optimizer_state is None:
        return [1.0] * groups
    if not isinstance(optimizer_state, Mapping):
        raise TypeError(f"optimizer_state must be an optimizer's state_dict(), got {type(optimizer_state).__name__}")
    param_groups = v.state_value(optimizer_state, "param_groups", "optimizer")
    if (
        isinstance(param_groups, (str, bytes))
        or not isinstance(param_groups, Sequence)
        or not all(isinstance(g, Mapping) for g in param_groups)
    ):
        raise ValueError("the optimizer state's param_groups must be a list of param groups")
    if len(param_groups) != groups:
        raise ValueError(
            f"the optimizer has {len(param_groups)} param groups, the timm scheduler's base_values {groups}"
        )
    return [
        v.state_real(g["lr_scale"], f"param_groups[{i}]['lr_scale']", "optimizer") if "lr_scale" in g else 1.0
        for i, g in enumerate(param_groups)
    ]


def _per_group(values: list) -> Any:
    """One value where every group has it, else the list."""
    return values[0] if all(x == values[0] for x in values) else list(values)
