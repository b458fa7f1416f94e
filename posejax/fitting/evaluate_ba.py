"""Evaluation of bundle adjustment: the protocol behind the README's numbers.

    python -m posejax.fitting.evaluate_ba [--num_frames=250] [--clips=all] [--ablation=true]
        [--real=true] [--tracking_seeds=20] [--error_sources=false] [--out_dir=ba_eval]

Three measurements, and an optional fourth:

  1. **Synthetic round trip on real motion.** Every retargeted CMU clip of ../shared/data is
     filmed by a random static perspective camera (`synthetic_video`: azimuth anywhere around the
     person, 4-7 m, focal 1000-1600 px, 1920x1080, coco17, 3 px noise, 10% outlier keypoints, 5%
     missing frames) and fitted with the default settings. The GMM pose prior is refitted for
     each clip *without* that clip (leave-one-clip-out; the shipped prior has seen every clip).
     Reported: PA-MPJPE over the 24 SMPL joints (mm) of the per-frame initialisation and of bundle
     adjustment, and the ablation of the paper's Table 1: E_R alone, + E_P, + E_T (the shape
     prior stays on in every row: without it a single clip does not constrain beta).
  2. **Real video.** The shared 4-camera clip: one camera's OpenPose keypoints (BODY_25B, the
     largest person) are fitted alone; the reference is the weighted triangulation of the other
     three cameras. PA-MPJPE per frame over the COCO joints both provide (mm).
  3. **Tracking.** Synthetic two-person clips where the people cross and the detection order is
     shuffled per frame (`two_person_video`); the fraction of frames in which the track follows
     one and the same person (its majority identity).

With `--error_sources=true`, a fourth: **where the round trip's error comes from.** The default
round trip again with noise-free keypoints (no noise, outliers or missing frames) from the
per-frame initialisation, then from the true motion (`synthetic_video.ground_truth_init`) with the
default and the perspective camera, without the temporal terms, and without the initialisation
prior (which, started from the truth, pulls towards the truth): how far from the truth the
energy's own minimum lies, against how far the solve from its own start ends.

Writes `results.json` and `results.md` (tables) to `--out_dir` and prints the tables.
"""

from __future__ import annotations

import json
import os
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

ABLATION = {
    "E_R": {"weights": {"smooth_joints": 0.0, "smooth_keypoints": 0.0, "smooth_camera": 0.0,
                        "smooth_root": 0.0, "pose_prior": 0.0, "init_prior": 0.0}},
    "E_R + E_P": {"weights": {"smooth_joints": 0.0, "smooth_keypoints": 0.0, "smooth_camera": 0.0,
                              "smooth_root": 0.0}},
    "E_R + E_P + E_T": {},
}
"""Config overrides of the ablation rows (the last row is the default configuration)."""


def held_out_pose_prior(clips, held_out: str, seed: int = 0):
    """The 8-component GMM pose prior fitted without the clip named `held_out` (mirrored poses
    included, covariance floor 0.01 rad^2: the shipped prior's recipe)."""
    import jax

    from posejax.fitting.fit_pose_prior import gather
    from posejax.fitting.pose_prior import fit_gmm

    train = [c for c in clips if c.name != held_out]
    if not train:
        raise ValueError("need at least one clip besides the held-out one")
    gmm, _ = fit_gmm(jax.random.PRNGKey(seed), gather(train, True), 8, 200, reg=1e-2)
    return gmm


def _pa_mm(pred, gt, mask=None) -> float:
    from posejax import metrics

    return float(metrics.pa_mpjpe(np.asarray(pred, np.float32), np.asarray(gt, np.float32), mask=mask))


def synthetic_round_trip(clips, num_frames: int = 250, configs: Optional[Dict[str, dict]] = None,
                         verbose: bool = True, evaluated: Optional[Sequence[str]] = None,
                         init_fn: Optional[Callable] = None, video_options: Optional[dict] = None,
                         start_from_truth: bool = False) -> List[dict]:
    """Measurement 1 (module docstring): one row per clip and configuration.

    Args:
      clips: `MotionClip`s (CMU); the pose prior is refitted without each evaluated clip.
      num_frames: frames per clip (fewer when a clip is shorter).
      configs: name -> config overrides (default: only the default configuration).
      evaluated: names of the clips to fit (default: all); the others only shape the prior.
      init_fn: optional `init_fn(keypoints, layout, pose_prior) -> Init` replacing bundle
        adjustment's own per-frame initialisation.
      video_options: keyword arguments of `synthetic_video` (e.g. `noise_px=0.0`).
      start_from_truth: start from the true motion (`ground_truth_init`) instead.

    Returns:
      dicts with clip, frames, config, init_mm, ba_mm, iterations, seconds.
    """
    from posejax.body import kinematics
    from posejax.body.loading import load_body_model
    from posejax.fitting.bundle_adjustment import bundle_adjust
    from posejax.fitting.synthetic_video import ground_truth_init, synthetic_video

    if init_fn is not None and start_from_truth:
        raise ValueError("give `init_fn` or `start_from_truth`, not both")
    configs = configs or {"E_R + E_P + E_T": {}}
    model = load_body_model("open")
    rows = []
    for i, clip in enumerate(clips):
        if evaluated is not None and clip.name not in evaluated:
            continue
        prior = held_out_pose_prior(clips, clip.name)
        video = synthetic_video(clip, seed=i, num_frames=min(num_frames, clip.num_frames),
                                **(video_options or {}))
        init = None if init_fn is None else init_fn(video.keypoints, video.layout, prior)
        if start_from_truth:
            init = ground_truth_init(clip, video)
        for name, overrides in configs.items():
            t0 = time.perf_counter()
            r = bundle_adjust(video.keypoints, layout=video.layout, image_size=video.image_size,
                              config=overrides, pose_prior=prior, init=init)
            seconds = time.perf_counter() - t0
            init_joints = np.asarray(kinematics.joints(model, r.init.pose, r.init.betas))
            row = {"clip": clip.name, "frames": r.num_frames, "config": name,
                   "init_mm": _pa_mm(init_joints, video.joints), "ba_mm": _pa_mm(r.joints, video.joints),
                   "iterations": r.solver["iterations"], "seconds": seconds}
            rows.append(row)
            if verbose:
                print(f"  {clip.name:12s} {name:16s} init {row['init_mm']:6.1f} mm  BA {row['ba_mm']:6.1f} mm  "
                      f"({row['iterations']} iterations, {seconds:.1f} s)", flush=True)
    return rows


def real_clip(view: int = 1, data_dir: Optional[str] = None, config: Optional[dict] = None,
              verbose: bool = True, init_fn: Optional[Callable] = None) -> dict:
    """Measurement 2 (module docstring) for one camera (1-4) of the shared 4-view clip; `init_fn`
    as for `synthetic_round_trip` (with the shipped pose prior).

    Returns:
      dict with view, frames, init_mm, ba_mm (PA-MPJPE over the 17 COCO joints against the
      triangulation of the other views, frames where it has at least 12 of them), compared_frames.
    """
    from posejax.fitting.bundle_adjustment import bundle_adjust
    from posejax.io.four_view_clip import load_four_view_clip
    from posejax.body import kinematics
    from posejax.body.loading import load_body_model

    clip = load_four_view_clip(data_dir)
    kp = clip.keypoints                                                     # (4, T, 25, 3) BODY_25B
    ref, ok = clip.triangulate([i for i in range(4) if i != view - 1])
    ref, ok = ref[:, :17], ok[:, :17]  # COCO joints = first 17 of BODY_25B
    size = clip.cameras[view - 1].image_size
    init = None if init_fn is None else init_fn(kp[view - 1], "body25b", None)
    r = bundle_adjust(kp[view - 1], layout="body25b", image_size=size, config=config, init=init)
    model = load_body_model("open")
    init_kp = np.asarray(kinematics.keypoints(model, r.layout, r.init.pose, r.init.betas))[:, :17]
    frames = ok.sum(-1) >= 12
    mask = ok & frames[:, None]
    out = {"view": view, "frames": int(kp.shape[1]), "compared_frames": int(frames.sum()),
           "init_mm": _pa_mm(init_kp[frames], ref[frames], mask[frames]),
           "ba_mm": _pa_mm(r.keypoints3d[:, :17][frames], ref[frames], mask[frames]),
           "inlier_fraction": r.inlier_fraction}
    if verbose:
        print(f"  camera {view}: init {out['init_mm']:.1f} mm, BA {out['ba_mm']:.1f} mm PA-MPJPE "
              f"({out['compared_frames']} frames)", flush=True)
    return out


NOISE_FREE = {"noise_px": 0.0, "outlier_fraction": 0.0, "missing_fraction": 0.0}
"""`synthetic_video` options of perfect keypoints."""

ERROR_SOURCES = (
    ("per-frame initialisation", False, {}),
    ("true motion", True, {}),
    ("true motion, perspective camera", True, {"camera": "perspective"}),
    ("true motion, no temporal terms", True, ABLATION["E_R + E_P"]),
    # Without the initialisation prior nothing ties the fit to its (here: true) start: where the
    # energy itself settles near the truth.
    ("true motion, no initialisation prior", True, {"weights": {"init_prior": 0.0}}),
    ("true motion, no initialisation prior, perspective camera", True,
     {"camera": "perspective", "weights": {"init_prior": 0.0}}),
)
"""Rows of measurement 4: (name, start from the truth, config overrides)."""


def error_sources(clips, num_frames: int = 250, verbose: bool = True,
                  evaluated: Optional[Sequence[str]] = None) -> List[dict]:
    """Measurement 4 (module docstring): the `ERROR_SOURCES` rows on noise-free keypoints
    (`clips` and `evaluated` as for `synthetic_round_trip`)."""
    rows = []
    for name, truth, overrides in ERROR_SOURCES:
        if verbose:
            print(f" {name}:", flush=True)
        for row in synthetic_round_trip(clips, num_frames, {name: overrides}, verbose=verbose,
                                        evaluated=evaluated, video_options=NOISE_FREE,
                                        start_from_truth=truth):
            rows.append({**row, "start": "truth" if truth else "per-frame initialisation"})
    return rows


def tracking(clips, seeds: int = 20, num_frames: int = 120, verbose: bool = True) -> dict:
    """Measurement 3 (module docstring) over `seeds` two-person clips.

    Returns:
      dict with per_clip (fraction of detected frames on the track's majority identity), mean, min.
    """
    from posejax.fitting.synthetic_video import two_person_video
    from posejax.fitting.tracking import track_person

    long = [c for c in clips if c.num_frames >= num_frames]
    if len(long) < 2:
        raise ValueError(f"need two clips of at least {num_frames} frames")
    fractions = []
    for s in range(seeds):
        a, b = long[s % len(long)], long[(s + 1) % len(long)]
        video = two_person_video(a, b, seed=s, num_frames=num_frames)
        track = track_person(video.keypoints)
        t = np.arange(num_frames)
        taken = track.indices >= 0
        who = np.where(taken, video.identity[t, np.maximum(track.indices, 0)], -1)
        majority = np.bincount(who[taken]).argmax()
        present = (video.identity == majority).any(1)
        fractions.append(float(np.mean(who[present] == majority)))
    out = {"per_clip": fractions, "mean": float(np.mean(fractions)), "min": float(np.min(fractions))}
    if verbose:
        print(f"  tracking: right person in {100 * out['mean']:.1f}% of frames on average, "
              f"{100 * out['min']:.1f}% worst ({seeds} clips)", flush=True)
    return out


def markdown(results: dict) -> str:
    """The README tables of `results` (as `main` writes them)."""
    lines = []
    rows = results.get("synthetic", [])
    if rows:
        names = list(dict.fromkeys(r["config"] for r in rows))
        clips = list(dict.fromkeys(r["clip"] for r in rows))
        lines += ["| clip | frames | per-frame init | " + " | ".join(names) + " |",
                  "| --- | --- | --- | " + " | ".join("---" for _ in names) + " |"]
        for c in clips:
            mine = {r["config"]: r for r in rows if r["clip"] == c}
            first = next(iter(mine.values()))
            lines.append(f"| {c} | {first['frames']} | {first['init_mm']:.1f} | "
                         + " | ".join(f"{mine[n]['ba_mm']:.1f}" for n in names) + " |")
        mean = lambda n, k: np.mean([r[k] for r in rows if r["config"] == n])  # noqa: E731
        lines.append(f"| **mean** | | **{mean(names[0], 'init_mm'):.1f}** | "
                     + " | ".join(f"**{mean(n, 'ba_mm'):.1f}**" for n in names) + " |")
        lines.append("")
    for r in results.get("real", []):
        lines.append(f"Real clip, camera {r['view']} alone vs triangulation of the other three: "
                     f"per-frame init {r['init_mm']:.1f} mm, bundle adjustment {r['ba_mm']:.1f} mm "
                     f"PA-MPJPE (COCO joints, {r['compared_frames']} frames).")
    rows = results.get("error_sources", [])
    if rows:
        clips = list(dict.fromkeys(r["clip"] for r in rows))
        lines += ["| noise-free keypoints, start from | " + " | ".join(clips) + " | mean |",
                  "| --- | " + " | ".join("---" for _ in clips) + " | --- |"]
        for name in dict.fromkeys(r["config"] for r in rows):
            mine = [r["ba_mm"] for r in rows if r["config"] == name]
            lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in mine)
                         + f" | **{np.mean(mine):.1f}** |")
        lines.append("")
    if "tracking" in results:
        t = results["tracking"]
        lines.append(f"Tracking: right person in {100 * t['mean']:.1f}% of frames on average, "
                     f"{100 * t['min']:.1f}% in the worst of {len(t['per_clip'])} two-person clips.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    import argparse

    from posejax.compilation_cache import enable_compilation_cache
    from posejax.synth.motion import load_motion_library

    parser = argparse.ArgumentParser(prog="python -m posejax.fitting.evaluate_ba", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_frames", type=int, default=250)
    parser.add_argument("--clips", default="all", help="comma-separated clip names, or 'all'")
    parser.add_argument("--ablation", default="true", choices=("true", "false"))
    parser.add_argument("--real", default="true", choices=("true", "false"))
    parser.add_argument("--views", default="1,2,3,4", help="cameras of the real clip fitted alone")
    parser.add_argument("--tracking_seeds", type=int, default=20, help="0 skips the tracking test")
    parser.add_argument("--error_sources", default="false", choices=("true", "false"),
                        help="also measurement 4 (about 4 minutes more)")
    parser.add_argument("--out_dir", default="ba_eval")
    args = parser.parse_args(argv)
    enable_compilation_cache()
    clips = load_motion_library("cmu", verbose=False)
    chosen = clips if args.clips == "all" else [c for c in clips if c.name in args.clips.split(",")]
    if not chosen:
        raise SystemExit(f"no clip named in {args.clips!r}; have {[c.name for c in clips]}")
    results: dict = {}
    print("synthetic round trip (PA-MPJPE, 24 SMPL joints, held-out pose prior):", flush=True)
    configs = ABLATION if args.ablation == "true" else {"E_R + E_P + E_T": {}}
    # Every clip shapes the leave-one-clip-out prior; only the chosen ones are fitted.
    evaluated = [c.name for c in chosen]
    results["synthetic"] = synthetic_round_trip(clips, args.num_frames, configs, evaluated=evaluated)
    if args.error_sources == "true":
        print("where the error comes from (noise-free keypoints):", flush=True)
        results["error_sources"] = error_sources(clips, args.num_frames, evaluated=evaluated)
    # The pose prior for the figures that follow is the shipped one: the real clip is not in it.
    if args.real == "true":
        print("real 4-camera clip:", flush=True)
        results["real"] = [real_clip(int(v)) for v in args.views.split(",")]
    if args.tracking_seeds > 0:
        print("two-person tracking:", flush=True)
        results["tracking"] = tracking(clips, seeds=args.tracking_seeds)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    table = markdown(results)
    with open(os.path.join(args.out_dir, "results.md"), "w") as f:
        f.write(table)
    print(table)
    return results


if __name__ == "__main__":
    main()
