"""The training harness every learned model of posejax runs on (knows nothing about any paper).

  * `task`: the `Task` interface a model's losses, steps and data implement;
  * `mesh`: the ("data",) device mesh, batch sharding and replication;
  * `state`: `TrainState`, the pytree the jitted step updates;
  * `checkpoints`: Orbax checkpoint manager (keep last N, resume from the latest);
  * `logging`: console progress and JSONL scalars in the workdir;
  * `loop`: `train_and_evaluate(config, workdir)` and `evaluate(workdir)`.

Command line: `python -m posejax.train --config=experiments/<name>.py[:tiny] --workdir=DIR` and
`python -m posejax.evaluate --workdir=DIR`.
"""
