"""torch's schedulers of a user function: ``LambdaLR`` and ``MultiplicativeLR``.

The spec holds the function, never serialized: ``to_json`` refuses it with a clear message (as
for a custom ``scale_fn``) and ``from_dict``/``from_json``/``from_torch`` take it again as
``lr_lambda=`` (torch's state dict holds no plain function either). A function, or one per
param group, as torch takes it.

``LambdaLR`` is a closed form, ``lr * lr_lambda(k)``: clr_optax traces the function, so it must
be written for JAX too: it gets the step as a traced float holding the whole number (float64 on
CPU and GPU, float32 on TPUs), so torch-style arithmetic (``0.95 ** k``, ``min(1.0, (k + 1) /
100)`` written as ``jnp.minimum``, ``k // 30``) computes what it computes on torch's int, where
an integer array would wrap. A function that cannot be traced is refused when the schedule is
built, with the reason.

``MultiplicativeLR`` is a recursion, ``lr = lr * lr_lambda(k)`` at every step: it is replayed on
the host (any Python function works) for the steps up to ``horizon``, torch's arithmetic, into a
table; ``spec.lr`` refuses steps past the horizon and the optax schedule holds its last value
there (say the horizon you train for).
"""

from __future__ import annotations

import copy
import types
from typing import Any, Callable, Mapping, Optional

from . import _replayed, _validation as v
from ._contract import torch_state
from ._family import PhaseSpec, check_document, group_values, register
from ._replayed import ReplayedToHorizon

_NOT_SERIALIZED = (
    "a {cls} holds a function, and functions are not stored (no pickling, no code execution): keep "
    "it in code, or rebuild it with from_torch(state, torch_class={torch!r}, lr_lambda=fn)"
)


def _restored(lr_lambda: Any, saved: Any, torch_class: str) -> Any:
    """torch saves a callable object's attributes (``fn.__dict__``) in the state, and its
    ``load_state_dict`` writes them back into the object: the same here, on copies (the objects
    the user passes are not changed)."""
    if not isinstance(saved, (list, tuple)) or not any(isinstance(d, Mapping) for d in saved):
        return lr_lambda
    functions = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * len(saved)
    if len(functions) != len(saved):
        raise ValueError(f"the {torch_class} state has {len(saved)} lr_lambdas, lr_lambda gives {len(functions)}")
    out = []
    for i, (fn, attributes) in enumerate(zip(functions, saved)):
        if isinstance(attributes, Mapping):
            if not hasattr(fn, "__dict__") or isinstance(fn, types.FunctionType):
                raise TypeError(
                    f"the {torch_class} state holds the attributes of a callable object for "
                    f"lr_lambdas[{i}]: pass an object of that class as lr_lambda, not a function"
                )
            fn = copy.copy(fn)
            fn.__dict__.update(copy.deepcopy(dict(attributes)))
        out.append(fn)
    return out


def _functions(value: Any, name: str = "lr_lambda") -> Any:
    """A callable, or a tuple of them (one per param group)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{name} must be a function or a non-empty list of them (one per param group)")
        for i, fn in enumerate(value):
            if not callable(fn):
                raise TypeError(f"{name}[{i}] must be callable, got {type(fn).__name__}")
        return value[0] if all(fn is value[0] for fn in value) else tuple(value)
    if not callable(value):
        raise TypeError(f"{name} must be callable (a function of the step), got {type(value).__name__}")
    return value


class _FunctionPhase(PhaseSpec):
    """A phase whose factor is a user's function (``lr_lambda``), per group or shared."""

    FIELDS: tuple = (("lr_lambda", None),)
    TORCH_STATE_KEYS = frozenset({"lr_lambdas"})
    lr_lambda: Any

    def _check_function(self) -> None:
        given = self.lr_lambda
        lrs = len(self.initial_lr) if isinstance(self.initial_lr, tuple) else None
        if isinstance(given, (list, tuple)) and lrs is not None and len(given) != lrs:
            raise ValueError(f"lr_lambda has {len(given)} functions and lr {lrs} values: give one per param group")
        object.__setattr__(self, "lr_lambda", _functions(given))

    @property
    def num_groups(self) -> Optional[int]:
        if isinstance(self.initial_lr, tuple):
            return len(self.initial_lr)
        return len(self.lr_lambda) if isinstance(self.lr_lambda, tuple) else None

    def group_function(self, group: int) -> Callable:
        return v.pick_group(self.lr_lambda, group, self.num_groups)

    def group_lr(self, group: int = 0) -> float:
        return v.pick_group(self.initial_lr, group, self.num_groups)

    def torch_kwargs(self) -> dict[str, Any]:
        fn = self.lr_lambda  # (MultiplicativeSpec's horizon is ours, not torch's)
        return {"lr_lambda": list(fn) if isinstance(fn, tuple) else fn}

    def to_dict(self) -> dict[str, Any]:
        raise ValueError(_NOT_SERIALIZED.format(cls=type(self).__name__, torch=self.TORCH_CLASS))

    def to_dict_without_function(self) -> dict[str, Any]:
        """The spec's document but its function: what ``from_dict(document, lr_lambda=fn)`` (and
        ``clr_spec.from_json(text, lr_lambda=fn)``) reads back with the function given again."""
        out: dict[str, Any] = {"format": self.FORMAT, "version": self.VERSION}
        for name, value in self._values().items():
            if name != "lr_lambda":
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def _document_fields(cls) -> tuple[set, tuple]:
        names = {"lr", *(name for name, _ in cls.FIELDS if name != "lr_lambda")}
        return names, ("lr",)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **kwargs: Any) -> Any:
        lr_lambda = kwargs.pop("lr_lambda", None)
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_dict takes lr_lambda= only, got {sorted(kwargs)}")
        names, required = cls._document_fields()
        check_document(cls, data, names=names, required=required)
        if lr_lambda is None:
            raise ValueError(f"a {cls.__name__} document holds no function: pass lr_lambda=fn")
        return cls(**{k: val for k, val in data.items() if k not in ("format", "version")}, lr_lambda=lr_lambda)

    @classmethod
    def from_torch(cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any) -> Any:
        """From torch's scheduler (its functions are taken) or its state (which holds none:
        pass ``lr_lambda=``). Other fields of the class come from the state as they are."""
        lr_lambda = kwargs.pop("lr_lambda", None)
        ours = {name for name, _ in cls.FIELDS} - {"lr_lambda"}  # settings torch does not keep
        if set(kwargs) - ours:
            raise TypeError(
                f"{cls.__name__}.from_torch takes lr_lambda="
                + "".join(f", {n}=" for n in sorted(ours))
                + f" only, got {sorted(set(kwargs) - ours)}"
            )
        state = torch_state(cls, scheduler_or_state)
        if lr_lambda is None and not isinstance(scheduler_or_state, Mapping):
            lr_lambda = list(scheduler_or_state.lr_lambdas)
        if lr_lambda is None:
            raise ValueError(
                f"a {cls.TORCH_CLASS} state holds no function (torch saves none): pass "
                "lr_lambda=fn, the function the scheduler was built with"
            )
        if isinstance(scheduler_or_state, Mapping):
            lr_lambda = _restored(lr_lambda, state["lr_lambdas"], cls.TORCH_CLASS)
        if "base_lrs" not in state:
            raise ValueError(f"not a {cls.TORCH_CLASS} state: missing ['base_lrs']")
        return cls(lr=group_values(state["base_lrs"]), lr_lambda=lr_lambda, **kwargs)


@register
class LambdaSpec(_FunctionPhase):
    r"""torch's ``LambdaLR``: ``lr * lr_lambda(k)``.

    Args:
      lr: the lr torch scales (the optimizer's ``initial_lr``), a float or one per group.
      lr_lambda: a function of the step (an int in torch; a traced float holding it in optax:
        module docstring), or one per param group.

    >>> from clr_spec import LambdaSpec
    >>> LambdaSpec(lr=1.0, lr_lambda=lambda k: 0.5 ** k).lr(range(4)).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """

    FORMAT = "clr.LambdaSpec"
    TORCH_CLASS = "LambdaLR"

    def __init__(self, lr: Any, lr_lambda: Any):
        self._init(lr, lr_lambda=lr_lambda)

    def _check(self) -> None:
        self._check_function()

    @classmethod
    def from_torch(cls, scheduler_or_state: Any, optimizer_state: Optional[Mapping] = None, **kwargs: Any) -> Any:
        """From torch's scheduler or its state (with ``lr_lambda=``), as for any function; a
        Hugging Face schedule is read as its spec (``HuggingFaceSpec``, ``WSDSpec``) instead.

        Hook: transformers builds its schedules as LambdaLRs of its module-level functions bound
        with ``functools.partial``. Where the functions (the object's, or the ``lr_lambda=``
        given with a state) are transformers' (their ``__module__``: transformers is not
        imported), the partial's function names the schedule and its keywords are the
        parameters; a function of transformers' that is no schedule clr_spec knows is refused,
        named. A state alone (``scheduler.pt``) takes them as ``huggingface={"name": ...,
        get_scheduler's arguments}``. Any other function is a LambdaSpec, as before."""
        from . import _huggingface

        given = kwargs.pop("huggingface", None)
        if given is not None:
            if not isinstance(given, Mapping) or "name" not in given:
                raise TypeError(
                    "huggingface= takes a dict with the schedule's name and get_scheduler's arguments, "
                    f"got {v.shown(given)}"
                )
            from_state = _huggingface.huggingface_from_state(torch_state(cls, scheduler_or_state), **given)[0]
            if not isinstance(scheduler_or_state, Mapping):
                from_object = _huggingface.from_functions(
                    list(scheduler_or_state.lr_lambdas), scheduler_or_state.base_lrs
                )
                if from_object != from_state:
                    raise ValueError(f"the scheduler is {from_object!r}, not the schedule given ({from_state!r})")
            return from_state
        functions = kwargs.get("lr_lambda")
        if functions is None and not isinstance(scheduler_or_state, Mapping):
            functions = list(getattr(scheduler_or_state, "lr_lambdas", None) or [])
        listed = list(functions) if isinstance(functions, (list, tuple)) else [functions]
        if functions is not None and any(_huggingface.is_huggingface(fn) for fn in listed):
            if set(kwargs) - {"lr_lambda"}:
                raise TypeError(
                    f"a Hugging Face schedule takes no keywords here, got {sorted(set(kwargs) - {'lr_lambda'})}"
                )
            return _huggingface.from_functions(functions, torch_state(cls, scheduler_or_state)["base_lrs"])
        return super().from_torch(scheduler_or_state, optimizer_state=optimizer_state, **kwargs)

    def describe(self) -> str:
        return "lr times a function of the step (LambdaLR)"

    def lr_at(self, ops: Any, steps: Any, initial_lr: float) -> Any:
        raise AssertionError("unreachable: values_at picks the group's function")

    def values_at(self, ops: Any, steps: Any, what: str, group: int) -> Any:
        if what != "lr":
            self.check_sets_momentum()
        # torch: base_lr * lmbda(last_epoch)
        return self.group_lr(group) * ops.call_scale_fn(self.group_function(group), steps)


@register
class MultiplicativeSpec(ReplayedToHorizon, _FunctionPhase):
    r"""torch's ``MultiplicativeLR``: at every step the lr times ``lr_lambda(k)``, from the
    optimizer's lr (replayed on the host up to ``horizon``: module docstring).

    Args:
      lr: the lr torch starts from (the optimizer's ``initial_lr``), a float or one per group.
      lr_lambda: a function of the step (called with ints, as torch calls it), or one per group.
      horizon: the last step the schedule is defined to, an int in [1, 2**24], default 100,000.

    >>> from clr_spec import MultiplicativeSpec
    >>> MultiplicativeSpec(lr=1.0, lr_lambda=lambda k: 0.5, horizon=10).lr(range(4)).tolist()
    [1.0, 0.5, 0.25, 0.125]
    """

    FORMAT = "clr.MultiplicativeSpec"
    TORCH_CLASS = "MultiplicativeLR"
    RESTARTS_AT_MILESTONE = False  # SequentialLR continues it from the lr it finds: first phase only
    CHAINABLE = True
    FIELDS = (("lr_lambda", None), ("horizon", 100_000))
    horizon: int

    def __init__(self, lr: Any, lr_lambda: Any, horizon: int = 100_000):
        self._init(lr, lr_lambda=lr_lambda, horizon=horizon)

    def _check(self) -> None:
        self._check_function()
        object.__setattr__(self, "horizon", _replayed.horizon(self.horizon))

    def describe(self) -> str:
        return f"lr times a function of the step at every step (MultiplicativeLR), to step {self.horizon}"

    def landmarks(self) -> tuple[int, ...]:
        return (self.horizon,)

    def default_steps(self) -> int:
        return min(v.shown_steps(self.horizon), self.horizon + 1)

    def lr_at(self, ops: Any, steps: Any, initial_lr: float) -> Any:
        raise AssertionError("unreachable: values_at picks the group's table")

    def torch_step(self, lr: float, step: int, group: int) -> float:
        return lr if step == 0 else lr * self.group_function(group)(step)  # torch: group["lr"] * lmbda(k)
