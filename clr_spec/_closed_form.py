r"""The CLR formula, in float64, in torch's order of operations.

This is the one place the formula lives for float64 users (``CyclicSpec.lr``,
``CyclicSpec.momentum`` and the x64 optax path mirror it). With ``step`` the number of
optimizer updates already applied:

.. math::

    \text{total} = \text{up} + \text{down},\quad
    \text{cycle} = \lfloor 1 + \text{step}/\text{total} \rfloor,\quad
    x = 1 + \text{step}/\text{total} - \text{cycle}

    f = x / r \;\text{if}\; x \le r \;\text{else}\; (x - 1)/(r - 1),\quad r = \text{up}/\text{total}

    \text{lr} = \text{base\_lr} + (\text{max\_lr} - \text{base\_lr}) \cdot f \cdot s(\text{arg})

    \text{momentum} = \text{max\_m} - (\text{max\_m} - \text{base\_m}) \cdot f \cdot s(\text{arg})

with ``s = 1`` (triangular, per cycle), ``2**-(cycle-1)`` (triangular2, per cycle),
``gamma**step`` (exp_range, per iteration) or a custom ``scale_fn`` of ``cycle`` or ``step``.
Evaluated in float64 in the same order as torch's ``CyclicLR.get_lr``, so that the
results agree with torch's to the last bit (not merely to 1e-12).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._modes import dispatch


def cycle_and_factor(steps: np.ndarray, total: float, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (cycle as int64, scale_factor as float64) for int64 ``steps``, as torch computes them."""
    q = steps / total                     # int64 -> float64 is exact below 2**53
    cycle = np.floor(1.0 + q)
    x = 1.0 + q - cycle
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
    return cycle.astype(np.int64), factor


def _triangular(gamma: float, arg: np.ndarray) -> np.ndarray:
    return np.ones(arg.shape)


def _triangular2(gamma: float, arg: np.ndarray) -> np.ndarray:
    # torch: 1 / (2.0 ** (cycle - 1)); equal wherever torch does not overflow
    # (ldexp is exact), and going on to 0 where torch raises OverflowError.
    return np.ldexp(1.0, (1 - np.minimum(arg, 1 << 20)).astype(np.int32))


def _exp_range(gamma: float, arg: np.ndarray) -> np.ndarray:
    # torch evaluates Python's float ** int (C pow()); numpy's SIMD power differs
    # by up to 1e-14 relative, so call the same pow (about 60 ns a step).
    flat = arg.ravel().tolist()
    return np.fromiter((gamma**k for k in flat), dtype=np.float64, count=len(flat)).reshape(arg.shape)


SCALES = {"triangular": _triangular, "triangular2": _triangular2, "exp_range": _exp_range}


def builtin_scale(mode: str, gamma: float, arg: np.ndarray) -> np.ndarray:
    """torch's built-in scale functions; ``arg`` is the cycle (1-based) or the step."""
    return dispatch(SCALES, mode, "clr_spec's closed form")(gamma, arg)


def custom_scale(scale_fn: Callable, arg: np.ndarray) -> np.ndarray:
    """Call ``scale_fn`` on Python ints, once per distinct argument, as torch does."""
    uniq, inverse = np.unique(arg, return_inverse=True)
    values = np.array([float(scale_fn(int(a))) for a in uniq], dtype=np.float64)
    return values[inverse].reshape(arg.shape)


def evaluate(steps: np.ndarray, *, total: float, ratio: float, start: float, height: float,
             sign: float, scale: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """``start + sign * (height * factor) * scale(cycle, steps)`` in torch's order.

    lr: ``start=base_lr, height=max_lr-base_lr, sign=+1``;
    momentum: ``start=max_momentum, height=max_momentum-base_momentum, sign=-1``.
    """
    cycle, factor = cycle_and_factor(steps, total, ratio)
    base_height = height * factor
    s = scale(cycle, steps)
    if sign > 0:
        return start + base_height * s
    return start - base_height * s
