"""A trained CanonPose lifter on real footage: the shared 4-camera clip's OpenPose keypoints.

    python -m posejax.evaluate_lifter_real --workdir=DIR [--data_dir=.../pose2sim_demo]

Every camera's BODY_25B keypoints (the largest person) are lifted frame by frame, one view at a
time (converted to the lifter's layout). Reference: the weighted triangulation of all four
calibrated views (confidence >= 0.3). Two numbers, over the 17 COCO joints and the frames where
the triangulation has at least 12 of them, in mm:

  * PA-MPJPE of each view's lifted pose (as its camera sees it) against the triangulation;
  * view agreement: PA-MPJPE between the canonical poses that two views give for the same moment
    (every pair of views; the second pose is first scaled to the triangulated pose's size, which
    puts the number in mm). A lifter whose canonical frame is consistent gives small values.
"""

from __future__ import annotations

import itertools
import os
from typing import Optional

import numpy as np
from absl import app, flags

COCO = 17


def evaluate_real_clip(lifter, data_dir: Optional[str] = None, verbose: bool = True) -> dict:
    """Runs the measurement of the module docstring.

    Returns:
      {"pa_mpjpe_mm": per view (4), "mean_pa_mpjpe_mm", "agreement_mm": per pair,
       "mean_agreement_mm", "frames", "compared_frames"}.
    """
    from posejax import metrics
    from posejax.body.layouts import get_layout
    from posejax.io.four_view_clip import load_four_view_clip
    from posejax.lift import lift_poses

    clip = load_four_view_clip(data_dir)
    kp = clip.keypoints                                                    # (4, T, 25, 3) BODY_25B
    ref, ok = clip.triangulate()
    names = list(get_layout(lifter.layout).names)
    coco = [names.index(n) for n in get_layout("coco17").names]           # coco17 points in the lifter's layout
    ref, ok = ref[:, :COCO], ok[:, :COCO]                                  # BODY_25B starts with COCO's 17
    frames = ok.sum(-1) >= 12
    mask = ok[frames]
    lifted = lift_poses(kp, layout="body25b", lifter=lifter)               # (4, T, K, ...)
    view = lifted.camera_view[:, frames][..., coco, :]
    canon = lifted.canonical[:, frames][..., coco, :]
    tri = ref[frames]
    pa = [float(metrics.pa_mpjpe(view[v], tri, mask=mask)) for v in range(4)]
    tri_c = tri - np.sum(tri * mask[..., None], 1, keepdims=True) / mask.sum(1)[:, None, None]
    size = np.sqrt(np.sum(tri_c ** 2 * mask[..., None], (1, 2)))           # (F,) metres
    agreement = {}
    for i, j in itertools.combinations(range(4), 2):
        other = canon[j] - canon[j].mean(1, keepdims=True)
        other = other * (size / np.sqrt(np.sum(other ** 2 * mask[..., None], (1, 2))))[:, None, None]
        agreement[f"{i + 1}-{j + 1}"] = float(metrics.pa_mpjpe(canon[i], other, mask=mask))
    out = {"pa_mpjpe_mm": pa, "mean_pa_mpjpe_mm": float(np.mean(pa)), "agreement_mm": agreement,
           "mean_agreement_mm": float(np.mean(list(agreement.values()))),
           "frames": int(kp.shape[1]), "compared_frames": int(frames.sum())}
    if verbose:
        print(f"lifted views vs 4-view triangulation (PA-MPJPE, 17 COCO joints, {out['compared_frames']} "
              f"frames): " + ", ".join(f"camera {v + 1} {e:.1f} mm" for v, e in enumerate(pa))
              + f"; mean {out['mean_pa_mpjpe_mm']:.1f} mm", flush=True)
        print(f"view agreement of the canonical poses: mean {out['mean_agreement_mm']:.1f} mm "
              + "(" + ", ".join(f"{k}: {v:.1f}" for k, v in agreement.items()) + ")", flush=True)
    return out


FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "a canonpose training run")
flags.DEFINE_string("data_dir", None, "the pose2sim_demo folder (default: beside the shared CMU data)")


def main(argv):
    from posejax.benchmark.timing import write_json

    del argv
    from posejax.lift import load_lifter

    out = evaluate_real_clip(load_lifter(FLAGS.workdir), FLAGS.data_dir)
    write_json(os.path.join(FLAGS.workdir, "real_clip.json"), out)


if __name__ == "__main__":
    flags.mark_flag_as_required("workdir")
    app.run(main)
