"""`lift_poses`: 3D poses from single 2D poses with a trained CanonPose lifter.

    lifter = posejax.lift.load_lifter("runs/canonpose")            # a training workdir
    result = posejax.lift.lift_poses(keypoints, layout="body25b", lifter=lifter)
    result.camera_view   # (..., K, 3) each pose as its camera sees it, hip-centred, unit scale

The lifter sees every pose alone (no camera, no time). Its output has no metric scale: the 3D
pose is in the units of the normalised 2D input (the 2D pose has unit Frobenius norm), so scale
it to a known size or compare with scale-aligned metrics (N-MPJPE, PA-MPJPE).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import numpy as np

from posejax.body.layouts import convert_keypoints, get_layout, hip_centred


@dataclasses.dataclass(frozen=True)
class Lifter:
    """A trained CanonPose lifter ready for inference (`load_lifter`)."""

    task: object       # posejax.tasks.canonpose.CanonPoseTask
    params: object
    layout: str        # the keypoint layout it was trained on
    step: int
    apply: object      # jit(network.apply): (params, inputs (..., 3K)) -> outputs


@dataclasses.dataclass(frozen=True)
class LiftResult:
    """Lifted poses (numpy), in the lifter's layout, hip-centred.

    Attributes:
      camera_view: (..., K, 3) the pose as its camera sees it (OpenCV axes: x right, y down,
        z away), R @ canonical.
      canonical: (..., K, 3) the canonical pose (the same for every view of one moment when the
        lifter is right).
      rotation: (..., 3, 3) camera rotation from the canonical frame.
      present: (..., K) bool, the input points that were observed.
      layout: the layout of the K points.
    """

    camera_view: np.ndarray
    canonical: np.ndarray
    rotation: np.ndarray
    present: np.ndarray
    layout: str


def load_lifter(workdir: str) -> Lifter:
    """The latest checkpoint of a `posejax.train` run of `experiments/canonpose.py`."""
    from posejax.training.loop import load_trained

    task, state = load_trained(workdir, "canonpose")
    return Lifter(task=task, params=state.params, layout=task.layout.name, step=int(state.step),
                  apply=jax.jit(task.network.apply))


def lift_poses(keypoints, confidences: Optional[np.ndarray] = None, *, layout: str,
               lifter: Lifter) -> LiftResult:
    """Lifts 2D poses, each on its own.

    Args:
      keypoints: (..., K, 2) pixels or (..., K, 3) with confidences; NaN marks missing points.
      confidences: (..., K), if not in `keypoints`.
      layout: the keypoints' layout; converted to the lifter's (points it cannot get are missing).
      lifter: from `load_lifter`.

    Returns:
      LiftResult in the lifter's layout.
    """
    from posejax.tasks.canonpose import normalize_pose_2d

    kp = np.asarray(keypoints, np.float32)
    if kp.ndim < 2 or kp.shape[-1] not in (2, 3):
        raise ValueError(f"`keypoints` must be (..., K, 2) or (..., K, 3), got {kp.shape}")
    conf = kp[..., 2] if kp.shape[-1] == 3 else (
        np.ones(kp.shape[:-1], np.float32) if confidences is None else np.asarray(confidences, np.float32))
    if conf.shape != kp.shape[:-1]:
        raise ValueError(f"`confidences` must have shape {kp.shape[:-1]}, got {conf.shape}")
    src = get_layout(layout)
    if kp.shape[-2] != src.num_keypoints:
        raise ValueError(f"layout {layout!r} has {src.num_keypoints} keypoints; got {kp.shape[-2]}")
    ok = np.isfinite(kp[..., :2]).all(-1) & np.isfinite(conf)
    joined = np.concatenate([np.where(ok[..., None], kp[..., :2], 0.0), np.where(ok, conf, 0.0)[..., None]], -1)
    if src.name != lifter.layout:
        joined = np.asarray(convert_keypoints(joined, src, lifter.layout, has_confidence=True)[0])
    task = lifter.task
    inputs, present = normalize_pose_2d(joined[..., :2], joined[..., 2], task.hips,
                                        bool(task.config.data.use_confidence))
    out = jax.device_get(lifter.apply(lifter.params, inputs))
    return LiftResult(camera_view=hip_centred(np.asarray(out["camera_view"]), task.hips),
                      canonical=hip_centred(np.asarray(out["canonical"]), task.hips),
                      rotation=np.asarray(out["rotation"]), present=present, layout=lifter.layout)


def lift_to_smpl(keypoints, *, layout: str, lifter: Lifter, body_model="open", pose_prior=None,
                 config=None):
    """Lifts every frame, then fits SMPL to the lifted points by inverse kinematics: a start for
    `posejax.bundle_adjust(keypoints, layout=layout, init=...)`.

    Args:
      keypoints: (T, K, 3) detections (pixels, confidence) in `layout`; NaN = missing.
      layout, lifter: as for `lift_poses`.
      body_model, pose_prior, config: as for `posejax.fitting.lifted_init.init_from_lifted`.

    Returns:
      `posejax.fitting.initialization.Init` (pose relative to the camera, mean shape, weak cameras).
    """
    from posejax.fitting.lifted_init import init_from_lifted

    lifted = lift_poses(keypoints, layout=layout, lifter=lifter)
    return init_from_lifted(lifted.camera_view, keypoints, points_layout=lifted.layout, layout=layout,
                            body_model=body_model, pose_prior=pose_prior, config=config)
