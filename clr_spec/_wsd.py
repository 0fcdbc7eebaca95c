"""Warmup-stable-decay (WSD), Hugging Face's ``get_wsd_schedule`` bit for bit, and its cyclic
form: repeated decay-and-rewarm cycles (continued pre-training, as in levanter and OLMo-core).

One cycle is a warmup from ``min_lr_ratio * lr`` to the cycle's peak (``warmup_type``: linear,
cosine or 1-sqrt), a stable phase at the peak and a decay back to ``min_lr_ratio * lr``
(``decay_type``: linear, cosine, 1-sqrt or 1-square); after the last cycle the lr stays at
``min_lr_ratio * lr``. With one cycle and a peak of 1 this is transformers' ``get_wsd_schedule``
(the same keywords; ``num_stable_steps`` given, or derived from ``num_training_steps``), written
in its order of operations, so that ``spec.lr`` is its torch run bit for bit. ``cycle_lengths``
makes it cyclic: cycle i lasts ``cycle_lengths[i]`` steps, rewarms over ``rewarm_steps`` (the
first over ``num_warmup_steps``), decays over ``num_decay_steps`` (one for all, or one per
cycle) and peaks at ``peak_factors[i] * lr``; its stable phase is what is left.

torch has no class for it: ``clr_torch.scheduler`` runs it as ``SpecLR`` (resumable in O(1));
``clr_spec.from_torch`` of transformers' WSD ``LambdaLR`` gives a ``WSDSpec``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Mapping, NamedTuple, Optional

import numpy as np

from . import _validation as v
from ._family import FormulaSpec, register

WARMUP_TYPES = ("linear", "cosine", "1-sqrt")  # transformers' warmup_type
DECAY_TYPES = ("linear", "cosine", "1-sqrt", "1-square")  # transformers' decay_type, and 1 - x**2
MAX_CYCLES = 1024  # cycles a spec holds at most (each step compares itself with every cycle's start)
SELECT_CYCLES = 8  # up to this many cycles, a step picks its cycle's values by a select chain


class Cycle(NamedTuple):
    """One cycle's steps (from its start) and peak factor."""

    start: int
    warmup: int
    stable: int
    decay: int
    peak: float

    @property
    def end(self) -> int:
        return self.start + self.warmup + self.stable + self.decay


def _choice(name: str, value: Any, allowed: tuple) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {v.shown(value)}")
    return value


def _ints(name: str, value: Any, count: int, low: int) -> tuple[int, ...]:
    """One int for every cycle, or a sequence of ``count`` of them."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"{name} must have one value per cycle ({count}), got {len(value)}")
        return tuple(v.integer(f"{name}[{i}]", x, low=low) for i, x in enumerate(value))
    return (v.integer(name, value, low=low),) * count


@register
class WSDSpec(FormulaSpec):
    r"""Warmup-stable-decay, and its cycles (see the module).

    In a cycle (local step t, warmup W, stable S, decay D, peak p, floor m = ``min_lr_ratio``):

    .. math::
        \text{factor}(t) = \begin{cases}
            \max(0, w(t / \max(1, W)) (p - m) + m) & t < W \\
            p & t < W + S \\
            \max(0, d((t - W - S) / \max(1, D)) (p - m) + m) & t < W + S + D \\
            m & \text{after the last cycle}\end{cases}

    with ``w`` = x, (1 - cos(pi x)) / 2 or 1 - sqrt(1 - x), and ``d`` = 1 - x,
    (1 + cos(2 pi n x)) / 2 (n = ``num_cycles``, transformers' cosine waves), 1 - sqrt(x) or
    1 - x**2; the lr is ``lr * factor``.

    Args:
      lr: the peak lr (the optimizer's, which transformers' LambdaLR scales), a float or one per
        param group.
      num_warmup_steps: the first warmup, an int >= 0.
      num_decay_steps: each decay, an int >= 0 (or one per cycle).
      num_training_steps: one cycle's total, from which the stable length is derived
        (``num_training_steps - num_warmup_steps - num_decay_steps``, >= 0).
      num_stable_steps: one cycle's stable length (wins over ``num_training_steps``, with
        transformers' warning, as there).
      warmup_type: "linear" (default), "cosine" or "1-sqrt".
      decay_type: "cosine" (default), "linear", "1-sqrt" or "1-square".
      min_lr_ratio: the floor, a ratio of lr in [0, 1], default 0.
      num_cycles: transformers' cosine waves in a decay (default 0.5: a half cosine), in [0, 2**53].
      cycle_lengths: the cycles' lengths (ints >= 1, at most 1024 cycles, sum < 2**53), for the
        cyclic form (instead of ``num_training_steps``/``num_stable_steps``).
      peak_factors: each cycle's peak as a factor of lr (default 1 each), in
        [min_lr_ratio, 2**53].
      rewarm_steps: the warmup of every cycle after the first (default ``num_warmup_steps``).

    >>> from clr_spec import WSDSpec
    >>> WSDSpec(lr=1.0, num_warmup_steps=2, num_decay_steps=2, num_training_steps=6,
    ...         decay_type="linear").lr(range(7)).tolist()
    [0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0]
    >>> WSDSpec(lr=1.0, num_warmup_steps=1, num_decay_steps=2, decay_type="linear", cycle_lengths=[4, 4],
    ...         peak_factors=[1.0, 0.5]).lr(range(9)).tolist()
    [0.0, 1.0, 1.0, 0.5, 0.0, 0.5, 0.5, 0.25, 0.0]
    """

    FORMAT = "clr.WSDSpec"
    TORCH_CLASS = ""  # transformers' LambdaLR of a partial, or ours: clr_torch runs it as SpecLR
    NOT_IN_SEQUENCE = "a WSDSpec is a whole run's schedule, warmup included (cycles repeat it, not a sequence)"

    initial_lr: Any
    num_warmup_steps: int
    num_decay_steps: Any
    num_stable_steps: Optional[int]
    warmup_type: str
    decay_type: str
    min_lr_ratio: float
    num_cycles: float
    cycle_lengths: Optional[tuple]
    peak_factors: Optional[tuple]
    rewarm_steps: Optional[int]
    cycles: tuple

    def __init__(
        self,
        lr: Any,
        num_warmup_steps: int,
        num_decay_steps: Any = None,
        num_training_steps: Optional[int] = None,
        num_stable_steps: Optional[int] = None,
        warmup_type: str = "linear",
        decay_type: str = "cosine",
        min_lr_ratio: float = 0.0,
        num_cycles: float = 0.5,
        cycle_lengths: Any = None,
        peak_factors: Any = None,
        rewarm_steps: Optional[int] = None,
    ):
        set_ = object.__setattr__
        set_(self, "initial_lr", v.bound("lr", lr, v.non_negative))
        set_(self, "num_warmup_steps", v.integer("num_warmup_steps", num_warmup_steps, low=0))
        if num_decay_steps is None:
            raise ValueError("num_decay_steps is required (the steps of each decay), as in get_wsd_schedule")
        set_(self, "warmup_type", _choice("warmup_type", warmup_type, WARMUP_TYPES))
        set_(self, "decay_type", _choice("decay_type", decay_type, DECAY_TYPES))
        set_(self, "min_lr_ratio", v.in_range("min_lr_ratio", min_lr_ratio, 0.0, 1.0))
        set_(self, "num_cycles", v.in_range("num_cycles", num_cycles, 0.0, float(v.MAX_INT)))
        if cycle_lengths is None:
            cycles = self._one_cycle(num_decay_steps, num_training_steps, num_stable_steps, peak_factors, rewarm_steps)
        else:
            cycles = self._cycles(
                num_decay_steps, num_training_steps, num_stable_steps, cycle_lengths, peak_factors, rewarm_steps
            )
        if cycles[-1].end >= v.MAX_INT:
            raise ValueError(f"the cycles' total length must be < 2**53 steps, got {cycles[-1].end}")
        set_(self, "cycles", cycles)

    def _one_cycle(self, decay: Any, total: Any, stable: Any, peaks: Any, rewarm: Any) -> tuple:
        """transformers' get_wsd_schedule: one cycle, its stable length given or derived."""
        for name, value in (("peak_factors", peaks), ("rewarm_steps", rewarm)):
            if value is not None:
                raise ValueError(f"{name} is for the cyclic form: give cycle_lengths too")
        set_ = object.__setattr__
        decay = v.integer("num_decay_steps", decay, low=0)
        warmup = self.num_warmup_steps
        if stable is None and total is None:
            raise ValueError("Either num_training_steps or num_stable_steps must be specified (get_wsd_schedule).")
        if stable is not None and total is not None:
            v.integer("num_training_steps", total, low=0)
            warnings.warn(
                "Both num_training_steps and num_stable_steps are specified. num_stable_steps will be used.",
                stacklevel=3,
            )
        if stable is None:
            total = v.integer("num_training_steps", total, low=0)
            stable = total - warmup - decay
            if stable < 0:
                raise ValueError(
                    f"num_training_steps ({total}) must be >= num_warmup_steps + num_decay_steps "
                    f"({warmup} + {decay}): the stable phase would be {stable} steps"
                )
        stable = v.integer("num_stable_steps", stable, low=0)
        for name, value in (
            ("num_decay_steps", decay),
            ("num_stable_steps", stable),
            ("cycle_lengths", None),
            ("peak_factors", None),
            ("rewarm_steps", None),
        ):
            set_(self, name, value)
        return (Cycle(0, warmup, stable, decay, 1.0),)

    def _cycles(self, decay: Any, total: Any, stable: Any, lengths: Any, peaks: Any, rewarm: Any) -> tuple:
        """The cyclic form: each cycle's warmup, decay and length; its stable phase the rest."""
        set_ = object.__setattr__
        for name, value in (("num_training_steps", total), ("num_stable_steps", stable)):
            if value is not None:
                raise ValueError(
                    f"{name} is for one cycle: with cycle_lengths, each cycle's stable phase is its "
                    "length less its warmup and decay"
                )
        if isinstance(lengths, (str, bytes)) or not isinstance(lengths, (list, tuple)) or not lengths:
            raise ValueError(
                f"cycle_lengths must be a non-empty list of ints (each cycle's steps), got {v.shown(lengths)}"
            )
        if len(lengths) > MAX_CYCLES:
            raise ValueError(f"cycle_lengths may hold at most {MAX_CYCLES} cycles, got {len(lengths)}")
        lengths = tuple(v.integer(f"cycle_lengths[{i}]", x, low=1) for i, x in enumerate(lengths))
        count = len(lengths)
        decays = _ints("num_decay_steps", decay, count, 0)
        rewarm = self.num_warmup_steps if rewarm is None else v.integer("rewarm_steps", rewarm, low=0)
        if peaks is None:
            factors = (1.0,) * count
        else:
            if isinstance(peaks, (str, bytes)) or not isinstance(peaks, (list, tuple)) or len(peaks) != count:
                raise ValueError(f"peak_factors must be a list of one factor per cycle ({count}), got {v.shown(peaks)}")
            factors = tuple(
                v.in_range(
                    f"peak_factors[{i}]",
                    p,
                    self.min_lr_ratio,
                    float(v.MAX_INT),
                    why=" (>= min_lr_ratio: a cycle decays from its peak to the floor)",
                )
                for i, p in enumerate(peaks)
            )
        cycles, start = [], 0
        for i, (length, decay_i, peak) in enumerate(zip(lengths, decays, factors)):
            warmup = self.num_warmup_steps if i == 0 else rewarm
            stable = length - warmup - decay_i
            if stable < 0:
                raise ValueError(f"cycle_lengths[{i}] ({length}) must be >= its warmup ({warmup}) + decay ({decay_i})")
            cycles.append(Cycle(start, warmup, stable, decay_i, peak))
            start += length
            if start >= v.MAX_INT:
                raise ValueError(f"the cycles' total length must be < 2**53 steps (cycle_lengths[{i}] passes it)")
        set_(self, "num_decay_steps", decays if isinstance(decay, (list, tuple)) else decays[0])
        set_(self, "num_stable_steps", None)
        set_(self, "cycle_lengths", lengths)
        set_(self, "peak_factors", None if peaks is None else factors)
        set_(self, "rewarm_steps", None if rewarm == self.num_warmup_steps else rewarm)
        return tuple(cycles)

    def _values(self) -> dict[str, Any]:
        return {
            "lr": self.initial_lr,
            "num_warmup_steps": self.num_warmup_steps,
            "num_decay_steps": self.num_decay_steps,
            "num_stable_steps": self.num_stable_steps,
            "warmup_type": self.warmup_type,
            "decay_type": self.decay_type,
            "min_lr_ratio": self.min_lr_ratio,
            "num_cycles": self.num_cycles,
            "cycle_lengths": self.cycle_lengths,
            "peak_factors": self.peak_factors,
            "rewarm_steps": self.rewarm_steps,
        }

    def replace(self, **changes: Any) -> "WSDSpec":
        values = self._values()
        if "num_training_steps" in changes and "num_stable_steps" not in changes:
            values["num_stable_steps"] = None  # derived again from the new total
        return type(self)(**{**values, **changes})

    # -------------------------------------------------------------- structure, display
    @property
    def num_groups(self) -> Optional[int]:
        return len(self.initial_lr) if isinstance(self.initial_lr, tuple) else None

    def group_lr(self, group: int = 0) -> float:
        return v.pick_group(self.initial_lr, group, self.num_groups)

    def describe(self) -> str:
        first = self.cycles[0]
        shape = (
            f"warmup {first.warmup} ({self.warmup_type}), stable {first.stable}, decay {first.decay} "
            f"({self.decay_type}) to {self.min_lr_ratio:g} times lr"
        )
        if self.cycle_lengths is None:
            return "warmup-stable-decay: " + shape
        return f"cyclic warmup-stable-decay, {len(self.cycles)} cycles of {self.cycle_lengths[0]}...: first " + shape

    def landmarks(self) -> tuple[int, ...]:
        marks = set()
        for c in self.cycles[:64]:
            marks |= {c.start + c.warmup, c.start + c.warmup + c.stable, c.end}
        return tuple(sorted(m for m in marks if m))

    # -------------------------------------------------------------- values
    def values_at(self, ops: Any, steps: Any, what: str, group: int) -> Any:
        if what != "lr":
            self.check_sets_momentum()
        # LambdaLR: base_lr * lmbda(last_epoch)
        return self.group_lr(group) * self.factor(ops, steps)

    def factor(self, ops: Any, steps: Any) -> Any:
        """The factor at ``steps`` over ``ops``: transformers' ``_get_wsd_scheduler_lambda``, line for
        line, at each cycle's local step (the cycle's values picked per step from tables)."""
        dtype = np.float64 if ops.in_float64 else np.float32
        m = self.min_lr_ratio
        t, warmup, plateau, end, decay_start, cycle = self._local(ops, steps)
        tf = t.astype(dtype)
        # float(current_step) / float(max(1, num_warmup_steps)) in the warmup; float(current_step -
        # num_warmup_steps - num_stable_steps) / float(max(1, num_decay_steps)) after it: one division
        # of the phase's terms, the same quotients (XLA would run both divisions at every step); at
        # most 1 where the phase's branch is not taken
        into = ops.maximum(t - decay_start, 0).astype(dtype)
        in_warmup = t <= warmup
        quotient = ops.exact_divide(
            ops.where(in_warmup, tf, into), ops.where(in_warmup, cycle("warmup_div"), cycle("decay_div"))
        )
        progress = ops.minimum(quotient, 1.0)
        # float32 alone (TPUs): the cosines' 1 -+ cos cancels near 0; the same values through the
        # anneal's accurate float32 form (JaxFloat32Ops.cosine_anneal), at the exact distances
        accurate = not ops.in_float64
        if self.warmup_type == "linear":
            shape = progress
        elif self.warmup_type == "cosine" and accurate:
            length = cycle("warmup_div")
            shape = ops.cosine_anneal(length - ops.minimum(tf, length), length)  # (1 - cos(pi x)) / 2
        elif self.warmup_type == "cosine":
            shape = 0.5 * (1.0 - ops.cos(math.pi * progress))
        else:
            shape = 1.0 - ops.sqrt(1.0 - progress)
        # factor * (1.0 - min_lr_ratio) + min_lr_ratio (peak - min_lr_ratio in a cycle), two roundings;
        # max(0.0, factor)
        warm = ops.unfused(shape * cycle("span")) + m
        warm = ops.where(warm > 0, warm, 0.0)
        if self.decay_type == "linear":
            shape = 1.0 - progress
        elif self.decay_type == "cosine" and accurate and self.num_cycles == 0.5:
            length = cycle("decay_div")
            shape = ops.cosine_anneal(ops.minimum(into, length), length)
        elif self.decay_type == "cosine":
            shape = 0.5 * (1.0 + ops.cos((math.pi * self.num_cycles * 2.0) * progress))
        elif self.decay_type == "1-sqrt":
            shape = 1.0 - ops.sqrt(progress)
        else:
            shape = 1.0 - ops.unfused(progress * progress)
        decay = ops.unfused(shape * cycle("span")) + m
        decay = ops.where(decay > 0, decay, 0.0)
        return ops.where(in_warmup, warm, ops.where(t <= plateau, cycle("peak"), ops.where(t <= end, decay, m)))

    def _local(self, ops: Any, steps: Any) -> tuple:
        """(the step within its cycle, the last step of the cycle's warmup, stable phase and decay
        (t <= them: t < their ends, against bounds the steps' dtype holds), and a function giving
        the cycle's float values by name), for each of ``steps``; and where the decay starts (its
        warmup + stable steps, clipped: past the dtype's range the decay is never reached).

        One cycle: Python numbers (transformers' constants). Several: tables indexed by the
        cycle each step is in (the count of later cycle starts it has reached); a cycle starting
        past what the steps' dtype holds (2**31 on clr_optax's int32 path) is never reached."""
        limit = v.below_int_range(v.MAX_INT, steps)
        cycles = [c for c in self.cycles if c.start <= limit]
        m = self.min_lr_ratio
        floats = {
            "warmup_div": [float(max(1, c.warmup)) for c in cycles],
            "decay_div": [float(max(1, c.decay)) for c in cycles],
            # (1.0 - min_lr_ratio) where the peak is 1: transformers' factor
            "span": [c.peak - m for c in cycles],
            "peak": [c.peak for c in cycles],
        }

        def bound(end: int) -> int:  # t < end as t <= end - 1, clipped to the dtype's range
            return v.below_int_range(end - 1, steps)

        if len(cycles) == 1:
            c = cycles[0]
            return (
                steps - c.start,
                bound(c.warmup),
                bound(c.warmup + c.stable),
                bound(c.warmup + c.stable + c.decay),
                v.below_int_range(c.warmup + c.stable, steps),
                lambda name: floats[name][0],
            )
        if len(cycles) <= SELECT_CYCLES:
            # A select chain over the starts: under XLA a gather costs several times the formula
            # (measured: 7.1 ms against 2.0 ms for 2**20 steps of 3 cycles).
            reached = [steps >= c.start for c in cycles[1:]]

            def table(values: list) -> Any:
                out = values[0]
                for later, value in zip(reached, values[1:]):
                    out = ops.where(later, value, out)
                return out

            def floats_of(name: str) -> Any:
                return table(floats[name])
        else:
            starts = ops.asarray([c.start for c in cycles[1:]], dtype=steps.dtype)
            index = ops.index(ops.sum(steps[..., None] >= starts, axis=-1))
            tables = {name: ops.constant(values) for name, values in floats.items()}

            def table(values: list) -> Any:
                return ops.asarray(values, dtype=steps.dtype)[index]

            def floats_of(name: str) -> Any:
                return tables[name][index]

        local = steps - table([c.start for c in cycles])
        return (
            local,
            table([bound(c.warmup) for c in cycles]),
            table([bound(c.warmup + c.stable) for c in cycles]),
            table([bound(c.warmup + c.stable + c.decay) for c in cycles]),
            table([v.below_int_range(c.warmup + c.stable, steps) for c in cycles]),
            floats_of,
        )

    # -------------------------------------------------------------- torch, JSON
    def torch_kwargs(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_torch(cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any) -> Any:
        """transformers' WSD ``LambdaLR`` (its partial holds the parameters), or its state with
        get_wsd_schedule's arguments given (the state holds none)."""
        from . import _huggingface as hf

        if isinstance(scheduler_or_state, Mapping):
            if not kwargs:
                raise ValueError(
                    "a LambdaLR state holds no WSD parameters (torch saves no function): pass "
                    "get_wsd_schedule's arguments, or use clr_spec.huggingface_from_state"
                )
            return hf.huggingface_from_state(scheduler_or_state, "warmup_stable_decay", **kwargs)[0]
        spec = hf.from_functions(
            getattr(scheduler_or_state, "lr_lambdas", None) or [], getattr(scheduler_or_state, "base_lrs", None)
        )
        if type(spec) is not cls:
            raise ValueError(f"this {type(scheduler_or_state).__name__} is not transformers' get_wsd_schedule")
        return spec

    FIELDS = (
        "lr",
        "num_warmup_steps",
        "num_decay_steps",
        "num_stable_steps",
        "warmup_type",
        "decay_type",
        "min_lr_ratio",
        "num_cycles",
        "cycle_lengths",
        "peak_factors",
        "rewarm_steps",
    )

    @classmethod
    def _document_fields(cls) -> tuple[set, tuple]:
        return set(cls.FIELDS), ("lr", "num_warmup_steps", "num_decay_steps")
