"""A torch-only user never imports jax, and a jax-only user never imports torch."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module,forbidden", [("clr_torch", "jax"), ("clr_optax", "torch"),
                                              ("clr_spec", "jax"), ("clr_spec", "torch")])
def test_import_does_not_pull_the_other_framework(module, forbidden):
    code = (f"import sys, {module}; "
            f"bad = sorted(m for m in sys.modules if m == {forbidden!r} or m.startswith({forbidden!r} + '.')); "
            "print(','.join(bad)); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"importing {module} imported {result.stdout.strip()} {result.stderr}"
