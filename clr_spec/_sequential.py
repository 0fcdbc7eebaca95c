"""``SequentialSpec``: phases one after another, as torch's ``SequentialLR`` runs them
(a warmup, the cycles, a tail).

Phase ``i`` runs from ``milestones[i - 1]`` (0 for the first) to ``milestones[i]``, on its own
step count starting at 0 there: torch's ``SequentialLR`` restarts each scheduler at its
milestone. Momentum: a phase that cycles it (a ``CyclicSpec`` with ``cycle_momentum``) sets
it; every other phase leaves what the last one set. Before the first such phase, the optimizer
holds what building the schedulers left: the ``max_momentum`` of the last momentum-cycling
phase (each ``CyclicLR`` writes its ``max_momentum`` when built, in list order). Where no phase
sets momentum, it is the optimizer's own, given as ``momentum`` (or unknown).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Mapping, Optional, Sequence, cast

import numpy as np

from . import _family, _validation as v
from ._contract import Spec, torch_state
from ._family import register


# The torch classes that start cleanly when torch's SequentialLR steps them from last_epoch -1
# outside their initial step, as it does the first phase of a nested first sequence (checked
# against torch in parity_tests/test_sequences_vs_torch.py). CosineAnnealingLR, PolynomialLR and
# ExponentialLR (and MultiplicativeLR) compute their first lr from the last there, as if a step
# had passed.
RESTARTS_CLEANLY = frozenset(
    {"LinearLR", "ConstantLR", "StepLR", "MultiStepLR", "CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts"}
)
# How torch's classes take their first lr, at step 0 of a SequentialLR: from the param groups' lr
# (which SequentialLR sets to their initial_lr, OneCycleLR's max_lr / div_factor where one was
# built), or from their own base_lrs (or group settings). CosineAnnealingLR takes the groups' lr,
# and its base_lrs again at step T_max + 1 of each period.
FIRST_LR_FROM_GROUPS = frozenset(
    {
        "LinearLR",
        "ConstantLR",
        "StepLR",
        "MultiStepLR",
        "ExponentialLR",
        "PolynomialLR",
        "MultiplicativeLR",
        "CosineAnnealingLR",
    }
)
FIRST_LR_OWN = frozenset({"CosineAnnealingWarmRestarts", "LambdaLR", "CyclicLR", "OneCycleLR"})


def _flattened(spec: Any, shift: int) -> tuple:
    """``((start, leaf), ...)`` of a sequence, as torch's SequentialLR runs it (``phases``):
    ``shift`` is how many steps ahead torch steps this sequence (its nesting level below the
    outermost). A phase a milestone of the outer sequence cuts off starts there, with no steps."""
    starts = [0] + [max(m - shift, 0) for m in spec.milestones]
    out: list = []
    for i, (start, phase) in enumerate(zip(starts, spec.specs)):
        if i == 0 and phase.EVALUATOR == "sequence":
            end = starts[1] if len(starts) > 1 else None
            out += [(s if end is None else min(s, end), leaf) for s, leaf in _flattened(phase, shift + 1)]
        else:
            out.append((start, phase if i == 0 else phase.at_milestone()))
    return tuple(out)


def checked_milestones(milestones: Any, phases: int) -> tuple[int, ...]:
    """A sequence's milestones: ints >= 1, strictly increasing, one fewer than its ``phases``."""
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
        raise TypeError(f"milestones must be a list of ints, got {type(milestones).__name__}")
    milestones = tuple(v.integer(f"milestones[{i}]", m, low=1) for i, m in enumerate(milestones))
    if len(milestones) != phases - 1:
        raise ValueError(
            f"milestones must have one entry fewer than specs (each phase after the first "
            f"starts at one): {phases} specs, {len(milestones)} milestones"
        )
    if any(b <= a for a, b in zip(milestones, milestones[1:])):
        raise ValueError(f"milestones must be strictly increasing, got {list(milestones)}")
    return milestones


def checked_momentum(specs: Sequence[Any], momentum: Any) -> Any:
    """The optimizer's momentum a sequence is given (None, a float or one per group), checked,
    and the phases (and it) agreeing on the number of param groups."""
    counts = {s.num_groups for s in specs} - {None}
    if momentum is not None:
        momentum = v.bound("momentum", momentum, v.momentum)
        if isinstance(momentum, tuple):
            counts.add(len(momentum))
    if len(counts) > 1:
        raise ValueError(f"the phases disagree on the number of param groups: {sorted(counts)}")
    return momentum


@register
class SequentialSpec(_family.ValueSpec):
    """torch's ``SequentialLR(optimizer, schedulers, milestones)`` as a spec.

    Args:
      specs: the phases, any clr_spec specs (``LinearSpec``, ``CyclicSpec``, ...), in order.
      milestones: the steps where each phase after the first starts: ints >= 1, strictly
        increasing, one fewer than ``specs``.
      momentum: the optimizer's momentum (or beta1), a float or one per group, for the steps
        where no phase has set it; only needed when no phase cycles momentum.

    >>> from clr_spec import CyclicSpec, LinearSpec, SequentialSpec
    >>> spec = SequentialSpec([LinearSpec(lr=1.0, start_factor=0.5, total_iters=2),
    ...                        CyclicSpec(base_lr=1, max_lr=3, step_size_up=2)], milestones=[2])
    >>> spec.lr(range(8)).tolist()      # warmup 0.5, 0.75; then the cycle 1, 2, 3, 2, 1, 2
    [0.5, 0.75, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0]
    >>> spec.momentum([0, 2, 4, 6]).tolist()   # the cycle's max_momentum until it starts
    [0.9, 0.9, 0.8, 0.9]
    """

    FORMAT = "clr.SequentialSpec"
    TORCH_CLASS = "SequentialLR"
    TORCH_STATE_KEYS = frozenset({"_schedulers", "_milestones"})
    EVALUATOR = "sequence"

    specs: tuple[Spec, ...]
    milestones: tuple[int, ...]
    momentum_: Optional[v.Bound]  # the optimizer's momentum, given as momentum=; None if not given
    depth: int  # 1, plus the depth of a nested first sequence
    _flat: tuple  # ((start, spec), ...): the phases as torch runs them (``phases``)

    def __new__(cls, specs: Sequence[Any] = (), milestones: Sequence[int] = (), momentum: Any = None) -> Any:
        # A ReduceLROnPlateau as the last phase (torch's SequentialLR cannot hold one): the
        # composition is a PlateauSequenceSpec, built from the same arguments.
        if (
            cls is SequentialSpec
            and isinstance(specs, Sequence)
            and not isinstance(specs, (str, bytes))
            and len(specs) > 1
            and getattr(specs[-1], "EVALUATOR", None) == "plateau"
        ):
            from ._plateau_sequence import PlateauSequenceSpec

            return PlateauSequenceSpec(specs, milestones, momentum=momentum)
        return super().__new__(cls)

    def __init__(self, specs: Sequence[Any], milestones: Sequence[int], momentum: Any = None):
        if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence) or len(specs) == 0:
            raise ValueError("specs must be a non-empty list of clr_spec specs (the phases, in order)")
        specs = tuple(_family.check_spec(s, f"specs[{i}]") for i, s in enumerate(specs))
        for i, phase in enumerate(specs[1:], start=1):
            if phase.EVALUATOR == "sequence":
                raise ValueError(
                    f"specs[{i}] is a {type(phase).__name__}: torch's SequentialLR cannot run a "
                    "SequentialLR as a later phase (it raises NotImplementedError at its milestone); "
                    "list its phases in this sequence instead (only the first phase may be a sequence)"
                )
        depth = 1 + getattr(specs[0], "depth", 0)
        if depth > v.MAX_NESTING:
            raise ValueError(
                f"SequentialSpecs nest {depth} deep here; at most {v.MAX_NESTING} are read "
                "(each level's first phase is the next)"
            )
        for i, phase in enumerate(specs):
            if phase.NOT_IN_SEQUENCE:
                raise ValueError(
                    f"specs[{i}] ({type(phase).__name__}) cannot be a phase of a SequentialSpec: "
                    f"{phase.NOT_IN_SEQUENCE}"
                )
        for i, phase in enumerate(specs[1:], start=1):
            if not phase.RESTARTS_AT_MILESTONE:
                raise ValueError(
                    f"specs[{i}] ({type(phase).__name__}) can only be the first phase: torch's "
                    f"SequentialLR restarts a {phase.TORCH_CLASS} at its milestone from the lr the "
                    "phase before left (it has no closed form), which no spec of it describes"
                )
        milestones = checked_milestones(milestones, len(specs))
        momentum = checked_momentum(specs, momentum)
        object.__setattr__(self, "specs", specs)
        object.__setattr__(self, "milestones", milestones)
        object.__setattr__(self, "momentum_", momentum)
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "_flat", _flattened(self, 0))
        self._check_flat()

    def _check_flat(self) -> None:
        """What torch's SequentialLR does with the phases as they run (``phases``), where it raises
        or computes what no spec describes, refused."""
        flat = self._flat
        if self.depth > 1:
            inner: Any = self.specs[0]
            shift = 1
            while inner.EVALUATOR == "sequence":
                if inner.milestones and inner.milestones[0] <= shift:
                    raise ValueError(
                        f"the first phase of the nested SequentialSpec {shift} level(s) down would never run: torch's "
                        f"SequentialLR steps a nested first sequence one step ahead per level (its milestones fall "
                        f"{shift} step(s) earlier), so its first milestone must be > {shift}, got {inner.milestones[0]}"
                    )
                inner, shift = inner.specs[0], shift + 1
            if inner.TORCH_CLASS not in RESTARTS_CLEANLY:
                raise ValueError(
                    f"a {inner.TORCH_CLASS} cannot start a nested SequentialSpec: torch steps the first phase of a nested "
                    f"sequence from last_epoch -1 outside its initial step, where a {inner.TORCH_CLASS} computes an lr "
                    f"that is not its schedule; phases that can: {sorted(RESTARTS_CLEANLY)}"
                )
        self._check_shared_settings()
        for i, (start, phase) in enumerate(flat[:-1]):
            length, end = flat[i + 1][0] - start, phase.natural_end
            if end is not None and length > end:
                raise ValueError(
                    f"the {type(phase).__name__} phase from step {start} runs {length} steps, past its end ({end}): torch's "
                    f"{phase.TORCH_CLASS} raises there, or extrapolates at step {end}; the next milestone must be at most "
                    f"{start + end}"
                )

    def _check_shared_settings(self) -> None:
        """torch's OneCycleLR keeps its settings in the param groups (``initial_lr``, ``max_lr``,
        ``min_lr``; ``max_momentum`` and ``base_momentum`` where it cycles momentum, which CyclicLR
        writes too) and reads them there on every step, and SequentialLR starts the first phase
        from ``initial_lr``: what the last phase built wrote is what all of them read. A sequence
        whose phases would need other values there is refused (torch cannot run it)."""
        flat = [phase for _, phase in self._flat]
        cycles = [p for p in flat if p.TORCH_CLASS == "OneCycleLR"]
        if not cycles:
            return
        groups = range(self.num_groups or 1)
        last = cycles[-1]
        lr_keys = ("initial_lr", "max_lr", "min_lr")
        for p in cycles[:-1]:
            for g in groups:
                mine, theirs = p.settings_of_group(g), last.settings_of_group(g)
                if any(mine[k] != theirs[k] for k in lr_keys):
                    raise ValueError(
                        f"two OneCycleSpec phases with different lrs (group {g}: max_lr {mine['max_lr']!r} / div_factor "
                        f"{p.div_factor!r}, and {theirs['max_lr']!r} / {last.div_factor!r}): torch's OneCycleLR reads "
                        "max_lr, initial_lr and min_lr from the param groups, where the last one built wrote its own"
                    )
        writers = [p for p in flat if p.sets_momentum and p.TORCH_CLASS in ("OneCycleLR", "CyclicLR")]
        for p in (c for c in cycles if c.sets_momentum):
            for g in groups:
                if _bounds(p, g) != _bounds(writers[-1], g):
                    raise ValueError(
                        f"a OneCycleSpec phase cycles momentum between {_bounds(p, g)} (group {g}, max_momentum first), "
                        f"but torch's OneCycleLR reads them from the param groups, where the {type(writers[-1]).__name__} "
                        f"built after it writes {_bounds(writers[-1], g)}: give them the same momentum bounds"
                    )
        first = flat[0]
        initial = [last.settings_of_group(g)["initial_lr"] for g in groups]
        if first.TORCH_CLASS in FIRST_LR_OWN or first is last:
            return
        if first.TORCH_CLASS not in FIRST_LR_FROM_GROUPS:
            raise ValueError(
                f"a {first.TORCH_CLASS} first phase with a OneCycleSpec later: torch's SequentialLR starts "
                "the first phase from the param groups' initial_lr, which OneCycleLR sets, and clr_spec does "
                f"not know how a {first.TORCH_CLASS} takes it"
            )
        for g in groups:
            if first.group_lr(g) != initial[g]:
                raise ValueError(
                    f"the first phase ({type(first).__name__}) has lr {first.group_lr(g)!r} (group {g}), but torch's "
                    f"SequentialLR starts it from the param groups' initial_lr, which the OneCycleLR writes: its max_lr / "
                    f"div_factor = {initial[g]!r}. Give the first phase lr={initial[g]!r} (from_torch does)"
                )

    def _values(self) -> dict[str, Any]:
        return {"specs": list(self.specs), "milestones": list(self.milestones), "momentum": self.momentum_}

    # ------------------------------------------------------------------ structure
    @property
    def num_groups(self) -> Optional[int]:
        counts = {s.num_groups for s in self.specs} - {None}
        if isinstance(self.momentum_, tuple):
            counts.add(len(self.momentum_))
        return next(iter(counts), None)

    @property
    def phases(self) -> tuple:
        """``((start, spec), ...)``: the phases as torch runs them, none of them a sequence. A nested
        first sequence's phases come in place of it, one step earlier per level: torch's SequentialLR
        steps a nested sequence once more while building the outer one, so its milestones fall a step
        earlier (its phases past the outer's next milestone never run: they start there, with no
        steps, and are built, as torch builds them). Starts never decrease."""
        return self._flat

    @property
    def natural_end(self) -> Optional[int]:
        start, last = self._flat[-1]
        end = last.natural_end
        return None if end is None else start + end

    def past_end_note(self, steps: int) -> Optional[str]:
        """Each phase's own note for the steps it runs here (to the next milestone; the last one
        to ``steps``), where one has a note: a phase restarts at its milestone on its own count."""
        notes = []
        ends = [start for start, _ in self._flat[1:]] + [steps]
        for (start, phase), end in zip(self._flat, ends):
            run = min(end, steps) - start
            note = phase.past_end_note(run) if run > 0 else None
            if note:
                notes.append(f"the phase from step {start}: {note}")
        return "; ".join(notes) or None

    def momentum_range(self, group: int = 0) -> Optional[tuple[float, float]]:
        ranges = [r for r in (s.momentum_range(group) for s in self.specs) if r is not None]
        if not ranges:
            return None
        return min(low for low, _ in ranges), max(high for _, high in ranges)

    def describe(self) -> str:
        return f"{len(self.specs)} phases, from steps {list(self.starts)}: " + "; then ".join(
            s.describe() for s in self.specs
        )

    def landmarks(self) -> tuple[int, ...]:
        return self.milestones

    def default_steps(self) -> int:
        return v.shown_steps(
            self.milestones[-1] + self.specs[-1].default_steps() if self.milestones else self.specs[-1].default_steps()
        )

    def explain(self) -> list[str]:
        lines = []
        for i, phase in enumerate(self.specs):
            end = f"step {self.milestones[i] - 1}" if i < len(self.milestones) else "on"
            lines.append(
                f"phase {i + 1}: steps {self.starts[i]} to {end}: {type(phase).__name__} "
                f"({_family.torch_runner(phase)}): {phase.describe()}"
            )
            lines += [
                f"    {key:15} {value}" for key, value in phase.to_dict().items() if key not in ("format", "version")
            ]
        if self.momentum_ is not None:
            lines.append(f"momentum (the optimizer's): {self.momentum_}")
        lines.append("at the milestones (step: lr of group 0):")
        for step in sorted({0, *self.milestones, *(m - 1 for m in self.milestones)}):
            lines.append(f"  {step}: {float(self.lr(step)):.6g}")
        return lines

    @property
    def starts(self) -> tuple[int, ...]:
        """The step at which each phase starts."""
        return (0, *self.milestones)

    @property
    def sets_momentum(self) -> bool:
        return any(s.sets_momentum for s in self.specs)

    def phase_of(self, steps: np.ndarray) -> np.ndarray:
        """The index in ``phases`` of each step's phase (the last one started: an empty phase,
        which starts where the next does, never runs)."""
        starts = np.asarray([start for start, _ in self._flat[1:]], dtype=np.int64)
        return np.searchsorted(starts, steps, side="right")

    def held_momentum(self, phase: int, group: int = 0) -> Optional[float]:
        """The momentum during ``phases[phase]`` where it does not set it: what the last phase that
        ran before and set it left, else what building the schedulers left (the last one built that
        sets it: its momentum at step 0), else the optimizer's own (None if not given)."""
        flat = self._flat
        ends = [start for start, _ in flat[1:]] + [None]
        setters = [i for i, (_, s) in enumerate(flat) if s.sets_momentum]
        before = [i for i in setters if i < phase and ends[i] != flat[i][0]]  # setters that ran
        if before:
            last = before[-1]
            return float(flat[last][1].momentum(ends[last] - flat[last][0] - 1, group))
        if setters:
            return float(flat[setters[-1]][1].momentum(0, group))
        own = self._own_momentum()
        if own is None:
            return None
        return v.pick_group(own, group, self.num_groups)

    def _own_momentum(self) -> Optional[v.Bound]:
        """The optimizer's momentum as given (``momentum=``), here or in a nested first sequence."""
        own, inner = self.momentum_, cast(Any, self.specs[0])
        while own is None and inner.EVALUATOR == "sequence":  # a nested sequence read from torch
            own, inner = inner.momentum_, inner.specs[0]
        return own

    # ------------------------------------------------------------------ values
    def lr(self, steps: Any, group: int = 0) -> np.ndarray:
        """The lr of the update after ``steps`` updates (numpy float64, any shape of whole steps)."""
        return self._piecewise(steps, group, lambda spec, local, g: spec.lr(local, g), None)

    def momentum(self, steps: Any, group: int = 0) -> np.ndarray:
        """The momentum (or beta1) of the update after ``steps`` updates: the phases' own where
        they cycle it, what they left elsewhere (see the module docstring)."""
        if not self.sets_momentum and self._own_momentum() is None:
            raise ValueError(
                "no phase sets momentum, so it is the optimizer's own: pass it as SequentialSpec(..., momentum=...)"
            )
        return self._piecewise(steps, group, lambda spec, local, g: spec.momentum(local, g), self.held_momentum)

    def _piecewise(self, steps: Any, group: int, value, held) -> np.ndarray:
        arr = v.steps_array(steps)
        v.group_index(group, self.num_groups)
        out = np.empty(arr.shape, dtype=np.float64)
        phase = self.phase_of(arr)
        for i, (start, spec) in enumerate(self._flat):
            mask = phase == i
            if not mask.any():
                continue
            if held is not None and not spec.sets_momentum:
                out[mask] = held(i, group)
            else:
                out[mask] = value(spec, arr[mask] - start, group)
        return out

    # ------------------------------------------------------------------ torch
    @classmethod
    def from_torch(
        cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, scale_fn: Any = None, **kwargs: Any
    ) -> "SequentialSpec":
        """From torch's ``SequentialLR`` or its state (each phase's state inside it). Where no
        phase sets momentum, the optimizer's is read from ``optimizer_state`` (or, given the
        scheduler object, from its optimizer). So is each group's ``initial_lr``: torch's
        SequentialLR starts its first phase from it (a ``OneCycleLR`` anywhere in the sequence
        writes its ``max_lr / div_factor`` there), and the first phase's ``lr`` is that.

        ``scale_fn``: the custom scale function of the ``CyclicLR`` phase(s), which torch's state
        does not hold (a function is not saved; a callable object's attributes are): one
        function for every CyclicLR phase, or ``{index: function}`` by the phase's index in
        ``_schedulers`` (a nested sequence's entry may be such a dict again). Given the
        scheduler object, each phase's own is read."""
        if kwargs:
            raise TypeError(
                f"SequentialSpec.from_torch takes no keywords but optimizer_state and scale_fn, got {sorted(kwargs)}"
            )
        state = torch_state(cls, scheduler_or_state)
        _check_nesting(scheduler_or_state)
        if isinstance(scheduler_or_state, Mapping):
            phases = state["_schedulers"]
        else:
            phases = scheduler_or_state._schedulers
            if optimizer_state is None:
                optimizer_state = scheduler_or_state.optimizer.state_dict()
        if not isinstance(phases, (list, tuple)) or not phases:
            raise ValueError("not a SequentialLR state: _schedulers must be a non-empty list of scheduler states")
        milestones = state["_milestones"]
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
            raise TypeError(f"SequentialLR state: _milestones must be a list of ints, got {v.shown(milestones)}")
        if scale_fn is not None and not callable(scale_fn) and not isinstance(scale_fn, Mapping):
            raise TypeError(f"scale_fn must be a function or a dict {{phase index: function}}, got {v.shown(scale_fn)}")
        specs = []
        for i, phase in enumerate(phases):
            if isinstance(scheduler_or_state, Mapping) and not isinstance(phase, Mapping):
                raise ValueError(
                    f"SequentialLR state: _schedulers[{i}] must be a scheduler's state (a dict), got "
                    f"{type(phase).__name__} {v.shown(phase)}"
                )
            fn = scale_fn.get(i) if isinstance(scale_fn, Mapping) else scale_fn
            kind = _family.torch_class_of(phase)
            extra = {"scale_fn": fn} if fn is not None and kind in ("CyclicLR", "SequentialLR") else {}
            if isinstance(scale_fn, Mapping) and i in scale_fn and not extra:
                raise ValueError(f"scale_fn[{i}] is given, but phase {i} is a {kind}, which has no scale_fn")
            specs.append(_family.from_torch(phase, optimizer_state=optimizer_state, torch_class=kind, **extra))
        momentum = None
        if not any(s.sets_momentum for s in specs) and optimizer_state is not None:
            momentum = _optimizer_momentum(optimizer_state)
        return cls(_started_from_groups(specs, milestones, optimizer_state), list(milestones), momentum=momentum)

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict[str, Any]:
        momentum = list(self.momentum_) if isinstance(self.momentum_, tuple) else self.momentum_
        return {
            "format": self.FORMAT,
            "version": self.VERSION,
            "specs": [s.to_dict() for s in self.specs],
            "milestones": list(self.milestones),
            "momentum": momentum,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> "SequentialSpec":
        if kwargs:
            raise TypeError(f"SequentialSpec.from_dict takes no keywords, got {sorted(kwargs)}")
        _family.check_document(cls, data, names={"specs", "milestones", "momentum"}, required=("specs", "milestones"))
        if not isinstance(data["specs"], list):
            raise TypeError(f"specs must be a list of spec documents, got {type(data['specs']).__name__}")
        return cls([_family.from_dict(d) for d in data["specs"]], data["milestones"], momentum=data.get("momentum"))


def _bounds(phase: Any, group: int) -> tuple:
    """(max_momentum, base_momentum) a momentum-cycling OneCycleSpec or CyclicSpec writes."""
    if phase.TORCH_CLASS == "OneCycleLR":
        values = phase.settings_of_group(group)
        return values["max_momentum"], values["base_momentum"]
    _, _, low, high = phase.group_bounds(group)
    return high, low


def _check_nesting(scheduler_or_state: Any) -> None:
    """SequentialLRs (objects or states) inside each other at most ``MAX_NESTING`` deep, walked
    without recursion: a damaged state that contains itself nests without end."""
    stack = [(scheduler_or_state, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.get("_schedulers") if isinstance(node, Mapping) else getattr(node, "_schedulers", None)
        if not isinstance(children, (list, tuple)):
            continue
        if depth > v.MAX_NESTING:
            raise ValueError(
                f"SequentialLRs nest deeper than {v.MAX_NESTING} levels here (or a state contains "
                f"itself): at most {v.MAX_NESTING} are read"
            )
        stack.extend((child, depth + 1) for child in children)


def _started_from_groups(specs: list, milestones: Sequence, optimizer_state: Optional[Mapping]) -> list:
    """The phases with the first one's lr as torch runs it: SequentialLR sets the groups' lr to
    their ``initial_lr`` before its first step, and a phase of ``FIRST_LR_FROM_GROUPS`` takes its
    first lr from there, not from its ``base_lrs``. They differ where a OneCycleLR was built (it
    writes ``max_lr / div_factor`` into ``initial_lr``)."""
    groups = optimizer_state.get("param_groups") if isinstance(optimizer_state, Mapping) else None
    if (
        not isinstance(groups, (list, tuple))
        or not groups
        or not all(isinstance(g, Mapping) and "initial_lr" in g for g in groups)
    ):
        return specs
    initial = _family.group_values([g["initial_lr"] for g in groups], "initial_lr", "the optimizer's param_groups")
    flat = _flattened(SimpleNamespace(specs=specs, milestones=milestones), 0)
    first = flat[0][1]
    own = getattr(first, "initial_lr", None)
    as_given = tuple(initial) if isinstance(initial, list) else initial
    if own is None or own == as_given or first.TORCH_CLASS in FIRST_LR_OWN:
        return specs
    if first.TORCH_CLASS not in FIRST_LR_FROM_GROUPS:
        raise ValueError(
            f"the first phase, a {first.TORCH_CLASS}, runs from the param groups' initial_lr {initial} "
            f"(its base_lrs are {own}), and clr_spec does not know how a {first.TORCH_CLASS} takes it"
        )
    if first.TORCH_CLASS == "CosineAnnealingLR":
        length = flat[1][0] if len(flat) > 1 else None
        if length is None or length > first.T_max + 1:
            raise ValueError(
                f"the first phase, a CosineAnnealingLR, anneals from the param groups' initial_lr {initial} "
                f"but adds its base_lrs {own} back from step T_max + 1 = {first.T_max + 1}, which it "
                "reaches here: no spec describes that (torch builds it when a OneCycleLR wrote initial_lr)"
            )
    return [_with_first_lr(specs[0], initial), *specs[1:]]


def _with_first_lr(spec: Any, lr: Any) -> Any:
    """``spec`` with the lr of the phase that runs at step 0 replaced."""
    if spec.EVALUATOR == "sequence":
        return type(spec)(
            [_with_first_lr(spec.specs[0], lr), *spec.specs[1:]], spec.milestones, momentum=spec.momentum_
        )
    return spec.replace(lr=lr)


def _optimizer_momentum(optimizer_state: Mapping) -> Any:
    """Each param group's momentum (or betas[0]) from ``optimizer.state_dict()``; None if it has none."""
    if not isinstance(optimizer_state, Mapping):
        raise TypeError(f"optimizer_state must be an optimizer's state_dict(), got {type(optimizer_state).__name__}")
    groups = optimizer_state.get("param_groups", [])
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, Mapping) for g in groups):
        raise ValueError("the optimizer state's param_groups must be a list of param groups")
    values = []
    for i, group in enumerate(groups):
        if "betas" in group:
            betas = group["betas"]
            if not isinstance(betas, (list, tuple)) or not betas:
                raise ValueError(f"param_groups[{i}]['betas'] must be a pair, got {v.shown(betas)}")
            values.append(v.state_real(betas[0], f"param_groups[{i}]['betas'][0]", "optimizer"))
        elif "momentum" in group:
            values.append(v.state_real(group["momentum"], f"param_groups[{i}]['momentum']", "optimizer"))
        else:
            return None
    return _family.group_values(values, "momentum", "optimizer") if values else None
