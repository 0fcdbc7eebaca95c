"""Argument checks shared by the spec, the torch scheduler and the optax schedules.

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind,
out of range) with the parameter's name and the allowed range in the message, so that a
bad configuration never reaches the arithmetic (where torch would raise
``ZeroDivisionError``/``OverflowError`` or silently return NaN).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence, Union

from ._modes import MODES as _REGISTERED

Bound = Union[float, tuple]

MODES = tuple(_REGISTERED)
SCALE_MODES = ("cycle", "iterations")
# A cycle must span at least one optimizer step (the schedule is sampled once per step),
# and step sizes beyond 2**53 cannot be told apart from their neighbours in float64.
MIN_TOTAL_SIZE = 1.0
MAX_STEP_SIZE = float(2**53)


def real(name: str, value: Any) -> float:
    """``value`` as a float; ``TypeError`` for non-numbers (strings, bools, None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def in_range(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
             low_open: bool = False, high_open: bool = False, why: str = "") -> float:
    """A real number (numpy scalars included) in an interval; the message names both."""
    v = real(name, value)
    above = low < v if low_open else low <= v
    below = v < high if high_open else v <= high
    if not (above and below):   # NaN fails both
        if high == math.inf:
            interval = f"{'>' if low_open else '>='} {low}"
        elif low == -math.inf:
            interval = f"{'<' if high_open else '<='} {high}"
        else:
            interval = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be {interval}{why}, got {v!r}")
    return v


def integer(name: str, value: Any, low: int | None = None, *, why: str = "") -> int:
    """A whole number given as an int (numpy integers included, bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int{why}, got {type(value).__name__} {value!r}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be an int >= {low}{why}, got {v}")
    return v


def finite(name: str, value: Any) -> float:
    v = real(name, value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return v


def non_negative(name: str, value: Any) -> float:
    v = finite(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0 (a learning rate), got {v!r}")
    return v


def momentum(name: str, value: Any) -> float:
    """A momentum bound: finite and >= 0. Its upper limit is the optimizer's to set (torch's SGD
    takes any momentum >= 0, Adam's betas[0] must be < 1), so the optimizers check it."""
    v = finite(name, value)
    if v < 0:
        raise ValueError(f"{name} must be >= 0 (a momentum or beta1), got {v!r}")
    return v


def step_size(name: str, value: Any) -> float:
    v = finite(name, value)
    if not 0.0 < v <= MAX_STEP_SIZE:
        raise ValueError(f"{name} must be > 0 and <= 2**53 optimizer steps, got {v!r}")
    return v


def bound(name: str, value: Any, check) -> Bound:
    """A scalar bound, or a per-param-group sequence of them (kept as a tuple)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return check(name, value)
    if len(value) == 0:
        raise ValueError(f"{name} must be a number or a non-empty sequence (one per param group)")
    return tuple(check(f"{name}[{i}]", v) for i, v in enumerate(value))


def group_count(bounds: dict[str, Bound]) -> int | None:
    """The number of param groups the per-group sequences imply (None if all scalar)."""
    lengths = {k: len(v) for k, v in bounds.items() if isinstance(v, tuple)}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ValueError(f"per-group bounds must all have the same length: {detail}")
    return next(iter(lengths.values()), None)


def group_index(group: Any, num_groups: int | None) -> int:
    if isinstance(group, bool) or not isinstance(group, numbers.Integral):
        raise TypeError(f"group must be an int (a param-group index), got {group!r}")
    group = int(group)
    if group < 0 or (num_groups is not None and group >= num_groups):
        allowed = "an int >= 0" if num_groups is None else f"in [0, {num_groups - 1}]"
        raise ValueError(f"group must be {allowed}, got {group}")
    return group


def mode_and_scale(mode: Any, gamma: Any, scale_fn: Any, scale_mode: Any) -> tuple[str, float, str]:
    """Validate mode/gamma/scale_fn/scale_mode; return (mode, gamma, effective scale_mode)."""
    if scale_fn is not None and not callable(scale_fn):
        raise TypeError(f"scale_fn must be callable or None, got {type(scale_fn).__name__}")
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str, one of {MODES}, got {mode!r}")
    if scale_fn is None and mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (or pass scale_fn), got {mode!r}")
    if not isinstance(scale_mode, str) or scale_mode not in SCALE_MODES:
        raise ValueError(f"scale_mode must be one of {SCALE_MODES}, got {scale_mode!r}")
    g = real("gamma", gamma)
    if scale_fn is None and _REGISTERED[mode].uses_gamma and not (0.0 < g <= 1.0):
        raise ValueError(
            f"gamma must lie in (0, 1] for mode={mode!r} (the amplitude gamma**step must not grow), got {g!r}"
        )
    if scale_fn is None:
        # As in torch: a built-in mode decides its own scale_mode.
        scale_mode = _REGISTERED[mode].scale_mode
    return mode, g, scale_mode


def step_sizes(up: Any, down: Any) -> tuple[float, float | None, float, float]:
    """Return (up, down-or-None, total, ratio) computed exactly as torch does."""
    u = step_size("step_size_up", up)
    d = None if down is None else step_size("step_size_down", down)
    total = u + (u if d is None else d)
    if total < MIN_TOTAL_SIZE:
        raise ValueError(
            f"step_size_up + step_size_down must be >= 1 optimizer step (a cycle shorter than one "
            f"step cannot be sampled), got {total!r}"
        )
    ratio = u / total
    if not 0.0 < ratio < 1.0:
        raise ValueError(
            f"step_size_up={u!r} and step_size_down={d!r} are too far apart to form a cycle in float64"
        )
    return u, d, total, ratio


def steps_array(steps: Any):
    """Validate an array-like of non-negative integer steps; return an int64 numpy array."""
    import numpy as np

    arr = np.asarray(steps)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"steps must be integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.floor(arr)):
            raise ValueError("steps must be whole numbers (optimizer step counts)")
    if np.any(arr < 0):
        raise ValueError(f"steps must be >= 0, got min {arr.min()}")
    if np.any(arr >= 2**53):
        raise ValueError("steps must be < 2**53")
    return arr.astype(np.int64)


def pick_group(value: Any, group: Any, num_groups: int | None) -> Any:
    """One param group's value of a per-group setting (a tuple) or the shared scalar."""
    g = group_index(group, num_groups)
    return value[g] if isinstance(value, tuple) else value


SHOWN_STEPS = (100, 1_000_000)   # the steps `clr show/plot/check` look at by default, at least and at most


def shown_steps(steps: float) -> int:
    """A default number of steps to show, within ``SHOWN_STEPS``."""
    return int(min(max(steps, SHOWN_STEPS[0]), SHOWN_STEPS[1]))


def recovered(holds: Any, guess: float, name: str, rounded: float) -> float:
    """The positive float near ``guess`` (``rounded`` first, then ``guess`` and its 8 neighbours
    each way) for which ``holds(candidate)``: torch stores derived values (``max_lr /
    div_factor``, ``up / (up + down)``), and this finds the setting that reproduces them bit for bit."""
    candidates = [rounded, guess]
    up = down = guess
    for _ in range(8):
        up, down = math.nextafter(up, math.inf), math.nextafter(down, -math.inf)
        candidates += [up, down]
    for candidate in candidates:
        if candidate > 0 and math.isfinite(candidate) and holds(candidate):
            return candidate
    raise ValueError(f"cannot recover {name} from the state (near {guess!r})")


def check_state_keys(entry: Any, required: Any, allowed: Any, where: str, keeper: str) -> None:
    """A parameter's optimizer state holds every ``required`` key and none outside ``allowed``
    (what ``keeper``, the optimizer on the other side, keeps): the one check both directions of
    a run's migration make, so that no buffer or flag is dropped or invented silently."""
    for key in entry:
        if key not in allowed:
            raise ValueError(f"{where} has {key!r} in its state, which {keeper} does not keep "
                             "(its settings differ from the state's)")
    for key in sorted(required):
        if key not in entry:
            raise ValueError(f"{where} has no {key!r} in its state (it has {sorted(entry)}), which {keeper} "
                             "always stores: this state cannot be continued exactly")
