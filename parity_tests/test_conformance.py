"""The spec contract, checked on every registered spec type: one row per type (a spec and the
torch scheduler it describes), every guarantee run on every row.

Adding a schedule type is one library module and one row here; a registered type with no row
fails ``test_every_registered_type_has_a_row``. The float32-only (TPU) bound of each row is the
one docs/guides/schedules.md states for its type. A metric-driven type (``PlateauSpec``: ReduceLROnPlateau)
has no lr per step without its metrics: the guarantees that step a schedule run on the others,
and ``parity_tests/test_plateau.py`` checks it against torch on metric sequences.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import clr_spec
from clr_spec import (
    ChainedSpec,
    ConstantSpec,
    PlateauSequenceSpec,
    PlateauSpec,
    CosineAnnealingSpec,
    CyclicSpec,
    ExponentialSpec,
    LambdaSpec,
    LinearSpec,
    MultiplicativeSpec,
    MultiStepSpec,
    OneCycleSpec,
    PolynomialSpec,
    SequentialSpec,
    StepSpec,
    WarmRestartsSpec,
    cli,
)
from clr_spec._contract import BASE_STATE_KEYS, EVALUATORS, Spec
from clr_spec._optax_names import CosineDecaySpec, LinearScheduleSpec

from ._frameworks import HAS_JAX, HAS_TORCH, needs_jax, needs_torch
from ._helpers import check_float32, check_relative, torch_trace

LRS = [0.05, 0.1]  # the optimizer's lr per param group (what torch's phase classes scale)
MOMENTUM = 0.9  # the optimizer's momentum, where no phase sets it


@dataclass(frozen=True)
class Row:
    spec: Spec
    torch: Callable[[Any], Any]  # optimizer -> torch's own scheduler, as a user builds it
    steps: int  # steps compared (whole schedule where it ends)
    float32_only_ulps: int  # the bound docs/guides/schedules.md states for the float32-only (TPU) path
    # what from_torch needs beyond the state (a function torch does not save, settings of ours)
    from_torch_kwargs: Any = None
    shared_state_keys: bool = False  # its state's keys are another class's too: torch_class= names it
    metric_driven: bool = False  # its lr moves with metrics, not steps (ReduceLROnPlateau)
    # steps -> the lr of every group, computed independently of the library: the reference where
    # torch has no class (``torch`` is then the scheduler a user builds, clr_torch's SpecLR, which
    # the from_torch guarantees use; comparing values with it would compare the library with itself)
    reference_lr: Any = None


def _warmup(k):
    """A LambdaLR function written for both frameworks: whole-number arithmetic on k."""
    return 0.9 ** (k // 7) * (k + 1) / (k + 2)


def _wobble(k):
    """A MultiplicativeLR function (replayed on the host: plain Python works)."""
    return 0.99 if k % 3 else 1.003


def _torch_classes():
    from torch.optim import lr_scheduler as T

    return T


PLATEAU = dict(mode="max", factor=0.5, patience=3, threshold=0.01, threshold_mode="abs", cooldown=2, min_lr=[0.0, 1e-3])
PLATEAU_SEQUENCE = SequentialSpec(
    [LinearSpec(lr=LRS, start_factor=0.2, total_iters=30), PlateauSpec(lr=LRS, **PLATEAU)], milestones=[30]
)


def _clr_torch():
    import clr_torch

    return clr_torch


OPTAX_LINEAR = LinearScheduleSpec(init_value=0.0, end_value=0.07, transition_steps=57, transition_begin=11)
OPTAX_COSINE = CosineDecaySpec(init_value=0.08, decay_steps=173, alpha=0.02)


def _golden_huggingface(key, steps):
    """transformers' own values of a configuration of make_golden_huggingface, frozen (its
    test_golden_file_is_current checks them against transformers where it is installed)."""
    from . import make_golden_huggingface as golden

    return golden.load()[0][f"{key}/lr"][np.asarray(steps), 0]


# Hugging Face's cosine_with_min_lr, as get_scheduler builds it (golden/huggingface.npz has its values)
HUGGING_FACE = clr_spec.huggingface_spec("cosine_with_min_lr", 3e-4, 100, 2500, min_lr=1e-5)
# cyclic warmup-stable-decay: three cycles of their own lengths, decays and peaks
WSD = clr_spec.WSDSpec(
    lr=0.02,
    num_warmup_steps=40,
    num_decay_steps=[60, 50, 80],
    cycle_lengths=[300, 200, 250],
    peak_factors=[1.0, 0.7, 0.5],
    rewarm_steps=20,
    min_lr_ratio=0.05,
    warmup_type="cosine",
    decay_type="1-sqrt",
)


def _wsd_reference(steps):
    from .test_wsd import reference_factor  # transformers' WSD lambda by hand, cycle by cycle

    cycles = [(c.warmup, c.stable, c.decay, c.peak) for c in WSD.cycles]
    return [
        WSD.initial_lr
        * reference_factor(int(k), cycles, WSD.warmup_type, WSD.decay_type, WSD.min_lr_ratio, WSD.num_cycles)
        for k in steps
    ]


def _timm_golden():
    from . import make_golden_timm

    return make_golden_timm


def _optax_names_reference(spec, steps):
    from .make_golden_optax_names import reference

    return reference(spec, steps)


ROWS = {
    CyclicSpec: Row(
        CyclicSpec(
            base_lr=[1e-3, 2e-3],
            max_lr=[1e-2, 3e-2],
            step_size_up=37,
            step_size_down=23,
            mode="exp_range",
            gamma=0.999,
            base_momentum=[0.8, 0.85],
            max_momentum=[0.9, 0.95],
        ),
        lambda opt: _torch_classes().CyclicLR(
            opt,
            base_lr=[1e-3, 2e-3],
            max_lr=[1e-2, 3e-2],
            step_size_up=37,
            step_size_down=23,
            mode="exp_range",
            gamma=0.999,
            base_momentum=[0.8, 0.85],
            max_momentum=[0.9, 0.95],
        ),
        400,
        1,
    ),
    LinearSpec: Row(
        LinearSpec(lr=LRS, start_factor=0.1, end_factor=0.7, total_iters=57),
        lambda opt: _torch_classes().LinearLR(opt, start_factor=0.1, end_factor=0.7, total_iters=57),
        200,
        8,
    ),
    ConstantSpec: Row(
        ConstantSpec(lr=LRS, factor=0.3, total_iters=41),
        lambda opt: _torch_classes().ConstantLR(opt, factor=0.3, total_iters=41),
        100,
        8,
    ),
    CosineAnnealingSpec: Row(
        CosineAnnealingSpec(lr=LRS, T_max=97, eta_min=1e-4),
        lambda opt: _torch_classes().CosineAnnealingLR(opt, T_max=97, eta_min=1e-4),
        400,
        8,
    ),
    WarmRestartsSpec: Row(
        WarmRestartsSpec(lr=LRS, T_0=13, T_mult=2, eta_min=1e-5),
        lambda opt: _torch_classes().CosineAnnealingWarmRestarts(opt, T_0=13, T_mult=2, eta_min=1e-5),
        400,
        8,
    ),
    OneCycleSpec: Row(
        OneCycleSpec(max_lr=[0.1, 0.3], total_steps=300, pct_start=0.27, three_phase=True),
        lambda opt: _torch_classes().OneCycleLR(
            opt, max_lr=[0.1, 0.3], total_steps=300, pct_start=0.27, three_phase=True
        ),
        300,
        64,
    ),
    StepSpec: Row(
        StepSpec(lr=LRS, step_size=7, gamma=0.83),
        lambda opt: _torch_classes().StepLR(opt, step_size=7, gamma=0.83),
        400,
        0,
    ),
    MultiStepSpec: Row(
        MultiStepSpec(lr=LRS, milestones=[31, 7, 90, 90, 200], gamma=0.41),
        lambda opt: _torch_classes().MultiStepLR(opt, milestones=[31, 7, 90, 90, 200], gamma=0.41),
        400,
        0,
    ),
    ExponentialSpec: Row(
        ExponentialSpec(lr=LRS, gamma=0.9913), lambda opt: _torch_classes().ExponentialLR(opt, gamma=0.9913), 400, 0
    ),
    PolynomialSpec: Row(
        PolynomialSpec(lr=LRS, total_iters=301, power=2.3),
        lambda opt: _torch_classes().PolynomialLR(opt, total_iters=301, power=2.3),
        400,
        0,
    ),
    LambdaSpec: Row(
        LambdaSpec(lr=LRS, lr_lambda=_warmup),
        # float32-only: the function's own float32 arithmetic (0.9 ** n) adds its rounding
        lambda opt: _torch_classes().LambdaLR(opt, lr_lambda=_warmup),
        400,
        32,
        from_torch_kwargs={"lr_lambda": _warmup},
        shared_state_keys=True,
    ),
    MultiplicativeSpec: Row(
        MultiplicativeSpec(lr=LRS, lr_lambda=_wobble, horizon=500),
        lambda opt: _torch_classes().MultiplicativeLR(opt, lr_lambda=_wobble),
        400,
        0,
        from_torch_kwargs={"lr_lambda": _wobble, "horizon": 500},
        shared_state_keys=True,
    ),
    ChainedSpec: Row(
        ChainedSpec(
            [LinearSpec(lr=LRS, start_factor=0.1, total_iters=40), StepSpec(lr=LRS, step_size=60, gamma=0.5)],
            horizon=400,
        ),
        lambda opt: _torch_classes().ChainedScheduler(
            [
                _torch_classes().LinearLR(opt, start_factor=0.1, total_iters=40),
                _torch_classes().StepLR(opt, step_size=60, gamma=0.5),
            ]
        ),
        400,
        0,
        from_torch_kwargs={"horizon": 400},
    ),
    PlateauSpec: Row(
        PlateauSpec(lr=LRS, **PLATEAU),
        lambda opt: _torch_classes().ReduceLROnPlateau(opt, **PLATEAU),
        100,
        0,
        metric_driven=True,
    ),
    # torch has no class for it: clr_torch's (torch's LinearLR, then torch's ReduceLROnPlateau);
    # parity_tests/test_plateau_sequence.py checks it against those, written out by hand
    PlateauSequenceSpec: Row(
        PLATEAU_SEQUENCE, lambda opt: _clr_torch().PlateauSequenceLR(opt, PLATEAU_SEQUENCE), 100, 0, metric_driven=True
    ),
    # optax's linear_schedule and cosine_decay_schedule: no torch class; the reference is optax's
    # formula in float64, exact fractions / written out by hand (parity_tests/make_golden_optax_names.py)
    LinearScheduleSpec: Row(
        OPTAX_LINEAR,
        lambda opt: _clr_torch().SpecLR(opt, OPTAX_LINEAR),
        200,
        8,
        reference_lr=lambda steps: _optax_names_reference(OPTAX_LINEAR, steps),
    ),
    CosineDecaySpec: Row(
        OPTAX_COSINE,
        lambda opt: _clr_torch().SpecLR(opt, OPTAX_COSINE),
        300,
        8,
        reference_lr=lambda steps: _optax_names_reference(OPTAX_COSINE, steps),
    ),
    # transformers' schedules and WSD: no torch class (transformers' own LambdaLR is read by from_torch in
    # test_huggingface.py); clr_torch runs them as SpecLR, the reference is transformers' values / by hand
    clr_spec.HuggingFaceSpec: Row(
        HUGGING_FACE,
        lambda opt: _clr_torch().SpecLR(opt, HUGGING_FACE),
        2600,
        8,
        reference_lr=lambda steps: _golden_huggingface("cosine_with_min_lr", steps),
    ),
    clr_spec.WSDSpec: Row(WSD, lambda opt: _clr_torch().SpecLR(opt, WSD), 800, 8, reference_lr=_wsd_reference),
    # timm's CosineLRScheduler: no torch class (clr_spec.from_timm reads timm's own, test_timm.py); clr_torch
    # runs it as SpecLR, the reference is timm's values per group (its code, or golden/timm.npz without it)
    clr_spec.TimmCosineSpec: Row(
        _timm_golden().CONFIGS["conformance"][0],
        lambda opt: _clr_torch().SpecLR(opt, _timm_golden().CONFIGS["conformance"][0]),
        400,
        16,
        reference_lr=lambda steps: _timm_golden().reference("conformance", steps),
    ),
    SequentialSpec: Row(
        SequentialSpec(
            [
                LinearSpec(lr=LRS, start_factor=0.2, total_iters=30),
                CosineAnnealingSpec(lr=LRS, T_max=150, eta_min=1e-4),
            ],
            milestones=[30],
            momentum=MOMENTUM,
        ),
        lambda opt: _torch_classes().SequentialLR(
            opt,
            [
                _torch_classes().LinearLR(opt, start_factor=0.2, total_iters=30),
                _torch_classes().CosineAnnealingLR(opt, T_max=150, eta_min=1e-4),
            ],
            milestones=[30],
        ),
        200,
        8,
    ),
}
TYPES = sorted(ROWS, key=lambda t: t.__name__)
IDS = [t.__name__ for t in TYPES]
STEPPED = [t for t in TYPES if not ROWS[t].metric_driven]  # an lr per step: the step guarantees apply
STEPPED_IDS = [t.__name__ for t in STEPPED]


def _optimizer():
    import torch

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in LRS]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)], lr=0.5, momentum=MOMENTUM)


def _torch_reference(row: Row) -> np.ndarray:
    """(steps, groups, [lr, momentum]) of torch's own scheduler, as a user builds it (or, where
    torch has none, the row's independent values, the optimizer's momentum left as it is)."""
    if row.reference_lr is not None:
        lr = np.asarray(row.reference_lr(np.arange(row.steps)), dtype=np.float64)
        if lr.ndim == 2:  # one column per param group
            return np.stack([lr, np.full(lr.shape, MOMENTUM)], axis=-1)
        return np.stack([np.stack([lr, np.full(row.steps, MOMENTUM)], axis=-1)] * len(LRS), axis=1)
    return torch_trace(_optimizer(), row.torch, row.steps, step_after_last=row.spec.natural_end is None)


def _whats(spec: Spec) -> list[str]:
    return ["lr", "momentum"] if spec.sets_momentum else ["lr"]


def _groups(spec: Spec) -> range:
    return range(spec.num_groups or 1)


# ------------------------------------------------------------------------------ the registry
def test_every_registered_type_has_a_row():
    assert set(ROWS) == set(clr_spec.spec_types()), "a registered spec type needs a conformance row"


@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_the_type_implements_the_contract(cls):
    assert issubclass(cls, Spec) and not cls.__abstractmethods__
    assert cls.FORMAT.startswith("clr.") and cls.EVALUATOR in EVALUATORS
    # torch's class, or "" where torch has none (clr_torch runs it: SpecLR or a class of ours)
    assert cls.TORCH_CLASS in clr_spec.torch_classes() or cls.TORCH_CLASS == ""
    assert not cls.TORCH_STATE_KEYS & BASE_STATE_KEYS and not cls.TORCH_STATE_OPTIONAL & cls.TORCH_STATE_KEYS
    spec = ROWS[cls].spec
    assert isinstance(spec.describe(), str) and spec.describe()
    assert 100 <= spec.default_steps() <= 1_000_000 or spec.natural_end == spec.default_steps()
    for g in _groups(spec):
        bounds = spec.momentum_range(g)
        assert (bounds is not None) == spec.sets_momentum
        if bounds is not None:
            values = spec.momentum(np.arange(ROWS[cls].steps), g)
            assert bounds[0] <= values.min() and values.max() <= bounds[1]
    if not spec.sets_momentum and not spec.phases:
        with pytest.raises(ValueError, match="momentum"):
            spec.momentum(0)


# ------------------------------------------------------------------------------ JSON
@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_json_round_trip(cls):
    spec = ROWS[cls].spec
    if ROWS[cls].from_torch_kwargs and "lr_lambda" in ROWS[cls].from_torch_kwargs:
        with pytest.raises(ValueError, match="functions are not stored"):
            spec.to_json()  # a function is never serialized
        doc = {"format": cls.FORMAT, "version": cls.VERSION, "lr": LRS}
        assert cls.from_dict(doc, lr_lambda=spec.lr_lambda).lr(7, 1) == spec.lr(7, 1)
        with pytest.raises(ValueError, match="holds no function"):
            clr_spec.from_dict(doc)
        return
    text = spec.to_json()
    assert json.loads(text)["format"] == cls.FORMAT and json.loads(text)["version"] == cls.VERSION
    assert cls.from_json(text) == spec and type(clr_spec.from_json(text)) is cls
    assert hash(clr_spec.from_json(text)) == hash(spec)
    doc = spec.to_dict()
    for broken, error in (
        ({**doc, "version": 2}, "version must be"),
        ({**doc, "version": 1.0}, "version must be"),
        ({**doc, "format": ["x"]}, "format must be"),
        ({**doc, "surprise": 1}, "unknown"),
    ):
        with pytest.raises(ValueError, match=error):
            cls.from_dict(broken)
    with pytest.raises(TypeError):
        cls.from_dict([1, 2])


# ------------------------------------------------------------------------------ torch identification
@needs_torch
@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_from_torch_of_the_object_and_its_state(cls):
    row = ROWS[cls]
    opt = _optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = row.torch(opt)
    state, optimizer_state = sched.state_dict(), opt.state_dict()
    kwargs = dict(row.from_torch_kwargs or {})
    if row.shared_state_keys:
        with pytest.raises(ValueError, match="pass torch_class="):
            clr_spec._family.torch_class_of(state)
        kwargs["torch_class"] = cls.TORCH_CLASS
    else:
        assert clr_spec._family.torch_class_of(state) == (cls.TORCH_CLASS or "SpecLR")
    # a spec torch has no class for runs in a clr_torch SpecLR (or a subclass), its state the spec's document
    assert clr_spec._family.torch_class_of(sched) == (cls.TORCH_CLASS or "SpecLR")
    from_object = clr_spec.from_torch(sched, **{k: val for k, val in kwargs.items() if k not in ("lr_lambda",)})
    from_state = clr_spec.from_torch(state, optimizer_state=optimizer_state, **kwargs)
    assert type(from_object) is cls and type(from_state) is cls
    assert from_object == row.spec and from_state == row.spec
    for other in TYPES:
        if other is not cls:
            with pytest.raises((ValueError, TypeError)):
                other.from_torch(state, optimizer_state=optimizer_state)


def test_a_state_of_no_type_or_of_two_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="not the state of a known torch scheduler"):
        clr_spec.from_torch({"last_epoch": 3, "base_lrs": [0.1], "gamma": 0.9, "zeta": 2})
    # A state with more than a type's keys is not that type (key subsets used to match).
    state = {"base_lrs": [0.1], "last_epoch": 0, "factor": 0.5, "total_iters": 3, "step_size": 2}
    with pytest.raises(ValueError, match="not the state of a known torch scheduler"):
        clr_spec.from_torch(state)

    class Twin(ConstantSpec):  # a second type with ConstantLR's keys: ambiguous, never guessed
        FORMAT = "clr.Twin"
        TORCH_CLASS = "TwinLR"

    monkeypatch.setitem(clr_spec._family._BY_FORMAT, Twin.FORMAT, Twin)
    monkeypatch.setitem(clr_spec._family._BY_TORCH_CLASS, Twin.TORCH_CLASS, Twin)
    state = {"base_lrs": [0.1], "last_epoch": 0, "factor": 0.5, "total_iters": 3}
    with pytest.raises(ValueError, match=r"any of \['ConstantLR', 'TwinLR'\]"):
        clr_spec.from_torch(state)
    assert type(clr_spec.from_torch(state, torch_class="TwinLR")) is Twin


def test_registering_an_incomplete_type_fails():
    class Half(Spec):
        FORMAT, TORCH_CLASS = "clr.Half", "HalfLR"

    with pytest.raises(TypeError, match="not a complete clr_spec Spec"):
        clr_spec._family.register(Half)


# ------------------------------------------------------------------------------ values
@needs_torch
@pytest.mark.parametrize("cls", STEPPED, ids=STEPPED_IDS)
def test_torch_bitwise_and_resumed_at_random_k(cls):
    import clr_torch

    row = ROWS[cls]
    reference = _torch_reference(row)
    ours = torch_trace(
        _optimizer(),
        lambda opt: clr_torch.scheduler(opt, row.spec),
        row.steps,
        step_after_last=row.spec.natural_end is None,
    )
    np.testing.assert_array_equal(ours[..., 0], reference[..., 0])
    if row.spec.sets_momentum:
        np.testing.assert_array_equal(ours[..., 1], reference[..., 1])
    for k in np.random.default_rng(TYPES.index(cls)).integers(0, row.steps - 1, 3):
        opt = _optimizer()
        clr_torch.scheduler(opt, row.spec, step=int(k))
        assert [g["lr"] for g in opt.param_groups] == reference[k, :, 0].tolist()


@needs_torch
@pytest.mark.parametrize("cls", STEPPED, ids=STEPPED_IDS)
def test_numpy_within_1e_12_of_torch(cls):
    row = ROWS[cls]
    reference = _torch_reference(row)
    for g in _groups(row.spec):
        for i, what in enumerate(_whats(row.spec)):
            ours = getattr(row.spec, what)(np.arange(row.steps), g)
            check_relative(
                f"conformance {cls.__name__}", what, ours, reference[:, g, i], rtol=1e-12, evaluator="conformance"
            )


def _reference_values(row: Row) -> np.ndarray:
    """(steps, groups, [lr, momentum]): torch's values where torch is installed; else the spec's
    float64 values (within 1e-12 of torch's, checked above where torch is)."""
    if HAS_TORCH or row.reference_lr is not None:
        return _torch_reference(row)
    spec, steps = row.spec, np.arange(row.steps)
    per_group = []
    for g in _groups(spec):
        momentum = spec.momentum(steps, g) if spec.sets_momentum else np.zeros(row.steps)
        per_group.append(np.stack([spec.lr(steps, g), momentum], axis=-1))
    return np.stack(per_group, axis=1)


@needs_jax
@pytest.mark.parametrize("cls", STEPPED, ids=STEPPED_IDS)
def test_optax_float32_x64_and_the_float32_only_path(cls):
    import jax

    from clr_optax import _family as optax_family

    row = ROWS[cls]
    reference = _reference_values(row)
    steps = np.arange(row.steps)
    for g in _groups(row.spec):
        for i, what in enumerate(_whats(row.spec)):
            ref = reference[:, g, i]
            name = f"conformance {cls.__name__}"
            schedule = optax_family.schedule_of(row.spec, what, g)
            ours = np.asarray(jax.jit(schedule)(steps))
            check_float32(name, what, ours, ref, max_ulp=0, min_exact=1.0)
            # a large batch under vmap (on CPU a cosine's values are decided from a fast one there)
            batch = np.resize(steps, 3 * 4096 + 5)
            batched = np.asarray(jax.jit(jax.vmap(schedule))(batch))
            np.testing.assert_array_equal(batched, ours[batch], err_msg=f"{name} {what}: a batch under vmap")
            tpu = np.asarray(jax.jit(optax_family.schedule_of(row.spec, what, g, "float-float"))(steps))
            check_float32(name + " float32-only", what, tpu, ref, max_ulp=row.float32_only_ulps, min_exact=0.0)
            with jax.enable_x64(True):
                x64 = np.asarray(jax.jit(optax_family.schedule_of(row.spec, what, g))(steps))
            check_relative(name + " x64", what, x64, ref, rtol=1e-12, evaluator="conformance")


@needs_jax
@pytest.mark.parametrize("cls", STEPPED, ids=STEPPED_IDS)
def test_the_tpu_lowering_holds_no_float64(cls):
    import jax
    import jax.numpy as jnp

    import clr_optax

    spec = ROWS[cls].spec
    # Built for a TPU (platforms=): the path is picked when a schedule is built, for its platforms.
    schedules = [clr_optax.lr_schedule(spec, platforms="tpu")] + (
        [clr_optax.momentum_schedule(spec, platforms="tpu")] if spec.sets_momentum else []
    )
    for schedule in schedules:
        exported = jax.export.export(jax.jit(schedule), platforms=["tpu"])(jax.ShapeDtypeStruct((8,), jnp.int32))
        assert "f64" not in exported.mlir_module()


# ------------------------------------------------------------------------------ optimizers
@needs_jax
@pytest.mark.parametrize("cls", STEPPED, ids=STEPPED_IDS)
@pytest.mark.parametrize("optimizer", ["sgd", "sgd_nesterov", "adam", "adamw", "rmsprop"])
def test_every_optimizer_builds_and_steps(cls, optimizer):
    import jax.numpy as jnp

    import clr_optax

    spec = ROWS[cls].spec
    build = {
        "sgd": lambda g: clr_optax.sgd(spec, g, momentum=0.9),
        "sgd_nesterov": lambda g: clr_optax.sgd(spec, g, momentum=0.9, nesterov=True),
        "adam": lambda g: clr_optax.adam(spec, g),
        "adamw": lambda g: clr_optax.adamw(spec, g),
        "rmsprop": lambda g: clr_optax.rmsprop(spec, g, momentum=0.5),
    }[optimizer]
    for g in _groups(spec):
        tx = build(g)
        params = jnp.ones(3)
        state = tx.init(params)
        for k in range(3):
            updates, state = tx.update(jnp.full(3, 0.5), state, params)
            params = params + updates
            assert np.all(np.isfinite(np.asarray(params)))
            assert float(clr_optax.current_hyperparams(state)["learning_rate"]) == pytest.approx(
                float(spec.lr(k, g)), rel=1e-6
            )


# ------------------------------------------------------------------------------ golden values, CLI
def test_golden_values_cover_every_type():
    from .make_golden_family import CONFIGS
    from .make_golden_optax_names import CONFIGS as OPTAX_NAMES  # golden/optax_names.npz: no torch class

    from .make_golden_huggingface import CONFIGS as HUGGING_FACE_CONFIGS  # golden/huggingface.npz

    CONFIGS = {**CONFIGS, **{f"optax_names/{name}": config for name, config in OPTAX_NAMES.items()}}
    CONFIGS.update({f"huggingface/{name}": config for name, config in HUGGING_FACE_CONFIGS.items()})
    CONFIGS.update({f"timm/{name}": config for name, config in _timm_golden().CONFIGS.items()})  # golden/timm.npz
    covered = {type(spec) for spec, _ in CONFIGS.values()} | {CyclicSpec}  # CyclicLR: golden/torch_cyclic.npz
    for spec, _ in CONFIGS.values():
        covered |= {type(phase) for _, phase in spec.phases}
    assert covered == set(STEPPED)


@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_cli_show_and_check(cls, tmp_path, capsys):
    if ROWS[cls].from_torch_kwargs and "lr_lambda" in ROWS[cls].from_torch_kwargs:
        pytest.skip("a spec holding a function has no JSON form for the CLI to read")
    path = tmp_path / "spec.json"
    path.write_text(ROWS[cls].spec.to_json())
    assert cli.main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert cls.TORCH_CLASS in out and ROWS[cls].spec.describe() in out
    if (HAS_TORCH or HAS_JAX) and not ROWS[cls].metric_driven:
        assert cli.main(["check", str(path), "--steps", str(ROWS[cls].steps)]) == 0, capsys.readouterr()
