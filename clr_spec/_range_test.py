"""The LR range test of Smith's CLR paper (section 3.3), framework-free: the sweep, the stopping
rule, the analysis and the result. ``clr_torch.lr_range_test`` and ``clr_optax.lr_range_test``
run the training steps; everything they share is here.

The sweep: ``num_steps`` optimizer steps with the lr rising from ``start_lr`` to ``end_lr``,
linearly or exponentially (``lrs[i]``, inclusive at both ends); ``losses[i]`` is the loss of batch
``i`` just before the update that uses ``lrs[i]``. It stops early when the loss is not finite or
its running (causal, bias-corrected) exponential average exceeds ``diverge_threshold`` times the
best one so far.

The analysis (``suggest``), following the paper's reading of the curve: ``max_lr`` is the lr of
the last update that still lowered the loss, i.e. the update just before the minimum of the
smoothed loss (the minimum where the loss "stops improving" before it diverges); ``base_lr`` is
the lr where the loss starts falling, or ``max_lr / 4`` (the paper's rule of thumb) when that is
unclear. The analysis smooths with a zero-lag (forward-backward) exponential average, so the
minimum is not shifted to later, larger lrs the way a causal average shifts it.

Limits: the loss only shows an instability once the unstable direction dominates it. With
mini-batch noise (the usual case) that is soon, and on noisy mini-batch least squares the
suggestion lands at 0.33-0.65x the stability limit 2/L (12 problems, exp and linear sweeps,
both frameworks; parity_tests/test_range_test.py checks (1/3, 1) on three). Without noise
(full-batch, or a model that fits the data exactly), a sweep passing through lr ~ 1/L first
damps that direction almost to zero, and the loss keeps falling past 2/L until the direction has
grown back: the minimum, hence ``max_lr``, can then overshoot 2/L (by 1.1-2x for linear sweeps
in our simulations, more for fast exponential ones). Read the plot; lower ``max_lr`` when the
curve turns ragged before its minimum.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from . import _validation as v
from ._requirements import require
from ._spec import CyclicSpec

MODES = ("linear", "exp")
_START_FRACTION = 0.1     # the loss "starts falling" once 10% of its total drop is done
_BASE_DIVISOR = 4.0       # the paper: base_lr can be a third or a quarter of max_lr


# --------------------------------------------------------------------------- the sweep
def check_sweep(start_lr: Any, end_lr: Any, num_steps: Any, mode: Any, smoothing: Any,
                diverge_threshold: Any) -> None:
    """Validate the arguments both frameworks' ``lr_range_test`` take; errors name the argument."""
    start_lr, end_lr, smoothing, diverge_threshold = (
        v.real(name, value) for name, value in (("start_lr", start_lr), ("end_lr", end_lr),
                                                ("smoothing", smoothing), ("diverge_threshold", diverge_threshold)))
    if not (math.isfinite(start_lr) and start_lr > 0):
        raise ValueError(f"start_lr must be a finite number > 0, got {start_lr!r}")
    if not (math.isfinite(end_lr) and end_lr > start_lr):
        raise ValueError(f"end_lr must be finite and > start_lr ({start_lr!r}), got {end_lr!r}")
    if v.integer("num_steps", num_steps) < 2:
        raise ValueError(f"num_steps must be >= 2 (a sweep needs a start and an end), got {num_steps}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be in [0, 1) (the weight of the previous average), got {smoothing!r}")
    if not (math.isfinite(diverge_threshold) and diverge_threshold > 1):
        raise ValueError(f"diverge_threshold must be a finite number > 1, got {diverge_threshold!r}")


def sweep_lrs(start_lr: float, end_lr: float, num_steps: int, mode: str) -> np.ndarray:
    """The lr of each step: ``start_lr`` to ``end_lr`` inclusive, linear or geometric."""
    fraction = np.arange(num_steps) / (num_steps - 1)
    if mode == "linear":
        lrs = start_lr + (end_lr - start_lr) * fraction
    else:
        lrs = start_lr * (end_lr / start_lr) ** fraction
    lrs[-1] = end_lr
    return lrs


def cycle_batches(batches: Iterable, num_steps: int) -> Iterator:
    """``num_steps`` batches, starting ``batches`` over when it runs out (as a DataLoader can)."""
    iterator = iter(batches)
    produced_this_pass = 0
    for step in range(num_steps):
        try:
            batch = next(iterator)
        except StopIteration:
            if produced_this_pass == 0:
                raise ValueError("batches is empty: the range test needs at least one batch") from None
            iterator = iter(batches)
            if iterator is batches:
                raise ValueError(f"batches ran out after {step} of num_steps={num_steps} steps and cannot be "
                                 "restarted: pass a list, a DataLoader or another re-iterable") from None
            produced_this_pass = 0
            batch = next(iterator)
        produced_this_pass += 1
        yield batch


class Recorder:
    """Collects (lr, loss) step by step and applies the stopping rule; shows a tqdm bar."""

    def __init__(self, start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold, progress: bool,
                 framework: str):
        check_sweep(start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold)
        self.lrs = sweep_lrs(float(start_lr), float(end_lr), num_steps, mode)
        self.settings = dict(start_lr=float(start_lr), end_lr=float(end_lr), num_steps=num_steps, mode=mode,
                             smoothing=float(smoothing), diverge_threshold=float(diverge_threshold))
        self.losses: list[float] = []
        self._average = 0.0
        self._best = math.inf
        self.stop_reason: Optional[str] = None
        from tqdm.auto import tqdm

        self._bar = tqdm(total=num_steps, desc=f"lr range test ({framework})", disable=not progress, leave=False)

    def record(self, loss: float) -> bool:
        """Record the loss of the step that uses ``lrs[len(losses)]``; True means stop now."""
        step = len(self.losses)
        loss = float(loss)
        if step == 0 and not math.isfinite(loss):
            self.close()
            raise ValueError(f"the loss is not finite ({loss}) before any update: check the model, the data "
                             "and loss_fn before running the range test")
        self.losses.append(loss)
        self._bar.update(1)
        self._bar.set_postfix(lr=f"{self.lrs[step]:.3g}", loss=f"{loss:.4g}", refresh=False)
        if not math.isfinite(loss):
            self.stop_reason = f"loss not finite at step {step}"
            return True
        beta = self.settings["smoothing"]
        self._average = beta * self._average + (1 - beta) * loss
        smoothed = self._average / (1 - beta ** (step + 1))
        self._best = min(self._best, smoothed)
        if smoothed > self.settings["diverge_threshold"] * self._best:
            self.stop_reason = (f"smoothed loss {smoothed:.4g} > diverge_threshold x best "
                                f"({self.settings['diverge_threshold']:g} x {self._best:.4g}) at step {step}")
            return True
        return False

    def close(self) -> None:
        self._bar.close()

    def result(self) -> "RangeTestResult":
        self.close()
        n = len(self.losses)
        return RangeTestResult(lrs=self.lrs[:n].copy(), losses=np.array(self.losses),
                               stop_reason=self.stop_reason, **self.settings)


# --------------------------------------------------------------------------- the analysis
def zero_lag_smooth(values: np.ndarray, beta: float) -> np.ndarray:
    """Bias-corrected exponential average run forwards, then backwards over the result."""
    def ema(x):
        out, average = np.empty_like(x), 0.0
        for i, v in enumerate(x):
            average = beta * average + (1 - beta) * v
            out[i] = average / (1 - beta ** (i + 1))
        return out

    return ema(ema(values)[::-1])[::-1]


@dataclass(frozen=True)
class RangeTestResult:
    """What an LR range test measured, and the bounds it suggests.

    Attributes:
      lrs: the lr of each step taken (the sweep, up to where it stopped).
      losses: the raw loss of each step (the batch's loss before the update with ``lrs[i]``).
      smoothed_losses: ``losses`` smoothed without lag (non-finite tail excluded).
      stop_reason: why the sweep stopped before ``num_steps``, or None.
      start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold: the sweep's settings.
    """

    lrs: np.ndarray
    losses: np.ndarray
    start_lr: float
    end_lr: float
    num_steps: int
    mode: str
    smoothing: float
    diverge_threshold: float
    stop_reason: Optional[str] = None
    smoothed_losses: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        losses = np.asarray(self.losses, dtype=np.float64)
        finite = int(np.argmin(np.isfinite(losses))) if not np.all(np.isfinite(losses)) else len(losses)
        smoothed = np.full(len(losses), np.nan)
        if finite:
            smoothed[:finite] = zero_lag_smooth(losses[:finite], self.smoothing)
        object.__setattr__(self, "lrs", np.asarray(self.lrs, dtype=np.float64))
        object.__setattr__(self, "losses", losses)
        object.__setattr__(self, "smoothed_losses", smoothed)

    @property
    def diverged(self) -> bool:
        return self.stop_reason is not None

    def suggest(self) -> tuple[float, float]:
        """``(base_lr, max_lr)`` read off the smoothed loss curve (see the module docstring).

        By hand: the lowest loss comes after the update with lr 0.6 (the last that helped);
        10% of the fall (5 -> 1) is done after the update with lr 0.3.

        >>> from clr_spec import RangeTestResult
        >>> result = RangeTestResult(lrs=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        ...                          losses=[5, 5, 5, 4, 3, 2, 1, 2, 10], start_lr=0.1, end_lr=0.9,
        ...                          num_steps=9, mode="linear", smoothing=0.0, diverge_threshold=4.0)
        >>> result.suggest()
        (0.3, 0.6)
        >>> result.to_spec(steps_per_epoch=25)     # step_size_up: 4 epochs
        CyclicSpec(base_lr=0.3, max_lr=0.6, step_size_up=100, step_size_down=100, mode='triangular', gamma=1.0, scale_fn=None, scale_mode='cycle', cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)
        """
        smoothed = self.smoothed_losses
        finite = np.isfinite(smoothed)
        if finite.sum() < 3:
            raise ValueError(f"too few finite losses ({int(finite.sum())}) to suggest bounds: start the sweep "
                             "at a smaller start_lr or give it more steps")
        lowest = int(np.nanargmin(smoothed))
        if lowest == 0:
            raise ValueError("the loss never fell below its value at start_lr: start the sweep at a smaller "
                             "start_lr (or check that the model trains at all)")
        max_lr = float(self.lrs[lowest - 1])        # the last update that still lowered the loss
        drop = smoothed[0] - smoothed[lowest]
        started = int(np.argmax(smoothed[:lowest + 1] <= smoothed[0] - _START_FRACTION * drop))
        base_lr = float(self.lrs[started - 1])     # the update that brought the loss down that far
        # Unclear: the very first update already did it (the fall began at or before start_lr),
        # the loss hardly fell, or the fall began within a factor 2 of max_lr.
        clear = started >= 2 and drop > _START_FRACTION * abs(smoothed[0]) and base_lr <= max_lr / 2
        return (base_lr if clear else max_lr / _BASE_DIVISOR), max_lr

    def to_spec(self, steps_per_epoch: int, *, epochs_per_step: float = 4, mode: str = "triangular",
                base_lr: Optional[float] = None, max_lr: Optional[float] = None, **spec_kwargs: Any) -> CyclicSpec:
        """A ``CyclicSpec`` with the suggested bounds (or the ones given) and
        ``step_size_up = epochs_per_step * steps_per_epoch`` (the paper: 2-10 epochs)."""
        steps_per_epoch = v.integer("steps_per_epoch", steps_per_epoch, low=1)
        epochs_per_step = v.in_range("epochs_per_step", epochs_per_step, 0.0, math.inf, low_open=True,
                                     high_open=True, why=" (the paper suggests 2-10)")
        if base_lr is None or max_lr is None:
            suggested_base, suggested_max = self.suggest()
            base_lr = suggested_base if base_lr is None else base_lr
            max_lr = suggested_max if max_lr is None else max_lr
        step_size = epochs_per_step * steps_per_epoch
        step_size = int(round(step_size)) if float(step_size).is_integer() else float(step_size)
        return CyclicSpec(base_lr=base_lr, max_lr=max_lr, step_size_up=step_size, mode=mode, **spec_kwargs)

    def plot(self, path: str, *, title: Optional[str] = None) -> str:
        """Write a PNG of loss against lr (raw and smoothed) with the suggested bounds marked."""
        # A bare Figure draws with Agg and leaves the user's pyplot backend alone.
        Figure = require("matplotlib.figure", "plot", "RangeTestResult.plot").Figure
        fig = Figure(figsize=(7, 4.2))
        ax = fig.subplots()
        ax.plot(self.lrs, self.losses, color="0.75", lw=1, label="loss")
        ax.plot(self.lrs, self.smoothed_losses, color="tab:blue", lw=1.8, label="smoothed")
        try:
            base_lr, max_lr = self.suggest()
            ax.axvline(base_lr, color="tab:green", ls="--", label=f"base_lr {base_lr:.3g}")
            ax.axvline(max_lr, color="tab:red", ls="--", label=f"max_lr {max_lr:.3g}")
        except ValueError as err:
            ax.set_title(f"no suggestion: {err}", fontsize=8)
        if self.mode == "exp":
            ax.set_xscale("log")
        finite = self.losses[np.isfinite(self.losses)]
        if finite.size:
            # Show the whole fall, not the blow-up past the divergence threshold.
            top = min(finite.max(), 1.05 * max(self.smoothed_losses[0],
                                               self.diverge_threshold * np.nanmin(self.smoothed_losses)))
            ax.set_ylim(max(finite.min() * 0.9, 0) if finite.min() >= 0 else None, top)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        if title:
            fig.suptitle(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        return path

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        return {"format": "clr.RangeTestResult", "version": 1, "lrs": self.lrs.tolist(),
                "losses": [v if math.isfinite(v) else None for v in self.losses.tolist()],
                "start_lr": self.start_lr, "end_lr": self.end_lr, "num_steps": self.num_steps, "mode": self.mode,
                "smoothing": self.smoothing, "diverge_threshold": self.diverge_threshold,
                "stop_reason": self.stop_reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RangeTestResult":
        if data.get("format") != "clr.RangeTestResult" or data.get("version") != 1:
            raise ValueError("not a clr.RangeTestResult version 1 dict")
        fields = {k: v for k, v in data.items() if k not in ("format", "version")}
        fields["losses"] = [math.nan if v is None else v for v in fields["losses"]]
        return cls(**fields)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "RangeTestResult":
        return cls.from_dict(json.loads(text))
