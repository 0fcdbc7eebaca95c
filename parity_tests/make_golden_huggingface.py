"""Freeze Hugging Face transformers' own lr values into ``golden/huggingface.npz``, for runs
without torch or transformers (the jax-only environment).

    python -m parity_tests.make_golden_huggingface     # needs torch and transformers; rewrites the file

Each configuration is a ``transformers.get_scheduler(name, ...)`` call: its whole trajectory
as the ``LambdaLR`` it returns gives it, stepped (float64 lrs per param group), and for the
configurations with steps past 2**31, the lr at a few far steps as that ``LambdaLR`` computes
it there (``base_lr * lr_lambda(step)``, its ``get_lr``, without stepping that far).
``test_huggingface.py`` checks the file is current where transformers is installed, and checks
``spec.lr`` (bitwise) and clr_optax (float32 == float32(golden)) against it everywhere.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from clr_spec import huggingface_spec

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "huggingface.npz")
LR = 3e-4
LRS = [0.05, 0.1]  # two param groups, the optimizer's lr 0.1 (its defaults["lr"])
FAR = [2**31 - 1, 2**31 - 2, 2**31 - 1000, 1_500_000_001, 2**30]

# id: (get_scheduler's name, the groups' lrs, num_warmup_steps, num_training_steps, its keywords, steps)
ARGUMENTS: dict[str, tuple[str, Any, int, Any, dict, int]] = {
    "linear": ("linear", LR, 100, 2000, {}, 2100),
    "linear_groups": ("linear", LRS, 37, 900, {}, 1000),
    "cosine": ("cosine", LR, 250, 5000, {}, 5200),
    "cosine_waves": ("cosine", LR, 10, 1200, {"num_cycles": 1.7}, 1300),
    "cosine_with_restarts": ("cosine_with_restarts", LR, 50, 3000, {"num_cycles": 4}, 3100),
    "polynomial": ("polynomial", LR, 100, 2000, {"lr_end": 1e-6, "power": 2.3}, 2100),
    "polynomial_groups": ("polynomial", LRS, 20, 700, {"lr_end": 1e-4, "power": 0.7}, 800),
    "constant": ("constant", LR, 0, 0, {}, 200),
    "constant_with_warmup": ("constant_with_warmup", LR, 333, 0, {}, 700),
    "inverse_sqrt": ("inverse_sqrt", LR, 400, 0, {}, 3000),
    "inverse_sqrt_timescale": ("inverse_sqrt", LR, 0, 0, {"timescale": 77}, 3000),
    "cosine_with_min_lr": ("cosine_with_min_lr", LR, 100, 2500, {"min_lr": 1e-5}, 2600),
    "cosine_with_min_lr_rate": ("cosine_with_min_lr", LRS, 64, 1500, {"min_lr_rate": 0.05}, 1600),
    "cosine_warmup_with_min_lr": ("cosine_warmup_with_min_lr", LR, 200, 3000, {"min_lr_rate": 0.1}, 3100),
    "cosine_warmup_with_min_lr_rate": (
        "cosine_warmup_with_min_lr",
        LR,
        150,
        2000,
        {"min_lr_rate": 0.02, "warmup_lr_rate": 0.1},
        2100,
    ),
    "wsd": ("warmup_stable_decay", LR, 100, 3000, {"num_decay_steps": 600}, 3100),
    "wsd_1sqrt": (
        "warmup_stable_decay",
        LR,
        200,
        None,
        {
            "num_stable_steps": 1500,
            "num_decay_steps": 500,
            "warmup_type": "cosine",
            "decay_type": "1-sqrt",
            "min_lr_ratio": 0.1,
        },
        2400,
    ),
    "wsd_linear": (
        "warmup_stable_decay",
        LRS,
        50,
        1000,
        {"num_decay_steps": 300, "warmup_type": "1-sqrt", "decay_type": "linear", "min_lr_ratio": 0.01},
        1100,
    ),
    # lengths past 2**31: clr_optax's int32 counts end at 2**31 - 1, the spec's steps go on
    "linear_long": ("linear", LR, 10**9, 3 * 10**9, {}, 100),
    "cosine_long": ("cosine", LR, 2**31 - 1500, 2**31 + 10**6, {}, 100),
    "wsd_long": ("warmup_stable_decay", LR, 1000, 2**31 + 5000, {"num_decay_steps": 3000, "decay_type": "1-sqrt"}, 100),
}
LONG = ("linear_long", "cosine_long", "wsd_long")
# What the spec is told that transformers reads from the optimizer: its defaults["lr"] (0.1 here).
SPEC_ONLY = {"polynomial_groups": {"lr_init": 0.1}}
# id: (the spec, steps): the spec is built by clr_spec alone, as the jax-only environment builds it.
CONFIGS = {
    key: (huggingface_spec(name, lrs, warmup, total, **kw, **SPEC_ONLY.get(key, {})), steps)
    for key, (name, lrs, warmup, total, kw, steps) in ARGUMENTS.items()
}


def scheduler(key: str) -> Any:
    """transformers' scheduler of configuration ``key``, on a fresh SGD of its param groups."""
    import torch
    from transformers import get_scheduler

    name, lrs, warmup, total, kw, _ = ARGUMENTS[key]
    lrs = lrs if isinstance(lrs, list) else [lrs]
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)], lr=max(lrs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return opt, get_scheduler(
            name, opt, num_warmup_steps=warmup, num_training_steps=total, scheduler_specific_kwargs=dict(kw)
        )


def trajectory(key: str) -> np.ndarray:
    """(steps, groups) float64: the lrs transformers' scheduler gives, stepped after each update."""
    opt, sched = scheduler(key)
    out = []
    for _ in range(ARGUMENTS[key][5]):
        out.append([group["lr"] for group in opt.param_groups])
        opt.step()
        sched.step()
    return np.asarray(out, dtype=np.float64)


def far(key: str) -> np.ndarray:
    """(len(FAR), groups) float64: LambdaLR's get_lr at the far steps."""
    _, sched = scheduler(key)
    return np.asarray(
        [[base * fn(k) for fn, base in zip(sched.lr_lambdas, sched.base_lrs)] for k in FAR], dtype=np.float64
    )


def compute() -> dict[str, np.ndarray]:
    out = {f"{key}/lr": trajectory(key) for key in ARGUMENTS}
    out.update({f"{key}/far_lr": far(key) for key in LONG})
    return out


def load() -> tuple[dict[str, np.ndarray], str]:
    """(the frozen values by key, the transformers version that made them)."""
    with np.load(PATH) as data:
        values = {k: data[k] for k in data.files if k != "transformers_version"}
        return values, str(data["transformers_version"])


def main() -> None:
    import transformers

    values = compute()
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
    np.savez_compressed(PATH, transformers_version=np.array(transformers.__version__), **values)
    print(f"wrote {PATH}: {len(ARGUMENTS)} configurations, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
