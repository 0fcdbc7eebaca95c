"""Run by test_distributed: torch DistributedDataParallel, gloo backend, 2 processes on CPU.

Each rank trains the shared problem on its half of the batch with SGD and clr_torch.CyclicLR
(DDP averages the gradients, so each step sees the full-batch mean gradient) and writes its
parameters and per-step lr and momentum to <out_dir>/rank<r>.npz.

    python -m parity_tests._distributed_torch OUT_DIR PORT
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from parity_tests import _training as T

WORLD = 2


def make_optimizer(params):
    return torch.optim.SGD(params, lr=0.1, momentum=T.SGD_MOMENTUM)


def worker(rank: int, port: int, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        params, x, y = T.problem()
        shard = slice(rank * len(x) // WORLD, (rank + 1) * len(x) // WORLD)
        final, lrs, momenta = T.torch_train(
            params, x[shard], y[shard], make_optimizer, T.SGD_SPEC, T.STEPS, wrap=DistributedDataParallel
        )
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), lrs=lrs, momenta=momenta, **final)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    out_dir, port = sys.argv[1], int(sys.argv[2])
    mp.spawn(worker, args=(port, out_dir), nprocs=WORLD, join=True)
