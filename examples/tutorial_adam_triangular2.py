"""The tutorial that started this project, in torch and in optax, overlaid.

Adam; base_lr = max_lr / 4 = 2.5e-4, max_lr = 1e-3; mode triangular2; step_size_up = 17000 * 6
(six epochs up, six down); 79 epochs of 17,000 steps; cycle_momentum=False. The torch loop
is the tutorial's, a scheduler step after every batch (on a small regression model here).
The optax schedule evaluates the whole run in one jitted call. Both are drawn to one PNG,
with their distance in float32 ulps.

    python examples/tutorial_adam_triangular2.py [--steps N] [--out out/tutorial.png] [--no-progress]

The full run is 1,343,000 torch training steps: 8 to 12 minutes on 2 cores (the benchmarks
measure this loop at 0.35-0.53 ms a step), with a progress bar and its estimate of the time
left; --steps shortens it. The optax side takes milliseconds.
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

EPOCHS, STEPS_PER_EPOCH = 79, 17_000
MAX_LR = 1e-3
SPEC = CyclicSpec(
    base_lr=MAX_LR / 4, max_lr=MAX_LR, step_size_up=STEPS_PER_EPOCH * 6, mode="triangular2", cycle_momentum=False
)


def torch_loop(steps: int, progress: bool = True) -> np.ndarray:
    """The tutorial's loop: Adam + CyclicLR stepped after every batch; records each step's lr."""
    from tqdm.auto import tqdm

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=MAX_LR)
    scheduler = clr_torch.CyclicLR.from_spec(optimizer, SPEC)
    x = torch.randn(32, 8)
    y = x.sum(dim=1, keepdim=True).sin()
    lrs = np.empty(steps)
    step = 0
    bar = tqdm(total=steps, desc="torch loop", unit="step", unit_scale=True, disable=not progress, mininterval=1.0)
    for _epoch in range(EPOCHS):
        for _batch in range(STEPS_PER_EPOCH):
            if step == steps:
                bar.update(steps - bar.n)
                bar.close()
                return lrs
            lrs[step] = optimizer.param_groups[0]["lr"]
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if step % 1000 == 0:
                bar.update(1000)
    bar.close()
    return lrs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=EPOCHS * STEPS_PER_EPOCH)
    parser.add_argument("--out", default="out/tutorial.png")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args()
    if not 1 <= args.steps <= EPOCHS * STEPS_PER_EPOCH:
        parser.error(f"--steps must be in [1, {EPOCHS * STEPS_PER_EPOCH}]")

    t0 = time.perf_counter()
    torch_lrs = torch_loop(args.steps, progress=not args.no_progress)
    t_torch = time.perf_counter() - t0
    schedule = jax.jit(clr_optax.cyclic_lr_schedule(SPEC))
    optax_lrs = np.asarray(schedule(jnp.arange(args.steps, dtype=jnp.int32)))
    ulps = np.abs(optax_lrs.view(np.int32).astype(np.int64) - torch_lrs.astype(np.float32).view(np.int32))
    print(f"{args.steps} steps: torch loop {t_torch:.1f} s")
    print(f"optax (float32) vs torch: worst {ulps.max()} ulp, exact on {100 * np.mean(ulps == 0):.3f}% of steps")
    print(
        f"closed form equals torch's trajectory bit for bit: {np.array_equal(SPEC.lr(np.arange(args.steps)), torch_lrs)}"
    )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[3, 1])
    epochs = np.arange(args.steps) / STEPS_PER_EPOCH
    top.plot(epochs, torch_lrs, lw=3, color="tab:orange", label="torch loop: Adam + clr_torch.CyclicLR")
    top.plot(epochs, optax_lrs, lw=1, color="tab:blue", label="clr_optax.cyclic_lr_schedule (float32)")
    top.set_ylabel("learning rate")
    top.set_title("Adam, triangular2, base_lr=2.5e-4, max_lr=1e-3, step_size_up=6 epochs")
    top.legend()
    bottom.plot(epochs, ulps, lw=1, color="tab:blue")
    bottom.set_ylabel("ulps apart")
    bottom.set_xlabel("epoch (17,000 steps)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()
