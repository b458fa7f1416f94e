"""Camera refinement: how much `refine_camera` (a static-camera fit to the sequence's keypoints,
`posejax.fitting.static_camera`) improves on the pooled regressor's camera and trajectory.

    python -m posejax.evaluate_camera_refinement --workdir=DIR [--num_sequences=60] [--first=0]
        [--prior_weights=0.01,0.03] [--oracles=fov,pitch_roll,fov+pitch_roll,pelvis_height]

`DIR` is a finished `posejax.train` run of `experiments/pooled_regressor.py`. The sequences are the
run's held-out validation stream (motions never seen in training): `--first=0` with the run's
`num_validation` sequences is exactly what `python -m posejax.evaluate` scores; sequences past
them (e.g. `--first=60`) continue the same stream (synthesised, same held-out clips) and are the
place to choose the prior weight without touching the evaluation set.

For every sequence: one forward pass of the regressor (`regress_sequence`), then `refine_camera`
once per prior weight. Reported, mean over sequences with the protocol of `posejax.evaluate`:
camera errors (FoV, pitch, roll in degrees; height in HN mm, and as a percentage of the true
height; the regressor's per-frame cameras averaged, the refined camera as fitted) and the
translation error of the HN pelvis (mm), and the camera-height error by the subject's median
distance from the camera and by the true camera height. The table goes to the console and
`DIR/camera_refinement.json`.

Where the error comes from (`--oracles`): the refinement again, with some of the regressor's
predictions replaced by the truth before it runs (the default prior weight): `fov` (the FoV it
holds), `pitch_roll` (the start and prior mean of pitch and roll, and the axes the body is given
in), `pelvis_height` (the pelvis's height above the ground); `+` combines them. The gap between
such a row and the plain refinement is what a perfect estimate of those quantities would buy.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import List, Sequence

import numpy as np
from absl import app, flags

DISTANCE_BINS_M = (0.0, 3.0, 6.0, 12.0, np.inf)  # HN metres; the bins of the README's analysis
CAMERA_HEIGHT_BINS_M = (0.0, 2.0, 3.0, 5.0, 10.0, np.inf)  # HN metres
ORACLE_PARTS = ("fov", "pitch_roll", "pelvis_height")


def _oracle_parts(oracle: str) -> List[str]:
    parts = oracle.split("+")
    if not all(p in ORACLE_PARTS for p in parts):
        raise ValueError(f"an oracle is parts of {ORACLE_PARTS} joined by '+', got {oracle!r}")
    return parts


def with_truth(result, truth_camera: np.ndarray, truth_root: np.ndarray, oracle: str):
    """`result` (a `RegressionResult`) with the quantities named in `oracle` (parts of
    `ORACLE_PARTS` joined by "+") replaced by the truth: the FoV or pitch and roll in `camera` and
    every frame's `camera_per_frame`, or the pelvis height (`root_hn[:, 1]`)."""
    parts = _oracle_parts(oracle)
    camera, per_frame, root = result.camera.copy(), result.camera_per_frame.copy(), result.root_hn.copy()
    for index in ([3] if "fov" in parts else []) + ([0, 1] if "pitch_roll" in parts else []):
        camera[index] = per_frame[:, index] = truth_camera[index]
    if "pelvis_height" in parts:
        root[:, 1] = truth_root[:, 1]
    return dataclasses.replace(result, camera=camera, camera_per_frame=per_frame, root_hn=root)


def _bins(edges, key: str, rows: List[dict]) -> dict:
    """bin label -> mean camera-height error and count of the `rows` whose `key` falls in it."""
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = [r["camera_height"] for r in rows if lo <= r[key] < hi]
        if inside:
            out[f"{lo:g}-{hi:g} m"] = {"height_mm": float(np.mean(inside)), "sequences": len(inside)}
    return out


def _held_out_sequences(config, first: int, count: int) -> List[dict]:
    """Sequences [first, first + count) of the run's validation stream."""
    from posejax.tasks.pooled_regressor import sequences

    stored = int(config.data.num_validation)
    if first + count <= stored:
        return sequences(config, "validation", stored)[first:first + count]
    # Past the run's validation set: synthesise the stream on (a prepared dataset holds only the
    # run's sequences; synthesis reproduces them, README "Training from a prepared dataset").
    synth = config.copy_and_resolve_references()
    with synth.unlocked():
        synth.data.dataset = ""
    return sequences(synth, "validation", first + count)[first:]


def evaluate_camera_refinement(workdir: str, num_sequences: int = 0, first: int = 0,
                               prior_weights: Sequence[float] = (), oracles: Sequence[str] = (),
                               verbose: bool = True) -> dict:
    """Runs the comparison of the module docstring.

    Args:
      workdir: the training run.
      num_sequences: how many sequences (0: the run's `num_validation`).
      first: index of the first sequence in the validation stream.
      prior_weights: `StaticCameraPriors.weight` values to compare (empty: the default).
      oracles: refinements with some predictions replaced by the truth (`with_truth`), e.g.
        ("fov", "fov+pitch_roll").
      verbose: print one line per sequence.

    Returns:
      {"rows": one dict per sequence and method, "summary": method -> mean errors,
       "by_distance" / "by_camera_height": method -> bin -> mean height error, "num_sequences",
       "first", "step"}.
    """
    from posejax import metrics
    from posejax.fitting.static_camera import StaticCameraPriors
    from posejax.regress import load_regressor, refine_camera, regress_sequence
    from posejax.tasks.pooled_regressor import root_hn_of_sequence

    regressor = load_regressor(workdir)
    task, config = regressor.task, regressor.task.config
    count = int(num_sequences) or int(config.data.num_validation)
    if count < 1 or first < 0:
        raise ValueError(f"need num_sequences >= 1 and first >= 0, got {count}, {first}")
    weights = [float(w) for w in prior_weights] or [StaticCameraPriors().weight]
    for oracle in oracles:   # fail before the long loop
        _oracle_parts(oracle)
    methods = (["regressor"] + [f"refined (prior weight {w:g})" for w in weights]
               + [f"refined, true {o}" for o in oracles])
    rows: List[dict] = []
    for i, seq in enumerate(_held_out_sequences(config, int(first), count)):
        keypoints = np.concatenate([seq["keypoints2d"], seq["confidence"][..., None]], -1)
        truth_camera = np.asarray(seq["camera"], np.float64).copy()
        truth_camera[2] = float(seq["camera_height_hn"])
        truth_root = root_hn_of_sequence(seq, task.model)
        distance = float(np.median(np.linalg.norm(truth_root - np.array([0.0, truth_camera[2], 0.0]), axis=-1)))
        start = time.perf_counter()
        result = regress_sequence(keypoints, layout=regressor.layout, image_size=task.image_size,
                                  regressor=regressor)
        results = {"regressor": (result, time.perf_counter() - start)}
        for weight, method in zip(weights, methods[1:]):
            start = time.perf_counter()
            refined = refine_camera(result, keypoints, layout=regressor.layout, regressor=regressor,
                                    priors=StaticCameraPriors(weight=weight))
            results[method] = (refined, time.perf_counter() - start)
        for oracle in oracles:
            start = time.perf_counter()
            refined = refine_camera(with_truth(result, truth_camera, truth_root, oracle), keypoints,
                                    layout=regressor.layout, regressor=regressor)
            results[f"refined, true {oracle}"] = (refined, time.perf_counter() - start)
        for method, (res, seconds) in results.items():
            errs = metrics.camera_errors(np.asarray(res.camera, np.float64), truth_camera)
            rows.append({"sequence": first + i, "frames": int(keypoints.shape[0]), "distance_m": distance,
                         "camera_height_m": float(truth_camera[2]), "method": method, "seconds": seconds,
                         "camera_height_percent": float(errs["height"] / (10.0 * truth_camera[2])),
                         "translation_mm": float(metrics.translation_error(res.root_hn, truth_root)),
                         **{f"camera_{k}": float(v) for k, v in errs.items()}})
        if verbose:
            line = "  ".join(f"{r['camera_height']:6.0f}" for r in rows[-len(results):])
            print(f"sequence {first + i} ({distance:4.1f} m, {keypoints.shape[0]} frames): height error mm "
                  f"{line}", flush=True)
    keys = ("camera_fov", "camera_pitch", "camera_roll", "camera_height", "camera_height_percent",
            "translation_mm", "seconds")
    summary, by_distance, by_camera_height = {}, {}, {}
    for method in methods:
        picked = [r for r in rows if r["method"] == method]
        summary[method] = {k: float(np.mean([r[k] for r in picked])) for k in keys}
        summary[method]["camera_height_median"] = float(np.median([r["camera_height"] for r in picked]))
        by_distance[method] = _bins(DISTANCE_BINS_M, "distance_m", picked)
        by_camera_height[method] = _bins(CAMERA_HEIGHT_BINS_M, "camera_height_m", picked)
    return {"rows": rows, "summary": summary, "by_distance": by_distance, "by_camera_height": by_camera_height,
            "num_sequences": count, "first": int(first), "step": regressor.step}


def format_table(report: dict) -> str:
    n, first = report["num_sequences"], report["first"]
    lines = [f"Held-out sequences {first}-{first + n - 1} (checkpoint step {report['step']}); mean over sequences",
             "| method | FoV (deg) | pitch (deg) | roll (deg) | height (mm) | height, median (mm) "
             "| height (% of true) | translation (mm) | seconds |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for method, s in report["summary"].items():
        lines.append(f"| {method} | {s['camera_fov']:.2f} | {s['camera_pitch']:.2f} | {s['camera_roll']:.2f} | "
                     f"{s['camera_height']:.0f} | {s['camera_height_median']:.0f} | "
                     f"{s['camera_height_percent']:.1f} | {s['translation_mm']:.0f} | {s['seconds']:.2f} |")
    for key, title in (("by_distance", "the subject's median distance from the camera"),
                       ("by_camera_height", "the true camera height")):
        bins = list(report[key]["regressor"].keys())
        lines += ["", f"Camera-height error (mm) by {title} (HN metres; sequences):",
                  "| method | " + " | ".join(f"{b} ({report[key]['regressor'][b]['sequences']})" for b in bins) + " |",
                  "|---|" + "---:|" * len(bins)]
        for method, per_bin in report[key].items():
            lines.append(f"| {method} | " + " | ".join(f"{per_bin[b]['height_mm']:.0f}" for b in bins) + " |")
    return "\n".join(lines)


FLAGS = flags.FLAGS


def _define_flags():
    # Defined only when run as a script: several evaluation modules name a `workdir` flag,
    # and absl refuses a second definition when two of them are imported in one process.
    flags.DEFINE_string("workdir", None, "a finished pooled_regressor training run")
    flags.DEFINE_integer("num_sequences", 0, "sequences to evaluate (0: the run's num_validation)")
    flags.DEFINE_integer("first", 0, "index of the first sequence of the held-out validation stream")
    flags.DEFINE_list("prior_weights", [], "StaticCameraPriors.weight values to compare (default: the default)")
    flags.DEFINE_list("oracles", [], "refinements with predictions replaced by the truth: parts of "
                      "fov, pitch_roll, pelvis_height joined by '+' (module docstring)")


def main(argv):
    from posejax.benchmark.timing import write_json

    del argv
    report = evaluate_camera_refinement(FLAGS.workdir, FLAGS.num_sequences, FLAGS.first,
                                        [float(w) for w in FLAGS.prior_weights], FLAGS.oracles)
    print(format_table(report))
    write_json(os.path.join(FLAGS.workdir, "camera_refinement.json"), report)


if __name__ == "__main__":
    _define_flags()
    flags.mark_flag_as_required("workdir")
    app.run(main)
