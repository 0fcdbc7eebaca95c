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
from clr_spec import _validation

from . import _ff, _position
from ._div64 import divide_by_constant

MAX_COUNT = 2**31 - 1
_EXP2_TERMS = 9      # Taylor terms of 2**y for |y| <= 1/16: truncation < 2**-50
_EXP2_SQUARINGS = 3  # 2**f = (2**(f/8))**8
_PEAK_SNAP = np.float32(2.0**-40)  # below float32's resolution, far above torch's float64 noise


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
    return _build(spec, start=base, height=top - base, sign=1.0, bounds=(base, top))


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
    return _build(spec, start=high, height=high - low, sign=-1.0, bounds=(low, high))


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


def _build(spec: CyclicSpec, *, start: float, height: float, sign: float, bounds: tuple[float, float]):
    if spec.scale_fn is not None:
        _check_scale_fn(spec.scale_fn)
    f32 = _float32_schedule(spec, start, height, sign, bounds)
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
        return [_ff.constant(Fraction(ln2**k) / math.factorial(k)) for k in range(_EXP2_TERMS)]


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
    """a * 2**n for int32 n <= 0, in two exact steps (one factor cannot reach below 2**-126)."""
    n = jnp.maximum(n, -252)
    first = jnp.maximum(n, -126)
    return _ff.scale(_ff.scale(a, _ff.pow2(first)), _ff.pow2(n - first))


def _float32_schedule(spec: CyclicSpec, start: float, height: float, sign: float,
                      bounds: tuple[float, float]):
    total, ratio = spec.total_size, spec.step_ratio
    position = _position.position_fn(total)
    ratio_ff = _ff.constant(ratio)
    inv_ratio = _ff.constant(1 / Fraction(ratio))
    # torch's down slope is (x - 1) / (ratio - 1), with ratio - 1 rounded in float64.
    inv_one_minus_ratio = _ff.constant(1 / -Fraction(ratio - 1.0))
    start_ff = _ff.constant(start)
    signed_height = _ff.constant(sign * Fraction(height))   # torch rounds max - base in float64
    mode, scale_fn, by_cycle = spec.mode, spec.scale_fn, spec.scale_mode == "cycle"
    if scale_fn is None and mode == "exp_range":
        log2_gamma = _ff.constant(Fraction(_log2_decimal(spec.gamma)))
        coefficients = _exp2_coefficients()
    low, high = np.float32(min(bounds)), np.float32(max(bounds))

    def schedule(step):
        cycle, x, one_minus_x = _position.torch_cycle_position(*position(step))
        up = _ff.mul(x, inv_ratio)
        down = _ff.mul(one_minus_x, inv_one_minus_ratio)
        rising = _ff.less_equal(x, ratio_ff)
        factor = (jnp.where(rising, up[0], down[0]), jnp.where(rising, up[1], down[1]))
        # At a peak the exact factor is 1; torch's float64 gets 1 +- 2**-52, which leaves pure
        # rounding noise (~1e-16) where the far bound is 0. Return the exact bound there.
        at_peak = jnp.abs((factor[0] - 1.0) + factor[1]) < _PEAK_SNAP
        factor = (jnp.where(at_peak, np.float32(1.0), factor[0]), jnp.where(at_peak, np.float32(0.0), factor[1]))
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
        value = hi + (lo + (start_ff[1] + amplitude[1]))
        if scale_fn is None:
            # Built-in modes stay within their bounds (torch's float64 can overshoot by an
            # ulp of noise; clipping keeps a momentum of exactly 0 from going negative).
            value = jnp.clip(value, low, high)
        return value

    return schedule
