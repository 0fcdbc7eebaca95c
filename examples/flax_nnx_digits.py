"""Flax NNX: train the digits MLP with ``nnx.Optimizer`` driven by a CyclicSpec, stop halfway,
resume in a fresh optimizer with ``clr_optax.set_count``, and check every step's lr and
momentum against the spec.

    python examples/flax_nnx_digits.py [--epochs 8]

``clr_optax.sgd(spec)`` is an optax GradientTransformation, so ``nnx.Optimizer`` takes it
as it is. To resume, pass the NNX optimizer itself to ``clr_optax.set_count(optimizer, k)``:
its state lives in mutable Variables, which are set in place. ``clr_optax.current_hyperparams
(optimizer.opt_state)`` reads the lr and momentum of the last update. Needs flax
(``pip install 'clr-spec[examples,flax]'``); takes a few seconds.
"""

from __future__ import annotations

import argparse

import numpy as np

import _digits as D


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    import jax.numpy as jnp
    import optax
    from flax import nnx

    import clr_optax

    (x_train, y_train, x_test, y_test), per_epoch, spec, batches = D.resume_example(args.epochs)

    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs):
            self.hidden = nnx.Linear(64, D.HIDDEN, rngs=rngs)
            self.out = nnx.Linear(D.HIDDEN, 10, rngs=rngs)

        def __call__(self, x):
            return self.out(nnx.relu(self.hidden(x)))

    def loss_fn(model, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

    @nnx.jit
    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)
        return loss

    def run(model, optimizer, steps):
        seen = []
        for k in steps:
            idx = batches[k]
            train_step(model, optimizer, jnp.asarray(x_train[idx]), jnp.asarray(y_train[idx]))
            hp = clr_optax.current_hyperparams(optimizer.opt_state)
            seen.append((float(hp["learning_rate"]), float(hp["momentum"])))
        return seen

    total = len(batches)
    half = total // 2
    model = MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, clr_optax.sgd(spec), wrt=nnx.Param)
    seen = run(model, optimizer, range(half))

    # Resume: a fresh optimizer over the same model, told how many steps were taken. (Its
    # momentum buffers start empty; restore them from a checkpoint for an exact continuation.)
    resumed = nnx.Optimizer(model, clr_optax.sgd(spec), wrt=nnx.Param)
    clr_optax.set_count(resumed, half)
    seen += run(model, resumed, range(half, total))

    steps = np.arange(total)
    lr_gap = np.abs(np.float32([s[0] for s in seen]) - spec.lr(steps).astype(np.float32)).max()
    momentum_gap = np.abs(np.float32([s[1] for s in seen]) - spec.momentum(steps).astype(np.float32)).max()
    accuracy = float((np.asarray(model(jnp.asarray(x_test))).argmax(1) == y_test).mean())
    print(f"{total} steps, resumed at step {half} with clr_optax.set_count(optimizer, {half})")
    print(f"lr vs spec.lr: max difference {lr_gap:.1e}; momentum vs spec.momentum: {momentum_gap:.1e}")
    print(f"optimizer.step after training: {int(resumed.step[...])}")
    print(f"test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
