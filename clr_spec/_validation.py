"""Argument checks shared by the spec, the torch scheduler and the optax schedules.

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind,
out of range) with the parameter's name and the allowed range in the message, so that a
bad configuration never reaches the arithmetic (where torch would raise
``ZeroDivisionError``/``OverflowError`` or silently return NaN).
"""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any, Mapping, Sequence, Union

from ._modes import MODES as _REGISTERED

Bound = Union[float, tuple]

MODES = tuple(_REGISTERED)
SCALE_MODES = ("cycle", "iterations")
# A cycle must span at least one optimizer step (the schedule is sampled once per step),
# and step sizes beyond 2**53 cannot be told apart from their neighbours in float64.
MIN_TOTAL_SIZE = 1.0
MAX_STEP_SIZE = float(2**53)


_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlist, _SHOWN.maxdict = 3, 60, 60, 6, 6


def shown(value: Any) -> str:
    """``repr(value)``, bounded: a message shows a value from a damaged file (nested 10,000 deep,
    containing itself, a megabyte long) in a few dozen characters, never by recursing through it."""
    return _SHOWN.repr(value)


def real(name: str, value: Any) -> float:
    """``value`` as a float; ``TypeError`` for non-numbers (strings, bools, None)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {shown(value)}")
    try:
        return float(value)
    except OverflowError:  # an int past float64's range (10**400): no finite float holds it
        raise ValueError(
            f"{name} must be a finite real number, got {str(value)[:12]}... ({len(str(value))} digits)"
        ) from None


def in_range(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    why: str = "",
) -> float:
    """A real number (numpy scalars included) in an interval; the message names both."""
    v = real(name, value)
    above = low < v if low_open else low <= v
    below = v < high if high_open else v <= high
    if not (above and below):  # NaN fails both
        if high == math.inf:
            interval = f"{'>' if low_open else '>='} {low}{' and finite' if high_open else ''}"
        elif low == -math.inf:
            interval = f"{'<' if high_open else '<='} {high}"
        else:
            interval = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be {interval}{why}, got {v!r}")
    return v


# Every integer a spec or a resume takes (steps, lengths, milestones, counts, T_mult) is below
# 2**53: the numpy path holds steps as int64 and computes with them in float64, which is exact
# only below 2**53, and every length is compared with or divided into such steps. (clr_optax
# clips its counts to [0, 2**31 - 1] and keeps longer lengths exact: README, "Precision".)
MAX_INT = 2**53


def integer(name: str, value: Any, low: int | None = None, *, why: str = "") -> int:
    """A whole number given as an int (numpy integers included, bools and floats refused), in
    ``[low, 2**53)``: the one range check of every integer field."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int{why}, got {type(value).__name__} {shown(value)}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be an int >= {low}{why} (and < 2**53), got {v}")
    if v >= MAX_INT:
        given = v if v < 10**30 else f"{str(v)[:12]}... ({len(str(v))} digits)"
        raise ValueError(
            f"{name} must be an int < 2**53{why} (steps and lengths are whole float64 numbers, "
            f"exact below 2**53), got {given}"
        )
    return v


def below_int_range(limit: int, steps: Any) -> int:
    """``limit`` clipped to the largest value the integer dtype of ``steps`` holds: no step of that
    dtype exceeds it, so ``steps <= below_int_range(limit, steps)`` is ``steps <= limit``, and a
    constant that would not fit the dtype (a length past 2**31 on clr_optax's int32 path) never
    has to. Float steps (the float64 paths) take ``limit`` as it is."""
    import numpy as np

    dtype = np.dtype(getattr(steps, "dtype", np.int64))
    if np.issubdtype(dtype, np.integer):
        return min(limit, int(np.iinfo(dtype).max))
    return limit


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
        raise TypeError(f"group must be an int (a param-group index), got {shown(group)}")
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
        raise TypeError(f"mode must be a str, one of {MODES}, got {shown(mode)}")
    if scale_fn is None and mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} (or pass scale_fn), got {shown(mode)}")
    if not isinstance(scale_mode, str) or scale_mode not in SCALE_MODES:
        raise ValueError(f"scale_mode must be one of {SCALE_MODES}, got {shown(scale_mode)}")
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
        raise ValueError(f"step_size_up={u!r} and step_size_down={d!r} are too far apart to form a cycle in float64")
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


# How far a closed form may be from torch's recursively stepped float64 run (LinearLR,
# CosineAnnealingLR, ... multiply each lr by a rounded ratio of the last): every step rounds a
# few times, each by at most 2**-53 of the schedule's amplitude, so after k steps by at most
# 8 k 2**-53 = 2**-50 k of its peak (measured: 1e-13 of the peak after 10**5 steps, for
# CosineAnnealingLR(T_max=11729), 100x inside). Near 0 this absolute term is what holds
# (a decay to 0 ends a rounding away from it); elsewhere 1e-12 relative does.
RELATIVE_TOLERANCE = 1e-12
RECURSION_TOLERANCE = 2.0**-50


def float64_tolerance(reference: Any, steps: Any) -> Any:
    """The stated bound (README, "Precision") of ``|closed form - torch|`` at each of ``steps``
    (the schedule's step numbers), ``reference`` torch's values there: ``1e-12 |value| +
    2**-50 (1 + step) peak``, the peak the largest ``|value|`` of the reference."""
    import numpy as np

    ref = np.abs(np.asarray(reference, dtype=np.float64))
    peak = float(np.nanmax(ref)) if ref.size else 0.0
    return RELATIVE_TOLERANCE * ref + RECURSION_TOLERANCE * (1.0 + np.asarray(steps, dtype=np.float64)) * peak


def pick_group(value: Any, group: Any, num_groups: int | None) -> Any:
    """One param group's value of a per-group setting (a tuple) or the shared scalar."""
    g = group_index(group, num_groups)
    return value[g] if isinstance(value, tuple) else value


SHOWN_STEPS = (100, 1_000_000)  # the steps `clr show/plot/check` look at by default, at least and at most


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


# ------------------------------------------------------------------------------ torch states
# A state dict comes from a file: every value is checked before use, and a bad one is a
# ValueError (TypeError for a wrong kind) that names the key, never a KeyError, an
# OverflowError or a silent conversion ('false' taken as True, 10.7 truncated to 10).
def state_value(state: Any, key: str, where: str) -> Any:
    """``state[key]``; a ValueError naming the key where it is missing."""
    try:
        return state[key]
    except (KeyError, TypeError, IndexError):
        keys = sorted(map(str, state)) if hasattr(state, "keys") else type(state).__name__
        raise ValueError(f"not a {where} state: it has no {key!r} (it has {keys})") from None


def state_flag(value: Any, key: str, where: str) -> bool:
    """A bool as torch stores it (True/False, a numpy bool, or 0/1); anything else refused."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{where} state: {key} must be a bool, got {type(value).__name__} {shown(value)}")


def state_real(value: Any, key: str, where: str) -> float:
    """A real number from a state: floats, ints, numpy scalars and one-element tensors (torch keeps
    tensor lrs as tensors); strings, bools and None refused, NaN and infinities too."""
    if hasattr(value, "numel") and hasattr(value, "item"):  # a torch tensor (clr_spec imports no torch)
        if value.numel() != 1:
            raise ValueError(f"{where} state: {key} must hold one number, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    return finite(f"{where} state: {key}", value)


def state_reals(values: Any, key: str, where: str) -> list[float]:
    """A state's per-group list of reals (``base_lrs``, ``max_lrs``, ...): non-empty."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise ValueError(
            f"{where} state: {key} must be a non-empty list (one value per param group), "
            f"got {type(values).__name__} {shown(values)}"
        )
    return [state_real(x, f"{key}[{i}]", where) for i, x in enumerate(values)]


MAX_NESTING = 16  # SequentialSpecs inside SequentialSpecs, at most (README, "The spec and its JSON form")
MAX_JSON_DEPTH = 64  # JSON arrays and objects inside each other, at most: a spec nested 16 deep needs 50


def nesting_depth(data: Any, limit: int, what: str) -> int:
    """How deep lists, tuples and mappings nest in ``data``, counted without recursion (a document
    nested 100,000 deep would exhaust Python's stack); past ``limit`` is a ValueError that says so
    (a container that contains itself nests without end, so it is refused the same way)."""
    deepest, stack = 0, [(data, 1)]
    reached: dict[int, int] = {}  # id of a container: the deepest it was walked from
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (str, bytes)) or not isinstance(node, (Sequence, Mapping)):
            continue
        if depth > limit:
            raise ValueError(
                f"{what} nests deeper than {limit} levels (or contains itself): the most this library reads is {limit}"
            )
        if reached.get(id(node), 0) >= depth:
            continue  # shared and already walked from as deep: each container at most `limit` times
        reached[id(node)] = depth
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, Mapping) else node))
    return deepest


def check_state_keys(entry: Any, required: Any, allowed: Any, where: str, keeper: str) -> None:
    """A parameter's optimizer state holds every ``required`` key and none outside ``allowed``
    (what ``keeper``, the optimizer on the other side, keeps): the one check both directions of
    a run's migration make, so that no buffer or flag is dropped or invented silently."""
    for key in entry:
        if key not in allowed:
            raise ValueError(
                f"{where} has {key!r} in its state, which {keeper} does not keep (its settings differ from the state's)"
            )
    for key in sorted(required):
        if key not in entry:
            raise ValueError(
                f"{where} has no {key!r} in its state (it has {sorted(entry)}), which {keeper} "
                "always stores: this state cannot be continued exactly"
            )
