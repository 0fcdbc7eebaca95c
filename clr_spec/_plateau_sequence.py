"""``PlateauSequenceSpec``: a warmup or cycles, then ReduceLROnPlateau: the composition torch
lacks (its ``SequentialLR`` cannot hold a ReduceLROnPlateau: pytorch/pytorch#68978).

``SequentialSpec([phase, ..., PlateauSpec(...)], milestones)`` builds one (a PlateauSpec can only
be the last phase). Its semantics, the same in both frameworks:

- steps count optimizer updates, as in every spec; the update of step k uses ``lr(k)``;
- before the last milestone ``m`` the lr is the stepped phases' (a ``SequentialSpec`` of them,
  torch's SequentialLR arithmetic); metrics given before step ``m`` are not the plateau's (its
  epochs start at the milestone) and leave everything as it is;
- from step ``m`` on the lr is the plateau's: it starts from the PlateauSpec's own lr and state
  (as torch's SequentialLR starts each phase from its own lr; write the warmup's peak as the
  plateau's ``lr``), and moves only with metrics, torch's ``ReduceLROnPlateau.step(metric)``
  arithmetic: a metric given with the update of step k >= m (optax: ``update(..., value=metric)``;
  torch: ``scheduler.step(metric)`` before that update) is one epoch of the plateau;
- momentum: what the stepped phases set (held at its value of step ``m - 1`` after them), or
  the optimizer's own.

The spec carries the plateau's state: ``from_torch`` of a running ``clr_torch`` scheduler of
it, and clr_optax's state, give the spec that resumes the run, with the step.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from . import _family, _validation as v
from ._family import check_document, register, spec_lr_spec


@register
class PlateauSequenceSpec(_family.ValueSpec):
    """Stepped phases until the last milestone, then a ReduceLROnPlateau (the module says how).

    Args:
      specs: the phases: any stepped clr_spec specs, then a ``PlateauSpec`` last.
      milestones: where each phase after the first starts (ints >= 1, strictly increasing), one
        fewer than ``specs``; the last is where the plateau takes over.
      momentum: the optimizer's momentum where no phase sets it (as for ``SequentialSpec``).

    >>> from clr_spec import LinearSpec, PlateauSpec, SequentialSpec
    >>> spec = SequentialSpec([LinearSpec(lr=1.0, start_factor=0.25, total_iters=3),
    ...                        PlateauSpec(lr=1.0, factor=0.5, patience=0)], milestones=[3])
    >>> type(spec).__name__, spec.lr(range(5)).tolist()       # warmup, then the plateau's lr
    ('PlateauSequenceSpec', [0.25, 0.5, 0.75, 1.0, 1.0])
    >>> spec.stepped_with(4, 1.0).stepped_with(5, 2.0).plateau.state.lrs   # a worse epoch: halved
    0.5
    """

    FORMAT = "clr.PlateauSequenceSpec"
    TORCH_CLASS = ""  # torch has no class: clr_torch.PlateauSequenceLR (a SpecLR) runs it
    TORCH_SCHEDULER = "PlateauSequenceLR"
    EVALUATOR = "plateau_sequence"
    NOT_IN_SEQUENCE = "it ends with a ReduceLROnPlateau, which no phase can follow"

    stepped: Any  # the phases before the plateau: one spec, or a SequentialSpec of them
    plateau: Any  # the PlateauSpec, with the run's state
    milestone: int  # the step from which the plateau sets the lr
    specs: tuple
    milestones: tuple
    momentum_: Any

    def __init__(self, specs: Sequence[Any], milestones: Sequence[int], momentum: Any = None):
        from ._sequential import SequentialSpec, checked_milestones, checked_momentum

        if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence) or len(specs) < 2:
            raise ValueError("specs must list the stepped phases, then a PlateauSpec (at least two specs)")
        specs = tuple(_family.check_spec(s, f"specs[{i}]") for i, s in enumerate(specs))
        if specs[-1].EVALUATOR != "plateau":
            raise ValueError(f"the last of specs must be a PlateauSpec, got {type(specs[-1]).__name__}")
        milestones = checked_milestones(milestones, len(specs))
        # The stepped part is checked as the SequentialSpec (or single spec) it is: the same rules.
        stepped = specs[0] if len(specs) == 2 else SequentialSpec(specs[:-1], milestones[:-1], momentum=momentum)
        for i, phase in enumerate(specs[:-1]):
            if phase.NOT_IN_SEQUENCE or phase.EVALUATOR == "plateau":
                raise ValueError(
                    f"specs[{i}] ({type(phase).__name__}) cannot be a phase here: "
                    f"{phase.NOT_IN_SEQUENCE or 'only the last phase may be a PlateauSpec'}"
                )
        end = stepped.natural_end
        if end is not None and milestones[-1] > end + 1:
            raise ValueError(
                f"milestones[-1] is {milestones[-1]}, but specs[-2] ends at step {end} (its torch "
                "class cannot step further): the plateau must start by then"
            )
        momentum = checked_momentum(specs, momentum)
        set_ = object.__setattr__
        set_(self, "specs", specs)
        set_(self, "milestones", milestones)
        set_(self, "momentum_", momentum)
        set_(self, "stepped", stepped)
        set_(self, "plateau", specs[-1])
        set_(self, "milestone", milestones[-1])

    def _values(self) -> dict[str, Any]:
        return {"specs": self.specs, "milestones": self.milestones, "momentum": self.momentum_}

    # -------------------------------------------------------------- the contract
    @property
    def num_groups(self) -> Optional[int]:
        counts = {s.num_groups for s in self.specs} - {None}
        if isinstance(self.momentum_, tuple):
            counts.add(len(self.momentum_))
        return counts.pop() if counts else None

    @property
    def sets_momentum(self) -> bool:
        return bool(self.stepped.sets_momentum)

    def momentum_range(self, group: int = 0) -> Optional[tuple[float, float]]:
        return self.stepped.momentum_range(group)

    def default_steps(self) -> int:
        return v.shown_steps(self.milestone + max(self.milestone // 4, 10))

    def landmarks(self) -> tuple[int, ...]:
        return tuple(sorted({*self.stepped.landmarks(), self.milestone}))

    def describe(self) -> str:
        return f"{self.stepped.describe()}; from step {self.milestone}: {self.plateau.describe()}"

    def explain(self) -> list[str]:
        lines = [
            f"  until step {self.milestone}: {self.stepped.describe()}",
            f"  then (moves with the metric): {self.plateau.describe()}",
        ]
        steps = sorted({0, 1, *self.landmarks()})
        lines.append("lr of group 0 (no metric yet): " + ", ".join(f"step {k}: {float(self.lr(k)):.6g}" for k in steps))
        return lines

    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """The lr at each step, the plateau's as its state holds it now (metrics move it:
        ``stepped_with``)."""
        steps = v.steps_array(steps)
        before = steps < self.milestone
        out = np.full(steps.shape, self.plateau.group_lr(group), dtype=np.float64)
        if before.any():
            out[before] = self.stepped.lr(steps[before], group)
        return out

    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        """The stepped phases' momentum, held at its value of step ``milestone - 1`` after them."""
        steps = v.steps_array(steps)
        if not self.sets_momentum:
            return self.stepped.momentum(steps, group)
        return self.stepped.momentum(np.minimum(steps, self.milestone - 1), group)

    # -------------------------------------------------------------- the plateau's metric
    def stepped_with(self, step: int, metric: Any) -> "PlateauSequenceSpec":
        """The spec after the metric given with the update of ``step``: the plateau's next epoch
        where ``step >= milestone``, this spec unchanged before."""
        step = v.integer("step", step, low=0)
        if step < self.milestone:
            return self
        return self.with_plateau(self.plateau.stepped(metric))

    def with_plateau(self, plateau: Any) -> "PlateauSequenceSpec":
        """This spec with the plateau phase (and its state) replaced."""
        return type(self)(self.specs[:-1] + (plateau,), self.milestones, momentum=self.momentum_)

    # -------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.FORMAT,
            "version": self.VERSION,
            "specs": [s.to_dict() for s in self.specs],
            "milestones": list(self.milestones),
        }
        if self.momentum_ is not None:
            out["momentum"] = list(self.momentum_) if isinstance(self.momentum_, tuple) else self.momentum_
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> "PlateauSequenceSpec":
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_dict takes no keywords, got {sorted(kwargs)}")
        check_document(cls, data, names={"specs", "milestones", "momentum"}, required=("specs", "milestones"))
        specs = data["specs"]
        if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence):
            raise ValueError(f"{cls.FORMAT}: specs must be a list of spec documents")
        return cls([_family.from_dict(s) for s in specs], data["milestones"], momentum=data.get("momentum"))

    @classmethod
    def from_torch(
        cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any
    ) -> "PlateauSequenceSpec":
        """The spec of a ``clr_torch.PlateauSequenceLR`` (or its state): the plateau's state as the
        run has it; the step is its ``last_epoch``."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_torch takes no keywords, got {sorted(kwargs)}")
        return spec_lr_spec(scheduler_or_state, cls)
