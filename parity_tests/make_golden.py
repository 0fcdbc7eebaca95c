"""Freeze torch's own CyclicLR values into ``golden/torch_cyclic.npz``, for runs without torch.

    python -m parity_tests.make_golden      # needs torch; rewrites the file

For every named configuration of ``_helpers.CONFIGS`` (and every param group) it stores the
lr and, where torch cycles it, the momentum that torch's ``CyclicLR`` gives after k steps,
for the steps of ``golden_steps()``: the first 3,000 and three windows far into training,
the last ending at 2**31 - 1. ``test_golden.py`` checks the file is current where torch is
installed and checks clr_optax and clr_spec against it everywhere.
"""

from __future__ import annotations

import os

import numpy as np

from clr_spec import CyclicSpec

from ._helpers import CONFIGS, INT32_MAX, torch_reference

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "torch_cyclic.npz")
WINDOW = 1024


def golden_steps() -> np.ndarray:
    starts = (1_000_000 - WINDOW // 2, 100_000_000 - WINDOW // 2, INT32_MAX - WINDOW + 1)
    return np.concatenate([np.arange(3000)] + [np.arange(s, s + WINDOW) for s in starts]).astype(np.int64)


def keys() -> list[tuple[str, str]]:
    """(config, "lr" or "momentum") pairs that torch defines."""
    out = []
    for name in sorted(CONFIGS):
        out.append((name, "lr"))
        if CyclicSpec(**CONFIGS[name]).cycle_momentum:
            out.append((name, "momentum"))
    return out


def compute() -> dict[str, np.ndarray]:
    """torch's values now: ``{"config/what": array (steps, groups)}`` (NaN where torch raises)."""
    steps = golden_steps()
    return {f"{name}/{what}": torch_reference(CyclicSpec(**CONFIGS[name]), steps, what) for name, what in keys()}


def load() -> tuple[np.ndarray, dict[str, np.ndarray], str]:
    """(steps, values, the torch version that made them)."""
    with np.load(PATH) as data:
        values = {k: data[k] for k in data.files if "/" in k}
        return data["steps"], values, str(data["torch_version"])


def main() -> None:
    import torch

    np.savez_compressed(PATH, steps=golden_steps(), torch_version=np.array(torch.__version__), **compute())
    print(f"wrote {PATH} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
