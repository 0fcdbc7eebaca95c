"""torch's ``ReduceLROnPlateau``: ``PlateauSpec``, the run's ``PlateauState``, and torch's step.

Unlike every other spec, the lr here is not a function of the step: it moves with a metric
(``scheduler.step(val_loss)`` once an epoch). So the spec carries the run's state (torch's
``best``, ``num_bad_epochs``, ``cooldown_counter``, ``last_epoch`` and the groups' current lrs)
and a fresh spec carries the initial one. ``PlateauSpec.transition(state, metric)`` is torch's
``ReduceLROnPlateau.step`` as a pure function, in Python floats (float64) and in torch's order
of operations, so its lrs are torch's bit for bit:

    current = float(metric)
    better  = current <  best * (1 - threshold)     mode "min", threshold_mode "rel"
              current <  best - threshold           "min", "abs"
              current >  best * (threshold + 1)     "max", "rel"
              current >  best + threshold           "max", "abs"
    better: best = current, num_bad_epochs = 0;  else num_bad_epochs += 1
    cooldown_counter > 0: cooldown_counter -= 1, num_bad_epochs = 0
    num_bad_epochs > patience: for each group, new = max(lr * factor, min_lr), set where
        lr - new > eps (a reduction of eps or less is skipped); cooldown_counter = cooldown,
        num_bad_epochs = 0
    last_epoch += 1

A NaN metric (a diverged loss) is never better, as in torch (every comparison with NaN is
false): it counts as a bad epoch, and enough of them reduce the lr; it never becomes ``best``.
An infinite metric is compared as torch compares it: ``inf`` in mode "min" is a bad epoch, and
``-inf`` is better than any finite best, after which nothing is (``best`` stays ``-inf``).
Ties are not improvements (the comparisons are strict).

JSON: ``best`` is a JSON number, or the string ``"inf"`` / ``"-inf"`` (a fresh run's ``best``
is torch's ``mode_worse``: ``inf`` for "min", ``-inf`` for "max"); JSON has no infinity and
``from_json`` refuses ``Infinity``. Every other value is finite. ``best`` is never NaN.

Imports neither torch nor jax: ``clr_torch`` gives torch's own class this state, ``clr_optax``
runs the same step in a gradient transformation.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from . import _validation as v
from ._contract import torch_state
from ._family import ValueSpec, check_document, group_values, register

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")
WHERE = "ReduceLROnPlateau"
_STATE_FIELDS = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch", "lrs")


def _choice(name: str, value: Any, allowed: tuple) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {allowed}, got {type(value).__name__} {value!r:.80}")
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _best(name: str, value: Any) -> float:
    """torch's ``best``: a real number, infinities included (a fresh run's is infinite), not NaN."""
    if hasattr(value, "numel") and hasattr(value, "item"):  # a one-element tensor
        if value.numel() != 1:
            raise ValueError(f"{name} must be one number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    best = v.real(name, value)
    if math.isnan(best):
        raise ValueError(f"{name} must not be NaN (torch never makes a NaN metric its best)")
    return best


def metric_value(metric: Any, name: str = "metric") -> float:
    """The metric as torch reads it, ``float(metrics)``: a real number, a numpy scalar, or an
    array or tensor holding one number (any shape of size 1). NaN and infinities are taken (see
    the module); strings, bools, complex numbers and several numbers are refused."""
    if metric is None or isinstance(metric, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be a real number (a loss or a score), got {type(metric).__name__} {metric!r:.80}")
    if hasattr(metric, "numel") and hasattr(metric, "item"):  # a torch tensor (no torch import here)
        if metric.numel() != 1:
            raise ValueError(
                f"{name} must hold one number, as torch's float(metrics) takes it; got a tensor of "
                f"shape {tuple(metric.shape)}"
            )
        metric = metric.item()
        if isinstance(metric, bool) or not isinstance(metric, numbers.Real):
            raise TypeError(f"{name} must be a real number, got a tensor holding {type(metric).__name__}")
        return float(metric)
    array = np.asarray(metric)
    if array.size != 1:
        raise ValueError(f"{name} must be one number (a scalar, or an array of one element), got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number, got dtype {array.dtype}")
    return float(array.reshape(()))


def _encode_best(best: float) -> Any:
    return best if math.isfinite(best) else ("inf" if best > 0 else "-inf")


def _decode_best(value: Any) -> float:
    if isinstance(value, str):
        if value not in ("inf", "-inf"):
            raise ValueError(f"state.best must be a number, 'inf' or '-inf', got {value!r}")
        return math.inf if value == "inf" else -math.inf
    return _best("state.best", value)


class PlateauState:
    """The state of a ReduceLROnPlateau run between two ``step(metric)`` calls: torch's ``best``,
    ``num_bad_epochs``, ``cooldown_counter`` and ``last_epoch`` (steps taken), and ``lrs``, the
    param groups' lrs now (a float shared by every group, or one per group). Immutable, compared
    by value."""

    __slots__ = _STATE_FIELDS
    best: float
    num_bad_epochs: int
    cooldown_counter: int
    last_epoch: int
    lrs: Any

    def __init__(
        self, best: float, num_bad_epochs: int = 0, cooldown_counter: int = 0, last_epoch: int = 0, lrs: Any = 0.0
    ):
        set_ = object.__setattr__
        set_(self, "best", _best("state.best", best))
        set_(self, "num_bad_epochs", v.integer("state.num_bad_epochs", num_bad_epochs, low=0))
        set_(self, "cooldown_counter", v.integer("state.cooldown_counter", cooldown_counter, low=0))
        set_(self, "last_epoch", v.integer("state.last_epoch", last_epoch, low=0))
        set_(self, "lrs", v.bound("state.lrs", lrs, v.non_negative))

    @classmethod
    def initial(cls, mode: str, lrs: Any) -> "PlateauState":
        """A fresh run's state, as torch's constructor leaves it: ``best`` is ``mode_worse``."""
        return cls(best=math.inf if _choice("mode", mode, MODES) == "min" else -math.inf, lrs=lrs)

    def group_lr(self, group: int, num_groups: Optional[int]) -> float:
        return v.pick_group(self.lrs, group, num_groups)

    def replace(self, **changes: Any) -> "PlateauState":
        return PlateauState(**{**{k: getattr(self, k) for k in _STATE_FIELDS}, **changes})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"PlateauState is immutable: use replace({name}=...)")

    def __eq__(self, other: Any) -> bool:
        return type(other) is PlateauState and all(getattr(self, k) == getattr(other, k) for k in _STATE_FIELDS)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, k) for k in _STATE_FIELDS))

    def __repr__(self) -> str:
        return "PlateauState(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in _STATE_FIELDS) + ")"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``best`` a number, or ``"inf"`` / ``"-inf"``."""
        return {
            "best": _encode_best(self.best),
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
            "last_epoch": self.last_epoch,
            "lrs": list(self.lrs) if isinstance(self.lrs, tuple) else self.lrs,
        }

    @classmethod
    def from_dict(cls, data: Any) -> "PlateauState":
        if not isinstance(data, Mapping):
            raise TypeError(f"state must be a mapping of {list(_STATE_FIELDS)}, got {type(data).__name__}")
        unknown, missing = sorted(set(data) - set(_STATE_FIELDS)), [k for k in _STATE_FIELDS if k not in data]
        if unknown or missing:
            raise ValueError(
                f"state must have exactly the fields {list(_STATE_FIELDS)}"
                + (f"; unknown: {unknown}" if unknown else "")
                + (f"; missing: {missing}" if missing else "")
            )
        return cls(
            best=_decode_best(data["best"]),
            num_bad_epochs=data["num_bad_epochs"],
            cooldown_counter=data["cooldown_counter"],
            last_epoch=data["last_epoch"],
            lrs=data["lrs"],
        )


@register
class PlateauSpec(ValueSpec):
    r"""torch's ``ReduceLROnPlateau``, with the run's state: the lr times ``factor`` once a metric
    has not improved for more than ``patience`` steps (epochs), never below ``min_lr``.

    Args:
      lr: the optimizer's lr when the run started (a float, or one per param group).
      mode: "min" (a loss: lower is better) or "max" (an accuracy), torch's default "min".
      factor: the reduction, ``new_lr = lr * factor``, in (0, 1); default 0.1.
      patience: bad epochs tolerated; the lr falls at the ``patience + 1``-th; an int >= 0, default 10.
      threshold: how much better counts as better, >= 0 (< 1 for mode "min" with "rel"); default 1e-4.
      threshold_mode: "rel" (``best * (1 -/+ threshold)``) or "abs" (``best -/+ threshold``); default "rel".
      cooldown: epochs after a reduction during which bad epochs are not counted; an int >= 0, default 0.
      min_lr: the lowest lr, a float or one per group; default 0.
      eps: a reduction by ``eps`` or less is skipped; >= 0, default 1e-8.
      state: the run's ``PlateauState``; None (default) for a fresh run (``best`` = ``mode_worse``,
        counters 0, the lrs ``lr``).

    ``spec.lr(steps, group)`` is the lr the state holds now, at every step: without metrics a
    plateau does not move (``transition``, ``stepped`` and ``replay`` move it with metrics).
    torch's NaN metrics, ties and infinities are followed exactly (the module says how).

    >>> from clr_spec._plateau import PlateauSpec
    >>> spec = PlateauSpec(lr=1.0, factor=0.5, patience=1)
    >>> lrs, end = spec.replay([3.0, 2.0, 2.0, 2.0, float("nan"), 1.0])
    >>> lrs[:, 0].tolist(), end.state.best, end.state.num_bad_epochs
    ([1.0, 1.0, 1.0, 0.5, 0.5, 0.5], 1.0, 0)
    """

    FORMAT = "clr.PlateauSpec"
    TORCH_CLASS = "ReduceLROnPlateau"
    # ReduceLROnPlateau does not call LRScheduler.__init__: its state is its own __dict__ (plus
    # last_epoch and _last_lr, which BASE_STATE_KEYS covers); default_min_lr came with torch 2.3.
    TORCH_STATE_KEYS = frozenset(
        {
            "factor",
            "min_lrs",
            "patience",
            "cooldown",
            "cooldown_counter",
            "mode",
            "threshold",
            "threshold_mode",
            "best",
            "num_bad_epochs",
            "mode_worse",
            "eps",
        }
    )
    TORCH_STATE_OPTIONAL = frozenset({"default_min_lr"})
    EVALUATOR = "plateau"
    NOT_IN_SEQUENCE = (
        "torch's SequentialLR cannot hold a ReduceLROnPlateau (it steps without a metric); as "
        "the last phase it makes a PlateauSequenceSpec (stepped phases, then the plateau)"
    )
    FIELDS = (
        ("mode", "min"),
        ("factor", 0.1),
        ("patience", 10),
        ("threshold", 1e-4),
        ("threshold_mode", "rel"),
        ("cooldown", 0),
        ("min_lr", 0.0),
        ("eps", 1e-8),
    )

    initial_lr: Any
    mode: str
    factor: float
    patience: int
    threshold: float
    threshold_mode: str
    cooldown: int
    min_lr: Any
    eps: float
    state: PlateauState
    _groups: Optional[int]

    def __init__(
        self,
        lr: Any,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: Any = 0.0,
        eps: float = 1e-8,
        state: Optional[PlateauState] = None,
    ):
        set_ = object.__setattr__
        set_(self, "initial_lr", v.bound("lr", lr, v.non_negative))
        set_(self, "mode", _choice("mode", mode, MODES))
        set_(
            self,
            "factor",
            v.in_range(
                "factor",
                factor,
                0.0,
                1.0,
                low_open=True,
                high_open=True,
                why=" (new_lr = lr * factor: torch refuses a factor >= 1, and a factor <= 0 "
                "would zero or negate the lr)",
            ),
        )
        set_(self, "patience", v.integer("patience", patience, low=0, why=" (bad epochs tolerated)"))
        set_(self, "threshold_mode", _choice("threshold_mode", threshold_mode, THRESHOLD_MODES))
        high = 1.0 if (self.mode, self.threshold_mode) == ("min", "rel") else math.inf
        set_(
            self,
            "threshold",
            v.in_range(
                "threshold",
                threshold,
                0.0,
                high,
                high_open=True,
                why=(
                    " for mode 'min' with threshold_mode 'rel' (best * (1 - threshold) must keep the sign of best; at 1 "
                    "torch computes inf * 0 = NaN and never sees an improvement)"
                )
                if high == 1.0
                else " (a negative threshold counts a worse metric as an improvement)",
            ),
        )
        set_(self, "cooldown", v.integer("cooldown", cooldown, low=0, why=" (epochs)"))
        set_(self, "min_lr", v.bound("min_lr", min_lr, v.non_negative))
        set_(
            self, "eps", v.in_range("eps", eps, 0.0, math.inf, high_open=True, why=" (the smallest reduction applied)")
        )
        if state is None:
            state = PlateauState.initial(self.mode, self.initial_lr)
        elif not isinstance(state, PlateauState):
            raise TypeError(f"state must be a PlateauState or None (a fresh run), got {type(state).__name__}")
        groups = v.group_count({"lr": self.initial_lr, "min_lr": self.min_lr, "state.lrs": state.lrs})
        if groups is not None and not isinstance(state.lrs, tuple):
            state = state.replace(lrs=(state.lrs,) * groups)
        set_(self, "state", state)
        set_(self, "_groups", groups)

    def _values(self) -> dict[str, Any]:
        return {"lr": self.initial_lr, **{name: getattr(self, name) for name, _ in self.FIELDS}, "state": self.state}

    # -------------------------------------------------------------- the contract
    @property
    def num_groups(self) -> Optional[int]:
        return self._groups

    @property
    def sets_momentum(self) -> bool:
        return False

    def momentum_range(self, group: int = 0) -> Optional[tuple[float, float]]:
        return None

    def default_steps(self) -> int:
        return v.shown_steps(0)

    def describe(self) -> str:
        change = {"min": "decrease", "max": "increase"}[self.mode]
        size = f"{self.threshold:g}" + (" relative" if self.threshold_mode == "rel" else " absolute")
        cooldown = f", then {self.cooldown} epochs of cooldown" if self.cooldown else ""
        return (
            f"lr times {self.factor:g} after {self.patience + 1} epochs without a {size} {change} of the metric"
            f"{cooldown}, down to {self.min_lr}; now {self.state.lrs} (best {self.state.best:g}, "
            f"{self.state.num_bad_epochs} bad epochs)"
        )

    def explain(self) -> list[str]:
        lines = super().explain()
        lines.append("(the lr moves with the metric, not the step: this is the lr until the next reduction)")
        return lines

    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """The lr the state holds now, for every step of ``steps`` (numpy float64): a plateau moves
        only with metrics (``transition``), so without them its lr is constant."""
        steps = v.steps_array(steps)
        return np.full(steps.shape, self.group_lr(group), dtype=np.float64)

    def group_lr(self, group: int = 0) -> float:
        """Param group ``group``'s lr now (the state's)."""
        return self.state.group_lr(group, self._groups)

    def group_min_lr(self, group: int = 0) -> float:
        return v.pick_group(self.min_lr, group, self._groups)

    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        raise ValueError("ReduceLROnPlateau does not set momentum: the optimizer keeps its own")

    # -------------------------------------------------------------- torch's step
    def is_better(self, current: float, best: float) -> bool:
        """torch's ``_is_better``, in its arithmetic (Python floats)."""
        if self.mode == "min" and self.threshold_mode == "rel":
            rel_epsilon = 1.0 - self.threshold
            return current < best * rel_epsilon
        if self.mode == "min":
            return current < best - self.threshold
        if self.threshold_mode == "rel":
            rel_epsilon = self.threshold + 1.0
            return current > best * rel_epsilon
        return current > best + self.threshold

    def reduced_lr(self, old_lr: float, group: int = 0) -> float:
        """torch's ``_reduce_lr`` for one group: ``max(lr * factor, min_lr)``, kept only where it
        is more than ``eps`` below the lr."""
        new_lr = max(old_lr * self.factor, self.group_min_lr(group))
        return new_lr if old_lr - new_lr > self.eps else old_lr

    def transition(self, state: PlateauState, metric: Any) -> PlateauState:
        """torch's ``ReduceLROnPlateau.step(metric)`` from ``state``: the state after it (pure)."""
        if not isinstance(state, PlateauState):
            raise TypeError(f"state must be a PlateauState, got {type(state).__name__}")
        current = metric_value(metric)
        best, bad, cooldown_counter = state.best, state.num_bad_epochs, state.cooldown_counter
        if self.is_better(current, best):
            best, bad = current, 0
        else:
            bad += 1
        if cooldown_counter > 0:
            cooldown_counter -= 1
            bad = 0  # bad epochs in cooldown are ignored
        lrs = state.lrs
        if bad > self.patience:
            if isinstance(lrs, tuple):
                lrs = tuple(self.reduced_lr(lr, g) for g, lr in enumerate(lrs))
            else:
                lrs = self.reduced_lr(lrs)
            cooldown_counter, bad = self.cooldown, 0
        return PlateauState(
            best=best, num_bad_epochs=bad, cooldown_counter=cooldown_counter, last_epoch=state.last_epoch + 1, lrs=lrs
        )

    def stepped(self, metric: Any) -> "PlateauSpec":
        """This spec after one more ``step(metric)``."""
        return self.replace(state=self.transition(self.state, metric))

    def replay(self, metrics: Sequence[Any], num_groups: Optional[int] = None) -> tuple[np.ndarray, "PlateauSpec"]:
        """``(lrs, spec)``: ``lrs[i, g]``, group g's lr after the i-th metric's step (float64,
        torch's bit for bit), and the spec after the last one."""
        groups = self._groups or (1 if num_groups is None else v.integer("num_groups", num_groups, low=1))
        state, rows = self.state, []
        for metric in metrics:
            state = self.transition(state, metric)
            rows.append([state.group_lr(g, self._groups) for g in range(groups)])
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), groups), self.replace(state=state)

    # -------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.FORMAT, "version": self.VERSION}
        for name, value in self._values().items():
            out[name] = list(value) if isinstance(value, tuple) else value
        out["state"] = self.state.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> "PlateauSpec":
        """Inverse of ``to_dict``; a document without ``state`` is a fresh run."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_dict takes no keywords, got {sorted(kwargs)}")
        check_document(cls, data, names={"lr", "state", *(name for name, _ in cls.FIELDS)}, required=("lr",))
        values = {k: val for k, val in data.items() if k not in ("format", "version", "state")}
        state = PlateauState.from_dict(data["state"]) if "state" in data else None
        return cls(**values, state=state)

    # -------------------------------------------------------------- torch
    def torch_kwargs(self) -> dict[str, Any]:
        """Keywords for torch's ``ReduceLROnPlateau``, minus the optimizer."""
        out = {name: getattr(self, name) for name, _ in self.FIELDS}
        if isinstance(self.min_lr, tuple):
            out["min_lr"] = list(self.min_lr)
        return out

    def torch_state_dict(self, num_groups: Optional[int] = None) -> dict[str, Any]:
        """The ``state_dict()`` torch's ReduceLROnPlateau has in this state (``load_state_dict``
        takes it). The optimizer's lrs are not in it: set the groups' lr to ``state.lrs``
        (``clr_torch.plateau_scheduler`` does both)."""
        groups = self._groups
        if groups is None:
            if num_groups is None:
                raise ValueError("this spec's values are shared by any number of param groups: pass num_groups=")
            groups = v.integer("num_groups", num_groups, low=1)
        elif num_groups is not None and num_groups != groups:
            raise ValueError(f"the spec has values for {groups} param groups, got num_groups={num_groups}")
        per_group = isinstance(self.min_lr, tuple)
        return {
            "factor": self.factor,
            "default_min_lr": None if per_group else self.min_lr,
            "min_lrs": [self.group_min_lr(g) for g in range(groups)],
            "patience": self.patience,
            "cooldown": self.cooldown,
            "eps": self.eps,
            "last_epoch": self.state.last_epoch,
            "_last_lr": [self.state.group_lr(g, self._groups) for g in range(groups)],
            "mode_worse": math.inf if self.mode == "min" else -math.inf,
            "mode": self.mode,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "best": self.state.best,
            "cooldown_counter": self.state.cooldown_counter,
            "num_bad_epochs": self.state.num_bad_epochs,
        }

    @classmethod
    def from_torch(
        cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any
    ) -> "PlateauSpec":
        """The spec that resumes a torch run: from a ``ReduceLROnPlateau`` (its optimizer gives the
        current lrs) or its ``state_dict()``, with ``optimizer_state=optimizer.state_dict()`` for the
        lrs (without it, the state's ``_last_lr``, the groups' lrs after its last step, which torch
        >= 2.2 keeps). ``lr`` is the current lrs too: torch keeps no record of the first ones."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_torch takes no keywords but optimizer_state, got {sorted(kwargs)}")
        state = torch_state(cls, scheduler_or_state)
        if not isinstance(scheduler_or_state, Mapping):
            lrs = [g["lr"] for g in scheduler_or_state.optimizer.param_groups]
            key = "optimizer.param_groups[i]['lr']"
        elif optimizer_state is not None:
            groups = v.state_value(optimizer_state, "param_groups", "optimizer")
            if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
                raise ValueError(f"optimizer state: param_groups must be a list, got {type(groups).__name__}")
            lrs = [v.state_value(g, "lr", f"optimizer param_groups[{i}]") for i, g in enumerate(groups)]
            key = "optimizer_state param_groups[i]['lr']"
        elif "_last_lr" in state:
            lrs, key = state["_last_lr"], "_last_lr"
        else:
            raise ValueError(
                "this ReduceLROnPlateau state does not hold the groups' lrs (torch < 2.2 keeps no "
                "_last_lr before a step): pass optimizer_state=optimizer.state_dict()"
            )
        current = v.state_reals(lrs, key, WHERE)
        mode = _choice(f"{WHERE} state: mode", state["mode"], MODES)
        worse = _best(f"{WHERE} state: mode_worse", state["mode_worse"])
        if worse != (math.inf if mode == "min" else -math.inf):
            raise ValueError(
                f"{WHERE} state: mode_worse must be {'inf' if mode == 'min' else '-inf'} for mode "
                f"{mode!r}, got {worse!r}"
            )
        min_lrs = v.state_reals(state["min_lrs"], "min_lrs", WHERE)
        if len(min_lrs) != len(current):
            raise ValueError(f"{WHERE} state: min_lrs has {len(min_lrs)} values for {len(current)} param groups")
        # torch reduces with min_lrs; default_min_lr (torch >= 2.3: None when a list was given) only
        # refills it when groups are added. A scalar where every group has the default, else the list.
        default = state.get("default_min_lr", min_lrs[0])
        if default is not None:
            default = v.state_real(default, "default_min_lr", WHERE)
        min_lr: Any = default if default is not None and all(m == default for m in min_lrs) else tuple(min_lrs)
        lr = group_values(current, key, WHERE)
        lrs_now = tuple(current) if isinstance(lr, list) or isinstance(min_lr, tuple) else lr
        run = PlateauState(
            best=_best(f"{WHERE} state: best", state["best"]),
            num_bad_epochs=v.integer(f"{WHERE} state: num_bad_epochs", state["num_bad_epochs"], low=0),
            cooldown_counter=v.integer(f"{WHERE} state: cooldown_counter", state["cooldown_counter"], low=0),
            last_epoch=v.integer(f"{WHERE} state: last_epoch", state["last_epoch"], low=0),
            lrs=lrs_now,
        )
        return cls(
            lr=tuple(lr) if isinstance(lr, list) else lr,
            mode=mode,
            factor=state["factor"],
            patience=state["patience"],
            threshold=state["threshold"],
            threshold_mode=state["threshold_mode"],
            cooldown=state["cooldown"],
            min_lr=min_lr,
            eps=state["eps"],
            state=run,
        )
