"""A jitted training step (small MLP) with the CLR through inject_hyperparams vs a constant lr.

Target: overhead <= 2% and one compilation for 10,000 steps. Both steps are the same
function but for the schedules; they are called alternately, in chunks, from Python.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

import clr_optax
from clr_spec import CyclicSpec

from _timing import median_ratio

SPEC = CyclicSpec(base_lr=0.001, max_lr=0.006, step_size_up=2000, mode="triangular2")
CHUNK = 100


def make_step(tx):
    def loss_fn(params, x, y):
        h = jnp.tanh(x @ params["w1"] + params["b1"])
        logits = h @ params["w2"] + params["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(params, state, x, y):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def setup():
    key = jax.random.PRNGKey(0)
    k1, k2, k3 = jax.random.split(key, 3)
    params = {
        "w1": jax.random.normal(k1, (64, 128)) * 0.1,
        "b1": jnp.zeros(128),
        "w2": jax.random.normal(k2, (128, 10)) * 0.1,
        "b2": jnp.zeros(10),
    }
    x = jax.random.normal(k3, (256, 64))
    y = jnp.arange(256) % 10
    clr = optax.inject_hyperparams(optax.sgd)(
        learning_rate=clr_optax.cyclic_lr_schedule(SPEC), momentum=clr_optax.cyclic_momentum_schedule(SPEC)
    )
    const = optax.inject_hyperparams(optax.sgd)(learning_rate=0.003, momentum=0.9)
    return params, x, y, {"clr": (make_step(clr), clr.init(params)), "constant": (make_step(const), const.init(params))}


def run(rounds: int = 15):
    params, x, y, steps = setup()
    carries = {name: [params, state] for name, (_, state) in steps.items()}

    def runner(name):
        step = steps[name][0]

        def go():
            p, s = carries[name]
            for _ in range(CHUNK):
                p, s = step(p, s, x, y)
            jax.block_until_ready(p)
            carries[name][:] = [p, s]

        return go

    ratio, times = median_ratio(
        {"clr": runner("clr"), "constant": runner("constant")}, "clr", "constant", rounds=rounds, repeats=3
    )
    # 10,000 steps through the CLR step: how many compilations?
    step, state = steps["clr"]
    p = params
    for _ in range(10_000):
        p, state = step(p, state, x, y)
    jax.block_until_ready(p)
    return {
        "clr us/step": times["clr"] / CHUNK * 1e6,
        "constant us/step": times["constant"] / CHUNK * 1e6,
        "overhead": ratio - 1.0,
        "compilations": step._cache_size(),
        "count": int(state.count),
    }


if __name__ == "__main__":
    r = run()
    print(
        f"CLR step {r['clr us/step']:.1f} us, constant-lr step {r['constant us/step']:.1f} us: "
        f"overhead {100 * r['overhead']:+.2f}%; compilations over {r['count']} steps: {r['compilations']}"
    )
