"""clr_torch.CyclicLR against torch's CyclicLR: bit for bit, in real optimizers, state dicts both ways."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")

import copy
import warnings

import torch
from torch.optim.lr_scheduler import CyclicLR as TorchCyclicLR

import clr_torch
from clr_spec import CyclicSpec

from ._helpers import CONFIGS, REPORT, ParityRow

OPTIMIZERS = {
    "sgd": lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda groups: torch.optim.Adam(groups, lr=0.1),
    "adamw": lambda groups: torch.optim.AdamW(groups, lr=0.1, weight_decay=0.01),
    "rmsprop": lambda groups: torch.optim.RMSprop(groups, lr=0.1, momentum=0.5),
}


def _momentum(group: dict):
    return group["betas"][0] if "betas" in group else group.get("momentum")


def _as_number(v):
    return v.item() if isinstance(v, torch.Tensor) else v


def train(
    scheduler_cls, optimizer: str, kwargs: dict, steps: int, *, tensor_lr: bool = False, groups: int = 1, seed: int = 0
):
    """A real training loop; returns per-step (lr, momentum) of every group and the final params."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(*[torch.nn.Linear(4, 4) for _ in range(groups)])
    lr = torch.tensor(0.1) if tensor_lr else 0.1
    param_groups = [{"params": layer.parameters(), "lr": lr.clone() if tensor_lr else lr} for layer in model]
    opt = OPTIMIZERS[optimizer](param_groups)
    sched = scheduler_cls(opt, **kwargs)
    trace = []
    data = torch.randn(8, 4)
    for _ in range(steps):
        trace.append([(_as_number(g["lr"]), _momentum(g)) for g in opt.param_groups])
        loss = model(data).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return trace, [p.detach().clone() for p in model.parameters()], sched, opt


def _record(config: str, n: int) -> None:
    REPORT.add(ParityRow("clr_torch", config, "lr+momentum", "float64", n, 0.0, 1.0))


TORCH_CONFIGS = {name: kw for name, kw in CONFIGS.items() if not isinstance(kw["base_lr"], list)}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("name", sorted(TORCH_CONFIGS))
def test_bitwise_equal_in_training(name, optimizer):
    kwargs = TORCH_CONFIGS[name]
    ref, ref_params, _, _ = train(TorchCyclicLR, optimizer, kwargs, 400)
    ours, our_params, _, _ = train(clr_torch.CyclicLR, optimizer, kwargs, 400)
    assert ours == ref
    for a, b in zip(our_params, ref_params):
        assert torch.equal(a, b)
    _record(f"{name} / {optimizer}", 400)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_per_group_lists_bitwise(optimizer):
    kwargs = CONFIGS["per_group"]
    ref, _, _, _ = train(TorchCyclicLR, optimizer, kwargs, 9000, groups=3)
    ours, _, _, _ = train(clr_torch.CyclicLR, optimizer, kwargs, 9000, groups=3)
    assert ours == ref
    _record(f"per_group / {optimizer}", 9000)


@pytest.mark.parametrize("name", ["triangular", "exp_range", "fractional", "custom_cycle"])
def test_tensor_lrs_bitwise_and_filled_in_place(name):
    kwargs = dict(CONFIGS[name])
    kwargs["base_lr"] = torch.tensor(kwargs["base_lr"])
    kwargs["max_lr"] = torch.tensor(kwargs["max_lr"])
    ref, _, _, ref_opt = train(TorchCyclicLR, "adam", kwargs, 300, tensor_lr=True)
    ours, _, sched, opt = train(clr_torch.CyclicLR, "adam", kwargs, 300, tensor_lr=True)
    assert ours == ref
    lr_tensor = opt.param_groups[0]["lr"]
    assert isinstance(lr_tensor, torch.Tensor)
    before = lr_tensor.data_ptr()
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"].data_ptr() == before, "lr tensor must be updated in place"
    assert isinstance(sched.get_last_lr()[0], torch.Tensor)
    assert sched.get_last_lr()[0] is not opt.param_groups[0]["lr"]


class HalvingEvery:
    """A callable-object scale function: torch saves its __dict__ in the state dict."""

    def __init__(self, period: int):
        self.period = period

    def __call__(self, x):
        return 0.5 ** (x // self.period)


def test_callable_object_scale_fn_and_its_state():
    kw = dict(base_lr=0.01, max_lr=0.1, step_size_up=5, scale_fn=HalvingEvery(3), scale_mode="cycle")
    ref, _, ref_sched, _ = train(TorchCyclicLR, "sgd", kw, 200)
    ours, _, our_sched, _ = train(clr_torch.CyclicLR, "sgd", kw, 200)
    assert ours == ref
    assert our_sched.state_dict() == ref_sched.state_dict()
    assert our_sched.state_dict()["_scale_fn_custom"] == {"period": 3}


@pytest.mark.parametrize("direction", ["torch->ours", "ours->torch"])
@pytest.mark.parametrize("name", ["triangular2_short", "exp_range", "fractional", "custom_cycle"])
def test_state_dict_interchange_continues_identically(name, direction):
    kwargs = CONFIGS[name]
    source_cls, target_cls = (
        (TorchCyclicLR, clr_torch.CyclicLR) if direction == "torch->ours" else (clr_torch.CyclicLR, TorchCyclicLR)
    )
    _, _, source, source_opt = train(source_cls, "sgd", kwargs, 37)
    saved = copy.deepcopy(source.state_dict())
    untouched = copy.deepcopy(saved)

    params = [torch.nn.Parameter(torch.zeros(2))]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    target = target_cls(opt, **kwargs)
    target.load_state_dict(saved)
    if target_cls is clr_torch.CyclicLR:
        assert saved == untouched, "our load_state_dict must not modify its argument"
    source_opt._opt_called = opt._opt_called = True
    for _ in range(60):
        source.step()
        target.step()
        assert target.get_last_lr() == source.get_last_lr()
        assert _momentum(opt.param_groups[0]) == _momentum(source_opt.param_groups[0])


def test_triangular2_past_1024_cycles_no_overflow():
    kw = dict(base_lr=0.001, max_lr=0.01, step_size_up=1, mode="triangular2")  # 2-step cycles
    params = [torch.nn.Parameter(torch.zeros(1))]
    theirs = TorchCyclicLR(torch.optim.SGD(params, lr=0.1, momentum=0.9), **kw)
    ours = clr_torch.CyclicLR(torch.optim.SGD(params, lr=0.1, momentum=0.9), **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2046):
            theirs.step()
            ours.step()
            assert ours.get_last_lr() == theirs.get_last_lr()
        with pytest.raises(OverflowError):
            for _ in range(10):
                theirs.step()
        for _ in range(3000):
            ours.step()
    assert ours.get_last_lr() == [0.001]
    assert ours.optimizer.param_groups[0]["momentum"] == 0.9


def test_from_spec_and_spec_round_trip():
    spec = CyclicSpec(**CONFIGS["per_group"])
    model = torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(3)])
    opt = torch.optim.SGD([{"params": m.parameters()} for m in model], lr=0.1, momentum=0.9)
    sched = clr_torch.CyclicLR.from_spec(opt, spec)
    assert sched.spec == spec
    assert CyclicSpec.from_torch(sched.state_dict()) == spec
    ref = TorchCyclicLR(
        torch.optim.SGD([{"params": m.parameters()} for m in model], lr=0.1, momentum=0.9), **spec.torch_kwargs()
    )
    assert sched.state_dict() == ref.state_dict()


def test_resume_with_last_epoch_has_no_initial_lr_leak():
    """torch's resume (last_epoch=K) computes its first lr from the groups' initial_lr, not
    base_lr (its first step runs before CyclicLR sets base_lrs); ours uses base_lr."""
    spec = CyclicSpec(**CONFIGS["triangular_asym"])
    p = [torch.nn.Parameter(torch.zeros(1))]
    opt_a = torch.optim.SGD([{"params": p, "initial_lr": 0.1}], lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD([{"params": p, "initial_lr": 0.1}], lr=0.1, momentum=0.9)
    ours = clr_torch.CyclicLR.from_spec(opt_a, spec, last_epoch=499)
    theirs = TorchCyclicLR(opt_b, **spec.torch_kwargs(), last_epoch=499)
    assert ours.get_last_lr() == [float(spec.lr(500))]
    leaked = 0.1 + (spec.max_lr - 0.1) * ((500 / 1001 - 1) / (300 / 1001 - 1))
    assert theirs.get_last_lr()[0] == pytest.approx(leaked, rel=1e-12)
    opt_a._opt_called = opt_b._opt_called = True
    for k in range(501, 3000):
        ours.step()
        theirs.step()
        assert ours.get_last_lr() == theirs.get_last_lr() == [float(spec.lr(k))]


def test_load_state_dict_refuses_what_is_not_a_valid_cyclic_state():
    p = [torch.nn.Parameter(torch.zeros(1))]
    sched = clr_torch.CyclicLR(torch.optim.SGD(p, lr=0.1, momentum=0.9), base_lr=0.01, max_lr=0.1)
    step_lr = torch.optim.lr_scheduler.StepLR(torch.optim.SGD(p, lr=0.1), step_size=3)
    with pytest.raises(ValueError, match="not a CyclicLR state"):
        sched.load_state_dict(step_lr.state_dict())
    bad = {**sched.state_dict(), "max_lrs": [float("nan")]}
    with pytest.raises(ValueError, match="must be finite"):
        sched.load_state_dict(bad)


def test_get_lr_outside_step_warns_like_torch():
    p = [torch.nn.Parameter(torch.zeros(1))]
    sched = clr_torch.CyclicLR(torch.optim.SGD(p, lr=0.1, momentum=0.9), base_lr=0.01, max_lr=0.1)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
