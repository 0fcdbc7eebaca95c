"""Schedules replayed on the host to a horizon: torch's recursion, step by step, into a table.

``MultiplicativeSpec`` (a user's factor each step) and ``ChainedSpec`` (members stepped in
order) have no closed form: each lr is torch's ``get_lr`` of the one before. ``ReplayedToHorizon``
replays the spec's ``torch_step`` (torch's arithmetic, Python floats) for steps 0..``horizon``
into a float64 table per param group; ``spec.lr`` refuses steps past the horizon, and the
optax schedule (a lookup, ``float32_exact``) holds its last value there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validation as v

MAX_HORIZON = 2**24  # steps replayed on the host: 128 MiB of float64 per group at most


def horizon(value: Any) -> int:
    """A replay's horizon: an int in [1, MAX_HORIZON]."""
    value = v.integer("horizon", value, low=1)
    if value > MAX_HORIZON:
        raise ValueError(f"horizon must be <= 2**24 (the steps replayed on the host), got {value}")
    return value


class ReplayedToHorizon:
    """Mixin of a spec with ``horizon``, ``group_lr(group)`` and ``torch_step(lr, step, group)``
    (step 0: the scheduler's construction): its values are the replayed table's."""

    horizon: int

    def table(self, group: int) -> np.ndarray:
        """torch's lr at steps 0..horizon for ``group`` (cached)."""
        cache = self.__dict__.setdefault("_tables", {})
        if group not in cache:
            lr = self.torch_step(self.group_lr(group), 0, group)  # type: ignore[attr-defined]
            values = [float(lr)]
            for k in range(1, self.horizon + 1):
                lr = self.torch_step(lr, k, group)  # type: ignore[attr-defined]
                values.append(float(lr))
            cache[group] = np.asarray(values, dtype=np.float64)
        return cache[group]

    @property
    def float32_exact(self) -> bool:
        return True  # a lookup in torch's values, rounded once, at every step

    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        arr = v.steps_array(steps)
        if arr.size and arr.max() > self.horizon:
            raise ValueError(
                f"step {int(arr.max())} is past the horizon ({self.horizon}) this {type(self).__name__} "
                "replays torch's recursion to: build it with a larger horizon="
            )
        return super().lr(arr, group)  # type: ignore[misc]

    def values_at(self, ops: Any, steps: Any, what: str, group: int) -> Any:
        if what != "lr":
            self.check_sets_momentum()  # type: ignore[attr-defined]
        return ops.take(ops.constant(self.table(group)), ops.minimum(ops.index(steps), self.horizon))
