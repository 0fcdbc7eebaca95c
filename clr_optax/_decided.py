"""float32 values of a cosine schedule decided from a fast cosine, the exact one only where needed.

XLA's float64 cosine on CPU is C's ``cos`` (bitwise: torch's), about 17 ns a value, most of a
cosine schedule's time. ``fast_cos`` is a polynomial of plain float64 arithmetic (vectorised,
about 1 ns) within ``COS_ERROR`` of the true cosine for ``|x| <= pi``. A schedule's value is
monotone in the cosine it takes (each formula's float64 value is an affine map of one cosine
per step, its roundings monotone), so evaluating the formula with every cosine lowered by
``COS_BOUND`` and again with every one raised brackets torch's float64 value; where both ends
(widened by 16 float64 ulps, for any rounding order the two evaluations do not share) round
to the same float32, that float32 is ``float32(torch)``, by construction. Elsewhere (about one
step in 10**7, more where the lr nears 0 at a cosine's trough, and every step with an angle
past pi) the formula runs again with the exact cosine.

This is for large batches (``jit(vmap(schedule))`` over many counts): under ``vmap`` (a schedule
is a function of one count) a select would run the exact cosine at every step, so
``custom_vmap`` gives the batched rule the whole batch, which runs the exact formula on the
blocks of steps that hold an undecided one, gathered, a few at a time. A formula that reads a
table of torch's lrs (``ops.tabled_or``) is read from it alone for a batch that lies in the
table. A single step (an optimizer's) or a small batch takes the exact formula.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax import lax

from ._ops import JaxFloat64Ops

_WIDEN = 2.0**-49  # relative: 16 float64 ulps either side, for rounding orders not shared
# Under vmap: steps in blocks of _BLOCK; the exact formula on the blocks holding an undecided one,
# up to 1/_SHARE of the batch's blocks at a time. A step alone or a batch of up to
# _SMALL takes the exact formula: its cosines cost less than compiling the batched rule would (the
# bracket's two copies of the formula and two of the exact one; XLA's compile time grows with them).
_BLOCK = 256
_SHARE = 64
_SMALL = 4096


def bracket(value: Callable, step: Any, count: Any) -> Any:
    """float32 of ``value(step, count, ops)`` (see ``decided_float32``) where the formula with its
    cosines lowered and with them raised (``COS_BOUND``), widened by ``_WIDEN``, round to one
    float32, and every angle was in ``fast_cos``'s domain: that float32; NaN elsewhere. One output:
    XLA computes two outputs of one formula in two loops, the cosine in each."""
    low_ops, high_ops = (
        JaxFloat64Ops(count, cosine="low", rounded=True),
        JaxFloat64Ops(count, cosine="high", rounded=True),
    )
    low, high = value(step, count, low_ops), value(step, count, high_ops)
    # ordered with one compare (jnp.minimum and maximum are NaN-propagating: a longer sequence on
    # x86; a NaN end is never decided either way, NaN equals nothing)
    low, high = jnp.where(low < high, low, high), jnp.where(low < high, high, low)
    low32 = (low - jnp.abs(low) * _WIDEN).astype(jnp.float32)
    high32 = (high + jnp.abs(high) * _WIDEN).astype(jnp.float32)
    return jnp.where((low32 == high32) & low_ops.in_cos_domain & high_ops.in_cos_domain, low32, jnp.nan)


def decided_float32(value: Callable, step_of: Callable) -> Callable:
    """``(step, count) -> float32`` from ``value(step, count, ops)``, the formula's float64 value
    over ``ops`` (a ``JaxFloat64Ops`` of ``count``), traced with 64-bit types on: the value with
    the exact cosine rounded to float32, bitwise, most of it decided from a fast one. ``step`` is
    ``step_of(count)``, which the loop over undecided blocks computes again for them (an array of
    the steps it took would be written out for it)."""

    def exact(step: Any, count: Any) -> Any:
        return value(step, count, JaxFloat64Ops(count, rounded=True)).astype(jnp.float32)

    def decided(step: Any, count: Any, fast: Any) -> Any:
        """``fast`` (float32, NaN where undecided) with its undecided blocks patched exactly."""
        n = step.shape[0]
        blocks = -(-n // _BLOCK)
        most = max(1, blocks // _SHARE)
        # A block holds an undecided step where its sum is NaN (a float sum: XLA's CPU backend runs
        # a boolean reduction as a chain of slow reduce-windows).
        pad = blocks * _BLOCK - n
        padded = jnp.concatenate([fast, jnp.zeros((pad,), fast.dtype)]) if pad else fast
        undecided = jnp.isnan(jnp.sum(padded.reshape(blocks, _BLOCK), axis=1))

        def patch(carry: tuple[Any, Any]) -> tuple[Any, Any]:
            # Up to ``most`` undecided blocks, rewritten with the exact values (the fill, block 0, and
            # the last block's padding, the last step again, too: duplicates write one value).
            out, undecided = carry
            (picked,) = jnp.nonzero(undecided, size=most, fill_value=0)
            at = jnp.minimum(picked[:, None] * _BLOCK + jnp.arange(_BLOCK), n - 1).reshape(-1)
            return out.at[at].set(exact(step_of(count[at]), count[at])), undecided.at[picked].set(False)

        # A loop, not a lax.cond: XLA updates the loop's buffer in place, where a conditional's result
        # is a copy (0.6 ms per 1M steps). Most batches run it no time or once (a trough's blocks);
        # all undecided, it runs _SHARE times, the exact formula on every step in all.
        out, _ = lax.while_loop(lambda carry: jnp.any(carry[1]), patch, (fast, undecided))
        return out

    def batch(step: Any, count: Any) -> Any:
        shape = jnp.shape(step)
        step, count = jnp.ravel(step), jnp.ravel(jnp.broadcast_to(count, shape))
        if step.shape[0] <= _SMALL:
            return exact(step, count).reshape(shape)
        # A formula that reads a table of torch's lrs (``ops.tabled_or``: CosineAnnealingLR's first
        # period): the table's float32 values, NaN past it, where the bracket (and its patches) runs
        # only for a batch with steps there: a loop that runs once or not at all (in place, as above).
        tables = JaxFloat64Ops(count, rounded=True, tables_only=True)
        tabled = value(step, count, tables).astype(jnp.float32)
        if not tables.tables:
            return decided(step, count, bracket(value, step, count)).reshape(shape)  # (the read is dropped)

        def past_the_table(carry: tuple[Any, Any]) -> tuple[Any, Any]:
            out, _ = carry
            return decided(step, count, jnp.where(jnp.isnan(out), bracket(value, step, count), out)), jnp.bool_(False)

        out, _ = lax.while_loop(lambda carry: carry[1], past_the_table, (tabled, jnp.isnan(jnp.sum(tabled))))
        return out.reshape(shape)

    @jax.custom_batching.custom_vmap
    def schedule(step: Any, count: Any) -> Any:
        with jax.enable_x64(True):
            return batch(step, count) if jnp.ndim(step) or jnp.ndim(count) else exact(step, count)

    @schedule.def_vmap
    def _batched(axis_size: int, in_batched: Any, step: Any, count: Any) -> tuple[Any, bool]:
        with jax.enable_x64(True):
            step_batched, count_batched = in_batched
            if not step_batched:
                step = jnp.broadcast_to(step, (axis_size, *jnp.shape(step)))
            if not count_batched:
                count = jnp.broadcast_to(count, (axis_size, *jnp.shape(count)))
            return batch(step, count), True

    # Traced with 64-bit types on inside its own jit, the caller's program float32 around it.
    inner = jax.jit(schedule)

    def float32_schedule(step: Any, count: Any) -> Any:
        # The value does not vary with a float count (its floor is the step): no tangent, which
        # custom_vmap could not give to reverse-mode autodiff.
        with jax.enable_x64(True):
            return inner(step, lax.stop_gradient(count))

    return float32_schedule
