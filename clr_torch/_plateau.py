"""``plateau_scheduler(optimizer, spec)``: torch's own ``ReduceLROnPlateau`` in the spec's state.

torch's class, built with the spec's keywords, its state (``best``, ``num_bad_epochs``,
``cooldown_counter``, ``last_epoch``) loaded with ``load_state_dict`` and the groups' lrs set to
the state's: its ``step(metric)`` then continues the run bit for bit, as torch's own (the
scheduler is torch's; nothing of its arithmetic is ours). A spec from ``PlateauSpec.from_torch``
or from clr_optax (``plateau_spec_from_optax``) resumes that run here.

Imports torch, never jax.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from clr_spec._plateau import PlateauSpec

from ._scheduler import _set


def plateau_scheduler(optimizer: Optimizer, spec: PlateauSpec) -> ReduceLROnPlateau:
    """torch's ``ReduceLROnPlateau`` on ``optimizer``, in ``spec``'s state: the groups' lr set to
    ``spec.state.lrs`` (a tensor lr is filled in place, as torch's scheduler does), and the next
    ``step(metric)`` is the run's next step.

    >>> import torch
    >>> from clr_spec._plateau import PlateauSpec
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    >>> spec = PlateauSpec(lr=0.1, patience=0).stepped(1.0)
    >>> sched = plateau_scheduler(opt, spec)
    >>> sched.step(2.0); opt.param_groups[0]["lr"], sched.best
    (0.010000000000000002, 1.0)
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not isinstance(spec, PlateauSpec):
        raise TypeError(
            f"spec must be a clr_spec PlateauSpec, got {type(spec).__name__} (clr_torch.scheduler "
            "takes the other specs)"
        )
    groups = len(optimizer.param_groups)
    if spec.num_groups is not None and spec.num_groups != groups:
        raise ValueError(f"the spec has values for {spec.num_groups} param groups, the optimizer has {groups}")
    for g, group in enumerate(optimizer.param_groups):
        _set(group, "lr", spec.group_lr(g))
    scheduler = ReduceLROnPlateau(optimizer, **spec.torch_kwargs())
    scheduler.load_state_dict(spec.torch_state_dict(num_groups=groups))
    # torch's own _last_lr: the groups' values, a tensor lr cloned (what its step() leaves there)
    scheduler._last_lr = [_clone(group["lr"]) for group in optimizer.param_groups]
    return scheduler


def _clone(value: Any) -> Any:
    return value.clone() if isinstance(value, Tensor) else value
