"""Freeze torch's values for the family (1cycle, SGDR, warmups, tails, sequences) into
``golden/torch_family.npz``, for runs without torch.

    python -m parity_tests.make_golden_family      # needs torch; rewrites the file

Each configuration's whole trajectory as torch's own classes give it (built by
``clr_torch.scheduler``, which is torch's class for these specs; its CyclicLR phases are
clr_torch's, bitwise torch's), lr and, where the spec sets it, momentum, per param group. SGDR
far into training (windows ending at 2**31 - 1) comes from exact integer arithmetic and
torch's formula in Python, since no one steps torch that far. ``test_golden.py`` checks the
file is current where torch is installed and checks clr_spec and clr_optax against it.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from clr_spec import (
    ChainedSpec,
    ConstantSpec,
    CosineAnnealingSpec,
    CyclicSpec,
    ExponentialSpec,
    LambdaSpec,
    LinearSpec,
    MultiplicativeSpec,
    MultiStepSpec,
    OneCycleSpec,
    PolynomialSpec,
    SequentialSpec,
    StepSpec,
    WarmRestartsSpec,
)

from ._helpers import INT32_MAX

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "torch_family.npz")
LRS = [0.05, 0.1]


def slow_decay(k):
    """A MultiplicativeLR function: 0.995 every step."""
    return 0.995


# name: (spec, steps torch is stepped through)
CONFIGS = {
    "linear": (LinearSpec(lr=LRS, start_factor=0.1, total_iters=50), 120),
    "constant": (ConstantSpec(lr=LRS, factor=0.2, total_iters=30), 60),
    "cosine": (CosineAnnealingSpec(lr=LRS, T_max=400, eta_min=1e-4), 1000),
    "sgdr": (WarmRestartsSpec(lr=LRS, T_0=100, T_mult=2, eta_min=1e-5), 3000),
    "sgdr_constant_period": (WarmRestartsSpec(lr=LRS, T_0=37), 500),
    "onecycle": (OneCycleSpec(max_lr=[0.1, 0.3], total_steps=2000), 2000),
    "onecycle_three_phase_linear": (
        OneCycleSpec(
            max_lr=0.2, total_steps=997, pct_start=0.25, three_phase=True, anneal_strategy="linear", div_factor=10.0
        ),
        997,
    ),
    "step": (StepSpec(lr=LRS, step_size=30, gamma=0.5), 1000),
    "multistep": (MultiStepSpec(lr=LRS, milestones=[100, 250, 250, 600], gamma=0.3), 800),
    "exponential": (ExponentialSpec(lr=LRS, gamma=0.997), 3000),
    "polynomial": (PolynomialSpec(lr=LRS, total_iters=1500, power=0.9), 1600),
    "lambda": (LambdaSpec(lr=LRS, lr_lambda=lambda k: 0.98**k * (k + 1) / (k + 2)), 600),
    "multiplicative": (MultiplicativeSpec(lr=LRS, lr_lambda=slow_decay, horizon=2000), 2000),
    "chained_warmup_exponential": (
        ChainedSpec(
            [LinearSpec(lr=LRS, start_factor=0.05, total_iters=80), ExponentialSpec(lr=LRS, gamma=0.998)], horizon=1500
        ),
        1500,
    ),
    "warmup_multistep": (
        SequentialSpec(
            [
                LinearSpec(lr=LRS, start_factor=0.01, total_iters=50),
                MultiStepSpec(lr=LRS, milestones=[200, 400], gamma=0.1),
            ],
            milestones=[50],
        ),
        700,
    ),
    "warmup_cycles_anneal": (
        SequentialSpec(
            [
                LinearSpec(lr=LRS, start_factor=0.1, total_iters=100),
                CyclicSpec(
                    base_lr=[1e-3, 2e-3],
                    max_lr=[1e-2, 3e-2],
                    step_size_up=100,
                    mode="triangular2",
                    base_momentum=[0.8, 0.85],
                    max_momentum=[0.9, 0.95],
                ),
                CosineAnnealingSpec(lr=LRS, T_max=300, eta_min=1e-5),
            ],
            milestones=[100, 700],
        ),
        1200,
    ),
}
FAR = [(start, start + 1024) for start in (1_000_000, 100_000_000, INT32_MAX - 1023)]


def keys() -> list[tuple[str, str]]:
    return [
        (name, what)
        for name, (spec, _) in sorted(CONFIGS.items())
        for what in (("lr", "momentum") if spec.sets_momentum else ("lr",))
    ]


def torch_trajectory(spec, steps: int) -> dict[str, np.ndarray]:
    import torch

    import clr_torch

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in LRS]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)], lr=0.5, momentum=0.9)
    out = np.empty((steps, len(LRS), 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = clr_torch.scheduler(opt, spec)
        for k in range(steps):
            out[k] = [(g["lr"], g["momentum"]) for g in opt.param_groups]
            opt.step()
            if k + 1 < steps:
                sched.step()
    return {"lr": out[..., 0], "momentum": out[..., 1]}


def far_sgdr(spec: WarmRestartsSpec, steps: np.ndarray) -> np.ndarray:
    """torch's formula with T_cur and T_i from Python integers: (steps, groups)."""
    out = np.empty((len(steps), len(LRS)))
    for i, k in enumerate(steps.tolist()):
        t_i, start = spec.T_0, 0
        while spec.T_mult > 1 and start + t_i <= k:
            start, t_i = start + t_i, t_i * spec.T_mult
        t_cur = (k - start) % t_i
        for g in range(len(LRS)):
            lr = spec.group_lr(g)
            out[i, g] = spec.eta_min + (lr - spec.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
    return out


def far_steps() -> np.ndarray:
    return np.concatenate([np.arange(a, b) for a, b in FAR]).astype(np.int64)


def compute() -> dict[str, np.ndarray]:
    out = {}
    for name, (spec, steps) in sorted(CONFIGS.items()):
        trajectory = torch_trajectory(spec, steps)
        for what in ("lr", "momentum") if spec.sets_momentum else ("lr",):
            out[f"{name}/{what}"] = trajectory[what]
        if isinstance(spec, WarmRestartsSpec):
            out[f"{name}/far_lr"] = far_sgdr(spec, far_steps())
    return out


def load() -> tuple[dict[str, np.ndarray], str]:
    with np.load(PATH) as data:
        return {k: data[k] for k in data.files if "/" in k}, str(data["torch_version"])


def main() -> None:
    import torch

    np.savez_compressed(PATH, torch_version=np.array(torch.__version__), **compute())
    print(f"wrote {PATH} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
