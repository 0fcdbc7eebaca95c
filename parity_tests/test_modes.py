"""One registry of modes: every evaluator has every registered mode, agrees with torch on it,
and fails closed (a clear ValueError) on a mode it does not have."""

from __future__ import annotations

import numpy as np
import pytest

from clr_spec import CyclicSpec, _closed_form, _modes, cli

from ._frameworks import HAS_JAX, HAS_TORCH, needs_jax, needs_torch
from ._helpers import torch_reference

MODE_NAMES = sorted(_modes.MODES)
STEPS = np.arange(0, 200)


def spec_of(mode: str) -> CyclicSpec:
    return CyclicSpec(
        base_lr=0.01,
        max_lr=0.1,
        step_size_up=7,
        step_size_down=5,
        mode=mode,
        gamma=0.97,
        base_momentum=0.8,
        max_momentum=0.9,
    )


def _tables() -> dict[str, dict]:
    tables = {"clr_spec closed form": _closed_form.SCALES}
    if HAS_JAX:
        from clr_optax import _float_float

        tables["clr_optax float-float"] = _float_float._MODE_SCALES
    return tables


def test_the_registry_is_torch_s_modes():
    assert MODE_NAMES == ["exp_range", "triangular", "triangular2"]
    assert {m.name: m.scale_mode for m in _modes.MODES.values()} == {
        "triangular": "cycle",
        "triangular2": "cycle",
        "exp_range": "iterations",
    }


@pytest.mark.parametrize("evaluator", sorted(_tables()))
def test_every_table_has_exactly_the_registered_modes(evaluator):
    assert sorted(_tables()[evaluator]) == MODE_NAMES


@pytest.mark.parametrize("mode", MODE_NAMES)
def test_the_closed_form_and_show_on_every_mode(mode, capsys, tmp_path):
    spec = spec_of(mode)
    assert spec.scale_mode == _modes.MODES[mode].scale_mode
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    assert cli.main(["show", str(path)]) == 0
    assert f"amplitude scale:  {_modes.MODES[mode].formula}" in capsys.readouterr().out
    if HAS_TORCH:
        np.testing.assert_array_equal(spec.lr(STEPS), torch_reference(spec, STEPS)[:, 0])
        np.testing.assert_array_equal(spec.momentum(STEPS), torch_reference(spec, STEPS, "momentum")[:, 0])


@needs_torch
@pytest.mark.parametrize("mode", MODE_NAMES)
def test_clr_torch_on_every_mode(mode):
    import torch

    import clr_torch

    spec = spec_of(mode)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    sched = clr_torch.CyclicLR.from_spec(opt, spec)
    lrs = []
    for _ in STEPS:
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_array_equal(lrs, spec.lr(STEPS))


@needs_jax
@pytest.mark.parametrize("method", ["auto", "float-float"])
@pytest.mark.parametrize("mode", MODE_NAMES)
def test_clr_optax_on_every_mode(mode, method):
    import jax

    from clr_optax import _schedules

    spec = spec_of(mode)
    for what, closed in (("lr", spec.lr(STEPS)), ("momentum", spec.momentum(STEPS))):
        ours = np.asarray(jax.jit(_schedules.build_schedule(spec, what, 0, method))(STEPS))
        np.testing.assert_array_max_ulp(ours, closed.astype(np.float32), maxulp=0 if method == "auto" else 1)
        with jax.enable_x64(True):
            x64 = np.asarray(jax.jit(_schedules.build_schedule(spec, what, 0, method))(STEPS))
        np.testing.assert_array_equal(x64, closed)


@pytest.fixture
def unimplemented_mode(monkeypatch):
    """A mode registered but implemented by no evaluator: each must refuse it clearly."""
    monkeypatch.setitem(_modes.MODES, "sawtooth", _modes.Mode("sawtooth", "cycle", "1 then 0"))
    monkeypatch.setattr("clr_spec._validation.MODES", tuple(_modes.MODES))
    return CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="sawtooth")


def test_a_mode_without_an_implementation_fails_closed(unimplemented_mode):
    spec = unimplemented_mode
    with pytest.raises(ValueError, match="clr_spec's closed form has no implementation of mode 'sawtooth'"):
        spec.lr(STEPS)
    if HAS_JAX:
        from clr_optax._float_float import float_float_schedule
        from clr_optax._schedules import build_schedule

        # The float64 path evaluates the closed form itself (over jax ops): the same refusal.
        with pytest.raises(ValueError, match="clr_spec's closed form has no implementation of mode 'sawtooth'"):
            build_schedule(spec, "lr", 0, "float64")
        with pytest.raises(ValueError, match="clr_optax's float-float path has no implementation of mode 'sawtooth'"):
            float_float_schedule(spec, 0.01, 0.09, 1.0)
    if HAS_TORCH:
        import torch

        import clr_torch

        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        with pytest.raises(ValueError, match="clr_torch.CyclicLR has no implementation of mode 'sawtooth'"):
            clr_torch.CyclicLR.from_spec(opt, spec)
