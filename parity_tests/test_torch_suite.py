"""PyTorch's own CyclicLR tests (``test/optim/test_lrscheduler.py``), rewritten here, run on
torch's class and on ``clr_torch.CyclicLR`` with nothing but the class swapped.

Same inputs and same expected values as torch's tests (its fixture: SGD with two groups, the
second with a tensor lr), written for pytest; nothing is fetched at run time. Every test runs
on both classes, so a test that torch itself fails would show here. Also torch's generic
scheduler behaviours with CyclicLR swapped in: call-order warnings, ``step(epoch)``,
``get_last_lr``, state dicts, ``ChainedScheduler``, ``SequentialLR``, pickling, ``deepcopy``
and reference cycles.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")

import copy
import gc
import math
import pickle
import types
import warnings
import weakref

import torch
import torch.nn.functional as F
from torch.optim import SGD, Adam, AdamW, Rprop
from torch.optim.lr_scheduler import (
    EPOCH_DEPRECATION_WARNING,
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    SequentialLR,
)

import clr_torch

from ._upstream import saved_and_loaded

CLASSES = {"torch": torch.optim.lr_scheduler.CyclicLR, "clr_torch": clr_torch.CyclicLR}


@pytest.fixture(params=sorted(CLASSES))
def CyclicLR(request):
    return CLASSES[request.param]


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 1, 1)
        self.conv2 = torch.nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(x)))


@pytest.fixture
def net():
    return Net()


@pytest.fixture
def opt(net):
    return SGD(
        [{"params": net.conv1.parameters()}, {"params": net.conv2.parameters(), "lr": torch.tensor(0.5)}], lr=0.05
    )


def check_cycle(opt, scheduler, lr_targets, momentum_targets, steps, use_beta1=False):
    """torch's _test_cycle_lr: lr and momentum (or beta1) of every group before each step."""
    for step in range(steps):
        for group, lr_target, momentum_target in zip(opt.param_groups, lr_targets, momentum_targets):
            assert float(group["lr"]) == pytest.approx(lr_target[step], abs=1e-5), f"lr at {step}"
            if use_beta1 and "betas" in group:
                assert float(group["betas"][0]) == pytest.approx(momentum_target[step], abs=1e-5)
            elif "momentum" in group:
                assert float(group["momentum"]) == pytest.approx(momentum_target[step], abs=1e-5)
        opt.step()
        scheduler.step()


TRIANGULAR = [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3]
TRIANGULAR_MOMENTUM = [5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3]
TRIANGULAR2 = [1, 2, 3, 4, 5, 4, 3, 2, 1, 1.5, 2.0, 2.5, 3.0, 2.5, 2.0, 1.5, 1, 1.25, 1.50, 1.75, 2.00, 1.75]
TRIANGULAR2_MOMENTUM = [
    5.0,
    4.0,
    3.0,
    2.0,
    1.0,
    2.0,
    3.0,
    4.0,
    5.0,
    4.5,
    4.0,
    3.5,
    3.0,
    3.5,
    4.0,
    4.5,
    5.0,
    4.75,
    4.5,
    4.25,
    4.0,
    4.25,
]
EXP_XS = [0, 0.25, 0.5, 0.75, 1, 0.75, 0.50, 0.25, 0, 0.25, 0.5, 0.75, 1]


# ------------------------------------------------------------------ the 22 CyclicLR tests
def test_cycle_lr_invalid_mode(CyclicLR, opt):
    with pytest.raises(ValueError):
        CyclicLR(opt, base_lr=0, max_lr=0, mode="CATS")


def test_cycle_lr_triangular_mode_one_lr(CyclicLR, opt):
    sched = CyclicLR(
        opt,
        base_lr=1,
        max_lr=5,
        step_size_up=4,
        cycle_momentum=True,
        base_momentum=1,
        max_momentum=5,
        mode="triangular",
    )
    check_cycle(opt, sched, [TRIANGULAR] * 2, [TRIANGULAR_MOMENTUM] * 2, len(TRIANGULAR))


def test_cycle_lr_triangular_mode_one_lr_no_momentum(CyclicLR, opt):
    momentum = [opt.defaults["momentum"]] * len(TRIANGULAR)
    sched = CyclicLR(opt, base_lr=1, max_lr=5, step_size_up=4, cycle_momentum=False, mode="triangular")
    check_cycle(opt, sched, [TRIANGULAR] * 2, [momentum] * 2, len(TRIANGULAR))


def test_cycle_lr_triangular2_mode_one_lr(CyclicLR, opt):
    sched = CyclicLR(
        opt,
        base_lr=1,
        max_lr=5,
        step_size_up=4,
        cycle_momentum=True,
        base_momentum=1,
        max_momentum=5,
        mode="triangular2",
    )
    check_cycle(opt, sched, [TRIANGULAR2] * 2, [TRIANGULAR2_MOMENTUM] * 2, len(TRIANGULAR2))


def test_cycle_lr_exp_range_mode_one_lr(CyclicLR, opt):
    lr = [1 + x * 4 * 0.9**i for i, x in enumerate(EXP_XS)]
    momentum = [5 - x * 4 * 0.9**i for i, x in enumerate(EXP_XS)]
    sched = CyclicLR(
        opt,
        base_lr=1,
        max_lr=5,
        step_size_up=4,
        cycle_momentum=True,
        base_momentum=1,
        max_momentum=5,
        mode="exp_range",
        gamma=0.9,
    )
    check_cycle(opt, sched, [lr] * 2, [momentum] * 2, len(lr))


def test_cycle_lr_triangular_mode(CyclicLR, opt):
    sched = CyclicLR(
        opt,
        base_lr=[1, 2],
        max_lr=[5, 6],
        step_size_up=4,
        cycle_momentum=True,
        base_momentum=[1, 2],
        max_momentum=[5, 6],
        mode="triangular",
    )
    check_cycle(
        opt,
        sched,
        [TRIANGULAR, [x + 1 for x in TRIANGULAR]],
        [TRIANGULAR_MOMENTUM, [x + 1 for x in TRIANGULAR_MOMENTUM]],
        len(TRIANGULAR),
    )


def test_cycle_lr_triangular2_mode(CyclicLR, opt):
    sched = CyclicLR(
        opt,
        base_lr=[1, 3],
        max_lr=[5, 7],
        step_size_up=4,
        cycle_momentum=True,
        base_momentum=[1, 3],
        max_momentum=[5, 7],
        mode="triangular2",
    )
    check_cycle(
        opt,
        sched,
        [TRIANGULAR2, [x + 2 for x in TRIANGULAR2]],
        [TRIANGULAR2_MOMENTUM, [x + 2 for x in TRIANGULAR2_MOMENTUM]],
        len(TRIANGULAR2),
    )


def test_cycle_lr_exp_range_mode(CyclicLR, opt):
    lrs = [[b + x * (m - b) * 0.9**i for i, x in enumerate(EXP_XS)] for b, m in ((1, 5), (5, 12))]
    momenta = [[m - x * (m - b) * 0.9**i for i, x in enumerate(EXP_XS)] for b, m in ((1, 5), (5, 12))]
    sched = CyclicLR(
        opt,
        base_lr=[1, 5],
        max_lr=[5, 12],
        step_size_up=4,
        cycle_momentum=True,
        base_momentum=[1, 5],
        max_momentum=[5, 12],
        mode="exp_range",
        gamma=0.9,
    )
    check_cycle(opt, sched, lrs, momenta, len(EXP_XS))


def test_cycle_lr_triangular_mode_step_size_up_down(CyclicLR, opt):
    lr = [1.0, 2.0, 3.0, 4.0, 5.0, 13.0 / 3, 11.0 / 3, 9.0 / 3, 7.0 / 3, 5.0 / 3, 1.0]
    momentum = [5.0, 4.0, 3.0, 2.0, 1.0, 5.0 / 3, 7.0 / 3, 3.0, 11.0 / 3, 13.0 / 3, 5.0]
    sched = CyclicLR(
        opt,
        base_lr=1,
        max_lr=5,
        step_size_up=4,
        step_size_down=6,
        cycle_momentum=True,
        base_momentum=1,
        max_momentum=5,
        mode="triangular",
    )
    check_cycle(opt, sched, [lr] * 2, [momentum] * 2, len(lr))


def test_cycle_lr_triangular2_mode_step_size_up_down(CyclicLR, opt):
    lr = [
        1.0,
        3.0,
        5.0,
        13.0 / 3,
        11.0 / 3,
        9.0 / 3,
        7.0 / 3,
        5.0 / 3,
        1.0,
        2.0,
        3.0,
        8.0 / 3,
        7.0 / 3,
        6.0 / 3,
        5.0 / 3,
        4.0 / 3,
        1.0,
        3.0 / 2,
        2.0,
        11.0 / 6,
        10.0 / 6,
        9.0 / 6,
        8.0 / 6,
        7.0 / 6,
    ]
    momentum = [
        5.0,
        3.0,
        1.0,
        5.0 / 3,
        7.0 / 3,
        3.0,
        11.0 / 3,
        13.0 / 3,
        5.0,
        4.0,
        3.0,
        10.0 / 3,
        11.0 / 3,
        4.0,
        13.0 / 3,
        14.0 / 3,
        5.0,
        4.5,
        4.0,
        25.0 / 6,
        13.0 / 3,
        4.5,
        14.0 / 3,
        29.0 / 6,
    ]
    deltas = [0, 2]
    sched = CyclicLR(
        opt,
        base_lr=[1 + d for d in deltas],
        max_lr=[5 + d for d in deltas],
        step_size_up=2,
        step_size_down=6,
        cycle_momentum=True,
        base_momentum=[1 + d for d in deltas],
        max_momentum=[5 + d for d in deltas],
        mode="triangular2",
    )
    check_cycle(opt, sched, [[x + d for x in lr] for d in deltas], [[x + d for x in momentum] for d in deltas], len(lr))


def test_cycle_lr_exp_range_mode_step_size_up_down(CyclicLR, opt):
    xs = [0.0, 0.5, 1.0, 5.0 / 6, 4.0 / 6, 3.0 / 6, 2.0 / 6, 1.0 / 6, 0.0, 0.5, 1.0, 5.0 / 6, 4.0 / 6]
    lr = [1 + x * 4 * 0.9**i for i, x in enumerate(xs)]
    momentum = [5 - x * 4 * 0.9**i for i, x in enumerate(xs)]
    sched = CyclicLR(
        opt,
        base_lr=1,
        max_lr=5,
        step_size_up=2,
        step_size_down=6,
        cycle_momentum=True,
        base_momentum=1,
        max_momentum=5,
        mode="exp_range",
        gamma=0.9,
    )
    check_cycle(opt, sched, [lr] * 2, [momentum] * 2, len(lr))


def test_cycle_lr_with_momentumless_optimizer(CyclicLR, net):
    adam = Adam([{"params": net.conv1.parameters()}, {"params": net.conv2.parameters(), "lr": 0.5}], lr=0.05)
    sched = CyclicLR(adam, base_lr=1, max_lr=5, step_size_up=4, cycle_momentum=False, mode="triangular")
    check_cycle(adam, sched, [TRIANGULAR] * 2, [[None] * len(TRIANGULAR)] * 2, len(TRIANGULAR))


def test_cycle_lr_cycle_momentum_fail_with_momentumless_optimizer(CyclicLR, net):
    with pytest.raises(ValueError):
        CyclicLR(Rprop(net.parameters()), base_lr=1, max_lr=5, cycle_momentum=True)


def test_cycle_lr_cycle_momentum_with_beta1_optimizer(CyclicLR, net):
    CyclicLR(Adam(net.parameters()), base_lr=1, max_lr=5, cycle_momentum=True)


def test_cycle_lr_removed_after_out_of_scope(CyclicLR, net):
    def make():
        return weakref.ref(CyclicLR(Adam(net.parameters()), base_lr=1, max_lr=5, cycle_momentum=False))

    gc.disable()
    try:
        assert make()() is None  # freed by reference counting alone: no cycles
    finally:
        gc.enable()


class ScaleFn:
    def __init__(self) -> None:
        self.x = 0.5

    def __call__(self, _):
        return self.x


def test_cycle_lr_state_dict_picklable(CyclicLR, net):
    adam = Adam(net.parameters())
    sched = CyclicLR(adam, base_lr=1, max_lr=5, cycle_momentum=False)
    assert isinstance(sched._scale_fn_ref, types.FunctionType)
    state = sched.state_dict()
    assert "_scale_fn_ref" not in state and state["_scale_fn_custom"] is None
    pickle.dumps(state)

    def scale_fn(_):
        return 0.5

    state = CyclicLR(adam, base_lr=1, max_lr=5, cycle_momentum=False, scale_fn=scale_fn).state_dict()
    assert "_scale_fn_ref" not in state and state["_scale_fn_custom"] is None
    pickle.dumps(state)

    fn = ScaleFn()
    state = CyclicLR(adam, base_lr=1, max_lr=5, cycle_momentum=False, scale_fn=fn).state_dict()
    assert "_scale_fn_ref" not in state and state["_scale_fn_custom"] == fn.__dict__
    pickle.dumps(state)


def test_cycle_lr_scale_fn_restored_from_state_dict(CyclicLR, net):
    adam = Adam(net.parameters())
    sched = CyclicLR(adam, base_lr=1, max_lr=5, cycle_momentum=False, mode="triangular2")
    restored = CyclicLR(adam, base_lr=1, max_lr=5, cycle_momentum=False)
    restored.load_state_dict(sched.state_dict())
    assert restored.mode == sched.mode == "triangular2"
    assert restored._scale_fn_ref is not None and sched._scale_fn_ref is not None
    assert restored._scale_fn_custom is None and sched._scale_fn_custom is None
    assert restored.scale_fn(3) == sched.scale_fn(3) == 0.25

    def scale_fn(_):
        return 0.5

    sched = CyclicLR(adam, base_lr=1, max_lr=5, cycle_momentum=False, scale_fn=scale_fn)
    restored = CyclicLR(adam, base_lr=1, max_lr=5, cycle_momentum=False, scale_fn=scale_fn)
    restored.load_state_dict(sched.state_dict())
    assert sched._scale_fn_custom is scale_fn and restored._scale_fn_custom is scale_fn


def test_cosine_then_cyclic(CyclicLR):
    # torch issue 21965: a CyclicLR stepped after another scheduler stays within max_lr.
    optimizer = SGD(torch.nn.Linear(2, 1).parameters(), lr=0.5)
    first = CosineAnnealingLR(optimizer, T_max=20, eta_min=0.1)
    second = CyclicLR(optimizer, base_lr=0.1, max_lr=0.3, step_size_up=1, step_size_down=3)
    for i in range(40):
        optimizer.step()
        (first if i <= first.T_max else second).step()
    assert optimizer.param_groups[0]["lr"] <= 0.3


@pytest.mark.parametrize("weights_only", [True, False])
def test_lr_scheduler_state_dict_load(CyclicLR, opt, weights_only):
    sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1)
    state = sched.state_dict()
    loaded = saved_and_loaded(state, weights_only)
    again = CyclicLR(opt, base_lr=0.01, max_lr=0.1)
    again.load_state_dict(loaded)
    assert again.state_dict() == state


def test_constant_initial_params_cyclelr(CyclicLR):
    lr, max_lr = torch.as_tensor(0.1), torch.as_tensor(0.2)
    base_momentum, max_momentum = torch.as_tensor(0.8), torch.as_tensor(0.9)
    opt = SGD([torch.nn.Parameter(torch.randn(1))], lr=lr)
    sched = CyclicLR(opt, base_lr=lr, max_lr=max_lr, base_momentum=base_momentum, max_momentum=max_momentum)
    original = copy.deepcopy(opt.param_groups)
    for i in range(2):
        for t in (lr, max_lr, base_momentum, max_momentum):
            t.multiply_(0.5)
        opt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # step(epoch) is deprecated
            sched.step(i)
        for group, before in zip(opt.param_groups, original):
            for key in ("initial_lr", "max_momentum", "base_momentum"):
                assert group[key] == before[key]
            assert sched.base_lrs == [0.1] and sched.max_lrs == [0.2]
            assert group["max_momentum"] == 0.9 and group["base_momentum"] == 0.8


def test_lr_scheduler_checkpoint(CyclicLR):
    model = torch.nn.Linear(3, 3)
    optim = AdamW(model.parameters())
    sched = CyclicLR(optim, base_lr=0.01, max_lr=0.1)
    optim.step()
    sched.step()
    optim2 = AdamW(model.parameters())
    optim2.load_state_dict(optim.state_dict())
    resumed = CyclicLR(optim2, base_lr=0.01, max_lr=0.1, last_epoch=0)
    assert resumed.get_last_lr()[0] == optim.param_groups[0]["lr"]


# ------------------------------------------------------------------ generic scheduler behaviour
def _cyclic(CyclicLR, opt, **kw):
    return CyclicLR(opt, **{"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "cycle_momentum": False, **kw})


def test_no_warning_on_construction_and_in_the_right_order(CyclicLR, opt):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched = _cyclic(CyclicLR, opt)
        for _ in range(10):
            opt.step()
            sched.step()
    assert caught == []


def test_old_pattern_warns(CyclicLR, opt):
    sched = _cyclic(CyclicLR, opt)
    with pytest.warns(UserWarning, match="how-to-adjust-learning-rate"):
        for _ in range(5):
            sched.step()
            opt.step()


def test_old_pattern_warns_when_resuming(CyclicLR, opt):
    for group in opt.param_groups:
        group["initial_lr"] = 0.01
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched = _cyclic(CyclicLR, opt, last_epoch=10)
    assert caught == []
    with pytest.warns(UserWarning, match="how-to-adjust-learning-rate"):
        sched.step()
        opt.step()


def test_overridden_optimizer_step_warns(CyclicLR, opt):
    sched = _cyclic(CyclicLR, opt)
    old_step = opt.step
    opt.step = types.MethodType(lambda self, *a, **k: old_step(*a, **k), opt)
    with pytest.warns(UserWarning, match=r"`optimizer.step\(\)` has been overridden"):
        opt.step()
        sched.step()


def test_resuming_without_initial_lr_is_a_key_error_like_torch(CyclicLR):
    opt = SGD([torch.nn.Parameter(torch.randn(2, 2))], 0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        _cyclic(CyclicLR, opt, last_epoch=1)


def test_step_with_epoch_warns_and_is_constant_for_a_constant_epoch(CyclicLR, opt):
    sched = _cyclic(CyclicLR, opt)
    seen = []
    for _ in range(10):
        opt.step()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step(2)
        assert [str(w.message) for w in caught] == [EPOCH_DEPRECATION_WARNING]
        seen.append(opt.param_groups[0]["lr"])
    assert min(seen) == max(seen) == pytest.approx(0.07)


def test_step_with_epoch_is_the_closed_form(CyclicLR, opt):
    sched = _cyclic(CyclicLR, opt)
    stepped = []
    for _ in range(20):
        opt.step()
        sched.step()
        stepped.append([float(g["lr"]) for g in opt.param_groups])
    other = _cyclic(CyclicLR, opt)
    for epoch in range(1, 21):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other.step(epoch)
        assert [float(g["lr"]) for g in opt.param_groups] == stepped[epoch - 1]


def test_get_last_lr_and_get_lr_warning(CyclicLR, opt):
    sched = _cyclic(CyclicLR, opt)
    expected = [0.01, 0.04, 0.07, 0.1, 0.07, 0.04, 0.01]
    for target in expected:
        last = sched.get_last_lr()
        assert [float(v) for v in last] == pytest.approx([target, target], abs=1e-7)
        assert isinstance(last[1], torch.Tensor) and last[1] is not opt.param_groups[1]["lr"]
        opt.step()
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_state_dict_round_trip_restores_every_attribute(CyclicLR, opt):
    sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9)
    for _ in range(10):
        opt.step()
        sched.step()
    copy_ = CyclicLR(opt, base_lr=0.5, max_lr=1.0, step_size_up=7)
    copy_.load_state_dict(sched.state_dict())
    for key in sched.__dict__:
        if key not in ("optimizer", "_scale_fn_ref"):  # a partial: equal by identity only
            assert sched.__dict__[key] == copy_.__dict__[key], key
    assert copy_.scale_fn(10) == sched.scale_fn(10) == 0.9**10
    assert sched.get_last_lr() == copy_.get_last_lr()


def test_state_dict_crosses_between_torch_and_clr_torch(opt):
    ours = clr_torch.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2")
    theirs = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2")
    for _ in range(7):
        opt.step()
        ours.step()
    assert set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    assert theirs.last_epoch == 7
    ours.load_state_dict(theirs.state_dict())
    assert ours.last_epoch == 7


def test_chained_scheduler(CyclicLR, opt):
    cyclic = _cyclic(CyclicLR, opt)
    chained = ChainedScheduler([cyclic, ConstantLR(opt, factor=0.5, total_iters=4)])
    seen = []
    for _ in range(8):
        seen.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        chained.step()
    # torch's chaining is recursive: ConstantLR halves the lr at step 0 only, leaves CyclicLR's
    # later values alone and doubles the one at its step 4 (0.07 -> 0.14): no scaled phase at all.
    assert seen == pytest.approx([0.005, 0.04, 0.07, 0.1, 0.14, 0.04, 0.01, 0.04])
    assert chained.get_last_lr() == cyclic.get_last_lr()


def test_sequential_lr(CyclicLR, opt):
    warmup = ConstantLR(opt, factor=0.1, total_iters=3)
    cyclic = _cyclic(CyclicLR, opt)
    sequential = SequentialLR(opt, [warmup, cyclic], milestones=[3])
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(9):
            seen.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            sequential.step()
    assert caught == []
    # The warmup scales the optimizer's lr when it was built (0.05), not CyclicLR's base_lr
    # (torch's SequentialLR resets the groups to that initial_lr); then the cycle starts.
    assert seen == pytest.approx([0.005] * 3 + [0.01, 0.04, 0.07, 0.1, 0.07, 0.04])


def test_same_trajectory_as_torch_in_sequential_lr(opt, net):
    def run(CyclicLR):
        o = SGD(
            [{"params": net.conv1.parameters()}, {"params": net.conv2.parameters(), "lr": torch.tensor(0.5)}],
            lr=0.05,
            momentum=0.9,
        )
        seq = SequentialLR(
            o,
            [
                ConstantLR(o, factor=0.1, total_iters=3),
                CyclicLR(o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=4, mode="triangular2"),
            ],
            milestones=[5],
        )
        out = []
        for _ in range(40):
            out.append([(float(g["lr"]), float(g["momentum"])) for g in o.param_groups])
            o.step()
            seq.step()
        return out

    assert run(clr_torch.CyclicLR) == run(torch.optim.lr_scheduler.CyclicLR)


def test_deepcopy_and_pickled_state(CyclicLR, opt):
    sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.9)
    for _ in range(5):
        opt.step()
        sched.step()
    twin = copy.deepcopy(sched)
    assert twin.optimizer is not opt and twin.last_epoch == 5
    for _ in range(3):
        for s in (sched, twin):
            s.optimizer.step()
            s.step()
    assert [float(g["lr"]) for g in twin.optimizer.param_groups] == [float(g["lr"]) for g in opt.param_groups]
    restored = CyclicLR(opt, base_lr=0.01, max_lr=0.1)
    restored.load_state_dict(pickle.loads(pickle.dumps(sched.state_dict())))
    assert restored.state_dict() == sched.state_dict()


def test_no_reference_cycles_in_step(CyclicLR):
    def run():
        param = torch.empty(10, requires_grad=True)
        optim = SGD([param], lr=0.5, momentum=0.9)
        sched = CyclicLR(optim, base_lr=0.01, max_lr=0.1)
        param.sum().backward()
        optim.step()
        sched.step()
        return weakref.ref(sched), weakref.ref(optim)

    gc.disable()
    try:
        sched_ref, optim_ref = run()
        assert sched_ref() is None and optim_ref() is None
    finally:
        gc.enable()


def test_scale_fn_is_torch_s(CyclicLR, opt):
    for mode, gamma, xs, expected in (
        ("triangular", 1.0, [1, 7], [1.0, 1.0]),
        ("triangular2", 1.0, [1, 3, 11], [1.0, 0.25, 1 / 1024]),
        ("exp_range", 0.9, [0, 5], [1.0, 0.9**5]),
    ):
        sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, mode=mode, gamma=gamma)
        assert [sched.scale_fn(x) for x in xs] == expected
    custom = CyclicLR(opt, base_lr=0.01, max_lr=0.1, scale_fn=lambda x: 1 / (x + 1))
    assert custom.scale_fn(3) == 0.25
    assert math.isclose(CyclicLR.__dict__["scale_fn"](custom, 1), 0.5)
