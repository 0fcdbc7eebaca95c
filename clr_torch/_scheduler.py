"""A drop-in ``torch.optim.lr_scheduler.CyclicLR``: same signature, same bits, validated input."""

from __future__ import annotations

import math
import types
import warnings
from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from clr_spec import CyclicSpec

Bound = Union[float, Tensor, Sequence[Union[float, Tensor]]]
_EPOCH_DEPRECATION_WARNING = getattr(
    torch.optim.lr_scheduler, "EPOCH_DEPRECATION_WARNING",
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible.")

# The keys torch's CyclicLR puts in its state_dict (besides _scale_fn_custom): ours has
# exactly these, so each class loads the other's state.
_TORCH_STATE_KEYS = (
    "max_lrs", "total_size", "step_ratio", "mode", "gamma", "scale_mode", "cycle_momentum",
    "use_beta1", "base_momentums", "max_momentums", "base_lrs", "last_epoch", "_step_count",
    "_is_initial", "_get_lr_called_within_step", "_last_lr",
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
    """torch's _update_param_group_val: fill a tensor in place (keeps torch.compile graphs valid)."""
    current = group[key]
    if isinstance(current, Tensor):
        current.fill_(value.item() if isinstance(value, Tensor) else value)
    else:
        group[key] = value


def _set_momentum(group: dict, key: str, value: float) -> None:
    """Set ``momentum`` or ``betas[0]``; a tensor is filled in place, as tensor lrs are, so that a
    compiled optimizer step does not recompile (torch's CyclicLR replaces it with a float)."""
    if key == "momentum":
        _set(group, key, value)
    elif isinstance(group["betas"][0], Tensor):
        group["betas"][0].fill_(value)
    else:
        group["betas"] = (value, *group["betas"][1:])


class CyclicLR(LRScheduler):
    """Cyclical learning rate policy (Smith 2017), bit-for-bit equal to torch's ``CyclicLR``.

    Same arguments, defaults, attributes and ``state_dict`` as
    ``torch.optim.lr_scheduler.CyclicLR`` (see its documentation); call ``step()`` after
    every batch. Differences, all where torch fails:

    * invalid arguments raise ``ValueError``/``TypeError`` naming the parameter (torch:
      ``ZeroDivisionError`` for ``step_size_up=0``, silent NaN or garbage otherwise);
    * ``mode='triangular2'`` keeps working after 1024 cycles (torch raises
      ``OverflowError``): the amplitude halves to 0 and the lr stays at ``base_lr``;
    * ``load_state_dict`` leaves its argument untouched (torch pops a key from it).

    ``step()`` does the same arithmetic as torch, in the same order, with the per-group
    constants computed once, and skips torch's per-step bookkeeping, so it is faster
    (see ``benchmarks/``).
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
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"last_epoch must be an int >= -1, got {last_epoch!r}")
        # Validate everything before touching the optimizer.
        spec = CyclicSpec(
            base_lr=_as_float("base_lr", base_lr), max_lr=_as_float("max_lr", max_lr),
            step_size_up=step_size_up, step_size_down=step_size_down, mode=mode, gamma=gamma,
            scale_fn=scale_fn, scale_mode=scale_mode, cycle_momentum=cycle_momentum,
            base_momentum=_as_float("base_momentum", base_momentum),
            max_momentum=_as_float("max_momentum", max_momentum),
        )
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        base_momentums = _per_group("base_momentum", optimizer, base_momentum)
        max_momentums = _per_group("max_momentum", optimizer, max_momentum)
        if cycle_momentum and "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` option enabled")

        self.optimizer = optimizer
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                _set(group, "lr", lr)
        self.max_lrs = max_lrs
        self.total_size = spec.total_size
        self.step_ratio = spec.step_ratio
        self.mode = mode
        self.gamma = spec.gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = spec.scale_mode
        self.cycle_momentum = spec.cycle_momentum
        if self.cycle_momentum:
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = base_momentums
            self.max_momentums = max_momentums
            if last_epoch == -1:
                for high, low, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    _set_momentum(group, "betas" if self.use_beta1 else "momentum", high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        self.base_lrs = base_lrs
        self._get_lr_called_within_step = False   # torch's state_dict carries it
        self._prepare()                            # the initial step inside __init__ uses it
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs  # LRScheduler.__init__ reset it to the groups' initial_lr

    @classmethod
    def from_spec(cls, optimizer: Optimizer, spec: CyclicSpec, last_epoch: int = -1, *,
                  step: Optional[int] = None) -> "CyclicLR":
        """Build the scheduler a ``clr_spec.CyclicSpec`` describes.

        ``step=k`` resumes at step k: the next ``optimizer.step()`` uses ``spec.lr(k)`` (and
        ``spec.momentum(k)``), and ``scheduler.step()`` then moves to k + 1, as if the
        scheduler had been stepped k times. Unlike torch's ``last_epoch=k - 1`` it needs no
        ``initial_lr`` in the groups and no earlier ``initial_lr`` leaks into the first lr.
        """
        if not isinstance(spec, CyclicSpec):
            raise TypeError(f"spec must be a clr_spec.CyclicSpec, got {type(spec).__name__}")
        if step is None:
            return cls(optimizer, **spec.torch_kwargs(), last_epoch=last_epoch)
        if last_epoch != -1:
            raise TypeError("pass either step= or last_epoch=, not both")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be an int >= 0 (optimizer steps already taken), got {step!r}")
        scheduler = cls(optimizer, **spec.torch_kwargs())
        scheduler.last_epoch = step
        scheduler._apply(*scheduler._values(step))
        return scheduler

    @property
    def spec(self) -> CyclicSpec:
        """This scheduler's schedule as a framework-free ``CyclicSpec``."""
        return CyclicSpec.from_torch(self)

    # ------------------------------------------------------------------ arithmetic
    def _prepare(self) -> None:
        """Per-group constants and the scale function (recomputed after load_state_dict)."""
        groups = self.optimizer.param_groups
        self._lr_terms = [(base, top - base, group)
                          for base, top, group in zip(self.base_lrs, self.max_lrs, groups)]
        if self.cycle_momentum:
            key = "betas" if self.use_beta1 else "momentum"
            self._momentum_terms = [(high, high - low, group)
                                    for low, high, group in zip(self.base_momentums, self.max_momentums, groups)]
            self._momentum_key = key
        custom = self._scale_fn_custom
        if custom is not None:
            self._scale_of = custom
        elif self.mode == "triangular":
            self._scale_of = None                      # scale 1: torch's x * 1.0 is x
        elif self.mode == "triangular2":
            # == torch's 1 / (2.0 ** (cycle - 1)) (exact powers of two), but no
            # OverflowError after 1024 cycles: it reaches 0.0 instead.
            self._scale_of = lambda cycle: math.ldexp(1.0, max(1 - cycle, -1100))
        else:
            gamma = self.gamma
            self._scale_of = lambda step: gamma**step
        self._scale_by_cycle = self.scale_mode == "cycle"

    def _values(self, step: int) -> tuple[list, Optional[list]]:
        """(lrs, momenta) after ``step`` updates, in torch's order of operations."""
        cycle = math.floor(1 + step / self.total_size)
        x = 1.0 + step / self.total_size - cycle
        ratio = self.step_ratio
        factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        scale_of = self._scale_of
        scale = None if scale_of is None else scale_of(cycle if self._scale_by_cycle else step)
        if scale is None:
            lrs = [base + height * factor for base, height, _ in self._lr_terms]
        else:
            lrs = [base + (height * factor) * scale for base, height, _ in self._lr_terms]
        momenta = None
        if self.cycle_momentum:
            if scale is None:
                momenta = [high - height * factor for high, height, _ in self._momentum_terms]
            else:
                momenta = [high - (height * factor) * scale for high, height, _ in self._momentum_terms]
        return lrs, momenta

    def _apply(self, lrs: list, momenta: Optional[list]) -> None:
        for (_, _, group), lr in zip(self._lr_terms, lrs):
            _set(group, "lr", lr)
        if momenta is not None:
            self._apply_momenta(momenta)
        self._last_lr = [g["lr"].clone() if isinstance(g["lr"], Tensor) else g["lr"]
                         for g in self.optimizer.param_groups]

    def get_lr(self) -> list:
        """The lrs for the current ``last_epoch`` (sets momentum as a side effect, like torch)."""
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=2)
        lrs, momenta = self._values(self.last_epoch)
        if momenta is not None:
            self._apply_momenta(momenta)
        return lrs

    def _apply_momenta(self, momenta: list) -> None:
        # _set_momentum, inlined: this runs every step for every group.
        if self._momentum_key == "betas":
            for (_, _, group), m in zip(self._momentum_terms, momenta):
                betas = group["betas"]
                if isinstance(betas[0], Tensor):
                    betas[0].fill_(m)
                else:
                    group["betas"] = (m, *betas[1:])
        else:
            for (_, _, group), m in zip(self._momentum_terms, momenta):
                if isinstance(group["momentum"], Tensor):
                    group["momentum"].fill_(m)
                else:
                    group["momentum"] = m

    def step(self, epoch: Optional[int] = None) -> None:
        """Advance one batch (call after ``optimizer.step()``); same warnings as torch."""
        if self._step_count == 1:
            if not hasattr(self.optimizer.step, "_wrapped_by_lr_sched"):
                warnings.warn(
                    "Seems like `optimizer.step()` has been overridden after learning rate scheduler "
                    "initialization. Please, make sure to call `optimizer.step()` before "
                    "`lr_scheduler.step()`. See more details at "
                    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                    UserWarning, stacklevel=2)
            elif not getattr(self.optimizer, "_opt_called", False):
                warnings.warn(
                    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. "
                    "In PyTorch 1.1.0 and later, you should call them in the opposite order: "
                    "`optimizer.step()` before `lr_scheduler.step()`.  Failure to do this "
                    "will result in PyTorch skipping the first value of the learning rate schedule. "
                    "See more details at "
                    "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate",
                    UserWarning, stacklevel=2)
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
        """torch's CyclicLR state (loads into torch's CyclicLR, and back)."""
        state = {k: self.__dict__[k] for k in _TORCH_STATE_KEYS if k in self.__dict__}
        fn = self._scale_fn_custom
        # As torch: a callable object's attributes are saved, a function is not.
        state["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) else fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from ``state_dict()`` (ours or torch's) without modifying the argument."""
        missing = [k for k in ("base_lrs", "max_lrs", "total_size", "step_ratio", "mode", "last_epoch")
                   if k not in state_dict]
        if missing:
            raise ValueError(f"not a CyclicLR state: missing {missing}")
        # Only torch's CyclicLR attributes are loaded (a newer torch's extra keys are ignored).
        self.__dict__.update({k: state_dict[k] for k in _TORCH_STATE_KEYS if k in state_dict})
        fn_state = state_dict.get("_scale_fn_custom")
        if fn_state is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn_state)
        CyclicSpec.from_torch(self)   # validates what was loaded (ValueError naming the field)
        self._prepare()
