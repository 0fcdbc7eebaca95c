"""The LR range test (Smith 2017, section 3.3) for a JAX loss and an optax optimizer."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import jax
import optax

from clr_spec import RangeTestResult
from clr_spec._range_test import Recorder, cycle_batches


def lr_range_test(loss_fn: Callable[[Any, Any], Any], params: Any,
                  optimizer_fn: Callable[[Any], optax.GradientTransformation], batches: Iterable, *,
                  start_lr: float, end_lr: float, num_steps: int, mode: str = "exp", smoothing: float = 0.9,
                  diverge_threshold: float = 4.0, progress: bool = True) -> RangeTestResult:
    """Train ``num_steps`` steps while the lr rises from ``start_lr`` to ``end_lr``; return the curve.

    The step is jitted once, with the lr as a traced argument: the whole sweep compiles one
    program whatever its length. ``params`` is not modified (JAX arrays are immutable); start
    training from it with the suggested schedule (``result.to_spec(steps_per_epoch)``).

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar loss``.
      params: the initial parameters (a pytree).
      optimizer_fn: ``optimizer_fn(learning_rate) -> optax.GradientTransformation``, e.g.
        ``optax.sgd`` or ``lambda lr: optax.adam(lr, b1=0.9)``. It is called with a traced
        scalar, so it must accept an array as the lr (optax's optimizers do), and its state
        must not depend on the lr.
      batches: the training batches (pytrees of arrays, all of one shape and dtype, so the step
        compiles once); restarted when they run out.
      start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold, progress: as in
        ``clr_torch.lr_range_test``.
    """
    if not callable(optimizer_fn):
        raise TypeError(f"optimizer_fn must be callable (learning_rate -> optax optimizer), got {optimizer_fn!r}")
    recorder = Recorder(start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold, progress, "optax")
    state = optimizer_fn(float(start_lr)).init(params)

    @jax.jit
    def step(params, state, batch, lr):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, state = optimizer_fn(lr).update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    try:
        for lr, batch in zip(recorder.lrs, cycle_batches(batches, num_steps)):
            params, state, loss = step(params, state, batch, float(lr))
            if recorder.record(loss):
                break
    finally:
        recorder.close()
    return recorder.result()
