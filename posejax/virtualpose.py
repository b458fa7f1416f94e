"""VirtualPose on real detections: 2D keypoints -> AGR -> absolute 3D people.

    python -m posejax.virtualpose --workdir=DIR --keypoints=FOLDER --calibration=FILE --camera=1
        [--layout=body25b] [--out=people.npz]

The networks never see an image, only the abstract geometry representation, so a 2D detector's
keypoints can stand in for the paper's image-to-AGR network (`agr_from_detections`): the image is
letterboxed into the training image size (intrinsics scaled alike), every confident keypoint
becomes a Gaussian in its COCO-17 channel, and each person's box (its confident keypoints' extent
plus the training margin) is written at its root pixel (the hips' midpoint).

World frame: the networks search a capture space laid out on the ground (Y up, y = 0) around the
origin (`config.model.space_centre`), as in training. `ground_frame` builds such a frame for a
calibrated camera: the calibration's up axis turned to +Y and the origin moved to the ground point
`distance` metres in front of the camera (the horizontal direction of its optical axis).
`python -m posejax.virtualpose` does this for one camera of a Qualisys calibration (Z up), fits
the largest person of every frame, and writes the people's roots and joints in the calibration's
world frame.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

import jax
import numpy as np

from posejax.body.layouts import convert_keypoints, get_layout
from posejax.synth.agr import MIN_VISIBLE_JOINTS, person_boxes, render_box_maps, render_heatmaps, to_heatmap_pixels

__all__ = ["VirtualPoseModel", "load_virtualpose", "agr_from_detections", "ground_frame", "estimate_people"]


@dataclasses.dataclass(frozen=True)
class VirtualPoseModel:
    """A trained VirtualPose task and its parameters (`load_virtualpose`)."""

    task: object
    params: object
    step: int
    predict: object     # jit(task.predict)


def load_virtualpose(workdir: str) -> VirtualPoseModel:
    """The latest checkpoint of a `posejax.train` run of `experiments/virtualpose.py`."""
    from posejax.training.loop import load_trained

    task, state = load_trained(workdir, "virtualpose")
    return VirtualPoseModel(task=task, params=state.params, step=int(state.step), predict=jax.jit(task.predict))


def _letterbox(image_size, target_size) -> Tuple[float, np.ndarray]:
    """Scale and offset (pixels) that fit an image into `target_size`, centred."""
    s = min(target_size[0] / image_size[0], target_size[1] / image_size[1])
    offset = 0.5 * (np.asarray(target_size, np.float64) - s * np.asarray(image_size, np.float64))
    return s, offset


def agr_from_detections(people, *, layout: str, image_size, K, agr, min_confidence: float = 0.3):
    """AGR of one image's detections (module docstring), in the training image's geometry.

    Args:
      people: (P, K, 3) keypoints (pixels, confidence) in `layout`; NaN = missing.
      image_size: (W, H) of the detector's image; K: (3, 3) its intrinsics.
      agr: the `AGRConfig` the model was trained with (image and map sizes, layout, margin).
      min_confidence: keypoints below this are not drawn.

    Returns:
      dict with agr (H, W, J + 4), K (3, 3) of the letterboxed image, root_uv (P, 2) and boxes
      (P, 4) in map pixels, and mask (P,): people with both hips and at least MIN_VISIBLE_JOINTS
      keypoints.
    """
    kp = np.asarray(people, np.float32)
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise ValueError(f"`people` must be (P, K, 3) keypoints with confidences, got {kp.shape}")
    src = get_layout(layout)
    if kp.shape[1] != src.num_keypoints:
        raise ValueError(f"layout {layout!r} has {src.num_keypoints} keypoints; got {kp.shape[1]}")
    ok = np.isfinite(kp).all(-1)
    kp = np.where(ok[..., None], kp, 0.0)
    if src.name != agr.layout:
        kp = np.asarray(convert_keypoints(kp, src, agr.layout, has_confidence=True)[0])
    names = get_layout(agr.layout).names
    hips = [names.index("left_hip"), names.index("right_hip")]
    s, offset = _letterbox(image_size, agr.image_size)
    xy = kp[..., :2] * s + offset
    seen = kp[..., 2] >= min_confidence
    mask = seen[:, hips].all(-1) & (seen.sum(-1) >= MIN_VISIBLE_JOINTS)
    seen &= mask[:, None]
    roots = xy[:, hips].mean(1)
    boxes = person_boxes(xy, seen, agr.box_margin, agr.image_size)
    heat = render_heatmaps(to_heatmap_pixels(xy, agr.stride), seen, agr.heatmap_size, agr.heatmap_sigma)
    box_maps = render_box_maps(roots[mask], boxes[mask], agr.heatmap_size, agr.stride)
    k = np.asarray(K, np.float64).copy()
    k[:2] *= s
    k[:2, 2] += offset
    return {"agr": np.concatenate([np.moveaxis(heat, 0, -1), np.moveaxis(box_maps, 0, -1)], -1).astype(np.float32),
            "K": k.astype(np.float32), "root_uv": (to_heatmap_pixels(roots, agr.stride)).astype(np.float32),
            "boxes": np.nan_to_num(to_heatmap_pixels(boxes, agr.stride)).astype(np.float32), "mask": mask}


def ground_frame(R, t, up=(0.0, 0.0, 1.0), ground: float = 0.0, distance: float = 4.5):
    """A Y-up world for a calibrated camera, as the networks were trained in.

    Args:
      R, t: world-to-camera rotation and translation of the calibration.
      up: the calibration world's up axis (+Z for Qualisys, +Y for most others).
      ground: the ground's height along `up` in the calibration world, metres.
      distance: the new origin lies on the ground this far in front of the camera, metres.

    Returns:
      (R', t', to_new (4, 4)): the camera in the new frame, and the homogeneous transform from
      calibration-world to new-world coordinates.
    """
    R, t = np.asarray(R, np.float64), np.asarray(t, np.float64)
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    forward = R[2] - np.dot(R[2], up) * up                      # optical axis, horizontal part
    forward /= np.linalg.norm(forward)
    side = np.cross(forward, up)                                 # the camera's right: a right-handed frame
    basis = np.stack([side, up, -forward])                       # new X, Y, Z in old coordinates
    centre = -R.T @ t
    origin = centre - np.dot(centre, up) * up + ground * up + distance * forward
    to_new = np.eye(4)
    to_new[:3, :3] = basis
    to_new[:3, 3] = -basis @ origin
    R_new = R @ basis.T
    t_new = t + R @ origin
    return R_new, t_new, to_new


def estimate_people(model: VirtualPoseModel, people, *, layout: str, image_size, K, R, t,
                    min_confidence: float = 0.3) -> dict:
    """Absolute 3D people from one image's detections.

    Args:
      model: from `load_virtualpose`.
      people: (P, K, 3) detections in `layout` (at most the model's people slots are used).
      image_size, K: the detector's image and intrinsics; R, t: the camera in a world laid out as
        in training (`ground_frame`).

    Returns:
      dict with roots (P', 3), joints (P', J, 3) (world metres, COCO-17), scores (P',) of the
      network's detections, and depth_only (P, 3): each detected person's root back-projected at
      the estimated depth (nan for people without both hips).
    """
    task = model.task
    p = task.agr.max_people
    people = np.asarray(people, np.float32)[:p]
    pad = np.full((p - len(people),) + people.shape[1:], np.nan, np.float32)
    inputs = agr_from_detections(np.concatenate([people, pad]), layout=layout, image_size=image_size, K=K,
                                 agr=task.agr, min_confidence=min_confidence)
    batch = {k: v[None] for k, v in inputs.items()}
    batch.update(R=np.asarray(R, np.float32)[None], t=np.asarray(t, np.float32)[None])
    out = jax.device_get(model.predict(model.params, batch))
    depth_only = np.where(inputs["mask"][:, None], out["depth_only"][0], np.nan)[:len(people)]
    return {"roots": out["roots"][0], "joints": out["joints"][0], "scores": out["scores"][0],
            "depth_only": depth_only}


def fit_clip(model: VirtualPoseModel, keypoints, *, layout: str, image_size, K, R, t, up=(0.0, 0.0, 1.0),
             ground: float = 0.0, distance: float = 4.5, chunk: int = 32) -> dict:
    """Every frame of one camera's clip (one person per frame: the detections' largest person),
    in the calibration's world frame.

    Args:
      keypoints: (T, K, 3) detections; K, R, t: the calibrated camera; up, ground, distance: as
        for `ground_frame`.
      chunk: frames per network call.

    Returns:
      dict with roots (T, 3) and joints (T, J, 3) of the highest-scoring detection, scores (T,),
      depth_only (T, 3), in calibration-world metres.
    """
    R_new, t_new, to_new = ground_frame(R, t, up, ground, distance)
    back = np.linalg.inv(to_new)
    to_old = lambda x: x @ back[:3, :3].T + back[:3, 3]  # noqa: E731
    task = model.task
    keypoints = np.asarray(keypoints, np.float32)
    if keypoints.ndim != 3:
        raise ValueError(f"`keypoints` must be (T, K, 3), got {keypoints.shape}")
    pad = np.full((task.agr.max_people - 1,) + keypoints.shape[1:], np.nan, np.float32)
    frames = [agr_from_detections(np.concatenate([frame[None], pad]), layout=layout, image_size=image_size,
                                  K=K, agr=task.agr) for frame in keypoints]
    rows = []
    # Fixed-size chunks: one compiled program for any clip length (the last chunk is padded).
    for lo in range(0, len(frames), chunk):
        part = frames[lo:lo + chunk]
        part = part + part[-1:] * (chunk - len(part))
        batch = {k: np.stack([f[k] for f in part]) for k in part[0]}
        batch.update(R=np.broadcast_to(np.float32(R_new), (chunk, 3, 3)),
                     t=np.broadcast_to(np.float32(t_new), (chunk, 3)))
        rows.append(jax.device_get(model.predict(model.params, batch)))
    out = {k: np.concatenate([r[k] for r in rows])[:len(frames)] for k in rows[0]}
    best = np.argmax(out["scores"], 1)
    pick = lambda x: np.take_along_axis(x, best.reshape((-1,) + (1,) * (x.ndim - 1)), 1)[:, 0]  # noqa: E731
    has_hips = np.array([f["mask"][0] for f in frames])
    return {"roots": to_old(pick(out["roots"])).astype(np.float32),
            "joints": to_old(pick(out["joints"])).astype(np.float32),
            "scores": pick(out["scores"]).astype(np.float32),
            "depth_only": np.where(has_hips[:, None], to_old(out["depth_only"][:, 0]), np.nan).astype(np.float32)}


def main(argv=None) -> dict:
    import argparse
    import os

    from posejax.io.calibration import read_qca, to_perspective_camera
    from posejax.io.openpose import read_openpose_folder

    parser = argparse.ArgumentParser(prog="python -m posejax.virtualpose", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", required=True, help="a finished virtualpose training run")
    parser.add_argument("--keypoints", required=True, help="a folder of OpenPose JSON files (one camera)")
    parser.add_argument("--calibration", required=True, help="a Qualisys .qca.txt calibration")
    parser.add_argument("--camera", type=int, default=1, help="which camera of the calibration (1-based)")
    parser.add_argument("--layout", default="body25b")
    parser.add_argument("--up", default="z", choices=("x", "y", "z"), help="the calibration world's up axis")
    parser.add_argument("--distance", type=float, default=4.5, help="metres from the camera to the capture space")
    parser.add_argument("--out", default="people.npz")
    args = parser.parse_args(argv)
    cams = read_qca(args.calibration)
    if not 1 <= args.camera <= len(cams):
        raise SystemExit(f"--camera must be 1-{len(cams)}")
    cam = to_perspective_camera([cams[args.camera - 1]])
    kp = read_openpose_folder(args.keypoints).largest_person()
    model = load_virtualpose(args.workdir)
    out = fit_clip(model, kp, layout=args.layout, image_size=cams[args.camera - 1].image_size,
                   K=np.asarray(cam.K)[0], R=np.asarray(cam.R)[0], t=np.asarray(cam.t)[0],
                   up=np.eye(3)["xyz".index(args.up)], distance=args.distance)
    np.savez(args.out, **out)
    height = np.median(out["roots"][:, "xyz".index(args.up)])
    print(f"{len(kp)} frames: root height {height:.2f} m (median); wrote {os.path.abspath(args.out)}")
    return out


if __name__ == "__main__":
    main()
