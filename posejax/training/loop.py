"""The training loop: `train_and_evaluate(config, workdir)` and `evaluate(workdir)`.

Harness fields of a config (each task adds its own):
  task: name of the module in `posejax.tasks`.
  seed: run seed (parameters, data order and step randomness all derive from it).
  num_steps: optimisation steps.
  batch_size: global batch size (split over all devices of all processes).
  log_every, eval_every, checkpoint_every: in steps (0 turns evaluation off); the last step is
    always logged, checkpointed and (unless off) evaluated.
  keep_checkpoints: how many recent checkpoints to keep.

The workdir receives `config.json`, `checkpoints/` (Orbax; a rerun resumes from the latest),
`metrics.jsonl` (train and eval scalars) and whatever figures the task's evaluation writes.
"""

from __future__ import annotations

import ast
import collections
import json
import os
import time
from typing import Dict, Optional, Tuple

import jax
import ml_collections
import numpy as np

from posejax.training import checkpoints
from posejax.training.mesh import (batch_sharding, check_batch_size, data_mesh, global_batch,
                                   replicated)
from posejax.training.progress import ProgressLogger
from posejax.training.state import TrainState, num_parameters
from posejax.training.task import Task, get_task

CONFIG_FILE = "config.json"
REQUIRED = ("task", "seed", "num_steps", "batch_size", "log_every", "eval_every", "checkpoint_every",
            "keep_checkpoints")


def check_config(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the first missing or bad harness field."""
    for name in REQUIRED:
        if name not in config:
            raise ValueError(f"the config lacks the harness field `{name}` (needs {REQUIRED})")
    for name in ("num_steps", "batch_size", "log_every", "checkpoint_every", "keep_checkpoints"):
        if not (isinstance(config[name], int) and config[name] >= 1):
            raise ValueError(f"`config.{name}` must be an int >= 1, got {config[name]!r}")
    if not (isinstance(config.eval_every, int) and config.eval_every >= 0):
        raise ValueError(f"`config.eval_every` must be an int >= 0, got {config.eval_every!r}")


def _step_rng(seed: int, step) -> jax.Array:
    return jax.random.fold_in(jax.random.key(seed + 1), step)


def _host(tree):
    return jax.tree.map(lambda x: np.asarray(jax.device_get(x)), tree)


def run_evaluation(task: Task, state: TrainState, workdir: str, step: int) -> Dict[str, float]:
    """Runs `task.eval_step` over `task.eval_batches()` and reduces with `task.eval_summary`."""
    eval_fn = jax.jit(task.eval_step)
    results = collections.defaultdict(list)
    for batch in task.eval_batches():
        for key, value in _host(eval_fn(state, batch)).items():
            results[key].append(np.atleast_1d(value))
    if not results:
        return {}
    merged = {k: np.concatenate(v, 0) for k, v in results.items()}
    scalars = task.eval_summary(merged, workdir, step)
    if jax.process_index() == 0:
        task.eval_figures(state, workdir, step)
    return scalars


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str
                       ) -> Tuple[TrainState, Dict[str, float]]:
    """Trains `config.task` for `config.num_steps`, resuming from `workdir` if it has checkpoints.

    Returns:
      (final state, scalars of the last evaluation, or {} when evaluation is off).
    """
    check_config(config)
    workdir = os.path.abspath(workdir)
    lead = jax.process_index() == 0
    if lead:
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, CONFIG_FILE), "w", encoding="utf-8") as f:
            f.write(config.to_json_best_effort(indent=2))
    task = get_task(config)
    mesh = data_mesh()
    local_size = check_batch_size(config.batch_size, mesh)
    pidx, pcount = jax.process_index(), jax.process_count()

    def batch_at(step: int):
        return global_batch(task.train_batch(step, local_size, pidx, pcount), mesh)

    first = batch_at(0)
    t0 = time.perf_counter()
    state = jax.jit(task.init_state, out_shardings=replicated(mesh))(jax.random.key(config.seed), first)
    mngr = checkpoints.manager(workdir, config.keep_checkpoints)
    restored = checkpoints.restore_latest(mngr, state)
    if restored is not None:
        state = restored
    start = int(jax.device_get(state.step))
    if lead:
        how = f"resumed at step {start}" if restored is not None else "from scratch"
        print(f"task {config.task}: {num_parameters(state.params):,} parameters, {jax.device_count()} "
              f"device(s) ({jax.devices()[0].platform}), global batch {config.batch_size}, {how}",
              flush=True)

    step_fn = jax.jit(task.train_step, in_shardings=(replicated(mesh), batch_sharding(mesh), replicated(mesh)),
                      out_shardings=(replicated(mesh), replicated(mesh)), donate_argnums=(0,))
    logger = ProgressLogger(workdir, config.num_steps, start, enabled=lead)
    last_eval: Dict[str, float] = {}
    for step in range(start, config.num_steps):
        batch = first if step == 0 else batch_at(step)
        state, metrics = step_fn(state, batch, _step_rng(config.seed, step))
        done = step + 1
        final = done == config.num_steps
        if done == 1 and lead:
            print(f"first step (compilation included) after {time.perf_counter() - t0:.1f} s", flush=True)
        if done % config.log_every == 0 or final:
            logger.write(done, _host(metrics))
        if done % config.checkpoint_every == 0 or final:
            checkpoints.save(mngr, done, state)
        if config.eval_every and (done % config.eval_every == 0 or final):
            last_eval = run_evaluation(task, state, workdir, done)
            logger.write(done, last_eval, kind="eval")
    if start >= config.num_steps and config.eval_every:
        last_eval = run_evaluation(task, state, workdir, start)
    mngr.close()
    return state, last_eval


def load_config(workdir: str) -> ml_collections.ConfigDict:
    """The config a run in `workdir` was started with."""
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: is {workdir!r} the workdir of a training run?")
    with open(path, encoding="utf-8") as f:
        return ml_collections.ConfigDict(json.load(f))


def override_config(config: ml_collections.ConfigDict, assignments) -> ml_collections.ConfigDict:
    """A copy of `config` with `"dotted.key=value"` assignments applied (e.g. to evaluate a finished
    run on more or other held-out data). Values are Python literals, or strings if they do not
    parse as one; a key may be new, but its parent must exist (a misspelt section fails).

    Raises:
      ValueError: an assignment without "=", or a missing parent section.
    """
    config = ml_collections.ConfigDict(config.to_dict())
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise ValueError(f"config override {assignment!r} is not of the form dotted.key=value")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        *parents, leaf = key.split(".")
        node = config
        for i, name in enumerate(parents):
            if not isinstance(node.get(name), ml_collections.ConfigDict):
                raise ValueError(f"config override {assignment!r}: the config has no section "
                                 f"{'.'.join(parents[:i + 1])!r}")
            node = node[name]
        node[leaf] = value
    return config


def restore_state(workdir: str, task: Task, step: Optional[int] = None) -> TrainState:
    """The latest checkpointed state of the run in `workdir`, or the one of `step` (shapes from
    `task.example_batch`).

    Raises:
      FileNotFoundError: the run has no checkpoint (of that step).
    """
    mngr = checkpoints.manager(workdir, int(task.config.get("keep_checkpoints", 3)))
    try:
        if mngr.latest_step() is None:
            raise FileNotFoundError(f"no checkpoint in {os.path.join(workdir, 'checkpoints')}")
        like = jax.eval_shape(task.init_state, jax.random.key(0), task.example_batch())
        return checkpoints.restore_latest(mngr, like, step)
    finally:
        mngr.close()


def load_trained(workdir: str, task_name: str) -> Tuple[Task, TrainState]:
    """The task and latest checkpointed state of a finished (or running) `task_name` run.

    Raises:
      FileNotFoundError: `workdir` is not a run or has no checkpoint.
      ValueError: the run trained another task.
    """
    config = load_config(workdir)
    if config.task != task_name:
        raise ValueError(f"{workdir} holds a {config.task!r} run, not a {task_name} one")
    task = get_task(config)
    return task, restore_state(workdir, task)


def evaluate(workdir: str, config: Optional[ml_collections.ConfigDict] = None,
             step: Optional[int] = None, output: str = "evaluation.json") -> Dict[str, float]:
    """Evaluates the latest checkpoint of a run (or the kept one of `step`); writes
    `workdir/<output>`.

    Args:
      workdir: the run's folder.
      config: overrides the saved config (default: `workdir/config.json`).
      step: a kept checkpoint's step (default: the latest).
      output: the results file's name inside `workdir`.
    """
    workdir = os.path.abspath(workdir)
    config = load_config(workdir) if config is None else config
    task = get_task(config)
    state = restore_state(workdir, task, step)
    step = int(jax.device_get(state.step))
    scalars = run_evaluation(task, state, workdir, step)
    with open(os.path.join(workdir, output), "w", encoding="utf-8") as f:
        json.dump({"step": step, **scalars}, f, indent=2)
    return {"step": step, **scalars}
