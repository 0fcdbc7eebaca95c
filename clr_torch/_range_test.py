"""The LR range test (Smith 2017, section 3.3) for a torch model and optimizer."""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable, Optional

import torch
from torch.optim import Optimizer

from clr_spec import RangeTestResult
from clr_spec._range_probe import check_probe, losses_at_constant_lr, probe_candidate, probe_stability
from clr_spec._range_test import Recorder, cycle_batches

from ._scheduler import _set


def lr_range_test(
    model: torch.nn.Module,
    optimizer: Optimizer,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    batches: Iterable,
    *,
    start_lr: float,
    end_lr: float,
    num_steps: int,
    mode: str = "exp",
    smoothing: float = 0.9,
    diverge_threshold: float = 4.0,
    metric_fn: Optional[Callable[[torch.nn.Module, Any], float]] = None,
    probe_steps: int = 50,
    probe_backoff: float = 0.8,
    max_probes: int = 12,
    progress: bool = True,
) -> RangeTestResult:
    """Train ``num_steps`` steps while the lr rises from ``start_lr`` to ``end_lr``; return the curve,
    with its ``max_lr`` candidate checked by a stability probe.

    Every param group gets the sweep's lr. The sweep stops early when the loss diverges (see
    ``clr_spec.RangeTestResult``). Then the probe trains ``probe_steps`` steps at the candidate
    ``max_lr`` from the starting point, backing off by ``probe_backoff`` until training is
    stable (``clr_spec._range_probe``). Afterwards the model's parameters, buffers, gradients
    and train/eval mode and the optimizer's state and hyperparameters are restored to what
    they were, so training can start from the same point with the suggested schedule
    (``result.to_spec(steps_per_epoch)``).

    Args:
      model: the model to probe.
      optimizer: its optimizer (SGD, Adam, ...): the sweep uses its update rule.
      loss_fn: ``loss_fn(model, batch) -> scalar loss tensor``, e.g.
        ``lambda m, b: F.cross_entropy(m(b[0]), b[1])``.
      batches: the training batches (a DataLoader or list); restarted when it runs out.
      start_lr, end_lr: the sweep's first and last lr (``0 < start_lr < end_lr``).
      num_steps: number of optimizer steps (>= 2).
      mode: ``"exp"`` (geometric, for sweeps over decades) or ``"linear"`` (the paper's).
      smoothing: weight of the previous value in the exponential average of the loss, in [0, 1).
      diverge_threshold: stop when the smoothed loss exceeds this many times its best.
      metric_fn: optional ``metric_fn(model, batch) -> float``, higher is better (accuracy, as
        in the paper), evaluated on each batch before its update (under ``torch.no_grad``);
        the bounds are then read from it instead of the loss.
      probe_steps: steps per stability probe; 0 turns the probe off. It costs ``probe_steps``
        steps per probe: one when the candidate is stable, a few more when it is not.
      probe_backoff: factor applied to the lr after an unstable probe, in (0, 1).
      max_probes: probes at most, before giving up (``suggest()`` then raises).
      progress: show tqdm progress bars.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if metric_fn is not None and not callable(metric_fn):
        raise TypeError(f"metric_fn must be callable (model, batch) -> float, or None, got {metric_fn!r}")
    probe_steps, probe_backoff, max_probes = check_probe(probe_steps, probe_backoff, max_probes)
    recorder = Recorder(start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold, progress, "torch")
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    was_training = model.training

    def restore() -> None:
        model.load_state_dict(saved_model)
        # A copy each time: load_state_dict keeps the given tensors, which training then updates in place.
        optimizer.load_state_dict(copy.deepcopy(saved_optimizer))
        for p, grad in zip(model.parameters(), saved_grads):
            p.grad = grad

    def train(lrs, on_loss) -> None:
        """One update per (lr, batch); ``on_loss(loss, batch)`` before each, True to stop."""
        for lr, batch in zip(lrs, cycle_batches(batches, len(lrs))):
            for group in optimizer.param_groups:
                _set(group, "lr", float(lr))
            optimizer.zero_grad()
            loss = loss_fn(model, batch)
            if on_loss(loss.item(), batch):
                break
            loss.backward()
            optimizer.step()

    def probe(lr: float, steps: int) -> list:
        restore()
        return losses_at_constant_lr(train, lr, steps)

    def sweep_step(loss, batch):
        metric = None
        if metric_fn is not None:
            with torch.no_grad():
                metric = float(metric_fn(model, batch))
        return recorder.record(loss, metric)

    probes: tuple = ()
    try:
        model.train()
        train(recorder.lrs, sweep_step)
        candidate = probe_candidate(recorder.result()) if probe_steps else None
        if candidate is not None:
            probes = probe_stability(candidate, probe, probe_steps, probe_backoff, max_probes, progress, "torch")
    finally:
        recorder.close()
        restore()
        model.train(was_training)
    return recorder.result(probes, probe_steps, probe_backoff)
