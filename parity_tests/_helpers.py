"""Shared configurations, torch's reference values, ulp measurement and the parity report."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from clr_spec import CyclicSpec

FLOAT32_TINY = np.finfo(np.float32).tiny
INT32_MAX = 2**31 - 1

# Named configurations; each is a dict of torch CyclicLR keywords. Custom scale functions
# are written to work both on Python ints (torch) and on traced int32 arrays (JAX).
CONFIGS: dict[str, dict] = {
    "triangular": dict(base_lr=0.001, max_lr=0.006, step_size_up=2000),
    "triangular_asym": dict(base_lr=0.001, max_lr=0.006, step_size_up=300, step_size_down=701),
    "triangular_inverted": dict(base_lr=0.01, max_lr=0.002, step_size_up=37, step_size_down=11),
    "triangular2_tutorial": dict(
        base_lr=2.5e-4, max_lr=1e-3, step_size_up=17000 * 6, mode="triangular2", cycle_momentum=False
    ),
    "triangular2_short": dict(base_lr=0.0, max_lr=0.05, step_size_up=5, mode="triangular2"),
    "exp_range": dict(base_lr=0.001, max_lr=0.006, step_size_up=2000, mode="exp_range", gamma=0.99994),
    "exp_range_fast": dict(base_lr=0.0, max_lr=0.3, step_size_up=3, mode="exp_range", gamma=0.9),
    "fractional": dict(base_lr=0.001, max_lr=0.006, step_size_up=2.5, step_size_down=4.25),
    "float_step_sizes": dict(base_lr=0.001, max_lr=0.006, step_size_up=1234.567, step_size_down=765.4321),
    "tiny_cycle": dict(base_lr=0.0, max_lr=0.1, step_size_up=1.1),
    "per_group": dict(
        base_lr=[1e-4, 0.01, 0.0],
        max_lr=[1e-3, 0.1, 0.5],
        step_size_up=1000,
        step_size_down=3000,
        base_momentum=[0.8, 0.85, 0.0],
        max_momentum=[0.9, 0.95, 0.99],
    ),
    "custom_cycle": dict(base_lr=0.001, max_lr=0.1, step_size_up=50, scale_fn=lambda c: 1 / (1 + c)),
    "custom_iterations": dict(
        base_lr=0.001, max_lr=0.1, step_size_up=25, scale_mode="iterations", scale_fn=lambda k: 1 / (1 + k / 1000.0)
    ),
}

WINDOW = 4096
# First window: several whole cycles of most configs; then windows far into training.
WINDOW_STARTS = (0, 1_000_000 - WINDOW // 2, 100_000_000 - WINDOW // 2, INT32_MAX - WINDOW + 1)


def windows(first: int = 30_000) -> np.ndarray:
    parts = [np.arange(0, first)] + [np.arange(s, s + WINDOW) for s in WINDOW_STARTS[1:]]
    return np.concatenate(parts).astype(np.int64)


def groups_of(spec: CyclicSpec) -> range:
    return range(spec.num_groups or 1)


def _torch_scheduler(spec: CyclicSpec, last_epoch: int):
    import torch
    from torch.optim.lr_scheduler import CyclicLR as TorchCyclicLR

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in groups_of(spec)]
    opt = torch.optim.SGD([{"params": [p], "initial_lr": 0.0} for p in params], lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = TorchCyclicLR(opt, **spec.torch_kwargs(), last_epoch=last_epoch)
    opt._opt_called = True  # we evaluate the schedule without training; silence the order warning
    return sched, opt


def torch_reference(spec: CyclicSpec, steps: np.ndarray, what: str = "lr") -> np.ndarray:
    """torch's own CyclicLR at each step: array (len(steps), groups) of float64, NaN where
    torch raises (triangular2 past ~1024 cycles).

    Far steps are reached as torch's resume path does: ``last_epoch = k - 1``, ``step()``.
    """
    sched, opt = _torch_scheduler(spec, last_epoch=0)
    key = "lr" if what == "lr" else "momentum"
    out = np.full((len(steps), len(groups_of(spec))), np.nan)
    for i, k in enumerate(steps.tolist()):
        sched.last_epoch = k - 1
        try:
            sched.step()
        except OverflowError:
            continue
        out[i] = [g[key] for g in opt.param_groups]
    return out


def flush_subnormals(values: np.ndarray) -> np.ndarray:
    """XLA flushes float32 subnormals to zero; compare against the flushed reference."""
    v = np.asarray(values, np.float32).copy()
    v[np.abs(v) < FLOAT32_TINY] = 0.0
    return v


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of float32 values between a and b (0 = equal)."""

    def ordered(x):
        i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return np.abs(ordered(a) - ordered(b))


@dataclass
class ParityRow:
    evaluator: str
    config: str
    what: str
    dtype: str
    steps: int
    worst: float
    exact_share: float
    device: str = "cpu"


@dataclass
class ParityReport:
    rows: list = field(default_factory=list)

    def add(self, row: ParityRow) -> None:
        self.rows.append(row)

    def markdown(self) -> str:
        lines = [
            "| evaluator | config | value | dtype | device | steps | worst | exact steps |",
            "|---|---|---|---|---|---:|---:|---:|",
        ]
        for r in sorted(self.rows, key=lambda r: (r.evaluator, r.dtype, r.config, r.what, r.device)):
            worst = f"{int(r.worst)} ulp" if r.dtype == "float32" else f"{r.worst:.1e} rel"
            lines.append(
                f"| {r.evaluator} | {r.config} | {r.what} | {r.dtype} | {r.device} | {r.steps} | "
                f"{worst} | {100 * r.exact_share:.2f}% |"
            )
        return "\n".join(lines)

    def summary(self) -> str:
        """One row per evaluator, dtype and value: over all configurations checked."""
        groups: dict = {}
        for r in self.rows:
            groups.setdefault((r.evaluator, r.dtype, r.what, r.device), []).append(r)
        lines = [
            "| evaluator | value | dtype | device | configs | steps | worst | min. exact share |",
            "|---|---|---|---|---:|---:|---:|---:|",
        ]
        for (ev, dtype, what, dev), rows in sorted(groups.items()):
            worst = max(r.worst for r in rows)
            worst_s = f"{int(worst)} ulp" if dtype == "float32" else (f"{worst:.1e} rel" if worst else "bitwise")
            lines.append(
                f"| {ev} | {what} | {dtype} | {dev} | {len({r.config for r in rows})} | "
                f"{sum(r.steps for r in rows):,} | {worst_s} | {100 * min(r.exact_share for r in rows):.2f}% |"
            )
        return "\n".join(lines)


REPORT = ParityReport()


def check_float32(
    config: str,
    what: str,
    ours: np.ndarray,
    reference: np.ndarray,
    *,
    max_ulp: int,
    min_exact: float = 0.99,
    evaluator: str = "clr_optax",
    device: str = "cpu",
) -> ParityRow:
    """Assert the float32 bound against float32(torch) and record the result."""
    valid = ~np.isnan(reference)
    ref32 = flush_subnormals(reference[valid])
    got = np.asarray(ours)[valid]
    assert got.dtype == np.float32, got.dtype
    dist = ulp_distance(got, ref32)
    row = ParityRow(
        evaluator,
        config,
        what,
        "float32",
        int(valid.sum()),
        float(dist.max(initial=0)),
        float(np.mean(dist == 0)) if dist.size else 1.0,
        device,
    )
    np.testing.assert_array_max_ulp(got, ref32, maxulp=max_ulp, dtype=np.float32)
    assert row.exact_share >= min_exact, f"{config}/{what}: only {row.exact_share:.4f} of steps exact"
    REPORT.add(row)
    return row


def check_relative(
    config: str,
    what: str,
    ours: np.ndarray,
    reference: np.ndarray,
    *,
    rtol: float,
    evaluator: str,
    flush: bool = False,
    dtype: str = "float64",
    device: str = "cpu",
) -> ParityRow:
    valid = ~np.isnan(reference)
    got, ref = np.asarray(ours, np.float64)[valid], reference[valid].copy()
    if flush:  # XLA flushes float64 subnormals too
        ref[np.abs(ref) < np.finfo(np.float64).tiny] = 0.0
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)
    row = ParityRow(
        evaluator, config, what, dtype, int(valid.sum()), float(rel.max(initial=0)), float(np.mean(got == ref)), device
    )
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=0)
    REPORT.add(row)
    return row


def write_report(path: Optional[str] = None) -> Optional[str]:
    """With CLR_PARITY_REPORT=path: write the full report there, and the summary into
    docs/precision.md's parity block when CLR_PARITY_SUMMARY=1 (or the older CLR_PARITY_README=1)."""
    path = path or os.environ.get("CLR_PARITY_REPORT")
    if not path or not REPORT.rows:
        return None
    with open(path, "w") as fh:
        fh.write(
            "# Parity report\n\nGenerated by `CLR_PARITY_REPORT=docs/parity_report.md bash dev.sh test`. "
            "Reference: torch's own schedulers (`CyclicLR`; for the family `OneCycleLR`, "
            "`CosineAnnealingWarmRestarts`, `LinearLR`, `ConstantLR`, `CosineAnnealingLR`, `SequentialLR`).\n\n"
            + REPORT.markdown()
            + "\n"
        )
    if "1" in (os.environ.get("CLR_PARITY_SUMMARY"), os.environ.get("CLR_PARITY_README")):
        readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "precision.md")
        start, end = "<!-- parity:start -->", "<!-- parity:end -->"
        with open(readme) as fh:
            text = fh.read()
        block = f"{start}\n{REPORT.summary()}\n{end}"
        text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
        with open(readme, "w") as fh:
            fh.write(text)
    return path


def naive_float32_schedule(spec: CyclicSpec, group: int = 0) -> Callable:
    """A straight float32 port of torch's formula: what this library exists to avoid."""
    import jax.numpy as jnp

    base, top, _, _ = spec.group_bounds(group)
    total, ratio = np.float32(spec.total_size), np.float32(spec.step_ratio)

    def schedule(count):
        step = jnp.asarray(count).astype(jnp.float32)
        cycle = jnp.floor(1 + step / total)
        x = 1.0 + step / total - cycle
        factor = jnp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        if spec.mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        elif spec.mode == "exp_range":
            scale = jnp.float32(spec.gamma) ** step
        else:
            scale = 1.0
        return jnp.float32(base) + jnp.float32(top - base) * factor * scale

    return schedule


def torch_trace(opt, build, steps: int, step_after_last: bool = True) -> np.ndarray:
    """(steps, groups, [lr, momentum]) as torch's optimizer holds them before each update, with
    the scheduler ``build(opt)`` stepped after each (not after the last, where stepping past
    the end raises, as OneCycleLR's does)."""
    import torch  # noqa: F401 - the optimizer and scheduler are torch's

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build(opt)
        out = []
        for k in range(steps):
            out.append([(float(g["lr"]), float(g["momentum"])) for g in opt.param_groups])
            opt.step()
            if step_after_last or k + 1 < steps:
                sched.step()
    return np.array(out)


def two_group_sgd(lrs):
    """torch's SGD with one param group per lr in ``lrs`` (what torch's phase classes scale)."""
    import torch

    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=0.5)


def stepped_lrs(build, steps: int, lrs):
    """(each group's lr before each of ``steps`` updates, the scheduler, the optimizer) for the
    scheduler ``build(optimizer)`` stepped after every update, on ``two_group_sgd(lrs)``."""
    opt = two_group_sgd(lrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = build(opt)
        out = []
        for _ in range(steps):
            out.append([g["lr"] for g in opt.param_groups])
            opt.step()
            sched.step()
    return np.array(out), sched, opt
