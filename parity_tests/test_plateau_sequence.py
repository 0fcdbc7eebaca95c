"""A warmup or cycles, then ReduceLROnPlateau (``PlateauSequenceSpec``, the composition torch's
SequentialLR cannot hold), in both frameworks.

The reference is written here in plain torch, as a user without this library would: torch's
own schedulers for the stepped phases until the milestone, then torch's ``ReduceLROnPlateau`` on
the groups set to the plateau's lr, stepped with each metric given from the milestone on, before
the update it belongs to. clr_torch's ``PlateauSequenceLR`` gives those lrs (and momenta) bit for
bit, clr_optax ``float32`` of them; both resume mid-run from the state the other leaves.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import clr_spec
from clr_spec import CyclicSpec, LinearSpec, PlateauSequenceSpec, PlateauSpec, SequentialSpec

from ._frameworks import needs_both, needs_jax, needs_torch

PLATEAU = dict(mode="min", factor=0.5, patience=1, threshold=1e-3, cooldown=1, min_lr=[1e-4, 1e-5])
LRS = [0.1, 0.05]


def _metrics(seed: int, n: int, every: int = 5) -> list:
    """A metric with every ``every``-th update (an epoch's end), None on the others: a loss that
    improves, stalls and worsens, with the odd NaN."""
    rng = np.random.default_rng(seed)
    value, out = 2.0, []
    for k in range(n):
        if k % every:
            out.append(None)
            continue
        r = rng.random()
        value = value * (1 - rng.uniform(0, 0.05)) if r < 0.4 else (value if r < 0.7 else value * 1.02)
        out.append(float("nan") if r > 0.97 else float(np.float32(value)))
    return out


def _specs():
    warmup = LinearSpec(lr=LRS, start_factor=0.1, total_iters=20)
    cycles = CyclicSpec(base_lr=[0.01, 0.005], max_lr=LRS, step_size_up=7, base_momentum=0.8, max_momentum=0.9)
    return {
        "warmup_then_plateau": SequentialSpec([warmup, PlateauSpec(lr=LRS, **PLATEAU)], milestones=[20]),
        "warmup_cycles_then_plateau": SequentialSpec(
            [warmup, cycles, PlateauSpec(lr=LRS, **PLATEAU)], milestones=[20, 48]
        ),
    }


CASES = sorted(_specs())
N = 160


def _sgd():
    import torch

    params = [{"params": [torch.nn.Parameter(torch.zeros(2))]} for _ in LRS]
    return torch.optim.SGD(params, lr=0.3, momentum=0.9)


def _torch_reference(name: str, metrics: list) -> tuple[np.ndarray, np.ndarray]:
    """lrs and momenta of each update, with torch's own classes only."""
    import torch
    from torch.optim import lr_scheduler as T

    opt = _sgd()
    for g, lr in zip(opt.param_groups, LRS):
        g["lr"] = lr
    warmup = T.LinearLR(opt, start_factor=0.1, total_iters=20)
    milestone = 20
    if name == "warmup_cycles_then_plateau":
        cycles = T.CyclicLR(opt, base_lr=[0.01, 0.005], max_lr=LRS, step_size_up=7, base_momentum=0.8, max_momentum=0.9)
        stepped = T.SequentialLR(opt, [warmup, cycles], milestones=[20])
        milestone = 48
    else:
        stepped = warmup
    plateau = None
    lrs, momenta = [], []
    for k in range(N):
        if k == milestone:
            for g, lr in zip(opt.param_groups, LRS):
                g["lr"] = lr
            plateau = T.ReduceLROnPlateau(opt, **PLATEAU)
        if plateau is not None and metrics[k] is not None:
            plateau.step(metrics[k])
        lrs.append([g["lr"] for g in opt.param_groups])
        momenta.append([g["momentum"] for g in opt.param_groups])
        opt.step()
        if k + 1 < milestone:
            stepped.step()
    del torch
    return np.asarray(lrs), np.asarray(momenta)


def _clr_torch(spec, metrics: list, start: int = 0, stop: int = N):
    import clr_torch

    opt = _sgd()
    sched = clr_torch.scheduler(opt, spec, step=start)
    lrs, momenta = [], []
    for k in range(start, stop):
        lrs.append([g["lr"] for g in opt.param_groups])
        momenta.append([g["momentum"] for g in opt.param_groups])
        opt.step()
        sched.step(metrics[k + 1] if k + 1 < N else None)
    return np.asarray(lrs), np.asarray(momenta), sched


@needs_torch
@pytest.mark.parametrize("name", CASES)
def test_clr_torch_is_the_hand_written_torch_run_bitwise(name):
    metrics = _metrics(7, N)
    expected_lrs, expected_momenta = _torch_reference(name, metrics)
    lrs, momenta, _ = _clr_torch(_specs()[name], metrics)
    assert lrs.tolist() == expected_lrs.tolist()
    assert momenta.tolist() == expected_momenta.tolist()
    assert len(set(expected_lrs[-40:, 0].tolist())) > 1, "the plateau reduced the lr in this run"


@needs_torch
@pytest.mark.parametrize("name", CASES)
def test_clr_torch_resumes_from_its_state_and_from_torch(name):
    metrics = _metrics(11, N)
    spec = _specs()[name]
    full, full_momenta, _ = _clr_torch(spec, metrics)
    for k in (5, 20, 47, 48, 90, 131):
        _, _, sched = _clr_torch(spec, metrics, stop=k)
        state = json.loads(json.dumps(sched.state_dict()))  # as a checkpoint holds it
        resumed_spec = clr_spec.from_torch(state)
        assert type(resumed_spec) is PlateauSequenceSpec and state["last_epoch"] == k
        lrs, momenta, _ = _clr_torch(resumed_spec, metrics, start=k)
        assert lrs.tolist() == full[k:].tolist(), k
        assert momenta.tolist() == full_momenta[k:].tolist(), k
        # resume_at (SpecLR's O(1) move) builds the parts at the step, as the constructor does
        opt = _sgd()
        moved = __import__("clr_torch").PlateauSequenceLR(opt, resumed_spec)
        moved.resume_at(k)
        assert [g["lr"] for g in opt.param_groups] == full[k].tolist() and moved.last_epoch == k


def _optax_lrs(spec, metrics: list, group: int = 1, start: int = 0, stop: int = N):
    """Group ``group``'s lr of each update, in an inject_hyperparams optax SGD (started at
    ``start`` with set_count), and the state it ends in."""
    import jax.numpy as jnp
    import optax

    import clr_optax

    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=clr_optax.lr_schedule(spec, group), momentum=0.9)
    params = jnp.zeros(2)
    state = clr_optax.set_count(tx.init(params), start)
    out = []
    for k in range(start, stop):
        kwargs = {} if metrics[k] is None else {"value": metrics[k]}
        _, state = tx.update(jnp.ones(2), state, params, **kwargs)
        out.append(state.hyperparams["learning_rate"])
    return np.asarray(out), state


@needs_both
@pytest.mark.parametrize("name", CASES)
def test_optax_is_float32_of_torch_and_moves_mid_run(name):
    import clr_optax

    metrics = _metrics(7, N)
    expected, _ = _torch_reference(name, metrics)
    spec = _specs()[name]
    for group in (0, 1):
        lrs, _ = _optax_lrs(spec, metrics, group)
        assert lrs.dtype == np.float32
        assert lrs.tolist() == expected[:, group].astype(np.float32).tolist(), group
    # optax -> spec -> torch mid-run (one optimizer state per group), continuing torch's run
    k = 97
    states = [_optax_lrs(spec, metrics, group, stop=k)[1] for group in (0, 1)]
    assert int(states[0].hyperparams_states["learning_rate"].count) == k
    resumed = clr_optax.plateau_spec_from_optax(spec, states)
    continued, _, _ = _clr_torch(resumed, metrics, start=k)
    assert continued.tolist() == expected[k:].tolist()


@needs_both
def test_torch_to_optax_mid_run():
    import clr_optax  # noqa: F401 - the optax side below

    name = "warmup_cycles_then_plateau"
    metrics = _metrics(3, N)
    full, _ = _torch_reference(name, metrics)
    for k in (30, 48, 120):
        _, _, sched = _clr_torch(_specs()[name], metrics, stop=k)
        spec = clr_spec.from_torch(sched.state_dict())
        lrs, _ = _optax_lrs(spec, metrics, 1, start=k)
        assert lrs.tolist() == full[k:, 1].astype(np.float32).tolist(), k


@needs_jax
def test_optax_under_jit_and_the_momentum_schedule():
    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = _specs()["warmup_cycles_then_plateau"]
    schedule = clr_optax.lr_schedule(spec, 0)
    state = schedule.init()
    step = jax.jit(lambda s, m: (schedule(s, value=m), schedule.update(s, value=m)))
    lr, state = step(state, jnp.float32(1.0))
    assert float(lr) == np.float32(spec.lr(0, 0)) and int(state.count) == 1
    momentum = clr_optax.momentum_schedule(spec, 0)
    got = np.asarray(jax.jit(momentum)(jnp.arange(100)))
    assert got.tolist() == np.float32(spec.momentum(np.arange(100), 0)).tolist()
    assert got[60] == got[47] == np.float32(spec.stepped.momentum(47, 0))


def test_the_spec_json_and_its_semantics():
    spec = _specs()["warmup_cycles_then_plateau"]
    assert clr_spec.from_json(spec.to_json()) == spec
    assert spec.milestone == 48 and spec.plateau == PlateauSpec(lr=LRS, **PLATEAU)
    # the lr: the phases' before the milestone, the plateau's (its state's) from it on
    assert spec.lr(np.arange(48), 1).tolist() == spec.stepped.lr(np.arange(48), 1).tolist()
    assert spec.lr([48, 10**6], 0).tolist() == [0.1, 0.1]
    # a metric before the milestone is not the plateau's; after it, one epoch
    assert spec.stepped_with(10, 5.0) == spec
    moved = spec.stepped_with(48, 5.0)
    assert moved.plateau.state.best == 5.0 and moved.plateau.state.last_epoch == 1
    assert clr_spec.from_json(moved.to_json()) == moved


@pytest.mark.parametrize(
    "specs, milestones, match",
    [
        ([PlateauSpec(lr=0.1), LinearSpec(lr=0.1, total_iters=3)], [3], "cannot be a phase of a SequentialSpec"),
        ([LinearSpec(lr=0.1, total_iters=3), PlateauSpec(lr=0.1)], [], "one entry fewer than specs"),
        ([LinearSpec(lr=0.1, total_iters=3), PlateauSpec(lr=0.1)], [0], r"milestones\[0\] must be"),
        (
            [LinearSpec(lr=0.1, total_iters=3), LinearSpec(lr=0.1, total_iters=3), PlateauSpec(lr=0.1)],
            [5, 5],
            "strictly increasing",
        ),
        ([LinearSpec(lr=[0.1, 0.2], total_iters=3), PlateauSpec(lr=0.1, min_lr=[0, 0, 0])], [3], "disagree"),
    ],
)
def test_bad_compositions_are_refused(specs, milestones, match):
    with pytest.raises(ValueError, match=match):
        SequentialSpec(specs, milestones)


def test_a_one_cycle_must_hand_over_before_its_end():
    from clr_spec import OneCycleSpec

    # torch's OneCycleLR steps to total_steps at most: the plateau takes over by the step after
    with pytest.raises(ValueError, match="ends at step 100"):
        SequentialSpec([OneCycleSpec(max_lr=0.1, total_steps=100), PlateauSpec(lr=0.1)], [102])
    assert SequentialSpec([OneCycleSpec(max_lr=0.1, total_steps=100), PlateauSpec(lr=0.1)], [101]).milestone == 101


@needs_torch
def test_clr_from_torch_reads_a_checkpoint_of_the_run(tmp_path, capsys):
    import torch

    from clr_spec import cli

    metrics = _metrics(5, N)
    _, _, sched = _clr_torch(_specs()["warmup_then_plateau"], metrics, stop=70)
    torch.save({"scheduler": sched.state_dict(), "epoch": 14}, tmp_path / "ckpt.pt")
    assert cli.main(["from-torch", str(tmp_path / "ckpt.pt"), "-o", str(tmp_path / "spec.json")]) == 0
    out = capsys.readouterr().out
    assert "step: 70" in out
    assert clr_spec.from_json((tmp_path / "spec.json").read_text()) == sched.current_spec()
    assert cli.main(["show", str(tmp_path / "spec.json")]) == 0
    assert "moves with the metric" in capsys.readouterr().out


@needs_jax
@pytest.mark.parametrize("build", ["adam", "adamw", "sgd_nesterov", "rmsprop"])
def test_every_torch_rule_optimizer_takes_it(build):
    import jax.numpy as jnp

    import clr_optax

    spec = SequentialSpec(
        [
            CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=3, base_momentum=0.8, max_momentum=0.9),
            PlateauSpec(lr=0.1, factor=0.5, patience=0),
        ],
        milestones=[6],
    )
    tx = {
        "adam": lambda: clr_optax.adam(spec),
        "adamw": lambda: clr_optax.adamw(spec),
        "sgd_nesterov": lambda: clr_optax.sgd(spec, momentum=0.9, nesterov=True),
        "rmsprop": lambda: clr_optax.rmsprop(spec, momentum=0.9),
    }[build]()
    params = jnp.zeros(2)
    state = tx.init(params)
    lrs = []
    for k in range(10):  # a worse metric each update: from the milestone on, halved at each
        _, state = tx.update(jnp.ones(2), state, params, value=float(k))
        lrs.append(float(clr_optax.current_hyperparams(state)["learning_rate"]))
    # by hand: the triangle 0.01 -> 0.1 -> 0.01 (steps of 0.03), then the plateau from 0.1
    expected = [0.01, 0.04, 0.07, 0.1, 0.07, 0.04, 0.1, 0.05, 0.025, 0.0125]
    assert lrs == pytest.approx(expected, rel=1e-6)
