"""Schedules for Optax from clr_spec specs (cyclical, warmups, tails and their sequences), and
optimizers with torch's update rules driven by them.

Imports jax and optax, never torch.
"""

from clr_spec._requirements import require as _require

_require("jax", "jax", "clr_optax")
_require("optax", "jax", "clr_optax")

from ._family import lr_schedule, momentum_schedule
from ._optimizers import adam, adamw, current_hyperparams, rmsprop, sgd
from ._plateau import (
    PlateauSchedule,
    PlateauScheduleState,
    ReduceOnPlateauState,
    plateau_schedule,
    plateau_spec_from_optax,
    reduce_on_plateau,
)
from ._range_test import lr_range_test
from ._resume import set_count
from ._schedules import cyclic_lr_schedule, cyclic_momentum_schedule
from ._torch_state import (
    OptimizerConfig,
    ParamLink,
    TorchResume,
    optax_state_from_torch,
    param_mapping,
    params_from_torch,
    params_to_torch,
    resume_from_torch_checkpoint,
    set_nnx_state,
    torch_checkpoint_from_optax,
    torch_checkpoint_parts,
    torch_state_from_optax,
)
from ._orbax import OrbaxRun, load_orbax, save_orbax, torch_checkpoint_from_orbax, torch_to_orbax  # orbax: lazily

__all__ = [
    "lr_schedule",
    "momentum_schedule",
    "cyclic_lr_schedule",
    "cyclic_momentum_schedule",
    "set_count",
    "sgd",
    "adam",
    "adamw",
    "rmsprop",
    "current_hyperparams",
    "lr_range_test",
    "OptimizerConfig",
    "ParamLink",
    "param_mapping",
    "optax_state_from_torch",
    "torch_state_from_optax",
    "params_from_torch",
    "params_to_torch",
    "resume_from_torch_checkpoint",
    "TorchResume",
    "torch_checkpoint_from_optax",
    "PlateauSchedule",
    "PlateauScheduleState",
    "ReduceOnPlateauState",
    "plateau_schedule",
    "plateau_spec_from_optax",
    "reduce_on_plateau",
    "set_nnx_state",
    "torch_checkpoint_parts",
    "OrbaxRun",
    "load_orbax",
    "save_orbax",
    "torch_checkpoint_from_orbax",
    "torch_to_orbax",
]
