"""pytest at the repository root: the library's docstring examples run as doctests
(``--doctest-modules``), and modules needing a framework this environment lacks are not
collected, so the suite runs with torch only, jax only, or both."""

import importlib.util


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


collect_ignore = []
if not _installed("torch"):
    collect_ignore += ["clr_torch", "parity_tests/_distributed_torch.py", "parity_tests/_training.py"]
if not _installed("jax", "optax"):
    collect_ignore += ["clr_optax", "parity_tests/_distributed_jax.py", "parity_tests/_training.py"]
