"""Regressions of the drop-in: tensor bounds, momentum beyond 1, torch-style scale functions in
optax, leftover ``initial_lr`` and spec equality, each checked against torch's own CyclicLR run
on the same inputs (or, where torch is wrong, against torch on inputs where it is right)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")
pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")
pytest.importorskip("optax", reason="needs optax: pip install 'clr-spec[jax]'")

import math
import warnings

import jax
import numpy as np
import torch
from torch.optim.lr_scheduler import CyclicLR as TorchCyclicLR

import clr_optax
import clr_torch
from clr_optax import _schedules
from clr_spec import CyclicSpec

from ._helpers import torch_reference

STEPS = 40


def _optimizer(kind: str, lr_kinds: list[str], momentum_kind: str = "float"):
    """One param group per entry of ``lr_kinds`` ("float" or "tensor" lr in the optimizer)."""
    groups = []
    for kind_of_lr in lr_kinds:
        lr = torch.tensor(0.5) if kind_of_lr == "tensor" else 0.5
        groups.append({"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr})
    if kind == "adam":
        betas = (torch.tensor(0.5), torch.tensor(0.999)) if momentum_kind == "tensor" else (0.5, 0.999)
        return torch.optim.Adam(groups, betas=betas)
    momentum = torch.tensor(0.5) if momentum_kind == "tensor" else 0.5
    return torch.optim.SGD(groups, lr=0.5, momentum=momentum)


def _trace(cls, opt, steps: int = STEPS, **kwargs):
    """(lr, momentum) of every group before each update, as Python floats."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = cls(opt, **kwargs)
    out = []
    for _ in range(steps):
        out.append(
            [(float(g["lr"]), float(g["betas"][0] if "betas" in g else g["momentum"])) for g in opt.param_groups]
        )
        opt.step()
        sched.step()
    return out, sched


def _bounds(as_tensor: bool, groups: int):
    make = (lambda v: torch.tensor(v)) if as_tensor else float
    return dict(
        base_lr=[make(0.01 * (i + 1)) for i in range(groups)],
        max_lr=[make(0.1 * (i + 1)) for i in range(groups)],
        base_momentum=[make(0.8 - 0.1 * i) for i in range(groups)],
        max_momentum=[make(0.9 - 0.1 * i) for i in range(groups)],
        step_size_up=4,
        step_size_down=3,
        mode="triangular2",
    )


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("momentum_kind", ["float", "tensor"])
def test_tensor_bounds_follow_torch_where_torch_is_right(kind, momentum_kind):
    """Tensor bounds, per group, with float and tensor optimizer lrs and momenta: bitwise torch's
    trajectory where torch's optimizer values are tensors (torch aliases nothing there), and
    the same trajectory where they are floats (torch's lr leaves the cycle there)."""
    kwargs = _bounds(True, 2)
    reference, _ = _trace(TorchCyclicLR, _optimizer(kind, ["tensor", "tensor"], "tensor"), **kwargs)
    for lr_kinds in (["tensor", "tensor"], ["float", "tensor"], ["float", "float"]):
        ours, sched = _trace(clr_torch.CyclicLR, _optimizer(kind, lr_kinds, momentum_kind), **kwargs)
        assert ours == reference, lr_kinds
        # The bounds did not move (torch's test_constant_initial_params_cyclelr).
        assert [float(b) for b in sched.base_lrs] == pytest.approx([0.01, 0.02])
        assert [float(m) for m in sched.max_momentums] == [pytest.approx(0.9), pytest.approx(0.8)]
        for group, high in zip(sched.optimizer.param_groups, (0.9, 0.8)):
            assert float(group["max_momentum"]) == pytest.approx(high)


def test_tensor_momentum_bounds_with_float_momentum_match_torch_bitwise():
    """Item 1: torch replaces the momentum, so its trajectory is right here: ours equals it."""
    kwargs = dict(
        base_lr=0.01, max_lr=0.1, step_size_up=4, base_momentum=torch.tensor(0.8), max_momentum=torch.tensor(0.9)
    )
    theirs, _ = _trace(TorchCyclicLR, _optimizer("sgd", ["float"]), **kwargs)
    ours, _ = _trace(clr_torch.CyclicLR, _optimizer("sgd", ["float"]), **kwargs)
    assert ours == theirs
    assert [m for _, m in (row[0] for row in ours[:9])] == pytest.approx(
        [0.9, 0.875, 0.85, 0.825, 0.8, 0.825, 0.85, 0.875, 0.9]
    )


def test_tensor_lr_bounds_with_float_lr_stay_in_the_cycle_where_torch_does_not():
    """Item 2: torch stores its base_lr tensor in the group, then fills it in place; its lr
    climbs to max_lr and stays there. Ours keeps the cycle that float bounds give."""
    kwargs = dict(base_lr=torch.tensor(0.01), max_lr=torch.tensor(0.1), step_size_up=4)
    theirs, _ = _trace(TorchCyclicLR, _optimizer("sgd", ["float"]), steps=12, **kwargs)
    ours, _ = _trace(clr_torch.CyclicLR, _optimizer("sgd", ["float"]), steps=12, **kwargs)
    right, _ = _trace(TorchCyclicLR, _optimizer("sgd", ["tensor"]), steps=12, **kwargs)
    assert ours == right
    lrs = [row[0][0] for row in ours]
    assert lrs == pytest.approx([0.01, 0.0325, 0.055, 0.0775, 0.1, 0.0775, 0.055, 0.0325, 0.01, 0.0325, 0.055, 0.0775])
    torch_lrs = [row[0][0] for row in theirs]
    assert torch_lrs[2] == pytest.approx(0.06625) and torch_lrs[5:] == pytest.approx([0.1] * 7)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_momentum_bounds_above_one_as_in_torch_s_tests(mode):
    """Item 4: SGD takes any momentum >= 0; torch's own tests cycle it between 1 and 12."""
    kwargs = dict(
        base_lr=[1, 5], max_lr=[5, 12], step_size_up=4, base_momentum=[1, 5], max_momentum=[5, 12], mode=mode, gamma=0.9
    )
    theirs, _ = _trace(TorchCyclicLR, _optimizer("sgd", ["float", "tensor"]), **kwargs)
    ours, _ = _trace(clr_torch.CyclicLR, _optimizer("sgd", ["float", "tensor"]), **kwargs)
    assert ours == theirs
    spec = CyclicSpec(**kwargs)
    steps = np.arange(STEPS)
    for g in range(2):
        torch_momentum = np.array([row[g][1] for row in theirs])
        np.testing.assert_array_equal(spec.momentum(steps, group=g), torch_momentum)
        optax_momentum = np.asarray(clr_optax.cyclic_momentum_schedule(spec, group=g)(steps))
        np.testing.assert_array_equal(optax_momentum, torch_momentum.astype(np.float32))
        float_float = _schedules.build_schedule(spec, "momentum", g, "float-float")
        np.testing.assert_array_max_ulp(
            np.asarray(jax.jit(float_float)(steps)), torch_momentum.astype(np.float32), maxulp=1
        )


def test_momentum_that_makes_garbage_is_refused():
    opt = _optimizer("sgd", ["float"])
    with pytest.raises(ValueError, match=r"base_momentum must be >= 0"):
        clr_torch.CyclicLR(opt, base_lr=0.01, max_lr=0.1, base_momentum=-0.1)
    with pytest.raises(ValueError, match=r"max_momentum must be finite"):
        clr_torch.CyclicLR(opt, base_lr=0.01, max_lr=0.1, max_momentum=math.inf)
    # Adam divides by 1 - beta1**t: torch's CyclicLR takes beta1 = 1 and Adam then gives NaN.
    with pytest.raises(ValueError, match=r"max_momentum must lie in \[0, 1\) when it cycles an optimizer's betas"):
        clr_torch.CyclicLR(_optimizer("adam", ["float"]), base_lr=0.01, max_lr=0.1, max_momentum=1.0)
    with pytest.raises(ValueError, match=r"max_momentum must be < 1 when it cycles"):
        clr_optax.adam(CyclicSpec(base_lr=0.01, max_lr=0.1, max_momentum=1.0))


def test_scale_fn_method_is_torch_s_for_every_mode():
    """Item 3: ``CyclicLR.scale_fn(x)``, a public method of torch's."""
    for mode in ("triangular", "triangular2", "exp_range"):
        ours = clr_torch.CyclicLR(_optimizer("sgd", ["float"]), 0.01, 0.1, mode=mode, gamma=0.99)
        theirs = TorchCyclicLR(_optimizer("sgd", ["float"]), 0.01, 0.1, mode=mode, gamma=0.99)
        for x in (1, 2, 10, 1000, 1024):
            assert ours.scale_fn(x) == theirs.scale_fn(x)
    with pytest.raises(OverflowError):
        theirs = TorchCyclicLR(_optimizer("sgd", ["float"]), 0.01, 0.1, mode="triangular2")
        theirs.scale_fn(1026)
    ours = clr_torch.CyclicLR(_optimizer("sgd", ["float"]), 0.01, 0.1, mode="triangular2")
    assert ours.scale_fn(1026) == 0.0


# torch-style scale functions as people write them for torch: integer powers, %, comparisons.
TORCH_STYLE = {
    "int_power_triangular2": (lambda x: 1 / (2 ** (x - 1)), "cycle", 80),
    "float_power": (lambda x: 0.5**x, "cycle", 80),
    "modulo": (lambda x: 1.0 / (1 + x % 3), "cycle", 80),
    "comparison": (
        lambda x: jax.numpy.where(x <= 3, 1.0, 0.25) if isinstance(x, jax.Array) else (1.0 if x <= 3 else 0.25),
        "cycle",
        80,
    ),
    "iterations_int_power": (lambda k: 1 / (1 + k**2), "iterations", 2),
}


@pytest.mark.parametrize("name", sorted(TORCH_STYLE))
@pytest.mark.parametrize("method", ["auto", "float-float"])
def test_torch_style_scale_functions_in_optax(name, method):
    """Item 6: torch calls scale_fn with a Python int; optax gives it a float holding the same
    whole number, so integer powers do not wrap (int32 ``2 ** 64`` is 0)."""
    fn, scale_mode, cycles = TORCH_STYLE[name]
    spec = CyclicSpec(base_lr=0.0, max_lr=1.0, step_size_up=2, scale_fn=fn, scale_mode=scale_mode)
    steps = np.arange(0, int(4 * cycles))
    reference = torch_reference(spec, steps)[:, 0]
    got = np.asarray(jax.jit(_schedules.build_schedule(spec, "lr", 0, method))(steps))
    ref32 = reference.astype(np.float32)
    ref32[np.abs(ref32) < np.finfo(np.float32).tiny] = 0.0  # XLA flushes subnormals
    np.testing.assert_array_max_ulp(got, ref32, maxulp=4)
    assert np.all(got >= 0) and np.all(np.isfinite(got))
    with jax.enable_x64(True):
        got64 = np.asarray(jax.jit(clr_optax.cyclic_lr_schedule(spec))(steps))
    np.testing.assert_allclose(got64, reference, rtol=1e-12, atol=1e-300)


def test_leftover_initial_lr_does_not_leak_into_the_first_lr():
    """Item 7: torch's first lr is an ``initial_lr`` left in the groups by an earlier scheduler;
    ours is ``base_lr`` (docs/differences.md)."""

    def first_lrs(cls):
        opt = _optimizer("sgd", ["float"])
        torch.optim.lr_scheduler.ConstantLR(opt, factor=0.5)  # leaves initial_lr = 0.5
        lrs, _ = _trace(cls, opt, steps=3, base_lr=0.01, max_lr=0.1, step_size_up=2)
        return [row[0][0] for row in lrs]

    assert first_lrs(clr_torch.CyclicLR) == pytest.approx([0.01, 0.055, 0.1])
    assert first_lrs(TorchCyclicLR) == pytest.approx([0.5, 0.055, 0.1])


def test_specs_of_one_schedule_compare_equal():
    spec = CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=10)
    assert spec == CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=10, step_size_down=10)
    sched = TorchCyclicLR(_optimizer("sgd", ["float"]), base_lr=0.01, max_lr=0.1, step_size_up=10)
    assert CyclicSpec.from_torch(sched) == spec
    assert CyclicSpec.from_json(spec.to_json()) == spec


def test_groups_sharing_the_default_tensor_lr_each_get_their_own():
    """An optimizer's tensor default (lr, momentum) is one object in every group that does not
    set its own. torch fills the shared lr in place, so every group gets the last group's lr;
    ours gives each group its own, as torch does for groups with separate tensors."""

    def optimizer(shared: bool):
        params = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
        if shared:
            return torch.optim.SGD([{"params": [p]} for p in params], lr=torch.tensor(0.5), momentum=torch.tensor(0.5))
        return torch.optim.SGD(
            [{"params": [p], "lr": torch.tensor(0.5), "momentum": torch.tensor(0.5)} for p in params]
        )

    kwargs = dict(
        base_lr=[0.01, 0.02], max_lr=[0.1, 0.2], step_size_up=4, base_momentum=[0.8, 0.7], max_momentum=[0.9, 0.85]
    )
    separate, _ = _trace(TorchCyclicLR, optimizer(shared=False), **kwargs)
    ours, _ = _trace(clr_torch.CyclicLR, optimizer(shared=True), **kwargs)
    assert [[lr for lr, _ in row] for row in ours] == [[lr for lr, _ in row] for row in separate]
    # torch replaces a tensor momentum with its float; ours fills the tensor (float32).
    np.testing.assert_array_equal(
        np.float32([[m for _, m in row] for row in ours]), np.float32([[m for _, m in row] for row in separate])
    )
    theirs, _ = _trace(TorchCyclicLR, optimizer(shared=True), **kwargs)
    assert all(row[0][0] == row[1][0] for row in theirs)  # torch: one lr for both groups
