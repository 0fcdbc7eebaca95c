r"""The CLR formula, written once, over an ``Ops`` namespace, in torch's order of operations.

numpy float64 (``CyclicSpec.lr``, ``.momentum``) and clr_optax's float64 path (under x64, and
rounded once to float32 on CPU/GPU) both evaluate ``cyclic_value``; only their ``Ops`` differ
(plain numpy; XLA with its guards). With ``step`` the number of optimizer updates applied:

.. math::

    \text{total} = \text{up} + \text{down},\quad
    \text{cycle} = \lfloor 1 + \text{step}/\text{total} \rfloor,\quad
    x = 1 + \text{step}/\text{total} - \text{cycle}

    f = x / r \;\text{if}\; x \le r \;\text{else}\; (x - 1)/(r - 1),\quad r = \text{up}/\text{total}

    \text{lr} = \text{base\_lr} + (\text{max\_lr} - \text{base\_lr}) \cdot f \cdot s(\text{arg})

    \text{momentum} = \text{max\_m} - (\text{max\_m} - \text{base\_m}) \cdot f \cdot s(\text{arg})

with ``s = 1`` (triangular, per cycle), ``2**-(cycle-1)`` (triangular2, per cycle),
``gamma**step`` (exp_range, per iteration) or a custom ``scale_fn`` of ``cycle`` or ``step``.
Evaluated in float64 in the same order as torch's ``CyclicLR.get_lr``, so that the results
agree with torch's to the last bit. (The float32-only path of TPUs is the one override:
``clr_optax._float_float``; ``clr_torch.CyclicLR`` is torch's ``get_lr`` on the groups' own
values, as a drop-in must be.)
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from ._modes import dispatch
from ._ops import Ops


def _triangular(ops: Ops, height: Any, cycle: Any, step: Any, gamma: float) -> Any:
    return height  # torch's x * 1.0 is x


def _triangular2(ops: Ops, height: Any, cycle: Any, step: Any, gamma: float) -> Any:
    # torch: 1 / (2.0 ** (cycle - 1)); equal wherever torch does not overflow (a power of two
    # is exact), and going on to 0 where torch raises OverflowError.
    return height * ops.pow2(1.0 - cycle)


def _exp_range(ops: Ops, height: Any, cycle: Any, step: Any, gamma: float) -> Any:
    return height * ops.power(gamma, step)


SCALES = {"triangular": _triangular, "triangular2": _triangular2, "exp_range": _exp_range}


def cyclic_value(
    ops: Ops,
    steps: Any,
    *,
    total: float,
    ratio: float,
    start: float,
    height: float,
    sign: float,
    mode: str,
    gamma: float,
    scale_fn: Optional[Callable] = None,
    by_cycle: bool = True,
) -> Any:
    """``start + sign * (height * factor) * scale`` in torch's order, over ``ops``.

    lr: ``start=base_lr, height=max_lr-base_lr, sign=+1``; momentum: ``start=max_momentum,
    height=max_momentum-base_momentum, sign=-1``. ``steps`` are whole numbers (int64 in numpy,
    float64 under XLA); ``scale_fn`` (if given) gets the cycle or the step, whole floats.
    """
    scale = None if scale_fn is not None else dispatch(SCALES, mode, "clr_spec's closed form")
    # opaque: a compiler would otherwise reassociate 1 + q - cycle across torch's roundings.
    y = ops.opaque(1.0 + ops.divide(steps, total))
    cycle = ops.floor(y)
    x = y - cycle
    rising = x <= ratio
    # One division, of the branch torch takes (ratio - 1 never divides: x < 1 <= ratio then).
    factor = ops.where(rising, x, ops.opaque(x - 1.0)) / ops.where(rising, ratio, ratio - 1.0)
    base_height = height * factor
    if scale_fn is not None:
        base_height = base_height * ops.call_scale_fn(scale_fn, cycle if by_cycle else steps)
    else:
        assert scale is not None  # dispatched above: no scale_fn
        base_height = scale(ops, base_height, cycle, steps, gamma)
    base_height = ops.unfused(base_height)
    return start + base_height if sign > 0 else start - base_height
