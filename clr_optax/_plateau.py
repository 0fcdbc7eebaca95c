"""torch's ``ReduceLROnPlateau`` for optax: the lr of an optimizer set from the metric given to
``update(..., value=metric)``, with torch's arithmetic and the run's state as a pytree.

Two ways to put it on an optimizer, both jittable, one per param group (``optax.multi_transform``
passes ``value=`` to every group's transformation; each keeps its own copy of the plateau, and
given the same metrics the copies agree):

- ``plateau_schedule(spec, group)``: an optax *stateful* schedule (``init``/``update``/``__call__``
  reading ``value=``) for any ``inject_hyperparams`` optimizer:
  ``optax.inject_hyperparams(optax.sgd)(learning_rate=plateau_schedule(spec), momentum=0.9)``.
  clr_optax's torch-rule optimizers take it through ``lr_schedule`` (``clr_optax.sgd(plateau_spec)``
  once ``"plateau"`` is in ``clr_optax._family._BUILDERS``: ``schedule_builder`` here).
- ``reduce_on_plateau(spec, optimizer, group)``: wraps an optimizer built with a *number* as its
  ``inject_hyperparams`` learning rate and writes the plateau's lr there before each update.

``update(grads, state, params, value=metric)`` first steps the plateau with the metric (torch's
``scheduler.step(metric)`` after the epoch whose metric it is), then updates with the lr that
leaves; without ``value`` the plateau stays and the update uses its current lr. The plateau
transformation consumes ``value``.

What is exact: the state holds torch's float64 values (``best``, each lr) as exact sums of three
float32s, the counters as int32. On CPU and GPU (and under ``jax_enable_x64``) each step runs in
float64, torch's operations in torch's order: the state after a step is torch's bit for bit, so
the lr is ``float32(torch's lr)`` (torch's own under x64) at every step, for every metric the step
is given. The one thing that is not torch's is the metric itself: without x64, jax holds it in
float32, so a float64 metric is rounded once to float32 before torch's comparison (torch gets the
same number from a float32 loss tensor: ``float(loss)``). Values below about 1e-21 in magnitude
(lrs, metrics) lose low bits in the float32 parts (XLA flushes subnormals). On other platforms
(TPUs: no float64) the step is float32 arithmetic: the lrs are torch's float64 recursion replayed
on the host into a table (``float32(torch)`` exactly for the first ``MAX_TABLE`` reductions, then
float-float, within an ulp), and a metric is compared with torch's threshold in float-float
(about 2**-44 relative): one within that distance of the threshold may be judged differently
(``float32_method="float-float"`` runs this path on CPU for the tests).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from clr_spec import _validation as v
from clr_spec._plateau import PlateauSpec, PlateauState

from . import _ff as ff
from ._schedules import Float32Method

MAX_TABLE = 2**16  # reductions per group replayed on the host for the float32-only path
_INT32_MAX = 2**31 - 1


def _x64() -> bool:
    """Whether 64-bit types are on (``jax_enable_x64``, or a ``jax.enable_x64`` block), read when tracing."""
    return bool(jax.config.read("jax_enable_x64"))


class PlateauScheduleState(NamedTuple):
    """The plateau of one param group as a pytree: torch's state, exactly."""

    best: jnp.ndarray  # float32[3]: torch's best (a float64, maybe +-inf) as hi + mid + lo
    num_bad_epochs: jnp.ndarray  # int32
    cooldown_counter: jnp.ndarray  # int32
    last_epoch: jnp.ndarray  # int32: steps taken (torch's last_epoch)
    lr: jnp.ndarray  # float32[3]: this group's lr (a float64) as hi + mid + lo
    reductions: jnp.ndarray  # int32: reductions of this group's lr since the spec's state


class ReduceOnPlateauState(NamedTuple):
    """``reduce_on_plateau``'s state: the plateau and the wrapped optimizer's state."""

    plateau: PlateauScheduleState
    inner_state: Any


# ------------------------------------------------------------------------------ float64 in float32s
def split3(value: float, name: str = "value", strict: bool = True) -> np.ndarray:
    """Host-side: a float64 as three float32s whose exact sum it is (an infinity as itself, 0, 0);
    ``strict``: a ValueError where no three normal float32s hold it (else the nearest they do)."""
    x = float(value)
    if math.isinf(x):
        return np.array([x, 0.0, 0.0], np.float32)
    with np.errstate(over="ignore", under="ignore"):
        hi = np.float32(x)
        rest = x - float(hi)
        mid = np.float32(rest)
        lo = np.float32(rest - float(mid))
    parts = np.array([hi, mid, lo], np.float32)
    tiny = np.finfo(np.float32).tiny
    if strict and (
        not np.all(np.isfinite(parts))
        or (float(hi) + float(mid)) + float(lo) != x
        or np.any((parts != 0) & (np.abs(parts) < tiny))
    ):
        raise ValueError(
            f"{name} = {x!r} cannot be carried exactly in float32 parts: clr_optax holds values of "
            "magnitude in [1e-21, 3.4e38] (or 0, or an infinite best) exactly"
        )
    return parts


def join3(parts: Any) -> float:
    """Host-side: the float64 three float32s hold."""
    p = np.asarray(parts, np.float32)
    return (float(p[0]) + float(p[1])) + float(p[2])


def _join64(parts):
    """Device-side, float64 traced: the exact sum (an infinity stays itself)."""
    p = parts.astype(jnp.float64)
    return ff.opaque(ff.opaque(p[0] + p[1]) + p[2])


def _split64(x):
    """Device-side, float64 traced: ``x`` as hi + mid + lo, each float32 (exact in the normal range)."""
    hi = x.astype(jnp.float32)
    finite = jnp.isfinite(x)
    rest = jnp.where(finite, ff.opaque(x - hi.astype(jnp.float64)), 0.0)
    mid = rest.astype(jnp.float32)
    lo = ff.opaque(rest - mid.astype(jnp.float64)).astype(jnp.float32)
    return jnp.stack([hi, mid, lo])


# ------------------------------------------------------------------------------ the step
def _check_spec(spec: Any, group: Any) -> int:
    if not isinstance(spec, PlateauSpec):
        raise TypeError(f"spec must be a clr_spec PlateauSpec, got {type(spec).__name__}")
    group = v.group_index(group, spec.num_groups)
    # (a patience past int32 is clipped: no int32 count of bad epochs exceeds it either way)
    for name, value in (
        ("cooldown", spec.cooldown),
        ("state.last_epoch", spec.state.last_epoch),
        ("state.num_bad_epochs", spec.state.num_bad_epochs),
        ("state.cooldown_counter", spec.state.cooldown_counter),
    ):
        if value >= _INT32_MAX:
            raise ValueError(f"{name} must be < 2**31 - 1 for clr_optax's int32 state, got {value}")
    return group


def _metric(value: Any, dtype) -> jnp.ndarray:
    """``value`` as a scalar of ``dtype``; one number, as torch's ``float(metrics)`` takes."""
    array = jnp.asarray(value)
    if array.size != 1:
        raise ValueError(
            f"value (the metric) must be one number, a scalar or an array of one element, got shape {array.shape}"
        )
    if array.dtype == jnp.bool_ or not (
        jnp.issubdtype(array.dtype, jnp.floating) or jnp.issubdtype(array.dtype, jnp.integer)
    ):
        raise TypeError(f"value (the metric) must be a real number, got dtype {array.dtype}")
    return array.reshape(()).astype(dtype)


class _Plateau:
    """The static half of the plateau: the spec's settings as constants, and its steps."""

    def __init__(self, spec: PlateauSpec, group: int):
        self.spec, self.group = spec, group
        self.patience = min(spec.patience, _INT32_MAX)  # bad epochs saturate at 2**31 - 1
        self.min_lr = spec.group_min_lr(group)
        if spec.threshold_mode == "rel":
            self.rel_epsilon = 1.0 - spec.threshold if spec.mode == "min" else spec.threshold + 1.0
        self._table: Optional[tuple[np.ndarray, bool]] = None
        # the spec's state in float32 parts, checked now (a value they cannot hold is refused here)
        self._best = split3(spec.state.best, "state.best")
        self._lr = split3(spec.group_lr(group), f"the lr of group {group}")

    def initial(self) -> PlateauScheduleState:
        s = self.spec.state
        return PlateauScheduleState(
            best=jnp.asarray(self._best),
            num_bad_epochs=jnp.asarray(s.num_bad_epochs, jnp.int32),
            cooldown_counter=jnp.asarray(s.cooldown_counter, jnp.int32),
            last_epoch=jnp.asarray(s.last_epoch, jnp.int32),
            lr=jnp.asarray(self._lr),
            reductions=jnp.zeros([], jnp.int32),
        )

    # -------------------------------------------------------------- counters (shared by both paths)
    def _counters(self, state: PlateauScheduleState, better):
        bad = jnp.where(better, 0, jnp.minimum(state.num_bad_epochs, _INT32_MAX - 1) + 1)
        in_cooldown = state.cooldown_counter > 0
        cooldown_counter = jnp.where(in_cooldown, state.cooldown_counter - 1, state.cooldown_counter)
        bad = jnp.where(in_cooldown, 0, bad)
        reduce = bad > self.patience
        cooldown_counter = jnp.where(reduce, self.spec.cooldown, cooldown_counter)
        bad = jnp.where(reduce, 0, bad)
        last_epoch = jnp.minimum(state.last_epoch, _INT32_MAX - 1) + 1
        return (reduce, bad.astype(jnp.int32), cooldown_counter.astype(jnp.int32), last_epoch.astype(jnp.int32))

    # -------------------------------------------------------------- float64: torch's arithmetic
    def step64(self, state: PlateauScheduleState, metric) -> PlateauScheduleState:
        """torch's step in float64 (traced with 64-bit types on)."""
        spec = self.spec
        current = _metric(metric, jnp.float64)
        best = _join64(state.best)
        if spec.threshold_mode == "rel":
            bound = ff.opaque(best * self.rel_epsilon)
        else:
            bound = ff.opaque(best - spec.threshold) if spec.mode == "min" else ff.opaque(best + spec.threshold)
        better = current < bound if spec.mode == "min" else current > bound
        reduce, bad, cooldown_counter, last_epoch = self._counters(state, better)
        old = _join64(state.lr)
        new = jnp.maximum(ff.opaque(old * spec.factor), self.min_lr)
        changed = reduce & (ff.opaque(old - new) > spec.eps)
        return PlateauScheduleState(
            best=jnp.where(better, _split64(current), state.best),
            num_bad_epochs=bad,
            cooldown_counter=cooldown_counter,
            last_epoch=last_epoch,
            lr=jnp.where(changed, _split64(new), state.lr),
            reductions=(state.reductions + changed.astype(jnp.int32)).astype(jnp.int32),
        )

    # -------------------------------------------------------------- float32 only (TPUs)
    def table(self) -> tuple[np.ndarray, bool]:
        """torch's lrs of this group after 0, 1, 2, ... reductions from the spec's state (float64
        replayed on the host, as float32 parts), and whether it ends where torch's stop changing."""
        if self._table is None:
            lr, values, ended = self.spec.group_lr(self.group), [], False
            values.append(lr)
            while len(values) <= MAX_TABLE:
                nxt = self.spec.reduced_lr(values[-1], self.group)
                if nxt == values[-1]:
                    ended = True
                    break
                values.append(nxt)
            # below ~1e-21 the parts are the nearest float32s (XLA flushes subnormals: the module says so)
            self._table = (np.stack([split3(x, strict=False) for x in values]), ended)
        return self._table

    def step32(self, state: PlateauScheduleState, metric) -> PlateauScheduleState:
        """The step in float32 arithmetic alone: comparisons in float-float, lrs from the table."""
        spec = self.spec
        current = _metric(metric, jnp.float32)
        hi, lo = state.best[0], state.best[1] + state.best[2]
        if spec.threshold_mode == "rel":
            bound = ff.mul((hi, lo), ff.const(self.rel_epsilon))
            plain = hi * np.float32(self.rel_epsilon)
        else:
            t = ff.const(spec.threshold if spec.mode == "max" else -spec.threshold)
            bound = ff.add((hi, lo), t)
            plain = hi + t[0]
        if spec.mode == "min":
            exact = (current < bound[0]) | ((current == bound[0]) & (bound[1] > 0))
            better = jnp.where(jnp.isfinite(hi), exact, current < plain)
        else:
            exact = (current > bound[0]) | ((current == bound[0]) & (bound[1] < 0))
            better = jnp.where(jnp.isfinite(hi), exact, current > plain)
        reduce, bad, cooldown_counter, last_epoch = self._counters(state, better)
        table, ended = self.table()
        last = len(table) - 1
        n = state.reductions
        tabled = jnp.asarray(table)[jnp.clip(n + 1, 0, last)]
        if ended:
            next_lr, moves = tabled, n < last
        else:
            old = (state.lr[0], state.lr[1] + state.lr[2])
            product = ff.mul(old, ff.const(spec.factor))
            floor = ff.const(self.min_lr)
            new = jax.tree.map(lambda a, b: jnp.where(ff.less_equal(product, floor), b, a), product, floor)
            diff = ff.add(old, (-new[0], -new[1]))
            eps = ff.const(spec.eps)
            beyond = (diff[0] > eps[0]) | ((diff[0] == eps[0]) & (diff[1] > eps[1]))
            computed = jnp.stack([new[0], new[1], jnp.zeros_like(new[0])])
            next_lr = jnp.where(n < last, tabled, computed)
            moves = (n < last) | beyond
        changed = reduce & moves
        return PlateauScheduleState(
            best=jnp.where(better, jnp.stack([current, jnp.float32(0), jnp.float32(0)]), state.best),
            num_bad_epochs=bad,
            cooldown_counter=cooldown_counter,
            last_epoch=last_epoch,
            lr=jnp.where(changed, next_lr, state.lr),
            reductions=(n + changed.astype(jnp.int32)).astype(jnp.int32),
        )


def _stepper(plateau: _Plateau, method: Float32Method) -> Callable:
    """``(state, metric) -> state`` on this platform (see the module): float64 under x64; on CPU
    and GPU float64 in its own jit with 64-bit types on; float32 alone elsewhere."""
    if method not in ("auto", "float64", "float-float"):
        raise ValueError(f"float32_method must be 'auto', 'float64' or 'float-float', got {method!r}")
    inner = jax.jit(plateau.step64)

    def via_float64(state, metric):
        with jax.enable_x64(True):
            return inner(state, metric)

    def step(state, metric):
        if _x64():
            return plateau.step64(state, metric)
        metric = _metric(metric, jnp.result_type(float))  # checked (and float32) before the branches
        if method == "float64":
            return via_float64(state, metric)
        if method == "float-float":
            return plateau.step32(state, metric)
        return lax.platform_dependent(
            state, metric, cpu=via_float64, cuda=via_float64, rocm=via_float64, default=plateau.step32
        )

    return step


def _current_lr(state: PlateauScheduleState):
    """The lr the state holds: float32(torch's) (its first part), torch's own under x64."""
    if _x64():
        return (state.lr[0].astype(jnp.float64) + state.lr[1].astype(jnp.float64)) + state.lr[2].astype(jnp.float64)
    return state.lr[0]


# ------------------------------------------------------------------------------ the stateful schedule
class PlateauSchedule:
    """torch's ReduceLROnPlateau as an optax stateful schedule (``optax.StatefulSchedule``): its
    state is a ``PlateauScheduleState``, ``update(state, value=metric)`` is torch's ``step(metric)``,
    and ``schedule(state, value=metric)`` the lr after it (``value`` left out: the lr now). For
    ``optax.inject_hyperparams``, which calls both with ``update``'s extra arguments."""

    def __init__(self, spec: PlateauSpec, group: int = 0, float32_method: Float32Method = "auto"):
        group = _check_spec(spec, group)
        self.spec, self.group = spec, group
        self._plateau = _Plateau(spec, group)
        self._step = _stepper(self._plateau, float32_method)

    def init(self) -> PlateauScheduleState:
        return self._plateau.initial()

    def update(self, state: PlateauScheduleState, value: Any = None, **extra_args: Any) -> PlateauScheduleState:
        self._check_state(state)
        return state if value is None else self._step(state, value)

    def __call__(self, state: Any, value: Any = None, **extra_args: Any) -> jnp.ndarray:
        self._check_state(state)
        return _current_lr(self.update(state, value))

    @staticmethod
    def _check_state(state: Any) -> None:
        if not isinstance(state, PlateauScheduleState):
            raise TypeError(
                "a ReduceLROnPlateau lr moves with the metric, not the step count: it is not a count -> lr "
                "schedule. Give the PlateauSpec to an inject_hyperparams optimizer (clr_optax.sgd(spec), "
                "optax.inject_hyperparams(optax.sgd)(learning_rate=clr_optax.plateau_schedule(spec))) or wrap one "
                "with clr_optax.reduce_on_plateau(spec, optimizer), and pass the metric as update(..., value=metric); "
                f"got {type(state).__name__} where the schedule's state belongs"
            )


def plateau_schedule(spec: PlateauSpec, group: int = 0, *, float32_method: Float32Method = "auto") -> PlateauSchedule:
    """The lr of param group ``group`` of a ``PlateauSpec`` as an optax stateful schedule, for
    ``optax.inject_hyperparams`` (``learning_rate=plateau_schedule(spec)``); the run continues from
    the spec's state. See the module for what is exact.

    >>> import jax.numpy as jnp, optax
    >>> from clr_spec._plateau import PlateauSpec
    >>> tx = optax.inject_hyperparams(optax.sgd)(learning_rate=plateau_schedule(PlateauSpec(lr=1.0, patience=0)))
    >>> state = tx.init(jnp.zeros(1))
    >>> for loss in [1.0, 2.0, 0.5]:
    ...     updates, state = tx.update(jnp.ones(1), state, value=loss)
    ...     print(updates.tolist())
    [-1.0]
    [-0.10000000149011612]
    [-0.10000000149011612]
    """
    return PlateauSchedule(spec, group, float32_method)


def schedule_builder(spec: Any, what: str, group: int, method: Float32Method) -> PlateauSchedule:
    """The ``"plateau"`` entry of ``clr_optax._family._BUILDERS``: ``lr_schedule(plateau_spec)``
    is the stateful schedule, so that the torch-rule optimizers (``clr_optax.sgd(plateau_spec)``)
    take it; called with a step count, it raises a TypeError that says how to use it."""
    if what != "lr":
        raise ValueError("ReduceLROnPlateau does not set momentum: the optimizer keeps its own")
    return PlateauSchedule(spec, group, method)


# ------------------------------------------------------------------------------ the wrapper
def _is_inject(node: Any) -> bool:
    return isinstance(
        node,
        (optax.InjectHyperparamsState, getattr(optax, "InjectStatefulHyperparamsState", optax.InjectHyperparamsState)),
    )


def _inject_states(tree: Any) -> list:
    return [node for node in jax.tree_util.tree_leaves(tree, is_leaf=_is_inject) if _is_inject(node)]


def _check_writable(inner_state: Any) -> None:
    found = _inject_states(inner_state)
    if len(found) != 1:
        raise TypeError(
            f"reduce_on_plateau sets the learning_rate of an optax.inject_hyperparams optimizer: its "
            f"state must hold exactly one inject_hyperparams state, this one holds {len(found)} "
            "(one optimizer per param group: optax.multi_transform of reduce_on_plateau's)"
        )
    node = found[0]
    if "learning_rate" not in node.hyperparams:
        raise TypeError(f"the optimizer's inject_hyperparams has no learning_rate (it has {sorted(node.hyperparams)})")
    if "learning_rate" in getattr(node, "hyperparams_states", {}):
        raise TypeError(
            "the optimizer's learning_rate is a schedule, which inject_hyperparams recomputes at every "
            "update (a value written there is lost): build it with a number "
            "(optax.inject_hyperparams(optax.adam)(learning_rate=0.0)), or give it the PlateauSpec "
            "itself: clr_optax.sgd(plateau_spec), learning_rate=clr_optax.plateau_schedule(spec)"
        )


def _write_lr(inner_state: Any, lr) -> Any:
    def write(node):
        if not _is_inject(node):
            return node
        old = node.hyperparams["learning_rate"]
        return node._replace(hyperparams={**node.hyperparams, "learning_rate": jnp.asarray(lr, jnp.asarray(old).dtype)})

    return jax.tree_util.tree_map(write, inner_state, is_leaf=_is_inject)


def reduce_on_plateau(
    spec: PlateauSpec,
    optimizer: optax.GradientTransformation,
    group: int = 0,
    *,
    float32_method: Float32Method = "auto",
) -> optax.GradientTransformationExtraArgs:
    """torch's ReduceLROnPlateau around an optax optimizer: before each update, the plateau's lr
    (param group ``group`` of ``spec``, continued from its state) is written as the
    ``learning_rate`` of the optimizer's ``inject_hyperparams`` state; ``update(..., value=metric)``
    first steps the plateau with the metric (torch's ``scheduler.step(metric)``).

    ``optimizer`` must be built with ``optax.inject_hyperparams`` and a number as its learning
    rate (``optax.inject_hyperparams(optax.adam)(learning_rate=0.0)``, maybe inside
    ``optax.chain``): a scheduled learning_rate is recomputed by inject_hyperparams at every update
    and is refused (``clr_optax.sgd(plateau_spec)`` is the torch-rule optimizers' way). ``value``
    is not passed on to it.

    >>> import jax.numpy as jnp, optax
    >>> from clr_spec._plateau import PlateauSpec
    >>> tx = reduce_on_plateau(PlateauSpec(lr=0.5, factor=0.5, patience=0),
    ...                        optax.inject_hyperparams(optax.sgd)(learning_rate=0.0))
    >>> state = tx.init(jnp.zeros(1))
    >>> for loss in [1.0, 1.0, 1.0]:
    ...     updates, state = tx.update(jnp.ones(1), state, value=loss)
    ...     print(updates.tolist())
    [-0.5]
    [-0.25]
    [-0.125]
    """
    schedule = PlateauSchedule(spec, group, float32_method)
    inner = optax.with_extra_args_support(optimizer)

    def init(params):
        inner_state = inner.init(params)
        _check_writable(inner_state)
        plateau = schedule.init()
        return ReduceOnPlateauState(plateau, _write_lr(inner_state, _current_lr(plateau)))

    def update(updates, state, params=None, *, value=None, **extra_args):
        plateau = schedule.update(state.plateau, value)
        inner_state = _write_lr(state.inner_state, _current_lr(plateau))
        updates, inner_state = inner.update(updates, inner_state, params, **extra_args)
        return updates, ReduceOnPlateauState(plateau, inner_state)

    return optax.GradientTransformationExtraArgs(init, update)


# ------------------------------------------------------------------------------ stepped phases, then the plateau
class PlateauSequenceScheduleState(NamedTuple):
    """A ``PlateauSequenceSpec``'s schedule state: the step count (``set_count`` sets it, as it
    sets optax's own) and the plateau of one param group."""

    count: jnp.ndarray  # type: ignore[assignment]  # int32: updates taken (set_count sets fields named count)
    plateau: PlateauScheduleState


class PlateauSequenceSchedule:
    """A ``PlateauSequenceSpec`` (stepped phases, then ReduceLROnPlateau) as an optax stateful
    schedule: the phases' lr at the counts before the milestone, then the plateau's, which
    ``value=metric`` steps from the milestone on (metrics before it are not the plateau's: the
    spec's module). For ``optax.inject_hyperparams`` (``clr_optax.sgd(spec)`` builds it)."""

    def __init__(self, spec: Any, group: int = 0, float32_method: Float32Method = "auto"):
        from ._family import schedule_of  # here: clr_optax._family builds this class

        self.spec, self.group = spec, group
        self.milestone = spec.milestone
        self._stepped = schedule_of(spec.stepped, "lr", group, float32_method)
        self._plateau = PlateauSchedule(spec.plateau, group, float32_method)

    def init(self) -> PlateauSequenceScheduleState:
        return PlateauSequenceScheduleState(jnp.zeros((), jnp.int32), self._plateau.init())

    def _plateau_after(self, state: PlateauSequenceScheduleState, value: Any) -> PlateauScheduleState:
        """The plateau once the metric given with this update is seen (only from the milestone on)."""
        if value is None:
            return state.plateau
        stepped = self._plateau.update(state.plateau, value)
        counted = state.count >= self.milestone
        return jax.tree_util.tree_map(lambda new, old: jnp.where(counted, new, old), stepped, state.plateau)

    def update(
        self, state: PlateauSequenceScheduleState, value: Any = None, **extra_args: Any
    ) -> PlateauSequenceScheduleState:
        self._check_state(state)
        count = jnp.minimum(state.count, _INT32_MAX - 1) + 1  # int32 counts stop at 2**31 - 1
        return PlateauSequenceScheduleState(count.astype(jnp.int32), self._plateau_after(state, value))

    def __call__(self, state: Any, value: Any = None, **extra_args: Any) -> jnp.ndarray:
        self._check_state(state)
        plateau_lr = _current_lr(self._plateau_after(state, value))
        stepped_lr = self._stepped(jnp.minimum(state.count, self.milestone - 1))
        return jnp.where(state.count < self.milestone, stepped_lr.astype(plateau_lr.dtype), plateau_lr)

    @staticmethod
    def _check_state(state: Any) -> None:
        if not isinstance(state, PlateauSequenceScheduleState):
            raise TypeError(
                "a PlateauSequenceSpec's lr moves with the metric once its plateau starts: it is not a count -> lr "
                "schedule. Give the spec to an inject_hyperparams optimizer (clr_optax.sgd(spec), "
                "optax.inject_hyperparams(optax.sgd)(learning_rate=clr_optax.lr_schedule(spec))) and pass the metric "
                f"as update(..., value=metric); got {type(state).__name__} where the schedule's state belongs"
            )


def sequence_schedule_builder(spec: Any, what: str, group: int, method: Float32Method) -> Any:
    """The ``"plateau_sequence"`` entry of ``clr_optax._family._BUILDERS``: the stateful lr
    schedule; the momentum (where the stepped phases set it) is a plain schedule, held at its
    value of step ``milestone - 1`` after them."""
    if what == "lr":
        return PlateauSequenceSchedule(spec, group, method)
    from ._family import schedule_of

    momentum = schedule_of(spec.stepped, "momentum", group, method)
    last = spec.milestone - 1
    return lambda count: momentum(jnp.minimum(count, last))


# ------------------------------------------------------------------------------ back to torch
def _plateau_states(tree: Any) -> list:
    is_state = lambda node: isinstance(node, PlateauScheduleState)
    return [node for node in jax.tree_util.tree_leaves(tree, is_leaf=is_state) if is_state(node)]


def plateau_spec_from_optax(spec: Any, opt_states: Any) -> Any:
    """``spec`` (the one the transformations were built from) in the state an optax run has
    reached: ``opt_states`` is a list of optimizer states, one per param group in group order
    (each holding one plateau: ``reduce_on_plateau``'s or a ``plateau_schedule``'s), or one state
    where the spec's values are shared by every group. ``clr_torch.plateau_scheduler(optimizer, spec)`` (or
    ``spec.torch_state_dict()``) continues the run in torch, bit for bit."""
    if getattr(spec, "EVALUATOR", None) == "plateau_sequence":
        # a PlateauSequenceSpec: its plateau phase in the run's state (the step is the state's count)
        return spec.with_plateau(plateau_spec_from_optax(spec.plateau, opt_states))
    if not isinstance(spec, PlateauSpec):
        raise TypeError(f"spec must be a clr_spec PlateauSpec or PlateauSequenceSpec, got {type(spec).__name__}")
    trees = list(opt_states) if isinstance(opt_states, list) else [opt_states]  # an optax state may be a tuple
    if spec.num_groups is not None and len(trees) != spec.num_groups:
        raise ValueError(
            f"the spec has {spec.num_groups} param groups: pass one optimizer state per group "
            f"(in group order), got {len(trees)}"
        )
    found = []
    for i, tree in enumerate(trees):
        states = _plateau_states(tree)
        if len(states) != 1:
            raise ValueError(
                f"optimizer state {i} holds {len(states)} plateau states: pass one state per param "
                "group (each optimizer's, from optax.multi_transform's inner_states)"
            )
        found.append(jax.device_get(states[0]))
    shared = [(join3(s.best), int(s.num_bad_epochs), int(s.cooldown_counter), int(s.last_epoch)) for s in found]
    if any(entry != shared[0] for entry in shared[1:]):
        raise ValueError(
            f"the groups' plateaus disagree ({shared}): every group's transformation must see the same "
            "metrics (one value= per update, passed to all of them)"
        )
    best, bad, cooldown_counter, last_epoch = shared[0]
    lrs = [join3(s.lr) for s in found]
    state = PlateauState(
        best=best,
        num_bad_epochs=bad,
        cooldown_counter=cooldown_counter,
        last_epoch=last_epoch,
        lrs=tuple(lrs) if spec.num_groups is not None else lrs[0],
    )
    return spec.replace(state=state)


__all__ = [
    "PlateauSchedule",
    "PlateauScheduleState",
    "ReduceOnPlateauState",
    "plateau_schedule",
    "reduce_on_plateau",
    "plateau_spec_from_optax",
    "schedule_builder",
    "PlateauSequenceSchedule",
    "PlateauSequenceScheduleState",
    "sequence_schedule_builder",
]
