"""The CLR paper's LR range test on scikit-learn's digits, in torch and in JAX, then training
with the suggested schedule.

1. Sweep the lr exponentially from 1e-4 to 10 over 200 mini-batches (SGD, momentum 0.9) with
   clr_torch.lr_range_test and clr_optax.lr_range_test, each ending with its stability probe
   of the candidate max_lr; print both suggestions and probes, plot both.
2. Turn the torch suggestion into a CyclicSpec (step_size_up = 4 epochs) and train with it in
   both frameworks (the digits example's training loops), printing test accuracy.

    python examples/range_test_digits.py [--epochs 8] [--out-dir out]
"""

from __future__ import annotations

import argparse
import os

import jax.numpy as jnp
import optax
import torch

import _digits as D
import clr_optax
import clr_torch
from digits_torch_vs_optax import train_optax, train_torch

SWEEP = dict(start_lr=1e-4, end_lr=10.0, num_steps=200, mode="exp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8, help="training epochs with the suggested spec")
    parser.add_argument("--out-dir", default="out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    data = D.load()
    x_train, y_train = data[0], data[1]
    order = D.batch_order(len(x_train), epochs=10)
    batches = [(x_train[i], y_train[i]) for i in order]

    model = D.torch_model(D.initial_params())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    torch_batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    from_torch = clr_torch.lr_range_test(
        model,
        opt,
        lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]),
        torch_batches,
        progress=not args.no_progress,
        **SWEEP,
    )

    params = {k: jnp.asarray(v) for k, v in D.initial_params().items()}
    from_optax = clr_optax.lr_range_test(
        lambda p, b: D.jax_loss(p, b[0], b[1]),
        params,
        lambda lr: optax.sgd(lr, momentum=0.9),
        [(jnp.asarray(x), jnp.asarray(y)) for x, y in batches],
        progress=not args.no_progress,
        **SWEEP,
    )

    for name, result in (("torch", from_torch), ("optax", from_optax)):
        base_lr, max_lr = result.suggest()
        path = result.plot(os.path.join(args.out_dir, f"range_test_{name}.png"), title=f"LR range test ({name})")
        probes = ", ".join(f"{lr:.4g} {'stable' if ok else 'unstable'}" for lr, ok in result.probes)
        print(
            f"{name:6s} {len(result.lrs)} steps ({result.stop_reason or 'no divergence'}); "
            f"suggests base_lr {base_lr:.4g}, max_lr {max_lr:.4g}; plot {path}"
        )
        print(f"{'':6s} stability probes of {result.probe_steps} steps: {probes}")

    spec = from_torch.to_spec(D.steps_per_epoch(len(x_train)), epochs_per_step=4, cycle_momentum=False)
    print(f"spec from the torch sweep: {spec.to_json()}")
    train_batches = D.batch_order(len(x_train), args.epochs)
    for name, train in (("torch", train_torch), ("optax", train_optax)):
        run = train(spec, data, train_batches)
        print(f"{name:6s} trained {args.epochs} epochs with it: test accuracy {run['accuracy']:.3f}")


if __name__ == "__main__":
    main()
