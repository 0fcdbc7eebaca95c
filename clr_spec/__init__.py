"""Framework-free cyclical learning-rate spec: parameters, validation, closed form, serialization.

Imports neither torch nor jax. ``clr_optax`` and ``clr_torch`` build on it.
"""

from ._range_test import RangeTestResult
from ._spec import FORMAT, FORMAT_VERSION, CyclicSpec

__all__ = ["CyclicSpec", "RangeTestResult", "FORMAT", "FORMAT_VERSION"]
__version__ = "0.1.0"
