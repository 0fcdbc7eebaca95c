"""Optax schedules for cyclical learning rates and the momentum cycled against them."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from clr_spec import CyclicSpec

from . import _ff, _position
from ._div64 import divide_by_constant

MAX_COUNT = 2**31 - 1
_EXP2_TERMS = 9      # Taylor terms of 2**y for |y| <= 1/16: truncation < 2**-50
_EXP2_SQUARINGS = 3  # 2**f = (2**(f/8))**8


def _spec_from(spec: Optional[CyclicSpec], kwargs: dict[str, Any]) -> CyclicSpec:
    if spec is None:
        return CyclicSpec(**kwargs)
    if kwargs:
        raise TypeError(f"pass either a CyclicSpec or torch's keywords, not both (got {sorted(kwargs)})")
    if not isinstance(spec, CyclicSpec):
        raise TypeError(f"spec must be a CyclicSpec, got {type(spec).__name__}")
    return spec


def cyclic_lr_schedule(spec: Optional[CyclicSpec] = None, *, group: int = 0, **torch_kwargs: Any):
    r"""Cyclical learning rate (torch's ``CyclicLR``) as an optax schedule ``count -> lr``.

    .. math::

        \text{lr}(k) = \text{base\_lr} + (\text{max\_lr} - \text{base\_lr})\, f(k)\, s(k)

    with ``f`` the triangular wave in [0, 1] (peak after ``step_size_up`` steps, back at
    ``base_lr`` after ``step_size_up + step_size_down``) and ``s`` the amplitude scale of
    the mode; see ``clr_spec._closed_form`` for the full definition. ``lr(k)`` is the lr
    of the (k+1)-th update, as with torch's scheduler after ``k`` calls of ``step()``
    (optax evaluates a schedule at the count before incrementing it).

    Precision: in float32 (JAX's default) the result is within 1 ulp of
    ``float32(torch's float64 value)`` at every count up to ``2**31 - 1`` (4 ulps with a
    custom ``scale_fn``, whose own float32 rounding adds in). With ``jax_enable_x64`` the
    result is float64 and follows torch's formula operation for operation.

    Args:
      spec: a ``clr_spec.CyclicSpec``; or leave it out and pass torch's ``CyclicLR``
        keywords (``base_lr=..., max_lr=..., step_size_up=...``) directly.
      group: which param group's bounds to use when the bounds are per-group sequences
        (one schedule per ``optax.multi_transform`` label).

    Returns:
      A jittable, vmappable ``optax.Schedule``. Counts are clipped to ``[0, 2**31 - 1]``.

    References:
      Smith, `Cyclical Learning Rates for Training Neural Networks
      <https://arxiv.org/abs/1506.01186>`_, 2017.
    """
    spec = _spec_from(spec, torch_kwargs)
    base, top, _, _ = spec.group_bounds(group)
    return _build(spec, start=base, height=top - base, sign=1.0)


def cyclic_momentum_schedule(spec: Optional[CyclicSpec] = None, *, group: int = 0, **torch_kwargs: Any):
    r"""Momentum cycled inversely to the lr, as torch's ``CyclicLR(cycle_momentum=True)`` does.

    .. math::

        m(k) = \text{max\_momentum} - (\text{max\_momentum} - \text{base\_momentum})\, f(k)\, s(k)

    Use it for ``optax.sgd``'s ``momentum`` or ``optax.adam``'s ``b1`` (torch's ``betas[0]``)
    through ``optax.inject_hyperparams``. Same arguments and precision as
    ``cyclic_lr_schedule``. When ``spec.cycle_momentum`` is False torch leaves momentum
    alone: this returns the constant ``max_momentum``, which is what torch's optimizer
    keeps only if you built it with that momentum.
    """
    spec = _spec_from(spec, torch_kwargs)
    _, _, low, high = spec.group_bounds(group)
    if not spec.cycle_momentum:
        value = high

        def constant(count):
            return jnp.full(jnp.shape(count), value, dtype=_float_dtype())

        return constant
    return _build(spec, start=high, height=high - low, sign=-1.0)


def _float_dtype():
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def _as_step(count) -> jnp.ndarray:
    count = jnp.asarray(count)
    if jnp.issubdtype(count.dtype, jnp.floating):
        count = jnp.floor(jnp.clip(count, 0, MAX_COUNT))
    return jnp.clip(count, 0, MAX_COUNT).astype(jnp.int32)


def _check_scale_fn(fn: Callable) -> None:
    """Trace ``fn`` once on an abstract int32 so an untraceable function fails here, clearly."""
    try:
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct((), jnp.int32))
    except Exception as err:  # noqa: BLE001 - re-raised with the fix
        raise TypeError(
            "scale_fn must be traceable by JAX: it receives the int32 cycle number (scale_mode="
            "'cycle') or step (scale_mode='iterations') as a traced array, so use arithmetic and "
            "jax.numpy functions on it (e.g. lambda x: 1 / (2.0 ** (x - 1)) or jnp.exp(-x / 1e4)), "
            f"not math.*, numpy or Python if/else. Tracing it failed with: {type(err).__name__}: {err}"
        ) from err
    if any(not jnp.issubdtype(leaf.dtype, jnp.number) for leaf in jax.tree_util.tree_leaves(out)):
        raise TypeError(f"scale_fn must return a number, got {out}")


def _call_scale_fn(fn: Callable, arg: jnp.ndarray, dtype) -> jnp.ndarray:
    return jnp.broadcast_to(jnp.asarray(fn(arg), dtype=dtype), arg.shape)


def _build(spec: CyclicSpec, *, start: float, height: float, sign: float):
    if spec.scale_fn is not None:
        _check_scale_fn(spec.scale_fn)
    f32 = _float32_schedule(spec, start, height, sign)
    f64 = _float64_schedule(spec, start, height, sign)

    def schedule(count):
        step = _as_step(count)
        return f64(step) if jax.config.jax_enable_x64 else f32(step)

    return schedule


# ----------------------------------------------------------------------------- float64
def _float64_schedule(spec: CyclicSpec, start: float, height: float, sign: float):
    """torch's formula, operation for operation, in float64 (needs jax_enable_x64)."""
    total, ratio = spec.total_size, spec.step_ratio
    mode, gamma, scale_fn, by_cycle = spec.mode, spec.gamma, spec.scale_fn, spec.scale_mode == "cycle"

    def schedule(step):
        # IEEE divisions and an opaque 1 + q: XLA would otherwise move torch's roundings.
        y = _ff.opaque(1.0 + divide_by_constant(step.astype(jnp.float64), total))
        cycle = jnp.floor(y)
        x = y - cycle
        factor = jnp.where(x <= ratio, divide_by_constant(x, ratio),
                           divide_by_constant(_ff.opaque(x - 1.0), ratio - 1.0))
        # opaque products: no FMA contraction, so torch's two roundings happen as in torch.
        base_height = _ff.opaque(height * factor)
        if scale_fn is not None:
            # int64 argument: JAX turns int32 into float32 even under x64.
            arg = (cycle if by_cycle else step).astype(jnp.int64)
            base_height = _ff.opaque(base_height * _call_scale_fn(scale_fn, arg, jnp.float64))
        elif mode == "triangular2":
            cycle_int = cycle.astype(jnp.int32)
            base_height = base_height * jnp.ldexp(jnp.float64(1.0), jnp.maximum(1 - cycle_int, -1100))
        elif mode == "exp_range":
            base_height = _ff.opaque(base_height * jnp.power(jnp.float64(gamma), step.astype(jnp.float64)))
        return start + base_height if sign > 0 else start - base_height

    return schedule


# ----------------------------------------------------------------------------- float32
def _log2_decimal(value: float) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(value).ln() / Decimal(2).ln()


def _exp2_coefficients() -> list[_ff.FF]:
    """Taylor coefficients of 2**y = sum (y ln 2)**k / k!, as float-float constants."""
    with localcontext() as ctx:
        ctx.prec = 60
        ln2 = Decimal(2).ln()
        return [_ff.const(Fraction(ln2**k) / math.factorial(k)) for k in range(_EXP2_TERMS)]


def _exp2_small(y: _ff.FF, coefficients: list[_ff.FF]) -> _ff.FF:
    """2**y for |y| <= 1/2 in float-float: Horner on y/8, then three squarings."""
    z = _ff.scale(y, jnp.float32(1.0 / 2**_EXP2_SQUARINGS))
    acc = coefficients[-1]
    for coeff in reversed(coefficients[:-1]):
        acc = _ff.add(_ff.mul(acc, z), coeff)
    for _ in range(_EXP2_SQUARINGS):
        acc = _ff.mul(acc, acc)
    return acc


def _scale_by_pow2(a: _ff.FF, n: jnp.ndarray) -> _ff.FF:
    """a * 2**n for int32 n <= 127, in two steps (one factor cannot reach below 2**-126);
    exact unless the result is subnormal."""
    n = jnp.clip(n, -252, 127)
    first = jnp.maximum(n, -126)
    return _ff.scale(_ff.scale(a, _ff.pow2(first)), _ff.pow2(n - first))


def _unit_exponent(values: list[float]) -> int:
    """A power of two to divide the constants by: the largest lands near 1, and the smallest
    nonzero one stays above 2**-100 (its float-float low part then stays normal) while the
    largest stays below 2**120; both hold unless the values span more than 2**220."""
    exponents = [math.frexp(abs(v))[1] for v in values if v]
    if not exponents:
        return 0
    top, bottom = max(exponents), min(exponents)
    return top if bottom - top >= -100 else max(bottom + 100, top - 120)


def _peak_values(total: float, up: float, ratio: float, start: float, height: float, sign: float,
                 unit: Fraction) -> np.ndarray:
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
            y = 1.0 + float(c + v)                     # torch: 1 + last_epoch / total_size
            x = y - math.floor(y)
            factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
            value = start + height * factor if sign > 0 else start - height * factor
            table[e1 + 1, e2] = _ff.const(Fraction(value) / unit)
    return table


def _float32_schedule(spec: CyclicSpec, start: float, height: float, sign: float):
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
    signed_height = _ff.const(sign * Fraction(height) / unit)   # torch rounds max - base in float64
    mode, scale_fn, by_cycle = spec.mode, spec.scale_fn, spec.scale_mode == "cycle"
    if scale_fn is None and mode == "exp_range":
        log2_gamma = _ff.const(Fraction(_log2_decimal(spec.gamma)))
        coefficients = _exp2_coefficients()
    # Modes whose amplitude scale can be exactly 1 at a peak (a custom scale_fn's cannot be known).
    peak_values, scale_is_one = None, None
    if scale_fn is None and (mode != "exp_range" or spec.gamma == 1.0):
        peak_values = _peak_values(total, float(spec.step_size_up), ratio, start, height, sign, unit)
        peak_values = peak_values.reshape(32 * 32, 2)
        scale_is_one = (lambda cycle: cycle == 1) if mode == "triangular2" else None
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
            s = _call_scale_fn(scale_fn, cycle if by_cycle else step, jnp.float32)
            amplitude = _ff.mul(amplitude, (s, jnp.zeros_like(s)))
        elif mode == "triangular2":
            # 2**-(cycle-1) is exact: scale by powers of two instead of forming it.
            amplitude = _scale_by_pow2(amplitude, jnp.maximum(1 - cycle, -300))
        elif mode == "exp_range":
            t = _ff.mul(_ff.from_int(step), log2_gamma)              # log2(gamma**step) <= 0
            t_hi = jnp.maximum(t[0], -300.0)
            n = lax.round(t_hi, lax.RoundingMethod.TO_NEAREST_EVEN)
            frac = _ff.fast_two_sum(t_hi - n, jnp.where(t[0] < -300.0, 0.0, t[1]))
            amplitude = _ff.mul(amplitude, _exp2_small(frac, coefficients))
            amplitude = _scale_by_pow2(amplitude, n.astype(jnp.int32))
        hi, lo = _ff.two_sum(start_ff[0], amplitude[0])
        value = _ff.fast_two_sum(hi, lo + (start_ff[1] + amplitude[1]))
        if peak_values is not None:
            # At a peak with amplitude scale 1, torch's value is the far end up to its float64
            # roundings, which are all of it where that end is 0: take torch's own value.
            unit_scale = at_peak if scale_is_one is None else at_peak & scale_is_one(cycle)
            peak = jnp.take(peak_values, binades, axis=0)
            value = (jnp.where(unit_scale, peak[..., 0], value[0]), jnp.where(unit_scale, peak[..., 1], value[1]))
        value = value[0] + value[1]
        return _scale_by_pow2((value, jnp.zeros_like(value)), jnp.int32(rescale))[0]

    return schedule
