"""IEEE float64 division by a constant, as torch (Python floats) computes it, under XLA.

XLA's CPU backend turns ``x / c`` into ``x * (1/c)`` when ``c`` is a broadcast scalar
(measured: 13% of ``k / 4000.0`` differ in the last bit), which moves torch's rounding of
``step / total``. Here the reciprocal product is corrected with its exact residual
(Markstein): ``q = q0 + (a - q0*c) * (1/c)``, the residual formed from 26-bit partial
products, which are exact whether or not the compiler contracts them into FMAs.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from ._ff import opaque

_LOW_BITS = 27  # a float64 = hi (26 significant bits) + lo (at most 26 bits and a sign)


def _split(a):
    bits = lax.bitcast_convert_type(a, jnp.int64)
    rounded = (bits + (1 << (_LOW_BITS - 1))) & ~((1 << _LOW_BITS) - 1)   # round to 26 bits
    hi = lax.bitcast_convert_type(rounded, jnp.float64)
    return hi, a - hi


def divide_by_constant(a, c: float):
    """``a / c`` correctly rounded (to within 2**-26 ulp of a tie) for float64 ``a``."""
    c_arr = jnp.float64(c)
    q0 = a * jnp.float64(1.0 / c)
    qh, ql = _split(q0)
    ch, cl = _split(c_arr)          # constant-folded by XLA
    # a - q0*c, exactly: each partial product is exact; a - qh*ch cancels (Sterbenz).
    residual = opaque(a - qh * ch)
    residual = opaque(residual - qh * cl)
    residual = opaque(residual - ql * ch)
    residual = residual - ql * cl
    return opaque(q0 + residual * jnp.float64(1.0 / c))
