"""Hugging Face's schedules and warmup-stable-decay: clr_optax against optax's nearest
compositions, for exactness (against transformers itself) and speed.

    python benchmarks/bench_huggingface.py     # needs torch and transformers (the reference)

Exactness: float32 values over 1,048,576 steps against float32 of transformers' own lr,
``base_lr * lr_lambda(step)`` (``LambdaLR.get_lr``, bit for bit what its stepped run holds;
``test_huggingface.py`` checks that on whole trajectories), for the optax composition a porter
would write and for clr_optax. Speed: one jitted ``vmap`` over the steps, the median ratio of
clr_optax's time to the composition's (``_timing.jit_vmap_ratio``).
"""

from __future__ import annotations

import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from transformers import get_scheduler

import clr_optax
from clr_spec import WSDSpec, huggingface_spec

from _timing import Clock, float32_exactness, jit_vmap_ratio

STEPS = 2**20
LR = 3e-4
WARMUP = 10_000


def hf_values(name: str, steps: int, **kwargs) -> np.ndarray:
    """transformers' lr at every step: its LambdaLR's get_lr (base_lr * lr_lambda(k)), float64."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = get_scheduler(name, opt, **kwargs)
    fn, base = sched.lr_lambdas[0], sched.base_lrs[0]
    return np.fromiter((base * fn(k) for k in range(steps)), dtype=np.float64, count=steps)


def cyclic_reference(spec: WSDSpec, steps: int) -> np.ndarray:
    """The cyclic WSD by hand (transformers' WSD lambda per cycle, linear shapes, peak p)."""
    out = np.empty(steps)
    starts = [c.start for c in spec.cycles]
    m = spec.min_lr_ratio
    for k in range(steps):
        i = max(j for j, s in enumerate(starts) if s <= k)
        c, t = spec.cycles[i], k - starts[i]
        if t < c.warmup:
            f = max(0.0, (float(t) / float(max(1, c.warmup))) * (c.peak - m) + m)
        elif t < c.warmup + c.stable:
            f = c.peak
        elif t < c.warmup + c.stable + c.decay:
            f = max(0.0, (1.0 - float(t - c.warmup - c.stable) / float(max(1, c.decay))) * (c.peak - m) + m)
        else:
            f = m
        out[k] = spec.initial_lr * f
    return out


def contenders() -> dict:
    """name: (the reference's values (a thunk), the optax composition's name, it, clr_optax's schedule)."""
    total, decay = STEPS, STEPS // 5
    stable = total - WARMUP - decay
    cycles = WSDSpec(
        lr=LR,
        num_warmup_steps=WARMUP,
        num_decay_steps=decay // 2,
        decay_type="linear",
        cycle_lengths=[total // 2, total // 4, total // 4],
        peak_factors=[1.0, 0.7, 0.5],
        rewarm_steps=WARMUP // 2,
        min_lr_ratio=0.1,
    )
    pieces, bounds = [], []
    for c in cycles.cycles:  # maxtext's way: join_schedules of linear pieces, cycle by cycle
        m, p = cycles.min_lr_ratio * LR, c.peak * LR
        pieces += [
            optax.linear_schedule(m, p, max(1, c.warmup)),
            optax.constant_schedule(p),
            optax.linear_schedule(p, m, max(1, c.decay)),
        ]
        bounds += [c.start + c.warmup, c.start + c.warmup + c.stable, c.end]
    return {
        "cosine": (
            lambda: hf_values("cosine", STEPS, num_warmup_steps=WARMUP, num_training_steps=total),
            "optax.warmup_cosine_decay_schedule",
            optax.warmup_cosine_decay_schedule(0.0, LR, WARMUP, total, end_value=0.0),
            clr_optax.lr_schedule(huggingface_spec("cosine", LR, WARMUP, total)),
        ),
        "linear": (
            lambda: hf_values("linear", STEPS, num_warmup_steps=WARMUP, num_training_steps=total),
            "optax.join_schedules(2 linear)",
            optax.join_schedules(
                [optax.linear_schedule(0.0, LR, WARMUP), optax.linear_schedule(LR, 0.0, total - WARMUP)], [WARMUP]
            ),
            clr_optax.lr_schedule(huggingface_spec("linear", LR, WARMUP, total)),
        ),
        "warmup_stable_decay": (
            lambda: hf_values(
                "warmup_stable_decay",
                STEPS,
                num_warmup_steps=WARMUP,
                num_training_steps=total,
                scheduler_specific_kwargs={"num_decay_steps": decay, "decay_type": "linear"},
            ),
            "optax.join_schedules(linear, constant, linear)",
            optax.join_schedules(
                [
                    optax.linear_schedule(0.0, LR, WARMUP),
                    optax.constant_schedule(LR),
                    optax.linear_schedule(LR, 0.0, decay),
                ],
                [WARMUP, WARMUP + stable],
            ),
            clr_optax.lr_schedule(
                WSDSpec(
                    lr=LR, num_warmup_steps=WARMUP, num_decay_steps=decay, num_training_steps=total, decay_type="linear"
                )
            ),
        ),
        "cyclic WSD (3 cycles)": (
            lambda: cyclic_reference(cycles, STEPS),
            "optax.join_schedules(9 pieces)",
            optax.join_schedules(pieces, bounds[:-1]),
            clr_optax.lr_schedule(cycles),
        ),
    }


def precision(table: dict) -> list[tuple]:
    rows = []
    counts = jnp.arange(STEPS)
    for name, (reference, optax_name, theirs, ours) in table.items():
        ref = reference()
        for label, schedule in ((optax_name, theirs), ("clr_optax", ours)):
            values = np.asarray(jax.jit(jax.vmap(schedule))(counts))
            rows.append((name, label, STEPS, *float32_exactness(values, ref)))
    return rows


def speed(table: dict, rounds: int = 11, clock: Clock = time.perf_counter) -> list[tuple]:
    """(name, steps, our ms, the composition's name, its ms, the ratio); ``clock`` as for
    ``_timing.interleaved``."""
    rows = []
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    for name, (_, optax_name, theirs, ours) in table.items():
        mine, its, ratio = jit_vmap_ratio(ours, theirs, counts, rounds=rounds, repeats=3, clock=clock)
        rows.append((name, len(counts), mine, optax_name, its, ratio))
    return rows


if __name__ == "__main__":
    table = contenders()
    print(f"{'schedule':22} {'evaluator':48} {'steps':>8} {'equal':>8} {'worst ulp':>10} {'max rel':>9}")
    for name, label, steps, exact, worst, rel in precision(table):
        print(f"{name:22} {label:48} {steps:8d} {100 * exact:7.2f}% {worst:10d} {rel:9.1e}")
    for name, n, ours, optax_name, theirs, ratio in speed(table):
        print(f"{name}: clr_optax {ours:.2f} ms vs {optax_name} {theirs:.2f} ms over {n} counts: ratio {ratio:.2f}")
