"""1cycle (torch's OneCycleLR) and SGDR (CosineAnnealingWarmRestarts) against torch, on seeded
random configurations: whole trajectories (first steps, phase boundaries, the last step),
SGDR far into training (to 2**31 - 1, against exact integer arithmetic), resumes, torch ->
state -> JSON -> optax, past total_steps, in a SequentialSpec, and training."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")
pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import torch  # noqa: E402
from torch.optim import lr_scheduler as T  # noqa: E402

import clr_optax  # noqa: E402
import clr_spec  # noqa: E402
import clr_torch  # noqa: E402
from clr_optax import _family as optax_family  # noqa: E402
from clr_spec import LinearSpec, OneCycleSpec, SequentialSpec, WarmRestartsSpec  # noqa: E402

from . import _training  # noqa: E402
from ._helpers import INT32_MAX, check_float32, check_relative, torch_trace  # noqa: E402


def one_cycle_configs(count: int = 12, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        kw = dict(
            max_lr=[float(rng.uniform(1e-4, 1.0)), float(rng.uniform(1e-4, 1.0))],
            total_steps=int(rng.integers(10, 3000)),
            pct_start=float(rng.uniform(0.05, 0.95)),
            anneal_strategy=str(rng.choice(["cos", "linear"])),
            three_phase=bool(rng.integers(2)),
            div_factor=float(rng.uniform(2, 50)),
            final_div_factor=float(10 ** rng.uniform(1, 5)),
            base_momentum=float(rng.uniform(0.5, 0.85)),
            max_momentum=float(rng.uniform(0.85, 0.99)),
        )
        if kw["three_phase"] and kw["pct_start"] > 0.5:
            kw["pct_start"] /= 2
        try:
            OneCycleSpec(**kw)
        except ValueError:  # a phase of no length: torch divides by zero there
            continue
        out.append(kw)
    return out


def warm_restarts_configs(count: int = 10, seed: int = 1) -> list:
    rng = np.random.default_rng(seed)
    return [
        dict(
            T_0=int(rng.integers(1, 400)),
            T_mult=int(rng.choice([1, 1, 2, 3])),
            eta_min=float(rng.choice([0.0, 10 ** rng.uniform(-6, -3)])),
        )
        for _ in range(count)
    ]


ONE_CYCLE = one_cycle_configs()
WARM_RESTARTS = warm_restarts_configs()


def optimizer(groups: int = 2):
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in range(groups)]
    return torch.optim.SGD([{"params": [p], "lr": 0.05 * (i + 1)} for i, p in enumerate(params)], lr=0.5, momentum=0.9)


def trace(build, steps: int) -> np.ndarray:
    return torch_trace(optimizer(), build, steps, step_after_last=False)


@pytest.mark.parametrize("kw", ONE_CYCLE, ids=[f"onecycle{i}" for i in range(len(ONE_CYCLE))])
def test_one_cycle_against_torch(kw):
    spec = OneCycleSpec(**kw)
    steps = spec.total_steps + 1  # torch defines steps 0..total_steps
    reference = trace(lambda opt: T.OneCycleLR(opt, **kw), steps)
    k = np.arange(steps)
    np.testing.assert_array_equal(trace(lambda opt: clr_torch.scheduler(opt, spec), steps), reference)
    resume = int(spec.phase_ends()[0]) + 2  # just past the first phase boundary
    if 0 < resume < steps:
        np.testing.assert_array_equal(
            trace(lambda opt: clr_torch.scheduler(opt, spec, step=resume), steps - resume), reference[resume:]
        )
    k = k[:-1]  # the schedule: steps 0..total_steps-1 (at total_steps torch extrapolates; see below)
    for g in range(2):
        for what, column in (("lr", 0), ("momentum", 1)):
            ref = reference[:-1, g, column]
            check_relative(
                "onecycle",
                what,
                (spec.lr if what == "lr" else spec.momentum)(k, g),
                ref,
                rtol=1e-12,
                evaluator="OneCycleSpec (numpy)",
            )
            ours = np.asarray(jax.jit(optax_family.schedule_of(spec, what, g))(k))
            check_float32("onecycle", what, ours, ref, max_ulp=1, min_exact=0.999, evaluator="clr_optax OneCycleSpec")
            tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, what, g, "float-float"))(k))
            check_float32(
                "onecycle",
                what,
                tpu,
                ref,
                max_ulp=64,
                min_exact=0.2,
                evaluator="clr_optax OneCycleSpec, float32-only (TPU) path",
            )
            with jax.enable_x64(True):
                x64 = np.asarray(jax.jit(optax_family.schedule_of(spec, what, g))(k))
            # Where torch's formula cancels (a linear anneal near min_lr), XLA may fuse a multiply-add
            # that torch rounds twice: within 1e-15 of the schedule's scale there, 1e-12 relative elsewhere.
            scale = np.max(np.abs(ref))
            np.testing.assert_allclose(x64, ref, rtol=1e-12, atol=1e-15 * scale)


def test_one_cycle_past_total_steps():
    """torch extrapolates to total_steps (a linear anneal goes negative there) and raises past it;
    the spec and optax hold the final value from total_steps - 1 on."""
    kw = dict(max_lr=0.1, total_steps=100, anneal_strategy="linear", pct_start=0.31)
    spec = OneCycleSpec(**kw)
    torch_values = trace(lambda opt: T.OneCycleLR(opt, **kw), 101)[:, 0, 0]
    last = torch_values[99]
    assert last == pytest.approx(0.1 / 25 / 1e4) and torch_values[100] < 0  # torch's garbage at 100
    opt = optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = T.OneCycleLR(opt, **kw)
        for _ in range(100):
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 101 times"):
            sched.step()
    assert spec.lr(np.array([99, 100, 101, 10**6])).tolist() == [last] * 4
    held = np.asarray(clr_optax.lr_schedule(spec)(jnp.array([99, 100, 101, INT32_MAX])))
    assert held.tolist() == [np.float32(last)] * 4
    with pytest.raises(ValueError, match=r"step must be <= 100 \(the schedule.s end\)"):
        clr_torch.scheduler(optimizer(), spec, step=101)


@pytest.mark.parametrize("kw", WARM_RESTARTS, ids=[f"sgdr{i}" for i in range(len(WARM_RESTARTS))])
def test_warm_restarts_against_torch(kw):
    spec = WarmRestartsSpec(lr=[0.05, 0.1], **kw)
    steps = 20_000
    reference = trace(lambda opt: T.CosineAnnealingWarmRestarts(opt, **kw), steps)
    np.testing.assert_array_equal(trace(lambda opt: clr_torch.scheduler(opt, spec), 3000), reference[:3000])
    np.testing.assert_array_equal(
        trace(lambda opt: clr_torch.scheduler(opt, spec, step=1234), 500), reference[1234:1734]
    )
    k = np.arange(steps)
    for g in range(2):
        ref = reference[:, g, 0]
        check_relative("sgdr", "lr", spec.lr(k, g), ref, rtol=1e-12, evaluator="WarmRestartsSpec (numpy)")
        ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(k))
        check_float32("sgdr", "lr", ours, ref, max_ulp=1, min_exact=0.999, evaluator="clr_optax WarmRestartsSpec")
        tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", g, "float-float"))(k))
        check_float32(
            "sgdr",
            "lr",
            tpu,
            ref,
            max_ulp=8,
            min_exact=0.2,
            evaluator="clr_optax WarmRestartsSpec, float32-only (TPU) path",
        )


def exact_sgdr(lr: float, kw: dict, steps: np.ndarray) -> np.ndarray:
    """torch's formula at each step, with T_cur and T_i from Python integers (exact)."""
    out = []
    for k in steps.tolist():
        t_i, start = kw["T_0"], 0
        while kw["T_mult"] > 1 and start + t_i <= k:
            start, t_i = start + t_i, t_i * kw["T_mult"]
        t_cur = (k - start) % t_i
        out.append(kw["eta_min"] + (lr - kw["eta_min"]) * (1 + math.cos(math.pi * t_cur / t_i)) / 2)
    return np.array(out)


@pytest.mark.parametrize("kw", WARM_RESTARTS[:5], ids=[f"sgdr{i}" for i in range(5)])
def test_warm_restarts_far_into_training(kw):
    spec = WarmRestartsSpec(lr=0.1, **kw)
    steps = np.concatenate([np.arange(s, s + 2048) for s in (10**6, 10**8, INT32_MAX - 2047)]).astype(np.int64)
    reference = exact_sgdr(0.1, kw, steps)
    check_relative("sgdr far", "lr", spec.lr(steps), reference, rtol=1e-12, evaluator="WarmRestartsSpec (numpy)")
    ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec))(steps.astype(np.int32)))
    check_float32("sgdr far", "lr", ours, reference, max_ulp=1, min_exact=0.999, evaluator="clr_optax WarmRestartsSpec")
    tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", 0, "float-float"))(steps.astype(np.int32)))
    check_float32(
        "sgdr far",
        "lr",
        tpu,
        reference,
        max_ulp=8,
        min_exact=0.2,
        evaluator="clr_optax WarmRestartsSpec, float32-only (TPU) path",
    )


def test_state_to_json_to_optax_and_in_a_sequence():
    kw = ONE_CYCLE[0]
    opt = optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = T.OneCycleLR(opt, **kw)
        for _ in range(5):
            sched.step()
    with pytest.raises(ValueError, match="pass optimizer_state=optimizer.state_dict"):
        clr_spec.from_torch(sched.state_dict())
    spec = clr_spec.from_json(clr_spec.from_torch(sched.state_dict(), optimizer_state=opt.state_dict()).to_json())
    assert spec == OneCycleSpec(**kw)
    sgdr = WarmRestartsSpec(lr=[0.05, 0.1], T_0=50, T_mult=2)
    sequence = SequentialSpec(
        [LinearSpec(lr=[0.05, 0.1], start_factor=0.1, total_iters=20), sgdr], [20], momentum=0.9
    )  # no phase sets momentum: the optimizer's, read from it

    def build(opt):
        return T.SequentialLR(
            opt,
            [T.LinearLR(opt, start_factor=0.1, total_iters=20), T.CosineAnnealingWarmRestarts(opt, T_0=50, T_mult=2)],
            milestones=[20],
        )

    reference = trace(build, 400)
    np.testing.assert_array_equal(trace(lambda opt: clr_torch.scheduler(opt, sequence), 400), reference)
    np.testing.assert_array_max_ulp(
        np.asarray(clr_optax.lr_schedule(sequence, 1)(jnp.arange(400))), reference[:, 1, 0].astype(np.float32), maxulp=1
    )
    assert clr_spec.from_torch(build(optimizer())) == sequence


@pytest.mark.parametrize("name", ["sgd-onecycle", "adam-sgdr"])
def test_training(name):
    if name == "sgd-onecycle":
        spec = OneCycleSpec(max_lr=0.2, total_steps=300)
        make_torch = lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9)
        build = lambda opt: T.OneCycleLR(opt, max_lr=0.2, total_steps=300)
        tx = clr_optax.sgd(spec)
    else:
        spec = WarmRestartsSpec(lr=0.01, T_0=40, T_mult=2)
        make_torch = lambda groups: torch.optim.Adam(groups, lr=0.01)
        build = lambda opt: T.CosineAnnealingWarmRestarts(opt, T_0=40, T_mult=2)
        tx = clr_optax.adam(spec)
    _training.assert_trains_like_torch(make_torch, build, tx)
