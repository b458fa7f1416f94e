"""Evaluates a finished (or running) training run: `python -m posejax.evaluate --workdir=DIR`.

Restores the latest checkpoint of DIR (or `--step=N`, a kept one), runs the task's held-out
evaluation with the run's saved config, prints the metrics and writes DIR/evaluation.json.
"""

from __future__ import annotations

from absl import app, flags

_WORKDIR = flags.DEFINE_string("workdir", None, "the run's folder (holds config.json and checkpoints/)")
_STEP = flags.DEFINE_integer("step", None, "evaluate this kept checkpoint instead of the latest")


def main(argv) -> None:
    del argv
    from posejax.training.loop import evaluate

    scalars = evaluate(_WORKDIR.value, step=_STEP.value)
    print("evaluation: " + ", ".join(f"{k}={v:.4g}" for k, v in scalars.items()), flush=True)


if __name__ == "__main__":
    flags.mark_flags_as_required(["workdir"])
    app.run(main)
