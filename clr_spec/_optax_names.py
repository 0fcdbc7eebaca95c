"""Schedules in optax's vocabulary: its primitives torch has no class for, and its recipes.

An optax user writes ``linear_schedule(0.0, peak, warmup)`` and ``cosine_decay_schedule(peak,
steps)``; torch has neither (``LinearLR`` refuses ``start_factor=0``, ``CosineAnnealingLR`` rises
again past ``T_max`` where optax's cosine holds). These specs take optax's keywords and
defaults and define their float64 values as optax's own formula evaluated in float64, operation
for operation (``optax/schedules/_schedule.py``); clr_optax rounds that once to float32 (0 ulp
on CPU and GPU), optax's own float32 schedule is within the bound measured in
``parity_tests/test_optax_names.py`` (docs, "For optax users"). They have no torch class
(``TORCH_CLASS = ""``): in torch they run as ``clr_torch.SpecLR``, which writes exactly these
values, and a recipe of several is a ``SequentialSpec`` (``join_schedules``: torch's
``SequentialLR`` of SpecLRs, each phase restarted at its milestone, as optax's
``join_schedules`` evaluates each schedule at ``step - boundary``).

The values are scalars (optax schedules are): every param group gets the same lr.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence


from . import _validation as v
from ._family import FormulaSpec, register, spec_lr_spec
from ._ops import Ops
from ._sequential import SequentialSpec
from ._spec import CyclicSpec


def _value(name: str, value: Any) -> float:
    return v.non_negative(name, value)


class _OptaxSpec(FormulaSpec):
    """Shared by the optax primitives: scalar values, no momentum, run in torch as ``SpecLR``."""

    TORCH_CLASS = ""
    FIELDS: tuple = ()  # ((name, default or None where required), ...), in optax's order

    @property
    def num_groups(self) -> Optional[int]:
        return None

    def values_at(self, ops: Ops, steps: Any, what: str, group: int) -> Any:
        v.group_index(group, None)
        if what != "lr":
            self.check_sets_momentum()
        return self.value_at(ops, steps)

    def value_at(self, ops: Ops, steps: Any) -> Any:
        """The schedule's value after ``steps`` updates, over ``ops``."""
        raise NotImplementedError

    def check_sets_momentum(self) -> None:
        raise ValueError(
            f"{type(self).__name__} (optax's {self.OPTAX_NAME}) does not set momentum: the optimizer keeps its own"
        )

    OPTAX_NAME = ""

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name, _ in self.FIELDS}

    @classmethod
    def _document_fields(cls) -> tuple[set, tuple]:
        return {name for name, _ in cls.FIELDS}, tuple(name for name, default in cls.FIELDS if default is None)

    def torch_kwargs(self) -> dict[str, Any]:
        raise TypeError(
            f"torch has no class for {type(self).__name__}: clr_torch.scheduler runs it as clr_torch.SpecLR"
        )

    @classmethod
    def from_torch(
        cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any
    ) -> "_OptaxSpec":
        """From the ``clr_torch.SpecLR`` that runs it (or its state: the spec's document)."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_torch takes no keywords but optimizer_state, got {sorted(kwargs)}")
        return spec_lr_spec(scheduler_or_state, spec_type=cls)


@register
class LinearScheduleSpec(_OptaxSpec):
    r"""optax's ``linear_schedule``: ``init_value`` until ``transition_begin``, then linearly to
    ``end_value`` over ``transition_steps`` steps, then held there. Unlike torch's ``LinearLR``
    it may start at 0 (a warmup from 0) and needs no optimizer lr to scale.

    .. math:: c = \min(\max(k - B, 0), T),\quad
              \text{lr}(k) = (I - E) \cdot (1 - c / T) + E

    in this order (optax's ``polynomial_schedule`` with ``power=1``), each operation rounded in
    float64; ``transition_steps=0`` holds ``init_value`` (as optax).

    Args:
      init_value: the first value, >= 0 (0 for a warmup from 0).
      end_value: the value from step ``transition_begin + transition_steps`` on, >= 0.
      transition_steps: steps of the ramp, an int >= 0.
      transition_begin: steps held at ``init_value`` first, an int >= 0, default 0 (optax
        falls back to 0 for a negative one; this refuses it).

    >>> from clr_spec import LinearScheduleSpec
    >>> LinearScheduleSpec(init_value=0.0, end_value=1.0, transition_steps=4).lr(range(6)).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    FORMAT = "clr.LinearScheduleSpec"
    OPTAX_NAME = "linear_schedule"
    FIELDS = (("init_value", None), ("end_value", None), ("transition_steps", None), ("transition_begin", 0))

    init_value: float
    end_value: float
    transition_steps: int
    transition_begin: int

    def __init__(self, init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0):
        set_ = object.__setattr__
        set_(self, "init_value", _value("init_value", init_value))
        set_(self, "end_value", _value("end_value", end_value))
        set_(self, "transition_steps", v.integer("transition_steps", transition_steps, low=0))
        set_(self, "transition_begin", v.integer("transition_begin", transition_begin, low=0))

    def describe(self) -> str:
        if self.transition_steps == 0:
            return f"constant {self.init_value:g} (optax's linear_schedule with transition_steps=0)"
        begin = f"{self.init_value:g} until step {self.transition_begin}, then " if self.transition_begin else ""
        return (
            f"{begin}linear from {self.init_value:g} to {self.end_value:g} over {self.transition_steps} steps, "
            f"then held at {self.end_value:g} (optax's linear_schedule)"
        )

    def landmarks(self) -> tuple[int, ...]:
        return tuple(sorted({self.transition_begin, self.transition_begin + self.transition_steps}))

    def value_at(self, ops: Ops, steps: Any) -> Any:
        if self.transition_steps == 0:
            return ops.where(steps >= 0, self.init_value, self.init_value)
        # optax: count = clip(count - B, 0, T); (I - E) * (1 - count / T) + E. A B or T past what the
        # steps' dtype holds (2**31 on clr_optax's int32 path) is never reached: clipped to it.
        shifted = ops.maximum(steps - v.below_int_range(self.transition_begin, steps), 0)
        count = ops.minimum(shifted, v.below_int_range(self.transition_steps, steps))
        if not ops.in_float64:
            return self._float32_value(ops, count)
        frac = 1.0 - ops.divide(count, float(self.transition_steps))
        # (unfused: no FMA, which would round the product and the sum once where optax rounds twice)
        return ops.unfused((self.init_value - self.end_value) * frac) + self.end_value

    def _float32_value(self, ops: Ops, count: Any) -> Any:
        """The float32-only path (TPUs): the same line, from the end it moves away from, so that no
        sum cancels (optax's ``(I - E) (1 - c/T) + E`` loses 176 float32 ulps near a warmup's
        start): ``I + (E - I) c/T`` rising, ``E + (I - E) (T - c)/T`` falling, with ``T - c``
        exact in int32 (split at 2**31 - 1 where ``T`` is past it: both parts >= 0)."""
        total, low, high = self.transition_steps, self.init_value, self.end_value
        if high >= low:
            return low + (high - low) * ops.divide(count, float(total))
        top = v.below_int_range(total, count)
        left = (top - count) + float(total - top) if total > top else total - count  # T - c, no cancellation
        return high + (low - high) * ops.divide(left, float(total))


@register
class CosineDecaySpec(_OptaxSpec):
    r"""optax's ``cosine_decay_schedule``: half a cosine from ``init_value`` down to
    ``alpha * init_value`` over ``decay_steps`` steps, then held there (torch's
    ``CosineAnnealingLR`` rises again past ``T_max``; this does not).

    .. math:: c = \min(k, T),\quad
              \text{lr}(k) = I \cdot \big((1 - \alpha) \cdot (\tfrac12 (1 + \cos(\pi c / T)))^p + \alpha\big)

    in this order, as optax writes it, each operation rounded in float64.

    Args:
      init_value: the first value, >= 0.
      decay_steps: steps of the decay, an int >= 1.
      alpha: the end value over ``init_value``, >= 0, default 0 (above 1 the cosine rises).
      exponent: the power of the cosine factor, > 0, default 1.

    >>> from clr_spec import CosineDecaySpec
    >>> CosineDecaySpec(init_value=1.0, decay_steps=2, alpha=0.5).lr(range(5)).tolist()
    [1.0, 0.75, 0.5, 0.5, 0.5]
    """

    FORMAT = "clr.CosineDecaySpec"
    OPTAX_NAME = "cosine_decay_schedule"
    FIELDS = (("init_value", None), ("decay_steps", None), ("alpha", 0.0), ("exponent", 1.0))

    init_value: float
    decay_steps: int
    alpha: float
    exponent: float

    def __init__(self, init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0):
        set_ = object.__setattr__
        set_(self, "init_value", _value("init_value", init_value))
        set_(self, "decay_steps", v.integer("decay_steps", decay_steps, low=1))
        set_(
            self,
            "alpha",
            v.in_range("alpha", alpha, 0.0, math.inf, high_open=True, why=" (the end value over init_value)"),
        )
        set_(self, "exponent", v.in_range("exponent", exponent, 0.0, math.inf, low_open=True, high_open=True))

    def describe(self) -> str:
        power = f" (cosine factor to the power {self.exponent:g})" if self.exponent != 1.0 else ""
        return (
            f"cosine decay from {self.init_value:g} to {self.alpha:g} times it over {self.decay_steps} steps{power}, "
            "then held (optax's cosine_decay_schedule)"
        )

    def landmarks(self) -> tuple[int, ...]:
        return (self.decay_steps,)

    def value_at(self, ops: Ops, steps: Any) -> Any:
        # optax: count = min(count, T); cos = 0.5 * (1 + cos(pi * count / T)); I * ((1 - a) * cos**p + a).
        count = ops.minimum(steps, v.below_int_range(self.decay_steps, steps))
        if ops.in_float64:
            # (ops.divide: XLA would multiply by the reciprocal of T, a rounding optax's float64 does not make)
            cosine = 0.5 * (1.0 + ops.cos(ops.divide(math.pi * count, float(self.decay_steps))))
        else:
            # float32 alone (TPUs): 1 + cos cancels near the end; the accurate form of the same factor
            cosine = ops.cosine_anneal(count, float(self.decay_steps))
        factor = cosine if self.exponent == 1.0 else ops.real_power(cosine, self.exponent)  # pow(x, 1) is x
        return self.init_value * (ops.unfused((1.0 - self.alpha) * factor) + self.alpha)


# ------------------------------------------------------------------------------ the constructors
def linear_schedule(
    init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0
) -> LinearScheduleSpec:
    """optax's ``linear_schedule``, as a spec (``LinearScheduleSpec``): a warmup from
    ``init_value`` (0 included), or a linear decay that holds at ``end_value``.

    >>> import clr_spec
    >>> clr_spec.linear_schedule(0.0, 0.1, transition_steps=4).lr([0, 2, 4, 9]).tolist()
    [0.0, 0.05, 0.1, 0.1]
    """
    return LinearScheduleSpec(init_value, end_value, transition_steps, transition_begin)


def cosine_decay_schedule(
    init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0
) -> CosineDecaySpec:
    """optax's ``cosine_decay_schedule``, as a spec (``CosineDecaySpec``): it holds at
    ``alpha * init_value`` past ``decay_steps``.

    >>> import clr_spec
    >>> clr_spec.cosine_decay_schedule(0.1, decay_steps=100).lr([0, 50, 100, 10**6]).round(6).tolist()
    [0.1, 0.05, 0.0, 0.0]
    """
    return CosineDecaySpec(init_value, decay_steps, alpha, exponent)


def join_schedules(schedules: Sequence[Any], boundaries: Sequence[int]) -> SequentialSpec:
    """optax's ``join_schedules``: schedule ``i`` from ``boundaries[i - 1]`` on, evaluated at the
    step minus that boundary. A ``SequentialSpec`` (torch's ``SequentialLR`` restarts each phase
    at its milestone: the same thing); boundaries must be ints >= 1, strictly increasing.

    >>> import clr_spec
    >>> spec = clr_spec.join_schedules([clr_spec.linear_schedule(0.0, 1.0, 2),
    ...                                 clr_spec.linear_schedule(1.0, 0.0, 2)], boundaries=[2])
    >>> spec.lr(range(6)).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    return SequentialSpec(list(schedules), list(boundaries))


def warmup_cosine_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: int,
    decay_steps: int,
    end_value: float = 0.0,
    exponent: float = 1.0,
) -> Any:
    """optax's ``warmup_cosine_decay_schedule``: linear from ``init_value`` to ``peak_value`` over
    ``warmup_steps``, then a cosine to ``end_value`` that holds. As in optax, ``decay_steps`` is
    the length of the whole schedule, warmup included: the cosine runs ``decay_steps -
    warmup_steps`` steps, with ``alpha = end_value / peak_value`` (0 where ``peak_value`` is 0).

    Returns a ``SequentialSpec`` of a ``LinearScheduleSpec`` and a ``CosineDecaySpec`` (just the
    ``CosineDecaySpec`` where ``warmup_steps`` is 0: optax's warmup then never runs).

    >>> import clr_spec
    >>> spec = clr_spec.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=2, decay_steps=6)
    >>> spec.lr(range(8)).round(6).tolist()
    [0.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    """
    warmup_steps = v.integer("warmup_steps", warmup_steps, low=0)
    decay_steps = v.integer("decay_steps", decay_steps, low=1)
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"decay_steps must be > warmup_steps: in optax's warmup_cosine_decay_schedule it is the whole "
            f"schedule's length, warmup included (the cosine runs decay_steps - warmup_steps steps); got "
            f"decay_steps={decay_steps}, warmup_steps={warmup_steps}"
        )
    peak, end = _value("peak_value", peak_value), _value("end_value", end_value)
    decay = CosineDecaySpec(
        peak, decay_steps - warmup_steps, alpha=0.0 if peak == 0.0 else end / peak, exponent=exponent
    )
    if warmup_steps == 0:
        return decay
    return SequentialSpec([LinearScheduleSpec(init_value, peak, warmup_steps), decay], [warmup_steps])


def warmup_cyclic_cosine_schedule(
    init_value: float,
    base_value: float,
    peak_value: float,
    warmup_steps: int,
    cycle_steps: int,
    num_cycles: int,
    decay_steps: int,
    end_value: float = 0.0,
    exponent: float = 1.0,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> SequentialSpec:
    """A warmup, cycles, then a cosine that holds: ``warmup_cosine_decay_schedule`` with cyclical
    learning rates (Smith 2017) between the warmup and the decay, in optax's keywords.

    - warmup: linear from ``init_value`` to ``base_value`` over ``warmup_steps`` (0: none);
    - ``num_cycles`` cycles of ``cycle_steps`` steps each, up from ``base_value`` to
      ``peak_value`` in the first half and back (a ``CyclicSpec``: ``mode`` "triangular",
      "triangular2" (the amplitude halves each cycle) or "exp_range" (times ``gamma**step``));
      lr only (``cycle_momentum=False``, as an optax schedule sets no momentum);
    - a cosine from ``base_value`` to ``end_value`` (``CosineDecaySpec``, ``alpha = end_value /
      base_value``), held after.

    As for ``warmup_cosine_decay_schedule``, ``decay_steps`` is the whole schedule's length: the
    cosine runs ``decay_steps - warmup_steps - num_cycles * cycle_steps`` steps (at least 1).

    >>> import clr_spec
    >>> spec = clr_spec.warmup_cyclic_cosine_schedule(0.0, 0.1, 0.5, warmup_steps=2, cycle_steps=4,
    ...                                               num_cycles=2, decay_steps=14)
    >>> spec.lr(range(16)).round(6).tolist()
    [0.0, 0.05, 0.1, 0.3, 0.5, 0.3, 0.1, 0.3, 0.5, 0.3, 0.1, 0.085355, 0.05, 0.014645, 0.0, 0.0]
    """
    warmup_steps = v.integer("warmup_steps", warmup_steps, low=0)
    cycle_steps = v.integer("cycle_steps", cycle_steps, low=2, why=" (steps of one cycle, up then down)")
    num_cycles = v.integer("num_cycles", num_cycles, low=1)
    decay_steps = v.integer("decay_steps", decay_steps, low=1)
    decay_start = warmup_steps + num_cycles * cycle_steps
    if decay_steps <= decay_start:
        raise ValueError(
            f"decay_steps must be > warmup_steps + num_cycles * cycle_steps = {decay_start}: it is the "
            f"whole schedule's length, as in optax's warmup_cosine_decay_schedule; got {decay_steps}"
        )
    base = _value("base_value", base_value)
    end = _value("end_value", end_value)
    cycles = CyclicSpec(
        base_lr=base,
        max_lr=_value("peak_value", peak_value),
        step_size_up=cycle_steps / 2,
        mode=mode,
        gamma=gamma,
        cycle_momentum=False,
    )
    decay = CosineDecaySpec(
        base, decay_steps - decay_start, alpha=0.0 if base == 0.0 else end / base, exponent=exponent
    )
    if warmup_steps == 0:
        return SequentialSpec([cycles, decay], [decay_start])
    return SequentialSpec(
        [LinearScheduleSpec(init_value, base, warmup_steps), cycles, decay], [warmup_steps, decay_start]
    )
