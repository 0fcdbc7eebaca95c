"""clr_optax inside the wrappers people use: optax.chain, optax.MultiSteps, multi_transform and
Flax NNX's Optimizer: current_hyperparams finds the values, set_count resumes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")
pytest.importorskip("optax", reason="needs optax: pip install 'clr-spec[jax]'")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import clr_optax  # noqa: E402
from clr_spec import CyclicSpec  # noqa: E402

SPEC = CyclicSpec(base_lr=1.0, max_lr=5.0, step_size_up=4, base_momentum=0.5, max_momentum=0.9)
PARAMS = {"w": jnp.zeros(3), "b": jnp.zeros(2)}


def run(tx, steps: int, state=None):
    """(lr, momentum) after each update, as plain floats."""
    state = tx.init(PARAMS) if state is None else state
    seen = []
    for _ in range(steps):
        _, state = tx.update(jax.tree.map(jnp.ones_like, PARAMS), state, PARAMS)
        hp = clr_optax.current_hyperparams(state)
        assert all(isinstance(v, jax.Array) for v in hp.values())
        seen.append((float(hp["learning_rate"]), float(hp["momentum"])))
    return seen, state


def expected(steps, start=0):
    k = np.arange(start, start + steps)
    return list(zip(SPEC.lr(k).astype(np.float32).tolist(), SPEC.momentum(k).astype(np.float32).tolist()))


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("wrap", ["bare", "chain", "multisteps"])
def test_flat_hyperparams_through_chain_and_multisteps(optimizer, wrap):
    inner = getattr(clr_optax, optimizer)(SPEC, weight_decay=0.0) if optimizer != "sgd" else clr_optax.sgd(SPEC)
    tx = {
        "bare": inner,
        "chain": optax.chain(optax.clip_by_global_norm(1.0), inner),
        "multisteps": optax.MultiSteps(inner, every_k_schedule=1),
    }[wrap]
    seen, _ = run(tx, 10)
    assert seen == expected(10)


def test_multi_transform_is_keyed_by_label():
    other = SPEC.replace(base_lr=0.1, max_lr=0.5)
    tx = optax.multi_transform({"w": clr_optax.sgd(SPEC), "b": clr_optax.adam(other)}, {"w": "w", "b": "b"})
    state = tx.init(PARAMS)
    _, state = tx.update(jax.tree.map(jnp.ones_like, PARAMS), state, PARAMS)
    hp = clr_optax.current_hyperparams(state)
    assert sorted(hp) == ["b", "w"]
    assert float(hp["w"]["learning_rate"]) == 1.0 and float(hp["b"]["learning_rate"]) == np.float32(0.1)
    assert float(hp["b"]["momentum"]) == float(hp["b"]["b1"]) == np.float32(0.9)


def test_set_count_through_chain_resumes():
    tx = optax.chain(optax.clip_by_global_norm(1.0), clr_optax.sgd(SPEC))
    _, state = run(tx, 3)
    seen, _ = run(tx, 6, clr_optax.set_count(tx.init(PARAMS), 3))
    assert seen == expected(6, start=3)


def test_flax_nnx_optimizer_resumes_with_set_count():
    nnx = pytest.importorskip("flax.nnx", reason="needs flax: pip install 'clr-spec[flax]'")

    def make():
        model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
        return model, nnx.Optimizer(model, clr_optax.sgd(SPEC), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer):
        grads = nnx.grad(lambda m: jnp.sum(m(jnp.ones((4, 3))) ** 2))(model)
        optimizer.update(model, grads)

    def trace(model, optimizer, steps):
        out = []
        for _ in range(steps):
            train_step(model, optimizer)
            hp = clr_optax.current_hyperparams(optimizer.opt_state)
            out.append((float(hp["learning_rate"]), float(hp["momentum"])))
        return out

    model, optimizer = make()
    assert trace(model, optimizer, 10) == expected(10)
    model, optimizer = make()
    assert clr_optax.set_count(optimizer, 6) is optimizer
    assert int(optimizer.step[...]) == 6
    assert trace(model, optimizer, 5) == expected(5, start=6)
