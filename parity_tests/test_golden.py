"""torch's values frozen in ``golden/`` (``make_golden.py`` for CyclicLR, ``make_golden_family.py``
for 1cycle, SGDR, warmups, tails and sequences): current where torch is installed, and the
reference for clr_optax and clr_spec where it is not (a jax-only install still checks float32
exactness against torch)."""

from __future__ import annotations

import numpy as np
import pytest

from clr_spec import CyclicSpec

from . import make_golden, make_golden_family
from ._frameworks import needs_jax, needs_torch
from ._helpers import CONFIGS, check_float32, flush_subnormals, groups_of

STEPS, GOLDEN, TORCH_VERSION = make_golden.load()
KEYS = make_golden.keys()


@needs_torch
def test_golden_files_are_current():
    """Fails when torch's values (or the configurations) change: rerun make_golden.py."""
    assert np.array_equal(STEPS, make_golden.golden_steps())
    fresh = make_golden.compute()
    assert sorted(fresh) == sorted(GOLDEN), "configurations changed: python -m parity_tests.make_golden"
    for key, values in fresh.items():
        np.testing.assert_array_equal(GOLDEN[key], values, err_msg=f"{key}: python -m parity_tests.make_golden")


@pytest.mark.parametrize("name, what", KEYS)
def test_closed_form_is_golden_bitwise(name, what):
    spec = CyclicSpec(**CONFIGS[name])
    ref = GOLDEN[f"{name}/{what}"]
    for g in groups_of(spec):
        ours = (spec.lr if what == "lr" else spec.momentum)(STEPS, group=g)
        valid = ~np.isnan(ref[:, g])
        np.testing.assert_array_equal(ours[valid], ref[valid, g])


@needs_jax
@pytest.mark.parametrize("method", ["auto", "float-float"])
@pytest.mark.parametrize("name, what", KEYS)
def test_optax_float32_against_golden(name, what, method):
    import jax

    from clr_optax import _schedules

    spec = CyclicSpec(**CONFIGS[name])
    custom = spec.scale_fn is not None
    exact = method == "auto" and jax.default_backend() in ("cpu", "gpu")
    ref = GOLDEN[f"{name}/{what}"]
    for g in groups_of(spec):
        ours = np.asarray(jax.jit(_schedules.build_schedule(spec, what, g, method))(STEPS.astype(np.int32)))
        label = f"{name} (golden)" if g == 0 else f"{name}[group {g}] (golden)"
        if exact:
            check_float32(
                label,
                what,
                ours,
                ref[:, g],
                max_ulp=1 if custom else 0,
                min_exact=0.99 if custom else 1.0,
                evaluator=f"clr_optax {method}, golden",
            )
        else:
            check_float32(
                label,
                what,
                ours,
                ref[:, g],
                max_ulp=4 if custom else 1,
                min_exact=0.5 if custom else 0.99,
                evaluator=f"clr_optax {method}, golden",
            )


@needs_jax
@pytest.mark.parametrize("name, what", [k for k in KEYS if "scale_fn" not in CONFIGS[k[0]]])
def test_optax_x64_builtin_modes_are_golden_bitwise(name, what):
    import jax

    import clr_optax

    spec = CyclicSpec(**CONFIGS[name])
    make = clr_optax.cyclic_lr_schedule if what == "lr" else clr_optax.cyclic_momentum_schedule
    ref = GOLDEN[f"{name}/{what}"]
    with jax.enable_x64(True):
        for g in groups_of(spec):
            ours = np.array(jax.jit(make(spec, group=g))(STEPS))
            ours[np.abs(ours) < np.finfo(np.float64).tiny] = 0.0  # XLA flushes float64 subnormals
            valid = ~np.isnan(ref[:, g])
            expected = ref[valid, g].copy()
            expected[np.abs(expected) < np.finfo(np.float64).tiny] = 0.0
            np.testing.assert_array_equal(ours[valid], expected)


def test_golden_is_what_torch_made():
    assert TORCH_VERSION.startswith("2.13.0"), TORCH_VERSION
    assert make_golden_family.load()[1].startswith("2.13.0")
    assert all(np.isfinite(v).any() for v in GOLDEN.values())
    # A value checked by hand: triangular, base 0.001, max 0.006, up 2000: a quarter cycle is 0.0035.
    assert GOLDEN["triangular/lr"][1000, 0] == pytest.approx(0.0035, rel=1e-15)
    assert flush_subnormals(GOLDEN["triangular/lr"][:3, 0]).dtype == np.float32


# ------------------------------------------------------------------ the family
FAMILY, FAMILY_TORCH_VERSION = make_golden_family.load()


@needs_torch
def test_family_golden_files_are_current():
    fresh = make_golden_family.compute()
    assert sorted(fresh) == sorted(FAMILY), "configurations changed: python -m parity_tests.make_golden_family"
    for key, values in fresh.items():
        np.testing.assert_array_equal(FAMILY[key], values, err_msg=f"{key}: python -m parity_tests.make_golden_family")


@pytest.mark.parametrize("name, what", make_golden_family.keys())
def test_family_spec_against_golden(name, what):
    spec, steps = make_golden_family.CONFIGS[name]
    k = np.arange(steps)
    for g in range(2):
        ours = (spec.lr if what == "lr" else spec.momentum)(k, g)
        np.testing.assert_allclose(ours, FAMILY[f"{name}/{what}"][:, g], rtol=1e-12, atol=0)
        if f"{name}/far_lr" in FAMILY and what == "lr":
            np.testing.assert_allclose(
                spec.lr(make_golden_family.far_steps(), g), FAMILY[f"{name}/far_lr"][:, g], rtol=1e-12, atol=0
            )


@needs_jax
@pytest.mark.parametrize("name, what", make_golden_family.keys())
def test_family_optax_against_golden(name, what):
    import jax

    import clr_optax

    spec, steps = make_golden_family.CONFIGS[name]
    make = clr_optax.lr_schedule if what == "lr" else clr_optax.momentum_schedule
    windows = [(np.arange(steps), FAMILY[f"{name}/{what}"])]
    if f"{name}/far_lr" in FAMILY and what == "lr":
        windows.append((make_golden_family.far_steps(), FAMILY[f"{name}/far_lr"]))
    for steps_, reference in windows:
        for g in range(2):
            ours = np.asarray(jax.jit(make(spec, g))(steps_.astype(np.int32)))
            check_float32(
                f"{name} (golden)",
                what,
                ours,
                reference[:, g],
                max_ulp=1,
                min_exact=0.999,
                evaluator="clr_optax family, golden",
            )
