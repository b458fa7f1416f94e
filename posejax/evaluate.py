"""Evaluates a finished (or running) training run: `python -m posejax.evaluate --workdir=DIR`.

Restores the latest checkpoint of DIR (or `--step=N`, a kept one), runs the task's held-out
evaluation with the run's saved config, prints the metrics and writes DIR/evaluation.json.
`--set=dotted.key=value` (repeatable) changes the saved config first, for instance to evaluate
on more or other held-out data; the results then go to `--output` (default
evaluation_override.json), so the run's own evaluation file stays as it was.
"""

from __future__ import annotations

from absl import app, flags

_WORKDIR = flags.DEFINE_string("workdir", None, "the run's folder (holds config.json and checkpoints/)")
_STEP = flags.DEFINE_integer("step", None, "evaluate this kept checkpoint instead of the latest")
_SET = flags.DEFINE_multi_string("set", [], "change the saved config, e.g. --set=data.num_validation=300")
_OUTPUT = flags.DEFINE_string("output", None, "results file in the workdir (default: evaluation.json, "
                              "or evaluation_override.json with --set)")


def main(argv) -> None:
    del argv
    from posejax.training.loop import evaluate, load_config, override_config

    config = override_config(load_config(_WORKDIR.value), _SET.value) if _SET.value else None
    output = _OUTPUT.value or ("evaluation_override.json" if _SET.value else "evaluation.json")
    if _SET.value:
        print("config changed: " + ", ".join(_SET.value), flush=True)
    scalars = evaluate(_WORKDIR.value, config=config, step=_STEP.value, output=output)
    print("evaluation: " + ", ".join(f"{k}={v:.4g}" for k, v in scalars.items()), flush=True)


if __name__ == "__main__":
    flags.mark_flags_as_required(["workdir"])
    app.run(main)
