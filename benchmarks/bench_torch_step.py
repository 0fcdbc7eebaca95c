"""clr_torch.CyclicLR.step() vs torch.optim.lr_scheduler.CyclicLR.step(): median time ratio.

Target: ratio <= 1.0 (no slower than torch). Each contender steps its own scheduler on
its own optimizer; only the scheduler step is timed.
"""

from __future__ import annotations

import warnings

import torch

import clr_torch

from _timing import median_ratio

CASES = {
    "1 group, momentum cycled": dict(groups=1, cycle_momentum=True),
    "1 group, no momentum": dict(groups=1, cycle_momentum=False),
    "4 groups, momentum cycled": dict(groups=4, cycle_momentum=True),
    "4 groups, triangular2": dict(groups=4, cycle_momentum=True, mode="triangular2"),
    "1 group, tensor lr (Adam)": dict(groups=1, cycle_momentum=True, tensor=True),
}


def make(cls, groups: int, cycle_momentum: bool, mode: str = "triangular", tensor: bool = False):
    params = [torch.nn.Parameter(torch.zeros(4)) for _ in range(groups)]
    if tensor:
        opt = torch.optim.Adam([{"params": [p], "lr": torch.tensor(0.01)} for p in params])
        bounds = dict(base_lr=torch.tensor(1e-3), max_lr=torch.tensor(1e-2))
    else:
        opt = torch.optim.SGD([{"params": [p]} for p in params], lr=0.01, momentum=0.9)
        bounds = dict(base_lr=1e-3, max_lr=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = cls(opt, **bounds, step_size_up=2000, mode=mode, cycle_momentum=cycle_momentum)
    opt._opt_called = True
    return sched.step


def run(rounds: int = 15) -> list[tuple[str, float, float, float]]:
    rows = []
    for name, case in CASES.items():
        ours = make(clr_torch.CyclicLR, **case)
        theirs = make(torch.optim.lr_scheduler.CyclicLR, **case)
        ratio, times = median_ratio(
            {"clr_torch": ours, "torch": theirs}, "clr_torch", "torch", rounds=rounds, number=2000
        )
        rows.append((name, times["clr_torch"] * 1e6, times["torch"] * 1e6, ratio))
    return rows


if __name__ == "__main__":
    print(f"{'case':32} {'clr_torch us':>12} {'torch us':>9} {'ratio':>6}")
    for name, ours, theirs, ratio in run():
        print(f"{name:32} {ours:12.2f} {theirs:9.2f} {ratio:6.2f}")
