"""The family of schedule specs: one registry, used by every entry point.

A spec type registers once (``@register``) with the JSON format it writes and the torch
class it describes. ``from_dict``/``from_json`` and ``from_torch`` dispatch on that, and fail
closed: an unknown format or torch class is a ``ValueError`` that lists the known ones.
``clr_optax.lr_schedule``, ``clr_torch.scheduler`` and ``clr show`` take any registered spec.

A phase spec (``PhaseSpec``) describes one of torch's schedulers that scale the lr the
optimizer had (its ``initial_lr``, given explicitly here as ``lr``) by a factor of the step.
Its factor is written once, over an ``Ops`` namespace (``clr_spec._ops``: numpy here, jax in
clr_optax), in torch's closed-form order of operations; a phase is one module of this
package holding its spec, its formula and its torch mapping. The interface every spec
implements is ``clr_spec._contract.Spec``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping, Optional, TypeVar

import numpy as np

from . import _validation as v
from ._contract import BASE_STATE_KEYS, Spec, torch_state
from ._ops import NUMPY, Ops

_BY_FORMAT: dict[str, type[Spec]] = {}
_BY_TORCH_CLASS: dict[str, type[Spec]] = {}

# A spec whose TORCH_CLASS is "" (torch has no class for it: a schedule of timm's, Hugging
# Face's or ours) runs in torch as clr_torch's SpecLR, whose state dict carries the spec's
# document under this key (its only key beyond LRScheduler's): from_torch reads the spec back.
SPEC_LR = "SpecLR"
SPEC_LR_STATE_KEY = "spec_document"

_SpecType = TypeVar("_SpecType", bound=type[Spec])


def register(cls: _SpecType) -> _SpecType:
    """Register a spec type under ``cls.FORMAT`` and ``cls.TORCH_CLASS``: a ``Spec`` whose
    abstract methods are all filled in."""
    if not (isinstance(cls, type) and issubclass(cls, Spec)) or getattr(cls, "__abstractmethods__", None):
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        raise TypeError(
            f"{getattr(cls, '__name__', cls)!r} is not a complete clr_spec Spec"
            + (f" (it does not define {missing})" if missing else "")
        )
    if not cls.FORMAT:
        raise ValueError(f"{cls.__name__} must name its FORMAT")
    if cls.TORCH_CLASS == SPEC_LR:
        raise ValueError(
            f"{cls.__name__}: TORCH_CLASS {SPEC_LR!r} is clr_torch's scheduler of every spec torch has "
            "no class for; such a spec leaves TORCH_CLASS empty"
        )
    tables = [(_BY_FORMAT, cls.FORMAT)] + ([(_BY_TORCH_CLASS, cls.TORCH_CLASS)] if cls.TORCH_CLASS else [])
    for table, key in tables:
        if key in table and table[key] is not cls:
            raise ValueError(f"{key!r} is registered twice ({table[key].__name__}, {cls.__name__})")
        table[key] = cls
    return cls


def spec_types() -> tuple[type[Spec], ...]:
    """Every registered spec type."""
    return tuple(_BY_FORMAT.values())


def torch_classes() -> tuple[str, ...]:
    """The torch scheduler classes a registered spec describes, sorted (for help and errors),
    and clr_torch's ``SpecLR`` (which runs the specs torch has no class for)."""
    return tuple(sorted(_BY_TORCH_CLASS)) + (SPEC_LR,)


def torch_runner(spec_or_type: Any) -> str:
    """The scheduler class that runs a spec in torch, for people: "torch's ``TORCH_CLASS``", or
    the clr_torch class (``TORCH_SCHEDULER``: ``SpecLR`` or one of its subclasses) that runs a
    spec torch has no class for."""
    if spec_or_type.TORCH_CLASS:
        return f"torch's {spec_or_type.TORCH_CLASS}"
    return f"clr_torch.{spec_or_type.TORCH_SCHEDULER}"


def is_spec(obj: Any) -> bool:
    return isinstance(obj, spec_types())


def check_spec(obj: Any, name: str = "spec") -> Any:
    if not is_spec(obj):
        known = ", ".join(sorted(t.__name__ for t in spec_types()))
        raise TypeError(f"{name} must be a clr_spec schedule spec ({known}), got {type(obj).__name__}")
    return obj


def from_dict(data: Mapping[str, Any], **kwargs: Any) -> Any:
    """The spec a ``to_dict()`` document describes, of the type its ``format`` names."""
    if not isinstance(data, Mapping):
        raise TypeError(f"a spec document must be a mapping, got {type(data).__name__}")
    # Checked before any recursion: a SequentialSpec document is read phase by phase.
    v.nesting_depth(data, v.MAX_JSON_DEPTH, "the spec document")
    fmt = data.get("format")
    if not isinstance(fmt, str) or fmt not in _BY_FORMAT:
        raise ValueError(f"format must be one of {sorted(_BY_FORMAT)}, got {fmt!r}")
    return _BY_FORMAT[fmt].from_dict(data, **kwargs)


def from_json(text: Any, **kwargs: Any) -> Any:
    """The spec a ``to_json()`` text describes, of the type its ``format`` names."""
    return from_dict(parse_json(text), **kwargs)


def parse_json(text: Any) -> Any:
    """A spec document's JSON: a string, and no NaN or Infinity (every ``from_json`` reads it so)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"from_json takes a JSON string, got {type(text).__name__}")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:  # json's decoder recurses once per level
        raise ValueError(
            f"the JSON document nests deeper than Python's recursion limit; a spec nests at most "
            f"{v.MAX_JSON_DEPTH} levels"
        ) from None


def torch_candidates(state: Mapping) -> list[str]:
    """The torch classes whose exact key signature a state dict has (sorted; usually one)."""
    signature = {k for k in state if isinstance(k, str)} - BASE_STATE_KEYS
    return _matching(signature)


def _matching(signature: set) -> list[str]:
    """The classes whose exact key signature ``signature`` (a state's own keys) is, sorted."""
    matches = sorted(
        name
        for name, cls in _BY_TORCH_CLASS.items()
        if cls.TORCH_STATE_KEYS <= signature <= cls.TORCH_STATE_KEYS | cls.TORCH_STATE_OPTIONAL
    )
    return matches + ([SPEC_LR] if signature == {SPEC_LR_STATE_KEY} else [])


def torch_class_of(scheduler_or_state: Any) -> str:
    """The torch scheduler class an object is, or a state dict was made by.

    An object by its class (or a base class) name. A state dict by its exact key signature:
    its keys minus ``LRScheduler``'s own must hold each key of a type's ``TORCH_STATE_KEYS``
    and none outside those and its ``TORCH_STATE_OPTIONAL``. No match, or more than one, is a
    ValueError naming the candidates: this never guesses."""
    if not isinstance(scheduler_or_state, Mapping):
        for klass in type(scheduler_or_state).__mro__:
            if klass.__name__ in _BY_TORCH_CLASS or klass.__name__ == SPEC_LR:
                return klass.__name__
        raise ValueError(
            f"no spec for torch scheduler {type(scheduler_or_state).__name__}; known: {list(torch_classes())}"
        )
    signature = {k for k in scheduler_or_state if isinstance(k, str)} - BASE_STATE_KEYS
    if any(not isinstance(k, str) for k in scheduler_or_state):
        raise ValueError("not a torch scheduler state: its keys must be strings")
    matches = _matching(signature)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ValueError(
            f"this state could be from any of {matches} (their states have the same keys); "
            "pass torch_class=... to from_torch"
        )
    raise ValueError(
        f"not the state of a known torch scheduler ({list(torch_classes())}): its own keys are {sorted(signature)}"
    )


def from_torch(
    scheduler_or_state: Any,
    optimizer_state: Optional[Mapping] = None,
    *,
    torch_class: Optional[str] = None,
    **kwargs: Any,
) -> Any:
    """The spec of a torch scheduler (an object or its ``state_dict()``), of any registered type.

    torch keeps some values in the optimizer's param groups rather than in the scheduler's
    state: pass ``optimizer.state_dict()`` as ``optimizer_state`` where the spec needs them
    (the error says so). ``torch_class`` names the class where a state's keys cannot (the
    error says when)."""
    if isinstance(scheduler_or_state, Mapping):
        # Bounded before any type reads it: a damaged state can contain itself or nest without end.
        v.nesting_depth(scheduler_or_state, v.MAX_JSON_DEPTH, "the scheduler state")
    if isinstance(optimizer_state, Mapping):
        v.nesting_depth(optimizer_state, v.MAX_JSON_DEPTH, "the optimizer state")
    if torch_class is None:
        torch_class = torch_class_of(scheduler_or_state)
    elif torch_class not in torch_classes():
        raise ValueError(f"torch_class must be one of {list(torch_classes())}, got {torch_class!r}")
    try:
        if torch_class == SPEC_LR:
            return spec_lr_spec(scheduler_or_state)
        return _BY_TORCH_CLASS[torch_class].from_torch(scheduler_or_state, optimizer_state=optimizer_state, **kwargs)
    except (KeyError, IndexError, AttributeError, OverflowError, ZeroDivisionError) as err:
        # The net under the checks each from_torch makes: a state damaged in a way no check names
        # is still a ValueError (saying what broke), never a traceback from deep inside.
        if isinstance(err, ValueError):
            raise
        raise ValueError(f"not a valid {torch_class} state ({type(err).__name__}: {err})") from err


def spec_lr_spec(scheduler_or_state: Any, spec_type: Optional[type] = None) -> Any:
    """The spec a clr_torch ``SpecLR`` runs (the object or its ``state_dict()``): its document,
    read back (of ``spec_type`` where one is asked for; its ``from_torch`` calls this)."""
    if isinstance(scheduler_or_state, Mapping):
        state = scheduler_or_state
    elif SPEC_LR in [klass.__name__ for klass in type(scheduler_or_state).__mro__]:
        state = scheduler_or_state.state_dict()
    else:
        raise TypeError(
            f"from_torch takes a clr_torch.{SPEC_LR} or its state_dict() here, got {type(scheduler_or_state).__name__}"
        )
    signature = {k for k in state if isinstance(k, str)} - BASE_STATE_KEYS
    if signature != {SPEC_LR_STATE_KEY} or not isinstance(state[SPEC_LR_STATE_KEY], Mapping):
        raise ValueError(
            f"not a {SPEC_LR} state: its own keys must be [{SPEC_LR_STATE_KEY!r}] (the spec's "
            f"document), got {sorted(map(str, signature))}"
        )
    spec = from_dict(state[SPEC_LR_STATE_KEY])
    if spec_type is not None and type(spec) is not spec_type:
        raise ValueError(f"this {SPEC_LR} runs a {type(spec).__name__}, not a {spec_type.__name__}")
    return spec


def torch_tolerance(spec: Any, reference: Any, steps: Any, group: int = 0) -> np.ndarray:
    """The stated bound (README, "Precision") of ``|spec.lr - torch|`` (or momentum) at each of
    ``steps``, ``reference`` torch's values there: 1e-12 relative, 2**-50 (1 + k) of the peak (the
    per-step rounding of torch's recursions, what holds near 0), and the drift of a phase whose
    torch recursion drifts from its closed form (``torch_drift``: CosineAnnealingLR past a bottom)."""
    steps = np.asarray(steps, dtype=np.int64)
    out = v.float64_tolerance(reference, steps)
    for start, phase in spec.phases or ((0, spec),):
        drift = getattr(phase, "torch_drift", None)
        if drift is None:
            continue
        local = steps - start
        mask = local >= 0
        if mask.any():
            out[mask] = out[mask] + drift(local[mask], group)
    return out


def _reject_constant(name: str) -> None:
    raise ValueError(f"JSON constant {name} is not a valid spec value")


# ------------------------------------------------------------------------------ value semantics
class ValueSpec(Spec):
    """Immutable, compared, hashed and shown by its ``_values()`` (its keywords), so that specs
    of one schedule compare equal and ``replace(**changes)`` builds a validated new one."""

    def _values(self) -> dict[str, Any]:
        """The spec's values by keyword (what equality, hashing, repr and JSON use)."""
        raise NotImplementedError

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: use replace({name}=...)")

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other._values() == self._values()

    def __hash__(self) -> int:
        return hash(
            (type(self), tuple((k, tuple(val) if isinstance(val, list) else val) for k, val in self._values().items()))
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={val!r}' for k, val in self._values().items())})"

    def replace(self, **changes: Any) -> Any:
        return type(self)(**{**self._values(), **changes})


# ------------------------------------------------------------------------------ formula specs
class FormulaSpec(ValueSpec):
    """Base of the specs whose values are one closed form over an ``Ops`` namespace
    (``values_at``): ``NumpyOps`` gives ``spec.lr``/``spec.momentum``, clr_optax's jax ops give
    its schedules, and clr_torch builds torch's class ``TORCH_CLASS`` from ``torch_kwargs()``
    (after writing the spec's lr into the groups where ``NEEDS_INITIAL_LR``: torch's class
    scales it)."""

    def values_at(self, ops: Ops, steps: Any, what: str, group: int) -> Any:
        """``what`` ("lr" or "momentum") of param group ``group`` after ``steps`` updates, over ``ops``."""
        raise NotImplementedError

    def torch_kwargs(self) -> dict[str, Any]:
        """Keywords for torch's class, minus the optimizer."""
        raise NotImplementedError

    @property
    def sets_momentum(self) -> bool:
        return False

    def momentum_range(self, group: int = 0) -> Optional[tuple[float, float]]:
        if not self.sets_momentum:
            return None
        values = self.momentum(np.asarray(self.landmarks() or (0,), dtype=np.int64), group)
        return float(values.min()), float(values.max())

    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """The lr of the update after ``steps`` updates (numpy float64, any shape of whole steps)."""
        return np.asarray(self.values_at(NUMPY, v.steps_array(steps), "lr", group), dtype=np.float64)

    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        """The momentum (or beta1) of the update after ``steps`` updates, where the spec sets it."""
        self.check_sets_momentum()
        return np.asarray(self.values_at(NUMPY, v.steps_array(steps), "momentum", group), dtype=np.float64)

    def check_sets_momentum(self) -> None:
        if not self.sets_momentum:
            raise ValueError(
                f"{self.TORCH_CLASS} does not set momentum here: the optimizer keeps its own. In a "
                "SequentialSpec, the momentum of this phase is what the others leave."
            )

    def default_steps(self) -> int:
        end = max(self.landmarks(), default=50)
        return v.shown_steps(2 * end + 10)

    @classmethod
    def _document_fields(cls) -> tuple[set, tuple]:
        """(the fields a JSON document may have, the ones it must have)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict with a format tag and version."""
        out: dict[str, Any] = {"format": self.FORMAT, "version": self.VERSION}
        for name, value in self._values().items():
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> Any:
        """Inverse of ``to_dict``: unknown fields, missing fields and other versions are refused."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_dict takes no keywords, got {sorted(kwargs)}")
        names, required = cls._document_fields()
        check_document(cls, data, names=names, required=required)
        return cls(**{k: val for k, val in data.items() if k not in ("format", "version")})


# ------------------------------------------------------------------------------ phases
class PhaseSpec(FormulaSpec):
    """Base of the specs of torch's lr-scaling schedulers (``LinearLR``, ``ConstantLR``,
    ``CosineAnnealingLR``, ...): ``lr`` is the lr torch takes from the optimizer (its
    ``initial_lr``: a float, or one per param group), the rest are torch's keywords.

    ``spec.lr(steps, group=0)`` is the schedule (as for every spec), so the lr given is kept
    as ``spec.initial_lr``, torch's name for it. Subclasses define ``FORMAT``,
    ``TORCH_CLASS``, ``TORCH_STATE_KEYS``, ``FIELDS`` (torch's keywords and defaults, in order),
    ``_check()`` (validation), ``lr_at(ops, steps, initial_lr)`` (the formula), ``describe()``
    and ``landmarks()``. Instances are immutable and compare by value.
    """

    FIELDS: tuple = ()  # ((name, default), ...) after lr
    NEEDS_INITIAL_LR = True

    initial_lr: Any  # the lr given (torch's initial_lr): a float, or a tuple of one per group

    if TYPE_CHECKING:
        # Every phase is built as cls(lr=..., <its FIELDS>=...) (from_torch, from_dict).
        def __init__(self, lr: Any, **values: Any) -> None: ...

    def _init(self, lr: Any, **values: Any) -> None:
        object.__setattr__(self, "initial_lr", v.bound("lr", lr, v.non_negative))
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._check()

    def _values(self) -> dict[str, Any]:
        return {"lr": self.initial_lr, **{name: getattr(self, name) for name, _ in self.FIELDS}}

    def _check(self) -> None:
        raise NotImplementedError

    # -------------------------------------------------------------- values
    @property
    def num_groups(self) -> Optional[int]:
        return len(self.initial_lr) if isinstance(self.initial_lr, tuple) else None

    def group_lr(self, group: int = 0) -> float:
        return v.pick_group(self.initial_lr, group, self.num_groups)

    def lr_at(self, ops: Ops, steps: Any, initial_lr: float) -> Any:
        """The lr after ``steps`` updates, for a group whose lr is ``initial_lr``, over ``ops``."""
        raise NotImplementedError

    def values_at(self, ops: Ops, steps: Any, what: str, group: int) -> Any:
        if what != "lr":
            self.check_sets_momentum()  # raises: torch's lr-scaling schedulers never set momentum
        return self.lr_at(ops, steps, self.group_lr(group))

    # -------------------------------------------------------------- torch
    def torch_kwargs(self) -> dict[str, Any]:
        """Keywords for torch's class, minus the optimizer (and minus ``lr``, which torch reads
        from the optimizer's param groups: ``clr_torch.scheduler`` puts it there)."""
        return {name: getattr(self, name) for name, _ in self.FIELDS}

    @classmethod
    def from_torch(
        cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any
    ) -> "PhaseSpec":
        """From torch's scheduler or its state: ``lr`` is its ``base_lrs`` (the groups' initial_lr)."""
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_torch takes no keywords but optimizer_state, got {sorted(kwargs)}")
        state = torch_state(cls, scheduler_or_state)
        if "base_lrs" not in state:
            raise ValueError(f"not a {cls.TORCH_CLASS} state: missing ['base_lrs']")
        # Each field is validated by the constructor under its own name, which is torch's key.
        return cls(
            lr=group_values(state["base_lrs"], "base_lrs", cls.TORCH_CLASS),
            **{name: state[name] for name, _ in cls.FIELDS},
        )

    @classmethod
    def _document_fields(cls) -> tuple[set, tuple]:
        return (
            {"lr", *(name for name, _ in cls.FIELDS)},
            ("lr", *(name for name, default in cls.FIELDS if default is None)),
        )


def check_document(cls: type[Spec], data: Mapping[str, Any], names: set, required: tuple) -> None:
    """A ``to_dict()`` document of ``cls``: format, version, known and required fields."""
    if not isinstance(data, Mapping):
        raise TypeError(f"a {cls.__name__} document must be a mapping, got {type(data).__name__}")
    if not isinstance(data.get("format"), str) or data.get("format") != cls.FORMAT:
        raise ValueError(f"format must be {cls.FORMAT!r}, got {data.get('format')!r}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version != cls.VERSION:
        raise ValueError(
            f"version must be {cls.VERSION} (the only {cls.__name__} version this library reads), got {version!r}"
        )
    unknown = sorted(set(data) - names - {"format", "version"})
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(names)}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"missing required {cls.__name__} field(s) {missing}")


def group_values(values: Any, key: str = "value", where: str = "torch scheduler") -> Any:
    """torch keeps per-group lists (maybe of tensors): floats, or one float when all groups
    agree (a scalar applies to every group, as in torch). ``key`` and ``where`` name the state's
    entry in the error a non-number, NaN, an infinity or an empty list gets."""
    if isinstance(values, (list, tuple)):
        floats = v.state_reals(values, key, where)
        return floats[0] if all(f == floats[0] for f in floats) else floats
    return v.state_real(values, key, where)
