"""torch's step decays: clr_optax against optax's nearest built-ins, for precision and speed.

    python benchmarks/bench_decays.py

Precision: float32 values against float32 of torch's own StepLR, MultiStepLR, ExponentialLR
and PolynomialLR, stepped (torch's recursion), for the optax schedule built to match and for
clr_optax. Speed: one jitted ``vmap`` over the steps, ratio against the optax schedule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import torch

import clr_optax
from clr_spec import ExponentialSpec, MultiStepSpec, PolynomialSpec, StepSpec

from bench_family import torch_values
from _timing import float32_exactness, jit_vmap_ratio

STEPS = 20_000
LR = 0.1
T = torch.optim.lr_scheduler


def contenders() -> dict:
    milestones = [5000, 10000, 15000]
    return {
        "StepLR": (
            lambda opt: T.StepLR(opt, step_size=1000, gamma=0.7),
            "optax.exponential_decay(staircase)",
            optax.exponential_decay(LR, transition_steps=1000, decay_rate=0.7, staircase=True),
            clr_optax.lr_schedule(StepSpec(lr=LR, step_size=1000, gamma=0.7)),
        ),
        "MultiStepLR": (
            lambda opt: T.MultiStepLR(opt, milestones=milestones, gamma=0.1),
            "optax.piecewise_constant_schedule",
            optax.piecewise_constant_schedule(LR, {m: 0.1 for m in milestones}),
            clr_optax.lr_schedule(MultiStepSpec(lr=LR, milestones=milestones, gamma=0.1)),
        ),
        "ExponentialLR": (
            lambda opt: T.ExponentialLR(opt, gamma=0.9997),
            "optax.exponential_decay",
            optax.exponential_decay(LR, transition_steps=1, decay_rate=0.9997),
            clr_optax.lr_schedule(ExponentialSpec(lr=LR, gamma=0.9997)),
        ),
        "PolynomialLR": (
            lambda opt: T.PolynomialLR(opt, total_iters=STEPS, power=2.0),
            "optax.polynomial_schedule",
            optax.polynomial_schedule(LR, 0.0, power=2.0, transition_steps=STEPS),
            clr_optax.lr_schedule(PolynomialSpec(lr=LR, total_iters=STEPS, power=2.0)),
        ),
    }


def precision() -> list[tuple]:
    rows = []
    for name, (make, optax_name, theirs, ours) in contenders().items():
        reference = torch_values(make, STEPS, lr=LR)
        counts = jnp.arange(STEPS)
        for label, schedule in ((optax_name, theirs), ("clr_optax", ours)):
            values = jax.jit(jax.vmap(schedule))(counts)
            rows.append((name, label, STEPS, *float32_exactness(values, reference)))
    return rows


def speed(rounds: int = 11) -> list[tuple]:
    rows = []
    counts = jnp.arange(2**20, dtype=jnp.int32) % STEPS
    for name, (_, optax_name, theirs, ours) in contenders().items():
        mine, its, ratio = jit_vmap_ratio(ours, theirs, counts, rounds=rounds, repeats=3)
        rows.append((name, len(counts), mine, optax_name, its, ratio))
    return rows


if __name__ == "__main__":
    print(f"{'schedule':14} {'evaluator':36} {'steps':>7} {'equal':>8} {'worst ulp':>10} {'max rel':>9}")
    for name, label, steps, exact, worst, rel in precision():
        print(f"{name:14} {label:36} {steps:7d} {100 * exact:7.2f}% {worst:10d} {rel:9.1e}")
    for name, n, ours, optax_name, theirs, ratio in speed():
        print(f"{name}: clr_optax {ours:.2f} ms vs {optax_name} {theirs:.2f} ms over {n} counts: ratio {ratio:.2f}")
