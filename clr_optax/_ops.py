"""The formulas' operations under XLA: ``JaxFloat64Ops`` swaps numpy for ``jax.numpy`` and adds
the guards that keep torch's float64 roundings; ``JaxFloat32Ops`` is the float32-only path
(TPUs), with accurate float32 forms of the operations that a plain float32 port gets wrong.

Each guard was measured on XLA's CPU backend:
- ``divide``: XLA rewrites division by a loop-invariant divisor, even a runtime scalar, into a
  product with its reciprocal (18% of ``k / 204000.0`` one ulp off). The divisor is made data
  that depends on the raw ``count``: ``b``, or 1 where ``count < 0``, whose step is clipped to 0
  and 0/1 == 0/b. (A test on the clipped step would not do: XLA knows a clamp's range and
  folds it. An unsigned count cannot be negative, so it gets the reciprocal: at most one
  float64 ulp, which moves a float32 value about once in 2**29 steps.)
- ``unfused``: LLVM (CPU and GPU) turns a product feeding an add into one fused multiply-add,
  which rounds once where torch rounds twice (13% of one test's lrs one float64 ulp off).
  Passing the product through an integer ``and`` with a mask it cannot know stops that: the
  mask clears the sign bit only where ``count < 0``, whose value is that of step 0 anyway.
- ``opaque``: XLA's simplifier reassociates sums (``(a + b) - a -> b``).
- A quotient leaves ``divide`` and ``exact_divide`` through ``opaque`` (a no-op): XLA does not fuse
  an expensive operation (a division) into a loop that uses its value more than once (a select
  and its test, a bracket's two ends), and wrote it to memory and read it back instead (a third
  of Hugging Face's cosine schedule's time).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from clr_spec._ops import Ops
from clr_spec._replayed import float32_flushed

from . import _ff
from ._float64 import COS_BOUND, fast_cos, in_cos_domain, pow2_float64, power_of
from ._float_float import exp2_parts, log2_decimal, scale_by_pow2

# The largest step a schedule evaluates (counts are clipped to [0, 2**31 - 1]): a formula may
# leave out what no such step reaches (``ops.max_step``; numpy's steps go to 2**53).
MAX_STEP = 2**31 - 1


class JaxFloat64Ops(Ops):
    """``jax.numpy`` in float64 (traced with 64-bit types on), steps as float64 whole numbers.

    ``count`` is the raw count the step was clipped from (the guards depend on it);
    ``exact_power`` computes ``base**k`` with ``jnp.power`` (correctly rounded on CPU, as
    Python's pow is: the x64 result is torch's bitwise) instead of ``power_of`` (within
    1 ulp, 8x faster: enough for a value rounded to float32 after); ``cosine`` "low" or "high"
    makes ``cos`` a lower or upper bound of the cosine (``_decided``), "exact" the cosine;
    ``rounded``: the value is rounded to float32 after, so a table of torch's lrs (``lr_table``)
    is held in float32 (half the program's constants; float32 of the value is the same);
    ``tables_only``: ``tabled_or`` gives NaN past its table (the closed form unused: XLA drops it)."""

    xp = jnp
    in_float64 = True
    max_step = MAX_STEP

    def __init__(
        self,
        count: Any,
        exact_power: bool = False,
        cosine: str = "exact",
        rounded: bool = False,
        tables_only: bool = False,
    ):
        self.count = count
        self.exact_power = exact_power
        self.cosine = cosine
        self.rounds_to_float32 = rounded
        self.tables_only = tables_only
        self.tables = 0  # how many replayed tables the formula read (counted when traced)
        self.cosines = 0  # how many cosines the formula took (counted when traced)
        self.in_cos_domain: Any = True  # where every one of them was fast_cos's to take

    def cos(self, x: Any) -> Any:
        # "exact": XLA's float64 cos (C's on CPU: torch's, bitwise); "low" / "high": a bound of it
        # from a fast polynomial (``_decided``: the float32 value decided from both ends), where the
        # angle is in the polynomial's domain (an array of where, kept: a formula's selects could
        # hide a NaN there).
        self.cosines += 1
        if self.cosine == "exact":
            return jnp.cos(x)
        self.in_cos_domain = self.in_cos_domain & in_cos_domain(x)
        return fast_cos(x) + (COS_BOUND if self.cosine == "high" else -COS_BOUND)

    def divide(self, a: Any, b: float) -> Any:
        return _ff.opaque(a / jnp.where(self.count < 0, jnp.float64(1.0), jnp.float64(b)))

    def opaque(self, x: Any) -> Any:
        return _ff.opaque(x)

    def unfused(self, x: Any) -> Any:
        bits = lax.bitcast_convert_type(x, jnp.int64)
        mask = jnp.where(self.count < 0, jnp.int64(0x7FFF_FFFF_FFFF_FFFF), jnp.int64(-1))
        return lax.bitcast_convert_type(bits & mask, jnp.float64)

    def floor_divide(self, a: Any, b: Any) -> Any:
        """``a // b`` for whole-number float64 ``a`` (the steps, < 2**31 here) and a Python int
        ``b``: in integers (exact: the floor of a quotient of integers), where XLA's float64
        ``floor_divide`` is a remainder loop of its own, 40 times the cost (StepLR's decays)."""
        a = jnp.asarray(a)
        if isinstance(b, numbers.Integral) and 0 < int(b) < 2**53 and jnp.issubdtype(a.dtype, jnp.floating):
            return (a.astype(jnp.int64) // int(b)).astype(a.dtype)
        return jnp.floor_divide(a, b)

    def pow2(self, n: Any) -> Any:
        return pow2_float64(n)

    def power(self, base: float, k: Any) -> Any:
        if self.exact_power:
            return jnp.power(jnp.float64(base), k.astype(jnp.float64))
        return power_of(base)(k.astype(jnp.int32))

    def cosine_anneal(self, position: Any, length: Any) -> Any:
        # torch's pi * position / length, the division kept a division (``divide``: XLA would
        # multiply by the reciprocal of a constant length, one ulp off now and then)
        if self.cosine != "exact" and isinstance(length, (int, float)):
            # A bracket of the cosine (``_decided``) does not need torch's division: the product with
            # the reciprocal is within 3 ulps of its angle, which ``COS_BOUND`` allows for.
            return (1 + self.cos(math.pi * position * (1 / length))) / 2
        return (1 + self.cos(self.divide(math.pi * position, length))) / 2

    def constant(self, values: Any) -> Any:
        return jnp.asarray(np.asarray(values, dtype=np.float64))

    def tabled_or(self, in_table: Any, tabled: Any, closed: Any) -> Any:
        self.tables += 1
        return jnp.where(in_table, tabled, jnp.nan if self.tables_only else closed)

    def lr_table(self, values: Any) -> Any:
        if not self.rounds_to_float32:
            return self.constant(values)
        return JaxFloat32Ops().constant(values)  # each value float32(torch's); read, then converted

    def index(self, x: Any) -> Any:
        return jnp.asarray(x).astype(jnp.int64)

    def exact_divide(self, a: Any, b: float) -> Any:
        # XLA turns a division by a constant into a product with its reciprocal (measured: 18% of
        # k / 204000.0 one ulp off); a divisor it cannot know keeps the division: ``unfused``'s
        # mask (the sign bit cleared where count < 0, a no-op on a divisor > 0) makes it data.
        return _ff.opaque(a / self.unfused(jnp.asarray(b, jnp.float64)))

    def inverse_sqrt(self, x: Any) -> Any:
        # XLA rewrites 1 / sqrt(x) to rsqrt(x) (measured: 25% of values one ulp off).
        return 1.0 / _ff.opaque(jnp.sqrt(x))

    def step0_barrier(self, x: Any) -> Any:
        # The lowest bit set where count < 0 (step 0, which the formula replaces): an ``or`` that no
        # analysis can prove a no-op. unfused's ``and`` is one where the value is 0 at step 0 (a
        # product of the clipped step: LLVM proved it and contracted timm's warmup into an FMA).
        bits = lax.bitcast_convert_type(jnp.asarray(x, jnp.float64), jnp.int64)
        return lax.bitcast_convert_type(bits | jnp.where(self.count < 0, jnp.int64(1), jnp.int64(0)), jnp.float64)

    def real_power(self, base: Any, exponent: Any) -> Any:
        # jnp.power of two arrays is C pow on CPU, bitwise (measured on 400,000 pairs); with a known
        # exponent XLA rewrites it (x**3.0 -> x*x*x: 26% of values off). A constant exponent is made
        # data as exponent + 0 * count (XLA keeps 0 * x: x could be inf).
        if not isinstance(exponent, jax.Array):
            exponent = jnp.asarray(exponent, jnp.float64) + 0.0 * jnp.asarray(self.count).astype(jnp.float64)
        return jnp.power(jnp.asarray(base, jnp.float64), exponent)

    def call_scale_fn(self, fn: Callable, arg: Any) -> Any:
        # torch calls scale_fn with a Python int; a float64 holding that exact integer makes
        # torch-style code (2 ** (x - 1), x % 2, comparisons) compute what it computes there,
        # where an integer array would wrap (2 ** 64 == 0 in int64).
        return jnp.broadcast_to(jnp.asarray(fn(arg), dtype=jnp.float64), jnp.shape(arg))


class JaxFloat32Ops(Ops):
    """float32 arithmetic alone, int32 steps (TPUs have no float64): the forms of the
    operations whose plain float32 port loses thousands of ulps."""

    xp = jnp
    in_float64 = False
    max_step = MAX_STEP

    def divide(self, a: Any, b: float) -> Any:
        return a / b

    def opaque(self, x: Any) -> Any:
        return _ff.opaque(x)

    def unfused(self, x: Any) -> Any:
        return x

    def pow2(self, n: Any) -> Any:
        n = jnp.clip(jnp.asarray(n).astype(jnp.int32), -252, 127)
        first = jnp.maximum(n, -126)
        return _ff.pow2(first) * _ff.pow2(n - first)

    def power(self, base: float, k: Any) -> Any:
        """``base**k`` for int32 ``k``: ``2**(k log2 base)`` with the exponent in float-float
        (``k log2 base`` reaches 1e9, which float32 alone holds to 64), ``2**frac`` by a short
        series; within a few float32 ulps where ``base**k`` is normal."""
        if base == 1.0:
            return jnp.ones(jnp.shape(k), jnp.float32)
        if base == 0.0:
            return jnp.where(k == 0, jnp.float32(1.0), jnp.float32(0.0))
        t = _ff.mul(_ff.from_int(jnp.asarray(k).astype(jnp.int32)), _ff.const(Fraction(log2_decimal(base))))
        mantissa, exponent = exp2_parts(t)
        value = scale_by_pow2(mantissa, exponent)
        return value[0] + value[1]

    def cosine_anneal(self, position: Any, length: Any) -> Any:
        """``cos(pi * p / (2 L))**2``, the same value through an angle of at most pi/4: 1 + cos
        cancels near the end of the anneal, which in float32 costs thousands of ulps where the lr
        nears its floor. ``p`` (int32 or float32) is in ``[0, L]``; ``L`` a number or an array.

        Which half ``p`` is in (``2 p <= L``) is decided without forming ``2 p``, which wraps in
        int32 from ``p = 2**30``: against ``floor(L / 2)`` in integers where ``L`` is a number
        (exact to ``p = 2**31 - 1``), else in float32. The sine's ``L - p`` is exact in int32
        where ``L`` is a number below 2**31."""
        position = jnp.asarray(position)
        integer = jnp.issubdtype(position.dtype, jnp.integer)
        if integer and isinstance(length, (int, float)):
            near_start = position <= min(math.floor(length / 2), MAX_STEP)
            rest = (
                (int(length) - position)
                if float(length).is_integer() and length <= MAX_STEP
                else length - position.astype(jnp.float32)
            )
        else:
            near_start = position.astype(jnp.float32) <= jnp.asarray(length, jnp.float32) * 0.5
            rest = length - position.astype(jnp.float32)
        half = jnp.where(
            near_start,
            jnp.cos(math.pi * position.astype(jnp.float32) / (2 * length)),
            jnp.sin(math.pi * jnp.asarray(rest).astype(jnp.float32) / (2 * length)),
        )
        return half * half

    def constant(self, values: Any) -> Any:
        # Each value rounded once to float32: float32(torch's value) where the table is torch's
        return jnp.asarray(float32_flushed(values))

    def index(self, x: Any) -> Any:
        return jnp.asarray(x).astype(jnp.int32)

    def exact_divide(self, a: Any, b: float) -> Any:
        return a / b

    def inverse_sqrt(self, x: Any) -> Any:
        return 1.0 / _ff.opaque(jnp.sqrt(x))

    def step0_barrier(self, x: Any) -> Any:
        return x

    def real_power(self, base: Any, exponent: Any) -> Any:
        return jnp.power(jnp.asarray(base, jnp.float32), jnp.asarray(exponent, jnp.float32))

    def call_scale_fn(self, fn: Callable, arg: Any) -> Any:
        return jnp.broadcast_to(jnp.asarray(fn(arg.astype(jnp.float32)), dtype=jnp.float32), jnp.shape(arg))
