"""Bundle adjustment's start from lifted 3D keypoints: SMPL by inverse kinematics.

A single-frame lifter (CanonPose, `posejax.lift`) gives every frame's keypoints in 3D as its
camera sees them, up to scale. `init_from_lifted` turns them into the per-frame start that
`posejax.bundle_adjust(..., init=...)` takes (pose relative to the camera, mean shape, weak
camera), in three steps, every frame on its own:

  1. Orientation: the rotation (Umeyama) that best aligns the neutral-pose model's keypoints with
     the lifted ones.
  2. Inverse kinematics: L-BFGS over the pose and a per-frame scale of the lifted points (all
     frames as one batched problem), minimising the mean squared distance between the model's
     hip-centred keypoints and the scaled lifted points, in metres^2, plus the GMM pose prior.
  3. Camera: the weak-perspective scale and translation that best map the fitted model's
     keypoints onto the 2D detections (confidence-weighted least squares, closed form).

Why start from lifted 3D: from 2D alone every limb can point towards or away from the camera,
and the per-frame 2D fit (`initialization`) settles for whichever the prior prefers; a lifter
that has learned 3D poses from multi-view data makes that choice from the whole 2D pose.

Axes: the lifter's camera view is OpenCV (x right, y down, z away); bundle adjustment's body
frame is related to it by `initialization.CAMERA_ROTATION` (its own inverse).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Optional, Union

import jax.numpy as jnp
import numpy as np

from posejax import fast_compile
from posejax.body import kinematics
from posejax.body.layouts import get_layout
from posejax.body.loading import as_body_model
from posejax.body.model import BodyModel
from posejax.body.poses import named_pose
from posejax.fitting import solvers
from posejax.fitting.initialization import CAMERA_ROTATION, Init, _nearest_valid, weak_perspective
from posejax.fitting.pose_prior import GaussianMixture, negative_log_likelihood
from posejax.geometry.cameras import WeakPerspectiveCamera
from posejax.geometry.procrustes import similarity_procrustes
from posejax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

__all__ = ["LiftedInitConfig", "init_from_lifted"]


@dataclasses.dataclass(frozen=True)
class LiftedInitConfig:
    """Settings of `init_from_lifted`.

    Attributes:
      iterations: L-BFGS iterations of the inverse kinematics.
      tol: gradient-norm tolerance of the inverse kinematics.
      pose_prior_weight: weight of the GMM pose prior's negative log-likelihood (nats) against the
        mean squared keypoint distance (metres^2); it decides the joints the keypoints do not fix
        (spine twist, hands, feet) and tempers the lifter's errors. 1e-3 gave the lowest
        PA-MPJPE after bundle adjustment (`python -m posejax.evaluate_lift_refinement`: 60.8 mm
        synthetic, 76.3 mm mean real; 1e-4 62.3 / 79.7, 1e-6 65.9 / 86.9), although exact
        points are fitted more closely with less prior.
      min_confidence: 2D keypoints below this confidence do not shape the camera fit.
      neutral_pose: named pose (`posejax.body.poses`) the inverse kinematics starts from.
    """

    iterations: int = 100
    tol: float = 1e-7
    pose_prior_weight: float = 1e-3
    min_confidence: float = 0.1
    neutral_pose: str = "a-pose"


def _hip_centred(points, hips):
    return points - 0.5 * (points[..., hips[0], :] + points[..., hips[1], :])[..., None, :]


@functools.lru_cache(maxsize=8)
def _ik_objective(layout: str, hips: tuple):
    """The inverse-kinematics objective for one layout (cached: the solver compiles once)."""

    def total(params, data):
        model, target, weights, prior, prior_weight = data
        pose = jnp.concatenate([params["root"][:, None], params["body"]], 1)
        x = _hip_centred(kinematics.keypoints(model, layout, pose, jnp.zeros((model.num_betas,), target.dtype)), hips)
        d2 = jnp.sum(jnp.square(jnp.exp(params["log_scale"])[:, None, None] * target - x), -1)
        data_term = jnp.sum(weights * d2, -1) / jnp.maximum(jnp.sum(weights, -1), 1e-9)
        nll = negative_log_likelihood(prior, pose)
        return jnp.sum(data_term + prior_weight * nll)

    return total


@functools.partial(fast_compile.jit, static_argnames=("layout", "hips"))
def _start(model, layout, hips, target, weights, neutral):
    """Step 1: per frame, the neutral pose rotated onto the lifted points, and the scale that
    takes the lifted points to the model's metres."""
    x = _hip_centred(kinematics.keypoints(model, layout, neutral, jnp.zeros((model.num_betas,), target.dtype)), hips)
    _, scale, rot, _ = similarity_procrustes(jnp.broadcast_to(x, target.shape), target, weights)
    root = matrix_to_axis_angle(rot @ axis_angle_to_matrix(neutral[0]))
    return root, jnp.log(1.0 / jnp.maximum(scale, 1e-6))


@functools.partial(fast_compile.jit, static_argnames=("layout",))
def _weak_camera(model, layout, pose, keypoints, conf):
    """Step 3: per frame, scale (pixels per metre) and translation (pixels) minimising the
    confidence-weighted squared distance of the projected model keypoints to the detections."""
    x = kinematics.keypoints(model, layout, pose, jnp.zeros((model.num_betas,), keypoints.dtype))
    xy = weak_perspective(x, jnp.ones(x.shape[0], x.dtype), jnp.zeros((x.shape[0], 2), x.dtype))
    w = conf / jnp.maximum(conf.sum(-1, keepdims=True), 1e-9)
    mx = jnp.einsum("tk,tkc->tc", w, xy)
    mu = jnp.einsum("tk,tkc->tc", w, keypoints)
    dx, du = xy - mx[:, None], keypoints - mu[:, None]
    scale = jnp.einsum("tk,tkc,tkc->t", w, dx, du) / jnp.maximum(jnp.einsum("tk,tkc,tkc->t", w, dx, dx), 1e-12)
    return scale, mu - scale[:, None] * mx


def init_from_lifted(points3d, keypoints, *, points_layout: str, layout: str,
                     body_model: Union[str, BodyModel] = "open", pose_prior: Optional[GaussianMixture] = None,
                     points_weight=None, config: Optional[LiftedInitConfig] = None) -> Init:
    """Per-frame SMPL pose and weak camera from lifted 3D keypoints and the 2D detections.

    Args:
      points3d: (T, K3, 3) lifted keypoints as the camera sees them (OpenCV axes), any scale, e.g.
        `posejax.lift.LiftResult.camera_view`.
      keypoints: (T, K, 3) the 2D detections (pixels, confidence) the lifter saw; NaN = missing.
      points_layout: layout of `points3d` (the lifter's); `layout`: layout of `keypoints`. The
        body model must provide both.
      body_model: "open", "open-lite" or a BodyModel.
      pose_prior: the GMM of the pose prior (default: the shipped one).
      points_weight: optional (T, K3) weights of the lifted points (default: ones).
      config: LiftedInitConfig (default settings when None).

    Returns:
      `Init` (pose (T, 24, 3), mean shape, cameras, reprojection errors in pixels); frames without
      two confident detections copy the nearest frame that has them.

    Raises:
      ValueError: on malformed shapes or unknown layouts.
    """
    from posejax.fitting.pose_prior import load_pose_prior

    cfg = config or LiftedInitConfig()
    model = as_body_model(body_model)
    for name in (points_layout, layout):
        if name not in model.keypoint_regressors:
            raise ValueError(f"layout {name!r} is not one of the body model's {model.layouts}")
    names3d = get_layout(points_layout).names
    if "left_hip" not in names3d or "right_hip" not in names3d:
        raise ValueError(f"layout {points_layout!r} has no left_hip / right_hip keypoints")
    hips = (names3d.index("left_hip"), names3d.index("right_hip"))
    target = np.asarray(points3d, np.float32)
    kp = np.asarray(keypoints, np.float32)
    t, k = kp.shape[0] if kp.ndim == 3 else -1, get_layout(layout).num_keypoints
    if target.shape != (t, len(names3d), 3) or kp.shape != (t, k, 3):
        raise ValueError(f"need points3d (T, {len(names3d)}, 3) and keypoints (T, {k}, 3) with the same T, "
                         f"got {target.shape} and {kp.shape}")
    weights = np.ones(target.shape[:2], np.float32) if points_weight is None else np.asarray(points_weight, np.float32)
    if weights.shape != target.shape[:2]:
        raise ValueError(f"`points_weight` must have shape {target.shape[:2]}, got {weights.shape}")
    lifted = np.all(np.isfinite(target), (-2, -1))
    # The lifter's camera view -> the body frame of bundle adjustment, hip-centred.
    target = _hip_centred(np.where(lifted[:, None, None], target, 0.0) @ CAMERA_ROTATION.T, hips)
    prior = load_pose_prior() if pose_prior is None else pose_prior
    neutral = jnp.asarray(named_pose(cfg.neutral_pose), jnp.float32)

    root, log_scale = _start(model, points_layout, hips, jnp.asarray(target), jnp.asarray(weights), neutral)
    params = {"root": root, "body": jnp.broadcast_to(neutral[1:], (t, 23, 3)), "log_scale": log_scale}
    data = (model, jnp.asarray(target), jnp.asarray(weights), prior, jnp.float32(cfg.pose_prior_weight))
    params, info = solvers.minimize(_ik_objective(points_layout, hips), params, data,
                                    maxiter=int(cfg.iterations), tol=float(cfg.tol))
    pose = jnp.concatenate([params["root"][:, None], params["body"]], 1)

    finite = np.all(np.isfinite(kp), -1)
    conf = np.where(finite & (kp[..., 2] >= cfg.min_confidence), kp[..., 2], 0.0).astype(np.float32)
    xy = np.where(finite[..., None], kp[..., :2], 0.0)
    scale, trans = _weak_camera(model, layout, pose, jnp.asarray(xy), jnp.asarray(conf))
    scale, trans = np.asarray(scale), np.asarray(trans)
    valid = lifted & ((conf > 0).sum(-1) >= 2) & (scale > 0) & np.isfinite(scale)
    if not valid.any():
        raise ValueError("no frame has both lifted points and two confident 2D keypoints")
    src = _nearest_valid(valid)
    pose, scale, trans = np.asarray(pose)[src], scale[src], trans[src]
    x = np.asarray(kinematics.keypoints(model, layout, pose, np.zeros(model.num_betas, np.float32)))
    err = np.linalg.norm(np.asarray(weak_perspective(x, scale, trans)) - xy, axis=-1)
    err = np.where(valid, (conf * err).sum(-1) / np.maximum(conf.sum(-1), 1e-9), 0.0).astype(np.float32)
    return Init(pose=pose.astype(np.float32), betas=np.zeros(model.num_betas, np.float32),
                cameras=WeakPerspectiveCamera(scale=scale.astype(np.float32), translation=trans.astype(np.float32)),
                reprojection_error=err, initial_reprojection_error=err.copy(), valid=valid,
                source_frame=src, solver=info)
