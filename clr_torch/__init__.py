"""Cyclical learning rates for PyTorch: a drop-in ``CyclicLR`` driven by a ``clr_spec.CyclicSpec``.

Imports torch, never jax.
"""

from ._scheduler import CyclicLR

__all__ = ["CyclicLR"]
