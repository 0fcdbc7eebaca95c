"""``SequentialSpec``: phases one after another, as torch's ``SequentialLR`` runs them
(a warmup, the cycles, a tail).

Phase ``i`` runs from ``milestones[i - 1]`` (0 for the first) to ``milestones[i]``, on its own
step count starting at 0 there: torch's ``SequentialLR`` restarts each scheduler at its
milestone. Momentum: a phase that cycles it (a ``CyclicSpec`` with ``cycle_momentum``) sets
it; every other phase leaves what the last one set. Before the first such phase, the optimizer
holds what building the schedulers left: the ``max_momentum`` of the last momentum-cycling
phase (each ``CyclicLR`` writes its ``max_momentum`` when built, in list order). Where no phase
sets momentum, it is the optimizer's own, given as ``momentum`` (or unknown).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from . import _family, _validation as v
from ._contract import Spec, torch_state
from ._family import register


@register
class SequentialSpec(_family.ValueSpec):
    """torch's ``SequentialLR(optimizer, schedulers, milestones)`` as a spec.

    Args:
      specs: the phases, any clr_spec specs (``LinearSpec``, ``CyclicSpec``, ...), in order.
      milestones: the steps where each phase after the first starts: ints >= 1, strictly
        increasing, one fewer than ``specs``.
      momentum: the optimizer's momentum (or beta1), a float or one per group, for the steps
        where no phase has set it; only needed when no phase cycles momentum.

    >>> from clr_spec import CyclicSpec, LinearSpec, SequentialSpec
    >>> spec = SequentialSpec([LinearSpec(lr=1.0, start_factor=0.5, total_iters=2),
    ...                        CyclicSpec(base_lr=1, max_lr=3, step_size_up=2)], milestones=[2])
    >>> spec.lr(range(8)).tolist()      # warmup 0.5, 0.75; then the cycle 1, 2, 3, 2, 1, 2
    [0.5, 0.75, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0]
    >>> spec.momentum([0, 2, 4, 6]).tolist()   # the cycle's max_momentum until it starts
    [0.9, 0.9, 0.8, 0.9]
    """

    FORMAT = "clr.SequentialSpec"
    TORCH_CLASS = "SequentialLR"
    TORCH_STATE_KEYS = frozenset({"_schedulers", "_milestones"})
    EVALUATOR = "sequence"

    specs: tuple[Spec, ...]
    milestones: tuple[int, ...]
    momentum_: Optional[v.Bound]    # the optimizer's momentum, given as momentum=; None if not given

    def __init__(self, specs: Sequence[Any], milestones: Sequence[int], momentum: Any = None):
        if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence) or len(specs) == 0:
            raise ValueError("specs must be a non-empty list of clr_spec specs (the phases, in order)")
        specs = tuple(_family.check_spec(s, f"specs[{i}]") for i, s in enumerate(specs))
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
            raise TypeError(f"milestones must be a list of ints, got {type(milestones).__name__}")
        milestones = tuple(v.integer(f"milestones[{i}]", m, low=1) for i, m in enumerate(milestones))
        if len(milestones) != len(specs) - 1:
            raise ValueError(f"milestones must have one entry fewer than specs (each phase after the first "
                             f"starts at one): {len(specs)} specs, {len(milestones)} milestones")
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"milestones must be strictly increasing, got {list(milestones)}")
        counts = {s.num_groups for s in specs} - {None}
        if momentum is not None:
            momentum = v.bound("momentum", momentum, v.momentum)
            if isinstance(momentum, tuple):
                counts.add(len(momentum))
        if len(counts) > 1:
            raise ValueError(f"the phases disagree on the number of param groups: {sorted(counts)}")
        object.__setattr__(self, "specs", specs)
        object.__setattr__(self, "milestones", milestones)
        object.__setattr__(self, "momentum_", momentum)

    def _values(self) -> dict[str, Any]:
        return {"specs": list(self.specs), "milestones": list(self.milestones), "momentum": self.momentum_}

    # ------------------------------------------------------------------ structure
    @property
    def num_groups(self) -> Optional[int]:
        counts = {s.num_groups for s in self.specs} - {None}
        if isinstance(self.momentum_, tuple):
            counts.add(len(self.momentum_))
        return next(iter(counts), None)

    @property
    def phases(self) -> tuple:
        return tuple(zip(self.starts, self.specs))

    @property
    def natural_end(self) -> Optional[int]:
        end = self.specs[-1].natural_end
        return None if end is None else self.starts[-1] + end

    def momentum_range(self, group: int = 0) -> Optional[tuple[float, float]]:
        ranges = [r for r in (s.momentum_range(group) for s in self.specs) if r is not None]
        if not ranges:
            return None
        return min(low for low, _ in ranges), max(high for _, high in ranges)

    def describe(self) -> str:
        return f"{len(self.specs)} phases, from steps {list(self.starts)}: " + "; then ".join(
            s.describe() for s in self.specs)

    def landmarks(self) -> tuple[int, ...]:
        return self.milestones

    def default_steps(self) -> int:
        return v.shown_steps(self.milestones[-1] + self.specs[-1].default_steps() if self.milestones
                             else self.specs[-1].default_steps())

    def explain(self) -> list[str]:
        lines = []
        for i, phase in enumerate(self.specs):
            end = f"step {self.milestones[i] - 1}" if i < len(self.milestones) else "on"
            lines.append(f"phase {i + 1}: steps {self.starts[i]} to {end}: {type(phase).__name__} "
                         f"({phase.TORCH_CLASS}): {phase.describe()}")
            lines += [f"    {key:15} {value}" for key, value in phase.to_dict().items()
                      if key not in ("format", "version")]
        if self.momentum_ is not None:
            lines.append(f"momentum (the optimizer's): {self.momentum_}")
        lines.append("at the milestones (step: lr of group 0):")
        for step in sorted({0, *self.milestones, *(m - 1 for m in self.milestones)}):
            lines.append(f"  {step}: {float(self.lr(step)):.6g}")
        return lines

    @property
    def starts(self) -> tuple[int, ...]:
        """The step at which each phase starts."""
        return (0, *self.milestones)

    @property
    def sets_momentum(self) -> bool:
        return any(s.sets_momentum for s in self.specs)

    def phase_of(self, steps: np.ndarray) -> np.ndarray:
        """The phase index of each step."""
        return np.searchsorted(np.asarray(self.milestones, dtype=np.int64), steps, side="right")

    def held_momentum(self, phase: int, group: int = 0) -> Optional[float]:
        """The momentum during a phase that does not set it: what the phases before left, what
        building the schedulers left, or the optimizer's own (None if not given)."""
        setters = [i for i, s in enumerate(self.specs) if s.sets_momentum]
        before = [i for i in setters if i < phase]
        if before:
            last = before[-1]
            end = self.starts[last + 1] - self.starts[last] - 1
            return float(self.specs[last].momentum(end, group))
        if setters:
            return float(self.specs[setters[-1]].momentum(0, group))
        if self.momentum_ is None:
            return None
        return v.pick_group(self.momentum_, group, self.num_groups)

    # ------------------------------------------------------------------ values
    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """The lr of the update after ``steps`` updates (numpy float64, any shape of whole steps)."""
        return self._piecewise(steps, group, lambda spec, local, g: spec.lr(local, g), None)

    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        """The momentum (or beta1) of the update after ``steps`` updates: the phases' own where
        they cycle it, what they left elsewhere (see the module docstring)."""
        if not self.sets_momentum and self.momentum_ is None:
            raise ValueError("no phase sets momentum, so it is the optimizer's own: pass it as "
                             "SequentialSpec(..., momentum=...)")
        return self._piecewise(steps, group, lambda spec, local, g: spec.momentum(local, g), self.held_momentum)

    def _piecewise(self, steps: Any, group: int, value, held) -> np.ndarray:
        arr = v.steps_array(steps)
        v.group_index(group, self.num_groups)
        out = np.empty(arr.shape, dtype=np.float64)
        phase = self.phase_of(arr)
        for i, (spec, start) in enumerate(zip(self.specs, self.starts)):
            mask = phase == i
            if not mask.any():
                continue
            if held is not None and not spec.sets_momentum:
                out[mask] = held(i, group)
            else:
                out[mask] = value(spec, arr[mask] - start, group)
        return out

    # ------------------------------------------------------------------ torch
    @classmethod
    def from_torch(cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None,
                   **kwargs: Any) -> "SequentialSpec":
        """From torch's ``SequentialLR`` or its state (each phase's state inside it). Where no
        phase sets momentum, the optimizer's is read from ``optimizer_state`` (or, given the
        scheduler object, from its optimizer)."""
        if kwargs:
            raise TypeError(f"SequentialSpec.from_torch takes no keywords but optimizer_state, got {sorted(kwargs)}")
        state = torch_state(cls, scheduler_or_state)
        if isinstance(scheduler_or_state, Mapping):
            phases = state["_schedulers"]
        else:
            phases = scheduler_or_state._schedulers
            if optimizer_state is None:
                optimizer_state = scheduler_or_state.optimizer.state_dict()
        if not isinstance(phases, (list, tuple)) or not phases:
            raise ValueError("not a SequentialLR state: _schedulers must be a non-empty list of scheduler states")
        specs = [_family.from_torch(p, optimizer_state=optimizer_state) for p in phases]
        momentum = None
        if not any(s.sets_momentum for s in specs) and optimizer_state is not None:
            momentum = _optimizer_momentum(optimizer_state)
        return cls(specs, list(state["_milestones"]), momentum=momentum)

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        momentum = list(self.momentum_) if isinstance(self.momentum_, tuple) else self.momentum_
        return {"format": self.FORMAT, "version": self.VERSION, "specs": [s.to_dict() for s in self.specs],
                "milestones": list(self.milestones), "momentum": momentum}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> "SequentialSpec":
        if kwargs:
            raise TypeError(f"SequentialSpec.from_dict takes no keywords, got {sorted(kwargs)}")
        _family.check_document(cls, data, names={"specs", "milestones", "momentum"}, required=("specs", "milestones"))
        if not isinstance(data["specs"], list):
            raise TypeError(f"specs must be a list of spec documents, got {type(data['specs']).__name__}")
        return cls([_family.from_dict(d) for d in data["specs"]], data["milestones"], momentum=data.get("momentum"))


def _optimizer_momentum(optimizer_state: Mapping) -> Any:
    """Each param group's momentum (or betas[0]) from ``optimizer.state_dict()``; None if it has none."""
    groups = optimizer_state.get("param_groups", [])
    values = []
    for group in groups:
        if "betas" in group:
            values.append(float(group["betas"][0]))
        elif "momentum" in group:
            values.append(float(group["momentum"]))
        else:
            return None
    return _family.group_values(values) if values else None
