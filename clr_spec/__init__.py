"""Framework-free schedule specs: parameters, validation, closed form, serialization.

``CyclicSpec`` (torch's CyclicLR), its relatives ``OneCycleSpec`` (1cycle, torch's OneCycleLR)
and ``WarmRestartsSpec`` (SGDR, torch's CosineAnnealingWarmRestarts), the phases real runs
chain around them (``LinearSpec``, ``ConstantSpec``, ``CosineAnnealingSpec``) and their sequence
(``SequentialSpec``, torch's SequentialLR). ``from_json``/``from_dict`` and ``from_torch`` return the right spec type.
In optax's vocabulary: ``linear_schedule``, ``cosine_decay_schedule``, ``join_schedules``,
``warmup_cosine_decay_schedule``, ``warmup_cyclic_cosine_schedule`` (``LinearScheduleSpec``, ``CosineDecaySpec``).
Imports neither torch nor jax. ``clr_optax`` and ``clr_torch`` build on it.
"""

from ._chained import ChainedSpec
from ._contract import Spec
from ._decays import ExponentialSpec, MultiStepSpec, PolynomialSpec, StepSpec
from ._lambdas import LambdaSpec, MultiplicativeSpec
from ._huggingface import HuggingFaceSpec, huggingface_from_state, huggingface_spec
from ._family import from_dict, from_json, from_torch, spec_types, torch_classes
from ._one_cycle import OneCycleSpec
from ._optax_names import (
    CosineDecaySpec,
    LinearScheduleSpec,
    cosine_decay_schedule,
    join_schedules,
    linear_schedule,
    warmup_cosine_decay_schedule,
    warmup_cyclic_cosine_schedule,
)
from ._plateau import PlateauSpec, PlateauState
from ._plateau_sequence import PlateauSequenceSpec
from ._phases import ConstantSpec, CosineAnnealingSpec, LinearSpec
from ._range_test import RangeTestResult
from ._sequential import SequentialSpec
from ._spec import FORMAT, FORMAT_VERSION, CyclicSpec
from ._timm import TimmCosineSpec, from_timm
from ._warm_restarts import WarmRestartsSpec
from ._wsd import WSDSpec

__all__ = [
    "Spec",
    "torch_classes",
    "CyclicSpec",
    "OneCycleSpec",
    "WarmRestartsSpec",
    "LinearSpec",
    "ConstantSpec",
    "CosineAnnealingSpec",
    "SequentialSpec",
    "StepSpec",
    "MultiStepSpec",
    "ExponentialSpec",
    "PolynomialSpec",
    "LambdaSpec",
    "MultiplicativeSpec",
    "ChainedSpec",
    "PlateauSpec",
    "PlateauState",
    "PlateauSequenceSpec",
    "LinearScheduleSpec",
    "CosineDecaySpec",
    "linear_schedule",
    "cosine_decay_schedule",
    "join_schedules",
    "warmup_cosine_decay_schedule",
    "warmup_cyclic_cosine_schedule",
    "HuggingFaceSpec",
    "huggingface_spec",
    "huggingface_from_state",
    "WSDSpec",
    "TimmCosineSpec",
    "from_timm",
    "from_json",
    "from_dict",
    "from_torch",
    "spec_types",
    "RangeTestResult",
    "FORMAT",
    "FORMAT_VERSION",
]
__version__ = "0.1.0"
