"""Sequences against torch itself: every phase type first, in the middle and last of a
``SequentialLR``, and first in a nested one, as a torch user builds them (each phase scaling the
optimizer's lr, a ``OneCycleLR`` writing its ``initial_lr``, momentum left by the phase before).

For each: torch's own run is the reference; ``from_torch`` (of the object and of the state dict)
gives the spec; ``spec.lr``/``spec.momentum`` and clr_optax (x64 and float32) are compared with
it within the stated bounds, ``clr_torch.scheduler(spec)`` bit for bit, and each resumed at
random steps (clr_torch: bitwise the replay, state dict included; clr_optax: the schedules at
the resumed counts and one optimizer update after ``set_count``). Where torch raises (a nested
sequence as a later phase) or computes what no spec describes, the spec refuses, and the test
shows torch's values differ from the nearest spec.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

import clr_spec
from clr_spec import ConstantSpec, CyclicSpec, LinearSpec, OneCycleSpec, SequentialSpec
from clr_spec._family import torch_tolerance

from ._frameworks import HAS_JAX, clr_optax, clr_torch, jnp, needs_jax, needs_torch, torch
from ._helpers import flush_subnormals, ulp_distance

pytestmark = needs_torch

LRS = (0.1, 0.05)  # the optimizer's lr of each of its two param groups
LENGTH = 20  # steps of each phase


def _T():
    return torch.optim.lr_scheduler


# Each phase as a torch user builds it (scaling the optimizer's lr).
PHASES = {
    "linear": lambda o: _T().LinearLR(o, start_factor=0.25, total_iters=7),
    "linear_to_zero": lambda o: _T().LinearLR(o, start_factor=0.1, end_factor=0.0, total_iters=3),
    "constant": lambda o: _T().ConstantLR(o, factor=0.5, total_iters=4),
    "cosine": lambda o: _T().CosineAnnealingLR(o, T_max=9, eta_min=1e-3),
    "sgdr": lambda o: _T().CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2, eta_min=1e-4),
    "onecycle": lambda o: _T().OneCycleLR(o, max_lr=0.3, total_steps=40, pct_start=0.25),
    "onecycle_flat": lambda o: _T().OneCycleLR(
        o, max_lr=[0.3, 0.2], total_steps=30, cycle_momentum=False, anneal_strategy="linear", three_phase=True
    ),
    "cyclic": lambda o: _T().CyclicLR(
        o, base_lr=0.01, max_lr=0.2, step_size_up=5, mode="triangular2", base_momentum=0.8, max_momentum=0.9
    ),
    "cyclic_flat": lambda o: _T().CyclicLR(
        o, base_lr=0.02, max_lr=0.1, step_size_up=3, step_size_down=4, cycle_momentum=False
    ),
    "step": lambda o: _T().StepLR(o, step_size=5, gamma=0.7),
    "multistep": lambda o: _T().MultiStepLR(o, milestones=[3, 8, 8], gamma=0.5),
    "exponential": lambda o: _T().ExponentialLR(o, gamma=0.93),
    "polynomial": lambda o: _T().PolynomialLR(o, total_iters=12, power=1.5),
}
NAMES = sorted(PHASES)
CLASS_OF = {
    "linear": "LinearLR",
    "linear_to_zero": "LinearLR",
    "constant": "ConstantLR",
    "cosine": "CosineAnnealingLR",
    "sgdr": "CosineAnnealingWarmRestarts",
    "onecycle": "OneCycleLR",
    "onecycle_flat": "OneCycleLR",
    "cyclic": "CyclicLR",
    "cyclic_flat": "CyclicLR",
    "step": "StepLR",
    "multistep": "MultiStepLR",
    "exponential": "ExponentialLR",
    "polynomial": "PolynomialLR",
}


def _optimizer(kind: str = "sgd"):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in LRS]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)]
    if kind == "adam":
        return torch.optim.Adam(groups, lr=0.5, betas=(0.9, 0.999))
    return torch.optim.SGD(groups, lr=0.5, momentum=0.9)


def _momentum(group: dict) -> float:
    return float(group["betas"][0]) if "betas" in group else float(group["momentum"])


def _trace(opt, sched, steps: int) -> np.ndarray:
    """(steps, groups, [lr, momentum]) before each update; no step past the last."""
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(steps):
            out.append([(float(g["lr"]), _momentum(g)) for g in opt.param_groups])
            opt.step()
            if k + 1 < steps:
                sched.step()
    return np.array(out)


def _native(layout, opt):
    """torch's own SequentialLR of ``layout``: a list of phase names (or, first, a nested layout)
    and milestones: ``([names...], [milestones...])``."""
    names, milestones = layout
    built = [_native(n, opt) if isinstance(n, tuple) else PHASES[n](opt) for n in names]
    return _T().SequentialLR(opt, built, milestones=list(milestones))


def _steps(spec) -> int:
    end = spec.natural_end
    return 3 * LENGTH + 10 if end is None else min(3 * LENGTH + 10, end)


# ------------------------------------------------------------------------------ the layouts
def _layouts():
    fill = ("linear", "cosine")
    out = []
    for name in NAMES:
        out.append(pytest.param(([name, *fill], [LENGTH, 2 * LENGTH]), id=f"{name}-first"))
        out.append(pytest.param(([fill[0], name, fill[1]], [LENGTH, 2 * LENGTH]), id=f"{name}-middle"))
        out.append(pytest.param((list(fill) + [name], [LENGTH, 2 * LENGTH]), id=f"{name}-last"))
        if CLASS_OF[name] in clr_spec._sequential.RESTARTS_CLEANLY:
            out.append(pytest.param(((([name, "constant"], [7]), "exponential"), [LENGTH]), id=f"{name}-nested-first"))
    # torch's cross-phase effects: a OneCycleLR's initial_lr for the phases around it, a later
    # CyclicLR's momentum bounds read by the OneCycleLR, two OneCycleLRs sharing the groups' settings
    out.append(pytest.param((["constant", "onecycle", "cyclic"], [4, 4 + LENGTH]), id="onecycle-then-cyclic-momentum"))
    out.append(pytest.param((["onecycle", "onecycle_flat", "linear"], [LENGTH, 2 * LENGTH]), id="two-onecycles"))
    out.append(pytest.param((["step", "onecycle"], [5]), id="initial-lr-from-onecycle"))
    two_down = (("constant", "linear"), (9,))
    one_down = ((two_down, "step"), (14,))
    out.append(pytest.param(((one_down, "cyclic"), (LENGTH,)), id="nested-two-deep"))
    out.append(pytest.param((((("cyclic", "onecycle"), (6,)), "sgdr"), (LENGTH,)), id="nested-momentum"))
    # a nested sequence's phases past the outer's next milestone: built, never run
    out.append(pytest.param((((("linear", "cyclic", "step"), (5, 30)), "constant"), (10,)), id="nested-cut-off"))
    return out


LAYOUTS = _layouts()


def _as_layout(layout):
    names, milestones = layout
    return (tuple(_as_layout(n) if isinstance(n, tuple) else n for n in names), tuple(milestones))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sequence_matches_torch(layout):
    layout = _as_layout(layout)
    opt = _optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = _native(layout, opt)
    spec = clr_spec.from_torch(sched)
    # The state dict and the optimizer's give the same spec as the objects.
    assert clr_spec.from_torch(sched.state_dict(), optimizer_state=opt.state_dict()) == spec
    steps = _steps(spec)
    reference = _trace(opt, sched, steps)  # torch's own run
    k = np.arange(steps)
    for g in range(len(LRS)):
        for i, what in enumerate(("lr", "momentum")):
            ref = reference[:, g, i]
            ours = spec.lr(k, g) if what == "lr" else spec.momentum(k, g)
            assert np.all(np.abs(ours - ref) <= torch_tolerance(spec, ref, k, g)), (what, g, np.abs(ours - ref).max())
            assert np.all(ours >= 0)
    # clr_torch builds it from the spec, bit for bit torch's run (a nested one flat)
    built_opt = _optimizer()
    built = clr_torch.scheduler(built_opt, spec)
    ours = _trace(built_opt, built, steps)
    np.testing.assert_array_equal(ours, reference)
    # ... and resumes it anywhere, bitwise the replay, state dict included
    rng = random.Random(repr(layout))
    for k0 in sorted({0, steps - 1, *(rng.randrange(steps) for _ in range(3))}):
        replay_opt = _optimizer()
        replayed = clr_torch.scheduler(replay_opt, spec)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(k0):
                replayed.step()
        resumed_opt = _optimizer()
        resumed = clr_torch.scheduler(resumed_opt, spec, step=k0)
        assert str(resumed.state_dict()) == str(replayed.state_dict()), k0
        np.testing.assert_array_equal(_trace(resumed_opt, resumed, steps - k0), reference[k0:])
    if HAS_JAX:
        _check_optax(spec, reference, rng)


@needs_jax
@pytest.mark.parametrize(
    "layout",
    [p for p in LAYOUTS if p.id in ("onecycle-middle", "nested-momentum", "cyclic-first", "linear_to_zero-first")],
)
def test_optax_optimizer_resumed_with_set_count(layout):
    """An optax optimizer resumed at k with set_count uses torch's lr(k) and momentum(k) next."""
    layout = _as_layout(layout)
    opt = _optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = _native(layout, opt)
    spec = clr_spec.from_torch(sched)
    steps = _steps(spec)
    reference = _trace(opt, sched, steps)
    tx = clr_optax.sgd(spec, group=0, momentum=0.9)
    for k0 in random.Random(7).sample(range(steps), 3):
        state = clr_optax.set_count(tx.init(jnp.zeros(1)), k0)
        _, state = tx.update(jnp.ones(1), state, jnp.zeros(1))
        used = clr_optax.current_hyperparams(state)
        for i, key in enumerate(("learning_rate", "momentum")):
            ref = reference[:, 0, i]
            value = np.float32(used[key])
            assert (
                ulp_distance(value, flush_subnormals(ref[k0])) <= 1
                or abs(float(value) - ref[k0]) <= torch_tolerance(spec, ref, np.arange(steps))[k0]
            ), (key, k0)


def _check_optax(spec, reference: np.ndarray, rng: random.Random) -> None:
    """clr_optax's lr and momentum of group 0, under x64 and in float32, at every count and at the
    counts of a run resumed at a random k (one compiled call each, to keep the suite quick)."""
    import jax

    steps = len(reference)
    counts = np.arange(steps)
    k0 = rng.randrange(steps)
    resumed = np.arange(k0, steps)

    def both(c):
        return clr_optax.lr_schedule(spec, group=0)(c), clr_optax.momentum_schedule(spec, group=0)(c)

    with jax.enable_x64(True):
        x64 = [np.asarray(x) for x in jax.jit(both)(jnp.asarray(counts))]
    f32_all = [np.asarray(x) for x in jax.jit(both)(jnp.asarray(np.concatenate([counts, resumed]), jnp.int32))]
    for i, what in enumerate(("lr", "momentum")):
        ref = reference[:, 0, i]
        tolerance = torch_tolerance(spec, ref, counts)
        assert np.all(np.abs(x64[i] - ref) <= tolerance), what
        f32, tail = f32_all[i][:steps], f32_all[i][steps:]
        # within 1 ulp of float32(torch), or, near 0, within the reference's own float64 bound
        assert np.all((ulp_distance(f32, flush_subnormals(ref)) <= 1) | (np.abs(f32 - ref) <= tolerance)), what
        np.testing.assert_array_equal(tail, f32[k0:])  # resumed at k0: the schedule from count k0 on


# ------------------------------------------------------------------------------ the cases
def test_onecycle_initial_lr_is_where_the_sequence_starts():
    """torch's OneCycleLR writes max_lr / div_factor into initial_lr, and SequentialLR restarts its
    first phase from it: 0.004, 0.004, 0.008, 0.008, then the 1cycle from 0.008, 0.06996."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = _T().SequentialLR(
        opt,
        [_T().ConstantLR(opt, factor=0.5, total_iters=2), _T().OneCycleLR(opt, max_lr=0.2, total_steps=12)],
        milestones=[4],
    )
    spec = clr_spec.from_torch(sched)
    expected = [0.004, 0.004, 0.008, 0.008, 0.008, 0.06995793]
    np.testing.assert_allclose(spec.lr(range(6)), expected, rtol=1e-6)
    built_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    lrs = _trace(built_opt, clr_torch.scheduler(built_opt, spec), 6)[:, 0, 0]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6)
    # the spec that asks the first phase for 0.1 there describes what torch cannot run
    with pytest.raises(ValueError, match="initial_lr.*lr=0.008"):
        SequentialSpec(
            [ConstantSpec(lr=0.1, factor=0.5, total_iters=2), OneCycleSpec(max_lr=0.2, total_steps=12)], milestones=[4]
        )


def test_nested_first_sequence_runs_a_step_ahead():
    """torch steps a nested first SequentialLR once more while building the outer one: its
    milestones fall a step earlier (torch: 0.05 at step 2 and 0.0875 at step 5)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # building the outer one steps the inner one: a call-order warning
        inner = _T().SequentialLR(
            opt,
            [_T().ConstantLR(opt, factor=0.5, total_iters=2), _T().LinearLR(opt, start_factor=0.5, total_iters=4)],
            milestones=[3],
        )
        sched = _T().SequentialLR(opt, [inner, _T().ConstantLR(opt, factor=0.25, total_iters=3)], milestones=[6])
    torch_lrs = _trace(opt, sched, 12)[:, 0, 0]
    spec = SequentialSpec(
        [
            SequentialSpec(
                [ConstantSpec(lr=0.1, factor=0.5, total_iters=2), LinearSpec(lr=0.1, start_factor=0.5, total_iters=4)],
                milestones=[3],
            ),
            ConstantSpec(lr=0.1, factor=0.25, total_iters=3),
        ],
        milestones=[6],
    )
    np.testing.assert_allclose(torch_lrs, [0.05, 0.05, 0.05, 0.0625, 0.075, 0.0875, 0.025, 0.025, 0.025, 0.1, 0.1, 0.1])
    np.testing.assert_allclose(spec.lr(range(12)), torch_lrs, rtol=1e-15)
    assert [start for start, _ in spec.phases] == [0, 2, 6]


@pytest.mark.parametrize("name", ["cosine", "polynomial", "exponential"])
def test_a_phase_that_cannot_start_a_nested_sequence_is_refused(name):
    """torch steps the first phase of a nested sequence outside its initial step: CosineAnnealingLR,
    PolynomialLR and ExponentialLR then compute an lr off their schedule (the flat sequence, one step earlier,
    differs from torch's run), so no spec describes it."""
    opt = _optimizer()
    layout = ((([name, "constant"], [7]), "exponential"), [LENGTH])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = _native(_as_layout(layout), opt)
    flat_opt = _optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = _native(((name, "constant", "exponential"), (6, LENGTH)), flat_opt)
    assert not np.array_equal(_trace(opt, sched, 10), _trace(flat_opt, flat, 10))
    with pytest.raises(ValueError, match="cannot start a nested SequentialSpec"):
        clr_spec.from_torch(sched)


def test_a_nested_sequence_as_a_later_phase_is_refused_as_torch_fails():
    opt = _optimizer()
    inner = _T().SequentialLR(opt, [_T().ConstantLR(opt), _T().LinearLR(opt)], milestones=[3])
    sched = _T().SequentialLR(opt, [_T().ConstantLR(opt), inner], milestones=[6])
    with warnings.catch_warnings(), pytest.raises(NotImplementedError):
        warnings.simplefilter("ignore")
        for _ in range(6):
            sched.step()
    with pytest.raises(ValueError, match="later phase"):
        clr_spec.from_torch(sched)
    with pytest.raises(ValueError, match="specs\\[1\\] is a SequentialSpec"):
        SequentialSpec([LinearSpec(lr=0.1), SequentialSpec([LinearSpec(lr=0.1)], milestones=[])], milestones=[5])


def test_a_onecycle_phase_past_its_end_is_refused_as_torch_fails():
    opt = _optimizer()
    sched = _T().SequentialLR(
        opt, [_T().OneCycleLR(opt, max_lr=0.1, total_steps=10), _T().ConstantLR(opt)], milestones=[12]
    )
    with warnings.catch_warnings(), pytest.raises(ValueError, match="Tried to step 11"):
        warnings.simplefilter("ignore")
        for _ in range(12):
            sched.step()
    with pytest.raises(ValueError, match="next milestone must be at most 10"):
        clr_spec.from_torch(sched)


def test_onecycles_that_need_other_group_settings_are_refused():
    """torch's OneCycleLR reads its lrs and momentum bounds from the param groups: two with
    different ones, or one and a later momentum-cycling CyclicLR with others, cannot both run."""
    with pytest.raises(ValueError, match="two OneCycleSpec phases"):
        SequentialSpec(
            [OneCycleSpec(max_lr=0.1, total_steps=10), OneCycleSpec(max_lr=0.2, total_steps=10)], milestones=[10]
        )
    with pytest.raises(ValueError, match="same momentum bounds"):
        SequentialSpec(
            [
                OneCycleSpec(max_lr=0.1, total_steps=10, div_factor=1.0),
                CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=3),
            ],
            milestones=[10],
        )
    # where they agree (what from_torch gives: torch's groups hold one set), both run
    SequentialSpec(
        [
            OneCycleSpec(max_lr=0.1, total_steps=10, div_factor=1.0, base_momentum=0.8, max_momentum=0.9),
            CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=3),
        ],
        milestones=[10],
    )


def test_a_custom_scale_fn_in_a_sequence_is_passed_or_refused():
    """torch's state does not hold a custom scale_fn: from_torch of a sequence takes it as
    scale_fn= (one for every CyclicLR phase, or by phase index), and refuses a state whose
    callable-object scale_fn it would otherwise read as triangular."""

    class Halving:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, x):
            return self.rate ** (x - 1)

    fn = Halving()
    opt = _optimizer()
    sched = _T().SequentialLR(
        opt,
        [_T().LinearLR(opt, total_iters=3), _T().CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2, scale_fn=fn)],
        milestones=[3],
    )
    state, opt_state = sched.state_dict(), opt.state_dict()
    with pytest.raises(ValueError, match="custom scale_fn"):
        clr_spec.from_torch(state, optimizer_state=opt_state)
    by_index = clr_spec.from_torch(state, optimizer_state=opt_state, scale_fn={1: fn})
    for_all = clr_spec.from_torch(state, optimizer_state=opt_state, scale_fn=fn)
    from_object = clr_spec.from_torch(sched)
    assert by_index.specs[1].scale_fn is fn and for_all.specs[1].scale_fn is fn
    np.testing.assert_array_equal(by_index.lr(range(20)), from_object.lr(range(20)))
    reference = _trace(opt, sched, 20)[:, 0, 0]
    np.testing.assert_array_equal(by_index.lr(range(20)), reference)
    with pytest.raises(ValueError, match="scale_fn\\[0\\].*LinearLR"):
        clr_spec.from_torch(state, optimizer_state=opt_state, scale_fn={0: fn, 1: fn})


@needs_jax
def test_adam_sequence_momentum_bounds():
    """beta1 must stay below 1 wherever a phase sets it: clr_torch.scheduler and clr_optax.adam
    refuse a 1cycle phase with max_momentum=1.0, as CyclicLR's rule does."""
    spec = SequentialSpec(
        [LinearSpec(lr=0.004, total_iters=3), OneCycleSpec(max_lr=0.1, total_steps=20, max_momentum=1.0)],
        milestones=[3],
    )
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        clr_torch.scheduler(opt, spec)
    with pytest.raises(ValueError, match="max_momentum must be < 1"):
        clr_optax.adam(spec)
    ok = spec.specs[1].replace(max_momentum=0.95)
    clr_torch.scheduler(opt, SequentialSpec([spec.specs[0], ok], milestones=[3]))
