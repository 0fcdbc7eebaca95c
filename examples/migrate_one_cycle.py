"""Move a 1cycle run (torch's OneCycleLR) from torch to optax halfway, and check it against an
uninterrupted torch run.

1. Train a small least-squares model in torch: SGD with momentum and OneCycleLR (momentum
   cycled 0.95 -> 0.85 -> 0.95). Save a checkpoint with torch.save.
2. Load it safely (weights_only=True). torch keeps OneCycleLR's max_lr, min_lr and momentum
   bounds in the optimizer's param groups, so the spec comes from both states:
   clr_spec.from_torch(checkpoint["scheduler"], optimizer_state=checkpoint["optimizer"]).
3. Continue in optax with clr_optax.sgd(spec) (torch's SGD rule), its count set to the step
   (clr_optax.set_count) and its momentum buffers set to torch's.
4. Print how far apart the two runs are and plot the joined lr, momentum and loss.

    python examples/migrate_one_cycle.py [--switch-at K] [--steps N] [--out out/migrate_one_cycle.png]
"""

from __future__ import annotations

import argparse
import io
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import clr_optax
import clr_spec
from digits_torch_vs_optax import worst_ulp

rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8)).astype(np.float32)
Y = (X @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(256, 1))).astype(np.float32)


def torch_run(total: int):
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=total)
    return model, opt, sched


def torch_train(model, opt, sched, steps: int):
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    trace = []
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        trace.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"], loss.item()))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return np.array(trace)


def optax_continue(checkpoint, steps: int):
    spec = clr_spec.from_torch(checkpoint["scheduler"], optimizer_state=checkpoint["optimizer"])
    k = checkpoint["scheduler"]["last_epoch"]
    params = {
        "w": jnp.asarray(checkpoint["model"]["weight"].numpy().T),
        "b": jnp.asarray(checkpoint["model"]["bias"].numpy()),
    }
    buffers = checkpoint["optimizer"]["state"]
    tx = clr_optax.sgd(spec)
    state = clr_optax.set_count(tx.init(params), k)
    momentum = {
        "w": jnp.asarray(buffers[0]["momentum_buffer"].numpy().T),
        "b": jnp.asarray(buffers[1]["momentum_buffer"].numpy()),
    }
    state = state._replace(
        inner_state=state.inner_state._replace(momentum_buffer=momentum, has_buffer=jnp.asarray(True))
    )

    def loss_fn(p):
        return jnp.mean((jnp.asarray(X) @ p["w"] + p["b"] - jnp.asarray(Y)) ** 2)

    def step(carry, _):
        state, p = carry
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, state = tx.update(grads, state, p)
        used = clr_optax.current_hyperparams(state)
        return (state, optax.apply_updates(p, updates)), jnp.stack([used["learning_rate"], used["momentum"], loss])

    _, trace = jax.jit(lambda s, p: jax.lax.scan(step, (s, p), None, length=steps))(state, params)
    return spec, k, np.asarray(trace, np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--switch-at", type=int, default=600)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", default="out/migrate_one_cycle.png")
    args = parser.parse_args()
    if not 0 < args.switch_at < args.steps:
        parser.error("need 0 < --switch-at < --steps")

    uninterrupted = torch_train(*torch_run(args.steps), args.steps)
    model, opt, sched = torch_run(args.steps)
    first = torch_train(model, opt, sched, args.switch_at)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buffer)
    buffer.seek(0)
    spec, k, rest = optax_continue(torch.load(buffer, weights_only=True), args.steps - args.switch_at)
    joined = np.concatenate([first, rest])

    print(f"spec read from the checkpoint: {spec}")
    print(
        f"moved to optax at step {k}; joined vs uninterrupted torch: lr worst {worst_ulp(joined[:, 0], uninterrupted[:, 0])} "
        f"ulp, momentum worst {worst_ulp(joined[:, 1], uninterrupted[:, 1])} ulp"
    )
    print(
        f"loss curves agree to {np.max(np.abs(joined[:, 2] - uninterrupted[:, 2]) / uninterrupted[:, 2]):.1e} relative"
    )

    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 7))
    axes = fig.subplots(3, 1, sharex=True)
    steps = np.arange(args.steps)
    for ax, column, label in zip(axes, range(3), ("learning rate", "momentum", "training loss")):
        ax.plot(steps, uninterrupted[:, column], lw=4, color="tab:orange", label="uninterrupted torch run")
        ax.plot(steps[:k], first[:, column], lw=1.2, color="black", label="torch, then checkpoint")
        ax.plot(steps[k:], rest[:, column], lw=1.2, color="tab:blue", label="resumed in optax")
        ax.axvline(k, color="gray", ls="--")
        ax.set_ylabel(label)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("optimizer step")
    axes[0].legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()
