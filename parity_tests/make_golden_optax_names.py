"""Freeze the values of the optax-vocabulary specs (``clr_spec.linear_schedule``,
``cosine_decay_schedule``, ``warmup_cosine_decay_schedule``, ``warmup_cyclic_cosine_schedule``)
into ``golden/optax_names.npz``, from references that share no code with the library:

    python -m parity_tests.make_golden_optax_names      # needs neither torch nor jax

torch has no class for these schedules, so the reference is optax's formula evaluated in
float64 outside the library: the linear pieces in exact ``fractions`` arithmetic, each of
optax's operations rounded once to float64 (what IEEE arithmetic does, and what the spec
defines); the cosine pieces as optax's float64 formula written out by hand in Python floats
(``math.cos``, Python's ``**``); the cyclic piece as torch's ``CyclicLR.get_lr`` written out by
hand (triangular); a join as optax's ``join_schedules`` (each piece at ``step - boundary``).
``test_optax_names.py`` checks the file is current and checks clr_spec, clr_optax and torch's
``SequentialLR`` of ``SpecLR``s against it.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from typing import Any, Callable

import numpy as np

import clr_spec

from ._helpers import INT32_MAX

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "optax_names.npz")


def linear_value(init_value: float, end_value: float, transition_steps: int, transition_begin: int, k: int) -> float:
    """optax's ``polynomial_schedule`` with power 1 at step ``k``, each operation exact, then
    rounded once to float64: ``c = clip(k - B, 0, T)``, ``(I - E) * (1 - c / T) + E``."""
    if transition_steps <= 0:
        return float(init_value)
    c = min(max(k - transition_begin, 0), transition_steps)
    quotient = float(Fraction(c, transition_steps))  # c / T
    frac = float(1 - Fraction(quotient))  # 1 - (c / T)
    diff = float(Fraction(init_value) - Fraction(end_value))  # I - E
    product = float(Fraction(diff) * Fraction(frac))  # (I - E) * frac
    return float(Fraction(product) + Fraction(end_value))  # ... + E


def cosine_value(init_value: float, decay_steps: int, alpha: float, exponent: float, k: int) -> float:
    """optax's ``cosine_decay_schedule`` at step ``k``, in Python float64 arithmetic."""
    count = min(k, decay_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * count / decay_steps))
    return init_value * ((1 - alpha) * cosine**exponent + alpha)


def cyclic_value(base_lr: float, max_lr: float, step_size_up: float, k: int) -> float:
    """torch's ``CyclicLR.get_lr``, triangular, equal step sizes (docs/design.md, the formula)."""
    total = step_size_up + step_size_up
    ratio = step_size_up / total
    cycle = math.floor(1 + k / total)
    x = 1.0 + k / total - cycle
    factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    return base_lr + (max_lr - base_lr) * factor


def reference(spec: Any, steps: Any) -> np.ndarray:
    """The reference values of ``spec`` (one of the optax-vocabulary specs, a join of them, or
    a triangular ``CyclicSpec`` phase) at ``steps``: read from the spec's fields, computed with
    the functions above."""
    ks = [int(k) for k in np.asarray(steps).ravel().tolist()]
    return np.array([_value_function(spec)(k) for k in ks], dtype=np.float64).reshape(np.shape(steps))


def _value_function(spec: Any) -> Callable[[int], float]:
    kind = type(spec).__name__
    if kind == "LinearScheduleSpec":
        return lambda k: linear_value(spec.init_value, spec.end_value, spec.transition_steps, spec.transition_begin, k)
    if kind == "CosineDecaySpec":
        return lambda k: cosine_value(spec.init_value, spec.decay_steps, spec.alpha, spec.exponent, k)
    if kind == "CyclicSpec":
        assert spec.mode == "triangular" and spec.step_size_down == spec.step_size_up
        return lambda k: cyclic_value(spec.base_lr, spec.max_lr, spec.step_size_up, k)
    if kind == "SequentialSpec":
        pieces = [_value_function(s) for s in spec.specs]
        starts = (0, *spec.milestones)

        def joined(k: int) -> float:
            i = max(j for j, start in enumerate(starts) if k >= start)  # optax's join_schedules
            return pieces[i](k - starts[i])

        return joined
    raise TypeError(f"no reference for {kind}")


# name: (spec, steps 0..n-1 frozen)
CONFIGS = {
    "linear_warmup_from_0": (clr_spec.linear_schedule(0.0, 0.1, transition_steps=1000), 3000),
    "linear_decay_held": (clr_spec.linear_schedule(0.1, 1e-4, transition_steps=10007, transition_begin=7), 20011),
    "cosine_decay": (clr_spec.cosine_decay_schedule(0.1, decay_steps=5003, alpha=0.01), 12000),
    "cosine_decay_exponent": (clr_spec.cosine_decay_schedule(3e-4, decay_steps=2000, exponent=1.5), 4000),
    "warmup_cosine_decay": (
        clr_spec.warmup_cosine_decay_schedule(0.0, 1e-3, warmup_steps=500, decay_steps=10000, end_value=1e-5),
        12000,
    ),
    "warmup_cyclic_cosine": (
        clr_spec.warmup_cyclic_cosine_schedule(
            0.0, 1e-3, 6e-3, warmup_steps=200, cycle_steps=800, num_cycles=3, decay_steps=5000, end_value=1e-5
        ),
        6000,
    ),
}
# Far into training, on clr_optax's int32 counts: windows ending at 2**31 - 1.
FAR_CONFIGS = {
    "cosine_decay_far": clr_spec.cosine_decay_schedule(0.1, decay_steps=INT32_MAX - 5, alpha=0.001),
    "linear_far": clr_spec.linear_schedule(1e-6, 0.1, transition_steps=INT32_MAX - 100_000, transition_begin=3),
}
FAR = [(start, start + 1024) for start in (1_000_000, 100_000_000, INT32_MAX - 1023)]


def far_steps() -> np.ndarray:
    return np.concatenate([np.arange(a, b) for a, b in FAR]).astype(np.int64)


def compute() -> dict[str, np.ndarray]:
    out = {f"{name}/lr": reference(spec, np.arange(steps)) for name, (spec, steps) in sorted(CONFIGS.items())}
    out.update({f"{name}/far_lr": reference(spec, far_steps()) for name, spec in sorted(FAR_CONFIGS.items())})
    return out


def load() -> dict[str, np.ndarray]:
    with np.load(PATH) as data:
        return {k: data[k] for k in data.files}


def main() -> None:
    np.savez_compressed(PATH, **compute())
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
