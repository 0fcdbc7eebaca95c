"""The examples run and say what they claim (shortened where they take options)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from ._frameworks import HAS_JAX, HAS_TORCH

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not os.path.isdir(os.path.join(ROOT, "examples")):
    pytest.skip("the examples are in the source tree, not in the wheel", allow_module_level=True)
if not (HAS_TORCH and HAS_JAX):
    pytest.skip("the examples run both frameworks: pip install 'clr-spec[all]'", allow_module_level=True)
pytest.importorskip("sklearn", reason="the examples need scikit-learn: pip install 'clr-spec[examples]'")
pytest.importorskip("matplotlib", reason="the examples plot: pip install 'clr-spec[examples]'")


def run_example(name: str, *args: str) -> str:
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", name), *args], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


def worst_ulp(text: str) -> int:
    """Worst ulp the example reports for this library (the demo also shows a naive port's)."""
    lines = [line for line in text.splitlines() if "naive" not in line]
    return max(int(m) for line in lines for m in re.findall(r"worst (\d+) ulp", line))


@pytest.mark.parametrize("name,args", [
    ("demo.py", ["--steps", "3000"]),
    ("tutorial_adam_triangular2.py", ["--steps", "3000"]),
    ("migrate_torch_to_optax.py", ["--switch-at", "537", "--steps", "1200"]),
])
def test_example(name, args, tmp_path):
    png = tmp_path / "plot.png"
    text = run_example(name, *args, "--out", str(png))
    assert worst_ulp(text) <= 1, text
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_digits_example_trains_both_frameworks_alike(tmp_path):
    png = tmp_path / "digits.png"
    text = run_example("digits_torch_vs_optax.py", "--out", str(png))
    assert worst_ulp(text) == 0, text
    accuracies = [float(a) for a in re.findall(r"test accuracy ([0-9.]+)", text)]
    assert len(accuracies) == 2 and min(accuracies) > 0.9, text
    weights_gap = float(re.search(r"weights differ by ([0-9.e+-]+)", text).group(1))
    assert weights_gap < 1e-4, text
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("framework, absent", [("torch", "jax"), ("optax", "torch")])
def test_digits_example_imports_one_framework(framework, absent, tmp_path):
    out = subprocess.run([sys.executable, "-X", "importtime", os.path.join(ROOT, "examples", "digits_torch_vs_optax.py"),
                          "--framework", framework, "--epochs", "1", "--out", str(tmp_path / "d.png")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert framework.replace("optax", "jax") in imported and absent not in imported


def test_range_test_example_suggests_and_trains(tmp_path):
    text = run_example("range_test_digits.py", "--no-progress", "--epochs", "2", "--out-dir", str(tmp_path))
    suggestions = re.findall(r"suggests base_lr ([0-9.e+-]+), max_lr ([0-9.e+-]+)", text)
    assert len(suggestions) == 2, text
    for base_lr, max_lr in suggestions:
        assert 0 < float(base_lr) < float(max_lr) < 10, text
    accuracies = [float(a) for a in re.findall(r"test accuracy ([0-9.]+)", text)]
    assert len(accuracies) == 2 and min(accuracies) > 0.8, text
    for name in ("torch", "optax"):
        assert (tmp_path / f"range_test_{name}.png").read_bytes()[:4] == b"\x89PNG"
