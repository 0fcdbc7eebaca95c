"""The `clr` console script, end to end (subprocess), good input and bad."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import clr_torch
from clr_spec import CyclicSpec, cli

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


def test_check_passes_and_reports(spec_file):
    out = clr("check", spec_file, "--steps", "3000")
    assert out.returncode == 0, out.stderr
    assert "lr        worst 0 ulp" in out.stdout and "momentum  worst" in out.stdout


def test_check_exits_1_past_the_bound(spec_file, monkeypatch, capsys):
    real = cli._trajectories

    def shifted(spec, steps):
        t = real(spec, steps)
        t["optax lr"] = np.roll(t["optax lr"], 1)
        return t

    monkeypatch.setattr(cli, "_trajectories", shifted)
    assert cli.main(["check", spec_file, "--steps", "500"]) == 1
    assert "FAILS the bound" in capsys.readouterr().out


def test_plot_writes_a_png(spec_file, tmp_path):
    png = tmp_path / "lr.png"
    out = clr("plot", spec_file, "-o", str(png), "--steps", "200")
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _checkpoint(tmp_path, steps=23, key="scheduler"):
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    sched = clr_torch.CyclicLR.from_spec(opt, SPEC)
    for _ in range(steps):
        opt.step()
        sched.step()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": {"w": param.detach()}, key: sched.state_dict(), "epoch": 3}, path)
    return str(path)


@pytest.mark.parametrize("key", [None, "scheduler"])
def test_from_torch_extracts_spec_and_step(tmp_path, key):
    ckpt = _checkpoint(tmp_path)
    out_json = tmp_path / "out.json"
    args = ["from-torch", ckpt, "-o", str(out_json)] + (["--key", key] if key else [])
    out = clr(*args)
    assert out.returncode == 0, out.stderr
    assert "step: 23" in out.stdout
    assert CyclicSpec.from_json(out_json.read_text()) == SPEC
    assert json.loads(out_json.read_text())["version"] == 1


@pytest.mark.parametrize("command", ["show", "plot", "check", "from-torch"])
def test_help(command):
    out = clr(command, "--help")
    assert out.returncode == 0 and "usage: clr" in out.stdout


def test_bad_input_exit_2_with_a_clear_message(tmp_path, spec_file):
    missing = str(tmp_path / "nope.json")
    cases = {
        ("show", missing): "cannot read spec file",
        ("check", missing): "cannot read spec file",
    }
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"version": 1, "base_lr": 0.1,')
    cases[("show", str(bad_json))] = "not valid JSON"
    bad_values = tmp_path / "bad_values.json"
    bad_values.write_text(json.dumps({**SPEC.to_dict(), "step_size_up": 0}))
    cases[("check", str(bad_values))] = "invalid spec: step_size_up must be > 0"
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({**SPEC.to_dict(), "warmup": 3}))
    cases[("show", str(unknown))] = "unknown CyclicSpec field"
    no_sched = tmp_path / "plain.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, no_sched)
    cases[("from-torch", str(no_sched), "-o", str(tmp_path / "x.json"))] = "no CyclicLR state in the checkpoint"
    cases[("from-torch", _checkpoint(tmp_path), "-o", str(tmp_path / "x.json"), "--key", "sched")] = "no key 'sched'"
    cases[("from-torch", missing, "-o", str(tmp_path / "x.json"))] = "no such file"
    not_torch = tmp_path / "garbage.pt"
    not_torch.write_bytes(b"this is not a checkpoint")
    cases[("from-torch", str(not_torch), "-o", str(tmp_path / "x.json"))] = "cannot load"
    cases[("check", spec_file, "--steps", "-4")] = "expected an integer in"
    cases[("plot", spec_file)] = "required: -o/--output"
    for args, message in cases.items():
        out = clr(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert message in out.stderr, (args, out.stderr)
