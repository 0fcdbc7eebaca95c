"""Hugging Face transformers' schedules as specs, against transformers itself.

Every ``get_scheduler`` name, on seeded random configurations: transformers' ``LambdaLR``
stepped is the reference; ``spec.lr`` and ``clr_torch.scheduler`` (a ``SpecLR``) equal it bit
for bit, clr_optax's float32 schedule equals float32 of it (64-bit types off, and on: then
bitwise), the float32-only (TPU) path is within the stated bound, a resume at a random step
lands on transformers' value, and ``from_torch`` of the live scheduler (and of its saved state,
with the parameters) gives the spec back. Without transformers (the jax-only environment) the
values frozen in ``golden/huggingface.npz`` (``make_golden_huggingface.py``) are the reference.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import warnings

import numpy as np
import pytest

import clr_spec
from clr_spec import HuggingFaceSpec, WSDSpec, cli, huggingface_from_state, huggingface_spec
from clr_spec._huggingface import ALL_NAMES, SCHEDULES

from . import make_golden_huggingface as golden
from ._frameworks import HAS_TRANSFORMERS, needs_jax, needs_torch, needs_transformers
from ._helpers import ulp_distance

NAMES = [*SCHEDULES, "warmup_stable_decay"]
# The float32-only (TPU) path: float32 arithmetic of transformers' formulas. Its bound, measured
# on every configuration here: within FLOAT32_ONLY_ULPS float32 ulps of float32(transformers), or
# within FLOAT32_ONLY_ABS of the lr where the value nears 0 (a wave's 1 + cos(x) cancels near
# its bottom in float32; measured: at most 4.7e-7 of the lr, on every configuration here).
FLOAT32_ONLY_ULPS = 64
FLOAT32_ONLY_ABS = 2.0**-20


def random_config(name: str, seed: int) -> tuple:
    """(name, lr or lrs, num_warmup_steps, num_training_steps, keywords, spec-only keywords, steps)."""
    rng = np.random.default_rng([seed, NAMES.index(name)])
    groups = bool(rng.integers(0, 2))
    lrs = [float(10 ** rng.uniform(-5, -1)) for _ in range(2)] if groups else float(10 ** rng.uniform(-5, -1))
    default_lr = max(lrs) if groups else lrs  # the optimizer's defaults["lr"]
    warmup = int(rng.integers(0, 300))
    total = warmup + int(rng.integers(1, 2500))
    kw: dict = {}
    ours: dict = {}
    if name == "cosine":
        kw["num_cycles"] = float(rng.choice([0.5, rng.uniform(0.1, 3.0)]))
    elif name == "cosine_with_restarts":
        kw["num_cycles"] = int(rng.integers(1, 7))
    elif name == "polynomial":
        kw["lr_end"] = float(default_lr * rng.uniform(0, 0.5))
        kw["power"] = float(rng.choice([1.0, 2.0, 3.0, rng.uniform(0.2, 4.0)]))
        if groups:
            ours["lr_init"] = default_lr
    elif name == "inverse_sqrt":
        if rng.integers(0, 2):
            kw["timescale"] = int(rng.integers(1, 1000))
    elif name in ("cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        if groups or rng.integers(0, 2):
            kw["min_lr_rate"] = float(rng.uniform(0, 0.3))
        else:
            kw["min_lr"] = float(default_lr * rng.uniform(0, 0.3))
        if name == "cosine_warmup_with_min_lr" and rng.integers(0, 2):
            kw["warmup_lr_rate"] = float(rng.uniform(0, 0.5))
        if rng.integers(0, 2):
            kw["num_cycles"] = float(rng.uniform(0.2, 2.0))
    elif name == "warmup_stable_decay":
        kw["num_decay_steps"] = int(rng.integers(0, total - warmup + 1))
        kw["warmup_type"] = str(rng.choice(["linear", "cosine", "1-sqrt"]))
        kw["decay_type"] = str(rng.choice(["linear", "cosine", "1-sqrt"]))
        kw["min_lr_ratio"] = float(rng.choice([0.0, rng.uniform(0, 0.3)]))
        if rng.integers(0, 2):
            kw["num_stable_steps"] = int(rng.integers(0, total))
            total = None if rng.integers(0, 2) else total
    steps = (total or warmup + 1500) + 200
    return name, lrs, warmup, total, kw, ours, steps


CONFIGS = [random_config(name, seed) for name in NAMES for seed in range(3)]
IDS = [f"{c[0]}-{i % 3}" for i, c in enumerate(CONFIGS)]


def _optimizer(lrs):
    import torch

    lrs = lrs if isinstance(lrs, list) else [lrs]
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=max(lrs))


def hf_scheduler(config, opt=None):
    """transformers' own scheduler of ``config``, as get_scheduler builds it (on a fresh SGD)."""
    from transformers import get_scheduler

    name, lrs, warmup, total, kw, _, _ = config
    opt = opt or _optimizer(lrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both num_training_steps and num_stable_steps: transformers warns
        return opt, get_scheduler(
            name, opt, num_warmup_steps=warmup, num_training_steps=total, scheduler_specific_kwargs=dict(kw)
        )


def stepped(opt, sched, steps: int) -> np.ndarray:
    """(steps, groups): the lrs the optimizer holds before each update, the scheduler stepped after."""
    out = []
    for _ in range(steps):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    return np.asarray(out, dtype=np.float64)


def spec_of(config):
    name, lrs, warmup, total, kw, ours, _ = config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return huggingface_spec(name, lrs, warmup, total, **kw, **ours)


@functools.lru_cache(maxsize=None)
def reference(index: int) -> np.ndarray:
    config = CONFIGS[index]
    return stepped(*hf_scheduler(config), config[-1])


def check_float32_only(label: str, ours: np.ndarray, ref: np.ndarray, lr: float) -> None:
    ref32 = ref.astype(np.float32)
    ulps = ulp_distance(ours, ref32)
    near_zero = np.abs(ours.astype(np.float64) - ref) <= FLOAT32_ONLY_ABS * lr
    bad = ~((ulps <= FLOAT32_ONLY_ULPS) | near_zero)
    assert not bad.any(), f"{label}: {bad.sum()} steps past the float32-only bound (worst {ulps.max()} ulps)"


# ------------------------------------------------------------------------------ torch, numpy: bitwise
@needs_transformers
@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=IDS)
def test_spec_and_clr_torch_are_transformers_bitwise(index):
    import clr_torch

    config = CONFIGS[index]
    ref, spec, steps = reference(index), spec_of(config), config[-1]
    for g in range(ref.shape[1]):
        np.testing.assert_array_equal(spec.lr(np.arange(steps), g), ref[:, g])
    opt = _optimizer(config[1])
    sched = clr_torch.scheduler(opt, spec)
    assert type(sched).__name__ == "SpecLR"
    np.testing.assert_array_equal(stepped(opt, sched, steps), ref)
    # resumed at random steps: the next update uses transformers' lr there, and goes on as it does
    for k in np.random.default_rng(index).integers(0, steps - 10, 3).tolist():
        opt = _optimizer(config[1])
        sched = clr_torch.scheduler(opt, spec, step=k)
        np.testing.assert_array_equal(stepped(opt, sched, 10), ref[k : k + 10])
        assert clr_spec.from_torch(sched.state_dict()) == spec  # SpecLR's state carries the spec


# ------------------------------------------------------------------------------ optax: float32(transformers)
@needs_jax
@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=IDS)
def test_optax_is_float32_of_transformers(index):
    import jax

    import clr_optax
    from clr_optax import _family as optax_family

    config = CONFIGS[index]
    spec, steps = spec_of(config), np.arange(config[-1])
    ref = (
        reference(index)
        if HAS_TRANSFORMERS
        else np.stack([spec.lr(steps, g) for g in range(spec.num_groups or 1)], axis=1)
    )  # (checked bitwise above)
    for g in range(ref.shape[1]):
        ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(steps))
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, ref[:, g].astype(np.float32))
        with jax.enable_x64(True):
            x64 = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(steps))
        np.testing.assert_array_equal(x64, ref[:, g])
        tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", g, "float-float"))(steps))
        check_float32_only(IDS[index], tpu, ref[:, g], spec.group_lr(g))


@needs_jax
def test_optax_resumes_at_a_step_with_set_count():
    import jax.numpy as jnp

    import clr_optax

    spec = huggingface_spec("cosine", 1e-3, 100, 2000)
    tx = clr_optax.sgd(spec, momentum=0.9)
    state = clr_optax.set_count(tx.init(jnp.ones(3)), 777)
    lrs = []
    for _ in range(3):
        _, state = tx.update(jnp.full(3, 0.5), state, jnp.ones(3))
        lrs.append(float(clr_optax.current_hyperparams(state)["learning_rate"]))
    assert lrs[0] == float(np.float32(spec.lr(777)))


# ------------------------------------------------------------------------------ golden values (no torch needed)
GOLDEN, GOLDEN_VERSION = golden.load()


@pytest.mark.parametrize("key", list(golden.CONFIGS))
def test_spec_is_the_golden_values_bitwise(key):
    spec, steps = golden.CONFIGS[key]
    ref = GOLDEN[f"{key}/lr"]
    for g in range(ref.shape[1]):
        np.testing.assert_array_equal(spec.lr(np.arange(steps), g), ref[:, g])
    if key in golden.LONG:
        np.testing.assert_array_equal(spec.lr(golden.FAR), GOLDEN[f"{key}/far_lr"][:, 0])


@needs_jax
@pytest.mark.parametrize("key", list(golden.CONFIGS))
def test_optax_is_float32_of_the_golden_values(key):
    import jax

    import clr_optax
    from clr_optax import _family as optax_family

    spec, steps = golden.CONFIGS[key]
    ref = GOLDEN[f"{key}/lr"]
    for g in range(ref.shape[1]):
        ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(np.arange(steps)))
        np.testing.assert_array_equal(ours, ref[:, g].astype(np.float32))
        tpu = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", g, "float-float"))(np.arange(steps)))
        check_float32_only(key, tpu, ref[:, g], spec.group_lr(g))
    if key in golden.LONG:  # int32 counts to 2**31 - 1: no overflow in the lengths past it
        far = np.asarray(jax.jit(clr_optax.lr_schedule(spec))(np.asarray(golden.FAR, np.int32)))
        np.testing.assert_array_equal(far, GOLDEN[f"{key}/far_lr"][:, 0].astype(np.float32))
        tpu = np.asarray(
            jax.jit(optax_family.schedule_of(spec, "lr", 0, "float-float"))(np.asarray(golden.FAR, np.int32))
        )
        check_float32_only(key + " far", tpu, GOLDEN[f"{key}/far_lr"][:, 0], spec.group_lr(0))


@needs_transformers
def test_golden_file_is_current():
    """Fails when transformers' values (or the configurations) change: rerun make_golden_huggingface."""
    fresh = golden.compute()
    assert sorted(fresh) == sorted(GOLDEN), "configurations changed: python -m parity_tests.make_golden_huggingface"
    for key, values in fresh.items():
        np.testing.assert_array_equal(
            GOLDEN[key], values, err_msg=f"{key}: python -m parity_tests.make_golden_huggingface"
        )


def test_golden_file_covers_every_name():
    assert {golden.ARGUMENTS[key][0] for key in golden.ARGUMENTS} == set(NAMES)


# ------------------------------------------------------------------------------ from_torch
@needs_transformers
@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=IDS)
def test_from_torch_of_the_live_scheduler_and_of_its_saved_state(index):
    config = CONFIGS[index]
    name, lrs, warmup, total, kw, ours, _ = config
    opt, sched = hf_scheduler(config)
    for _ in range(5):
        opt.step()
        sched.step()
    spec = spec_of(config)
    back = clr_spec.from_torch(sched)
    assert back == spec and type(back) is (WSDSpec if name == "warmup_stable_decay" else HuggingFaceSpec)
    state = sched.state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert huggingface_from_state(state, name, warmup, total, **kw, **ours) == (spec, 5)
        assert (
            clr_spec.from_torch(
                state,
                torch_class="LambdaLR",
                huggingface=dict(name=name, num_warmup_steps=warmup, num_training_steps=total, **kw, **ours),
            )
            == spec
        )
    assert clr_spec.from_torch(state, torch_class="LambdaLR", lr_lambda=sched.lr_lambdas[0]) == spec
    assert clr_spec.from_json(spec.to_json()) == spec


@needs_transformers
def test_a_fine_tuning_run_moves_to_optax_and_continues_exactly(tmp_path):
    """A Trainer-style run's scheduler.pt, read back, continues in optax where torch left off."""
    pytest.importorskip("jax")
    import jax
    import torch

    import clr_optax

    config = ("cosine_with_min_lr", 2e-5, 100, 1000, {"min_lr_rate": 0.1}, {}, 1000)
    opt, sched = hf_scheduler(config)
    stepped(opt, sched, 400)
    torch.save(sched.state_dict(), tmp_path / "scheduler.pt")
    rest = stepped(opt, sched, 600)[:, 0]  # what torch goes on to give
    state = torch.load(tmp_path / "scheduler.pt", weights_only=True)
    spec, step = huggingface_from_state(state, "cosine_with_min_lr", 100, 1000, min_lr_rate=0.1)
    assert step == 400
    ours = np.asarray(jax.jit(clr_optax.lr_schedule(spec))(np.arange(step, step + 600)))
    np.testing.assert_array_equal(ours, rest.astype(np.float32))


@needs_torch
def test_from_torch_refuses_transformers_functions_it_does_not_know():
    import torch

    def _get_surprise_lr_lambda(step, *, num_warmup_steps):
        return 1.0

    _get_surprise_lr_lambda.__module__ = "transformers.optimization"
    opt = _optimizer(0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, functools.partial(_get_surprise_lr_lambda, num_warmup_steps=3))
    with pytest.raises(ValueError, match="_get_surprise_lr_lambda is not a Hugging Face schedule"):
        clr_spec.from_torch(sched)
    # a user's own function is a LambdaSpec, as before
    plain = torch.optim.lr_scheduler.LambdaLR(_optimizer(0.1), lambda k: 0.9**k)
    assert type(clr_spec.from_torch(plain)).__name__ == "LambdaSpec"


@needs_transformers
def test_from_torch_refuses_a_schedule_of_transformers_it_has_no_spec_for():
    from transformers.optimization import AdafactorSchedule

    opt = _optimizer(0.1)
    with pytest.raises(
        ValueError, match="AdafactorSchedule.__init__.<locals>.lr_lambda is not a Hugging Face schedule"
    ):
        clr_spec.from_torch(AdafactorSchedule(opt))


def test_a_saved_state_needs_its_parameters():
    state = {"base_lrs": [0.1], "last_epoch": 7, "_step_count": 8, "lr_lambdas": [{}], "_last_lr": [0.1]}
    assert huggingface_from_state(state, "constant") == (HuggingFaceSpec("constant", 0.1), 7)
    with pytest.raises(ValueError, match="requires `num_training_steps`"):
        huggingface_from_state(state, "linear", 3)
    with pytest.raises(ValueError, match="pass name="):
        HuggingFaceSpec.from_torch(state)
    with pytest.raises(ValueError, match="lr_lambdas must be"):
        huggingface_from_state({**state, "lr_lambdas": [{"x": 1}]}, "constant")
    with pytest.raises(ValueError, match="last_epoch"):
        huggingface_from_state({**state, "last_epoch": -3}, "constant")


# ------------------------------------------------------------------------------ validation, JSON
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_json_round_trip(config):
    spec = spec_of(config)
    text = spec.to_json()
    assert clr_spec.from_json(text) == spec and hash(clr_spec.from_json(text)) == hash(spec)
    assert type(clr_spec.from_json(text)) is type(spec)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(name="cosine_with_restart", lr=0.1), ValueError, "name must be one of"),
        (dict(name="warmup_stable_decay", lr=0.1), ValueError, "is a WSDSpec"),
        (dict(name="reduce_lr_on_plateau", lr=0.1), ValueError, "PlateauSpec"),
        (dict(name=3, lr=0.1), TypeError, "name must be a str"),
        (dict(name="linear", lr=0.1, num_training_steps=10), ValueError, "requires `num_warmup_steps`"),
        (
            dict(name="linear", lr=0.1, num_warmup_steps=-1, num_training_steps=10),
            ValueError,
            "num_warmup_steps must be",
        ),
        (
            dict(name="linear", lr=0.1, num_warmup_steps=1.5, num_training_steps=10),
            TypeError,
            "num_warmup_steps must be an int",
        ),
        (dict(name="linear", lr=0.1, num_warmup_steps=2**53, num_training_steps=10), ValueError, "2\\*\\*53"),
        (dict(name="linear", lr=-0.1, num_warmup_steps=1, num_training_steps=10), ValueError, "lr must be >= 0"),
        (dict(name="linear", lr=0.1, num_warmup_steps=1, num_training_steps=10, num_cycles=2), TypeError, "no keyword"),
        (
            dict(name="cosine", lr=0.1, num_warmup_steps=1, num_training_steps=10, num_cycles=float("nan")),
            ValueError,
            "num_cycles must be in",
        ),
        (
            dict(name="cosine", lr=0.1, num_warmup_steps=1, num_training_steps=10, num_cycles=-1),
            ValueError,
            "num_cycles",
        ),
        (
            dict(name="polynomial", lr=0.1, num_warmup_steps=1, num_training_steps=10, lr_end=0.2),
            ValueError,
            "lr_end must be smaller|> lr_end",
        ),
        (dict(name="polynomial", lr=0.1, num_warmup_steps=1, num_training_steps=10, power=-1.0), ValueError, "power"),
        (dict(name="polynomial", lr=0.1, num_warmup_steps=10, num_training_steps=10), ValueError, "difference"),
        (
            dict(name="polynomial", lr=[0.1, 0.2], num_warmup_steps=1, num_training_steps=10),
            ValueError,
            "give lr_init=",
        ),
        (dict(name="inverse_sqrt", lr=0.1, num_warmup_steps=1, timescale=0), ValueError, "timescale must be"),
        (
            dict(name="cosine_with_min_lr", lr=0.1, num_warmup_steps=1, num_training_steps=10),
            ValueError,
            "min_lr or min_lr_rate",
        ),
        (
            dict(
                name="cosine_with_min_lr",
                lr=0.1,
                num_warmup_steps=1,
                num_training_steps=10,
                min_lr=0.01,
                min_lr_rate=0.1,
            ),
            ValueError,
            "Only one",
        ),
        (
            dict(name="cosine_with_min_lr", lr=0.1, num_warmup_steps=1, num_training_steps=10, min_lr_rate=1.5),
            ValueError,
            "min_lr_rate must be in",
        ),
        (
            dict(
                name="cosine_warmup_with_min_lr",
                lr=0.1,
                num_warmup_steps=1,
                num_training_steps=10,
                min_lr_rate=0.1,
                warmup_lr_rate=2.0,
            ),
            ValueError,
            "warmup_lr_rate must be in",
        ),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    given = json.dumps(kwargs)
    with pytest.raises(error, match=match):
        HuggingFaceSpec(**kwargs)
    assert json.dumps(kwargs) == given  # nothing the caller passed is changed


def test_every_name_of_get_scheduler_is_known():
    if HAS_TRANSFORMERS:
        from transformers.trainer_utils import SchedulerType

        assert {t.value for t in SchedulerType} == set(ALL_NAMES)
    with pytest.raises(ValueError, match="format must be"):
        HuggingFaceSpec.from_dict({"format": "clr.X", "version": 1, "name": "linear", "lr": 0.1})
    doc = HuggingFaceSpec("constant", 0.1).to_dict()
    with pytest.raises(ValueError, match="unknown"):
        HuggingFaceSpec.from_dict({**doc, "num_cycles": 0.5})


# ------------------------------------------------------------------------------ the CLI on a Trainer checkpoint
def _training_args(output_dir: str, **fields):
    """A TrainingArguments pickled as Trainer.save writes it (torch.save(self.args, ...)): the
    dataclass's fields with their defaults and ``fields``. Built without TrainingArguments'
    __post_init__, which needs accelerate (not installed here); the pickle is the same: the class
    and its __dict__."""
    from transformers import TrainingArguments

    args = TrainingArguments.__new__(TrainingArguments)
    for field in dataclasses.fields(TrainingArguments):
        default = (
            field.default
            if field.default is not dataclasses.MISSING
            else (field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
        )  # type: ignore[misc]
        args.__dict__[field.name] = default
    args.__dict__.update(output_dir=output_dir, **fields)
    return args


@needs_transformers
@pytest.mark.parametrize("with_arguments", [True, False])
def test_cli_reads_a_trainer_checkpoint_directory(tmp_path, capsys, with_arguments):
    import torch
    from transformers.trainer_utils import SchedulerType

    config = ("warmup_stable_decay", 3e-4, 50, 1000, {"num_decay_steps": 200, "decay_type": "1-sqrt"}, {}, 1000)
    opt, sched = hf_scheduler(config)
    stepped(opt, sched, 500)
    checkpoint = tmp_path / "checkpoint-500"
    checkpoint.mkdir()
    torch.save(sched.state_dict(), checkpoint / "scheduler.pt")
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 500, "max_steps": 1000}))
    out = tmp_path / "spec.json"
    if with_arguments:
        torch.save(
            _training_args(
                str(tmp_path),
                lr_scheduler_type=SchedulerType("warmup_stable_decay"),
                warmup_steps=0.05,
                lr_scheduler_kwargs={"num_decay_steps": 200, "decay_type": "1-sqrt"},
            ),
            checkpoint / "training_args.bin",
        )
        assert cli.main(["from-torch", str(checkpoint), "-o", str(out)]) == 0
    else:
        assert (
            cli.main(
                [
                    "from-torch",
                    str(checkpoint / "scheduler.pt"),
                    "--hf",
                    "warmup_stable_decay",
                    "--warmup",
                    "50",
                    "--hf-arg",
                    "num_decay_steps=200",
                    "--hf-arg",
                    "decay_type=1-sqrt",
                    "-o",
                    str(out),
                ]
            )
            == 0
        )
    printed = capsys.readouterr().out
    assert "step: 500" in printed
    assert clr_spec.from_json(out.read_text()) == spec_of(config)


@needs_transformers
def test_cli_errors_are_one_line(tmp_path, capsys):
    import torch

    opt, sched = hf_scheduler(("cosine", 0.1, 5, 50, {}, {}, 50))
    torch.save(sched.state_dict(), tmp_path / "scheduler.pt")
    for argv, match in (
        (["--hf", "cosine", "--warmup", "5"], "requires `num_training_steps`"),
        (["--hf", "cosine", "--warmup", "5", "--total", "50", "--hf-arg", "num_cycles=x"], "num_cycles"),
        (["--hf", "cosine", "--warmup", "5", "--total", "50", "--hf-arg", "oops"], "KEY=VALUE"),
        (["--hf", "cosine", "--warmup", "-5", "--total", "50"], "--warmup must be"),
        (["--hf", "nope"], "name must be one of"),
    ):
        assert cli.main(["from-torch", str(tmp_path / "scheduler.pt"), "-o", str(tmp_path / "s.json"), *argv]) == 2
        err = capsys.readouterr().err
        assert match in err and len(err.strip().splitlines()) == 1
    os.mkdir(tmp_path / "empty")
    assert cli.main(["from-torch", str(tmp_path / "empty"), "-o", str(tmp_path / "s.json")]) == 2
    assert "no scheduler.pt" in capsys.readouterr().err


class _Evil:
    """A pickle that would run a command if it were unpickled for real."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_training_args_are_read_without_running_code(tmp_path):
    import pickle
    import zipfile

    from clr_spec._huggingface import read_training_args

    marker = tmp_path / "ran"
    with zipfile.ZipFile(tmp_path / "training_args.bin", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(_Evil(str(marker))))
    with pytest.raises(ValueError, match="not a pickled TrainingArguments"):
        read_training_args(str(tmp_path / "training_args.bin"))
    assert not marker.exists()
    (tmp_path / "legacy.bin").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read its TrainingArguments"):
        read_training_args(str(tmp_path / "legacy.bin"))


@needs_transformers
def test_cli_goes_on_without_a_readable_training_args_file(tmp_path, capsys):
    import torch

    opt, sched = hf_scheduler(("linear", 0.1, 5, 50, {}, {}, 50))
    torch.save(sched.state_dict(), tmp_path / "scheduler.pt")
    (tmp_path / "training_args.bin").write_bytes(b"damaged")
    assert (
        cli.main(
            [
                "from-torch",
                str(tmp_path),
                "--hf",
                "linear",
                "--warmup",
                "5",
                "--total",
                "50",
                "-o",
                str(tmp_path / "s.json"),
            ]
        )
        == 0
    )
    assert "training_args.bin not read" in capsys.readouterr().out
    assert clr_spec.from_json((tmp_path / "s.json").read_text()) == huggingface_spec("linear", 0.1, 5, 50)
