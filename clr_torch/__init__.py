"""Schedules for PyTorch: a drop-in ``CyclicLR`` and ``scheduler(optimizer, spec)`` for every
clr_spec spec (warmups, tails and their sequences with torch's own classes).

Imports torch, never jax.
"""

from clr_spec._requirements import require as _require

_require("torch", "torch", "clr_torch")

from ._family import scheduler  # noqa: E402
from ._plateau import plateau_scheduler  # noqa: E402
from ._plateau_sequence import PlateauSequenceLR  # noqa: E402
from ._optimizer_state import (
    load_optimizer_state,
    load_parameters,
    numpy_state_dict,  # noqa: E402
    optimizer_param_names,
    resume_from_optax,
    torch_checkpoint,
)
from ._range_test import lr_range_test  # noqa: E402
from ._scheduler import CyclicLR  # noqa: E402
from ._spec_scheduler import SpecLR  # noqa: E402

__all__ = [
    "CyclicLR",
    "SpecLR",
    "scheduler",
    "lr_range_test",
    "load_optimizer_state",
    "load_parameters",
    "numpy_state_dict",
    "optimizer_param_names",
    "resume_from_optax",
    "plateau_scheduler",
    "PlateauSequenceLR",
    "torch_checkpoint",
]
