"""Flax NNX keeps optimizer state in mutable Variables; these read and write them without
importing flax (``get_value``/``set_value`` where flax has them, ``.value`` on older ones)."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def is_variable(node: Any) -> bool:
    if isinstance(node, (jax.Array, np.ndarray, np.generic)):
        return False
    return hasattr(node, "get_value") or isinstance(getattr(type(node), "value", None), property)


def value_of(node: Any) -> Any:
    """The array inside a Variable, or the node itself."""
    if not is_variable(node):
        return node
    return node.get_value() if hasattr(node, "get_value") else node.value


def set_value(node: Any, array: Any) -> None:
    if hasattr(node, "set_value"):
        node.set_value(array)
    else:
        node.value = array
