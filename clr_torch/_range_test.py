"""The LR range test (Smith 2017, section 3.3) for a torch model and optimizer."""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import torch
from torch.optim import Optimizer

from clr_spec import RangeTestResult
from clr_spec._range_test import Recorder, cycle_batches

from ._scheduler import _set


def lr_range_test(model: torch.nn.Module, optimizer: Optimizer, loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
                  batches: Iterable, *, start_lr: float, end_lr: float, num_steps: int, mode: str = "exp",
                  smoothing: float = 0.9, diverge_threshold: float = 4.0, progress: bool = True) -> RangeTestResult:
    """Train ``num_steps`` steps while the lr rises from ``start_lr`` to ``end_lr``; return the curve.

    Every param group gets the sweep's lr. The sweep stops early when the loss diverges (see
    ``clr_spec.RangeTestResult``). Afterwards the model's parameters, buffers, gradients and
    train/eval mode and the optimizer's state and hyperparameters are restored to what they
    were, so training can start from the same point with the suggested schedule
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
      progress: show a tqdm progress bar.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    recorder = Recorder(start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold, progress, "torch")
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    saved_grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    was_training = model.training
    try:
        model.train()
        for lr, batch in zip(recorder.lrs, cycle_batches(batches, num_steps)):
            for group in optimizer.param_groups:
                _set(group, "lr", float(lr))
            optimizer.zero_grad()
            loss = loss_fn(model, batch)
            if recorder.record(loss.item()):
                break
            loss.backward()
            optimizer.step()
    finally:
        recorder.close()
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        for p, grad in zip(model.parameters(), saved_grads):
            p.grad = grad
        model.train(was_training)
    return recorder.result()
