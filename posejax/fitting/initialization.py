"""Per-frame initialisation of whole-video bundle adjustment from 2D keypoints alone.

`initialize_from_keypoints` gives every frame a pose (24 x 3 axis-angle, joint 0 = global
orientation), a weak-perspective camera (scale, translation) and the mean shape (betas = 0), with no
temporal coupling, in two steps:

  1. Closed form, per frame. The keypoints of the mean-shape body in a neutral pose (A-pose) are
     rotated by a grid of candidate global orientations (yaw x pitch); for each candidate a weighted
     2D similarity (scale, in-image rotation, translation) is fitted in closed form to the detected
     torso (shoulders, hips; face points and limbs with lower weight) and the candidate with the
     smallest residual is kept.
  2. A short per-frame fit: L-BFGS over pose, log-scale and translation of all frames at once
     (one batched problem, frames independent), minimising confidence-weighted squared
     reprojection error plus a pose prior (L2 to the neutral pose, or the `pose_prior_fn` hook).
     Weak perspective cannot tell a pose from its mirror in depth; with `hypotheses=2` step 2 also
     starts from the depth mirror of the step-1 orientation and keeps whichever fits better.

Camera convention (shared with bundle adjustment, see `project_keypoints`): the body's world frame
(Y up, the body faces +Z at zero orientation, SMPL's frame) is mapped to the OpenCV camera frame (x
right, y down, z forward) by the fixed rotation `CAMERA_ROTATION = diag(1, -1, -1)`, i.e. the camera
sits on the +Z side looking at the subject's front. The global orientation theta_0 is therefore the
body's rotation relative to the camera, and with X the model keypoints at zero translation (world
frame; the model origin is near the pelvis)

    pixel = scale * (CAMERA_ROTATION @ X)[:2] + translation = scale * (X_x, -X_y) + translation.

`scale` is in pixels per metre and `translation` is the pixel position of the model origin.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from posejax import fast_compile
from posejax.body import kinematics
from posejax.body.layouts import get_layout
from posejax.body.loading import as_body_model
from posejax.body.model import BodyModel
from posejax.body.poses import named_pose
from posejax.fitting import robust, solvers
from posejax.geometry.cameras import WeakPerspectiveCamera
from posejax.geometry.rotations import matrix_to_axis_angle, rot_x, rot_y

CAMERA_ROTATION = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
"""World (body) frame -> camera frame rotation of the weak-perspective convention."""

_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
_FACE = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "head", "head_top", "neck")


@dataclasses.dataclass(frozen=True)
class InitConfig:
    """Settings of `initialize_from_keypoints` (defaults tuned on synthetic procedural motion).

    Attributes:
      iterations: L-BFGS iterations of step 2 (0 skips step 2).
      method: solver backend, one of `posejax.fitting.solvers.METHODS`; the default compiles the
        objective once (`posejax.fitting.lbfgs`), the others several times.
      tol: gradient-norm tolerance of step 2.
      hypotheses: 1 (step-1 orientation only) or 2 (also its depth mirror; the better fit is kept:
        slightly lower PA-MPJPE on synthetic data but, as the mirror is a genuine ambiguity, a few
        more frames end on the wrong yaw sign, and twice the cost).
      pose_prior_weight: weight of the pose prior relative to the reprojection term, which is the
        confidence-weighted mean squared error in metres (pixels / step-1 scale).
      robust_delta_px: Huber transition of the step-2 reprojection term, pixels (0: least
        squares); detectors put some keypoints far off, which least squares follows.
      root_prior_weight: weight of a weak pull of the global orientation to its step-1 value.
      min_confidence: keypoints with confidence below this are ignored.
      min_keypoints: frames with fewer confident keypoints are flagged invalid and copy the nearest
        valid frame's initialisation.
      neutral_pose: named pose (`posejax.body.poses`) used as the starting pose and the L2 prior mean.
      num_yaws: yaw candidates of step 1 (evenly spaced over 360 degrees).
      pitches_deg: pitch candidates of step 1, degrees.
      torso_weight, face_weight, limb_weight: per-keypoint weights of the step-1 alignment.
    """

    iterations: int = 60
    method: str = "posejax-lbfgs"
    tol: float = 1e-7
    hypotheses: int = 1
    pose_prior_weight: float = 1e-4
    root_prior_weight: float = 0.0
    min_confidence: float = 0.05
    min_keypoints: int = 3
    neutral_pose: str = "a-pose"
    num_yaws: int = 12
    pitches_deg: Sequence[float] = (-60.0, -30.0, 0.0, 30.0, 60.0)
    robust_delta_px: float = 10.0
    torso_weight: float = 1.0
    face_weight: float = 0.3
    limb_weight: float = 0.05


@dataclasses.dataclass(frozen=True)
class Init:
    """Result of `initialize_from_keypoints` (T frames).

    Attributes:
      pose: (T, 24, 3) axis-angle pose, radians; joint 0 is the orientation relative to the camera.
      betas: (S,) shape (zeros: the mean shape).
      cameras: WeakPerspectiveCamera with scale (T,) pixels per metre and translation (T, 2) pixels.
      reprojection_error: (T,) confidence-weighted mean keypoint distance in pixels after step 2
        (0 for frames without confident keypoints).
      initial_reprojection_error: (T,) the same after step 1 (closed form).
      valid: (T,) bool, False for frames without enough confident keypoints.
      source_frame: (T,) int, the frame whose initialisation each frame holds (itself when valid).
      solver: SolverInfo of step 2, or None when it was skipped.
    """

    pose: np.ndarray
    betas: np.ndarray
    cameras: WeakPerspectiveCamera
    reprojection_error: np.ndarray
    initial_reprojection_error: np.ndarray
    valid: np.ndarray
    source_frame: np.ndarray
    solver: Optional[solvers.SolverInfo] = None

    @property
    def theta(self) -> np.ndarray:
        """(T, 72) flattened pose."""
        return self.pose.reshape(self.pose.shape[0], -1)


# ----------------------------------------------------------------------------------------------
# Projection (the convention shared with bundle adjustment)
# ----------------------------------------------------------------------------------------------


def weak_perspective(points, scale, translation):
    """Projects world-frame (Y up) points to pixels: `scale * (X_x, -X_y) + translation`.

    Args:
      points: (..., K, 3) metres, body world frame (model keypoints at zero translation).
      scale: (...,) pixels per metre.
      translation: (..., 2) pixels.

    Returns:
      (..., K, 2) pixels.
    """
    xy = jnp.stack([points[..., 0], -points[..., 1]], axis=-1)
    return scale[..., None, None] * xy + translation[..., None, :]


def project_keypoints(model: BodyModel, layout: str, pose, betas, scale, translation):
    """Model keypoints of `layout` in pixels under the module's weak-perspective convention.

    Args:
      model: body model.
      layout: keypoint layout the model provides (e.g. "coco17").
      pose: (..., 24, 3) axis-angle (joint 0 = orientation relative to the camera).
      betas: (..., S) shape.
      scale: (...,) pixels per metre.
      translation: (..., 2) pixels.

    Returns:
      (..., K, 2) pixels.
    """
    return weak_perspective(kinematics.keypoints(model, layout, pose, betas), scale, translation)


# ----------------------------------------------------------------------------------------------
# Step 1: closed form
# ----------------------------------------------------------------------------------------------


def candidate_orientations(num_yaws: int, pitches_deg: Sequence[float]) -> np.ndarray:
    """(N, 3, 3) candidate global orientations R = Rx(pitch) @ Ry(yaw) (world frame)."""
    pitch = np.radians(np.repeat(np.asarray(pitches_deg, np.float32), num_yaws))
    yaw = np.tile(2 * np.pi * np.arange(num_yaws, dtype=np.float32) / num_yaws, len(pitches_deg))
    return np.asarray(rot_x(pitch) @ rot_y(yaw), np.float32)


def _fit_similarity(model_xy, target, weights):
    """Weighted 2D similarity fit per candidate.

    Args:
      model_xy: (N, K, 2) candidate projections (camera x, y) of the neutral keypoints, metres.
      target: (T, K, 2) pixels.
      weights: (T, K).

    Returns:
      a (T, N, 2) complex factor (s cos phi, s sin phi), offset (T, N, 2) pixels, mse (T, N).
    """
    wsum = jnp.maximum(weights.sum(-1), 1e-9)  # (T,)
    wn = weights / wsum[:, None]
    mp = jnp.einsum("tk,nkc->tnc", wn, model_xy)  # (T, N, 2)
    my = jnp.einsum("tk,tkc->tc", wn, target)  # (T, 2)
    p = model_xy[None] - mp[:, :, None]  # (T, N, K, 2)
    y = target - my[:, None]  # (T, K, 2)
    px, py = p[..., 0], p[..., 1]
    yx, yy = y[:, None, :, 0], y[:, None, :, 1]
    a_re = jnp.sum(wn[:, None] * (px * yx + py * yy), -1)
    a_im = jnp.sum(wn[:, None] * (px * yy - py * yx), -1)
    den = jnp.maximum(jnp.sum(wn[:, None] * (px ** 2 + py ** 2), -1), 1e-12)
    a_re, a_im = a_re / den, a_im / den
    rx = a_re[..., None] * px - a_im[..., None] * py - yx
    ry = a_im[..., None] * px + a_re[..., None] * py - yy
    mse = jnp.sum(wn[:, None] * (rx ** 2 + ry ** 2), -1)
    a = jnp.stack([a_re, a_im], -1)
    offset = my[:, None] - jnp.stack([a_re * mp[..., 0] - a_im * mp[..., 1],
                                      a_im * mp[..., 0] + a_re * mp[..., 1]], -1)
    return a, offset, mse


@jax.jit
def _closed_form(keypoints, weights, neutral_kp, candidates):
    """Step 1. Returns global orientation matrices (T, 3, 3), scale (T,), translation (T, 2)."""
    cam = jnp.asarray(CAMERA_ROTATION)
    rotated = jnp.einsum("nij,kj->nki", candidates, neutral_kp)  # world frame
    model_xy = jnp.stack([rotated[..., 0], -rotated[..., 1]], -1)  # camera x, y (metres)
    a, offset, mse = _fit_similarity(model_xy, keypoints, weights)
    best = jnp.argmin(mse, axis=1)  # (T,)
    a = jnp.take_along_axis(a, best[:, None, None], 1)[:, 0]
    offset = jnp.take_along_axis(offset, best[:, None, None], 1)[:, 0]
    scale = jnp.linalg.norm(a, axis=-1)
    c, s = a[:, 0] / jnp.maximum(scale, 1e-12), a[:, 1] / jnp.maximum(scale, 1e-12)
    zero, one = jnp.zeros_like(c), jnp.ones_like(c)
    roll_cam = jnp.stack([jnp.stack([c, -s, zero], -1), jnp.stack([s, c, zero], -1),
                          jnp.stack([zero, zero, one], -1)], -2)  # in-image rotation, camera frame
    rot_cam = roll_cam @ cam @ candidates[best]  # body -> camera
    return cam.T @ rot_cam, scale, offset


def _mirror(rot_world):
    """Depth mirror of a global orientation: same weak-perspective image of a planar (x-y) body."""
    cam = jnp.asarray(CAMERA_ROTATION)
    flip = jnp.diag(jnp.array([1.0, 1.0, -1.0], jnp.float32))
    return cam.T @ (flip @ (cam @ rot_world) @ flip)


# ----------------------------------------------------------------------------------------------
# Step 2: short per-frame fit
# ----------------------------------------------------------------------------------------------


def _l2_prior(pose_body, neutral_body):
    return jnp.sum(jnp.square(pose_body - neutral_body), -1)


@functools.lru_cache(maxsize=32)
def _objective(layout: str, pose_prior_fn: Optional[Callable]):
    """Objective of step 2 (cached so the solver compiles once per layout / prior / shapes)."""

    def per_frame(params, data):
        model, kp, conf, scale0, u0, root0, neutral, weights = data
        m = kp.shape[0]
        pose = jnp.concatenate([params["root"][:, None], params["body"]], axis=1)
        scale = scale0 * jnp.exp(params["log_scale"])
        trans = u0 + scale0[:, None] * params["trans"]
        x = kinematics.keypoints(model, layout, pose, jnp.zeros((model.num_betas,), kp.dtype))
        err_px = robust.safe_norm(weak_perspective(x, scale, trans) - kp, axis=-1)
        # Huber in pixels (outlier keypoints pull linearly, not quadratically), then in metres^2
        # via the step-1 scale so the prior weights do not depend on the person's image size.
        rho = jnp.where(weights[2] > 0, 2.0 * robust.huber(err_px, jnp.maximum(weights[2], 1e-6)),
                        err_px ** 2)
        wsum = jnp.maximum(conf.sum(-1), 1e-9)
        data_term = jnp.sum(conf * rho, -1) / wsum / scale0 ** 2
        body = params["body"].reshape(m, -1)
        if pose_prior_fn is None:
            prior = _l2_prior(body, neutral.reshape(-1))
        else:
            prior = pose_prior_fn(body)
        root_term = jnp.sum(jnp.square(params["root"] - root0), -1)
        return data_term + weights[0] * prior + weights[1] * root_term

    def total(params, data):
        return jnp.sum(per_frame(params, data))

    return total, per_frame


def _reprojection_px(model, layout, pose, scale, trans, kp, conf):
    x = kinematics.keypoints(model, layout, pose, jnp.zeros((model.num_betas,), kp.dtype))
    d = jnp.linalg.norm(weak_perspective(x, scale, trans) - kp, axis=-1)
    return jnp.sum(conf * d, -1) / jnp.maximum(conf.sum(-1), 1e-9)


# Steps before and after the solve, each one compiled program: run op by op, their few hundred
# small operations took seconds to compile one by one on a first call.
@functools.partial(fast_compile.jit, static_argnames=("layout", "hypotheses"))
def _step1(model, layout, hypotheses, kp, w1, valid, neutral, candidates):
    """Closed-form start: (valid, root hypotheses (h T, 3), scale0 (T,), trans0 (T, 2))."""
    neutral_kp = kinematics.keypoints(model, layout, neutral, jnp.zeros((model.num_betas,), kp.dtype))
    root_mat, scale0, trans0 = _closed_form(kp, w1, neutral_kp, candidates)
    # Frames whose closed form degenerates (e.g. all points coincide) are treated as invalid.
    valid = valid & (scale0 > 1e-6) & jnp.all(jnp.isfinite(root_mat), (-2, -1))
    scale0 = jnp.where(valid, scale0, 1.0)
    roots = [matrix_to_axis_angle(root_mat)]
    if hypotheses == 2:
        roots.append(matrix_to_axis_angle(_mirror(root_mat)))
    return valid, jnp.concatenate(roots, 0), scale0, trans0


@functools.partial(fast_compile.jit, static_argnames=("per_frame", "layout", "hypotheses"))
def _finish(per_frame, layout, hypotheses, params, data, pose1):
    """Per frame, the hypothesis with the lowest step-2 loss, and the reprojection errors of
    steps 1 and 2: (pose (T, 24, 3), scale (T,), trans (T, 2), error1 (T,), error2 (T,)) px."""
    model, kp, conf, scale0, trans0 = data[:5]
    h, t = hypotheses, kp.shape[0] // hypotheses
    kp, conf, scale0, trans0 = kp[:t], conf[:t], scale0[:t], trans0[:t]
    if h == 1:
        take = lambda x: x  # noqa: E731
    else:
        pick = jnp.argmin(per_frame(params, data).reshape(h, t), 0)
        take = lambda x: jnp.take_along_axis(  # noqa: E731
            x.reshape((h, t) + x.shape[1:]), pick.reshape((1, t) + (1,) * (x.ndim - 1)), 0)[0]
    pose = jnp.concatenate([take(params["root"])[:, None], take(params["body"])], 1)
    scale = scale0 * jnp.exp(take(params["log_scale"]))
    trans = trans0 + scale0[:, None] * take(params["trans"])
    # Both steps' errors in one pass of the body model (frames stacked).
    two = lambda a, b: jnp.concatenate([a, b], 0)  # noqa: E731
    err = _reprojection_px(model, layout, two(pose1, pose), two(scale0, scale), two(trans0, trans),
                           two(kp, kp), two(conf, conf))
    return pose, scale, trans, err[:t], err[t:]


# ----------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------


def _as_config(config) -> InitConfig:
    if config is None:
        return InitConfig()
    if isinstance(config, InitConfig):
        return config
    if isinstance(config, Mapping) or hasattr(config, "to_dict"):
        items = dict(config.to_dict() if hasattr(config, "to_dict") else config)
        known = {f.name for f in dataclasses.fields(InitConfig)}
        unknown = set(items) - known
        if unknown:
            raise ValueError(f"`config` has unknown fields {sorted(unknown)}; known: {sorted(known)}")
        return InitConfig(**items)
    raise ValueError(f"`config` must be None, an InitConfig or a mapping, got {type(config).__name__}")


def _nearest_valid(valid: np.ndarray) -> np.ndarray:
    """Index of the nearest valid frame for every frame (ties -> the earlier one)."""
    idx = np.flatnonzero(valid)
    t = np.arange(valid.shape[0])
    pos = np.clip(np.searchsorted(idx, t), 0, len(idx) - 1)
    prev = idx[np.clip(pos - 1, 0, len(idx) - 1)]
    nxt = idx[pos]
    return np.where(np.abs(t - prev) <= np.abs(nxt - t), prev, nxt)


def _keypoint_weights(names: Sequence[str], cfg: InitConfig) -> np.ndarray:
    w = np.full(len(names), cfg.limb_weight, np.float32)
    for i, n in enumerate(names):
        if n in _TORSO:
            w[i] = cfg.torso_weight
        elif n in _FACE:
            w[i] = cfg.face_weight
    if not any(n in _TORSO for n in names):  # unknown layout: weigh every keypoint the same
        w[:] = 1.0
    return w


def initialize_from_keypoints(keypoints, confidence=None, *, layout: str = "coco17",
                              body_model: Union[str, BodyModel] = "open",
                              image_size: Optional[Sequence[float]] = None,
                              iterations: Optional[int] = None,
                              pose_prior_fn: Optional[Callable[[jax.Array], jax.Array]] = None,
                              config: Any = None) -> Init:
    """Per-frame SMPL pose and weak-perspective camera from 2D keypoints (no temporal terms).

    Args:
      keypoints: (T, K, 2) pixels, or (T, K, 3) with the confidence as the last channel. Non-finite
        keypoints are treated as missing (confidence 0).
      confidence: optional (T, K) confidences in [0, 1] (default: ones, or the third channel).
      layout: keypoint layout of `keypoints`, one the body model provides (e.g. "coco17").
      body_model: "open", "open-lite" or a BodyModel.
      image_size: optional (W, H) pixels; only used to place frames when no frame has keypoints.
      iterations: L-BFGS iterations of step 2 (overrides `config.iterations`; 0 = closed form only).
      pose_prior_fn: optional `f(pose_body (M, 69)) -> (M,)` prior on the 23 non-root joints (e.g.
        a GMM negative log-likelihood) replacing the L2 prior; weighted by
        `config.pose_prior_weight`. Pass the same function object across calls to avoid recompiling.
      config: InitConfig, a mapping of its fields (e.g. an ml_collections ConfigDict), or None.

    Returns:
      Init with pose (T, 24, 3), betas (S,) zeros, cameras (scale (T,), translation (T, 2)),
      per-frame reprojection errors (px), validity flags and source frames. Frames with fewer than
      `config.min_keypoints` confident keypoints copy the nearest valid frame; if no frame is valid,
      every frame gets the neutral pose facing the camera, centred in the image (or at the origin)
      with a person about 70% of the image height tall (scale 1 px/m without `image_size`).

    Raises:
      ValueError: on malformed shapes, an unknown layout or bad settings.
    """
    cfg = _as_config(config)
    if iterations is not None:
        cfg = dataclasses.replace(cfg, iterations=iterations)
    if not (isinstance(cfg.iterations, (int, np.integer)) and cfg.iterations >= 0):
        raise ValueError(f"`iterations` must be a non-negative int, got {cfg.iterations!r}")
    if cfg.hypotheses not in (1, 2):
        raise ValueError(f"`config.hypotheses` must be 1 or 2, got {cfg.hypotheses!r}")
    if pose_prior_fn is not None and not callable(pose_prior_fn):
        raise ValueError(f"`pose_prior_fn` must be callable or None, got {type(pose_prior_fn).__name__}")
    model = as_body_model(body_model)
    if not isinstance(model, BodyModel):
        raise ValueError(f"`body_model` must be a model name or a BodyModel, got {type(body_model).__name__}")
    if not isinstance(layout, str) or layout not in model.keypoint_regressors:
        raise ValueError(f"`layout` must be one of the body model's layouts {model.layouts}, got {layout!r}")
    names = get_layout(layout).names
    k = len(names)

    try:
        kp = np.asarray(keypoints, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`keypoints` must be a numeric array of shape (T, {k}, 2) or (T, {k}, 3): {e}")
    if kp.ndim != 3 or kp.shape[1] != k or kp.shape[2] not in (2, 3) or kp.shape[0] < 1:
        raise ValueError(f"`keypoints` must have shape (T, {k}, 2) or (T, {k}, 3) for layout {layout!r} "
                         f"with T >= 1, got {kp.shape}")
    t = kp.shape[0]
    if confidence is None:
        conf = kp[..., 2] if kp.shape[2] == 3 else np.ones((t, k), np.float32)
    else:
        try:
            conf = np.asarray(confidence, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise ValueError(f"`confidence` must be a numeric array of shape ({t}, {k}): {e}")
        if conf.shape != (t, k):
            raise ValueError(f"`confidence` must have shape ({t}, {k}), got {conf.shape}")
    kp = kp[..., :2]
    if image_size is not None:
        size = np.asarray(image_size, np.float64)
        if size.shape != (2,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
            raise ValueError(f"`image_size` must be (W, H) with positive entries, got {image_size!r}")

    # Missing / unusable keypoints get zero confidence and finite coordinates.
    finite = np.all(np.isfinite(kp), -1) & np.isfinite(conf)
    conf = np.where(finite & (conf >= cfg.min_confidence), np.clip(conf, 0.0, None), 0.0).astype(np.float32)
    kp = np.where(finite[..., None], kp, 0.0).astype(np.float32)
    valid = (conf > 0).sum(-1) >= max(int(cfg.min_keypoints), 2)

    neutral = jnp.asarray(named_pose(cfg.neutral_pose))

    if not valid.any():
        scale = 1.0 if image_size is None else 0.7 * float(size[1]) / 1.7
        centre = np.zeros(2) if image_size is None else size / 2
        pose = np.broadcast_to(np.asarray(neutral), (t, 24, 3)).copy()
        cams = WeakPerspectiveCamera(scale=np.full((t,), scale, np.float32),
                                     translation=np.broadcast_to(centre, (t, 2)).astype(np.float32))
        zeros = np.zeros((t,), np.float32)
        return Init(pose=pose, betas=np.zeros(model.num_betas, np.float32), cameras=cams,
                    reprojection_error=zeros, initial_reprojection_error=zeros.copy(),
                    valid=valid, source_frame=np.arange(t), solver=None)

    # Step 1.
    h = cfg.hypotheses if cfg.iterations > 0 else 1
    w1 = conf * _keypoint_weights(names, cfg)[None]
    cands = jnp.asarray(candidate_orientations(cfg.num_yaws, cfg.pitches_deg))
    kp_j, conf_j = jnp.asarray(kp), jnp.asarray(conf)
    valid, roots, scale0, trans0 = _step1(model, layout, h, kp_j, jnp.asarray(w1), jnp.asarray(valid),
                                          neutral, cands)
    valid = np.asarray(valid)
    if not valid.any():
        return initialize_from_keypoints(np.full((t, k, 2), np.nan, np.float32), layout=layout,
                                         body_model=model, image_size=image_size, iterations=0, config=cfg)
    rep = lambda x: jnp.concatenate([x] * h, 0)  # noqa: E731
    body0 = jnp.broadcast_to(neutral[1:], (t, 23, 3))
    params = {"root": roots, "body": rep(body0), "log_scale": jnp.zeros((h * t,), jnp.float32),
              "trans": jnp.zeros((h * t, 2), jnp.float32)}
    weights = jnp.array([cfg.pose_prior_weight, cfg.root_prior_weight, cfg.robust_delta_px], jnp.float32)
    data = (model, rep(kp_j), rep(conf_j), rep(scale0), rep(trans0), roots, neutral[1:], weights)
    total, per_frame = _objective(layout, pose_prior_fn)
    info = None
    if cfg.iterations > 0:
        params, info = solvers.minimize(total, params, data, method=cfg.method,
                                        maxiter=int(cfg.iterations), tol=float(cfg.tol))
    pose1 = jnp.concatenate([roots[:t, None], body0], 1)
    pose, scale, trans, err1, err2 = _finish(per_frame, layout, h, params, data, pose1)

    src = _nearest_valid(valid)
    pose, scale, trans = (np.asarray(x)[src] for x in (pose, scale, trans))
    err1, err2 = (np.where(valid, np.asarray(e), 0.0).astype(np.float32) for e in (err1, err2))
    return Init(pose=pose.astype(np.float32), betas=np.zeros(model.num_betas, np.float32),
                cameras=WeakPerspectiveCamera(scale=scale.astype(np.float32),
                                              translation=trans.astype(np.float32)),
                reprojection_error=err2, initial_reprojection_error=err1, valid=valid,
                source_frame=src, solver=info)
