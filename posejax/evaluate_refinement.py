"""Regress, then refine: does bundle adjustment improve on the pooled regressor, and does the
regressor's output make a better start for bundle adjustment than its per-frame initialisation?

    python -m posejax.evaluate_refinement --workdir=DIR [--num_sequences=8] [--num_frames=250]

`DIR` is a finished `posejax.train` run of `experiments/pooled_regressor.py`. Its held-out
validation sequences (motions never seen in training) are cut to their first `num_frames` frames
(one length, so bundle adjustment compiles once) and fitted three ways:

  * regressor: `regress_sequence` alone (one forward pass);
  * BA: `bundle_adjust` from its own per-frame initialisation;
  * regressor + BA: `bundle_adjust` started from `RegressionResult.bundle_adjust_init`.

Both bundle adjustments use the default configuration with a GMM pose prior refitted without the
held-out motion clips (the shipped prior has seen every CMU clip). Reported per method: PA-MPJPE
over the 24 body-model joints, mm, mean over sequences (only the Procrustes-aligned error: bundle
adjustment's joints live in its weak camera's frame, the truth in the world), and seconds per
sequence (the first bundle adjustment includes compilation); the table goes to the console and
`DIR/refinement.json`.
"""

from __future__ import annotations

import os
import time
from typing import Dict, List

import numpy as np
from absl import app, flags

METHODS = ("regressor", "BA", "regressor + BA")


def _errors_mm(pred, gt) -> Dict[str, float]:
    from posejax import metrics

    return {"pa_mpjpe_mm": float(metrics.pa_mpjpe(np.asarray(pred, np.float32), np.asarray(gt, np.float32)))}


def held_out_prior(config, seed: int = 0):
    """The 8-component GMM pose prior fitted on the run's training motion clips only."""
    import jax

    from posejax.fitting.fit_pose_prior import gather
    from posejax.fitting.pose_prior import fit_gmm
    from posejax.synth.motion import load_motion_library
    from posejax.tasks.motion_split import split_clips

    clips = load_motion_library(config.data.motion_source, body_model=config.body_model, verbose=False)
    train, _ = split_clips(clips, int(config.data.held_out_every))
    gmm, _ = fit_gmm(jax.random.PRNGKey(seed), gather(train, True), 8, 200, reg=1e-2)
    return gmm


def evaluate_refinement(workdir: str, num_sequences: int = 8, num_frames: int = 250,
                        verbose: bool = True) -> dict:
    """Runs the comparison of the module docstring.

    Returns:
      {"rows": one dict per sequence and method, "summary": method -> mean errors,
       "num_sequences", "num_frames", "step"}.
    """
    from posejax.body import kinematics
    from posejax.fitting.bundle_adjustment import bundle_adjust
    from posejax.regress import load_regressor, regress_sequence
    from posejax.tasks.pooled_regressor import sequences

    if num_sequences < 1 or num_frames < 32:
        raise ValueError(f"need num_sequences >= 1 and num_frames >= 32, got {num_sequences}, {num_frames}")
    regressor = load_regressor(workdir)
    task, config = regressor.task, regressor.task.config
    model = task.model
    prior = held_out_prior(config)
    held_out = sequences(config, "validation", int(config.data.num_validation))[:num_sequences]
    rows: List[dict] = []
    for i, seq in enumerate(held_out):
        t = min(num_frames, seq["keypoints2d"].shape[0])
        keypoints = np.concatenate([seq["keypoints2d"][:t], seq["confidence"][:t, :, None]], -1)
        truth = np.asarray(kinematics.joints(model, seq["pose"][:t], seq["betas"]))
        fits = {}
        start = time.perf_counter()
        result = regress_sequence(keypoints, layout=regressor.layout, image_size=task.image_size,
                                  regressor=regressor)
        fits["regressor"] = (kinematics.joints(model, result.pose, result.betas), time.perf_counter() - start)
        for method, init in (("BA", None), ("regressor + BA", result.bundle_adjust_init(model))):
            start = time.perf_counter()
            fit = bundle_adjust(keypoints, layout=regressor.layout, image_size=task.image_size,
                                init=init, body_model=model, pose_prior=prior)
            fits[method] = (fit.joints, time.perf_counter() - start)
            if method == "BA":
                fits["BA initialisation"] = (kinematics.joints(model, fit.init.pose, fit.init.betas), 0.0)
        for method, (joints, seconds) in fits.items():
            rows.append({"sequence": i, "frames": t, "method": method, "seconds": seconds,
                         **_errors_mm(joints, truth)})
        if verbose:
            line = "  ".join(f"{r['method']} {r['pa_mpjpe_mm']:.1f}" for r in rows[-len(fits):])
            print(f"sequence {i}: PA-MPJPE mm  {line}", flush=True)
    summary = {}
    for method in ("BA initialisation",) + METHODS:
        picked = [r for r in rows if r["method"] == method]
        summary[method] = {k: float(np.mean([r[k] for r in picked])) for k in ("pa_mpjpe_mm", "seconds")}
    return {"rows": rows, "summary": summary, "num_sequences": len(held_out), "num_frames": num_frames,
            "step": regressor.step}


def format_table(report: dict) -> str:
    lines = [f"Held-out sequences: {report['num_sequences']} x <= {report['num_frames']} frames "
             f"(checkpoint step {report['step']}); 24 joints, mean over sequences",
             "| method | PA-MPJPE (mm) | seconds |", "|---|---:|---:|"]
    for method, s in report["summary"].items():
        lines.append(f"| {method} | {s['pa_mpjpe_mm']:.1f} | {s['seconds']:.1f} |")
    return "\n".join(lines)


FLAGS = flags.FLAGS


def _define_flags():
    # Defined only when run as a script: several evaluation modules name a `workdir` flag,
    # and absl refuses a second definition when two of them are imported in one process.
    flags.DEFINE_string("workdir", None, "a finished pooled_regressor training run")
    flags.DEFINE_integer("num_sequences", 8, "held-out validation sequences to fit")
    flags.DEFINE_integer("num_frames", 250, "frames per sequence (the first ones)")


def main(argv):
    from posejax.benchmark.timing import write_json

    del argv
    report = evaluate_refinement(FLAGS.workdir, FLAGS.num_sequences, FLAGS.num_frames)
    print(format_table(report))
    write_json(os.path.join(FLAGS.workdir, "refinement.json"), report)


if __name__ == "__main__":
    _define_flags()
    flags.mark_flag_as_required("workdir")
    app.run(main)
