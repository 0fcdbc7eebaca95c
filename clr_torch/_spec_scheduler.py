"""``SpecLR``: the torch scheduler of a spec that torch has no class for.

A spec whose ``TORCH_CLASS`` is empty (a schedule of another library, timm's or Hugging Face's,
or one of ours) runs in torch as a ``SpecLR``: at every step it writes the spec's own values,
``spec.lr(step, group)`` (and its momentum, where it sets one) in float64, the numbers
``clr_spec`` defines for it. Its ``state_dict()`` carries the spec's JSON document
(``spec_document``), so that ``clr_spec.from_torch`` of a saved state gives the spec back and
``load_state_dict`` restores the schedule with the step.
"""

from __future__ import annotations

from typing import Any, Optional

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from clr_spec import Spec
from clr_spec import _validation as v
from clr_spec._family import SPEC_LR_STATE_KEY, check_spec, from_dict

from ._scheduler import _set, _set_momentum


class SpecLR(LRScheduler):
    """Writes ``spec.lr(last_epoch, group)`` into each param group at every step.

    Args:
      optimizer: the optimizer whose groups it sets (one per spec group, or any number for a
        spec of scalars).
      spec: a clr_spec spec (any type; ``clr_torch.scheduler`` uses this class for the ones
        torch has no class for).
      last_epoch: torch's meaning: -1 starts the schedule (the groups get ``spec.lr(0)``).

    >>> import torch
    >>> from clr_spec import CosineAnnealingSpec
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = SpecLR(opt, CosineAnnealingSpec(lr=0.1, T_max=4))
    >>> opt.step(); sched.step(); round(opt.param_groups[0]["lr"], 6)
    0.085355
    """

    def __init__(self, optimizer: Optimizer, spec: Spec, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.spec = check_spec(spec)
        v.integer("last_epoch", last_epoch, low=-1)
        groups = spec.num_groups
        if groups is not None and groups != len(optimizer.param_groups):
            raise ValueError(
                f"the spec has values for {groups} param groups, the optimizer has {len(optimizer.param_groups)}"
            )
        self._use_beta1 = "betas" in optimizer.defaults
        super().__init__(optimizer, last_epoch)

    def _values_at(self, step: int) -> list[float]:
        """The groups' lrs at ``step`` (and their momentum written, where the spec sets it)."""
        end = self.spec.natural_end
        if end is not None and step > end:
            raise ValueError(f"{type(self.spec).__name__} ends at step {end}: SpecLR cannot step to {step}")
        lrs = [float(self.spec.lr(step, g)) for g in range(len(self.optimizer.param_groups))]
        if self.spec.sets_momentum:
            for g, group in enumerate(self.optimizer.param_groups):
                _set_momentum(group, self._use_beta1, float(self.spec.momentum(step, g)))
        return lrs

    def get_lr(self) -> list[float]:  # type: ignore[override]
        return self._values_at(self.last_epoch)

    def _get_closed_form_lr(self) -> list[float]:
        return self._values_at(self.last_epoch)

    def resume_at(self, step: int) -> None:
        """Move to ``step`` in O(1), as ``step`` calls of ``step()`` leave the scheduler."""
        step = v.integer("step", step, low=0)
        for group, lr in zip(self.optimizer.param_groups, self._values_at(step)):
            _set(group, "lr", lr)
        self._step_count += step - self.last_epoch
        self.last_epoch = step
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        state = {k: val for k, val in self.__dict__.items() if k not in ("optimizer", "spec", "_use_beta1")}
        state[SPEC_LR_STATE_KEY] = self.spec.to_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)  # the caller's dict is not changed
        document: Optional[Any] = state.pop(SPEC_LR_STATE_KEY, None)
        if document is None:
            raise ValueError(f"not a SpecLR state: it has no {SPEC_LR_STATE_KEY!r}")
        spec = from_dict(document)
        if spec.num_groups is not None and spec.num_groups != len(self.optimizer.param_groups):
            raise ValueError(
                f"the state's spec has values for {spec.num_groups} param groups, the optimizer has "
                f"{len(self.optimizer.param_groups)}"
            )
        self.__dict__.update(state)
        self.spec = spec
