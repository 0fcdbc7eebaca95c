"""float64 helpers of the formulas under XLA: an exact ``2.0**n``, a fast ``gamma**k`` and a fast
cosine with a known error (``_decided``).

The float64 path (``clr_spec._closed_form`` and the other formulas over ``_ops.JaxFloat64Ops``)
is the schedule on CPU and GPU: with ``jax_enable_x64`` its values are torch's, bitwise; without,
they are rounded once to float32 (``_schedules``), which makes the float32 schedule
``float32(torch's value)`` exactly.
"""

from __future__ import annotations

import math
import struct
from decimal import Decimal, localcontext
from typing import Callable

import jax.numpy as jnp
from jax import lax


def pow2_float64(n):
    """``2.0**n`` in float64 for whole ``n <= 0`` (a float64 array), exact, from its bits; 0
    below the normal range (a subnormal there would be flushed to 0 by XLA on CPU anyway)."""
    n = jnp.maximum(n, -1023.0).astype(jnp.int64)
    return jnp.where(n > -1023, lax.bitcast_convert_type((n + 1023) << 52, jnp.float64), 0.0)


def power_of(gamma: float) -> Callable:
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
    rest = head_and_rest - head  # exact, at most 27 significant bits

    def power(step):
        k_low = step & 0xFFFF
        k_high = (step - k_low).astype(jnp.float64)  # at most 15 significant bits
        k_low = k_low.astype(jnp.float64)
        p1, p2, p3, p4 = k_high * head, k_high * rest, k_low * head, k_low * rest  # all exact
        n = jnp.round(((p1 + p3) + p2) + p4)
        f = ((((p1 - n) + p3) + p2) + p4) + step.astype(jnp.float64) * low
        return pow2_float64(n) * _exp2_small(f)

    return power


_PIO2_HI = 1.5707963267948966  # float64(pi / 2)
_PIO2_LO = 6.123233995736766e-17  # pi / 2 - _PIO2_HI, to float64
# sin(y) = y + y^3 S1 + ... + y^21 S10 (Taylor: the next term is below 1.2e-18 for |y| <= pi/2)
_SIN_TERMS = [(-1) ** k / math.factorial(2 * k + 1) for k in range(1, 11)]
# |fast_cos(x) - cos(x)| for |x| <= pi: the truncation (< 1.2e-18), the reduction to y (pi/2's
# representation, < 1e-32, and the rounding of x - _PIO2_HI, <= 2**-54 near x = 0) and Horner's
# roundings (terms below 2.3 in sum: < 8 * 2**-53); measured: at most 2.3e-16 over 5M angles
# (parity_tests/test_decided.py).
COS_ERROR = 1.5e-15
# An angle a bracket may take in place of torch's (pi * p * (1 / L) for pi * p / L: cosine_anneal)
# is within 3 of its ulps (<= 4.5e-16 below pi) of it, and cos moves by at most as much; C's cos
# is within 1 ulp (1.2e-16). COS_BOUND: twice their sum.
ANGLE_ERROR = 3 * 2.0**-51
COS_BOUND = 2 * (COS_ERROR + ANGLE_ERROR + 2.0**-53)
COS_DOMAIN_SLACK = 2.0**-30  # |y| <= pi/2 + 2**-30: the truncation bound above still holds


def fast_cos(x):
    """``cos(x)`` for float64 ``|x| <= pi + COS_DOMAIN_SLACK`` (an anneal's angle at its end can be
    an ulp past pi), within ``COS_ERROR``; outside that a polynomial's value, not the cosine (a
    caller tests ``in_cos_domain``). Plain float64 arithmetic, vectorised: about 1 ns a value on
    CPU, where XLA's float64 cos (C's) takes 17."""
    y = (jnp.abs(x) - _PIO2_HI) - _PIO2_LO  # cos(x) = -sin(|x| - pi/2), |y| <= pi/2
    z = y * y
    p = jnp.asarray(_SIN_TERMS[-1], jnp.float64)
    for c in reversed(_SIN_TERMS[:-1]):
        p = c + z * p
    return -(y + y * (z * p))


def in_cos_domain(x):
    """Where ``fast_cos(x)`` is the cosine of ``x``."""
    return jnp.abs(x) <= math.pi + COS_DOMAIN_SLACK


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
