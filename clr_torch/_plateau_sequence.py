"""``PlateauSequenceLR``: stepped phases, then torch's ReduceLROnPlateau (a
``clr_spec.PlateauSequenceSpec``; torch's SequentialLR cannot hold a ReduceLROnPlateau).

Both parts are torch's own schedulers, so each part's arithmetic is torch's: the stepped phases
are what ``clr_torch.scheduler`` builds for them (torch's SequentialLR of torch's classes), and
from the milestone on, torch's ``ReduceLROnPlateau`` in the plateau's state
(``plateau_scheduler``). ``step(metric)`` is one optimizer update, the metric (if given) the
plateau's next epoch once the milestone is reached (the spec's module says why).

Imports torch, never jax.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

from torch import Tensor
from torch.optim import Optimizer

from clr_spec import _validation as v
from clr_spec._family import SPEC_LR_STATE_KEY, from_dict
from clr_spec._plateau import PlateauSpec

from ._plateau import plateau_scheduler
from ._spec_scheduler import SpecLR


class PlateauSequenceLR(SpecLR):
    """A warmup or cycles, then ReduceLROnPlateau, as one torch scheduler.

    Args:
      optimizer: the optimizer (one group per spec group, or any number for scalar specs).
      spec: a ``clr_spec.PlateauSequenceSpec`` (``SequentialSpec([..., PlateauSpec], milestones)``).
      step: optimizer updates already taken: the next update uses the spec's lr of that step
        (past the milestone, the plateau's as the spec's state holds it).

    Call ``step(metric)`` once per optimizer update, with the epoch's metric on the updates that
    have one (``None`` otherwise): before the milestone metrics are not the plateau's.

    >>> import torch
    >>> from clr_spec import LinearSpec, PlateauSpec, SequentialSpec
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> spec = SequentialSpec([LinearSpec(lr=1.0, start_factor=0.25, total_iters=3),
    ...                        PlateauSpec(lr=1.0, factor=0.5, patience=0)], milestones=[3])
    >>> sched = PlateauSequenceLR(opt, spec)
    >>> for metric in [None, None, None, 1.0, 2.0]:
    ...     opt.step(); sched.step(metric)
    ...     print(opt.param_groups[0]["lr"])
    0.5
    0.75
    1.0
    1.0
    0.5
    """

    def __init__(self, optimizer: Optimizer, spec: Any, step: int = 0):  # noqa: D107 - the class says
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if getattr(spec, "EVALUATOR", None) != "plateau_sequence":
            raise TypeError(f"spec must be a clr_spec PlateauSequenceSpec, got {type(spec).__name__}")
        step = v.integer("step", step, low=0, why=" (optimizer steps already taken)")
        groups = spec.num_groups
        if groups is not None and groups != len(optimizer.param_groups):
            raise ValueError(
                f"the spec has values for {groups} param groups, the optimizer has {len(optimizer.param_groups)}"
            )
        self._start(optimizer, spec, step)

    def _start(self, optimizer: Optimizer, spec: Any, step: int) -> None:
        from ._family import scheduler  # here: clr_torch._family builds this class

        self.optimizer, self.spec = optimizer, spec
        self._use_beta1 = "betas" in optimizer.defaults
        self._plateau: Optional[Any] = None
        # The stepped phases at the step (at their last step, milestone - 1, when past them: the
        # momentum they leave), then the plateau in its state from the milestone on.
        self._stepped: Optional[Any] = scheduler(optimizer, spec.stepped, step=min(step, spec.milestone - 1))
        if step >= spec.milestone:
            self._stepped = None
            self._plateau = plateau_scheduler(optimizer, spec.plateau)
        self.last_epoch = step
        self._step_count = step + 1
        self._get_lr_called_within_step = False
        self._last_lr = [_clone(g["lr"]) for g in optimizer.param_groups]
        self.base_lrs = [spec.plateau.group_lr(g) for g in range(len(optimizer.param_groups))]

    def step(self, metrics: Any = None, epoch: Optional[int] = None) -> None:  # type: ignore[override]
        """One optimizer update taken; ``metrics`` the epoch's metric where the update ends one."""
        if epoch is not None:
            raise TypeError("PlateauSequenceLR.step takes no epoch: build it with step=k to resume at step k")
        step = self.last_epoch + 1
        if step < self.spec.milestone:
            assert self._stepped is not None
            with warnings.catch_warnings():
                # its own call-order warning concerns the stepped part's first step, as here
                warnings.simplefilter("ignore", UserWarning)
                self._stepped.step()
        elif self._plateau is None:
            self._stepped = None
            self._plateau = plateau_scheduler(self.optimizer, self.spec.plateau)
        if step >= self.spec.milestone and metrics is not None:
            assert self._plateau is not None
            self._plateau.step(metrics)
        self.last_epoch = step
        self._step_count += 1
        self._last_lr = [_clone(g["lr"]) for g in self.optimizer.param_groups]

    def resume_at(self, step: int) -> None:
        """Move to ``step`` as ``PlateauSequenceLR(optimizer, spec, step)`` starts there, the
        plateau in the state it has now (SpecLR's writes only the lrs: the parts need moving too)."""
        self._start(self.optimizer, self.current_spec(), v.integer("step", step, low=0))

    def get_lr(self) -> list:
        return [_clone(g["lr"]) for g in self.optimizer.param_groups]

    def current_spec(self) -> Any:
        """The spec with the plateau's state as the run has it now (what resumes the run)."""
        if self._plateau is None:
            return self.spec
        state = PlateauSpec.from_torch(self._plateau).state
        return self.spec.with_plateau(self.spec.plateau.replace(state=state))

    def state_dict(self) -> dict[str, Any]:
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "_last_lr": list(self._last_lr),
            SPEC_LR_STATE_KEY: self.current_spec().to_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        document = state_dict.get(SPEC_LR_STATE_KEY)
        if document is None:
            raise ValueError(f"not a PlateauSequenceLR state: it has no {SPEC_LR_STATE_KEY!r}")
        spec = from_dict(document)
        if spec.EVALUATOR != "plateau_sequence":
            raise ValueError(f"not a PlateauSequenceLR state: its spec is a {type(spec).__name__}")
        step = v.integer("last_epoch", state_dict.get("last_epoch"), low=0)
        groups = spec.num_groups
        if groups is not None and groups != len(self.optimizer.param_groups):
            raise ValueError(
                f"the state's spec has values for {groups} param groups, the optimizer has "
                f"{len(self.optimizer.param_groups)}"
            )
        self._start(self.optimizer, spec, step)


def _clone(value: Any) -> Any:
    return value.clone() if isinstance(value, Tensor) else value
