"""Continuing an optax run at step k (from a torch checkpoint, say)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from clr_spec import _validation as v

from ._variables import is_variable, set_value, value_of


def set_count(opt_state: Any, step: int) -> Any:
    """Return ``opt_state`` with every ``count`` field set to ``step``.

    optax evaluates schedules at the state's ``count`` (``InjectHyperparamsState.count``,
    ``ScaleByScheduleState.count``) and Adam-like optimizers use their own ``count`` for bias
    correction, so setting them all makes the next ``update`` use ``lr(step)``: the state
    of a run that has taken ``step`` updates. Moment estimates are left as they are (load
    them from the checkpoint if you have them).

    A Flax NNX ``Optimizer`` keeps its state in mutable Variables: pass the optimizer itself,
    ``clr_optax.set_count(nnx_optimizer, k)``; its counts and its ``step`` are set in place
    and the optimizer is returned. (Assigning a new state to ``nnx_optimizer.opt_state``
    breaks its next update.)

    >>> import jax.numpy as jnp, clr_optax
    >>> from clr_spec import CyclicSpec
    >>> tx = clr_optax.sgd(CyclicSpec(base_lr=1, max_lr=5, step_size_up=4))
    >>> state = clr_optax.set_count(tx.init(jnp.zeros(2)), 3)
    >>> _, state = tx.update(jnp.ones(2), state)           # the update of step 3 uses lr(3)
    >>> float(clr_optax.current_hyperparams(state)["learning_rate"])
    4.0
    """
    step = v.integer("step", step, low=0, why=" (optimizer steps already taken)")
    if step >= 2**31:
        raise ValueError(f"step must be < 2**31 (optax counts are int32), got {step}")
    if _is_nnx_optimizer(opt_state):
        optimizer = opt_state
        set_count(optimizer.opt_state, step)  # Variables: set in place
        old = value_of(optimizer.step)
        set_value(optimizer.step, jnp.full(jnp.shape(old), step, dtype=old.dtype))
        return optimizer

    def visit(node):
        if isinstance(node, tuple) and hasattr(node, "_fields"):  # optax states are NamedTuples
            fields = {name: visit(getattr(node, name)) for name in node._fields}
            if "count" in fields:
                old = node.count
                if is_variable(old):  # a Flax NNX Variable: mutable, set in place and keep it
                    array = value_of(old)
                    set_value(old, jnp.full(jnp.shape(array), step, dtype=array.dtype))
                    fields["count"] = old
                else:
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


def _is_nnx_optimizer(node) -> bool:
    return hasattr(node, "opt_state") and is_variable(getattr(node, "step", None))


def _has_count(node) -> bool:
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return "count" in node._fields or any(_has_count(getattr(node, f)) for f in node._fields)
    if isinstance(node, (list, tuple)):
        return any(_has_count(x) for x in node)
    if isinstance(node, dict):
        return any(_has_count(v) for v in node.values())
    return False
