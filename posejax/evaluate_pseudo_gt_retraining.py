"""Does pseudo ground truth help? The pooled regressor and the CanonPose lifter trained with and
without it (the analogue of Arnab et al.'s Table 5).

    python -m posejax.evaluate_pseudo_gt_retraining --pseudo_gt=/tmp/pgt/tfds --workdir=/tmp/retrain

Protocol: per model, two runs of its `:cpu` config that differ only in their training data.
"synthetic alone" trains on synthetic data of the embedded procedural motion
(`data.train_motion_source="procedural"`), the analogue of a model trained on lab data; "+
pseudo-GT" adds a `python -m posejax.pseudo_gt` dataset: bundle-adjustment fits of 2D tracks of
real motion (the README's: noisy synthetic projections of the four training CMU clips,
`synthetic_sequences/coco23_motion_split`), the analogue of fitted in-the-wild videos. The pooled
regressor draws `--fraction` of its sequences from it (their pose and shape supervised, their
missing world translation and camera not); the lifter adds a supervised term on its kept
frames (`loss.pseudo_gt`) to its self-supervised multi-view losses. Both are evaluated on held-out
real motion (the CMU clip no training data shows, new subjects and cameras) with their task's
metrics. Same seed, steps and network in both runs.
"""

from __future__ import annotations

import os

from absl import app, flags

_PSEUDO_GT = flags.DEFINE_string("pseudo_gt", None, "pseudo_gt dataset folder (<pseudo_gt --out>/tfds)")
_WORKDIR = flags.DEFINE_string("workdir", None, "folder of the runs")
_MODELS = flags.DEFINE_list("models", ["pooled_regressor", "canonpose"], "models to compare")
_STEPS = flags.DEFINE_integer("steps", None, "training steps of each run (default: per model, STEPS)")
_FRACTION = flags.DEFINE_float("fraction", 0.5, "pooled regressor: share of pseudo-GT sequences")

STEPS = {"pooled_regressor": 6000, "canonpose": 4000}
METRICS = {"pooled_regressor": ("mpjpe_mm", "pa_mpjpe_mm", "translation_mm", "camera_fov", "camera_pitch",
                                "camera_roll", "camera_height"),
           "canonpose": ("n_mpjpe_mm", "pa_mpjpe_mm", "pck150", "cps", "cp150")}


def run_config(model: str, steps: int, pseudo_gt: str = "", fraction: float = 0.5):
    """The `:cpu` config of one run of the comparison."""
    from posejax.benchmark.timing import experiment_config

    cfg = experiment_config(model, "cpu")
    cfg.num_steps = steps
    cfg.eval_every = steps
    cfg.checkpoint_every = steps
    cfg.data.train_motion_source = "procedural"
    cfg.data.train_procedural_clips = 0
    cfg.data.pseudo_gt = pseudo_gt
    if model == "pooled_regressor":
        cfg.data.pseudo_gt_fraction = fraction
    return cfg


def format_table(model: str, rows: dict) -> str:
    names = METRICS[model]
    lines = [f"| {model} training data | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for name, scalars in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{scalars.get(m, float('nan')):.3g}" for m in names) + " |")
    return "\n".join(lines)


def main(argv) -> None:
    del argv
    from posejax.compilation_cache import enable_compilation_cache
    from posejax.training.loop import train_and_evaluate

    enable_compilation_cache()
    tables = []
    for model in _MODELS.value:
        if model not in STEPS:
            raise SystemExit(f"unknown model {model!r}; choose from {sorted(STEPS)}")
        rows = {}
        for name, folder, path in (("synthetic alone", "synthetic", ""),
                                   ("synthetic + pseudo-GT", "pseudo_gt", _PSEUDO_GT.value)):
            cfg = run_config(model, _STEPS.value or STEPS[model], path, _FRACTION.value)
            _, scalars = train_and_evaluate(cfg, os.path.join(_WORKDIR.value, model, folder))
            rows[name] = scalars
            print(f"{model}, {name}: " + ", ".join(f"{k}={v:.4g}" for k, v in scalars.items()), flush=True)
        tables.append(format_table(model, rows))
    print("\n\n".join(tables), flush=True)


if __name__ == "__main__":
    flags.mark_flags_as_required(["pseudo_gt", "workdir"])
    app.run(main)
