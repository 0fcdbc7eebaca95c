"""``clr_torch.CyclicLR`` is a ``torch.optim.lr_scheduler.CyclicLR`` (code that checks
``isinstance`` takes it), and stays what it was: identified as CyclicLR, resumed by its own
closed form, validated (torch's ``__init__`` is not run), every method of torch's overridden.
torch's own CyclicLR tests run on it in test_torch_suite.py."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import clr_spec
from clr_spec import CyclicSpec, LinearSpec, SequentialSpec

from ._frameworks import needs_torch

pytestmark = needs_torch


def _opt():
    import torch

    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)


def test_it_is_an_instance_of_torch_cyclic_lr():
    import torch

    import clr_torch

    sched = clr_torch.CyclicLR(_opt(), base_lr=0.01, max_lr=0.1, step_size_up=5)
    assert isinstance(sched, torch.optim.lr_scheduler.CyclicLR)
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    assert issubclass(clr_torch.CyclicLR, torch.optim.lr_scheduler.CyclicLR)
    built = clr_torch.scheduler(_opt(), CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=5), step=3)
    assert type(built) is clr_torch.CyclicLR and isinstance(built, torch.optim.lr_scheduler.CyclicLR)


def test_every_method_of_torch_class_is_its_own():
    """Nothing of torch's CyclicLR runs on it: a method torch adds later would show up here."""
    import torch

    import clr_torch

    theirs = {
        name
        for name, value in vars(torch.optim.lr_scheduler.CyclicLR).items()
        if inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod, property))
    }
    assert theirs and theirs <= set(vars(clr_torch.CyclicLR)), theirs - set(vars(clr_torch.CyclicLR))


def test_torch_init_is_not_run_and_its_defects_stay_fixed():
    import clr_torch

    with pytest.raises(ValueError, match="step_size_up"):  # torch: ZeroDivisionError
        clr_torch.CyclicLR(_opt(), base_lr=0.01, max_lr=0.1, step_size_up=0)
    with pytest.raises(ValueError, match="max_lr"):  # torch: silent NaN
        clr_torch.CyclicLR(_opt(), base_lr=0.01, max_lr=float("nan"))
    opt = _opt()
    sched = clr_torch.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=1, mode="triangular2")
    sched.last_epoch = 2 * 1100  # past 1024 cycles: torch raises OverflowError
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == 0.01


def test_identification_state_and_resume_are_unchanged():
    import torch

    import clr_torch

    spec = CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.99)
    opt = _opt()
    sched = clr_torch.CyclicLR.from_spec(opt, spec)
    assert clr_spec._family.torch_class_of(sched) == "CyclicLR"
    assert clr_spec.from_torch(sched) == spec and clr_spec.from_torch(sched.state_dict()) == spec
    theirs = torch.optim.lr_scheduler.CyclicLR(_opt(), **spec.torch_kwargs())
    theirs.load_state_dict(sched.state_dict())  # ours loads into torch's, and back
    sched.load_state_dict(theirs.state_dict())
    # a sequence with a cyclic phase resumes at k as k steps leave it (clr_torch._resume, exact class)
    seq = SequentialSpec([LinearSpec(lr=0.01, start_factor=0.5, total_iters=3), spec], [3])
    stepped, opt = [], _opt()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = clr_torch.scheduler(opt, seq)
        for _ in range(40):
            stepped.append(opt.param_groups[0]["lr"])
            opt.step()
            run.step()
    for k in (0, 2, 3, 17, 39):
        resumed = _opt()
        clr_torch.scheduler(resumed, seq, step=k)
        assert resumed.param_groups[0]["lr"] == stepped[k]
    np.testing.assert_array_equal(stepped, seq.lr(np.arange(40)))
