"""The interface between the harness and a model: `Task`.

A task bundles one paper's data, model, losses and metrics. The harness (`loop`) owns everything
else: devices and sharding, jit, the step loop, checkpoints, logging and evaluation scheduling.
Tasks live in `posejax.tasks.<name>` and are selected by `config.task = "<name>"` (or any
importable module by its dotted path); the module exposes its `Task` subclass as `TASK`.

Conventions:
  * batches are dicts of numpy arrays whose leading axis is the example axis; `train_batch`
    returns this process's share (`local_batch_size` examples), the harness shards it;
  * `train_step` and `eval_step` are pure functions of arrays (jit-compiled by the harness);
    randomness comes in as a key (`rng`) derived from the run seed and the step, so a resumed
    run repeats exactly what the uninterrupted one would have done;
  * `train_step` returns scalar metrics (means over the global batch); `eval_step` returns
    per-example arrays, concatenated by the harness over the evaluation set and reduced by
    `eval_summary`.
"""

from __future__ import annotations

import abc
import importlib
from typing import Dict, Iterable, Tuple

import jax
import ml_collections
import numpy as np

from posejax.training.state import TrainState

Batch = Dict[str, np.ndarray]


class Task(abc.ABC):
    """One learning problem: data, model, losses, steps and metrics.

    Args:
      config: the experiment's whole config (the task reads its own fields).
    """

    def __init__(self, config: ml_collections.ConfigDict):
        self.config = config

    @abc.abstractmethod
    def train_batch(self, step: int, local_batch_size: int, process_index: int,
                    process_count: int) -> Batch:
        """This process's examples for training step `step` (deterministic in step and seed)."""

    def example_batch(self) -> Batch:
        """A batch with the shapes `init_state` needs, e.g. to restore a checkpoint (default: the
        first training batch; tasks whose data is costly to make return something cheaper)."""
        return self.train_batch(0, int(self.config.batch_size), 0, 1)

    @abc.abstractmethod
    def init_state(self, rng: jax.Array, batch: Batch) -> TrainState:
        """Parameters and optimiser state at step 0 (`batch` gives the input shapes)."""

    @abc.abstractmethod
    def train_step(self, state: TrainState, batch: Batch, rng: jax.Array
                   ) -> Tuple[TrainState, Dict[str, jax.Array]]:
        """One optimisation step: (new state, scalar metrics such as the losses)."""

    def eval_batches(self) -> Iterable[Batch]:
        """The held-out evaluation set, batch by batch (default: none)."""
        return ()

    def eval_step(self, state: TrainState, batch: Batch) -> Dict[str, jax.Array]:
        """Per-example metric arrays of one evaluation batch (leading axis = examples)."""
        raise NotImplementedError(f"{type(self).__name__} has no evaluation")

    def eval_summary(self, results: Dict[str, np.ndarray], workdir: str, step: int) -> Dict[str, float]:
        """Scalars of the concatenated per-example results (default: their means); may also
        write figures into `workdir`."""
        del workdir, step
        return {k: float(np.mean(v)) for k, v in results.items()}


    def eval_figures(self, state: TrainState, workdir: str, step: int) -> None:
        """Writes figures of the current model into `workdir` after an evaluation (default: none)."""
        del state, workdir, step


def get_task(config: ml_collections.ConfigDict) -> Task:
    """Instantiates `posejax.tasks.<config.task>.TASK` with the config."""
    name = config.get("task")
    if not name:
        raise ValueError("the config has no `task` field (e.g. config.task = 'pooled_regressor')")
    # A bare name is a module of posejax.tasks; a dotted path names any module (e.g. a test's).
    path = name if "." in name else f"posejax.tasks.{name}"
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as err:
        if err.name is None or not path.startswith(err.name):
            raise
        raise ValueError(f"unknown task {name!r}: there is no module {path}") from None
    task_cls = getattr(module, "TASK", None)
    if not (isinstance(task_cls, type) and issubclass(task_cls, Task)):
        raise ValueError(f"{path} must define TASK, a Task subclass")
    return task_cls(config)

