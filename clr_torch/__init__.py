"""Cyclical learning rates for PyTorch: a drop-in ``CyclicLR`` driven by a ``clr_spec.CyclicSpec``.

Imports torch, never jax.
"""

from clr_spec._requirements import require as _require

_require("torch", "torch", "clr_torch")

from ._range_test import lr_range_test
from ._scheduler import CyclicLR

__all__ = ["CyclicLR", "lr_range_test"]
