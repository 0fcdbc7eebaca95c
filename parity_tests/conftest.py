"""Fixtures for the parity suite; prints (and with CLR_PARITY_REPORT=path writes) the precision report."""

from __future__ import annotations

import pytest

from ._frameworks import HAS_JAX
from ._helpers import REPORT, write_report

# Hypothesis: the same examples on every run (derandomize: a seed fixed by each test) and no
# example database in the tree, so that a clone's runs agree and no saved example makes them differ.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("clr", derandomize=True, database=None, print_blob=True)
    _hypothesis_settings.load_profile("clr")
except ImportError:  # hypothesis is a test extra; the property tests skip without it
    pass


@pytest.fixture
def x64():
    """Run a test with jax_enable_x64 on, restoring the previous setting."""
    import jax

    with jax.enable_x64(True):
        yield


def _devices() -> list:
    if not HAS_JAX:
        return []
    import jax

    return list(jax.devices())


@pytest.fixture(params=_devices(), ids=lambda d: f"{d.platform}{d.id}")
def device(request):
    """Every JAX device present (CPU in CI; a GPU's devices when run there)."""
    return request.param


def pytest_terminal_summary(terminalreporter):
    if not REPORT.rows:
        return
    terminalreporter.section("CLR parity report (reference: torch's own schedulers)")
    terminalreporter.write_line(REPORT.markdown())
    path = write_report()
    if path:
        terminalreporter.write_line(f"written to {path}")
