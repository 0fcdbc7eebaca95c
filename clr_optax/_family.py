"""``lr_schedule(spec)`` and ``momentum_schedule(spec)`` for every clr_spec spec.

A ``CyclicSpec`` has its own exact machinery (``_schedules``). Any other spec with a closed
form (``LinearSpec``, ``OneCycleSpec``, ...) is evaluated from its own formula over
``jax.numpy``: in float64 and rounded once to float32 on CPU and GPU (as the cyclic schedule),
in float32 on other platforms (TPUs have no float64), one path picked for the platforms the
schedule is for (``platforms=``, or the default backend's: ``_schedules.path_schedule``). A ``SequentialSpec``
picks its phase by the step (a select chain over the starts) and evaluates it at the phase's
own step; its momentum where a phase leaves it alone is a constant the spec computes. Dispatch
is by spec type and fails closed.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Optional, cast

import jax
import jax.numpy as jnp
import numpy as np
import optax

from clr_spec import Spec
from clr_spec._family import check_spec
from clr_spec._ops import NUMPY

from ._decided import decided_float32
from ._ops import JaxFloat32Ops, JaxFloat64Ops
from ._plateau import schedule_builder as _plateau_builder
from ._plateau import sequence_schedule_builder as _plateau_sequence_builder
from ._schedules import (
    MAX_COUNT,
    Float32Method,
    _as_step,
    _rounded_to_float32,
    build_schedule,
    constant_schedule,
    path_schedule,
    resolved_method,
    target_platforms,
)


def lr_schedule(spec: Spec, group: int = 0, *, platforms: Any = None) -> optax.Schedule:
    """The lr of any clr_spec spec as an optax schedule ``count -> lr``.

    ``lr(k)`` is the lr of the (k+1)-th update, as torch's scheduler gives it after ``k``
    calls of ``step()``. float32 by default (float64 under ``jax_enable_x64``); jittable and
    vmappable; counts are clipped to ``[0, 2**31 - 1]``.

    ``platforms``: where the schedule will run, when that is not the default backend
    (``jax.default_backend()``, asked when the schedule is traced): on CPU and GPU a float32
    schedule is torch's float64 value rounded once, on a TPU (no float64) float32 arithmetic
    alone, and only the path of the platforms it is for is traced. To lower or export for a TPU from a CPU host, build with
    ``platforms="tpu"``; for one program that runs on both, ``platforms=["cpu", "tpu"]`` (both
    paths, picked per platform at lowering).

    >>> import jax.numpy as jnp, clr_optax
    >>> from clr_spec import CyclicSpec, LinearSpec, SequentialSpec
    >>> spec = SequentialSpec([LinearSpec(lr=1.0, start_factor=0.5, total_iters=2),
    ...                        CyclicSpec(base_lr=1, max_lr=3, step_size_up=2)], milestones=[2])
    >>> clr_optax.lr_schedule(spec)(jnp.arange(8)).tolist()
    [0.5, 0.75, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0]
    """
    with target_platforms(platforms):
        return schedule_of(spec, "lr", group)


def momentum_schedule(spec: Spec, group: int = 0, *, platforms: Any = None) -> optax.Schedule:
    """The momentum (or Adam's beta1) of any spec that sets it, as an optax schedule.

    For a ``SequentialSpec``, phases that do not cycle momentum hold what torch's optimizer
    holds there (``SequentialSpec.momentum``). A spec that never sets momentum (a lone
    ``LinearSpec``, a ``CyclicSpec`` with ``cycle_momentum=False``) has none: the optimizer's
    own momentum applies, and this raises, as ``spec.momentum`` does. ``platforms`` as for
    ``lr_schedule``."""
    with target_platforms(platforms):
        return schedule_of(spec, "momentum", group)


def schedule_of(spec: Spec, what: str, group: int, method: Float32Method = "auto") -> optax.Schedule:
    """The schedule of ``spec``, built as its ``EVALUATOR`` says; ``method`` picks the float32
    path as for the cyclic schedule (the tests run the float32-only path of TPUs on CPU with
    "float-float")."""
    check_spec(spec)
    if what not in ("lr", "momentum"):
        raise ValueError(f"what must be 'lr' or 'momentum', got {what!r}")
    if what == "momentum":
        spec.momentum(0, group)  # a clear error now where the spec does not set momentum
    if not jax.config.read("jax_enable_x64"):
        _check_float32_range(spec, what, group)
    builder = _BUILDERS.get(spec.EVALUATOR)
    if builder is None:
        raise TypeError(
            f"clr_optax has no schedule builder {spec.EVALUATOR!r} (for {type(spec).__name__}); "
            f"it has {sorted(_BUILDERS)}"
        )
    return builder(spec, what, group, method)


_FLOAT32_MAX = float(np.finfo(np.float32).max)
# The fields that bound a spec's values (its lr or momentum is between them, or is one of them).
_BOUND_FIELDS = {
    "lr": ("base_lr", "max_lr", "initial_lr", "eta_min"),
    "momentum": ("base_momentum", "max_momentum", "momentum_"),
}


def _check_float32_range(spec: Any, what: str, group: int) -> None:
    """A float32 schedule holds values up to 3.4e38: a spec whose lr (or momentum) passes that would
    give inf, and is refused (under x64 it is not)."""
    largest = 0.0
    for _, phase in spec.phases or ((0, spec),):
        for name in _BOUND_FIELDS[what]:
            value = getattr(phase, name, None)
            if isinstance(value, tuple):
                value = value[group] if group < len(value) else max(value)
            if isinstance(value, (int, float)):
                largest = max(largest, abs(float(value)))
        if what == "lr" or phase.sets_momentum:
            marks = np.asarray(sorted({0, *(k for k in phase.landmarks() if k < 2**53)}), np.int64)
            try:
                values = phase.lr(marks, group) if what == "lr" else phase.momentum(marks, group)
            except (TypeError, ValueError, ArithmeticError):
                continue  # a user's function numpy cannot call (written for JAX): the fields bound it
            largest = max(largest, float(np.max(np.abs(values))))
    if largest > _FLOAT32_MAX:
        raise ValueError(
            f"the spec's {what} reaches {largest:.3g}, past float32's range ({_FLOAT32_MAX:.3g}): a float32 "
            "schedule would give inf; enable jax_enable_x64 for float64 schedules"
        )


def _formula_schedule(spec: Any, what: str, group: int, method: Float32Method) -> Callable:
    """A spec's own closed form (``values_at``) over jax ops: float64, rounded once to float32
    on CPU and GPU; float32 throughout on other platforms (TPUs have no float64)."""
    spec.values_at(NUMPY, np.zeros(1, np.int64), what, group)  # a clear error now, not when traced

    def float64_value(step, count, ops=None):
        ops = JaxFloat64Ops(count) if ops is None else ops
        return spec.values_at(ops, step.astype(jnp.float64), what, group)

    def float32_value(step, count):
        # int32 steps: the formulas keep positions exact in integers, the rest is float32.
        return jnp.asarray(spec.values_at(JaxFloat32Ops(), step, what, group), jnp.float32)

    _check_traceable(spec, float32_value, float64_value, resolved_method(method))
    if spec.float32_exact:
        # A table lookup: the float32 values are float32(float64) already, on every platform, so
        # no float64 evaluation and no per-platform choice (``method`` has nothing to pick).
        def lookup(count):
            count = jnp.asarray(count)
            step = _as_step(count)
            if jax.config.jax_enable_x64:
                return jnp.asarray(float64_value(step, count), jnp.float64)
            return float32_value(step, count)

        return lookup

    return path_schedule(
        method,
        x64=lambda step, count: jnp.asarray(float64_value(step, count), jnp.float64),
        via_float64=_rounded_to_float32(
            lambda step, count: float64_value(step, count, JaxFloat64Ops(count, rounded=True))
        ),
        float32=float32_value,
        on_cpu=decided_float32(float64_value, _as_step) if _takes_cosine(spec, what, group) else None,
    )


def _takes_cosine(spec: Any, what: str, group: int) -> bool:
    """Whether the spec's float64 formula takes a cosine (``JaxFloat64Ops.cos``, counted when
    traced): its float32 values are then decided from a fast one (``_decided``)."""
    taken = []

    def probe(step, count):
        ops = JaxFloat64Ops(count)
        value = spec.values_at(ops, step.astype(jnp.float64), what, group)
        taken.append(ops.cosines)
        return value

    step = jax.ShapeDtypeStruct((), jnp.int32)
    with jax.enable_x64(True):
        jax.eval_shape(probe, step, step)
    return taken[0] > 0


def _check_traceable(
    spec: Any, float32_value: Callable, float64_value: Callable, method: Optional[Float32Method]
) -> None:
    """Trace the evaluations the schedule can run (``method`` as ``resolved_method`` gives it: the
    float64 one for CPU and GPU and under x64, the float32 one for TPUs, both for a mix or where the
    platform is not known yet) on abstract steps now, so that a formula JAX cannot trace (a user's
    ``lr_lambda``) fails here, with the fix, not inside the caller's ``jit``."""
    step = jax.ShapeDtypeStruct((), jnp.int32)
    try:
        x64 = jax.config.read("jax_enable_x64")
        if method != "float64" and not x64:
            jax.eval_shape(float32_value, step, step)
        if method != "float-float" or x64:
            with jax.enable_x64(True):
                jax.eval_shape(lambda s, c: float64_value(s.astype(jnp.float64), c), step, step)
    except Exception as err:  # noqa: BLE001 - re-raised with the fix
        raise TypeError(
            f"{type(spec).__name__}'s schedule cannot be traced by JAX: a function it holds (lr_lambda) gets the "
            "step as a traced float holding the whole number, so write it with arithmetic and jax.numpy on it "
            "(lambda k: 0.95 ** k, jnp.minimum(1.0, (k + 1) / 100), jnp.where(k < 10, 0.1, 1.0)), not math.*, "
            f"numpy or Python if/else. Tracing it failed with: {type(err).__name__}: {err}"
        ) from err


def _cyclic_schedule(spec: Any, what: str, group: int, method: Float32Method) -> Callable:
    # schedule_of has checked that what is "lr" or "momentum" (and build_schedule checks again).
    return build_schedule(spec, cast(Literal["lr", "momentum"], what), group, method)


def _sequential_schedule(spec: Any, what: str, group: int, method: Float32Method) -> Callable:
    pieces, starts = [], []
    for i, (start, phase) in enumerate(spec.phases):
        if start > MAX_COUNT:
            break  # counts are clipped to 2**31 - 1: a phase starting later is never reached
        if what == "momentum" and not phase.sets_momentum:
            pieces.append(constant_schedule(spec.held_momentum(i, group)))
        else:
            pieces.append(schedule_of(phase, what, group, method))
        starts.append(start)

    def schedule(count):
        step = _as_step(count)
        # A select chain over the starts (a handful): searchsorted is a loop of gathers under XLA,
        # which cost more than all the phases' formulas in a scan's step, and 3 ms per 1M steps.
        out = pieces[0](step)
        for piece, start in zip(pieces[1:], starts[1:]):
            out = jnp.where(step >= start, piece(step - start), out)
        return out

    return schedule


# One builder per EVALUATOR a spec can name (clr_spec._contract.EVALUATORS).
_BUILDERS = {
    "formula": _formula_schedule,
    "cyclic": _cyclic_schedule,
    "sequence": _sequential_schedule,
    "chained": _formula_schedule,  # a ChainedSpec's values are its own table
    "plateau": _plateau_builder,  # a stateful schedule that reads update(..., value=metric)
    "plateau_sequence": _plateau_sequence_builder,
}  # the phases' lr, then the plateau's (stateful)
