"""The LR range test in both frameworks: the suggestion against the analytic stability limit,
restoring the torch model, one compilation in JAX, the shared analysis, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clr_spec import CyclicSpec, RangeTestResult

from ._frameworks import (
    FRAMEWORKS,
    clr_optax,
    clr_torch,
    jnp,
    needs_both,
    needs_jax,
    needs_matplotlib,
    needs_torch,
    optax,
    torch,
)

N, D, BATCH = 512, 10, 32


def least_squares(seed: int):
    """Noisy least squares, loss 0.5 * mean((X w - y)**2): Hessian X^T X / n, stable for lr < 2 / L."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(N, D)) * np.linspace(0.5, 1.5, D)).astype(np.float32)
    y = (x @ rng.normal(size=D) + 0.5 * rng.normal(size=N)).astype(np.float32)
    largest = np.linalg.eigvalsh(x.astype(np.float64).T @ x / N).max()
    order = rng.permutation(N).reshape(-1, BATCH)
    return [(x[i], y[i]) for i in order], 2.0 / largest


def torch_sweep(batches, **sweep):
    model = torch.nn.Linear(D, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    as_tensors = lambda batch: tuple(torch.from_numpy(a) for a in batch)
    data = [as_tensors(b) for b in batches] if isinstance(batches, list) else map(as_tensors, batches)
    return clr_torch.lr_range_test(
        model, opt, lambda m, b: 0.5 * torch.mean((m(b[0])[:, 0] - b[1]) ** 2), data, progress=False, **sweep
    )


def jax_loss(w, batch):
    x, y = batch
    return 0.5 * jnp.mean((x @ w - y) ** 2)


def optax_sweep(batches, loss_fn=jax_loss, **sweep):
    return clr_optax.lr_range_test(loss_fn, jnp.zeros(D), optax.sgd, batches, progress=False, **sweep)


SWEEPS = {
    "exp": lambda limit: dict(start_lr=limit * 1e-4, end_lr=limit * 10, num_steps=200, mode="exp"),
    "linear": lambda limit: dict(start_lr=limit * 1e-3, end_lr=limit * 3, num_steps=300, mode="linear"),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", sorted(SWEEPS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_suggested_max_lr_is_just_below_the_stability_limit(framework, mode, seed):
    batches, limit = least_squares(seed)
    result = (torch_sweep if framework == "torch" else optax_sweep)(batches, **SWEEPS[mode](limit))
    assert result.diverged and len(result.lrs) < result.num_steps  # it saw the divergence and stopped
    assert result.lrs[-1] > limit
    base_lr, max_lr = result.suggest()
    assert limit / 3 < max_lr < limit, (max_lr / limit, result.stop_reason)
    assert 0 < base_lr < max_lr


@needs_both
def test_both_frameworks_measure_the_same_curve():
    batches, limit = least_squares(0)
    sweep = SWEEPS["linear"](limit)
    from_torch, from_optax = torch_sweep(batches, **sweep), optax_sweep(batches, **sweep)
    np.testing.assert_array_equal(from_torch.lrs[:50], from_optax.lrs[:50])
    np.testing.assert_allclose(from_torch.losses[:50], from_optax.losses[:50], rtol=1e-5)
    assert from_torch.suggest() == pytest.approx(from_optax.suggest(), rel=0.05)


@needs_torch
def test_torch_model_and_optimizer_are_left_untouched():
    batches, limit = least_squares(0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(D, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
    loss_fn = lambda m, b: torch.nn.functional.mse_loss(m(b[0])[:, 0], b[1])
    for batch in data[:3]:  # some optimizer state and gradients to preserve
        opt.zero_grad()
        loss_fn(model, batch).backward()
        opt.step()
    model.eval()
    before = (
        {k: v.clone() for k, v in model.state_dict().items()},
        {k: v["momentum_buffer"].clone() for k, v in opt.state_dict()["state"].items()},
        [p.grad.clone() for p in model.parameters()],
        opt.param_groups[0]["lr"],
    )
    result = clr_torch.lr_range_test(model, opt, loss_fn, data, start_lr=1e-4, end_lr=1.0, num_steps=60, progress=False)
    assert len(result.lrs) > 10
    assert not model.training
    assert opt.param_groups[0]["lr"] == before[3]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[0][k]), k
    for k, v in opt.state_dict()["state"].items():
        assert torch.equal(v["momentum_buffer"], before[1][k])
    for p, grad in zip(model.parameters(), before[2]):
        assert torch.equal(p.grad, grad)


@needs_jax
def test_optax_sweep_compiles_once():
    batches, limit = least_squares(0)
    traces = []

    def counted_loss(w, batch):
        traces.append(1)
        return jax_loss(w, batch)

    result = optax_sweep(batches, counted_loss, **SWEEPS["exp"](limit))
    assert len(result.lrs) > 100 and len(traces) == 1


@needs_jax
def test_progress_bar_can_be_turned_off(capsys):
    batches, limit = least_squares(0)
    optax_sweep(batches, start_lr=1e-3, end_lr=1e-2, num_steps=5, mode="linear")
    assert "lr range test" not in capsys.readouterr().err
    clr_optax.lr_range_test(jax_loss, jnp.zeros(D), optax.sgd, batches, start_lr=1e-3, end_lr=1e-2, num_steps=5)
    assert "lr range test (optax)" in capsys.readouterr().err


# ------------------------------------------------------------------- the shared analysis
def hand_result(losses, smoothing=0.0, lrs=None, stop_reason=None):
    lrs = np.arange(1, len(losses) + 1) / 10 if lrs is None else lrs
    return RangeTestResult(
        lrs=lrs,
        losses=np.array(losses, float),
        start_lr=lrs[0],
        end_lr=lrs[-1],
        num_steps=len(losses),
        mode="linear",
        smoothing=smoothing,
        diverge_threshold=4.0,
        stop_reason=stop_reason,
    )


def test_suggest_reads_the_curve_by_hand():
    # Lowest loss at index 6 (lr 0.7): the update before it, with lr 0.6, was the last to help.
    # Total drop 5 -> 1 = 4; 10% of it is done at index 3 (loss 4 <= 4.6), after the update with lr 0.3.
    result = hand_result([5, 5, 5, 4, 3, 2, 1, 2, 10])
    assert result.suggest() == (0.3, 0.6)
    np.testing.assert_array_equal(result.smoothed_losses, result.losses)  # smoothing 0: no change


def test_suggest_falls_back_to_a_quarter_when_the_start_is_unclear():
    # The loss falls at once (from the first update): where it starts falling is unknown.
    assert hand_result([5, 1, 0.9, 0.8, 3]).suggest() == (0.3 / 4, 0.3)


@needs_matplotlib
def test_suggest_and_plot_refuse_curves_without_a_fall(tmp_path):
    with pytest.raises(ValueError, match="never fell"):
        hand_result([1, 2, 3, 4]).suggest()
    with pytest.raises(ValueError, match="too few finite"):
        hand_result([1, math.nan, math.nan, math.nan]).suggest()
    path = hand_result([1, 2, 3, 4]).plot(str(tmp_path / "flat.png"))
    assert open(path, "rb").read(4) == b"\x89PNG"


def test_zero_lag_smoothing_keeps_the_minimum_in_place():
    losses = np.concatenate([np.linspace(5, 1, 50), np.linspace(1, 5, 50)])
    result = hand_result(losses, smoothing=0.9)
    assert int(np.argmin(result.smoothed_losses)) in (49, 50)


@needs_matplotlib
def test_to_spec_plot_and_json(tmp_path):
    result = hand_result([5, 5, 5, 4, 3, 2, 1, 2, 10], stop_reason="diverged")
    spec = result.to_spec(steps_per_epoch=25)
    assert spec == CyclicSpec(base_lr=0.3, max_lr=0.6, step_size_up=100)
    assert result.to_spec(25, epochs_per_step=2.5, mode="triangular2", max_lr=0.5, cycle_momentum=False) == CyclicSpec(
        base_lr=0.3, max_lr=0.5, step_size_up=62.5, mode="triangular2", cycle_momentum=False
    )
    again = RangeTestResult.from_json(result.to_json())
    np.testing.assert_array_equal(again.losses, result.losses)
    assert again.suggest() == result.suggest() and again.stop_reason == "diverged"
    path = result.plot(str(tmp_path / "range.png"), title="hand-made")
    assert open(path, "rb").read(4) == b"\x89PNG"
    with pytest.raises(ValueError, match="steps_per_epoch"):
        result.to_spec(0)
    with pytest.raises(ValueError, match="epochs_per_step"):
        result.to_spec(10, epochs_per_step=-1)


# ------------------------------------------------------------------- bad input
BAD_SWEEPS = [
    (dict(start_lr=1.0, end_lr=1.0, num_steps=10), ValueError, "end_lr must be finite and > start_lr"),
    (dict(start_lr=0.0, end_lr=1.0, num_steps=10), ValueError, "start_lr must be a finite number > 0"),
    (dict(start_lr=1e-3, end_lr=1.0, num_steps=1), ValueError, "num_steps must be >= 2"),
    (dict(start_lr=1e-3, end_lr=1.0, num_steps=2.5), TypeError, "num_steps must be an int"),
    (dict(start_lr=1e-3, end_lr=1.0, num_steps=10, mode="cos"), ValueError, "mode must be one of"),
    (dict(start_lr=1e-3, end_lr=1.0, num_steps=10, smoothing=1.0), ValueError, r"smoothing must be in \[0, 1\)"),
    (dict(start_lr=1e-3, end_lr=1.0, num_steps=10, diverge_threshold=1.0), ValueError, "diverge_threshold"),
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("sweep, error, message", BAD_SWEEPS)
def test_bad_sweep_arguments(framework, sweep, error, message):
    batches, _ = least_squares(0)
    with pytest.raises(error, match=message):
        (torch_sweep if framework == "torch" else optax_sweep)(batches, **sweep)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_empty_exhausted_and_non_finite_input(framework):
    batches, _ = least_squares(0)
    sweep = dict(start_lr=1e-3, end_lr=1.0, num_steps=10)
    run = torch_sweep if framework == "torch" else optax_sweep
    with pytest.raises(ValueError, match="batches is empty"):
        run([], **sweep)
    with pytest.raises(ValueError, match="ran out after 3 of num_steps=10"):
        run(iter(batches[:3]), **sweep)
    bad = [(np.full_like(x, np.nan), y) for x, y in batches]
    with pytest.raises(ValueError, match="not finite .* before any update"):
        run(bad, **sweep)
