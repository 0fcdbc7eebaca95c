"""The float32 schedule built from float32 arithmetic alone: for platforms without float64.

TPUs have no float64 hardware (XLA rewrites 64-bit types away there, and not every
operation), so on them the float32 schedule cannot round torch's float64 value once.
This module reaches the same result, within 1 ulp of ``float32(torch's value)``, with
int32 cycle arithmetic and float-float ("double-float32") values:

1. ``_position`` finds the cycle and the position in it exactly, and replays the two
   roundings torch's float64 applies to ``1 + step/total``;
2. the factor, amplitude and scale are float-float products (relative error ~2**-46);
3. at a cycle's peak, where torch's roundings can be all there is to the value (a far
   end of 0), torch's own value is looked up.

``_schedules`` picks this on platforms other than CPU and GPU; the parity suite runs it
on CPU against torch like the default path.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Callable, Optional

import jax.numpy as jnp
import numpy as np
from jax import lax

from clr_spec import CyclicSpec
from clr_spec._modes import dispatch

from . import _ff, _position

_EXP2_TERMS = 9  # Taylor terms of 2**y for |y| <= 1/16: truncation < 2**-50
_EXP2_SQUARINGS = 3  # 2**f = (2**(f/8))**8


def log2_decimal(value: float) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(value).ln() / Decimal(2).ln()


def _exp2_coefficients() -> list[_ff.FF]:
    """Taylor coefficients of 2**y = sum (y ln 2)**k / k!, as float-float constants."""
    with localcontext() as ctx:
        ctx.prec = 60
        ln2 = Decimal(2).ln()
        return [_ff.const(Fraction(ln2**k) / math.factorial(k)) for k in range(_EXP2_TERMS)]


_EXP2_COEFFICIENTS = _exp2_coefficients()


def _exp2_small(y: _ff.FF, coefficients: list[_ff.FF]) -> _ff.FF:
    """2**y for |y| <= 1/2 in float-float: Horner on y/8, then three squarings."""
    z = _ff.scale(y, jnp.float32(1.0 / 2**_EXP2_SQUARINGS))
    acc = coefficients[-1]
    for coeff in reversed(coefficients[:-1]):
        acc = _ff.add(_ff.mul(acc, z), coeff)
    for _ in range(_EXP2_SQUARINGS):
        acc = _ff.mul(acc, acc)
    return acc


def scale_by_pow2(a: _ff.FF, n: jnp.ndarray) -> _ff.FF:
    """a * 2**n for int32 n <= 127, in two steps (one factor cannot reach below 2**-126);
    exact unless the result is subnormal."""
    n = jnp.clip(n, -252, 127)
    first = jnp.maximum(n, -126)
    return _ff.scale(_ff.scale(a, _ff.pow2(first)), _ff.pow2(n - first))


def _unit_exponent(values: list[float]) -> int:
    """A power of two to divide the constants by: the largest lands near 1, and the smallest
    nonzero one stays above 2**-76 while the largest stays below 2**120 (both hold unless
    the values span more than 2**196). Above 2**-76, the products that XLA flushes to 0 once
    they fall below 2**-126 (the low parts of an amplitude far smaller than the start) are
    below 2**-50 of the start, too small to move a float32 rounding."""
    exponents = [math.frexp(abs(v))[1] for v in values if v]
    if not exponents:
        return 0
    top, bottom = max(exponents), min(exponents)
    return top if bottom - top >= -76 else max(bottom + 76, top - 120)


def _peak_values(
    total: float, up: float, ratio: float, start: float, height: float, sign: float, unit: Fraction
) -> np.ndarray:
    """torch's own value at a cycle's peak (amplitude scale 1), per pair of binades of (c, c + 1).

    At a peak (remainder == step_size_up) the exact factor is 1 and the value is the far end
    of the cycle. torch's float64 rounds ``1 + step/total`` to a grid set by the binades of
    c and c + 1 alone (the tie parity too), divides by its rounded ratio (1 - 2**-52 early
    on, 1 - 6e-8 near step 2**31) and rounds twice more. Where the far end is 0 (momentum
    down to base_momentum=0) those roundings are all there is to the value, so torch's
    arithmetic is replayed here with Python floats, once per binade pair. Returns float32
    (hi, lo) pairs of the value divided by ``unit``, indexed ``[e(c) + 1, e(c + 1)]``, e(0) = -1.
    """
    table = np.zeros((32, 32, 2), np.float32)
    v = Fraction(up) / Fraction(total)
    for e1 in range(-1, 31):
        for e2 in (e1, e1 + 1):
            if e1 == -1:
                c = 0 if e2 == 0 else None
            elif e2 == e1:
                c = 2**e1 if e1 >= 1 else None
            else:
                c = 2**e2 - 1
            if c is None or e2 > 31:
                continue
            y = 1.0 + float(c + v)  # torch: 1 + last_epoch / total_size
            x = y - math.floor(y)
            factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
            value = start + height * factor if sign > 0 else start - height * factor
            table[e1 + 1, e2] = _ff.const(Fraction(value) / unit)
    return table


def _triangular(spec: CyclicSpec):
    return (lambda amplitude, step, cycle: (amplitude, None)), (lambda cycle: True)


def _triangular2(spec: CyclicSpec):
    # 2**-(cycle-1) is exact: scale by powers of two instead of forming it. Scale 1 in cycle 1 only.
    return (lambda amplitude, step, cycle: (amplitude, jnp.maximum(1 - cycle, -300))), (lambda cycle: cycle == 1)


def exp2_parts(t: _ff.FF) -> tuple[_ff.FF, jnp.ndarray]:
    """``2**t`` for a float-float ``t`` (an exponent that float32 alone would round by up to
    64): ``(2**frac as float-float, n)`` with ``t = n + frac``, ``n`` whole (an int32, at least
    -300: below, every float32 result is 0) and ``|frac| <= 1/2``."""
    t_hi = jnp.maximum(t[0], -300.0)
    n = lax.round(t_hi, lax.RoundingMethod.TO_NEAREST_EVEN)
    frac = _ff.fast_two_sum(t_hi - n, jnp.where(t[0] < -300.0, 0.0, t[1]))
    return _exp2_small(frac, _EXP2_COEFFICIENTS), n.astype(jnp.int32)


def _exp_range(spec: CyclicSpec):
    log2_gamma = _ff.const(Fraction(log2_decimal(spec.gamma)))

    def scale(amplitude, step, cycle):
        t = _ff.mul(_ff.from_int(step), log2_gamma)  # log2(gamma**step) <= 0
        mantissa, exponent = exp2_parts(t)
        return _ff.mul(amplitude, mantissa), exponent

    return scale, ((lambda cycle: True) if spec.gamma == 1.0 else None)


# Per built-in mode: ``(scale(amplitude, step, cycle) -> (amplitude, power-of-two shift or None),
# unit_scale_at(cycle) -> where the scale is exactly 1, or None if it never is)``.
_MODE_SCALES = {"triangular": _triangular, "triangular2": _triangular2, "exp_range": _exp_range}


def float_float_schedule(
    spec: CyclicSpec, start: float, height: float, sign: float, custom_scale: Optional[Callable] = None
):
    """``int32 step -> float32 value`` in float32 arithmetic; see the module docstring.

    ``custom_scale(arg)`` evaluates a custom ``scale_fn`` as float32 on the cycle or step
    (``spec.scale_mode``), given as a float32 holding the integer; it is required when the spec has a ``scale_fn``.
    """
    total, ratio = spec.total_size, spec.step_ratio
    position = _position.position_fn(total, float(spec.step_size_up))
    ratio_ff = _ff.const(ratio)
    inv_ratio = _ff.const(1 / Fraction(ratio))
    # torch's down slope is (x - 1) / (ratio - 1), with ratio - 1 rounded in float64.
    inv_one_minus_ratio = _ff.const(1 / -Fraction(ratio - 1.0))
    # The values torch's float64 reaches at the two ends of a cycle (its max - base is rounded,
    # so the far end can differ from the bound given: 1 + (1e-38 - 1) is 0). Constants are
    # divided by 2**unit_exp so that float-float's low parts and partial products stay clear
    # of float32's subnormal range (XLA flushes it), even for lrs like 1e-36; exact scaling.
    ends = (start, start + height if sign > 0 else start - height)
    unit_exp = _unit_exponent([start, height, *ends])
    unit = Fraction(2) ** unit_exp
    start_ff = _ff.const(Fraction(start) / unit)
    signed_height = _ff.const(sign * Fraction(height) / unit)  # torch rounds max - base in float64
    scale_fn, by_cycle = spec.scale_fn, spec.scale_mode == "cycle"
    # A built-in mode's amplitude scale; where it can be exactly 1 at a peak, torch's own peak
    # values are replayed (a custom scale_fn's cannot be known, so it gets none).
    mode_scale, unit_scale_at = (
        (None, None)
        if scale_fn is not None
        else dispatch(_MODE_SCALES, spec.mode, "clr_optax's float-float path")(spec)
    )
    peak_values = None
    if unit_scale_at is not None:
        peak_values = _peak_values(total, float(spec.step_size_up), ratio, start, height, sign, unit)
        peak_values = peak_values.reshape(32 * 32, 2)
    rescale = max(min(unit_exp, 127), -252)

    def schedule(step):
        c, frac, complement, at_peak = position(step)
        binades = (_position.floor_log2(c) + 1) * 32 + _position.floor_log2(c + 1)
        cycle, x, one_minus_x = _position.torch_cycle_position(c, frac, complement)
        up = _ff.mul(x, inv_ratio)
        down = _ff.mul(one_minus_x, inv_one_minus_ratio)
        rising = _ff.less_equal(x, ratio_ff)
        factor = (jnp.where(rising, up[0], down[0]), jnp.where(rising, up[1], down[1]))
        amplitude = _ff.mul(factor, signed_height)
        if scale_fn is not None:
            # A float32 holding the integer (exact below 2**24), as on the float64 path.
            s = custom_scale((cycle if by_cycle else step).astype(jnp.float32))
            amplitude = _ff.mul(amplitude, (s, jnp.zeros_like(s)))
        shift = None  # the amplitude's power-of-two scale
        if mode_scale is not None:
            amplitude, shift = mode_scale(amplitude, step, cycle)
        final_shift = jnp.int32(rescale)
        if shift is not None and start == 0.0:
            # The value is the amplitude alone: scale it once, at the end, so that it does not
            # fall below float32's normal range in units while it is still a normal lr.
            final_shift = jnp.maximum(shift + final_shift, -300)
        elif shift is not None:
            amplitude = scale_by_pow2(amplitude, shift)
        hi, lo = _ff.two_sum(start_ff[0], amplitude[0])
        value = _ff.fast_two_sum(hi, lo + (start_ff[1] + amplitude[1]))
        if peak_values is not None:
            # At a peak with amplitude scale 1, torch's value is the far end up to its float64
            # roundings, which are all of it where that end is 0: take torch's own value.
            unit_scale = at_peak & unit_scale_at(cycle)
            peak = jnp.take(peak_values, binades, axis=0)
            value = (jnp.where(unit_scale, peak[..., 0], value[0]), jnp.where(unit_scale, peak[..., 1], value[1]))
        value = value[0] + value[1]
        return scale_by_pow2((value, jnp.zeros_like(value)), final_shift)[0]

    return schedule
