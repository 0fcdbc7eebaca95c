"""timm's CosineLRScheduler: clr_optax's TimmCosineSpec against ``optax.sgdr_schedule`` (optax's
nearest built-in: a list of warmup-cosine cycles), for exactness (against timm itself) and speed.

    python benchmarks/bench_timm.py      # needs torch and timm (imported without torchvision)

Exactness: float32 values over more than 2**20 steps against float32 of timm's own lr (its
``_get_lr(t)``, what ``step_update(t)`` writes; the groups' lr at construction for step 0), for
the ``sgdr_schedule`` a porter would write and for clr_optax. Speed: one jitted ``vmap`` over
the steps, the median ratio of clr_optax's time to ``sgdr_schedule``'s (``_timing.jit_vmap_ratio``).
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax

import clr_optax
from clr_spec import TimmCosineSpec

from _timing import Clock, float32_exactness, jit_vmap_ratio

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from parity_tests import _timm  # noqa: E402 - timm's scheduler files without torchvision

LR, LR_MIN, WARMUP = 0.1, 1e-5, 1000


def timm_values(spec: TimmCosineSpec, steps: int) -> np.ndarray:
    """timm's lr of one group at every step: construction at 0, ``_get_lr(t)`` after (what
    ``step_update(t)`` writes)."""
    import torch

    module = _timm.cosine_lr()
    if module is None:
        raise SystemExit(f"bench_timm needs timm: {_timm.REASON}")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=spec.group_lr(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = module.CosineLRScheduler(opt, **spec.timm_kwargs())
    out = np.empty(steps)
    out[0] = opt.param_groups[0]["lr"]
    for t in range(1, steps):
        out[t] = sched._get_lr(t)[0]
    return out


def contenders() -> dict:
    """name: (spec, steps, the sgdr_schedule built to match it)."""
    fixed = TimmCosineSpec(
        lr=LR,
        t_initial=2**18,
        cycle_limit=4,
        cycle_decay=0.5,
        lr_min=LR_MIN,
        warmup_t=WARMUP,
        warmup_lr_init=LR_MIN,
        warmup_prefix=True,
        t_in_epochs=False,
    )
    growing = TimmCosineSpec(
        lr=LR,
        t_initial=2**15,
        cycle_mul=2.0,
        cycle_limit=6,
        cycle_decay=0.7,
        lr_min=LR_MIN,
        warmup_t=WARMUP,
        warmup_lr_init=LR_MIN,
        warmup_prefix=True,
        t_in_epochs=False,
    )

    def sgdr(spec: TimmCosineSpec) -> optax.Schedule:
        cycles = []
        for i in range(spec.cycle_limit):
            length = int(spec.t_initial * spec.cycle_mul**i)
            peak = LR * spec.cycle_decay**i
            warmup = WARMUP if i == 0 else 0
            cycles.append(
                dict(
                    init_value=LR_MIN if i == 0 else peak,
                    peak_value=peak,
                    warmup_steps=warmup,
                    decay_steps=warmup + length,
                    end_value=LR_MIN,
                )
            )
        return optax.sgdr_schedule(cycles)

    return {
        "cycles of 2**18, decaying peak, warmup": (fixed, WARMUP + 4 * 2**18, sgdr(fixed)),
        "growing cycles (x2), decaying peak, warmup": (growing, WARMUP + 63 * 2**15, sgdr(growing)),
    }


def precision() -> list[tuple]:
    rows = []
    for name, (spec, steps, theirs) in contenders().items():
        reference = timm_values(spec, steps)
        counts = jnp.arange(steps)
        for label, schedule in (("optax.sgdr_schedule", theirs), ("clr_optax", clr_optax.lr_schedule(spec))):
            values = jax.jit(jax.vmap(schedule))(counts)
            rows.append((name, label, steps, *float32_exactness(values, reference)))
    return rows


def speed(rounds: int = 11, clock: Clock = time.perf_counter) -> list[tuple]:
    """(name, steps, our ms, optax.sgdr_schedule's ms, the ratio); ``clock`` as for ``_timing.interleaved``."""
    rows = []
    for name, (spec, steps, theirs) in contenders().items():
        counts = jnp.arange(steps, dtype=jnp.int32)
        ours_ms, theirs_ms, ratio = jit_vmap_ratio(
            clr_optax.lr_schedule(spec), theirs, counts, rounds=rounds, repeats=3, clock=clock
        )
        rows.append((name, steps, ours_ms, theirs_ms, ratio))
    return rows


if __name__ == "__main__":
    print(f"{'schedule':44} {'evaluator':20} {'steps':>8} {'equal':>8} {'worst ulp':>10} {'max rel':>9}")
    for name, label, steps, exact, worst, rel in precision():
        print(f"{name:44} {label:20} {steps:8d} {100 * exact:7.2f}% {worst:10d} {rel:9.1e}")
    for name, steps, ours, theirs, ratio in speed():
        print(
            f"{name}: clr_optax {ours:.2f} ms vs optax.sgdr_schedule {theirs:.2f} ms over {steps} counts: "
            f"ratio {ratio:.2f}"
        )
