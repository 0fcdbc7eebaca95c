"""How far a straight float32 port of torch's formula is from torch, against clr_optax.

clr_optax is measured both ways it computes float32: the default on CPU and GPU (torch's
formula in float64, rounded once) and float-float (the path TPUs get), both run here.

Windows: the first 200k steps, and 4096 steps around 1e6, 1e8 and 2**31 - 1. Reference:
float32(torch's float64 value) computed by the closed form (bitwise equal to torch's
CyclicLR, as the parity suite proves).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from clr_optax._schedules import build_schedule
from clr_spec import CyclicSpec

from _timing import ulps

CONFIGS = {
    "tutorial triangular2 (up=102000)": CyclicSpec(
        base_lr=2.5e-4, max_lr=1e-3, step_size_up=102_000, mode="triangular2", cycle_momentum=False
    ),
    "triangular (up=2000)": CyclicSpec(base_lr=1e-3, max_lr=6e-3, step_size_up=2000),
    "triangular (up=300, down=701)": CyclicSpec(base_lr=1e-3, max_lr=6e-3, step_size_up=300, step_size_down=701),
    "exp_range (gamma=0.99994)": CyclicSpec(
        base_lr=1e-3, max_lr=6e-3, step_size_up=2000, mode="exp_range", gamma=0.99994
    ),
}
WINDOWS = {
    "0-200k": (0, 200_000),
    "~1e6": (10**6 - 2048, 4096),
    "~1e8": (10**8 - 2048, 4096),
    "~2**31": (2**31 - 4096, 4096),
}


def naive(spec: CyclicSpec):
    total, ratio = np.float32(spec.total_size), np.float32(spec.step_ratio)
    base, height = np.float32(spec.base_lr), np.float32(spec.max_lr - spec.base_lr)

    def schedule(count):
        step = count.astype(jnp.float32)
        cycle = jnp.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        factor = jnp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        scale = {"triangular": 1.0, "triangular2": 1 / 2.0 ** (cycle - 1), "exp_range": np.float32(spec.gamma) ** step}[
            spec.mode
        ]
        return base + height * factor * scale

    return schedule


def run():
    rows = []
    for name, spec in CONFIGS.items():
        for wname, (start, length) in WINDOWS.items():
            steps = np.arange(start, start + length)
            ref = spec.lr(steps)
            ref32 = ref.astype(np.float32)
            counts = jnp.asarray(steps, jnp.int32)
            for who, fn in (
                ("naive float32", naive(spec)),
                ("clr_optax", build_schedule(spec, "lr")),
                ("clr_optax float-float", build_schedule(spec, "lr", 0, "float-float")),
            ):
                out = np.asarray(jax.jit(fn)(counts))
                d = ulps(out, ref32)
                rel = np.max(np.abs(out.astype(np.float64) - ref) / ref)
                rows.append((name, wname, who, int(d.max()), float(np.mean(d == 0)), float(rel)))
    return rows


if __name__ == "__main__":
    print(f"{'config':34} {'steps':7} {'evaluator':21} {'worst ulp':>10} {'exact':>8} {'max rel err':>11}")
    for r in run():
        print(f"{r[0]:34} {r[1]:7} {r[2]:21} {r[3]:10d} {100 * r[4]:7.2f}% {r[5]:11.2e}")
