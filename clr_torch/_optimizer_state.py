"""Optimizer state and parameters as numpy arrays, into and out of torch.

``clr_optax.torch_state_from_optax`` writes an optax run's optimizer state as a dict shaped
like ``optimizer.state_dict()`` holding numpy arrays (clr_optax never imports torch);
``load_optimizer_state`` loads it into a torch optimizer, with tensors of the parameters'
dtype and device, after checking it is a state that optimizer could have made.
``numpy_state_dict`` goes the other way. Imports torch, never jax.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch.optim import Optimizer

from clr_spec import _validation as v

# Set by torch's schedulers (and the lr and momentum the spec sets): the optimizer's own are kept.
SCHEDULED_KEYS = ("lr", "initial_lr", "max_lr", "min_lr", "base_momentum", "max_momentum", "momentum")
_BOOKKEEPING_KEYS = ("params", "param_names")


def _torch_kind(optimizer: Optimizer) -> Optional[str]:
    """ "sgd", "adam" (Adam and AdamW), "rmsprop", or None for an optimizer these do not check."""
    for cls, kind in (
        (torch.optim.AdamW, "adam"),
        (torch.optim.Adam, "adam"),
        (torch.optim.SGD, "sgd"),
        (torch.optim.RMSprop, "rmsprop"),
    ):
        if isinstance(optimizer, cls):
            return kind
    return None


def _expected_keys(kind: Optional[str], group: Mapping) -> Optional[tuple[set, set]]:
    """(keys a stepped parameter's state must have, keys it may have) for torch's optimizer."""
    if kind == "sgd":
        return set(), {"momentum_buffer"}
    if kind == "adam":
        keys = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group.get("amsgrad") else set())
        return keys, keys
    if kind == "rmsprop":
        required = {"step", "square_avg"} | ({"grad_avg"} if group.get("centered") else set())
        if float(group.get("momentum", 0)) > 0:
            required |= {"momentum_buffer"}  # torch's step reads it whenever momentum > 0
        return required, required | {"momentum_buffer"}
    return None


def _scalar_dtype() -> torch.dtype:
    """torch's dtype for ``step`` (``torch.optim.optimizer._get_scalar_dtype``)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def _from_numpy(value: Any) -> torch.Tensor:
    """A CPU tensor copy of a numpy array (ml_dtypes' bfloat16 goes through float32, exactly)."""
    array = np.asarray(value)
    if array.dtype.name == "bfloat16":
        return torch.from_numpy(np.array(array, dtype=np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(array))


def _tensor(value: Any, like: torch.Tensor, where: str) -> torch.Tensor:
    array = np.asarray(value)
    dtype_name = str(like.dtype).replace("torch.", "")
    if array.dtype.name != dtype_name:
        raise ValueError(f"{where} is {array.dtype.name} but the parameter is {dtype_name}")
    if tuple(array.shape) != tuple(like.shape):
        raise ValueError(f"{where} has shape {tuple(array.shape)} but the parameter {tuple(like.shape)}")
    if array.dtype.name == "bfloat16":  # ml_dtypes' bfloat16: torch reads it through float32, exactly
        return torch.from_numpy(np.array(array, dtype=np.float32)).to(like.device, torch.bfloat16)
    return torch.from_numpy(np.array(array)).to(like.device)  # a writable copy


def _equal(a: Any, b: Any) -> bool:
    def plain(x):
        if isinstance(x, torch.Tensor):
            return x.item()
        if isinstance(x, np.ndarray):
            return x.item()
        return x

    return plain(a) == plain(b)


def load_optimizer_state(optimizer: Optimizer, numpy_state_dict: Mapping, *, names: Optional[list] = None) -> None:
    """Load a state dict of numpy arrays (``clr_optax.torch_state_from_optax``) into ``optimizer``.

    The optimizer keeps its own param-group settings; the lr and momentum are its scheduler's
    (build it for the step the run is at: ``clr_torch.CyclicLR.from_spec(opt, spec, step=k)``).
    Settings the dict's groups carry (``weight_decay``, ``betas[1]``, ``nesterov``, ... where
    ``torch_state_from_optax`` was given the optimizer config) must equal the optimizer's:
    otherwise the run would change silently.

    Args:
      optimizer: the torch optimizer, built over the model's parameters.
      numpy_state_dict: ``{"state": {id: {key: array}}, "param_groups": [{"params": [ids], ...}]}``.
      names: the parameters' names in the optimizer's order (``optimizer_param_names``), for
        error messages.

    Raises:
      ValueError: a different number of groups or of parameters per group, a setting that
        differs (naming the group and key), an array whose dtype or shape is not its
        parameter's, or (for SGD, Adam, AdamW, RMSprop) a state key torch would not have
        there or a missing one it needs (naming the parameter).
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not isinstance(numpy_state_dict, Mapping) or not {"state", "param_groups"} <= set(numpy_state_dict):
        raise TypeError("numpy_state_dict must be a dict with 'state' and 'param_groups'")
    current = optimizer.state_dict()
    saved_groups = list(numpy_state_dict["param_groups"])
    if len(saved_groups) != len(current["param_groups"]):
        raise ValueError(
            f"numpy_state_dict has {len(saved_groups)} param groups, the optimizer {len(current['param_groups'])}"
        )
    kind = _torch_kind(optimizer)
    state_in = numpy_state_dict["state"]
    listed: set = set()
    new_state, new_groups = {}, []
    index = 0
    for g, (saved, ours, live) in enumerate(zip(saved_groups, current["param_groups"], optimizer.param_groups)):
        if len(saved["params"]) != len(ours["params"]):
            raise ValueError(
                f"param group {g} has {len(saved['params'])} parameters in numpy_state_dict, "
                f"{len(ours['params'])} in the optimizer"
            )
        for key, value in saved.items():
            if key in _BOOKKEEPING_KEYS or key in SCHEDULED_KEYS:
                continue
            if key not in ours:
                raise ValueError(
                    f"param group {g} has {key!r} in numpy_state_dict, which the optimizer "
                    f"({type(optimizer).__name__}) does not have"
                )
            if key == "betas":
                if not _equal(value[1], ours["betas"][1]):
                    raise ValueError(
                        f"param group {g} has betas[1] = {value[1]!r} in numpy_state_dict but "
                        f"{ours['betas'][1]!r} in the optimizer"
                    )
                continue
            if not _equal(value, ours[key]):
                raise ValueError(
                    f"param group {g} has {key} = {value!r} in numpy_state_dict but {ours[key]!r} in the optimizer"
                )
        new_groups.append(ours)
        expected = _expected_keys(kind, live)
        for saved_id, our_id, param in zip(saved["params"], ours["params"], live["params"]):
            listed.update((saved_id, str(saved_id)))
            name = names[index] if names is not None and index < len(names) else None
            where = f"parameter {index}" + (f" ({name!r})" if name else "") + f" of group {g}"
            index += 1
            entry = state_in.get(saved_id, state_in.get(str(saved_id)))
            if not entry:
                continue
            entry = {k: v for k, v in entry.items() if v is not None}
            if expected is not None:
                required, allowed = expected
                v.check_state_keys(
                    entry, required, allowed, where, f"torch's {type(optimizer).__name__} with these settings"
                )
            converted = {}
            for key, value in entry.items():
                if key == "step":
                    device = param.device if (live.get("capturable") or live.get("fused")) else "cpu"
                    converted[key] = torch.tensor(float(np.asarray(value)), dtype=_scalar_dtype(), device=device)
                else:
                    converted[key] = _tensor(value, param, f"{where} {key!r}")
            new_state[our_id] = converted
    for key in state_in:
        if key not in listed:
            raise ValueError(f"numpy_state_dict has state for parameter id {key!r}, which no param group lists")
    optimizer.load_state_dict({"state": new_state, "param_groups": new_groups})


def numpy_state_dict(optimizer: Optimizer) -> dict:
    """``optimizer.state_dict()`` with every tensor as a numpy array (copies; scalars as 0-d arrays).

    What ``clr_optax.optax_state_from_torch`` reads without torch, and what
    ``load_optimizer_state`` loads back."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    state = optimizer.state_dict()

    def convert(value):
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu()
            if tensor.dtype == torch.bfloat16:
                try:
                    import ml_dtypes  # numpy's bfloat16 (jax depends on it); torch has none
                except ImportError as error:
                    raise TypeError("a bfloat16 tensor needs ml_dtypes for numpy: pip install ml_dtypes") from error
                return tensor.float().numpy().astype(ml_dtypes.bfloat16)
            return tensor.numpy().copy()
        return value

    return {
        "state": {pid: {k: convert(v) for k, v in entry.items()} for pid, entry in state["state"].items()},
        "param_groups": [dict(group) for group in state["param_groups"]],
    }


def optimizer_param_names(model: torch.nn.Module, optimizer: Optimizer) -> list[str]:
    """The names (``model.named_parameters()``) of the optimizer's parameters, in its order.

    The order of ``clr_optax.param_mapping``'s ``torch_params``: parameter ``i`` of the
    flattened ``state_dict()["param_groups"][g]["params"]`` lists.

    Raises:
      ValueError: a parameter of the optimizer that is not the model's (naming group and index).
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    by_id = {id(p): name for name, p in model.named_parameters()}
    names = []
    for g, group in enumerate(optimizer.param_groups):
        for i, p in enumerate(group["params"]):
            if id(p) not in by_id:
                raise ValueError(f"parameter {i} of param group {g} is not a parameter of the model")
            names.append(by_id[id(p)])
    return names


def load_parameters(model: torch.nn.Module, numpy_params: Mapping[str, Any]) -> None:
    """Copy ``{name: array}`` (``clr_optax.params_to_torch``) into the model's parameters.

    Each array must have its parameter's shape and dtype; every parameter of the model must
    be given, and only those.

    Raises:
      ValueError: naming the first parameter missing, extra, or of another shape or dtype.
    """
    own = dict(model.named_parameters())
    for name in numpy_params:
        if name not in own:
            raise ValueError(f"{name!r} is not a parameter of the model")
    converted = {}
    for name, param in own.items():
        if name not in numpy_params:
            raise ValueError(f"parameter {name!r} of the model is not in numpy_params")
        converted[name] = _tensor(numpy_params[name], param.detach(), f"parameter {name!r}")
    with torch.no_grad():
        for name, param in own.items():
            param.copy_(converted[name])


def resume_from_optax(
    model: torch.nn.Module, optimizer: Optimizer, checkpoint: Mapping
) -> torch.optim.lr_scheduler.LRScheduler:
    """Continue an optax run in torch, in one call: parameters, optimizer state and scheduler.

    Args:
      model: the torch model (its parameters are overwritten).
      optimizer: a torch optimizer over its parameters, with the run's settings.
      checkpoint: ``clr_optax.torch_checkpoint_from_optax(...)``: ``{"model": {name: array},
        "optimizer": numpy state dict, "spec": a clr_spec spec (or its JSON), "step": k}``.

    Returns:
      The scheduler (``clr_torch.scheduler(optimizer, spec, step=k)``): the next
      ``optimizer.step()`` is the run's step ``k``, with optax's lr and momentum.
    """
    from clr_spec import from_json

    from ._family import scheduler

    for key in ("model", "optimizer", "spec", "step"):
        if not isinstance(checkpoint, Mapping) or key not in checkpoint:
            raise ValueError(f"checkpoint has no {key!r} entry: make it with clr_optax.torch_checkpoint_from_optax")
    spec = from_json(checkpoint["spec"]) if isinstance(checkpoint["spec"], str) else checkpoint["spec"]
    load_parameters(model, checkpoint["model"])
    sched = scheduler(optimizer, spec, step=int(checkpoint["step"]))  # sets the lr and momentum of step k
    load_optimizer_state(optimizer, checkpoint["optimizer"], names=optimizer_param_names(model, optimizer))
    return sched


_OPTIMIZERS = {
    "SGD": torch.optim.SGD,
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "RMSprop": torch.optim.RMSprop,
}


def torch_checkpoint(numpy_checkpoint: Mapping) -> dict:
    """A plain torch checkpoint (tensors) of an optax run: what ``torch.save`` writes and a torch
    loop loads with ``model.load_state_dict``, ``optimizer.load_state_dict`` and
    ``scheduler.load_state_dict``.

    The optimizer (``numpy_checkpoint["optimizer_class"]``, with the groups' settings) is
    built over copies of the parameters, its scheduler is ``scheduler(optimizer, spec,
    step=k)`` (the lr and momentum of step k), and the optimizer state is loaded into it
    (``load_optimizer_state``): their ``state_dict()`` are those of a torch run at step k.

    Args:
      numpy_checkpoint: ``clr_optax.torch_checkpoint_from_orbax(...)``: ``{"model", "optimizer",
        "spec", "step", "param_names", "optimizer_class", "optimizer_settings"}`` (each group's
        torch settings, ``OptimizerConfig.torch_hyperparams()``).

    Returns:
      ``{"model": {name: tensor}, "optimizer": ..., "scheduler": ..., "spec": JSON, "step": k}``.

    Raises:
      ValueError: a missing key, an optimizer class other than SGD, Adam, AdamW, RMSprop, or
        groups without their settings.
    """
    from clr_spec import from_json

    from ._family import scheduler

    for key in ("model", "optimizer", "spec", "step", "param_names", "optimizer_class", "optimizer_settings"):
        if not isinstance(numpy_checkpoint, Mapping) or key not in numpy_checkpoint:
            raise ValueError(
                f"numpy_checkpoint has no {key!r} entry: make it with clr_optax.torch_checkpoint_from_orbax"
            )
    classes = list(numpy_checkpoint["optimizer_class"])
    if len(set(classes)) != 1 or classes[0] not in _OPTIMIZERS:
        raise ValueError(f"optimizer_class must name one of {sorted(_OPTIMIZERS)} for every group, got {classes}")
    spec_json = numpy_checkpoint["spec"]
    spec = from_json(spec_json) if isinstance(spec_json, str) else spec_json
    step = int(numpy_checkpoint["step"])
    model = {name: _from_numpy(value) for name, value in numpy_checkpoint["model"].items()}
    names = list(numpy_checkpoint["param_names"])
    missing = [n for n in names if n not in model]
    if missing:
        raise ValueError(f"parameter {missing[0]!r} of the optimizer is not in the checkpoint's model")
    params = iter([torch.nn.Parameter(model[n].clone()) for n in names])
    saved_groups = list(numpy_checkpoint["optimizer"]["param_groups"])
    settings = list(numpy_checkpoint["optimizer_settings"])
    if len(settings) != len(saved_groups):
        raise ValueError(f"optimizer_settings has {len(settings)} entries for {len(saved_groups)} param groups")
    groups = []
    for saved, group_settings in zip(saved_groups, settings):
        group = {k: (tuple(value) if k == "betas" else value) for k, value in group_settings.items()}
        if classes[0] == "AdamW":
            group.pop("decoupled_weight_decay", None)  # AdamW's own
        groups.append({"params": [next(params) for _ in saved["params"]], **group})
    # lr: a placeholder, which the scheduler replaces with the spec's lr of step k
    optimizer = _OPTIMIZERS[classes[0]](groups, lr=1e-3)
    sched = scheduler(optimizer, spec, step=0 if spec.EVALUATOR == "plateau" else step)
    load_optimizer_state(optimizer, numpy_checkpoint["optimizer"], names=names)
    return {
        "model": model,
        "optimizer": optimizer.state_dict(),
        "scheduler": sched.state_dict(),
        "spec": spec.to_json(),
        "step": step,
    }


__all__ = [
    "torch_checkpoint",
    "resume_from_optax",
    "load_optimizer_state",
    "numpy_state_dict",
    "optimizer_param_names",
    "load_parameters",
]
