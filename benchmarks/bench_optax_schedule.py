"""clr_optax's schedule over the tutorial's 1,343,000 steps (jit of vmap, one call) vs optax's own.

Contenders: optax.cosine_decay_schedule, optax.linear_onecycle_schedule, and the floor of
merely writing 1,343,000 float32 values (jnp.full). Ratios are against cosine_decay.
The default float32 schedule rounds a float64 evaluation once (CPU and GPU); the rows
marked float-float time the path TPUs get, run here on the same device.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

import clr_optax
from clr_optax._schedules import build_schedule
from clr_spec import CyclicSpec

from _timing import median_ratio

STEPS = 17_000 * 79
TUTORIAL = CyclicSpec(base_lr=2.5e-4, max_lr=1e-3, step_size_up=17_000 * 6, mode="triangular2", cycle_momentum=False)


def contenders():
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    fns = {
        "clr_optax triangular2": clr_optax.cyclic_lr_schedule(TUTORIAL),
        "clr_optax exp_range": clr_optax.cyclic_lr_schedule(TUTORIAL.replace(mode="exp_range", gamma=0.99999)),
        "clr_optax float step sizes": clr_optax.cyclic_lr_schedule(TUTORIAL.replace(step_size_up=101_999.37)),
        "clr_optax triangular2, float-float": build_schedule(TUTORIAL, "lr", 0, "float-float"),
        "clr_optax exp_range, float-float": build_schedule(
            TUTORIAL.replace(mode="exp_range", gamma=0.99999), "lr", 0, "float-float"
        ),
        "optax.cosine_decay_schedule": optax.cosine_decay_schedule(1e-3, STEPS, alpha=0.25),
        "optax.linear_onecycle_schedule": optax.linear_onecycle_schedule(STEPS, 1e-3),
        "floor: write float32 values": lambda c: jnp.full(c.shape, 1e-3, jnp.float32) + 0 * c.astype(jnp.float32),
    }
    out = {}
    for name, fn in fns.items():
        jitted = jax.jit(jax.vmap(fn))  # optax schedules are scalar functions of the count
        jitted(counts).block_until_ready()
        out[name] = (lambda j: lambda: j(counts).block_until_ready())(jitted)
    return out


def run(rounds: int = 11):
    fns = contenders()
    rows = []
    for name in fns:
        if name == "optax.cosine_decay_schedule":
            continue
        ratio, times = median_ratio(
            {name: fns[name], "cosine": fns["optax.cosine_decay_schedule"]}, name, "cosine", rounds=rounds, repeats=3
        )
        rows.append((name, times[name] * 1e3, times["cosine"] * 1e3, ratio))
    return rows


if __name__ == "__main__":
    print(f"{STEPS} steps, one jitted call each; ratio = time / optax.cosine_decay_schedule")
    print(f"{'schedule':36} {'ms':>8} {'cosine ms':>9} {'ratio':>6}")
    for name, ms, cos, ratio in run():
        print(f"{name:36} {ms:8.2f} {cos:9.2f} {ratio:6.2f}")
