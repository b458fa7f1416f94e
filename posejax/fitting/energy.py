"""Energy terms of whole-video bundle adjustment (Arnab, Doersch, Zisserman, CVPR 2019).

One shape per video and per-frame pose and weak-perspective camera (see `BAParams`) are scored
against a clip's 2D keypoints (see `BAData`) by

    E = E_R + E_T + E_P

  * E_R, reprojection: sum_t m_t sum_k c_tk rho(||pi(X_tk) - x_tk||), pixels^2, with rho the Huber
    loss or the paper's hinge variant (0 below 5 px), from `posejax.fitting.robust`. The projection
    pi is `posejax.fitting.initialization.weak_perspective` (the convention shared with the
    initialisation: `pixel = scale * (X_x, -X_y) + translation`).
  * E_T, temporal smoothness over consecutive frames (t, t+1), each pair weighted by m_t m_{t+1}:
      - 3D joints: ||(J_{t+1} - J_{t+1,0}) - (J_t - J_{t,0})||^2 summed over the 24 root-relative
        joints (metres^2),
      - 2D projections: ||pi(X_{t+1,k}) - pi(X_{t,k})||^2 summed over the layout's keypoints
        (pixels^2),
      - cameras: the scale change is *not* penalised (as in the paper); the camera translation
        change d_t = ||u_{t+1} - u_t|| only beyond a bound b = 10% of the image width per frame:
        max(d_t - b, 0)^2 (pixels^2) -- zero inside the bound, quadratic outside, C1 at the bound.
  * E_P, priors:
      - pose: sum_t m_t NLL_GMM(theta_t[1:]) (the 8-component mixture over the 69-D body pose,
        `posejax.fitting.pose_prior`, exact logsumexp NLL, nats; the global orientation is free),
      - initialisation: sum_t m_t ||(J_t - J_{t,0}) - (I_t - I_{t,0})||^2 over the 24 joints
        (metres^2), with I the initialisation's joints (root-relative on both sides),
      - shape: N ||beta||^2 with N = sum_t m_t the number of real frames, so the balance between
        the shape prior and the per-frame terms does not depend on the clip's length.

Frame masks. `BAData.frame_mask` marks real frames (1) versus padding (0): padded frames, and
temporal pairs touching one, contribute exactly nothing (value and gradient), whatever their
parameters or data hold (NaN included), so a padded clip has exactly the energy of the unpadded
one and clips of different lengths can share one compiled function (and be vmapped). A frame that
exists but has no detection should keep mask 1 and confidence 0: it then has no reprojection term
but is still carried by the temporal and prior terms.

Everything is pure `jax.numpy` over pytrees: `total_energy(params, data, weights, model=...)`
closes over no array, so `jax.jit(total_energy)` compiles once per (T, K, layout, kind) and serves
every clip, weight setting and body model of those shapes. Keypoints with NaN / inf coordinates
or confidences, and zero confidences, are masked as in `robust.robust_reprojection_energy`
(never NaN, also not in gradients).

Default weights (`EnergyWeights`) are PROVISIONAL: the paper gives none. They were chosen from
the units above for a ~300-500 px tall person at 25-30 fps (3 px keypoint noise costs about
17 * 0.5 * 9 ~ 75 px^2 per frame in E_R, and each default term is of that order for a typical
deviation), and are to be tuned on synthetic and real data (issue 4).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Dict, Optional, Tuple

import jax
import jax.numpy as jnp

from posejax.body import kinematics
from posejax.body.model import BodyModel
from posejax.fitting import robust
from posejax.fitting.initialization import weak_perspective
from posejax.fitting.pose_prior import GaussianMixture, load_pose_prior, negative_log_likelihood
from posejax.geometry.rotations import axis_angle_to_matrix

__all__ = ["BAParams", "BAData", "EnergyWeights", "TERM_KEYS", "make_data", "forward_model",
           "frame_energies", "reprojection_term", "smoothness_terms", "prior_terms", "total_energy",
           "camera_translation_penalty", "default_pose_prior"]

TERM_KEYS = ("reprojection", "smooth_joints", "smooth_keypoints", "smooth_camera", "pose_prior",
             "init_prior", "shape_prior", "E_R", "E_T", "E_P")
"""Keys of the dict returned by `total_energy`: the seven weighted terms and the three groups
(E_R = reprojection; E_T = the three smoothness terms; E_P = the three priors)."""


# ----------------------------------------------------------------------------------------------
# Pytrees
# ----------------------------------------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class BAParams:
    """The unknowns of bundle adjustment (a registered pytree, so the solver optimises it whole).

    Attributes:
      betas: (10,) one SMPL shape for the whole video.
      pose: (T, 24, 3) per-frame axis-angle (joint 0 = orientation relative to the camera).
      scale: (T,) per-frame weak-perspective scale, pixels per metre.
      translation: (T, 2) per-frame pixel position of the model origin.
    """

    betas: jax.Array
    pose: jax.Array
    scale: jax.Array
    translation: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class PerspectiveBAParams:
    """The unknowns of the perspective mode (beyond the paper): one focal length per clip and a
    per-frame root translation, so the fit has a global trajectory in camera coordinates.

    Projection: X_cam = CAMERA_ROTATION @ X + root_translation (X: model points, world frame at
    zero translation), pixel = focal * X_cam[:2] / X_cam[2] + image centre (depth clamped at
    `MIN_DEPTH_M`).

    Attributes:
      betas: (10,) one shape.
      pose: (T, 24, 3) per-frame axis-angle (joint 0 = orientation relative to the camera).
      root_translation: (T, 3) camera-frame position of the model origin, metres (OpenCV axes).
      focal: () focal length in pixels.
    """

    betas: jax.Array
    pose: jax.Array
    root_translation: jax.Array
    focal: jax.Array


MIN_DEPTH_M = 0.1
"""Depths below this are clamped in the perspective projection (keeps the energy finite)."""


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["keypoints", "confidence", "frame_mask", "init_joints",
                                "image_width", "image_height"],
                   meta_fields=["layout"])
@dataclasses.dataclass(frozen=True)
class BAData:
    """One clip's observations (a registered pytree; `layout` is static metadata).

    Attributes:
      keypoints: (T, K, 2) detected keypoints, pixels (NaN allowed where confidence is 0), or
        (T, P, K, 2) for P detections per frame (multi-person; padding slots have confidence 0).
      confidence: (T, K) or (T, P, K) detection confidences (0, NaN or negative = missing).
      frame_mask: (T,) 1 for real frames, 0 for padding (float or bool).
      init_joints: (T, 24, 3) joints of the initialisation, metres (only root-relative positions
        matter); non-finite frames are skipped by the initialisation prior.
      image_width: () image width in pixels (sets the camera-translation bound).
      image_height: () image height in pixels (the principal point of the perspective mode is
        the image centre).
      layout: keypoint layout name (static), e.g. "coco17".
    """

    keypoints: jax.Array
    confidence: jax.Array
    frame_mask: jax.Array
    init_joints: jax.Array
    image_width: jax.Array
    image_height: jax.Array
    layout: str = "coco17"


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["reprojection", "smooth_joints", "smooth_keypoints",
                                "smooth_camera", "smooth_root", "pose_prior", "init_prior", "shape_prior",
                                "huber_delta", "hinge_margin", "camera_bound_fraction",
                                "outlier_px", "init_outlier_m"],
                   meta_fields=["robust_kind", "outliers"])
@dataclasses.dataclass(frozen=True)
class EnergyWeights:
    """Weights of the energy terms (PROVISIONAL defaults: the paper gives none; to be tuned).

    A registered pytree: the numbers are traced leaves (changing them does not recompile), the
    loss kind is static.

    Attributes:
      reprojection: E_R weight (on confidence * rho(px), pixels^2).
      smooth_joints: 3D joint velocity weight (on metres^2 per frame pair). 1e3: 1 cm/frame of
        spurious motion on every joint costs 2.4, real limb motion (~3-5 cm/frame) tens.
      smooth_keypoints: 2D projection velocity weight (on pixels^2 per frame pair). 0.05: mild, a
        3 px jitter on all 17 keypoints costs ~15, comparable to E_R's noise floor.
      smooth_camera: weight of the bounded camera-translation term (on pixels^2 beyond the bound);
        strong (1.0) because inside the bound it is exactly zero.
      smooth_root: perspective mode only: weight of the root translation's acceleration
        ||t_{t+1} - 2 t_t + t_{t-1}||^2 (metres^2), which replaces the camera term there.
      pose_prior: GMM NLL weight (nats per frame). 2.0: a 0.1 rad rotation of a limb moves its
        end ~15-20 px at 400 px/m (~100 px^2 in E_R), while moving one prior standard deviation
        costs 0.5 nat, so the image dominates wherever keypoints are seen and the prior decides
        the rest (hands, unobserved joints, depth ambiguities).
      init_prior: initialisation prior weight (on metres^2 per frame). 100: 10 cm on every joint
        costs 24, a weak pull that stops drifting into implausible depth ambiguities.
      shape_prior: ||beta||^2 weight per real frame (see the module docstring).
      huber_delta: Huber transition in pixels (quadratic below, linear above).
      hinge_margin: dead zone of the hinge variant in pixels (the paper's 5 px).
      camera_bound_fraction: camera translation bound per frame, as a fraction of the image width
        (the paper's 10%).
      outlier_px: with `outliers`, a frame is an outlier when its reprojection energy exceeds
        what a mean error of this many pixels on every confident keypoint would cost
        (tau_R = sum_k c_k rho(outlier_px)).
      init_outlier_m: with `outliers`, the matching threshold on the initialisation prior:
        tau_I = 24 init_outlier_m^2 (every joint this far from its initialisation).
      robust_kind: "huber" (default), "hinge" (0 below `hinge_margin`) or "l2" (static).
      outliers: (static) the paper's outlier-robust per-frame energy: per frame,
        min(w_R e_R + w_I E_I, w_R tau_R + w_I tau_I) (`robust.outlier_robust_energy`, "joint"),
        where e_R is the inner min over the frame's detections; off: every frame pays
        w_R e_R + w_I E_I.
    """

    reprojection: float = 1.0
    smooth_joints: float = 1e3
    smooth_keypoints: float = 0.05
    smooth_camera: float = 1.0
    smooth_root: float = 1e3
    pose_prior: float = 2.0
    init_prior: float = 100.0
    shape_prior: float = 1.0
    huber_delta: float = 10.0
    hinge_margin: float = robust.HINGE_MARGIN_PX
    camera_bound_fraction: float = 0.1
    outlier_px: float = 60.0
    init_outlier_m: float = 0.3
    robust_kind: str = "huber"
    outliers: bool = False

    def __post_init__(self):
        if self.robust_kind not in ("huber", "hinge", "l2"):
            raise ValueError(f"`robust_kind` must be 'huber', 'hinge' or 'l2', got {self.robust_kind!r}")


def make_data(keypoints, confidence=None, *, init_joints, image_width, image_height=None,
              frame_mask=None, layout: str = "coco17") -> BAData:
    """Builds `BAData` with float32 arrays and checked shapes.

    Args:
      keypoints: (T, K, 2) pixels, or (T, K, 3) with confidences in the last column; or
        multi-person detections (T, P, K, 2 or 3), padded with confidence 0.
      confidence: (T, K) or (T, P, K); default: the third column of `keypoints`, else ones.
      init_joints: (T, 24, 3) initialisation joints in metres.
      image_width: image width in pixels.
      image_height: image height in pixels (default: the width).
      frame_mask: (T,) real-frame mask; default all ones.
      layout: keypoint layout name.

    Returns:
      BAData.
    """
    kp = jnp.asarray(keypoints, jnp.float32)
    if kp.ndim not in (3, 4) or kp.shape[-1] not in (2, 3):
        raise ValueError("`keypoints` must have shape (T, K, 2|3) or (T, P, K, 2|3), got "
                         f"{tuple(kp.shape)}")
    if confidence is None:
        confidence = kp[..., 2] if kp.shape[-1] == 3 else jnp.ones(kp.shape[:-1], jnp.float32)
    kp = kp[..., :2]
    t = kp.shape[0]
    conf = jnp.asarray(confidence, jnp.float32)
    if conf.shape != kp.shape[:-1]:
        raise ValueError(f"`confidence` must have shape {tuple(kp.shape[:-1])}, got {tuple(conf.shape)}")
    mask = jnp.ones(t, jnp.float32) if frame_mask is None else jnp.asarray(frame_mask, jnp.float32)
    if mask.shape != (t,):
        raise ValueError(f"`frame_mask` must have shape {(t,)}, got {tuple(mask.shape)}")
    init = jnp.asarray(init_joints, jnp.float32)
    if init.shape != (t, 24, 3):
        raise ValueError(f"`init_joints` must have shape {(t, 24, 3)}, got {tuple(init.shape)}")
    return BAData(keypoints=kp, confidence=conf, frame_mask=mask, init_joints=init,
                  image_width=jnp.asarray(image_width, jnp.float32),
                  image_height=jnp.asarray(image_width if image_height is None else image_height,
                                           jnp.float32), layout=layout)


@functools.lru_cache(maxsize=1)
def default_pose_prior() -> GaussianMixture:
    """The shipped 8-component GMM pose prior (loaded once)."""
    return load_pose_prior()


# ----------------------------------------------------------------------------------------------
# Forward model
# ----------------------------------------------------------------------------------------------


def perspective_projection(points, root_translation, focal, principal_point):
    """Pixels of world-frame (Y up) model points under the perspective mode's camera.

    Args:
      points: (T, K, 3) model points at zero translation, metres.
      root_translation: (T, 3) camera-frame translation, metres.
      focal: () pixels.
      principal_point: (2,) pixels.

    Returns:
      (T, K, 2) pixels.
    """
    cam = points * jnp.array([1.0, -1.0, -1.0]) + root_translation[:, None]
    depth = jnp.maximum(cam[..., 2:], MIN_DEPTH_M)
    return focal * cam[..., :2] / depth + principal_point


def forward_model(model: BodyModel, layout: str, params, data: Optional[BAData] = None
                  ) -> Tuple[jax.Array, jax.Array]:
    """Posed joints and projected keypoints with one forward-kinematics pass.

    Same values as `kinematics.joints(model, pose, betas)` and
    `initialization.project_keypoints(model, layout, pose, betas, scale, translation)`.
    `PerspectiveBAParams` need `data` (for the principal point, the image centre).

    Returns:
      (joints (T, 24, 3) metres, keypoints (T, K, 2) pixels).
    """
    if layout not in model.keypoint_regressors:
        raise ValueError(
            f"body model {model.name!r} cannot produce layout {layout!r}; it provides {model.layouts}")
    reg = model.keypoint_regressors[layout]
    pose = params.pose
    betas = params.betas
    pose_rots = axis_angle_to_matrix(pose)
    rest = kinematics.rest_joints(model, betas)
    global_rots, global_pos = kinematics.global_transforms(pose_rots, rest)
    kp3d = kinematics.posed_keypoints(model, reg, pose_rots, betas, global_rots, global_pos, rest)
    if isinstance(params, PerspectiveBAParams):
        centre = jnp.stack([data.image_width, data.image_height]) / 2.0
        return global_pos, perspective_projection(kp3d, params.root_translation, params.focal, centre)
    return global_pos, weak_perspective(kp3d, params.scale, params.translation)


def _mask(data: BAData) -> jax.Array:
    m = jnp.asarray(data.frame_mask, jnp.float32)
    return jnp.where(jnp.isfinite(m) & (m > 0), m, 0.0)


def _masked(values, weight):
    """values * weight with exactly zero value and gradient where weight is 0 (double where)."""
    on = weight > 0
    return jnp.where(on, jnp.where(on, values, 0.0) * weight, 0.0)


def _sanitize(params: BAParams, data: BAData) -> BAParams:
    """Replaces the parameters of padded frames by harmless constants (pose 0, scale 1,
    translation 0), so that whatever they hold (NaN included) neither their values nor their
    gradients (exactly 0) reach the energy."""
    on = _mask(data) > 0
    if isinstance(params, PerspectiveBAParams):
        far = jnp.array([0.0, 0.0, 10.0], jnp.float32)
        return PerspectiveBAParams(
            betas=params.betas, pose=jnp.where(on[:, None, None], params.pose, 0.0),
            root_translation=jnp.where(on[:, None], params.root_translation, far), focal=params.focal)
    return BAParams(betas=params.betas,
                    pose=jnp.where(on[:, None, None], params.pose, 0.0),
                    scale=jnp.where(on, params.scale, 1.0),
                    translation=jnp.where(on[:, None], params.translation, 0.0))


def _root_relative(joints):
    return joints - joints[..., :1, :]


def _init_energy(joints, data: BAData):
    """Per-frame initialisation prior sum_j ||(J - J_0) - (I - I_0)||^2 (T,), metres^2; 0 on
    padded frames and frames whose initialisation is not finite."""
    init = jnp.asarray(data.init_joints, jnp.float32)
    init_ok = (_mask(data) > 0) & jnp.all(jnp.isfinite(init), axis=(-2, -1))
    init = jnp.where(init_ok[:, None, None], init, 0.0)
    e_init = jnp.sum(jnp.square(_root_relative(joints) - _root_relative(init)), axis=(-2, -1))
    return _masked(e_init, init_ok.astype(jnp.float32))


# ----------------------------------------------------------------------------------------------
# Terms
# ----------------------------------------------------------------------------------------------


def _detection_energies(keypoints_2d, data: BAData, weights: EnergyWeights):
    """Per-detection robust reprojection energies (T, P) and detection validity (T, P)."""
    kp, conf = data.keypoints, jnp.asarray(data.confidence, jnp.float32)
    if kp.ndim == 3:  # one detection per frame
        kp, conf = kp[:, None], conf[:, None]
    mask = _mask(data)
    conf = jnp.where(mask[:, None, None] > 0, conf, 0.0)  # also drops NaN confidences of padding
    usable = jnp.isfinite(conf) & (conf > 0) & jnp.all(jnp.isfinite(kp), -1)
    per_det = robust.robust_reprojection_energy(
        keypoints_2d[:, None] - kp, conf, weights.robust_kind, delta=weights.huber_delta,
        margin=weights.hinge_margin)
    # tau_R per detection: every confident keypoint off by `outlier_px`.
    rho = robust.robust_reprojection_energy(
        jnp.full(kp.shape, weights.outlier_px / jnp.sqrt(2.0)), jnp.where(usable, conf, 0.0),
        weights.robust_kind, delta=weights.huber_delta, margin=weights.hinge_margin)
    return per_det, jnp.any(usable, -1), rho


def frame_energies(params: BAParams, data: BAData, weights: EnergyWeights, *, model: BodyModel,
                   joints: Optional[jax.Array] = None, keypoints_2d: Optional[jax.Array] = None):
    """Per-frame reprojection and initialisation-prior energies, with the outlier decision.

    Per frame t: e_R(t) = min over the frame's detections of the robust reprojection energy
    (pixels^2; a single-person clip has one), E_I(t) the initialisation prior (metres^2). With
    `weights.outliers` the frame's energy is min(w_R e_R + w_I E_I, w_R tau_R + w_I tau_I)
    (`robust.outlier_robust_energy`, "joint"); without, w_R e_R + w_I E_I. Padded frames give 0.

    Returns:
      dict of (T,) arrays: "energy" (weighted, what the total sums), "reprojection" (unweighted
      e_R, 0 without detections), "init" (unweighted E_I), "inlier" (bool: the frame has a
      detection and is below the thresholds; always True for detected frames without
      `weights.outliers`), "detection" (int: index of the best detection, -1 if none).
    """
    params = _sanitize(params, data)
    if joints is None or keypoints_2d is None:
        joints, keypoints_2d = forward_model(model, data.layout, params, data)
    mask = _mask(data)
    per_det, valid, tau_det = _detection_energies(keypoints_2d, data, weights)
    masked = jnp.where(valid, per_det, jnp.inf)
    best = jnp.argmin(masked, -1)
    has = jnp.any(valid, -1)
    e_r = jnp.where(has, jnp.take_along_axis(jnp.where(valid, per_det, 0.0), best[:, None], -1)[:, 0], 0.0)
    tau_r = jnp.take_along_axis(tau_det, best[:, None], -1)[:, 0]
    e_i = _init_energy(joints, data)
    w_r, w_i = weights.reprojection, weights.init_prior
    if weights.outliers:
        energy, inlier = robust.outlier_robust_energy(
            w_r * per_det, valid & (mask[:, None] > 0), w_r * tau_r, w_i * 24.0 * weights.init_outlier_m ** 2,
            init_energy=w_i * e_i)
        energy = _masked(energy, mask)
        inlier = inlier & (mask > 0)
    else:
        energy = _masked(w_r * e_r + w_i * e_i, mask)
        inlier = has & (mask > 0)
    return {"energy": energy, "reprojection": e_r, "init": e_i, "inlier": inlier,
            "detection": jnp.where(has, best, -1)}


def reprojection_term(params: BAParams, data: BAData, weights: EnergyWeights, *,
                      model: BodyModel, keypoints_2d: Optional[jax.Array] = None
                      ) -> Tuple[jax.Array, jax.Array]:
    """E_R: confidence-weighted robust reprojection energy (inner min over detections).

    Without the outlier term; see `frame_energies` for the paper's outlier-robust combination.

    Args:
      params, data, weights: see the classes.
      model: body model providing `data.layout`.
      keypoints_2d: projected keypoints (T, K, 2) if already computed (`forward_model`).

    Returns:
      (weighted scalar, per-frame unweighted energies (T,) in pixels^2, 0 on padded frames).
    """
    if keypoints_2d is None:
        keypoints_2d = forward_model(model, data.layout, _sanitize(params, data), data)[1]
    per_det, valid, _ = _detection_energies(keypoints_2d, data, weights)
    per_frame = jnp.min(jnp.where(valid, per_det, jnp.inf), -1)
    per_frame = jnp.where(jnp.any(valid, -1), per_frame, 0.0)
    return weights.reprojection * jnp.sum(per_frame), per_frame


def camera_translation_penalty(translation, bound):
    """Bounded camera-translation smoothness per frame pair: max(||u_{t+1} - u_t|| - bound, 0)^2.

    Zero inside the bound, quadratic outside, value and slope continuous at the bound; the norm's
    gradient is safe at zero motion.

    Args:
      translation: (T, 2) pixels.
      bound: scalar, pixels per frame.

    Returns:
      (T - 1,) penalties, pixels^2.
    """
    d = robust.safe_norm(translation[1:] - translation[:-1], axis=-1)
    excess = jnp.maximum(d - bound, 0.0)
    return excess * excess


def smoothness_terms(params: BAParams, data: BAData, weights: EnergyWeights, *,
                     model: BodyModel, joints: Optional[jax.Array] = None,
                     keypoints_2d: Optional[jax.Array] = None) -> Dict[str, jax.Array]:
    """E_T: weighted smoothness of 3D joints, 2D projections and camera translation.

    Scale changes are not penalised. Each consecutive pair counts only if both frames are real.

    Returns:
      {"smooth_joints", "smooth_keypoints", "smooth_camera"}: weighted scalars.
    """
    params = _sanitize(params, data)
    if joints is None or keypoints_2d is None:
        joints, keypoints_2d = forward_model(model, data.layout, params, data)
    mask = _mask(data)
    pair = mask[1:] * mask[:-1]
    rel = _root_relative(joints)
    v3 = jnp.sum(jnp.square(rel[1:] - rel[:-1]), axis=(-2, -1))
    v2 = jnp.sum(jnp.square(keypoints_2d[1:] - keypoints_2d[:-1]), axis=(-2, -1))
    if isinstance(params, PerspectiveBAParams):
        # Perspective mode: the root's acceleration (metres^2 per frame triple), weighted by
        # `smooth_root` (the image-plane bound of weak perspective has no 3D counterpart).
        root = params.root_translation
        acc = jnp.sum(jnp.square(root[2:] - 2 * root[1:-1] + root[:-2]), -1)
        triple = mask[2:] * mask[1:-1] * mask[:-2]
        cam_term = weights.smooth_root * jnp.sum(_masked(acc, triple))
    else:
        bound = weights.camera_bound_fraction * data.image_width
        cam = camera_translation_penalty(params.translation, bound)
        cam_term = weights.smooth_camera * jnp.sum(_masked(cam, pair))
    return {"smooth_joints": weights.smooth_joints * jnp.sum(_masked(v3, pair)),
            "smooth_keypoints": weights.smooth_keypoints * jnp.sum(_masked(v2, pair)),
            "smooth_camera": cam_term}


def prior_terms(params: BAParams, data: BAData, weights: EnergyWeights, *,
                model: BodyModel, pose_prior: Optional[GaussianMixture] = None,
                joints: Optional[jax.Array] = None) -> Tuple[Dict[str, jax.Array], jax.Array]:
    """E_P: GMM pose prior + initialisation prior on 3D joints + shape prior.

    Returns:
      ({"pose_prior", "init_prior", "shape_prior"}: weighted scalars,
       per-frame unweighted initialisation-prior energies (T,) in metres^2 -- the E_I(t) that
       `robust.outlier_robust_energy` takes).
    """
    if pose_prior is None:
        pose_prior = default_pose_prior()
    params = _sanitize(params, data)
    if joints is None:
        joints = forward_model(model, data.layout, params, data)[0]
    mask = _mask(data)
    nll = negative_log_likelihood(pose_prior, params.pose)
    e_init = _init_energy(joints, data)
    n_frames = jnp.sum(mask)
    terms = {"pose_prior": weights.pose_prior * jnp.sum(_masked(nll, mask)),
             "init_prior": weights.init_prior * jnp.sum(e_init),
             "shape_prior": weights.shape_prior * n_frames * jnp.sum(jnp.square(params.betas))}
    return terms, e_init


def total_energy(params: BAParams, data: BAData, weights: EnergyWeights = EnergyWeights(), *,
                 model: BodyModel, pose_prior: Optional[GaussianMixture] = None
                 ) -> Tuple[jax.Array, Dict[str, jax.Array]]:
    """The bundle-adjustment energy E = E_R + E_T + E_P.

    Pure and jit/grad/vmap-friendly; every argument is a pytree, so
    `jax.jit(total_energy)(params, data, weights, model=model, pose_prior=gmm)` compiles once per
    shapes (T, K), `data.layout` and `weights.robust_kind`, and is reused for other clips, weights
    and models of those shapes.

    Args:
      params: `BAParams`.
      data: `BAData`.
      weights: `EnergyWeights` (provisional defaults).
      model: body model (a pytree) providing `data.layout`.
      pose_prior: GMM over the 69-D body pose; default `default_pose_prior()` (then baked into
        the compiled function as a constant).

    Returns:
      (total scalar, dict with the `TERM_KEYS`: the seven weighted terms and the E_R, E_T, E_P
      groups; the terms sum to the total).
    """
    params = _sanitize(params, data)
    joints, kp2d = forward_model(model, data.layout, params, data)
    frames = frame_energies(params, data, weights, model=model, joints=joints, keypoints_2d=kp2d)
    smooth = smoothness_terms(params, data, weights, model=model, joints=joints, keypoints_2d=kp2d)
    priors, _ = prior_terms(params, data, weights, model=model, pose_prior=pose_prior,
                            joints=joints)
    # The frame energies hold reprojection + initialisation prior (and the outlier constants);
    # the initialisation prior is reported separately over the inlier frames.
    init_part = weights.init_prior * jnp.sum(_masked(frames["init"], frames["inlier"].astype(jnp.float32)))
    if not weights.outliers:
        init_part = priors["init_prior"]
    priors["init_prior"] = init_part
    e_r = jnp.sum(frames["energy"]) - init_part
    terms = {"reprojection": e_r, **smooth, **priors}
    terms["E_R"] = e_r
    terms["E_T"] = smooth["smooth_joints"] + smooth["smooth_keypoints"] + smooth["smooth_camera"]
    terms["E_P"] = priors["pose_prior"] + priors["init_prior"] + priors["shape_prior"]
    total = terms["E_R"] + terms["E_T"] + terms["E_P"]
    return total, terms
