"""A compiled optimizer step with tensor hyperparameters, driven by clr_torch.CyclicLR, never recompiles.

torch.compile guards on Python floats in ``param_groups``: a scheduler that writes a new float
every step forces a recompile every step. With tensor lrs (and tensor betas), CyclicLR fills the
tensors in place, so one compiled graph serves every step. Counted with dynamo's
``CompileCounterWithBackend`` around inductor.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")

import warnings

import torch
from torch._dynamo.testing import CompileCounterWithBackend

import clr_torch

STEPS = 26  # two full cycles of 5 + 7 steps, and two more


def _make(kind: str, tensors: bool):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    lr = torch.tensor(0.01) if tensors else 0.01
    if kind == "adam":
        betas = (torch.tensor(0.9), torch.tensor(0.999)) if tensors else (0.9, 0.999)
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas, foreach=False)
        kwargs = dict(base_momentum=0.85, max_momentum=0.95)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, foreach=False)
        kwargs = dict(cycle_momentum=False, mode="triangular2")
    sched = clr_torch.CyclicLR(opt, base_lr=1e-3, max_lr=1e-2, step_size_up=5, step_size_down=7, **kwargs)
    return model, opt, sched


def _train(model, opt, sched, step_fn, counter=None, frames=None):
    x = torch.linspace(-1, 1, 32).reshape(8, 4)
    seen = []
    for _ in range(STEPS):
        group = opt.param_groups[0]
        seen.append((float(group["lr"]), float(group["betas"][0] if "betas" in group else group["momentum"])))
        model(x).pow(2).mean().backward()
        step_fn()
        sched.step()
        opt.zero_grad()
        if counter is not None:
            frames.append(counter.frame_count)
    return seen


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_compiled_step_with_tensor_hyperparams_compiles_once(kind):
    model, opt, sched = _make(kind, tensors=True)
    counter = CompileCounterWithBackend("inductor")
    compiled_step = torch.compile(opt.step, backend=counter)
    frames = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "optimizer.step() has been overridden": it has
        seen = _train(model, opt, sched, compiled_step, counter, frames)
    # SGD's first step creates its momentum buffers (a second graph, with or without a
    # scheduler); after that, two full cycles of new lrs (and betas) reuse the same graph.
    assert frames[-1] == frames[1] == (1 if kind == "adam" else 2)

    eager_model, eager_opt, eager_sched = _make(kind, tensors=False)
    expected = _train(eager_model, eager_opt, eager_sched, eager_opt.step)
    # The tensors are float32: they hold float32 of the float values, at every step
    # (SGD's momentum stays a float: it does not cycle here).
    float32 = lambda v: float(torch.tensor(v, dtype=torch.float32))
    momentum_as_stored = float32 if kind == "adam" else float
    assert seen == [(float32(lr), momentum_as_stored(m)) for lr, m in expected]
    assert len({lr for lr, _ in seen}) >= 10  # the lr really moved
    for compiled, eager in zip(model.parameters(), eager_model.parameters()):
        torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-7)


def test_float_hyperparams_do_recompile():
    """The counter can see recompiles: with float lrs the same loop compiles more than once."""
    model, opt, sched = _make("sgd", tensors=False)
    counter = CompileCounterWithBackend("eager")
    compiled_step = torch.compile(opt.step, backend=counter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _train(model, opt, sched, compiled_step)
    assert counter.frame_count > 1
