"""Optax schedules for cyclical learning rates and the momentum cycled against them."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import numbers
from typing import Any, Callable, Iterator, Literal, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from clr_spec import CyclicSpec
from clr_spec._family import is_spec
from clr_spec._ops import NUMPY

from ._float_float import float_float_schedule
from ._ops import JaxFloat64Ops

MAX_COUNT = 2**31 - 1
# How a float32 schedule is computed: "auto" is "float64" on CPU and GPU (one float64 evaluation
# of torch's formula, rounded once) and "float-float" elsewhere (TPUs have no float64 hardware).
Float32Method = Literal["auto", "float64", "float-float"]

# The platforms with float64 hardware: "auto" takes the float64 path there (jax.default_backend()
# says "gpu" for both CUDA and ROCm; lax.platform_dependent says "cuda" or "rocm").
FLOAT64_PLATFORMS = frozenset({"cpu", "gpu", "cuda", "rocm"})
# The platforms a schedule is being built for, while ``target_platforms`` holds (None: the default
# backend's). A contextvar, so that a sequence's pieces built inside one call see the same target.
_TARGET: contextvars.ContextVar[Optional[tuple[str, ...]]] = contextvars.ContextVar("clr_optax_platforms", default=None)


def checked_platforms(platforms: Any) -> Optional[tuple[str, ...]]:
    """``platforms`` as a tuple of lower-case platform names (None stays None: the default backend).

    Raises:
      TypeError: not a string or a sequence of strings.
      ValueError: an empty sequence.
    """
    if platforms is None:
        return None
    if isinstance(platforms, str):
        platforms = (platforms,)
    if not isinstance(platforms, Sequence) or not all(isinstance(p, str) for p in platforms):
        raise TypeError(
            f"platforms must be a platform name or a list of them (e.g. 'tpu' or ['cpu', 'tpu']), got {platforms!r}"
        )
    if not platforms or not all(platforms):
        raise ValueError(
            "platforms must name at least one platform (e.g. ['tpu']); leave it out (None) for the default backend's"
        )
    return tuple(p.lower() for p in platforms)


@contextlib.contextmanager
def target_platforms(platforms: Any) -> Iterator[None]:
    """Build the schedules inside for ``platforms`` (see ``path_schedule``); None: the default backend."""
    token = _TARGET.set(checked_platforms(platforms))
    try:
        yield
    finally:
        _TARGET.reset(token)


def _spec_from(spec: Optional[CyclicSpec], kwargs: dict[str, Any]) -> CyclicSpec:
    if spec is None:
        return CyclicSpec(**kwargs)
    if kwargs:
        raise TypeError(f"pass either a CyclicSpec or torch's keywords, not both (got {sorted(kwargs)})")
    if not (is_spec(spec) and spec.EVALUATOR == "cyclic"):
        raise TypeError(f"spec must be a CyclicSpec, got {type(spec).__name__} (clr_optax.lr_schedule takes any spec)")
    return spec


def cyclic_lr_schedule(
    spec: Optional[CyclicSpec] = None, *, group: int = 0, platforms: Any = None, **torch_kwargs: Any
):
    r"""Cyclical learning rate (torch's ``CyclicLR``) as an optax schedule ``count -> lr``.

    .. math::

        \text{lr}(k) = \text{base\_lr} + (\text{max\_lr} - \text{base\_lr})\, f(k)\, s(k)

    with ``f`` the triangular wave in [0, 1] (peak after ``step_size_up`` steps, back at
    ``base_lr`` after ``step_size_up + step_size_down``) and ``s`` the amplitude scale of
    the mode; see ``clr_spec._closed_form`` for the full definition. ``lr(k)`` is the lr
    of the (k+1)-th update, as with torch's scheduler after ``k`` calls of ``step()``
    (optax evaluates a schedule at the count before incrementing it).

    Precision: with ``jax_enable_x64`` the result is float64 and follows torch's formula
    operation for operation (bitwise torch's values for the built-in modes). In float32
    (JAX's default) it is that float64 value rounded once to float32 on CPU and GPU, so
    ``float32(torch's value)`` exactly. On other platforms (TPU: no float64 hardware) it
    is computed in float32 arithmetic alone and is within 1 ulp of it at every count up
    to ``2**31 - 1`` (4 ulps with a custom ``scale_fn``, whose own float32 rounding adds in).

    Args:
      spec: a ``clr_spec.CyclicSpec``; or leave it out and pass torch's ``CyclicLR``
        keywords (``base_lr=..., max_lr=..., step_size_up=...``) directly.
      group: which param group's bounds to use when the bounds are per-group sequences
        (one schedule per ``optax.multi_transform`` label).
      platforms: the platforms the schedule will be lowered for, when not (only) the default
        backend's: ``"tpu"`` (or ``["tpu"]``) to lower or export for a TPU from a CPU host (the
        float32-only path), ``["cpu", "tpu"]`` for one program that runs on both (both paths,
        picked per platform at lowering). None (default): ``jax.default_backend()``'s, asked when
        the schedule is traced; only that platform's path is traced.

    Returns:
      A jittable, vmappable ``optax.Schedule``. Counts are clipped to ``[0, 2**31 - 1]``.

    References:
      Smith, `Cyclical Learning Rates for Training Neural Networks
      <https://arxiv.org/abs/1506.01186>`_, 2017.

    Example (base 1, max 5, 4 steps up; float32, equal to torch's values):

    >>> import jax, jax.numpy as jnp, optax, clr_optax
    >>> schedule = clr_optax.cyclic_lr_schedule(base_lr=1, max_lr=5, step_size_up=4)
    >>> jax.jit(schedule)(jnp.arange(10)).tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 1.0, 2.0]
    >>> tx = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)
    """
    with target_platforms(platforms):
        return build_schedule(_spec_from(spec, torch_kwargs), "lr", group)


def cyclic_momentum_schedule(
    spec: Optional[CyclicSpec] = None, *, group: int = 0, platforms: Any = None, **torch_kwargs: Any
):
    r"""Momentum cycled inversely to the lr, as torch's ``CyclicLR(cycle_momentum=True)`` does.

    .. math::

        m(k) = \text{max\_momentum} - (\text{max\_momentum} - \text{base\_momentum})\, f(k)\, s(k)

    Use it for ``optax.sgd``'s ``momentum`` or ``optax.adam``'s ``b1`` (torch's ``betas[0]``)
    through ``optax.inject_hyperparams``. Same arguments (``platforms`` too) and precision as
    ``cyclic_lr_schedule``. When ``spec.cycle_momentum`` is False torch leaves momentum
    alone: this returns the constant ``max_momentum``, which is what torch's optimizer
    keeps only if you built it with that momentum.

    >>> import jax.numpy as jnp, clr_optax
    >>> from clr_spec import CyclicSpec
    >>> spec = CyclicSpec(base_lr=1, max_lr=5, step_size_up=4, base_momentum=0.5, max_momentum=1.0)
    >>> clr_optax.cyclic_momentum_schedule(spec)(jnp.arange(9)).tolist()
    [1.0, 0.875, 0.75, 0.625, 0.5, 0.625, 0.75, 0.875, 1.0]
    """
    with target_platforms(platforms):
        return build_schedule(_spec_from(spec, torch_kwargs), "momentum", group)


def build_schedule(
    spec: CyclicSpec, what: Literal["lr", "momentum"], group: int = 0, float32_method: Float32Method = "auto"
):
    """The ``what`` schedule of ``spec``'s param group ``group``.

    ``float32_method`` picks how float32 values are computed (see ``Float32Method``); the
    tests and benchmarks use it to run the float-float path on CPU. Under
    ``jax_enable_x64`` it does not matter: the result is float64.
    """
    base, top, low, high = spec.group_bounds(group)
    if what == "lr":
        return _build(spec, float32_method, what, group, start=base, height=top - base, sign=1.0)
    if what != "momentum":
        raise ValueError(f"what must be 'lr' or 'momentum', got {what!r}")
    if not spec.cycle_momentum:
        return constant_schedule(high)
    return _build(spec, float32_method, what, group, start=high, height=high - low, sign=-1.0)


def constant_schedule(value: float) -> Callable:
    """``count -> value`` in the schedules' dtype (float64 under x64, else float32)."""

    def constant(count):
        return jnp.full(jnp.shape(count), value, dtype=jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)

    return constant


def _method_for(platforms: tuple[str, ...]) -> Float32Method:
    """The path for ``platforms``: "float64" where all have float64 hardware, "float-float" where
    none has, "auto" (both, chosen per platform at lowering) for a mix."""
    with_float64 = [p in FLOAT64_PLATFORMS for p in platforms]
    if all(with_float64):
        return "float64"
    return "float-float" if not any(with_float64) else "auto"


def resolved_method(method: Float32Method) -> Optional[Float32Method]:
    """``method`` as far as it is known when a schedule is built: "auto" resolved for the platforms
    a ``platforms=`` keyword names (``target_platforms``); None where none does (the default
    backend's, resolved when the schedule is traced: asking for it now would start the backends,
    which must wait for ``jax.distributed.initialize``)."""
    if method not in ("auto", "float64", "float-float"):
        raise ValueError(f"float32_method must be 'auto', 'float64' or 'float-float', got {method!r}")
    if method != "auto":
        return method
    target = _TARGET.get()
    return None if target is None else _method_for(target)


def path_schedule(
    method: Float32Method, x64: Callable, via_float64: Callable, float32: Callable, on_cpu: Optional[Callable] = None
) -> Callable:
    """``count -> value`` from one of a schedule's evaluations, each ``(step, count) -> value``:
    ``x64`` under ``jax_enable_x64``; otherwise ``via_float64`` (float64 rounded once to float32)
    on CPU and GPU and ``float32`` (float32 arithmetic alone) elsewhere (TPUs have no float64
    hardware); ``method`` forces one (tests, benchmarks). ``on_cpu``, where given, is the float64
    evaluation for CPUs alone (``_decided``'s: measured there; on a GPU its loop's test could wait
    for the device, and a GPU's float64 cosine is not the wall a CPU's is; not measured).

    "auto" picks one path: for the platforms a ``platforms=`` keyword of the public builders
    names (``target_platforms``), when the schedule is built; else for the default backend's
    (``jax.default_backend()``), when it is traced. Only the path picked is traced and lowered:
    ``lax.platform_dependent`` traces every branch on every platform, which made lowering a
    schedule several times slower than it needs to be. Platforms with and without float64
    (``["cpu", "tpu"]``) get both paths, chosen per platform at lowering by
    ``lax.platform_dependent``.
    """
    built_for, target = resolved_method(method), _TARGET.get()
    cpu = on_cpu or via_float64

    def schedule(count):
        count = _host_clipped(count)
        step = _as_step(count)
        if jax.config.jax_enable_x64:
            return x64(step, count)
        platforms = target or (jax.default_backend().lower(),)
        chosen = built_for or _method_for(platforms)
        if chosen == "float64":
            return (cpu if set(platforms) == {"cpu"} else via_float64)(step, count)
        if chosen == "float-float":
            return float32(step, count)
        # Built for platforms with and without float64: chosen when lowering for each of them.
        return lax.platform_dependent(step, count, cpu=cpu, cuda=via_float64, rocm=via_float64, default=float32)

    return schedule


def _host_clipped(count) -> jnp.ndarray:
    """``count`` as a jax array; a Python or numpy integer past what int32 holds (2**31, 10**20) is
    clipped to ``[0, 2**31 - 1]`` on the host first, as the docs promise, where ``jnp.asarray``
    would raise (or, for an int64 numpy array with 64-bit types off, wrap around)."""
    if isinstance(count, numbers.Integral) and not isinstance(count, bool):
        return jnp.asarray(min(max(int(count), 0), MAX_COUNT))
    if isinstance(count, (np.ndarray, np.integer)) and np.issubdtype(np.asarray(count).dtype, np.integer):
        return jnp.asarray(np.clip(np.asarray(count), 0, MAX_COUNT).astype(np.int32))
    return jnp.asarray(count)


def _as_step(count) -> jnp.ndarray:
    count = _host_clipped(count)
    if jnp.issubdtype(count.dtype, jnp.floating):
        count = jnp.floor(jnp.clip(count, 0, MAX_COUNT))
    return jnp.clip(count, 0, MAX_COUNT).astype(jnp.int32)


def _check_scale_fn(fn: Callable) -> None:
    """Trace ``fn`` on an abstract float32, and on a float64 with 64-bit types enabled (the two
    ways a schedule calls it), so that an untraceable function fails here, clearly."""
    try:
        out = jax.eval_shape(fn, jax.ShapeDtypeStruct((), jnp.float32))
        with jax.enable_x64(True):
            out64 = jax.eval_shape(fn, jax.ShapeDtypeStruct((), jnp.float64))
    except Exception as err:  # noqa: BLE001 - re-raised with the fix
        raise TypeError(
            "scale_fn must be traceable by JAX: it receives the cycle number (scale_mode='cycle') "
            "or step (scale_mode='iterations') as a traced float array holding a whole number, "
            "so use arithmetic and jax.numpy functions on it (e.g. lambda x: 1 / (2 ** (x - 1)), "
            "jnp.where(x % 2 == 0, 1.0, 0.5) or jnp.exp(-x / 1e4)), not math.*, numpy or Python "
            f"if/else. Tracing it failed with: {type(err).__name__}: {err}"
        ) from err
    for arg_dtype, result in (("float32", out), ("float64", out64)):
        if not (
            isinstance(result, jax.ShapeDtypeStruct) and jnp.issubdtype(result.dtype, jnp.number) and result.shape == ()
        ):
            raise TypeError(f"scale_fn must map a scalar {arg_dtype} to a scalar number, got {result}")


def _call_scale_fn(fn: Callable, arg: jnp.ndarray, dtype) -> jnp.ndarray:
    return jnp.broadcast_to(jnp.asarray(fn(arg), dtype=dtype), arg.shape)


def _float64_cyclic(spec: CyclicSpec, what: str, group: int, exact_power: bool) -> Callable:
    """``(step, count) -> value``: the spec's formula (``clr_spec._closed_form``) over
    ``JaxFloat64Ops``, to be traced with 64-bit types on."""

    def value(step, count):
        return spec.values_at(JaxFloat64Ops(count, exact_power), step.astype(jnp.float64), what, group)

    return value


def _build(spec: CyclicSpec, method: Float32Method, what: str, group: int, *, start: float, height: float, sign: float):
    if spec.scale_fn is not None:
        _check_scale_fn(spec.scale_fn)
    else:
        spec.values_at(NUMPY, np.zeros(1, np.int64), what, group)  # an unknown mode fails here, clearly
    scale32 = None
    if spec.scale_fn is not None:
        scale32 = functools.partial(_call_scale_fn, spec.scale_fn, dtype=jnp.float32)
    float_float = float_float_schedule(spec, start, height, sign, scale32)
    # Under x64 the float64 values are the result: torch's, bitwise for the built-in modes.
    return path_schedule(
        method,
        x64=_float64_cyclic(spec, what, group, exact_power=True),
        via_float64=_rounded_to_float32(_float64_cyclic(spec, what, group, exact_power=False)),
        float32=lambda step, count: float_float(step),
    )


def _rounded_to_float32(f64_schedule: Callable) -> Callable:
    """Evaluate in float64, even with JAX's 64-bit types off, and round once to float32.

    The float64 part is traced with 64-bit types enabled inside its own ``jax.jit``, so
    that the caller's program stays float32 around it. Rounding torch's own float64 value
    once is exact by construction, and on CPU it is several times faster than float-float
    arithmetic (README, Benchmarks).
    """

    def float64_cyclic_schedule(step, count):
        return f64_schedule(step, count).astype(jnp.float32)

    inner = jax.jit(float64_cyclic_schedule)

    def schedule(step, count):
        with jax.enable_x64(True):
            return inner(step, count)

    return schedule
