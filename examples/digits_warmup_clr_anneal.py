"""Warmup, cycles, then an anneal: the digits MLP trained with one SequentialSpec in torch
(torch's SequentialLR of LinearLR, CyclicLR and CosineAnnealingLR, built by
clr_torch.scheduler) and in optax (clr_optax.sgd, torch's SGD rule), side by side.

    python examples/digits_warmup_clr_anneal.py [--out out/digits_warmup.png]

The warmup ramps to the cycles' base_lr: torch's LinearLR scales the optimizer's lr, so the
spec says which lr it is (LinearSpec(lr=base_lr)); with the optimizer's lr there instead, the
warmup would climb past base_lr and drop back at the milestone (README, "Warmup and tails").
Momentum stays at the cycles' max_momentum through the warmup (torch's CyclicLR sets it when
built) and at its last value through the anneal. Takes about 10 s.
"""

from __future__ import annotations

import argparse

import numpy as np

import _digits as D
from clr_spec import CosineAnnealingSpec, CyclicSpec, LinearSpec, SequentialSpec
from digits_torch_vs_optax import plot, train_optax, train_torch, worst_ulp


def make_spec(per_epoch: int) -> SequentialSpec:
    base_lr, max_lr = 0.01, 0.1
    warmup = LinearSpec(lr=base_lr, start_factor=0.1, total_iters=2 * per_epoch)
    cycles = CyclicSpec(
        base_lr=base_lr,
        max_lr=max_lr,
        step_size_up=3 * per_epoch,
        mode="triangular2",
        base_momentum=0.85,
        max_momentum=0.95,
    )
    anneal = CosineAnnealingSpec(lr=base_lr, T_max=4 * per_epoch, eta_min=0.0)
    # 2 warmup epochs, two cycles of 6 epochs, then 4 epochs of anneal: 18 epochs.
    return SequentialSpec([warmup, cycles, anneal], milestones=[2 * per_epoch, 14 * per_epoch])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="out/digits_warmup.png")
    args = parser.parse_args()

    data = D.load()
    per_epoch = D.steps_per_epoch(len(data[0]))
    spec = make_spec(per_epoch)
    batches = D.batch_order(len(data[0]), 18)
    runs = {"torch": train_torch(spec, data, batches), "optax": train_optax(spec, data, batches)}
    steps = np.arange(len(batches))
    for name, run in runs.items():
        print(
            f"{name:6s} test accuracy {run['accuracy']:.3f}; lr vs spec.lr worst {worst_ulp(run['lr'], spec.lr(steps))} "
            f"ulp, momentum vs spec.momentum worst {worst_ulp(run['momentum'], spec.momentum(steps))} ulp (float32)"
        )
    t, o = runs["torch"], runs["optax"]
    print(
        f"optax vs torch: lr worst {worst_ulp(o['lr'], t['lr'])} ulp, momentum worst "
        f"{worst_ulp(o['momentum'], t['momentum'])} ulp, weights differ by "
        f"{max(np.max(np.abs(o['weights'][k] - t['weights'][k])) for k in t['weights']):.1e} at most"
    )
    print(f"at the milestones {list(spec.milestones)}: lr {[float(spec.lr(m)) for m in spec.milestones]}")
    plot(
        runs,
        "digits MLP, SGD: linear warmup, CLR triangular2, cosine anneal (one SequentialSpec)",
        args.out,
        milestones=spec.milestones,
    )
    print(f"plot written to {args.out}")


if __name__ == "__main__":
    main()
