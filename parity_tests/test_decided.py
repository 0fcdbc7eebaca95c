"""Cosine schedules' float32 values decided from a fast cosine (``clr_optax._decided``).

- ``fast_cos`` is within its stated error of C's cos (numpy's, glibc's: torch's) on ``[0, pi]``,
  NaN outside it.
- The bracket holds: each formula's float64 value with its cosines lowered and raised by
  ``COS_BOUND`` is below and above the exact float64 value (the formula is monotone in its cosine).
- The decided float32 values are the exact float64 values rounded to float32, bitwise, and
  float32 of torch's (``spec.lr``), through every branch of the batched rule (no undecided step,
  a few undecided blocks, most of them, a small batch), unbatched, nested ``vmap`` and a step
  alone; on CPUs alone.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from clr_spec import (
    CosineAnnealingSpec,
    CosineDecaySpec,
    LinearSpec,
    OneCycleSpec,
    TimmCosineSpec,
    WarmRestartsSpec,
    WSDSpec,
    huggingface_spec,
)

from ._frameworks import needs_jax

pytestmark = needs_jax

CASES = {
    # torch's recursion tabled over the first period: the bracket's ends are the table's value
    "CosineAnnealingLR to 0": CosineAnnealingSpec(lr=0.1, T_max=2**16),
    "CosineAnnealingLR, eta_min": CosineAnnealingSpec(lr=0.1, T_max=40_000, eta_min=1e-4),
    "CosineAnnealingLR past its first period": CosineAnnealingSpec(lr=0.1, T_max=300, eta_min=1e-3),
    "1cycle": OneCycleSpec(max_lr=0.1, total_steps=50_000),
    "1cycle, three phases, two groups": OneCycleSpec(max_lr=[0.1, 0.3], total_steps=30_011, three_phase=True),
    "SGDR T_mult=2": WarmRestartsSpec(lr=0.1, T_0=100, T_mult=2, eta_min=1e-4),
    "SGDR T_mult=1 to 0": WarmRestartsSpec(lr=0.1, T_0=9_973),
    "HF cosine_with_min_lr": huggingface_spec("cosine_with_min_lr", 3e-4, 100, 50_000, min_lr=1e-5),
    # the angle leaves [0, pi] at a fifth of the way: the steps after undecided (the exact cosine)
    "HF cosine, 2.5 cycles": huggingface_spec("cosine", 3e-4, 100, 50_000, num_cycles=2.5),
    "HF cosine_with_restarts": huggingface_spec("cosine_with_restarts", 3e-4, 100, 50_000, num_cycles=3),
    "WSD cosine warmup and decay": WSDSpec(
        lr=0.02,
        num_warmup_steps=4000,
        num_decay_steps=20_000,
        num_training_steps=50_000,
        warmup_type="cosine",
        decay_type="cosine",
        min_lr_ratio=0.01,
    ),
    "timm restarts, decay, warmup": TimmCosineSpec(
        lr=0.1,
        t_initial=10_000,
        lr_min=1e-5,
        cycle_decay=0.5,
        cycle_limit=8,
        warmup_t=200,
        warmup_lr_init=1e-4,
        t_in_epochs=False,
    ),
    "optax cosine_decay, alpha and exponent": CosineDecaySpec(
        init_value=3e-4, decay_steps=40_000, alpha=0.01, exponent=2.0
    ),
}
STEPS = 65_536 + 1_000  # not a multiple of the batched rule's blocks


def _value(spec, group=0):
    """The formula's float64 value, as clr_optax's float32 path evaluates it."""
    import jax.numpy as jnp

    from clr_optax._ops import JaxFloat64Ops

    def value(step, count, ops=None):
        ops = JaxFloat64Ops(count) if ops is None else ops
        return spec.values_at(ops, step.astype(jnp.float64), "lr", group)

    return value


def _exact_float32(spec, steps, group=0):
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        s = jnp.asarray(steps, jnp.int32)
        return np.asarray(jax.jit(lambda s: _value(spec, group)(s, s).astype(jnp.float32))(s))


def _undecided(spec, steps, group=0):
    import jax
    import jax.numpy as jnp

    from clr_optax._decided import bracket

    with jax.enable_x64(True):
        s = jnp.asarray(steps, jnp.int32)
        return np.isnan(np.asarray(jax.jit(lambda s: bracket(_value(spec, group), s, s))(s)))


def test_fast_cos_is_within_its_bound_of_c_cos():
    import jax
    import jax.numpy as jnp

    from clr_optax._float64 import COS_DOMAIN_SLACK, COS_ERROR, fast_cos, in_cos_domain

    rng = np.random.default_rng(20261202)
    x = np.concatenate(
        [
            rng.uniform(-math.pi, math.pi, 4_000_000),
            np.linspace(0, math.pi, 1_000_001),
            # where |cos| is near 0 or 1 (the reduction's subtraction), and the domain's ends
            math.pi / 2 + rng.uniform(-1e-6, 1e-6, 10_000),
            rng.uniform(-1e-6, 1e-6, 10_000),
            math.pi - rng.uniform(0, 1e-6, 10_000),
            [0.0, -0.0, math.pi, -math.pi, math.pi + COS_DOMAIN_SLACK, -math.pi - COS_DOMAIN_SLACK],
        ]
    )
    outside = np.asarray([math.pi + 2 * COS_DOMAIN_SLACK, -4.0, 4.0, 1e300, np.nan])
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(fast_cos)(jnp.asarray(x)))
        inside = np.asarray(jax.jit(in_cos_domain)(jnp.asarray(np.concatenate([x, outside]))))
    error = np.max(np.abs(got - np.cos(x)))
    assert error <= COS_ERROR / 4, error  # measured 2.3e-16; the bound is an analysis's, with margin
    assert inside[: len(x)].all() and not inside[len(x) :].any()


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_bracket_holds_the_exact_value(name):
    import jax
    import jax.numpy as jnp

    from clr_optax._ops import JaxFloat64Ops

    spec = CASES[name]
    steps = np.concatenate([np.arange(STEPS), np.random.default_rng(len(name)).integers(0, 2**31 - 1, 20_000)])
    for group in range(spec.num_groups or 1):
        value = _value(spec, group)

        def ends(s, value=value):
            low, high = JaxFloat64Ops(s, cosine="low"), JaxFloat64Ops(s, cosine="high")
            return value(s, s), value(s, s, low), value(s, s, high), low.in_cos_domain & high.in_cos_domain

        with jax.enable_x64(True):
            exact, low, high, inside = (np.asarray(a) for a in jax.jit(ends)(jnp.asarray(steps, jnp.int32)))
        assert inside[:10].all(), name  # (the 2.5 cycles leave [-pi, pi] at a fifth of the warmup)
        below, above = np.minimum(low, high)[inside], np.maximum(low, high)[inside]
        assert (below <= exact[inside]).all() and (exact[inside] <= above).all(), name


@pytest.mark.parametrize("name", sorted(CASES))
def test_decided_values_are_the_exact_ones_rounded(name):
    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = CASES[name]
    steps = np.arange(STEPS)
    for group in range(spec.num_groups or 1):
        want = _exact_float32(spec, steps, group)
        np.testing.assert_array_equal(want, spec.lr(steps, group).astype(np.float32), err_msg=name)
        schedule = clr_optax.lr_schedule(spec, group)
        got = np.asarray(jax.jit(jax.vmap(schedule))(jnp.asarray(steps, jnp.int32)))
        np.testing.assert_array_equal(got, want, err_msg=name)
        # a step alone (the exact formula), at undecided steps and others
        undecided = np.flatnonzero(_undecided(spec, steps, group))
        sample = np.concatenate([undecided[:20], np.random.default_rng(7).choice(steps, 20)])
        scalar = jax.jit(schedule)
        assert [float(scalar(int(k))) for k in sample] == [float(want[k]) for k in sample], name


def test_every_branch_of_the_batched_rule_is_exact():
    import jax
    import jax.numpy as jnp

    import clr_optax
    from clr_optax import _decided

    def check(spec, steps):
        got = np.asarray(jax.jit(jax.vmap(clr_optax.lr_schedule(spec)))(jnp.asarray(steps, jnp.int32)))
        np.testing.assert_array_equal(got, _exact_float32(spec, steps))
        return _undecided(spec, steps)

    # eta_min 0: near the trough 1 + cos cancels, and the steps there are undecided
    trough = WarmRestartsSpec(lr=0.1, T_0=2**16)
    # a small batch: the exact formula
    assert check(trough, np.arange(2**16 - 1000, 2**16)).any()
    # a few undecided blocks (the trough's), of a batch not a multiple of the blocks
    steps = np.arange(2**17 + 7)
    undecided = check(trough, steps)
    blocks = np.unique(np.flatnonzero(undecided) // _decided._BLOCK)
    assert 0 < len(blocks) <= len(steps) // _decided._BLOCK // _decided._SHARE
    # none undecided
    assert not check(CosineAnnealingSpec(lr=0.1, T_max=2**20, eta_min=0.01), np.arange(50_000)).any()
    # most blocks undecided: the exact formula on them all, 1/_SHARE of the batch at a time
    assert check(CASES["HF cosine, 2.5 cycles"], np.arange(50_000)).mean() > 0.7


def test_a_batch_in_a_table_of_torchs_lrs_reads_it_alone():
    """CosineAnnealingLR's first period is a table: a batch wholly in it is read from it (no
    bracket: the formula past the table is not computed), one that leaves it is bracketed there."""
    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = CosineAnnealingSpec(lr=0.1, T_max=3000)  # the table: steps 0..6000
    schedule = jax.jit(jax.vmap(clr_optax.lr_schedule(spec)))
    for steps in (np.arange(6001), np.arange(5000, 20_000), np.arange(10_000, 30_000)):
        got = np.asarray(schedule(jnp.asarray(steps, jnp.int32)))
        np.testing.assert_array_equal(got, spec.lr(steps).astype(np.float32))
        np.testing.assert_array_equal(got, _exact_float32(spec, steps))
    # the closed form past the table is undecided near the troughs: patched there, as before
    assert _undecided(spec, np.arange(10_000, 30_000)).any()
    # the bracket in a loop that runs where the batch leaves the table, around the patches' loop; a
    # formula without a table has the patches' loop alone
    assert str(jax.make_jaxpr(jax.vmap(clr_optax.lr_schedule(spec)))(jnp.arange(8192))).count("while[") == 2
    sgdr = clr_optax.lr_schedule(WarmRestartsSpec(lr=0.1, T_0=3000))
    assert str(jax.make_jaxpr(jax.vmap(sgdr))(jnp.arange(8192))).count("while[") == 1


def test_nested_vmap_arrays_and_gradients():
    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = CosineAnnealingSpec(lr=0.1, T_max=1000)
    schedule = clr_optax.lr_schedule(spec)
    want = spec.lr(np.arange(10_000)).astype(np.float32).reshape(100, 100)
    counts = jnp.arange(10_000, dtype=jnp.int32).reshape(100, 100)
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.vmap(jax.vmap(schedule)))(counts)), want)
    np.testing.assert_array_equal(np.asarray(jax.jit(schedule)(counts)), want)
    np.testing.assert_array_equal(np.asarray(jax.vmap(schedule, in_axes=1, out_axes=1)(counts)), want)
    # a float count: the value does not vary with it (its floor is the step), as before
    assert float(jax.grad(schedule)(3.5)) == 0.0


def test_only_formulas_that_take_a_cosine_are_decided():
    from clr_optax._family import _takes_cosine

    assert all(_takes_cosine(spec, "lr", 0) for spec in CASES.values())
    assert not _takes_cosine(LinearSpec(lr=0.1, total_iters=100), "lr", 0)


def test_decided_on_cpus_alone():
    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = CASES["1cycle"]

    def decided(platforms):
        # the batched rule's loop over undecided blocks is in the program where it is taken
        schedule = clr_optax.lr_schedule(spec, platforms=platforms)
        return "while[" in str(jax.make_jaxpr(jax.vmap(schedule))(jnp.arange(8192, dtype=jnp.int32)))

    # a GPU's float64 cosine is not the wall a CPU's is, and a loop's test there could wait for it
    assert decided(None) and decided("cpu") and decided(["cpu", "tpu"])  # (lax.platform_dependent's cpu)
    assert not decided("cuda") and not decided(["cpu", "gpu"])
