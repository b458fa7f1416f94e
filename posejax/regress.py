"""`regress_sequence`: SMPL pose, shape, global trajectory and camera from a 2D keypoint sequence
with a trained pooled temporal regressor (Habekost et al.), in one forward pass.

    regressor = posejax.regress.load_regressor("runs/pooled")     # a training workdir
    result = posejax.regress.regress_sequence(keypoints, layout="coco17", image_size=(1920, 1080),
                                              regressor=regressor)
    result = posejax.regress.refine_camera(result, keypoints, layout="coco17", regressor=regressor)
    refined = posejax.bundle_adjust(keypoints, layout="coco17", image_size=(1920, 1080),
                                    init=result.bundle_adjust_init(regressor.task.model))

`refine_camera` (optional) fits the static camera and the pelvis track to the keypoints with the
regressor's body held (`posejax.fitting.static_camera`); it lowers the camera-height error most.

Frames: the regressor's world frame (Y up, ground y = 0, camera at (0, height, 0) looking down +Z
with the predicted pitch and roll). Lengths are height-normalised: the body is Theta's betas of
the predicted HN shape, 1.72 m tall, and positions are in that body's metres
(`RegressionResult.root` rescales them for a known height).
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from posejax.body import kinematics
from posejax.body.hn_shape import TARGET_HEIGHT, hn_to_betas
from posejax.body.kinematics import rest_joints
from posejax.body.model import BodyModel
from posejax.body.layouts import convert_keypoints, get_layout
from posejax.fitting.initialization import CAMERA_ROTATION, weak_perspective
from posejax.fitting.static_camera import StaticCameraFit, StaticCameraPriors, fit_static_camera
from posejax.geometry.cameras import StaticCamera, _static_rotation, static_to_perspective
from posejax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle


@dataclasses.dataclass(frozen=True)
class Regressor:
    """A trained pooled regressor ready for inference (`load_regressor`)."""

    task: object       # posejax.tasks.pooled_regressor.PooledRegressorTask
    params: object
    stats: object
    layout: str        # the observation layout it was trained on
    step: int
    predict: object    # jit(task.predict): (params, stats, frames (B, T, F)) -> outputs


def load_regressor(workdir: str) -> Regressor:
    """The latest checkpoint of a `posejax.train` run of `experiments/pooled_regressor.py`."""
    from posejax.training.loop import load_trained

    task, state = load_trained(workdir, "pooled_regressor")
    layout = get_layout(task.config.data.observation)
    return Regressor(task=task, params=state.params, stats=state.extra, layout=layout.name,
                     step=int(state.step), predict=jax.jit(task.predict))


@dataclasses.dataclass(frozen=True)
class RegressionResult:
    """What the regressor says about one sequence (numpy arrays).

    Attributes:
      pose: (T, 24, 3) axis-angle, world frame (joint 0 = orientation in the world).
      hn_betas: (8,) height-normalised shape (mean over frames).
      betas: (S,) body-model betas of that shape at 1.72 m (Theta).
      root_hn: (T, 3) pelvis position, height-normalised metres, world frame.
      root_view: (T, 3) the pelvis as each frame's camera sees it (`posejax.geometry.static_view`:
        image position, log depth); `root_hn` is decoded from it.
      camera: (4,) static camera (pitch rad, roll rad, height in HN metres, horizontal FoV rad):
        the per-frame predictions averaged.
      camera_per_frame: (T, 4) the per-frame predictions (after `refine_camera`: the refined
        camera in every frame).
      image_size: (W, H) pixels.
      camera_fit: the `posejax.fitting.static_camera.StaticCameraFit` when `refine_camera` made
        this result, else None.
    """

    pose: np.ndarray
    hn_betas: np.ndarray
    betas: np.ndarray
    root_hn: np.ndarray
    root_view: np.ndarray
    camera: np.ndarray
    camera_per_frame: np.ndarray
    image_size: Tuple[int, int]
    camera_fit: Optional[StaticCameraFit] = None

    def root(self, height: float) -> np.ndarray:
        """(T, 3) pelvis position in metres for a person `height` metres tall."""
        return self.root_hn * (height / TARGET_HEIGHT)

    def transl_hn(self, model: BodyModel) -> np.ndarray:
        """(T, 3) body-model translation (`kinematics.joints(model, pose, betas, transl)`) that puts
        the pelvis of the HN body (`betas`) at `root_hn`."""
        return self.root_hn - np.asarray(rest_joints(model, self.betas))[0]

    def static_camera(self) -> StaticCamera:
        """The predicted camera (heights in HN metres)."""
        pitch, roll, height, fov = (np.float32(v) for v in self.camera)
        return StaticCamera(pitch=pitch, roll=roll, height=height, hfov=fov, image_size=self.image_size)

    def bundle_adjust_init(self, model: BodyModel) -> dict:
        """The result as an initialisation of `posejax.bundle_adjust` (weak perspective, the
        orientation relative to the camera): {"pose", "betas", "cameras": {"scale", "translation"}}.

        Each frame's weak camera is the tangent of that frame's predicted perspective camera at
        the predicted pelvis, read straight from the pelvis as the camera sees it (`root_view`)
        and the frame's FoV: scale = focal / pelvis depth (pixels per metre), and the translation
        puts the model's pelvis (its rest joint 0, where bundle adjustment's model keeps it) on
        the pelvis pixel. The orientation relative to the camera uses the frame's pitch and roll."""
        pitch, roll, height, hfov = (np.asarray(v, np.float32) for v in self.camera_per_frame.T)
        cams = static_to_perspective(StaticCamera(pitch=pitch, roll=roll, height=height, hfov=hfov,
                                                  image_size=self.image_size))
        half_width = 0.5 * np.float32(self.image_size[0])
        scale = (half_width / np.tan(0.5 * hfov)) / np.exp(self.root_view[:, 2])
        pixel = self.root_view[:, :2] * half_width + 0.5 * np.asarray(self.image_size, np.float32)
        rest_pelvis = np.asarray(rest_joints(model, self.betas))[:1]
        no_shift = np.zeros((len(scale), 2), np.float32)
        at_zero = np.asarray(weak_perspective(rest_pelvis, scale, no_shift))[:, 0]  # (T, 2) pixels
        translation = pixel - at_zero
        root = np.asarray(axis_angle_to_matrix(self.pose[:, 0]))
        pose = self.pose.copy()
        pose[:, 0] = np.asarray(matrix_to_axis_angle(CAMERA_ROTATION @ np.asarray(cams.R, np.float32) @ root))
        return {"pose": pose, "betas": self.betas,
                "cameras": {"scale": scale, "translation": translation.astype(np.float32)}}


def regress_sequence(keypoints, confidences: Optional[np.ndarray] = None, *, layout: str,
                     image_size: Tuple[int, int], regressor: Regressor) -> RegressionResult:
    """Runs the regressor on a whole sequence.

    Args:
      keypoints: (T, K, 2) pixels or (T, K, 3) with confidences; NaN marks missing points.
      confidences: (T, K), if not in `keypoints`.
      layout: the keypoints' layout; converted to the regressor's (points it cannot get are
        missing, e.g. the feet of coco23 from coco17).
      image_size: (W, H) pixels (the regressor was trained on 1000 x 1000 images; coordinates are
        normalised by the width, so other sizes keep the geometry).
      regressor: from `load_regressor`.

    Returns:
      RegressionResult.
    """
    from posejax.tasks.pooled_regressor import normalize_observations

    joined = _regressor_keypoints(keypoints, confidences, layout, regressor)
    frames = normalize_observations(joined[..., :2], joined[..., 2], tuple(image_size))
    out = jax.device_get(regressor.predict(regressor.params, regressor.stats, frames[None]))
    hn = out["hn_betas"][0].mean(0)
    pose = np.asarray(matrix_to_axis_angle(out["pose_matrix"][0]), np.float32)
    return RegressionResult(
        pose=pose, hn_betas=hn, betas=np.asarray(hn_to_betas(regressor.task.space, hn)),
        root_hn=out["root_hn"][0], root_view=out["root_view"][0], camera=out["camera"][0].mean(0),
        camera_per_frame=out["camera"][0], image_size=tuple(int(v) for v in image_size))


def refine_camera(result: RegressionResult, keypoints, confidences: Optional[np.ndarray] = None, *,
                  layout: str, regressor: Regressor,
                  priors: StaticCameraPriors = StaticCameraPriors()) -> RegressionResult:
    """Fits the static camera and the pelvis track to the sequence's keypoints, starting from (and
    with priors around) the regressor's camera (`posejax.fitting.static_camera`).

    The body is the regressor's: its predicted pose and HN shape, with each frame's orientation
    relative to that frame's predicted camera held fixed, and its predicted pelvis height above the
    ground. The refined result has the fitted camera (every frame), the fitted pelvis track
    (`root_hn`, `root_view`), and the world orientation that keeps each frame's orientation
    relative to the camera; pose and shape are otherwise unchanged.

    Args:
      result: `regress_sequence`'s result for these keypoints.
      keypoints, confidences, layout: as given to `regress_sequence`.
      regressor: the regressor that made `result` (for its body model and layout).
      priors: `StaticCameraPriors` (defaults chosen on held-out synthetic sequences).

    Returns:
      A new RegressionResult with `camera_fit` set.
    """
    model = regressor.task.model
    joined = _regressor_keypoints(keypoints, confidences, layout, regressor)
    if joined.shape[0] != result.pose.shape[0]:
        raise ValueError(f"`result` has {result.pose.shape[0]} frames, the keypoints {joined.shape[0]}")
    betas = np.broadcast_to(result.betas, (result.pose.shape[0],) + result.betas.shape)
    points = np.asarray(kinematics.keypoints(model, regressor.layout, result.pose, betas))   # (T, K, 3)
    pelvis = np.asarray(kinematics.joints(model, result.pose, betas))[:, :1]
    per_frame = np.asarray(result.camera_per_frame, np.float32)
    rot = np.asarray(_static_rotation(jnp.asarray(per_frame[:, 0]), jnp.asarray(per_frame[:, 1])))  # (T, 3, 3)
    body = np.einsum("tij,tkj->tki", rot, points - pelvis)                    # camera axes
    # Elbows and wrists are left out: the regressor's arms are its least reliable part, and with
    # them in the fit moves the camera to explain arm errors.
    names = get_layout(regressor.layout).names
    weights = np.array([0.0 if ("elbow" in n or "wrist" in n) else 1.0 for n in names], np.float32)
    fit = fit_static_camera(joined[..., :2], joined[..., 2], body, result.root_hn[:, 1], result.camera,
                            result.root_view, image_size=result.image_size, priors=priors,
                            keypoint_weights=weights)
    fitted_rot = np.asarray(_static_rotation(jnp.float32(fit.camera[0]), jnp.float32(fit.camera[1])))
    pose = result.pose.copy()
    root = fitted_rot.T @ rot @ np.asarray(axis_angle_to_matrix(result.pose[:, 0]))
    pose[:, 0] = np.asarray(matrix_to_axis_angle(root))
    return dataclasses.replace(
        result, pose=pose, root_hn=fit.pelvis, root_view=fit.pelvis_view, camera=fit.camera.astype(np.float32),
        camera_per_frame=np.broadcast_to(fit.camera.astype(np.float32), per_frame.shape).copy(), camera_fit=fit)


def _regressor_keypoints(keypoints, confidences, layout: str, regressor: Regressor) -> np.ndarray:
    """(T, K', 3) keypoints and confidences in the regressor's layout (missing points: confidence
    0, coordinates 0); see `regress_sequence` for the arguments."""
    kp = np.asarray(keypoints, np.float32)
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3) or kp.shape[0] < 1:
        raise ValueError(f"`keypoints` must be (T, K, 2) or (T, K, 3) with T >= 1, got {kp.shape}")
    conf = kp[..., 2] if kp.shape[-1] == 3 else (
        np.ones(kp.shape[:2], np.float32) if confidences is None else np.asarray(confidences, np.float32))
    if conf.shape != kp.shape[:2]:
        raise ValueError(f"`confidences` must have shape {kp.shape[:2]}, got {conf.shape}")
    src = get_layout(layout)
    if kp.shape[1] != src.num_keypoints:
        raise ValueError(f"layout {layout!r} has {src.num_keypoints} keypoints; got {kp.shape[1]}")
    joined = np.concatenate([np.nan_to_num(kp[..., :2]), np.where(np.isfinite(kp[..., :2]).all(-1), conf, 0)[..., None]], -1)
    if src.name != regressor.layout:
        joined = np.asarray(convert_keypoints(joined, src, regressor.layout, has_confidence=True)[0])
    return joined
