"""The range test's stability probe: the suggested max_lr stays below the divergence point of
problems whose limit is known (least squares, 2/L from the Hessian), with and without gradient
noise, for linear and exponential sweeps, in both frameworks; the probe's own rules by hand;
the optional metric; the plot marks the probes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from clr_spec import RangeTestResult
from clr_spec._range_probe import check_probe, is_stable, probe_stability, probed_max_lr

from ._frameworks import FRAMEWORKS, clr_optax, clr_torch, jnp, needs_matplotlib, optax, torch

N, D, BATCH = 256, 10, 32


def least_squares(seed: int, condition: float, noisy: bool):
    """Least squares, loss 0.5 * mean((X w - y)**2), Hessian X^T X / n with the given condition
    number: plain gradient descent diverges for lr > 2 / L. Noisy: targets with noise, mini-batches
    of 32. Noise-free: exact targets, one full batch (what the loss curve alone misreads)."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(N, D)) * np.geomspace(1, np.sqrt(condition), D)).astype(np.float32)
    y = (x @ rng.normal(size=D) + (0.5 * rng.normal(size=N) if noisy else 0.0)).astype(np.float32)
    limit = 2.0 / np.linalg.eigvalsh(x.astype(np.float64).T @ x / N).max()
    if noisy:
        return [(x[i], y[i]) for i in rng.permutation(N).reshape(-1, BATCH)], limit
    return [(x, y)], limit


def run(framework: str, batches, **kwargs) -> RangeTestResult:
    if framework == "torch":
        model = torch.nn.Linear(D, 1, bias=False)
        torch.nn.init.zeros_(model.weight)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        data = [tuple(torch.from_numpy(a) for a in b) for b in batches]
        return clr_torch.lr_range_test(
            model, opt, lambda m, b: 0.5 * torch.mean((m(b[0])[:, 0] - b[1]) ** 2), data, progress=False, **kwargs
        )
    return clr_optax.lr_range_test(
        lambda w, b: 0.5 * jnp.mean((b[0] @ w - b[1]) ** 2), jnp.zeros(D), optax.sgd, batches, progress=False, **kwargs
    )


SWEEPS = {  # the measured sweep (linear, limit/1000 to 4x the limit) and a fast exponential one
    "linear": lambda limit: dict(start_lr=limit / 1000, end_lr=4 * limit, num_steps=300, mode="linear"),
    "exp": lambda limit: dict(start_lr=limit * 1e-4, end_lr=limit * 10, num_steps=200, mode="exp"),
}


@pytest.mark.parametrize("noisy", [False, True], ids=["noise-free", "noisy"])
@pytest.mark.parametrize("condition", [1, 10, 100])
@pytest.mark.parametrize("mode", sorted(SWEEPS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_suggested_max_lr_is_below_the_divergence_point(framework, mode, condition, noisy):
    batches, limit = least_squares(0, condition, noisy)
    result = run(framework, batches, **SWEEPS[mode](limit))
    base_lr, max_lr = result.suggest()
    assert limit / 3 < max_lr < limit, (max_lr / limit, result.probes)
    assert 0 < base_lr < max_lr
    # Every probe's verdict is the truth for gradient descent on a quadratic, up to the few
    # percent above the limit that a 50-step probe cannot see.
    for lr, stable in result.probes:
        assert stable == (lr < limit) or 1.0 <= lr / limit < 1.05, (lr / limit, stable)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_without_the_probe_the_noise_free_curve_overshoots(framework):
    """Why the probe exists: the loss curve alone suggests more than the limit here."""
    batches, limit = least_squares(0, 10, noisy=False)
    unprobed = run(framework, batches, **SWEEPS["linear"](limit), probe_steps=0)
    assert unprobed.probes == () and unprobed.suggest()[1] > limit
    probed = run(framework, batches, **SWEEPS["linear"](limit))
    assert probed.curve_bounds()[1] == unprobed.suggest()[1]
    assert probed.suggest()[1] < limit
    # The cost: probe_steps steps per probe, the first at the curve's candidate.
    assert probed.probe_steps == 50 and len(probed.probes) >= 2 and not probed.probes[0][1]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_metric_higher_is_better_gives_the_bounds(framework):
    """A metric that is the negated loss reads the same curve as the loss."""
    batches, limit = least_squares(1, 10, noisy=True)
    if framework == "torch":
        metric = lambda m, b: -0.5 * float(torch.mean((m(b[0])[:, 0] - b[1]) ** 2))
    else:
        metric = lambda w, b: -0.5 * jnp.mean((b[0] @ w - b[1]) ** 2)
    plain = run(framework, batches, **SWEEPS["exp"](limit))
    with_metric = run(framework, batches, **SWEEPS["exp"](limit), metric_fn=metric)
    np.testing.assert_allclose(with_metric.metrics, -with_metric.losses, rtol=1e-6)
    assert with_metric.suggest() == pytest.approx(plain.suggest())


# ------------------------------------------------------------------- the rules, by hand
def test_is_stable_by_hand():
    assert is_stable([4, 3, 2, 1, 1, 1, 1, 1], 8)  # fell: stable
    assert is_stable([4, 1, 2, 3, 3, 4, 4, 4], 8)  # back to where it started, not above
    assert not is_stable([4, 1, 2, 3, 4, 5, 6, 6], 8)  # ends above its start: diverging
    assert not is_stable([4, 3, 2, math.inf], 8)  # not finite
    assert not is_stable([4, 3, 2], 8)  # stopped early


def test_probe_backs_off_until_stable_then_keeps_a_margin():
    limit = 1.0
    calls = []

    def train(lr, steps):  # a quadratic along its top direction: |1 - lr * L| per step, L = 2
        calls.append(lr)
        return [abs(1 - 2 * lr) ** (2 * t) for t in range(steps)]

    probes = probe_stability(2.0, train, steps=20, backoff=0.8, max_probes=10)
    assert [round(lr, 4) for lr, _ in probes] == [2.0, 1.6, 1.28, 1.024, 0.8192]
    assert [ok for _, ok in probes] == [False, False, False, False, True]
    assert calls == [lr for lr, _ in probes]
    suggested = probed_max_lr(2.0, probes, 0.8)
    assert suggested == pytest.approx(0.8192 * 0.8) and suggested < limit
    stable_at_once = probe_stability(0.5, train, steps=20, backoff=0.8, max_probes=10)
    assert stable_at_once == ((0.5, True),) and probed_max_lr(0.5, stable_at_once, 0.8) == 0.5
    with pytest.raises(ValueError, match="no probed lr was stable"):
        probed_max_lr(2.0, probe_stability(2.0, train, steps=20, backoff=0.8, max_probes=3), 0.8)


def test_suggest_applies_the_probe_and_serializes_it(tmp_path):
    lrs = np.arange(1, 10) / 10
    result = RangeTestResult(
        lrs=lrs,
        losses=[5, 5, 5, 4, 3, 2, 1, 2, 10],
        start_lr=0.1,
        end_lr=0.9,
        num_steps=9,
        mode="linear",
        smoothing=0.0,
        diverge_threshold=4.0,
        probes=((0.6, False), (0.48, True)),
        probe_steps=50,
        probe_backoff=0.8,
    )
    assert result.curve_bounds() == (0.3, 0.6)
    assert result.suggest() == pytest.approx((0.096, 0.384))  # 0.48 * 0.8; base 0.3 > max/2 -> max/4
    again = RangeTestResult.from_json(result.to_json())
    assert again.probes == result.probes and again.suggest() == result.suggest()
    old = json.loads(result.to_json())
    old.update(version=1)
    for key in ("metrics", "probes", "probe_steps", "probe_backoff"):
        del old[key]
    assert RangeTestResult.from_dict(old).suggest() == (0.3, 0.6)  # version 1: no probe


def test_metric_curve_by_hand():
    # Accuracy peaks after the update with lr 0.4, earlier than the loss's minimum (lr 0.6).
    result = RangeTestResult(
        lrs=np.arange(1, 10) / 10,
        losses=[5, 5, 5, 4, 3, 2, 1, 2, 10],
        metrics=[0.1, 0.1, 0.3, 0.6, 0.9, 0.8, 0.7, 0.5, 0.1],
        start_lr=0.1,
        end_lr=0.9,
        num_steps=9,
        mode="linear",
        smoothing=0.0,
        diverge_threshold=4.0,
    )
    # Rise 0.1 -> 0.9; 10% of it (0.18) is done at index 2, after the update with lr 0.2.
    assert result.curve_bounds() == (0.2, 0.4)
    assert result.suggest() == (0.2, 0.4)
    with pytest.raises(ValueError, match="metrics must have one value per step"):
        RangeTestResult(
            lrs=[0.1, 0.2],
            losses=[1.0, 0.5],
            metrics=[0.5],
            start_lr=0.1,
            end_lr=0.2,
            num_steps=2,
            mode="linear",
            smoothing=0.0,
            diverge_threshold=4.0,
        )


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((-1, 0.8, 12), ValueError, "probe_steps must be an int >= 0"),
        ((3, 0.8, 12), ValueError, r"probe_steps must be 0 \(no probe\) or >= 4"),
        ((2.5, 0.8, 12), TypeError, "probe_steps must be an int"),
        ((50, 1.0, 12), ValueError, r"probe_backoff must be in \(0.0, 1.0\)"),
        ((50, "0.8", 12), TypeError, "probe_backoff must be a real number"),
        ((50, 0.8, 0), ValueError, "max_probes must be an int >= 1"),
    ],
)
def test_bad_probe_arguments(args, error, message):
    with pytest.raises(error, match=message):
        check_probe(*args)


@needs_matplotlib
def test_the_plot_marks_the_probes(tmp_path):
    result = RangeTestResult(
        lrs=np.arange(1, 10) / 10,
        losses=[5, 5, 5, 4, 3, 2, 1, 2, 10],
        metrics=[0.1, 0.1, 0.3, 0.6, 0.9, 0.8, 0.7, 0.5, 0.1],
        start_lr=0.1,
        end_lr=0.9,
        num_steps=9,
        mode="linear",
        smoothing=0.0,
        diverge_threshold=4.0,
        probes=((0.4, False), (0.32, True)),
        probe_steps=50,
    )
    path = result.plot(str(tmp_path / "probe.png"))
    assert open(path, "rb").read(4) == b"\x89PNG"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_numpy_scalars_are_numbers(framework):
    batches, limit = least_squares(0, 10, noisy=True)
    result = run(
        framework,
        batches,
        start_lr=np.float32(limit / 100),
        end_lr=np.float64(limit * 10),
        num_steps=np.int64(60),
        mode="exp",
        smoothing=np.float32(0.5),
        probe_steps=np.int64(8),
    )
    assert len(result.lrs) >= 2 and result.probe_steps == 8
