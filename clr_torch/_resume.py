"""Resume a torch scheduler at step k without replaying k steps: its state set as the replay
leaves it, so that the next ``step()`` continues bit for bit as the replay would.

``fast_forward(scheduler, spec, k)`` takes a scheduler just built (at step 0) by
``clr_torch.scheduler`` and moves it to step k. Per torch class (``_LEAVES``):

- closed forms, O(1): ``CyclicLR`` (clr_torch's), ``OneCycleLR`` and ``LambdaLR`` (their own
  ``get_lr`` at step k), ``ConstantLR`` (its recursion changes the lr once, at ``total_iters``:
  that one multiplication), ``CosineAnnealingWarmRestarts`` (``T_cur`` and ``T_i`` from the
  integer recursion in O(log k) restarts, then its ``get_lr``), ``MultiStepLR`` (one
  multiplication per milestone passed);
- recursions, replayed as plain float arithmetic, torch's operations in torch's order (bitwise
  the replay, 10 to 1000 times faster than stepping the scheduler): ``LinearLR`` (vectorized,
  ``min(k, total_iters)`` factors), ``StepLR`` and ``ExponentialLR`` (vectorized products of
  ``gamma``, stopped where the lr no longer changes), ``PolynomialLR`` (``min(k, total_iters)``
  factors, each rounded, computed a chunk at a time; their product has no closed form bit for
  bit), ``CosineAnnealingLR`` (k steps: each lr is ``ratio(i) * (lr - eta_min) + eta_min`` of
  the last, rounded twice, which no closed form reproduces bit for bit; torch's own closed form
  drifts from it by up to ~1e-12 relative, README "Precision"; the ratios a chunk at a time, and
  a plain product where ``eta_min`` is 0: benchmarks/bench_resume.py has the times);
  ``MultiplicativeLR`` (k calls of the user's functions, in torch's order, without the rest of
  ``step()``);
- anything else (a class this module does not know, and tensor lrs, which torch's recursions
  compute in the tensor's dtype) is replayed with ``step()``.

``SequentialLR`` moves phase by phase, as it runs them: each phase that ran to its end, then
the one running at k, started at its milestone as torch starts it (``_update_lr(0)``).
"""

from __future__ import annotations

import math
import warnings
from bisect import bisect_right
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor
from torch.optim.lr_scheduler import LRScheduler

from ._scheduler import CyclicLR, _set
from ._spec_scheduler import SpecLR

_CHUNK = 1 << 20  # factors multiplied per numpy call (8 MiB of float64)


def fast_forward(scheduler: Any, spec: Any, step: int) -> None:
    """Move ``scheduler`` (built at step 0 from ``spec``) to step ``step``."""
    if step == 0:
        return
    if spec.EVALUATOR == "sequence":
        _sequence(scheduler, spec, step)
    else:
        _leaf(scheduler, step)


def _sequence(sequence: Any, spec: Any, step: int) -> None:
    starts = [start for start, _ in spec.phases]
    active = bisect_right(starts, step) - 1  # the last phase started by step (empty ones skipped)
    for i in range(active + 1):
        start = starts[i]
        if i + 1 < len(starts) and starts[i + 1] == start:
            continue  # an empty phase: torch never runs it
        phase = sequence._schedulers[i]
        if i > 0:
            phase._update_lr(0)  # torch's SequentialLR at the milestone
        end = step if i == active else starts[i + 1] - 1
        _leaf(phase, end - start)
    sequence.last_epoch = step
    sequence._last_lr = sequence._schedulers[active].get_last_lr()


def _leaf(scheduler: Any, local: int) -> None:
    """Move a scheduler at its step 0 to its step ``local``, as ``local`` calls of ``step()`` would."""
    if local == 0:
        return
    groups = scheduler.optimizer.param_groups
    move = _LEAVES.get(type(scheduler))  # the exact class: a subclass may compute otherwise
    if move is None or any(isinstance(g["lr"], Tensor) for g in groups):
        # Replayed: torch computes a recursion over tensor lrs in the tensor's dtype, and a class
        # not listed here is stepped as torch steps it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # call-order warnings: nothing is trained while replaying
            for _ in range(local):
                scheduler.step()
        return
    lrs = move(scheduler, local)
    if lrs is not None:
        for group, lr in zip(groups, lrs):
            _set(group, "lr", lr)
    scheduler.last_epoch = local
    if type(scheduler).step is LRScheduler.step or isinstance(scheduler, CyclicLR):
        scheduler._step_count += local  # those step()s count (SGDR's own step() does not)
    scheduler._last_lr = [g["lr"].clone() if isinstance(g["lr"], Tensor) else g["lr"] for g in groups]


def _own_get_lr(scheduler: Any) -> list:
    """The class's ``get_lr`` at its ``last_epoch``, called as its ``step()`` calls it (no warning)."""
    scheduler._get_lr_called_within_step = True
    try:
        return list(scheduler.get_lr())
    finally:
        scheduler._get_lr_called_within_step = False


def _closed(scheduler: Any, local: int) -> list:
    scheduler.last_epoch = local
    return _own_get_lr(scheduler)


def _cyclic(scheduler: CyclicLR, local: int) -> None:
    scheduler.last_epoch = local
    scheduler._apply(*scheduler._values(local))  # writes lrs and momenta (clr_torch's CyclicLR)
    return None


def _constant(scheduler: Any, local: int) -> list:
    # torch: the lr (factor * lr from step 0) times 1 / factor at step total_iters, unchanged otherwise
    lrs = [g["lr"] for g in scheduler.optimizer.param_groups]
    if local >= scheduler.total_iters > 0:
        lrs = [lr * (1.0 / scheduler.factor) for lr in lrs]
    return lrs


def _linear(scheduler: Any, local: int) -> list:
    # torch, at each step i in 1..total_iters: lr * (1.0 + (end - start) / (total_iters * start
    # + (i - 1) * (end - start))); past total_iters the lr stays.
    s, e, total = scheduler.start_factor, scheduler.end_factor, scheduler.total_iters
    count = min(local, total)
    head = total * s

    def factors(first: int, last: int) -> np.ndarray:  # for i - 1 in [first, last)
        return 1.0 + (e - s) / (head + np.arange(first, last, dtype=np.float64) * (e - s))

    return [_product(g["lr"], count, factors) for g in scheduler.optimizer.param_groups]


def _decaying(gamma: float, count: int) -> Callable[[Any], float]:
    def run(lr: Any) -> float:
        return _product(lr, count, lambda first, last: np.full(last - first, gamma))

    return run


def _step(scheduler: Any, local: int) -> list:
    # torch: lr * gamma at each step that is a multiple of step_size (step 0 excluded)
    run = _decaying(scheduler.gamma, local // scheduler.step_size)
    return [run(g["lr"]) for g in scheduler.optimizer.param_groups]


def _exponential(scheduler: Any, local: int) -> list:
    run = _decaying(scheduler.gamma, local)  # torch: lr * gamma every step after 0
    return [run(g["lr"]) for g in scheduler.optimizer.param_groups]


def _multi_step(scheduler: Any, local: int) -> list:
    # torch: lr * gamma ** milestones[i] at each milestone i (a Counter: repeated milestones count)
    passed = sorted(m for m in scheduler.milestones if 1 <= m <= local)
    lrs = [g["lr"] for g in scheduler.optimizer.param_groups]
    for m in passed:
        lrs = [lr * scheduler.gamma ** scheduler.milestones[m] for lr in lrs]
    return lrs


def _polynomial(scheduler: Any, local: int) -> list:
    # torch, at each step i in 1..total_iters: lr * ((1.0 - i / total) / (1.0 - (i - 1) / total)) ** power;
    # past total_iters the lr stays. Each lr is the last one times a rounded factor: no closed form
    # gives that product bit for bit, so the factors are multiplied in order (numpy's sequential
    # accumulate), computed as torch computes them: the quotients in numpy (IEEE, as Python's int /
    # int and float / float), the power by Python's pow (numpy's differs in the last bit).
    total, power = scheduler.total_iters, scheduler.power

    def factors(first: int, last: int) -> np.ndarray:  # for i - 1 in [first, last)
        i = np.arange(first + 1, last + 1, dtype=np.float64)
        bases = (1.0 - i / total) / (1.0 - (i - 1) / total)
        return np.array([base**power for base in bases.tolist()], dtype=np.float64)

    count = min(local, total)
    return [_product(g["lr"], count, factors) for g in scheduler.optimizer.param_groups]


def _cosine(scheduler: Any, local: int) -> list:
    # torch's get_lr, branch for branch (the first, "_step_count == 1", is never taken when stepping):
    # at i with (i - 1 - T_max) % (2 T_max) == 0 the lr climbs back, lr + rise; at every other step
    # lr = (1 + cos(pi i / T_max)) / (1 + cos(pi (i - 1) / T_max)) * (lr - eta_min) + eta_min.
    # Each lr is rounded from the last (twice: the product, then + eta_min), so torch's value at k
    # depends on the whole path: no O(1) form is bitwise, and it is replayed. The ratios are
    # computed a chunk at a time (math.cos, as torch; the rest in numpy, IEEE as Python's floats),
    # and with eta_min = 0 the recursion is a plain product (r * (lr - 0.0) + 0.0 == r * lr),
    # multiplied by numpy's sequential accumulate.
    t_max, eta = scheduler.T_max, scheduler.eta_min
    lrs = [g["lr"] for g in scheduler.optimizer.param_groups]
    rises = [(base - eta) * (1 - math.cos(math.pi / t_max)) / 2 for base in scheduler.base_lrs]
    done = 0
    while done < local:
        last = min(done + _CHUNK, local)
        # (i - 1) over the chunk's steps i in (done, last], and the one before the first: 1 + cos
        previous_and_steps = np.arange(done, last + 1, dtype=np.float64)
        one_plus = 1 + np.array([math.cos(x) for x in (math.pi * previous_and_steps / t_max).tolist()])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = one_plus[1:] / one_plus[:-1]  # the climbs' (1 + cos near -1 below) unused
        steps = np.arange(done + 1, last + 1)
        climbs = set(np.flatnonzero((steps - 1 - t_max) % (2 * t_max) == 0).tolist())
        bounds = sorted({0, len(steps), *climbs})
        for g, rise in enumerate(rises):
            lr = lrs[g]
            for a, b in zip(bounds, bounds[1:]):
                if a in climbs:
                    lr = lr + rise  # the climb, at step done + 1 + a
                    a += 1
                lr = _affine(lr, ratios[a:b], eta)
            lrs[g] = lr
        done = last
    return lrs


def _affine(lr: float, ratios: np.ndarray, eta: float) -> float:
    """``lr = r * (lr - eta) + eta`` for each ``r`` of ``ratios`` in order, as Python rounds it."""
    if len(ratios) == 0:
        return lr
    if eta == 0.0 and lr > 0.0 and len(ratios) > 32:  # (a short run: numpy's call costs more)
        return float(np.multiply.accumulate(np.concatenate(([lr], ratios)))[-1])
    for r in ratios.tolist():
        lr = r * (lr - eta) + eta
    return lr


def _multiplicative(scheduler: Any, local: int) -> list:
    # torch: group["lr"] * lmbda(last_epoch) at each step 1..k. A user's function of the step: each
    # lr is the last times its value, which no closed form gives bit for bit, so replayed, calling
    # the functions with the steps torch passes, in torch's order (step by step, group by group),
    # without the rest of step() (20 times the cost).
    lrs = [g["lr"] for g in scheduler.optimizer.param_groups]
    lambdas = list(scheduler.lr_lambdas)
    for i in range(1, local + 1):
        lrs = [lr * fn(i) for fn, lr in zip(lambdas, lrs)]
    return lrs


def _warm_restarts(scheduler: Any, local: int) -> list:
    # torch's integer recursion: T_cur += 1; at T_cur >= T_i: T_cur -= T_i (as %), T_i *= T_mult
    t_cur, t_i, left = scheduler.T_cur, scheduler.T_i, local
    if scheduler.T_mult == 1:
        t_cur = (t_cur + left) % t_i
    else:
        while left >= t_i - t_cur:  # each pass is a restart: O(log k) of them
            left -= t_i - t_cur
            t_cur, t_i = 0, t_i * scheduler.T_mult
        t_cur += left
    scheduler.T_cur, scheduler.T_i = t_cur, t_i
    return _closed(scheduler, local)


def _product(start: Any, count: int, factors: Callable[[int, int], np.ndarray]) -> Any:
    """``start * f[0] * f[1] * ... * f[count - 1]``, multiplied one by one in order (numpy's
    ``multiply.accumulate`` is sequential: each product rounded as Python's is), in chunks;
    stopped early where the product no longer changes."""
    value, done = start, 0
    while done < count:
        chunk = factors(done, min(done + _CHUNK, count))
        value = float(np.multiply.accumulate(np.concatenate(([value], chunk)))[-1])
        done += len(chunk)
        if value == 0.0 or (np.all(chunk == chunk[0]) and value * chunk[0] == value):
            break  # 0, or a fixed point of a constant factor: the rest changes nothing
    return value


_BY_NAME: dict[str, Callable[[Any, int], Any]] = {
    "OneCycleLR": _closed,
    "LambdaLR": _closed,
    "ConstantLR": _constant,
    "LinearLR": _linear,
    "StepLR": _step,
    "ExponentialLR": _exponential,
    "MultiStepLR": _multi_step,
    "PolynomialLR": _polynomial,
    "CosineAnnealingLR": _cosine,
    "CosineAnnealingWarmRestarts": _warm_restarts,
    "MultiplicativeLR": _multiplicative,
}
_LEAVES: dict[type, Callable[[Any, int], Any]] = {
    getattr(torch.optim.lr_scheduler, name): move
    for name, move in _BY_NAME.items()
    if hasattr(torch.optim.lr_scheduler, name)
}  # torch's own classes (older torch lacks some)
_LEAVES[CyclicLR] = _cyclic  # clr_torch's (torch's CyclicLR is replayed)
# clr_torch's, a closed form, O(1): its values at k (and momentum written); _leaf counts the steps
# once (resume_at counts them itself: called here, they were counted twice)
_LEAVES[SpecLR] = lambda scheduler, local: scheduler._values_at(local)
