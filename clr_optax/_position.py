"""Where a step falls in its cycle, in float32/int32 arithmetic, as torch's float64 sees it.

torch computes ``cycle = floor(1 + step/total)`` and ``x = 1 + step/total - cycle`` in
float64. Forming ``step/total`` in float32 instead loses everything far into training
(at step 1e8 the float32 quotient has no fractional bits left). Here:

1. ``c = floor(step / total)`` and the remainder ``step - c*total`` are computed
   *exactly* with integers (int32 when ``total`` is a short dyadic number such as 2000
   or 2.5; base-2**11 limbs for an arbitrary float64 ``total``);
2. ``frac = remainder / total`` and its complement ``(total - remainder) / total`` are
   formed in float-float (relative error ~2**-46 each, so the smaller of the two, which
   decides the rounding, is known to ~2**-46 of itself);
3. the two float64 roundings torch applies (``q = fl(step/total)``, ``y = fl(1 + q)``)
   are replayed on them, so that ``x`` and ``cycle`` equal torch's, including the rare
   step where rounding carries into the next cycle.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable

import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _ff

LIMB_BITS = 11
LIMB = 1 << LIMB_BITS
LIMB_COUNT = 8  # 88 bits: holds step * 2**s for step < 2**31 and s <= 52, with a sign carry


Position = tuple  # (c, frac, complement, at_peak): int32, two float-float pairs, bool


def position_fn(total: float, up: float) -> Callable[[jnp.ndarray], Position]:
    """Return ``f(step) -> (c, frac, 1 - frac, at_peak)``: ``c = floor(step/total)`` exact,
    ``frac`` in [0, 1), and whether the remainder equals ``up`` exactly (the cycle's peak)."""
    exact = Fraction(total)
    num, den = exact.numerator, exact.denominator  # den is a power of two
    inv_total = _ff.const(1 / exact)
    if total >= 2**31:
        # No int32 step completes a cycle (and none comes within 2**-21 of one).
        peak = int(up) if float(up).is_integer() and up < 2**31 else -1

        def huge(step):
            frac = _ff.mul(_ff.from_int(step), inv_total)
            one_minus = _ff.add((np.float32(1), np.float32(0)), (-frac[0], -frac[1]))
            return jnp.zeros_like(step), frac, one_minus, step == peak

        return huge
    if num * den < 2**31:
        return _int_position(num, den, _whole(Fraction(up) * den))
    return _limb_position(num, den, inv_total, _whole(Fraction(up) * den))


def _whole(value: Fraction) -> int:
    """An exact integer remainder equal to ``value`` marks the peak; -1 if none can."""
    return value.numerator if value.denominator == 1 else -1


def _int_position(num: int, den: int, peak: int):
    """total = num/den with num*den < 2**31: pure int32 arithmetic."""
    inv_num = _ff.const(Fraction(1, num))

    def position(step):
        whole, rest = step // num, step % num
        if den == 1:
            c, pos_num = whole, rest
        else:
            scaled = rest * den  # < num*den < 2**31
            c, pos_num = whole * den + scaled // num, scaled % num
        return (
            c,
            _ff.mul(_ff.from_int(pos_num), inv_num),  # pos_num / num
            _ff.mul(_ff.from_int(num - pos_num), inv_num),  # (num - pos_num) / num
            pos_num == peak,
        )

    return position


def _limbs_of_step(step, shift_bits: int):
    """Base-2**11 limbs of ``step * 2**shift_bits`` (step < 2**31)."""
    limbs = []
    for k in range(LIMB_COUNT):
        s = LIMB_BITS * k - shift_bits
        if s >= 31 or s <= -LIMB_BITS:
            limbs.append(jnp.zeros_like(step))
        elif s >= 0:
            limbs.append((step >> s) & (LIMB - 1))
        else:
            limbs.append((step << -s) & (LIMB - 1))
    return limbs


def _normalize(limbs):
    """Propagate carries; returns limbs in [0, 2**11) and the final carry (-1 if negative)."""
    out, carry = [], jnp.zeros_like(limbs[0])
    for limb in limbs:
        t = limb + carry
        carry = t >> LIMB_BITS  # arithmetic shift: floor division
        out.append(t & (LIMB - 1))
    return out, carry


def _limb_position(num: int, den: int, inv_total: _ff.FF, peak: int):
    """Arbitrary float64 total = num/den (num < 2**53): exact multi-limb remainder."""
    shift_bits = den.bit_length() - 1
    total_limbs = [(num >> (LIMB_BITS * j)) & (LIMB - 1) for j in range(LIMB_COUNT)]
    peak_limbs = [(peak >> (LIMB_BITS * j)) & (LIMB - 1) for j in range(LIMB_COUNT)] if peak >= 0 else None

    def remainder(step, c):
        c_limbs = [c & (LIMB - 1), (c >> LIMB_BITS) & (LIMB - 1), c >> (2 * LIMB_BITS)]
        diff = _limbs_of_step(step, shift_bits)
        for k in range(LIMB_COUNT):
            # Each product is < 2**22 and at most three meet in a limb: no int32 overflow.
            for i, ci in enumerate(c_limbs):
                j = k - i
                if 0 <= j < LIMB_COUNT and total_limbs[j]:
                    diff[k] = diff[k] - ci * total_limbs[j]
        return _normalize(diff)

    def position(step):
        q = _ff.mul(_ff.from_int(step), inv_total)  # |error| < 2**-15
        whole = jnp.minimum(jnp.floor(q[0]), jnp.float32(2**31 - 128))
        adjust = jnp.floor((q[0] - whole) + q[1] - 2.0**-12)
        c = whole.astype(jnp.int32) + adjust.astype(jnp.int32)  # floor(q) or one less
        rem, _ = remainder(step, c)
        over, sign = _normalize([r - t for r, t in zip(rem, total_limbs)])
        fits = sign >= 0  # remainder >= total: one more cycle
        c = jnp.where(fits, c + 1, c)
        rem = [jnp.where(fits, o, r) for o, r in zip(over, rem)]
        complement, _ = _normalize([t - r for r, t in zip(rem, total_limbs)])
        at_peak = jnp.zeros(step.shape, bool)
        if peak_limbs is not None:
            at_peak = ~at_peak
            for r, p in zip(rem, peak_limbs):
                at_peak = at_peak & (r == p)
        return (c, _ff.mul(_limbs_value(rem), inv_total), _ff.mul(_limbs_value(complement), inv_total), at_peak)

    def _limbs_value(limbs):
        zero = jnp.zeros(limbs[0].shape, jnp.float32)
        value = (zero, zero)
        for k in reversed(range(LIMB_COUNT)):
            weight = np.float32(2.0 ** (LIMB_BITS * k - shift_bits))
            value = _ff.add(value, (limbs[k].astype(jnp.float32) * weight, zero))
        return value

    return position


def floor_log2(n):
    """floor(log2(n)) for int32 n >= 1 (n == 2**31 wraps to negative and gives 31); -1 for 0."""
    return 31 - lax.clz(n)


def torch_cycle_position(c, frac: _ff.FF, complement: _ff.FF) -> tuple[jnp.ndarray, _ff.FF, _ff.FF]:
    """Replay torch's ``q = fl(step/total); y = fl(1 + q)``: return (cycle, x, 1 - x) as torch has them.

    ``q = c + frac`` rounds ``frac`` to a multiple of ``2**(e(c) - 52)``; ``y = 1 + q``
    then to ``2**(e(c+1) - 52)``. Either rounding may carry into the next cycle. Since 1
    is on both grids, rounding ``frac`` equals rounding its complement and subtracting
    from 1: the smaller of the two is rounded, being the one known to full precision.
    """
    near_one = frac[0] > 0.5
    v: _ff.FF = (jnp.where(near_one, complement[0], frac[0]), jnp.where(near_one, complement[1], frac[1]))
    e1 = jnp.where(c > 0, floor_log2(jnp.maximum(c, 1)), -30)  # c == 0: q keeps its bits
    for grid_bits in (lambda c: 52 - e1, lambda c: 52 - floor_log2(c + 1)):
        v, reached_one = _ff.round_to_grid(v, grid_bits(c))
        # frac reaching 1, or its complement reaching 0: the step starts the next cycle.
        carry = jnp.where(near_one, (v[0] == 0.0) & (v[1] == 0.0), reached_one)
        c = jnp.where(carry, c + 1, c)
        near_one = near_one & ~carry
        v = (jnp.where(carry, 0.0, v[0]), jnp.where(carry, 0.0, v[1]))
    one = (np.float32(1.0), np.float32(0.0))
    other = _ff.add(one, (-v[0], -v[1]))
    x = (jnp.where(near_one, other[0], v[0]), jnp.where(near_one, other[1], v[1]))
    one_minus_x = (jnp.where(near_one, v[0], other[0]), jnp.where(near_one, v[1], other[1]))
    return c + 1, x, one_minus_x
