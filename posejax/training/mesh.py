"""Data parallelism: a ("data",) mesh over every device, batches sharded on their leading axis.

This is today's form of `pmap`: one `jax.jit` program whose inputs carry `NamedSharding`s; XLA
inserts the gradient all-reduce. Parameters and optimiser state are replicated. Multi-host runs
call `jax.distributed.initialize()` first (`initialize_distributed`); each process then feeds
its own slice of the global batch (`global_batch`).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "data"


def initialize_distributed() -> None:
    """Joins a multi-host run when the environment describes one (a no-op on one machine).

    `jax.distributed.initialize()` reads the coordinator address, process count and id from the
    cluster environment (or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID).
    """
    if os.environ.get("JAX_COORDINATOR_ADDRESS") or os.environ.get("SLURM_NTASKS", "1") != "1":
        jax.distributed.initialize()


def data_mesh() -> Mesh:
    """A 1-D mesh named "data" over all devices of all processes."""
    return jax.make_mesh((jax.device_count(),), (AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading axis split over "data", the rest whole."""
    return NamedSharding(mesh, PartitionSpec(AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def check_batch_size(global_batch_size: int, mesh: Mesh) -> int:
    """The per-process batch size; the global one must split evenly over devices and processes."""
    devices = mesh.devices.size
    if global_batch_size % devices:
        raise ValueError(f"batch size {global_batch_size} does not split over {devices} devices; "
                         f"use a multiple of {devices}")
    return global_batch_size // jax.process_count()


def global_batch(local_batch: Any, mesh: Mesh) -> Any:
    """This process's slice of the batch (a pytree of numpy arrays, leading axis = local batch)
    -> global jax arrays sharded over "data"."""
    sharding = batch_sharding(mesh)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)),
                        local_batch)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Puts a pytree on every device of the mesh."""
    return jax.device_put(tree, replicated(mesh))
