"""clr_optax's float32 values of a spec, step by step, for ``clr check`` and ``clr plot`` (found
by the CLI through the ``clr_spec.evaluators`` entry point)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from clr_spec import Spec

from ._family import lr_schedule, momentum_schedule

NAME = "clr_optax"
LABEL = "clr_optax {what} (float32)"


def trajectory(spec: Spec, steps: int, group: int) -> dict[str, np.ndarray]:
    """lr (and momentum, where the spec says what it is) of param group ``group`` over steps
    ``0..steps-1``, from the jitted float32 schedules."""
    counts = jnp.arange(steps, dtype=jnp.int32)
    out = {"lr": np.asarray(jax.jit(lr_schedule(spec, group=group))(counts))}
    try:
        momentum = momentum_schedule(spec, group=group)
    except ValueError:          # the spec does not set momentum: the optimizer keeps its own
        return out
    out["momentum"] = np.asarray(jax.jit(momentum)(counts))
    return out
