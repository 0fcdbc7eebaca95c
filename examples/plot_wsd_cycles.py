"""Cyclic warmup-stable-decay against cyclical learning rates (CLR) and SGDR, on one plot.

    python examples/plot_wsd_cycles.py        # writes docs/wsd_cycles.png (needs matplotlib)

Three schedules over the same 6,000 steps and peak lr: WSD cycles (``WSDSpec`` with
``cycle_lengths``: each cycle rewarms, holds its peak, decays to the floor; the peaks fall),
Smith's triangular CLR (``CyclicSpec``) and SGDR's warm restarts (``WarmRestartsSpec``). Each is
a clr_spec spec, so the same objects drive ``clr_torch.scheduler`` and ``clr_optax.lr_schedule``.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from clr_spec import CyclicSpec, WarmRestartsSpec, WSDSpec  # noqa: E402

STEPS = 6000
PEAK, FLOOR = 1e-3, 1e-4
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "wsd_cycles.png")


def schedules() -> dict:
    return {
        "cyclic WSD (WSDSpec: 3 cycles, peaks 1, 0.8, 0.6; 1-sqrt decay)": WSDSpec(
            lr=PEAK,
            num_warmup_steps=200,
            rewarm_steps=100,
            num_decay_steps=[400, 300, 500],
            cycle_lengths=[2500, 1500, 2000],
            peak_factors=[1.0, 0.8, 0.6],
            min_lr_ratio=FLOOR / PEAK,
            decay_type="1-sqrt",
        ),
        "CLR triangular (CyclicSpec)": CyclicSpec(base_lr=FLOOR, max_lr=PEAK, step_size_up=750, cycle_momentum=False),
        "SGDR (WarmRestartsSpec, T_0=1000, T_mult=2)": WarmRestartsSpec(lr=PEAK, T_0=1000, T_mult=2, eta_min=FLOOR),
    }


def main() -> None:
    steps = np.arange(STEPS)
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=110)
    for (label, spec), style in zip(schedules().items(), ("-", "--", ":")):
        ax.plot(steps, spec.lr(steps), style, linewidth=1.6 if style == "-" else 1.2, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_xlim(0, STEPS)
    ax.set_ylim(0, PEAK * 1.08)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2, fontsize=8, frameon=False)
    ax.set_title("Cyclic warmup-stable-decay, CLR and SGDR", fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
