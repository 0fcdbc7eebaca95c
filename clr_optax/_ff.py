"""Float-float ("double-float32") arithmetic: a value is an unevaluated sum ``hi + lo``.

Two float32s carry about 48 significant bits, enough to reproduce torch's float64
schedule to well under one float32 ulp. The algorithms are error-free transformations
(Knuth's TwoSum, Dekker's TwoProduct), written so that they stay exact when the compiler
contracts ``a*b + c`` into an FMA, which XLA's CPU backend does inside fused kernels
(measured): splitting masks mantissa bits instead of Veltkamp's ``4097*a`` trick, and
every product that meets an addition where exactness matters is itself exact. XLA's
algebraic simplifier does reassociate (``(a + b) - a -> b``), so sums whose rounding
error is taken are passed through ``_opaque``.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Tuple, Union

import jax.numpy as jnp
import numpy as np
from jax import lax

# A limb is a float32 array, or a numpy float32 scalar (``const``'s host-side constants).
_Limb = Union[jnp.ndarray, np.float32]
FF = Tuple[_Limb, _Limb]


def const(value: Union[float, Fraction, Decimal, int]) -> tuple[np.float32, np.float32]:
    """Host-side: the float32 pair nearest to an exact value (relative error < 2**-47), as
    numpy scalars, so that they are embedded in the trace and live on no device."""
    exact = Fraction(value)
    hi = np.float32(float(exact))
    lo = np.float32(float(exact - Fraction(float(hi))))
    return hi, lo


def pow2(k: jnp.ndarray) -> jnp.ndarray:
    """``2.0**k`` as float32 for int32 ``k`` in [-126, 127], built from its bits (exact)."""
    return lax.bitcast_convert_type((k + 127) << 23, jnp.float32)


def opaque(x):
    """Hide ``x`` from XLA's algebraic simplifier, which rewrites ``(a + b) - a`` to ``b``.

    That rewrite (measured on XLA CPU) deletes the rounding error that TwoSum exists to
    capture, and changes where torch's float64 formula rounds. A ``reduce_precision`` to
    the dtype's own widths changes no bit and costs nothing measurable, but the
    simplifier cannot see through it.
    """
    info = jnp.finfo(x.dtype)
    return lax.reduce_precision(x, exponent_bits=info.nexp, mantissa_bits=info.nmant)


def two_sum(a, b) -> FF:
    """``a + b = s + e`` exactly (Knuth), for any ordering of magnitudes."""
    s = opaque(a + b)
    bb = opaque(s - a)
    return s, (a - (s - bb)) + (b - bb)


def fast_two_sum(a, b) -> FF:
    """TwoSum for ``|a| >= |b|`` (or ``a == 0``)."""
    s = opaque(a + b)
    return s, b - (s - a)


def _split(a) -> FF:
    """``a = hi + lo`` exactly, each with at most 12 significant bits."""
    bits = lax.bitcast_convert_type(a, jnp.int32)
    hi = lax.bitcast_convert_type(bits & jnp.int32(-4096), jnp.float32)
    return hi, a - hi


def two_prod(a, b) -> FF:
    """``a * b = p + e`` (normalized), from exact 12x12-bit partial products.

    The rounded product ``fl(a*b)`` is never formed: XLA's CPU and GPU backends let LLVM
    contract a product feeding an add into an FMA, and they may do so in one fused kernel
    and not in another, so ``fl(a*b)`` would not be one value. Partial products of the
    12-bit halves are exact, and an exact product gives the same sum, contracted or not.
    """
    ah, al = _split(a)
    bh, bl = _split(b)
    mid, mid_err = two_sum(ah * bl, al * bh)
    p, e = fast_two_sum(ah * bh, mid)
    return fast_two_sum(p, e + (mid_err + al * bl))


def add(a: FF, b: FF) -> FF:
    s, e = two_sum(a[0], b[0])
    return fast_two_sum(s, e + (a[1] + b[1]))


def mul(a: FF, b: FF) -> FF:
    p, e = two_prod(a[0], b[0])
    return fast_two_sum(p, e + (a[0] * b[1] + a[1] * b[0]))


def scale(a: FF, factor) -> FF:
    """Multiply by a power of two (exact unless it underflows)."""
    return a[0] * factor, a[1] * factor


def from_int(n: jnp.ndarray) -> FF:
    """An int32 in [0, 2**31) as an exact, normalized pair."""
    low = n & 127
    return fast_two_sum((n - low).astype(jnp.float32), low.astype(jnp.float32))


def less_equal(a: FF, b: FF) -> Union[jnp.ndarray, np.ndarray, np.bool_]:
    """``a <= b`` for normalized pairs (a numpy result where the limbs are numpy scalars)."""
    return (a[0] < b[0]) | ((a[0] == b[0]) & (a[1] <= b[1]))


def round_to_grid(v: FF, k: jnp.ndarray) -> tuple[FF, jnp.ndarray]:
    """Round ``v`` in [0, 1) to the nearest multiple of ``2**-k`` (ties to even), ``k`` in [0, 126].

    Returns the rounded pair and whether it rounded up to 1. Used to replay the rounding
    torch's float64 arithmetic applies to the position in the cycle.
    """
    up = pow2(k)
    f_hi, f_lo = v[0] * up, v[1] * up
    n_hi = lax.round(f_hi, lax.RoundingMethod.TO_NEAREST_EVEN)  # an exact integer
    d = (f_hi - n_hi) + f_lo  # f_hi - n_hi is exact
    n_lo = lax.round(d, lax.RoundingMethod.TO_NEAREST_EVEN)
    odd = (n_hi - 2.0 * jnp.floor(0.5 * n_hi)) != 0.0
    n_lo = jnp.where((jnp.abs(d) == 0.5) & odd, jnp.sign(d), n_lo)
    down = pow2(-k)
    hi, lo = two_sum(n_hi * down, n_lo * down)
    reached_one = (hi == 1.0) & (lo >= 0.0)
    return (hi, lo), reached_one
