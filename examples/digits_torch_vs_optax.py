"""Train one MLP on scikit-learn's digits twice from one CyclicSpec: in torch, and in JAX/Optax.

torch: torch.optim.SGD + clr_torch.CyclicLR.from_spec(opt, SPEC), stepped after every batch.
JAX:   clr_optax.sgd(SPEC), torch's SGD rule with the same lr and cycled momentum, the whole
       training run one jitted lax.scan.
Same initial weights and the same batches in the same order: the lr and momentum trajectories
agree to the ulp, and the two runs end with the same weights up to float32 rounding. Writes a
PNG with lr, momentum and loss of both side by side.

    python examples/digits_torch_vs_optax.py [--epochs 16] [--framework both|torch|optax] [--out out/digits.png]

(--framework torch never imports jax; --framework optax never imports torch.)
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import _digits as D
from clr_spec import CyclicSpec


def make_spec(steps_per_epoch: int) -> CyclicSpec:
    # The paper: step_size of 2-10 epochs; triangular2 halves the amplitude every cycle.
    return CyclicSpec(
        base_lr=0.01,
        max_lr=0.1,
        step_size_up=4 * steps_per_epoch,
        mode="triangular2",
        base_momentum=0.85,
        max_momentum=0.95,
    )


def train_torch(spec, data, batches: np.ndarray) -> dict:
    """torch.optim.SGD and the spec's scheduler, stepped after every batch (any clr_spec spec)."""
    import torch

    import clr_torch

    x_train, y_train, x_test, y_test = (torch.from_numpy(a) for a in data)
    model = D.torch_model(D.initial_params())
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # the spec's schedulers set both
    sched = clr_torch.scheduler(opt, spec)  # CyclicLR.from_spec for a CyclicSpec
    lrs, momenta, losses = [], [], []
    for index in torch.from_numpy(batches):
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0]["momentum"])
        loss = torch.nn.functional.cross_entropy(model(x_train[index]), y_train[index])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return dict(lr=np.array(lrs), momentum=np.array(momenta), loss=np.array(losses), accuracy=accuracy, weights=weights)


def train_optax(spec, data, batches: np.ndarray) -> dict:
    """clr_optax.sgd(spec), the whole run one jitted lax.scan (any clr_spec spec that sets momentum)."""
    import jax
    import jax.numpy as jnp
    import optax

    import clr_optax

    x_train, y_train, x_test, y_test = (jnp.asarray(a) for a in data)
    tx = clr_optax.sgd(spec, momentum=0.9)

    @jax.jit
    def run(params, batches):
        def step(carry, index):
            params, state = carry
            loss, grads = jax.value_and_grad(D.jax_loss)(params, x_train[index], y_train[index])
            updates, state = tx.update(grads, state, params)
            used = clr_optax.current_hyperparams(state)  # what this update used
            return (optax.apply_updates(params, updates), state), (used["learning_rate"], used["momentum"], loss)

        (params, _), curves = jax.lax.scan(step, (params, tx.init(params)), batches)
        return params, curves

    params, (lrs, momenta, losses) = run({k: jnp.asarray(v) for k, v in D.initial_params().items()}, batches)
    accuracy = float(jnp.mean(jnp.argmax(D.jax_logits(params, x_test), 1) == y_test))
    return dict(
        lr=np.asarray(lrs),
        momentum=np.asarray(momenta),
        loss=np.asarray(losses),
        accuracy=accuracy,
        weights={k: np.asarray(v) for k, v in params.items()},
    )


def worst_ulp(float32_values: np.ndarray, reference: np.ndarray) -> int:
    a = float32_values.astype(np.float32).view(np.int32).astype(np.int64)
    b = reference.astype(np.float32).view(np.int32).astype(np.int64)
    return int(np.max(np.abs(a - b)))


def plot(runs: dict, title: str, path: str, milestones=()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("lr", "learning rate"), ("momentum", "momentum"), ("loss", "training loss (batch)")]
    fig, axes = plt.subplots(
        len(rows), len(runs), figsize=(5.5 * len(runs), 7.5), sharex=True, sharey="row", squeeze=False
    )
    for column, (name, run) in enumerate(runs.items()):
        steps = np.arange(len(run["lr"]))
        for row, (key, label) in enumerate(rows):
            ax = axes[row][column]
            ax.plot(steps, run[key], lw=1, color="tab:blue" if name == "torch" else "tab:orange")
            ax.set_ylabel(label if column == 0 else "")
            for milestone in milestones:
                ax.axvline(milestone, color="0.6", ls=":", lw=1)
            if key == "loss":
                ax.set_yscale("log")
                ax.set_xlabel("optimizer step")
        axes[0][column].set_title(f"{name}: test accuracy {run['accuracy']:.3f}")
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=16, help="epochs (default 16: two cycles)")
    parser.add_argument("--framework", choices=["both", "torch", "optax"], default="both")
    parser.add_argument("--out", default="out/digits.png")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("--epochs must be >= 1")

    data = D.load()
    spec = make_spec(D.steps_per_epoch(len(data[0])))
    batches = D.batch_order(len(data[0]), args.epochs)
    print(f"{len(batches)} steps of {D.BATCH} images; spec: {spec.to_json()}")
    runs = {}
    for name, train in (("torch", train_torch), ("optax", train_optax)):
        if args.framework in ("both", name):
            start = time.perf_counter()
            runs[name] = run = train(spec, data, batches)
            print(
                f"{name:6s} final epoch loss {run['loss'][-D.steps_per_epoch(len(data[0])) :].mean():.4f}, "
                f"test accuracy {run['accuracy']:.3f} ({time.perf_counter() - start:.1f} s)"
            )
    reference = spec.lr(np.arange(len(batches)))
    for name, run in runs.items():
        print(f"{name:6s} lr vs the closed form: worst {worst_ulp(run['lr'], reference)} ulp (float32)")
    if len(runs) == 2:
        t, o = runs["torch"], runs["optax"]
        print(
            f"optax vs torch: lr worst {worst_ulp(o['lr'], t['lr'])} ulp, momentum worst "
            f"{worst_ulp(o['momentum'], t['momentum'])} ulp, weights differ by "
            f"{max(np.max(np.abs(o['weights'][k] - t['weights'][k])) for k in t['weights']):.1e} at most"
        )
    plot(runs, f"digits MLP, SGD + CLR {spec.mode}, step_size_up={spec.step_size_up:g}", args.out)
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()
