"""One small, well-conditioned regression problem trained in torch and in JAX from the same numbers.

A 6-16-1 tanh MLP on 96 samples of a smooth target: the Hessian is well conditioned at these
lrs, so float32 rounding differences between the frameworks shrink instead of growing and the
parameters can be compared at 1e-5 relative after hundreds of steps.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import clr_optax
import clr_torch
from clr_spec import CyclicSpec

N_IN, N_HIDDEN, N_SAMPLES = 6, 16, 96
LAYERS = ("hidden", "out")
# Three cycles of 40 up + 60 down in 300 steps, halving each cycle: used by the distributed runs.
SGD_SPEC = CyclicSpec(base_lr=0.01, max_lr=0.2, step_size_up=40, step_size_down=60, mode="triangular2")
SGD_MOMENTUM = 0.9
STEPS = 300


def problem(seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Initial parameters (torch's Linear layout: weight is (out, in)) and the data."""
    rng = np.random.default_rng(seed)
    params = {
        "hidden.weight": rng.normal(0, 1 / np.sqrt(N_IN), (N_HIDDEN, N_IN)),
        "hidden.bias": rng.normal(0, 0.1, (N_HIDDEN,)),
        "out.weight": rng.normal(0, 1 / np.sqrt(N_HIDDEN), (1, N_HIDDEN)),
        "out.bias": np.zeros((1,)),
    }
    x = rng.uniform(-1, 1, (N_SAMPLES, N_IN))
    y = np.sin(x @ rng.normal(0, 0.7, (N_IN, 1))) + 0.3 * x[:, :1] ** 2
    as32 = lambda a: np.asarray(a, np.float32)
    return {k: as32(v) for k, v in params.items()}, as32(x), as32(y)


# ----------------------------------------------------------------------------- torch
def torch_model(params: dict[str, np.ndarray]) -> torch.nn.Module:
    model = torch.nn.Sequential()
    model.add_module("hidden", torch.nn.Linear(N_IN, N_HIDDEN))
    model.add_module("act", torch.nn.Tanh())
    model.add_module("out", torch.nn.Linear(N_HIDDEN, 1))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
    return model


def torch_param_groups(model: torch.nn.Module, grouped: bool) -> list:
    if not grouped:
        return list(model.parameters())
    return [{"params": list(getattr(model, layer).parameters())} for layer in LAYERS]


def torch_train(
    params,
    x,
    y,
    make_optimizer: Callable,
    spec: CyclicSpec,
    steps: int,
    *,
    grouped: bool = False,
    sign: float = 1.0,
    wrap: Callable = lambda model: model,
    make_scheduler: Optional[Callable] = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Train with ``clr_torch.CyclicLR`` (or ``make_scheduler(optimizer)``); returns final params
    and per-step (group) lr and momentum.

    ``wrap`` wraps the model before training (``DistributedDataParallel``, say).
    """
    module = torch_model(params)
    opt = make_optimizer(torch_param_groups(module, grouped))
    model = wrap(module)
    sched = clr_torch.CyclicLR.from_spec(opt, spec) if make_scheduler is None else make_scheduler(opt)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lrs, momenta = [], []
    for _ in range(steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        momenta.append([g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups])
        loss = sign * torch.nn.functional.mse_loss(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    final = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    return final, np.array(lrs), np.array(momenta)


# ----------------------------------------------------------------------------- JAX
def jax_loss(params, x, y, sign: float = 1.0):
    hidden = jnp.tanh(x @ params["hidden.weight"].T + params["hidden.bias"])
    return sign * jnp.mean((hidden @ params["out.weight"].T + params["out.bias"] - y) ** 2)


def group_labels(params) -> dict[str, str]:
    return {name: f"group{LAYERS.index(name.split('.')[0])}" for name in params}


MOMENTUM_NAMES = ("momentum", "b1")


def _lr_and_momentum(opt_state) -> tuple[jnp.ndarray, jnp.ndarray]:
    found = clr_optax.current_hyperparams(opt_state)
    per_group = [found] if "learning_rate" in found else [found[f"group{i}"] for i in range(len(found))]
    lr = jnp.stack([h["learning_rate"] for h in per_group])
    momentum = jnp.stack([next(h[n] for n in MOMENTUM_NAMES if n in h) for h in per_group])
    return lr, momentum


def jax_train(
    params,
    x,
    y,
    tx: optax.GradientTransformation,
    steps: int,
    *,
    sign: float = 1.0,
    trace_counter: Optional[list] = None,
):
    """Train as one jitted ``lax.scan``; returns final params and per-step lr and momentum from the state."""

    def run(params, x, y):
        if trace_counter is not None:
            trace_counter.append(1)  # runs once per compilation
        state = tx.init(params)

        def step(carry, _):
            params, state = carry
            grads = jax.grad(jax_loss)(params, x, y, sign)
            updates, state = tx.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), _lr_and_momentum(state)

        (params, _), (lrs, momenta) = jax.lax.scan(step, (params, state), length=steps)
        return params, lrs, momenta

    final, lrs, momenta = jax.jit(run)(params, x, y)
    return {k: np.asarray(v) for k, v in final.items()}, np.asarray(lrs), np.asarray(momenta)


def assert_trains_like_torch(
    make_torch: Callable, make_scheduler: Callable, tx: optax.GradientTransformation, steps: int = 300
) -> None:
    """torch's optimizer with ``make_scheduler(optimizer)`` against ``tx``, float32: lr within
    1 ulp, momentum equal at every step, parameters within 1e-5 after ``steps`` updates."""
    import warnings

    params, x, y = problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_final, torch_lrs, torch_momenta = torch_train(
            params, x, y, make_torch, None, steps, make_scheduler=make_scheduler
        )
    jax_final, jax_lrs, jax_momenta = jax_train(params, x, y, tx, steps)
    np.testing.assert_array_max_ulp(jax_lrs[:, 0], torch_lrs[:, 0].astype(np.float32), maxulp=1)
    np.testing.assert_array_equal(jax_momenta[:, 0], torch_momenta[:, 0].astype(np.float32))
    gap = max(
        float(np.max(np.abs(torch_final[k] - jax_final[k])) / np.max(np.abs(torch_final[k]))) for k in torch_final
    )
    assert gap < 1e-5
