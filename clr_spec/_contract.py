"""The spec contract: what every schedule spec is and answers, so that no consumer asks its type.

A spec type subclasses ``Spec``, fills in the class attributes and the abstract methods, and
registers once (``clr_spec._family.register``). Consumers use only this interface:

- JSON (``to_dict``/``from_dict`` with ``format`` and ``version``), ``from_torch``;
- values: ``lr(steps, group)``, ``momentum(steps, group)`` (numpy float64), and for formula
  specs ``values_at(ops, steps, what, group)`` over an ``Ops`` namespace (``clr_spec._ops``);
- what the spec sets: ``sets_momentum``, ``momentum_range(group)`` (the optimizers check
  their bounds against it), ``num_groups``;
- how to show it: ``default_steps()``, ``natural_end``, ``describe()``, ``explain()``;
- how the frameworks build it: ``EVALUATOR`` names the builder clr_optax and clr_torch use
  ("formula": the spec's own ``values_at`` and torch's class ``TORCH_CLASS``; "cyclic": the
  CLR's exact machinery; "sequence": ``phases``), each looked up in a table that fails closed.

A torch scheduler is identified by its class name (``TORCH_CLASS``); a torch state dict by its
exact key signature: its keys minus ``LRScheduler``'s own (``BASE_STATE_KEYS``) must hold every
key of ``TORCH_STATE_KEYS`` and nothing outside it and ``TORCH_STATE_OPTIONAL`` (keys that some
torch versions or configurations add).
"""

from __future__ import annotations

import abc
import json
from typing import Any, ClassVar, Mapping, Optional

import numpy as np

# The keys torch's LRScheduler base class puts in every state dict (its __dict__ minus the
# optimizer), over the torch versions this library reads: they say nothing of the class.
BASE_STATE_KEYS = frozenset(
    {
        "last_epoch",
        "base_lrs",
        "_step_count",
        "_get_lr_called_within_step",
        "_is_initial",
        "_last_lr",
        "verbose",
        "_initial_step",
    }
)

EVALUATORS = ("formula", "cyclic", "sequence", "chained", "plateau", "plateau_sequence")


class Spec(abc.ABC):
    """Base of every schedule spec: immutable values with torch's keywords (see the module)."""

    FORMAT: ClassVar[str] = ""  # the JSON document's "format"
    VERSION: ClassVar[int] = 1  # the JSON document's "version"
    # torch's scheduler class this spec describes; "" where torch has none (a schedule of timm's,
    # Hugging Face's or ours): clr_torch then runs it as ``SpecLR``, writing the spec's values.
    TORCH_CLASS: ClassVar[str] = ""
    # The clr_torch class that runs it where TORCH_CLASS is "" (what help and errors name).
    TORCH_SCHEDULER: ClassVar[str] = "SpecLR"
    TORCH_STATE_KEYS: ClassVar[frozenset] = frozenset()  # its state keys beyond BASE_STATE_KEYS
    TORCH_STATE_OPTIONAL: ClassVar[frozenset] = frozenset()  # keys some torch versions add
    EVALUATOR: ClassVar[str] = "formula"
    NEEDS_INITIAL_LR: ClassVar[bool] = False  # torch's class scales the groups' lr: write it first
    # Whether torch's SequentialLR restarts the class from its own lr at a milestone (its closed
    # form at step 0); MultiplicativeLR, which has none, continues from the lr the phase before left.
    RESTARTS_AT_MILESTONE: ClassVar[bool] = True
    # Why a SequentialSpec cannot hold it at all ("" where it can).
    NOT_IN_SEQUENCE: ClassVar[str] = ""
    # Whether torch's class steps recursively (each lr from the one the group holds), so that a
    # ChainedScheduler of it can be replayed: then ``torch_step`` is its get_lr.
    CHAINABLE: ClassVar[bool] = False

    # ------------------------------------------------------------------ structure
    @property
    @abc.abstractmethod
    def num_groups(self) -> Optional[int]:
        """The number of param groups the spec has values for, or None when all are scalars."""

    @property
    @abc.abstractmethod
    def sets_momentum(self) -> bool:
        """Whether torch's scheduler writes the optimizer's momentum (or beta1)."""

    @abc.abstractmethod
    def momentum_range(self, group: int = 0) -> Optional[tuple[float, float]]:
        """(lowest, highest) momentum the spec sets for ``group``, or None where it sets none."""

    @property
    def natural_end(self) -> Optional[int]:
        """The step count past which torch's scheduler cannot step (``OneCycleLR``'s
        ``total_steps``), or None for a schedule that goes on."""
        return None

    @property
    def float32_exact(self) -> bool:
        """Whether the float32-only evaluation (``values_at`` over float32 ops) is already
        ``float32(float64 value)`` exactly, as a lookup in a table of float64 values rounded
        once is: clr_optax then uses it on every platform (no float64 needed)."""
        return False

    @property
    def phases(self) -> tuple:
        """``((start_step, spec), ...)`` of a sequence; ``()`` for a single schedule."""
        return ()

    @abc.abstractmethod
    def default_steps(self) -> int:
        """Steps enough to see the schedule (``clr show``, ``plot``, ``check``)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """One line: the schedule in words."""

    def explain(self) -> list[str]:
        """The lines ``clr show`` prints: the spec's values, then the lr at its landmarks."""
        lines = [f"  {key:15} {value}" for key, value in self.to_dict().items() if key not in ("format", "version")]
        steps = sorted({0, 1, *(k for k in self.landmarks() if k < 2**53)})  # numpy's whole steps
        lines.append("lr of group 0: " + ", ".join(f"step {k}: {float(self.lr(k)):.6g}" for k in steps))
        return lines

    def landmarks(self) -> tuple[int, ...]:
        """Steps where the schedule changes course (ends of ramps, periods, phases)."""
        return ()

    def past_end_note(self, steps: int) -> Optional[str]:
        """A warning for a run of ``steps`` steps (0 to ``steps - 1``) that goes past where the
        schedule ends and it then does what a user may not expect (torch's
        ``CosineAnnealingLR`` rises again past ``T_max``), with the alternative that holds; None
        where nothing surprising happens (the default: a schedule that holds, or that is periodic
        by design, as cyclical learning rates and warm restarts are). ``clr show``/``check``
        print it."""
        return None

    # ------------------------------------------------------------------ values
    @abc.abstractmethod
    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """The lr of the update after ``steps`` updates (numpy float64, any shape of whole steps)."""

    @abc.abstractmethod
    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        """The momentum (or beta1) of the update after ``steps`` updates; a ValueError where
        the spec does not set momentum (the optimizer keeps its own)."""

    # ------------------------------------------------------------------ serialization, torch
    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict with the spec's ``format`` and ``version``."""

    def to_json(self, **json_kwargs: Any) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, **json_kwargs)

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> "Spec":
        """Inverse of ``to_dict``: unknown fields, missing fields and other versions are refused."""

    @classmethod
    def from_json(cls, text: Any, **kwargs: Any) -> "Spec":
        from ._family import parse_json

        return cls.from_dict(parse_json(text), **kwargs)

    @classmethod
    @abc.abstractmethod
    def from_torch(cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any) -> "Spec":
        """The spec of a torch scheduler of class ``TORCH_CLASS`` (an object or its state dict)."""

    def at_milestone(self) -> "Spec":
        """The schedule as torch's SequentialLR runs it from a milestone, where ``_update_lr(0)``
        writes its closed form at step 0 (construction writes the group's lr): itself wherever
        that is the same value (every schedule but a recursion that starts from it)."""
        return self

    def torch_step(self, lr: float, step: int, group: int) -> float:
        """torch's recursive ``get_lr`` at ``step`` (0: the scheduler's construction) from the lr
        the group holds, in torch's arithmetic (Python floats): what a ChainedScheduler replays."""
        raise TypeError(
            f"{type(self).__name__} ({self.TORCH_CLASS}) is not a recursive scheduler: a ChainedSpec cannot replay it"
        )

    @abc.abstractmethod
    def replace(self, **changes: Any) -> "Spec":
        """A validated copy with ``changes``."""


class MissingStateKey(KeyError, ValueError):
    """A key a torch state must have is not there: a ValueError naming it (and a KeyError, so
    that ``state.get(key, default)`` still returns the default)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class StateView(Mapping):
    """A torch state dict, read-only, whose missing keys raise ``MissingStateKey`` naming the
    class and the key (a damaged checkpoint gives a ValueError, not a bare KeyError)."""

    def __init__(self, state: Mapping, torch_class: str):
        self._state, self._torch_class = state, torch_class

    def __getitem__(self, key: Any) -> Any:
        try:
            return self._state[key]
        except KeyError:
            raise MissingStateKey(
                f"not a {self._torch_class} state: it has no {key!r} (its keys: {sorted(map(str, self._state))})"
            ) from None

    def __iter__(self) -> Any:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)


def torch_state(cls: type[Spec], scheduler_or_state: Any) -> Mapping:
    """The state dict of a torch scheduler of ``cls.TORCH_CLASS`` (given it, or its state):
    the ``from_torch`` preamble every spec shares. Refuses anything else clearly; the state
    returned names the key a damaged state lacks (``StateView``)."""
    if isinstance(scheduler_or_state, Mapping):
        state = scheduler_or_state
    elif callable(getattr(scheduler_or_state, "state_dict", None)):
        names = [klass.__name__ for klass in type(scheduler_or_state).__mro__]
        if cls.TORCH_CLASS not in names:
            raise TypeError(
                f"from_torch of {cls.__name__} takes a {cls.TORCH_CLASS}, got a "
                f"{type(scheduler_or_state).__name__} (clr_spec.from_torch finds the right spec)"
            )
        state = scheduler_or_state.state_dict()
        if not isinstance(state, Mapping):
            raise TypeError(f"a {cls.TORCH_CLASS}'s state_dict() must be a mapping, got {type(state).__name__}")
    else:
        raise TypeError(
            f"from_torch takes a {cls.TORCH_CLASS} scheduler or its state_dict(), "
            f"got {type(scheduler_or_state).__name__}"
        )
    missing = sorted(k for k in cls.TORCH_STATE_KEYS if k not in state)
    if missing:
        raise ValueError(f"not a {cls.TORCH_CLASS} state: missing {missing}")
    # The exact signature, as clr_spec.from_torch identifies states: extra keys are another class's.
    extra = sorted(str(k) for k in state if k not in BASE_STATE_KEYS | cls.TORCH_STATE_KEYS | cls.TORCH_STATE_OPTIONAL)
    if extra:
        raise ValueError(f"not a {cls.TORCH_CLASS} state: it has {extra}, which a {cls.TORCH_CLASS} does not keep")
    return StateView(state, cls.TORCH_CLASS)
