"""scikit-learn's digits (1,797 8x8 images, shipped inside the package: no download) and one small
MLP, written once for torch and once for JAX from the same initial numbers.

torch and jax are imported inside the functions that need them, so a torch-only script never
imports jax and vice versa.
"""

from __future__ import annotations

import numpy as np

HIDDEN = 64
BATCH = 64


def load(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): pixels scaled to [0, 1], a fixed 1,500 / 297 split."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    x = (digits.data[order] / 16.0).astype(np.float32)
    y = digits.target[order].astype(np.int64)
    return x[:1500], y[:1500], x[1500:], y[1500:]


def initial_params(seed: int = 0) -> dict[str, np.ndarray]:
    """He-initialized 64-64-10 MLP, in torch's Linear layout (weight is (out, in))."""
    rng = np.random.default_rng(seed)
    return {
        "hidden.weight": (rng.normal(0, np.sqrt(2 / 64), (HIDDEN, 64))).astype(np.float32),
        "hidden.bias": np.zeros(HIDDEN, np.float32),
        "out.weight": (rng.normal(0, np.sqrt(1 / HIDDEN), (10, HIDDEN))).astype(np.float32),
        "out.bias": np.zeros(10, np.float32),
    }


def batch_order(n_train: int, epochs: int, seed: int = 1) -> np.ndarray:
    """Indices of every mini-batch, shape (epochs * steps_per_epoch, BATCH): reshuffled each epoch."""
    rng = np.random.default_rng(seed)
    per_epoch = n_train // BATCH
    return np.concatenate(
        [rng.permutation(n_train)[: per_epoch * BATCH].reshape(per_epoch, BATCH) for _ in range(epochs)]
    )


def steps_per_epoch(n_train: int) -> int:
    return n_train // BATCH


def resume_example(epochs: int):
    """The resume examples' run: data, steps per epoch, the spec (triangular2, half cycles of
    two epochs, momentum 0.95 -> 0.85) and the batch order."""
    from clr_spec import CyclicSpec

    data = load()
    per_epoch = steps_per_epoch(len(data[0]))
    spec = CyclicSpec(
        base_lr=0.01, max_lr=0.1, step_size_up=2 * per_epoch, mode="triangular2", base_momentum=0.85, max_momentum=0.95
    )
    return data, per_epoch, spec, batch_order(len(data[0]), epochs)


# ----------------------------------------------------------------------------- torch
def torch_model(params: dict[str, np.ndarray]):
    import torch

    model = torch.nn.Sequential()
    model.add_module("hidden", torch.nn.Linear(64, HIDDEN))
    model.add_module("relu", torch.nn.ReLU())
    model.add_module("out", torch.nn.Linear(HIDDEN, 10))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
    return model


# ----------------------------------------------------------------------------- JAX
def jax_logits(params, x):
    import jax.numpy as jnp

    hidden = jnp.maximum(x @ params["hidden.weight"].T + params["hidden.bias"], 0)
    return hidden @ params["out.weight"].T + params["out.bias"]


def jax_loss(params, x, y):
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(jax_logits(params, x), y).mean()
