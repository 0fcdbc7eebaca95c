"""``clr migrate``: whole runs between torch and Orbax, through the command line.

A torch run (the two-layer model of ``_training``; SGD with momentum and weight decay on
the hidden layer, two param groups, under ``SequentialLR([LinearLR, CosineAnnealingLR])``;
Adam under ``OneCycleLR``, one group) is checkpointed by ``torch.save`` at step K, moved by
``clr migrate torch-to-orbax`` and continued in optax to N; the same from a Lightning
checkpoint. The reverse: an optax run saved with ``clr_optax.save_orbax`` at K, moved by
``clr migrate orbax-to-torch`` and loaded by torch's own ``load_state_dict`` into a model,
optimizer and scheduler built the torch way, continued to N. The expected values are the
other framework's uninterrupted run: parameters within BOUND of that run's own last step
(``delta = max |p_N - p_{N-1}|``, as in test_run_migration.py: float32 kernels differ
between the frameworks), and the lr of every step is float32(torch's), 0 ulp. Measured (CPU,
float32, N = 40, K = 17; gap / delta):

    case              torch -> Orbax -> optax   optax -> Orbax -> torch
    sgd-sequential           4.2e-05                  8.5e-05
    adam-onecycle            1.8e-05                  2.2e-05

BOUND = 3e-3 is 35x the worst; test_run_migration.py's controls show a lost buffer or flag
moves the run by more than 1.2 delta, so the bound cannot pass one.

The params in Orbax are a nested dict keyed by torch's names, in torch's layout
(``params["hidden"]["weight"]`` is ``(16, 6)``): the jax loss below uses ``x @ W.T``.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")
pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")
pytest.importorskip("optax", reason="needs optax: pip install 'clr-spec[jax]'")
ocp = pytest.importorskip("orbax.checkpoint", reason="needs orbax-checkpoint: pip install 'clr-spec[orbax]'")

import jax
import jax.numpy as jnp
import optax
import torch

import clr_optax
import clr_spec
import clr_torch
from clr_spec import cli

from . import _training as T

N, K = 40, 17
BOUND = 3e-3  # gap <= BOUND * delta (test_run_migration.py's bound; measured here: module docstring)
LR = torch.optim.lr_scheduler


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# ----------------------------------------------------------------------------- torch, the torch way
def torch_run(case: str, params: dict):
    model = T.torch_model(params)
    if case == "sgd-sequential":
        opt = torch.optim.SGD(
            [{"params": model.hidden.parameters(), "weight_decay": 1e-3}, {"params": model.out.parameters()}],
            lr=0.1,
            momentum=0.9,
        )
        sched = LR.SequentialLR(
            opt,
            [LR.LinearLR(opt, start_factor=0.1, total_iters=6), LR.CosineAnnealingLR(opt, T_max=N, eta_min=1e-3)],
            milestones=[6],
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        sched = LR.OneCycleLR(opt, max_lr=0.02, total_steps=2 * N)  # still moving at N: delta is not ~0
    return model, opt, sched


def torch_steps(model, opt, sched, x, y, steps: int) -> list:
    """Train; the lr of each group at each step."""
    lrs = []
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a resumed scheduler's call-order warning
        for _ in range(steps):
            lrs.append([g["lr"] for g in opt.param_groups])
            loss = torch.nn.functional.mse_loss(model(xt), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return lrs


def snapshot(model) -> dict:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def gap(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(np.asarray(a[k], np.float64) - b[k]))) for k in b)


def nested(flat: dict) -> dict:
    return {
        layer: {"weight": jnp.asarray(flat[f"{layer}.weight"]), "bias": jnp.asarray(flat[f"{layer}.bias"])}
        for layer in T.LAYERS
    }


def flat(params: dict) -> dict:
    return {f"{layer}.{name}": np.asarray(params[layer][name]) for layer in T.LAYERS for name in ("weight", "bias")}


# ----------------------------------------------------------------------------- optax
def loss(params, x, y):  # torch's layout: Linear computes x @ W.T + b
    hidden = jnp.tanh(x @ params["hidden"]["weight"].T + params["hidden"]["bias"])
    return jnp.mean((hidden @ params["out"]["weight"].T + params["out"]["bias"] - y) ** 2)


_STEPS: dict = {}


def optax_steps(tx, params, state, x, y, steps: int, loss_fn=loss):
    """Train; (params, state, the lr of each group at each step). One compiled step per tx."""
    key = (id(tx), id(loss_fn))
    if key not in _STEPS:

        @jax.jit
        def step(params, state, x, y):
            updates, state = tx.update(jax.grad(loss_fn)(params, x, y), state, params)
            return optax.apply_updates(params, updates), state

        _STEPS.clear()
        _STEPS[key] = (tx, loss_fn, step)
    step = _STEPS[key][2]
    lrs = []
    for _ in range(steps):
        params, state = step(params, state, x, y)
        hyper = clr_optax.current_hyperparams(state)
        groups = [hyper] if "learning_rate" in hyper else [hyper[f"group{g}"] for g in range(len(hyper))]
        lrs.append([np.float32(g["learning_rate"]) for g in groups])
    return params, state, lrs


def assert_lrs_0_ulp(optax_lrs: list, torch_lrs: list) -> None:
    assert len(optax_lrs) == len(torch_lrs)
    for step, (ours, theirs) in enumerate(zip(optax_lrs, torch_lrs)):
        assert [np.float32(a) for a in ours] == [np.float32(b) for b in theirs], step


def clr(*argv: str, capsys) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


class TorchRun:
    """torch, uninterrupted to N, with its torch.save checkpoint at K."""

    def __init__(self, case: str, tmp_path):
        self.params, self.x, self.y = T.problem()
        model, opt, sched = torch_run(case, self.params)
        self.lrs = torch_steps(model, opt, sched, self.x, self.y, K)
        self.path = str(tmp_path / f"{case}.pt")
        torch.save(
            {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, self.path
        )
        self.lrs += torch_steps(model, opt, sched, self.x, self.y, N - 1 - K)
        self.before_last = snapshot(model)
        self.lrs += torch_steps(model, opt, sched, self.x, self.y, 1)
        self.final = snapshot(model)
        self.delta = gap(self.final, self.before_last)


# ----------------------------------------------------------------------------- torch -> Orbax -> optax
@pytest.mark.parametrize("case", ["sgd-sequential", "adam-onecycle"])
def test_torch_checkpoint_continues_in_optax_through_orbax(case, tmp_path, capsys):
    run = TorchRun(case, tmp_path)
    out_dir = str(tmp_path / "orbax")
    code, out, err = clr("migrate", "torch-to-orbax", run.path, out_dir, capsys=capsys)
    assert code == 0, err
    assert f"wrote {out_dir}/{K}" in out

    # plain orbax reads it: params as saved, the spec's JSON, the state's arrays (dicts)
    with ocp.CheckpointManager(out_dir) as manager:
        assert manager.latest_step() == K
        raw = manager.restore(
            K,
            args=ocp.args.Composite(
                params=ocp.args.StandardRestore(), opt_state=ocp.args.StandardRestore(), clr=ocp.args.JsonRestore()
            ),
        )
    saved = torch.load(run.path, weights_only=True)
    for name, tensor in saved["model"].items():
        layer, leaf = name.split(".")
        np.testing.assert_array_equal(raw["params"][layer][leaf], tensor.numpy())
    spec = clr_spec.from_json(json.dumps(raw["clr"]["spec"]))
    assert spec == clr_spec.from_torch(saved["scheduler"], saved["optimizer"]) and raw["clr"]["step"] == K

    # our loader: params, the transformation, its state at K; optax continues to N
    resumed = clr_optax.load_orbax(out_dir)
    assert resumed.step == K and resumed.spec == spec
    assert clr_optax.load_orbax(f"{out_dir}/{K}").step == K  # the step's own directory reads too
    final, state, lrs = optax_steps(resumed.tx, resumed.params, resumed.opt_state, run.x, run.y, N - K)
    assert gap(flat(final), run.final) <= BOUND * run.delta
    assert run.delta > 1e-4
    assert_lrs_0_ulp(lrs, run.lrs[K:])

    # a user's own restore with plain orbax: tx from the spec and the configs, the state as its target
    meta = raw["clr"]
    configs = [
        clr_optax.OptimizerConfig(
            c["kind"], **{k: tuple(v) if isinstance(v, list) else v for k, v in c["kwargs"].items()}
        )
        for c in meta["optimizer"]
    ]
    if len(configs) == 1:
        tx = configs[0](spec)
    else:
        labels = {layer: {"weight": f"group{g}", "bias": f"group{g}"} for g, layer in enumerate(T.LAYERS)}
        tx = optax.multi_transform({f"group{g}": c(spec, g) for g, c in enumerate(configs)}, labels)
    with ocp.CheckpointManager(out_dir) as manager:
        restored = manager.restore(
            K,
            args=ocp.args.Composite(
                params=ocp.args.StandardRestore(),
                opt_state=ocp.args.StandardRestore(jax.eval_shape(tx.init, raw["params"])),
            ),
        )
    assert jax.tree_util.tree_structure(restored["opt_state"]) == jax.tree_util.tree_structure(resumed.opt_state)
    for a, b in zip(jax.tree_util.tree_leaves(restored["opt_state"]), jax.tree_util.tree_leaves(resumed.opt_state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_lightning_checkpoint_continues_in_optax(tmp_path, capsys):
    pl = pytest.importorskip("pytorch_lightning", reason="needs pytorch-lightning: pip install 'clr-spec[lightning]'")
    params, x, y = T.problem()

    class Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = T.torch_model(params)

        def training_step(self, batch, _):
            return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, nesterov=True)
            sched = LR.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=5, step_size_down=8)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    data = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(data, batch_size=len(x))
    module = Module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = pl.Trainer(
            max_steps=K,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(module, loader)
    path = str(tmp_path / "run.ckpt")
    trainer.save_checkpoint(path)

    # torch's own continuation, from the Lightning checkpoint's states
    saved = torch.load(path, weights_only=True)
    assert saved["global_step"] == K
    model = T.torch_model(params)
    model.load_state_dict({k.removeprefix("net."): v for k, v in saved["state_dict"].items()})
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    sched = LR.CyclicLR(opt, base_lr=0.01, max_lr=0.2, step_size_up=5, step_size_down=8)
    opt.load_state_dict(saved["optimizer_states"][0])
    sched.load_state_dict(saved["lr_schedulers"][0])
    torch_lrs = torch_steps(model, opt, sched, x, y, N - K - 1)
    before_last = snapshot(model)
    torch_lrs += torch_steps(model, opt, sched, x, y, 1)
    final = snapshot(model)

    code, out, err = clr("migrate", "torch-to-orbax", path, str(tmp_path / "orbax"), capsys=capsys)
    assert code == 0, err
    resumed = clr_optax.load_orbax(str(tmp_path / "orbax"))
    assert resumed.step == K and sorted(resumed.params["net"]) == ["hidden", "out"]
    # the Lightning module's parameters sit under "net" (its attribute): the loss reads that subtree
    ours, _, lrs = optax_steps(
        resumed.tx, resumed.params, resumed.opt_state, x, y, N - K, loss_fn=lambda p, x, y: loss(p["net"], x, y)
    )
    assert gap(flat(ours["net"]), final) <= BOUND * gap(final, before_last)
    assert_lrs_0_ulp(lrs, torch_lrs)

    # stepped per epoch, the scheduler is behind global_step: refused, one line
    epoch_wise = dict(saved, global_step=K + 3)
    torch.save(epoch_wise, str(tmp_path / "epoch.ckpt"))
    code, _, err = clr("migrate", "torch-to-orbax", str(tmp_path / "epoch.ckpt"), str(tmp_path / "o2"), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert '"interval": "step"' in err


# ----------------------------------------------------------------------------- optax -> Orbax -> torch
NAMES = ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]  # torch's optimizer order
OPTAX_SIDE = {  # what an optax user writes for the torch run of each case
    "sgd-sequential": [
        clr_optax.OptimizerConfig("sgd", momentum=0.9, weight_decay=1e-3),
        clr_optax.OptimizerConfig("sgd", momentum=0.9),
    ],
    "adam-onecycle": [clr_optax.OptimizerConfig("adam", weight_decay=1e-4)],
}


@pytest.mark.parametrize("case", ["sgd-sequential", "adam-onecycle"])
def test_optax_run_continues_in_torch_through_orbax(case, tmp_path, capsys):
    params, x, y = T.problem()
    _, fresh_opt, fresh_sched = torch_run(case, params)
    spec = clr_spec.from_torch(fresh_sched.state_dict(), fresh_opt.state_dict())  # the torch schedule's spec
    configs = OPTAX_SIDE[case]
    labels = None
    if len(configs) == 1:
        tx = configs[0](spec)
    else:
        labels = {layer: {"weight": f"group{g}", "bias": f"group{g}"} for g, layer in enumerate(T.LAYERS)}
        tx = optax.multi_transform({f"group{g}": c(spec, g) for g, c in enumerate(configs)}, labels)
    start = nested(params)
    at_k, state_k, lrs = optax_steps(tx, start, tx.init(start), x, y, K)
    before_last, state, more = optax_steps(tx, at_k, state_k, x, y, N - 1 - K)
    final, _, last = optax_steps(tx, before_last, state, x, y, 1)
    lrs += more + last
    delta = gap(flat(final), flat(before_last))
    assert delta > 1e-4

    mapping = clr_optax.param_mapping(NAMES, at_k, paths={n: tuple(n.split(".")) for n in NAMES})
    clr_optax.save_orbax(
        str(tmp_path / "orbax"), at_k, state_k, spec, optimizer=configs, mapping=mapping, labels=labels
    )
    code, out, err = clr("migrate", "orbax-to-torch", str(tmp_path / "orbax"), str(tmp_path / "run.pt"), capsys=capsys)
    assert code == 0, err

    # torch, the torch way: its own classes, its own load_state_dict
    model, opt, sched = torch_run(case, params)
    saved = torch.load(str(tmp_path / "run.pt"), weights_only=True)
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["optimizer"])
    sched.load_state_dict(saved["scheduler"])
    assert saved["step"] == K and sched.last_epoch == K
    torch_lrs = torch_steps(model, opt, sched, x, y, N - K)
    assert gap(snapshot(model), flat(final)) <= BOUND * delta
    assert_lrs_0_ulp(lrs[K:], torch_lrs)


def test_the_state_round_trips_bit_for_bit_and_buffers_come_along(tmp_path, capsys):
    """torch -> Orbax -> torch gives torch's checkpoint back: parameters, buffers (a BatchNorm's
    running statistics), optimizer state and scheduler state."""
    params, x, y = T.problem()
    model = torch.nn.Sequential()
    model.add_module("hidden", torch.nn.Linear(T.N_IN, T.N_HIDDEN))
    model.add_module("norm", torch.nn.BatchNorm1d(T.N_HIDDEN))
    model.add_module("out", torch.nn.Linear(T.N_HIDDEN, 1))
    opt = torch.optim.RMSprop(model.named_parameters(), lr=1e-3, momentum=0.5, centered=True)
    sched = LR.SequentialLR(
        opt, [LR.LinearLR(opt, start_factor=0.5, total_iters=4), LR.CosineAnnealingLR(opt, T_max=20)], milestones=[4]
    )
    torch_steps(model, opt, sched, x, y, 7)
    original = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
    torch.save(original, str(tmp_path / "a.pt"))
    assert clr("migrate", "torch-to-orbax", str(tmp_path / "a.pt"), str(tmp_path / "o"), capsys=capsys)[0] == 0
    assert clr("migrate", "orbax-to-torch", str(tmp_path / "o"), str(tmp_path / "b.pt"), capsys=capsys)[0] == 0
    back = torch.load(str(tmp_path / "b.pt"), weights_only=True)
    assert list(back["model"]) == list(original["model"])
    for name, tensor in original["model"].items():
        assert torch.equal(back["model"][name], tensor), name
    for pid, entry in original["optimizer"]["state"].items():
        for key, value in entry.items():
            assert torch.equal(back["optimizer"]["state"][pid][key], value), (pid, key)
    assert back["scheduler"]["last_epoch"] == original["scheduler"]["last_epoch"] == 7
    groups = [{k: v for k, v in g.items() if k != "param_names"} for g in original["optimizer"]["param_groups"]]
    assert [{k: v for k, v in g.items() if k in groups[0]} for g in back["optimizer"]["param_groups"]] == groups


def test_a_plateau_run_moves_with_its_state(tmp_path):
    """ReduceLROnPlateau: the spec carries best, counters and lrs; Adam's step is the count."""
    params, x, y = T.problem()
    model = T.torch_model(params)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = LR.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for i in range(9):
        loss_value = torch.nn.functional.mse_loss(model(xt), yt)
        opt.zero_grad()
        loss_value.backward()
        opt.step()
        sched.step(1.0 if i % 3 else 0.5)  # reductions, a bad-epoch count, a best
    original = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
    run = clr_optax.torch_to_orbax(original, str(tmp_path / "o"))
    assert run.step == 9 and run.spec.state.lrs == opt.param_groups[0]["lr"] < 1e-2
    back = clr_torch.torch_checkpoint(clr_optax.torch_checkpoint_from_orbax(str(tmp_path / "o")))
    assert back["scheduler"] == original["scheduler"]
    for pid, entry in original["optimizer"]["state"].items():
        for key, value in entry.items():
            assert torch.equal(back["optimizer"]["state"][pid][key], value), (pid, key)


# ----------------------------------------------------------------------------- refusals: one line, exit 2
@pytest.fixture(scope="module")
def sgd_checkpoint():
    params, x, y = T.problem()
    model, opt, sched = torch_run("sgd-sequential", params)
    torch_steps(model, opt, sched, x, y, 3)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}


def _without(ckpt: dict, key: str) -> dict:
    return {k: v for k, v in ckpt.items() if k != key}


def _wrong_shape(ckpt: dict) -> dict:
    ckpt = copy.deepcopy(ckpt)
    ckpt["optimizer"]["state"][0]["momentum_buffer"] = torch.zeros(T.N_IN, T.N_HIDDEN)
    return ckpt


def _float64(ckpt: dict) -> dict:
    ckpt = copy.deepcopy(ckpt)
    ckpt["model"] = {k: v.double() for k, v in ckpt["model"].items()}
    return ckpt


def _nadam(ckpt: dict) -> dict:
    model = T.torch_model(T.problem()[0])
    return dict(ckpt, optimizer=torch.optim.NAdam(model.parameters()).state_dict())


@pytest.mark.parametrize(
    "edit, options, message",
    [
        (lambda c: _without(c, "scheduler"), (), "checkpoint has no 'scheduler' entry"),
        (lambda c: _without(c, "optimizer"), (), "checkpoint has no 'optimizer' entry"),
        (lambda c: c, ("--optimizer", "adam"), "has key 'momentum', which clr_optax.adam cannot represent"),
        (_wrong_shape, (), r"'hidden.weight' \(index 0, group 0\): torch's momentum_buffer has shape \(6, 16\)"),
        (_nadam, (), "not a param group of torch's SGD, Adam, AdamW or RMSprop"),
        (
            lambda c: dict(c, model={k: v for k, v in c["model"].items() if k != "out.bias"}),
            (),
            "the model state has 3 entries and the optimizer 4 parameters",
        ),
        (_float64, (), "is float64, which jax holds as float32 here: enable jax_enable_x64"),
    ],
    ids=["no-scheduler", "no-optimizer", "wrong-optimizer", "shape", "nadam", "missing-parameter", "float64"],
)
def test_bad_torch_checkpoints_are_one_line_and_exit_2(sgd_checkpoint, edit, options, message, tmp_path, capsys):
    path = str(tmp_path / "bad.pt")
    torch.save(edit(sgd_checkpoint), path)
    code, out, err = clr("migrate", "torch-to-orbax", path, str(tmp_path / "o"), *options, capsys=capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("clr migrate: error: "), err
    assert re.search(message, err), err


def test_bad_paths_are_one_line_and_exit_2(sgd_checkpoint, tmp_path, capsys):
    torch.save(sgd_checkpoint, str(tmp_path / "ok.pt"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "text.pt").write_text("not a checkpoint")
    cases = [
        (("torch-to-orbax", str(tmp_path / "missing.pt"), str(tmp_path / "o")), "no such file"),
        (("torch-to-orbax", str(tmp_path / "text.pt"), str(tmp_path / "o")), "cannot load"),
        (("orbax-to-torch", str(tmp_path / "empty"), str(tmp_path / "x.pt")), "holds no Orbax checkpoint"),
        (("orbax-to-torch", str(tmp_path / "nowhere"), str(tmp_path / "x.pt")), "is not a directory"),
    ]
    assert clr("migrate", "torch-to-orbax", str(tmp_path / "ok.pt"), str(tmp_path / "o2"), capsys=capsys)[0] == 0
    cases += [
        (("torch-to-orbax", str(tmp_path / "ok.pt"), str(tmp_path / "o2")), "holds step 3 already"),
        (
            ("orbax-to-torch", str(tmp_path / "o2"), str(tmp_path / "x.pt"), "--step", "4"),
            r"has no step 4 \(it has \[3\]\)",
        ),
    ]
    for argv, message in cases:
        code, _, err = clr("migrate", *argv, capsys=capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, (argv, err)
        assert re.search(message, err), (argv, err)
    assert (
        clr("migrate", "torch-to-orbax", str(tmp_path / "ok.pt"), str(tmp_path / "o2"), "--force", capsys=capsys)[0]
        == 0
    )


@pytest.mark.parametrize("module, extra", [("orbax.checkpoint", "orbax"), ("torch", "torch"), ("optax", "jax")])
def test_migrate_refuses_cleanly_without_a_framework(module, extra, monkeypatch, tmp_path, capsys):
    for name in {module, module.split(".")[0]}:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ModuleNotFoundError
    code, _, err = clr("migrate", "torch-to-orbax", str(tmp_path / "a.pt"), str(tmp_path / "o"), capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"pip install 'clr-spec[{extra}]'" in err, err
    if extra == "orbax":  # the Python API says the same
        with pytest.raises(ModuleNotFoundError, match=r"pip install 'clr-spec\[orbax\]'"):
            clr_optax.load_orbax(str(tmp_path))


def test_the_other_commands_import_no_framework_and_clr_optax_no_orbax():
    code = (
        "import sys; from clr_spec import cli; cli.build_parser().parse_args(['migrate', 'orbax-to-torch', 'a', "
        "'b']); seen = lambda: sorted(m for m in ('torch', 'jax', 'optax', 'orbax') if m in sys.modules); "
        "print(seen()); import clr_optax; print(seen())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split("\n")[:2] == ["[]", "['jax', 'optax']"], out.stderr


def test_a_state_clr_does_not_rebuild_needs_its_tx(tmp_path, capsys):
    params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(3)}
    spec = clr_spec.CyclicSpec(base_lr=0.01, max_lr=0.1, step_size_up=4)
    config = clr_optax.OptimizerConfig("sgd", momentum=0.9)
    tx = optax.chain(optax.clip_by_global_norm(1.0), config(spec))
    state = clr_optax.set_count(tx.init(params), 5)
    clr_optax.save_orbax(str(tmp_path / "o"), params, state, spec, optimizer=config)
    with pytest.raises(ValueError, match="pass tx=, the transformation it was saved from"):
        clr_optax.load_orbax(str(tmp_path / "o"))
    run = clr_optax.load_orbax(str(tmp_path / "o"), tx=tx)
    assert run.step == 5 and clr_optax._torch_state.same_tree(run.opt_state, state)
    code, _, err = clr("migrate", "orbax-to-torch", str(tmp_path / "o"), str(tmp_path / "x.pt"), capsys=capsys)
    assert code == 2 and "pass tx=" in err and len(err.strip().splitlines()) == 1
    # a layout made of functions cannot be stored
    mapping = clr_optax.param_mapping(["b", "w"], params, transforms={"w": (np.transpose, np.transpose)})
    with pytest.raises(ValueError, match="'w' has a custom layout"):
        clr_optax.save_orbax(str(tmp_path / "o2"), params, state, spec, optimizer=config, mapping=mapping)


# ----------------------------------------------------------------------------- Flax NNX
def test_a_flax_nnx_optimizer_takes_torch_state_and_gives_it_back(tmp_path):
    nnx = pytest.importorskip("flax.nnx", reason="needs flax: pip install 'clr-spec[flax]'")
    run = TorchRun("sgd-sequential", tmp_path)
    saved = torch.load(run.path, weights_only=True)

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(T.N_IN, T.N_HIDDEN, rngs=rngs)
            self.out = nnx.Linear(T.N_HIDDEN, 1, rngs=rngs)

        def __call__(self, x):
            return self.out(jnp.tanh(self.hidden(x)))

    model = MLP(nnx.Rngs(0))
    template = nnx.state(model, nnx.Param)  # Flax's layout: Linear.kernel is weight.T
    mapping = clr_optax.param_mapping(
        [(n, saved["model"][n]) for n in NAMES],
        template,
        paths={n: (n.split(".")[0], "kernel" if n.endswith("weight") else "bias") for n in NAMES},
        transforms={n: "transpose" for n in NAMES if n.endswith("weight")},
    )
    resumed = clr_optax.resume_from_torch_checkpoint(saved, template, mapping=mapping)
    nnx.update(model, resumed.params)
    optimizer = nnx.Optimizer(model, resumed.tx, wrt=nnx.Param)
    clr_optax.optax_state_from_torch(
        saved["optimizer"],
        resumed.params,
        optimizer,
        optimizer=list(resumed.configs),
        mapping=mapping,
        step=K,
        labels=resumed.labels,
    )  # written in place
    assert int(optimizer.step[...]) == K

    # back to torch's state, bit for bit, straight from the NNX optimizer
    back = clr_optax.torch_state_from_optax(
        optimizer, nnx.state(model, nnx.Param), mapping=mapping, labels=resumed.labels
    )
    for pid, entry in saved["optimizer"]["state"].items():
        np.testing.assert_array_equal(back["state"][pid]["momentum_buffer"], entry["momentum_buffer"].numpy())

    @nnx.jit
    def train_step(model, optimizer, x, y):
        grads = nnx.grad(lambda m: jnp.mean((m(x) - y) ** 2))(model)
        optimizer.update(model, grads)

    x, y = jnp.asarray(run.x), jnp.asarray(run.y)
    for _ in range(N - K):
        train_step(model, optimizer, x, y)
    ours = clr_optax.params_to_torch(nnx.state(model, nnx.Param), mapping)
    assert gap(ours, run.final) <= BOUND * run.delta
