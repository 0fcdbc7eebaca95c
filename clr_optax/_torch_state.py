"""Optimizer state between torch and optax: momentum buffers, Adam moments, step counts.

``optax_state_from_torch`` turns a torch ``optimizer.state_dict()`` (SGD, Adam, AdamW,
RMSprop) into the state of the matching ``clr_optax.sgd``/``adam``/``adamw``/``rmsprop``
transformation (alone, inside ``optax.chain``, or one per param group in
``optax.multi_transform``), and ``torch_state_from_optax`` goes back, to a dict shaped like
``state_dict()`` that holds numpy arrays (``clr_torch.load_optimizer_state`` loads it). Both
are exact: the state maps to the one that makes the next updates the same, or it is refused
with a ``ValueError`` naming the parameter, group or key. Nothing here imports torch: tensors
are read duck-typed (``.detach().cpu().numpy()``) and numpy arrays are accepted as well.

What torch's lazy state means, and how it maps:

- SGD creates ``momentum_buffer = grad`` (undamped) on a parameter's first step with
  momentum; optax's ``SGDState`` has one ``has_buffer`` flag per transformation. No buffer
  anywhere maps to ``has_buffer=False``; buffers everywhere to ``True``. Some but not all
  (a parameter that never had a gradient) map exactly to ``True`` with zeros where torch has
  none when ``dampening == 0`` (``m * 0 + g == g``), and are refused otherwise.
- Adam's moments start at zero and its bias correction counts each parameter's own ``step``;
  optax's ``AdamState`` has one count, so all parameters must share torch's ``step`` (a
  parameter without state while the others have stepped is refused).
- RMSprop's ``step`` is not used by its update, and zeros are exactly its lazy state.

The optax side keeps the static settings of torch's param groups (``weight_decay``,
``nesterov``, ``betas[1]``, ``eps``, ``amsgrad``, ``centered``, ...) only inside the
transformation's closures, where they cannot be read back; so the caller names them once in
an ``OptimizerConfig`` (``OptimizerConfig("sgd", momentum=0.9)``) and builds the
transformation from it (``config(spec, group)``), and each torch group is compared with it.
The lr and momentum are the spec's: they are compared by running one update with zero
gradients on the migrated state and reading the hyperparameters it used (a constant
momentum is read from the state directly).

Flax NNX: an ``nnx.Optimizer`` is accepted wherever an optax state is read
(``torch_state_from_optax(optimizer, nnx.state(model, nnx.Param))``) and as ``tx`` of
``optax_state_from_torch``, which then writes torch's state into the optimizer in place
(``set_nnx_state``) and returns it; params may be an ``nnx.State`` of Variables.

Not covered: transformations other than clr_optax's four (refused, naming where in the state
they are), and params leaves that torch's optimizer does not hold (every leaf must map to one
torch parameter).
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from clr_spec import _validation as v

from . import _optimizers
from ._optimizers import AdamState, RMSpropState, SGDState
from ._resume import _is_nnx_optimizer, set_count
from ._variables import is_variable, set_value, value_of

Path = tuple
_MASKED = optax.MaskedNode


# =========================================================================== arrays
def _numpy(value: Any, what: str) -> np.ndarray:
    """A numpy copy of a torch tensor (duck-typed), jax array, numpy array or number."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        tensor = value.detach().cpu()
        try:
            return np.array(tensor.numpy())
        except TypeError:  # bfloat16 has no numpy dtype in torch
            if "bfloat16" not in str(getattr(tensor, "dtype", "")):
                raise
            return np.asarray(tensor.float().numpy()).astype(jnp.bfloat16)
    if isinstance(value, (np.ndarray, np.generic, jax.Array, int, float)) and not isinstance(value, bool):
        return np.array(value)
    raise TypeError(f"{what} must be an array or tensor, got {type(value).__name__}")


def _whole_number(value: Any, what: str) -> int:
    number = float(_numpy(value, what).reshape(()))
    if not (math.isfinite(number) and number >= 0 and number == int(number)):
        raise ValueError(f"{what} must be a whole number >= 0, got {number!r}")
    return int(number)


def _pure(tree: Any) -> Any:
    """The tree with each Flax NNX Variable replaced by its array (``nnx.as_pure``, without
    importing flax); an ``nnx.Optimizer`` stands for its optax state."""
    if _is_nnx_optimizer(tree):
        tree = tree.opt_state
    return jax.tree_util.tree_map(value_of, tree, is_leaf=lambda x: is_variable(x) or isinstance(x, _MASKED))


def same_tree(a: Any, b: Any) -> bool:
    """Whether two pytrees have one structure (jax's ``PyTreeDef``, whose stubs lack ``==``)."""
    first: Any = jax.tree_util.tree_structure(a)
    return bool(first == jax.tree_util.tree_structure(b))


def set_nnx_state(optimizer: Any, opt_state: Any) -> Any:
    """Write an optax state into a Flax NNX ``Optimizer`` in place (its Variables), with its ``step``.

    ``nnx.Optimizer`` keeps ``tx.init(params)`` in mutable Variables, so a migrated state is
    copied into them rather than assigned (assigning breaks its next update).

    Args:
      optimizer: ``nnx.Optimizer(model, tx, wrt=nnx.Param)``.
      opt_state: a state of ``optimizer.tx`` for the same params (``optax_state_from_torch``,
        ``load_orbax``): the same tree as ``optimizer.opt_state``.

    Returns:
      ``optimizer``, whose ``step`` is the state's count.

    Raises:
      ValueError: a state of another tree (another transformation or params), naming the leaf count.
    """
    if not _is_nnx_optimizer(optimizer):
        raise TypeError(f"optimizer must be a Flax NNX Optimizer, got {type(optimizer).__name__}")
    variables = jax.tree_util.tree_leaves(optimizer.opt_state, is_leaf=is_variable)
    arrays = jax.tree_util.tree_leaves(_pure(opt_state))
    if not same_tree(_pure(opt_state), _pure(optimizer.opt_state)) or len(variables) != len(arrays):
        raise ValueError(
            f"opt_state is not a state of this NNX optimizer: it has {len(arrays)} leaves, the optimizer "
            f"{len(variables)} (build the optimizer with the same tx over the same params)"
        )
    for variable, array in zip(variables, arrays):
        old = value_of(variable)
        if np.shape(old) != np.shape(array):
            raise ValueError(
                f"opt_state has a leaf of shape {np.shape(array)} where the NNX optimizer has {np.shape(old)}"
            )
        set_value(variable, jnp.asarray(array, dtype=jnp.asarray(old).dtype))
    try:
        counts = {int(np.asarray(node.state.count)) for node in _nodes(_pure(opt_state))}
    except ValueError:  # no clr_optax optimizer in it: nothing says the step
        counts = set()
    if len(counts) == 1:
        set_count(optimizer, counts.pop())  # its step as well
    return optimizer


# =========================================================================== layouts
class Layout(NamedTuple):
    """How one parameter's array is laid out in optax relative to torch (exactly invertible)."""

    to_optax: Callable[[np.ndarray], np.ndarray]
    to_torch: Callable[[np.ndarray], np.ndarray]
    description: str

    def optax_shape(self, torch_shape: tuple, dtype: Any) -> tuple:
        """The optax shape of a torch array of ``torch_shape``."""
        return tuple(np.shape(self.to_optax(np.broadcast_to(np.zeros((), dtype), torch_shape))))


IDENTITY = Layout(lambda a: a, lambda a: a, "identity")


def _layout(spec: Any, name: str) -> Layout:
    if spec is None:
        return IDENTITY
    if isinstance(spec, Layout):
        return spec
    if isinstance(spec, str):
        if spec != "transpose":
            raise ValueError(
                f"transforms[{name!r}] must be 'transpose', a permutation of the axes or a pair "
                f"(to_optax, to_torch) of functions, got {spec!r}"
            )
        return Layout(np.transpose, np.transpose, "transpose")
    if (
        isinstance(spec, (tuple, list))
        and spec
        and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in spec)
    ):
        perm = tuple(int(a) for a in spec)
        if sorted(perm) != list(range(len(perm))):
            raise ValueError(f"transforms[{name!r}] must be a permutation of 0..{len(perm) - 1}, got {perm}")
        inverse = tuple(int(a) for a in np.argsort(perm))
        return Layout(lambda a: np.transpose(a, perm), lambda a: np.transpose(a, inverse), f"permute{perm}")
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and all(callable(f) for f in spec):
        return Layout(spec[0], spec[1], "custom")
    raise TypeError(
        f"transforms[{name!r}] must be 'transpose', a permutation of the axes or a pair "
        f"(to_optax, to_torch) of functions, got {type(spec).__name__}"
    )


# =========================================================================== the parameter mapping
class ParamLink(NamedTuple):
    """One torch parameter and the params leaf it is, in the order torch's optimizer holds them."""

    torch_name: str
    path: Path  # keys into params, e.g. ("Dense_0", "kernel")
    layout: Layout = IDENTITY
    torch_shape: Optional[tuple] = None
    torch_dtype: Optional[np.dtype] = None


def _key(entry: Any) -> Any:
    for attribute in ("key", "idx", "name"):
        if hasattr(entry, attribute):
            return getattr(entry, attribute)
    return entry


def _leaves(tree: Any) -> list[tuple[Path, Any]]:
    """(path as plain keys, leaf) in ``tree_leaves`` order; optax's MaskedNode counts as a leaf."""
    flat = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: isinstance(x, _MASKED))[0]
    return [(tuple(_key(k) for k in path), leaf) for path, leaf in flat]


def _show(path: Path) -> str:
    return "/".join(map(str, path)) or "<root>"


def _as_path(path: Any, name: str) -> Path:
    if isinstance(path, str):
        return tuple(path.split("/")) if path else ()
    if isinstance(path, (tuple, list)):
        return tuple(path)
    raise TypeError(
        f"the path of torch parameter {name!r} must be a tuple of keys or an 'a/b' string, got {type(path).__name__}"
    )


def _torch_names(torch_params: Any) -> tuple[list[str], list[Optional[np.ndarray]]]:
    """Names (and arrays, where given) from names, (name, array) pairs or a name -> array dict."""
    if isinstance(torch_params, Mapping):
        items = list(torch_params.items())
    elif isinstance(torch_params, (str, bytes)):
        raise TypeError("torch_params must be a sequence of names or of (name, array) pairs, got a string")
    else:
        items = list(torch_params)
    names: list[str] = []
    arrays: list[Optional[np.ndarray]] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
            arrays.append(None)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            names.append(item[0])
            arrays.append(_numpy(item[1], f"torch parameter {item[0]!r}"))
        else:
            raise TypeError(f"torch_params must hold names or (name, array) pairs, got {item!r}")
    return names, arrays


def param_mapping(
    torch_params: Any, params: Any, *, paths: Any = None, transforms: Any = None
) -> tuple[ParamLink, ...]:
    """Which params leaf each torch parameter is, and how its array is laid out there.

    Args:
      torch_params: the torch parameters in the order torch's optimizer holds them (param
        ``i`` of the flattened ``state_dict()["param_groups"][g]["params"]`` lists): their
        names, ``(name, tensor)`` pairs (``model.named_parameters()`` for a single group;
        ``clr_torch.optimizer_param_names(model, optimizer)`` gives the order for several) or
        a ``{name: tensor}`` dict. Where tensors are given their shapes and dtypes are checked.
      params: the optax params pytree (shapes and dtypes are read, values are not).
      paths: ``None`` (the i-th torch parameter is the i-th leaf of
        ``jax.tree_util.tree_leaves(params)``), a ``{torch_name: path}`` dict or a function of the
        torch name; a path is a tuple of keys (``("Dense_0", "kernel")``) or ``"Dense_0/kernel"``.
      transforms: ``None``, a ``{torch_name: transform}`` dict or a function
        ``(torch_name, torch_shape) -> transform``; a transform is ``None``, ``"transpose"``
        (reverse the axes: ``Linear.weight`` -> Flax ``Dense.kernel``), a permutation of the axes
        from torch's to optax's (``(2, 3, 1, 0)``: ``Conv2d.weight`` -> Flax ``Conv.kernel``), or a
        pair ``(to_optax, to_torch)`` of exactly inverse functions on numpy arrays.

    Returns:
      A tuple of ``ParamLink``, one per torch parameter, to pass as ``mapping=``.

    Raises:
      ValueError: naming the first torch parameter that maps to no leaf, to a leaf already
        taken, or whose shape or dtype (after its transform) differs from the leaf's; or the
        first leaf no torch parameter maps to.
    """
    names, arrays = _torch_names(torch_params)
    params = _pure(params)
    if len(set(names)) != len(names):
        first = next(n for i, n in enumerate(names) if n in names[:i])
        raise ValueError(f"torch parameter {first!r} is named twice")
    leaves = _leaves(params)
    if paths is None:
        if len(names) > len(leaves):
            raise ValueError(
                f"torch parameter {names[len(leaves)]!r} (index {len(leaves)}) has no params leaf: "
                f"params has {len(leaves)} leaves, torch {len(names)} parameters"
            )
        chosen = [path for path, _ in leaves[: len(names)]]
    elif isinstance(paths, Mapping):
        missing = [n for n in names if n not in paths]
        if missing:
            raise ValueError(f"paths has no entry for torch parameter {missing[0]!r}")
        chosen = [_as_path(paths[n], n) for n in names]
    elif callable(paths):
        chosen = [_as_path(paths(n), n) for n in names]
    else:
        raise TypeError(f"paths must be None, a dict or a function, got {type(paths).__name__}")
    links = []
    for name, array, path in zip(names, arrays, chosen):
        if transforms is None:
            spec = None
        elif isinstance(transforms, Mapping):
            spec = transforms.get(name)
        elif callable(transforms):
            spec = transforms(name, None if array is None else array.shape)
        else:
            raise TypeError(f"transforms must be None, a dict or a function, got {type(transforms).__name__}")
        links.append(
            ParamLink(
                name,
                path,
                _layout(spec, name),
                None if array is None else tuple(array.shape),
                None if array is None else array.dtype,
            )
        )
    _check_links(tuple(links), params)
    return tuple(links)


def _check_links(links: Sequence[ParamLink], params: Any) -> list[Any]:
    """The params leaf of each link, checking that the links are a one-to-one cover of params."""
    if not isinstance(links, (tuple, list)) or not all(isinstance(link, ParamLink) for link in links):
        raise TypeError("mapping must be the tuple of ParamLink that clr_optax.param_mapping returns")
    by_path = dict(_leaves(params))
    taken: dict[Path, str] = {}
    out = []
    for i, link in enumerate(links):
        where = f"torch parameter {link.torch_name!r} (index {i})"
        if link.path not in by_path:
            raise ValueError(f"{where} maps to {_show(link.path)}, which params does not have")
        if link.path in taken:
            raise ValueError(f"{where} maps to {_show(link.path)}, already taken by {taken[link.path]!r}")
        taken[link.path] = link.torch_name
        leaf = value_of(by_path[link.path])
        if link.torch_shape is not None:
            shape = link.layout.optax_shape(link.torch_shape, link.torch_dtype)
            if shape != tuple(np.shape(leaf)):
                raise ValueError(
                    f"{where} has shape {link.torch_shape}, {shape} after its transform "
                    f"({link.layout.description}), but params {_show(link.path)} is {np.shape(leaf)}"
                )
            if np.dtype(link.torch_dtype) != np.dtype(leaf.dtype):
                raise ValueError(
                    f"{where} is {np.dtype(link.torch_dtype)} but params {_show(link.path)} is {np.dtype(leaf.dtype)}"
                )
        out.append(leaf)
    for path in by_path:
        if path not in taken:
            raise ValueError(
                f"params leaf {_show(path)} has no torch parameter (torch's optimizer holds "
                f"{len(links)}, params has {len(by_path)} leaves)"
            )
    return out


def _default_links(params: Any, names: Sequence[str]) -> tuple[ParamLink, ...]:
    leaves = _leaves(params)
    if len(names) != len(leaves):
        extra = names[len(leaves)] if len(names) > len(leaves) else None
        if extra is not None:
            raise ValueError(
                f"torch parameter {extra!r} (index {len(leaves)}) has no params leaf: params has "
                f"{len(leaves)} leaves, torch's optimizer {len(names)} parameters"
            )
        raise ValueError(
            f"params leaf {_show(leaves[len(names)][0])} has no torch parameter: params has "
            f"{len(leaves)} leaves, torch's optimizer {len(names)} parameters"
        )
    return tuple(ParamLink(n, path) for n, (path, _) in zip(names, leaves))


# =========================================================================== optimizer settings
_FACTORIES: dict[str, Callable[..., Any]] = {
    "sgd": _optimizers.sgd,
    "adam": _optimizers.adam,
    "adamw": _optimizers.adamw,
    "rmsprop": _optimizers.rmsprop,
}
_STATE_TYPES = {"sgd": SGDState, "adam": AdamState, "adamw": AdamState, "rmsprop": RMSpropState}
# torch's param-group keys that change the update, per optimizer
_TORCH_KEYS = {
    "sgd": ("momentum", "dampening", "weight_decay", "nesterov", "maximize"),
    "adam": ("betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay"),
    "rmsprop": ("alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
}
_TORCH_KEYS["adamw"] = _TORCH_KEYS["adam"]
# torch's implementation switches: same update, no effect in optax
_IMPLEMENTATION_KEYS = {
    "sgd": ("foreach", "differentiable", "fused"),
    "adam": ("foreach", "capturable", "differentiable", "fused"),
    "rmsprop": ("foreach", "capturable", "differentiable"),
}
_IMPLEMENTATION_KEYS["adamw"] = _IMPLEMENTATION_KEYS["adam"]
# written into the groups by torch's schedulers (the spec sets the lr and, where it cycles it, the momentum)
SCHEDULER_KEYS = ("lr", "initial_lr", "max_lr", "min_lr", "base_momentum", "max_momentum")
_BOOKKEEPING_KEYS = ("params", "param_names")
_BOOL_KEYS = ("nesterov", "maximize", "amsgrad", "centered", "decoupled_weight_decay")


def _number(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    return float(_numpy(value, "a hyperparameter").reshape(())) if not isinstance(value, (int, float)) else value


class OptimizerConfig:
    """A clr_optax optimizer's kind and keywords: what a torch param group is compared with.

    ``OptimizerConfig("sgd", momentum=0.9, nesterov=True)`` describes
    ``clr_optax.sgd(spec, group, momentum=0.9, nesterov=True)``; calling it with a spec builds
    that transformation, so the transformation and its description cannot disagree.
    ``OptimizerConfig.from_torch(param_group)`` reads one from a torch param group.

    Args:
      kind: ``"sgd"``, ``"adam"``, ``"adamw"`` or ``"rmsprop"``.
      **kwargs: that clr_optax function's keywords (torch's names and defaults), except
        ``spec`` and ``group``.

    >>> from clr_optax import OptimizerConfig
    >>> config = OptimizerConfig("adamw", betas=(0.9, 0.99))
    >>> config.torch_hyperparams()["betas"], config.torch_hyperparams()["decoupled_weight_decay"]
    ((0.9, 0.99), True)
    """

    __slots__ = ("kind", "kwargs")
    kind: str
    kwargs: dict

    def __init__(self, kind: str, /, **kwargs: Any) -> None:
        if kind not in _FACTORIES:
            raise ValueError(f"kind must be one of {sorted(_FACTORIES)}, got {kind!r}")
        parameters = inspect.signature(_FACTORIES[kind]).parameters
        allowed = [n for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY]
        for name in kwargs:
            if name not in allowed:
                raise TypeError(f"clr_optax.{kind} has no keyword {name!r} (it takes {allowed})")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "kwargs", dict(kwargs))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("OptimizerConfig is immutable")

    def __repr__(self) -> str:
        return f"OptimizerConfig({self.kind!r}{''.join(f', {k}={v!r}' for k, v in self.kwargs.items())})"

    def __eq__(self, other: Any) -> bool:
        return (
            isinstance(other, OptimizerConfig)
            and other.kind == self.kind
            and other.torch_hyperparams() == self.torch_hyperparams()
        )

    def __hash__(self) -> int:
        return hash((self.kind, tuple(sorted(self.torch_hyperparams().items()))))

    def __call__(self, spec: Any, group: int = 0) -> optax.GradientTransformationExtraArgs:
        """``clr_optax.<kind>(spec, group, **kwargs)``."""
        return _FACTORIES[self.kind](spec, group, **self.kwargs)

    def resolved(self) -> dict:
        """The keywords with clr_optax's defaults filled in."""
        parameters = inspect.signature(_FACTORIES[self.kind]).parameters
        out = {n: p.default for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
        out.update(self.kwargs)
        return out

    def torch_hyperparams(self) -> dict:
        """torch's param-group values (``momentum``, ``betas``, ``weight_decay``, ...) for this optimizer.

        ``momentum`` (``betas[0]``) is the constant one; where the spec cycles momentum it is
        the spec's instead, in torch and in optax alike."""
        kw = self.resolved()
        out: dict[str, Any] = {}
        for key in _TORCH_KEYS[self.kind]:
            if key == "betas":
                out[key] = tuple(float(b) for b in kw["betas"])
            elif key == "decoupled_weight_decay":
                out[key] = True if self.kind == "adamw" else bool(kw[key])
            elif key in _BOOL_KEYS:
                out[key] = bool(kw[key])
            else:
                out[key] = float(kw[key])
        return out

    @classmethod
    def from_torch(cls, param_group: Mapping, kind: Optional[str] = None) -> "OptimizerConfig":
        """The config a torch param group describes (``optimizer.state_dict()["param_groups"][g]``).

        Args:
          param_group: one torch param group (a dict).
          kind: the optimizer, where the keys do not say it. They tell SGD, Adam/AdamW and
            RMSprop apart, and Adam from AdamW where torch stores ``decoupled_weight_decay``
            (torch >= 2.6, or ``weight_decay == 0``, where they are the same).

        Returns:
          An ``OptimizerConfig`` whose ``torch_hyperparams()`` equal the group's.

        Raises:
          ValueError: a key no supported optimizer has (another torch optimizer's, say), a
            missing one, or an undecidable kind.
        """
        if not isinstance(param_group, Mapping):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        keys = set(param_group)
        if kind is None:
            if {"betas", "amsgrad"} <= keys:
                if "decoupled_weight_decay" in keys:
                    kind = "adamw" if param_group["decoupled_weight_decay"] else "adam"
                elif _number(param_group.get("weight_decay", 0)) == 0:
                    kind = "adam"
                else:
                    raise ValueError(
                        "this torch group does not say whether it is Adam or AdamW (torch < 2.6 "
                        "does not store decoupled_weight_decay): pass kind='adam' or 'adamw'"
                    )
            elif {"alpha", "centered"} <= keys:
                kind = "rmsprop"
            elif {"dampening", "nesterov"} <= keys:
                kind = "sgd"
            else:
                raise ValueError(
                    f"not a param group of torch's SGD, Adam, AdamW or RMSprop: its keys are {sorted(map(str, keys))}"
                )
        elif kind not in _FACTORIES:
            raise ValueError(f"kind must be one of {sorted(_FACTORIES)}, got {kind!r}")
        _check_group_keys(param_group, kind, "this torch group")
        kwargs: dict[str, Any] = {}
        for key in _TORCH_KEYS[kind]:
            if key == "decoupled_weight_decay":
                if kind == "adam" and key in param_group:
                    kwargs[key] = bool(param_group[key])
            elif key == "betas":
                kwargs[key] = tuple(float(_number(b)) for b in param_group[key])
            elif key in _BOOL_KEYS:
                kwargs[key] = bool(param_group[key])
            else:
                kwargs[key] = _number(param_group[key])
        return cls(kind, **kwargs)


def _check_group_keys(group: Mapping, kind: str, where: str) -> None:
    """Every key of the group is known (torch's for ``kind``, an implementation switch, a
    scheduler's), and the keys that change the update are there."""
    known = set(_TORCH_KEYS[kind]) | set(_IMPLEMENTATION_KEYS[kind]) | set(SCHEDULER_KEYS) | set(_BOOKKEEPING_KEYS)
    for key in group:
        if key not in known:
            raise ValueError(
                f"{where} has key {key!r}, which clr_optax.{kind} cannot represent (it is not a "
                f"setting of torch's {kind})"
            )
    optional = ("decoupled_weight_decay",)  # torch < 2.6 does not store it
    for key in _TORCH_KEYS[kind]:
        if key not in group and key not in optional:
            raise ValueError(f"{where} has no {key!r}: not a param group of torch's {kind}")


def _compare_group(config: OptimizerConfig, group: Mapping, g: int) -> None:
    """Refuse a torch group whose settings differ from the config's (momentum and betas[0]
    are the schedule's: ``_check_schedule`` compares them)."""
    where = f"torch param group {g}"
    _check_group_keys(group, config.kind, where)
    ours = config.torch_hyperparams()
    for key, value in ours.items():
        if key == "momentum":
            continue
        if key not in group:  # decoupled_weight_decay on torch < 2.6: the class said it
            continue
        theirs = group[key]
        if key == "betas":
            theirs_b2, ours_b2 = float(_number(theirs[1])), value[1]
            if theirs_b2 != ours_b2:
                raise ValueError(
                    f"{where} has betas[1] = {theirs_b2!r} but the optax {config.kind} was built with {ours_b2!r}"
                )
            continue
        theirs = bool(theirs) if key in _BOOL_KEYS else float(_number(theirs))
        if theirs != value:
            raise ValueError(f"{where} has {key} = {theirs!r} but the optax {config.kind} was built with {value!r}")


def _configs(optimizer: Any, n_groups: int, name: str = "optimizer") -> list[OptimizerConfig]:
    if isinstance(optimizer, OptimizerConfig):
        return [optimizer] * n_groups
    if isinstance(optimizer, (list, tuple)) and all(isinstance(c, OptimizerConfig) for c in optimizer):
        if len(optimizer) != n_groups:
            raise ValueError(f"{name} has {len(optimizer)} configs but there are {n_groups} param groups")
        return list(optimizer)
    raise TypeError(
        f"{name} must be an OptimizerConfig or a list of them (one per torch param group), "
        f"got {type(optimizer).__name__}"
    )


# =========================================================================== the optax state's optimizers
class _Node(NamedTuple):
    path: Path  # where the inject_hyperparams state is in the optax state
    state: Any  # the InjectHyperparamsState
    kind: str  # "sgd", "adam" (Adam and AdamW) or "rmsprop"
    label: Any  # the last dict key on the path: the multi_transform label

    @property
    def inner(self) -> Any:
        return self.state.inner_state

    def buffers(self) -> dict[str, Any]:
        """The per-parameter buffers (field name -> tree), the ones present."""
        inner = self.inner
        return {
            f: getattr(inner, f)
            for f in inner._fields
            if f not in ("count", "has_buffer") and getattr(inner, f) is not None
        }


def _is_inject(node: Any) -> bool:
    return isinstance(node, (optax.InjectStatefulHyperparamsState, optax.InjectHyperparamsState))


def _nodes(opt_state: Any) -> list[_Node]:
    flat = jax.tree_util.tree_flatten_with_path(opt_state, is_leaf=_is_inject)[0]
    nodes = []
    for path, node in flat:
        if not _is_inject(node):
            continue
        plain = tuple(_key(k) for k in path)
        kind = {SGDState: "sgd", AdamState: "adam", RMSpropState: "rmsprop"}.get(type(node.inner_state))
        if kind is None:
            raise ValueError(
                f"the optax state at {_show(plain)} is {type(node.inner_state).__name__}, not "
                "clr_optax's sgd, adam, adamw or rmsprop: torch has no state for it"
            )
        dict_keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey)]
        nodes.append(_Node(plain, node, kind, dict_keys[-1] if dict_keys else None))
    if not nodes:
        raise ValueError("the optax state holds no clr_optax optimizer (sgd, adam, adamw, rmsprop)")
    return nodes


def _replace_nodes(opt_state: Any, new_states: Sequence[Any]) -> Any:
    leaves, treedef = jax.tree_util.tree_flatten(opt_state, is_leaf=_is_inject)
    replaced, i = [], 0
    for leaf in leaves:
        if _is_inject(leaf):
            leaf, i = new_states[i], i + 1
        replaced.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, replaced)


def _owners(nodes: Sequence[_Node], params: Any, labels: Any) -> dict[Path, int]:
    """Which optimizer (index into nodes) updates each params leaf."""
    paths = [path for path, _ in _leaves(params)]
    owned: dict[Path, int] = {}
    for i, node in enumerate(nodes):
        buffers = node.buffers()
        if buffers:
            tree = next(iter(buffers.values()))
            for path, leaf in _leaves(tree):
                if not isinstance(leaf, _MASKED):
                    owned[path] = i
    if labels is not None:
        label_tree = labels(params) if callable(labels) else labels
        by_label = {node.label: i for i, node in enumerate(nodes)}
        label_of = dict(_leaves(label_tree))
        out = {}
        for path in paths:
            if path not in label_of:
                raise ValueError(f"labels has no label for params leaf {_show(path)}")
            label = label_of[path]
            if label not in by_label:
                raise ValueError(
                    f"params leaf {_show(path)} has label {label!r}, which is not a clr_optax "
                    f"optimizer in the state (its labels: {sorted(map(str, by_label))})"
                )
            if path in owned and owned[path] != by_label[label]:
                raise ValueError(
                    f"params leaf {_show(path)} has label {label!r} but the state updates it with "
                    f"{nodes[owned[path]].label!r}"
                )
            out[path] = by_label[label]
        return out
    bufferless = [i for i, node in enumerate(nodes) if not node.buffers()]
    out = {}
    for path in paths:
        if path in owned:
            out[path] = owned[path]
        elif len(bufferless) == 1:
            out[path] = bufferless[0]
        elif not bufferless:
            raise ValueError(f"params leaf {_show(path)} is updated by none of the state's clr_optax optimizers")
        else:
            raise ValueError(
                f"the state does not say which optimizer updates params leaf {_show(path)} "
                "(several keep no per-parameter state): pass labels=, as given to multi_transform"
            )
    return out


def _check_node(config: OptimizerConfig, node: _Node, g: int) -> None:
    """The config's kind and flags are the transformation's (as far as its state shows them)."""
    where = f"torch param group {g}"
    if _STATE_TYPES[config.kind] is not type(node.inner):
        raise ValueError(
            f"{where} is described as {config.kind} but the optax state at {_show(node.path)} is "
            f"{type(node.inner).__name__}"
        )
    kw = config.resolved()
    inner: Any = node.inner
    if node.kind == "adam" and bool(kw["amsgrad"]) != (inner.max_exp_avg_sq is not None):
        raise ValueError(
            f"{where}: amsgrad is {bool(kw['amsgrad'])} in the config but not in the optax state at {_show(node.path)}"
        )
    if node.kind == "rmsprop" and bool(kw["centered"]) != (inner.grad_avg is not None):
        raise ValueError(
            f"{where}: centered is {bool(kw['centered'])} in the config but not in the optax state at "
            f"{_show(node.path)}"
        )
    if node.kind in ("sgd", "rmsprop") and float(kw["momentum"]) != 0 and inner.momentum_buffer is None:
        raise ValueError(
            f"{where}: the config has momentum {kw['momentum']!r} but the optax state at "
            f"{_show(node.path)} keeps no momentum buffer"
        )


# =========================================================================== torch's state dict
class _TorchLayout(NamedTuple):
    groups: list  # the param groups (dicts)
    ids: list  # the state key of each parameter, in order
    group_of: list  # its group
    state: Mapping


def _torch_layout(state_dict: Any) -> _TorchLayout:
    if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
        raise TypeError(
            "torch_optimizer_state_dict must be an optimizer.state_dict(): a dict with 'state' and 'param_groups'"
        )
    groups = list(state_dict["param_groups"])
    ids, group_of = [], []
    for g, group in enumerate(groups):
        if not isinstance(group, Mapping) or "params" not in group:
            raise ValueError(f"torch param group {g} has no 'params' list")
        for pid in group["params"]:
            if pid in ids:
                raise ValueError(f"torch parameter id {pid!r} is in two param groups")
            ids.append(pid)
            group_of.append(g)
    state = state_dict["state"]
    if not isinstance(state, Mapping):
        raise TypeError(f"the torch state dict's 'state' must be a dict, got {type(state).__name__}")
    known = set(ids) | {str(i) for i in ids}
    for key in state:
        if key not in known:
            raise ValueError(f"the torch state has an entry for parameter id {key!r}, which no param group lists")
    return _TorchLayout(groups, ids, group_of, state)


def _entry(layout: _TorchLayout, j: int) -> dict:
    pid = layout.ids[j]
    entry = layout.state.get(pid, layout.state.get(str(pid), {}))
    if not isinstance(entry, Mapping):
        raise TypeError(f"the torch state of parameter id {pid!r} must be a dict, got {type(entry).__name__}")
    return {k: v for k, v in entry.items() if v is not None}  # old torch stored momentum_buffer = None


_STATE_KEYS = {
    "sgd": ("momentum_buffer",),
    "adam": ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    "rmsprop": ("step", "square_avg", "momentum_buffer", "grad_avg"),
}


def _expected_keys(node: _Node) -> tuple[set, set]:
    """(keys a stepped parameter must have, keys it may have) in torch's state for this optimizer."""
    inner = node.inner
    if node.kind == "sgd":
        return set(), ({"momentum_buffer"} if inner.momentum_buffer is not None else set())
    if node.kind == "adam":
        keys = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if inner.max_exp_avg_sq is not None else set())
        return keys, keys
    keys = (
        {"step", "square_avg"}
        | ({"grad_avg"} if inner.grad_avg is not None else set())
        | ({"momentum_buffer"} if inner.momentum_buffer is not None else set())
    )
    return keys, keys


# =========================================================================== torch -> optax
def optax_state_from_torch(
    torch_optimizer_state_dict: Mapping,
    params: Any,
    tx: optax.GradientTransformation,
    *,
    optimizer: Any,
    mapping: Optional[Sequence[ParamLink]] = None,
    step: Optional[int] = None,
    labels: Any = None,
    check_schedule: bool = True,
) -> Any:
    """The optax state of ``tx`` that continues a torch optimizer's run exactly.

    Args:
      torch_optimizer_state_dict: ``optimizer.state_dict()`` of torch's SGD, Adam, AdamW or
        RMSprop (tensors, or numpy arrays as ``torch_state_from_optax`` writes them).
      params: the optax params (in optax's layout: ``params_from_torch`` makes them).
      tx: clr_optax's ``sgd``/``adam``/``adamw``/``rmsprop`` (one per torch param group in an
        ``optax.multi_transform``, or inside ``optax.chain``), built from ``optimizer``; or a
        Flax NNX ``Optimizer`` over such a transformation, which is then written in place.
      optimizer: the ``OptimizerConfig`` ``tx`` was built from, or one per torch param group.
        Each group's settings are compared with it (optax keeps them where they cannot be
        read back); a difference is a ``ValueError`` naming the group and the key.
      mapping: ``param_mapping(...)``; default: the i-th torch parameter is the i-th leaf of
        ``jax.tree_util.tree_leaves(params)``, same shape and layout.
      step: optimizer steps taken. Default: torch's Adam/RMSprop ``step``; must be given for
        SGD, whose state has no count.
      labels: the labels given to ``optax.multi_transform``, where the state alone does not say
        which transformation updates which leaf (several keep no per-parameter state).
      check_schedule: run one update with zero gradients on the result and compare the lr and
        momentum it uses with each torch group's ``lr`` and ``momentum`` (``betas[0]``), within
        2 float32 ulp: a wrong spec, group or step is refused. (A constant momentum is compared
        either way.) Turn it off to continue on purpose with another schedule.

    Returns:
      ``tx.init(params)`` with torch's buffers, ``has_buffer`` set as torch's lazy state
      implies, and every count set to the step (``clr_optax.set_count``); for an NNX
      ``Optimizer``, the optimizer, holding that state (``set_nnx_state``).

    Raises:
      ValueError: a state optax cannot represent exactly (see the module docstring), a
        mismatch of shape, dtype or parameter count naming the first parameter, a group
        setting ``tx`` was not built with, or no step to set.
      TypeError: arguments of the wrong kind.
    """
    nnx_optimizer = tx if _is_nnx_optimizer(tx) else None
    if nnx_optimizer is not None:
        tx = nnx_optimizer.tx
    params = _pure(params)
    layout = _torch_layout(torch_optimizer_state_dict)
    n = len(layout.ids)
    configs = _configs(optimizer, len(layout.groups))
    links = _torch_links(mapping, params, layout)
    leaves = _check_links(links, params)
    for g, group in enumerate(layout.groups):
        _compare_group(configs[g], group, g)
    state0 = tx.init(params)
    nodes = _nodes(state0)
    owners = _owners(nodes, params, labels)
    node_of_group = _group_nodes(layout.group_of, links, owners, nodes, configs)

    # read torch's state, parameter by parameter, in torch's order
    per_node: list[dict] = [dict() for _ in nodes]  # node -> {path: {key: array}}
    steps: dict[int, int] = {}
    for j in range(n):
        link, node_index = links[j], owners[links[j].path]
        node = nodes[node_index]
        where = f"torch parameter {link.torch_name!r} (index {j}, group {layout.group_of[j]})"
        entry = _entry(layout, j)
        if not entry:
            continue
        required, allowed = _expected_keys(node)
        v.check_state_keys(entry, required, allowed, where, f"the optax {node.kind} at {_show(node.path)}")
        arrays = {}
        leaf = leaves[j]
        for key, value in entry.items():
            if key == "step":
                steps[j] = _whole_number(value, f"{where} 'step'")
                continue
            array = _numpy(value, f"{where} {key!r}")
            if link.torch_shape is not None and tuple(array.shape) != link.torch_shape:
                raise ValueError(f"{where}: torch's {key} has shape {array.shape}, the parameter {link.torch_shape}")
            converted = np.asarray(link.layout.to_optax(array))
            if converted.shape != tuple(np.shape(leaf)):
                raise ValueError(
                    f"{where}: torch's {key} has shape {array.shape}, {converted.shape} after its "
                    f"transform ({link.layout.description}), but params {_show(link.path)} is "
                    f"{np.shape(leaf)}"
                )
            if converted.dtype != np.dtype(leaf.dtype):
                raise ValueError(
                    f"{where}: torch's {key} is {converted.dtype} but params {_show(link.path)} is "
                    f"{np.dtype(leaf.dtype)}"
                )
            arrays[key] = converted
        per_node[node_index][link.path] = arrays

    count = _count(step, steps, links, layout, nodes, owners)

    # write the buffers and flags
    new_states = []
    for i, node in enumerate(nodes):
        new_states.append(
            node.state._replace(inner_state=_filled(node, per_node[i], links, owners, i, configs, node_of_group))
        )
    _check_hyperparams(nodes, layout.groups, node_of_group, scheduled_too=False)
    state = set_count(_replace_nodes(state0, new_states), count)
    if check_schedule:
        _check_schedule(tx, state, params, layout.groups, node_of_group)
    return state if nnx_optimizer is None else set_nnx_state(nnx_optimizer, state)


def _torch_links(mapping: Any, params: Any, layout: _TorchLayout) -> tuple[ParamLink, ...]:
    names_in_groups = [name for group in layout.groups for name in group.get("param_names", [])]
    if names_in_groups and len(names_in_groups) != len(layout.ids):
        names_in_groups = []
    if mapping is None:
        names = names_in_groups or [f"param {i}" for i in range(len(layout.ids))]
        return _default_links(params, names)
    links = tuple(mapping) if isinstance(mapping, (list, tuple)) else mapping
    if not isinstance(links, tuple):
        raise TypeError("mapping must be the tuple of ParamLink that clr_optax.param_mapping returns")
    if len(links) != len(layout.ids):
        extra = len(links) < len(layout.ids)
        j = min(len(links), len(layout.ids))
        name = (names_in_groups[j] if names_in_groups else f"param {j}") if extra else links[j].torch_name
        where = "in the torch state but not in mapping" if extra else "in mapping but not in the torch state"
        raise ValueError(
            f"torch parameter {name!r} (index {j}) is {where}: torch's optimizer holds "
            f"{len(layout.ids)} parameters, mapping {len(links)}"
        )
    for j, (link, name) in enumerate(zip(links, names_in_groups)):
        if link.torch_name != name:
            raise ValueError(f"torch parameter {j} is {name!r} in the torch state but {link.torch_name!r} in mapping")
    return links


def _group_nodes(
    group_of: Sequence[int],
    links: Sequence[ParamLink],
    owners: Mapping[Path, int],
    nodes: Sequence[_Node],
    configs: Sequence[OptimizerConfig],
) -> list[Optional[int]]:
    """The optimizer (node index) that updates each torch group's parameters."""
    out: list[Optional[int]] = [None] * (max(group_of) + 1 if group_of else 0)
    first: list[Optional[str]] = [None] * len(out)
    for link, g in zip(links, group_of):
        i, current = owners[link.path], out[g]
        if current is None:
            out[g], first[g] = i, link.torch_name
        elif current != i:
            raise ValueError(
                f"torch param group {g} holds {first[g]!r}, updated by the optax optimizer at "
                f"{_show(nodes[current].path)}, and {link.torch_name!r}, updated by the one at "
                f"{_show(nodes[i].path)}: one torch group must be one optax transformation"
            )
    for g, node_index in enumerate(out):
        if node_index is None:
            continue
        _check_node(configs[g], nodes[node_index], g)
        for h in range(g):
            if out[h] == node_index and configs[h] != configs[g]:
                raise ValueError(
                    f"torch param groups {h} and {g} have different settings ({configs[h]} and "
                    f"{configs[g]}) but one optax transformation"
                )
    return out


def _count(step: Optional[int], steps: Mapping[int, int], links, layout, nodes, owners) -> int:
    """The one count of the optax state: ``step``, or torch's common ``step``."""
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise TypeError(f"step must be an int (optimizer steps taken), got {type(step).__name__}")
        step = int(step)
        if not 0 <= step < 2**31:
            raise ValueError(f"step must be in [0, 2**31) (optax counts are int32), got {step}")
    adam = [j for j in range(len(links)) if nodes[owners[links[j].path]].kind == "adam"]
    adam_steps = {j: steps[j] for j in adam if j in steps}
    if adam_steps:
        j0, s0 = next(iter(adam_steps.items()))
        for j, s in adam_steps.items():
            if s != s0:
                raise ValueError(
                    f"torch parameter {links[j].torch_name!r} (index {j}) has Adam step {s} but "
                    f"{links[j0].torch_name!r} has {s0}: optax's Adam keeps one step count"
                )
        if step is not None and step != s0:
            raise ValueError(
                f"step is {step} but torch's Adam state says {s0} (torch parameter "
                f"{links[j0].torch_name!r}): Adam's bias correction and the schedule share optax's count"
            )
        count = s0
    elif steps:
        values = set(steps.values())
        if step is None:
            if len(values) != 1:
                raise ValueError(
                    f"torch's RMSprop parameters have different steps ({sorted(values)}): pass step=, "
                    "the optimizer steps taken"
                )
            count = values.pop()
        else:
            count = int(step)
            over = next((j for j, s in steps.items() if s > count), None)
            if over is not None:
                raise ValueError(
                    f"torch parameter {links[over].torch_name!r} (index {over}) has taken "
                    f"{steps[over]} steps, more than step={step}"
                )
    elif step is not None:
        count = step
    else:
        raise ValueError(
            "step must be given: torch's state holds no step count (SGD has none, and no parameter has stepped)"
        )
    for j in adam:
        if j not in adam_steps and count != 0:
            raise ValueError(
                f"torch parameter {links[j].torch_name!r} (index {j}) has no Adam state (it has never "
                f"had a gradient) but the run is at step {count}: optax's Adam keeps one step count "
                "for all parameters, so its bias correction would differ from torch's"
            )
    return count


def _filled(node: _Node, arrays: Mapping[Path, dict], links, owners, index: int, configs, node_of_group) -> Any:
    """The node's inner state with torch's buffers (zeros where torch has none) and flags."""
    inner = node.inner
    fields = {}
    for field, tree in node.buffers().items():

        def put(path, leaf, field=field):
            if isinstance(leaf, _MASKED):
                return leaf
            values = arrays.get(tuple(_key(k) for k in path))
            if values is None or field not in values:
                return leaf
            value = values[field]
            sharding = getattr(leaf, "sharding", None)
            return jax.device_put(value, sharding) if sharding is not None else jnp.asarray(value)

        fields[field] = jax.tree_util.tree_map_with_path(put, tree, is_leaf=lambda x: isinstance(x, _MASKED))
    if node.kind == "sgd":
        mine = [link for link in links if owners[link.path] == index]
        present = [link for link in mine if "momentum_buffer" in arrays.get(link.path, {})]
        has_buffer = bool(present)
        if present and len(present) != len(mine):
            group = next(g for g, i in enumerate(node_of_group) if i == index)
            dampening = float(configs[group].resolved()["dampening"])
            if dampening != 0:
                missing = next(link for link in mine if link not in present)
                raise ValueError(
                    f"torch parameter {missing.torch_name!r} has no momentum_buffer while "
                    f"{present[0].torch_name!r} has one: with dampening {dampening!r} torch's first "
                    "step stores its gradient undamped, which one has_buffer flag for the "
                    "transformation cannot represent"
                )
        fields["has_buffer"] = jnp.asarray(has_buffer, dtype=jnp.asarray(value_of(inner.has_buffer)).dtype)
    return inner._replace(**fields)


def _torch_momentum(group: Mapping, kind: str) -> float:
    return float(_number(group["betas"][0] if kind == "adam" else group["momentum"]))


def _close32(ours: float, theirs: float) -> bool:
    reference = np.float32(theirs)
    return abs(float(ours) - float(reference)) <= 2 * float(np.spacing(np.abs(reference)))


def _check_hyperparams(nodes: Sequence[_Node], groups, node_of_group, scheduled_too: bool) -> None:
    """Each torch group's lr and momentum (betas[0]) are its transformation's, within 2 float32 ulp.

    Constants (not schedules) are read from the state as they are; with ``scheduled_too``,
    ``nodes`` come from a probing update, so its hyperparameters are those of the next step."""
    for g, (group, i) in enumerate(zip(groups, node_of_group)):
        if i is None:
            continue
        state = nodes[i].state
        schedules = getattr(state, "hyperparams_states", None)
        if schedules is None and not scheduled_too:
            continue  # older optax: no way to tell constants from schedules
        scheduled = () if scheduled_too or schedules is None else tuple(schedules)
        hyper = {k: float(np.asarray(value_of(v))) for k, v in state.hyperparams.items() if k not in scheduled}
        if "learning_rate" in hyper and "lr" in group:
            lr = float(_number(group["lr"]))
            if not _close32(hyper["learning_rate"], lr):
                raise ValueError(
                    f"torch param group {g} has lr {lr!r} but the optax transformation's next update "
                    f"uses {hyper['learning_rate']!r}: another spec, group or step "
                    "(check_schedule=False to continue with optax's)"
                )
        name = "b1" if nodes[i].kind == "adam" else "momentum"
        if name in hyper:
            momentum = _torch_momentum(group, nodes[i].kind)
            if not _close32(hyper[name], momentum):
                key = "betas[0]" if name == "b1" else "momentum"
                raise ValueError(
                    f"torch param group {g} has {key} {momentum!r} but the optax transformation's next "
                    f"update uses {hyper[name]!r}: another spec, group, step or momentum"
                )


def _check_schedule(tx, state, params, groups, node_of_group) -> None:
    """The next update's lr and momentum in optax are torch's groups' lr and momentum."""
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    _, probed = jax.jit(tx.update)(zeros, state, params)  # one compilation, not one per operation
    _check_hyperparams(_nodes(probed), groups, node_of_group, scheduled_too=True)


# =========================================================================== optax -> torch
def torch_state_from_optax(
    opt_state: Any,
    params: Any,
    *,
    mapping: Optional[Sequence[ParamLink]] = None,
    param_groups: Any = None,
    labels: Any = None,
    optimizer: Any = None,
) -> dict:
    """A torch ``optimizer.state_dict()`` of the optax state, holding numpy arrays (torch's layout).

    Args:
      opt_state: the state of clr_optax's sgd/adam/adamw/rmsprop (alone, in ``optax.chain``,
        or one per label in ``optax.multi_transform``), or a Flax NNX ``Optimizer`` holding one.
      params: the optax params (their tree and layout; ``mapping`` says how they map).
      mapping: ``param_mapping(...)``; default: torch's parameters are the leaves of
        ``jax.tree_util.tree_leaves(params)`` in that order, same shapes.
      param_groups: how torch groups the parameters: the target optimizer's
        ``state_dict()["param_groups"]`` (their ``params`` ids are kept, their settings ignored)
        or a list of group sizes. Default: one group per run of parameters the same optax
        transformation updates, in torch's order.
      labels: the labels given to ``optax.multi_transform``, where the state does not say
        which transformation updates which leaf.
      optimizer: the ``OptimizerConfig`` (or one per group) the transformations were built
        from: its settings are written into the groups, except ``momentum``, and
        ``clr_torch.load_optimizer_state`` refuses an optimizer whose settings differ.

    Returns:
      ``{"state": {id: {...}}, "param_groups": [{"params": [ids], ...}]}``: torch's keys
      (``momentum_buffer``; ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``;
      ``square_avg``, ``grad_avg``) as numpy arrays in torch's layout; ``step`` is a float32
      scalar. A parameter torch would initialise lazily to the same values has no entry: SGD's
      buffer before ``has_buffer`` (torch then stores the gradient, as optax does), Adam's and
      RMSprop's zeros at step 0. The lr and momentum are not in it: torch's scheduler sets
      them (``clr_torch.CyclicLR.from_spec(opt, spec, step=k)``, ``clr_torch.scheduler``).
    """
    opt_state, params = _pure(opt_state), _pure(params)
    nodes = _nodes(opt_state)
    if mapping is None:
        links = _default_links(params, [f"param {i}" for i in range(len(_leaves(params)))])
    else:
        links = tuple(mapping)
    _check_links(links, params)
    owners = _owners(nodes, params, labels)
    groups = _torch_groups(param_groups, links, owners, nodes)
    configs = None if optimizer is None else _configs(optimizer, len(groups))
    by_field = [{field: dict(_leaves(tree)) for field, tree in node.buffers().items()} for node in nodes]
    state: dict = {}
    out_groups = []
    for g, (ids, members) in enumerate(groups):
        node_index = owners[links[members[0]].path]
        node = nodes[node_index]
        for j in members:
            if owners[links[j].path] != node_index:
                raise ValueError(
                    f"torch param group {g} holds {links[members[0]].torch_name!r} and "
                    f"{links[j].torch_name!r}, which different optax transformations update"
                )
        group = {"params": list(ids)}
        if configs is not None:
            _check_node(configs[g], node, g)
            group.update({k: v for k, v in configs[g].torch_hyperparams().items() if k != "momentum"})
        out_groups.append(group)
        for pid, j in zip(ids, members):
            entry = _torch_entry(node, links[j], by_field[node_index])
            if entry:
                state[pid] = entry
    return {"state": state, "param_groups": out_groups}


def _torch_groups(param_groups: Any, links, owners, nodes) -> list[tuple[list, list[int]]]:
    """[(state ids, indices into links)] per torch group."""
    n = len(links)
    if param_groups is None:
        runs: list[list[int]] = []
        seen: set = set()
        for j, link in enumerate(links):
            i = owners[link.path]
            if runs and owners[links[runs[-1][0]].path] == i:
                runs[-1].append(j)
                continue
            if i in seen:
                raise ValueError(
                    f"torch parameter {link.torch_name!r} (index {j}) is updated by the optax "
                    f"transformation at {_show(nodes[i].path)}, like parameters before it of another "
                    "group: torch's groups are runs of parameters; pass param_groups="
                )
            seen.add(i)
            runs.append([j])
        return [(members, members) for members in runs]
    groups = list(param_groups)
    sizes: list[int] = []
    ids: list[Optional[list]] = []
    for g, group in enumerate(groups):
        if isinstance(group, Mapping):
            if "params" not in group:
                raise ValueError(f"param_groups[{g}] has no 'params'")
            sizes.append(len(group["params"]))
            ids.append(list(group["params"]))
        elif isinstance(group, (int, np.integer)) and not isinstance(group, bool) and group >= 0:
            sizes.append(int(group))
            ids.append(None)
        else:
            raise TypeError(f"param_groups[{g}] must be a torch param group (a dict) or a group size, got {group!r}")
    if sum(sizes) != n:
        raise ValueError(f"param_groups hold {sum(sizes)} parameters, mapping {n}")
    out, start = [], 0
    for size, group_ids in zip(sizes, ids):
        members = list(range(start, start + size))
        out.append((group_ids if group_ids is not None else members, members))
        start += size
    return out


def _torch_entry(node: _Node, link: ParamLink, by_field: Mapping[str, Mapping[Path, Any]]) -> dict:
    inner = node.inner

    def buffer(field: str) -> np.ndarray:
        return np.asarray(link.layout.to_torch(np.asarray(value_of(by_field[field][link.path]))))

    if node.kind == "sgd":
        if inner.momentum_buffer is None or not bool(np.asarray(value_of(inner.has_buffer))):
            return {}
        return {"momentum_buffer": buffer("momentum_buffer")}
    if node.kind == "adam":
        count = int(np.asarray(value_of(inner.count)))
        fields = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if inner.max_exp_avg_sq is not None else [])
    else:
        count = int(np.asarray(value_of(node.state.count)))
        fields = (
            ["square_avg"]
            + (["momentum_buffer"] if inner.momentum_buffer is not None else [])
            + (["grad_avg"] if inner.grad_avg is not None else [])
        )
    entry = {field: buffer(field) for field in fields}
    if count == 0 and not any(np.any(a) for a in entry.values()):
        return {}  # torch's lazy state: zeros at step 0
    return {"step": np.asarray(count, np.float32), **entry}


# =========================================================================== parameters
def params_from_torch(torch_params: Any, params: Any, mapping: Optional[Sequence[ParamLink]] = None) -> Any:
    """``params`` with the values of torch's parameters (in optax's layout).

    Args:
      torch_params: ``{name: tensor}`` (``model.state_dict()``: entries no link names, such
        as BatchNorm's running statistics, are ignored) or a sequence of ``(name, tensor)``.
      params: the optax params tree whose structure, shapes and dtypes the result has.
      mapping: ``param_mapping(...)``; default: ``torch_params`` in order are the leaves.

    Returns:
      A pytree like ``params`` of jax arrays.
    """
    names, maybe_arrays = _torch_names(torch_params)
    params = _pure(params)
    if any(a is None for a in maybe_arrays):
        raise TypeError("torch_params must hold the arrays: a {name: tensor} dict or (name, tensor) pairs")
    arrays = [a for a in maybe_arrays if a is not None]
    by_name = dict(zip(names, arrays))
    if mapping is None:
        mapping = param_mapping(list(zip(names, arrays)), params)
    links = tuple(mapping)
    leaves = _check_links(links, params)
    values = {}
    for j, (link, leaf) in enumerate(zip(links, leaves)):
        where = f"torch parameter {link.torch_name!r} (index {j})"
        if link.torch_name not in by_name:
            raise ValueError(f"{where} is not in torch_params")
        converted = np.asarray(link.layout.to_optax(by_name[link.torch_name]))
        if converted.shape != tuple(np.shape(leaf)) or converted.dtype != np.dtype(leaf.dtype):
            raise ValueError(
                f"{where} is {by_name[link.torch_name].dtype}{list(by_name[link.torch_name].shape)}, "
                f"{converted.dtype}{list(converted.shape)} after its transform "
                f"({link.layout.description}), but params {_show(link.path)} is "
                f"{np.dtype(leaf.dtype)}{list(np.shape(leaf))}"
            )
        values[link.path] = converted

    def put(path, leaf):
        value = values[tuple(_key(k) for k in path)]
        sharding = getattr(leaf, "sharding", None)
        array = jax.device_put(value, sharding) if sharding is not None else jnp.asarray(value)
        if array.dtype != value.dtype:  # float64 without jax_enable_x64: jax would round it silently
            raise ValueError(
                f"torch parameter at params {_show(tuple(_key(k) for k in path))} is {value.dtype}, "
                f"which jax holds as {array.dtype} here: enable jax_enable_x64 or cast the model"
            )
        return array

    return jax.tree_util.tree_map_with_path(put, params)


def params_to_torch(params: Any, mapping: Optional[Sequence[ParamLink]] = None) -> dict[str, np.ndarray]:
    """``{torch_name: numpy array}`` of the optax params, in torch's layout and order.

    Args:
      params: the optax params.
      mapping: ``param_mapping(...)``; default: the leaves in order, named ``"param i"``.

    Returns:
      A dict for ``clr_torch.load_parameters(model, ...)`` (or ``model.load_state_dict``).
    """
    params = _pure(params)
    if mapping is None:
        mapping = _default_links(params, [f"param {i}" for i in range(len(_leaves(params)))])
    links = tuple(mapping)
    leaves = _check_links(links, params)
    return {link.torch_name: np.asarray(link.layout.to_torch(np.asarray(leaf))) for link, leaf in zip(links, leaves)}


# =========================================================================== one call
class TorchResume(NamedTuple):
    """What ``resume_from_torch_checkpoint`` returns: everything to continue the run in optax."""

    params: Any
    tx: optax.GradientTransformation
    opt_state: Any
    spec: Any
    step: int
    configs: tuple  # the OptimizerConfig of each torch param group
    labels: Any = None  # the multi_transform labels ("group0", ...) where there are several groups


LIGHTNING_KEYS = ("state_dict", "optimizer_states", "lr_schedulers")


def torch_checkpoint_parts(
    checkpoint: Any, model_key: str = "model", optimizer_key: str = "optimizer", scheduler_key: str = "scheduler"
) -> tuple[Mapping, Mapping, Mapping]:
    """The model, optimizer and scheduler states of a plain or a Lightning checkpoint.

    A plain checkpoint holds them under ``model_key``, ``optimizer_key`` and ``scheduler_key``
    (``torch.save({"model": ..., "optimizer": ..., "scheduler": ...})``); a Lightning one under
    ``state_dict``, ``optimizer_states`` and ``lr_schedulers`` (one optimizer and one scheduler).
    A Lightning scheduler must have been stepped once per optimizer step (``"interval": "step"``):
    optax evaluates the schedule at its update count, so one stepped per epoch is refused.

    Args:
      checkpoint: ``torch.load(path, weights_only=True)``.
      model_key, optimizer_key, scheduler_key: a plain checkpoint's keys.

    Returns:
      ``(model state_dict, optimizer state_dict, scheduler state_dict)``.

    Raises:
      ValueError: neither layout, several optimizers or schedulers, or a Lightning scheduler
        whose ``last_epoch`` is not the run's ``global_step``.
    """
    if not isinstance(checkpoint, Mapping):
        raise TypeError(f"checkpoint must be a dict (torch.load of a torch.save file), got {type(checkpoint).__name__}")
    plain = (model_key, optimizer_key, scheduler_key)
    if all(key in checkpoint for key in plain):
        return checkpoint[model_key], checkpoint[optimizer_key], checkpoint[scheduler_key]
    if not all(key in checkpoint for key in LIGHTNING_KEYS):
        missing = next(key for key in plain if key not in checkpoint)
        raise ValueError(
            f"checkpoint has no {missing!r} entry: a plain checkpoint holds {list(plain)} (model_key, "
            f"optimizer_key, scheduler_key name them), a Lightning one {list(LIGHTNING_KEYS)}; its keys "
            f"are {sorted(map(str, checkpoint))}"
        )
    optimizers, schedulers = checkpoint["optimizer_states"], checkpoint["lr_schedulers"]
    for key, value, what in (("optimizer_states", optimizers, "optimizer"), ("lr_schedulers", schedulers, "scheduler")):
        if not isinstance(value, (list, tuple)) or len(value) != 1:
            count = len(value) if isinstance(value, (list, tuple)) else type(value).__name__
            raise ValueError(f"the Lightning checkpoint's {key!r} holds {count} entries: one {what} is supported")
    scheduler = schedulers[0]
    global_step = checkpoint.get("global_step")
    last_epoch = scheduler.get("last_epoch") if isinstance(scheduler, Mapping) else None
    if (
        isinstance(global_step, int)
        and isinstance(last_epoch, int)
        and "best" not in scheduler
        and last_epoch != global_step
    ):
        raise ValueError(
            f"the Lightning scheduler is at step {last_epoch} but the run at global_step {global_step}: it "
            'was not stepped once per optimizer step (configure_optimizers needs "interval": '
            '"step"), and optax steps its schedule with every update'
        )
    return checkpoint["state_dict"], optimizers[0], scheduler


def resume_from_torch_checkpoint(
    checkpoint: Mapping,
    params: Any,
    *,
    mapping: Optional[Sequence[ParamLink]] = None,
    kind: Optional[str] = None,
    model_key: str = "model",
    optimizer_key: str = "optimizer",
    scheduler_key: str = "scheduler",
) -> TorchResume:
    """Continue a torch run in optax from its checkpoint, in one call.

    The checkpoint is a dict with the model's ``state_dict()``, the optimizer's and the
    scheduler's (``torch.load(path, weights_only=True)`` of what ``torch.save`` wrote), or a
    Lightning checkpoint (``torch_checkpoint_parts``). The
    spec is ``clr_spec.from_torch(scheduler state, optimizer state)``, the step the
    scheduler's ``last_epoch``, each group's settings ``OptimizerConfig.from_torch``; the
    transformation is ``config(spec)`` for one group and an ``optax.multi_transform`` with
    labels ``"group0"``, ``"group1"``, ... for several.

    Args:
      checkpoint: the dict (plain or Lightning).
      params: an optax params tree (or an ``nnx.State``) with the model's structure, shapes and dtypes (its values
        are replaced by the checkpoint's).
      mapping: ``param_mapping(...)`` in torch's optimizer order; default: the optimizer's
        parameters, in order, are the leaves of ``params`` (names from the model state in order).
      kind: ``"adam"`` or ``"adamw"`` where torch's groups do not say which (torch < 2.6).
      model_key, optimizer_key, scheduler_key: the checkpoint's keys.

    Returns:
      ``TorchResume(params, tx, opt_state, spec, step, configs, labels)``: ``tx.update``
      continues at step ``step`` as torch would; ``labels`` are the ``multi_transform``
      labels where there are several groups, else ``None``.
    """
    from clr_spec import from_torch as spec_from_torch

    model, optimizer_state, scheduler_state = torch_checkpoint_parts(
        checkpoint, model_key, optimizer_key, scheduler_key
    )
    params = _pure(params)
    layout = _torch_layout(optimizer_state)
    spec = spec_from_torch(scheduler_state, optimizer_state)
    if "last_epoch" not in scheduler_state:
        raise ValueError("the scheduler state has no 'last_epoch': cannot tell the step")
    step = _whole_number(scheduler_state["last_epoch"], "the scheduler's last_epoch")
    configs = tuple(OptimizerConfig.from_torch(group, kind) for group in layout.groups)
    if mapping is None:
        named = dict(zip(*_torch_names(model)))
        names = [name for group in layout.groups for name in group.get("param_names", [])]
        if len(names) != len(layout.ids):
            names = list(named)
            if len(names) != len(layout.ids):
                raise ValueError(
                    f"the model state has {len(names)} entries and the optimizer {len(layout.ids)} "
                    "parameters (buffers, or parameters not in the optimizer): pass mapping="
                )
        missing = [name for name in names if name not in named]
        if missing:
            raise ValueError(
                f"torch parameter {missing[0]!r} is in the optimizer's param_names but not in the model state"
            )
        mapping = param_mapping([(name, named[name]) for name in names], params)
    links = tuple(mapping)
    new_params = params_from_torch(model, params, links)
    labels = None
    if len(layout.groups) == 1:
        tx = configs[0](spec, 0)
    else:
        label_of = {}
        for link, g in zip(links, layout.group_of):
            label_of[link.path] = f"group{g}"
        labels = jax.tree_util.tree_map_with_path(lambda path, _: label_of[tuple(_key(k) for k in path)], params)
        tx = optax.multi_transform({f"group{g}": configs[g](spec, g) for g in range(len(layout.groups))}, labels)
    if spec.EVALUATOR == "plateau" and any("step" in _entry(layout, j) for j in range(len(layout.ids))):
        # ReduceLROnPlateau's last_epoch counts metrics (epochs), not updates: torch's own step is the count
        step_arg: Optional[int] = None
    else:
        step_arg = step
    opt_state = optax_state_from_torch(
        optimizer_state, new_params, tx, optimizer=list(configs), mapping=links, step=step_arg, labels=labels
    )
    step = int(np.asarray(_nodes(opt_state)[0].state.count))
    return TorchResume(new_params, tx, opt_state, spec, step, configs, labels)


def torch_checkpoint_from_optax(
    params: Any,
    opt_state: Any,
    spec: Any,
    *,
    mapping: Optional[Sequence[ParamLink]] = None,
    optimizer: Any = None,
    param_groups: Any = None,
    labels: Any = None,
) -> dict:
    """An optax run as a torch checkpoint of numpy arrays, in one call (``clr_torch.resume_from_optax`` loads it).

    Args:
      params: the optax params.
      opt_state: their clr_optax optimizer state.
      spec: the clr_spec spec the run follows (torch's scheduler is rebuilt from it).
      mapping, optimizer, param_groups, labels: as for ``torch_state_from_optax``.

    Returns:
      ``{"model": {torch_name: array}, "optimizer": torch_state_from_optax(...), "spec": spec,
      "step": k}``: ``k`` is the state's count (the optimizer steps taken).

    Raises:
      ValueError: the state's transformations are at different counts.
    """
    opt_state, params = _pure(opt_state), _pure(params)
    counts = {int(np.asarray(value_of(node.state.count))) for node in _nodes(opt_state)}
    if len(counts) != 1:
        raise ValueError(f"the state's transformations are at different steps {sorted(counts)}")
    return {
        "model": params_to_torch(params, mapping),
        "optimizer": torch_state_from_optax(
            opt_state, params, mapping=mapping, param_groups=param_groups, labels=labels, optimizer=optimizer
        ),
        "spec": spec,
        "step": counts.pop(),
    }


__all__ = [
    "OptimizerConfig",
    "ParamLink",
    "Layout",
    "param_mapping",
    "optax_state_from_torch",
    "torch_state_from_optax",
    "torch_checkpoint_from_optax",
    "params_from_torch",
    "params_to_torch",
    "resume_from_torch_checkpoint",
    "TorchResume",
    "SCHEDULER_KEYS",
    "set_nnx_state",
    "torch_checkpoint_parts",
    "LIGHTNING_KEYS",
]
