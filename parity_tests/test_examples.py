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
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", name), *args], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def worst_ulp(text: str) -> int:
    """Worst ulp the example reports for this library (the demo also shows a naive port's)."""
    lines = [line for line in text.splitlines() if "naive" not in line]
    return max(int(m) for line in lines for m in re.findall(r"worst (\d+) ulp", line))


@pytest.mark.parametrize(
    "name,args",
    [
        ("demo.py", ["--steps", "3000"]),
        ("tutorial_adam_triangular2.py", ["--steps", "3000"]),
        ("migrate_torch_to_optax.py", ["--switch-at", "537", "--steps", "1200"]),
    ],
)
def test_example(name, args, tmp_path):
    png = tmp_path / "plot.png"
    text = run_example(name, *args, "--out", str(png))
    assert worst_ulp(text) <= 1, text
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", ["digits_torch_vs_optax.py", "digits_warmup_clr_anneal.py"])
def test_digits_examples_train_both_frameworks_alike(name, tmp_path):
    png = tmp_path / "digits.png"
    text = run_example(name, "--out", str(png))
    assert worst_ulp(text) == 0, text
    accuracies = [float(a) for a in re.findall(r"test accuracy ([0-9.]+)", text)]
    assert len(accuracies) == 2 and min(accuracies) > 0.9, text
    weights_gap = float(re.search(r"weights differ by ([0-9.e+-]+)", text).group(1))
    assert weights_gap < 1e-4, text
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("framework, absent", [("torch", "jax"), ("optax", "torch")])
def test_digits_example_imports_one_framework(framework, absent, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            os.path.join(ROOT, "examples", "digits_torch_vs_optax.py"),
            "--framework",
            framework,
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "d.png"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
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


def test_flax_nnx_example_resumes_exactly():
    pytest.importorskip("flax", reason="needs flax: pip install 'clr-spec[flax]'")
    text = run_example("flax_nnx_digits.py", "--epochs", "4")
    assert "resumed at step 46 with clr_optax.set_count(optimizer, 46)" in text, text
    assert "lr vs spec.lr: max difference 0.0e+00; momentum vs spec.momentum: 0.0e+00" in text, text
    assert "optimizer.step after training: 92" in text, text
    assert float(re.search(r"test accuracy ([0-9.]+)", text).group(1)) > 0.85, text


def test_lightning_example_resumes_from_its_checkpoint(tmp_path):
    pytest.importorskip("pytorch_lightning", reason="needs pytorch-lightning: pip install 'clr-spec[lightning]'")
    text = run_example("lightning_digits.py", "--epochs", "4", "--out-dir", str(tmp_path))
    assert "resumed from a Lightning checkpoint at step 46" in text, text
    assert "lr vs spec.lr: max difference 0.0e+00; momentum vs spec.momentum: 0.0e+00" in text, text
    assert "spec read from the checkpoint equals the spec: True; its last_epoch: 46" in text, text
    # The command line finds the scheduler in Lightning's lr_schedulers list.
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "clr_spec.cli",
            "from-torch",
            str(tmp_path / "lightning_digits.ckpt"),
            "-o",
            str(tmp_path / "spec.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert "read the CyclicLR state at lr_schedulers.0 (found)" in cli.stdout and "step: 46" in cli.stdout


def test_one_cycle_migration_example(tmp_path):
    png = tmp_path / "migrate.png"
    text = run_example("migrate_one_cycle.py", "--switch-at", "300", "--steps", "700", "--out", str(png))
    assert "moved to optax at step 300" in text and worst_ulp(text) == 0, text
    assert float(re.search(r"loss curves agree to ([0-9.e+-]+)", text).group(1)) < 1e-5, text
    assert png.read_bytes()[:4] == b"\x89PNG"
