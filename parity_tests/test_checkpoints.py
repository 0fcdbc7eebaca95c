"""Resuming anywhere, in either framework: checkpoints round trips that continue identically."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")
pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")
pytest.importorskip("optax", reason="needs optax: pip install 'clr-spec[jax]'")

import copy
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import clr_optax
import clr_torch
from clr_spec import CyclicSpec

from ._helpers import check_float32

SPEC = CyclicSpec(
    base_lr=0.001,
    max_lr=0.01,
    step_size_up=11,
    step_size_down=17,
    mode="triangular2",
    base_momentum=0.85,
    max_momentum=0.95,
)
K = 37  # mid-cycle: cycle 2, 9 steps in
MORE = 120


def _torch_run(steps: int, model=None, opt=None, sched=None):
    torch.manual_seed(0)
    if model is None:
        model = torch.nn.Linear(3, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = clr_torch.CyclicLR.from_spec(opt, SPEC)
    data = torch.linspace(-1, 1, 12).reshape(4, 3)
    lrs = []
    for _ in range(steps):
        lrs.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.zero_grad()
        model(data).pow(2).mean().backward()
        opt.step()
        sched.step()
    return model, opt, sched, lrs


def _fresh_torch():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, opt


def test_from_spec_step_k_equals_k_scheduler_steps():
    _, opt_a, sched_a, _ = _torch_run(K)
    _, opt_b = _fresh_torch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched_b = clr_torch.CyclicLR.from_spec(opt_b, SPEC, step=K)
    assert sched_b.last_epoch == sched_a.last_epoch == K
    assert sched_b.get_last_lr() == sched_a.get_last_lr() == [float(SPEC.lr(K))]
    assert opt_b.param_groups[0]["momentum"] == opt_a.param_groups[0]["momentum"] == float(SPEC.momentum(K))
    opt_b._opt_called = opt_a._opt_called = True
    for k in range(K + 1, K + MORE):
        sched_a.step()
        sched_b.step()
        assert sched_b.get_last_lr() == sched_a.get_last_lr() == [float(SPEC.lr(k))]
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        clr_torch.CyclicLR.from_spec(opt_b, SPEC, step=-1)
    with pytest.raises(TypeError, match="either step= or last_epoch="):
        clr_torch.CyclicLR.from_spec(opt_b, SPEC, step=3, last_epoch=2)


def test_torch_checkpoint_round_trip_continues_identically(tmp_path):
    _, _, _, uninterrupted = _torch_run(K + MORE)
    model, opt, sched, first = _torch_run(K)
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, path)

    ckpt = torch.load(path, weights_only=True)
    saved = copy.deepcopy(ckpt["scheduler"])
    model2, opt2 = _fresh_torch()
    sched2 = clr_torch.CyclicLR.from_spec(opt2, SPEC)  # as torch advises: scheduler, then states
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    assert ckpt["scheduler"] == saved, "load_state_dict must leave its argument untouched"
    _, _, _, rest = _torch_run(MORE, model2, opt2, sched2)
    assert first + rest == uninterrupted


def _optax_tx(spec: CyclicSpec):
    return optax.inject_hyperparams(optax.sgd)(
        learning_rate=clr_optax.cyclic_lr_schedule(spec), momentum=clr_optax.cyclic_momentum_schedule(spec)
    )


def _optax_run(tx, state, params, steps: int):
    @jax.jit
    def step(carry, _):
        state, params = carry
        grads = jax.tree_util.tree_map(lambda p: 2 * p, params)
        updates, state = tx.update(grads, state, params)
        return (state, optax.apply_updates(params, updates)), (
            state.hyperparams["learning_rate"],
            state.hyperparams["momentum"],
        )

    (state, params), (lrs, moms) = jax.lax.scan(step, (state, params), None, length=steps)
    return state, params, np.asarray(lrs), np.asarray(moms)


def test_optax_state_round_trip_continues_identically(tmp_path):
    tx = _optax_tx(SPEC)
    params = {"w": jnp.arange(3.0), "b": jnp.ones(2)}
    _, params_all, lrs_all, _ = _optax_run(tx, tx.init(params), params, K + MORE)
    state, params_k, lrs_k, _ = _optax_run(tx, tx.init(params), params, K)

    # A standard, pickle-free serialization: the pytree's leaves in an .npz, the structure
    # rebuilt from tx.init (what a training script has at hand when it resumes).
    leaves = jax.tree_util.tree_leaves((state, params_k))
    np.savez(tmp_path / "state.npz", *[np.asarray(x) for x in leaves])
    with np.load(tmp_path / "state.npz") as data:
        loaded = [data[f"arr_{i}"] for i in range(len(data.files))]
    treedef = jax.tree_util.tree_structure((tx.init(params), params))
    state2, params2 = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(x) for x in loaded])
    assert int(state2.count) == K

    _, params_end, lrs_rest, _ = _optax_run(tx, state2, params2, MORE)
    np.testing.assert_array_equal(np.concatenate([lrs_k, lrs_rest]), lrs_all)
    for a, b in zip(jax.tree_util.tree_leaves(params_end), jax.tree_util.tree_leaves(params_all)):
        np.testing.assert_array_equal(a, b)


def test_torch_checkpoint_to_spec_json_to_optax(tmp_path):
    model, opt, sched, _ = _torch_run(K)
    torch.save({"scheduler": sched.state_dict()}, tmp_path / "ckpt.pt")
    _, _, _, uninterrupted = _torch_run(K + MORE)

    state_dict = torch.load(tmp_path / "ckpt.pt", weights_only=True)["scheduler"]
    spec = CyclicSpec.from_json(CyclicSpec.from_torch(state_dict).to_json())
    k = state_dict["last_epoch"]
    assert spec == SPEC and k == K

    tx = _optax_tx(spec)
    params = {"w": jnp.arange(3.0)}
    state = clr_optax.set_count(tx.init(params), k)
    _, _, lrs, moms = _optax_run(tx, state, params, MORE)
    torch_lrs = np.array([lr for lr, _ in uninterrupted[K:]])
    torch_moms = np.array([m for _, m in uninterrupted[K:]])
    check_float32("torch ckpt -> spec -> optax", "lr", lrs, torch_lrs, max_ulp=1, evaluator="resume in optax")
    check_float32("torch ckpt -> spec -> optax", "momentum", moms, torch_moms, max_ulp=1, evaluator="resume in optax")


def test_optax_state_to_torch_scheduler():
    tx = _optax_tx(SPEC)
    params = {"w": jnp.arange(3.0)}
    state, _, _, _ = _optax_run(tx, tx.init(params), params, K)
    _, opt = _fresh_torch()
    sched = clr_torch.CyclicLR.from_spec(opt, SPEC, step=int(state.count))
    _, _, _, rest = _torch_run(MORE, *_fresh_model_like(opt), sched)
    _, _, _, uninterrupted = _torch_run(K + MORE)
    assert [lr for lr, _ in rest] == [lr for lr, _ in uninterrupted[K:]]
    assert [m for _, m in rest] == [m for _, m in uninterrupted[K:]]


def _fresh_model_like(opt):
    model = torch.nn.Linear(3, 2)
    opt.param_groups[0]["params"] = list(model.parameters())
    return model, opt


def test_set_count_refuses_bad_input():
    with pytest.raises(ValueError, match="step must be an int"):
        clr_optax.set_count(optax.sgd(0.1).init({"w": jnp.ones(1)}), -1)
    with pytest.raises(ValueError, match="no `count` field"):
        clr_optax.set_count(optax.sgd(0.1).init({"w": jnp.ones(1)}), 3)
