"""A migrated run as an Orbax checkpoint, and back: params, optimizer state, spec.

``save_orbax`` writes one step of an ``orbax.checkpoint.CheckpointManager`` directory, with
orbax's standard handlers, so plain orbax restores it and a JAX training loop can keep
saving into the same directory::

    DIR/<step>/params      StandardSave: the params pytree
    DIR/<step>/opt_state   StandardSave: the optax state (every count = step)
    DIR/<step>/clr         JsonSave: {"format": "clr.run", "version": 1, "step", "spec" (the
                           spec's JSON, a plateau's state as the run has reached it),
                           "optimizer" (one {"kind", "kwargs"} per torch param group),
                           "tx" ("clr": the state is the transformation these rebuild; null:
                           another one, which load_orbax must be given), "torch" (each
                           parameter's torch name, params path, layout and group; the model
                           state's key order)}
    DIR/<step>/buffers     StandardSave, only where the torch model has buffers (BatchNorm's
                           running statistics, ...): {name parts: array}, nested like params

``torch_to_orbax`` makes it from a torch checkpoint (plain or Lightning); the params are then
a nested dict keyed by the parts of torch's parameter names, in torch's layout
(``"hidden.weight"`` is ``params["hidden"]["weight"]``, shape ``(out, in)``).
``torch_checkpoint_from_orbax`` reads one back as the numpy checkpoint
``clr_torch.resume_from_optax`` (or ``clr_torch.torch_checkpoint``) takes.

Orbax is imported only here, when one of these is called: it is the ``orbax`` extra.
"""

from __future__ import annotations

import ast
import json
import os
from typing import Any, Mapping, NamedTuple, Optional, Sequence

import jax
import numpy as np
import optax

from clr_spec._requirements import require

from ._torch_state import (
    IDENTITY,
    Layout,
    OptimizerConfig,
    ParamLink,
    _check_links,
    _configs,
    _default_links,
    _key,
    _layout,
    _leaves,
    _nodes,
    _pure,
    _show,
    _torch_names,
    param_mapping,
    resume_from_torch_checkpoint,
    same_tree,
    torch_checkpoint_from_optax,
    torch_checkpoint_parts,
    torch_state_from_optax,
)

FORMAT, VERSION = "clr.run", 1
ITEMS = ("params", "opt_state", "clr")
_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}


def _ocp() -> Any:
    """``orbax.checkpoint``, or an ImportError naming the extra that installs it."""
    return require("orbax.checkpoint", "orbax", "clr_optax's Orbax checkpoints")


class OrbaxRun(NamedTuple):
    """What ``load_orbax`` returns: everything to continue the run in optax, or to go to torch."""

    params: Any
    tx: optax.GradientTransformation
    opt_state: Any
    spec: Any
    step: int
    configs: tuple  # the OptimizerConfig of each torch param group
    mapping: tuple  # the ParamLink of each torch parameter, in torch's optimizer order
    labels: Any  # the multi_transform labels ("group0", ...) where there are several groups
    groups: list  # the torch param group of each torch parameter (mapping's order)
    buffers: Any  # the torch model's buffers ({name parts: array}) or None
    model_keys: Optional[list]  # the torch model state's key order, where it came from torch


# =========================================================================== layouts in JSON
def _layout_json(link: ParamLink) -> Any:
    layout = link.layout
    if layout is IDENTITY or layout.description == "identity":
        return None
    if layout.description == "transpose":
        return "transpose"
    if layout.description.startswith("permute("):
        return list(ast.literal_eval(layout.description[len("permute") :]))
    raise ValueError(
        f"torch parameter {link.torch_name!r} has a custom layout (a pair of functions), which a "
        "checkpoint cannot hold: use 'transpose' or a permutation of the axes"
    )


def _layout_of(spec: Any) -> Layout:
    if spec is None:
        return IDENTITY
    return _layout(tuple(spec) if isinstance(spec, list) else spec, "checkpoint")


def _json_path(path: tuple) -> list:
    for key in path:
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise ValueError(f"params path {_show(path)} has the key {key!r}: a checkpoint holds str and int keys")
    return list(path)


def _config_json(config: OptimizerConfig) -> dict:
    kwargs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.kwargs.items()}
    json.dumps(kwargs)  # a TypeError here names what JSON cannot hold
    return {"kind": config.kind, "kwargs": kwargs}


def _config_of(entry: Any, g: int) -> OptimizerConfig:
    if not isinstance(entry, Mapping) or "kind" not in entry or not isinstance(entry.get("kwargs", {}), Mapping):
        raise ValueError(f"the checkpoint's optimizer {g} must be {{'kind': ..., 'kwargs': {{...}}}}, got {entry!r}")
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in entry.get("kwargs", {}).items()}
    return OptimizerConfig(entry["kind"], **kwargs)


def _standard_tx(spec: Any, configs: Sequence[OptimizerConfig], labels: Any) -> optax.GradientTransformation:
    """The transformation ``resume_from_torch_checkpoint`` builds: one config, or one per group."""
    if len(configs) == 1:
        return configs[0](spec, 0)
    return optax.multi_transform({f"group{g}": c(spec, g) for g, c in enumerate(configs)}, labels)


def _labels(params: Any, links: Sequence[ParamLink], group_of: Sequence[int], groups: int) -> Any:
    if groups == 1:
        return None
    label_of = {link.path: f"group{g}" for link, g in zip(links, group_of)}
    return jax.tree_util.tree_map_with_path(lambda path, _: label_of[tuple(_key(k) for k in path)], params)


def _current_spec(spec: Any, opt_state: Any) -> Any:
    """The spec with a plateau's state as the run has reached it (its metric history is in the state)."""
    if spec.EVALUATOR != "plateau":
        return spec
    from ._plateau import plateau_spec_from_optax

    states = [node.state for node in _nodes(opt_state)]
    return plateau_spec_from_optax(spec, states if spec.num_groups is not None else states[0])


# =========================================================================== save
def save_orbax(
    directory: str,
    params: Any,
    opt_state: Any,
    spec: Any,
    *,
    optimizer: Any,
    mapping: Optional[Sequence[ParamLink]] = None,
    labels: Any = None,
    param_groups: Any = None,
    buffers: Any = None,
    model_keys: Optional[Sequence[str]] = None,
    overwrite: bool = False,
) -> str:
    """Write an optax run as step ``k`` of an Orbax ``CheckpointManager`` directory (layout: module docstring).

    Args:
      directory: the manager's directory (created where missing).
      params: the optax params (an ``nnx.State`` is read as its arrays).
      opt_state: their state of clr_optax's sgd/adam/adamw/rmsprop (or an ``nnx.Optimizer``).
      spec: the clr_spec spec the run follows.
      optimizer: the ``OptimizerConfig`` of the transformation, or one per torch param group.
      mapping: ``param_mapping(...)``: each params leaf's torch name, in torch's optimizer
        order, and its layout (identity, ``"transpose"`` or a permutation; not functions).
        Default: the leaves in tree order, named ``"param i"``.
      labels, param_groups: as for ``torch_state_from_optax`` (the run must be one torch can hold).
      buffers: the torch model's buffers, a pytree of arrays, written as the ``buffers`` item.
      model_keys: the torch model state's key order, kept for the way back.
      overwrite: replace the step if the directory holds it already.

    Returns:
      The step's directory, ``directory/<k>``, ``k`` the state's count.

    Raises:
      ValueError: a state torch cannot hold (``torch_state_from_optax``), transformations at
        different counts, a layout or key JSON cannot hold, or the step already written.
    """
    ocp = _ocp()
    params, opt_state = _pure(params), _pure(opt_state)
    counts = {int(np.asarray(node.state.count)) for node in _nodes(opt_state)}
    if len(counts) != 1:
        raise ValueError(f"the state's transformations are at different steps {sorted(counts)}")
    step = counts.pop()
    links = (
        tuple(mapping)
        if mapping is not None
        else _default_links(params, [f"param {i}" for i in range(len(_leaves(params)))])
    )
    _check_links(links, params)
    # the torch side it stands for: refused here if torch cannot hold it, not on the way back
    torch_state = torch_state_from_optax(
        opt_state, params, mapping=links, labels=labels, param_groups=param_groups, optimizer=optimizer
    )
    configs = _configs(optimizer, len(torch_state["param_groups"]))
    group_of = [g for g, group in enumerate(torch_state["param_groups"]) for _ in group["params"]]
    spec = _current_spec(spec, opt_state)
    standard = _standard_tx(spec, configs, _labels(params, links, group_of, len(configs)))
    standard_tree = same_tree(jax.eval_shape(standard.init, params), opt_state)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        "spec": json.loads(spec.to_json()),
        "optimizer": [_config_json(c) for c in configs],
        "tx": "clr" if standard_tree else None,
        "torch": {
            "names": [link.torch_name for link in links],
            "paths": [_json_path(link.path) for link in links],
            "layouts": [_layout_json(link) for link in links],
            "groups": group_of,
            "model_keys": None if model_keys is None else [str(k) for k in model_keys],
        },
    }
    items = {
        "params": ocp.args.StandardSave(params),
        "opt_state": ocp.args.StandardSave(opt_state),
        "clr": ocp.args.JsonSave(meta),
    }
    if buffers is not None:
        items["buffers"] = ocp.args.StandardSave(buffers)
    directory = os.path.abspath(os.fspath(directory))
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(f"{directory!r} is a file, not a directory for an Orbax checkpoint")
    options = ocp.CheckpointManagerOptions(create=True, enable_async_checkpointing=False)
    with ocp.CheckpointManager(directory, options=options) as manager:
        if step in manager.all_steps():
            if not overwrite:
                raise ValueError(f"{directory!r} holds step {step} already (overwrite=True, --force, replaces it)")
            manager.delete(step)
        manager.save(step, args=ocp.args.Composite(**items))
        manager.wait_until_finished()
    return os.path.join(directory, str(step))


def _nested(names: Sequence[str], arrays: Sequence[Any], what: str) -> dict:
    """``{"hidden": {"weight": a}}`` from ``"hidden.weight"``: the parts of torch's names."""
    out: dict = {}
    for name, array in zip(names, arrays):
        parts = name.split(".")
        if not all(parts):
            raise ValueError(f"{what} {name!r} has an empty part between dots")
        node = out
        for i, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{what} {name!r} is inside {'.'.join(parts[: i + 1])!r}, which is an entry itself")
        if parts[-1] in node:
            raise ValueError(f"{what} {name!r} is an entry and holds entries")
        node[parts[-1]] = array
    return out


def _flat(tree: Any) -> dict[str, np.ndarray]:
    return {".".join(str(k) for k in path): np.asarray(leaf) for path, leaf in _leaves(tree)}


def torch_to_orbax(
    checkpoint: Mapping, directory: str, *, kind: Optional[str] = None, overwrite: bool = False
) -> OrbaxRun:
    """A torch checkpoint (plain or Lightning) as an Orbax checkpoint, in one call.

    The params are a nested dict keyed by the parts of torch's parameter names, in torch's
    layout (``params["hidden"]["weight"]`` is ``hidden.weight``, shape ``(out, in)``); the
    model state's other entries (buffers) are the ``buffers`` item. For a Flax layout, use
    ``resume_from_torch_checkpoint`` with a ``param_mapping`` and ``save_orbax``.

    Args:
      checkpoint: ``torch.load(path, weights_only=True)`` (``torch_checkpoint_parts``).
      directory: the Orbax ``CheckpointManager`` directory.
      kind: the optimizer (``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``) where torch's
        groups do not say it (Adam or AdamW before torch 2.6); every group is checked against it.
      overwrite: replace the step if the directory holds it already.

    Returns:
      ``load_orbax``'s ``OrbaxRun`` of what was written (``step`` = the scheduler's step).
    """
    model, optimizer_state, _ = torch_checkpoint_parts(checkpoint)
    names = _parameter_names(model, optimizer_state)
    model_names, model_arrays = _torch_names(model)
    by_name = dict(zip(model_names, model_arrays))
    arrays = [by_name[name] for name in names]
    template = _nested(names, arrays, "torch parameter")
    mapping = param_mapping(list(zip(names, arrays)), template, paths={n: tuple(n.split(".")) for n in names})
    run = resume_from_torch_checkpoint(checkpoint, template, mapping=mapping, kind=kind)
    extra = [n for n in model_names if n not in set(names)]
    buffers = _nested(extra, [by_name[n] for n in extra], "torch buffer") if extra else None
    save_orbax(
        directory,
        run.params,
        run.opt_state,
        run.spec,
        optimizer=list(run.configs),
        mapping=mapping,
        labels=run.labels,
        buffers=buffers,
        model_keys=model_names,
        overwrite=overwrite,
    )
    group_of = [g for g, group in enumerate(optimizer_state["param_groups"]) for _ in group["params"]]
    return OrbaxRun(
        run.params,
        run.tx,
        run.opt_state,
        run.spec,
        run.step,
        run.configs,
        mapping,
        run.labels,
        group_of,
        buffers,
        list(model_names),
    )


def _parameter_names(model: Any, optimizer_state: Any) -> list[str]:
    """The optimizer's parameters' names, in its order: its ``param_names`` where torch kept
    them, else the model state's entries in order (a model without buffers)."""
    if not isinstance(optimizer_state, Mapping) or "param_groups" not in optimizer_state:
        raise ValueError("the optimizer state must be an optimizer.state_dict(), a dict with 'param_groups'")
    names, arrays = _torch_names(model)
    if any(a is None for a in arrays):
        raise TypeError("the model state must map names to tensors (model.state_dict())")
    groups = list(optimizer_state["param_groups"])
    count = sum(len(g.get("params", ())) for g in groups if isinstance(g, Mapping))
    kept = [n for g in groups if isinstance(g, Mapping) for n in g.get("param_names", ())]
    if len(kept) == count and count:
        missing = [n for n in kept if n not in set(names)]
        if missing:
            raise ValueError(
                f"torch parameter {missing[0]!r} is in the optimizer's param_names but not in the model state"
            )
        return list(kept)
    if len(names) != count:
        raise ValueError(
            f"the model state has {len(names)} entries and the optimizer {count} parameters, and the "
            "optimizer kept no param_names: build it from model.named_parameters() (torch >= 2.6) so "
            "its parameters can be told from the model's buffers"
        )
    return list(names)


# =========================================================================== load
def _step_directory(directory: str, step: Optional[int]) -> str:
    """The step's directory, in a manager's directory, or the one step's directory given."""
    directory = os.path.abspath(os.fspath(directory))
    if not os.path.isdir(directory):
        raise ValueError(f"{directory!r} is not a directory (an Orbax checkpoint is one)")
    if os.path.isdir(os.path.join(directory, "clr")) and os.path.isdir(os.path.join(directory, "opt_state")):
        name = os.path.basename(directory)
        if step is not None and name != str(step):
            raise ValueError(f"{directory!r} is the checkpoint of one step; step={step} asks for another")
        return directory
    steps = sorted(int(n) for n in os.listdir(directory) if n.isdigit() and os.path.isdir(os.path.join(directory, n)))
    if not steps:
        raise ValueError(
            f"{directory!r} holds no Orbax checkpoint written by clr (no step directory with 'clr' and "
            "'opt_state' items)"
        )
    if step is None:
        step = steps[-1]
    elif step not in steps:
        raise ValueError(f"{directory!r} has no step {step} (it has {steps})")
    return os.path.join(directory, str(step))


def _restore(ocp: Any, path: str, **items: Any) -> Any:
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        try:
            return checkpointer.restore(path, args=ocp.args.Composite(**items))
        except (ValueError, KeyError, TypeError, FileNotFoundError) as err:
            first = (str(err).splitlines() or [""])[0]
            raise ValueError(f"{path}: cannot restore {sorted(items)}: {type(err).__name__}: {first[:300]}") from err


def _meta(ocp: Any, path: str) -> dict:
    if not os.path.isdir(os.path.join(path, "clr")):
        raise ValueError(f"{path!r} has no 'clr' item: not a checkpoint written by clr (save_orbax, clr migrate)")
    meta = _restore(ocp, path, clr=ocp.args.JsonRestore())["clr"]
    if not isinstance(meta, Mapping) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: its 'clr' item is not a {FORMAT!r} record")
    if meta.get("version") != VERSION:
        raise ValueError(f"{path}: {FORMAT} version {meta.get('version')!r}; this clr reads version {VERSION}")
    for key in ("step", "spec", "optimizer", "torch"):
        if key not in meta:
            raise ValueError(f"{path}: its 'clr' record has no {key!r}")
    return dict(meta)


def load_orbax(
    directory: str, *, step: Optional[int] = None, tx: Optional[optax.GradientTransformation] = None, params: Any = None
) -> OrbaxRun:
    """Read a checkpoint ``save_orbax`` (or ``clr migrate torch-to-orbax``) wrote.

    Args:
      directory: the ``CheckpointManager`` directory, or one step's directory in it.
      step: the step to read; default: the latest.
      tx: the transformation, where the checkpoint's ``"tx"`` is null (a state that is not
        the one its optimizer configs rebuild: one inside ``optax.chain``, say).
      params: a params tree (or its ``jax.ShapeDtypeStruct``s) to restore into, for trees that
        are not nested dicts (orbax restores those as saved).

    Returns:
      ``OrbaxRun(params, tx, opt_state, spec, step, configs, mapping, labels, groups, buffers,
      model_keys)``: ``tx.update`` continues at step ``step``.

    Raises:
      ValueError: not such a checkpoint (naming the directory and what is missing), a
        state that is not ``tx``'s, or no ``tx`` where the checkpoint needs one.
    """
    ocp = _ocp()
    path = _step_directory(directory, step)
    meta = _meta(ocp, path)
    from clr_spec import from_json

    spec = from_json(json.dumps(meta["spec"]))
    configs = tuple(_config_of(entry, g) for g, entry in enumerate(meta["optimizer"]))
    target = None if params is None else jax.eval_shape(lambda tree: tree, _pure(params))
    restored_params = _restore(ocp, path, params=ocp.args.StandardRestore(target))["params"]
    torch_meta = meta["torch"]
    links = tuple(
        ParamLink(str(name), tuple(p), _layout_of(layout))
        for name, p, layout in zip(torch_meta["names"], torch_meta["paths"], torch_meta["layouts"])
    )
    _check_links(links, restored_params)
    group_of = list(torch_meta["groups"])
    labels = _labels(restored_params, links, group_of, len(configs))
    if tx is None:
        if meta.get("tx") != "clr":
            raise ValueError(
                f"{path}: its optimizer state is not the one its optimizer configs rebuild (another "
                "transformation around them): pass tx=, the transformation it was saved from"
            )
        tx = _standard_tx(spec, configs, labels)
    abstract = jax.eval_shape(tx.init, restored_params)
    opt_state = _restore(ocp, path, opt_state=ocp.args.StandardRestore(abstract))["opt_state"]
    if not same_tree(opt_state, abstract):
        raise ValueError(f"{path}: its optimizer state is not a state of tx")
    buffers = None
    if os.path.isdir(os.path.join(path, "buffers")):
        buffers = _restore(ocp, path, buffers=ocp.args.StandardRestore())["buffers"]
    return OrbaxRun(
        restored_params,
        tx,
        opt_state,
        spec,
        int(meta["step"]),
        configs,
        links,
        labels,
        group_of,
        buffers,
        torch_meta.get("model_keys"),
    )


def torch_checkpoint_from_orbax(
    directory: str, *, step: Optional[int] = None, tx: Optional[optax.GradientTransformation] = None
) -> dict:
    """An Orbax checkpoint of clr's as the numpy checkpoint torch continues from (no torch needed).

    Args:
      directory, step, tx: as for ``load_orbax``.

    Returns:
      ``torch_checkpoint_from_optax``'s dict, ``{"model": {torch name: array} (parameters and
      buffers, in the model state's order), "optimizer": numpy state dict, "spec": the spec's
      JSON, "step": k}``, with ``"param_names"`` (torch's optimizer order) and
      ``"optimizer_class"`` (``"SGD"``, ``"Adam"``, ``"AdamW"`` or ``"RMSprop"``, one per
      group) and ``"optimizer_settings"`` (each group's torch settings): ``clr_torch.resume_from_optax(model, optimizer, it)`` continues the run, and
      ``clr_torch.torch_checkpoint(it)`` makes the plain torch checkpoint
      (``model``/``optimizer``/``scheduler`` state dicts) of it.
    """
    run = load_orbax(directory, step=step, tx=tx)
    sizes = [run.groups.count(g) for g in range(len(run.configs))]
    out = torch_checkpoint_from_optax(
        run.params,
        run.opt_state,
        run.spec,
        mapping=run.mapping,
        optimizer=list(run.configs),
        labels=run.labels,
        param_groups=sizes,
    )
    model = dict(out["model"])
    if run.buffers is not None:
        model.update(_flat(run.buffers))
    if run.model_keys is not None:
        missing = [k for k in run.model_keys if k not in model]
        if missing:
            raise ValueError(f"the checkpoint's model entry {missing[0]!r} is neither a parameter nor a buffer in it")
        model = {k: model[k] for k in run.model_keys}
    out["model"] = model
    out["spec"] = run.spec.to_json()
    out["param_names"] = [link.torch_name for link in run.mapping]
    out["optimizer_class"] = [_CLASSES[c.kind] for c in run.configs]
    out["optimizer_settings"] = [
        {k: (list(v) if isinstance(v, tuple) else v) for k, v in c.torch_hyperparams().items()} for c in run.configs
    ]
    return out


__all__ = ["save_orbax", "load_orbax", "torch_to_orbax", "torch_checkpoint_from_orbax", "OrbaxRun"]
