"""A drop-in ``torch.optim.lr_scheduler.CyclicLR``: same signature, same bits, validated input."""

from __future__ import annotations

import math
import types
import warnings
from functools import partial
from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CyclicLR as _TorchCyclicLR
from torch.optim.lr_scheduler import LRScheduler

from clr_spec import CyclicSpec
from clr_spec._family import is_spec
from clr_spec import _validation as v
from clr_spec._modes import MODES, dispatch

Bound = Union[float, Tensor, Sequence[Union[float, Tensor]]]
_EPOCH_DEPRECATION_WARNING = getattr(
    torch.optim.lr_scheduler,
    "EPOCH_DEPRECATION_WARNING",
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible.",
)


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list:
    """torch's _format_param: one value per param group (tensors cloned)."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(value)} values, param_groups has {groups}."
            )
    else:
        value = [value] * groups
    return [v.clone() if isinstance(v, Tensor) else v for v in value]


def _as_float(name: str, value: Any) -> Any:
    """The argument as the spec validates it: tensors by their value, sequences element-wise."""
    if isinstance(value, (list, tuple)):
        return [_as_float(f"{name}[{i}]", v) for i, v in enumerate(value)]
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must hold one value when it is a tensor, got shape {tuple(value.shape)}")
        return value.item()
    return value


def _set(group: dict, key: str, value: Any) -> None:
    """torch's _update_param_group_val: fill a tensor in place (keeps torch.compile graphs
    valid). A tensor value is stored as a copy: torch stores the scheduler's own bound
    tensor there, which its next in-place fill then moves (the lr leaves its bounds)."""
    current = group[key]
    if isinstance(current, Tensor):
        current.fill_(value.item() if isinstance(value, Tensor) else value)
    else:
        group[key] = value.clone() if isinstance(value, Tensor) else value


def _set_momentum(group: dict, use_beta1: bool, value: Any) -> None:
    """Set ``momentum`` or ``betas[0]``; a tensor is filled in place, as tensor lrs are, so that a
    compiled optimizer step does not recompile (torch's CyclicLR replaces it)."""
    if not use_beta1:
        _set(group, "momentum", value)
    elif isinstance(group["betas"][0], Tensor):
        group["betas"][0].fill_(value.item() if isinstance(value, Tensor) else value)
    else:
        group["betas"] = (value.clone() if isinstance(value, Tensor) else value, *group["betas"][1:])


def _unshare_tensors(groups: list, use_beta1: Optional[bool]) -> None:
    """Give each group its own lr (and momentum) tensor. An optimizer's default tensor is one
    object shared by every group that does not set its own, so filling it in place for one
    group would set it for all (torch's scheduler does that to a shared tensor lr)."""
    seen: set = set()
    for group in groups:
        if isinstance(group["lr"], Tensor):
            if id(group["lr"]) in seen:
                group["lr"] = group["lr"].clone()
            seen.add(id(group["lr"]))
        if use_beta1 is False and isinstance(group.get("momentum"), Tensor):
            if id(group["momentum"]) in seen:
                group["momentum"] = group["momentum"].clone()
            seen.add(id(group["momentum"]))
        elif use_beta1 and isinstance(group["betas"][0], Tensor):
            if id(group["betas"][0]) in seen:
                group["betas"] = (group["betas"][0].clone(), *group["betas"][1:])
            seen.add(id(group["betas"][0]))


def _check_beta1_bounds(base_momentum: Any, max_momentum: Any) -> None:
    """Adam-like optimizers divide by ``1 - beta1**t``: beta1 must stay in [0, 1)."""
    for name, value in (("base_momentum", base_momentum), ("max_momentum", max_momentum)):
        for i, beta1 in enumerate(value if isinstance(value, list) else [value]):
            if not 0.0 <= beta1 < 1.0:
                where = f"{name}[{i}]" if isinstance(value, list) else name
                raise ValueError(
                    f"{where} must lie in [0, 1) when it cycles an optimizer's betas[0] (Adam's bias "
                    f"correction divides by 1 - beta1**t), got {beta1!r}"
                )


class CyclicLR(_TorchCyclicLR):
    """Cyclical learning rate policy (Smith 2017), bit-for-bit equal to torch's ``CyclicLR``.

    A subclass of ``torch.optim.lr_scheduler.CyclicLR``, so that code that checks
    ``isinstance(scheduler, torch.optim.lr_scheduler.CyclicLR)`` (Lightning, training loops)
    takes it; it overrides every method torch's class defines and builds itself without
    torch's ``__init__`` (which would raise or compute garbage where this one validates).

    Same arguments, defaults, public methods (``step``, ``get_lr``, ``get_last_lr``,
    ``scale_fn``, ``state_dict``, ``load_state_dict``), attributes and ``state_dict`` as
    ``torch.optim.lr_scheduler.CyclicLR`` (see its documentation); call ``step()`` after
    every batch. Differences, all where torch fails (docs/differences.md):

    * invalid arguments raise ``ValueError``/``TypeError`` naming the parameter (torch:
      ``ZeroDivisionError`` for ``step_size_up=0``, silent NaN or garbage otherwise);
    * ``mode='triangular2'`` keeps working after 1024 cycles (torch raises
      ``OverflowError``): the amplitude halves to 0 and the lr stays at ``base_lr``;
    * tensor bounds are never aliased by the param groups (torch's lr leaves its cycle
      when ``base_lr`` is a tensor and the optimizer's lr a float), and groups sharing the
      optimizer's default tensor lr each get their own (torch gives all the last group's lr);
    * the first lr is ``base_lr`` even when the groups hold an ``initial_lr`` left by an
      earlier scheduler (torch starts from that leftover value);
    * tensor ``momentum``/``betas[0]`` are filled in place (torch replaces them), so that a
      compiled optimizer step does not recompile;
    * ``load_state_dict`` leaves its argument untouched (torch pops a key from it).

    Example (torch's own test values: up 1, 2, 3, 4, 5, then down):

    >>> import torch, clr_torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    >>> sched = clr_torch.CyclicLR(opt, base_lr=1, max_lr=5, step_size_up=4,
    ...                            base_momentum=1, max_momentum=5)
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [1.0, 2.0, 3.0, 4.0, 5.0, 4.0]
    >>> opt.param_groups[0]["momentum"]   # cycled inversely: 5, 4, 3, 2, 1, 2, 3
    3.0
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: Bound,
        max_lr: Bound,
        step_size_up: float = 2000,
        step_size_down: Optional[float] = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Optional[Callable[[float], float]] = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: Bound = 0.8,
        max_momentum: Bound = 0.9,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        last_epoch = v.integer("last_epoch", last_epoch, low=-1)
        # Validate everything before touching the optimizer.
        spec = CyclicSpec(
            base_lr=_as_float("base_lr", base_lr),
            max_lr=_as_float("max_lr", max_lr),
            step_size_up=step_size_up,
            step_size_down=step_size_down,
            mode=mode,
            gamma=gamma,
            scale_fn=scale_fn,
            scale_mode=scale_mode,
            cycle_momentum=cycle_momentum,
            base_momentum=_as_float("base_momentum", base_momentum),
            max_momentum=_as_float("max_momentum", max_momentum),
        )
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        base_momentums = _per_group("base_momentum", optimizer, base_momentum)
        max_momentums = _per_group("max_momentum", optimizer, max_momentum)
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
            if "betas" in optimizer.defaults:
                _check_beta1_bounds(_as_float("base_momentum", base_momentum), _as_float("max_momentum", max_momentum))

        self.optimizer = optimizer
        _unshare_tensors(optimizer.param_groups, ("betas" in optimizer.defaults) if cycle_momentum else None)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                _set(group, "lr", lr)
        self.max_lrs = max_lrs
        # (torch's class types these narrower than the values it takes: a float step size, a str mode)
        self.total_size = spec.total_size  # type: ignore[assignment]
        self.step_ratio = spec.step_ratio
        self.mode = mode  # type: ignore[assignment]
        self.gamma = spec.gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode  # type: ignore[assignment]
        self._init_scale_fn()
        self.cycle_momentum = spec.cycle_momentum
        if self.cycle_momentum:
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = base_momentums
            self.max_momentums = max_momentums
            if last_epoch == -1:
                for high, low, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    _set_momentum(group, self.use_beta1, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        # LRScheduler.__init__ sets base_lrs to the groups' initial_lr, which an earlier
        # scheduler may have left there, and then takes the first step: that step uses ours.
        self.__dict__["_clr_base_lrs"] = base_lrs
        self._get_lr_called_within_step = False  # torch's state carries it (its step sets it)
        # LRScheduler's __init__, not torch's CyclicLR's: everything that one sets is set above
        # (validated), and its checks would refuse or mis-handle what this class fixes.
        LRScheduler.__init__(self, optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _initial_step(self) -> None:
        if "_clr_base_lrs" in self.__dict__:
            self.base_lrs = self.__dict__.pop("_clr_base_lrs")
        super()._initial_step()

    @classmethod
    def from_spec(
        cls, optimizer: Optimizer, spec: CyclicSpec, last_epoch: int = -1, *, step: Optional[int] = None
    ) -> "CyclicLR":
        """Build the scheduler a ``clr_spec.CyclicSpec`` describes.

        ``step=k`` resumes at step k: the next ``optimizer.step()`` uses ``spec.lr(k)`` (and
        ``spec.momentum(k)``), and ``scheduler.step()`` then moves to k + 1, as if the
        scheduler had been stepped k times. Unlike torch's ``last_epoch=k - 1`` it needs no
        ``initial_lr`` in the groups and no earlier ``initial_lr`` leaks into the first lr.

        >>> import torch, clr_torch
        >>> from clr_spec import CyclicSpec
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        >>> sched = clr_torch.CyclicLR.from_spec(opt, CyclicSpec(base_lr=1, max_lr=5, step_size_up=4), step=3)
        >>> opt.param_groups[0]["lr"], sched.last_epoch     # the next update is the 4th: lr(3)
        (4.0, 3)
        """
        if not (is_spec(spec) and spec.EVALUATOR == "cyclic"):
            raise TypeError(
                f"spec must be a clr_spec.CyclicSpec, got {type(spec).__name__} (clr_torch.scheduler takes any spec)"
            )
        if step is None:
            return cls(optimizer, **spec.torch_kwargs(), last_epoch=last_epoch)
        if last_epoch != -1:
            raise TypeError("pass either step= or last_epoch=, not both")
        step = v.integer("step", step, low=0, why=" (optimizer steps already taken)")
        scheduler = cls(optimizer, **spec.torch_kwargs())
        scheduler.last_epoch = step
        scheduler._apply(*scheduler._values(step))
        return scheduler

    @property
    def spec(self) -> CyclicSpec:
        """This scheduler's schedule as a framework-free ``CyclicSpec``."""
        return CyclicSpec.from_torch(self)

    # ------------------------------------------------------------------ scale functions
    def _init_scale_fn(self) -> None:
        """torch's: the built-in mode's scale function, and the scale mode it forces."""
        if self._scale_fn_custom is not None:
            return
        scale_fns: dict[str, Callable[[Any], float]] = {
            "triangular": self._triangular_scale_fn,
            "triangular2": self._triangular2_scale_fn,
            "exp_range": partial(self._exp_range_scale_fn, self.gamma),
        }
        self._scale_fn_ref = dispatch(scale_fns, self.mode, "clr_torch.CyclicLR")
        self.scale_mode = MODES[self.mode].scale_mode  # type: ignore[assignment]

    def scale_fn(self, x: Any) -> float:
        """Get the scaling policy: the amplitude's scale at cycle (or step) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    @staticmethod
    def _triangular_scale_fn(x: Any) -> float:
        return 1.0

    @staticmethod
    def _triangular2_scale_fn(x: Any) -> float:
        try:
            return 1 / (2.0 ** (x - 1))
        except OverflowError:  # torch raises after 1024 cycles; the exact value is below 2**-1074
            return 0.0

    @staticmethod
    def _exp_range_scale_fn(gamma: float, x: Any) -> float:
        return gamma**x

    # ------------------------------------------------------------------ arithmetic
    def _values(self, step: int) -> tuple[list, Optional[list]]:
        """(lrs, momenta) after ``step`` updates: torch's ``get_lr``, in its order of operations.

        Read from the attributes on every call, as torch does, so that code that changes
        ``base_lrs`` or ``max_lrs`` mid-run sees the change."""
        total, ratio = self.total_size, self.step_ratio
        cycle = math.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        fn = self._scale_fn_custom
        if fn is None:
            fn = self._scale_fn_ref
        if fn is _TRIANGULAR:  # x * 1.0 is x: skip the product (bitwise the same)
            lrs = [base + (top - base) * factor for base, top in zip(self.base_lrs, self.max_lrs)]
            momenta = None
            if self.cycle_momentum:
                momenta = [high - (high - low) * factor for low, high in zip(self.base_momentums, self.max_momentums)]
            return lrs, momenta
        scale = fn(cycle if self.scale_mode == "cycle" else step)
        lrs = [base + ((top - base) * factor) * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        momenta = None
        if self.cycle_momentum:
            momenta = [
                high - ((high - low) * factor) * scale for low, high in zip(self.base_momentums, self.max_momentums)
            ]
        return lrs, momenta

    def _apply(self, lrs: list, momenta: Optional[list]) -> None:
        # _set and _set_momentum, inlined: this runs every step for every group.
        groups = self.optimizer.param_groups
        for group, lr in zip(groups, lrs):
            current = group["lr"]
            if isinstance(current, Tensor):
                current.fill_(lr.item() if isinstance(lr, Tensor) else lr)
            else:
                group["lr"] = lr  # a computed value: a new object, never a bound
        if momenta is not None:
            self._apply_momenta(momenta)
        self._last_lr = [g["lr"].clone() if isinstance(g["lr"], Tensor) else g["lr"] for g in groups]

    def _apply_momenta(self, momenta: list) -> None:
        groups = self.optimizer.param_groups
        if self.use_beta1:
            for group, m in zip(groups, momenta):
                betas = group["betas"]
                if isinstance(betas[0], Tensor):
                    betas[0].fill_(m.item() if isinstance(m, Tensor) else m)
                else:
                    group["betas"] = (m, *betas[1:])
        else:
            for group, m in zip(groups, momenta):
                current = group["momentum"]
                if isinstance(current, Tensor):
                    current.fill_(m.item() if isinstance(m, Tensor) else m)
                else:
                    group["momentum"] = m

    def get_lr(self) -> list:
        """The lrs for the current ``last_epoch`` (sets momentum as a side effect, like torch)."""
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=2,
            )
        lrs, momenta = self._values(self.last_epoch)
        if momenta is not None:
            self._apply_momenta(momenta)
        return lrs

    def step(self, epoch: Optional[int] = None) -> None:
        """Advance one batch (call after ``optimizer.step()``); same warnings as torch."""
        if self._step_count == 1:
            if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
                warnings.warn(
                    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
                    "initialization. Please, make sure to call `optimizer.step()` before "
                    "`lr_scheduler.step()`. See more details at "
                    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                    UserWarning,
                    stacklevel=2,
                )
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn(
                    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                    "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
                    "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
                    "will result in PyTorch skipping the first value of the learning rate schedule. "
                    "See more details at "
                    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                    UserWarning,
                    stacklevel=2,
                )
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
        else:
            warnings.warn(_EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
            self.last_epoch = epoch
        if self.last_epoch < 0:
            raise ValueError(f"the step count must be >= 0, got last_epoch={self.last_epoch}")
        self._apply(*self._values(self.last_epoch))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """torch's CyclicLR state: every attribute but the optimizer and the scale function
        (a callable object's attributes are saved, a function is not). Loads into torch's
        CyclicLR, and back."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_scale_fn_ref")}
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) else fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from ``state_dict()`` (ours or torch's) without modifying the argument.

        The state is validated first (``ValueError`` naming the field); a bad one leaves the
        scheduler as it was."""
        missing = [
            k for k in ("base_lrs", "max_lrs", "total_size", "step_ratio", "mode", "last_epoch") if k not in state_dict
        ]
        if missing:
            raise ValueError(f"not a CyclicLR state: missing {missing}")
        CyclicSpec.from_torch(state_dict, scale_fn=self._scale_fn_custom)
        v.integer("last_epoch", state_dict["last_epoch"], low=-1, why=" (the state's step count)")
        state = {k: v for k, v in state_dict.items() if k not in ("_scale_fn_custom", "_scale_fn_ref")}
        self.__dict__.update(state)
        fn_state = state_dict.get("_scale_fn_custom")
        if fn_state is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn_state)
        self._init_scale_fn()


_TRIANGULAR = CyclicLR._triangular_scale_fn
