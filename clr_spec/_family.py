"""The family of schedule specs: one registry, used by every entry point.

A spec type registers once (``@register``) with the JSON format it writes and the torch
class it describes. ``from_dict``/``from_json`` and ``from_torch`` dispatch on that, and fail
closed: an unknown format or torch class is a ``ValueError`` that lists the known ones.
``clr_optax.lr_schedule``, ``clr_torch.scheduler`` and ``clr show`` take any registered spec.

A phase spec (``PhaseSpec``) describes one of torch's schedulers that scale the lr the
optimizer had (its ``initial_lr``, given explicitly here as ``lr``) by a factor of the step.
Its factor is written once, over an array namespace ``xp`` (numpy here, ``jax.numpy`` in
clr_optax), in torch's closed-form order of operations; a phase is one module of this
package holding its spec, its formula and its torch mapping.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Optional

import numpy as np

from . import _validation as v

_BY_FORMAT: dict[str, type] = {}
_BY_TORCH_CLASS: dict[str, type] = {}


def register(cls: type) -> type:
    """Register a spec type under ``cls.FORMAT`` and ``cls.TORCH_CLASS``."""
    for table, key in ((_BY_FORMAT, cls.FORMAT), (_BY_TORCH_CLASS, cls.TORCH_CLASS)):
        if key in table and table[key] is not cls:
            raise ValueError(f"{key!r} is registered twice ({table[key].__name__}, {cls.__name__})")
        table[key] = cls
    return cls


def spec_types() -> tuple:
    """Every registered spec type."""
    return tuple(_BY_FORMAT.values())


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
    fmt = data.get("format")
    if fmt not in _BY_FORMAT:
        raise ValueError(f"format must be one of {sorted(_BY_FORMAT)}, got {fmt!r}")
    return _BY_FORMAT[fmt].from_dict(data, **kwargs)


def from_json(text: Any, **kwargs: Any) -> Any:
    """The spec a ``to_json()`` text describes, of the type its ``format`` names."""
    return from_dict(parse_json(text), **kwargs)


def parse_json(text: Any) -> Any:
    """A spec document's JSON: a string, and no NaN or Infinity (every ``from_json`` reads it so)."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"from_json takes a JSON string, got {type(text).__name__}")
    return json.loads(text, parse_constant=_reject_constant)


def torch_class_of(scheduler_or_state: Any) -> str:
    """The torch scheduler class an object is, or a state dict was made by (from its keys)."""
    if not isinstance(scheduler_or_state, Mapping):
        for klass in type(scheduler_or_state).__mro__:
            if klass.__name__ in _BY_TORCH_CLASS:
                return klass.__name__
        raise ValueError(f"no spec for torch scheduler {type(scheduler_or_state).__name__}; known: "
                         f"{sorted(_BY_TORCH_CLASS)}")
    keys = set(scheduler_or_state)
    for name, cls in _BY_TORCH_CLASS.items():
        if set(cls.STATE_KEYS) <= keys:
            return name
    raise ValueError(f"not the state of a known torch scheduler ({sorted(_BY_TORCH_CLASS)}): "
                     f"its keys are {sorted(map(str, keys))}")


def from_torch(scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any) -> Any:
    """The spec of a torch scheduler (an object or its ``state_dict()``), of any registered type.

    torch keeps some values in the optimizer's param groups rather than in the scheduler's
    state: pass ``optimizer.state_dict()`` as ``optimizer_state`` where the spec needs them
    (the error says so)."""
    cls = _BY_TORCH_CLASS[torch_class_of(scheduler_or_state)]
    return cls.from_torch(scheduler_or_state, optimizer_state=optimizer_state, **kwargs)


def _reject_constant(name: str) -> None:
    raise ValueError(f"JSON constant {name} is not a valid spec value")


# ------------------------------------------------------------------------------ value semantics
class ValueSpec:
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
        return hash((type(self), tuple((k, tuple(val) if isinstance(val, list) else val)
                                       for k, val in self._values().items())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={val!r}' for k, val in self._values().items())})"

    def replace(self, **changes: Any) -> Any:
        return type(self)(**{**self._values(), **changes})

    def to_json(self, **json_kwargs: Any) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **json_kwargs)


# ------------------------------------------------------------------------------ formula specs
class FormulaSpec(ValueSpec):
    """Base of the specs whose values are one closed form over an array namespace ``xp``
    (``values_at``): numpy gives ``spec.lr``/``spec.momentum``, ``jax.numpy`` gives clr_optax's
    schedules, and clr_torch builds torch's class ``TORCH_CLASS`` from ``torch_kwargs()`` (after
    writing the spec's lr into the groups where ``NEEDS_INITIAL_LR``: torch's class scales it)."""

    FORMAT = ""
    TORCH_CLASS = ""
    STATE_KEYS: tuple = ()
    NEEDS_INITIAL_LR = False
    VERSION = 1

    def values_at(self, xp: Any, steps: Any, what: str, group: int) -> Any:
        """``what`` ("lr" or "momentum") of param group ``group`` after ``steps`` updates, over ``xp``."""
        raise NotImplementedError

    @property
    def sets_momentum(self) -> bool:
        return False

    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """The lr of the update after ``steps`` updates (numpy float64, any shape of whole steps)."""
        return np.asarray(self.values_at(np, v.steps_array(steps), "lr", group), dtype=np.float64)

    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        """The momentum (or beta1) of the update after ``steps`` updates, where the spec sets it."""
        if not self.sets_momentum:
            raise ValueError(f"{self.TORCH_CLASS} does not set momentum here: the optimizer keeps its own. In a "
                             "SequentialSpec, the momentum of this phase is what the others leave.")
        return np.asarray(self.values_at(np, v.steps_array(steps), "momentum", group), dtype=np.float64)

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
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Inverse of ``to_dict``: unknown fields, missing fields and other versions are refused."""
        names, required = cls._document_fields()
        check_document(cls, data, names=names, required=required)
        return cls(**{k: val for k, val in data.items() if k not in ("format", "version")})

    @classmethod
    def from_json(cls, text: str) -> Any:
        return cls.from_dict(parse_json(text))


def in_float64(values: Any) -> bool:
    """Whether a formula computes in float64: numpy's int64 steps, or jax's float64 ones (the
    float32-only path of TPUs gives int32 steps, and float32 arithmetic follows)."""
    return str(getattr(values, "dtype", "float64")) in ("float64", "int64")


def cosine_anneal(xp: Any, position: Any, length: Any) -> Any:
    """``(1 + cos(pi * position / length)) / 2``, the cosine anneal's factor, for ``position`` in
    [0, length]. In float64 as torch writes it (to round as torch does); in float32 (the TPU
    path) as ``cos(pi * position / (2 * length))**2``, the same value taken through an angle of
    at most pi/4, because ``1 + cos`` cancels near the end of the anneal, which in float32 costs
    thousands of ulps where the lr nears its floor."""
    if in_float64(position):
        return (1 + xp.cos(math.pi * position / length)) / 2
    near_start = 2 * position <= length
    half = xp.where(near_start, xp.cos(math.pi * position / (2 * length)),
                    xp.sin(math.pi * (length - position) / (2 * length)))
    return half * half


# ------------------------------------------------------------------------------ phases
class PhaseSpec(FormulaSpec):
    """Base of the specs of torch's lr-scaling schedulers (``LinearLR``, ``ConstantLR``,
    ``CosineAnnealingLR``): ``lr`` is the lr torch takes from the optimizer (its
    ``initial_lr``: a float, or one per param group), the rest are torch's keywords.

    ``spec.lr(steps, group=0)`` is the schedule (as for every spec), so the lr given is kept
    as ``spec.initial_lr``, torch's name for it. Subclasses define ``FORMAT``,
    ``TORCH_CLASS``, ``STATE_KEYS``, ``FIELDS`` (torch's keywords and defaults, in order),
    ``_check()`` (validation) and ``lr_at(xp, steps, initial_lr)`` (the formula). Instances
    are immutable and compare by value.
    """

    FIELDS: tuple = ()       # ((name, default), ...) after lr
    NEEDS_INITIAL_LR = True

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
        g = v.group_index(group, self.num_groups)
        return self.initial_lr[g] if isinstance(self.initial_lr, tuple) else self.initial_lr

    def lr_at(self, xp: Any, steps: Any, initial_lr: float) -> Any:
        """The lr after ``steps`` updates, for a group whose lr is ``initial_lr``, over ``xp``."""
        raise NotImplementedError

    def values_at(self, xp: Any, steps: Any, what: str, group: int) -> Any:
        if what != "lr":
            self.momentum(0, group)           # raises: torch's lr-scaling schedulers never set momentum
        return self.lr_at(xp, steps, self.group_lr(group))

    # -------------------------------------------------------------- torch
    def torch_kwargs(self) -> dict[str, Any]:
        """Keywords for torch's class, minus the optimizer (and minus ``lr``, which torch reads
        from the optimizer's param groups: ``clr_torch.scheduler`` puts it there)."""
        return {name: getattr(self, name) for name, _ in self.FIELDS}

    @classmethod
    def from_torch(cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None) -> "PhaseSpec":
        """From torch's scheduler or its state: ``lr`` is its ``base_lrs`` (the groups' initial_lr)."""
        state = scheduler_or_state if isinstance(scheduler_or_state, Mapping) else scheduler_or_state.state_dict()
        missing = [k for k in (*cls.STATE_KEYS, "base_lrs") if k not in state]
        if missing:
            raise ValueError(f"not a {cls.TORCH_CLASS} state: missing {missing}")
        return cls(lr=group_values(state["base_lrs"]), **{name: state[name] for name, _ in cls.FIELDS})

    @classmethod
    def _document_fields(cls) -> tuple[set, tuple]:
        return ({"lr", *(name for name, _ in cls.FIELDS)},
                ("lr", *(name for name, default in cls.FIELDS if default is None)))


def check_document(cls: type, data: Mapping[str, Any], names: set, required: tuple) -> None:
    """A ``to_dict()`` document of ``cls``: format, version, known and required fields."""
    if not isinstance(data, Mapping):
        raise TypeError(f"a {cls.__name__} document must be a mapping, got {type(data).__name__}")
    if data.get("format") != cls.FORMAT:
        raise ValueError(f"format must be {cls.FORMAT!r}, got {data.get('format')!r}")
    version = data.get("version")
    if isinstance(version, bool) or version != cls.VERSION:
        raise ValueError(f"version must be {cls.VERSION} (the only {cls.__name__} version this library reads), "
                         f"got {version!r}")
    unknown = sorted(set(data) - names - {"format", "version"})
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {unknown}; known fields: {sorted(names)}")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"missing required {cls.__name__} field(s) {missing}")


def group_values(values: Any) -> Any:
    """torch keeps per-group lists (maybe of tensors): floats, or one float when all groups
    agree (a scalar applies to every group, as in torch)."""
    if isinstance(values, (list, tuple)):
        floats = [float(x) for x in values]
        return floats[0] if floats and all(f == floats[0] for f in floats) else floats
    return float(values)

