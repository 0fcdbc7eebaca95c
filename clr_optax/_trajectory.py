"""clr_optax's float32 values of a spec, step by step, for ``clr check`` and ``clr plot`` (found
by the CLI through the ``clr_spec.evaluators`` entry point)."""

from __future__ import annotations

from typing import Iterator

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
    return next(trajectory_chunks(spec, steps, group, max(steps, 1)))


def trajectory_chunks(spec: Spec, steps: int, group: int, size: int) -> Iterator[dict[str, np.ndarray]]:
    """``trajectory`` in consecutive pieces of ``size`` steps (the last one shorter), each
    schedule compiled once: the last piece is evaluated at full size (the counts past the end
    repeat the last one) and cut."""
    schedules = {"lr": jax.jit(lr_schedule(spec, group=group))}
    try:
        schedules["momentum"] = jax.jit(momentum_schedule(spec, group=group))
    except ValueError:  # the spec does not set momentum: the optimizer keeps its own
        pass
    size = min(size, steps)
    for start in range(0, steps, size):
        count = min(size, steps - start)
        counts = jnp.asarray(np.minimum(np.arange(start, start + size, dtype=np.int64), steps - 1).astype(np.int32))
        yield {what: np.asarray(schedule(counts))[:count] for what, schedule in schedules.items()}
