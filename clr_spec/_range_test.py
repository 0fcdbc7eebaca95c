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

The curve's ``max_lr`` is a candidate: a stability probe (``_range_probe``) trains a few
dozen steps at it from the starting point and backs off until training is stable, because
without gradient noise the loss curve's minimum overshoots the divergence point (a sweep
that passes lr ~ 1/L damps the unstable direction, which then grows back only after the
limit has been passed). With a ``metric_fn`` (higher is better, e.g. accuracy) the curve is
the smoothed metric instead of the loss. README, "The LR range test", has the measured
ratios to the stability limit of least-squares problems.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from . import _validation as v
from ._range_probe import probed_max_lr
from ._requirements import require
from ._spec import CyclicSpec

MODES = ("linear", "exp")
_START_FRACTION = 0.1  # the loss "starts falling" once 10% of its total drop is done
_BASE_DIVISOR = 4.0  # the paper: base_lr can be a third or a quarter of max_lr


# --------------------------------------------------------------------------- the sweep
def check_sweep(start_lr: Any, end_lr: Any, num_steps: Any, mode: Any, smoothing: Any, diverge_threshold: Any) -> None:
    """Validate the arguments both frameworks' ``lr_range_test`` take; errors name the argument."""
    start_lr, end_lr, smoothing, diverge_threshold = (
        v.real(name, value)
        for name, value in (
            ("start_lr", start_lr),
            ("end_lr", end_lr),
            ("smoothing", smoothing),
            ("diverge_threshold", diverge_threshold),
        )
    )
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
                raise ValueError(
                    f"batches ran out after {step} of num_steps={num_steps} steps and cannot be "
                    "restarted: pass a list, a DataLoader or another re-iterable"
                ) from None
            produced_this_pass = 0
            batch = next(iterator)
        produced_this_pass += 1
        yield batch


class Recorder:
    """Collects (lr, loss) step by step and applies the stopping rule; shows a tqdm bar."""

    def __init__(self, start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold, progress: bool, framework: str):
        check_sweep(start_lr, end_lr, num_steps, mode, smoothing, diverge_threshold)
        self.lrs = sweep_lrs(float(start_lr), float(end_lr), num_steps, mode)
        self.settings = dict(
            start_lr=float(start_lr),
            end_lr=float(end_lr),
            num_steps=num_steps,
            mode=mode,
            smoothing=float(smoothing),
            diverge_threshold=float(diverge_threshold),
        )
        self.losses: list[float] = []
        self.metrics: list[float] = []
        self._average = 0.0
        self._best = math.inf
        self.stop_reason: Optional[str] = None
        from tqdm.auto import tqdm

        self._bar = tqdm(total=num_steps, desc=f"lr range test ({framework})", disable=not progress, leave=False)

    def record(self, loss: float, metric: Optional[float] = None) -> bool:
        """Record the loss (and metric) of the step that uses ``lrs[len(losses)]``; True means stop now."""
        step = len(self.losses)
        loss = float(loss)
        if metric is not None:
            self.metrics.append(float(metric))
        if step == 0 and not math.isfinite(loss):
            self.close()
            raise ValueError(
                f"the loss is not finite ({loss}) before any update: check the model, the data "
                "and loss_fn before running the range test"
            )
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
            self.stop_reason = (
                f"smoothed loss {smoothed:.4g} > diverge_threshold x best "
                f"({self.settings['diverge_threshold']:g} x {self._best:.4g}) at step {step}"
            )
            return True
        return False

    def close(self) -> None:
        self._bar.close()

    def result(self, probes: tuple = (), probe_steps: int = 0, probe_backoff: float = 0.8) -> "RangeTestResult":
        self.close()
        n = len(self.losses)
        return RangeTestResult(
            lrs=self.lrs[:n].copy(),
            losses=np.array(self.losses),
            metrics=np.array(self.metrics) if self.metrics else None,
            stop_reason=self.stop_reason,
            probes=probes,
            probe_steps=probe_steps,
            probe_backoff=probe_backoff,
            **self.settings,
        )


# --------------------------------------------------------------------------- the analysis
def zero_lag_smooth(values: np.ndarray, beta: float) -> np.ndarray:
    """Bias-corrected exponential average run forwards, then backwards over the result."""

    def ema(x):
        out, average = np.empty_like(x), 0.0
        for i, value in enumerate(x):
            average = beta * average + (1 - beta) * value
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
      metrics: the metric of each step (higher is better, e.g. accuracy) when a ``metric_fn``
        was given; the bounds are then read from it instead of the loss. None otherwise.
      probes: the stability probes, ``((lr, stable), ...)`` in the order run (see
        ``clr_spec._range_probe``); empty when the probe was off.
      probe_steps, probe_backoff: the probe's settings.
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
    metrics: Optional[np.ndarray] = None
    probes: tuple = ()
    probe_steps: int = 0
    probe_backoff: float = 0.8
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
        if self.metrics is not None:
            metrics = np.asarray(self.metrics, dtype=np.float64)
            if metrics.shape != losses.shape:
                raise ValueError(f"metrics must have one value per step ({len(losses)}), got {metrics.shape}")
            object.__setattr__(self, "metrics", metrics)
        object.__setattr__(self, "probes", tuple((float(lr), bool(ok)) for lr, ok in self.probes))

    @property
    def diverged(self) -> bool:
        return self.stop_reason is not None

    def curve_bounds(self) -> tuple[Optional[float], float]:
        """``(base_lr or None if unclear, max_lr)`` read off the curve alone, before any probe.

        The curve is the smoothed loss, or the smoothed metric (negated: higher is better)
        when one was recorded; ``max_lr`` is the lr of the update just before its best point,
        ``base_lr`` the one that did 10% of the improvement."""
        if self.metrics is None:
            curve, what = self.smoothed_losses, "loss"
        else:
            finite = len(self.smoothed_losses) - int(np.isnan(self.smoothed_losses).sum())
            curve, what = np.full(len(self.metrics), np.nan), "metric"
            if finite:
                curve[:finite] = -zero_lag_smooth(self.metrics[:finite], self.smoothing)
        finite = np.isfinite(curve)
        if finite.sum() < 3:
            raise ValueError(
                f"too few finite losses ({int(finite.sum())}) to suggest bounds: start the sweep "
                "at a smaller start_lr or give it more steps"
            )
        lowest = int(np.nanargmin(curve))
        if lowest == 0:
            raise ValueError(
                f"the {what} never {'fell below' if what == 'loss' else 'rose above'} its value at "
                "start_lr: start the sweep at a smaller start_lr (or check that the model trains at all)"
            )
        max_lr = float(self.lrs[lowest - 1])  # the last update that still improved it
        drop = curve[0] - curve[lowest]
        started = int(np.argmax(curve[: lowest + 1] <= curve[0] - _START_FRACTION * drop))
        base_lr = float(self.lrs[started - 1])  # the update that brought it that far
        # Unclear: the very first update already did it (the fall began at or before start_lr),
        # or the curve hardly moved.
        clear = started >= 2 and drop > _START_FRACTION * abs(curve[0])
        return (base_lr if clear else None), max_lr

    def suggest(self) -> tuple[float, float]:
        """``(base_lr, max_lr)``: the curve's, with ``max_lr`` lowered by the stability probe
        where the probe found the curve's candidate unstable (see the module docstring and
        ``clr_spec._range_probe``). ``base_lr`` is where the curve starts improving, or
        ``max_lr / 4`` when that is unclear or within a factor 2 of ``max_lr``.

        By hand: the lowest loss comes after the update with lr 0.6 (the last that helped);
        10% of the fall (5 -> 1) is done after the update with lr 0.3. No probe here.

        >>> from clr_spec import RangeTestResult
        >>> result = RangeTestResult(lrs=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        ...                          losses=[5, 5, 5, 4, 3, 2, 1, 2, 10], start_lr=0.1, end_lr=0.9,
        ...                          num_steps=9, mode="linear", smoothing=0.0, diverge_threshold=4.0)
        >>> result.suggest()
        (0.3, 0.6)
        >>> result.to_spec(steps_per_epoch=25)     # step_size_up: 4 epochs
        CyclicSpec(base_lr=0.3, max_lr=0.6, step_size_up=100, step_size_down=100, mode='triangular', gamma=1.0, scale_fn=None, scale_mode='cycle', cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)

        With a probe that found 0.6 unstable and 0.48 stable, ``max_lr`` is 0.48 * 0.8:

        >>> import dataclasses
        >>> dataclasses.replace(result, probes=((0.6, False), (0.48, True))).suggest()[1]
        0.384
        """
        base_lr, max_lr = self.curve_bounds()
        if self.probes:
            max_lr = probed_max_lr(max_lr, self.probes, self.probe_backoff)
        if base_lr is None or base_lr > max_lr / 2:
            base_lr = max_lr / _BASE_DIVISOR
        return base_lr, max_lr

    def to_spec(
        self,
        steps_per_epoch: int,
        *,
        epochs_per_step: float = 4,
        mode: str = "triangular",
        base_lr: Optional[float] = None,
        max_lr: Optional[float] = None,
        **spec_kwargs: Any,
    ) -> CyclicSpec:
        """A ``CyclicSpec`` with the suggested bounds (or the ones given) and
        ``step_size_up = epochs_per_step * steps_per_epoch`` (the paper: 2-10 epochs)."""
        steps_per_epoch = v.integer("steps_per_epoch", steps_per_epoch, low=1)
        epochs_per_step = v.in_range(
            "epochs_per_step",
            epochs_per_step,
            0.0,
            math.inf,
            low_open=True,
            high_open=True,
            why=" (the paper suggests 2-10)",
        )
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
        for i, (lr, stable) in enumerate(self.probes):
            ax.axvline(
                lr,
                color="tab:green" if stable else "tab:red",
                ls=":",
                lw=1,
                label=None if i else f"probes ({self.probe_steps} steps): red unstable, green stable",
            )
            ax.annotate(
                "stable" if stable else "unstable",
                (lr, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=7,
                color="tab:green" if stable else "tab:red",
            )
        if self.metrics is not None:
            metric_ax = ax.twinx()
            metric_ax.plot(self.lrs, self.metrics, color="tab:purple", lw=1, alpha=0.7, label="metric")
            metric_ax.set_ylabel("metric (higher is better)", color="tab:purple")
        if self.mode == "exp":
            ax.set_xscale("log")
        finite = self.losses[np.isfinite(self.losses)]
        if finite.size:
            # Show the whole fall, not the blow-up past the divergence threshold.
            top = min(
                finite.max(),
                1.05 * max(self.smoothed_losses[0], self.diverge_threshold * np.nanmin(self.smoothed_losses)),
            )
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
        """A JSON-able dict, version 2 (version 1, without metrics and probes, still loads)."""

        def finite_or_none(values):
            return [x if math.isfinite(x) else None for x in values.tolist()]

        return {
            "format": "clr.RangeTestResult",
            "version": 2,
            "lrs": self.lrs.tolist(),
            "losses": finite_or_none(self.losses),
            "metrics": None if self.metrics is None else finite_or_none(self.metrics),
            "start_lr": self.start_lr,
            "end_lr": self.end_lr,
            "num_steps": self.num_steps,
            "mode": self.mode,
            "smoothing": self.smoothing,
            "diverge_threshold": self.diverge_threshold,
            "stop_reason": self.stop_reason,
            "probes": [list(p) for p in self.probes],
            "probe_steps": self.probe_steps,
            "probe_backoff": self.probe_backoff,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RangeTestResult":
        if data.get("format") != "clr.RangeTestResult" or data.get("version") not in (1, 2):
            raise ValueError("not a clr.RangeTestResult dict of version 1 or 2")
        fields = {k: v for k, v in data.items() if k not in ("format", "version")}
        fields["losses"] = [math.nan if v is None else v for v in fields["losses"]]
        if fields.get("metrics") is not None:
            fields["metrics"] = [math.nan if v is None else v for v in fields["metrics"]]
        fields["probes"] = tuple(tuple(p) for p in fields.get("probes", ()))
        return cls(**fields)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "RangeTestResult":
        return cls.from_dict(json.loads(text))
