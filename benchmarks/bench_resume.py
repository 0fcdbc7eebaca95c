"""Resuming torch at step k: ``clr_torch.scheduler(opt, spec, step=k)`` vs torch's constructor +
``load_state_dict`` (the state of the scheduler at k), per torch class, A/B interleaved.

    python benchmarks/bench_resume.py

torch's own way needs the state saved at k; clr_torch's needs only the spec and k, and moves the
scheduler there without replaying k steps where a closed form is bitwise the replay
(``clr_torch._resume``). Where the value at k depends on every rounding on the way (the
recursions: each lr the last one times a rounded factor), it is replayed as plain float
arithmetic in torch's order, and the table says so.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import torch

import clr_torch
from clr_spec import (
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

from _timing import median_ratio

K = 100_000
CPU = time.process_time
REPLAYED = "replayed (path-dependent roundings: no bitwise closed form)"
CLOSED = "O(1)"


def _warmup(k: int) -> float:
    return min(1.0, (k + 1) / 1000)


def _factor(k: int) -> float:
    return 0.99999


def cases() -> list[tuple[str, Any, str]]:
    """(torch class, spec, how clr_torch resumes it)."""
    return [
        ("CyclicLR", CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=2000), CLOSED),
        ("OneCycleLR", OneCycleSpec(max_lr=0.1, total_steps=2 * K), CLOSED),
        ("CosineAnnealingWarmRestarts", WarmRestartsSpec(lr=0.1, T_0=1000, T_mult=2), CLOSED + " (log k restarts)"),
        ("LambdaLR", LambdaSpec(lr=0.1, lr_lambda=_warmup), CLOSED),
        ("ConstantLR", ConstantSpec(lr=0.1, factor=0.5, total_iters=1000), CLOSED),
        ("MultiStepLR", MultiStepSpec(lr=0.1, milestones=[30_000, 60_000, 90_000]), CLOSED + " (per milestone)"),
        ("StepLR", StepSpec(lr=0.1, step_size=1000, gamma=0.99), "product of k / step_size factors (vectorized)"),
        ("ExponentialLR", ExponentialSpec(lr=0.1, gamma=0.99999), "product of k factors (vectorized)"),
        (
            "LinearLR",
            LinearSpec(lr=0.1, start_factor=0.01, total_iters=10_000),
            "product of min(k, total_iters) factors (vectorized)",
        ),
        ("PolynomialLR", PolynomialSpec(lr=0.1, total_iters=2 * K, power=2.0), REPLAYED + ", vectorized"),
        ("CosineAnnealingLR", CosineAnnealingSpec(lr=0.1, T_max=1000), REPLAYED + ", a product (eta_min 0)"),
        (
            "CosineAnnealingLR eta_min>0",
            CosineAnnealingSpec(lr=0.1, T_max=1000, eta_min=1e-4),
            REPLAYED + ", k float steps",
        ),
        (
            "MultiplicativeLR",
            MultiplicativeSpec(lr=0.1, lr_lambda=_factor, horizon=2 * K),
            REPLAYED + ": k calls of the user's function",
        ),
        (
            "SequentialLR",
            SequentialSpec(
                [
                    LinearSpec(lr=0.1, start_factor=0.01, total_iters=1000),
                    CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=2000),
                ],
                milestones=[1000],
            ),
            "phase by phase",
        ),
    ]


def _optimizer(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(4))], lr=lr, momentum=0.9)


def _torch_resume(spec: Any) -> Callable[[], object]:
    """torch's own way: build the scheduler (``clr_torch.scheduler`` at step 0 builds torch's
    class), then ``load_state_dict`` of the one at K."""
    lr = spec.group_lr(0) if hasattr(spec, "group_lr") else 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = clr_torch.scheduler(_optimizer(lr), spec, step=K).state_dict()

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = clr_torch.scheduler(_optimizer(lr), spec)
            sched.load_state_dict(state)
        return sched

    return run


def _ours(spec: Any) -> Callable[[], object]:
    lr = spec.group_lr(0) if hasattr(spec, "group_lr") else 0.1

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return clr_torch.scheduler(_optimizer(lr), spec, step=K)

    return run


def run(rounds: int = 5, repeats: int = 3) -> list[tuple]:
    """(class, our ms, torch's constructor + load_state_dict ms, the ratio, how)."""
    rows = []
    for name, spec, how in cases():
        ratio, times = median_ratio(
            {"ours": _ours(spec), "torch": _torch_resume(spec)},
            "ours",
            "torch",
            rounds=rounds,
            repeats=repeats,
            warmup=1,
            clock=CPU,
        )
        rows.append((name, times["ours"] * 1e3, times["torch"] * 1e3, ratio, how))
    return rows


if __name__ == "__main__":
    print(f"resume at step {K:,}: clr_torch.scheduler(opt, spec, step=k) vs torch's constructor + load_state_dict")
    for name, ours, theirs, ratio, how in run():
        print(f"{name:30} {ours:9.3f} ms {theirs:8.3f} ms {ratio:8.1f}x  {how}")
