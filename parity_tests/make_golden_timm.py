"""Freeze timm's ``CosineLRScheduler`` values into ``golden/timm.npz``, for runs without timm or torch.

    python -m parity_tests.make_golden_timm      # needs torch and timm (no torchvision); rewrites the file

Each configuration's trajectory as timm's own code gives it (``parity_tests/_timm.py`` imports
timm's scheduler files without ``import timm``): the groups' lr at construction (step 0), then
after ``step_update(t)`` (or ``step(t)`` for a per-epoch schedule) for t = 1, 2, ..., and the same
far into training (windows ending at 2**31 - 1), where timm, which keeps no state but its
parameters, is called at those t directly. ``test_timm.py`` checks the file is current where timm
is installed, and checks clr_spec (numpy, bitwise) and clr_optax (float32 == float32(timm),
x64 bitwise) against it everywhere.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from clr_spec import TimmCosineSpec

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "timm.npz")
LRS = [0.05, 0.1]
INT32_MAX = 2**31 - 1

# name: (spec, steps of the trajectory); each spec's lr per group is LRS
CONFIGS = {
    "default_one_cycle": (TimmCosineSpec(lr=LRS, t_initial=300, t_in_epochs=False), 400),
    "restarts_decay_warmup": (
        TimmCosineSpec(
            lr=LRS,
            t_initial=100,
            lr_min=1e-5,
            cycle_decay=0.5,
            cycle_limit=8,
            warmup_t=20,
            warmup_lr_init=1e-4,
            t_in_epochs=False,
        ),
        1000,
    ),
    "growing_cycles_prefix": (
        TimmCosineSpec(
            lr=LRS,
            t_initial=50,
            cycle_mul=2.0,
            cycle_decay=0.7,
            cycle_limit=6,
            warmup_t=10,
            warmup_prefix=True,
            lr_min=1e-4,
            t_in_epochs=False,
        ),
        3200,
    ),
    "cycle_mul_10_float_log": (
        TimmCosineSpec(lr=LRS, t_initial=1, cycle_mul=10.0, cycle_limit=9, lr_min=1e-3, t_in_epochs=False),
        1200,
    ),
    "k_decay_fractional_mul": (
        TimmCosineSpec(
            lr=LRS,
            t_initial=13,
            cycle_mul=1.37,
            cycle_decay=0.93,
            cycle_limit=40,
            k_decay=1.7,
            lr_min=2e-5,
            t_in_epochs=False,
        ),
        3000,
    ),
    "per_epoch_k_decay_2": (
        TimmCosineSpec(lr=LRS, t_initial=30, cycle_limit=3, k_decay=2.0, warmup_t=3, warmup_lr_init=0.01),
        120,
    ),
    "unbounded_restarts": (
        TimmCosineSpec(lr=LRS, t_initial=777, cycle_limit=INT32_MAX, cycle_decay=0.999, lr_min=1e-6, t_in_epochs=False),
        5000,
    ),
    # the conformance row's spec (parity_tests/test_conformance.py reads its reference here without timm)
    "conformance": (
        TimmCosineSpec(
            lr=LRS,
            t_initial=37,
            cycle_mul=1.5,
            cycle_decay=0.8,
            cycle_limit=6,
            warmup_t=9,
            warmup_lr_init=1e-3,
            warmup_prefix=True,
            lr_min=1e-4,
            k_decay=1.3,
            t_in_epochs=False,
        ),
        400,
    ),
}
FAR = [(start, start + 1024) for start in (1_000_000, 100_000_000, INT32_MAX - 1023)]


def far_steps() -> np.ndarray:
    return np.concatenate([np.arange(a, b) for a, b in FAR]).astype(np.int64)


def timm_scheduler(spec: TimmCosineSpec) -> tuple[Any, Any]:
    """(timm's CosineLRScheduler for ``spec``, its optimizer): SGD with one group per lr."""
    import torch

    from . import _timm

    module = _timm.cosine_lr()
    if module is None:
        raise RuntimeError(_timm.REASON)
    groups = spec.num_groups or 1
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(groups)]
    param_groups = []
    for g, p in enumerate(params):
        group = {"params": [p], "lr": spec.group_lr(g)}
        if spec.group_scale(g) != 1.0:
            group["lr_scale"] = spec.group_scale(g)
        param_groups.append(group)
    opt = torch.optim.SGD(param_groups, lr=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # timm warns of a schedule that does nothing
        return module.CosineLRScheduler(opt, **spec.timm_kwargs()), opt


def timm_values(spec: TimmCosineSpec, steps: Any) -> np.ndarray:
    """(len(steps), groups): what the groups hold at each step, by timm's own code: at 0 what its
    construction wrote, at t > 0 after its ``step_update(t)`` (``step(t)`` per epoch). timm keeps
    no state but its parameters, so a step is reached by calling it at t."""
    sched, opt = timm_scheduler(spec)
    first = [g["lr"] for g in opt.param_groups]
    out = []
    for t in np.asarray(steps).tolist():
        if t == 0:
            out.append(first)
            continue
        if spec.t_in_epochs:
            sched.step(int(t))
        else:
            sched.step_update(num_updates=int(t))
        out.append([g["lr"] for g in opt.param_groups])
    return np.array(out, dtype=np.float64)


def compute() -> dict[str, np.ndarray]:
    out = {}
    for name, (spec, steps) in sorted(CONFIGS.items()):
        out[f"{name}/lr"] = timm_values(spec, np.arange(steps))
        out[f"{name}/far_lr"] = timm_values(spec, far_steps())
    return out


def load() -> tuple[dict[str, np.ndarray], str]:
    with np.load(PATH) as data:
        return {k: data[k] for k in data.files if "/" in k}, str(data["timm_version"])


def reference(name: str, steps: Any) -> np.ndarray:
    """timm's lrs of configuration ``name`` at ``steps`` (within its trajectory): from timm where it
    imports, else from the golden file."""
    from . import _timm

    steps = np.asarray(steps, dtype=np.int64)
    if _timm.cosine_lr() is not None:
        return timm_values(CONFIGS[name][0], steps)
    return load()[0][f"{name}/lr"][steps]


def main() -> None:
    from . import _timm

    np.savez_compressed(PATH, timm_version=np.array(_timm.version()), **compute())
    print(f"wrote {PATH} (timm {_timm.version()})")


if __name__ == "__main__":
    main()
