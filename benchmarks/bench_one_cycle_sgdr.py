"""1cycle and SGDR: clr_optax against optax's own schedules, for precision and for speed.

    python benchmarks/bench_one_cycle_sgdr.py

Precision: float32 values against float32 of torch's own OneCycleLR(max_lr=0.1,
total_steps=10_000) and CosineAnnealingWarmRestarts(T_0=1000, T_mult=2, eta_min=1e-4), for
``optax.cosine_onecycle_schedule`` (at its defaults, which are torch's numbers),
``optax.sgdr_schedule`` (built to match: one cosine per period) and clr_optax. Speed: one jitted
``vmap`` over the steps, ratio against the optax schedule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import torch

import clr_optax
from clr_spec import OneCycleSpec, WarmRestartsSpec

from bench_family import torch_values
from _timing import float32_exactness, jit_vmap_ratio

ONE_CYCLE_STEPS, SGDR_STEPS = 10_000, 31_000  # SGDR: periods of 1000, 2000, 4000, 8000, 16000


def contenders() -> dict:
    sgdr_periods = [1000 * 2**n for n in range(5)]
    return {
        "1cycle": (
            lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=ONE_CYCLE_STEPS),
            ONE_CYCLE_STEPS,
            "optax.cosine_onecycle_schedule",
            optax.cosine_onecycle_schedule(ONE_CYCLE_STEPS, 0.1),
            clr_optax.lr_schedule(OneCycleSpec(max_lr=0.1, total_steps=ONE_CYCLE_STEPS)),
        ),
        "SGDR": (
            lambda opt: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=1000, T_mult=2, eta_min=1e-4),
            SGDR_STEPS,
            "optax.sgdr_schedule",
            optax.sgdr_schedule(
                [
                    dict(init_value=0.1, peak_value=0.1, warmup_steps=0, decay_steps=t, end_value=1e-4)
                    for t in sgdr_periods
                ]
            ),
            clr_optax.lr_schedule(WarmRestartsSpec(lr=0.1, T_0=1000, T_mult=2, eta_min=1e-4)),
        ),
    }


def precision() -> list[tuple]:
    rows = []
    for name, (make, steps, optax_name, theirs, ours) in contenders().items():
        reference = torch_values(make, steps)
        counts = jnp.arange(steps)
        for label, schedule in ((optax_name, theirs), ("clr_optax", ours)):
            values = jax.jit(jax.vmap(schedule))(counts)
            rows.append((name, label, steps, *float32_exactness(values, reference)))
    return rows


def speed(rounds: int = 11) -> list[tuple]:
    rows = []
    for name, (_, steps, optax_name, theirs, ours) in contenders().items():
        counts = jnp.arange(steps * 30, dtype=jnp.int32) % steps  # enough work to time
        mine, its, ratio = jit_vmap_ratio(ours, theirs, counts, rounds=rounds, repeats=3)
        rows.append((name, len(counts), mine, optax_name, its, ratio))
    return rows


if __name__ == "__main__":
    print(f"{'schedule':8} {'evaluator':32} {'steps':>7} {'equal':>8} {'worst ulp':>10} {'max rel':>9}")
    for name, label, steps, exact, worst, rel in precision():
        print(f"{name:8} {label:32} {steps:7d} {100 * exact:7.2f}% {worst:10d} {rel:9.1e}")
    for name, n, ours, optax_name, theirs, ratio in speed():
        print(f"{name}: clr_optax {ours:.2f} ms vs {optax_name} {theirs:.2f} ms over {n} counts: ratio {ratio:.2f}")
