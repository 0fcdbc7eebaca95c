"""torch's recursions that drift from their closed forms, replayed on the host: CosineAnnealingLR's
first period (alone, and as the phase of a SequentialLR that starts it from its closed form at a
milestone) against torch stepped, bitwise in float64 and float32 of it in every float32 path;
the closed form past the table within the stated drift; the decays' vectorised replay against
torch's arithmetic in Python."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clr_spec import CosineAnnealingSpec, ExponentialSpec, LinearSpec, SequentialSpec, StepSpec
from clr_spec import _phases
from clr_spec._decays import _replayed
from clr_spec._family import torch_tolerance

from ._frameworks import needs_both, needs_jax, needs_torch
from ._helpers import stepped_lrs

# (T_max, eta_min, the two groups' lrs): eta_min + (lr - eta_min) != lr for 0.3 and 0.0416 (the
# value SequentialLR writes at the milestone is an ulp off lr), an odd T_max, eta_min 0
CONFIGS = [
    (1000, 0.0416, [0.3, 0.1]),
    (777, 0.0204, [0.3, 0.05]),
    (1500, 0.0, [0.1, 0.02]),
    (3, 1e-3, [0.1, 0.3]),
]


def _torch_cosine(t_max, eta_min):
    from torch.optim import lr_scheduler

    return lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)


@needs_torch
@pytest.mark.parametrize("t_max, eta_min, lrs", CONFIGS)
def test_the_first_period_is_torchs_recursion(t_max, eta_min, lrs):
    steps = 3 * t_max + 20  # the first period (tabled), then the closed form past it
    reference, _, _ = stepped_lrs(_torch_cosine(t_max, eta_min), steps, lrs)
    spec = CosineAnnealingSpec(lr=lrs, T_max=t_max, eta_min=eta_min)
    k = np.arange(steps)
    tabled = k <= 2 * t_max
    for group in range(len(lrs)):
        ours = spec.lr(k, group)
        np.testing.assert_array_equal(ours[tabled], reference[tabled, group])
        # past the table: the closed form, within the drift torch's recursion has from it there
        assert np.all(np.abs(ours - reference[:, group]) <= torch_tolerance(spec, reference[:, group], k, group))
        assert np.all(spec.torch_drift(k[tabled], group) == 0)


@needs_torch
@pytest.mark.parametrize("t_max, eta_min, lrs", CONFIGS)
def test_a_cosine_phase_starts_from_torchs_closed_form_at_the_milestone(t_max, eta_min, lrs):
    from torch.optim import lr_scheduler

    warmup = 10

    def build(opt):
        phases = [
            lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=warmup),
            lr_scheduler.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min),
        ]
        return lr_scheduler.SequentialLR(opt, phases, milestones=[warmup])

    steps = warmup + 2 * t_max + 1
    reference, _, _ = stepped_lrs(build, steps, lrs)
    spec = SequentialSpec(
        [
            LinearSpec(lr=lrs, start_factor=0.5, total_iters=warmup),
            CosineAnnealingSpec(lr=lrs, T_max=t_max, eta_min=eta_min),
        ],
        milestones=[warmup],
    )
    tail = np.arange(warmup, steps)
    for group in range(len(lrs)):
        np.testing.assert_array_equal(spec.lr(tail, group), reference[warmup:, group])
    # the value written at the milestone is torch's closed form at 0, an ulp off lr here
    if eta_min + (lrs[0] - eta_min) != lrs[0]:
        assert reference[warmup, 0] != lrs[0]


@needs_both
@pytest.mark.parametrize("t_max, eta_min, lrs", CONFIGS[:2])
def test_every_float32_path_is_float32_of_torch_in_the_table(t_max, eta_min, lrs):
    import jax
    import jax.numpy as jnp

    import clr_optax
    from clr_optax._family import schedule_of

    steps = 2 * t_max + 1
    reference, _, _ = stepped_lrs(_torch_cosine(t_max, eta_min), steps, lrs)
    spec = CosineAnnealingSpec(lr=lrs, T_max=t_max, eta_min=eta_min)
    k = jnp.arange(steps)
    for group in range(len(lrs)):
        want = reference[:, group].astype(np.float32)
        schedule = clr_optax.lr_schedule(spec, group)
        np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(schedule))(k)), want)
        # a batch large enough for the decided cosine (clr_optax._decided), and the TPU's path
        big = jnp.arange(3 * 4096) % steps
        np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(schedule))(big)), want[np.asarray(big)])
        tpu = schedule_of(spec, "lr", group, "float-float")
        np.testing.assert_array_equal(np.asarray(jax.jit(tpu)(k)), want)
        with jax.enable_x64(True):
            x64 = np.asarray(jax.jit(clr_optax.lr_schedule(spec, group))(jnp.arange(steps)))
        np.testing.assert_array_equal(x64, reference[:, group])


def test_the_table_stops_at_the_replay_bound(monkeypatch):
    """A period longer than REPLAYED_STEPS is replayed that far; the closed form goes on from there."""
    monkeypatch.setattr(_phases, "REPLAYED_STEPS", 500)
    spec = CosineAnnealingSpec(lr=0.1, T_max=400, eta_min=1e-3)
    assert len(spec.table(0.1)) == 501
    k = np.arange(400, 800)
    closed = 1e-3 + (0.1 - 1e-3) * ((1 + np.cos(math.pi * (800 - k) / 400)) / 2)
    np.testing.assert_allclose(spec.lr(k)[k > 500], closed[k > 500], rtol=1e-12)


def _python_recursion(lr: float, gamma: float, count: int) -> list:
    """torch's ``group["lr"] * gamma`` per decay in Python floats, to the first 0."""
    out = [lr]
    for _ in range(count):
        out.append(out[-1] * gamma)
        if out[-1] == 0.0:
            break
    return out


@pytest.mark.parametrize("gamma", [0.99999, 0.9997, 0.5, 0.1, 0.123456789])
def test_the_decays_vectorised_replay_is_pythons(gamma):
    count = 200_000
    fast = _replayed(0.1, lambda i: gamma, count, constant=True)
    slow = np.asarray(_python_recursion(0.1, gamma, count))
    n = len(slow)
    np.testing.assert_array_equal(fast[:n], slow)
    assert len(fast) <= n + 1 and np.all(fast[n:] == slow[-1])  # at most the repeat that ends it


def test_the_table_ends_at_a_fixed_point():
    values, ended = ExponentialSpec(lr=0.1, gamma=0.99).table(0.1)
    assert ended and values[-1] == values[-1] * 0.99 and values[-2] != values[-1]
    values, ended = StepSpec(lr=0.1, step_size=5, gamma=1.0).table(0.1)
    assert ended and values.tolist() == [0.1]


@needs_jax
def test_a_float32_schedule_holds_its_table_in_float32():
    """The replayed lrs are a constant of the program: float32 in a float32 schedule (half the
    bytes; float32 of each value is the same), read and then converted (no float64 copy)."""
    import re

    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = ExponentialSpec(lr=0.1, gamma=0.99999)  # 2**20 decays tabled, none the same
    text = jax.jit(clr_optax.lr_schedule(spec)).lower(jnp.arange(1024, dtype=jnp.int32)).as_text()
    tables = {dtype for size, dtype in re.findall(r"tensor<(\d+)x(f32|f64)>", text) if int(size) > 2**16}
    assert tables == {"f32"}
    with jax.enable_x64(True):
        text = jax.jit(clr_optax.lr_schedule(spec)).lower(jnp.arange(1024)).as_text()
    assert {dtype for size, dtype in re.findall(r"tensor<(\d+)x(f32|f64)>", text) if int(size) > 2**16} == {"f64"}


@pytest.mark.parametrize("start, end", [(1 / 3, 1.0), (0.001, 1.0), (1.0, 0.0)])
def test_a_linear_ramp_is_torchs_recursion(start, end):
    """torch steps LinearLR recursively too: its drift from the closed form stays within 1e-11
    relative, but float32 of the two differs now and then (1 step in 200,000 for start 0.001), and
    after the ramp torch holds the recursion's last value, the closed form ``lr * end_factor``.
    So the ramp is replayed: every step torch's."""
    total = 200_000
    spec = LinearSpec(lr=0.1, start_factor=start, end_factor=end, total_iters=total)
    lr = spec.torch_step(0.1, 0, 0)
    recursion = [lr]
    for k in range(1, total + 10):
        lr = spec.torch_step(lr, k, 0)
        recursion.append(lr)
    np.testing.assert_array_equal(spec.lr(np.arange(total + 10)), np.asarray(recursion))


@needs_jax
def test_a_float32_ramp_is_the_closed_form_with_the_steps_it_rounds_otherwise():
    """On CPU and GPU the ramp's float32 values are the closed form's, but at the steps where float32
    of torch's recursion differs (``_float32_differs``: one of 200,000 here), which are torch's; on
    the float32-only path, the table's."""
    import jax
    import jax.numpy as jnp

    import clr_optax
    from clr_optax._family import schedule_of

    spec = LinearSpec(lr=0.1, start_factor=0.001, end_factor=1.0, total_iters=200_000)
    assert spec._float32_differs(0.1).tolist() == [109_950]
    k = np.arange(200_100)
    want = spec.lr(k).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(clr_optax.lr_schedule(spec)))(jnp.asarray(k))), want)
    np.testing.assert_array_equal(np.asarray(jax.jit(schedule_of(spec, "lr", 0, "float-float"))(jnp.asarray(k))), want)
    text = jax.jit(clr_optax.lr_schedule(spec)).lower(jnp.arange(1024, dtype=jnp.int32)).as_text()
    assert "200001x" not in text  # no table read on this path


@needs_torch
def test_a_linear_ramp_matches_torch_stepped():
    from torch.optim import lr_scheduler

    def build(opt):
        return lr_scheduler.LinearLR(opt, start_factor=0.001, end_factor=1.0, total_iters=3000)

    reference, _, _ = stepped_lrs(build, 3100, [0.1, 0.3])
    spec = LinearSpec(lr=[0.1, 0.3], start_factor=0.001, end_factor=1.0, total_iters=3000)
    for group in range(2):
        np.testing.assert_array_equal(spec.lr(np.arange(3100), group), reference[:, group])
