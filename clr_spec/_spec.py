"""``CyclicSpec``: one framework-free description of a cyclical learning-rate schedule."""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _closed_form, _validation as v
from ._family import group_values, parse_json, register
from ._modes import MODES

FORMAT = "clr.CyclicSpec"
FORMAT_VERSION = 1

Bound = Union[float, Sequence[float]]


@dataclasses.dataclass(frozen=True)
class CyclicSpec:
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
    TORCH_CLASS = "CyclicLR"
    STATE_KEYS = ("base_lrs", "max_lrs", "total_size", "step_ratio")

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
        return {"base_lr": self.base_lr, "max_lr": self.max_lr,
                "base_momentum": self.base_momentum, "max_momentum": self.max_momentum}

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
        g = v.group_index(group, self.num_groups)
        pick = (lambda b: b[g] if isinstance(b, tuple) else b)
        return (pick(self.base_lr), pick(self.max_lr), pick(self.base_momentum), pick(self.max_momentum))

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
    def _scale(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        by_cycle = self.scale_mode == "cycle"
        if self.scale_fn is not None:
            fn = self.scale_fn
            return lambda cycle, steps: _closed_form.custom_scale(fn, cycle if by_cycle else steps)
        mode, gamma = self.mode, self.gamma
        return lambda cycle, steps: _closed_form.builtin_scale(mode, gamma, cycle if by_cycle else steps)

    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """Learning rate used by the update after ``steps`` updates (float64, any shape).

        Equal to torch's ``CyclicLR`` after ``steps`` calls of ``scheduler.step()``.
        """
        arr = v.steps_array(steps)
        base, top, _, _ = self.group_bounds(group)
        return _closed_form.evaluate(arr, total=self.total_size, ratio=self.step_ratio, start=base,
                                     height=top - base, sign=+1.0, scale=self._scale())

    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        """Momentum (or Adam's beta1) cycled inversely to the lr (float64, any shape).

        When ``cycle_momentum`` is False torch leaves momentum alone; this still returns
        the cycle the bounds describe, so that it can be plotted.
        """
        arr = v.steps_array(steps)
        _, _, low, high = self.group_bounds(group)
        return _closed_form.evaluate(arr, total=self.total_size, ratio=self.step_ratio, start=high,
                                     height=high - low, sign=-1.0, scale=self._scale())

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

    def to_json(self, **json_kwargs: Any) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **json_kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, scale_fn: Optional[Callable] = None) -> "CyclicSpec":
        """Inverse of ``to_dict``. Unknown fields, missing fields and wrong types are refused."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a CyclicSpec dict must be a mapping, got {type(data).__name__}")
        if data.get("format", FORMAT) != FORMAT:
            raise ValueError(f"format must be {FORMAT!r}, got {data.get('format')!r}")
        if "version" not in data:
            raise ValueError(f"missing required field 'version' (this library writes {FORMAT_VERSION})")
        version = data["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version != FORMAT_VERSION:
            raise ValueError(f"version must be {FORMAT_VERSION} (the only format this library reads), got {version!r}")
        names = {f.name for f in dataclasses.fields(cls)} - {"scale_fn"}
        unknown = sorted(set(data) - names - {"format", "version"})
        if unknown:
            raise ValueError(f"unknown CyclicSpec field(s) {unknown}; known fields: {sorted(names)}")
        missing = [k for k in ("base_lr", "max_lr") if k not in data]
        if missing:
            raise ValueError(f"missing required CyclicSpec field(s) {missing}")
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

    @classmethod
    def from_json(cls, text: str, *, scale_fn: Optional[Callable] = None) -> "CyclicSpec":
        return cls.from_dict(parse_json(text), scale_fn=scale_fn)

    @classmethod
    def from_torch(cls, scheduler_or_state: Any, *, scale_fn: Optional[Callable] = None,
                   optimizer_state: Optional[Mapping] = None) -> "CyclicSpec":
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
        if isinstance(scheduler_or_state, Mapping):
            state = scheduler_or_state
        elif hasattr(scheduler_or_state, "state_dict"):
            state = scheduler_or_state.state_dict()
            if scale_fn is None:
                scale_fn = getattr(scheduler_or_state, "_scale_fn_custom", None)
        else:
            raise TypeError(
                f"from_torch takes a CyclicLR scheduler or its state_dict(), got {type(scheduler_or_state).__name__}"
            )
        required = ("base_lrs", "max_lrs", "total_size", "step_ratio", "mode", "gamma", "scale_mode",
                    "cycle_momentum")
        missing = [k for k in required if k not in state]
        if missing:
            raise ValueError(f"not a CyclicLR state: missing {missing}")
        if scale_fn is None and state["mode"] in v.MODES:
            if state["scale_mode"] != MODES[state["mode"]].scale_mode:
                raise ValueError(
                    "this CyclicLR state was made with a custom scale_fn (its scale_mode does not "
                    "match its mode); pass it again as from_torch(..., scale_fn=fn)"
                )
        up, down = _step_sizes_from(float(state["total_size"]), float(state["step_ratio"]))
        momenta = {}
        if state["cycle_momentum"]:
            momenta = {"base_momentum": group_values(state["base_momentums"]),
                       "max_momentum": group_values(state["max_momentums"])}
        return cls(base_lr=group_values(state["base_lrs"]), max_lr=group_values(state["max_lrs"]),
                   step_size_up=up, step_size_down=down, mode=state["mode"], gamma=state["gamma"],
                   scale_fn=scale_fn, scale_mode=state["scale_mode"],
                   cycle_momentum=bool(state["cycle_momentum"]), **momenta)


def _keep_int(original: Any, as_float: float) -> float:
    """An int step size stays an int (JSON shows 2000, not 2000.0); torch uses float() of either."""
    return int(original) if isinstance(original, numbers.Integral) else as_float  # type: ignore[return-value]


def _step_sizes_from(total: float, ratio: float) -> tuple[float, float]:
    """Recover (step_size_up, step_size_down) that reproduce torch's total and ratio bit for bit."""
    guess = ratio * total
    candidates = [float(round(guess)), guess]
    x = guess
    for _ in range(4):
        x = math.nextafter(x, math.inf)
        candidates.append(x)
    x = guess
    for _ in range(4):
        x = math.nextafter(x, -math.inf)
        candidates.append(x)
    for up in candidates:
        if up <= 0:
            continue
        down = total - up
        if down > 0 and up + down == total and up / (up + down) == ratio:
            return (int(up) if up.is_integer() else up), (int(down) if down.is_integer() else down)
    raise ValueError(f"cannot recover step sizes from total_size={total!r} and step_ratio={ratio!r}")


register(CyclicSpec)
