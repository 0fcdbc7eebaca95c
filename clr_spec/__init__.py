"""Framework-free cyclical learning-rate spec: parameters, validation, closed form, serialization.

Imports neither torch nor jax. ``clr_optax`` and ``clr_torch`` build on it.
"""

from ._spec import FORMAT, FORMAT_VERSION, CyclicSpec

__all__ = ["CyclicSpec", "FORMAT", "FORMAT_VERSION"]
__version__ = "0.1.0"
