"""The built-in CyclicLR modes: one registry that every evaluator dispatches on.

Each evaluator (the numpy closed form, the torch scheduler, the optax float64 and
float-float paths, ``clr show``) keeps a table from mode name to its implementation and looks
it up with ``dispatch``, which raises for a mode it does not have: a mode missing from one
table fails there, loudly, instead of falling through to another mode's formula.
``parity_tests/test_modes.py`` checks that every table covers exactly ``MODES`` and runs
every evaluator on every mode against torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Mode:
    """A built-in mode: its amplitude scale and the ``scale_mode`` it forces (as torch does)."""

    name: str
    scale_mode: str  # "cycle": the scale is a function of the cycle; "iterations": of the step
    formula: str  # the amplitude scale torch applies, for docs and ``clr show``
    uses_gamma: bool = False  # gamma must then lie in (0, 1]: the amplitude must not grow


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("triangular", "cycle", "1 (every cycle alike)"),
        Mode("triangular2", "cycle", "halves every cycle: 1 / 2**(cycle - 1)"),
        Mode("exp_range", "iterations", "gamma**step", uses_gamma=True),
    )
}


def dispatch(table: Mapping[str, T], mode: str, evaluator: str) -> T:
    """``table[mode]``, or a ``ValueError`` naming the evaluator and the modes it has."""
    try:
        return table[mode]
    except KeyError:
        raise ValueError(
            f"{evaluator} has no implementation of mode {mode!r} "
            f"(it has {sorted(table)}; registered modes: {sorted(MODES)})"
        ) from None
