"""Long `clr check` / `clr plot` runs: evaluated in chunks (memory does not grow with --steps),
a progress bar on stderr where asked for or on a terminal, and a plot that could not fit in
memory refused up front in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc

import pytest

from clr_spec import CosineAnnealingSpec, CyclicSpec, LinearSpec, SequentialSpec, cli

from ._frameworks import HAS_JAX, HAS_MATPLOTLIB, HAS_TORCH

needs_a_framework = pytest.mark.skipif(not (HAS_TORCH or HAS_JAX), reason="check needs torch or jax")

SPECS = {
    "cyclic": CyclicSpec(base_lr=1e-3, max_lr=6e-3, step_size_up=37, mode="triangular2"),
    "sequence": SequentialSpec(
        [LinearSpec(lr=0.1, start_factor=0.1, total_iters=30), CosineAnnealingSpec(lr=0.1, T_max=997, eta_min=1e-4)],
        [30],
    ),
}


def _file(tmp_path, name):
    path = tmp_path / f"{name}.json"
    path.write_text(SPECS[name].to_json())
    return str(path)


@needs_a_framework
@pytest.mark.parametrize("name", sorted(SPECS))
def test_check_in_chunks_reports_what_one_pass_does(name, tmp_path, capsys, monkeypatch):
    path = _file(tmp_path, name)
    assert cli.main(["check", path, "--steps", "3500"]) == 0
    whole = capsys.readouterr()
    seen = []
    real = cli._trajectories

    def counted(spec, steps, group=0):  # only a run of one chunk uses it
        seen.append(steps)
        return real(spec, steps, group)

    monkeypatch.setattr(cli, "_trajectories", counted)
    monkeypatch.setattr(cli, "CHUNK_STEPS", 1000)
    assert cli.main(["check", path, "--steps", "3500"]) == 0
    chunked = capsys.readouterr()
    assert seen == [] and chunked.out == whole.out and chunked.err == whole.err  # (the sequence: its warning)


@needs_a_framework
def test_progress_only_where_asked_or_on_a_terminal(tmp_path, capsys, monkeypatch):
    path = _file(tmp_path, "cyclic")
    monkeypatch.setattr(cli, "CHUNK_STEPS", 1000)
    assert cli.main(["check", path, "--steps", "3500"]) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal here
    assert cli.main(["check", path, "--steps", "3500", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "3.50k/3.50k" in err and "step" in err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert cli.main(["check", path, "--steps", "3500", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
    assert cli.main(["check", path, "--steps", "900", "--progress"]) == 0  # one chunk: nothing to show
    assert capsys.readouterr().err == ""


@needs_a_framework
def test_memory_does_not_grow_with_the_step_count(monkeypatch):
    """2**31 - 1 steps, as --steps takes them: the stream holds one chunk at a time (it used to
    allocate every step's values first and end in a MemoryError)."""
    monkeypatch.setattr(cli, "CHUNK_STEPS", 4096)
    spec = SPECS["sequence"]
    tracemalloc.start()
    try:
        stream = cli._stream(spec, 2**31 - 1, 0, False)
        starts = []
        for _ in range(4):
            start, t = next(stream)
            starts.append(start)
            assert all(len(values) == 4096 for values in (t["clr_spec"]["lr"], *(v["lr"] for v in t.values())))
        stream.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert starts == [0, 4096, 8192, 12288]
    assert peak < 64 * 2**20, peak  # 2**31 float64 values would be 16 GiB


def test_plot_refuses_what_memory_cannot_hold(tmp_path, capsys, monkeypatch):
    if not HAS_MATPLOTLIB:
        pytest.skip("plot needs matplotlib")
    path = _file(tmp_path, "cyclic")
    monkeypatch.setattr(cli, "_available_bytes", lambda: 2**20)
    assert cli.main(["plot", path, "--steps", "100000", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "plotting 100000 steps needs about" in err and "clr check runs any count" in err
    assert not (tmp_path / "x.png").exists()


def test_plot_of_the_largest_step_count_is_one_line_exit_2(tmp_path):
    if not HAS_MATPLOTLIB:
        pytest.skip("plot needs matplotlib")
    if cli._available_bytes() is None or cli._available_bytes() > (2**31 - 1) * cli.PLOT_BYTES_PER_STEP:
        pytest.skip("this machine has the memory to plot it")
    exe = os.path.join(os.path.dirname(sys.executable), "clr")
    command = [exe] if os.path.exists(exe) else [sys.executable, "-m", "clr_spec.cli"]
    out = subprocess.run(
        command + ["plot", _file(tmp_path, "cyclic"), "--steps", "2147483647", "-o", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(
        "clr plot: error: plotting 2147483647 steps needs about"
    )
