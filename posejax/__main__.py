"""`python -m posejax`: the main job on embedded defaults.

Today it loads the embedded open body model, poses it in a few named poses with the fast paths
(forward kinematics, sparse COCO keypoints, full skinning), prints what it computed and saves a
figure. Later capabilities (bundle adjustment) take over this entry point.

  python -m posejax [--body_model=open|open-lite|PATH] [--out=posejax_demo.png]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from posejax.body import kinematics
from posejax.body.loading import load_body_model
from posejax.body.poses import POSE_NAMES, named_pose


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(prog="python -m posejax", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--body_model", default="open", help="'open', 'open-lite' or an SMPL file/folder")
    parser.add_argument("--out", default="posejax_demo.png", help="where to save the figure")
    args = parser.parse_args(argv)

    from posejax.viz import plot_bodies_grid, save_figure  # matplotlib only when drawing

    model = load_body_model(args.body_model)
    print(model)
    poses = np.stack([named_pose(n) for n in POSE_NAMES])
    betas = np.zeros((len(POSE_NAMES), model.num_betas), np.float32)

    start = time.perf_counter()
    out = jax.jit(kinematics.forward)(model, poses, betas)
    jax.block_until_ready(out)
    print(f"posed {len(POSE_NAMES)} bodies ({model.num_vertices} vertices each) in "
          f"{time.perf_counter() - start:.2f} s including compilation")
    verts = np.asarray(out.vertices)
    height = verts[0, :, 1].max() - verts[0, :, 1].min()
    print(f"T-pose height at betas = 0: {height:.3f} m")
    if "coco17" in model.layouts:
        kp = np.asarray(kinematics.keypoints(model, "coco17", poses[:1], betas[:1]))[0]
        print("COCO-17 nose / left ankle at T-pose (m):", np.round(kp[0], 3), np.round(kp[15], 3))

    fig = plot_bodies_grid([{"vertices": v, "joints": j} for v, j in zip(verts, np.asarray(out.joints))],
                           faces=np.asarray(model.faces), titles=POSE_NAMES,
                           title=f"posejax body model '{args.body_model}' (front and side)")
    path = save_figure(fig, args.out, dpi=110)
    print(f"saved {path}")
    return path


if __name__ == "__main__":
    main()
