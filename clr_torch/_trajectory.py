"""torch's own values of a spec, step by step: the reference ``clr check`` and ``clr plot`` compare
with (found by the CLI through the ``clr_spec.evaluators`` entry point, so that clr_spec never
imports this package)."""

from __future__ import annotations

import warnings
from typing import Iterator

import numpy as np
import torch

from clr_spec import Spec

from ._family import scheduler

NAME = "torch"
LABEL = "torch {cls} (float64)"


def trajectory(spec: Spec, steps: int, group: int) -> dict[str, np.ndarray]:
    """lr and momentum of param group ``group`` over steps ``0..steps-1``, from torch's own
    scheduler stepped in a loop: torch's ``CyclicLR`` for a cyclic spec (NaN past its
    triangular2 OverflowError), torch's classes through ``clr_torch.scheduler`` otherwise."""
    return next(trajectory_chunks(spec, steps, group, max(steps, 1)))


def trajectory_chunks(spec: Spec, steps: int, group: int, size: int) -> Iterator[dict[str, np.ndarray]]:
    """``trajectory`` in consecutive pieces of ``size`` steps (the last one shorter), one
    scheduler stepped through all of them: what ``clr check`` holds in memory is one piece."""
    groups = spec.num_groups or 1
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
    opt = torch.optim.SGD([{"params": [p]} for p in params], lr=0.1, momentum=0.9)
    sched: torch.optim.lr_scheduler.LRScheduler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.EVALUATOR == "cyclic":  # torch's own class, not our drop-in: the reference
            sched = torch.optim.lr_scheduler.CyclicLR(opt, **spec.torch_kwargs())  # type: ignore[attr-defined]
        else:
            sched = scheduler(opt, spec)
        opt._opt_called = True  # type: ignore[attr-defined]
    end, stopped = spec.natural_end, False
    for start in range(0, steps, size):
        count = min(size, steps - start)
        lr, mom = np.full(count, np.nan), np.full(count, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(count if not stopped else 0):
                k = start + i
                lr[i], mom[i] = opt.param_groups[group]["lr"], opt.param_groups[group]["momentum"]
                if end is not None and k + 1 >= end:
                    stopped = True  # torch extrapolates to the end step and raises past it: no value
                    break
                try:
                    sched.step()
                except OverflowError:  # torch's triangular2 past ~1024 cycles
                    stopped = True
                    break
        out = {"lr": lr}
        if spec.sets_momentum:
            out["momentum"] = mom
        yield out
