"""clr_torch.SpecLR, the torch scheduler of a spec torch has no class for: it writes the spec's
values at every step, resumes in O(1), and its state carries the spec (from_torch reads it)."""

from __future__ import annotations

import pytest

from clr_spec import CosineAnnealingSpec, CyclicSpec, OneCycleSpec, from_torch
from clr_spec._family import SPEC_LR_STATE_KEY, spec_lr_spec

from ._frameworks import needs_torch

pytestmark = needs_torch


def _sgd(groups=2, momentum=0.9):
    import torch

    params = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(groups)]
    return torch.optim.SGD(params, lr=0.5, momentum=momentum)


def _run(sched, opt, steps, with_momentum=False):
    lrs = []
    for _ in range(steps):
        lrs.append([(g["lr"], g["momentum"]) if with_momentum else g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return lrs


def test_it_writes_what_torch_own_class_writes_for_a_closed_form():
    # OneCycleLR steps by its closed form: SpecLR running the spec gives torch's lrs and momenta
    # exactly (the expected values are torch's own run).
    import torch

    import clr_torch

    spec = OneCycleSpec(max_lr=[0.1, 0.3], total_steps=60, pct_start=0.3)
    opt = _sgd()
    ours = _run(clr_torch.SpecLR(opt, spec), opt, 60, with_momentum=True)
    ref_opt = _sgd()
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, max_lr=[0.1, 0.3], total_steps=60, pct_start=0.3)
    assert ours == _run(ref, ref_opt, 60, with_momentum=True)


def test_momentum_is_written_where_the_spec_sets_it():
    import clr_torch

    spec = CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=4, base_momentum=0.8, max_momentum=0.9)
    opt = _sgd(groups=1)
    sched = clr_torch.SpecLR(opt, spec)
    seen = []
    for _ in range(9):
        seen.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    assert seen == [float(spec.momentum(k)) for k in range(9)]


def test_resume_state_and_from_torch():
    import clr_torch

    spec = CosineAnnealingSpec(lr=[0.1, 0.2], T_max=17, eta_min=1e-3)
    opt = _sgd()
    sched = clr_torch.SpecLR(opt, spec)
    _run(sched, opt, 23)
    state = sched.state_dict()
    assert SPEC_LR_STATE_KEY in state and "spec" not in state
    assert from_torch(state) == spec and from_torch(sched) == spec
    assert spec_lr_spec(state, CosineAnnealingSpec) == spec
    with pytest.raises(ValueError, match="not a CyclicSpec"):
        spec_lr_spec(state, CyclicSpec)
    # clr_torch.scheduler's O(1) resume leaves what 23 steps leave; load_state_dict too
    resumed_opt = _sgd()
    resumed = clr_torch.SpecLR(resumed_opt, spec)
    resumed.resume_at(23)
    assert [g["lr"] for g in resumed_opt.param_groups] == [g["lr"] for g in opt.param_groups]
    assert resumed.last_epoch == sched.last_epoch and resumed._step_count == sched._step_count
    loaded_opt = _sgd()
    loaded = clr_torch.SpecLR(loaded_opt, CosineAnnealingSpec(lr=[1.0, 1.0], T_max=3))
    before = dict(state)
    loaded.load_state_dict(state)
    assert state == before and loaded.spec == spec and loaded.last_epoch == 23
    assert _run(loaded, loaded_opt, 5)[1:] == _run(sched, opt, 5)[1:]


def test_bad_input_is_refused_clearly():
    import clr_torch

    spec = CosineAnnealingSpec(lr=[0.1, 0.2], T_max=17)
    with pytest.raises(ValueError, match="2 param groups, the optimizer has 1"):
        clr_torch.SpecLR(_sgd(groups=1), spec)
    with pytest.raises(TypeError, match="optimizer must be"):
        clr_torch.SpecLR(object(), spec)
    with pytest.raises(TypeError, match="spec must be"):
        clr_torch.SpecLR(_sgd(), {"format": "x"})
    with pytest.raises(ValueError, match="not a SpecLR state"):
        spec_lr_spec({"last_epoch": 3, SPEC_LR_STATE_KEY: {}, "extra": 1})
    sched = clr_torch.SpecLR(_sgd(), spec)
    with pytest.raises(ValueError, match="no 'spec_document'"):
        sched.load_state_dict({"last_epoch": 3})
