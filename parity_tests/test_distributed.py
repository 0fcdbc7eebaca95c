"""Data-parallel training gives the single-device trajectory: JAX sharding over 8 host devices,
and torch DistributedDataParallel (gloo) over 2 CPU processes. Each runs in a fresh process."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="needs torch: pip install 'clr-spec[torch]'")
pytest.importorskip("jax", reason="needs jax: pip install 'clr-spec[jax]'")
pytest.importorskip("optax", reason="needs optax: pip install 'clr-spec[jax]'")

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from . import _training as T

ROOT = Path(__file__).resolve().parent.parent


def _run(module: str, *args: str, env: dict | None = None) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _params(npz, prefix: str = "") -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: npz[k] for k in npz.files if k.startswith(prefix) and "." in k}


def _assert_close(reference: dict, other: dict, rtol: float) -> None:
    assert reference.keys() == other.keys()
    for k in reference:
        np.testing.assert_allclose(
            other[k], reference[k], rtol=rtol, atol=rtol * np.max(np.abs(reference[k])), err_msg=k
        )


def test_jax_sharded_data_parallel_matches_one_device(tmp_path):
    out = tmp_path / "jax.npz"
    _run(
        "parity_tests._distributed_jax",
        str(out),
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"},
    )
    got = np.load(out)
    assert int(got["devices"]) == 8 and int(got["shards"]) == 8
    np.testing.assert_array_equal(got["sharded_lrs"], got["one_lrs"])
    np.testing.assert_array_equal(got["sharded_momenta"], got["one_momenta"])
    np.testing.assert_array_equal(got["one_lrs"][:, 0], T.SGD_SPEC.lr(np.arange(T.STEPS)).astype(np.float32))
    # Only the order of the batch reductions differs.
    _assert_close(_params(got, "one/"), _params(got, "sharded/"), rtol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torch_ddp_two_processes_match_single_process(tmp_path):
    _run("parity_tests._distributed_torch", str(tmp_path), str(_free_port()))
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    params, x, y = T.problem()
    single, lrs, momenta = T.torch_train(
        params, x, y, lambda p: torch.optim.SGD(p, lr=0.1, momentum=T.SGD_MOMENTUM), T.SGD_SPEC, T.STEPS
    )
    for rank in ranks:
        np.testing.assert_array_equal(rank["lrs"], lrs)
        np.testing.assert_array_equal(rank["momenta"], momenta)
    # DDP keeps the replicas bitwise identical; the all-reduced mean gradient differs from the
    # full-batch one by rounding only.
    for k in single:
        np.testing.assert_array_equal(ranks[0][k], ranks[1][k])
    _assert_close(single, _params(ranks[0]), rtol=1e-6)
