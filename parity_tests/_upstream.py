"""The harness that runs PyTorch's own scheduler tests (pytorch/pytorch
``test/optim/test_lrscheduler.py``, class ``TestLRScheduler``) on the spec path. The case files,
``test_torch_upstream_decays.py`` and ``test_torch_upstream_lambdas_chained.py``, hold the
upstream tests' own settings and expected values (their docstrings say what each ports, and
what not); this module holds what they share: upstream's optimizers (``FIXTURES``), torch's
tolerances, the ``Case`` type (one upstream test on the spec path), the readers of each path's
values, and the value checks every case gets:

1. ``test_spec_lr``: ``spec.lr(k, g)`` against the expected values (numpy, no framework);
2. ``test_clr_torch_trajectory``: ``clr_torch.scheduler(optimizer, spec)`` stepped with the
   optimizer, and ``test_clr_torch_resumed``: resumed at each ``step=k``, against the same;
3. ``test_optax_float32``: the optax schedule in float32, equal to ``float32(expected)`` where
   upstream's expectation is a value torch stepped, else within upstream's tolerance;
   ``test_optax_x64``: under x64, within upstream's tolerance;
4. ``test_from_torch``: ``clr_spec.from_torch`` of torch's scheduler built as upstream builds
   it, and of its saved state, is the spec.

(``test_torch_suite.py``, the CyclicLR port, which swaps classes rather than building specs,
uses only ``saved_and_loaded``.)

A case file defines ``CASES`` and imports these checks together with ``pytest_generate_tests``,
which parametrizes them, in the module that collects them, on that module's ``CASES``: the
checks are written once, and each file's tests keep their ids
(``test_torch_upstream_decays.py::test_spec_lr[test_step_lr]``). This module is not a test
module (pytest does not rewrite its asserts), so its asserts say what they compared.

This module imports torch and jax only inside functions, so that it imports (and its case files
collect) where either is missing; the checks that need one carry ``needs_torch`` / ``needs_jax``.
"""

from __future__ import annotations

import copy
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pytest

import clr_spec
from clr_spec import ChainedSpec, ConstantSpec, LambdaSpec, LinearSpec, MultiplicativeSpec

from ._frameworks import needs_jax, needs_torch

SETUP_LRS = [0.05, 0.5]  # upstream setUp: SGD lr=0.05, the second group lr=torch.tensor(0.5)
LAMBDA_LRS = [0.05, 0.4]  # test_lambda_lr / test_multiplicative_lr set the groups' lr to these floats
ATOL = 1e-5  # upstream's _test / _test_get_last_lr / _test_with_epoch / closed form
LOOSE = (ATOL, 0.0)  # (atol, rtol)
FLOAT64_DEFAULT = (1e-7, 1e-7)  # torch's assertEqual on Python floats
FLOAT32_DEFAULT = (1e-5, 1.3e-6)  # torch's assertEqual on float32 tensors


def _T():
    """``torch.optim.lr_scheduler``, imported when a test builds torch's schedulers."""
    from torch.optim import lr_scheduler

    return lr_scheduler


# ------------------------------------------------------------------ upstream's optimizers
def setup_optimizer():
    """Upstream ``setUp``: two groups, a float lr and a tensor lr (one small parameter stands
    in for each conv layer: only the param groups matter)."""
    import torch

    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([{"params": [p1]}, {"params": [p2], "lr": torch.tensor(0.5)}], lr=0.05)


def single_sgd_optimizer():
    """test_get_last_lr_step_lr: ``SGD([Parameter(randn(2, 2))], 0.1)``."""
    import torch

    return torch.optim.SGD([torch.nn.Parameter(torch.randn(2, 2))], 0.1)


def lambda_optimizer():
    """test_lambda_lr / test_multiplicative_lr: setUp, then ``param_groups[0]["lr"] = 0.05`` and
    ``param_groups[1]["lr"] = 0.4`` (the tensor replaced by a float)."""
    opt = setup_optimizer()
    for group, lr in zip(opt.param_groups, LAMBDA_LRS):
        group["lr"] = lr
    return opt


def adamw_optimizer():
    """test_lr_scheduler_checkpoint: ``AdamW(Linear(3, 3).parameters())`` (lr 1e-3)."""
    import torch

    return torch.optim.AdamW(torch.nn.Linear(3, 3).parameters())


@dataclass(frozen=True)
class Fixture:
    """An upstream optimizer: ``make()`` builds it; it has ``groups`` param groups, and
    ``tensor_groups`` are those whose torch lr is a float32 tensor."""

    make: Callable[[], Any]
    groups: int
    tensor_groups: frozenset = frozenset()


FIXTURES = {
    "setup": Fixture(setup_optimizer, 2, frozenset({1})),
    "sgd_0.1": Fixture(single_sgd_optimizer, 1),
    "lambda": Fixture(lambda_optimizer, 2),
    "adamw": Fixture(adamw_optimizer, 1),
}


def default_tol(fixture: str, group: int) -> tuple:
    """Upstream's ``assertEqual`` without tolerances on a group's lr: torch's defaults, float32's
    where that group's torch lr is a tensor. (atol, rtol)."""
    return FLOAT32_DEFAULT if group in FIXTURES[fixture].tensor_groups else FLOAT64_DEFAULT


# ------------------------------------------------------------------ cases
@dataclass
class Case:
    """One upstream test on the spec path.

    ``specs``: the spec, or a tuple of several for upstream's compound tests (several
    schedulers stepping one optimizer; no single spec says that, so the expectation is their
    product, and clr_torch builds each). ``build(opt)``: torch's scheduler as upstream builds
    it (a list of them for a compound). ``expected``: per checked group, the lr at each of
    ``steps`` (a list, or a function of nothing that needs torch). ``read``: ``"lr"``
    (``_test``: ``group["lr"]`` before each ``step()``), ``"last_lr"`` (``get_last_lr()``) or
    ``"epoch"`` (upstream's ``step(epoch)``, read as ``"lr"``; its spec-path counterpart is
    ``test_clr_torch_resumed``). ``stepped``: the expectation is a value torch stepped.
    ``tensor_float32_xfail``: the reason, where the float32-exact check is known to fail for
    the fixture's tensor-lr groups (a strict xfail there).
    """

    upstream: str
    specs: Any
    build: Callable[..., Any]
    expected: Any
    steps: Sequence[int]
    fixture: str = "setup"
    tol: Any = LOOSE  # (atol, rtol), or a dict of them per group
    read: str = "lr"
    stepped: bool = False
    needs_torch_for_expected: bool = False
    tensor_float32_xfail: str | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.specs, tuple):
            self.specs = (self.specs,)

    @property
    def id(self) -> str:
        return self.upstream

    @property
    def spec(self):
        """The case's one spec (not for a compound)."""
        (spec,) = self.specs
        return spec

    def optimizer(self):
        return FIXTURES[self.fixture].make()

    def targets(self) -> np.ndarray:
        """(groups checked, len(steps)) float64."""
        if "t" not in self._cache:
            raw = self.expected() if callable(self.expected) else self.expected
            self._cache["t"] = np.array([[float(v) for v in group[: len(self.steps)]] for group in raw])
        return self._cache["t"]

    def groups_checked(self) -> int:
        """As many groups as the targets list has; where the expectation is torch's, every
        group of the fixture (known without torch, for collecting)."""
        return FIXTURES[self.fixture].groups if self.needs_torch_for_expected else len(self.expected)

    def tolerances(self, group: int) -> tuple:
        if isinstance(self.tol, dict):
            return self.tol[group]
        return self.tol

    def marks(self) -> list:
        return [needs_torch] if self.needs_torch_for_expected else []


def case_params(cases: Sequence[Case]) -> list:
    return [pytest.param(c, id=c.id, marks=c.marks()) for c in cases]


def single_spec_params(cases: Sequence[Case]) -> list:
    """The cases of one spec (``clr_torch.scheduler(step=k)`` resumes one spec)."""
    return case_params([c for c in cases if len(c.specs) == 1])


def float32_params(cases: Sequence[Case]) -> list:
    """(case, group) for every checked group; in the float32-exact check, a tensor-lr group
    whose float32 recursion torch rounds differently is a strict xfail, with the case's reason."""
    out = []
    for c in cases:
        for g in range(c.groups_checked()):
            marks = list(c.marks())
            if c.tensor_float32_xfail and g in FIXTURES[c.fixture].tensor_groups:
                marks.append(pytest.mark.xfail(strict=True, reason=c.tensor_float32_xfail))
            out.append(pytest.param(c, g, id=f"{c.id}-group{g}", marks=marks))
    return out


def assert_within(what: str, case: Case, group: int, got: Any, expected: np.ndarray, steps: Sequence[int]) -> None:
    atol, rtol = case.tolerances(group)
    got = np.asarray(got, dtype=np.float64)
    bad = np.abs(got - expected) > atol + rtol * np.abs(expected)
    if bad.any():
        i = int(np.argmax(bad))
        raise AssertionError(
            f"{case.upstream} group {group} ({what}): at step {list(steps)[i]} expected "
            f"{expected[i]!r}, got {got[i]!r} (atol={atol}, rtol={rtol})"
        )


# ------------------------------------------------------------------ each path's values
def spec_values(case: Case, group: int, steps: Any) -> np.ndarray:
    """The spec path's lr: the spec's, or for a compound the product of the specs' factors."""
    out = None
    for spec in case.specs:
        value = spec.lr(steps, group)
        out = value if out is None else out * value / spec.group_lr(group)
    return out


def optax_values(case: Case, group: int, steps: np.ndarray) -> np.ndarray:
    """The optax schedule's lr (jitted), a compound's as the product of the specs' factors."""
    import jax
    import jax.numpy as jnp

    import clr_optax

    out = None
    for spec in case.specs:
        value = np.asarray(jax.jit(clr_optax.lr_schedule(spec, group))(jnp.asarray(steps)))
        out = value if out is None else out * value / value.dtype.type(spec.group_lr(group))
    return out


def torch_values(opt) -> list:
    return [float(g["lr"]) for g in opt.param_groups]


def read(opt, scheds: list, how: str) -> list:
    """Each group's lr: ``get_last_lr()`` of the last scheduler for ``"last_lr"``, else the
    optimizer's ``group["lr"]``."""
    if how == "last_lr":
        return [float(v) for v in scheds[-1].get_last_lr()]
    return torch_values(opt)


def run(opt, scheds: list, n: int, how: str = "lr") -> np.ndarray:
    """(n, groups): what ``read`` gives before each of ``n`` steps (the optimizer's, then each
    scheduler's)."""
    seen = []
    for _ in range(n):
        seen.append(read(opt, scheds, how))
        opt.step()
        for s in scheds:
            s.step()
    return np.array(seen)


def torch_run(case: Case, n: int) -> np.ndarray:
    """(n, groups): torch's own scheduler(s), built as upstream builds them, stepped ``n`` times
    from the fixture: ``group["lr"]`` before each step."""
    opt = case.optimizer()
    built = case.build(opt)
    return run(opt, built if isinstance(built, list) else [built], n)


def stepped_targets(case_build: Callable, fixture: str, steps: int) -> Callable[[], list]:
    """torch's own scheduler, built as upstream builds it, stepped ``steps`` times:
    ``get_last_lr()`` per group (as upstream's state-dict and checkpoint tests compare it)."""

    def make() -> list:
        opt = FIXTURES[fixture].make()
        sched = case_build(opt)
        for _ in range(steps):
            opt.step()
            sched.step()
        return [[float(v)] for v in sched.get_last_lr()]

    return make


def built_by_spec_path(opt, case: Case) -> list:
    """clr_torch.scheduler for each spec, each of the spec's torch class. It sets the groups' lr
    to the spec's lr (a schedule is one spec per optimizer), so in a compound the decays, which
    leave the lr alone when built, are built first and LinearLR/ConstantLR, which scale it when
    built, last (upstream's test_compound_exp_and_linearlr builds LinearLR first; torch's decays
    multiply whatever lr the group holds, so the trajectory is the same)."""
    import clr_torch

    order = sorted(case.specs, key=lambda s: isinstance(s, (LinearSpec, ConstantSpec)))
    scheds = [clr_torch.scheduler(opt, spec) for spec in order]
    classes = [type(s).__name__ for s in scheds]
    assert classes == [spec.TORCH_CLASS for spec in order], f"{case.upstream}: clr_torch built {classes}"
    return scheds


def from_torch_keywords(spec) -> dict:
    """The keywords of ``from_torch`` that are ours, not torch's: a replay's horizon."""
    return {"horizon": spec.horizon} if isinstance(spec, (MultiplicativeSpec, ChainedSpec)) else {}


def state_keywords(spec, sched) -> dict:
    """What ``from_torch`` of a saved state needs besides it: the class (LambdaLR and
    MultiplicativeLR states have the same keys) and the functions (torch saves none), and ours."""
    if isinstance(spec, (LambdaSpec, MultiplicativeSpec)):
        return {"torch_class": spec.TORCH_CLASS, "lr_lambda": list(sched.lr_lambdas), **from_torch_keywords(spec)}
    return from_torch_keywords(spec)


# ------------------------------------------------------------------ the value checks (1)-(4)
def _on_cases(argnames: str, params: Callable[[Sequence[Case]], list]):
    """Mark a check to be parametrized, in each module that collects it, by
    ``params(module.CASES)`` (see ``pytest_generate_tests``)."""

    def mark(check):
        check.upstream_parametrize = (argnames, params)
        return check

    return mark


def pytest_generate_tests(metafunc) -> None:
    """Imported by each case file: parametrizes the checks below on the collecting module's
    ``CASES``; the file's own tests it leaves alone. (Collected here, where this file is named on
    the command line, the checks have no cases: pytest skips them as empty.)"""
    on = getattr(metafunc.function, "upstream_parametrize", None)
    if on is not None:
        argnames, params = on
        metafunc.parametrize(argnames, params(getattr(metafunc.module, "CASES", [])))


@_on_cases("case", case_params)
def test_spec_lr(case):
    for g, expected in enumerate(case.targets()):
        assert_within("spec.lr", case, g, spec_values(case, g, np.asarray(case.steps)), expected, case.steps)


@needs_torch
@_on_cases("case", case_params)
def test_clr_torch_trajectory(case):
    targets = case.targets()
    opt = case.optimizer()
    scheds = built_by_spec_path(opt, case)
    seen = run(opt, scheds, max(case.steps) + 1, case.read)[list(case.steps)]
    for g, expected in enumerate(targets):
        assert_within("clr_torch.scheduler stepped", case, g, seen[:, g], expected, case.steps)


@needs_torch
@_on_cases("case", single_spec_params)
def test_clr_torch_resumed(case):
    """``clr_torch.scheduler(opt, spec, step=k)`` at each k: the spec path's ``step(epoch)``."""
    import clr_torch

    targets = case.targets()
    for i, k in enumerate(case.steps):
        opt = case.optimizer()
        sched = clr_torch.scheduler(opt, case.spec, step=k)
        values = read(opt, [sched], case.read)
        for g, expected in enumerate(targets):
            assert_within(f"clr_torch.scheduler(step={k})", case, g, [values[g]], expected[i : i + 1], [k])


@needs_jax
@_on_cases("case, group", float32_params)
def test_optax_float32(case, group):
    steps = np.asarray(case.steps)
    got = optax_values(case, group, steps)
    assert got.dtype == np.float32, got.dtype
    expected = case.targets()[group]
    if case.stepped:  # upstream compares with torch's stepped value: float32 of it exactly
        want = expected.astype(np.float32)
        assert got.tolist() == want.tolist(), (
            f"{case.upstream} group {group}: at steps {list(steps)} expected float32 {want.tolist()}, "
            f"got {got.tolist()}"
        )
    else:
        assert_within("optax float32", case, group, got, expected, case.steps)


@needs_jax
@_on_cases("case", case_params)
def test_optax_x64(case):
    import jax

    steps = np.asarray(case.steps)
    with jax.enable_x64(True):
        for g, expected in enumerate(case.targets()):
            got = optax_values(case, g, steps)
            assert got.dtype == np.float64, got.dtype
            assert_within("optax x64", case, g, got, expected, case.steps)


@needs_torch
@_on_cases("case", case_params)
def test_from_torch(case):
    """Each of torch's schedulers, as upstream builds them, and its saved state with the
    optimizer's, as a checkpoint holds them, reads back as its spec."""
    opt = case.optimizer()
    built = case.build(opt)
    built = built if isinstance(built, list) else [built]
    assert len(built) == len(case.specs), f"{case.upstream}: {len(built)} schedulers for {len(case.specs)} specs"
    for sched, spec in zip(built, case.specs):
        got = clr_spec.from_torch(sched, **from_torch_keywords(spec))
        assert got == spec, f"{case.upstream}: from_torch gave {got!r}, not {spec!r}"
        got = clr_spec.from_torch(sched.state_dict(), opt.state_dict(), **state_keywords(spec, sched))
        assert got == spec, f"{case.upstream}: from_torch of the state gave {got!r}, not {spec!r}"


# ------------------------------------------------------------------ upstream's other checks, shared
def saved_and_loaded(state: dict, weights_only: bool) -> dict:
    """test_lr_scheduler_state_dict_load: ``state`` saved with torch.save and loaded with
    torch.load (``weights_only`` as given) is the same."""
    import torch

    with tempfile.TemporaryFile() as fh:
        torch.save(state, fh)
        fh.seek(0)
        loaded = torch.load(fh, weights_only=weights_only)
    assert loaded == state, f"torch.load gave {loaded!r}, saved {state!r}"
    return loaded


def state_saved_and_reloaded(spec, build: Callable, weights_only: bool) -> tuple:
    """test_lr_scheduler_state_dict_load on the spec path: the state of torch's scheduler
    (``build`` on upstream's setUp optimizer), saved and loaded, is the same, and loads into the
    scheduler the spec path builds of ``spec``, whose state is then the same. Returns (the
    optimizer, torch's scheduler, the loaded state)."""
    import clr_torch

    opt = setup_optimizer()
    sched = build(opt)
    state = sched.state_dict()
    loaded = saved_and_loaded(state, weights_only)
    again = clr_torch.scheduler(setup_optimizer(), spec)
    again.load_state_dict(loaded)
    assert again.state_dict() == state, f"loaded into clr_torch's scheduler: {again.state_dict()!r}, not {state!r}"
    return opt, sched, loaded


def check_constant_initial_lr(make: Callable[[float], Any]) -> None:
    """test_constant_initial_lr, for the spec ``make(lr)``: with a tensor lr that the user then
    scales in place, the groups' initial_lr and the scheduler's base_lrs stay 0.1 and do not
    alias each other; the scheduler still reads back as the spec."""
    import torch

    import clr_torch

    spec = make(0.1)
    lr = torch.as_tensor(0.1)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.randn(1))], lr=lr)
    sch = clr_torch.scheduler(opt, spec)
    original = copy.deepcopy(opt.param_groups)
    for i in range(2):
        opt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # step(epoch) is deprecated
            sch.step(i)
        lr.multiply_(0.1)
        for group, before in zip(opt.param_groups, original):
            assert group["initial_lr"] == before["initial_lr"], (group["initial_lr"], before["initial_lr"])
            assert sch.base_lrs == [0.1], sch.base_lrs
            assert sch.base_lrs[0] is not group["initial_lr"], "base_lrs aliases initial_lr"
    # torch holds the lr as a float32 tensor: the spec read back has float32(0.1), the lr torch
    # scales (not 0.1 itself; upstream's base_lrs == [0.1] compares at float32 precision too).
    got = clr_spec.from_torch(sch, **from_torch_keywords(spec))
    assert got == make(float(np.float32(0.1))), got


def tensor_group_ulps(case: Case, n: int = 11) -> np.ndarray:
    """test_tensor_lr_is_stepped_in_float32's measure, over ``n`` steps of torch's own scheduler
    (as upstream builds it, on setUp) against the spec: the float-lr group bitwise equal, the
    tensor-lr group within torch's float32 tolerance. Returns that group's float32 ulps apart
    at each step."""
    from ._helpers import ulp_distance

    torch_lrs = torch_run(case, n)
    np.testing.assert_array_equal(case.spec.lr(np.arange(n), 0), torch_lrs[:, 0], err_msg=case.upstream)
    ours = case.spec.lr(np.arange(n), 1)
    atol, rtol = FLOAT32_DEFAULT
    assert np.all(np.abs(ours - torch_lrs[:, 1]) <= atol + rtol * np.abs(ours)), case.upstream
    return ulp_distance(ours.astype(np.float32), torch_lrs[:, 1].astype(np.float32))
