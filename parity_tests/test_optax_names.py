"""The optax-vocabulary specs and constructors (``clr_spec.linear_schedule``,
``cosine_decay_schedule``, ``join_schedules``, ``warmup_cosine_decay_schedule``,
``warmup_cyclic_cosine_schedule``) and the warning for a periodic phase run past its period.

Expected values come from ``make_golden_optax_names`` (exact fractions for the linear pieces,
optax's float64 formula written out by hand for the cosine) and from optax itself; none from
the library's own code.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import clr_spec
from clr_spec import (
    CosineAnnealingSpec,
    CosineDecaySpec,
    CyclicSpec,
    LinearScheduleSpec,
    LinearSpec,
    SequentialSpec,
    WarmRestartsSpec,
    cli,
)

from . import make_golden_optax_names as golden
from ._frameworks import HAS_JAX, HAS_TORCH, needs_jax, needs_torch

GOLDEN = golden.load()
NAMES = sorted(golden.CONFIGS)
FAR_NAMES = sorted(golden.FAR_CONFIGS)


def _ulps32(a, b) -> np.ndarray:
    def ordered(x):
        i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return np.abs(ordered(a) - ordered(b))


# ------------------------------------------------------------------------------ the reference
def test_golden_file_is_current():
    fresh = golden.compute()
    assert sorted(fresh) == sorted(GOLDEN), "configurations changed: python -m parity_tests.make_golden_optax_names"
    for key, values in fresh.items():
        np.testing.assert_array_equal(GOLDEN[key], values, err_msg=key)


def test_the_reference_is_optax_formula_by_hand():
    # A few values worked out by hand: linear from 0 (optax's usual warmup, which torch's LinearLR
    # refuses), the cosine at its middle and past its end (held), the sum of both pieces.
    assert golden.linear_value(0.0, 0.1, 1000, 0, 0) == 0.0
    assert golden.linear_value(0.0, 0.1, 1000, 0, 500) == 0.05
    assert golden.linear_value(0.0, 0.1, 1000, 0, 10**9) == 0.1
    assert golden.linear_value(0.3, 0.3, 0, 0, 7) == 0.3
    assert golden.cosine_value(1.0, 4, 0.0, 1.0, 2) == 0.5
    assert golden.cosine_value(2.0, 4, 0.25, 1.0, 4) == golden.cosine_value(2.0, 4, 0.25, 1.0, 10**9) == 0.5


@pytest.mark.parametrize("name", NAMES)
def test_numpy_is_the_reference_bitwise(name):
    spec, steps = golden.CONFIGS[name]
    np.testing.assert_array_equal(spec.lr(np.arange(steps)), GOLDEN[f"{name}/lr"])
    for g in (0, 3):  # scalar values: every param group gets the same
        assert spec.lr(steps // 2, g) == GOLDEN[f"{name}/lr"][steps // 2]


@pytest.mark.parametrize("name", FAR_NAMES)
def test_numpy_far_into_training(name):
    np.testing.assert_array_equal(golden.FAR_CONFIGS[name].lr(golden.far_steps()), GOLDEN[f"{name}/far_lr"])


# ------------------------------------------------------------------------------ clr_optax
def _windows(name):
    if name in golden.CONFIGS:
        spec, steps = golden.CONFIGS[name]
        return spec, np.arange(steps), GOLDEN[f"{name}/lr"]
    return golden.FAR_CONFIGS[name], golden.far_steps(), GOLDEN[f"{name}/far_lr"]


@needs_jax
@pytest.mark.parametrize("name", NAMES + FAR_NAMES)
def test_optax_float32_is_float32_of_the_float64_values(name):
    """On CPU (and GPU) clr_optax's float32 schedule is the float64 value rounded once: 0 ulp."""
    import jax
    import jax.numpy as jnp

    import clr_optax
    from clr_optax import _family as optax_family

    spec, steps, reference = _windows(name)
    counts = jnp.asarray(steps.astype(np.int32))
    ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec))(counts))
    np.testing.assert_array_equal(ours, reference.astype(np.float32))
    # the float32-only path (TPUs), run here on CPU: the bound the conformance rows state (8 ulps;
    # 16 with an exponent, whose float32 power scales the factor's error; measured 7 and 11)
    tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", 0, "float-float"))(counts))
    ref32 = reference.astype(np.float32)
    ref32[np.abs(ref32) < np.finfo(np.float32).tiny] = 0.0
    assert _ulps32(tpu, ref32).max() <= (16 if name == "cosine_decay_exponent" else 8)
    with jax.enable_x64(True):
        x64 = np.asarray(jax.jit(clr_optax.lr_schedule(spec))(jnp.asarray(steps)))
    if spec.EVALUATOR == "sequence":
        # clr_optax's sequence hands its first piece the clipped step, on which XLA folds the guards
        # of division and FMA (clr_optax._ops): within 1e-13 relative here (2.3e-14 measured, near a
        # warmup's start from 0), the 1e-12 design.md promises for x64
        np.testing.assert_allclose(x64, reference, rtol=1e-13, atol=0)
    else:
        np.testing.assert_array_equal(x64, reference)


# optax's own schedules, with the spec giving the same schedule (built by the constructors)
AGAINST_OPTAX = {
    "linear 0 -> 1e-3": (lambda m: m.linear_schedule(0.0, 1e-3, 1000), 3000, 1e-3),
    "linear held, begin": (lambda m: m.linear_schedule(0.1, 1e-5, 99991, 7), 200_000, 0.1),
    "cosine": (lambda m: m.cosine_decay_schedule(0.1, 100_000), 200_000, 0.1),
    "cosine alpha exponent": (lambda m: m.cosine_decay_schedule(3e-4, 10**6, 0.01, 2.0), 1_100_000, 3e-4),
    "warmup cosine": (lambda m: m.warmup_cosine_decay_schedule(0.0, 1e-3, 1000, 100_000, 1e-5), 120_000, 1e-3),
    "warmup cosine exponent": (
        lambda m: m.warmup_cosine_decay_schedule(1e-7, 0.1, 5000, 10**6, 0.0, 1.5),
        1_100_000,
        0.1,
    ),
}
# measured (docs/guides/optax-users.md): optax computes in float32, so its values are up to 2
# float32 ulps of the peak value away from the float64 formula rounded once (exact 26-71% of steps;
# in relative ulps unbounded near 0, where 1 + cos(x) cancels in float32)
OPTAX_BOUND_ULPS_OF_PEAK = 2


@needs_jax
@pytest.mark.parametrize("case", sorted(AGAINST_OPTAX))
def test_against_optax_own_float32_schedule(case):
    import jax
    import jax.numpy as jnp
    import optax

    import clr_optax

    build, steps, peak = AGAINST_OPTAX[case]
    counts = jnp.arange(steps, dtype=jnp.int32)
    ours = np.asarray(jax.jit(clr_optax.lr_schedule(build(clr_spec)))(counts)).astype(np.float64)
    theirs = np.asarray(jax.jit(build(optax))(counts)).astype(np.float64)
    spacing = float(np.spacing(np.float32(peak)))
    assert np.max(np.abs(ours - theirs)) <= OPTAX_BOUND_ULPS_OF_PEAK * spacing


# ------------------------------------------------------------------------------ torch
def _sgd(groups=2):
    import torch

    return torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(groups)], lr=0.5, momentum=0.9
    )


@needs_torch
@pytest.mark.parametrize("name", NAMES)
def test_torch_runs_it_bitwise_and_resumes(name):
    """clr_torch.scheduler: a SpecLR, or torch's SequentialLR of SpecLRs (restarted at each
    milestone), writes the reference's values; a resume at k writes lr(k); from_torch reads the
    spec back (a SequentialSpec with the optimizer's momentum, which no phase sets)."""
    import torch

    import clr_torch

    spec, steps = golden.CONFIGS[name]
    steps = min(steps, 6000)
    reference = GOLDEN[f"{name}/lr"][:steps]
    opt = _sgd()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = clr_torch.scheduler(opt, spec)
        seen = []
        for _ in range(steps):
            seen.append([g["lr"] for g in opt.param_groups])
            opt.step()
            sched.step()
    expected_class = torch.optim.lr_scheduler.SequentialLR if spec.EVALUATOR == "sequence" else clr_torch.SpecLR
    assert type(sched) is expected_class
    np.testing.assert_array_equal(np.array(seen), np.stack([reference, reference], axis=1))
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)  # the optimizer's own, untouched
    for k in (0, 1, steps // 3, steps - 1):
        opt = _sgd()
        clr_torch.scheduler(opt, spec, step=k)
        assert [g["lr"] for g in opt.param_groups] == [reference[k]] * 2
    back = clr_spec.from_torch(sched)
    if spec.EVALUATOR == "sequence":
        assert back == SequentialSpec(list(spec.specs), list(spec.milestones), momentum=0.9)
    else:
        assert back == spec


@needs_torch
def test_a_speclr_state_round_trips():
    import clr_torch

    spec = clr_spec.cosine_decay_schedule(0.1, 50, alpha=0.1)
    opt = _sgd(1)
    sched = clr_torch.scheduler(opt, spec, step=7)
    state = sched.state_dict()
    assert (
        clr_spec.from_torch(state) == spec
        and clr_spec.from_torch(json.loads(json.dumps({"spec_document": state["spec_document"], "last_epoch": 7})))
        == spec
    )
    for other in (LinearScheduleSpec, CosineAnnealingSpec):
        with pytest.raises((ValueError, TypeError)):
            other.from_torch(state)


# ------------------------------------------------------------------------------ the constructors
def test_warmup_cosine_decay_steps_include_the_warmup_as_in_optax():
    spec = clr_spec.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=10, decay_steps=110, end_value=0.25)
    assert isinstance(spec, SequentialSpec) and spec.milestones == (10,)
    warmup, decay = spec.specs
    assert (warmup.init_value, warmup.end_value, warmup.transition_steps) == (0.0, 1.0, 10)
    assert (decay.init_value, decay.decay_steps, decay.alpha, decay.exponent) == (1.0, 100, 0.25, 1.0)
    lr = spec.lr(np.arange(200))
    assert lr[0] == 0.0 and lr[10] == 1.0 and lr[110] == lr[199] == 0.25
    # no warmup: optax's join never runs the warmup (boundary 0): the cosine alone
    assert clr_spec.warmup_cosine_decay_schedule(0.5, 1.0, 0, 100) == CosineDecaySpec(1.0, 100)
    # a zero peak: alpha 0, as optax sets it
    assert clr_spec.warmup_cosine_decay_schedule(0.0, 0.0, 5, 10, end_value=0.0).specs[1].alpha == 0.0


@needs_jax
def test_constructors_match_optax_at_the_landmarks():
    import optax

    cases = [
        (
            clr_spec.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000, 1e-5),
            optax.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000, 1e-5),
        ),
        (clr_spec.linear_schedule(0.0, 0.1, 0), optax.linear_schedule(0.0, 0.1, 0)),
        (
            clr_spec.join_schedules(
                [clr_spec.linear_schedule(0.0, 1.0, 3), clr_spec.cosine_decay_schedule(1.0, 5)], [3]
            ),
            optax.join_schedules([optax.linear_schedule(0.0, 1.0, 3), optax.cosine_decay_schedule(1.0, 5)], [3]),
        ),
    ]
    for ours, theirs in cases:
        for k in (0, 1, 2, 3, 4, 50, 99, 100, 101, 500, 999, 1000, 1001, 5000):
            # optax's float32: 4e-6 relative off at step 1 of the warmup, where (I - E) (1 - c/T) + E cancels
            assert float(ours.lr(k)) == pytest.approx(float(theirs(k)), rel=1e-6, abs=1e-9), k


def test_warmup_cyclic_cosine():
    spec = clr_spec.warmup_cyclic_cosine_schedule(
        0.0, 0.1, 0.5, warmup_steps=2, cycle_steps=4, num_cycles=2, decay_steps=14, end_value=0.01
    )
    assert spec.milestones == (2, 10)
    warmup, cycles, decay = spec.specs
    assert warmup == LinearScheduleSpec(0.0, 0.1, 2)
    assert cycles == CyclicSpec(base_lr=0.1, max_lr=0.5, step_size_up=2, cycle_momentum=False)
    assert decay == CosineDecaySpec(0.1, 4, alpha=0.01 / 0.1)
    # by hand: 0, 0.05 | 0.1, 0.3, 0.5, 0.3 (twice) | 0.1 * cosine to 0.01, held
    expected = [
        0.0,
        0.05,
        0.1,
        0.3,
        0.5,
        0.3,
        0.1,
        0.3,
        0.5,
        0.3,
        0.1,
        0.01 + 0.09 * (1 + math.cos(math.pi / 4)) / 2,
        0.055,
        0.01 + 0.09 * (1 + math.cos(3 * math.pi / 4)) / 2,
        0.01,
        0.01,
    ]
    np.testing.assert_allclose(spec.lr(range(16)), expected, rtol=1e-14, atol=1e-17)
    assert not spec.sets_momentum
    no_warmup = clr_spec.warmup_cyclic_cosine_schedule(0.0, 0.1, 0.5, 0, 4, 1, 10, mode="triangular2")
    assert [type(s).__name__ for s in no_warmup.specs] == ["CyclicSpec", "CosineDecaySpec"]
    assert no_warmup.milestones == (4,)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: clr_spec.linear_schedule(-0.1, 1.0, 10), ValueError, "init_value must be >= 0"),
        (lambda: clr_spec.linear_schedule(0.0, math.nan, 10), ValueError, "end_value"),
        (lambda: clr_spec.linear_schedule(0.0, 1.0, -1), ValueError, "transition_steps must be an int >= 0"),
        (lambda: clr_spec.linear_schedule(0.0, 1.0, 10.0), TypeError, "transition_steps must be an int"),
        (lambda: clr_spec.linear_schedule(0.0, 1.0, 10, transition_begin=-2), ValueError, "transition_begin"),
        (lambda: clr_spec.linear_schedule(0.0, 1.0, True), TypeError, "transition_steps"),
        (lambda: clr_spec.linear_schedule("0", 1.0, 10), TypeError, "init_value must be a real number"),
        (lambda: clr_spec.linear_schedule(0.0, 1.0, 2**53), ValueError, "2\\*\\*53"),
        (lambda: clr_spec.cosine_decay_schedule(0.1, 0), ValueError, "decay_steps must be an int >= 1"),
        (lambda: clr_spec.cosine_decay_schedule(0.1, 10, alpha=-0.5), ValueError, "alpha must be"),
        (lambda: clr_spec.cosine_decay_schedule(0.1, 10, alpha=math.inf), ValueError, "alpha must be"),
        (lambda: clr_spec.cosine_decay_schedule(0.1, 10, exponent=0.0), ValueError, "exponent must be > 0"),
        (lambda: clr_spec.cosine_decay_schedule(0.1, 10, exponent=math.nan), ValueError, "exponent"),
        (
            lambda: clr_spec.warmup_cosine_decay_schedule(0.0, 1.0, 100, 100),
            ValueError,
            "decay_steps must be > warmup_steps.*warmup included",
        ),
        (lambda: clr_spec.warmup_cosine_decay_schedule(0.0, 1.0, -1, 100), ValueError, "warmup_steps"),
        (lambda: clr_spec.warmup_cosine_decay_schedule(0.0, -1.0, 1, 100), ValueError, "peak_value"),
        (
            lambda: clr_spec.warmup_cyclic_cosine_schedule(0.0, 0.1, 0.5, 10, 4, 2, 18),
            ValueError,
            "decay_steps must be > warmup_steps \\+ num_cycles \\* cycle_steps = 18",
        ),
        (lambda: clr_spec.warmup_cyclic_cosine_schedule(0.0, 0.1, 0.5, 10, 1, 2, 100), ValueError, "cycle_steps"),
        (lambda: clr_spec.warmup_cyclic_cosine_schedule(0.0, 0.1, 0.5, 10, 4, 0, 100), ValueError, "num_cycles"),
        (
            lambda: clr_spec.warmup_cyclic_cosine_schedule(0.0, 0.1, 0.5, 10, 4, 2, 100, mode="sawtooth"),
            ValueError,
            "mode",
        ),
        (lambda: clr_spec.join_schedules([clr_spec.linear_schedule(0, 1, 2)], [2]), ValueError, "milestones"),
        (lambda: clr_spec.join_schedules([clr_spec.linear_schedule(0, 1, 2), "x"], [2]), TypeError, "specs\\[1\\]"),
        (lambda: CosineDecaySpec(0.1, 10).lr(5, group=-1), ValueError, "group"),
        (lambda: CosineDecaySpec(0.1, 10).momentum(5), ValueError, "momentum"),
    ],
)
def test_bad_input_is_refused_naming_the_parameter(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_nothing_given_is_changed_and_json_round_trips():
    phases = [clr_spec.linear_schedule(0.0, 1.0, 3), clr_spec.cosine_decay_schedule(1.0, 5)]
    boundaries = [3]
    spec = clr_spec.join_schedules(phases, boundaries)
    assert len(phases) == 2 and boundaries == [3]
    for s in (spec, *phases, golden.CONFIGS["warmup_cyclic_cosine"][0]):
        assert clr_spec.from_json(s.to_json()) == s
    doc = phases[1].to_dict()
    assert doc == {
        "format": "clr.CosineDecaySpec",
        "version": 1,
        "init_value": 1.0,
        "decay_steps": 5,
        "alpha": 0.0,
        "exponent": 1.0,
    }
    with pytest.raises(ValueError, match="unknown"):
        clr_spec.from_dict({**doc, "T_max": 5})
    with pytest.raises(ValueError, match="missing required"):
        clr_spec.from_dict({"format": "clr.LinearScheduleSpec", "version": 1, "init_value": 0.0, "end_value": 1.0})
    assert phases[0].replace(end_value=2.0).end_value == 2.0 and phases[0].end_value == 1.0
    with pytest.raises(AttributeError, match="immutable"):
        phases[0].init_value = 3.0


# ------------------------------------------------------------------------------ past the end
def test_a_periodic_cosine_past_t_max_says_so_and_names_the_holding_alternative():
    spec = CosineAnnealingSpec(lr=0.1, T_max=100, eta_min=0.001)
    assert spec.past_end_note(101) is None  # steps 0..100: to T_max, not past it
    note = spec.past_end_note(102)
    assert "rises again" in note and "cosine_decay_schedule(init_value=0.1, decay_steps=100, alpha=0.01)" in note
    # the alternative it names is the same cosine to T_max, and then holds
    held = CosineDecaySpec(0.1, 100, alpha=0.01)
    np.testing.assert_allclose(held.lr(np.arange(101)), spec.lr(np.arange(101)), rtol=1e-14)
    assert held.lr(150) == held.lr(100) and spec.lr(150) > spec.lr(100)


def test_specs_that_hold_or_cycle_by_design_say_nothing():
    for spec in (
        CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=10),
        WarmRestartsSpec(lr=0.1, T_0=10),
        LinearSpec(lr=0.1),
        CosineDecaySpec(0.1, 10),
        LinearScheduleSpec(0.0, 0.1, 10),
        golden.CONFIGS["warmup_cyclic_cosine"][0],
    ):
        assert spec.past_end_note(10**7) is None, spec


def test_a_sequence_asks_each_phase_for_the_steps_it_runs():
    warmup = LinearSpec(lr=0.1, start_factor=0.1, total_iters=10)
    last = SequentialSpec([warmup, CosineAnnealingSpec(lr=0.1, T_max=100)], [10])
    assert last.past_end_note(111) is None  # the cosine runs steps 0..100 of its own
    assert "the phase from step 10: CosineAnnealingLR (T_max=100) runs 102 steps" in last.past_end_note(112)
    middle = SequentialSpec([CosineAnnealingSpec(lr=0.1, T_max=20), warmup], [50])
    assert "the phase from step 0: CosineAnnealingLR (T_max=20) runs 50 steps" in middle.past_end_note(60)
    assert SequentialSpec([CosineAnnealingSpec(lr=0.1, T_max=20), warmup], [21]).past_end_note(10**6) is None


@pytest.mark.skipif(not (HAS_TORCH or HAS_JAX), reason="check needs torch or jax")
def test_cli_show_and_check_warn_on_stderr(tmp_path, capsys):
    periodic, held = tmp_path / "periodic.json", tmp_path / "held.json"
    periodic.write_text(CosineAnnealingSpec(lr=0.1, T_max=50).to_json())
    held.write_text(clr_spec.warmup_cosine_decay_schedule(0.0, 0.1, 10, 60).to_json())
    assert cli.main(["show", str(periodic)]) == 0
    out, err = capsys.readouterr()
    assert "clr show: warning: CosineAnnealingLR (T_max=50) runs" in err and "cosine_decay_schedule(" in err
    assert "warning" not in out
    assert cli.main(["check", str(periodic), "--steps", "51"]) == 0
    assert capsys.readouterr().err == ""  # steps 0..50: not past T_max
    assert cli.main(["check", str(periodic), "--steps", "120"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("clr check: warning: CosineAnnealingLR (T_max=50) runs 120 steps") and err.count("\n") == 1
    for command in (["show", str(held)], ["check", str(held), "--steps", "500"]):
        assert cli.main(command) == 0
        assert capsys.readouterr().err == ""


@needs_torch
@pytest.mark.parametrize("name", ["cosine_decay", "warmup_cyclic_cosine"])
def test_a_resume_leaves_the_state_a_replay_leaves(name):
    """clr_torch.scheduler(step=k) sets the scheduler's state as k steps leave it (step counts
    included: a SpecLR's were counted twice)."""
    import clr_torch

    spec, _ = golden.CONFIGS[name]
    for k in (1, 999, 2500):
        opt = _sgd()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            replayed = clr_torch.scheduler(opt, spec)
            for _ in range(k):
                opt.step()
                replayed.step()
        resumed_opt = _sgd()
        resumed = clr_torch.scheduler(resumed_opt, spec, step=k)
        assert resumed.state_dict() == replayed.state_dict()
        assert resumed_opt.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
