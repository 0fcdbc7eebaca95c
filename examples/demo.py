"""One spec, three evaluators, one trajectory: torch's CyclicLR vs clr_torch vs clr_optax.

The schedule is the tutorial's (Adam, triangular2, base_lr = max_lr / 4 = 2.5e-4,
max_lr = 1e-3, step_size_up = 17000 * 6, cycle_momentum=False). torch's own CyclicLR is
stepped in a real loop; clr_optax evaluates the same steps jitted in float32. The table
shows the lrs and the distance in float32 ulps; a straight float32 port of torch's formula
is shown for contrast. With matplotlib installed, out/demo.png plots the trajectories.

    bash dev.sh demo [--steps N] [--out out/demo.png]
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

import clr_optax
import clr_torch
from clr_spec import CyclicSpec

SPEC = CyclicSpec(base_lr=2.5e-4, max_lr=1e-3, step_size_up=17000 * 6, mode="triangular2", cycle_momentum=False)


def torch_lrs(scheduler_cls, steps: int) -> np.ndarray:
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters(), lr=SPEC.max_lr)
    sched = scheduler_cls(opt, **SPEC.torch_kwargs())
    out = np.empty(steps)
    for k in range(steps):
        out[k] = opt.param_groups[0]["lr"]
        opt.step()  # no gradients: the loop measures the schedule, not a model
        sched.step()
    return out


def naive_float32(count):
    """torch's formula typed straight into float32 JAX: what clr_optax exists to avoid."""
    step = jnp.asarray(count, jnp.float32)
    total, ratio = np.float32(SPEC.total_size), np.float32(SPEC.step_ratio)
    cycle = jnp.floor(1 + step / total)
    x = 1.0 + step / total - cycle
    factor = jnp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    return np.float32(SPEC.base_lr) + np.float32(SPEC.max_lr - SPEC.base_lr) * factor / 2.0 ** (cycle - 1)


def ulps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia = np.asarray(a, np.float32).view(np.int32).astype(np.int64)
    ib = np.asarray(b, np.float32).view(np.int32).astype(np.int64)
    return np.abs(ia - ib)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4 * 102_000, help="optimizer steps to compare (default: 2 cycles)")
    parser.add_argument("--out", default="out/demo.png", help="where to write the plot (needs matplotlib)")
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("--steps must be at least 2")

    print(f"spec: {SPEC.to_json()}\n")
    t0 = time.perf_counter()
    reference = torch_lrs(torch.optim.lr_scheduler.CyclicLR, args.steps)
    t_torch = time.perf_counter() - t0
    ours_torch = torch_lrs(clr_torch.CyclicLR, args.steps)
    counts = jnp.arange(args.steps, dtype=jnp.int32)
    schedule = jax.jit(clr_optax.cyclic_lr_schedule(SPEC))
    ours_optax = np.asarray(schedule(counts))
    t0 = time.perf_counter()
    ours_optax = np.asarray(schedule(counts).block_until_ready())
    t_optax = time.perf_counter() - t0
    naive = np.asarray(jax.jit(naive_float32)(counts))

    ref32 = reference.astype(np.float32)
    d_optax, d_naive = ulps(ours_optax, ref32), ulps(naive, ref32)
    sample = sorted({0, 1, 2, 51_000, 101_999, 102_000, 102_001, 204_000, 306_000, args.steps - 1})
    print(
        f"{'step':>8} {'torch CyclicLR':>22} {'clr_torch':>22} {'clr_optax (f32)':>16} {'ulps':>5} "
        f"{'naive f32 port':>16} {'ulps':>6}"
    )
    for k in (s for s in sample if s < args.steps):
        print(
            f"{k:>8} {reference[k]:>22.17g} {ours_torch[k]:>22.17g} {ours_optax[k]:>16.9g} {d_optax[k]:>5} "
            f"{naive[k]:>16.9g} {d_naive[k]:>6}"
        )
    print(f"\nover {args.steps} steps:")
    print(f"  clr_torch vs torch:        bitwise equal: {np.array_equal(ours_torch, reference)}")
    print(
        f"  clr_optax vs float32(torch): worst {d_optax.max()} ulp, exact on {100 * np.mean(d_optax == 0):.3f}% of steps"
    )
    print(
        f"  naive float32 port:          worst {d_naive.max()} ulp, exact on {100 * np.mean(d_naive == 0):.3f}% of steps"
    )
    print(f"  time: torch loop {t_torch:.2f} s; clr_optax, all steps at once, {1e3 * t_optax:.1f} ms")

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib not installed: no plot)")
        return
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[3, 1])
    x = np.arange(args.steps)
    top.plot(x, reference, lw=3, color="tab:orange", label="torch CyclicLR (float64)")
    top.plot(x, ours_optax, lw=1, color="tab:blue", label="clr_optax (float32, jitted)")
    top.set_ylabel("learning rate")
    top.legend()
    top.set_title("triangular2, base_lr=2.5e-4, max_lr=1e-3, step_size_up=102000")
    bottom.plot(x, d_naive, lw=0.5, color="tab:red", label="naive float32 port")
    bottom.plot(x, d_optax, lw=1, color="tab:blue", label="clr_optax")
    bottom.set_ylabel("ulps from float32(torch)")
    bottom.set_xlabel("optimizer step")
    bottom.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"\nplot written to {args.out}")


if __name__ == "__main__":
    main()
