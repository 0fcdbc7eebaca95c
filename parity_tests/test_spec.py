"""clr_spec: closed form against torch, serialization, from_torch, and every invalid input."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from clr_spec import CyclicSpec

from ._frameworks import HAS_JAX, HAS_TORCH, needs_both, needs_jax, needs_torch, optional
from ._helpers import CONFIGS, check_relative, groups_of, torch_reference, windows

torch = optional("torch")
clr_torch = optional("clr_torch") if HAS_TORCH else None
clr_optax = optional("clr_optax") if HAS_JAX else None


@needs_torch
@pytest.mark.parametrize("what", ["lr", "momentum"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_closed_form_matches_torch(name, what):
    spec = CyclicSpec(**CONFIGS[name])
    if what == "momentum" and not spec.cycle_momentum:
        pytest.skip("torch does not cycle momentum for this config")
    steps = windows(first=20_000)
    ref = torch_reference(spec, steps, what)
    for g in groups_of(spec):
        ours = (spec.lr if what == "lr" else spec.momentum)(steps, group=g)
        below = steps < 10**7
        check_relative(
            name if g == 0 else f"{name}[group {g}]",
            what,
            ours[below],
            ref[below, g],
            rtol=1e-12,
            evaluator="clr_spec (numpy float64)",
        )
        # In fact it is torch's arithmetic, in torch's order: equal to the last bit everywhere.
        valid = ~np.isnan(ref[:, g])
        np.testing.assert_array_equal(ours[valid], ref[valid, g])


def test_closed_form_shapes_and_step_types():
    spec = CyclicSpec(**CONFIGS["triangular"])
    assert spec.lr(5).shape == ()
    assert spec.lr(np.arange(12).reshape(3, 4)).shape == (3, 4)
    np.testing.assert_array_equal(spec.lr([0, 1, 2]), spec.lr(np.array([0.0, 1.0, 2.0])))
    with pytest.raises(ValueError, match="steps must be >= 0"):
        spec.lr([-1])
    with pytest.raises(ValueError, match="whole numbers"):
        spec.lr([1.5])
    with pytest.raises(TypeError, match="steps must be integers"):
        spec.lr(["3"])


# --------------------------------------------------------------------------- serialization
SERIALIZABLE = sorted(n for n, kw in CONFIGS.items() if "scale_fn" not in kw)


@pytest.mark.parametrize("name", SERIALIZABLE)
def test_json_round_trip(name):
    spec = CyclicSpec(**CONFIGS[name])
    text = spec.to_json()
    assert json.loads(text)["version"] == 1
    again = CyclicSpec.from_json(text)
    assert again == spec
    np.testing.assert_array_equal(again.lr(np.arange(5000)), spec.lr(np.arange(5000)))
    assert CyclicSpec.from_dict(spec.to_dict()) == spec


def test_serialization_refuses_bad_documents():
    good = CyclicSpec(**CONFIGS["triangular"]).to_dict()
    with pytest.raises(ValueError, match="unknown CyclicSpec field.*'lr_max'"):
        CyclicSpec.from_dict({**good, "lr_max": 1.0})
    missing = dict(good)
    del missing["max_lr"]
    with pytest.raises(ValueError, match="missing required CyclicSpec field.*max_lr"):
        CyclicSpec.from_dict(missing)
    with pytest.raises(ValueError, match="version"):
        CyclicSpec.from_dict({k: v for k, v in good.items() if k != "version"})
    with pytest.raises(ValueError, match="version must be 1"):
        CyclicSpec.from_dict({**good, "version": 2})
    with pytest.raises(TypeError, match="base_lr must be a real number"):
        CyclicSpec.from_dict({**good, "base_lr": "0.001"})
    with pytest.raises(TypeError, match="mode must be a str"):
        CyclicSpec.from_dict({**good, "mode": 3})
    with pytest.raises(TypeError, match="cycle_momentum must be a bool"):
        CyclicSpec.from_dict({**good, "cycle_momentum": "yes"})
    with pytest.raises(ValueError, match="JSON constant NaN"):
        CyclicSpec.from_json(json.dumps(good).replace("0.001", "NaN", 1))
    with pytest.raises(json.JSONDecodeError):
        CyclicSpec.from_json("{not json")


def test_custom_scale_fn_cannot_be_serialized():
    spec = CyclicSpec(**CONFIGS["custom_cycle"])
    with pytest.raises(ValueError, match="custom scale_fn cannot be serialized"):
        spec.to_json()
    # ...but can be rebuilt from the other fields with the function passed again
    doc = spec.replace(scale_fn=None, mode="triangular", scale_mode="cycle").to_dict()
    again = CyclicSpec.from_dict(doc, scale_fn=CONFIGS["custom_cycle"]["scale_fn"])
    np.testing.assert_array_equal(again.lr(np.arange(500)), spec.lr(np.arange(500)))


@needs_torch
# --------------------------------------------------------------------------- from_torch
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_from_torch_dict_and_scheduler(name):
    kwargs = CONFIGS[name]
    spec = CyclicSpec(**kwargs)
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in groups_of(spec)]
    sched = torch.optim.lr_scheduler.CyclicLR(torch.optim.SGD(groups, lr=0.1, momentum=0.9), **kwargs)
    state = sched.state_dict()
    snapshot = copy.deepcopy(state)
    from_dict = CyclicSpec.from_torch(state, scale_fn=kwargs.get("scale_fn"))
    assert state == snapshot, "from_torch must not modify the dict"
    from_sched = CyclicSpec.from_torch(sched)
    for s in (from_dict, from_sched):
        assert s.total_size == sched.total_size and s.step_ratio == sched.step_ratio
        for g in groups_of(spec):
            np.testing.assert_array_equal(s.lr(np.arange(3000), g), spec.lr(np.arange(3000), g))


@needs_torch
def test_from_torch_needs_the_custom_function_again():
    kwargs = CONFIGS["custom_iterations"]
    p = [torch.nn.Parameter(torch.zeros(1))]
    state = torch.optim.lr_scheduler.CyclicLR(torch.optim.SGD(p, lr=0.1, momentum=0.9), **kwargs).state_dict()
    with pytest.raises(ValueError, match="custom scale_fn"):
        CyclicSpec.from_torch(state)
    with pytest.raises(ValueError, match="not a CyclicLR state"):
        CyclicSpec.from_torch({"last_epoch": 3})
    with pytest.raises(TypeError, match="from_torch takes"):
        CyclicSpec.from_torch(42)


def test_from_torch_does_not_import_torch():
    import subprocess
    import sys

    state = {
        "base_lrs": [0.001],
        "max_lrs": [0.006],
        "total_size": 4000.0,
        "step_ratio": 0.5,
        "mode": "triangular",
        "gamma": 1.0,
        "scale_mode": "cycle",
        "cycle_momentum": False,
    }
    code = (
        "import sys, json; from clr_spec import CyclicSpec; "
        f"s = CyclicSpec.from_torch(json.loads({json.dumps(json.dumps(state))})); "
        "assert 'torch' not in sys.modules and 'jax' not in sys.modules; print(s.step_size_up)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2000"


# --------------------------------------------------------------------------- invalid input
GOOD = dict(base_lr=0.001, max_lr=0.006)
INVALID = [
    (dict(step_size_up=0), ValueError, "step_size_up must be > 0"),
    (dict(step_size_up=-3), ValueError, "step_size_up must be > 0"),
    (dict(step_size_up=math.nan), ValueError, "step_size_up must be finite"),
    (dict(step_size_up=math.inf), ValueError, "step_size_up must be finite"),
    (dict(step_size_down=0), ValueError, "step_size_down must be > 0"),
    (dict(step_size_down=-1.5), ValueError, "step_size_down must be > 0"),
    (dict(step_size_up=0.2, step_size_down=0.3), ValueError, "at least|>= 1 optimizer step"),
    (dict(step_size_up="2000"), TypeError, "step_size_up must be a real number"),
    (dict(base_lr=math.nan), ValueError, "base_lr must be finite"),
    (dict(max_lr=math.inf), ValueError, "max_lr must be finite"),
    (dict(base_lr=-0.1), ValueError, "base_lr must be >= 0"),
    (dict(max_lr=-1e-3), ValueError, "max_lr must be >= 0"),
    (dict(base_lr="0.001"), TypeError, "base_lr must be a real number"),
    (dict(max_lr=None), TypeError, "max_lr must be a real number"),
    (dict(base_lr=True), TypeError, "base_lr must be a real number"),
    (dict(base_lr=[0.1, math.nan]), ValueError, r"base_lr\[1\] must be finite"),
    (dict(base_lr=[0.1, 0.2], max_lr=[1.0, 2.0, 3.0]), ValueError, "same length"),
    (dict(mode="exp_range", gamma=0.0), ValueError, "gamma must lie in"),
    (dict(mode="exp_range", gamma=-0.5), ValueError, "gamma must lie in"),
    (dict(mode="exp_range", gamma=math.nan), ValueError, "gamma must lie in"),
    (dict(mode="exp_range", gamma=1.5), ValueError, "gamma must lie in"),
    (dict(mode="exp_range", gamma="0.9"), TypeError, "gamma must be a real number"),
    (dict(mode="triangle"), ValueError, "mode must be one of"),
    (dict(mode=None), TypeError, "mode must be a str"),
    (dict(scale_mode="epoch"), ValueError, "scale_mode must be one of"),
    (dict(scale_fn=3.0), TypeError, "scale_fn must be callable"),
    (dict(base_momentum=-1.5), ValueError, r"base_momentum must be >= 0"),
    (dict(max_momentum=-0.1), ValueError, r"max_momentum must be >= 0"),
    (dict(max_momentum=math.nan), ValueError, "max_momentum must be finite"),
    (dict(cycle_momentum="no"), TypeError, "cycle_momentum must be a bool"),
]


def _entry_points():
    def spec(**kw):
        return CyclicSpec(**kw)

    def optax_lr(**kw):
        return clr_optax.cyclic_lr_schedule(**kw)

    def optax_momentum(**kw):
        return clr_optax.cyclic_momentum_schedule(**kw)

    def torch_scheduler(**kw):
        groups = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(2)]
        return clr_torch.CyclicLR(torch.optim.SGD(groups, lr=0.1, momentum=0.9), **kw)

    return {"spec": spec, "optax_lr": optax_lr, "optax_momentum": optax_momentum, "torch": torch_scheduler}


ENTRY_POINTS = _entry_points()


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(e, marks=needs_torch if e == "torch" else needs_jax if e.startswith("optax") else [])
        for e in sorted(ENTRY_POINTS)
    ],
)
@pytest.mark.parametrize(
    "bad,error,match", INVALID, ids=[f"{sorted(b)[0]}={list(b.values())[0]!r}" for b, _, _ in INVALID]
)
def test_invalid_input_gets_a_clear_error(entry, bad, error, match):
    kwargs = {**GOOD, **bad}
    if entry == "torch" and "base_lr" in bad and isinstance(bad["base_lr"], list) and len(bad["base_lr"]) != 2:
        pytest.skip("group count mismatch is tested separately for torch")
    with pytest.raises(error, match=match):
        ENTRY_POINTS[entry](**kwargs)


@needs_both
def test_torch_side_group_count_must_match():
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(2)]
    opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="base_lr must have the same length as optimizer.param_groups"):
        clr_torch.CyclicLR(opt, base_lr=[0.1, 0.2, 0.3], max_lr=1.0)
    with pytest.raises(ValueError, match="max_momentum must have the same length"):
        clr_torch.CyclicLR(opt, base_lr=0.1, max_lr=1.0, max_momentum=[0.9])
    with pytest.raises(ValueError, match="group must be in"):
        clr_optax.cyclic_lr_schedule(base_lr=[0.1, 0.2], max_lr=[1.0, 2.0], group=2)
    with pytest.raises(TypeError, match="group must be an int"):
        clr_optax.cyclic_lr_schedule(base_lr=0.1, max_lr=1.0, group="0")


@needs_torch
def test_torch_itself_fails_where_we_raise_clearly():
    """Documents why the validation exists: what torch does with the same input."""
    p = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ZeroDivisionError):
        torch.optim.lr_scheduler.CyclicLR(torch.optim.SGD(p, lr=0.1, momentum=0.9), 0.001, 0.006, step_size_up=0)
    sched = torch.optim.lr_scheduler.CyclicLR(torch.optim.SGD(p, lr=0.1, momentum=0.9), 0.001, math.nan)
    sched.optimizer._opt_called = True
    sched.step()
    assert math.isnan(sched.get_last_lr()[0])  # silent NaN
    with pytest.raises(ValueError, match="max_lr must be finite"):
        clr_torch.CyclicLR(torch.optim.SGD(p, lr=0.1, momentum=0.9), 0.001, math.nan)


@needs_torch
def test_optimizer_without_momentum_is_refused_like_torch():
    p = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        clr_torch.CyclicLR(torch.optim.Adagrad(p, lr=0.1), base_lr=0.01, max_lr=0.1)
    clr_torch.CyclicLR(torch.optim.Adagrad(p, lr=0.1), base_lr=0.01, max_lr=0.1, cycle_momentum=False)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        clr_torch.CyclicLR(object(), base_lr=0.01, max_lr=0.1)
