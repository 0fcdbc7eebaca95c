"""``ChainedSpec``: torch's ``ChainedScheduler``, its members stepped one after another each step.

torch builds the members on one optimizer (each construction applies its step 0 to the lr the
group holds, in list order) and ``ChainedScheduler.step()`` then steps every member in order:
each member's ``get_lr`` multiplies the lr the last one left. For members that step
recursively (``CHAINABLE``: ``ConstantLR``, ``LinearLR``, ``StepLR``, ``MultiStepLR``,
``ExponentialLR``, ``PolynomialLR``, ``MultiplicativeLR``) that is the product of their factors,
in torch's order of operations: the spec replays it on the host (each member's ``torch_step``,
torch's arithmetic) for the steps up to ``horizon`` into a table, as ``MultiplicativeSpec``
does; ``spec.lr`` refuses steps past the horizon and the optax schedule holds its last value.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from . import _family, _replayed, _validation as v
from ._replayed import ReplayedToHorizon
from ._contract import torch_state
from ._family import register


@register
class ChainedSpec(ReplayedToHorizon, _family.FormulaSpec):
    """torch's ``ChainedScheduler(schedulers)`` as a spec.

    Args:
      specs: the members, recursive phase specs (``ConstantSpec``, ``LinearSpec``, ``StepSpec``,
        ``MultiStepSpec``, ``ExponentialSpec``, ``PolynomialSpec``, ``MultiplicativeSpec``), all
        with the same ``lr`` (the optimizer's, which they share), in torch's order.
      horizon: the last step the schedule is defined to, an int in [1, 2**24], default 100,000.

    >>> from clr_spec import ChainedSpec, ConstantSpec, ExponentialSpec
    >>> spec = ChainedSpec([ConstantSpec(lr=1.0, factor=0.5, total_iters=2), ExponentialSpec(lr=1.0, gamma=0.5)],
    ...                    horizon=10)
    >>> spec.lr(range(5)).tolist()     # torch's docstring example, with its numbers halved
    [0.5, 0.25, 0.25, 0.125, 0.0625]
    """

    FORMAT = "clr.ChainedSpec"
    TORCH_CLASS = "ChainedScheduler"
    TORCH_STATE_KEYS = frozenset({"_schedulers"})
    EVALUATOR = "chained"
    NEEDS_INITIAL_LR = True
    RESTARTS_AT_MILESTONE = False  # torch's SequentialLR cannot step a ChainedScheduler from a milestone
    NOT_IN_SEQUENCE = (
        "torch's SequentialLR steps a ChainedScheduler once more while it builds the sequence, "
        "which no spec of it describes"
    )
    specs: tuple
    horizon: int

    def __init__(self, specs: Sequence[Any], horizon: int = 100_000):
        if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence) or len(specs) == 0:
            raise ValueError("specs must be a non-empty list of clr_spec specs (the chained schedulers, in order)")
        specs = tuple(_family.check_spec(s, f"specs[{i}]") for i, s in enumerate(specs))
        for i, member in enumerate(specs):
            if not member.CHAINABLE:
                raise ValueError(
                    f"specs[{i}] ({type(member).__name__}) cannot be chained here: a ChainedSpec "
                    "replays schedulers that step recursively (ConstantLR, LinearLR, StepLR, "
                    "MultiStepLR, ExponentialLR, PolynomialLR, MultiplicativeLR)"
                )
        lrs = {repr(member.initial_lr) for member in specs}
        if len(lrs) > 1:
            raise ValueError(
                f"the chained specs must have the same lr (the optimizer's, which they share), got {sorted(lrs)}"
            )
        object.__setattr__(self, "specs", specs)
        object.__setattr__(self, "horizon", _replayed.horizon(horizon))

    def _values(self) -> dict[str, Any]:
        return {"specs": list(self.specs), "horizon": self.horizon}

    # ------------------------------------------------------------------ structure
    @property
    def num_groups(self) -> Optional[int]:
        return self.specs[0].num_groups

    @property
    def initial_lr(self) -> Any:
        return self.specs[0].initial_lr

    def group_lr(self, group: int = 0) -> float:
        return v.pick_group(self.initial_lr, group, self.num_groups)

    def describe(self) -> str:
        return "the product, step by step, of: " + "; ".join(s.describe() for s in self.specs)

    def landmarks(self) -> tuple[int, ...]:
        return tuple(sorted({m for s in self.specs for m in s.landmarks() if m <= self.horizon}))

    def default_steps(self) -> int:
        return min(v.shown_steps(2 * max(self.landmarks(), default=50) + 10), self.horizon + 1)

    # ------------------------------------------------------------------ values
    def torch_step(self, lr: float, step: int, group: int) -> float:
        for member in self.specs:  # ChainedScheduler.step(): every member, in order
            lr = member.torch_step(lr, step, group)
        return lr

    # ------------------------------------------------------------------ torch, JSON
    def torch_kwargs(self) -> dict[str, Any]:
        raise TypeError("a ChainedScheduler is built from its members: clr_torch.scheduler builds them")

    @classmethod
    def from_torch(
        cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any
    ) -> "ChainedSpec":
        """From torch's ``ChainedScheduler`` or its state (each member's state inside it);
        ``horizon=`` (ours, not torch's) may be given."""
        horizon = kwargs.pop("horizon", 100_000)
        state = torch_state(cls, scheduler_or_state)
        members = state["_schedulers"] if isinstance(scheduler_or_state, Mapping) else scheduler_or_state._schedulers
        if not isinstance(members, (list, tuple)) or not members:
            raise ValueError("not a ChainedScheduler state: _schedulers must be a non-empty list of scheduler states")
        if optimizer_state is None and not isinstance(scheduler_or_state, Mapping):
            optimizer_state = scheduler_or_state.optimizer.state_dict()
        specs = [_family.from_torch(m, optimizer_state=optimizer_state, **kwargs) for m in members]
        return cls(specs, horizon=horizon)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.FORMAT,
            "version": self.VERSION,
            "specs": [s.to_dict() for s in self.specs],
            "horizon": self.horizon,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> "ChainedSpec":
        if kwargs:
            raise TypeError(f"ChainedSpec.from_dict takes no keywords, got {sorted(kwargs)}")
        _family.check_document(cls, data, names={"specs", "horizon"}, required=("specs",))
        if not isinstance(data["specs"], list):
            raise TypeError(f"specs must be a list of spec documents, got {type(data['specs']).__name__}")
        return cls([_family.from_dict(d) for d in data["specs"]], horizon=data.get("horizon", 100_000))
