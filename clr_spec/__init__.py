"""Framework-free schedule specs: parameters, validation, closed form, serialization.

``CyclicSpec`` (torch's CyclicLR), the phases real runs chain around it (``LinearSpec``,
``ConstantSpec``, ``CosineAnnealingSpec``) and their sequence (``SequentialSpec``, torch's
SequentialLR). ``from_json``/``from_dict`` and ``from_torch`` return the right spec type.
Imports neither torch nor jax. ``clr_optax`` and ``clr_torch`` build on it.
"""

from ._family import from_dict, from_json, from_torch, spec_types
from ._phases import ConstantSpec, CosineAnnealingSpec, LinearSpec
from ._range_test import RangeTestResult
from ._sequential import SequentialSpec
from ._spec import FORMAT, FORMAT_VERSION, CyclicSpec

__all__ = ["CyclicSpec", "LinearSpec", "ConstantSpec", "CosineAnnealingSpec", "SequentialSpec",
           "from_json", "from_dict", "from_torch", "spec_types", "RangeTestResult", "FORMAT", "FORMAT_VERSION"]
__version__ = "0.1.0"
