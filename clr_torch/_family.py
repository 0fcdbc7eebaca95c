"""``clr_torch.scheduler(optimizer, spec, step=k)``: the torch scheduler a spec describes.

torch's own classes where they are right (``LinearLR``, ``ConstantLR``, ``CosineAnnealingLR``,
``SequentialLR``), ``clr_torch.CyclicLR`` for a ``CyclicSpec`` (torch's, with its defects fixed:
README, "Differences from torch"). A phase's ``lr`` is written into the groups as their ``lr``
and ``initial_lr`` first, since torch's class scales that. Dispatch is by spec type and fails
closed.
"""

from __future__ import annotations

from typing import Any, Callable, cast

import torch
from torch.optim import Optimizer

from clr_spec import CyclicSpec, Spec
from clr_spec import _validation as v
from clr_spec._family import check_spec

from ._plateau import plateau_scheduler
from ._plateau_sequence import PlateauSequenceLR
from ._resume import fast_forward
from ._scheduler import CyclicLR, _set
from ._spec_scheduler import SpecLR


def scheduler(optimizer: Optimizer, spec: Spec, step: int = 0) -> torch.optim.lr_scheduler.LRScheduler:
    """The torch scheduler ``spec`` describes, as if stepped ``step`` times: the next
    ``optimizer.step()`` uses ``spec.lr(step)``.

    A ``CyclicSpec`` resumes directly (``CyclicLR.from_spec(step=k)``); the others are built at
    step 0 and moved to step k as a replay of k steps leaves them, bit for bit, without
    replaying them (``clr_torch._resume``): in O(1) for the closed forms, in a fast loop over
    torch's own arithmetic where torch steps recursively (``CosineAnnealingLR``: about 0.3 us a
    step; ``LinearLR``: its ``total_iters`` steps at most, vectorized). A spec torch has no class
    for runs as ``SpecLR`` (its values at each step, resumed in O(1)); a warmup or cycles then a
    plateau as ``PlateauSequenceLR``. The optimizer's lr (and
    momentum, where a phase cycles it) is set as torch's schedulers set it. With an optimizer
    that has ``betas`` (Adam, AdamW, ...), a spec's momentum (beta1) must stay below 1.

    >>> import torch, clr_torch
    >>> from clr_spec import CyclicSpec, LinearSpec, SequentialSpec
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    >>> spec = SequentialSpec([LinearSpec(lr=1.0, start_factor=0.5, total_iters=2),
    ...                        CyclicSpec(base_lr=1, max_lr=3, step_size_up=2)], milestones=[2])
    >>> sched = clr_torch.scheduler(opt, spec, step=1)      # resumed mid-warmup
    >>> opt.param_groups[0]["lr"], type(sched).__name__
    (0.75, 'SequentialLR')
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    check_spec(spec)
    step = v.integer("step", step, low=0, why=" (optimizer steps already taken)")
    end = spec.natural_end
    if end is not None and step > end:
        raise ValueError(f"step must be <= {end} (the schedule's end): torch's {spec.TORCH_CLASS} raises past it")
    _check_groups(optimizer, spec)
    _check_beta1(optimizer, spec)
    if spec.EVALUATOR == "plateau" and step:
        raise ValueError(
            "a PlateauSpec resumes from the state it carries (its metric history), not from a step: "
            "pass step=0 (clr_spec.from_torch of the run's ReduceLROnPlateau gives that state)"
        )
    if spec.EVALUATOR == "cyclic":
        return CyclicLR.from_spec(optimizer, cast(CyclicSpec, spec), step=step)  # the "cyclic" evaluator's spec
    if spec.EVALUATOR == "plateau_sequence":
        return PlateauSequenceLR(optimizer, spec, step=step)  # resumes its parts itself
    built = _build(optimizer, spec)
    fast_forward(built, spec, step)
    return built


def _check_beta1(optimizer: Optimizer, spec: Any) -> None:
    """Adam-like optimizers divide by ``1 - beta1**t``: a spec that sets beta1 keeps it in [0, 1),
    the rule ``CyclicLR`` applies (torch takes beta1 = 1 and then divides by 0)."""
    if not (spec.sets_momentum and "betas" in optimizer.defaults):
        return
    for g in range(len(optimizer.param_groups)):
        bounds = spec.momentum_range(g)
        if bounds is not None and not (0.0 <= bounds[0] and bounds[1] < 1.0):
            raise ValueError(
                f"the spec's momentum of param group {g} reaches {bounds[1]!r}: it must lie in [0, 1) "
                f"when it sets an optimizer's betas[0] ({type(optimizer).__name__}'s bias correction "
                "divides by 1 - beta1**t)"
            )


def _check_groups(optimizer: Optimizer, spec: Any) -> None:
    groups = spec.num_groups
    if groups is not None and groups != len(optimizer.param_groups):
        raise ValueError(
            f"the spec has values for {groups} param groups, the optimizer has {len(optimizer.param_groups)}"
        )


def _set_initial_lr(optimizer: Optimizer, spec: Any) -> None:
    """Write a phase's lr as each group's ``lr`` and ``initial_lr``: what torch's class scales.
    A tensor lr stays a tensor (filled in place), and so is its initial_lr, as torch makes it."""
    for g, group in enumerate(optimizer.param_groups):
        _set(group, "lr", spec.group_lr(g))
        group["initial_lr"] = group["lr"].clone() if isinstance(group["lr"], torch.Tensor) else group["lr"]


def _initial_lrs(optimizer: Optimizer) -> list:
    return [
        g["initial_lr"].clone() if isinstance(g["initial_lr"], torch.Tensor) else g["initial_lr"]
        for g in optimizer.param_groups
    ]


def _build_formula(optimizer: Optimizer, spec: Any) -> torch.optim.lr_scheduler.LRScheduler:
    """torch's own class for the spec; a phase's lr goes into the groups first (torch scales it).
    A spec torch has no class for (``TORCH_CLASS`` empty) runs as ``SpecLR``."""
    if not spec.TORCH_CLASS:
        return SpecLR(optimizer, spec)
    if spec.NEEDS_INITIAL_LR:
        _set_initial_lr(optimizer, spec)
    built = getattr(torch.optim.lr_scheduler, spec.TORCH_CLASS)(optimizer, **spec.torch_kwargs())
    if spec.NEEDS_INITIAL_LR:
        built.base_lrs = _initial_lrs(optimizer)  # this phase's lr, even where a later phase rewrites it
    return built


def _build_sequential(optimizer: Optimizer, spec: Any) -> torch.optim.lr_scheduler.SequentialLR:
    """torch's SequentialLR of the phases as torch runs them (``spec.phases``: a nested first
    sequence's phases in place of it, a step earlier, as torch runs a nested one)."""
    phases, one_cycle = [], None
    for _, phase in spec.phases:
        phases.append(_build(optimizer, phase))
        if phase.TORCH_CLASS == "OneCycleLR":  # it wrote max_lr / div_factor into initial_lr
            one_cycle = [g["initial_lr"] for g in optimizer.param_groups]
    first = spec.phases[0][1]
    if one_cycle is not None:
        # A OneCycleLR reads initial_lr from the groups on every step, and SequentialLR starts the
        # first phase from it: the later phases' lr written there while building, undone (the
        # SequentialSpec checks that the first phase's lr is this one, as torch forces it to be).
        for group, initial in zip(optimizer.param_groups, one_cycle):
            group["initial_lr"] = initial
    elif first.NEEDS_INITIAL_LR:
        _set_initial_lr(optimizer, first)  # SequentialLR restarts the first phase from initial_lr
    return torch.optim.lr_scheduler.SequentialLR(optimizer, phases, milestones=[start for start, _ in spec.phases[1:]])


def _build_chained(optimizer: Optimizer, spec: Any) -> torch.optim.lr_scheduler.ChainedScheduler:
    """torch's ChainedScheduler: the members built in order on the optimizer's lr, which is set
    once (each member's construction scales the lr the one before left, as in torch)."""
    _set_initial_lr(optimizer, spec)
    members = [getattr(torch.optim.lr_scheduler, m.TORCH_CLASS)(optimizer, **m.torch_kwargs()) for m in spec.specs]
    return torch.optim.lr_scheduler.ChainedScheduler(members, optimizer=optimizer)


# One builder per EVALUATOR a spec can name (clr_spec._contract.EVALUATORS).
_BUILDERS: dict[str, Callable[[Optimizer, Any], Any]] = {
    "formula": _build_formula,
    "cyclic": lambda optimizer, spec: CyclicLR.from_spec(optimizer, spec),
    "sequence": _build_sequential,
    "chained": _build_chained,
    "plateau": plateau_scheduler,
    "plateau_sequence": lambda optimizer, spec: PlateauSequenceLR(optimizer, spec),
}


def _build(optimizer: Optimizer, spec: Spec) -> torch.optim.lr_scheduler.LRScheduler:
    """The scheduler at step 0, built as the spec's ``EVALUATOR`` says (fails closed)."""
    builder = _BUILDERS.get(spec.EVALUATOR)
    if builder is None:
        raise TypeError(
            f"clr_torch has no scheduler builder {spec.EVALUATOR!r} (for {type(spec).__name__}); "
            f"it has {sorted(_BUILDERS)}"
        )
    return builder(optimizer, spec)
