"""The two ways a float32 schedule is computed, and how the default one behaves under JAX.

On CPU and GPU the default evaluates torch's formula in float64 (traced with 64-bit types
enabled inside its own jit) and rounds once; elsewhere (TPU) it uses float-float
arithmetic. The precision of both against torch is in test_optax_parity.py.
"""

from __future__ import annotations

import pytest

pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")
pytest.importorskip("optax", reason="needs optax: pip install 'clr-spec[jax]'")

import jax
import jax.numpy as jnp
import numpy as np
import optax
from hypothesis import given, settings
from hypothesis import strategies as st

import clr_optax
from clr_optax import _schedules
from clr_optax._float64 import power_of as _power_of
from clr_spec import CyclicSpec

from ._helpers import CONFIGS, INT32_MAX

SPEC = CyclicSpec(base_lr=1e-3, max_lr=6e-3, step_size_up=7, step_size_down=5, mode="exp_range", gamma=0.999)
STEPS = np.arange(60)

TRANSFORMS = {
    "eager": lambda f, k: f(k),
    "eager scalars": lambda f, k: jnp.stack([f(int(i)) for i in k]),
    "jit": lambda f, k: jax.jit(f)(k),
    "vmap(jit)": lambda f, k: jax.vmap(jax.jit(f))(k),
    "jit(vmap(jit))": lambda f, k: jax.jit(jax.vmap(jax.jit(f)))(k),
    "vmap(vmap)": lambda f, k: jax.vmap(jax.vmap(f))(k.reshape(6, 10)).reshape(-1),
    "scan": lambda f, k: jax.lax.scan(lambda c, i: (c, f(i)), 0, k)[1],
    "checkpoint": lambda f, k: jax.jit(jax.checkpoint(f))(k),
    "float counts": lambda f, k: jax.jit(f)(k.astype(jnp.float32)),
}


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("method", ["auto", "float64", "float-float"])
def test_schedule_under_transformations_is_float32_of_torch(method, transform):
    schedule = _schedules.build_schedule(SPEC, "lr", 0, method)
    out = np.asarray(TRANSFORMS[transform](schedule, jnp.asarray(STEPS, jnp.int32)))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.float32(SPEC.lr(STEPS)))  # spec.lr is torch's, bitwise


def test_inside_an_optimizer_the_hyperparameter_stays_float32():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=clr_optax.cyclic_lr_schedule(SPEC))
    params = jnp.zeros(3)
    state = tx.init(params)
    update = jax.jit(tx.update)
    for k in range(12):
        _, state = update(jnp.ones(3), state, params)
        # the state holds the hyperparameters of the update just made: lr(k) for the (k+1)-th
        assert state.hyperparams["learning_rate"].dtype == jnp.float32
        assert state.hyperparams["learning_rate"] == np.float32(SPEC.lr(k))


def _lowered_text(platforms, built_for=None):
    # The path is picked when the schedule is built, for the platforms it is built for (platforms=).
    schedule = clr_optax.cyclic_lr_schedule(SPEC, platforms=platforms if built_for is None else built_for)
    exported = jax.export.export(jax.jit(schedule), platforms=platforms)(jax.ShapeDtypeStruct((8,), jnp.int32))
    return exported, exported.mlir_module()


def test_tpu_lowering_holds_no_float64_and_cpu_lowering_does():
    # TPUs have no float64 hardware: the schedule lowered for one must be the float-float path.
    _, tpu = _lowered_text(["tpu"])
    assert "f64" not in tpu
    _, cpu = _lowered_text(["cpu"])
    assert "f64" in cpu


def test_the_default_build_traces_only_the_default_backends_path():
    # Built for the default backend (CPU here), the float32-only path is not traced at all: the
    # jaxpr has no platform_dependent (which traces every branch) and lowering takes one path.
    jaxpr = str(jax.make_jaxpr(clr_optax.cyclic_lr_schedule(SPEC))(jnp.arange(8)))
    assert "platform_index" not in jaxpr
    mixed = str(jax.make_jaxpr(clr_optax.cyclic_lr_schedule(SPEC, platforms=["cpu", "tpu"]))(jnp.arange(8)))
    assert "platform_index" in mixed
    for schedule in (clr_optax.lr_schedule(SPEC, platforms="TPU"), clr_optax.lr_schedule(SPEC, platforms=("tpu",))):
        np.testing.assert_array_max_ulp(
            np.asarray(jax.jit(schedule)(jnp.asarray(STEPS, jnp.int32))), np.float32(SPEC.lr(STEPS)), maxulp=1
        )


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ("", ValueError, "platforms must name at least one platform"),
        ([], ValueError, "platforms must name at least one platform"),
        (3, TypeError, "platforms must be a platform name"),
        (["cpu", None], TypeError, "platforms must be a platform name"),
    ],
)
def test_bad_platforms_are_refused(bad, error, match):
    with pytest.raises(error, match=match):
        clr_optax.lr_schedule(SPEC, platforms=bad)


def test_a_program_lowered_for_cpu_and_tpu_runs_here():
    exported, _ = _lowered_text(["cpu", "tpu"])
    out = np.asarray(exported.call(jnp.arange(8, dtype=jnp.int32)))
    np.testing.assert_array_equal(out, np.float32(SPEC.lr(np.arange(8))))


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_negative_counts_give_step_0(name, x64):
    """Negative counts steer the guards that keep XLA's divisions and sums as torch's:
    they must still give exactly the value of step 0."""
    spec = CyclicSpec(**CONFIGS[name])
    with jax.enable_x64(x64):
        schedule = jax.jit(clr_optax.cyclic_lr_schedule(spec))
        dtype = jnp.int64 if x64 else jnp.int32
        out = np.asarray(schedule(jnp.asarray([0, -1, -7, -(2**31) + 1], dtype)))
        floats = np.asarray(schedule(jnp.asarray([0.0, -0.5, -3.0], jnp.float32)))
    np.testing.assert_array_equal(out, out[0])
    np.testing.assert_array_equal(floats, out[0])


@settings(max_examples=60, deadline=None)
@given(
    gamma=st.one_of(
        st.floats(1e-300, 1.0, exclude_min=True), st.floats(0.999, 1.0), st.floats(-15, -1).map(lambda e: 1 - 10.0**e)
    ),
    steps=st.lists(st.one_of(st.integers(0, 2**16), st.integers(0, INT32_MAX)), min_size=1, max_size=50),
)
def test_power_of_gamma_within_one_ulp_of_pythons(gamma, steps):
    """exp_range's gamma**step (float64 path): within 1 ulp of Python's correctly rounded pow."""
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(_power_of(gamma))(jnp.asarray(steps, jnp.int32)))
    want = np.array([gamma**k for k in steps])
    normal = want >= np.finfo(np.float64).tiny
    np.testing.assert_array_max_ulp(got[normal], want[normal], maxulp=1)
    assert np.all(got[~normal] < 1e-300)  # flushed or subnormal: 0 as far as any lr can tell


def test_unknown_method_and_value_are_rejected():
    with pytest.raises(ValueError, match="float32_method must be 'auto', 'float64' or 'float-float'"):
        _schedules.build_schedule(SPEC, "lr", 0, "float16")
    with pytest.raises(ValueError, match="what must be 'lr' or 'momentum'"):
        _schedules.build_schedule(SPEC, "beta", 0)


def test_scale_fn_checked_on_both_paths_arguments():
    # A scalar on a float32 (the float-float path) but two float32s on the float64 path's float64.
    fn = lambda x: jax.lax.bitcast_convert_type(x, jnp.float32)  # noqa: E731
    with pytest.raises(TypeError, match="scale_fn must map a scalar float64 to a scalar number"):
        clr_optax.cyclic_lr_schedule(base_lr=0.1, max_lr=1.0, scale_fn=fn)
    with pytest.raises(TypeError, match="scale_fn must map a scalar float32 to a scalar number"):
        clr_optax.cyclic_lr_schedule(base_lr=0.1, max_lr=1.0, scale_fn=lambda x: jnp.stack([x, x]))
