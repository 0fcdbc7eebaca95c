"""ReduceLROnPlateau in both frameworks (``clr_spec._plateau``, ``clr_optax._plateau``,
``clr_torch._plateau``), torch's own class the reference:

- seeded metric sequences (plateaus, improvements within the threshold, exact ties, NaNs and
  infinities, both modes and threshold modes, several groups, cooldown, min_lr, eps) give torch's
  lrs: the spec's float64 step bitwise, clr_optax ``float32(torch)`` on its float64 path and on
  its float32-only (TPU) path, torch's own under x64; metrics placed on the float32 neighbours of
  torch's thresholds, where a float32 comparison would decide otherwise, included;
- a run moves torch -> spec/JSON -> optax -> torch and optax -> torch -> optax mid-run and
  continues as the uninterrupted torch run, state dict included;
- PyTorch's own ReduceLROnPlateau tests (pytorch/pytorch ``test/optim/test_lrscheduler.py``),
  their configurations and expected values, on the spec path, in optax and through
  ``clr_torch.plateau_scheduler``;
- bad input gets a clear error.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import clr_spec
from clr_spec._plateau import PlateauSpec, PlateauState, metric_value

from ._frameworks import HAS_JAX, HAS_TORCH, needs_both, needs_jax, needs_torch

NAN, INF = float("nan"), float("inf")


# ------------------------------------------------------------------------------ metric sequences
def _sequence(seed: int, n: int, mode: str, threshold_mode: str, threshold: float) -> list:
    """float32-valued metrics (as Python floats: what torch's float(loss) of a float32 loss gives)
    wandering between improvements, improvements within the threshold, repeats, setbacks, NaNs
    and the odd infinity."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if mode == "min" else -1.0
    value, out = 1.0 + rng.random(), []
    for _ in range(n):
        r = rng.random()
        if r < 0.05:
            out.append(NAN)
            continue
        if r < 0.06:
            out.append(sign * INF)  # a diverged loss (min), a broken score (max)
            continue
        if threshold_mode == "rel":
            step = {
                0: rng.uniform(0.0, 1.5) * threshold,
                1: rng.uniform(0.01, 0.2),
                2: 0.0,
                3: -rng.uniform(0.0, 0.05),
            }[int(rng.integers(4))]
            value = value * (1.0 - sign * step)
        else:
            step = {
                0: rng.uniform(0.0, 1.5) * threshold,
                1: rng.uniform(1.0, 5.0) * threshold,
                2: 0.0,
                3: -rng.uniform(0.0, 3.0) * threshold,
            }[int(rng.integers(4))]
            value = value - sign * step
        out.append(float(np.float32(value)))
    return out


def _grid(seed: int, n: int, step: float, low: int, high: int) -> list:
    """Metrics on a grid (multiples of ``step``, or powers of two when ``step`` is 0): exact ties
    with torch's threshold (``best - threshold``, ``best * 0.5``) happen all the time."""
    rng = np.random.default_rng(seed)
    if step == 0:
        return [float(2.0 ** int(k)) for k in rng.integers(low, high, n)]
    return [float(k * step) for k in rng.integers(low, high, n)]


# name: (torch's keywords, the groups' lrs, metrics)
CASES = {
    "min_rel_groups_cooldown_min_lr": (
        dict(mode="min", factor=0.5, patience=3, threshold=1e-3, cooldown=2, min_lr=[1e-3, 1e-4, 0.0]),
        [0.1, 0.05, 0.02],
        _sequence(1, 300, "min", "rel", 1e-3),
    ),
    "min_abs": (
        dict(mode="min", factor=0.3, patience=2, threshold=0.01, threshold_mode="abs"),
        [0.2],
        _sequence(2, 300, "min", "abs", 0.01),
    ),
    "max_rel_eps_skips": (
        dict(mode="max", factor=0.7, patience=1, threshold=0.02, eps=2e-3, min_lr=1e-3),
        [0.05, 0.011],
        _sequence(3, 300, "max", "rel", 0.02),
    ),
    "max_abs_cooldown": (
        dict(mode="max", factor=0.1, patience=0, threshold=0.05, threshold_mode="abs", cooldown=4),
        [1.0, 0.3],
        _sequence(4, 300, "max", "abs", 0.05),
    ),
    "defaults_many_reductions": (
        dict(patience=0, factor=0.9, eps=0.0, min_lr=1e-12),
        [0.7],
        _sequence(5, 400, "min", "rel", 1e-4),
    ),
    "ties_abs_grid": (
        dict(mode="min", factor=0.5, patience=1, threshold=0.125, threshold_mode="abs"),
        [0.4, 0.1],
        _grid(6, 300, 1 / 64, 0, 256),
    ),
    "ties_rel_powers_of_two": (
        dict(mode="max", factor=0.5, patience=1, threshold=1.0, threshold_mode="rel", cooldown=1),
        [0.3],
        _grid(7, 300, 0.0, -20, 20),
    ),
    "nan_heavy": (
        dict(mode="min", factor=0.5, patience=2, min_lr=0.01),
        [0.8],
        [NAN if k % 2 else 1.0 - 0.1 * (k // 40) for k in range(200)],
    ),
}
IDS = list(CASES)


def _spec(name: str) -> PlateauSpec:
    kwargs, lrs, _ = CASES[name]
    return PlateauSpec(lr=lrs if len(lrs) > 1 else lrs[0], **kwargs)


def _torch_optimizer(lrs, tensor_lr: bool = False):
    import torch

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD(
        [
            {"params": [p], "lr": torch.tensor(lr, dtype=torch.float64) if tensor_lr else lr}
            for p, lr in zip(params, lrs)
        ],
        lr=0.5,
    )


def _torch_lrs(scheduler, metrics) -> np.ndarray:
    """(steps, groups): the groups' lrs after each ``step(metric)``."""
    rows = []
    for metric in metrics:
        scheduler.step(metric)
        rows.append([float(g["lr"]) for g in scheduler.optimizer.param_groups])
    groups = len(scheduler.optimizer.param_groups)
    return np.asarray(rows, dtype=np.float64).reshape(len(metrics), groups)


def _torch_reference(name: str):
    import torch

    kwargs, lrs, metrics = CASES[name]
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer(lrs), **kwargs)
    return _torch_lrs(scheduler, metrics), scheduler


def _reference(name: str) -> np.ndarray:
    """torch's lrs where torch is installed; else the spec's (bitwise torch's where it is)."""
    if HAS_TORCH:
        return _torch_reference(name)[0]
    return _spec(name).replay(CASES[name][2], num_groups=len(CASES[name][1]))[0]


# ------------------------------------------------------------------------------ the spec: torch's step
@needs_torch
@pytest.mark.parametrize("name", IDS)
def test_the_spec_steps_bitwise_as_torch(name):
    reference, scheduler = _torch_reference(name)
    spec = _spec(name)
    ours, end = spec.replay(CASES[name][2], num_groups=len(CASES[name][1]))
    np.testing.assert_array_equal(ours, reference)
    assert len(np.unique(reference)) > 3, "the sequence must move the lr"
    # the state after it is torch's: from_torch of torch's scheduler is the spec replay leaves
    groups = len(CASES[name][1])
    resumed = clr_spec.from_torch(scheduler)
    assert [resumed.group_lr(g) for g in range(groups)] == reference[-1].tolist()
    assert resumed.state.replace(lrs=0.0) == end.state.replace(lrs=0.0)
    assert end.torch_state_dict(num_groups=groups) == scheduler.state_dict()


def test_nan_metrics_count_as_bad_epochs_as_in_torch():
    """torch's choice (every comparison with NaN is false), kept: NaN is never better, so it is a
    bad epoch, reduces the lr after patience + 1 of them, and never becomes best."""
    spec = PlateauSpec(lr=1.0, factor=0.5, patience=2)
    lrs, end = spec.replay([3.0, NAN, NAN, NAN, NAN])
    assert lrs[:, 0].tolist() == [1.0, 1.0, 1.0, 0.5, 0.5] and end.state.best == 3.0
    assert end.state.num_bad_epochs == 1
    for mode in ("min", "max"):
        s = PlateauSpec(lr=1.0, mode=mode).stepped(NAN)
        assert s.state.best == (INF if mode == "min" else -INF) and s.state.num_bad_epochs == 1
    # ties are not improvements; -inf in mode min is better than any best, and then nothing is
    tie = PlateauSpec(lr=1.0, patience=0, threshold=0.5, threshold_mode="abs").stepped(2.0).stepped(1.5)
    assert tie.state.best == 2.0 and tie.group_lr() == 0.1
    low = PlateauSpec(lr=1.0, patience=0).stepped(-INF).stepped(-1e300)
    assert low.state.best == -INF and low.group_lr() == 0.1
    if HAS_TORCH:
        import torch

        for metrics in ([3.0, NAN, NAN, NAN, NAN], [-INF, -1e300, 5.0], [2.0, 1.5, 1.5]):
            kwargs = dict(factor=0.5, patience=0, threshold=0.5, threshold_mode="abs")
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer([1.0]), **kwargs)
            np.testing.assert_array_equal(PlateauSpec(lr=1.0, **kwargs).replay(metrics)[0], _torch_lrs(sched, metrics))


def test_the_lr_without_metrics_is_the_state_s():
    spec = PlateauSpec(lr=[0.1, 0.2], patience=0).stepped(1.0).stepped(2.0)
    assert spec.lr(np.arange(5), 1).tolist() == [0.020000000000000004] * 5 == [spec.group_lr(1)] * 5
    assert spec.natural_end is None and not spec.sets_momentum and spec.momentum_range(0) is None
    assert spec.EVALUATOR == "plateau" and spec.default_steps() == 100 and "0.1" in spec.describe()
    with pytest.raises(ValueError, match="momentum"):
        spec.momentum(0)


def test_json_holds_the_state_and_infinite_best():
    spec = PlateauSpec(lr=[0.1, 0.2], mode="max", min_lr=[0.0, 0.01], cooldown=2)
    doc = json.loads(spec.to_json())
    assert doc["state"] == {
        "best": "-inf",
        "num_bad_epochs": 0,
        "cooldown_counter": 0,
        "last_epoch": 0,
        "lrs": [0.1, 0.2],
    }
    assert clr_spec.from_json(spec.to_json()) == spec
    moved = spec.stepped(0.5).stepped(0.25)
    assert clr_spec.from_json(moved.to_json()) == moved and json.loads(moved.to_json())["state"]["best"] == 0.5
    assert hash(clr_spec.from_json(moved.to_json())) == hash(moved)
    fresh = {k: val for k, val in doc.items() if k != "state"}
    assert PlateauSpec.from_dict(fresh) == spec  # no state: a fresh run
    for broken, error in (
        ({**doc, "state": {**doc["state"], "best": "nan"}}, "best must be"),
        ({**doc, "state": {**doc["state"], "extra": 1}}, "unknown"),
        ({**doc, "version": 2}, "version must be"),
        ({**doc, "mode": "avg"}, "mode must be"),
    ):
        with pytest.raises(ValueError, match=error):
            PlateauSpec.from_dict(broken)
    with pytest.raises(ValueError, match="Infinity"):
        clr_spec.from_json(spec.to_json().replace('"-inf"', "-Infinity"))


# ------------------------------------------------------------------------------ optax: float32(torch)
def _optax_lrs(spec: PlateauSpec, metrics, groups: int, method: str = "auto", route: str = "wrapper") -> np.ndarray:
    """(steps, groups): the lr each group's optax optimizer holds after each ``update(value=metric)``,
    from one jitted scan over the metrics."""
    import jax
    import jax.numpy as jnp
    import optax

    from clr_optax._plateau import plateau_schedule, reduce_on_plateau

    if route == "wrapper":
        txs = [
            reduce_on_plateau(spec, optax.inject_hyperparams(optax.sgd)(learning_rate=0.0), g, float32_method=method)
            for g in range(groups)
        ]
    else:
        txs = [
            optax.inject_hyperparams(optax.sgd)(learning_rate=plateau_schedule(spec, g, float32_method=method))
            for g in range(groups)
        ]
    params = jnp.zeros(1, jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)

    def lr_of(state):
        inject = state.inner_state if route == "wrapper" else state
        return inject.hyperparams["learning_rate"]

    def run(values):
        def body(states, value):
            states = [tx.update(jnp.ones_like(params), s, params, value=value)[1] for tx, s in zip(txs, states)]
            return states, jnp.stack([lr_of(s) for s in states])

        return jax.lax.scan(body, [tx.init(params) for tx in txs], values)[1]

    return np.asarray(jax.jit(run)(jnp.asarray(metrics)))


@needs_jax
@pytest.mark.parametrize("name", IDS)
def test_optax_float32_is_float32_of_torch_on_every_path(name):
    reference = _reference(name)
    spec, groups = _spec(name), len(CASES[name][1])
    metrics = np.asarray(CASES[name][2], np.float32)
    for method in ("auto", "float64", "float-float"):
        np.testing.assert_array_equal(
            _optax_lrs(spec, metrics, groups, method), reference.astype(np.float32), err_msg=method
        )
    np.testing.assert_array_equal(_optax_lrs(spec, metrics, groups, route="schedule"), reference.astype(np.float32))


@needs_jax
@pytest.mark.parametrize("name", IDS[:4] + ["ties_abs_grid"])
def test_optax_x64_is_torch_bitwise(name, x64):
    reference = _reference(name)
    ours = _optax_lrs(_spec(name), np.asarray(CASES[name][2], np.float64), len(CASES[name][1]))
    assert ours.dtype == np.float64
    np.testing.assert_array_equal(ours, reference)


def _on_the_edge(spec: PlateauSpec, seed: int, n: int) -> list:
    """Each metric one of the float32 numbers next to torch's threshold for the best so far
    (``round64(best * (1 - threshold))`` and its float32 neighbours): where a comparison made in
    float32 (the threshold rounded to float32) decides otherwise than torch's float64 one."""
    rng = np.random.default_rng(seed)
    out, state = [], spec.state
    for _ in range(n):
        best = state.best
        if not math.isfinite(best):
            metric = float(np.float32(1.0 + rng.random()))
        else:
            if spec.threshold_mode == "rel":
                bound = best * ((1.0 - spec.threshold) if spec.mode == "min" else (spec.threshold + 1.0))
            else:
                bound = best - spec.threshold if spec.mode == "min" else best + spec.threshold
            near = np.float32(bound)
            candidates = [np.nextafter(near, np.float32(-np.inf)), near, np.nextafter(near, np.float32(np.inf))]
            metric = float(candidates[int(rng.integers(3))]) if rng.random() < 0.9 else float(np.float32(best))
        out.append(metric)
        state = spec.transition(state, metric)
    return out


@needs_jax
@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
def test_metrics_on_the_threshold_are_judged_as_torch_judges_them(mode, threshold_mode):
    spec = PlateauSpec(
        lr=0.3,
        mode=mode,
        threshold_mode=threshold_mode,
        threshold=1e-4 if threshold_mode == "rel" else 1e-3,
        patience=1,
        factor=0.5,
        eps=0.0,
        min_lr=1e-9,
    )
    metrics = _on_the_edge(spec, 11, 200)
    reference = spec.replay(metrics)[0]
    if HAS_TORCH:
        import torch

        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer([0.3]), **spec.torch_kwargs())
        np.testing.assert_array_equal(reference, _torch_lrs(sched, metrics))
    # a float32 comparison would decide otherwise on these metrics: they do test something
    c32 = np.float32(1.0 - spec.threshold if mode == "min" else spec.threshold + 1.0)
    best32, disagreements = np.float32(np.inf if mode == "min" else -np.inf), 0
    for m in np.asarray(metrics, np.float32):
        bound32 = (
            best32 * c32
            if threshold_mode == "rel"
            else (best32 - np.float32(spec.threshold) if mode == "min" else best32 + np.float32(spec.threshold))
        )
        better32 = m < bound32 if mode == "min" else m > bound32
        better = spec.is_better(float(m), float(best32))
        disagreements += int(better32 != better)
        best32 = m if better else best32
    assert disagreements > 5
    for method in ("auto", "float-float"):
        np.testing.assert_array_equal(
            _optax_lrs(spec, np.asarray(metrics, np.float32), 1, method), reference.astype(np.float32), err_msg=method
        )
    import jax

    with jax.enable_x64(True):
        np.testing.assert_array_equal(_optax_lrs(spec, np.asarray(metrics, np.float64), 1), reference)


@needs_jax
def test_past_the_table_the_float32_only_path_stays_within_an_ulp(monkeypatch):
    """The float32-only path replays MAX_TABLE reductions on the host, then multiplies in
    float-float: with a table of 8, 200 reductions are within 1 ulp of float32(torch)."""
    from clr_optax import _plateau

    monkeypatch.setattr(_plateau, "MAX_TABLE", 8)
    spec = PlateauSpec(lr=0.7, factor=0.97, patience=0, eps=0.0, min_lr=1e-5)
    metrics = np.ones(200, np.float32)
    reference = spec.replay(metrics.tolist())[0]
    ours = _optax_lrs(spec, metrics, 1, "float-float")
    np.testing.assert_array_max_ulp(ours, reference.astype(np.float32), maxulp=1)
    np.testing.assert_array_equal(_optax_lrs(spec, metrics, 1, "float64"), reference.astype(np.float32))


@needs_jax
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_the_torch_rule_optimizers_take_the_plateau(optimizer, monkeypatch):
    """clr_optax.sgd/adam/adamw/rmsprop(plateau_spec) once "plateau" is in clr_optax's builder table
    (the line to wire in: ``schedule_builder``), one per param group through multi_transform,
    the metric given to update(value=...)."""
    import jax
    import jax.numpy as jnp
    import optax

    import clr_optax
    from clr_optax import _family
    from clr_optax._plateau import schedule_builder

    monkeypatch.setitem(_family._BUILDERS, "plateau", schedule_builder)
    name = "min_rel_groups_cooldown_min_lr"
    spec, reference = _spec(name), _reference(name)
    build = getattr(clr_optax, optimizer)
    labels = ["a", "b", "c"]
    tx = optax.multi_transform(
        {label: build(spec, g) for g, label in enumerate(labels)}, {label: label for label in labels}
    )
    params = {label: jnp.ones(2) for label in labels}
    state = tx.init(params)

    @jax.jit
    def step(state, value):
        updates, state = tx.update(jax.tree.map(jnp.ones_like, params), state, params, value=value)
        lrs = clr_optax.current_hyperparams(state)
        return state, updates, jnp.stack([lrs[label]["learning_rate"] for label in labels])

    for k, metric in enumerate(np.asarray(CASES[name][2][:60], np.float32)):
        state, updates, lrs = step(state, metric)
        np.testing.assert_array_equal(np.asarray(lrs), reference[k].astype(np.float32))
        if optimizer == "sgd":  # no momentum: the update is -lr * grad, with the lr just set
            np.testing.assert_array_equal(np.asarray(updates["b"]), -reference[k, 1].astype(np.float32) * np.ones(2))
    with pytest.raises(TypeError, match="not a count -> lr schedule"):
        clr_optax.lr_schedule(spec)(3)


# ------------------------------------------------------------------------------ torch
@needs_torch
@pytest.mark.parametrize("tensor_lr", [False, True])
def test_plateau_scheduler_continues_torch_bit_for_bit(tensor_lr):
    import torch

    import clr_torch  # noqa: F401  (clr_torch's package checks)
    from clr_torch._plateau import plateau_scheduler

    name = "min_rel_groups_cooldown_min_lr"
    kwargs, lrs, metrics = CASES[name]
    whole = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer(lrs, tensor_lr), **kwargs)
    reference = _torch_lrs(whole, metrics)
    for k in (0, 1, 57, 150):
        first = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer(lrs, tensor_lr), **kwargs)
        _torch_lrs(first, metrics[:k])
        spec = (
            clr_spec.from_torch(first)
            if k % 2
            else clr_spec.from_torch(first.state_dict(), optimizer_state=first.optimizer.state_dict())
        )
        opt = _torch_optimizer([0.123] * len(lrs), tensor_lr)  # the lrs come from the spec
        sched = plateau_scheduler(opt, clr_spec.from_json(spec.to_json()))
        assert [type(g["lr"]) for g in opt.param_groups] == [torch.Tensor if tensor_lr else float] * len(lrs)
        np.testing.assert_array_equal(_torch_lrs(sched, metrics[k:]), reference[k:])
        assert _state(sched) == _state(whole)


def _state(scheduler) -> dict:
    return {k: ([float(x) for x in val] if k == "_last_lr" else val) for k, val in scheduler.state_dict().items()}


# ------------------------------------------------------------------------------ migration, both ways
@needs_both
def test_a_run_moves_torch_to_optax_to_torch_mid_run():
    import torch

    from clr_optax._plateau import plateau_spec_from_optax
    from clr_torch._plateau import plateau_scheduler

    name = "max_rel_eps_skips"
    kwargs, lrs, metrics = CASES[name]
    reference, whole = _torch_reference(name)
    k1, k2 = 90, 200
    first = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer(lrs), **kwargs)
    _torch_lrs(first, metrics[:k1])
    text = clr_spec.from_torch(first.state_dict(), optimizer_state=first.optimizer.state_dict()).to_json()
    spec = clr_spec.from_json(text)  # the checkpoint's spec, through JSON
    middle, states = _optax_segment(spec, metrics[k1:k2], len(lrs))
    np.testing.assert_array_equal(middle, reference[k1:k2].astype(np.float32))
    back = plateau_spec_from_optax(spec, states)
    sched = plateau_scheduler(_torch_optimizer([1.0] * len(lrs)), back)
    np.testing.assert_array_equal(_torch_lrs(sched, metrics[k2:]), reference[k2:])
    assert _state(sched) == _state(whole)


@needs_both
def test_a_run_moves_optax_to_torch_to_optax_mid_run(x64):
    from clr_optax._plateau import plateau_spec_from_optax
    from clr_torch._plateau import plateau_scheduler

    name = "ties_abs_grid"
    reference = _torch_reference(name)[0]
    fresh = _spec(name)
    metrics, groups = CASES[name][2], len(CASES[name][1])
    first, states = _optax_segment(fresh, metrics[:120], groups)
    np.testing.assert_array_equal(first, reference[:120])  # x64: torch's own
    sched = plateau_scheduler(_torch_optimizer([0.0] * groups), plateau_spec_from_optax(fresh, states))
    np.testing.assert_array_equal(_torch_lrs(sched, metrics[120:210]), reference[120:210])
    last, _ = _optax_segment(clr_spec.from_torch(sched), metrics[210:], groups)
    np.testing.assert_array_equal(last, reference[210:])


def _optax_segment(spec: PlateauSpec, metrics, groups: int):
    """The lrs of ``reduce_on_plateau`` optimizers (one per group) over ``metrics`` from ``spec``'s
    state, and their states at the end (one per group, for plateau_spec_from_optax)."""
    import jax
    import jax.numpy as jnp
    import optax

    from clr_optax._plateau import reduce_on_plateau

    dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
    adam = optax.chain(optax.clip(1.0), optax.inject_hyperparams(optax.adam)(learning_rate=0.0))
    txs = [reduce_on_plateau(spec, adam, g) for g in range(groups)]
    params = jnp.zeros(3, dtype)
    states = [tx.init(params) for tx in txs]
    step = jax.jit(
        lambda states, value: [
            tx.update(jnp.ones_like(params), s, params, value=value)[1] for tx, s in zip(txs, states)
        ]
    )
    rows = []
    for metric in metrics:
        states = step(states, jnp.asarray(metric, dtype))
        rows.append([float(s.inner_state[1].hyperparams["learning_rate"]) for s in states])
    return np.asarray(rows, np.float64 if dtype == jnp.float64 else np.float32), states


# ------------------------------------------------------------------------------ PyTorch's own tests
# pytorch/pytorch test/optim/test_lrscheduler.py, TestLRScheduler: the optimizer has two groups,
# both set to lr 0.5; each test steps ReduceLROnPlateau with its metrics and checks the lr of the
# groups it has targets for (``zip(param_groups, targets)``) after each step, atol=1e-5, rtol=0.
# The test_compound_reduce_lr_on_plateau* tests check nothing upstream (``targets = targets[1:]``
# leaves no target list), so they are not ported.
UPSTREAM = {
    "test_reduce_lr_on_plateau1": (
        dict(threshold_mode="abs", mode="min", threshold=0.01, patience=5, cooldown=5),
        [10 - i * 0.0167 for i in range(20)],
        10,
        [[0.5] * 20],
    ),
    "test_reduce_lr_on_plateau2": (
        dict(patience=5, cooldown=0, threshold_mode="abs", mode="min", threshold=0.1),
        [10 - i * 0.0165 for i in range(22)],
        22,
        [[0.5] * 6 + [0.05] * 7 + [0.005] * 7 + [0.0005] * 2],
    ),
    "test_reduce_lr_on_plateau3": (
        dict(mode="max", patience=5, cooldown=5, threshold_mode="abs"),
        [-0.8] * 2 + [-0.234] * 20,
        22,
        [[0.5] * (2 + 6) + [0.05] * (5 + 6) + [0.005] * 4],
    ),
    "test_reduce_lr_on_plateau4": (
        dict(mode="max", patience=3, threshold_mode="rel", threshold=0.1),
        [1.5 * (1.025**i) for i in range(20)],
        20,
        [[0.5] * 20],
    ),
    "test_reduce_lr_on_plateau5": (
        dict(mode="max", threshold_mode="rel", threshold=0.1, patience=5, cooldown=5),
        [1.5 * (1.005**i) for i in range(20)],
        20,
        [[0.5] * 6 + [0.05] * (5 + 6) + [0.005] * 4],
    ),
    "test_reduce_lr_on_plateau6": (
        dict(mode="min", threshold_mode="rel", threshold=0.1),
        [1.5 * (0.85**i) for i in range(20)],
        20,
        [[0.5] * 20],
    ),
    "test_reduce_lr_on_plateau7": (
        dict(mode="min", threshold_mode="rel", threshold=0.1, patience=5, cooldown=5),
        [1] * 7 + [0.6] + [0.5] * 12,
        20,
        [[0.5] * 6 + [0.05] * (5 + 6) + [0.005] * 4],
    ),
    "test_reduce_lr_on_plateau8": (
        dict(mode="max", threshold_mode="rel", min_lr=[0.4, 0.3], threshold=0.1, patience=5, cooldown=5),
        [1.5 * (1.005**i) for i in range(20)],
        20,
        [[0.5] * 6 + [0.4] * 14, [0.5] * 6 + [0.3] * 14],
    ),
}


@pytest.mark.parametrize("upstream", list(UPSTREAM))
def test_pytorch_reduce_lr_on_plateau(upstream):
    kwargs, metrics, epochs, targets = UPSTREAM[upstream]
    spec = PlateauSpec(lr=[0.5, 0.5], **kwargs)
    lrs = spec.replay(metrics[:epochs])[0]
    for g, target in enumerate(targets):
        np.testing.assert_allclose(lrs[:, g], target[:epochs], atol=1e-5, rtol=0)
    if HAS_TORCH:  # and torch's own values, bitwise, through clr_torch
        import torch

        from clr_torch._plateau import plateau_scheduler

        opt = torch.optim.SGD(
            [
                {"params": [torch.nn.Parameter(torch.zeros(1))]},
                {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": torch.tensor(0.5)},
            ],
            lr=0.05,
        )
        for group in opt.param_groups:
            group["lr"] = 0.5
        theirs = _torch_lrs(torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs), metrics[:epochs])
        np.testing.assert_array_equal(lrs, theirs)
        ours = _torch_lrs(plateau_scheduler(_torch_optimizer([0.1, 0.1]), spec), metrics[:epochs])
        np.testing.assert_array_equal(ours, theirs)
    if HAS_JAX:
        np.testing.assert_array_equal(
            _optax_lrs(spec, np.asarray(metrics[:epochs], np.float32), 2), lrs.astype(np.float32)
        )


@needs_torch
def test_pytorch_reduce_lr_on_plateau_state_dict():
    """Upstream: a scheduler's state loaded into one built with other settings has every attribute
    of the first; here through the spec and its JSON, into clr_torch.plateau_scheduler."""
    import torch

    from clr_torch._plateau import plateau_scheduler

    opt = _torch_optimizer([0.05, 0.5])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=2)
    scores = [1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 5.0, 3.0, 2.0, 1.0]
    for score in scores:
        scheduler.step(score)
    spec = clr_spec.from_json(clr_spec.from_torch(scheduler.state_dict(), optimizer_state=opt.state_dict()).to_json())
    copy = plateau_scheduler(_torch_optimizer([1.0, 1.0]), spec)
    for key in scheduler.__dict__:
        if key not in {"optimizer", "is_better"}:
            assert scheduler.__dict__[key] == copy.__dict__[key], key
    assert spec == PlateauSpec(lr=[0.05, 0.5], factor=0.1, patience=2).replay(scores)[1].replace(lr=spec.initial_lr)


@needs_torch
def test_pytorch_reduce_lr_on_plateau_get_last_lr_before_step_and_preserves_lr_type():
    import torch

    from clr_torch._plateau import plateau_scheduler

    def optimizer():  # upstream's: a float lr and a tensor lr
        return torch.optim.SGD(
            [
                {"params": [torch.nn.Parameter(torch.zeros(1))]},
                {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": torch.tensor(0.5)},
            ],
            lr=0.05,
        )

    opt, theirs = optimizer(), optimizer()
    types = [type(group["lr"]) for group in opt.param_groups]
    for group in theirs.param_groups:
        group["lr"] = torch.tensor(0.5) if isinstance(group["lr"], torch.Tensor) else 0.5
    scheduler = plateau_scheduler(opt, PlateauSpec(lr=0.5, mode="min", patience=0))
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, mode="min", patience=0)
    assert [float(x) for x in scheduler.get_last_lr()] == [0.5, 0.5]
    for metric in (1.0, 2.0):  # 2.0 triggers _reduce_lr
        scheduler.step(metric)
        reference.step(metric)
    assert [type(group["lr"]) for group in opt.param_groups] == types
    assert [float(g["lr"]) for g in opt.param_groups] == [float(g["lr"]) for g in theirs.param_groups]
    assert float(opt.param_groups[0]["lr"]) == 0.05 and opt.param_groups[1]["lr"].dtype == torch.float32


# ------------------------------------------------------------------------------ optax.contrib differs
@needs_jax
def test_optax_contrib_reduce_on_plateau_is_another_algorithm():
    """docs/guides/schedules.md's statement: optax.contrib.reduce_on_plateau (same factor, patience, rtol as
    torch's threshold, cooldown) on one sequence reduces a step earlier than torch (it counts
    ``plateau_count == patience``, torch ``num_bad_epochs > patience``) and differs from then on."""
    import jax.numpy as jnp
    import optax
    from optax import contrib

    metrics = [1.0, 0.9, 0.95, 0.92, 0.91, 0.905, 0.93, 0.94, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91]
    spec = PlateauSpec(lr=0.1, factor=0.5, patience=2, threshold=1e-4, cooldown=1)
    torch_lrs = spec.replay(metrics)[0][:, 0]
    tx = optax.chain(optax.sgd(0.1), contrib.reduce_on_plateau(factor=0.5, patience=2, rtol=1e-4, cooldown=1))
    state = tx.init(jnp.zeros(1))
    theirs = []
    for m in metrics:
        updates, state = tx.update(-jnp.ones(1), state, value=m)  # sgd: -lr * grad = lr * scale
        theirs.append(float(updates[0]))
    assert torch_lrs.tolist()[:4] == [0.1] * 4 and theirs[:3] == pytest.approx([0.1] * 3)
    first_torch = int(np.argmax(torch_lrs < 0.1))
    first_contrib = int(np.argmax(np.asarray(theirs) < 0.09))
    assert first_contrib == first_torch - 1


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(patience=-1), ValueError, "patience"),
        (dict(patience=2.5), TypeError, "patience"),
        (dict(factor=1.0), ValueError, "factor"),
        (dict(factor=0.0), ValueError, "factor"),
        (dict(factor=-0.5), ValueError, "factor"),
        (dict(factor=1.5), ValueError, "factor"),
        (dict(min_lr=[0.0, 0.1, 0.2]), ValueError, "min_lr has 3"),
        (dict(min_lr=-1.0), ValueError, "min_lr"),
        (dict(mode="avg"), ValueError, "mode must be one of"),
        (dict(mode=None), TypeError, "mode"),
        (dict(threshold_mode="pct"), ValueError, "threshold_mode"),
        (dict(threshold=-1e-3), ValueError, "threshold"),
        (dict(threshold=1.0), ValueError, "threshold"),
        (dict(threshold=NAN), ValueError, "threshold"),
        (dict(cooldown=-2), ValueError, "cooldown"),
        (dict(eps=-1e-9), ValueError, "eps"),
        (dict(lr=[0.1, NAN]), ValueError, r"lr\[1\]"),
        (dict(state={"best": 1.0}), TypeError, "PlateauState"),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        PlateauSpec(**{"lr": [0.1, 0.2], **kwargs})


@pytest.mark.parametrize(
    "metric, error, match",
    [
        (np.ones(2), ValueError, "one number"),
        ([1.0, 2.0], ValueError, "one number"),
        ("0.5", TypeError, "real"),
        (None, TypeError, "real"),
        (True, TypeError, "real"),
        (1 + 2j, TypeError, "real"),
    ],
)
def test_a_metric_of_the_wrong_kind_is_refused(metric, error, match):
    with pytest.raises(error, match=match):
        PlateauSpec(lr=0.1).stepped(metric)
    assert metric_value(np.float32(0.5)) == 0.5 and metric_value(np.ones((1, 1))) == 1.0


def test_bad_states_are_refused():
    with pytest.raises(ValueError, match="best must not be NaN"):
        PlateauState(best=NAN)
    with pytest.raises(ValueError, match="num_bad_epochs"):
        PlateauState(best=1.0, num_bad_epochs=-1)
    with pytest.raises(ValueError, match="per-group"):
        PlateauSpec(lr=[0.1, 0.2], state=PlateauState(best=1.0, lrs=(0.1, 0.2, 0.3)))
    state = PlateauSpec(lr=[0.1, 0.2]).torch_state_dict()
    for broken, match in (
        ({**state, "best": NAN}, "best"),
        ({**state, "mode_worse": 1.0}, "mode_worse"),
        ({**state, "min_lrs": [0.0]}, "min_lrs has 1"),
        ({**state, "zeta": 1}, "zeta"),
        ({k: val for k, val in state.items() if k != "best"}, "best"),
        ({k: val for k, val in state.items() if k != "_last_lr"}, "optimizer_state"),
        ({**state, "patience": -3}, "patience"),
    ):
        with pytest.raises(ValueError, match=match):
            clr_spec.from_torch(broken, torch_class="ReduceLROnPlateau")
    with pytest.raises(ValueError, match="num_groups"):
        PlateauSpec(lr=0.1).torch_state_dict()


@needs_jax
def test_optax_bad_input():
    import jax.numpy as jnp
    import optax

    import clr_optax
    from clr_optax._plateau import plateau_schedule, plateau_spec_from_optax, reduce_on_plateau

    spec = PlateauSpec(lr=[0.1, 0.2])
    tx = reduce_on_plateau(spec, optax.inject_hyperparams(optax.sgd)(learning_rate=0.0), 1)
    state = tx.init(jnp.zeros(1))
    with pytest.raises(ValueError, match="value .the metric. must be one number"):
        tx.update(jnp.ones(1), state, value=jnp.ones(3))
    with pytest.raises(TypeError, match="real number"):
        tx.update(jnp.ones(1), state, value=jnp.asarray(True))
    with pytest.raises(TypeError, match="is a schedule"):
        reduce_on_plateau(spec, clr_optax.sgd(clr_spec.ConstantSpec(lr=0.1, factor=1.0, total_iters=1))).init(
            jnp.zeros(1)
        )
    with pytest.raises(TypeError, match="exactly one inject_hyperparams"):
        reduce_on_plateau(spec, optax.sgd(0.1)).init(jnp.zeros(1))
    with pytest.raises(ValueError, match="group must be"):
        plateau_schedule(spec, 2)
    with pytest.raises(TypeError, match="PlateauSpec"):
        plateau_schedule(clr_spec.ConstantSpec(lr=0.1), 0)
    with pytest.raises(ValueError, match="one optimizer state per group"):
        plateau_spec_from_optax(spec, [state])
    other = reduce_on_plateau(spec, optax.inject_hyperparams(optax.sgd)(learning_rate=0.0), 0)
    moved = other.update(jnp.ones(1), other.init(jnp.zeros(1)), value=1.0)[1]
    with pytest.raises(ValueError, match="disagree"):
        plateau_spec_from_optax(spec, [moved, state])
    with pytest.raises(ValueError, match="cannot be carried exactly"):
        plateau_schedule(PlateauSpec(lr=1e-30), 0)
    with pytest.raises(ValueError, match="2\\*\\*31"):
        plateau_schedule(PlateauSpec(lr=0.1, cooldown=2**40), 0)


@needs_torch
def test_torch_bad_input():
    import torch

    from clr_torch._plateau import plateau_scheduler

    with pytest.raises(ValueError, match="2 param groups"):
        plateau_scheduler(_torch_optimizer([0.1, 0.2, 0.3]), PlateauSpec(lr=[0.1, 0.2]))
    with pytest.raises(TypeError, match="PlateauSpec"):
        plateau_scheduler(_torch_optimizer([0.1]), clr_spec.ConstantSpec(lr=0.1))
    with pytest.raises(TypeError, match="Optimizer"):
        plateau_scheduler("sgd", PlateauSpec(lr=0.1))
    sched = torch.optim.lr_scheduler.StepLR(_torch_optimizer([0.1]), step_size=2)
    with pytest.raises((TypeError, ValueError)):
        PlateauSpec.from_torch(sched)
    with pytest.raises(ValueError):
        PlateauSpec.from_torch(sched.state_dict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer([0.1]))
    assert clr_spec._family.torch_class_of(plateau.state_dict()) == "ReduceLROnPlateau"


@needs_torch
def test_clr_torch_scheduler_and_clr_from_torch_take_a_plateau(monkeypatch, tmp_path, capsys):
    """The wiring to add (``"plateau"`` in clr_torch's builder table): clr_torch.scheduler(opt,
    plateau_spec) is torch's class, resumed; and ``clr from-torch`` reads a plateau checkpoint."""
    import torch

    import clr_torch
    from clr_spec import cli
    from clr_torch import _family
    from clr_torch._plateau import plateau_scheduler

    monkeypatch.setitem(_family._BUILDERS, "plateau", plateau_scheduler)
    kwargs, lrs, metrics = CASES["max_abs_cooldown"]
    reference, whole = _torch_reference("max_abs_cooldown")
    first = torch.optim.lr_scheduler.ReduceLROnPlateau(_torch_optimizer(lrs), **kwargs)
    _torch_lrs(first, metrics[:33])
    torch.save({"scheduler": first.state_dict(), "optimizer": first.optimizer.state_dict()}, tmp_path / "ckpt.pt")
    assert cli.main(["from-torch", str(tmp_path / "ckpt.pt"), "-o", str(tmp_path / "spec.json")]) == 0
    capsys.readouterr()
    spec = clr_spec.from_json((tmp_path / "spec.json").read_text())
    sched = clr_torch.scheduler(_torch_optimizer([0.5] * len(lrs)), spec)
    assert type(sched) is torch.optim.lr_scheduler.ReduceLROnPlateau
    np.testing.assert_array_equal(_torch_lrs(sched, metrics[33:]), reference[33:])
    assert _state(sched) == _state(whole)


@needs_jax
def test_the_tpu_lowering_of_a_plateau_step_holds_no_float64():
    """On TPUs (no float64) the step is float32 alone: its lowering for "tpu" has no f64."""
    import jax
    import jax.numpy as jnp
    import optax

    from clr_optax._plateau import reduce_on_plateau

    tx = reduce_on_plateau(
        _spec("min_rel_groups_cooldown_min_lr"), optax.inject_hyperparams(optax.sgd)(learning_rate=0.0), 1
    )
    params = jnp.zeros(4)
    state = tx.init(params)

    def step(state, value):
        return tx.update(jnp.ones(4), state, params, value=value)

    exported = jax.export.export(jax.jit(step), platforms=["tpu"])(state, jax.ShapeDtypeStruct((), jnp.float32))
    assert "f64" not in exported.mlir_module()
    cpu = jax.export.export(jax.jit(step), platforms=["cpu"])(state, jax.ShapeDtypeStruct((), jnp.float32))
    assert "f64" in cpu.mlir_module()  # CPU and GPU: torch's float64 arithmetic
