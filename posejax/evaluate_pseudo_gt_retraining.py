"""Does pseudo ground truth help? The pooled regressor trained with and without it (the analogue of
Arnab et al.'s Table 5).

    python -m posejax.evaluate_pseudo_gt_retraining --pseudo_gt=/tmp/pgt/tfds --workdir=/tmp/retrain

Protocol: two runs of `experiments/pooled_regressor.py:cpu` that differ only in their training
data. "synthetic alone" trains on synthetic sequences of the embedded procedural motion
(`data.train_motion_source="procedural"`), the analogue of a model trained on lab data; "+
pseudo-GT" also draws `pseudo_gt_fraction` of its sequences from a `python -m posejax.pseudo_gt`
dataset, bundle-adjustment fits of 2D tracks of real motion (the README's: noisy synthetic
projections of the four training CMU clips, `synthetic_sequences/coco23_motion_split`), the
analogue of fitted in-the-wild videos. Both are evaluated on the same held-out real motion (the
CMU clip no training data shows, new subjects and cameras): MPJPE and PA-MPJPE of the 24 joints
(mm), the global terms as in the task's evaluation. Same seed, steps and network.
"""

from __future__ import annotations

import os

from absl import app, flags

_PSEUDO_GT = flags.DEFINE_string("pseudo_gt", None, "pseudo_gt dataset folder (<pseudo_gt --out>/tfds)")
_WORKDIR = flags.DEFINE_string("workdir", None, "folder of the two runs")
_STEPS = flags.DEFINE_integer("steps", 6000, "training steps of each run")
_FRACTION = flags.DEFINE_float("fraction", 0.5, "share of pseudo-GT sequences in the second run's batches")

METRICS = ("mpjpe_mm", "pa_mpjpe_mm", "translation_mm", "camera_fov", "camera_pitch", "camera_roll",
           "camera_height")


def run_config(steps: int, pseudo_gt: str = "", fraction: float = 0.5):
    """The `:cpu` config of one run of the comparison."""
    from posejax.benchmark.timing import experiment_config

    cfg = experiment_config("pooled_regressor", "cpu")
    cfg.num_steps = steps
    cfg.eval_every = steps
    cfg.checkpoint_every = steps
    cfg.data.train_motion_source = "procedural"
    cfg.data.train_procedural_clips = 0
    cfg.data.pseudo_gt = pseudo_gt
    cfg.data.pseudo_gt_fraction = fraction
    return cfg


def format_table(rows: dict) -> str:
    lines = ["| training data | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for name, scalars in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{scalars.get(m, float('nan')):.1f}" for m in METRICS) + " |")
    return "\n".join(lines)


def main(argv) -> None:
    del argv
    from posejax.compilation_cache import enable_compilation_cache
    from posejax.training.loop import train_and_evaluate

    enable_compilation_cache()
    rows = {}
    for name, folder, path in (("synthetic alone", "synthetic", ""),
                               ("synthetic + pseudo-GT", "pseudo_gt", _PSEUDO_GT.value)):
        cfg = run_config(_STEPS.value, path, _FRACTION.value)
        _, scalars = train_and_evaluate(cfg, os.path.join(_WORKDIR.value, folder))
        rows[name] = scalars
        print(f"{name}: " + ", ".join(f"{k}={v:.4g}" for k, v in scalars.items()), flush=True)
    print(format_table(rows), flush=True)


if __name__ == "__main__":
    flags.mark_flags_as_required(["pseudo_gt", "workdir"])
    app.run(main)
