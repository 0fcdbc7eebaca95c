"""The range test's suggested max_lr against the known stability limit of least squares.

    python benchmarks/range_test_safety.py        # prints the README's table (about a minute)

For noisy (mini-batch) and noise-free (full-batch) least squares with condition numbers 1, 10
and 100, seeds 0-2, linear and exponential sweeps, in both frameworks: the ratio of the
suggested ``max_lr`` to the limit 2/L, with the stability probe (the default) and without it
(``probe_steps=0``, the loss curve alone), and the probe's cost in extra steps.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from parity_tests.test_range_probe import SWEEPS, least_squares, run  # noqa: E402

SEEDS, CONDITIONS = (0, 1, 2), (1, 10, 100)


def measure() -> list[tuple]:
    rows = []
    for noisy in (False, True):
        for mode in ("linear", "exp"):
            for framework in ("torch", "optax"):
                curve, probed, extra = [], [], []
                for seed in SEEDS:
                    for condition in CONDITIONS:
                        batches, limit = least_squares(seed, condition, noisy)
                        result = run(framework, batches, **SWEEPS[mode](limit))
                        curve.append(result.curve_bounds()[1] / limit)
                        probed.append(result.suggest()[1] / limit)
                        extra.append(len(result.probes) * result.probe_steps)
                rows.append(
                    (
                        "noisy mini-batch" if noisy else "noise-free full batch",
                        mode,
                        framework,
                        min(curve),
                        max(curve),
                        min(probed),
                        max(probed),
                        min(extra),
                        max(extra),
                    )
                )
    return rows


def table() -> str:
    lines = [
        "| problem | sweep | framework | loss curve alone (max_lr / limit) | with the probe | probe's extra steps |",
        "|---|---|---|---:|---:|---:|",
    ]
    for problem, mode, framework, c0, c1, p0, p1, e0, e1 in measure():
        lines.append(f"| {problem} | {mode} | {framework} | {c0:.2f}-{c1:.2f} | {p0:.2f}-{p1:.2f} | {e0}-{e1} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(f"least squares, condition numbers {CONDITIONS}, seeds {SEEDS}; sweep of 300 (linear) or 200 (exp) steps")
    print(table())
