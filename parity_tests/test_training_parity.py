"""Optimizer-level parity: clr_optax.sgd/adam/adamw/rmsprop train as torch.optim + clr_torch.CyclicLR.

Same model, data and initial parameters; 300 steps = three cycles of 40 up + 60 down, so every
run crosses cycle boundaries and (triangular2, exp_range) amplitude changes. The optax loop is
one jitted ``lax.scan``. In float32 the parameters agree to 1e-5 relative (float32 rounding
differs between the frameworks' kernels); in float64 to 1e-9, which shows the update rules
themselves are the same. The lr and momentum read from the optax state equal torch's group
values at every step.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")
pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")
pytest.importorskip("optax", reason="needs optax: pip install 'clr-spec[jax]'")

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import clr_optax
from clr_spec import CyclicSpec

from . import _training as T

STEPS = 300
CYCLE = dict(step_size_up=40, step_size_down=60)


def _case(name, spec_kwargs, torch_cls, optax_fn, sign=1.0, **optimizer_kwargs):
    spec = CyclicSpec(**CYCLE, **spec_kwargs)
    return pytest.param(
        spec,
        lambda groups: torch_cls(groups, lr=0.1, **optimizer_kwargs),
        lambda s, group=0: optax_fn(s, group, **optimizer_kwargs),
        sign,
        id=name,
    )


SGD_LRS = dict(base_lr=0.01, max_lr=0.2)
ADAM_LRS = dict(base_lr=1e-3, max_lr=1e-2, base_momentum=0.85, max_momentum=0.95)
# RMSprop normalizes each step to about lr in size, so near the optimum float32 noise decides
# the sign of tiny gradients and the runs part; these lrs keep it in the smooth regime.
RMSPROP_LRS = dict(base_lr=1e-5, max_lr=1e-4)

CASES = [
    _case(
        "sgd-momentum-dampening-wd",
        dict(SGD_LRS, mode="triangular2"),
        torch.optim.SGD,
        clr_optax.sgd,
        momentum=0.9,
        dampening=0.1,
        weight_decay=1e-3,
    ),
    _case("sgd-nesterov", SGD_LRS, torch.optim.SGD, clr_optax.sgd, momentum=0.9, nesterov=True),
    _case("sgd-plain", dict(SGD_LRS, cycle_momentum=False), torch.optim.SGD, clr_optax.sgd),
    _case(
        "sgd-fixed-momentum-maximize",
        dict(SGD_LRS, cycle_momentum=False),
        torch.optim.SGD,
        clr_optax.sgd,
        sign=-1.0,
        momentum=0.7,
        maximize=True,
    ),
    _case(
        "adam-exp_range-l2",
        dict(ADAM_LRS, mode="exp_range", gamma=0.999),
        torch.optim.Adam,
        clr_optax.adam,
        weight_decay=1e-3,
    ),
    _case(
        "adam-amsgrad-fixed-betas",
        dict(ADAM_LRS, cycle_momentum=False),
        torch.optim.Adam,
        clr_optax.adam,
        betas=(0.8, 0.99),
        amsgrad=True,
    ),
    _case("adamw", ADAM_LRS, torch.optim.AdamW, clr_optax.adamw, weight_decay=0.05),
    _case(
        "rmsprop-centered-wd",
        dict(RMSPROP_LRS, cycle_momentum=False),
        torch.optim.RMSprop,
        clr_optax.rmsprop,
        centered=True,
        weight_decay=1e-3,
    ),
    _case("rmsprop-cycled-momentum", RMSPROP_LRS, torch.optim.RMSprop, clr_optax.rmsprop),
    _case(
        "rmsprop-plain",
        dict(RMSPROP_LRS, cycle_momentum=False, mode="triangular2"),
        torch.optim.RMSprop,
        clr_optax.rmsprop,
        alpha=0.9,
    ),
]


def _relative_error(reference: dict, other: dict) -> float:
    return max(float(np.max(np.abs(reference[k] - other[k])) / np.max(np.abs(reference[k]))) for k in reference)


def _assert_trained(final: dict, initial: dict) -> None:
    """Guard against a vacuous comparison: the parameters must actually have moved."""
    assert _relative_error(final, initial) > 1e-2


@pytest.mark.parametrize("spec, make_torch, make_optax, sign", CASES)
def test_float32_training_matches_torch(spec, make_torch, make_optax, sign):
    params, x, y = T.problem()
    traces = []
    torch_final, torch_lrs, torch_momenta = T.torch_train(params, x, y, make_torch, spec, STEPS, sign=sign)
    jax_final, jax_lrs, jax_momenta = T.jax_train(
        params, x, y, make_optax(spec), STEPS, sign=sign, trace_counter=traces
    )
    assert len(traces) == 1  # the whole loop compiled once
    assert jax_lrs.dtype == np.float32
    np.testing.assert_array_equal(jax_lrs, torch_lrs.astype(np.float32))
    np.testing.assert_array_equal(jax_momenta, torch_momenta.astype(np.float32))
    _assert_trained(torch_final, params)
    assert _relative_error(torch_final, jax_final) < 1e-5


@pytest.mark.parametrize("spec, make_torch, make_optax, sign", CASES)
def test_float64_training_matches_torch(spec, make_torch, make_optax, sign, x64):
    params, x, y = T.problem()
    params = {k: v.astype(np.float64) for k, v in params.items()}
    x, y = x.astype(np.float64), y.astype(np.float64)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch_final, torch_lrs, _ = T.torch_train(params, x, y, make_torch, spec, STEPS, sign=sign)
    finally:
        torch.set_default_dtype(previous)
    jax_final, jax_lrs, _ = T.jax_train(params, x, y, make_optax(spec), STEPS, sign=sign)
    np.testing.assert_allclose(jax_lrs, torch_lrs, rtol=1e-12, atol=0)
    assert _relative_error(torch_final, jax_final) < 1e-9


@pytest.mark.parametrize(
    "torch_cls, optax_fn, kwargs, base_lr, max_lr",
    [
        (torch.optim.SGD, clr_optax.sgd, dict(momentum=0.9, weight_decay=1e-3), [0.01, 1e-3], [0.1, 5e-3]),
        (torch.optim.Adam, clr_optax.adam, dict(betas=(0.9, 0.99)), [1e-3, 1e-4], [1e-2, 2e-3]),
    ],
    ids=["sgd", "adam"],
)
def test_two_param_groups_match_multi_transform(torch_cls, optax_fn, kwargs, base_lr, max_lr):
    """torch param groups with different bounds <-> one optimizer per multi_transform label."""
    spec = CyclicSpec(
        base_lr=base_lr, max_lr=max_lr, base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.95], mode="triangular2", **CYCLE
    )
    params, x, y = T.problem()
    torch_final, torch_lrs, torch_momenta = T.torch_train(
        params, x, y, lambda groups: torch_cls(groups, lr=0.1, **kwargs), spec, STEPS, grouped=True
    )
    tx = optax.multi_transform({f"group{g}": optax_fn(spec, g, **kwargs) for g in range(2)}, T.group_labels(params))
    jax_final, jax_lrs, jax_momenta = T.jax_train(params, x, y, tx, STEPS)
    assert torch_lrs.shape == jax_lrs.shape == (STEPS, 2)
    assert not np.array_equal(torch_lrs[:, 0], torch_lrs[:, 1])
    np.testing.assert_array_equal(jax_lrs, torch_lrs.astype(np.float32))
    np.testing.assert_array_equal(jax_momenta, torch_momenta.astype(np.float32))
    _assert_trained(torch_final, params)
    assert _relative_error(torch_final, jax_final) < 1e-5


@pytest.mark.parametrize("make", [clr_optax.sgd, clr_optax.adam, clr_optax.adamw, clr_optax.rmsprop])
def test_bfloat16_params_keep_float32_hyperparams(make):
    spec = CyclicSpec(base_lr=1e-3, max_lr=1e-2, base_momentum=0.85, max_momentum=0.95, **CYCLE)
    params32, x, y = T.problem()
    params = {k: jnp.asarray(v, jnp.bfloat16) for k, v in params32.items()}
    tx = make(spec)
    state = tx.init(params)
    expected = np.asarray(clr_optax.cyclic_lr_schedule(spec)(jnp.arange(5)))
    for k in range(5):
        grads = jax.grad(T.jax_loss)(params, x, y)
        updates, state = jax.jit(tx.update)(grads, state, params)
        assert all(u.dtype == jnp.bfloat16 for u in jax.tree_util.tree_leaves(updates))
        params = optax.apply_updates(params, updates)
        lr = clr_optax.current_hyperparams(state)["learning_rate"]
        assert lr.dtype == jnp.float32 and lr == expected[k]
    assert all(p.dtype == jnp.bfloat16 for p in jax.tree_util.tree_leaves(params))
    assert float(T.jax_loss(params, x, y)) < float(T.jax_loss(params32, x, y))


def test_current_hyperparams_before_the_first_update():
    spec = CyclicSpec(base_lr=0.1, max_lr=1.0, step_size_up=4)
    hyper = clr_optax.current_hyperparams(clr_optax.sgd(spec).init({"w": jnp.zeros(3)}))
    assert float(hyper["learning_rate"]) == np.float32(0.1) and float(hyper["momentum"]) == np.float32(0.9)
    with pytest.raises(ValueError, match="inject_hyperparams"):
        clr_optax.current_hyperparams(optax.sgd(0.1).init({"w": jnp.zeros(3)}))


SPEC = CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=10)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: clr_optax.sgd(SPEC.replace(cycle_momentum=False), nesterov=True), "nesterov"),
        (lambda: clr_optax.sgd(SPEC, nesterov=True, dampening=0.5), "dampening"),
        (lambda: clr_optax.sgd(SPEC, momentum=-0.1), r"momentum must be >= 0"),
        (lambda: clr_optax.sgd(SPEC, weight_decay=float("nan")), "weight_decay"),
        (lambda: clr_optax.adam(SPEC, betas=(0.9, 1.0)), r"betas\[1\] must be in \[0.0, 1.0\)"),
        (lambda: clr_optax.adam(SPEC.replace(max_momentum=1.0)), "max_momentum must be < 1"),
        (lambda: clr_optax.adamw(SPEC, eps=-1e-8), "eps"),
        (lambda: clr_optax.rmsprop(SPEC, alpha=-0.5), "alpha"),
        (
            lambda: clr_optax.sgd(SPEC.replace(base_lr=[0.01, 0.02], max_lr=[0.1, 0.2]), group=2),
            r"group must be in \[0, 1\]",
        ),
    ],
    ids=[
        "nesterov-no-momentum",
        "nesterov-dampening",
        "negative-momentum",
        "nan-decay",
        "beta2-one",
        "beta1-cycles-to-one",
        "negative-eps",
        "negative-alpha",
        "missing-group",
    ],
)
def test_bad_optimizer_arguments_raise_value_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_type_errors_and_missing_params():
    with pytest.raises(TypeError, match="CyclicSpec"):
        clr_optax.adam({"base_lr": 0.1})
    with pytest.raises(TypeError, match="betas must be a pair"):
        clr_optax.adam(SPEC, betas=0.9)
    tx = clr_optax.sgd(SPEC, weight_decay=1e-4)
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="needs the params"):
        tx.update(params, tx.init(params))


def test_numbers_as_users_pass_them():
    """numpy scalars are numbers everywhere, as CyclicSpec takes them (one validator)."""
    spec = CyclicSpec(base_lr=np.float32(0.01), max_lr=np.float64(0.1), step_size_up=np.int64(10))
    for tx in (
        clr_optax.adam(spec, eps=np.float32(1e-8), betas=(np.float32(0.9), np.float64(0.999))),
        clr_optax.sgd(spec, momentum=np.float32(0.9), weight_decay=np.float64(1e-4)),
        clr_optax.rmsprop(spec, alpha=np.float32(0.99), eps=np.float32(1e-8)),
    ):
        params = jnp.zeros(3)
        tx.update(jnp.ones(3), tx.init(params), params)
    with pytest.raises(TypeError, match="eps must be a real number"):
        clr_optax.adam(spec, eps="1e-8")
