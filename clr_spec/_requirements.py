"""The distribution's name and the optional frameworks: one place for install hints.

A framework that is missing is reported with the extra that installs it, so that a
jax-only user who imports ``clr_torch`` reads what to do, not ``No module named 'torch'``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

DISTRIBUTION = "clr-spec"

_EXTRA_CONTENTS = {"torch": "torch", "jax": "jax and optax", "plot": "matplotlib"}


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra`` of this distribution."""
    hint = f"pip install '{DISTRIBUTION}[{extra}]'"
    if extra == "torch":
        # On PyPI torch is the CUDA build (~2 GB with its libraries); PyTorch's own CPU index has the small one.
        hint += " (for the CPU-only torch, first: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
    return hint


def require(module: str, extra: str, needed_by: str) -> ModuleType:
    """Import ``module`` or raise ``ModuleNotFoundError`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            f"{needed_by} needs {_EXTRA_CONTENTS.get(extra, module)} (No module named {err.name!r}): "
            f"{install_hint(extra)}",
            name=err.name,
        ) from err
