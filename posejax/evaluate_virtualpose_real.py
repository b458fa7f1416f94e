"""A trained VirtualPose model on real footage: absolute roots from one camera of the shared
4-camera clip, against the multi-view triangulation.

    python -m posejax.evaluate_virtualpose_real --workdir=DIR [--data_dir=.../pose2sim_demo]

Every camera's OpenPose keypoints (BODY_25B, the largest person) are turned into AGR with that
camera's calibrated intrinsics and fitted frame by frame (`posejax.virtualpose.fit_clip`: the
capture space laid on the ground 4.5 m in front of the camera). Reference: the midpoint of the
hips triangulated from all four calibrated views (confidence >= 0.3). Reported per camera, over
the frames where both hips are triangulated: the root error (mm; the model's root is the body
model's pelvis, which sits a few centimetres from the hips' midpoint), its horizontal and
vertical parts, and the same for the depth estimator alone.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
from absl import app, flags


def evaluate_real_clip(model, data_dir: Optional[str] = None, verbose: bool = True) -> dict:
    from posejax.io.four_view_clip import load_four_view_clip
    from posejax.virtualpose import fit_clip

    clip = load_four_view_clip(data_dir)
    kp, cams = clip.keypoints, clip.cameras                                # (4, T, 25, 3) BODY_25B
    pc = clip.perspective(range(4))
    ref, ok = clip.triangulate()
    hips = ok[:, 11] & ok[:, 12]                                           # BODY_25B = COCO order first
    truth = 0.5 * (ref[:, 11] + ref[:, 12])
    out = {"views": [], "frames": int(kp.shape[1]), "compared_frames": int(hips.sum())}
    for v in range(4):
        fit = fit_clip(model, kp[v], layout="body25b", image_size=cams[v].image_size,
                       K=np.asarray(pc.K)[v], R=np.asarray(pc.R)[v], t=np.asarray(pc.t)[v])
        row = {"camera": v + 1}
        for name, est in (("root", fit["roots"]), ("depth_only", fit["depth_only"])):
            d = est[hips] - truth[hips]
            row[f"{name}_mm"] = float(np.nanmean(np.linalg.norm(d, axis=-1)) * 1000)
            row[f"{name}_horizontal_mm"] = float(np.nanmean(np.linalg.norm(d[:, :2], axis=-1)) * 1000)
            row[f"{name}_vertical_mm"] = float(np.nanmean(np.abs(d[:, 2])) * 1000)
        out["views"].append(row)
        if verbose:
            print(f"camera {v + 1}: root error {row['root_mm']:.0f} mm (horizontal {row['root_horizontal_mm']:.0f}, "
                  f"vertical {row['root_vertical_mm']:.0f}); depth estimator alone {row['depth_only_mm']:.0f} mm",
                  flush=True)
    out["mean_root_mm"] = float(np.mean([r["root_mm"] for r in out["views"]]))
    out["mean_depth_only_mm"] = float(np.mean([r["depth_only_mm"] for r in out["views"]]))
    return out


FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "a virtualpose training run")
flags.DEFINE_string("data_dir", None, "the pose2sim_demo folder (default: beside the shared CMU data)")


def main(argv):
    from posejax.benchmark.timing import write_json

    del argv
    from posejax.virtualpose import load_virtualpose

    out = evaluate_real_clip(load_virtualpose(FLAGS.workdir), FLAGS.data_dir)
    write_json(os.path.join(FLAGS.workdir, "real_clip.json"), out)


if __name__ == "__main__":
    flags.mark_flag_as_required("workdir")
    app.run(main)
