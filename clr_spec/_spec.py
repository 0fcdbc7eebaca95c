"""``CyclicSpec``: one framework-free description of a cyclical learning-rate schedule."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _closed_form, _validation as v
from ._contract import Spec, torch_state
from ._family import check_document, group_values, register
from ._modes import MODES
from ._ops import NUMPY, Ops

FORMAT = "clr.CyclicSpec"
FORMAT_VERSION = 1

Bound = Union[float, Sequence[float]]


@dataclasses.dataclass(frozen=True)
class CyclicSpec(Spec):
    """A cyclical learning-rate (and inverse momentum) schedule, as torch's ``CyclicLR`` defines it.

    Takes exactly the keywords and defaults of ``torch.optim.lr_scheduler.CyclicLR`` minus
    ``optimizer`` and ``last_epoch``. Bounds may be per-param-group sequences (kept as tuples).
    A built-in ``mode`` forces its ``scale_mode`` (``'cycle'`` for triangular/triangular2,
    ``'iterations'`` for exp_range) exactly as torch does; the stored ``scale_mode`` is the
    effective one.

    Invalid values raise ``TypeError``/``ValueError`` naming the parameter: non-positive,
    NaN or infinite step sizes (and cycles shorter than one step), NaN/infinite/negative
    learning rates, negative momentum bounds, gamma outside (0, 1] for exp_range,
    unknown modes or scale modes, a non-callable ``scale_fn`` and per-group sequences of
    different lengths.

    Reference: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks",
    WACV 2017, https://arxiv.org/abs/1506.01186.

    Example: base 1, max 5, 4 steps up and 4 down; momentum cycles the other way.

    >>> from clr_spec import CyclicSpec
    >>> spec = CyclicSpec(base_lr=1, max_lr=5, step_size_up=4, base_momentum=0.5, max_momentum=0.9)
    >>> spec.lr(range(10)).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 1.0, 2.0]
    >>> spec.momentum(range(5)).tolist()
    [0.9, 0.8, 0.7, 0.6, 0.5]
    >>> spec.replace(mode="triangular2").lr([4, 12, 20]).tolist()   # peaks halve each cycle
    [5.0, 3.0, 2.0]
    >>> spec == CyclicSpec.from_json(spec.to_json())
    True
    """

    FORMAT = FORMAT
    VERSION = FORMAT_VERSION
    TORCH_CLASS = "CyclicLR"
    TORCH_STATE_KEYS = frozenset(
        {"max_lrs", "total_size", "step_ratio", "mode", "gamma", "scale_mode", "cycle_momentum"}
    )
    # The momentum bounds (only with cycle_momentum), use_beta1 (torch >= 2.2), the scale
    # function's attributes (their names changed over torch versions).
    TORCH_STATE_OPTIONAL = frozenset(
        {"base_momentums", "max_momentums", "use_beta1", "_scale_fn_custom", "_scale_fn_ref", "scale_fn"}
    )
    EVALUATOR = "cyclic"

    base_lr: Bound
    max_lr: Bound
    step_size_up: float = 2000
    step_size_down: Optional[float] = None
    mode: str = "triangular"
    gamma: float = 1.0
    scale_fn: Optional[Callable[[Any], Any]] = None
    scale_mode: str = "cycle"
    cycle_momentum: bool = True
    base_momentum: Bound = 0.8
    max_momentum: Bound = 0.9

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "base_lr", v.bound("base_lr", self.base_lr, v.non_negative))
        set_(self, "max_lr", v.bound("max_lr", self.max_lr, v.non_negative))
        set_(self, "base_momentum", v.bound("base_momentum", self.base_momentum, v.momentum))
        set_(self, "max_momentum", v.bound("max_momentum", self.max_momentum, v.momentum))
        v.group_count(self._bounds())
        up, down, _, _ = v.step_sizes(self.step_size_up, self.step_size_down)
        # Keep ints as ints so that JSON shows 2000, not 2000.0; both give the same float.
        set_(self, "step_size_up", _keep_int(self.step_size_up, up))
        # torch's default (down = up), spelled out: specs of one schedule compare equal.
        set_(self, "step_size_down", self.step_size_up if down is None else _keep_int(self.step_size_down, down))
        mode, gamma, scale_mode = v.mode_and_scale(self.mode, self.gamma, self.scale_fn, self.scale_mode)
        set_(self, "gamma", gamma)
        set_(self, "scale_mode", scale_mode)
        if not isinstance(self.cycle_momentum, (bool, np.bool_)):
            raise TypeError(f"cycle_momentum must be a bool, got {self.cycle_momentum!r}")
        set_(self, "cycle_momentum", bool(self.cycle_momentum))

    # ----------------------------------------------------------------- derived values
    def _bounds(self) -> dict[str, Any]:
        return {
            "base_lr": self.base_lr,
            "max_lr": self.max_lr,
            "base_momentum": self.base_momentum,
            "max_momentum": self.max_momentum,
        }

    @property
    def num_groups(self) -> Optional[int]:
        """Length of the per-group bound sequences, or None when every bound is a scalar."""
        return v.group_count(self._bounds())

    @property
    def sets_momentum(self) -> bool:
        """Whether torch's scheduler writes the optimizer's momentum (or beta1)."""
        return self.cycle_momentum

    @property
    def total_size(self) -> float:
        """Steps per cycle, as torch computes it: ``float(up) + float(down)``."""
        return v.step_sizes(self.step_size_up, self.step_size_down)[2]

    @property
    def step_ratio(self) -> float:
        """Fraction of the cycle spent increasing the lr, as torch computes it."""
        return v.step_sizes(self.step_size_up, self.step_size_down)[3]

    def group_bounds(self, group: int = 0) -> tuple[float, float, float, float]:
        """``(base_lr, max_lr, base_momentum, max_momentum)`` of one param group."""
        n = self.num_groups
        return (
            v.pick_group(self.base_lr, group, n),
            v.pick_group(self.max_lr, group, n),
            v.pick_group(self.base_momentum, group, n),
            v.pick_group(self.max_momentum, group, n),
        )

    def momentum_range(self, group: int = 0) -> Optional[tuple[float, float]]:
        if not self.cycle_momentum:
            return None
        _, _, low, high = self.group_bounds(group)
        return min(low, high), max(low, high)

    def describe(self) -> str:
        scale = "custom scale_fn" if self.scale_fn is not None else self.mode
        return f"cyclical lr ({scale}) between base_lr and max_lr, cycles of {_fmt(self.total_size)} steps" + (
            ", momentum cycled inversely" if self.cycle_momentum else ""
        )

    def landmarks(self) -> tuple[int, ...]:
        marks = (n * self.total_size + offset for n in range(3) for offset in (0, float(self.step_size_up)))
        return tuple(sorted({int(math.ceil(m)) for m in marks}))

    def default_steps(self) -> int:
        return v.shown_steps(3 * self.total_size)

    def explain(self) -> list[str]:
        total, up = self.total_size, float(self.step_size_up)
        lines = [f"  {key:15} {value}" for key, value in self.to_dict().items() if key not in ("format", "version")]
        lines.append(
            f"cycle length:     {_fmt(total)} steps ({_fmt(up)} up, {_fmt(total - up)} down; "
            f"ratio {self.step_ratio:.6g})"
        )
        if self.scale_fn is None:
            formula = MODES[self.mode].formula
            lines.append(f"amplitude scale:  {formula}" + (f" = {self.gamma}**step" if "gamma" in formula else ""))
        groups = self.num_groups or 1
        for g in range(groups):
            base, top, low, high = self.group_bounds(g)
            label = f"group {g}: " if groups > 1 else ""
            momentum = f", momentum {high} -> {low}" if self.cycle_momentum else ", momentum not cycled"
            lines.append(f"{label}lr {base} -> {top}{momentum}")
        lines.append(f"first cycles (step: lr{' of group 0' if groups > 1 else ''}):")
        for n in range(3):
            trough, peak = n * total, n * total + up
            lines.append(
                f"  cycle {n + 1}: trough at step {_fmt(trough)} (lr {self._lr_text(trough)}), "
                f"peak at step {_fmt(peak)} (lr {self._lr_text(peak)})"
            )
        return lines

    def _lr_text(self, step: float) -> str:
        if float(step).is_integer():
            return f"{float(self.lr(int(step))):.6g}"
        lo, hi = math.floor(step), math.ceil(step)
        return f"between steps {lo} and {hi}: {float(self.lr(lo)):.6g}, {float(self.lr(hi)):.6g}"

    def torch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``torch.optim.lr_scheduler.CyclicLR`` (lists for per-group bounds)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for k in ("base_lr", "max_lr", "base_momentum", "max_momentum"):
            if isinstance(out[k], tuple):
                out[k] = list(out[k])
        return out

    def replace(self, **changes: Any) -> "CyclicSpec":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------- closed form
    def values_at(self, ops: Ops, steps: Any, what: str, group: int) -> Any:
        """torch's formula (``clr_spec._closed_form``) over ``ops``: ``what`` is "lr" or
        "momentum" (the cycle the bounds describe, whether or not the spec cycles it)."""
        base, top, low, high = self.group_bounds(group)
        if what == "lr":
            start, height, sign = base, top - base, 1.0
        elif what == "momentum":
            start, height, sign = high, high - low, -1.0
        else:
            raise ValueError(f"what must be 'lr' or 'momentum', got {what!r}")
        return _closed_form.cyclic_value(
            ops,
            steps,
            total=self.total_size,
            ratio=self.step_ratio,
            start=start,
            height=height,
            sign=sign,
            mode=self.mode,
            gamma=self.gamma,
            scale_fn=self.scale_fn,
            by_cycle=self.scale_mode == "cycle",
        )

    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """Learning rate used by the update after ``steps`` updates (float64, any shape).

        Equal to torch's ``CyclicLR`` after ``steps`` calls of ``scheduler.step()``.
        """
        return np.asarray(self.values_at(NUMPY, v.steps_array(steps), "lr", group), dtype=np.float64)

    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        """Momentum (or Adam's beta1) cycled inversely to the lr (float64, any shape).

        When ``cycle_momentum`` is False torch leaves momentum alone, and this raises (as for
        every spec that does not set momentum); ``momentum_cycle`` gives the cycle the bounds
        describe, to plot it.
        """
        if not self.cycle_momentum:
            raise ValueError(
                "this CyclicSpec does not cycle momentum (cycle_momentum=False): the optimizer keeps "
                "its own (momentum_cycle() gives the cycle its bounds describe)"
            )
        return self.momentum_cycle(steps, group)

    def momentum_cycle(self, steps: Any, group: int = 0) -> np.ndarray:
        """The momentum cycle the bounds describe, whether or not the spec cycles momentum."""
        return np.asarray(self.values_at(NUMPY, v.steps_array(steps), "momentum", group), dtype=np.float64)

    # ----------------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict with a format tag and version; refuses a custom ``scale_fn``."""
        if self.scale_fn is not None:
            raise ValueError(
                "a CyclicSpec with a custom scale_fn cannot be serialized: functions are not "
                "stored (no pickling, no code execution). Use a built-in mode, or pass "
                "scale_fn=... again when you rebuild the spec with from_dict(d, scale_fn=...)."
            )
        out: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION}
        for f in dataclasses.fields(self):
            if f.name == "scale_fn":
                continue
            val = getattr(self, f.name)
            out[f.name] = list(val) if isinstance(val, tuple) else val
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, scale_fn: Optional[Callable] = None, **unknown: Any) -> "CyclicSpec":
        """Inverse of ``to_dict``. Unknown fields, missing fields and wrong types are refused."""
        if unknown:
            raise TypeError(f"CyclicSpec.from_dict takes no keywords but scale_fn, got {sorted(unknown)}")
        names = {f.name for f in dataclasses.fields(cls)} - {"scale_fn"}
        check_document(cls, data, names=names, required=("base_lr", "max_lr"))
        kwargs = {k: data[k] for k in names if k in data}
        for k in ("mode", "scale_mode"):
            if k in kwargs and not isinstance(kwargs[k], str):
                raise TypeError(f"{k} must be a str, got {kwargs[k]!r}")
        if "step_size_down" in kwargs and kwargs["step_size_down"] is None:
            del kwargs["step_size_down"]
        for k in ("base_lr", "max_lr", "base_momentum", "max_momentum"):
            if isinstance(kwargs.get(k), tuple):
                raise TypeError(f"{k} must be a number or a list, got a tuple")
        return cls(**kwargs, scale_fn=scale_fn)

    # Narrower than Spec.from_torch on purpose: optimizer_state is keyword-only here (a CyclicLR's
    # state holds all it needs) and other keywords are refused by Python itself.
    @classmethod
    def from_torch(  # type: ignore[override]
        cls,
        scheduler_or_state: Any,
        *,
        scale_fn: Optional[Callable] = None,
        optimizer_state: Optional[Mapping] = None,
    ) -> "CyclicSpec":
        """Spec of a torch ``CyclicLR`` (ours or torch's), or of its ``state_dict()``.

        A dict is read without importing torch and without being modified. Torch does not
        store plain functions in its state dict, so for a scheduler built with a custom
        function pass it again as ``scale_fn=``; given the scheduler object, it is taken
        from the scheduler. (``optimizer_state`` is accepted for ``clr_spec.from_torch``'s
        sake: a CyclicLR's state holds all it needs.)

        >>> state = {"base_lrs": [0.001], "max_lrs": [0.006], "total_size": 4000.0, "step_ratio": 0.5,
        ...          "mode": "triangular", "gamma": 1.0, "scale_mode": "cycle", "cycle_momentum": False}
        >>> spec = CyclicSpec.from_torch(state)
        >>> spec.step_size_up, spec.step_size_down, spec.lr(1000).item()   # halfway up: 0.001 + 0.005 / 2
        (2000, 2000, 0.0035)
        """
        state = torch_state(cls, scheduler_or_state)
        where = cls.TORCH_CLASS
        if not isinstance(scheduler_or_state, Mapping) and scale_fn is None:
            scale_fn = getattr(scheduler_or_state, "_scale_fn_custom", None)
        if "base_lrs" not in state:
            raise ValueError("not a CyclicLR state: missing ['base_lrs']")
        mode, scale_mode = state["mode"], state["scale_mode"]
        for key, value in (("mode", mode), ("scale_mode", scale_mode)):
            if not isinstance(value, str):
                raise TypeError(f"{where} state: {key} must be a str, got {type(value).__name__} {v.shown(value)}")
        if scale_fn is None and isinstance(state.get("_scale_fn_custom"), Mapping):
            # torch saves a callable object's attributes (not its code) where a custom scale_fn was
            # one: without it this state is not the schedule it looks like (plain triangular).
            raise ValueError(
                "this CyclicLR state was made with a custom scale_fn (a callable object, whose "
                "attributes torch saved as _scale_fn_custom); pass it again as from_torch(..., scale_fn=fn)"
            )
        if scale_fn is None and mode in v.MODES:
            if scale_mode != MODES[mode].scale_mode:
                raise ValueError(
                    "this CyclicLR state was made with a custom scale_fn (its scale_mode does not "
                    "match its mode); pass it again as from_torch(..., scale_fn=fn)"
                )
        total = v.state_real(state["total_size"], "total_size", where)
        ratio = v.state_real(state["step_ratio"], "step_ratio", where)
        up, down = _step_sizes_from(total, ratio)
        cycle = v.state_flag(state["cycle_momentum"], "cycle_momentum", where)
        momenta = {}
        if cycle:
            momenta = {
                "base_momentum": group_values(state["base_momentums"], "base_momentums", where),
                "max_momentum": group_values(state["max_momentums"], "max_momentums", where),
            }
        return cls(
            base_lr=group_values(state["base_lrs"], "base_lrs", where),
            max_lr=group_values(state["max_lrs"], "max_lrs", where),
            step_size_up=up,
            step_size_down=down,
            mode=mode,
            gamma=v.state_real(state["gamma"], "gamma", where),
            scale_fn=scale_fn,
            scale_mode=scale_mode,
            cycle_momentum=cycle,
            **momenta,
        )


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _keep_int(original: Any, as_float: float) -> float:
    """An int step size stays an int (JSON shows 2000, not 2000.0); torch uses float() of either."""
    return int(original) if isinstance(original, numbers.Integral) else as_float


def _step_sizes_from(total: float, ratio: float) -> tuple[float, float]:
    """Recover (step_size_up, step_size_down) that reproduce torch's total and ratio bit for bit."""

    def holds(up: float) -> bool:
        down = total - up
        return down > 0 and up + down == total and up / (up + down) == ratio

    guess = ratio * total
    if not (math.isfinite(guess) and guess > 0):
        raise ValueError(f"cannot recover step sizes from total_size={total!r} and step_ratio={ratio!r}")
    up = v.recovered(holds, guess, "step_size_up", float(round(guess)))
    down = total - up
    return (int(up) if up.is_integer() else up), (int(down) if down.is_integer() else down)


register(CyclicSpec)
