"""Smith's 1cycle (super-convergence): torch's ``OneCycleLR`` as a spec.

torch's ``get_lr`` is a closed form of the step: the phase the step falls in, ``pct`` along
it, and a cosine or linear anneal between the phase's ends, the same for momentum (cycled
inversely). Here it is written once over an array namespace, in torch's order of operations,
the phase's constants picked per step and the anneal computed once
(in float32, on TPUs, from the fraction of the phase left where that is the smaller one).
torch extrapolates to ``total_steps`` and raises past it; the spec (and clr_optax) hold the
schedule's final value (step ``total_steps - 1``) from there on.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Optional, Sequence

from . import _validation as v
from ._contract import torch_state
from ._family import FormulaSpec, group_values, register

ANNEAL_STRATEGIES = ("cos", "linear")


@register
class OneCycleSpec(FormulaSpec):
    r"""torch's ``OneCycleLR``: the lr rises from ``max_lr / div_factor`` to ``max_lr`` over the
    first ``pct_start`` of ``total_steps``, then anneals to ``max_lr / div_factor /
    final_div_factor`` (with ``three_phase``: back down to the start first, then to the end);
    momentum moves the other way between ``max_momentum`` and ``base_momentum``.

    Same keywords and defaults as torch's, minus the optimizer and ``last_epoch``: ``max_lr``
    (a float or one per param group), ``total_steps`` or ``epochs`` and ``steps_per_epoch``
    (kept as ``total_steps = epochs * steps_per_epoch``), ``pct_start=0.3``,
    ``anneal_strategy="cos"`` or ``"linear"``, ``cycle_momentum=True``, ``base_momentum=0.85``,
    ``max_momentum=0.95`` (floats or one per group), ``div_factor=25.0``,
    ``final_div_factor=1e4``, ``three_phase=False``.

    The schedule's last update is step ``total_steps - 1``. torch computes one more lr, at
    ``total_steps``, by extrapolating the last phase (below ``min_lr``; with
    ``anneal_strategy="linear"`` it can be negative), and raises past it. ``spec.lr`` and
    clr_optax hold the final value from ``total_steps - 1`` on (clr_torch keeps torch's class
    and its behaviour).

    Reference: L. N. Smith and N. Topin, "Super-Convergence", 2017, https://arxiv.org/abs/1708.07120.

    >>> from clr_spec import OneCycleSpec
    >>> spec = OneCycleSpec(max_lr=25, total_steps=10, final_div_factor=2, anneal_strategy="linear",
    ...                     base_momentum=1, max_momentum=22)     # torch's own test
    >>> spec.lr(range(10)).tolist()
    [1.0, 13.0, 25.0, 21.5, 18.0, 14.5, 11.0, 7.5, 4.0, 0.5]
    >>> spec.momentum(range(4)).tolist()
    [22.0, 11.5, 1.0, 4.0]
    """

    FORMAT = "clr.OneCycleSpec"
    TORCH_CLASS = "OneCycleLR"
    TORCH_STATE_KEYS = frozenset({"total_steps", "_schedule_phases", "cycle_momentum"})
    # use_beta1 (torch >= 2.2), the anneal's name (_anneal_func_type; anneal_func before 2.2)
    TORCH_STATE_OPTIONAL = frozenset({"use_beta1", "_anneal_func_type", "anneal_func"})
    FIELDS = (
        "max_lr",
        "total_steps",
        "pct_start",
        "anneal_strategy",
        "cycle_momentum",
        "base_momentum",
        "max_momentum",
        "div_factor",
        "final_div_factor",
        "three_phase",
    )

    max_lr: v.Bound  # a float, or a tuple of one per param group
    total_steps: int
    pct_start: float
    anneal_strategy: str  # one of ANNEAL_STRATEGIES
    cycle_momentum: bool
    base_momentum: v.Bound
    max_momentum: v.Bound
    div_factor: float
    final_div_factor: float
    three_phase: bool

    def __init__(
        self,
        max_lr: Any,
        total_steps: Optional[int] = None,
        epochs: Optional[int] = None,
        steps_per_epoch: Optional[int] = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: Any = 0.85,
        max_momentum: Any = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ):
        set_ = object.__setattr__
        set_(self, "max_lr", v.bound("max_lr", max_lr, v.non_negative))
        if total_steps is not None:
            total = v.integer("total_steps", total_steps, low=1)
            if epochs is not None or steps_per_epoch is not None:
                if v.integer("epochs", epochs, low=1) * v.integer("steps_per_epoch", steps_per_epoch, low=1) != total:
                    raise ValueError("total_steps and epochs * steps_per_epoch disagree: give one of them")
        elif epochs is not None and steps_per_epoch is not None:
            total = v.integer(
                "epochs * steps_per_epoch (total_steps)",
                v.integer("epochs", epochs, low=1) * v.integer("steps_per_epoch", steps_per_epoch, low=1),
            )
        else:
            raise ValueError("give total_steps, or epochs and steps_per_epoch (torch's OneCycleLR needs one)")
        set_(self, "total_steps", total)
        set_(self, "pct_start", v.in_range("pct_start", pct_start, 0.0, 1.0))
        if anneal_strategy not in ANNEAL_STRATEGIES:
            raise ValueError(f"anneal_strategy must be one of {ANNEAL_STRATEGIES}, got {anneal_strategy!r}")
        set_(self, "anneal_strategy", anneal_strategy)
        for name, flag in (("cycle_momentum", cycle_momentum), ("three_phase", three_phase)):
            if not isinstance(flag, (bool, numbers.Integral)) or flag not in (0, 1):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
            set_(self, name, bool(flag))
        set_(self, "base_momentum", v.bound("base_momentum", base_momentum, v.momentum))
        set_(self, "max_momentum", v.bound("max_momentum", max_momentum, v.momentum))
        set_(self, "div_factor", v.in_range("div_factor", div_factor, 0.0, math.inf, low_open=True, high_open=True))
        set_(
            self,
            "final_div_factor",
            v.in_range("final_div_factor", final_div_factor, 0.0, math.inf, low_open=True, high_open=True),
        )
        counts = {len(b) for b in (self.max_lr, self.base_momentum, self.max_momentum) if isinstance(b, tuple)}
        if len(counts) > 1:
            raise ValueError(f"per-group values must all have the same length, got lengths {sorted(counts)}")
        for g in range(self.num_groups or 1):
            values = self.settings_of_group(g)
            # A subnormal div_factor or final_div_factor overflows max_lr / div_factor to inf (and
            # then NaN in the anneal): refused, with the smallest factor that keeps the lr finite.
            for name, lr, factor, of in (
                ("div_factor", values["initial_lr"], self.div_factor, values["max_lr"]),
                ("final_div_factor", values["min_lr"], self.final_div_factor, values["initial_lr"]),
            ):
                if not math.isfinite(lr):
                    raise ValueError(
                        f"{name}={factor!r} makes an lr of group {g} infinite ({of!r} / {factor!r}); "
                        f"{name} must be >= {of / 1.7976931348623157e308!r} here"
                    )
        ends = self.phase_ends()
        starts = (0.0, *ends[:-1])
        for i, (start, end) in enumerate(zip(starts, ends)):
            if end == start:
                raise ValueError(
                    f"phase {i + 1} of the cycle has no length (it ends at step {end:g}, where it starts): "
                    f"torch divides by zero there; change pct_start ({self.pct_start}) or total_steps ({total})"
                )

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    # ------------------------------------------------------------------ structure
    @property
    def num_groups(self) -> Optional[int]:
        return next(
            (len(b) for b in (self.max_lr, self.base_momentum, self.max_momentum) if isinstance(b, tuple)), None
        )

    @property
    def sets_momentum(self) -> bool:
        return self.cycle_momentum

    def momentum_range(self, group: int = 0) -> Optional[tuple[float, float]]:
        if not self.cycle_momentum:
            return None
        values = self.settings_of_group(group)
        pair = (values["base_momentum"], values["max_momentum"])
        return min(pair), max(pair)

    @property
    def natural_end(self) -> Optional[int]:
        return self.total_steps

    def describe(self) -> str:
        shape = "three-phase " if self.three_phase else ""
        return (
            f"{shape}1cycle over {self.total_steps} steps: {self.anneal_strategy} up to max_lr for "
            f"{self.pct_start:g} of them, then down to max_lr / {self.div_factor:g} / {self.final_div_factor:g}"
        )

    def landmarks(self) -> tuple[int, ...]:
        return tuple(sorted({max(0, math.ceil(end)) for end in self.phase_ends()}))

    def default_steps(self) -> int:
        return min(v.shown_steps(self.total_steps), self.total_steps)

    def phase_ends(self) -> tuple:
        """torch's ``end_step`` of each phase, floats, as torch computes them."""
        total, pct = self.total_steps, self.pct_start
        if self.three_phase:
            return (float(pct * total) - 1, float(2 * pct * total) - 2, float(total - 1))
        # The last end as a float too (torch keeps the int; the value is the same): JAX takes no
        # Python int past int32 beside an int32 array (a total_steps past 2**31).
        return (float(pct * total) - 1, float(total - 1))

    def settings_of_group(self, group: int = 0) -> dict[str, float]:
        """torch's per-group values: initial_lr, max_lr, min_lr, max_momentum, base_momentum."""

        def pick(bound):
            return v.pick_group(bound, group, self.num_groups)

        initial_lr = pick(self.max_lr) / self.div_factor
        return {
            "initial_lr": initial_lr,
            "max_lr": pick(self.max_lr),
            "min_lr": initial_lr / self.final_div_factor,
            "max_momentum": pick(self.max_momentum),
            "base_momentum": pick(self.base_momentum),
        }

    def _phases(self) -> list:
        """(end_step, start_lr, end_lr, start_momentum, end_momentum) names, as torch lists them."""
        if self.three_phase:
            names = [
                ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
                ("initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            names = [
                ("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                ("max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        return [(end, *n) for end, n in zip(self.phase_ends(), names)]

    # ------------------------------------------------------------------ values
    def values_at(self, ops: Any, steps: Any, what: str, group: int) -> Any:
        if what == "momentum":
            self.check_sets_momentum()  # raises with the reason
        elif what != "lr":
            raise ValueError(f"what must be 'lr' or 'momentum', got {what!r}")
        values = self.settings_of_group(group)
        # The schedule ends at total_steps - 1. torch extrapolates its last phase one step further
        # (at total_steps, after the last update; a linear anneal goes below min_lr there, even
        # below 0) and raises past it: the spec holds the final value from total_steps - 1 on.
        steps = ops.minimum(steps, v.below_int_range(self.total_steps - 1, steps))
        # The phase's constants are picked per step (a select chain over the two or three ends, in
        # torch's order: the first phase whose end_step the step does not pass), and the anneal is
        # computed once: one cosine per step where a select over every phase's anneal costs one per
        # phase (the cosine is most of a float64 schedule's time).
        rows = []
        start_step = 0.0
        for end_step, start_lr, end_lr, start_m, end_m in self._phases():
            first, last = (values[start_lr], values[end_lr]) if what == "lr" else (values[start_m], values[end_m])
            rows.append((end_step, start_step, end_step - start_step, first, last))
            start_step = end_step
        chosen = list(rows[-1])
        for row in reversed(rows[:-1]):
            inside = steps <= row[0]
            chosen = [ops.where(inside, mine, theirs) for mine, theirs in zip(row, chosen)]
        end_step, start_step, span, first, last = chosen
        return self._anneal(ops, first, last, steps, start_step, end_step, span)

    def _anneal(self, ops: Any, start: Any, end: Any, steps: Any, start_step: Any, end_step: Any, span: Any) -> Any:
        """torch's anneal from ``start`` to ``end`` at ``steps`` of the phase from ``start_step``
        to ``end_step`` (``span = end_step - start_step``, as torch computes it): each argument a
        float or one per step."""
        pct = (steps - start_step) / span  # torch's
        if ops.in_float64:
            if self.anneal_strategy == "cos":  # torch's _annealing_cos: end + (start - end) / 2.0 * cos_out
                cos_out = ops.cos(math.pi * pct) + 1
                return end + ops.unfused(((start - end) / 2.0) * cos_out)
            return ops.unfused((end - start) * pct) + start  # torch's _annealing_linear
        # float32 (TPUs): past the middle, from the fraction left, computed directly: 1 - pct
        # cancels there, and the far end is min_lr, thousands of float32 ulps below the start.
        rest = (end_step - steps) / span
        first_half = 2 * pct <= 1
        if self.anneal_strategy == "cos":
            half = ops.where(first_half, ops.cos(math.pi * pct / 2), ops.sin(math.pi * rest / 2))
            return end + (start - end) * (half * half)
        return ops.where(first_half, (end - start) * pct + start, (start - end) * rest + end)

    def torch_kwargs(self) -> dict[str, Any]:
        out = self._values()
        for k in ("max_lr", "base_momentum", "max_momentum"):
            if isinstance(out[k], tuple):
                out[k] = list(out[k])
        return out

    # ------------------------------------------------------------------ torch
    @classmethod
    def from_torch(
        cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any
    ) -> "OneCycleSpec":
        """torch keeps ``max_lr``, ``min_lr``, ``initial_lr`` and the momentum bounds in the
        optimizer's param groups, not in the scheduler's state: pass ``optimizer.state_dict()``
        with a state dict (given the scheduler object, its optimizer is read)."""
        if kwargs:
            raise TypeError(f"OneCycleSpec.from_torch takes no keywords but optimizer_state, got {sorted(kwargs)}")
        state = torch_state(cls, scheduler_or_state)
        if optimizer_state is None and not isinstance(scheduler_or_state, Mapping):
            optimizer_state = scheduler_or_state.optimizer.state_dict()
        if optimizer_state is None:
            raise ValueError(
                "a OneCycleLR keeps max_lr, min_lr and its momentum bounds in the optimizer's param "
                "groups: pass optimizer_state=optimizer.state_dict() too"
            )
        where = cls.TORCH_CLASS
        if not isinstance(optimizer_state, Mapping):
            raise TypeError(
                f"optimizer_state must be an optimizer's state_dict(), got {type(optimizer_state).__name__}"
            )
        groups = v.state_value(optimizer_state, "param_groups", "optimizer")
        if (
            isinstance(groups, (str, bytes))
            or not isinstance(groups, Sequence)
            or not groups
            or not all(isinstance(g, Mapping) for g in groups)
        ):
            raise ValueError("the optimizer state's param_groups must be a non-empty list of param groups")
        missing = [k for k in ("max_lr", "min_lr", "initial_lr") if k not in groups[0]]
        if missing:
            raise ValueError(
                f"the optimizer state has no {missing} in its param groups: not the optimizer this OneCycleLR drove"
            )

        def column(key: str) -> list[float]:
            return v.state_reals(
                [v.state_value(g, key, "optimizer param group") for g in groups], key, "the optimizer's param_groups"
            )

        max_lrs, initial, mins = column("max_lr"), column("initial_lr"), column("min_lr")
        total = v.integer(f"{where} state: total_steps", state["total_steps"], low=1)
        phases = state["_schedule_phases"]
        if (
            isinstance(phases, (str, bytes))
            or not isinstance(phases, Sequence)
            or len(phases) not in (2, 3)
            or not all(isinstance(p, Mapping) for p in phases)
        ):
            raise ValueError(
                f"{where} state: _schedule_phases must be a list of 2 or 3 phases (dicts with an "
                f"end_step), got {v.shown(phases)}"
            )
        ends = [
            v.state_real(v.state_value(p, "end_step", f"{where} phase"), f"_schedule_phases[{i}].end_step", where)
            for i, p in enumerate(phases)
        ]
        cycle = v.state_flag(state["cycle_momentum"], "cycle_momentum", where)
        div, final = _recovered_factors(max_lrs, initial, mins)
        pct = _recovered_setting(lambda p: float(p * total) - 1 == ends[0], (ends[0] + 1) / total, "pct_start")
        momenta = {}
        if cycle:  # torch wrote both bounds into every group when it cycles momentum
            momenta = {
                "max_momentum": group_values(column("max_momentum"), "max_momentum", where),
                "base_momentum": group_values(column("base_momentum"), "base_momentum", where),
            }
        spec = cls(
            max_lr=group_values(max_lrs, "max_lr", where),
            total_steps=total,
            pct_start=pct,
            anneal_strategy=_anneal_strategy(state),
            cycle_momentum=cycle,
            div_factor=div,
            final_div_factor=final,
            three_phase=len(phases) == 3,
            **momenta,
        )
        if list(spec.phase_ends()) != ends:
            raise ValueError(
                f"{where} state: _schedule_phases end at steps {ends}, which no pct_start gives with "
                f"total_steps={total} (torch's would be {list(spec.phase_ends())})"
            )
        return spec

    @classmethod
    def _document_fields(cls) -> tuple[set, tuple]:
        return set(cls.FIELDS), ("max_lr", "total_steps")


def _anneal_strategy(state: Mapping) -> str:
    """The anneal's name: ``_anneal_func_type`` (torch >= 2.2), or the function's name before."""
    if "_anneal_func_type" in state:
        name = state["_anneal_func_type"]
        if not isinstance(name, str) or name not in ANNEAL_STRATEGIES:
            raise ValueError(
                f"OneCycleLR state: _anneal_func_type must be one of {ANNEAL_STRATEGIES}, got {v.shown(name)}"
            )
        return name
    if "anneal_func" in state:
        func = str(getattr(state["anneal_func"], "__name__", state["anneal_func"]))
        for name in ANNEAL_STRATEGIES:
            if f"_annealing_{name}" in func:
                return name
        raise ValueError(f"OneCycleLR state: anneal_func {v.shown(func)} is neither torch's cos nor its linear anneal")
    raise ValueError("not a OneCycleLR state: it has neither _anneal_func_type nor anneal_func")


def _recovered_factors(max_lrs: list, initial: list, mins: list) -> tuple[float, float]:
    """(div_factor, final_div_factor) from the groups' max_lr, initial_lr = max_lr / div_factor and
    min_lr = initial_lr / final_div_factor, bit for bit. Where every max_lr is 0 every lr is 0
    whatever the factors are: torch's defaults then."""
    nonzero = [g for g, m in enumerate(max_lrs) if m != 0]
    if not nonzero:
        if any(initial) or any(mins):
            raise ValueError(
                f"OneCycleLR state: max_lr is 0 in every param group, but initial_lr {initial} and "
                f"min_lr {mins} are not"
            )
        return 25.0, 1e4
    g = nonzero[0]
    for key, value, above in (("initial_lr", initial[g], "max_lr"), ("min_lr", mins[g], "initial_lr")):
        if value == 0:
            raise ValueError(
                f"OneCycleLR state: {key} of param group {g} is 0 where its {above} is not: "
                f"{'div_factor' if key == 'initial_lr' else 'final_div_factor'} would be infinite"
            )
    div = _recovered_setting(lambda d: [m / d for m in max_lrs] == initial, max_lrs[g] / initial[g], "div_factor")
    final = _recovered_setting(lambda f: [x / f for x in initial] == mins, initial[g] / mins[g], "final_div_factor")
    return div, final


def _recovered_setting(holds: Any, guess: float, name: str) -> float:
    """torch stores ``max_lr / div_factor``, not ``div_factor``: the round guess first."""
    return v.recovered(holds, guess, name, float(f"{guess:.12g}"))
