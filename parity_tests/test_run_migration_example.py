"""The whole-run migration example: torch -> optax -> torch continues the uninterrupted torch run,
directly and through Orbax checkpoints (``--orbax``)."""

from __future__ import annotations

import importlib.util
import re

import pytest

from .test_examples import run_example  # skips where the examples cannot run


def _ratio(text: str) -> float:
    return float(re.search(r"([0-9.e+-]+) of one step's change", text).group(1))


def test_whole_run_migration_example():
    assert _ratio(run_example("migrate_run_torch_to_optax.py")) < 1e-2


@pytest.mark.skipif(
    importlib.util.find_spec("orbax") is None, reason="needs orbax-checkpoint: pip install 'clr-spec[orbax]'"
)
def test_whole_run_migration_example_through_orbax(tmp_path):
    text = run_example(
        "migrate_run_torch_to_optax.py",
        "--switch-at",
        "60",
        "--back-at",
        "120",
        "--steps",
        "160",
        "--orbax",
        str(tmp_path / "orbax"),
    )
    assert f"wrote and read the Orbax checkpoint {tmp_path / 'orbax'}/60" in text
    assert _ratio(text) < 1e-2, text
