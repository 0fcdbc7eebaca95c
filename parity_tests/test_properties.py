"""Property tests: random valid specs and random windows, all three evaluators against torch."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import clr_optax
import clr_torch
from clr_spec import CyclicSpec

from ._helpers import INT32_MAX, check_float32, torch_reference

# No subnormal bounds: XLA flushes float32 subnormals (inputs and results) to zero, a
# documented deviation of the float32 path (see README, "Precision").
TINY32 = float(np.finfo(np.float32).tiny)
unit = st.one_of(st.just(0.0), st.floats(TINY32, 1.0))
lr = st.one_of(st.floats(TINY32, 10.0), st.floats(TINY32, 1e30), st.sampled_from([0.0, 1e-4, 1e-3, 0.1]))
# integer step sizes, short dyadic fractions (2.5, 1000.25) and arbitrary float64 ones
step_size = st.one_of(st.integers(1, 200_000), st.integers(2, 40_000).map(lambda n: n / 4),
                      st.floats(0.5, 50_000.0, allow_nan=False))


@st.composite
def specs(draw):
    mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
    up = draw(step_size)
    down = draw(st.one_of(st.none(), step_size))
    assume(up + (up if down is None else down) >= 1)
    return CyclicSpec(
        base_lr=draw(lr), max_lr=draw(lr), step_size_up=up, step_size_down=down, mode=mode,
        gamma=draw(st.floats(0.9, 1.0)) if mode == "exp_range" else 1.0,
        base_momentum=draw(unit), max_momentum=draw(unit),
    )


def _window(draw, spec):
    start = draw(st.one_of(st.integers(0, 10_000), st.integers(0, INT32_MAX - 600)))
    steps = np.arange(start, start + 600, dtype=np.int64)
    if spec.mode == "triangular2":   # torch raises OverflowError past ~1024 cycles: compare where it works
        assume(start / spec.total_size < 1000)
    return steps


@settings(max_examples=int(os.environ.get('CLR_HYPOTHESIS_EXAMPLES', 60)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_specs_float32_within_one_ulp(data):
    spec = data.draw(specs())
    steps = _window(data.draw, spec)
    for what, make in (("lr", clr_optax.cyclic_lr_schedule), ("momentum", clr_optax.cyclic_momentum_schedule)):
        ref = torch_reference(spec, steps, what)[:, 0]
        ours = np.asarray(jax.jit(make(spec))(jnp.asarray(steps, jnp.int32)))
        check_float32("random spec", what, ours, ref, max_ulp=1, evaluator="clr_optax (hypothesis)")


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_random_specs_closed_form_and_torch_scheduler_are_torch(data):
    spec = data.draw(specs())
    steps = _window(data.draw, spec)
    ref_lr = torch_reference(spec, steps, "lr")[:, 0]
    ref_m = torch_reference(spec, steps, "momentum")[:, 0]
    np.testing.assert_array_equal(spec.lr(steps), ref_lr)
    np.testing.assert_array_equal(spec.momentum(steps), ref_m)
    p = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD([{"params": p, "initial_lr": 0.1}], lr=0.1, momentum=0.9)
    sched = clr_torch.CyclicLR.from_spec(opt, spec, last_epoch=int(steps[0]) - 1) if steps[0] > 0 \
        else clr_torch.CyclicLR.from_spec(opt, spec)
    opt._opt_called = True
    for k, (want_lr, want_m) in enumerate(zip(ref_lr, ref_m)):
        if k:
            sched.step()
        assert opt.param_groups[0]["lr"] == want_lr
        assert opt.param_groups[0]["momentum"] == want_m
