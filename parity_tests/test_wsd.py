"""Warmup-stable-decay and its cycles (``WSDSpec``), against a reference written here by hand.

The reference is transformers' ``_get_wsd_scheduler_lambda`` as plain Python, applied cycle by
cycle (local step, the cycle's warmup, stable and decay lengths, its peak instead of 1), and the
"1-square" decay (1 - x**2) that transformers does not have. With one cycle and a peak of 1
it is transformers' own function (``test_huggingface.py`` checks that against transformers).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import clr_spec
from clr_spec import CyclicSpec, WarmRestartsSpec, WSDSpec
from clr_spec._wsd import MAX_CYCLES

from ._frameworks import needs_jax, needs_torch
from ._helpers import ulp_distance

FLOAT32_ONLY_ABS = 2.0**-20  # of the lr: the float32-only (TPU) path's bound (test_huggingface.py)


def reference_factor(
    step: int, cycles: list[tuple[int, int, int, float]], warmup_type: str, decay_type: str, m: float, num_cycles: float
) -> float:
    """The factor at ``step``: cycles of (warmup, stable, decay, peak), transformers' arithmetic."""
    start = 0
    for i, (w, s, d, p) in enumerate(cycles):  # noqa: B007 - the cycle's values are read after the loop
        t = step - start
        if t < w + s + d or i == len(cycles) - 1:
            break
        start += w + s + d
    if t < w:
        progress = float(t) / float(max(1, w))
        factor = {
            "linear": progress,
            "cosine": 0.5 * (1.0 - math.cos(math.pi * progress)),
            "1-sqrt": 1.0 - math.sqrt(1.0 - progress),
        }[warmup_type]
        return max(0.0, factor * (p - m) + m)
    if t < w + s:
        return p
    if t < w + s + d:
        progress = float(t - w - s) / float(max(1, d))
        factor = {
            "linear": 1.0 - progress,
            "cosine": 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)),
            "1-sqrt": 1.0 - math.sqrt(progress),
            "1-square": 1.0 - progress * progress,
        }[decay_type]
        return max(0.0, factor * (p - m) + m)
    return m


def random_cyclic(seed: int) -> tuple[WSDSpec, list, int]:
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 6)) if seed % 4 else int(rng.integers(9, 15))  # 9+: the table path
    warmup, rewarm = int(rng.integers(0, 100)), int(rng.integers(0, 100))
    decays = [int(rng.integers(0, 200)) for _ in range(count)]
    lengths = [int(rng.integers(0, 400)) + (warmup if i == 0 else rewarm) + d for i, d in enumerate(decays)]
    lengths = [max(1, n) for n in lengths]
    m = float(rng.choice([0.0, rng.uniform(0, 0.2)]))
    peaks = [float(rng.uniform(m, 1.5)) for _ in range(count)]
    kw = dict(
        lr=float(10 ** rng.uniform(-5, -1)),
        num_warmup_steps=warmup,
        num_decay_steps=decays,
        warmup_type=str(rng.choice(["linear", "cosine", "1-sqrt"])),
        decay_type=str(rng.choice(["linear", "cosine", "1-sqrt", "1-square"])),
        min_lr_ratio=m,
        num_cycles=float(rng.choice([0.5, rng.uniform(0.2, 1.0)])),
        cycle_lengths=lengths,
        peak_factors=peaks,
        rewarm_steps=rewarm,
    )
    spec = WSDSpec(**kw)
    cycles = [
        (warmup if i == 0 else rewarm, n - (warmup if i == 0 else rewarm) - d, d, p)
        for i, (n, d, p) in enumerate(zip(lengths, decays, peaks))
    ]
    return spec, cycles, sum(lengths) + 100


SEEDS = range(12)


def reference(seed: int) -> tuple[WSDSpec, np.ndarray]:
    spec, cycles, steps = random_cyclic(seed)
    factors = [
        reference_factor(k, cycles, spec.warmup_type, spec.decay_type, spec.min_lr_ratio, spec.num_cycles)
        for k in range(steps)
    ]
    return spec, np.asarray([spec.initial_lr * f for f in factors])  # LambdaLR: base_lr * lmbda(k)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_spec_is_the_reference_bitwise(seed):
    spec, ref = reference(seed)
    np.testing.assert_array_equal(spec.lr(np.arange(len(ref))), ref)
    assert clr_spec.from_json(spec.to_json()) == spec and hash(clr_spec.from_json(spec.to_json())) == hash(spec)


@needs_torch
@pytest.mark.parametrize("seed", SEEDS[:4])
def test_clr_torch_runs_it_and_resumes_at_random_k(seed):
    import torch

    import clr_torch

    spec, ref = reference(seed)

    def run(step: int, count: int) -> list[float]:
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
        sched = clr_torch.scheduler(opt, spec, step=step)
        out = []
        for _ in range(count):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    assert run(0, len(ref)) == ref.tolist()
    for k in np.random.default_rng(seed).integers(0, len(ref) - 5, 4).tolist():
        assert run(k, 5) == ref[k : k + 5].tolist()


@needs_jax
@pytest.mark.parametrize("seed", SEEDS)
def test_optax_float32_x64_and_the_float32_only_path(seed):
    import jax

    import clr_optax
    from clr_optax import _family as optax_family

    spec, ref = reference(seed)
    steps = np.arange(len(ref))
    np.testing.assert_array_equal(np.asarray(jax.jit(clr_optax.lr_schedule(spec))(steps)), ref.astype(np.float32))
    with jax.enable_x64(True):
        np.testing.assert_array_equal(np.asarray(jax.jit(clr_optax.lr_schedule(spec))(steps)), ref)
    tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", 0, "float-float"))(steps))
    assert np.all(np.abs(tpu - ref) <= FLOAT32_ONLY_ABS * spec.initial_lr), ulp_distance(tpu, ref).max()


@needs_jax
def test_optax_resumes_with_set_count():
    import jax.numpy as jnp

    import clr_optax

    spec, ref = reference(3)
    tx = clr_optax.sgd(spec)
    k = len(ref) // 2
    state = clr_optax.set_count(tx.init(jnp.ones(2)), k)
    _, state = tx.update(jnp.ones(2), state, jnp.ones(2))
    assert float(clr_optax.current_hyperparams(state)["learning_rate"]) == float(np.float32(ref[k]))


def test_lengths_to_2_31_and_past_do_not_overflow():
    big = 2**31 - 1
    spec = WSDSpec(
        lr=1.0,
        num_warmup_steps=1000,
        num_decay_steps=[big - 2000, big - 2000, 0],
        cycle_lengths=[big, big, 1005],
        peak_factors=[1.0, 0.5, 0.25],
        decay_type="linear",
    )
    cycles = [(1000, 1000, big - 2000, 1.0), (1000, 1000, big - 2000, 0.5), (1000, 5, 0, 0.25)]
    far = np.array([0, 999, 1000, 1999, 2000, big - 1, big, big + 1, big + 1500, 2 * big - 1, 2 * big, 2 * big + 7])
    ref = [reference_factor(int(k), cycles, "linear", "linear", 0.0, 0.5) for k in far]
    np.testing.assert_array_equal(spec.lr(far), ref)
    pytest.importorskip("jax")
    import jax

    import clr_optax
    from clr_optax import _family as optax_family

    counts = far[far <= big].astype(np.int32)  # clr_optax's counts end at 2**31 - 1
    ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec))(counts))
    np.testing.assert_array_equal(ours, np.asarray(ref[: len(counts)], np.float32))
    tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", 0, "float-float"))(counts))
    assert np.all(np.abs(tpu - np.asarray(ref[: len(counts)])) <= 2.0**-20), tpu


def test_one_cycle_is_get_wsd_schedules_form():
    derived = WSDSpec(lr=0.1, num_warmup_steps=10, num_decay_steps=30, num_training_steps=100)
    assert derived.num_stable_steps == 60 and derived == WSDSpec(
        lr=0.1, num_warmup_steps=10, num_decay_steps=30, num_stable_steps=60
    )
    with pytest.warns(UserWarning, match="num_stable_steps will be used"):
        assert (
            WSDSpec(lr=0.1, num_warmup_steps=10, num_decay_steps=30, num_training_steps=999, num_stable_steps=60)
            == derived
        )
    assert derived.replace(num_training_steps=200).num_stable_steps == 160
    doc = derived.to_dict()
    assert json.loads(json.dumps(doc)) == doc and clr_spec.from_dict(doc) == derived


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_decay_steps=10), ValueError, "Either num_training_steps or num_stable_steps"),
        (
            dict(num_decay_steps=10, num_training_steps=15),
            ValueError,
            "must be >= num_warmup_steps \\+ num_decay_steps",
        ),
        (dict(num_training_steps=100), ValueError, "num_decay_steps is required"),
        (dict(num_decay_steps=-1, num_training_steps=100), ValueError, "num_decay_steps must be an int >= 0"),
        (
            dict(num_decay_steps=10, num_training_steps=100, warmup_type="1-square"),
            ValueError,
            "warmup_type must be one of",
        ),
        (dict(num_decay_steps=10, num_training_steps=100, decay_type="exp"), ValueError, "decay_type must be one of"),
        (dict(num_decay_steps=10, num_training_steps=100, min_lr_ratio=1.5), ValueError, "min_lr_ratio must be in"),
        (dict(num_decay_steps=10, num_training_steps=100, min_lr_ratio=float("nan")), ValueError, "min_lr_ratio"),
        (dict(num_decay_steps=10, num_training_steps=100, num_cycles=-0.5), ValueError, "num_cycles must be in"),
        (dict(num_decay_steps=10, num_training_steps=100, peak_factors=[1.0]), ValueError, "cyclic form"),
        (dict(num_decay_steps=10, cycle_lengths=[]), ValueError, "non-empty list"),
        (dict(num_decay_steps=10, cycle_lengths=[100, 0]), ValueError, "cycle_lengths\\[1\\] must be an int >= 1"),
        (
            dict(num_decay_steps=10, cycle_lengths=[100, 15]),
            ValueError,
            "cycle_lengths\\[1\\] \\(15\\) must be >= its warmup",
        ),
        (dict(num_decay_steps=10, cycle_lengths=[100] * (MAX_CYCLES + 1)), ValueError, "at most 1024 cycles"),
        (dict(num_decay_steps=10, cycle_lengths=[2**52, 2**52]), ValueError, "< 2\\*\\*53"),
        (dict(num_decay_steps=[10], cycle_lengths=[100, 100]), ValueError, "one value per cycle"),
        (dict(num_decay_steps=10, cycle_lengths=[100, 100], peak_factors=[1.0]), ValueError, "one factor per cycle"),
        (
            dict(num_decay_steps=10, cycle_lengths=[100, 100], peak_factors=[1.0, -1.0]),
            ValueError,
            "peak_factors\\[1\\] must be in",
        ),
        (dict(num_decay_steps=10, cycle_lengths=[100], num_training_steps=100), ValueError, "is for one cycle"),
        (dict(num_decay_steps=10, cycle_lengths="100"), ValueError, "non-empty list"),
        (dict(num_decay_steps=10, cycle_lengths=[100.0]), TypeError, "cycle_lengths\\[0\\] must be an int"),
    ],
)
def test_every_field_is_validated_by_name(kwargs, error, match):
    given = json.dumps(kwargs)
    with pytest.raises(error, match=match):
        WSDSpec(lr=0.1, num_warmup_steps=10, **kwargs)
    assert json.dumps(kwargs) == given  # nothing the caller passed is changed


def test_cyclic_wsd_next_to_clr_and_sgdr():
    """The figure's three schedules are valid specs over the same steps (examples/plot_wsd_cycles.py)."""
    steps = np.arange(3000)
    wsd = WSDSpec(
        lr=1e-3,
        num_warmup_steps=100,
        num_decay_steps=200,
        cycle_lengths=[1000] * 3,
        peak_factors=[1.0, 0.8, 0.6],
        min_lr_ratio=0.1,
        decay_type="1-sqrt",
        rewarm_steps=50,
    )
    for spec in (
        wsd,
        CyclicSpec(base_lr=1e-4, max_lr=1e-3, step_size_up=500),
        WarmRestartsSpec(lr=1e-3, T_0=1000, eta_min=1e-4),
    ):
        values = spec.lr(steps)
        assert np.all(np.isfinite(values)) and values.max() <= 1e-3 + 1e-15
    assert wsd.lr(1099) == pytest.approx(8e-4) and wsd.lr(3000) == pytest.approx(1e-4)
