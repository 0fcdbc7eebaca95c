"""The `clr` console script, end to end (subprocess), good input and bad."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import clr_spec
from clr_spec import CyclicSpec, cli

from ._frameworks import HAS_JAX, HAS_MATPLOTLIB, HAS_TORCH, needs_jax, needs_matplotlib, needs_torch, optional

torch = optional("torch")
clr_torch = optional("clr_torch") if HAS_TORCH else None

SPEC = CyclicSpec(base_lr=2.5e-4, max_lr=1e-3, step_size_up=3.5, step_size_down=6, mode="triangular2")


def clr(*args: str, cwd=None) -> subprocess.CompletedProcess:
    exe = os.path.join(os.path.dirname(sys.executable), "clr")
    command = [exe] if os.path.exists(exe) else [sys.executable, "-m", "clr_spec.cli"]
    return subprocess.run(command + list(args), capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(SPEC.to_json())
    return str(path)


def test_show(spec_file):
    out = clr("show", spec_file)
    assert out.returncode == 0, out.stderr
    assert "cycle length:     9.5 steps (3.5 up, 6 down" in out.stdout
    assert "peak at step 3.5" in out.stdout and "trough at step 9.5" in out.stdout


@pytest.mark.skipif(not (HAS_TORCH or HAS_JAX), reason="check needs torch or jax")
def test_check_passes_and_reports(spec_file):
    out = clr("check", spec_file, "--steps", "3000")
    assert out.returncode == 0, out.stderr
    if HAS_TORCH:
        assert "lr        clr_spec (float64) vs torch: bitwise equal" in out.stdout
    if HAS_JAX:
        assert "lr        clr_optax (float32) vs" in out.stdout and "worst 0 ulp" in out.stdout
        assert "momentum  clr_optax (float32) vs" in out.stdout


@needs_jax
def test_check_exits_1_past_the_bound(spec_file, monkeypatch, capsys):
    real = cli._trajectories

    def shifted(spec, steps, group=0):
        t = real(spec, steps, group)
        t["clr_optax"]["lr"] = np.roll(t["clr_optax"]["lr"], 1)
        return t

    monkeypatch.setattr(cli, "_trajectories", shifted)
    assert cli.main(["check", spec_file, "--steps", "500"]) == 1
    assert "FAILS the bound" in capsys.readouterr().out


@pytest.mark.parametrize("installed", [("torch",), ("jax", "optax"), ()])
def test_check_and_plot_use_what_is_installed(installed, spec_file, tmp_path, monkeypatch, capsys):
    """A one-framework user can check and plot: the command says what it compared."""
    if not all({"torch": HAS_TORCH, "jax": HAS_JAX, "optax": HAS_JAX}[m] for m in installed):
        pytest.skip(f"needs {installed}")
    found = cli._evaluators()  # the installed evaluators, found by entry point
    assert set(found) == {name for name, present in (("torch", HAS_TORCH), ("clr_optax", HAS_JAX)) if present}
    kept = {"torch": "torch" in installed, "clr_optax": "jax" in installed}
    monkeypatch.setattr(cli, "_evaluators", lambda: {k: m for k, m in found.items() if kept[k]})
    status = cli.main(["check", spec_file, "--steps", "300"])
    out, err = capsys.readouterr()
    if not installed:
        assert status == 2 and "neither torch nor jax is installed" in err
    elif installed == ("torch",):
        assert status == 0 and "reference: torch" in out and "bitwise equal" in out
        assert "not compared: jax (not installed)" in out and "clr_optax" not in out
    else:
        assert status == 0 and "reference: clr_spec (torch is not installed" in out
        assert "clr_optax (float32) vs clr_spec: worst 0 ulp" in out and "not compared: torch" in out
    if HAS_MATPLOTLIB:
        png = tmp_path / "lr.png"
        assert cli.main(["plot", spec_file, "-o", str(png), "--steps", "100"]) == 0
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        shown = capsys.readouterr().out
        assert shown.strip().endswith(
            ", ".join(["clr_spec"] + [n for n, m in (("torch", "torch"), ("clr_optax", "jax")) if m in installed]) + ")"
        )


def test_group_option_for_per_group_specs(tmp_path, capsys):
    path = tmp_path / "groups.json"
    path.write_text(CyclicSpec(base_lr=[0.01, 0.1], max_lr=[0.1, 1.0], step_size_up=4).to_json())
    if HAS_TORCH or HAS_JAX:
        assert cli.main(["check", str(path), "--steps", "50", "--group", "1"]) == 0
        assert "param group 1 of 2" in capsys.readouterr().out
    assert cli.main(["check", str(path), "--group", "2"]) == 2
    assert "--group must be in [0, 1] (the spec has 2 param groups), got 2" in capsys.readouterr().err


@needs_matplotlib
def test_plot_writes_a_png(spec_file, tmp_path):
    png = tmp_path / "lr.png"
    out = clr("plot", spec_file, "-o", str(png), "--steps", "200")
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _checkpoint(tmp_path, steps=23, key="scheduler", wrap=lambda state: state):
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    sched = clr_torch.CyclicLR.from_spec(opt, SPEC)
    for _ in range(steps):
        opt.step()
        sched.step()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": {"w": param.detach()}, key: wrap(sched.state_dict()), "epoch": 3}, path)
    return str(path)


@needs_torch
@pytest.mark.parametrize("key", [None, "scheduler"])
def test_from_torch_extracts_spec_and_step(tmp_path, key):
    ckpt = _checkpoint(tmp_path)
    out_json = tmp_path / "out.json"
    args = ["from-torch", ckpt, "-o", str(out_json)] + (["--key", key] if key else [])
    out = clr(*args)
    assert out.returncode == 0, out.stderr
    assert "step: 23" in out.stdout and "read the CyclicLR state at scheduler" in out.stdout
    assert "torch does not save a custom scale_fn" not in out.stderr  # triangular2: no doubt
    assert CyclicSpec.from_json(out_json.read_text()) == SPEC
    assert json.loads(out_json.read_text())["version"] == 1


@pytest.mark.parametrize("command", ["show", "plot", "check", "from-torch"])
def test_help(command):
    out = clr(command, "--help")
    assert out.returncode == 0 and "usage: clr" in out.stdout
    assert "``" not in out.stdout and len(out.stdout.splitlines()) > 6  # a description, no reST


def test_version_and_top_level_help():
    out = clr("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"clr (clr-spec) {cli.__version__}"
    top = clr("--help")
    assert "SPEC.json" in top.stdout and '"format": "clr.CyclicSpec"' in top.stdout and "``" not in top.stdout


def _lightning(state):
    return [state]  # Lightning keeps one state per scheduler in a list


@needs_torch
def test_from_torch_finds_nested_states(tmp_path):
    ckpt = _checkpoint(tmp_path, key="lr_schedulers", wrap=_lightning)
    for extra in ([], ["--key", "lr_schedulers.0"]):
        out_json = tmp_path / "out.json"
        out = clr("from-torch", ckpt, "-o", str(out_json), *extra)
        assert out.returncode == 0, out.stderr
        assert "read the CyclicLR state at lr_schedulers.0" in out.stdout
        assert ("(found)" in out.stdout) == (not extra)
        assert CyclicSpec.from_json(out_json.read_text()) == SPEC


@needs_torch
def test_from_torch_reads_a_sequential_lr_or_one_of_its_phases(tmp_path):
    """A warmup then the cycles: the whole SequentialLR is found; --key picks its CyclicLR."""
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5)
    cycles = clr_torch.CyclicLR.from_spec(opt, SPEC)
    sequential = torch.optim.lr_scheduler.SequentialLR(opt, [warmup, cycles], milestones=[5])
    for _ in range(9):
        opt.step()
        sequential.step()
    torch.save({"scheduler": sequential.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "seq.pt")
    out = clr("from-torch", str(tmp_path / "seq.pt"), "-o", str(tmp_path / "seq.json"))
    assert out.returncode == 0, out.stderr
    assert "read the SequentialLR state at scheduler (found), and the optimizer's at optimizer" in out.stdout
    assert "step: 9" in out.stdout
    spec = clr_spec.from_json((tmp_path / "seq.json").read_text())
    assert spec == clr_spec.SequentialSpec([clr_spec.LinearSpec(lr=0.1, start_factor=0.1, total_iters=5), SPEC], [5])
    out = clr(
        "from-torch", str(tmp_path / "seq.pt"), "-o", str(tmp_path / "cyc.json"), "--key", "scheduler._schedulers.1"
    )
    assert out.returncode == 0 and "read the CyclicLR state at scheduler._schedulers.1" in out.stdout
    assert CyclicSpec.from_json((tmp_path / "cyc.json").read_text()) == SPEC
    for command in ("show", "check"):
        shown = clr(command, str(tmp_path / "seq.json"), *(["--steps", "60"] if command == "check" else []))
        assert shown.returncode == 0, shown.stderr
    assert "phase 2: steps 5 to on: CyclicSpec (torch's CyclicLR)" in clr("show", str(tmp_path / "seq.json")).stdout


@needs_torch
def test_from_torch_warns_where_torch_dropped_a_custom_function(tmp_path):
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, scale_fn=lambda c: 1 / c)
    torch.save({"scheduler": sched.state_dict()}, tmp_path / "fn.pt")
    out = clr("from-torch", str(tmp_path / "fn.pt"), "-o", str(tmp_path / "fn.json"))
    assert out.returncode == 0 and "torch does not save a custom scale_fn" in out.stderr


class Halving:
    def __init__(self):
        self.every = 2

    def __call__(self, cycle):
        return 0.5 ** (cycle // self.every)


@needs_torch
def test_from_torch_refuses_a_custom_callable_object(tmp_path):
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.CyclicLR(opt, 0.01, 0.1, scale_fn=Halving())
    torch.save({"scheduler": sched.state_dict()}, tmp_path / "obj.pt")
    out = clr("from-torch", str(tmp_path / "obj.pt"), "-o", str(tmp_path / "obj.json"))
    assert out.returncode == 2 and "had a custom scale_fn (a callable object)" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_bad_input_exit_2_with_a_clear_message(tmp_path, spec_file):
    missing = str(tmp_path / "nope.json")
    cases = {
        ("show", missing): "cannot read spec file",
        ("check", missing): "cannot read spec file",
    }
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"version": 1, "base_lr": 0.1,')
    cases[("show", str(bad_json))] = "not valid JSON"
    binary = tmp_path / "ckpt.pt"
    binary.write_bytes(b"PK\x03\x04\x00\x00\x08\x08\x00\x00\xff\xfe" + bytes(range(256)))
    for command in ("show", "check", "plot"):
        cases[
            (command, str(binary), "-o", str(tmp_path / "x.png")) if command == "plot" else (command, str(binary))
        ] = "not a JSON spec (binary data, not UTF-8 text); for a torch checkpoint use: clr from-torch"
    bad_values = tmp_path / "bad_values.json"
    bad_values.write_text(json.dumps({**SPEC.to_dict(), "step_size_up": 0}))
    cases[("check", str(bad_values))] = "invalid spec: step_size_up must be > 0"
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({**SPEC.to_dict(), "warmup": 3}))
    cases[("show", str(unknown))] = "unknown CyclicSpec field"
    unknown_type = tmp_path / "unknown_type.json"
    unknown_type.write_text(json.dumps({"format": "clr.WarmupSpec", "version": 1}))
    cases[("show", str(unknown_type))] = "format must be one of"
    cases[("check", spec_file, "--steps", "-4")] = "expected an integer in"
    cases[("plot", spec_file)] = "required: -o/--output"
    if HAS_TORCH:
        no_sched = tmp_path / "plain.pt"
        torch.save({"model": {"w": torch.zeros(2)}}, no_sched)
        cases[("from-torch", str(no_sched), "-o", str(tmp_path / "x.json"))] = "no scheduler state in the checkpoint"
        ckpt = _checkpoint(tmp_path)
        cases[("from-torch", ckpt, "-o", str(tmp_path / "x.json"), "--key", "sched")] = (
            "no key 'sched' at the top level"
        )
        cases[("from-torch", ckpt, "-o", str(tmp_path / "x.json"), "--key", "model.w")] = (
            "'model.w' is not the state_dict"
        )
        cases[("from-torch", missing, "-o", str(tmp_path / "x.json"))] = "no such file"
        not_torch = tmp_path / "garbage.pt"
        not_torch.write_bytes(b"this is not a checkpoint")
        cases[("from-torch", str(not_torch), "-o", str(tmp_path / "x.json"))] = "cannot load"
    else:
        cases[("from-torch", missing, "-o", str(tmp_path / "x.json"))] = "pip install 'clr-spec[torch]'"
    for args, message in cases.items():
        out = clr(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 or "usage:" in out.stderr, (args, out.stderr)
