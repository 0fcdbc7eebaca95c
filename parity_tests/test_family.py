"""Warmups, cycles and tails: the phase specs and SequentialSpec against torch's own
SequentialLR of LinearLR/ConstantLR, CyclicLR and CosineAnnealingLR/ConstantLR, built by hand
as users build it. Whole trajectories (milestones included), two param groups, momentum,
resumes mid-warmup and mid-cycle, torch -> state -> JSON -> optax, and training."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")
pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import torch  # noqa: E402
from torch.optim import lr_scheduler as T  # noqa: E402

import clr_optax  # noqa: E402
import clr_spec  # noqa: E402
import clr_torch  # noqa: E402
from clr_optax import _family as optax_family  # noqa: E402
from clr_spec import ConstantSpec, CosineAnnealingSpec, CyclicSpec, LinearSpec, SequentialSpec  # noqa: E402

from . import _training  # noqa: E402
from ._helpers import REPORT, ParityRow, check_float32, check_relative, torch_trace  # noqa: E402

GROUP_LRS = [0.05, 0.1]  # the optimizer's lr per group: what LinearLR & co. scale
MOMENTUM = 0.9  # the optimizer's momentum
STEPS = 300


def cyclic_kwargs(mode: str, cycle_momentum: bool = True) -> dict:
    # torch stores momentum bounds only when it cycles momentum: leave them at their defaults otherwise.
    momenta = dict(base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.95]) if cycle_momentum else {}
    return dict(
        base_lr=[1e-3, 2e-3],
        max_lr=[1e-2, 3e-2],
        step_size_up=15,
        step_size_down=25,
        mode=mode,
        gamma=0.99,
        cycle_momentum=cycle_momentum,
        **momenta,
    )


def case(
    name: str, mode: str = "triangular", warmup: str = "linear", tail: str = "cosine", cycle_momentum: bool = True
):
    """(torch builder, spec): torch's SequentialLR, and the spec that says the same."""
    milestones = [20, 140]
    phases, builders = [], []
    if warmup == "linear":
        phases.append(LinearSpec(lr=GROUP_LRS, start_factor=0.1, total_iters=20))
        builders.append(lambda opt: T.LinearLR(opt, start_factor=0.1, total_iters=20))
    elif warmup == "constant":
        phases.append(ConstantSpec(lr=GROUP_LRS, factor=0.2, total_iters=10))
        builders.append(lambda opt: T.ConstantLR(opt, factor=0.2, total_iters=10))
    else:
        milestones = milestones[1:]
    phases.append(CyclicSpec(**cyclic_kwargs(mode, cycle_momentum)))
    builders.append(lambda opt: T.CyclicLR(opt, **cyclic_kwargs(mode, cycle_momentum)))
    # The lr torch's tail scales is the groups' initial_lr, set by the first scheduler built:
    # the optimizer's lr after a warmup, but CyclicLR's base_lr when CyclicLR comes first.
    tail_lr = GROUP_LRS if warmup else cyclic_kwargs(mode)["base_lr"]
    if tail == "cosine":
        phases.append(CosineAnnealingSpec(lr=tail_lr, T_max=60, eta_min=1e-4))
        builders.append(lambda opt: T.CosineAnnealingLR(opt, T_max=60, eta_min=1e-4))
    else:
        phases.append(ConstantSpec(lr=tail_lr, factor=0.5, total_iters=1000))
        builders.append(lambda opt: T.ConstantLR(opt, factor=0.5, total_iters=1000))

    def build(opt):
        return T.SequentialLR(opt, [b(opt) for b in builders], milestones=milestones)

    spec = SequentialSpec(phases, milestones, momentum=None if cycle_momentum else MOMENTUM)
    return pytest.param(build, spec, id=name)


CASES = [case(f"linear-{m}-cosine", mode=m) for m in ("triangular", "triangular2", "exp_range")] + [
    case("constant-triangular2-constant", "triangular2", warmup="constant", tail="constant"),
    case("linear-no-momentum-cosine", cycle_momentum=False),
    case("cyclic-then-cosine", "exp_range", warmup=None),
]


def optimizer(tensor_lr: bool = False):
    params = [torch.nn.Parameter(torch.zeros(2)) for _ in GROUP_LRS]
    return torch.optim.SGD(
        [{"params": [p], "lr": torch.tensor(lr) if tensor_lr else lr} for p, lr in zip(params, GROUP_LRS)],
        lr=0.5,
        momentum=MOMENTUM,
    )


def trace(build, steps: int = STEPS, tensor_lr: bool = False) -> np.ndarray:
    return torch_trace(optimizer(tensor_lr), build, steps)


@pytest.mark.parametrize("build, spec", CASES)
@pytest.mark.parametrize("tensor_lr", [False, True], ids=["float-lr", "tensor-lr"])
def test_clr_torch_scheduler_is_torch_bitwise_and_resumes_anywhere(build, spec, tensor_lr):
    reference = trace(build, tensor_lr=tensor_lr)
    ours = trace(lambda opt: clr_torch.scheduler(opt, spec), tensor_lr=tensor_lr)
    np.testing.assert_array_equal(ours, reference)
    for k in (7, 20, 33, 140, 200):  # mid-warmup, a milestone, mid-cycle, the tail
        resumed = trace(lambda opt, k=k: clr_torch.scheduler(opt, spec, step=k), STEPS - k, tensor_lr=tensor_lr)
        np.testing.assert_array_equal(resumed, reference[k:], err_msg=f"resumed at {k}")
    REPORT.add(
        ParityRow(
            "clr_torch.scheduler",
            spec.specs[-2].mode if len(spec.specs) > 2 else "sequential",
            "lr+momentum",
            "float64",
            STEPS * 6,
            0.0,
            1.0,
        )
    )


@pytest.mark.parametrize("build, spec", CASES)
def test_spec_and_optax_against_torch(build, spec):
    reference = trace(build)
    steps = np.arange(STEPS)
    name = "sequential"
    for g in range(2):
        torch_lr, torch_momentum = reference[:, g, 0], reference[:, g, 1]
        check_relative(name, "lr", spec.lr(steps, g), torch_lr, rtol=1e-12, evaluator="SequentialSpec (numpy)")
        np.testing.assert_array_equal(spec.momentum(steps, g), torch_momentum)
        lr32 = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(steps))
        check_float32(name, "lr", lr32, torch_lr, max_ulp=1, min_exact=0.999, evaluator="clr_optax sequential")
        momentum32 = np.asarray(jax.jit(clr_optax.momentum_schedule(spec, g))(steps))
        check_float32(
            name, "momentum", momentum32, torch_momentum, max_ulp=0, min_exact=1.0, evaluator="clr_optax sequential"
        )
        with jax.enable_x64(True):
            lr64 = np.asarray(jax.jit(clr_optax.lr_schedule(spec, g))(steps))
        check_relative(name, "lr", lr64, torch_lr, rtol=1e-12, evaluator="clr_optax sequential (x64)")


@pytest.mark.parametrize("build, spec", CASES)
def test_float32_only_path_bound(build, spec):
    """TPUs have no float64: there the phases are evaluated in float32 (the cycles keep their
    float-float path). Its bound, measured here on CPU, is stated in docs/guides/schedules.md."""
    reference = trace(build)
    for g in range(2):
        ours = np.asarray(jax.jit(optax_family.schedule_of(spec, "lr", g, "float-float"))(np.arange(STEPS)))
        check_float32(
            "sequential",
            "lr",
            ours,
            reference[:, g, 0],
            max_ulp=8,
            min_exact=0.5,
            evaluator="clr_optax sequential, float32-only (TPU) path",
        )


@pytest.mark.parametrize("build, spec", CASES)
def test_torch_state_to_json_to_optax(build, spec):
    opt = optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build(opt)
        for _ in range(57):
            opt.step()
            sched.step()
    state = torch.load(_saved({"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}), weights_only=True)
    read = clr_spec.from_torch(state["scheduler"], optimizer_state=state["optimizer"])
    assert read == spec and clr_spec.from_torch(sched) == spec
    again = clr_spec.from_json(read.to_json())
    assert again == spec and state["scheduler"]["last_epoch"] == 57
    tx_lr = np.asarray(clr_optax.lr_schedule(again, 1)(jnp.arange(57, 80)))
    np.testing.assert_array_max_ulp(tx_lr, trace(build, 80)[57:, 1, 0].astype(np.float32), maxulp=1)


def _saved(obj):
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_training_with_warmup_cycles_and_tail(optimizer_name):
    spec = SequentialSpec(
        [
            LinearSpec(lr=[0.02, 0.02], start_factor=0.1, total_iters=30),
            CyclicSpec(
                base_lr=0.01,
                max_lr=0.2,
                step_size_up=40,
                step_size_down=60,
                mode="triangular2",
                base_momentum=0.85,
                max_momentum=0.95,
            ),
            CosineAnnealingSpec(lr=[0.02, 0.02], T_max=70),
        ],
        milestones=[30, 230],
    )
    if optimizer_name == "adam":
        spec = spec.replace(
            specs=[
                p.replace(lr=0.002) if not isinstance(p, CyclicSpec) else p.replace(base_lr=1e-3, max_lr=1e-2)
                for p in spec.specs
            ]
        )
        make_torch = lambda groups: torch.optim.Adam(groups, lr=0.002)
        tx = clr_optax.adam(spec)
    else:
        make_torch = lambda groups: torch.optim.SGD(groups, lr=0.02, momentum=0.9)
        tx = clr_optax.sgd(spec, momentum=0.9)
    phases = spec.specs

    def torch_sequential(opt):
        return T.SequentialLR(
            opt,
            [
                T.LinearLR(opt, start_factor=0.1, total_iters=30),
                T.CyclicLR(opt, **phases[1].torch_kwargs()),
                T.CosineAnnealingLR(opt, T_max=70),
            ],
            milestones=[30, 230],
        )

    _training.assert_trains_like_torch(make_torch, torch_sequential, tx)


# ------------------------------------------------------------------ the traps, as torch has them
def test_linear_warmup_ramps_to_the_optimizers_lr_not_base_lr():
    """torch's LinearLR scales the optimizer's lr (0.01), not CyclicLR's base_lr (0.001): it ramps
    to 0.01 * (0.1 + 0.9 * 9/10) = 0.0091 and then the lr drops to 0.001. The spec says so with
    LinearSpec(lr=0.01)."""

    def build(opt):
        return T.SequentialLR(
            opt,
            [
                T.LinearLR(opt, start_factor=0.1, total_iters=10),
                T.CyclicLR(opt, base_lr=0.001, max_lr=0.006, step_size_up=20),
            ],
            milestones=[10],
        )

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build(opt)
        lrs = []
        for _ in range(12):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
    assert lrs[9] == pytest.approx(0.0091) and lrs[10] == pytest.approx(0.001)
    spec = SequentialSpec(
        [
            LinearSpec(lr=0.01, start_factor=0.1, total_iters=10),
            CyclicSpec(base_lr=0.001, max_lr=0.006, step_size_up=20),
        ],
        milestones=[10],
    )
    np.testing.assert_allclose(spec.lr(np.arange(12)), lrs, rtol=1e-12)
    fixed = spec.replace(specs=[LinearSpec(lr=0.001, start_factor=0.1, total_iters=10), spec.specs[1]])
    assert fixed.lr(9).item() == pytest.approx(0.00091) and fixed.lr(10).item() == 0.001  # warms up to base_lr


def test_chained_linear_and_cyclic_is_no_warmup():
    """ChainedScheduler(LinearLR, CyclicLR): CyclicLR overwrites the lr every step, so there is
    no warmup at all after the first step."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chained = T.ChainedScheduler(
            [
                T.LinearLR(opt, start_factor=0.1, total_iters=10),
                T.CyclicLR(opt, base_lr=0.001, max_lr=0.006, step_size_up=20),
            ]
        )
        lrs = []
        for _ in range(8):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            chained.step()
    cycle = CyclicSpec(base_lr=0.001, max_lr=0.006, step_size_up=20).lr(np.arange(8))
    np.testing.assert_allclose(lrs[1:], cycle[1:], rtol=1e-12)


# ------------------------------------------------------------------ specs: values, errors, JSON
def test_phase_values_by_hand():
    assert LinearSpec(lr=2.0, start_factor=0.5, end_factor=1.0, total_iters=4).lr(range(6)).tolist() == [
        1.0,
        1.25,
        1.5,
        1.75,
        2.0,
        2.0,
    ]
    assert ConstantSpec(lr=[1.0, 3.0], factor=0.5, total_iters=2).lr(range(3), group=1).tolist() == [1.5, 1.5, 3.0]
    assert CosineAnnealingSpec(lr=1.0, T_max=4).lr([0, 2, 4]).tolist() == pytest.approx(
        [1.0, 0.5, 0.0], rel=1e-15, abs=1e-30
    )


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: LinearSpec(lr=0.1, start_factor=0.0), ValueError, r"start_factor must be in \(0.0, 1.0\]"),
        (lambda: LinearSpec(lr=0.1, end_factor=1.5), ValueError, r"end_factor must be in \[0.0, 1.0\]"),
        (lambda: LinearSpec(lr=0.1, total_iters=0), ValueError, "total_iters must be an int >= 1"),
        (lambda: LinearSpec(lr=0.1, total_iters=2.5), TypeError, "total_iters must be an int"),
        (lambda: LinearSpec(lr=-0.1), ValueError, "lr must be >= 0"),
        (lambda: ConstantSpec(lr=0.1, factor=0.0), ValueError, r"factor must be in \(0.0, 1.0\] \(torch divides by it"),
        (lambda: CosineAnnealingSpec(lr=0.1, T_max=0), ValueError, "T_max must be an int >= 1"),
        (lambda: CosineAnnealingSpec(lr=0.1, T_max=10, eta_min=-1e-3), ValueError, "eta_min must be >= 0"),
        (lambda: SequentialSpec([], []), ValueError, "specs must be a non-empty list"),
        (lambda: SequentialSpec([LinearSpec(lr=0.1), "cyclic"], [5]), TypeError, r"specs\[1\] must be a clr_spec"),
        (lambda: SequentialSpec([LinearSpec(lr=0.1), LinearSpec(lr=0.1)], []), ValueError, "one entry fewer"),
        (lambda: SequentialSpec([LinearSpec(lr=0.1)] * 3, [5, 5]), ValueError, "strictly increasing"),
        (lambda: SequentialSpec([LinearSpec(lr=0.1)] * 2, [0]), ValueError, r"milestones\[0\] must be an int >= 1"),
        (
            lambda: SequentialSpec([LinearSpec(lr=[0.1, 0.2]), LinearSpec(lr=[0.1, 0.2, 0.3])], [5]),
            ValueError,
            "disagree on the number of param groups",
        ),
        (lambda: SequentialSpec([LinearSpec(lr=0.1)] * 2, [5]).momentum(0), ValueError, "no phase sets momentum"),
        (lambda: LinearSpec(lr=0.1).momentum(0), ValueError, "LinearLR does not set momentum"),
        (lambda: clr_optax.momentum_schedule(LinearSpec(lr=0.1)), ValueError, "does not set momentum"),
        (lambda: clr_optax.lr_schedule(0.1), TypeError, "spec must be a clr_spec schedule spec"),
        (lambda: clr_spec.from_dict({"format": "clr.WarmupSpec", "version": 1}), ValueError, "format must be one of"),
        (
            lambda: clr_spec.from_torch({"gamma": 0.5, "zeta": 1}),
            ValueError,
            "not the state of a known torch scheduler",
        ),
    ],
)
def test_bad_specs_get_clear_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize("build, spec", CASES)
def test_json_round_trip_and_equality(build, spec):
    text = spec.to_json()
    assert clr_spec.from_json(text) == spec and SequentialSpec.from_json(text) == spec
    for phase in spec.specs:
        assert clr_spec.from_json(phase.to_json()) == phase
    assert hash(clr_spec.from_json(text)) == hash(spec)


def test_version_1_cyclic_documents_still_load():
    document = (
        '{"format": "clr.CyclicSpec", "version": 1, "base_lr": 0.001, "max_lr": 0.006, '
        '"step_size_up": 2000, "step_size_down": null, "mode": "triangular", "gamma": 1.0, '
        '"scale_mode": "cycle", "cycle_momentum": true, "base_momentum": 0.8, "max_momentum": 0.9}'
    )
    assert clr_spec.from_json(document) == CyclicSpec(base_lr=0.001, max_lr=0.006)


@pytest.mark.parametrize(
    "torch_cls, kwargs, spec",
    [
        (
            T.LinearLR,
            dict(start_factor=0.25, end_factor=0.75, total_iters=7),
            LinearSpec(lr=GROUP_LRS, start_factor=0.25, end_factor=0.75, total_iters=7),
        ),
        (T.ConstantLR, dict(factor=0.5, total_iters=3), ConstantSpec(lr=GROUP_LRS, factor=0.5, total_iters=3)),
        (T.CosineAnnealingLR, dict(T_max=9, eta_min=1e-3), CosineAnnealingSpec(lr=GROUP_LRS, T_max=9, eta_min=1e-3)),
    ],
)
def test_each_phase_alone(torch_cls, kwargs, spec):
    reference = trace(lambda opt: torch_cls(opt, **kwargs), 40)
    assert clr_spec.from_torch(trace_scheduler(torch_cls, kwargs)) == spec
    np.testing.assert_array_equal(trace(lambda opt: clr_torch.scheduler(opt, spec), 40), reference)
    for g in range(2):
        np.testing.assert_allclose(spec.lr(np.arange(40), g), reference[:, g, 0], rtol=1e-12)
        np.testing.assert_array_max_ulp(
            np.asarray(clr_optax.lr_schedule(spec, g)(jnp.arange(40))), reference[:, g, 0].astype(np.float32), maxulp=1
        )


def trace_scheduler(torch_cls, kwargs):
    return torch_cls(optimizer(), **kwargs)


@pytest.mark.parametrize("k", [7, 20, 90, 200])
def test_optax_resumes_a_sequence_with_set_count(k):
    """set_count works for any spec: mid-warmup, at a milestone, mid-cycle, in the tail."""
    _, spec = CASES[1].values
    tx = clr_optax.sgd(spec, group=1)
    params = jnp.zeros(2)
    state = clr_optax.set_count(tx.init(params), k)
    for step in range(k, k + 5):
        _, state = tx.update(jnp.ones(2), state, params)
        hp = clr_optax.current_hyperparams(state)
        assert float(hp["learning_rate"]) == np.float32(spec.lr(step, 1))
        assert float(hp["momentum"]) == np.float32(spec.momentum(step, 1))
