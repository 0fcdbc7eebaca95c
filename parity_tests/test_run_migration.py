"""Moving a whole run (parameters, optimizer state, step) between torch and optax, both ways.

A two-layer model, one torch param group per layer (clr_torch.CyclicLR with per-group
bounds) and one clr_optax transformation per group (optax.multi_transform), in Flax's
layout on the optax side (``Dense.kernel`` is ``Linear.weight`` transposed). Torch trains N
steps; at a seeded random k its checkpoint (torch.save / torch.load) moves to optax, which
continues to N. The parameters at N are compared with torch's uninterrupted run relative to
that run's own last step, ``delta = max |p_N - p_{N-1}|``: float32 arithmetic differs
between the frameworks' kernels, so exact equality is not expected, but the gap must be
far below one step. Measured (CPU, float32, N = 40; gap / delta, worst over 5 seeded k each):

    case                        torch -> optax   optax -> torch   fresh optax state (control)
    sgd-momentum-dampening         9.3e-06          1.1e-05          2.3 .. 11
    sgd-nesterov                   7.5e-06          7.5e-06          1.2 .. 5.1
    sgd-plain                      4.4e-05          4.4e-05          (no state to lose)
    adam                           2.2e-05          1.9e-05          1.7 .. 21
    adam-amsgrad                   7.9e-06          7.9e-06          2.9 .. 8.6
    adamw                          6.7e-05          6.7e-05          1.9 .. 23
    rmsprop-centered-momentum      2.0e-05          2.0e-05          8.6 .. 36

The bound is BOUND = 3e-3 of delta (45x the worst measured); the controls (a fresh optax
state with the count set, a missed ``has_buffer`` flag) must exceed CONTROL = 0.1 of delta,
so the comparison can fail. The state itself moves bit for bit (the round-trip test).
"""

from __future__ import annotations

import copy
import io
import warnings
import zlib

import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")
pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")
pytest.importorskip("optax", reason="needs optax: pip install 'clr-spec[jax]'")

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import clr_optax
import clr_torch
from clr_spec import CyclicSpec

from . import _training as T

N = 40
CYCLE = dict(step_size_up=7, step_size_down=11)  # N crosses two cycle boundaries
BOUND = 3e-3  # gap <= BOUND * delta: measured worst 6.7e-5 (module docstring)
CONTROL = 0.1  # a lost state or flag moves the run by more than this (measured >= 1.2)
NAMES = ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]  # torch's optimizer order
PATHS = {name: tuple(name.replace("weight", "kernel").split(".")) for name in NAMES}
TRANSFORMS = {"hidden.weight": "transpose", "out.weight": "transpose"}
LABELS = {"hidden": {"kernel": "group0", "bias": "group0"}, "out": {"kernel": "group1", "bias": "group1"}}

SGD_LRS = dict(base_lr=[0.01, 0.005], max_lr=[0.2, 0.1])
ADAM_LRS = dict(base_lr=[1e-3, 5e-4], max_lr=[1e-2, 5e-3])
CASES = {
    "sgd-momentum-dampening": (
        torch.optim.SGD,
        "sgd",
        dict(momentum=0.9, dampening=0.1, weight_decay=1e-3),
        dict(SGD_LRS, base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.95]),
    ),
    "sgd-nesterov": (torch.optim.SGD, "sgd", dict(momentum=0.9, nesterov=True), SGD_LRS),
    "sgd-plain": (torch.optim.SGD, "sgd", dict(), dict(SGD_LRS, cycle_momentum=False)),
    "adam": (torch.optim.Adam, "adam", dict(weight_decay=1e-3), dict(ADAM_LRS, base_momentum=0.85, max_momentum=0.95)),
    "adam-amsgrad": (
        torch.optim.Adam,
        "adam",
        dict(betas=(0.8, 0.99), amsgrad=True),
        dict(ADAM_LRS, cycle_momentum=False),
    ),
    "adamw": (
        torch.optim.AdamW,
        "adamw",
        dict(weight_decay=0.05),
        dict(ADAM_LRS, base_momentum=0.85, max_momentum=0.95),
    ),
    "rmsprop-centered-momentum": (
        torch.optim.RMSprop,
        "rmsprop",
        dict(centered=True, momentum=0.5),
        dict(base_lr=[1e-4, 5e-5], max_lr=[1e-3, 5e-4], cycle_momentum=False),
    ),
}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """A tiny model: torch's thread pool only spins (25 ms a step on 2 busy cores, 0.5 ms with one)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# ----------------------------------------------------------------------------- the two sides
def flax_params(torch_layout: dict) -> dict:
    return {
        layer: {
            "kernel": jnp.asarray(torch_layout[f"{layer}.weight"].T),
            "bias": jnp.asarray(torch_layout[f"{layer}.bias"]),
        }
        for layer in T.LAYERS
    }


def flax_loss(params, x, y):
    hidden = jnp.tanh(x @ params["hidden"]["kernel"] + params["hidden"]["bias"])
    return jnp.mean((hidden @ params["out"]["kernel"] + params["out"]["bias"] - y) ** 2)


def torch_setup(case: str, params: dict, step: int = None):
    cls, _, kwargs, spec_kwargs = CASES[case]
    model = T.torch_model(params)
    opt = cls(T.torch_param_groups(model, grouped=True), lr=0.1, **kwargs)
    spec = CyclicSpec(**CYCLE, **spec_kwargs)
    sched = clr_torch.CyclicLR.from_spec(opt, spec, **({} if step is None else {"step": step}))
    return model, opt, sched


def torch_steps(model, opt, sched, x, y, steps: int, *, no_grad_for=()):
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CyclicLR's call-order warning on a resumed scheduler
        for _ in range(steps):
            loss = torch.nn.functional.mse_loss(model(xt), yt)
            opt.zero_grad()
            loss.backward()
            for name, p in model.named_parameters():
                if name in no_grad_for:
                    p.grad = None  # a parameter this step does not reach: torch keeps no state for it
            opt.step()
            sched.step()


def snapshot(model) -> dict:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def checkpoint(model, opt, sched) -> dict:
    """What torch.save writes and torch.load(weights_only=True) reads back."""
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def gap(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in a)


class Run:
    """One case: torch trained N steps (checkpoint at k), the optax side built once."""

    def __init__(self, case: str):
        self.case = case
        cls, kind, kwargs, spec_kwargs = CASES[case]
        self.params, self.x, self.y = T.problem()
        self.k = int(np.random.default_rng(zlib.crc32(case.encode())).integers(1, N))
        self.spec = CyclicSpec(**CYCLE, **spec_kwargs)
        self.config = clr_optax.OptimizerConfig(kind, **kwargs)
        self.tx = optax.multi_transform({f"group{g}": self.config(self.spec, g) for g in range(2)}, LABELS)
        self.template = flax_params(self.params)
        self.links = clr_optax.param_mapping(
            [(n, self.params[n]) for n in NAMES], self.template, paths=PATHS, transforms=TRANSFORMS
        )
        x, y, tx = jnp.asarray(self.x), jnp.asarray(self.y), self.tx

        def step(params, state):
            updates, state = tx.update(_GRAD(params, x, y), state, params)
            return optax.apply_updates(params, updates), state

        # Eager: compiling each case's multi_transform update costs more than its ~100 steps do.
        self.step = step
        # torch, uninterrupted, with its checkpoint at k
        model, opt, sched = torch_setup(case, self.params)
        torch_steps(model, opt, sched, self.x, self.y, self.k)
        self.ckpt = checkpoint(model, opt, sched)
        torch_steps(model, opt, sched, self.x, self.y, N - 1 - self.k)
        self.torch_before_last = snapshot(model)
        torch_steps(model, opt, sched, self.x, self.y, 1)
        self.torch_final = snapshot(model)
        self._optax = None

    def optax_steps(self, params, state, steps: int):
        for _ in range(steps):
            params, state = self.step(params, state)
        return params, state

    def to_torch(self, params) -> dict:
        return clr_optax.params_to_torch(params, self.links)

    def migrate(self, ckpt=None, **kwargs):
        ckpt = self.ckpt if ckpt is None else ckpt
        params = clr_optax.params_from_torch(ckpt["model"], self.template, self.links)
        kwargs.setdefault("step", ckpt["scheduler"]["last_epoch"])
        state = clr_optax.optax_state_from_torch(
            ckpt["optimizer"], params, self.tx, optimizer=self.config, mapping=self.links, labels=LABELS, **kwargs
        )
        return params, state

    def optax_run(self):
        """optax, uninterrupted: (params and state at k, params at N - 1 and N)."""
        if self._optax is None:
            params, state = self.optax_steps(self.template, self.tx.init(self.template), self.k)
            before_last, _ = self.optax_steps(params, state, N - 1 - self.k)
            final, _ = self.optax_steps(before_last, _, 1)
            self._optax = (params, state, self.to_torch(before_last), self.to_torch(final))
        return self._optax


_RUNS: dict = {}
_GRAD = jax.jit(jax.grad(flax_loss))


def run_of(case: str) -> Run:
    if case not in _RUNS:
        _RUNS[case] = Run(case)
    return _RUNS[case]


# ----------------------------------------------------------------------------- continuing the run
@pytest.mark.parametrize("case", list(CASES))
def test_torch_run_continues_in_optax(case):
    run = run_of(case)
    delta = gap(run.torch_final, run.torch_before_last)
    assert delta > 1e-4  # the run still moves: the bound is not vacuous
    params, state = run.migrate()
    final, _ = run.optax_steps(params, state, N - run.k)
    assert gap(run.to_torch(final), run.torch_final) <= BOUND * delta

    # Controls: without torch's state (a fresh one, count set) the run goes elsewhere.
    fresh = clr_optax.set_count(run.tx.init(params), run.k)
    if case == "sgd-plain":  # nothing to lose: plain SGD keeps no state
        assert jax.tree_util.tree_all(jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), state, fresh))
        return
    dropped, _ = run.optax_steps(params, fresh, N - run.k)
    assert gap(run.to_torch(dropped), run.torch_final) > CONTROL * delta


@pytest.mark.parametrize("case", list(CASES))
def test_optax_run_continues_in_torch(case):
    run = run_of(case)
    params, state, before_last, final = run.optax_run()
    delta = gap(final, before_last)
    assert delta > 1e-4
    numpy_state = clr_optax.torch_state_from_optax(
        state, params, mapping=run.links, labels=LABELS, optimizer=run.config
    )
    model, opt, sched = torch_setup(case, run.params, step=run.k)
    clr_torch.load_parameters(model, run.to_torch(params))
    clr_torch.load_optimizer_state(opt, numpy_state, names=NAMES)
    torch_steps(model, opt, sched, run.x, run.y, N - run.k)
    assert gap(snapshot(model), final) <= BOUND * delta


@pytest.mark.parametrize("case", list(CASES))
def test_state_round_trip_is_exact(case):
    """torch -> optax -> torch gives torch's state back bit for bit (buffers, steps, flags)."""
    run = run_of(case)
    params, state = run.migrate()
    back = clr_optax.torch_state_from_optax(state, params, mapping=run.links, labels=LABELS)
    original = run.ckpt["optimizer"]
    assert set(back["state"]) == set(original["state"])
    for pid, entry in original["state"].items():
        assert set(back["state"][pid]) == set(entry)
        for key, value in entry.items():
            np.testing.assert_array_equal(back["state"][pid][key], value.numpy(), err_msg=f"{pid} {key}")
    # and loaded into a fresh torch optimizer
    model, opt, _ = torch_setup(case, run.params, step=run.k)
    clr_torch.load_optimizer_state(opt, back)
    loaded = opt.state_dict()["state"]
    for pid, entry in original["state"].items():
        for key, value in entry.items():
            assert loaded[pid][key].dtype == value.dtype
            assert torch.equal(loaded[pid][key], value), (pid, key)


def test_sgd_has_buffer_follows_torch_lazy_state():
    run = run_of("sgd-momentum-dampening")
    _, state = run.migrate()
    hyper = state.inner_states
    assert all(bool(hyper[g].inner_state.inner_state.has_buffer) for g in ("group0", "group1"))
    # before the first step torch has no buffer: has_buffer is False, and step must be given
    model, opt, sched = torch_setup("sgd-momentum-dampening", run.params)
    fresh = checkpoint(model, opt, sched)
    _, state0 = run.migrate(fresh, step=0)
    assert not any(bool(state0.inner_states[g].inner_state.inner_state.has_buffer) for g in ("group0", "group1"))
    with pytest.raises(ValueError, match="step must be given"):
        run.migrate(fresh, step=None)

    # a missed flag is what the parity check catches: the 2.8e-2 drift of the hand migration
    params, state = run.migrate()
    node = state.inner_states["group0"].inner_state
    wrong = node._replace(inner_state=node.inner_state._replace(has_buffer=jnp.asarray(False)))
    state = state._replace(
        inner_states={**state.inner_states, "group0": state.inner_states["group0"]._replace(inner_state=wrong)}
    )
    final, _ = run.optax_steps(params, state, N - run.k)
    delta = gap(run.torch_final, run.torch_before_last)
    assert gap(run.to_torch(final), run.torch_final) > CONTROL * delta


@pytest.mark.parametrize("case", ["sgd-nesterov", "rmsprop-centered-momentum"])
def test_a_parameter_torch_never_stepped_maps_exactly(case):
    """out.bias gets no gradient for k steps: torch has no state for it. SGD without dampening
    (has_buffer True, zero buffer: m * 0 + g == g) and RMSprop (zeros) map exactly, and the run
    continues within the bound."""
    run = run_of(case)
    model, opt, sched = torch_setup(case, run.params)
    torch_steps(model, opt, sched, run.x, run.y, run.k, no_grad_for=("out.bias",))
    ckpt = checkpoint(model, opt, sched)
    assert 3 not in ckpt["optimizer"]["state"] and 2 in ckpt["optimizer"]["state"]
    torch_steps(model, opt, sched, run.x, run.y, N - 1 - run.k)
    before_last = snapshot(model)
    torch_steps(model, opt, sched, run.x, run.y, 1)
    delta = gap(snapshot(model), before_last)
    params, state = run.migrate(ckpt)
    node = state.inner_states["group1"].inner_state.inner_state
    if case.startswith("sgd"):
        assert bool(node.has_buffer)
        assert not np.any(np.asarray(node.momentum_buffer["out"]["bias"]))
    final, _ = run.optax_steps(params, state, N - run.k)
    assert gap(run.to_torch(final), snapshot(model)) <= BOUND * delta


@pytest.mark.parametrize(
    "case, message",
    [
        ("sgd-momentum-dampening", "'out.bias' has no momentum_buffer while 'out.weight' has one: with dampening 0.1"),
        ("adam", "'out.bias' .* has no Adam state"),
    ],
)
def test_a_parameter_torch_never_stepped_is_refused_where_optax_cannot_hold_it(case, message):
    run = run_of(case)
    model, opt, sched = torch_setup(case, run.params)
    torch_steps(model, opt, sched, run.x, run.y, 3, no_grad_for=("out.bias",))
    with pytest.raises(ValueError, match=message):
        run.migrate(checkpoint(model, opt, sched))


# ----------------------------------------------------------------------------- refusals
def _edit_group(ckpt: dict, g: int, key: str, value) -> dict:
    ckpt = copy.deepcopy(ckpt)
    ckpt["optimizer"]["param_groups"][g][key] = value
    return ckpt


@pytest.mark.parametrize(
    "case, key, value, message",
    [
        ("sgd-momentum-dampening", "weight_decay", 0.0, "group 1 has weight_decay = 0.0 but .* built with 0.001"),
        ("sgd-nesterov", "nesterov", False, "group 1 has nesterov = False"),
        ("sgd-momentum-dampening", "dampening", 0.0, "group 1 has dampening = 0.0"),
        ("adam", "betas", (0.9, 0.99), r"group 1 has betas\[1\] = 0.99"),
        ("adam", "decoupled_weight_decay", True, "group 1 has decoupled_weight_decay = True"),
        ("adam", "eps", 1e-6, "group 1 has eps"),
        ("adam-amsgrad", "amsgrad", False, "group 1 has amsgrad = False"),
        ("rmsprop-centered-momentum", "centered", False, "group 1 has centered = False"),
        ("rmsprop-centered-momentum", "alpha", 0.9, "group 1 has alpha"),
        ("adam", "momentum_decay", 4e-3, "group 1 has key 'momentum_decay'"),  # NAdam's, say
        ("rmsprop-centered-momentum", "momentum", 0.6, "group 1 has momentum 0.6 but .* uses 0.5"),
        ("adam", "lr", 0.5, "group 1 has lr 0.5"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_a_torch_group_setting_tx_was_not_built_with_is_refused(case, key, value, message):
    run = run_of(case)
    with pytest.raises(ValueError, match=message):
        run.migrate(_edit_group(run.ckpt, 1, key, value))


def test_state_keys_torch_would_not_have_are_refused():
    run = run_of("adam")
    ckpt = copy.deepcopy(run.ckpt)
    del ckpt["optimizer"]["state"][2]["exp_avg_sq"]
    with pytest.raises(ValueError, match=r"'out.weight' \(index 2, group 1\) has no 'exp_avg_sq'"):
        run.migrate(ckpt)
    ckpt = copy.deepcopy(run.ckpt)
    ckpt["optimizer"]["state"][0]["max_exp_avg_sq"] = ckpt["optimizer"]["state"][0]["exp_avg_sq"]
    with pytest.raises(ValueError, match=r"'hidden.weight' .* has 'max_exp_avg_sq'"):
        run.migrate(ckpt)
    ckpt = copy.deepcopy(run.ckpt)
    ckpt["optimizer"]["state"][1]["step"] = torch.tensor(float(run.k - 1))
    with pytest.raises(ValueError, match="'hidden.bias' .* has Adam step"):
        run.migrate(ckpt)
    with pytest.raises(ValueError, match=f"step is {run.k + 1} but torch's Adam state says {run.k}"):
        run.migrate(step=run.k + 1)
    plain = run_of("sgd-plain")
    ckpt = copy.deepcopy(plain.ckpt)
    ckpt["optimizer"]["state"][0] = {"momentum_buffer": torch.zeros(16, 6)}
    with pytest.raises(ValueError, match="'hidden.weight' .* has 'momentum_buffer'"):
        plain.migrate(ckpt)


def test_mapping_mismatches_name_the_first_parameter():
    run = run_of("adam")
    template, ckpt = run.template, run.ckpt
    with pytest.raises(
        ValueError,
        match=r"'hidden.weight' \(index 0\) has shape \(16, 6\), \(16, 6\) after its "
        r"transform \(identity\), but params hidden/kernel is \(6, 16\)",
    ):
        clr_optax.param_mapping([(n, run.params[n]) for n in NAMES], template, paths=PATHS)
    with pytest.raises(ValueError, match="params leaf out/bias has no torch parameter"):
        clr_optax.param_mapping([(n, run.params[n]) for n in NAMES[:2]], template, paths=PATHS, transforms=TRANSFORMS)
    extra = {**template, "scale": jnp.ones(1)}
    with pytest.raises(ValueError, match="params leaf scale has no torch parameter"):
        clr_optax.param_mapping([(n, run.params[n]) for n in NAMES], extra, paths=PATHS, transforms=TRANSFORMS)
    as_bf16 = jax.tree_util.tree_map(lambda a: a.astype(jnp.bfloat16), template)
    with pytest.raises(ValueError, match="'hidden.weight' .* is float32 but params hidden/kernel is bfloat16"):
        clr_optax.param_mapping([(n, run.params[n]) for n in NAMES], as_bf16, paths=PATHS, transforms=TRANSFORMS)
    # the default mapping (tree order) meets hidden/bias first, where torch has hidden.weight
    params = clr_optax.params_from_torch(ckpt["model"], template, run.links)
    with pytest.raises(
        ValueError,
        match=r"torch parameter 'param 0' \(index 0, group 0\): torch's exp_avg has "
        r"shape \(16, 6\).*params hidden/bias is \(16,\)",
    ):
        clr_optax.optax_state_from_torch(ckpt["optimizer"], params, run.tx, optimizer=run.config, labels=LABELS)
    with pytest.raises(ValueError, match=r"'param 3' \(index 3\) is in the torch state but not in mapping"):
        clr_optax.optax_state_from_torch(
            ckpt["optimizer"], params, run.tx, optimizer=run.config, mapping=run.links[:3], labels=LABELS
        )


def test_a_wrong_spec_or_step_is_refused():
    run = run_of("sgd-momentum-dampening")
    params = clr_optax.params_from_torch(run.ckpt["model"], run.template, run.links)
    other = run.spec.replace(max_lr=[0.3, 0.1])
    tx = optax.multi_transform({f"group{g}": run.config(other, g) for g in range(2)}, LABELS)
    with pytest.raises(ValueError, match="group 0 has lr .* but the optax transformation's next update uses"):
        clr_optax.optax_state_from_torch(
            run.ckpt["optimizer"], params, tx, optimizer=run.config, mapping=run.links, step=run.k
        )
    with pytest.raises(ValueError, match="group 0 has lr"):
        run.migrate(step=run.k + 1)
    # a constant momentum is compared even without the probing update
    rms = run_of("rmsprop-centered-momentum")
    with pytest.raises(ValueError, match="group 1 has momentum 0.6"):
        rms.migrate(_edit_group(rms.ckpt, 1, "momentum", 0.6), check_schedule=False)
    shifted = _edit_group(run.ckpt, 0, "lr", 0.5)  # continuing on purpose with optax's schedule
    run.migrate(shifted, check_schedule=False)
    wrong_kind = clr_optax.OptimizerConfig("adam")
    with pytest.raises(ValueError, match="group 0 has key 'momentum', which clr_optax.adam cannot represent"):
        clr_optax.optax_state_from_torch(
            run.ckpt["optimizer"], params, run.tx, optimizer=wrong_kind, mapping=run.links, step=run.k
        )


def test_resume_from_torch_checkpoint_in_one_call():
    for case in ("sgd-momentum-dampening", "adamw", "sgd-plain"):
        run = run_of(case)
        resumed = clr_optax.resume_from_torch_checkpoint(run.ckpt, run.template, mapping=run.links)
        params, state = run.migrate()
        assert resumed.step == run.k and resumed.spec == run.spec

        # torch's groups hold the momentum of the step they are at; the spec sets it either way
        def settings(config):
            out = {k: v for k, v in config.torch_hyperparams().items() if k != "momentum"}
            return {**out, "betas": out["betas"][1]} if "betas" in out else out

        assert [settings(c) for c in resumed.configs] == [settings(run.config)] * 2
        same = jax.tree_util.tree_map(
            lambda a, b: bool(jnp.all(a == b)), (resumed.params, resumed.opt_state), (params, state)
        )
        assert jax.tree_util.tree_all(same)
        final, _ = run.optax_steps(resumed.params, resumed.opt_state, N - run.k)  # its tx is run.tx's equal
        delta = gap(run.torch_final, run.torch_before_last)
        assert gap(run.to_torch(final), run.torch_final) <= BOUND * delta


def test_back_to_torch_in_one_call():
    run = run_of("sgd-momentum-dampening")
    params, state, before_last, final = run.optax_run()
    ckpt = clr_optax.torch_checkpoint_from_optax(
        params, state, run.spec, mapping=run.links, optimizer=run.config, labels=LABELS
    )
    assert ckpt["step"] == run.k and list(ckpt["model"]) == NAMES
    model, opt, _ = torch_setup("sgd-momentum-dampening", T.problem()[0])
    sched = clr_torch.resume_from_optax(model, opt, {**ckpt, "spec": run.spec.to_json()})
    assert sched.last_epoch == run.k
    assert [g["lr"] for g in opt.param_groups] == [float(run.spec.lr(run.k, group=g)) for g in range(2)]
    torch_steps(model, opt, sched, run.x, run.y, N - run.k)
    assert gap(snapshot(model), final) <= BOUND * gap(final, before_last)


def test_single_group_in_a_chain_with_the_default_mapping():
    """One torch group, tx = chain(clip, sgd), params a list in torch's order and layout."""
    params, x, y = T.problem()
    model = T.torch_model(params)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    spec = CyclicSpec(base_lr=0.01, max_lr=0.1, **CYCLE)
    sched = clr_torch.CyclicLR.from_spec(opt, spec)
    torch_steps(model, opt, sched, x, y, 5)
    ckpt = checkpoint(model, opt, sched)
    config = clr_optax.OptimizerConfig("sgd", momentum=0.9)
    tx = optax.chain(optax.clip_by_global_norm(1e6), config(spec))
    leaves = [jnp.asarray(ckpt["model"][n].numpy()) for n in NAMES]
    state = clr_optax.optax_state_from_torch(ckpt["optimizer"], leaves, tx, optimizer=config, step=5)
    inner = state[1].inner_state
    assert bool(inner.has_buffer) and int(state[1].count) == 5
    for i in range(len(NAMES)):
        np.testing.assert_array_equal(inner.momentum_buffer[i], ckpt["optimizer"]["state"][i]["momentum_buffer"])
    back = clr_optax.torch_state_from_optax(state, leaves, optimizer=config)
    assert len(back["param_groups"]) == 1 and back["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert back["param_groups"][0]["nesterov"] is False
    # the torch optimizer it loads into must have the same settings
    other = torch.optim.SGD(T.torch_model(params).parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    with pytest.raises(ValueError, match="param group 0 has weight_decay = 0.0 in numpy_state_dict but 0.0001"):
        clr_torch.load_optimizer_state(other, back)
    fresh = torch.optim.SGD(T.torch_model(params).parameters(), lr=0.1, momentum=0.9)
    bad = copy.deepcopy(back)
    bad["state"][0]["momentum_buffer"] = bad["state"][0]["momentum_buffer"].astype(np.float64)
    with pytest.raises(ValueError, match="parameter 0 .* 'momentum_buffer' is float64 but the parameter is float32"):
        clr_torch.load_optimizer_state(fresh, bad)
    bad = copy.deepcopy(back)
    bad["state"][1]["exp_avg"] = bad["state"][1]["momentum_buffer"]
    with pytest.raises(ValueError, match="parameter 1 .* has 'exp_avg' in its state"):
        clr_torch.load_optimizer_state(fresh, bad)


def test_optimizer_config_from_torch_groups():
    model = T.torch_model(T.problem()[0])
    cases = [
        (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True), "sgd"),
        (torch.optim.Adam(model.parameters(), betas=(0.8, 0.9), amsgrad=True), "adam"),
        (torch.optim.AdamW(model.parameters(), weight_decay=0.1), "adamw"),
        (torch.optim.RMSprop(model.parameters(), alpha=0.9, centered=True), "rmsprop"),
    ]
    for opt, kind in cases:
        group = opt.state_dict()["param_groups"][0]
        config = clr_optax.OptimizerConfig.from_torch(group)
        assert config.kind == kind
        for key, value in config.torch_hyperparams().items():
            assert (tuple(group[key]) if key == "betas" else group[key]) == value, (kind, key)
    nadam = torch.optim.NAdam(model.parameters()).state_dict()["param_groups"][0]
    with pytest.raises(ValueError, match="not a param group of torch's SGD, Adam, AdamW or RMSprop"):
        clr_optax.OptimizerConfig.from_torch(nadam)
    old_adamw = {k: v for k, v in cases[2][0].state_dict()["param_groups"][0].items() if k != "decoupled_weight_decay"}
    with pytest.raises(ValueError, match="pass kind='adam' or 'adamw'"):
        clr_optax.OptimizerConfig.from_torch(old_adamw)
    assert clr_optax.OptimizerConfig.from_torch(old_adamw, "adamw") == clr_optax.OptimizerConfig(
        "adamw", weight_decay=0.1
    )
    with pytest.raises(TypeError, match="clr_optax.sgd has no keyword 'betas'"):
        clr_optax.OptimizerConfig("sgd", betas=(0.9, 0.99))
