"""A torch-only user never imports jax, and a jax-only user never imports torch."""

import subprocess
import sys

import pytest

from ._frameworks import needs_jax, needs_torch


@pytest.mark.parametrize(
    "module,forbidden",
    [
        pytest.param("clr_torch", "jax", marks=needs_torch),
        pytest.param("clr_optax", "torch", marks=needs_jax),
        ("clr_spec", "jax"),
        ("clr_spec", "torch"),
    ],
)
def test_import_does_not_pull_the_other_framework(module, forbidden):
    code = (
        f"import sys, {module}; "
        f"bad = sorted(m for m in sys.modules if m == {forbidden!r} or m.startswith({forbidden!r} + '.')); "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"importing {module} imported {result.stdout.strip()} {result.stderr}"


PLOT = (
    "from clr_spec import RangeTestResult\n"
    "RangeTestResult(lrs=[0.1, 0.2], losses=[1.0, 0.5], start_lr=0.1, end_lr=0.2, num_steps=2, mode='linear',"
    " smoothing=0.0, diverge_threshold=4.0).plot('unused.png')\n"
)


@pytest.mark.parametrize(
    "missing,extra,code,needed_by",
    [
        ("torch", "torch", "import clr_torch\n", "clr_torch"),
        ("jax", "jax", "import clr_optax\n", "clr_optax"),
        ("optax", "jax", "import clr_optax\n", "clr_optax"),
        ("matplotlib", "plot", PLOT, "RangeTestResult.plot"),
    ],
)
def test_a_missing_dependency_names_the_extra(missing, extra, code, needed_by, tmp_path):
    """What a user without the framework (or matplotlib) reads: what to install."""
    # Hide the module (installed or not) behind an import hook that refuses it.
    hide = (
        f"import sys\n"
        f"class Refuse:\n"
        f"    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {missing!r} or name.startswith({missing!r} + '.'):\n"
        f"            raise ModuleNotFoundError(f'No module named {{name!r}}', name=name)\n"
        f"sys.meta_path.insert(0, Refuse())\n"
    )
    result = subprocess.run([sys.executable, "-c", hide + code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError: ") and f"{needed_by} needs" in last, last
    assert f"pip install 'clr-spec[{extra}]'" in last, last
