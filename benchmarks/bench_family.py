"""Every schedule of the family: exactness against torch, speed against optax's nearest built-in
and against the write floor, cost inside a ``lax.scan`` training step, and lowering time.

    python benchmarks/bench_family.py

All in one process, each ratio the median of per-round ratios of A/B interleaved rounds
(``_timing``), timed in CPU time (``time.process_time``: this process's threads, which other
processes on a shared machine disturb far less than wall time):

- ``exactness``: float32 values of ``clr_optax.lr_schedule(spec)`` over ``STEPS`` (2**20)
  steps against float32 of torch's own scheduler stepped ``STEPS`` times (its recursion, as
  torch runs it); optax's counterpart's figures beside them.
- ``speed``: ``jax.jit(jax.vmap(schedule))`` over the ``STEPS`` counts, ours / optax's, and
  ours / the floor (``FLOOR``: writing ``STEPS`` float32 values).
- ``scan_overhead``: a tiny MLP (32 -> 64 -> 10, batch 64) trained ``SCAN_STEPS`` steps in one
  ``lax.scan`` with ``inject_hyperparams(sgd)``, the schedule's lr against a constant lr.
- ``lowering``: lowering and compiling ``jax.jit(schedule)`` for 1024 counts (a schedule built
  beforehand, once per call), ours / ``optax.cosine_decay_schedule``'s.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

import clr_optax
from clr_spec import (
    ConstantSpec,
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
)

from _timing import float32_exactness, jit_vmap_ratio, median_ratio

STEPS = 2**20
SCAN_STEPS = 512
LR = 0.1
CPU = time.process_time


def FLOOR(count):  # noqa: N802 - a schedule, named as a constant
    """The write floor: a float32 value per count, nothing computed."""
    return jnp.full(jnp.shape(count), 1e-3, jnp.float32) + 0 * jnp.asarray(count).astype(jnp.float32)


def _decay_per_step(k):
    """LambdaLR's function: 0.99999**k, in Python (torch) and on a traced float (optax) alike."""
    return 0.99999**k


def _constant_factor(k):
    """MultiplicativeLR's function: the same factor every step (replayed on the host)."""
    return 0.99999


def _triangles(base: float, top: float, up: int, cycles: int) -> Callable:
    """A triangular cycle from optax's pieces: ``join_schedules`` of one linear ramp per half cycle."""
    pieces = [optax.linear_schedule(base, top, up), optax.linear_schedule(top, base, up)] * cycles
    return optax.join_schedules(pieces, [up * (i + 1) for i in range(len(pieces) - 1)])


@dataclasses.dataclass(frozen=True)
class Case:
    """One schedule: torch's scheduler, our spec of it, optax's nearest built-in, the speed target."""

    name: str
    torch: Callable[[Any], Any]  # optimizer -> torch's scheduler
    spec: Any
    optax_name: str
    optax: Callable[[], Callable]  # () -> optax's schedule
    target: float  # ours / optax's, at most


def cases() -> list[Case]:
    T = __import__("torch").optim.lr_scheduler
    sgdr_periods = [1000 * 2**n for n in range(11)]  # 11 periods cover 2**20 steps
    t0_flat = -(-STEPS // 11)  # T_mult=1: 11 equal periods over 2**20 steps
    cycles, up, warm = 5, 2000, 1000
    cyclic_end = warm + 2 * up * cycles
    sequence = SequentialSpec(
        [
            LinearSpec(lr=LR, start_factor=0.01, total_iters=warm),
            CyclicSpec(base_lr=0.01, max_lr=LR, step_size_up=up, cycle_momentum=False),
            CosineAnnealingSpec(lr=LR, T_max=STEPS - cyclic_end),
        ],
        milestones=[warm, cyclic_end],
    )

    def torch_sequence(opt):
        return T.SequentialLR(
            opt,
            [
                T.LinearLR(opt, start_factor=0.01, total_iters=warm),
                T.CyclicLR(opt, base_lr=0.01, max_lr=LR, step_size_up=up, cycle_momentum=False),
                T.CosineAnnealingLR(opt, T_max=STEPS - cyclic_end),
            ],
            milestones=[warm, cyclic_end],
        )

    return [
        Case(
            "OneCycleLR",
            lambda o: T.OneCycleLR(o, max_lr=LR, total_steps=STEPS),
            OneCycleSpec(max_lr=LR, total_steps=STEPS),
            "optax.cosine_onecycle_schedule",
            lambda: optax.cosine_onecycle_schedule(STEPS, LR),
            0.8,
        ),
        Case(
            "CosineAnnealingWarmRestarts T_mult=2",
            lambda o: T.CosineAnnealingWarmRestarts(o, T_0=1000, T_mult=2, eta_min=1e-4),
            WarmRestartsSpec(lr=LR, T_0=1000, T_mult=2, eta_min=1e-4),
            "optax.sgdr_schedule (11 periods)",
            lambda: optax.sgdr_schedule(
                [
                    dict(init_value=LR, peak_value=LR, warmup_steps=0, decay_steps=t, end_value=1e-4)
                    for t in sgdr_periods
                ]
            ),
            0.5,
        ),
        Case(
            "CosineAnnealingWarmRestarts T_mult=1",
            lambda o: T.CosineAnnealingWarmRestarts(o, T_0=t0_flat, eta_min=1e-4),
            WarmRestartsSpec(lr=LR, T_0=t0_flat, eta_min=1e-4),
            "optax.sgdr_schedule (11 periods)",
            lambda: optax.sgdr_schedule(
                [dict(init_value=LR, peak_value=LR, warmup_steps=0, decay_steps=t0_flat, end_value=1e-4)] * 11
            ),
            0.5,
        ),
        Case(
            "SequentialLR(LinearLR, CyclicLR, CosineAnnealingLR)",
            torch_sequence,
            sequence,
            "optax.join_schedules (linear, 10 linear ramps, cosine_decay)",
            lambda: optax.join_schedules(
                [
                    optax.linear_schedule(LR * 0.01, LR, warm),
                    _triangles(0.01, LR, up, cycles),
                    optax.cosine_decay_schedule(LR, STEPS - cyclic_end),
                ],
                [warm, cyclic_end],
            ),
            0.75,
        ),
        Case(
            "CyclicLR triangular",
            lambda o: T.CyclicLR(o, base_lr=0.01, max_lr=LR, step_size_up=up, cycle_momentum=False),
            CyclicSpec(base_lr=0.01, max_lr=LR, step_size_up=up, cycle_momentum=False),
            "optax.join_schedules (linear ramps, 262 cycles)",
            lambda: _triangles(0.01, LR, up, STEPS // (2 * up) + 1),
            1.0,
        ),
        Case(
            "StepLR",
            lambda o: T.StepLR(o, step_size=1000, gamma=0.99),
            StepSpec(lr=LR, step_size=1000, gamma=0.99),
            "optax.exponential_decay (staircase)",
            lambda: optax.exponential_decay(LR, transition_steps=1000, decay_rate=0.99, staircase=True),
            1.0,
        ),
        Case(
            "MultiStepLR",
            lambda o: T.MultiStepLR(o, milestones=[2**18, 2**19, 3 * 2**18], gamma=0.1),
            MultiStepSpec(lr=LR, milestones=[2**18, 2**19, 3 * 2**18], gamma=0.1),
            "optax.piecewise_constant_schedule",
            lambda: optax.piecewise_constant_schedule(LR, {2**18: 0.1, 2**19: 0.1, 3 * 2**18: 0.1}),
            1.0,
        ),
        Case(
            "ExponentialLR",
            lambda o: T.ExponentialLR(o, gamma=0.99999),
            ExponentialSpec(lr=LR, gamma=0.99999),
            "optax.exponential_decay",
            lambda: optax.exponential_decay(LR, transition_steps=1, decay_rate=0.99999),
            1.0,
        ),
        Case(
            "PolynomialLR",
            lambda o: T.PolynomialLR(o, total_iters=STEPS, power=2.0),
            PolynomialSpec(lr=LR, total_iters=STEPS, power=2.0),
            "optax.polynomial_schedule",
            lambda: optax.polynomial_schedule(LR, 0.0, power=2.0, transition_steps=STEPS),
            1.0,
        ),
        Case(
            "LinearLR",
            lambda o: T.LinearLR(o, start_factor=0.01, total_iters=10_000),
            LinearSpec(lr=LR, start_factor=0.01, total_iters=10_000),
            "optax.linear_schedule",
            lambda: optax.linear_schedule(LR * 0.01, LR, 10_000),
            1.0,
        ),
        Case(
            "ConstantLR",
            lambda o: T.ConstantLR(o, factor=0.5, total_iters=10_000),
            ConstantSpec(lr=LR, factor=0.5, total_iters=10_000),
            "optax.piecewise_constant_schedule",
            lambda: optax.piecewise_constant_schedule(LR * 0.5, {10_000: 2.0}),
            1.0,
        ),
        Case(
            "CosineAnnealingLR",
            lambda o: T.CosineAnnealingLR(o, T_max=STEPS),
            CosineAnnealingSpec(lr=LR, T_max=STEPS),
            "optax.cosine_decay_schedule",
            lambda: optax.cosine_decay_schedule(LR, STEPS),
            1.0,
        ),
        Case(
            "LambdaLR (0.99999**k)",
            lambda o: T.LambdaLR(o, lr_lambda=_decay_per_step),
            LambdaSpec(lr=LR, lr_lambda=_decay_per_step),
            "optax.exponential_decay",
            lambda: optax.exponential_decay(LR, transition_steps=1, decay_rate=0.99999),
            1.0,
        ),
        Case(
            "MultiplicativeLR (0.99999)",
            lambda o: T.MultiplicativeLR(o, lr_lambda=_constant_factor),
            MultiplicativeSpec(lr=LR, lr_lambda=_constant_factor, horizon=STEPS),
            "optax.exponential_decay",
            lambda: optax.exponential_decay(LR, transition_steps=1, decay_rate=0.99999),
            1.0,
        ),
    ]


def torch_values(make: Callable[[Any], Any], steps: int, lr: float = LR) -> np.ndarray:
    """The lr of each of ``steps`` updates, torch's scheduler stepped (``step()`` alone: the
    schedule does not depend on the optimizer's updates)."""
    import torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
    group = opt.param_groups[0]
    out = np.empty(steps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make(opt)
        step = sched.step
        for k in range(steps):
            out[k] = group["lr"]
            if k + 1 < steps:
                step()
    return out


def exactness(selected: Optional[list] = None) -> list[tuple]:
    """(name, evaluator, steps, fraction equal, worst ulp, max relative error), ours and optax's."""
    rows = []
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    for case in selected or cases():
        reference = torch_values(case.torch, STEPS)
        for label, schedule in (("clr_optax", clr_optax.lr_schedule(case.spec)), (case.optax_name, case.optax())):
            values = np.asarray(jax.jit(jax.vmap(schedule))(counts), np.float32)
            rows.append((case.name, label, STEPS, *float32_exactness(values, reference)))
    return rows


def speed(rounds: int = 7, repeats: int = 3, selected: Optional[list] = None) -> list[tuple]:
    """(name, our ms, optax's name, its ms, ours / optax's, its target, ours / the floor)."""
    rows = []
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    for case in selected or cases():
        ours = clr_optax.lr_schedule(case.spec)
        mine, theirs, ratio = jit_vmap_ratio(ours, case.optax(), counts, rounds=rounds, repeats=repeats, clock=CPU)
        _, floor, over_floor = jit_vmap_ratio(ours, FLOOR, counts, rounds=rounds, repeats=repeats, clock=CPU)
        rows.append((case.name, mine, case.optax_name, theirs, ratio, case.target, over_floor, floor))
    return rows


def _train(schedule_or_lr: Any) -> Callable:
    """A jitted ``lax.scan`` of ``SCAN_STEPS`` SGD steps of a tiny MLP (32 -> 64 -> 10, batch 64)."""
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule_or_lr)
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    xs = jax.random.normal(k1, (SCAN_STEPS, 64, 32))
    ys = jnp.arange(SCAN_STEPS * 64).reshape(SCAN_STEPS, 64) % 10

    def loss(params, x, y):
        logits = jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def train(params, state):
        def body(carry, batch):
            p, s = carry
            grads = jax.grad(loss)(p, *batch)
            updates, s = tx.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), None

        return jax.lax.scan(body, (params, state), (xs, ys))[0]

    params = {
        "w1": jax.random.normal(k2, (32, 64)) * 0.1,
        "b1": jnp.zeros(64),
        "w2": jax.random.normal(k3, (64, 10)) * 0.1,
        "b2": jnp.zeros(10),
    }
    carry = [params, tx.init(params)]

    def run():
        carry[:] = train(*carry)
        jax.block_until_ready(carry[0])

    return run


def scan_overhead(rounds: int = 9, repeats: int = 3, selected: Optional[list] = None) -> list[tuple]:
    """(name, µs per scan step with the schedule, with a constant lr, the overhead)."""
    rows = []
    constant = _train(LR)
    for case in selected or cases():
        ours = _train(clr_optax.lr_schedule(case.spec))
        ratio, times = median_ratio(
            {"schedule": ours, "constant": constant}, "schedule", "constant", rounds=rounds, repeats=repeats, clock=CPU
        )
        rows.append((case.name, times["schedule"] / SCAN_STEPS * 1e6, times["constant"] / SCAN_STEPS * 1e6, ratio - 1))
    return rows


def _lower_and_compile(build: Callable[[], Callable], builds: int) -> Callable[[], object]:
    """A call that lowers and compiles ``jax.jit`` of a schedule built beforehand (``builds`` of
    them, one per call: nothing traced or lowered before is reused; the build is not timed)."""
    arg = jax.ShapeDtypeStruct((1024,), jnp.int32)
    built = [build() for _ in range(builds)]

    def run():
        return jax.jit(built.pop()).lower(arg).compile()

    return run


def _lowering_ratio(build: Callable[[], Callable], rounds: int, repeats: int) -> tuple[float, float, float]:
    builds = (rounds + 1) * repeats  # one warm-up call per contender and repeat
    ours = _lower_and_compile(build, builds)
    cosine = _lower_and_compile(lambda: optax.cosine_decay_schedule(LR, STEPS), builds)
    ratio, times = median_ratio(
        {"ours": ours, "cosine": cosine}, "ours", "cosine", rounds=rounds, repeats=repeats, warmup=1, clock=CPU
    )
    return times["ours"] * 1e3, times["cosine"] * 1e3, ratio


def lowering(rounds: int = 5, repeats: int = 3, selected: Optional[list] = None) -> list[tuple]:
    """(name, ms to lower + compile ours, optax.cosine_decay_schedule's, the ratio)."""
    return [
        (case.name, *_lowering_ratio(lambda spec=case.spec: clr_optax.lr_schedule(spec), rounds, repeats))
        for case in selected or cases()
    ]


def tpu_build_lowering(rounds: int = 5, repeats: int = 3) -> tuple:
    """A schedule built for CPU and TPU (``platforms=["cpu", "tpu"]``: both paths, as every schedule
    was before the path was picked when it is built) lowered here: (ms, cosine_decay's ms, ratio)."""
    spec = OneCycleSpec(max_lr=LR, total_steps=STEPS)
    return _lowering_ratio(lambda: clr_optax.lr_schedule(spec, platforms=["cpu", "tpu"]), rounds, repeats)


if __name__ == "__main__":
    print(f"{'schedule':52} {'evaluator':44} {'equal':>8} {'worst ulp':>10} {'max rel':>9}")
    for name, label, _steps, exact, worst, rel in exactness():
        print(f"{name:52} {label:44} {100 * exact:7.3f}% {worst:10d} {rel:9.1e}")
    for name, mine, optax_name, theirs, ratio, target, over_floor, _ in speed():
        print(
            f"{name}: {mine:.2f} ms vs {optax_name} {theirs:.2f} ms: {ratio:.2f} (target <= {target}); "
            f"{over_floor:.1f}x the floor"
        )
    for name, with_schedule, with_constant, overhead in scan_overhead():
        print(f"{name}: scan step {with_schedule:.2f} us vs {with_constant:.2f} us: {100 * overhead:+.1f}%")
    for name, mine, cosine, ratio in lowering():
        print(f"{name}: lowering {mine:.1f} ms vs cosine_decay {cosine:.1f} ms: {ratio:.2f}")
