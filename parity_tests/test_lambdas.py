"""LambdaLR and MultiplicativeLR: a user's function in the spec, against torch stepped, per
param group, resumed, past MultiplicativeSpec's horizon, the function's refusals (JSON, untraceable
in optax, missing from a state) and the CLI on a checkpoint that holds no function."""

from __future__ import annotations


import numpy as np
import pytest

import clr_spec
from clr_spec import LambdaSpec, MultiplicativeSpec, SequentialSpec

from ._frameworks import HAS_JAX, needs_jax, needs_torch
from ._helpers import check_float32, stepped_lrs, two_group_sgd

LRS = [0.05, 0.1]


def warmup_then_decay(k):
    """Written for both frameworks: arithmetic only, no jax.numpy (torch gets an int, optax a
    traced float holding it), no Python if/else (a smooth warmup instead of a capped ramp)."""
    return (1 - 0.9 ** (k + 1)) * 0.999**k


def halving(k):
    return 0.5 ** (k // 100)


def every_third(k):
    return 0.97 if k % 3 == 0 else 1.0


def _optimizer():
    return two_group_sgd(LRS)


def _torch_lrs(build, steps: int) -> np.ndarray:
    return stepped_lrs(build, steps, LRS)[0]


def _T():
    from torch.optim import lr_scheduler

    return lr_scheduler


CASES = [
    ("lambda-shared", LambdaSpec(lr=LRS, lr_lambda=halving), lambda o: _T().LambdaLR(o, halving)),
    (
        "lambda-per-group",
        LambdaSpec(lr=LRS, lr_lambda=[halving, warmup_then_decay]),
        lambda o: _T().LambdaLR(o, [halving, warmup_then_decay]),
    ),
    (
        "multiplicative",
        MultiplicativeSpec(lr=LRS, lr_lambda=every_third, horizon=1000),
        lambda o: _T().MultiplicativeLR(o, every_third),
    ),
    (
        "multiplicative-per-group",
        MultiplicativeSpec(lr=LRS, lr_lambda=[every_third, lambda k: 0.999], horizon=1000),
        None,
    ),
]


@needs_torch
@pytest.mark.parametrize("name, spec, build", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_against_torch_stepped_and_resumed(name, spec, build):
    import clr_torch

    reference = _torch_lrs(build, 800)
    for g in range(2):
        np.testing.assert_array_equal(spec.lr(np.arange(800), g), reference[:, g])
    np.testing.assert_array_equal(_torch_lrs(lambda o: clr_torch.scheduler(o, spec), 800), reference)
    for k in (0, 1, 299, 799):
        opt = _optimizer()
        clr_torch.scheduler(opt, spec, step=k)
        assert [g["lr"] for g in opt.param_groups] == reference[k].tolist()
    if HAS_JAX:
        import jax

        import clr_optax

        for g in range(2):
            ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(np.arange(800)))
            check_float32(f"{name} vs torch", "lr", ours, reference[:, g], max_ulp=0, min_exact=1.0)


def test_per_group_functions_and_their_count():
    spec = CASES[3][1]
    assert spec.lr(3, 0).item() == 0.05 * 1.0 * 1.0 * 0.97 and spec.lr(2, 1).item() == 0.1 * 0.999 * 0.999
    with pytest.raises(ValueError, match="give one per param group"):
        LambdaSpec(lr=LRS, lr_lambda=[halving, halving, halving])
    with pytest.raises(TypeError, match=r"lr_lambda\[1\] must be callable"):
        LambdaSpec(lr=0.1, lr_lambda=[halving, 3])
    with pytest.raises(TypeError, match="lr_lambda must be callable"):
        LambdaSpec(lr=0.1, lr_lambda="0.95 ** k")


def test_multiplicative_past_its_horizon():
    spec = MultiplicativeSpec(lr=1.0, lr_lambda=lambda k: 0.5, horizon=3)
    assert spec.lr([0, 1, 2, 3]).tolist() == [1.0, 0.5, 0.25, 0.125]
    with pytest.raises(ValueError, match=r"past the horizon \(3\)"):
        spec.lr(4)
    with pytest.raises(ValueError, match=r"horizon must be <= 2\*\*24"):
        MultiplicativeSpec(lr=1.0, lr_lambda=lambda k: 0.5, horizon=2**25)
    if HAS_JAX:
        import jax.numpy as jnp

        import clr_optax

        # optax holds the last value past the horizon (documented): never NaN, never garbage
        assert clr_optax.lr_schedule(spec)(jnp.arange(6)).tolist() == [1.0, 0.5, 0.25, 0.125, 0.125, 0.125]


@needs_jax
def test_an_untraceable_function_is_refused_when_the_schedule_is_built():
    import math

    import clr_optax

    for fn in (lambda k: 1.0 if k < 10 else 0.1, lambda k: math.exp(-k)):
        with pytest.raises(TypeError, match="cannot be traced by JAX.*jnp.where"):
            clr_optax.lr_schedule(LambdaSpec(lr=0.1, lr_lambda=fn))
    # a MultiplicativeLR function is replayed on the host: Python if/else is fine there
    clr_optax.lr_schedule(MultiplicativeSpec(lr=0.1, lr_lambda=lambda k: 1.0 if k < 10 else 0.9, horizon=50))


@needs_jax
def test_torch_style_integer_arithmetic_does_not_wrap():
    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = LambdaSpec(lr=1.0, lr_lambda=lambda k: 2.0 ** -(k // 2))
    steps = np.array([0, 1, 130, 131, 2000])
    expected = np.array([1.0 * 2.0 ** -(int(k) // 2) for k in steps], dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(jax.jit(clr_optax.lr_schedule(spec))(jnp.asarray(steps))), expected)


def test_functions_are_never_serialized_and_states_hold_none():
    spec = LambdaSpec(lr=0.1, lr_lambda=halving)
    with pytest.raises(ValueError, match="functions are not stored"):
        spec.to_json()
    state = {"base_lrs": [0.1], "last_epoch": 5, "lr_lambdas": [None]}
    with pytest.raises(ValueError, match=r"any of \['LambdaLR', 'MultiplicativeLR'\]"):
        clr_spec.from_torch(state)
    with pytest.raises(ValueError, match="a LambdaLR state holds no function"):
        clr_spec.from_torch(state, torch_class="LambdaLR")
    assert clr_spec.from_torch(state, torch_class="LambdaLR", lr_lambda=halving) == spec
    with pytest.raises(TypeError, match="takes lr_lambda= only"):
        clr_spec.from_torch(state, torch_class="LambdaLR", lr_lambda=halving, horizon=3)


@needs_torch
def test_in_a_sequence():
    """First phase: as torch. A later phase: refused, since torch's SequentialLR restarts a
    MultiplicativeLR from the lr the phase before left (``lr * fn(0)``: no closed form)."""
    import clr_torch

    spec = SequentialSpec(
        [
            MultiplicativeSpec(lr=LRS, lr_lambda=every_third, horizon=600),
            clr_spec.ConstantSpec(lr=LRS, factor=0.1, total_iters=20),
        ],
        milestones=[300],
    )
    reference = _torch_lrs(
        lambda o: _T().SequentialLR(
            o, [_T().MultiplicativeLR(o, every_third), _T().ConstantLR(o, factor=0.1, total_iters=20)], milestones=[300]
        ),
        500,
    )
    for g in range(2):
        np.testing.assert_array_equal(spec.lr(np.arange(500), g), reference[:, g])
    np.testing.assert_array_equal(_torch_lrs(lambda o: clr_torch.scheduler(o, spec), 500), reference)
    with pytest.raises(ValueError, match=r"specs\[1\] \(MultiplicativeSpec\) can only be the first phase"):
        SequentialSpec(
            [
                clr_spec.ConstantSpec(lr=LRS, factor=0.1, total_iters=20),
                MultiplicativeSpec(lr=LRS, lr_lambda=every_third, horizon=600),
            ],
            milestones=[30],
        )


@needs_torch
def test_cli_from_torch_on_a_lambda_checkpoint_says_why_in_one_line(tmp_path, capsys):
    import torch

    from clr_spec import cli

    opt = _optimizer()
    sched = _T().LambdaLR(opt, halving)
    path = tmp_path / "ckpt.pt"
    torch.save({"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}, path)
    assert cli.main(["from-torch", str(path), "-o", str(tmp_path / "spec.json")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "LambdaLR" in err and "function" in err, err


class Scaled:
    """A callable object, as torch's state saves it: its attributes, not its code."""

    def __init__(self, value):
        self.value = value

    def __call__(self, k):
        return self.value * k


def test_a_callable_object_gets_its_saved_attributes_on_a_copy():
    state = {"base_lrs": [0.1], "last_epoch": 3, "lr_lambdas": [{"value": 10}]}
    given = Scaled(-1)
    spec = clr_spec.from_torch(state, torch_class="LambdaLR", lr_lambda=given)
    assert spec.lr(3).item() == 0.1 * 10 * 3 and given.value == -1  # the object passed is not changed
    with pytest.raises(TypeError, match="pass an object of that class"):
        clr_spec.from_torch(state, torch_class="LambdaLR", lr_lambda=halving)


# ------------------------------------------------------------------------------ clr from-torch --lr-lambda
_SCHEDULES_MODULE = """
def warmup(k):
    return min(1.0, (k + 1) / 10) * 0.97 ** (k // 25)


def decay(k):
    return 0.995
"""


@needs_torch
@pytest.mark.parametrize("torch_class, function", [("LambdaLR", "warmup"), ("MultiplicativeLR", "decay")])
def test_clr_from_torch_takes_the_function_by_its_import_path(torch_class, function, tmp_path, monkeypatch, capsys):
    import torch

    from clr_spec import cli

    (tmp_path / "my_schedules.py").write_text(_SCHEDULES_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_schedules

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = getattr(torch.optim.lr_scheduler, torch_class)(opt, getattr(my_schedules, function))
    for _ in range(37):
        opt.step()
        sched.step()
    torch.save({"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}, "ckpt.pt")
    argv = [
        "from-torch",
        "ckpt.pt",
        "-o",
        "spec.json",
        "--lr-lambda",
        f"my_schedules:{function}",
        "--torch-class",
        torch_class,
    ]
    assert cli.main(argv) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "checked against the lrs it saved" in out and "step: 37" in out
    spec = clr_spec.from_json((tmp_path / "spec.json").read_text(), lr_lambda=getattr(my_schedules, function))
    assert float(spec.lr(37)) == opt.param_groups[0]["lr"]
    # the wrong function (or class) is caught by the lrs the state saved; a bad path is one line
    wrong = ["--lr-lambda", "my_schedules:decay" if function == "warmup" else "my_schedules:warmup"]
    assert cli.main(argv[:4] + wrong + argv[6:]) == 2
    assert "is not the function this" in capsys.readouterr().err
    for bad, message in (
        ("my_schedules", "must be MODULE:NAME"),
        ("no_such_module:f", "cannot import"),
        ("my_schedules:nothing", "has no 'nothing'"),
    ):
        assert cli.main(argv[:4] + ["--lr-lambda", bad]) == 2
        assert message in capsys.readouterr().err
    # without the function: one line saying how to pass it
    assert cli.main(argv[:4]) == 2
    assert "--lr-lambda MODULE:NAME" in capsys.readouterr().err
