"""The stability probe that makes the range test's ``max_lr`` safe, framework-free.

The loss curve alone can overshoot the divergence point: without mini-batch noise (full-batch
training, or a model that fits its data exactly) a sweep that passes lr ~ 1/L first damps the
top direction almost to zero, and the loss keeps falling past the stability limit 2/L until
that direction has grown back (1.1-2x the limit for linear sweeps, more for fast exponential
ones). So the curve's ``max_lr`` is a candidate, and the probe tests it the way training would
use it: from the restored starting point, ``probe_steps`` steps at that constant lr. A run whose
loss at the end (the mean over its last quarter) is above its loss at the start is unstable,
as is one whose loss stops being finite; the candidate is then multiplied by ``probe_backoff``
and probed again, up to ``max_probes`` times. An unstable direction grows geometrically, so
it shows within a few dozen steps unless the lr is within a few percent of the limit (on
full-batch least squares, 50 steps detect 1.05x the limit); a stable run, noisy or not, ends
below where it started. When a back-off was needed, the suggestion is the first stable lr
times ``probe_backoff`` once more, which keeps it below the limit by that margin.

Cost: ``probe_steps`` training steps per probe, one probe when the curve's candidate is
stable (the usual case with mini-batch noise), a handful when it was not. ``probe_steps=0``
turns the probe off.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from . import _validation as v

Probe = tuple  # (lr, stable)


def check_probe(probe_steps: Any, probe_backoff: Any, max_probes: Any) -> tuple[int, float, int]:
    """Validate the probe's arguments; errors name the argument and the allowed range."""
    steps = v.integer("probe_steps", probe_steps, low=0)
    if 0 < steps < 4:
        raise ValueError(
            f"probe_steps must be 0 (no probe) or >= 4 (its last quarter is compared with its start), got {steps}"
        )
    backoff = v.in_range("probe_backoff", probe_backoff, 0.0, 1.0, low_open=True, high_open=True)
    probes = v.integer("max_probes", max_probes, low=1)
    return steps, backoff, probes


def is_stable(losses: Sequence[float], steps: int) -> bool:
    """All ``steps`` losses finite, and the mean of the last quarter no higher than the first."""
    values = np.asarray(losses, dtype=np.float64)
    if len(values) < steps or not np.all(np.isfinite(values)):
        return False
    quarter = max(steps // 4, 1)
    return bool(values[-quarter:].mean() <= values[0])


def losses_at_constant_lr(train: Callable, lr: float, steps: int) -> list:
    """Run ``train([lr] * steps, on_loss)`` (an adapter's training loop, which calls
    ``on_loss(loss, extra)`` before each update and stops when it returns True) and return
    the losses, up to the first non-finite one."""
    losses: list = []

    def on_loss(loss: float, extra: Any = None) -> bool:
        losses.append(loss)
        return not math.isfinite(loss)

    train([lr] * steps, on_loss)
    return losses


def probe_stability(
    candidate: float,
    train: Callable[[float, int], list],
    steps: int,
    backoff: float,
    max_probes: int,
    progress: bool = False,
    framework: str = "",
) -> tuple:
    """Probe ``candidate``, backing off until a probe is stable: ``((lr, stable), ...)``.

    ``train(lr, steps)`` restores the starting point, trains ``steps`` steps at ``lr`` and
    returns the loss before each update (it may stop at the first non-finite one).
    """
    from tqdm.auto import tqdm

    probes = []
    lr = float(candidate)
    with tqdm(
        total=steps * max_probes, desc=f"stability probe ({framework})", disable=not progress, leave=False
    ) as bar:
        for _ in range(max_probes):
            losses = train(lr, steps)
            stable = is_stable(losses, steps)
            probes.append((lr, stable))
            bar.update(steps)
            bar.set_postfix(lr=f"{lr:.3g}", stable=stable, refresh=False)
            if stable:
                break
            lr *= backoff
    return tuple(probes)


def probe_candidate(result: Any):
    """The curve's ``max_lr``, or None where the curve has none (``suggest()`` then says why)."""
    try:
        return result.curve_bounds()[1]
    except ValueError:
        return None


def probed_max_lr(candidate: float, probes: Sequence[Probe], backoff: float) -> float:
    """The suggestion after probing: the candidate if it was stable; after a back-off, the
    first stable lr times ``backoff`` (a margin for the few percent a probe cannot see)."""
    stable = [lr for lr, ok in probes if ok]
    if not stable:
        tried = ", ".join(f"{lr:.3g}" for lr, _ in probes)
        raise ValueError(
            f"no probed lr was stable (tried {tried}): training diverges even there; start the "
            "sweep at a smaller start_lr, check the model, or raise max_probes"
        )
    first = stable[0]
    return first if math.isclose(first, candidate, rel_tol=1e-12) else first * backoff
