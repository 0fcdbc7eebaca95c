"""``TimmCosineSpec`` against timm's own ``CosineLRScheduler``: numpy and torch bitwise, optax float32
== float32(timm) (x64 bitwise), the float32-only path within its stated bound, both ways of driving
timm (``step_update`` per update, ``step`` per epoch), resume at any step, JSON, ``from_timm``.

timm is imported without torchvision (``parity_tests/_timm.py``); without timm (or torch) those
tests skip, and the golden values (``golden/timm.npz``, ``make_golden_timm.py``) still check numpy
and optax. Expected values come from timm, from exact arithmetic or by hand, never from the spec.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import clr_spec
from clr_spec import TimmCosineSpec, from_timm

from . import _timm, make_golden_timm
from ._frameworks import needs_jax
from ._helpers import check_float32, flush_subnormals, ulp_distance

TIMM = _timm.cosine_lr()
needs_timm = pytest.mark.skipif(TIMM is None, reason=_timm.REASON or "needs timm")
INT32_MAX = 2**31 - 1
# The float32-only (TPU) path's bound (README / docs/guides/timm.md): within FLOAT32_ONLY_ULPS of
# float32(timm), or within FLOAT32_ONLY_ABSOLUTE of the peak lr (the last steps before a bottom at
# lr_min = 0, where timm's own float64 1 + cos has lost most of its digits).
FLOAT32_ONLY_ULPS = 16
FLOAT32_ONLY_ABSOLUTE = 2.0**-40


def random_config(rng: np.random.Generator) -> dict[str, Any]:
    """timm keywords and per-group lrs, drawn over every option (seeded)."""
    groups = int(rng.integers(1, 4))
    lrs = [float(x) for x in rng.uniform(1e-3, 0.5, groups)]
    config: dict[str, Any] = {
        "lr": lrs if groups > 1 else lrs[0],
        "t_initial": int(rng.choice([1, 2, 7, int(rng.integers(3, 80))])),
        "lr_min": float(rng.choice([0.0, float(rng.uniform(0, 1e-3))])),
        "cycle_mul": float(rng.choice([1.0, 1.0, 2.0, 1.5, 3.0, 10.0, float(rng.uniform(1.01, 2.5))])),
        "cycle_decay": float(rng.choice([1.0, float(rng.uniform(0.2, 1.0))])),
        "cycle_limit": int(rng.choice([0, 1, 2, 5, 30, 10_000])),
        "warmup_t": int(rng.choice([0, 0, 1, int(rng.integers(2, 40))])),
        "warmup_lr_init": float(rng.choice([0.0, float(rng.uniform(0, 1e-2))])),
        "warmup_prefix": bool(rng.integers(0, 2)),
        "t_in_epochs": bool(rng.integers(0, 2)),
        "k_decay": float(rng.choice([1.0, 1.0, 2.0, float(rng.uniform(0.3, 3.0))])),
    }
    if rng.integers(0, 3) == 0:
        config["lr_scale"] = [float(x) for x in rng.uniform(0.1, 1.0, groups)] if groups > 1 else 0.65
    return config


CONFIGS = [random_config(np.random.default_rng(seed)) for seed in range(40)]
STEPS = 1500


def _spec(config: dict) -> TimmCosineSpec:
    return TimmCosineSpec(**config)


def _groups(spec: TimmCosineSpec) -> range:
    return range(spec.num_groups or 1)


def _stepped(spec: TimmCosineSpec, steps: int, per_epoch: bool) -> np.ndarray:
    """(steps, groups): the groups' lr before each update as a training loop drives timm: per
    update, ``step_update(num_updates)`` after each (a ``t_in_epochs=False`` schedule); per epoch
    (one update an "epoch" here), ``step(epoch + 1)`` after each (``t_in_epochs=True``)."""
    sched, opt = make_golden_timm.timm_scheduler(spec.replace(t_in_epochs=per_epoch))
    out = []
    for t in range(steps):
        out.append([g["lr"] for g in opt.param_groups])
        if per_epoch:
            sched.step(t + 1)
            sched.step_update(num_updates=(t + 1) * 7)  # ignored by a per-epoch schedule, as in timm
        else:
            sched.step_update(num_updates=t + 1)
            sched.step(t + 1)  # ignored by a per-update schedule
    return np.array(out, dtype=np.float64)


# ------------------------------------------------------------------------------ numpy and torch
@needs_timm
@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_numpy_is_timm_bitwise_driven_either_way(index):
    spec = _spec(CONFIGS[index])
    per_update, per_epoch = _stepped(spec, STEPS, False), _stepped(spec, STEPS, True)
    np.testing.assert_array_equal(per_update, per_epoch)  # t_in_epochs picks the call, not the values
    for g in _groups(spec):
        np.testing.assert_array_equal(spec.lr(np.arange(STEPS), g), per_update[:, g], err_msg=str(CONFIGS[index]))


@needs_timm
@pytest.mark.parametrize("index", range(0, len(CONFIGS), 3))
def test_numpy_far_into_training_is_timm_bitwise(index):
    spec = _spec(CONFIGS[index])
    steps = np.concatenate(
        [make_golden_timm.far_steps(), np.array([2**40 + 3, 2**53 - 1]) if spec.cycle_mul == 1.0 else np.array([], int)]
    )
    reference = make_golden_timm.timm_values(spec, steps)
    for g in _groups(spec):
        np.testing.assert_array_equal(spec.lr(steps, g), reference[:, g])


@needs_timm
@pytest.mark.parametrize("index", range(0, len(CONFIGS), 2))
def test_torch_scheduler_is_timm_bitwise_and_resumes_at_random_k(index):
    import torch

    import clr_torch

    spec = _spec(CONFIGS[index])
    reference = _stepped(spec, 600, per_epoch=spec.t_in_epochs)

    def optimizer():
        params = [torch.nn.Parameter(torch.zeros(1)) for _ in _groups(spec)]
        return torch.optim.SGD([{"params": [p], "lr": 9.0} for p in params], lr=9.0, momentum=0.9)

    opt = optimizer()
    sched = clr_torch.scheduler(opt, spec)
    ours = []
    for _ in range(600):
        ours.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    np.testing.assert_array_equal(np.array(ours), reference)
    for k in np.random.default_rng(index).integers(0, 600, 4).tolist():
        opt = optimizer()
        sched = clr_torch.scheduler(opt, spec, step=k)
        assert [g["lr"] for g in opt.param_groups] == reference[k].tolist()
        opt.step()
        sched.step()
        if k + 1 < 600:
            assert [g["lr"] for g in opt.param_groups] == reference[k + 1].tolist()
        # the saved SpecLR gives the spec back, and resumes where it was
        state = sched.state_dict()
        assert clr_spec.from_torch(state) == spec
        again = clr_torch.SpecLR(optimizer(), spec)
        again.load_state_dict(state)
        assert again.last_epoch == k + 1


@needs_timm
def test_a_timm_training_loop_per_update_and_per_epoch():
    """timm's train script: step_update(num_updates) after each update, step(epoch + 1) after each
    epoch. Per update (t_in_epochs=False) the k-th update uses spec.lr(k); per epoch, epoch e uses
    spec.lr(e) (clr_torch: SpecLR stepped once an epoch; optax: the schedule at count // per_epoch)."""
    updates_per_epoch = 7
    for per_epoch in (False, True):
        spec = TimmCosineSpec(
            lr=[0.1, 0.02],
            t_initial=30 if not per_epoch else 5,
            cycle_limit=3,
            cycle_decay=0.5,
            warmup_t=4 if not per_epoch else 1,
            warmup_lr_init=1e-3,
            lr_min=1e-4,
            t_in_epochs=per_epoch,
        )
        sched, opt = make_golden_timm.timm_scheduler(spec)
        used, num_updates = [], 0
        for epoch in range(12):
            for _ in range(updates_per_epoch):
                used.append([g["lr"] for g in opt.param_groups])  # this update's lr
                num_updates += 1
                sched.step_update(num_updates=num_updates)
            sched.step(epoch + 1)
        used = np.array(used)
        k = np.arange(len(used))
        t = k // updates_per_epoch if per_epoch else k
        for g in range(2):
            np.testing.assert_array_equal(used[:, g], spec.lr(t, g))


@needs_timm
def test_step_0_is_what_timm_writes_at_construction():
    """timm writes lr (warmup_lr_init with a warmup) at construction; its _get_lr(0), which a loop
    calling step(0) would write, differs where there is no cycle (cycle_limit=0: lr_min) or, by
    rounding, where lr_min + (lr - lr_min) is not lr."""
    for spec in (
        TimmCosineSpec(lr=0.3, t_initial=10, cycle_limit=0, lr_min=0.01),
        TimmCosineSpec(lr=0.3, t_initial=10, lr_min=0.03),
        TimmCosineSpec(lr=0.3, t_initial=10, warmup_t=5, warmup_lr_init=0.01),
    ):
        sched, opt = make_golden_timm.timm_scheduler(spec)
        assert float(spec.lr(0)) == opt.param_groups[0]["lr"]
        if spec.cycle_limit == 0:
            assert sched._get_lr(0) == [0.01] != [float(spec.lr(0))]
        if spec.lr_min == 0.03:  # the rounding case, by hand
            assert 0.03 + (0.3 - 0.03) != 0.3 and sched._get_lr(0) != [0.3]


@needs_timm
def test_lr_scale_of_timm_layer_decay():
    spec = TimmCosineSpec(lr=0.2, t_initial=25, cycle_limit=3, warmup_t=3, lr_scale=[1.0, 0.75, 0.5625])
    reference = _stepped(spec, 200, per_epoch=False)
    for g in range(3):
        np.testing.assert_array_equal(spec.lr(np.arange(200), g), reference[:, g])
    sched, opt = make_golden_timm.timm_scheduler(spec)
    assert from_timm(sched) == spec
    assert from_timm(sched.state_dict(), optimizer_state=opt.state_dict()) == spec
    assert from_timm(sched.state_dict()) == spec.replace(lr_scale=1.0)  # a state alone has no groups


# ------------------------------------------------------------------------------ timm's float log
@needs_timm
def test_the_cycle_index_is_timms_float_log_not_the_exact_one():
    # math.log(1000, 10) == 2.9999999999999996: timm puts step 111 of t_initial=1, cycle_mul=10 in
    # cycle 2 (at its bottom, lr_min), not at the start of cycle 3 (the peak), where exactly it is.
    assert math.floor(math.log(1000, 10)) == 2
    spec = TimmCosineSpec(lr=0.1, t_initial=1, cycle_mul=10.0, cycle_limit=5, lr_min=1e-3)
    assert float(spec.lr(111)) == 1e-3 and float(spec.lr(112)) > 0.09
    reference = make_golden_timm.timm_values(spec, np.arange(1, 1300))
    np.testing.assert_array_equal(spec.lr(np.arange(1, 1300)), reference[:, 0])


@needs_timm
def test_a_cycle_whose_position_starts_below_0():
    # cycle_mul=1.3, t_initial=10: timm's log puts step 23 in cycle 2, whose offset rounds to
    # 23.000000000000004: t_curr = -3.6e-15. With k_decay=1 timm takes cos of it (the peak); with a
    # fractional k_decay its power is complex and its math.cos raises: the spec takes the peak there.
    assert 23 - (1 - 1.3**2) / (1 - 1.3) * 10 < 0
    spec = TimmCosineSpec(lr=0.1, t_initial=10, cycle_mul=1.3, cycle_limit=4)
    reference = make_golden_timm.timm_values(spec, np.arange(60))
    np.testing.assert_array_equal(spec.lr(np.arange(60)), reference[:, 0])
    fractional = spec.replace(k_decay=1.5)
    sched, _ = make_golden_timm.timm_scheduler(fractional)
    with pytest.raises(TypeError):
        sched.step(23)
    assert float(fractional.lr(23)) == 0.1 * 1.0**2 and float(spec.lr(23)) == 0.1
    squared = spec.replace(k_decay=2.0)  # an integer k_decay: timm's pow of the negative position
    np.testing.assert_array_equal(squared.lr(np.arange(60)), make_golden_timm.timm_values(squared, np.arange(60))[:, 0])


# ------------------------------------------------------------------------------ optax
@needs_jax
@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_optax_float32_x64_and_the_float32_only_path(index):
    import jax

    from clr_optax import _family as optax_family

    spec = _spec(CONFIGS[index])
    steps = np.concatenate([np.arange(STEPS), make_golden_timm.far_steps()])
    for g in _groups(spec):
        # the reference: timm's values where timm imports (checked above to be spec.lr's bitwise), else spec.lr
        reference = make_golden_timm.timm_values(spec, steps)[:, g] if TIMM is not None else spec.lr(steps, g)
        ours = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", g))(steps.astype(np.int32)))
        check_float32(f"timm {index}", "lr", ours, reference, max_ulp=0, min_exact=1.0, evaluator="clr_optax timm")
        with jax.enable_x64(True):
            x64 = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", g))(steps))
        np.testing.assert_array_equal(x64, reference)
        tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", g, "float-float"))(steps.astype(np.int32)))
        check_float32_only(spec, g, tpu, reference)


def check_float32_only(spec: TimmCosineSpec, group: int, ours: np.ndarray, reference: np.ndarray) -> None:
    """The float32-only path's stated bound: FLOAT32_ONLY_ULPS of float32(timm), or
    FLOAT32_ONLY_ABSOLUTE of the peak (the group's lr times its scale)."""
    assert ours.dtype == np.float32
    ref32 = flush_subnormals(reference)
    peak = spec.group_lr(group) * spec.group_scale(group)
    far = ulp_distance(ours, ref32) > FLOAT32_ONLY_ULPS
    close = np.abs(ours.astype(np.float64) - reference) <= FLOAT32_ONLY_ABSOLUTE * peak
    bad = far & ~close
    assert not bad.any(), (
        f"float32-only path off at steps {np.nonzero(bad)[0][:5]}: {ours[bad][:3]} vs {reference[bad][:3]}"
    )


@needs_jax
def test_optax_per_epoch_schedule_from_the_update_count():
    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = TimmCosineSpec(lr=0.1, t_initial=10, cycle_limit=2, warmup_t=2)  # t in epochs
    per_epoch = clr_optax.lr_schedule(spec)
    updates_per_epoch = 50
    schedule = jax.jit(lambda count: per_epoch(count // updates_per_epoch))
    counts = jnp.arange(30 * updates_per_epoch)
    np.testing.assert_array_equal(
        np.asarray(schedule(counts)), spec.lr(np.arange(30 * updates_per_epoch) // updates_per_epoch).astype(np.float32)
    )


# ------------------------------------------------------------------------------ golden (no timm, no torch)
GOLDEN, GOLDEN_VERSION = make_golden_timm.load()
GOLDEN_NAMES = sorted(make_golden_timm.CONFIGS)


@needs_timm
def test_golden_file_is_current():
    fresh = make_golden_timm.compute()
    assert sorted(fresh) == sorted(GOLDEN), "configurations changed: python -m parity_tests.make_golden_timm"
    for key, values in fresh.items():
        np.testing.assert_array_equal(GOLDEN[key], values, err_msg=f"{key}: python -m parity_tests.make_golden_timm")
    assert GOLDEN_VERSION == _timm.version()


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_numpy_is_golden_bitwise(name):
    spec, steps = make_golden_timm.CONFIGS[name]
    for g in _groups(spec):
        np.testing.assert_array_equal(spec.lr(np.arange(steps), g), GOLDEN[f"{name}/lr"][:, g])
        np.testing.assert_array_equal(spec.lr(make_golden_timm.far_steps(), g), GOLDEN[f"{name}/far_lr"][:, g])


@needs_jax
@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_optax_is_golden(name):
    import jax

    import clr_optax
    from clr_optax import _family as optax_family

    spec, steps = make_golden_timm.CONFIGS[name]
    for key, k in ((f"{name}/lr", np.arange(steps)), (f"{name}/far_lr", make_golden_timm.far_steps())):
        for g in _groups(spec):
            reference = GOLDEN[key][:, g]
            ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(k.astype(np.int32)))
            check_float32(
                f"timm {name} (golden)",
                "lr",
                ours,
                reference,
                max_ulp=0,
                min_exact=1.0,
                evaluator="clr_optax timm, golden",
            )
            with jax.enable_x64(True):
                np.testing.assert_array_equal(np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(k)), reference)
            tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", g, "float-float"))(k.astype(np.int32)))
            check_float32_only(spec, g, tpu, reference)


def test_golden_values_by_hand():
    # default_one_cycle: lr 0.05, t_initial 300: at step 150 the cosine is at its middle (cos(pi/2)
    # rounds to 6.1e-17, so the value is 0.025 within an ulp); from step 300 on, lr_min = 0.
    one = GOLDEN["default_one_cycle/lr"]
    assert one[0, 0] == 0.05 and one[150, 0] == pytest.approx(0.025, rel=1e-15) and not one[300:].any()
    # restarts_decay_warmup: the warmup is linear from 1e-4 to 0.1 over 20 steps (group 1)
    warm = GOLDEN["restarts_decay_warmup/lr"][:20, 1]
    np.testing.assert_allclose(warm, 1e-4 + np.arange(20) * (0.1 - 1e-4) / 20, rtol=1e-15)


# ------------------------------------------------------------------------------ JSON, from_timm
@pytest.mark.parametrize("index", range(0, len(CONFIGS), 4))
def test_json_round_trip(index):
    spec = _spec(CONFIGS[index])
    text = spec.to_json()
    assert json.loads(text)["format"] == "clr.TimmCosineSpec"
    assert clr_spec.from_json(text) == spec and hash(clr_spec.from_json(text)) == hash(spec)
    np.testing.assert_array_equal(clr_spec.from_json(text).lr(np.arange(300)), spec.lr(np.arange(300)))


@needs_timm
@pytest.mark.parametrize("index", range(0, len(CONFIGS), 2))
def test_from_timm_of_the_object_and_its_state(index):
    spec = _spec(CONFIGS[index])
    sched, opt = make_golden_timm.timm_scheduler(spec)
    sched.step(5)
    sched.step_update(num_updates=9)  # timm keeps no step: the state is the same at any t
    state = sched.state_dict()
    assert from_timm(sched) == spec
    assert from_timm(state, optimizer_state=opt.state_dict()) == spec
    before = {k: (list(val) if isinstance(val, list) else val) for k, val in state.items()}
    from_timm(state)
    assert state == before  # nothing the user passes is changed


@needs_timm
def test_from_timm_refuses_what_it_does_not_read():
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    noisy = TIMM.CosineLRScheduler(opt, t_initial=10, noise_range_t=5)
    with pytest.raises(ValueError, match="noise_range_t"):
        from_timm(noisy)
    with pytest.raises(ValueError, match="noise_range_t"):
        TimmCosineSpec(lr=0.1, t_initial=10, noise_range_t=(2, 5))
    state = TIMM.CosineLRScheduler(opt, t_initial=10).state_dict()
    for change, message in (
        ({"power": 1.0}, "PolyLRScheduler"),
        ({"lb": -7.0}, "TanhLRScheduler"),
        ({"decay_t": 3}, "StepLRScheduler"),
        ({"decay_rate": 0.1}, "timm < 0.5"),
        ({"surprise": 1}, "does not keep"),
        ({"warmup_steps": [0.5]}, "warmup_steps"),
        ({"t_initial": 0}, "t_initial"),
        ({"cycle_mul": 0.5}, "cycle_mul"),
        ({"base_values": []}, "base_values"),
        ({"param_group_field": "weight_decay"}, "param_group_field"),
    ):
        with pytest.raises(ValueError, match=message):
            from_timm({**state, **change})
    missing = dict(state)
    del missing["k_decay"]
    with pytest.raises(ValueError, match="k_decay"):
        from_timm(missing)

    class PolyLRScheduler:  # timm's other classes, by name and module (no timm import in clr_spec)
        __module__ = "timm.scheduler.poly_lr"

        def state_dict(self):
            return {}

    with pytest.raises(TypeError, match="PolyLRScheduler"):
        from_timm(PolyLRScheduler())
    with pytest.raises(TypeError, match="CosineLRScheduler"):
        from_timm(torch.optim.lr_scheduler.StepLR(opt, 3))


def test_the_spec_of_a_spec_lr_state():
    state = {
        "last_epoch": 3,
        "base_lrs": [0.1],
        "_step_count": 4,
        "spec_document": TimmCosineSpec(lr=0.1, t_initial=5).to_dict(),
    }
    assert TimmCosineSpec.from_torch(state) == TimmCosineSpec(lr=0.1, t_initial=5)
    assert clr_spec.from_torch(state) == TimmCosineSpec(lr=0.1, t_initial=5)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "field, value, error, message",
    [
        ("t_initial", 0, ValueError, r"t_initial must be an int >= 1"),
        ("t_initial", 2**31, ValueError, r"t_initial must be an int in \[1, 2\*\*31 - 1\]"),
        ("t_initial", 10**40, ValueError, "t_initial must be an int < 2\\*\\*53"),
        ("t_initial", 10.0, TypeError, "t_initial must be an int"),
        ("t_initial", True, TypeError, "t_initial must be an int"),
        ("lr", -0.1, ValueError, "lr must be >= 0"),
        ("lr", [0.1, math.nan], ValueError, r"lr\[1\] must be finite"),
        ("lr", [], ValueError, "non-empty"),
        ("lr", "0.1", TypeError, "lr must be a real number"),
        ("lr_min", math.inf, ValueError, "lr_min must be finite"),
        ("cycle_mul", 0.9, ValueError, r"cycle_mul must be in \[1.0, 9007199254740992.0\]"),
        ("cycle_mul", math.nan, ValueError, "cycle_mul must be in"),
        ("cycle_decay", 1.5, ValueError, r"cycle_decay must be in \[0.0, 1.0\]"),
        ("cycle_decay", -0.1, ValueError, "cycle_decay must be in"),
        ("cycle_limit", -1, ValueError, "cycle_limit must be an int >= 0"),
        ("cycle_limit", 2**31, ValueError, r"cycle_limit must be an int in \[0, 2\*\*31 - 1\]"),
        ("warmup_t", -1, ValueError, "warmup_t must be an int >= 0"),
        ("warmup_t", 3.0, TypeError, "warmup_t must be an int"),
        ("warmup_lr_init", -1e-3, ValueError, "warmup_lr_init must be >= 0"),
        ("warmup_prefix", "yes", TypeError, "warmup_prefix must be a bool"),
        ("t_in_epochs", 2, TypeError, "t_in_epochs must be a bool"),
        ("k_decay", 0.0, ValueError, r"k_decay must be in \(0.0, 16.0\]"),
        ("k_decay", 17.0, ValueError, "k_decay must be in"),
        ("k_decay", math.inf, ValueError, "k_decay must be in"),
        ("lr_scale", [1.0, -1.0], ValueError, r"lr_scale\[1\] must be >= 0"),
        ("noise_pct", "x", TypeError, "noise_pct must be a real number"),
    ],
)
def test_every_bad_field_is_named(field, value, error, message):
    with pytest.raises(error, match=message):
        TimmCosineSpec(**{"lr": 0.1, "t_initial": 10, field: value})


def test_refusals_that_span_fields():
    with pytest.raises(ValueError, match="same length"):
        TimmCosineSpec(lr=[0.1, 0.2], t_initial=10, lr_scale=[1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="tables at most"):
        TimmCosineSpec(lr=0.1, t_initial=1, cycle_mul=1.00001, cycle_limit=INT32_MAX)
    spec = TimmCosineSpec(lr=[0.1, 0.2], t_initial=10)
    with pytest.raises(ValueError, match="group must be"):
        spec.lr(3, group=2)
    with pytest.raises(ValueError, match="momentum"):
        spec.momentum(3)
    with pytest.raises(ValueError, match="steps must be >= 0"):
        spec.lr(-1)


def test_nothing_passed_is_changed_and_counts_reach_int32_max():
    lrs = [0.1, 0.2]
    spec = TimmCosineSpec(
        lr=lrs, t_initial=INT32_MAX, cycle_limit=INT32_MAX, warmup_t=INT32_MAX, cycle_mul=2.0, cycle_decay=0.5
    )
    assert lrs == [0.1, 0.2]
    values = spec.lr([0, 1, INT32_MAX - 1, INT32_MAX, 2**53 - 1], 1)
    assert np.all(np.isfinite(values)) and values[0] == 0.0
    # by hand: a warmup of 2**31 - 1 steps from 0 to 0.2 covering the first cycle (no warmup_prefix), then
    # the second cycle (log2(1 + 1) = 1 exactly) from its start, at half the peak
    assert values[2] == (INT32_MAX - 1) * (0.2 / INT32_MAX) and values[3] == 0.2 * 0.5


def test_the_docstring_example_by_hand():
    # warmup 2 steps from 0 to 1 (0, 0.5), cycle of 4 from 1: (1 + cos(pi k / 4)) / 2, then a restart
    # at half the peak, then lr_min (cycle_limit=2)
    spec = TimmCosineSpec(lr=1.0, t_initial=4, cycle_limit=2, cycle_decay=0.5, warmup_t=2, warmup_prefix=True)
    cycle = [(1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)]
    np.testing.assert_allclose(
        spec.lr(range(12)), [0.0, 0.5, *cycle, *(0.5 * c for c in cycle), 0.0, 0.0], rtol=1e-15, atol=1e-16
    )
