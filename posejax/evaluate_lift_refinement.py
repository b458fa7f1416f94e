"""Lift, then refine: is a CanonPose lifter's output, fitted with SMPL by inverse kinematics, a
better start for bundle adjustment than bundle adjustment's own per-frame initialisation?

    python -m posejax.evaluate_lift_refinement --workdir=DIR [--num_frames=250] [--views=1,2,3,4]

`DIR` is a finished `posejax.train` run of `experiments/canonpose.py`. Two measurements, each
with bundle adjustment's default configuration, once from its own initialisation and once from
`posejax.lift.lift_to_smpl`:

  * synthetic: the run's held-out motion clips (never seen by the lifter) filmed and fitted by
    the protocol of `posejax.fitting.evaluate_ba` (random camera, coco17, 3 px noise, 10%
    outliers, 5% missing frames; GMM pose prior refitted without the clip); PA-MPJPE over the 24
    SMPL joints, mm;
  * real: each camera of the shared 4-view clip fitted alone against the triangulation of the
    other three (PA-MPJPE over the COCO joints, mm; `evaluate_ba.real_clip`).

Both the start's and the fit's errors are reported; results go to the console and
`DIR/lift_refinement.json`.
"""

from __future__ import annotations

import os
from typing import Sequence

from absl import app, flags


def evaluate_lift_refinement(workdir: str, num_frames: int = 250, views: Sequence[int] = (1, 2, 3, 4),
                             verbose: bool = True) -> dict:
    """Runs the comparison of the module docstring.

    Returns:
      {"synthetic": {"own": rows, "lifted": rows} (rows as `evaluate_ba.synthetic_round_trip`),
       "real": {"own": rows, "lifted": rows} (rows as `evaluate_ba.real_clip`), "step"}.
    """
    from posejax.fitting import evaluate_ba
    from posejax.lift import lift_to_smpl, load_lifter
    from posejax.synth.motion import load_motion_library
    from posejax.tasks.motion_split import split_clips

    lifter = load_lifter(workdir)
    config = lifter.task.config
    clips = load_motion_library("cmu", body_model=config.body_model, verbose=False)
    _, held = split_clips(clips, int(config.data.held_out_every))

    def lifted(keypoints, layout, prior):
        return lift_to_smpl(keypoints, layout=layout, lifter=lifter, body_model=config.body_model,
                            pose_prior=prior)

    out = {"synthetic": {}, "real": {}, "step": lifter.step}
    for name, init_fn in (("own", None), ("lifted", lifted)):
        if verbose:
            print(f"bundle adjustment from the {name} initialisation:", flush=True)
        out["synthetic"][name] = evaluate_ba.synthetic_round_trip(
            clips, num_frames, evaluated=[c.name for c in held], init_fn=init_fn, verbose=verbose)
        out["real"][name] = [evaluate_ba.real_clip(int(v), init_fn=init_fn, verbose=verbose) for v in views]
    return out


def format_table(report: dict) -> str:
    lines = [f"Lifter checkpoint step {report['step']}; PA-MPJPE (mm): start -> bundle adjustment",
             "| data | own initialisation | lifted + IK |", "|---|---|---|"]
    syn, real = report["synthetic"], report["real"]
    for own, lifted in zip(syn["own"], syn["lifted"]):
        lines.append(f"| {own['clip']} (synthetic, 24 joints) | {own['init_mm']:.1f} -> {own['ba_mm']:.1f} | "
                     f"{lifted['init_mm']:.1f} -> {lifted['ba_mm']:.1f} |")
    for own, lifted in zip(real["own"], real["lifted"]):
        lines.append(f"| real clip, camera {own['view']} (COCO joints) | {own['init_mm']:.1f} -> {own['ba_mm']:.1f} | "
                     f"{lifted['init_mm']:.1f} -> {lifted['ba_mm']:.1f} |")
    return "\n".join(lines)


FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "a finished canonpose training run")
flags.DEFINE_integer("num_frames", 250, "frames per synthetic clip (the first ones)")
flags.DEFINE_list("views", ["1", "2", "3", "4"], "cameras of the real clip to fit alone")


def main(argv):
    from posejax.benchmark.timing import write_json

    del argv
    report = evaluate_lift_refinement(FLAGS.workdir, FLAGS.num_frames, [int(v) for v in FLAGS.views])
    print(format_table(report))
    write_json(os.path.join(FLAGS.workdir, "lift_refinement.json"), report)


if __name__ == "__main__":
    flags.mark_flag_as_required("workdir")
    app.run(main)
