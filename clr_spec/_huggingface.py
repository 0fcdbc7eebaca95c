"""Hugging Face transformers' learning-rate schedules as one spec, chosen by name as
``transformers.get_scheduler`` and ``TrainingArguments.lr_scheduler_type`` name them.

transformers builds each schedule as a torch ``LambdaLR`` over a module-level function of
``transformers/optimization.py`` bound with ``functools.partial`` (v5 dropped its Flax and
TensorFlow code, so they have no JAX form there any more). ``HuggingFaceSpec(name, lr,
num_warmup_steps, num_training_steps, **keywords)`` takes ``get_scheduler``'s arguments, with
each name's keywords and defaults (``scheduler_specific_kwargs``, the Trainer's
``lr_scheduler_kwargs``); its factor is written once over an ``Ops`` namespace in
transformers' own order of operations, and the lr is ``lr * factor(step)`` as ``LambdaLR``
computes ``base_lr * lmbda(step)``: ``spec.lr`` is transformers' torch run bit for bit, and
clr_optax's float32 schedule is ``float32`` of it on CPU (measured; the float32-only path of
TPUs within a stated bound: docs/guides/huggingface.md).

``"warmup_stable_decay"`` is a ``WSDSpec`` (``clr_spec._wsd``: the same keywords, and cycles);
``huggingface_spec(name, ...)`` mirrors ``get_scheduler`` for every name, returning either.
torch has no class of these: ``clr_torch.scheduler`` runs them as its ``SpecLR``.

Reading transformers' schedulers back (without importing transformers): ``clr_spec.from_torch``
of the live ``LambdaLR`` identifies the schedule by its partial's function (module and name)
and takes the partial's keywords (``LambdaSpec.from_torch``'s hook, ``from_functions``); a
saved ``scheduler.pt`` holds no parameters, so ``huggingface_from_state(state, name, ...)``
takes them from the caller and the step from the state.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Mapping, Optional

import numpy as np

from . import _validation as v
from ._contract import torch_state
from ._family import FormulaSpec, check_document, group_values, register

TRANSFORMERS_MODULE = "transformers.optimization"

# Each name's keywords beyond lr, num_warmup_steps and num_training_steps, with get_scheduler's
# defaults (None where transformers computes it from the others), and which of the two step
# counts it uses (get_scheduler ignores the other).
SCHEDULES: dict[str, tuple[bool, bool, dict[str, Any]]] = {
    "linear": (True, True, {}),
    "cosine": (True, True, {"num_cycles": 0.5}),
    "cosine_with_restarts": (True, True, {"num_cycles": 1}),
    "polynomial": (True, True, {"lr_end": 1e-7, "power": 1.0, "lr_init": None}),
    "constant": (False, False, {}),
    "constant_with_warmup": (True, False, {}),
    "inverse_sqrt": (True, False, {"timescale": None}),
    "cosine_with_min_lr": (True, True, {"num_cycles": 0.5, "min_lr_rate": None}),
    "cosine_warmup_with_min_lr": (True, True, {"num_cycles": 0.5, "min_lr_rate": None, "warmup_lr_rate": None}),
}
# Names get_scheduler knows that are another spec (or none).
OTHER_NAMES = {
    "warmup_stable_decay": "is a WSDSpec (the same keywords: clr_spec.WSDSpec, or clr_spec.huggingface_spec(...))",
    "reduce_lr_on_plateau": "is torch's ReduceLROnPlateau: clr_spec.PlateauSpec (from_torch reads it)",
    "greedy": "(transformers' GreedyLR, driven by the loss) has no spec",
}
ALL_NAMES = (*SCHEDULES, *OTHER_NAMES)

# The function of each schedule in transformers.optimization (the partial's ``func.__name__``).
# transformers defines _get_cosine_schedule_with_warmup_lr_lambda twice; the second, with
# min_lr_rate, serves "cosine" (no min_lr_rate bound) and "cosine_with_min_lr" (bound).
FUNCTIONS = {
    "_get_constant_lambda": "constant",
    "_get_constant_schedule_with_warmup_lr_lambda": "constant_with_warmup",
    "_get_linear_schedule_with_warmup_lr_lambda": "linear",
    "_get_cosine_schedule_with_warmup_lr_lambda": "cosine",
    "_get_cosine_with_min_lr_schedule_with_warmup_lr_lambda": "cosine_with_min_lr",  # transformers < 4.40
    "_get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda": "cosine_with_restarts",
    "_get_polynomial_decay_schedule_with_warmup_lr_lambda": "polynomial",
    "_get_inverse_sqrt_schedule_lr_lambda": "inverse_sqrt",
    "_get_cosine_with_min_lr_schedule_with_warmup_lr_rate_lambda": "cosine_warmup_with_min_lr",
    "_get_wsd_scheduler_lambda": "warmup_stable_decay",
}


def schedule_name(name: Any) -> str:
    """A get_scheduler name (a str or transformers' ``SchedulerType``) this module has a spec for."""
    name = getattr(name, "value", name)  # SchedulerType is a str Enum
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (get_scheduler's name), got {type(name).__name__} {v.shown(name)}")
    if name in OTHER_NAMES:
        raise ValueError(f"the Hugging Face schedule {name!r} {OTHER_NAMES[name]}")
    if name not in SCHEDULES:
        raise ValueError(f"name must be one of get_scheduler's names {list(ALL_NAMES)}, got {v.shown(name)}")
    return name


def _steps(name: str, value: Any, schedule: str) -> int:
    if value is None:
        raise ValueError(f"{schedule} requires `{name}`, please provide that argument (as get_scheduler does)")
    return v.integer(name, value, low=0)


def _ratio(name: str, value: Any) -> float:
    return v.in_range(name, value, 0.0, 1.0)


@register
class HuggingFaceSpec(FormulaSpec):
    r"""A Hugging Face transformers schedule by its ``get_scheduler`` name: ``lr * factor(k)``,
    the factor transformers' own lr lambda, operation for operation.

    .. math:: \text{lr}(k) = \text{lr} \cdot \text{factor}_{\text{name}}(k)

    Args:
      name: ``"linear"``, ``"cosine"``, ``"cosine_with_restarts"``, ``"polynomial"``,
        ``"constant"``, ``"constant_with_warmup"``, ``"inverse_sqrt"``, ``"cosine_with_min_lr"``,
        ``"cosine_warmup_with_min_lr"`` (``"warmup_stable_decay"``: ``WSDSpec``).
      lr: the lr transformers' ``LambdaLR`` scales (the optimizer's, its ``base_lrs``): a float
        or one per param group.
      num_warmup_steps, num_training_steps: ints >= 0, where the name uses them (get_scheduler
        ignores them otherwise; so does the spec, keeping None).
      num_cycles: cosine waves (``"cosine"``, default 0.5; the min-lr cosines, 0.5) or hard
        restarts (``"cosine_with_restarts"``, default 1), a real in [0, 2**53].
      lr_end, power: ``"polynomial"``'s end lr (default 1e-7, in [0, lr_init)) and power
        (default 1.0, >= 0); ``lr_init``: the optimizer's ``defaults["lr"]``, which transformers
        divides by (default: ``lr``, when it is one number).
      timescale: ``"inverse_sqrt"``'s, an int >= 1 (default ``num_warmup_steps or 10_000``).
      min_lr_rate or min_lr: the min-lr cosines' floor, as a ratio of the lr (in [0, 1]) or as
        an lr (then ``min_lr / lr``, transformers' ``min_lr / optimizer.defaults["lr"]``; kept
        as that ratio, which is what transformers keeps).
      warmup_lr_rate: ``"cosine_warmup_with_min_lr"``'s first warmup factor, in [0, 1] or None.

    >>> from clr_spec import HuggingFaceSpec
    >>> spec = HuggingFaceSpec("linear", lr=1.0, num_warmup_steps=2, num_training_steps=6)
    >>> spec.lr(range(7)).tolist()
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0]
    """

    FORMAT = "clr.HuggingFaceSpec"
    TORCH_CLASS = ""  # transformers' LambdaLR of a partial: clr_torch runs it as SpecLR
    NOT_IN_SEQUENCE = (
        "a Hugging Face schedule is a whole run's schedule, warmup included (transformers has no sequence of them)"
    )

    name: str
    initial_lr: Any
    num_warmup_steps: Optional[int]
    num_training_steps: Optional[int]
    keywords: tuple

    def __init__(
        self,
        name: Any,
        lr: Any,
        num_warmup_steps: Optional[int] = None,
        num_training_steps: Optional[int] = None,
        **keywords: Any,
    ):
        name = schedule_name(name)
        uses_warmup, uses_total, defaults = SCHEDULES[name]
        set_ = functools.partial(object.__setattr__, self)
        set_("name", name)
        set_("initial_lr", v.bound("lr", lr, v.non_negative))
        set_("num_warmup_steps", _steps("num_warmup_steps", num_warmup_steps, name) if uses_warmup else None)
        set_("num_training_steps", _steps("num_training_steps", num_training_steps, name) if uses_total else None)
        keywords = dict(keywords)  # the caller's dict is not changed
        min_lr = keywords.pop("min_lr", None) if "min_lr_rate" in defaults else None
        unknown = sorted(set(keywords) - set(defaults))
        if unknown:
            raise TypeError(
                f"the Hugging Face schedule {name!r} takes no keyword(s) {unknown}; its keywords: "
                f"{sorted(defaults) + (['min_lr'] if 'min_lr_rate' in defaults else [])}"
            )
        values = {**defaults, **keywords}
        set_("keywords", tuple(self._checked(name, values, min_lr).items()))

    def _checked(self, name: str, values: dict[str, Any], min_lr: Any) -> dict[str, Any]:
        """Each keyword validated (transformers' defaults resolved as it resolves them)."""
        out: dict[str, Any] = {}
        if "num_cycles" in values:
            out["num_cycles"] = v.in_range("num_cycles", values["num_cycles"], 0.0, float(v.MAX_INT))
        if name == "polynomial":
            lr_init = values["lr_init"]
            if lr_init is None:
                lr_init = self._one_lr("lr_init", "the optimizer's defaults['lr'], which transformers divides by")
            out["lr_end"] = v.non_negative("lr_end", values["lr_end"])
            out["power"] = v.in_range(
                "power",
                values["power"],
                0.0,
                math.inf,
                high_open=True,
                why=" (transformers raises ZeroDivisionError at the last step for < 0)",
            )
            out["lr_init"] = v.in_range(
                "lr_init",
                lr_init,
                out["lr_end"],
                math.inf,
                low_open=True,
                high_open=True,
                why=" and > lr_end (transformers: lr_end must be smaller than initial lr)",
            )
            if self.num_training_steps == self.num_warmup_steps:
                raise ValueError(
                    f"polynomial needs num_training_steps != num_warmup_steps (both "
                    f"{self.num_warmup_steps}): transformers divides by their difference at that step"
                )
        if name == "inverse_sqrt":
            timescale = values["timescale"]
            if timescale is None:
                timescale = self.num_warmup_steps or 10_000
            out["timescale"] = v.integer("timescale", timescale, low=1)
        if "min_lr_rate" in values:
            rate = values["min_lr_rate"]
            if min_lr is not None and rate is not None:
                raise ValueError("Only one of min_lr or min_lr_rate should be set (as transformers says)")
            if min_lr is not None:
                rate = v.non_negative("min_lr", min_lr) / self._one_lr(
                    "min_lr_rate", "min_lr is divided by the optimizer's lr", positive=True
                )
            if rate is None:
                raise ValueError(
                    f"{name} needs min_lr or min_lr_rate (transformers: one of them should be set "
                    "through the `lr_scheduler_kwargs`)"
                )
            out["min_lr_rate"] = _ratio("min_lr_rate", rate)
        if "warmup_lr_rate" in values:
            rate = values["warmup_lr_rate"]
            out["warmup_lr_rate"] = None if rate is None else _ratio("warmup_lr_rate", rate)
        return out

    def _one_lr(self, keyword: str, why: str, positive: bool = False) -> float:
        if isinstance(self.initial_lr, tuple):
            raise ValueError(f"{self.name}: with one lr per param group, give {keyword}= ({why})")
        if positive and self.initial_lr <= 0:
            raise ValueError(f"{self.name}: lr must be > 0 here ({why}), got {self.initial_lr!r}")
        return float(self.initial_lr)

    def _values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "lr": self.initial_lr,
            "num_warmup_steps": self.num_warmup_steps,
            "num_training_steps": self.num_training_steps,
            **dict(self.keywords),
        }

    @property
    def warmup_steps(self) -> int:
        """``num_warmup_steps`` as an int (0 where the name takes none)."""
        return self.num_warmup_steps or 0

    @property
    def training_steps(self) -> int:
        """``num_training_steps`` as an int (0 where the name takes none)."""
        return self.num_training_steps or 0

    def keyword(self, name: str) -> Any:
        """One of the schedule's keywords (``num_cycles``, ``lr_end``, ...)."""
        return dict(self.keywords)[name]

    def replace(self, **changes: Any) -> "HuggingFaceSpec":
        return type(self)(**{**self._values(), **changes})

    # -------------------------------------------------------------- structure, display
    @property
    def num_groups(self) -> Optional[int]:
        return len(self.initial_lr) if isinstance(self.initial_lr, tuple) else None

    def group_lr(self, group: int = 0) -> float:
        return v.pick_group(self.initial_lr, group, self.num_groups)

    def describe(self) -> str:
        parts = [
            f"{k}={val}"
            for k, val in (("num_warmup_steps", self.num_warmup_steps), ("num_training_steps", self.num_training_steps))
            if val is not None
        ]
        parts += [f"{k}={val}" for k, val in self.keywords]
        return f"Hugging Face's {self.name!r} schedule (get_scheduler) times lr" + (
            f": {', '.join(parts)}" if parts else ""
        )

    def landmarks(self) -> tuple[int, ...]:
        return tuple(k for k in (self.num_warmup_steps, self.num_training_steps) if k)

    # -------------------------------------------------------------- values
    def values_at(self, ops: Any, steps: Any, what: str, group: int) -> Any:
        if what != "lr":
            self.check_sets_momentum()
        # LambdaLR: base_lr * lmbda(last_epoch)
        return self.group_lr(group) * self.factor(ops, steps)

    def factor(self, ops: Any, steps: Any) -> Any:
        """transformers' lr lambda at ``steps`` over ``ops``, in its order of operations."""
        k = steps.astype(np.float64 if ops.in_float64 else np.float32)  # float(current_step)
        return _FACTORS[self.name](self, ops, steps, k)

    # -------------------------------------------------------------- torch
    def torch_kwargs(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_torch(cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any) -> Any:
        """transformers' live ``LambdaLR`` (its partials name the schedule and hold its
        parameters), or its state with the parameters given (``name=...``, get_scheduler's
        arguments: the state holds none). ``optimizer_state`` is not needed."""
        if isinstance(scheduler_or_state, Mapping):
            if "name" not in kwargs:
                raise ValueError(
                    "a LambdaLR state holds no Hugging Face parameters (torch saves no function): pass "
                    "name=... and get_scheduler's arguments, or use clr_spec.huggingface_from_state"
                )
            return huggingface_from_state(scheduler_or_state, **kwargs)[0]
        spec = from_functions(
            _lr_lambdas(scheduler_or_state), torch_state(_lambda_spec(), scheduler_or_state)["base_lrs"]
        )
        if spec is None:
            raise ValueError(f"this {type(scheduler_or_state).__name__}'s functions are not Hugging Face's")
        if kwargs:
            _check_agrees(spec, huggingface_from_state(scheduler_or_state.state_dict(), **kwargs)[0])
        return spec

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_dict takes no keywords, got {sorted(kwargs)}")
        if not isinstance(data, Mapping):
            raise TypeError(f"a {cls.__name__} document must be a mapping, got {type(data).__name__}")
        base = {"name", "lr", "num_warmup_steps", "num_training_steps"}
        every = base.union(*(keywords for _, _, keywords in SCHEDULES.values()))
        check_document(cls, data, names=every, required=("name", "lr"))  # format and version first
        name = schedule_name(data.get("name"))
        check_document(cls, data, names=base | set(SCHEDULES[name][2]), required=("name", "lr"))
        return cls(**{k: val for k, val in data.items() if k not in ("format", "version")})


# ------------------------------------------------------------------------------ the factors
# Each is transformers' function of the same name, line for line: Python's float arithmetic on
# float(current_step) (exact below 2**53); a branch is computed at every step and picked with
# where, so each is evaluated where it cannot divide by 0 or take a root of a negative number.
def _warmup(ops: Any, k: Any, warmup: int) -> Any:
    # float(current_step) / float(max(1, num_warmup_steps))
    return ops.exact_divide(k, float(max(1, warmup)))


def _warmup_or(ops: Any, steps: Any, k: Any, warmup: int, numerator: Any, denominator: float) -> tuple[Any, Any]:
    """(``steps < warmup``, the warmup's ``float(current_step) / float(max(1, num_warmup_steps))``
    there and ``numerator / denominator`` after): one IEEE division of the phase's numerator by its
    denominator, the same quotient as either division (XLA would run both at every step)."""
    before = _before(steps, warmup)
    top = ops.where(before, k, numerator)
    return before, ops.exact_divide(top, ops.where(before, float(max(1, warmup)), float(denominator)))


def _positive(ops: Any, x: Any) -> Any:
    # Python's max(0.0, x) (and max(0, x)): x where x > 0, else 0.
    return ops.where(x > 0, x, 0.0)


def _before(steps: Any, limit: int) -> Any:
    """``steps < limit``, as ``steps <= limit - 1`` against a bound the steps' dtype holds (int32 on
    the float32-only path: a limit past 2**31 - 1 is never reached, even by the last count)."""
    return steps <= v.below_int_range(limit - 1, steps)


def _warmup_or_progress(ops: Any, spec: HuggingFaceSpec, steps: Any, k: Any) -> tuple[Any, Any]:
    """``_warmup_or`` the cosines' progress after the warmup: float(current_step -
    num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))."""
    w, t = spec.warmup_steps, spec.training_steps
    return _warmup_or(ops, steps, k, w, k - float(w), max(1, t - w))


def _floor(ops: Any, factor: Any, min_lr_rate: float) -> Any:
    # factor * (1 - min_lr_rate) + min_lr_rate, two roundings (no fused multiply-add)
    return ops.unfused(factor * (1 - min_lr_rate)) + min_lr_rate


def _linear(spec: HuggingFaceSpec, ops: Any, steps: Any, k: Any) -> Any:
    w, t = spec.warmup_steps, spec.training_steps
    # max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
    before, x = _warmup_or(ops, steps, k, w, float(t) - k, max(1, t - w))
    return ops.where(before, x, _positive(ops, x))


def _cosine(spec: HuggingFaceSpec, ops: Any, steps: Any, k: Any) -> Any:
    # "cosine" and "cosine_with_min_lr" share transformers' function (min_lr_rate=0.0 for "cosine")
    w, t = spec.warmup_steps, spec.training_steps
    if not ops.in_float64 and spec.keyword("num_cycles") == 0.5:
        # float32 alone (TPUs): 0.5 * (1 + cos(pi x)) cancels near the bottom; the same value as the
        # anneal's accurate float32 form (cos**2 of half the angle, a sine near the end), at the
        # step's exact distance from the warmup's end (a warmup past the int32 steps is never left).
        before, x = _before(steps, w), _warmup(ops, k, w)
        factor = ops.cosine_anneal(steps - v.below_int_range(w, steps), float(max(1, t - w)))
    else:
        before, x = _warmup_or_progress(ops, spec, steps, k)  # the progress after the warmup
        factor = 0.5 * (1.0 + ops.cos((math.pi * spec.keyword("num_cycles") * 2.0) * x))
    rate = spec.keyword("min_lr_rate") if spec.name == "cosine_with_min_lr" else 0.0
    return ops.where(before, x, _positive(ops, _floor(ops, factor, rate)))


def _cosine_with_restarts(spec: HuggingFaceSpec, ops: Any, steps: Any, k: Any) -> Any:
    before, progress = _warmup_or_progress(ops, spec, steps, k)  # the warmup's fraction there
    position = ops.remainder(spec.keyword("num_cycles") * progress, 1.0)  # Python's float % 1.0
    factor = _positive(ops, 0.5 * (1.0 + ops.cos(math.pi * position)))
    return ops.where(before, progress, ops.where(progress >= 1.0, 0.0, factor))


def _polynomial(spec: HuggingFaceSpec, ops: Any, steps: Any, k: Any) -> Any:
    w, t = spec.warmup_steps, spec.training_steps
    lr_end, power, lr_init = spec.keyword("lr_end"), spec.keyword("power"), spec.keyword("lr_init")
    lr_range = lr_init - lr_end
    decay_steps = t - w  # != 0 (checked); < 0 only where this branch is never taken
    done = ops.minimum(ops.maximum(k, float(w)), float(t))  # the branch's steps, where it is taken
    # pct_remaining = 1 - (current_step - num_warmup_steps) / decay_steps
    before, x = _warmup_or(ops, steps, k, w, done - float(w), decay_steps if decay_steps > 0 else 1)
    pct_remaining = ops.maximum(1 - x, 0.0)  # (below 0 only where t < w: not taken)
    decay = ops.unfused(lr_range * ops.real_power(pct_remaining, power)) + lr_end
    return ops.where(
        before, x, ops.where(steps > v.below_int_range(t, steps), lr_end / lr_init, ops.exact_divide(decay, lr_init))
    )


def _constant(spec: HuggingFaceSpec, ops: Any, steps: Any, k: Any) -> Any:
    return ops.ones_like(k)  # _get_constant_lambda: 1


def _constant_with_warmup(spec: HuggingFaceSpec, ops: Any, steps: Any, k: Any) -> Any:
    w = spec.warmup_steps
    return ops.where(_before(steps, w), ops.exact_divide(k, float(max(1.0, w))), 1.0)


def _inverse_sqrt(spec: HuggingFaceSpec, ops: Any, steps: Any, k: Any) -> Any:
    w, timescale = spec.warmup_steps, spec.keyword("timescale")
    shift = timescale - w
    # 1.0 / math.sqrt((current_step + shift) / timescale), at steps >= num_warmup_steps
    decay = ops.inverse_sqrt(ops.exact_divide(ops.maximum(k, float(w)) + float(shift), float(timescale)))
    return ops.where(_before(steps, w), _warmup(ops, k, w), decay)


def _cosine_warmup_with_min_lr(spec: HuggingFaceSpec, ops: Any, steps: Any, k: Any) -> Any:
    # Everything in floats: current_step, num_warmup_steps and num_training_steps are float()ed first.
    w, t = float(spec.warmup_steps), float(spec.training_steps)
    warmup_lr_rate, min_lr_rate = spec.keyword("warmup_lr_rate"), spec.keyword("min_lr_rate")
    # the warmup's (current_step + 1) / max(1, num_warmup_steps), or warmup_lr_rate + (1 - warmup_lr_rate)
    # * current_step / max(1, num_warmup_steps - 1); then the progress (current_step - num_warmup_steps
    # + 1) / max(1, num_training_steps - num_warmup_steps): one division of the phase's terms
    if warmup_lr_rate is None:
        top, bottom = k + 1.0, max(1.0, w)
    else:
        top, bottom = (1.0 - warmup_lr_rate) * k, float(max(1, w - 1))
    before = _before(steps, spec.warmup_steps)
    x = ops.exact_divide(ops.where(before, top, ops.opaque(k - w) + 1.0), ops.where(before, bottom, max(1.0, t - w)))
    warm = x if warmup_lr_rate is None else warmup_lr_rate + x
    factor = 0.5 * (1.0 + ops.cos((math.pi * spec.keyword("num_cycles") * 2.0) * x))
    return ops.where(before, warm, _positive(ops, _floor(ops, factor, min_lr_rate)))


_FACTORS = {
    "linear": _linear,
    "cosine": _cosine,
    "cosine_with_min_lr": _cosine,
    "cosine_with_restarts": _cosine_with_restarts,
    "polynomial": _polynomial,
    "constant": _constant,
    "constant_with_warmup": _constant_with_warmup,
    "inverse_sqrt": _inverse_sqrt,
    "cosine_warmup_with_min_lr": _cosine_warmup_with_min_lr,
}
assert set(_FACTORS) == set(SCHEDULES)


# ------------------------------------------------------------------------------ building by name
def huggingface_spec(
    name: Any,
    lr: Any,
    num_warmup_steps: Optional[int] = None,
    num_training_steps: Optional[int] = None,
    **scheduler_specific_kwargs: Any,
) -> Any:
    """The spec of ``transformers.get_scheduler(name, optimizer, num_warmup_steps,
    num_training_steps, scheduler_specific_kwargs)`` for an optimizer whose lr is ``lr``: a
    ``HuggingFaceSpec``, or a ``WSDSpec`` for ``"warmup_stable_decay"``.

    >>> from clr_spec import huggingface_spec
    >>> huggingface_spec("cosine", 1e-3, 100, 1000).describe()
    "Hugging Face's 'cosine' schedule (get_scheduler) times lr: num_warmup_steps=100, num_training_steps=1000, num_cycles=0.5"
    """
    if getattr(name, "value", name) == "warmup_stable_decay":
        from ._wsd import WSDSpec

        if num_warmup_steps is None:
            raise ValueError("warmup_stable_decay requires `num_warmup_steps`, please provide that argument")
        return WSDSpec(
            lr=lr, num_warmup_steps=num_warmup_steps, num_training_steps=num_training_steps, **scheduler_specific_kwargs
        )
    return HuggingFaceSpec(name, lr, num_warmup_steps, num_training_steps, **scheduler_specific_kwargs)


# ------------------------------------------------------------------------------ reading transformers' objects
def _lambda_spec() -> Any:
    from ._lambdas import LambdaSpec

    return LambdaSpec


def _lr_lambdas(scheduler: Any) -> list:
    functions = getattr(scheduler, "lr_lambdas", None)
    if not isinstance(functions, (list, tuple)):
        raise TypeError(f"from_torch takes transformers' LambdaLR here, got {type(scheduler).__name__}")
    return list(functions)


def _function_of(fn: Any) -> tuple[Any, tuple, dict]:
    """(the function, its bound positional arguments, its bound keywords) of a partial or a function."""
    if isinstance(fn, functools.partial):
        return fn.func, tuple(fn.args), dict(fn.keywords)
    return fn, (), {}


def is_huggingface(fn: Any) -> bool:
    """Whether ``fn`` (an lr lambda) is a function of transformers (by its module: not imported)."""
    module = getattr(_function_of(fn)[0], "__module__", None) or ""
    return isinstance(module, str) and (module == "transformers" or module.startswith("transformers."))


def from_functions(functions: Any, base_lrs: Any) -> Any:
    """The spec of transformers' ``LambdaLR`` whose ``lr_lambdas`` are ``functions`` and whose
    ``base_lrs`` are ``base_lrs``; None where no function is transformers'. A function of
    transformers' that is not one of its schedules' (``FUNCTIONS``) is refused, named."""
    functions = list(functions) if isinstance(functions, (list, tuple)) else [functions]
    if not functions or not any(is_huggingface(fn) for fn in functions):
        return None
    specs = {_spec_of_function(fn, base_lrs) for fn in functions}
    if len(specs) != 1:
        raise ValueError(
            "this LambdaLR's param groups have different Hugging Face schedules: a spec has one "
            f"({sorted(map(repr, specs))})"
        )
    return specs.pop()


def _spec_of_function(fn: Any, base_lrs: Any) -> Any:
    func, args, keywords = _function_of(fn)
    module, name = getattr(func, "__module__", "?"), getattr(func, "__qualname__", getattr(func, "__name__", "?"))
    if not is_huggingface(fn):
        raise ValueError(f"this LambdaLR mixes Hugging Face's schedule with another function ({module}.{name})")
    schedule = FUNCTIONS.get(name) if module == TRANSFORMERS_MODULE else None
    if schedule is None:
        raise ValueError(
            f"{module}.{name} is not a Hugging Face schedule clr_spec knows (it reads "
            f"{sorted(FUNCTIONS)} of {TRANSFORMERS_MODULE}); no spec is guessed for it"
        )
    if args:
        raise ValueError(f"{module}.{name} has positional arguments bound ({len(args)}): transformers binds keywords")
    if schedule == "cosine" and "min_lr_rate" in keywords:
        schedule = "cosine_with_min_lr"  # the same function, with the floor bound
    lr = group_values(base_lrs, "base_lrs", "LambdaLR")
    try:
        if schedule == "warmup_stable_decay":
            from ._wsd import WSDSpec

            if "warmup_type" not in keywords:
                # transformers before warmup_type existed warmed up from 0, not from min_lr_ratio
                raise ValueError(
                    f"{module}.{name} has no warmup_type: an older transformers' WSD, which warms up "
                    "from 0 rather than from min_lr_ratio; clr_spec reads transformers' current one"
                )
            return WSDSpec(lr=lr, **keywords)
        return HuggingFaceSpec(schedule, lr, **keywords)
    except TypeError as err:  # a keyword this version of the spec does not know: another transformers
        raise ValueError(
            f"{module}.{name}'s keywords {sorted(keywords)} are not those clr_spec reads for {schedule!r}: {err}"
        ) from err


def _check_agrees(spec: Any, given: Any) -> None:
    if spec != given:
        raise ValueError(f"the scheduler is {spec!r}, not the schedule given ({given!r})")


def huggingface_from_state(
    state: Mapping,
    name: Any,
    num_warmup_steps: Optional[int] = None,
    num_training_steps: Optional[int] = None,
    **scheduler_specific_kwargs: Any,
) -> tuple[Any, int]:
    """(the spec, the step) of a saved transformers scheduler (``scheduler.pt``: a ``LambdaLR``
    state, which holds the lrs and the step but no parameters), given get_scheduler's arguments
    (the Trainer's ``lr_scheduler_type``, warmup steps, ``max_steps``, ``lr_scheduler_kwargs``).

    The next update uses ``spec.lr(step)``: resume with ``clr_torch.scheduler(opt, spec,
    step=step)`` or ``clr_optax.set_count(state, step)``.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a LambdaLR's state_dict() (a mapping), got {type(state).__name__}")
    v.nesting_depth(state, v.MAX_JSON_DEPTH, "the scheduler state")
    state = torch_state(_lambda_spec(), state)
    saved = state["lr_lambdas"]
    if not isinstance(saved, (list, tuple)) or any(not (entry is None or entry == {}) for entry in saved):
        raise ValueError(
            "not the state of a Hugging Face LambdaLR: its lr_lambdas must be [None or {}] per group "
            f"(transformers' functions and partials keep no attributes), got {v.shown(saved)}"
        )
    lr = group_values(state["base_lrs"], "base_lrs", "LambdaLR")
    if isinstance(lr, list):
        lr = tuple(lr)
    if isinstance(lr, tuple) and len(saved) != len(lr):
        raise ValueError(f"the LambdaLR state has {len(saved)} lr_lambdas and {len(lr)} base_lrs")
    step = state["last_epoch"]
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < v.MAX_INT:
        raise ValueError(f"the LambdaLR state's last_epoch must be an int in [0, 2**53), got {v.shown(step)}")
    spec = huggingface_spec(name, lr, num_warmup_steps, num_training_steps, **scheduler_specific_kwargs)
    return spec, step


# ------------------------------------------------------------------------------ a Trainer's checkpoint directory
SCHEDULER_FILE, TRAINER_STATE_FILE, TRAINING_ARGS_FILE = "scheduler.pt", "trainer_state.json", "training_args.bin"
_MAX_ARGS_BYTES = 16 * 2**20  # a TrainingArguments pickle is a few kB


class _Stub:
    """What the restricted unpickler makes of every object: its arguments and state, no code."""

    args: tuple = ()
    state: Any = None

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Stub":
        obj = super().__new__(cls)
        obj.args = args
        obj.state = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _plain(value: Any) -> Any:
    """A stub of a str Enum (SchedulerType("cosine")) as its value; anything else as it is."""
    if isinstance(value, _Stub) and len(value.args) == 1 and isinstance(value.args[0], (str, int, float)):
        return value.args[0]
    return value


def read_training_args(path: str) -> dict[str, Any]:
    """The fields of a Trainer's ``training_args.bin`` (a ``torch.save`` of its TrainingArguments),
    read without running any of its code: every class the pickle names becomes a stub that keeps
    its arguments and state (no import, no constructor, no ``__reduce__`` of the real class)."""
    import io
    import pickle
    import zipfile

    class Restricted(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            return type(name, (_Stub,), {"__module__": "clr_spec._stub"})

        def persistent_load(self, pid: Any) -> Any:  # torch's storages: none in TrainingArguments
            return None

    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
            if len(pickles) != 1 or archive.getinfo(pickles[0]).file_size > _MAX_ARGS_BYTES:
                raise ValueError(f"{path}: not a torch.save file of TrainingArguments (no single data.pkl)")
            raw = archive.read(pickles[0])
        obj = Restricted(io.BytesIO(raw)).load()
    except (
        OSError,
        zipfile.BadZipFile,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        IndexError,
        TypeError,
        RecursionError,
    ) as err:
        raise ValueError(f"{path}: cannot read its TrainingArguments ({type(err).__name__}: {err})") from err
    state = obj.state if isinstance(obj, _Stub) else None
    if isinstance(state, tuple) and state and isinstance(state[0], dict):
        state = state[0]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a pickled TrainingArguments (no fields)")
    return {str(k): _plain(val) for k, val in state.items()}


def _read_json(path: str) -> dict[str, Any]:
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: cannot read it ({type(err).__name__}: {err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a trainer state (a JSON object)")
    return data


def trainer_checkpoint(
    path: str,
    load: Any,
    name: Any = None,
    num_warmup_steps: Optional[int] = None,
    num_training_steps: Optional[int] = None,
    scheduler_specific_kwargs: Optional[Mapping] = None,
) -> tuple[Any, int, list[str]]:
    """(the spec, the step, where each value came from) of a Trainer checkpoint: a directory
    (``checkpoint-500/``) or its ``scheduler.pt``, loaded with ``load``.

    The parameters given win; the others come from the checkpoint's saved arguments where they
    are there, as the Trainer computed them: ``training_args.bin`` (``lr_scheduler_type``,
    ``warmup_steps`` (a ratio below 1, ``warmup_ratio`` in older versions), ``lr_scheduler_kwargs``),
    ``trainer_state.json`` (``max_steps``, the ``num_training_steps`` the Trainer passed;
    ``global_step``, checked against the scheduler's step)."""
    import json
    import os

    directory = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    scheduler_path = os.path.join(path, SCHEDULER_FILE) if os.path.isdir(path) else path
    if not os.path.isfile(scheduler_path):
        raise ValueError(f"{path}: no {SCHEDULER_FILE} (a Trainer checkpoint directory holds one)")
    sources: list[str] = []
    state_path, args_path = os.path.join(directory, TRAINER_STATE_FILE), os.path.join(directory, TRAINING_ARGS_FILE)
    trainer_state = _read_json(state_path) if os.path.isfile(state_path) else {}
    saved: dict[str, Any] = {}
    if os.path.isfile(args_path):
        try:
            saved = read_training_args(args_path)
        except ValueError as err:  # (a legacy pickle, a damaged file): the options still do
            sources.append(f"note: {TRAINING_ARGS_FILE} not read ({err})")
    kwargs = dict(scheduler_specific_kwargs or {})
    if name is None and saved.get("lr_scheduler_type") is not None:
        name = saved["lr_scheduler_type"]
        sources.append(f"lr_scheduler_type={name!r} from {TRAINING_ARGS_FILE}")
    if name is None:
        raise ValueError(
            f"{path}: which schedule? give --hf NAME (get_scheduler's name; no {TRAINING_ARGS_FILE} says it)"
        )
    if saved.get("lr_scheduler_type") not in (None, getattr(name, "value", name)):
        saved = {}  # the arguments of another schedule than the one given: none of them apply
        sources.append(f"note: {TRAINING_ARGS_FILE} is of another schedule: its arguments are not used")
    if (
        num_training_steps is None
        and isinstance(trainer_state.get("max_steps"), int)
        and trainer_state["max_steps"] > 0
    ):
        num_training_steps = trainer_state["max_steps"]
        sources.append(f"num_training_steps={num_training_steps} from {TRAINER_STATE_FILE} (max_steps)")
    if num_warmup_steps is None and ("warmup_steps" in saved or "warmup_ratio" in saved):
        warmup = saved.get("warmup_steps") or 0
        ratio = saved.get("warmup_ratio") or 0
        if isinstance(warmup, (int, float)) and 0 < warmup < 1:
            ratio, warmup = warmup, 0  # transformers v5: warmup_steps below 1 is a ratio
        if ratio and not warmup:
            if num_training_steps is None:
                raise ValueError(f"{path}: the warmup is a ratio ({ratio}) of num_training_steps: give --total")
            num_warmup_steps = math.ceil(num_training_steps * ratio)  # TrainingArguments.get_warmup_steps
        else:
            num_warmup_steps = v.integer("warmup_steps", int(warmup), low=0)
        sources.append(f"num_warmup_steps={num_warmup_steps} from {TRAINING_ARGS_FILE}")
    if not scheduler_specific_kwargs and saved.get("lr_scheduler_kwargs"):
        extra = saved["lr_scheduler_kwargs"]
        if isinstance(extra, str):
            try:
                extra = json.loads(extra)
            except ValueError as err:
                raise ValueError(f"{TRAINING_ARGS_FILE}: lr_scheduler_kwargs is not JSON: {err}") from err
        if not isinstance(extra, dict):
            raise ValueError(f"{TRAINING_ARGS_FILE}: lr_scheduler_kwargs must be a dict, got {v.shown(extra)}")
        kwargs = dict(extra)
        sources.append(f"lr_scheduler_kwargs={kwargs} from {TRAINING_ARGS_FILE}")
    state = load(scheduler_path)
    if not isinstance(state, Mapping):
        raise ValueError(f"{scheduler_path}: not a scheduler's state_dict (a {type(state).__name__})")
    spec, step = huggingface_from_state(state, name, num_warmup_steps, num_training_steps, **kwargs)
    global_step = trainer_state.get("global_step")
    if isinstance(global_step, int) and global_step != step:
        sources.append(f"note: {TRAINER_STATE_FILE} has global_step={global_step}, the scheduler's step is {step}")
    return spec, step, sources
