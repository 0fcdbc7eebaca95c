"""PyTorch's own tests of StepLR, MultiStepLR, ExponentialLR and PolynomialLR
(``test/optim/test_lrscheduler.py``, class ``TestLRScheduler``), rewritten here and run on the
spec path: the same configurations, expected values built the way upstream builds them, and
upstream's tolerances. Every case names the upstream test it ports.

Each case is checked four ways, by the value checks of ``_upstream.py`` (the harness both upstream
files share: imported below, and parametrized there on this file's ``CASES``):

1. ``spec.lr(k, g)`` against the expected values (numpy, no framework);
2. ``clr_torch.scheduler(optimizer, spec)`` stepped with the optimizer, and resumed at each
   ``step=k``, against the same (torch's own class, built by the spec path);
3. the optax schedule: float32 equal to ``float32(expected)`` where upstream's expectation is
   a value torch stepped (its state-dict and checkpoint tests), else within upstream's
   tolerance; under x64 within upstream's tolerance;
4. ``clr_spec.from_torch`` of torch's scheduler, built as upstream builds it, is the spec.

Upstream's fixture (``setUp``): SGD with two groups, lr 0.05 and ``torch.tensor(0.5)``; only
the param groups matter, so one small parameter stands in for each conv layer. Its loops
read ``group["lr"]`` before each ``step()`` (``_test``), ``get_last_lr()`` before it
(``_test_get_last_lr``), or after ``step(epoch)`` (``_test_with_epoch``, whose spec-path
counterpart is ``clr_torch.scheduler(..., step=epoch)``); all compare with ``atol=1e-5,
rtol=0`` and check as many groups as the targets list has. Upstream's ``assertEqual`` without
tolerances (state-dict and checkpoint tests) uses torch's defaults: rtol=atol=1e-7 for Python
floats, rtol=1.3e-6 and atol=1e-5 for float32 tensors. Nothing is fetched at run time.

Not ported, with the reason: ChainedScheduler tests (no spec chains), ReduceLROnPlateau
compounds, CosineAnnealingLR compounds (outside the four plus LinearLR/ConstantLR),
SequentialLR tests with LinearLR/ConstantLR only, and the generic scheduler tests that do not
use these classes.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import pytest

import clr_spec
from clr_spec import ConstantSpec, ExponentialSpec, LinearSpec, MultiStepSpec, PolynomialSpec, SequentialSpec, StepSpec

from ._frameworks import HAS_JAX, HAS_TORCH, needs_torch
from ._upstream import (
    ATOL,
    FIXTURES,
    FLOAT64_DEFAULT,
    SETUP_LRS,
    Case,
    _T,
    check_constant_initial_lr,
    default_tol,
    setup_optimizer,
    state_saved_and_reloaded,
    stepped_targets,
    tensor_group_ulps,
    torch_values,
)

# the value checks (1)-(4): collected in this file, parametrized on its CASES by pytest_generate_tests
from ._upstream import (  # noqa: F401 - collected here, parametrized by pytest_generate_tests
    pytest_generate_tests,
    test_clr_torch_resumed,
    test_clr_torch_trajectory,
    test_from_torch,
    test_optax_float32,
    test_optax_x64,
    test_spec_lr,
)


def two_groups(single: Sequence[float], epochs: int = 10) -> list:
    """Upstream's ``targets = [single_targets, [x * epochs for x in single_targets]]``."""
    return [list(single), [x * epochs for x in single]]


def closed_form_targets(build: Callable, epochs: int) -> Callable[[], list]:
    """What upstream's _test_against_closed_form means to compare with: torch's closed form,
    ``scheduler.step(epoch)``, read from the scheduler's own optimizer at each epoch.

    Upstream builds both schedulers on ``self.opt`` and then calls ``self.setUp()``, which
    rebinds ``self.opt`` to a fresh SGD: its targets and the values it checks are read from
    optimizers no scheduler touches (0.05 and 0.5 at every epoch), so upstream's test, as
    written, checks nothing (and reads the stepped lr one epoch late). This harness uses the
    intended expectation: the closed form at epoch k against the lr after k steps."""

    def make() -> list:
        opt = FIXTURES["setup"].make()
        sched = build(opt)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # step(epoch) is deprecated
            for epoch in range(epochs):
                opt.step()
                sched.step(epoch)
                out.append(torch_values(opt))
        return [list(col) for col in zip(*out)]

    return make


def _seq(o, schedulers, milestones):
    return _T().SequentialLR(o, schedulers=schedulers, milestones=milestones)


CASES: list[Case] = []

# --- single schedulers, upstream's hand-built expectations --------------------------------
CASES += [
    Case(
        "test_step_lr",
        (StepSpec(lr=SETUP_LRS, step_size=3, gamma=0.1),),
        lambda o: _T().StepLR(o, gamma=0.1, step_size=3),
        two_groups([0.05] * 3 + [0.005] * 3 + [0.0005] * 3 + [0.00005] * 3),
        range(10),
    ),
    Case(
        "test_get_last_lr_step_lr",
        (StepSpec(lr=0.1, step_size=3, gamma=0.1),),
        lambda o: _T().StepLR(o, 3, gamma=0.1),
        [[0.1] * 3 + [0.01] * 3 + [0.001] * 3 + [0.0001]],
        range(10),
        fixture="sgd_0.1",
        read="last_lr",
    ),
    Case(
        "test_get_last_lr_multi_step_lr",
        (MultiStepSpec(lr=SETUP_LRS, milestones=[2, 5, 9], gamma=0.1),),
        lambda o: _T().MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]),
        two_groups([0.05] * 2 + [0.005] * 3 + [0.0005] * 4 + [0.00005] * 1),
        range(10),
        read="last_lr",
    ),
    Case(
        "test_multi_step_lr",
        (MultiStepSpec(lr=SETUP_LRS, milestones=[2, 5, 9], gamma=0.1),),
        lambda o: _T().MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]),
        two_groups([0.05] * 2 + [0.005] * 3 + [0.0005] * 4 + [0.00005] * 3),
        range(10),
    ),
    Case(
        "test_multi_step_lr_with_epoch",
        (MultiStepSpec(lr=SETUP_LRS, milestones=[2, 5, 9], gamma=0.1),),
        lambda o: _T().MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]),
        two_groups([0.05] * 2 + [0.005] * 3 + [0.0005] * 4 + [0.00005] * 3),
        range(10),
        read="epoch",
    ),
    Case(
        "test_exp_lr",
        (ExponentialSpec(lr=SETUP_LRS, gamma=0.9),),
        lambda o: _T().ExponentialLR(o, gamma=0.9),
        two_groups([0.05 * (0.9**x) for x in range(10)]),
        range(10),
    ),
    Case(
        "test_poly_lr",
        (PolynomialSpec(lr=SETUP_LRS, total_iters=5, power=0.9),),
        lambda o: _T().PolynomialLR(o, power=0.9, total_iters=5),
        two_groups([(1.0 - x / 5) ** 0.9 * 0.05 for x in range(5)] + [0.0] * (10 - 5)),
        range(10),
    ),
]

# --- closed form (torch's step(epoch)) -----------------------------------------------------
for _name, _spec, _build in [
    (
        "test_closed_form_step_lr",
        StepSpec(lr=SETUP_LRS, step_size=3, gamma=0.1),
        lambda o: _T().StepLR(o, gamma=0.1, step_size=3),
    ),
    (
        "test_closed_form_multi_step_lr",
        MultiStepSpec(lr=SETUP_LRS, milestones=[2, 5, 9], gamma=0.1),
        lambda o: _T().MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]),
    ),
    ("test_closed_form_exp_lr", ExponentialSpec(lr=SETUP_LRS, gamma=0.9), lambda o: _T().ExponentialLR(o, gamma=0.9)),
    ("test_closed_form_poly_lr", PolynomialSpec(lr=SETUP_LRS, power=0.9), lambda o: _T().PolynomialLR(o, power=0.9)),
]:
    CASES.append(
        Case(
            _name,
            (_spec,),
            _build,
            closed_form_targets(_build, 20),
            range(20),
            read="epoch",
            needs_torch_for_expected=True,
        )
    )

# --- SequentialLR of the decays with ConstantLR ---------------------------------------------
# from_torch reads the optimizer's momentum into a SequentialSpec none of whose phases sets it:
# upstream's SGD has momentum 0.
_SEQ1 = SequentialSpec(
    [ExponentialSpec(lr=SETUP_LRS, gamma=0.8), StepSpec(lr=SETUP_LRS, step_size=4, gamma=0.1)],
    milestones=[3],
    momentum=0.0,
)
_SEQ2 = SequentialSpec(
    [ConstantSpec(lr=SETUP_LRS, factor=0.1, total_iters=3), ExponentialSpec(lr=SETUP_LRS, gamma=0.9)],
    milestones=[3],
    momentum=0.0,
)
_SEQ3 = SequentialSpec(
    [
        ConstantSpec(lr=SETUP_LRS, factor=0.1, total_iters=3),
        ExponentialSpec(lr=SETUP_LRS, gamma=0.8),
        StepSpec(lr=SETUP_LRS, step_size=2, gamma=0.1),
    ],
    milestones=[3, 6],
    momentum=0.0,
)
_SEQ3_SINGLE = [0.005] * 3 + [0.05, 0.04, 0.032] + [0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005]
CASES += [
    Case(
        "test_sequentiallr1",
        (_SEQ1,),
        lambda o: _seq(o, [_T().ExponentialLR(o, gamma=0.8), _T().StepLR(o, gamma=0.1, step_size=4)], [3]),
        [
            [0.05, 0.04, 0.032]
            + [0.05 for x in range(4)]
            + [0.05 * 0.1 for x in range(4)]
            + [0.05 * 0.01 for x in range(4)]
            + [0.05 * 0.001 for x in range(4)]
        ],
        range(19),
    ),
    Case(
        "test_sequentiallr2",
        (_SEQ2,),
        lambda o: _seq(o, [_T().ConstantLR(o, factor=0.1, total_iters=3), _T().ExponentialLR(o, gamma=0.9)], [3]),
        [[0.005, 0.005, 0.005] + [0.05 * 0.9**x for x in range(10)]],
        range(13),
    ),
    Case(
        "test_sequentiallr3",
        (_SEQ3,),
        lambda o: _seq(
            o,
            [
                _T().ConstantLR(o, factor=0.1, total_iters=3),
                _T().ExponentialLR(o, gamma=0.8),
                _T().StepLR(o, gamma=0.1, step_size=2),
            ],
            [3, 6],
        ),
        [_SEQ3_SINGLE],
        range(12),
    ),
    Case(
        "test_get_last_lr_sequentiallr",
        (_SEQ3,),
        lambda o: _seq(
            o,
            [
                _T().ConstantLR(o, factor=0.1, total_iters=3),
                _T().ExponentialLR(o, gamma=0.8),
                _T().StepLR(o, gamma=0.1, step_size=2),
            ],
            [3, 6],
        ),
        [_SEQ3_SINGLE, [x * 10 for x in _SEQ3_SINGLE]],
        range(12),
        read="last_lr",
    ),
]


# --- compounds: two schedulers stepping one optimizer ---------------------------------------
def _compound_exp_and_linearlr() -> list:
    single = [0.05 * (0.9**x) for x in range(11)]
    for i in range(4):
        single[i] *= 0.4 + i / 4 * (0.9 - 0.4)
    for i in range(4, 11):
        single[i] *= 0.9
    return two_groups(single)


def _compound_linearlr_and_multistep_lr() -> list:
    single = [0.05] * 2 + [0.005] * 3 + [0.0005] * 4 + [0.00005] * 2
    for i in range(4):
        single[i] *= 0.4 + i / 4 * (1 - 0.4)
    return two_groups(single)


CASES += [
    Case(
        "test_compound_step_and_multistep_lr",
        (StepSpec(lr=SETUP_LRS, step_size=3, gamma=0.1), MultiStepSpec(lr=SETUP_LRS, milestones=[2, 5, 9], gamma=0.1)),
        lambda o: [_T().StepLR(o, gamma=0.1, step_size=3), _T().MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9])],
        [[0.05] * 2 + [0.005] * 1 + [5e-4] * 2 + [5e-5] + [5e-6] * 3 + [5e-8]],
        range(10),
    ),
    Case(
        "test_compound_step_and_exp_lr",
        (StepSpec(lr=SETUP_LRS, step_size=3, gamma=0.1), ExponentialSpec(lr=SETUP_LRS, gamma=0.9)),
        lambda o: [_T().StepLR(o, gamma=0.1, step_size=3), _T().ExponentialLR(o, gamma=0.9)],
        two_groups(
            [0.05 * (0.9**x) for x in range(3)]
            + [0.005 * (0.9**x) for x in range(3, 6)]
            + [0.0005 * (0.9**x) for x in range(6, 9)]
            + [0.00005 * (0.9**x) for x in range(9, 12)]
        ),
        range(10),
    ),
    Case(
        "test_compound_exp_and_multistep_lr",
        (MultiStepSpec(lr=SETUP_LRS, milestones=[2, 5, 9], gamma=0.1), ExponentialSpec(lr=SETUP_LRS, gamma=0.9)),
        lambda o: [_T().MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]), _T().ExponentialLR(o, gamma=0.9)],
        two_groups(
            [0.05 * (0.9**x) for x in range(2)]
            + [0.005 * (0.9**x) for x in range(2, 5)]
            + [0.0005 * (0.9**x) for x in range(5, 9)]
            + [0.00005 * (0.9**x) for x in range(9, 11)]
        ),
        range(10),
    ),
    Case(
        "test_compound_exp_and_linearlr",
        (
            LinearSpec(lr=SETUP_LRS, start_factor=0.4, end_factor=0.9, total_iters=4),
            ExponentialSpec(lr=SETUP_LRS, gamma=0.9),
        ),
        lambda o: [_T().LinearLR(o, start_factor=0.4, end_factor=0.9, total_iters=4), _T().ExponentialLR(o, gamma=0.9)],
        _compound_exp_and_linearlr(),
        range(10),
    ),
    Case(
        "test_compound_step_and_constantlr",
        (StepSpec(lr=SETUP_LRS, step_size=3, gamma=0.1), ConstantSpec(lr=SETUP_LRS, factor=0.4, total_iters=4)),
        lambda o: [_T().StepLR(o, gamma=0.1, step_size=3), _T().ConstantLR(o, factor=0.4, total_iters=4)],
        two_groups([0.05 * 0.4] * 3 + [0.005 * 0.4] + [0.005] * 2 + [0.0005] * 3 + [0.00005] * 3),
        range(10),
    ),
    Case(
        "test_compound_linearlr_and_multistep_lr",
        (
            MultiStepSpec(lr=SETUP_LRS, milestones=[2, 5, 9], gamma=0.1),
            LinearSpec(lr=SETUP_LRS, start_factor=0.4, total_iters=4),
        ),
        lambda o: [
            _T().MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]),
            _T().LinearLR(o, start_factor=0.4, total_iters=4),
        ],
        _compound_linearlr_and_multistep_lr(),
        range(10),
    ),
]

# --- state dicts and checkpoints: expectations are values torch stepped ----------------------
# Where the float32-exact check fails for upstream's tensor-lr group (see
# test_tensor_lr_is_stepped_in_float32): torch 5.0000011075912454e-11, spec 5.00000006675716e-11
# (3 float32 ulps) for ExponentialLR(gamma=0.1) at step 10 on torch.tensor(0.5). StepLR's and
# MultiStepLR's three decays by then happen to round alike.
TENSOR_RECURSION_DIFFERS = {"test_exp_step_lr_state_dict"}
TENSOR_RECURSION_XFAIL = (
    "torch steps a tensor lr in float32 tensor arithmetic (f32(f32(lr) * gamma) per decay); "
    "the spec replays torch's float64 recursion of a float lr, rounded once: 3 float32 ulps "
    "apart at step 10 (within upstream's tolerance)"
)

# the scheduler each test loads the state into (built with other settings)
STATE_DICT_COPIES = {
    "test_step_lr_state_dict": StepSpec(lr=SETUP_LRS, step_size=1, gamma=0.01 / 2),
    "test_multi_step_lr_state_dict": MultiStepSpec(lr=SETUP_LRS, milestones=[1, 4, 6], gamma=0.01),
    "test_exp_step_lr_state_dict": ExponentialSpec(lr=SETUP_LRS, gamma=0.01),
}
for _name, _spec, _build in [
    (
        "test_step_lr_state_dict",
        StepSpec(lr=SETUP_LRS, step_size=3, gamma=0.1),
        lambda o: _T().StepLR(o, gamma=0.1, step_size=3),
    ),
    (
        "test_multi_step_lr_state_dict",
        MultiStepSpec(lr=SETUP_LRS, milestones=[2, 5, 9], gamma=0.1),
        lambda o: _T().MultiStepLR(o, gamma=0.1, milestones=[2, 5, 9]),
    ),
    (
        "test_exp_step_lr_state_dict",
        ExponentialSpec(lr=SETUP_LRS, gamma=0.1),
        lambda o: _T().ExponentialLR(o, gamma=0.1),
    ),
]:
    CASES.append(
        Case(
            _name,
            (_spec,),
            _build,
            stepped_targets(_build, "setup", 10),
            [10],
            read="last_lr",
            tol={g: default_tol("setup", g) for g in range(2)},
            stepped=True,
            needs_torch_for_expected=True,
            tensor_float32_xfail=TENSOR_RECURSION_XFAIL if _name in TENSOR_RECURSION_DIFFERS else None,
        )
    )

# upstream's parametrized LRClass lists (test_lr_scheduler_checkpoint, test_constant_initial_lr,
# test_lr_scheduler_state_dict_load): the four classes, as partials over a given lr
CHECKPOINT_CLASSES = {
    "ExponentialLR": (
        lambda lr: ExponentialSpec(lr=lr, gamma=0.999),
        lambda o, **k: _T().ExponentialLR(o, gamma=0.999, **k),
    ),
    "StepLR": (lambda lr: StepSpec(lr=lr, step_size=30), lambda o, **k: _T().StepLR(o, step_size=30, **k)),
    "MultiStepLR": (
        lambda lr: MultiStepSpec(lr=lr, milestones=[30, 80]),
        lambda o, **k: _T().MultiStepLR(o, milestones=[30, 80], **k),
    ),
    "PolynomialLR": (lambda lr: PolynomialSpec(lr=lr), lambda o, **k: _T().PolynomialLR(o, **k)),
}
PARTIAL_CLASSES = {
    **CHECKPOINT_CLASSES,
    "ExponentialLR": (
        lambda lr: ExponentialSpec(lr=lr, gamma=0.9),
        lambda o, **k: _T().ExponentialLR(o, gamma=0.9, **k),
    ),
}
for _cls, (_make, _build) in CHECKPOINT_CLASSES.items():
    CASES.append(
        Case(
            f"test_lr_scheduler_checkpoint[{_cls}]",
            (_make(1e-3),),
            _build,
            stepped_targets(_build, "adamw", 1),
            [1],
            fixture="adamw",
            read="last_lr",
            tol=FLOAT64_DEFAULT,
            stepped=True,
            needs_torch_for_expected=True,
        )
    )


# ================================================================== upstream's other checks
@needs_torch
@pytest.mark.parametrize("name", sorted(STATE_DICT_COPIES))
def test_state_dict_round_trip(name):
    """test_step_lr_state_dict, test_multi_step_lr_state_dict, test_exp_step_lr_state_dict
    (_check_scheduler_state_dict): the scheduler stepped 10 times, its state loaded into one
    built with other settings: every attribute and get_last_lr() equal, here with both built
    by clr_torch.scheduler; the state reads back as the first spec."""
    import clr_torch

    case = next(c for c in CASES if c.upstream == name)
    opt = setup_optimizer()
    sched = clr_torch.scheduler(opt, case.specs[0])
    for _ in range(10):
        opt.step()
        sched.step()
    copy_ = clr_torch.scheduler(opt, STATE_DICT_COPIES[name])
    copy_.load_state_dict(sched.state_dict())
    for key in sched.__dict__:
        if key != "optimizer":
            assert sched.__dict__[key] == copy_.__dict__[key], key
    assert sched.get_last_lr() == copy_.get_last_lr()
    assert clr_spec.from_torch(sched.state_dict()) == case.specs[0]
    assert clr_spec.from_torch(copy_) == case.specs[0]


@needs_torch
@pytest.mark.parametrize("cls", sorted(CHECKPOINT_CLASSES))
def test_lr_scheduler_checkpoint_resume(cls):
    """test_lr_scheduler_checkpoint: one AdamW step, the optimizer's state into a fresh AdamW,
    the scheduler rebuilt there with ``last_epoch=0``: its lr is the trained one. Spec path: the
    spec read from torch's states, ``clr_torch.scheduler(optim2, spec, step=1)``."""
    import clr_torch

    make, build = CHECKPOINT_CLASSES[cls]
    model = __import__("torch").nn.Linear(3, 3)
    optim = __import__("torch").optim.AdamW(model.parameters())
    sch = build(optim)
    optim.step()
    sch.step()
    spec = clr_spec.from_torch(sch.state_dict(), optim.state_dict())
    assert spec == make(1e-3)
    optim2 = __import__("torch").optim.AdamW(model.parameters())
    optim2.load_state_dict(optim.state_dict())
    sch2 = build(optim2, last_epoch=0)  # upstream's resume
    assert clr_spec.from_torch(sch2) == spec
    optim3 = __import__("torch").optim.AdamW(model.parameters())
    optim3.load_state_dict(optim.state_dict())
    ours = clr_torch.scheduler(optim3, spec, step=1)
    atol, rtol = FLOAT64_DEFAULT
    assert ours.get_last_lr()[0] == pytest.approx(optim.param_groups[0]["lr"], abs=atol, rel=rtol)
    assert optim3.param_groups[0]["lr"] == pytest.approx(optim.param_groups[0]["lr"], abs=atol, rel=rtol)


@needs_torch
@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("cls", sorted(PARTIAL_CLASSES))
def test_lr_scheduler_state_dict_load(cls, weights_only):
    """test_lr_scheduler_state_dict_load: the state saved and loaded with torch.save/torch.load
    is the same, reads back as the spec, and loads into the scheduler the spec path builds."""
    make, build = PARTIAL_CLASSES[cls]
    spec = make(SETUP_LRS)
    _, _, loaded = state_saved_and_reloaded(spec, build, weights_only)
    assert clr_spec.from_torch(loaded) == spec
    assert [float(v) for v in loaded["_last_lr"]] == spec_lrs(spec, 0)


def spec_lrs(spec, step: int) -> list:
    return [float(spec.lr(step, g)) for g in range(spec.num_groups or 1)]


@needs_torch
@pytest.mark.parametrize("cls", sorted(PARTIAL_CLASSES))
def test_constant_initial_lr(cls):
    """test_constant_initial_lr, for upstream's partials of these classes (the harness's check)."""
    check_constant_initial_lr(PARTIAL_CLASSES[cls][0])


CONSTANT_EPOCH = {
    "test_step_lr_is_constant_for_constant_epoch": (StepSpec(lr=SETUP_LRS, step_size=2), lambda o: _T().StepLR(o, 2)),
    "test_exponential_lr_is_constant_for_constant_epoch": (
        ExponentialSpec(lr=SETUP_LRS, gamma=0.9),
        lambda o: _T().ExponentialLR(o, gamma=0.9),
    ),
    "test_polynomial_lr_is_constant_for_constant_epoch": (
        PolynomialSpec(lr=SETUP_LRS, power=0.9),
        lambda o: _T().PolynomialLR(o, power=0.9),
    ),
}


@pytest.mark.parametrize("name", sorted(CONSTANT_EPOCH))
def test_lr_is_constant_for_constant_epoch(name):
    """_test_lr_is_constant_for_constant_epoch: ``step(2)`` ten times gives one lr. Spec path:
    the lr at step 2, asked ten times (numpy, optax, clr_torch resumed at 2), is one value; it
    is torch's ``step(2)`` value within upstream's tolerance."""
    spec, build = CONSTANT_EPOCH[name]
    values = spec.lr(np.full(10, 2), 0)
    assert values.min() == values.max()
    if HAS_JAX:
        import jax.numpy as jnp

        import clr_optax

        ours = np.asarray(clr_optax.lr_schedule(spec, 0)(jnp.full(10, 2)))
        assert ours.min() == ours.max()
    if HAS_TORCH:
        import clr_torch

        resumed = []
        for _ in range(10):
            opt = setup_optimizer()
            clr_torch.scheduler(opt, spec, step=2)
            resumed.append(opt.param_groups[0]["lr"])
        assert min(resumed) == max(resumed)
        opt = setup_optimizer()
        sched = build(opt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt.step()
            sched.step(2)
        assert values[0] == pytest.approx(opt.param_groups[0]["lr"], abs=ATOL, rel=0)
        assert clr_spec.from_torch(sched) == spec


# ------------------------------------------------------------------ call-order warnings (StepLR)
WARN_SPEC = StepSpec(lr=SETUP_LRS, step_size=3, gamma=0.1)
RESUMED_SPEC = StepSpec(lr=0.01, step_size=3, gamma=0.1)  # upstream: initial_lr = 0.01, last_epoch=10
RESUME_XFAIL = pytest.mark.xfail(
    strict=True,
    reason=(
        "clr_torch.scheduler(step=10) leaves the scheduler as 10 step() calls leave it (its _step_count "
        "is 11), so torch's call-order check (made at _step_count == 1) never runs again; torch's own "
        "resume (last_epoch=10) leaves _step_count at 1 and warns"
    ),
)


def _old_pattern(opt, sched, epochs=35):
    for _ in range(epochs):
        sched.step()
        opt.step()


def _built_quietly(spec, step: int = 0, overridden: bool = False):
    """``clr_torch.scheduler(opt, spec, step=step)`` on upstream's setUp optimizer, which warns
    nothing; with ``overridden``, the optimizer's ``step`` then replaced by a wrapper (upstream's
    overridden ``optimizer.step``)."""
    import types

    import clr_torch

    opt = setup_optimizer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched = clr_torch.scheduler(opt, spec, step=step)
    assert caught == []
    if overridden:
        old_step = opt.step
        opt.step = types.MethodType(lambda self, *a, **k: old_step(*a, **k), opt)
    return opt, sched


@needs_torch
@pytest.mark.parametrize("upstream", ["test_old_pattern_warning", "test_old_pattern_warning_with_arg"])
def test_old_pattern_warning(upstream):
    opt, sched = _built_quietly(WARN_SPEC)
    with pytest.warns(UserWarning, match="how-to-adjust-learning-rate"):
        _old_pattern(opt, sched)


@needs_torch
@RESUME_XFAIL
@pytest.mark.parametrize(
    "upstream", ["test_old_pattern_warning_resuming", "test_old_pattern_warning_resuming_with_arg"]
)
def test_old_pattern_warning_resuming(upstream):
    opt, sched = _built_quietly(RESUMED_SPEC, step=10)
    with pytest.warns(UserWarning, match="how-to-adjust-learning-rate"):
        _old_pattern(opt, sched)


@needs_torch
@RESUME_XFAIL
def test_old_pattern_warning_with_overridden_optim_step():
    opt, sched = _built_quietly(RESUMED_SPEC, step=10, overridden=True)
    with pytest.warns(UserWarning, match="how-to-adjust-learning-rate"):
        _old_pattern(opt, sched)


@needs_torch
@pytest.mark.parametrize("upstream", ["test_new_pattern_no_warning", "test_new_pattern_no_warning_with_arg"])
def test_new_pattern_no_warning(upstream):
    opt, sched = _built_quietly(WARN_SPEC)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(35):
            opt.step()
            sched.step()
    assert caught == []


@needs_torch
def test_new_pattern_no_warning_with_overridden_optim_step():
    opt, sched = _built_quietly(WARN_SPEC, overridden=True)
    with pytest.warns(UserWarning, match=r"`optimizer.step\(\)` has been overridden"):
        for _ in range(35):
            opt.step()
            sched.step()


@needs_torch
def test_resuming_without_initial_lr():
    """test_raise_error_when_last_epoch_is_greater_than_0_and_initial_lr_is_not_specified:
    torch's ``StepLR(..., last_epoch=1)`` on an optimizer without ``initial_lr`` raises KeyError.
    The spec path deliberately has no such state to miss: the spec carries the lr, and
    ``clr_torch.scheduler(opt, spec, step=1)`` writes ``initial_lr`` itself and resumes."""
    import torch

    import clr_torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.randn(2, 2))], 0.1)
    with pytest.raises(KeyError, match=r"param \'initial_lr\' is not specified in param_groups\[0\]"):
        _T().StepLR(opt, step_size=3, gamma=0.1, last_epoch=1)
    spec = StepSpec(lr=0.1, step_size=3, gamma=0.1)
    sched = clr_torch.scheduler(opt, spec, step=1)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and sched.last_epoch == 1
    assert opt.param_groups[0]["lr"] == spec.lr(1).item()


@needs_torch
def test_sequentiallr_no_warnings():
    """test_sequentiallr_no_warnings: LinearLR(0.5 -> 0.1 over 5) then ExponentialLR(0.9) at 5,
    stepped in the right order, warns nothing; torch's reads back as the spec."""
    import clr_torch

    spec = SequentialSpec(
        [
            LinearSpec(lr=SETUP_LRS, start_factor=0.5, end_factor=0.1, total_iters=5),
            ExponentialSpec(lr=SETUP_LRS, gamma=0.9),
        ],
        milestones=[5],
        momentum=0.0,
    )
    opt = setup_optimizer()
    sched = clr_torch.scheduler(opt, spec)
    for _ in range(10):
        opt.step()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step()
        assert caught == []
    ref = setup_optimizer()
    theirs = _seq(
        ref,
        [_T().LinearLR(ref, start_factor=0.5, end_factor=0.1, total_iters=5), _T().ExponentialLR(ref, gamma=0.9)],
        [5],
    )
    assert clr_spec.from_torch(theirs) == spec


# ------------------------------------------------------------------ the deliberate difference
@needs_torch
def test_tensor_lr_is_stepped_in_float32():
    """Why the float32-exact check xfails for upstream's tensor-lr group: torch's decays
    multiply ``group["lr"]``, a float32 tensor there, so the recursion runs in float32; the
    spec replays the float64 recursion of a float lr. Measured here: within upstream's
    tolerance and within 3 float32 ulps over upstream's 10 steps (0 or 1 for StepLR and
    MultiStepLR, up to 3 for ExponentialLR(0.1)), and bitwise for the float-lr group."""
    for case in (c for c in CASES if c.stepped and c.fixture == "setup"):
        distance = tensor_group_ulps(case)  # the float lr bitwise, the tensor lr within tolerance
        assert distance.max() <= 3, case.upstream
        assert (distance[10] > 0) == (case.upstream in TENSOR_RECURSION_DIFFERS)
