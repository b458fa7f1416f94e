"""Trains any posejax model: `python -m posejax.train --config=experiments/<name>.py[:tiny] --workdir=DIR`.

The config file's `get_config(arg)` gives the experiment (`:tiny` is the small CPU variant);
override fields on the command line, e.g. `--config.num_steps=100`. Rerunning with the same
workdir resumes from its latest checkpoint. See `posejax.training.loop` for what the workdir holds.
"""

from __future__ import annotations

from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiment config file, e.g. experiments/x.py:tiny")
_WORKDIR = flags.DEFINE_string("workdir", None, "folder for checkpoints, metrics and figures")


def main(argv) -> None:
    del argv
    from posejax.training.mesh import initialize_distributed

    initialize_distributed()  # before any other JAX call
    from posejax.compilation_cache import enable_compilation_cache
    from posejax.training.loop import train_and_evaluate

    enable_compilation_cache()
    _, scalars = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    if scalars:
        print("final evaluation: " + ", ".join(f"{k}={v:.4g}" for k, v in scalars.items()), flush=True)


def run() -> None:
    flags.mark_flags_as_required(["config", "workdir"])
    app.run(main)


if __name__ == "__main__":
    run()
