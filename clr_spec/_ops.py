"""The operations every schedule formula is written over: one list, one class per evaluator.

A formula (``values_at``) takes an ``Ops`` and calls numpy-style functions on it (``ops.where``,
``ops.minimum``, ``ops.cos``, ... come from the array module, ``ops.xp``) plus the few
operations whose right form depends on the evaluator:

- ``divide``, ``opaque``, ``unfused``: IEEE division, no reassociation of a sum, no fused
  multiply-add. Plain arithmetic in numpy; under XLA, guards that keep torch's roundings
  (``clr_optax._ops``).
- ``power(base, k)``, ``pow2(n)``, ``cosine_anneal(position, length)``: in float64 torch's own
  arithmetic; on the float32-only path (TPUs) accurate float32 forms.
- ``call_scale_fn(fn, arg)``: a user's function, as torch calls it.
- ``cos``: the array module's, but on clr_optax's CPU path a formula's float32 value is decided
  from a lower and an upper bound of each cosine it takes (``clr_optax._decided``), so a
  float64 formula's value must be monotone in each ``ops.cos`` it takes (an affine map of the
  cosine, as every anneal is; ``cos(a) - cos(b)`` or ``cos(x)**2`` would not be).

``NumpyOps`` (float64, int64 steps) gives ``spec.lr``; clr_optax's ``JaxFloat64Ops`` only swaps
the module and adds the XLA guards, and ``JaxFloat32Ops`` overrides the float64-only forms.
``ops.in_float64`` tells a formula which arithmetic it runs in.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np


class Ops:
    """The abstract list of operations (see the module docstring); array functions come from ``xp``."""

    xp: Any = None
    in_float64: bool = True
    rounds_to_float32: bool = False  # the formula's value is rounded to float32 after (clr_optax)
    # The largest step the evaluator is given: numpy's steps are whole float64 numbers (below
    # 2**53); clr_optax's counts are int32, clipped to 2**31 - 1. A formula leaves out what no
    # such step reaches (periods, cycles).
    max_step: int = 2**53

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the class does not define: the array module's functions.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.xp, name)

    def divide(self, a: Any, b: float) -> Any:
        """``a / b``, rounded as IEEE division (``b`` a constant of the formula)."""
        raise NotImplementedError

    def opaque(self, x: Any) -> Any:
        """``x``, as a value a compiler may not reassociate into the next sum."""
        raise NotImplementedError

    def unfused(self, x: Any) -> Any:
        """``x``, as a value a compiler may not contract with the next add into an FMA."""
        raise NotImplementedError

    def pow2(self, n: Any) -> Any:
        """``2.0**n`` for whole ``n <= 0`` (float), exact; 0 below the normal range."""
        raise NotImplementedError

    def power(self, base: float, k: Any) -> Any:
        """``base**k`` for whole ``k >= 0``, as torch's Python ``float ** int`` gives it."""
        raise NotImplementedError

    def cosine_anneal(self, position: Any, length: Any) -> Any:
        """``(1 + cos(pi * position / length)) / 2``, the cosine anneal's factor."""
        raise NotImplementedError

    def call_scale_fn(self, fn: Callable, arg: Any) -> Any:
        """A user's ``scale_fn`` at ``arg`` (whole numbers), as torch calls it."""
        raise NotImplementedError

    def constant(self, values: Any) -> Any:
        """A table of float64 values computed on the host, in the evaluator's float dtype."""
        raise NotImplementedError

    def tabled_or(self, in_table: Any, tabled: Any, closed: Any) -> Any:
        """``tabled`` (torch's lrs read from a replayed table) where ``in_table``, ``closed`` (the
        closed form) elsewhere: an evaluator that only reads the tables (``clr_optax._decided``,
        skipping the closed form where a whole batch is tabled) gives NaN there."""
        return self.where(in_table, tabled, closed)

    def lr_table(self, values: Any) -> Any:
        """A table of the schedule's own values (torch's lr, replayed on the host), which no
        arithmetic follows: ``constant``, or float32 where the result is rounded to float32 after
        (``lookup`` converts what it reads to the evaluator's float dtype)."""
        return self.constant(values)

    def index(self, x: Any) -> Any:
        """Whole numbers (of any dtype the steps have) as integers, to index a ``constant``."""
        raise NotImplementedError

    # Python's float arithmetic, for formulas written in it (Hugging Face's lr lambdas): the
    # forms a compiler would otherwise rewrite (a reciprocal, rsqrt, pow by a known exponent).
    def exact_divide(self, a: Any, b: float) -> Any:
        """``a / b`` for ``b > 0`` (a constant of the formula, or a table of them), rounded as IEEE
        division at every step (whatever ``a`` is at step 0: ``divide`` assumes 0 there)."""
        raise NotImplementedError

    def inverse_sqrt(self, x: Any) -> Any:
        """``1.0 / math.sqrt(x)``: two IEEE roundings (not a fused reciprocal square root)."""
        raise NotImplementedError

    # For formulas that replace the value of step 0 (timm's: its groups hold the lr written at
    # construction there), whose products can be 0 at step 0.
    def step0_barrier(self, x: Any) -> Any:
        """``x`` at every step >= 1, as data a compiler can neither fold nor contract into a fused
        multiply-add with the next sum; at step 0 (and below) possibly another value, which the
        formula replaces. (``unfused``'s mask is a no-op a compiler can prove where ``x`` is 0 at
        step 0, a product of the step: there it contracts anyway.)"""
        raise NotImplementedError

    def real_power(self, base: Any, exponent: Any) -> Any:
        """``base ** exponent`` of each pair (arrays or numbers, ``base >= 0``), as Python's
        ``float ** float`` (C ``pow``) rounds it (numpy's ``**`` differs in the last bit for ~5%
        of pairs; a compiler rewrites a known exponent: ``x ** 3.0`` to ``x * x * x``)."""
        raise NotImplementedError


class NumpyOps(Ops):
    """numpy float64 with int64 steps: torch's arithmetic, bitwise (``spec.lr``)."""

    xp = np
    in_float64 = True

    def divide(self, a: Any, b: float) -> Any:
        return a / b

    def opaque(self, x: Any) -> Any:
        return x

    def unfused(self, x: Any) -> Any:
        return x

    def pow2(self, n: Any) -> Any:
        # ldexp is exact; whole exponents below -1074 give 0 (torch raises OverflowError there).
        return np.ldexp(1.0, np.maximum(np.asarray(n), -(1 << 20)).astype(np.int32))

    def power(self, base: float, k: Any) -> Any:
        # torch evaluates Python's float ** int (C pow()); numpy's SIMD power differs by up to
        # 1e-14 relative, so call the same pow (about 60 ns a step).
        arr = np.asarray(k)
        flat = arr.ravel().tolist()
        return np.fromiter((base ** int(x) for x in flat), dtype=np.float64, count=len(flat)).reshape(arr.shape)

    def cosine_anneal(self, position: Any, length: Any) -> Any:
        return (1 + np.cos(math.pi * position / length)) / 2

    def constant(self, values: Any) -> Any:
        return np.asarray(values, dtype=np.float64)

    def index(self, x: Any) -> Any:
        return np.asarray(x).astype(np.int64)

    def exact_divide(self, a: Any, b: float) -> Any:
        return a / b

    def inverse_sqrt(self, x: Any) -> Any:
        return 1.0 / np.sqrt(x)

    def step0_barrier(self, x: Any) -> Any:
        return x

    def real_power(self, base: Any, exponent: Any) -> Any:
        # Python's pow on each pair (numpy's ** differs in the last bit for ~5% of them).
        x, y = np.broadcast_arrays(np.asarray(base, dtype=np.float64), np.asarray(exponent, dtype=np.float64))
        values = [a**b for a, b in zip(x.ravel().tolist(), y.ravel().tolist())]
        return np.array(values, dtype=np.float64).reshape(x.shape)

    def call_scale_fn(self, fn: Callable, arg: Any) -> Any:
        # Python ints, once per distinct argument, as torch calls it.
        uniq, inverse = np.unique(np.asarray(arg), return_inverse=True)
        values = np.array([float(fn(int(a))) for a in uniq], dtype=np.float64)
        return values[inverse].reshape(np.shape(arg))


NUMPY = NumpyOps()
