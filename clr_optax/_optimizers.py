"""SGD, Adam, AdamW and RMSprop with torch's update rules, driven by a cyclical lr.

Each public function returns ``optax.inject_hyperparams(<torch rule>)(learning_rate=<CLR>,
momentum or b1=<cycled momentum or constant>, ...)``, so the lr and momentum of the update just
applied are in ``state.hyperparams`` (``clr_optax.current_hyperparams``), where a torch user
reads ``param_groups[i]["lr"]``. The other keywords are static, as plain Python numbers let the
rules branch exactly where torch branches (``if weight_decay != 0``).

Where optax's own optimizers differ from torch's, these follow torch:
- SGD: ``dampening`` (``optax.sgd`` has none; torch's first momentum step stores the gradient
  undamped) and ``weight_decay``, torch's L2 term added to the gradient.
- Adam: ``weight_decay`` is that L2 term too (``optax.adam`` has none) and ``amsgrad`` is a
  flag; bias corrections use the current ``beta1``, as torch does when CyclicLR cycles it.
- RMSprop: torch divides by ``sqrt(v) + eps`` (eps outside the root) and applies the lr after
  the momentum buffer (``buf = m*buf + g/avg; p -= lr*buf``); ``optax.rmsprop`` puts eps inside
  the root by default and scales by the lr before its momentum trace, which differs once the lr
  changes between steps, i.e. always under a CLR.

Hyperparameters are float32 (float64 under ``jax_enable_x64``) whatever the params' dtype:
``inject_hyperparams`` would otherwise cast the lr to bfloat16 for bfloat16 params. Buffers
keep the params' dtype, as torch's ``zeros_like(param)`` does; arithmetic runs in the wider
of the two and each result is stored back in the buffer's dtype.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import optax

from clr_spec import Spec
from clr_spec import _validation as v
from clr_spec._family import check_spec

from ._family import lr_schedule, momentum_schedule
from ._variables import value_of

_MAP = jax.tree_util.tree_map


# --------------------------------------------------------------------------- shared pieces
def _hyperparam_dtype():
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def _require_spec(spec: Any, group: int) -> Any:
    check_spec(spec)
    v.group_index(group, spec.num_groups)  # a clear error for a group the spec does not have
    return spec


def _with_clr(
    rule, spec: Any, group: int, momentum_name: str, momentum: float, **static: Any
) -> optax.GradientTransformationExtraArgs:
    """torch's rule with the spec's lr and, where the spec sets momentum, its momentum."""
    scheduled_momentum = momentum_schedule(spec, group=group) if spec.sets_momentum else momentum
    injected = optax.inject_hyperparams(rule, static_args=tuple(static), hyperparam_dtype=_hyperparam_dtype())
    return injected(learning_rate=lr_schedule(spec, group=group), **{momentum_name: scheduled_momentum}, **static)


def _momentum_range(spec: Spec, group: int) -> tuple[float, float]:
    """The lowest and highest momentum a momentum-setting spec sets (the spec says)."""
    bounds = spec.momentum_range(group)
    if bounds is None:
        raise ValueError(f"{type(spec).__name__} sets no momentum")
    return bounds


def _zeros_like(tree):
    # optax.tree.zeros_like is newer than the oldest optax supported (0.2.3).
    return jax.tree.map(jnp.zeros_like, tree)


def _check_range(name: str, value: Any, low: float, high: float = math.inf, *, high_open: bool = False) -> float:
    """A hyperparameter in its range, and finite: an infinite weight_decay, momentum or dampening
    (or eps) can only make the parameters inf or NaN (torch takes them)."""
    return v.in_range(name, value, low, high, high_open=high_open or high == math.inf)


def _check_momentum_bounds(spec: Any, group: int, name: str) -> None:
    """beta1 == 1 makes Adam's bias correction 1 - beta1**t zero, as it does in torch."""
    if spec.sets_momentum:
        _, high = _momentum_range(spec, group)
        if high >= 1:
            raise ValueError(
                f"max_momentum must be < 1 when it cycles {name} (Adam's bias correction "
                f"1 - beta1**t is 0 at beta1 = 1), got {high!r} for group {group}"
            )


def _gradient(grads, params, weight_decay: float, maximize: bool):
    """torch's first lines: ``grad = -grad if maximize``; ``grad = grad + weight_decay * param``."""
    if maximize:
        grads = _MAP(jnp.negative, grads)
    if weight_decay != 0:
        if params is None:
            raise ValueError("weight_decay != 0 needs the params: call update(grads, state, params)")
        grads = _MAP(lambda g, p: g + weight_decay * p, grads, params)
    return grads


def _store(new, like):
    """Keep each buffer (and update) in the dtype of the array it replaces."""
    return _MAP(lambda n, o: n.astype(o.dtype), new, like)


def _lerp(start, end, weight):
    """``torch.lerp``, with its two formulas (exact at weight 0 and at weight 1)."""
    return jnp.where(weight < 0.5, start + weight * (end - start), end - (end - start) * (1 - weight))


def _power_complement(base, t, log_base=None):
    """``1 - base**t`` as ``-expm1(t * log(base))``: accurate for base near 1 (Adam's beta2)."""
    log_base = jnp.log(base) if log_base is None else log_base
    return -jnp.expm1(t * log_base)


# --------------------------------------------------------------------------- torch.optim.SGD
class SGDState(NamedTuple):
    momentum_buffer: Any  # like params; None when momentum is never used
    has_buffer: jnp.ndarray  # torch creates the buffer (= grad) on the first step with momentum != 0


def _sgd_rule(
    learning_rate,
    momentum,
    *,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    uses_momentum: bool,
) -> optax.GradientTransformation:
    def init(params):
        buffer = _zeros_like(params) if uses_momentum else None
        return SGDState(momentum_buffer=buffer, has_buffer=jnp.zeros([], jnp.bool_))

    def update(grads, state, params=None):
        grads = _gradient(grads, params, weight_decay, maximize)
        if not uses_momentum:
            return _store(_MAP(lambda g: -learning_rate * g, grads), grads), state
        active = momentum != 0  # torch: `if momentum != 0` on the group's current value
        candidate = _MAP(
            lambda b, g: jnp.where(state.has_buffer, momentum * b + (1 - dampening) * g, g),
            state.momentum_buffer,
            grads,
        )
        candidate = _store(candidate, state.momentum_buffer)
        if nesterov:
            direction = _MAP(lambda g, b: g + momentum * b, grads, candidate)
        else:
            direction = candidate
        direction = _MAP(lambda d, g: jnp.where(active, d, g), direction, grads)
        buffer = _MAP(lambda c, b: jnp.where(active, c, b), candidate, state.momentum_buffer)
        updates = _store(_MAP(lambda d: -learning_rate * d, direction), grads)
        return updates, SGDState(momentum_buffer=buffer, has_buffer=state.has_buffer | active)

    return optax.GradientTransformation(init, update)


def sgd(
    spec: Any,
    group: int = 0,
    *,
    lr: Optional[float] = None,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    maximize: bool = False,
    foreach: Optional[bool] = None,
    differentiable: bool = False,
    fused: Optional[bool] = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.SGD`` driven by ``clr_torch.CyclicLR(spec)``, as an optax transformation.

    Per update (torch's rule): ``g = grad + weight_decay * p``; with momentum,
    ``buf = g`` on the first step, ``buf = momentum * buf + (1 - dampening) * g`` after, and
    ``g = g + momentum * buf`` (nesterov) or ``g = buf``; then ``p -= lr * g``.

    Args:
      spec: any clr_spec spec (``CyclicSpec``, ``SequentialSpec`` of a warmup, the cycles and
        a tail, ...); its lr (group ``group``) replaces ``lr``, and where it sets momentum
        (a ``CyclicSpec`` with ``cycle_momentum``) its momentum replaces ``momentum``,
        exactly as torch's schedulers overwrite ``param_groups[group]``.
      group: which param group's bounds to use (one optimizer per ``optax.multi_transform`` label).
      lr: accepted for torch's signature and ignored: the spec sets the lr.
      momentum, dampening, weight_decay, nesterov, maximize: torch's keywords and defaults.
      foreach, differentiable, fused: torch implementation switches; accepted, no effect here.

    Returns:
      An optax ``GradientTransformationExtraArgs``; ``state.hyperparams["learning_rate"]`` and
      ``["momentum"]`` hold the values used by the last update.

    Example (lr 1, 2, 3; momentum held at 0.5; a constant gradient of 1): torch's buffer is
    1, then 0.5 * 1 + 1 = 1.5, then 0.5 * 1.5 + 1 = 1.75, times the lr:

    >>> import jax.numpy as jnp, clr_optax
    >>> from clr_spec import CyclicSpec
    >>> tx = clr_optax.sgd(CyclicSpec(base_lr=1, max_lr=5, step_size_up=4, base_momentum=0.5, max_momentum=0.5))
    >>> params = jnp.zeros(1)
    >>> state = tx.init(params)
    >>> for _ in range(3):
    ...     updates, state = tx.update(jnp.ones(1), state, params)
    ...     print(updates.tolist())
    [-1.0]
    [-3.0]
    [-5.25]
    """
    del lr, foreach, differentiable, fused
    spec = _require_spec(spec, group)
    momentum = _check_range("momentum", momentum, 0.0)
    dampening = v.finite("dampening", dampening)  # torch takes any; an infinite one makes NaN
    weight_decay = _check_range("weight_decay", weight_decay, 0.0)
    if nesterov:
        low = _momentum_range(spec, group)[0] if spec.sets_momentum else momentum
        if low <= 0 or dampening != 0:
            raise ValueError(
                "nesterov needs a momentum > 0 at every step (momentum, or base_momentum when "
                f"the spec cycles it) and dampening == 0; got momentum {low!r}, dampening {dampening!r}"
            )
    return _with_clr(
        _sgd_rule,
        spec,
        group,
        "momentum",
        momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=bool(nesterov),
        maximize=bool(maximize),
        uses_momentum=spec.sets_momentum or momentum != 0,
    )


# --------------------------------------------------------------------------- torch.optim.Adam / AdamW
class AdamState(NamedTuple):
    # optax's name (set_count finds it); mypy sees it shadow tuple.count.
    count: jnp.ndarray  # type: ignore[assignment]  # torch's state["step"]: updates taken, int32
    exp_avg: Any
    exp_avg_sq: Any
    max_exp_avg_sq: Any  # None unless amsgrad


def _adam_rule(
    learning_rate,
    b1,
    *,
    b2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> optax.GradientTransformation:
    # log(b2) rounded once from float64: b2**t then has a relative error of about t * 2**-24 * |log b2|
    # instead of t * 2**-24 from rounding b2 itself (6e-5 at t = 1000 for b2 = 0.999).
    log_b2 = math.log(b2) if b2 > 0 else -math.inf

    def init(params):
        zeros = _zeros_like
        return AdamState(
            count=jnp.zeros([], jnp.int32),
            exp_avg=zeros(params),
            exp_avg_sq=zeros(params),
            max_exp_avg_sq=zeros(params) if amsgrad else None,
        )

    def update(grads, state, params=None):
        count = optax.safe_increment(state.count)
        decay = weight_decay if not decoupled_weight_decay else 0.0
        grads = _gradient(grads, params, decay, maximize)
        if decoupled_weight_decay and weight_decay != 0 and params is None:
            raise ValueError("weight_decay != 0 needs the params: call update(grads, state, params)")
        exp_avg = _store(_MAP(lambda m, g: _lerp(m, g, 1 - b1), state.exp_avg, grads), state.exp_avg)
        exp_avg_sq = _store(_MAP(lambda v, g: b2 * v + (1 - b2) * (g * g), state.exp_avg_sq, grads), state.exp_avg_sq)
        if amsgrad:
            max_exp_avg_sq = _MAP(jnp.maximum, state.max_exp_avg_sq, exp_avg_sq)
            second = max_exp_avg_sq
        else:
            max_exp_avg_sq, second = None, exp_avg_sq
        t = count.astype(_hyperparam_dtype())
        step_size = learning_rate / _power_complement(b1, t)
        root_correction = jnp.sqrt(_power_complement(b2, t, log_b2))
        updates = _MAP(lambda m, v: -step_size * (m / (jnp.sqrt(v) / root_correction + eps)), exp_avg, second)
        if decoupled_weight_decay and weight_decay != 0:
            # torch: p *= 1 - lr * weight_decay, before the Adam step
            updates = _MAP(lambda u, p: u - (learning_rate * weight_decay) * p, updates, params)
        return _store(updates, grads), AdamState(count, exp_avg, exp_avg_sq, max_exp_avg_sq)

    return optax.GradientTransformation(init, update)


def _adam_family(spec, group, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    spec = _require_spec(spec, group)
    if not isinstance(betas, Sequence) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    beta1 = _check_range("betas[0]", betas[0], 0.0, 1.0, high_open=True)
    beta2 = _check_range("betas[1]", betas[1], 0.0, 1.0, high_open=True)
    eps = _check_range("eps", eps, 0.0)
    weight_decay = _check_range("weight_decay", weight_decay, 0.0)
    _check_momentum_bounds(spec, group, "betas[0]")
    return _with_clr(
        _adam_rule,
        spec,
        group,
        "b1",
        beta1,
        b2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=bool(amsgrad),
        maximize=bool(maximize),
        decoupled_weight_decay=bool(decoupled),
    )


def adam(
    spec: Any,
    group: int = 0,
    *,
    lr: Optional[float] = None,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    foreach: Optional[bool] = None,
    capturable: bool = False,
    differentiable: bool = False,
    fused: Optional[bool] = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adam`` driven by ``clr_torch.CyclicLR(spec)``, as an optax transformation.

    Per update ``t`` (1-based, torch's rule): ``g = grad + weight_decay * p`` (or, with
    ``decoupled_weight_decay``, ``p *= 1 - lr * weight_decay`` as AdamW);
    ``m = lerp(m, g, 1 - beta1)``; ``v = beta2 * v + (1 - beta2) * g**2``;
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)`` (``v`` replaced by its
    running maximum with ``amsgrad``).

    Where the spec sets momentum, ``beta1`` is its momentum (torch's CyclicLR sets
    ``betas[0]``) and ``betas[0]`` is ignored; it is in ``state.hyperparams["b1"]`` either way.
    ``lr`` is ignored (the spec sets it); ``foreach``, ``capturable``, ``differentiable`` and
    ``fused`` are torch implementation switches with no effect here. Other arguments as in
    ``sgd``.
    """
    del lr, foreach, capturable, differentiable, fused
    return _adam_family(spec, group, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)


def adamw(
    spec: Any,
    group: int = 0,
    *,
    lr: Optional[float] = None,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    maximize: bool = False,
    foreach: Optional[bool] = None,
    capturable: bool = False,
    differentiable: bool = False,
    fused: Optional[bool] = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.AdamW``: ``adam`` with decoupled weight decay (default 1e-2, as torch)."""
    del lr, foreach, capturable, differentiable, fused
    return _adam_family(spec, group, betas, eps, weight_decay, amsgrad, maximize, True)


# --------------------------------------------------------------------------- torch.optim.RMSprop
class RMSpropState(NamedTuple):
    square_avg: Any
    grad_avg: Any  # None unless centered
    momentum_buffer: Any  # None when momentum is never used


def _rmsprop_rule(
    learning_rate,
    momentum,
    *,
    alpha: float,
    eps: float,
    weight_decay: float,
    centered: bool,
    maximize: bool,
    uses_momentum: bool,
) -> optax.GradientTransformation:
    def init(params):
        zeros = _zeros_like
        return RMSpropState(
            square_avg=zeros(params),
            grad_avg=zeros(params) if centered else None,
            momentum_buffer=zeros(params) if uses_momentum else None,
        )

    def update(grads, state, params=None):
        grads = _gradient(grads, params, weight_decay, maximize)
        square_avg = _store(
            _MAP(lambda s, g: alpha * s + (1 - alpha) * (g * g), state.square_avg, grads), state.square_avg
        )
        if centered:
            grad_avg = _store(_MAP(lambda a, g: _lerp(a, g, 1 - alpha), state.grad_avg, grads), state.grad_avg)
            avg = _MAP(lambda s, a: jnp.sqrt(s - a * a) + eps, square_avg, grad_avg)
        else:
            grad_avg = None
            avg = _MAP(lambda s: jnp.sqrt(s) + eps, square_avg)
        scaled = _MAP(jnp.divide, grads, avg)
        if not uses_momentum:
            updates = _MAP(lambda s: -learning_rate * s, scaled)
            return _store(updates, grads), RMSpropState(square_avg, grad_avg, None)
        active = momentum > 0  # torch: `if momentum > 0` on the group's current value
        candidate = _store(_MAP(lambda b, s: momentum * b + s, state.momentum_buffer, scaled), state.momentum_buffer)
        buffer = _MAP(lambda c, b: jnp.where(active, c, b), candidate, state.momentum_buffer)
        updates = _MAP(lambda c, s: -learning_rate * jnp.where(active, c, s), candidate, scaled)
        return _store(updates, grads), RMSpropState(square_avg, grad_avg, buffer)

    return optax.GradientTransformation(init, update)


def rmsprop(
    spec: Any,
    group: int = 0,
    *,
    lr: Optional[float] = None,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
    foreach: Optional[bool] = None,
    capturable: bool = False,
    differentiable: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.RMSprop`` driven by ``clr_torch.CyclicLR(spec)``, as an optax transformation.

    Per update (torch's rule): ``g = grad + weight_decay * p``; ``v = alpha * v + (1 - alpha) * g**2``;
    ``avg = sqrt(v - a**2) + eps`` with ``a = lerp(a, g, 1 - alpha)`` (centered) or
    ``sqrt(v) + eps``; then ``buf = momentum * buf + g / avg; p -= lr * buf`` when momentum > 0,
    else ``p -= lr * g / avg``. This differs from ``optax.rmsprop`` (eps inside the root by
    default; lr applied before the momentum trace). Arguments as in ``sgd``.
    """
    del lr, foreach, capturable, differentiable
    spec = _require_spec(spec, group)
    # alpha > 1 makes 1 - alpha negative: the square average goes below 0 and its root NaN
    alpha = _check_range("alpha", alpha, 0.0, 1.0)
    eps = _check_range("eps", eps, 0.0)
    weight_decay = _check_range("weight_decay", weight_decay, 0.0)
    momentum = _check_range("momentum", momentum, 0.0)
    return _with_clr(
        _rmsprop_rule,
        spec,
        group,
        "momentum",
        momentum,
        alpha=alpha,
        eps=eps,
        weight_decay=weight_decay,
        centered=bool(centered),
        maximize=bool(maximize),
        uses_momentum=spec.sets_momentum or momentum > 0,
    )


# --------------------------------------------------------------------------- reading the state
def current_hyperparams(opt_state: Any) -> dict:
    """The hyperparameters (lr, momentum, ...) of the last update, as torch's ``param_groups``.

    For one of these optimizers, ``{"learning_rate": ..., "momentum": ..., ...}`` as plain
    arrays, also when it sits inside ``optax.chain``, ``optax.MultiSteps`` or a Flax NNX
    ``Optimizer``'s state (pass ``nnx_optimizer.opt_state``). ``"momentum"`` is the cycled
    momentum for every optimizer: Adam's and AdamW's ``b1`` (torch's ``betas[0]``) is also
    given under that name. For several of them (an ``optax.multi_transform``), ``{label: {...}}``
    keyed by the multi_transform labels. Right after ``init`` they hold the values the first
    update will use.

    >>> import jax.numpy as jnp, optax, clr_optax
    >>> from clr_spec import CyclicSpec
    >>> tx = optax.chain(optax.clip_by_global_norm(1.0),
    ...                  clr_optax.adam(CyclicSpec(base_lr=1, max_lr=5, step_size_up=4)))
    >>> state = tx.init(jnp.zeros(2))
    >>> {k: float(v) for k, v in clr_optax.current_hyperparams(state).items()
    ...  if k in ("learning_rate", "momentum")}
    {'learning_rate': 1.0, 'momentum': 0.8999999761581421}
    """
    is_state = lambda node: isinstance(node, (optax.InjectStatefulHyperparamsState, optax.InjectHyperparamsState))
    found = [
        (path, node)
        for path, node in jax.tree_util.tree_flatten_with_path(opt_state, is_leaf=is_state)[0]
        if is_state(node)
    ]
    if not found:
        raise ValueError(
            "opt_state holds no inject_hyperparams state (build the optimizer with clr_optax.sgd, "
            "adam, adamw, rmsprop or optax.inject_hyperparams)"
        )
    if len(found) == 1:
        return _plain(found[0][1].hyperparams)

    def label(path) -> str:
        keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey)]
        return keys[-1] if keys else jax.tree_util.keystr(path)

    return {label(path): _plain(node.hyperparams) for path, node in found}


def _plain(hyperparams: dict) -> dict:
    """Arrays, not the Variables a Flax NNX optimizer wraps them in; ``momentum`` for ``b1`` too."""
    out = {k: jnp.asarray(value_of(v)) for k, v in hyperparams.items()}
    if "b1" in out and "momentum" not in out:
        out["momentum"] = out["b1"]
    return out
