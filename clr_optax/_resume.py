"""Continuing an optax run at step k (from a torch checkpoint, say)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp


def set_count(opt_state: Any, step: int) -> Any:
    """Return ``opt_state`` with every ``count`` field set to ``step``.

    optax evaluates schedules at the state's ``count`` (``InjectHyperparamsState.count``,
    ``ScaleByScheduleState.count``) and Adam-like optimizers use their own ``count`` for bias
    correction, so setting them all makes the next ``update`` use ``lr(step)``: the state
    of a run that has taken ``step`` updates. Moment estimates are left as they are (load
    them from the checkpoint if you have them).
    """
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < 2**31:
        raise ValueError(f"step must be an int in [0, 2**31) (optimizer steps already taken), got {step!r}")

    def visit(node):
        if isinstance(node, tuple) and hasattr(node, "_fields"):   # optax states are NamedTuples
            fields = {name: visit(getattr(node, name)) for name in node._fields}
            if "count" in fields:
                old = node.count
                fields["count"] = jnp.full(jnp.shape(old), step, dtype=jnp.asarray(old).dtype)
            return type(node)(**fields)
        if isinstance(node, (list, tuple)):
            return type(node)(visit(x) for x in node)
        if isinstance(node, dict):
            return type(node)((k, visit(v)) for k, v in node.items())
        return node

    if not _has_count(opt_state):
        raise ValueError("opt_state has no `count` field: nothing evaluates a schedule from it")
    return visit(opt_state)


def _has_count(node) -> bool:
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return "count" in node._fields or any(_has_count(getattr(node, f)) for f in node._fields)
    if isinstance(node, (list, tuple)):
        return any(_has_count(x) for x in node)
    if isinstance(node, dict):
        return any(_has_count(v) for v in node.values())
    return False
