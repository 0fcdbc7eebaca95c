"""Which frameworks this run has: the suite runs with torch only, jax only, or both.

A test that needs a missing framework is skipped with the extra that installs it; every
other test runs. Without torch, float32 exactness is still checked against torch's values,
frozen in ``golden/`` (``test_golden.py``).
"""

from __future__ import annotations

import importlib
import importlib.util

import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_JAX = importlib.util.find_spec("jax") is not None and importlib.util.find_spec("optax") is not None
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
HAS_TRANSFORMERS = HAS_TORCH and importlib.util.find_spec("transformers") is not None

needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="needs torch: pip install 'clr-spec[torch]'")
needs_jax = pytest.mark.skipif(not HAS_JAX, reason="needs jax and optax: pip install 'clr-spec[jax]'")
needs_both = pytest.mark.skipif(not (HAS_TORCH and HAS_JAX), reason="compares torch with jax: needs both")
needs_transformers = pytest.mark.skipif(
    not HAS_TRANSFORMERS, reason="compares with Hugging Face's own schedules: pip install transformers (and torch)"
)
needs_matplotlib = pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib: pip install 'clr-spec[plot]'")


def optional(module: str):
    """The module, or None where it is not installed (tests using it carry a needs_* mark)."""
    return importlib.import_module(module) if importlib.util.find_spec(module.split(".")[0]) else None


# The frameworks' modules where installed, else None; tests that use one carry its needs_* mark.
torch = optional("torch")
clr_torch = optional("clr_torch") if HAS_TORCH else None
jnp = optional("jax.numpy") if HAS_JAX else None
optax = optional("optax") if HAS_JAX else None
clr_optax = optional("clr_optax") if HAS_JAX else None
FRAMEWORKS = [pytest.param("torch", marks=needs_torch), pytest.param("optax", marks=needs_jax)]
