"""Move a run from torch to optax mid-cycle, and check it against an uninterrupted torch run.

1. Train a small least-squares model in torch for K steps: SGD with momentum, clr_torch.CyclicLR
   (momentum cycled too). Save a checkpoint with torch.save.
2. Load it safely (weights_only=True). Take the spec and step from the scheduler state
   (CyclicSpec.from_torch), the parameters and SGD's momentum buffers from the model and
   optimizer states.
3. Continue in optax: inject_hyperparams(sgd) with the same schedules, the state's count set
   to K (clr_optax.set_count), and its momentum trace set to torch's buffers. torch's SGD
   (buf = m*buf + g; p -= lr*buf) is optax's trace with momentum m.
4. Plot the joined lr trajectory against the uninterrupted torch run, and their loss curves.

    python examples/migrate_torch_to_optax.py [--switch-at K] [--steps N] [--out out/migrate.png]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import clr_optax
import clr_torch
from clr_spec import CyclicSpec

SPEC = CyclicSpec(
    base_lr=0.01,
    max_lr=0.05,
    step_size_up=150,
    step_size_down=250,
    mode="triangular2",
    base_momentum=0.8,
    max_momentum=0.95,
)
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 8)).astype(np.float32)
Y = (X @ rng.normal(size=(8, 1)) + 0.1 * rng.normal(size=(256, 1))).astype(np.float32)


def torch_model():
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=SPEC.max_lr, momentum=0.9)
    return model, opt, clr_torch.CyclicLR.from_spec(opt, SPEC)


def torch_train(model, opt, sched, steps):
    x, y = torch.from_numpy(X), torch.from_numpy(Y)
    lrs, losses = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        loss = torch.nn.functional.mse_loss(model(x), y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return np.array(lrs), np.array(losses)


def optax_continue(checkpoint_path: str, steps: int):
    ckpt = torch.load(checkpoint_path, weights_only=True)
    spec = CyclicSpec.from_torch(ckpt["scheduler"])
    k = ckpt["scheduler"]["last_epoch"]
    params = {"w": jnp.asarray(ckpt["model"]["weight"].numpy().T), "b": jnp.asarray(ckpt["model"]["bias"].numpy())}
    buffers = [ckpt["optimizer"]["state"][i]["momentum_buffer"].numpy() for i in (0, 1)]

    tx = optax.inject_hyperparams(optax.sgd)(
        learning_rate=clr_optax.cyclic_lr_schedule(spec), momentum=clr_optax.cyclic_momentum_schedule(spec)
    )
    state = clr_optax.set_count(tx.init(params), k)
    trace = {"w": jnp.asarray(buffers[0].T), "b": jnp.asarray(buffers[1])}
    inner = state.inner_state  # optax.sgd: (TraceState, ...)
    state = state._replace(inner_state=(inner[0]._replace(trace=trace),) + tuple(inner[1:]))

    def loss_fn(p):
        return jnp.mean((jnp.asarray(X) @ p["w"] + p["b"] - jnp.asarray(Y)) ** 2)

    def step(carry, _):
        state, p = carry
        lr = clr_optax.cyclic_lr_schedule(spec)(state.count)  # the lr this update uses
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, state = tx.update(grads, state, p)
        return (state, optax.apply_updates(p, updates)), (lr, loss)

    _, (lrs, losses) = jax.jit(lambda s, p: jax.lax.scan(step, (s, p), None, length=steps))(state, params)
    return k, np.asarray(lrs), np.asarray(losses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--switch-at", type=int, default=537, help="step at which the run moves to optax")
    parser.add_argument("--steps", type=int, default=2000, help="total steps")
    parser.add_argument("--out", default="out/migrate.png")
    args = parser.parse_args()
    if not 0 < args.switch_at < args.steps:
        parser.error("need 0 < --switch-at < --steps")

    uninterrupted_lrs, uninterrupted_loss = torch_train(*torch_model(), args.steps)
    model, opt, sched = torch_model()
    first_lrs, first_loss = torch_train(model, opt, sched, args.switch_at)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.pt")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, path)
        k, rest_lrs, rest_loss = optax_continue(path, args.steps - args.switch_at)

    joined = np.concatenate([first_lrs, rest_lrs])
    ref32 = uninterrupted_lrs.astype(np.float32)
    ulps = np.abs(joined.astype(np.float32).view(np.int32).astype(np.int64) - ref32.view(np.int32))
    rel_loss = np.max(np.abs(np.concatenate([first_loss, rest_loss]) - uninterrupted_loss) / uninterrupted_loss)
    print(f"moved to optax at step {k}; joined lr trajectory vs uninterrupted torch: worst {ulps.max()} ulp")
    print(f"loss curves agree to {rel_loss:.1e} relative (float32 training on both sides)")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    steps = np.arange(args.steps)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.plot(steps, uninterrupted_lrs, lw=4, color="tab:orange", label="uninterrupted torch run")
    top.plot(steps[:k], first_lrs, lw=1.2, color="black", label="torch, then checkpoint")
    top.plot(steps[k:], rest_lrs, lw=1.2, color="tab:blue", label="resumed in optax")
    top.axvline(k, color="gray", ls="--")
    top.set_ylabel("learning rate")
    top.legend()
    bottom.semilogy(steps, uninterrupted_loss, lw=4, color="tab:orange", label="uninterrupted torch run")
    bottom.semilogy(steps[:k], first_loss, lw=1.2, color="black")
    bottom.semilogy(steps[k:], rest_loss, lw=1.2, color="tab:blue", label="resumed in optax")
    bottom.axvline(k, color="gray", ls="--")
    bottom.set_ylabel("training loss")
    bottom.set_xlabel("optimizer step")
    bottom.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()
