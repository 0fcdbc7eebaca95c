"""Run every benchmark, print the tables; with --readme, rewrite README.md's figures block.

    bash dev.sh bench            # print
    bash dev.sh bench --readme   # print and update README.md between the bench markers
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import torch  # noqa: E402

import bench_decays  # noqa: E402
import bench_one_cycle_sgdr  # noqa: E402
import bench_optax_schedule  # noqa: E402
import bench_torch_step  # noqa: E402
import bench_train_step  # noqa: E402
import bench_trajectory  # noqa: E402
import precision_naive  # noqa: E402

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [l.split(":", 1)[1].strip() for l in fh if l.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, torch {torch.__version__}, "
            f"jax {jax.__version__} on {jax.default_backend()}; {datetime.date.today().isoformat()}")


def tables() -> str:
    out = [f"Measured by `bash dev.sh bench` on: {machine()}.", ""]
    out += ["**`clr_torch.CyclicLR.step()` vs `torch.optim.lr_scheduler.CyclicLR.step()`** "
            "(median of interleaved rounds; ratio < 1 means ours is faster)", "",
            "| case | clr_torch (µs) | torch (µs) | ratio |", "|---|---:|---:|---:|"]
    out += [f"| {n} | {a:.2f} | {b:.2f} | {r:.2f} |" for n, a, b, r in bench_torch_step.run()]
    out += ["", f"**Optax schedule over the tutorial's {bench_optax_schedule.STEPS:,} steps** "
            "(`jax.jit(jax.vmap(schedule))`, one call; ratio against `optax.cosine_decay_schedule`; target ≤ 1.0)", "",
            "| schedule | ms | cosine_decay (ms) | ratio |", "|---|---:|---:|---:|"]
    out += [f"| {n} | {a:.2f} | {b:.2f} | {r:.2f} |" for n, a, b, r in bench_optax_schedule.run()]
    out += ["", "**1cycle and SGDR: optax's own schedules vs clr_optax, against torch** (float32 values vs "
            "float32 of torch's `OneCycleLR(max_lr=0.1, total_steps=10_000)` and "
            "`CosineAnnealingWarmRestarts(T_0=1000, T_mult=2, eta_min=1e-4)`; optax's onecycle at its defaults, "
            "its sgdr built with one cosine per period)", "",
            "| schedule | evaluator | steps | steps equal | worst ulp | max rel. error |",
            "|---|---|---:|---:|---:|---:|"]
    out += [f"| {n} | {e} | {s:,} | {100 * x:.2f}% | {w:,} | {r:.1e} |" for n, e, s, x, w, r in
            bench_one_cycle_sgdr.precision()]
    out += ["", "| schedule | counts | clr_optax (ms) | optax's own | its time (ms) | ratio |",
            "|---|---:|---:|---|---:|---:|"]
    out += [f"| {n} | {c:,} | {a:.2f} | `{o}` | {b:.2f} | {r:.2f} |" for n, c, a, o, b, r in
            bench_one_cycle_sgdr.speed()]
    out += ["", "**torch's step decays: optax's nearest built-ins vs clr_optax, against torch stepped** "
            f"(float32 values vs float32 of torch's StepLR, MultiStepLR, ExponentialLR, PolynomialLR over "
            f"{bench_decays.STEPS:,} steps)", "",
            "| schedule | evaluator | steps | steps equal | worst ulp | max rel. error |",
            "|---|---|---:|---:|---:|---:|"]
    out += [f"| {n} | {e} | {s:,} | {100 * x:.2f}% | {w:,} | {r:.1e} |" for n, e, s, x, w, r in
            bench_decays.precision()]
    out += ["", "| schedule | counts | clr_optax (ms) | optax's nearest | its time (ms) | ratio |",
            "|---|---:|---:|---|---:|---:|"]
    out += [f"| {n} | {c:,} | {a:.2f} | `{o}` | {b:.2f} | {r:.2f} |" for n, c, a, o, b, r in bench_decays.speed()]
    out += ["", "**The tutorial's whole trajectory** (1,343,000 steps; torch loops timed over "
            f"{bench_trajectory.SLICE} steps and extrapolated; target ≥ 1000× the tutorial loop)", "",
            "| how | seconds | speed-up vs the tutorial loop |", "|---|---:|---:|"]
    out += [f"| {n} | {s:.4f} | {x:,.0f}× |" for n, s, x in bench_trajectory.run()]
    r = bench_train_step.run()
    out += ["", "**A jitted training step** (MLP 64-128-10, batch 256, `inject_hyperparams(sgd)`) with the CLR "
            "vs a constant lr (target: overhead ≤ 2%, one compilation)", "",
            "| CLR step (µs) | constant-lr step (µs) | overhead | compilations over 10,000 steps |",
            "|---:|---:|---:|---:|",
            f"| {r['clr us/step']:.1f} | {r['constant us/step']:.1f} | {100 * r['overhead']:+.1f}% | {r['compilations']} |"]
    out += ["", "**Precision of a straight float32 port of torch's formula vs clr_optax** "
            "(reference: float32 of torch's float64 value)", "",
            "| config | steps | evaluator | worst ulp | exact steps | max rel. error |", "|---|---|---|---:|---:|---:|"]
    out += [f"| {c} | {w} | {e} | {u} | {100 * x:.2f}% | {r:.1e} |" for c, w, e, u, x, r in precision_naive.run()]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", action="store_true", help="rewrite README.md between the bench markers")
    args = parser.parse_args()
    text = tables()
    print(text)
    if args.readme:
        with open(README) as fh:
            readme = fh.read()
        if START not in readme or END not in readme:
            sys.exit(f"README.md has no {START} ... {END} block")
        readme = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{text}\n{END}", readme,
                        flags=re.S)
        with open(README, "w") as fh:
            fh.write(readme)
        print(f"\nupdated {README}")


if __name__ == "__main__":
    main()
