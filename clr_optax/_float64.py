"""torch's CyclicLR formula in float64, operation for operation, under XLA.

On CPU and GPU this is the schedule: with ``jax_enable_x64`` its float64 values are
torch's, bitwise, for the built-in modes; without, they are rounded once to float32
(``_schedules``), which makes the float32 schedule ``float32(torch's value)`` exactly.
Replaying torch's roundings under a compiler takes three precautions, each measured
on XLA's CPU backend: real divisions (``_ieee_divide``), no fused multiply-add into
the final sum (``_unfused``), and no reassociation of sums (``_ff.opaque``).
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal, localcontext
from typing import Callable, Optional

import jax.numpy as jnp
from jax import lax

from clr_spec import CyclicSpec
from clr_spec._modes import dispatch

from ._ff import opaque


def _ieee_divide(a, b: float, count):
    """``a / b`` rounded as IEEE (and Python) divide, for a ``b`` fixed at trace time.

    XLA rewrites division by a loop-invariant divisor, even a runtime scalar, into a
    product with its reciprocal (measured on CPU: 18% of ``k / 204000.0`` one ulp off),
    which moves torch's rounding. So the divisor is made data that depends on the raw
    ``count``: ``b``, or 1 where ``count < 0``, whose step is clipped to 0 and 0/1 == 0/b.
    (A test on the clipped step would not do: XLA knows a clamp's range and folds it. An
    unsigned count cannot be negative either, so it gets the reciprocal: at most one
    float64 ulp, which moves a float32 value about once in 2**29 steps.)
    """
    return a / jnp.where(count < 0, jnp.float64(1.0), jnp.float64(b))


def _unfused(amplitude, count):
    """``amplitude``, as a value the compiler cannot contract with the next add into an FMA.

    torch rounds ``base_height * scale`` and then ``base_lr + that``; LLVM (CPU and GPU)
    turns a product feeding an add into one fused multiply-add, which rounds once
    (measured: 13% of one test's lrs one float64 ulp off). Passing the product through an
    integer ``and`` with a mask it cannot know stops that: the mask clears the sign bit
    only where ``count < 0``, whose step is clipped to 0 and whose amplitude is 0 anyway.
    """
    bits = lax.bitcast_convert_type(amplitude, jnp.int64)
    mask = jnp.where(count < 0, jnp.int64(0x7FFF_FFFF_FFFF_FFFF), jnp.int64(-1))
    return lax.bitcast_convert_type(bits & mask, jnp.float64)


def _pow2(n):
    """``2.0**n`` in float64 for whole ``n <= 0`` (a float64 array), exact, from its bits; 0
    below the normal range (a subnormal there would be flushed to 0 by XLA on CPU anyway)."""
    n = jnp.maximum(n, -1023.0).astype(jnp.int64)
    return jnp.where(n > -1023, lax.bitcast_convert_type((n + 1023) << 52, jnp.float64), 0.0)


def float64_schedule(spec: CyclicSpec, start: float, height: float, sign: float,
                     custom_scale: Optional[Callable] = None, exact_power: bool = False):
    """torch's formula, operation for operation, in float64 (trace it with 64-bit types enabled).

    ``custom_scale(arg)`` evaluates a custom ``scale_fn`` as float64 on the cycle or step,
    given as a float64 holding the exact integer; required when the spec has one. ``exact_power`` computes exp_range's
    ``gamma**step`` with ``jnp.power`` (correctly rounded on CPU, as Python's is) instead
    of ``_power_of`` (within 1 ulp, much faster).

    torch (``CyclicLR.get_lr``, Python floats)::

        cycle = floor(1 + step / total_size)
        x = 1.0 + step / total_size - cycle
        scale_factor = x / step_ratio if x <= step_ratio else (x - 1) / (step_ratio - 1)
        base_height = (max_lr - base_lr) * scale_factor
        lr = base_lr + base_height * scale_fn(cycle or step)        # momentum: max - ...
    """
    total, ratio = spec.total_size, spec.step_ratio
    mode, scale_fn, by_cycle = spec.mode, spec.scale_fn, spec.scale_mode == "cycle"
    if exact_power:
        def power(step):
            return jnp.power(jnp.float64(spec.gamma), step.astype(jnp.float64))
    else:
        power = _power_of(spec.gamma)

    # The amplitude scale of each built-in mode, applied to base_height as torch does.
    scales = {"triangular": lambda height, cycle, step: height,                   # torch's x * 1.0
              "triangular2": lambda height, cycle, step: height * _pow2(1.0 - cycle),  # exact 1 / 2**(c-1)
              "exp_range": lambda height, cycle, step: height * power(step)}
    scale = None if scale_fn is not None else dispatch(scales, mode, "clr_optax's float64 path")

    def schedule(step, count):
        """``step``: the int32 step; ``count``: the count it was clipped from (see _ieee_divide)."""
        # opaque sums: XLA's simplifier would otherwise reassociate across torch's roundings.
        y = opaque(1.0 + _ieee_divide(step.astype(jnp.float64), total, count))
        cycle = jnp.floor(y)
        x = y - cycle
        rising = x <= ratio
        # One division, of the branch torch takes (ratio - 1 never divides: x < 1 <= ratio then).
        factor = jnp.where(rising, x, opaque(x - 1.0)) / jnp.where(rising, ratio, ratio - 1.0)
        base_height = height * factor
        if scale_fn is not None:
            # torch calls scale_fn with a Python int; a float64 holding that exact integer makes
            # torch-style code (2 ** (x - 1), x % 2, comparisons) compute what it computes there,
            # where an integer array would wrap (2 ** 64 == 0 in int64).
            arg = cycle if by_cycle else step.astype(jnp.float64)
            base_height = base_height * custom_scale(arg)
        else:
            base_height = scale(base_height, cycle, step)
        base_height = _unfused(base_height, count)
        return start + base_height if sign > 0 else start - base_height

    return schedule


def _power_of(gamma: float) -> Callable:
    """``step -> gamma**step`` in float64, within a few ulps (``jnp.power`` is exact but
    8x slower on CPU, where it is most of the exp_range schedule's cost).

    ``gamma**k = 2**n * 2**f`` with ``n`` the integer nearest ``u = k*log2(gamma)`` and
    ``f = u - n`` in [-1/2, 1/2]. ``u`` reaches 1e9, so ``f`` needs ``k*log2(gamma)`` to
    far more than float64 carries: ``log2(gamma)`` is split at trace time into a 26-bit
    head, its remaining bits and a low-order correction, and ``k`` into 16-bit halves, so
    the four large partial products are exact and ``n`` is subtracted from them before
    they are summed. ``f`` is then good to ~2**-53, and ``2**f`` to 1 ulp.
    """
    with localcontext() as ctx:
        ctx.prec = 60
        log2_gamma = Decimal(gamma).ln() / Decimal(2).ln()
    head_and_rest = float(log2_gamma)
    low = float(log2_gamma - Decimal(head_and_rest))
    head = _top_bits(head_and_rest, 26)
    rest = head_and_rest - head                 # exact, at most 27 significant bits

    def power(step):
        k_low = step & 0xFFFF
        k_high = (step - k_low).astype(jnp.float64)   # at most 15 significant bits
        k_low = k_low.astype(jnp.float64)
        p1, p2, p3, p4 = k_high * head, k_high * rest, k_low * head, k_low * rest   # all exact
        n = jnp.round(((p1 + p3) + p2) + p4)
        f = ((((p1 - n) + p3) + p2) + p4) + step.astype(jnp.float64) * low
        return _pow2(n) * _exp2_small(f)

    return power


def _taylor_of_exp2(terms: int) -> list[float]:
    """Coefficients ``ln(2)**k / k!`` of ``2**f``, rounded once from 60 digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        ln2 = Decimal(2).ln()
        return [float(ln2**k / math.factorial(k)) for k in range(terms)]


# 14 terms: the first omitted one is below (ln2/2)**14 / 14! < 2**-57 for |f| <= 1/2.
_EXP2_COEFFICIENTS = _taylor_of_exp2(14)


def _exp2_small(f):
    """``2**f`` for ``|f| <= 1/2`` by Horner's rule: within 1 ulp (measured), and on CPU a
    sixth of what ``jnp.exp2``'s general float64 implementation costs."""
    acc = jnp.float64(_EXP2_COEFFICIENTS[-1])
    for coefficient in reversed(_EXP2_COEFFICIENTS[:-1]):
        acc = acc * f + coefficient
    return acc


def _top_bits(value: float, bits: int) -> float:
    """``value`` with all but its ``bits`` leading significant bits cleared (host-side)."""
    raw = struct.unpack("<q", struct.pack("<d", value))[0]
    raw &= ~((1 << (53 - bits)) - 1)
    return struct.unpack("<d", struct.pack("<q", raw))[0]
