"""Run by test_distributed in a fresh process with 8 host CPU devices (XLA_FLAGS set by the test).

Trains the shared problem with clr_optax.sgd once on one device and once data-parallel over
all devices (batch sharded along a 'data' mesh axis, parameters replicated), each as one jitted
lax.scan, and writes both results to the .npz named on the command line.
"""

from __future__ import annotations

import sys

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

import clr_optax
from parity_tests import _training as T


def main(out_path: str) -> None:
    devices = jax.devices()
    params, x, y = T.problem()
    one = T.jax_train(
        params,
        jax.device_put(x, devices[0]),
        jax.device_put(y, devices[0]),
        clr_optax.sgd(T.SGD_SPEC, momentum=T.SGD_MOMENTUM),
        T.STEPS,
    )

    mesh = jax.make_mesh((len(devices),), ("data",))
    batch = NamedSharding(mesh, PartitionSpec("data"))
    replicated = NamedSharding(mesh, PartitionSpec())
    xs, ys = jax.device_put(x, batch), jax.device_put(y, batch)
    ps = jax.device_put(params, replicated)
    shards = len(xs.sharding.device_set)
    sharded = T.jax_train(ps, xs, ys, clr_optax.sgd(T.SGD_SPEC, momentum=T.SGD_MOMENTUM), T.STEPS)

    np.savez(
        out_path,
        devices=len(devices),
        shards=shards,
        one_lrs=one[1],
        sharded_lrs=sharded[1],
        one_momenta=one[2],
        sharded_momenta=sharded[2],
        **{f"one/{k}": v for k, v in one[0].items()},
        **{f"sharded/{k}": v for k, v in sharded[0].items()},
    )


if __name__ == "__main__":
    main(sys.argv[1])
