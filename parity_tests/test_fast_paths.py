"""The fast forms of issue 24, each against the reference it replaces.

- clr_optax: the 1cycle's one anneal, SGDR's select chain over the reachable periods, the
  integer remainders (SGDR T_mult=1, CosineAnnealingLR) and a sequence's select chain: float32
  values equal float32 of torch's (``spec.lr``, bitwise torch's in numpy) at random steps to
  2**31 - 1 and at every period start and milestone, on the default path; the float32-only path
  within its bound, its half-anneal test exact to T_max = 2**31 - 1.
- clr_torch: resuming CosineAnnealingLR, PolynomialLR and MultiplicativeLR (replays made
  faster) is bitwise torch stepped, state and the steps after.
"""

from __future__ import annotations

import math
import random
import warnings
import zlib

import numpy as np
import pytest

from clr_spec import (
    CosineAnnealingSpec,
    CyclicSpec,
    LinearSpec,
    MultiplicativeSpec,
    OneCycleSpec,
    PolynomialSpec,
    SequentialSpec,
    WarmRestartsSpec,
)

from ._frameworks import needs_jax, needs_torch

INT32_MAX = 2**31 - 1


def _steps(spec, seed: str, count: int = 4000) -> np.ndarray:
    """Random steps to 2**31 - 1, every landmark and its neighbours, and the ends."""
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    marks = [m + d for m in spec.landmarks() for d in (-1, 0, 1) if 0 <= m + d <= INT32_MAX]
    if hasattr(spec, "_period_starts"):
        marks += [int(s) + d for s in spec._period_starts if s <= INT32_MAX for d in (-1, 0, 1) if 0 <= s + d]
    fixed = [0, 1, 2, 2**30 - 1, 2**30, 2**30 + 1, INT32_MAX - 1, INT32_MAX]
    return np.unique(
        np.concatenate(
            [rng.integers(0, INT32_MAX, count), rng.integers(0, 5000, count // 4), np.asarray(marks + fixed, np.int64)]
        )
    )


FAST = {
    "1cycle cos": OneCycleSpec(max_lr=0.1, total_steps=INT32_MAX),
    "1cycle cos, three phases": OneCycleSpec(max_lr=[0.1, 0.3], total_steps=100_003, three_phase=True),
    "1cycle linear": OneCycleSpec(max_lr=0.1, total_steps=77_777, anneal_strategy="linear", pct_start=0.41),
    "SGDR T_mult=2": WarmRestartsSpec(lr=0.1, T_0=1000, T_mult=2, eta_min=1e-4),
    "SGDR T_mult=3, T_0=7": WarmRestartsSpec(lr=0.1, T_0=7, T_mult=3),
    "SGDR T_mult=1": WarmRestartsSpec(lr=0.1, T_0=95_326, eta_min=1e-5),
    "SGDR T_mult=1, T_0 near 2**31": WarmRestartsSpec(lr=0.1, T_0=2**31 - 3),
    "cosine T_max=1000": CosineAnnealingSpec(lr=0.1, T_max=1000, eta_min=1e-4),
    "cosine T_max=2**30 + 5": CosineAnnealingSpec(lr=0.1, T_max=2**30 + 5),
    "sequence": SequentialSpec(
        [
            LinearSpec(lr=0.1, start_factor=0.01, total_iters=1000),
            CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=2000, cycle_momentum=False),
            CosineAnnealingSpec(lr=0.1, T_max=2**20),
        ],
        milestones=[1000, 21_000],
    ),
    "sequence with an empty phase": SequentialSpec(
        [
            SequentialSpec([LinearSpec(lr=0.1, total_iters=3), WarmRestartsSpec(lr=0.1, T_0=50)], milestones=[40]),
            CosineAnnealingSpec(lr=0.1, T_max=300),
        ],
        milestones=[41],
    ),
}


@needs_jax
@pytest.mark.parametrize("name", sorted(FAST))
def test_fast_forms_are_float32_of_torch(name):
    import jax
    import jax.numpy as jnp

    from clr_optax._family import schedule_of

    spec = FAST[name]
    steps = _steps(spec, name)
    for g in range(spec.num_groups or 1):
        want = spec.lr(steps, g)
        got = np.asarray(jax.jit(schedule_of(spec, "lr", g))(jnp.asarray(steps, jnp.int32)))
        np.testing.assert_array_equal(got, want.astype(np.float32), err_msg=f"{name}, group {g}")
        with jax.enable_x64(True):
            x64 = np.asarray(jax.jit(schedule_of(spec, "lr", g))(jnp.asarray(steps)))
        # (x64: within 1e-12 relative, or 1e-14 of the lr where 1 + cos cancels near a trough)
        np.testing.assert_allclose(x64, want, rtol=1e-12, atol=1e-14 * float(np.max(want)))


@needs_jax
def test_the_float32_only_anneal_splits_exactly_to_2_31():
    """JaxFloat32Ops.cosine_anneal decides 2 p <= L without forming 2 p (int32 wraps from p = 2**30):
    at T_max = 2**31 - 1 the lr near the end of the anneal is the small one (from the sine of the
    angle left), not a cosine near pi/2 or the anneal's start."""
    import jax
    import jax.numpy as jnp

    from clr_optax._ops import JaxFloat32Ops

    length = INT32_MAX
    p = jnp.asarray([0, 2**30 - 1, 2**30, 2**30 + 1, INT32_MAX - 100, INT32_MAX - 1, INT32_MAX], jnp.int32)
    got = np.asarray(jax.jit(lambda q: JaxFloat32Ops().cosine_anneal(q, float(length)))(p), np.float64)
    exact = np.cos(np.pi * np.asarray(p, np.float64) / (2 * length)) ** 2  # the same value, float64
    exact[-1] = 0.0
    assert np.all(np.abs(got - exact) <= 4 * np.spacing(np.float32(exact)) + 1e-30), (got, exact)
    assert got[-1] == 0.0 and 0 < got[-2] < 1e-17 and 0 < got[-3] < 1e-14
    # An array length (SGDR's periods) is float32 (2**31 - 1 rounds to 2**31) and takes the float32
    # comparison: no wrap either, within 1 ulp of the anneal's amplitude (1) at every step.
    arr = np.asarray(
        jax.jit(lambda q: JaxFloat32Ops().cosine_anneal(q, jnp.full(q.shape, float(length), jnp.float32)))(p)
    )
    assert np.all(np.abs(arr - exact) <= np.spacing(np.float32(1.0))), (arr, exact)


@needs_jax
@pytest.mark.parametrize(
    "spec",
    [
        CosineAnnealingSpec(lr=1.0, T_max=INT32_MAX),
        WarmRestartsSpec(lr=1.0, T_0=INT32_MAX),
        CosineAnnealingSpec(lr=1.0, T_max=2**30 + 3, eta_min=0.5),
    ],
    ids=lambda s: type(s).__name__,
)
def test_the_float32_only_path_near_2_31(spec):
    import jax
    import jax.numpy as jnp

    from clr_optax._family import schedule_of

    k = np.asarray([0, 5, 2**30 - 1, 2**30, 2**30 + 7, INT32_MAX - 100, INT32_MAX - 1, INT32_MAX])
    got = np.asarray(jax.jit(schedule_of(spec, "lr", 0, "float-float"))(jnp.asarray(k, jnp.int32)), np.float64)
    want = spec.lr(k)
    # within a few float32 ulps of the anneal's amplitude (torch's own float64 1 + cos cancels there)
    amplitude = spec.group_lr(0) - spec.eta_min
    assert np.all(np.abs(got - want) <= 4 * float(np.spacing(np.float32(amplitude)))), (got, want)


# ------------------------------------------------------------------------------ torch resume
def _sgd(lr):
    import torch

    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _stepped(make, lr, k):
    opt = _sgd(lr)
    sched = make(opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(k):
            sched.step()
    return opt, sched


def _next(opt, sched, n):
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            out.append([g["lr"] for g in opt.param_groups])
            sched.step()
    return out


def _wobble(epoch):
    return 1.0 - 1e-4 * math.sin(epoch)


RESUMED = {
    "cosine, eta_min 0": (CosineAnnealingSpec(lr=0.1, T_max=1000), dict(T_max=1000), "CosineAnnealingLR"),
    "cosine, eta_min 1e-3": (
        CosineAnnealingSpec(lr=0.3, T_max=333, eta_min=1e-3),
        dict(T_max=333, eta_min=1e-3),
        "CosineAnnealingLR",
    ),
    "cosine, T_max=7 (many climbs)": (CosineAnnealingSpec(lr=0.1, T_max=7), dict(T_max=7), "CosineAnnealingLR"),
    "polynomial": (
        PolynomialSpec(lr=0.1, total_iters=5000, power=2.0),
        dict(total_iters=5000, power=2.0),
        "PolynomialLR",
    ),
    "polynomial, power 0.7": (
        PolynomialSpec(lr=0.1, total_iters=777, power=0.7),
        dict(total_iters=777, power=0.7),
        "PolynomialLR",
    ),
    "multiplicative": (
        MultiplicativeSpec(lr=0.1, lr_lambda=_wobble, horizon=20_000),
        dict(lr_lambda=_wobble),
        "MultiplicativeLR",
    ),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(RESUMED))
def test_resumed_replays_are_torch_stepped(name):
    import torch

    import clr_torch

    spec, kwargs, cls = RESUMED[name]
    make = lambda opt: getattr(torch.optim.lr_scheduler, cls)(opt, **kwargs)  # noqa: E731
    rng = random.Random(name)
    for k in sorted(
        {
            1,
            6,
            7,
            8,
            14,
            15,
            16,
            332,
            333,
            334,
            666,
            667,
            668,
            999,
            1000,
            1001,
            2001,
            4999,
            5000,
            5001,
            *(rng.randrange(12_000) for _ in range(4)),
        }
    ):
        replay_opt, replayed = _stepped(make, spec.group_lr(0), k)
        opt = _sgd(spec.group_lr(0))
        resumed = clr_torch.scheduler(opt, spec, step=k)
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in replay_opt.param_groups], k
        assert str({key: val for key, val in resumed.state_dict().items() if key != "lr_lambdas"}) == str(
            {key: val for key, val in replayed.state_dict().items() if key != "lr_lambdas"}
        ), k
        assert _next(opt, resumed, 5) == _next(replay_opt, replayed, 5), k
