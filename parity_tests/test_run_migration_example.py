"""The whole-run migration example: torch -> optax -> torch continues the uninterrupted torch run."""

from __future__ import annotations

import re

from .test_examples import run_example   # skips where the examples cannot run


def test_whole_run_migration_example():
    text = run_example("migrate_run_torch_to_optax.py")
    ratio = float(re.search(r"([0-9.e+-]+) of one step's change", text).group(1))
    assert ratio < 1e-2, text
