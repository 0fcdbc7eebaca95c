"""torch's step decays (StepLR, MultiStepLR, ExponentialLR, PolynomialLR): seeded random
configurations against torch stepped (its recursion, not its closed form), alone and after a
warmup in a SequentialLR, resumed, through JSON and a checkpoint; past the replayed table
against torch's arithmetic in Python; bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import clr_spec
from clr_spec import ExponentialSpec, LinearSpec, MultiStepSpec, PolynomialSpec, SequentialSpec, StepSpec
from clr_spec._decays import MAX_DECAYS

from ._frameworks import needs_jax, needs_torch
from ._helpers import check_float32, check_relative, stepped_lrs, two_group_sgd, ulp_distance

LRS = [0.05, 0.1]


def random_configs(seed: int = 0, count: int = 6) -> list:
    """(spec, torch builder) pairs of each decay, with seeded random settings."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        gamma = float(rng.uniform(0.05, 0.999))
        step_size = int(rng.integers(1, 60))
        milestones = sorted(int(m) for m in rng.integers(0, 500, int(rng.integers(1, 6))))
        milestones += milestones[:1]  # a repeated milestone decays twice
        total, power = int(rng.integers(1, 700)), float(rng.uniform(0.0, 4.0))
        exp_gamma = float(1 - 10 ** rng.uniform(-4, -0.5))
        out += [
            (
                StepSpec(lr=LRS, step_size=step_size, gamma=gamma),
                lambda o, s=step_size, g=gamma: _T().StepLR(o, step_size=s, gamma=g),
            ),
            (
                MultiStepSpec(lr=LRS, milestones=milestones, gamma=gamma),
                lambda o, m=milestones, g=gamma: _T().MultiStepLR(o, milestones=m, gamma=g),
            ),
            (ExponentialSpec(lr=LRS, gamma=exp_gamma), lambda o, g=exp_gamma: _T().ExponentialLR(o, gamma=g)),
            (
                PolynomialSpec(lr=LRS, total_iters=total, power=power),
                lambda o, t=total, p=power: _T().PolynomialLR(o, total_iters=t, power=p),
            ),
        ]
    return out


def _T():
    from torch.optim import lr_scheduler

    return lr_scheduler


def _optimizer():
    return two_group_sgd(LRS)


def _torch_lrs(build, steps: int) -> np.ndarray:
    return stepped_lrs(build, steps, LRS)[0]


CONFIGS = random_configs()
IDS = [f"{type(s).__name__}-{i}" for i, (s, _) in enumerate(CONFIGS)]
STEPS = 1200


@needs_torch
@pytest.mark.parametrize("spec, build", CONFIGS, ids=IDS)
def test_torch_stepped_bitwise_in_numpy_and_torch(spec, build):
    import clr_torch

    reference = _torch_lrs(build, STEPS)
    for g in range(2):
        np.testing.assert_array_equal(spec.lr(np.arange(STEPS), g), reference[:, g])
    np.testing.assert_array_equal(_torch_lrs(lambda o: clr_torch.scheduler(o, spec), STEPS), reference)
    for k in np.random.default_rng(1).integers(0, STEPS, 3):
        opt = _optimizer()
        clr_torch.scheduler(opt, spec, step=int(k))
        assert [g["lr"] for g in opt.param_groups] == reference[k].tolist()


@needs_torch
@needs_jax
@pytest.mark.parametrize("spec, build", CONFIGS, ids=IDS)
def test_optax_is_float32_of_torch_and_migrates(spec, build):
    import jax
    import torch

    import clr_optax

    opt = _optimizer()
    reference = _torch_lrs(build, STEPS)
    k = np.arange(STEPS)
    for g in range(2):
        ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(k))
        check_float32(f"{type(spec).__name__} random", "lr", ours, reference[:, g], max_ulp=0, min_exact=1.0)
        tpu = np.asarray(jax.jit(clr_optax._family.schedule_of(spec, "lr", g, "float-float"))(k))
        check_float32(
            f"{type(spec).__name__} random float32-only", "lr", tpu, reference[:, g], max_ulp=0, min_exact=1.0
        )
    # a torch checkpoint at step 300 -> JSON -> optax continues torch's trajectory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build(opt)
        for _ in range(300):
            opt.step()
            sched.step()
    state = torch.load(_saved(sched.state_dict(), opt.state_dict()), weights_only=True)
    moved = clr_spec.from_json(clr_spec.from_torch(state["scheduler"], state["optimizer"]).to_json())
    assert moved == spec
    tx = clr_optax.sgd(moved, 1)
    st = clr_optax.set_count(tx.init(np.zeros(1, np.float32)), int(state["scheduler"]["last_epoch"]))
    _, st = tx.update(np.ones(1, np.float32), st)
    assert float(clr_optax.current_hyperparams(st)["learning_rate"]) == np.float32(reference[300, 1])


def _saved(scheduler_state, optimizer_state):
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"scheduler": scheduler_state, "optimizer": optimizer_state}, buffer)
    buffer.seek(0)
    return buffer


@needs_torch
@pytest.mark.parametrize("spec, build", CONFIGS[:4], ids=IDS[:4])
def test_after_a_warmup_in_a_sequential_lr(spec, build):
    import clr_torch

    warmup = LinearSpec(lr=LRS, start_factor=0.1, total_iters=40)
    sequence = SequentialSpec([warmup, spec], milestones=[40])
    reference = _torch_lrs(
        lambda o: _T().SequentialLR(o, [_T().LinearLR(o, start_factor=0.1, total_iters=40), build(o)], milestones=[40]),
        600,
    )
    for g in range(2):
        ours = sequence.lr(np.arange(600), g)
        # torch steps LinearLR recursively (within 1e-12 of its closed form: docs/design.md); the
        # decay restarts from the lr at the milestone and is torch's recursion, bitwise.
        np.testing.assert_allclose(ours[:40], reference[:40, g], rtol=1e-12, atol=0)
        np.testing.assert_array_equal(ours[40:], reference[40:, g])
    np.testing.assert_array_equal(_torch_lrs(lambda o: clr_torch.scheduler(o, sequence), 600), reference)


def _recursion(lr: float, gamma: float, steps: int) -> np.ndarray:
    """torch's ExponentialLR arithmetic (``group["lr"] * gamma`` per step) in Python floats."""
    out = [lr]
    for _ in range(steps - 1):
        out.append(out[-1] * gamma)
    return np.array(out)


def test_past_the_table_within_the_stated_bound():
    """ExponentialLR with gamma near 1 runs past MAX_DECAYS: the table's last value, continued
    in closed form, stays within (n - MAX_DECAYS) * 2**-53 relative of torch's recursion."""
    spec = ExponentialSpec(lr=0.1, gamma=0.99999)
    values, ended = spec.table(0.1)
    assert not ended and len(values) == MAX_DECAYS + 1
    steps = MAX_DECAYS + 20_000
    reference = _recursion(0.1, 0.99999, steps)
    ours = spec.lr(np.arange(steps))
    np.testing.assert_array_equal(ours[: MAX_DECAYS + 1], reference[: MAX_DECAYS + 1])
    past = np.arange(MAX_DECAYS + 1, steps)
    relative = np.abs(ours[past] - reference[past]) / reference[past]
    assert np.all(relative <= (past - MAX_DECAYS) * 2.0**-53 + 2.0**-52)


@needs_jax
def test_past_the_table_in_float32():
    import jax

    import clr_optax

    spec = ExponentialSpec(lr=0.1, gamma=0.99999)
    steps = MAX_DECAYS + 20_000
    reference = _recursion(0.1, 0.99999, steps)
    k = np.arange(steps)
    ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec))(k))
    check_float32("ExponentialLR past the table", "lr", ours, reference, max_ulp=1, min_exact=0.99)
    tpu = np.asarray(jax.jit(clr_optax._family.schedule_of(spec, "lr", 0, "float-float"))(k))
    assert ulp_distance(tpu[: MAX_DECAYS + 1], reference[: MAX_DECAYS + 1].astype(np.float32)).max() == 0
    check_float32("ExponentialLR past the table float32-only", "lr", tpu, reference, max_ulp=4, min_exact=0.5)
    with jax.enable_x64(True):
        x64 = np.asarray(jax.jit(clr_optax.lr_schedule(spec))(k))
    check_relative("ExponentialLR past the table x64", "lr", x64, reference, rtol=4e-12, evaluator="clr_optax")


def test_the_recursion_ends_where_it_stops_changing():
    """gamma=0.1 reaches 0 (or a fixed point) within ~330 decays: the table then holds every
    step exactly, however far (torch's arithmetic in Python to 2**31 - 1 is the same value)."""
    spec = StepSpec(lr=0.1, step_size=1, gamma=0.1)
    values, ended = spec.table(0.1)
    assert ended and len(values) < 400
    assert spec.lr([2**31 - 1]).item() == values[-1]
    half = ExponentialSpec(lr=1.0, gamma=0.75)  # the smallest subnormal is a fixed point
    values, ended = half.table(1.0)
    assert ended and 0 < values[-1] < 1e-300 and values[-1] * 0.75 == values[-1]


def test_repeated_milestones_and_torch_s_counter():
    spec = MultiStepSpec(lr=1.0, milestones=[4, 2, 4], gamma=0.5)
    assert spec.milestones == (2, 4, 4)
    assert spec.lr(range(6)).tolist() == [1.0, 1.0, 0.5, 0.5, 0.125, 0.125]
    from collections import Counter

    state = {"base_lrs": [1.0], "last_epoch": 0, "milestones": Counter([2, 4, 4]), "gamma": 0.5}
    assert clr_spec.from_torch(state) == spec


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: StepSpec(lr=0.1, step_size=0), ValueError, r"step_size must be an int (>= 1|in \[1)"),
        (lambda: StepSpec(lr=0.1, step_size=2.5), TypeError, "step_size must be an int"),
        (lambda: StepSpec(lr=0.1, step_size=3, gamma=1.5), ValueError, r"gamma must be in \(0.0, 1.0\]"),
        (lambda: ExponentialSpec(lr=0.1, gamma=0.0), ValueError, r"gamma must be in \(0.0, 1.0\]"),
        (lambda: ExponentialSpec(lr=0.1, gamma=float("nan")), ValueError, "gamma"),
        (lambda: MultiStepSpec(lr=0.1, milestones=[-1]), ValueError, r"milestones\[0\] must be an int (>= 0|in \[0)"),
        (lambda: MultiStepSpec(lr=0.1, milestones="12"), TypeError, "milestones must be a list of ints"),
        (lambda: MultiStepSpec(lr=0.1, milestones=[2**60]), ValueError, r"milestones.* 2\*\*53"),
        (lambda: PolynomialSpec(lr=0.1, power=-1.0), ValueError, "power must be in"),
        (lambda: PolynomialSpec(lr=0.1, total_iters=0), ValueError, r"total_iters must be an int (>= 1|in \[1)"),
    ],
)
def test_bad_input_gets_a_clear_error(make, error, match):
    with pytest.raises(error, match=match):
        make()


@needs_torch
@needs_jax
@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "PolynomialLR", "warmup+MultiStepLR"])
def test_a_torch_checkpoint_through_clr_from_torch_continues_in_optax(name, tmp_path):
    """torch.save at step 250 -> `clr from-torch` -> JSON -> clr_optax continues torch's lrs exactly."""
    import jax
    import torch

    import clr_optax
    from clr_spec import cli

    T = _T()
    builds = {
        "StepLR": lambda o: T.StepLR(o, step_size=40, gamma=0.6),
        "MultiStepLR": lambda o: T.MultiStepLR(o, milestones=[100, 300, 300], gamma=0.2),
        "ExponentialLR": lambda o: T.ExponentialLR(o, gamma=0.995),
        "PolynomialLR": lambda o: T.PolynomialLR(o, total_iters=450, power=1.5),
        "warmup+MultiStepLR": lambda o: T.SequentialLR(
            o,
            [T.LinearLR(o, start_factor=0.1, total_iters=50), T.MultiStepLR(o, milestones=[150, 300], gamma=0.1)],
            milestones=[50],
        ),
    }
    reference = _torch_lrs(builds[name], 600)
    opt = _optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = builds[name](opt)
        for _ in range(250):
            opt.step()
            sched.step()
    checkpoint, spec_file = tmp_path / "run.pt", tmp_path / "spec.json"
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, checkpoint)
    assert cli.main(["from-torch", str(checkpoint), "-o", str(spec_file)]) == 0
    spec = clr_spec.from_json(spec_file.read_text())
    k = np.arange(250, 600)
    for g in range(2):
        ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(k))
        check_float32(f"{name} via clr from-torch", "lr", ours, reference[250:, g], max_ulp=0, min_exact=1.0)
