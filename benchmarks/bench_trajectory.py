"""The tutorial's whole trajectory (1,343,000 steps): closed form and optax vs the torch loop.

The torch loop is the tutorial's (examples/tutorial_adam_triangular2.py: Adam on a small
model, CyclicLR stepped after every batch), timed over a slice and extrapolated; the
scheduler-only loop (no model) is shown too. Target: >= 1000x faster than the tutorial loop.
"""

from __future__ import annotations

import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

import clr_optax

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import tutorial_adam_triangular2 as tutorial  # noqa: E402

from _timing import interleaved  # noqa: E402

STEPS = tutorial.EPOCHS * tutorial.STEPS_PER_EPOCH
SLICE = 2000


def scheduler_only_loop(steps: int) -> None:
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = torch.optim.lr_scheduler.CyclicLR(opt, **tutorial.SPEC.torch_kwargs())
    opt._opt_called = True
    for _ in range(steps):
        sched.step()


def run():
    t = interleaved(
        {"tutorial": lambda: tutorial.torch_loop(SLICE), "scheduler": lambda: scheduler_only_loop(SLICE)},
        rounds=5,
        warmup=1,
    )
    per_step_loop, per_step_sched = t["tutorial"] / SLICE, t["scheduler"] / SLICE
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    schedule = jax.jit(clr_optax.cyclic_lr_schedule(tutorial.SPEC))
    t0 = time.perf_counter()
    schedule(counts).block_until_ready()
    first_call = time.perf_counter() - t0
    steps_np = np.arange(STEPS)
    fast = interleaved(
        {"closed form": lambda: tutorial.SPEC.lr(steps_np), "optax": lambda: schedule(counts).block_until_ready()},
        rounds=7,
    )
    loop_total, sched_total = per_step_loop * STEPS, per_step_sched * STEPS
    return [
        ("tutorial torch loop (extrapolated)", loop_total, 1.0),
        ("torch CyclicLR.step() alone (extrapolated)", sched_total, loop_total / sched_total),
        ("CyclicSpec.lr, numpy float64", fast["closed form"], loop_total / fast["closed form"]),
        ("clr_optax, jitted, one call", fast["optax"], loop_total / fast["optax"]),
        ("clr_optax, first call incl. compilation", first_call, loop_total / first_call),
    ]


if __name__ == "__main__":
    print(f"{STEPS} steps of the tutorial's schedule")
    print(f"{'how':45} {'seconds':>10} {'speed-up vs loop':>17}")
    for name, seconds, speedup in run():
        print(f"{name:45} {seconds:10.4f} {speedup:16.0f}x")
