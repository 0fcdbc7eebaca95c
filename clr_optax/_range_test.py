"""The LR range test (Smith 2017, section 3.3) for a JAX loss and an optax optimizer."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import jax
import optax

from clr_spec import RangeTestResult
from clr_spec._range_probe import check_probe, losses_at_constant_lr, probe_candidate, probe_stability
from clr_spec._range_test import Recorder, cycle_batches


def lr_range_test(
    loss_fn: Callable[[Any, Any], Any],
    params: Any,
    optimizer_fn: Callable[[Any], optax.GradientTransformation],
    batches: Iterable,
    *,
    start_lr: float,
    end_lr: float,
    num_steps: int,
    mode: str = "exp",
    smoothing: float = 0.9,
    diverge_threshold: float = 4.0,
    metric_fn: Optional[Callable[[Any, Any], Any]] = None,
    probe_steps: int = 50,
    probe_backoff: float = 0.8,
    max_probes: int = 12,
    progress: bool = True,
) -> RangeTestResult:
    """Train ``num_steps`` steps while the lr rises from ``start_lr`` to ``end_lr``; return the curve,
    with its ``max_lr`` candidate checked by a stability probe.

    The step is jitted once, with the lr as a traced argument: the whole sweep and every probe
    run one compiled program whatever their length. ``params`` is not modified (JAX arrays
    are immutable); each probe starts from it, and so should training, with the suggested
    schedule (``result.to_spec(steps_per_epoch)``).

    Args:
      loss_fn: ``loss_fn(params, batch) -> scalar loss``.
      params: the initial parameters (a pytree).
      optimizer_fn: ``optimizer_fn(learning_rate) -> optax.GradientTransformation``, e.g.
        ``optax.sgd`` or ``lambda lr: optax.adam(lr, b1=0.9)``. It is called with a traced
        scalar, so it must accept an array as the lr (optax's optimizers do), and its state
        must not depend on the lr.
      batches: the training batches (pytrees of arrays, all of one shape and dtype, so the step
        compiles once); restarted when they run out.
      metric_fn: optional ``metric_fn(params, batch) -> scalar``, higher is better (accuracy),
        evaluated on each batch before its update inside the jitted step; the bounds are then
        read from it instead of the loss.
      start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold: as in ``clr_torch.lr_range_test``.
      probe_steps, probe_backoff, max_probes, progress: as in ``clr_torch.lr_range_test``.
    """
    if not callable(optimizer_fn):
        raise TypeError(f"optimizer_fn must be callable (learning_rate -> optax optimizer), got {optimizer_fn!r}")
    if metric_fn is not None and not callable(metric_fn):
        raise TypeError(f"metric_fn must be callable (params, batch) -> scalar, or None, got {metric_fn!r}")
    probe_steps, probe_backoff, max_probes = check_probe(probe_steps, probe_backoff, max_probes)
    recorder = Recorder(start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold, progress, "optax")
    initial_params = params

    @jax.jit
    def step(params, state, batch, lr):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        metric = metric_fn(params, batch) if metric_fn is not None else loss
        updates, state = optimizer_fn(lr).update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss, metric

    def train(lrs, on_loss) -> None:
        params, state = initial_params, optimizer_fn(float(lrs[0])).init(initial_params)
        for lr, batch in zip(lrs, cycle_batches(batches, len(lrs))):
            params, state, loss, metric = step(params, state, batch, float(lr))
            if on_loss(float(loss), float(metric)):
                break

    def probe(lr: float, steps: int) -> list:  # from the initial params: train() starts there
        return losses_at_constant_lr(train, lr, steps)

    probes: tuple = ()
    try:
        train(recorder.lrs, lambda loss, metric: recorder.record(loss, metric if metric_fn is not None else None))
        candidate = probe_candidate(recorder.result()) if probe_steps else None
        if candidate is not None:
            probes = probe_stability(candidate, probe, probe_steps, probe_backoff, max_probes, progress, "optax")
    finally:
        recorder.close()
    return recorder.result(probes, probe_steps, probe_backoff)
