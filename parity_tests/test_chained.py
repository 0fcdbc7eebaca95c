"""ChainedScheduler: seeded random chains of the recursive classes against torch stepped, per
param group, resumed, through JSON and `clr from-torch`, and what cannot be chained."""

from __future__ import annotations


import numpy as np
import pytest

import clr_spec
from clr_spec import (
    ChainedSpec,
    ConstantSpec,
    CosineAnnealingSpec,
    ExponentialSpec,
    LinearSpec,
    MultiStepSpec,
    PolynomialSpec,
    SequentialSpec,
    StepSpec,
)

from ._frameworks import HAS_JAX, needs_torch
from ._helpers import check_float32, stepped_lrs, two_group_sgd

LRS = [0.05, 0.1]
STEPS = 700


def _T():
    from torch.optim import lr_scheduler

    return lr_scheduler


def member_pairs(rng) -> list:
    """(spec, torch builder) of each recursive class, with random settings."""
    t = int(rng.integers(1, 200))
    factor, gamma = float(rng.uniform(0.05, 1.0)), float(rng.uniform(0.5, 0.999))
    start = float(rng.uniform(0.01, 1.0))
    step_size, milestones = int(rng.integers(1, 120)), sorted(int(m) for m in rng.integers(0, 600, 3))
    power = float(rng.uniform(0.5, 3.0))
    return [
        (
            ConstantSpec(lr=LRS, factor=factor, total_iters=t),
            lambda o: _T().ConstantLR(o, factor=factor, total_iters=t),
        ),
        (
            LinearSpec(lr=LRS, start_factor=start, total_iters=t),
            lambda o: _T().LinearLR(o, start_factor=start, total_iters=t),
        ),
        (StepSpec(lr=LRS, step_size=step_size, gamma=gamma), lambda o: _T().StepLR(o, step_size, gamma)),
        (MultiStepSpec(lr=LRS, milestones=milestones, gamma=gamma), lambda o: _T().MultiStepLR(o, milestones, gamma)),
        (ExponentialSpec(lr=LRS, gamma=gamma), lambda o: _T().ExponentialLR(o, gamma)),
        (
            PolynomialSpec(lr=LRS, total_iters=t + 300, power=power),
            lambda o: _T().PolynomialLR(o, total_iters=t + 300, power=power),
        ),
    ]


def random_chains(count: int = 8, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        pairs = member_pairs(rng)
        chosen = [pairs[i] for i in rng.choice(len(pairs), int(rng.integers(2, 4)), replace=False)]
        spec = ChainedSpec([s for s, _ in chosen], horizon=STEPS)
        builders = [b for _, b in chosen]
        out.append((spec, lambda o, bs=builders: _T().ChainedScheduler([b(o) for b in bs])))
    return out


def _optimizer():
    return two_group_sgd(LRS)


def _torch_lrs(build, steps: int):
    return stepped_lrs(build, steps, LRS)


CHAINS = random_chains()
IDS = ["+".join(type(m).__name__.replace("Spec", "") for m in s.specs) for s, _ in CHAINS]


@needs_torch
@pytest.mark.parametrize("spec, build", CHAINS, ids=IDS)
def test_random_chains_against_torch(spec, build):
    import clr_torch

    reference, sched, opt = _torch_lrs(build, STEPS)
    for g in range(2):
        np.testing.assert_array_equal(spec.lr(np.arange(STEPS), g), reference[:, g])
    np.testing.assert_array_equal(_torch_lrs(lambda o: clr_torch.scheduler(o, spec), STEPS)[0], reference)
    for k in np.random.default_rng(3).integers(0, STEPS, 3):
        o = _optimizer()
        clr_torch.scheduler(o, spec, step=int(k))
        assert [g["lr"] for g in o.param_groups] == reference[k].tolist()
    back = clr_spec.from_torch(sched.state_dict(), optimizer_state=opt.state_dict(), horizon=STEPS)
    assert back == spec and clr_spec.from_json(spec.to_json()) == spec
    if HAS_JAX:
        import jax

        import clr_optax

        for g in range(2):
            ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(np.arange(STEPS)))
            check_float32("ChainedScheduler random", "lr", ours, reference[:, g], max_ulp=0, min_exact=1.0)


@needs_torch
def test_clr_from_torch_reads_a_chained_checkpoint(tmp_path):
    import torch

    from clr_spec import cli

    spec, build = CHAINS[0]
    _, sched, opt = _torch_lrs(build, 100)
    path = tmp_path / "run.pt"
    torch.save({"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}, path)
    assert cli.main(["from-torch", str(path), "-o", str(tmp_path / "spec.json")]) == 0
    read = clr_spec.from_json((tmp_path / "spec.json").read_text())
    assert read.specs == spec.specs


def test_what_cannot_be_chained_is_refused():
    with pytest.raises(ValueError, match=r"specs\[1\] \(CosineAnnealingSpec\) cannot be chained"):
        ChainedSpec([LinearSpec(lr=0.1), CosineAnnealingSpec(lr=0.1, T_max=10)])
    with pytest.raises(ValueError, match="must have the same lr"):
        ChainedSpec([LinearSpec(lr=0.1), ExponentialSpec(lr=0.2, gamma=0.9)])
    with pytest.raises(ValueError, match="non-empty list"):
        ChainedSpec([])
    with pytest.raises(ValueError, match="past the horizon"):
        ChainedSpec([LinearSpec(lr=0.1)], horizon=10).lr(11)
    # torch's SequentialLR steps a ChainedScheduler once more while it builds (measured: the first
    # lr of SequentialLR([ChainedScheduler([LinearLR(0.1), ExponentialLR(0.9)]), ...]) is 0.009, not 0.01)
    for phases in (
        [LinearSpec(lr=0.1), ChainedSpec([ExponentialSpec(lr=0.1, gamma=0.9)])],
        [ChainedSpec([ExponentialSpec(lr=0.1, gamma=0.9)]), LinearSpec(lr=0.1)],
    ):
        with pytest.raises(ValueError, match=r"\(ChainedSpec\) cannot be a phase of a SequentialSpec"):
            SequentialSpec(phases, milestones=[5])
