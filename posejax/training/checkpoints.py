"""Orbax checkpoints of the `TrainState`: keep the last N, resume from the latest."""

from __future__ import annotations

import os
from typing import Any, Optional

import jax
import orbax.checkpoint as ocp


def manager(workdir: str, keep: int = 3) -> ocp.CheckpointManager:
    """A manager over `workdir/checkpoints` keeping the `keep` most recent steps."""
    if keep < 1:
        raise ValueError(f"`keep` must be >= 1, got {keep}")
    return ocp.CheckpointManager(os.path.join(os.path.abspath(workdir), "checkpoints"),
                                 options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))


def save(mngr: ocp.CheckpointManager, step: int, state: Any) -> None:
    """Saves `state` at `step` and waits for the write (so a killed run never leaves a torn one
    as the latest)."""
    mngr.save(step, args=ocp.args.StandardSave(state))
    mngr.wait_until_finished()


def restore_latest(mngr: ocp.CheckpointManager, like: Any, step: Optional[int] = None) -> Optional[Any]:
    """The latest saved state (or the one of `step`), placed like `like` (arrays or
    ShapeDtypeStructs with shardings), or None when the folder holds no checkpoint.

    Raises:
      FileNotFoundError: `step` is given but not among the kept checkpoints.
    """
    if step is not None and step not in mngr.all_steps():
        raise FileNotFoundError(f"no checkpoint of step {step}; kept: {sorted(mngr.all_steps())}")
    step = mngr.latest_step() if step is None else step
    if step is None:
        return None
    abstract = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)), like)
    return mngr.restore(step, args=ocp.args.StandardRestore(abstract))
