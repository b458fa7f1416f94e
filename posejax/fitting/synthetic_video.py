"""Synthetic videos with ground truth for evaluating bundle adjustment.

A `MotionClip` (e.g. retargeted CMU mocap) is filmed by a static perspective camera and its
keypoints are degraded the way a 2D detector degrades them:

  * Gaussian noise of `noise_px` pixels (per coordinate) on every keypoint,
  * a fraction `outlier_fraction` of the keypoints replaced by a wrong position: a uniform draw in
    the person's bounding box enlarged by 50% (where detectors put wrong joints: on the body, on
    the other limb), with the ordinary confidence distribution (a detector does not know),
  * a fraction `missing_fraction` of frames with no detection at all (confidence 0, NaN coords),
  * confidences drawn uniformly in [0.5, 1],
  * keypoints behind the camera or well outside the image are missing.

The camera is perspective (as real cameras are), so the weak-perspective model of the fit is an
approximation, as it is on real video. Ground truth: the SMPL joints (T, 24, 3) in the camera's
orientation (world joints rotated by R), for Procrustes-aligned metrics, and the world trajectory.

`ground_truth_init` turns the truth into a bundle-adjustment start (pose, shape and cameras in
the fit's conventions), to measure where the energy's minimum lies apart from where the solver
ends from its own start.

`two_person_video` films two clips at once, crossing each other, and shuffles the detection order
in every frame (a detector returns people in arbitrary order) to test tracking.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from posejax.body import kinematics
from posejax.body.loading import as_body_model
from posejax.body.model import BodyModel
from posejax.fitting.initialization import CAMERA_ROTATION, weak_perspective
from posejax.geometry.cameras import look_at
from posejax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

__all__ = ["SyntheticVideo", "synthetic_video", "two_person_video", "ground_truth_init"]


@dataclasses.dataclass(frozen=True)
class SyntheticVideo:
    """A filmed clip and its ground truth.

    Attributes:
      keypoints: (T, K, 3) degraded detections (x, y pixels, confidence); missing = (NaN, NaN, 0),
        or (T, P, K, 3) for multi-person videos (detection order shuffled per frame).
      layout: keypoint layout name.
      image_size: (W, H) pixels.
      joints: (T, 24, 3) ground-truth SMPL joints, camera-oriented world frame (metres); for
        multi-person videos, the joints of person 0.
      keypoints_clean: (T, K, 2) noise-free projections (of person 0).
      outlier: (T, K) bool, keypoints replaced by outliers (of person 0).
      missing: (T,) bool, frames without detections.
      K, R, t: the camera (intrinsics, world-to-camera rotation and translation).
      identity: (T, P) int, which person each detection slot holds (multi-person only, else None).
    """

    keypoints: np.ndarray
    layout: str
    image_size: Tuple[int, int]
    joints: np.ndarray
    keypoints_clean: np.ndarray
    outlier: np.ndarray
    missing: np.ndarray
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    identity: Optional[np.ndarray] = None


def _camera(rng, centre, distance, focal, image_size):
    """A static camera `distance` metres from `centre`, at chest height, random azimuth."""
    az = rng.uniform(0, 2 * np.pi)  # any side of the person, including from behind
    eye = centre + np.array([distance * np.sin(az), rng.uniform(-0.2, 0.4), distance * np.cos(az)])
    R, t = (np.asarray(x, np.float64) for x in look_at(eye, centre))
    w, h = image_size
    K = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], np.float64)
    return K, R, t


def _project(points, K, R, t):
    cam = points @ R.T + t
    uv = cam[..., :2] / np.maximum(cam[..., 2:], 1e-3)
    return uv * np.array([K[0, 0], K[1, 1]]) + K[:2, 2]


def _world_points(model, layout, clip, frames):
    pose = np.asarray(clip.pose[frames], np.float32)
    betas = np.asarray(clip.betas, np.float32)
    kp = np.asarray(kinematics.keypoints(model, layout, pose, betas), np.float64)
    jt = np.asarray(kinematics.joints(model, pose, betas), np.float64)
    transl = np.asarray(clip.transl[frames], np.float64)[:, None]
    return kp + transl, jt + transl


def _degrade(rng, clean, noise_px, outlier_fraction, missing_fraction):
    t, k = clean.shape[:2]
    kp = clean + rng.normal(0.0, noise_px, clean.shape)
    lo, hi = clean.min(1, keepdims=True), clean.max(1, keepdims=True)
    mid, half = (lo + hi) / 2, (hi - lo) * 0.75
    outlier = rng.random((t, k)) < outlier_fraction
    wrong = mid + rng.uniform(-1, 1, clean.shape) * half
    kp = np.where(outlier[..., None], wrong, kp)
    conf = rng.uniform(0.5, 1.0, (t, k))
    missing = np.zeros(t, bool)
    n_missing = int(round(missing_fraction * t))
    if n_missing:
        missing[rng.choice(t, n_missing, replace=False)] = True
    kp = np.where(missing[:, None, None], np.nan, kp)
    conf = np.where(missing[:, None], 0.0, conf)
    return np.concatenate([kp, conf[..., None]], -1).astype(np.float32), outlier, missing


def _unseen_as_missing(kp, cam_points, clean, image_size, margin: float = 0.1):
    """Keypoints a detector cannot report -- behind or within 0.5 m of the camera, or more than
    `margin` of the image size outside the frame -- become missing (NaN, confidence 0). A clip
    that travels can pass the camera; its projections there are meaningless (up to 1e6 px)."""
    w, h = image_size
    lo = -margin * np.array([w, h])
    hi = (1 + margin) * np.array([w, h])
    seen = (cam_points[..., 2] > 0.5) & np.all((clean >= lo) & (clean <= hi), -1)
    out = kp.copy()
    out[~seen] = (np.nan, np.nan, 0.0)
    return out


def synthetic_video(clip, *, seed: int = 0, num_frames: Optional[int] = None, start: int = 0,
                    layout: str = "coco17", image_size: Sequence[int] = (1920, 1080),
                    distance: Tuple[float, float] = (4.0, 7.0), focal_px: Tuple[float, float] = (1000.0, 1600.0),
                    noise_px: float = 3.0, outlier_fraction: float = 0.1,
                    missing_fraction: float = 0.05, body_model: Union[str, BodyModel] = "open"
                    ) -> SyntheticVideo:
    """Films one clip with a random static camera and degrades the keypoints (module docstring).

    Args:
      clip: a `posejax.synth.motion.MotionClip` (pose (T, 24, 3), transl (T, 3), betas).
      seed: random seed (camera, noise, outliers, missing frames).
      num_frames, start: the frames [start, start + num_frames) of the clip (default: all).
      layout: keypoint layout, one the body model provides.
      image_size: (W, H) pixels.
      distance: range of the camera distance to the clip's mean root position, metres.
      focal_px: range of the focal length, pixels.
      noise_px: Gaussian keypoint noise per coordinate, pixels.
      outlier_fraction: fraction of keypoints replaced by outliers.
      missing_fraction: fraction of frames without detections.
      body_model: the model that poses the clip.

    Returns:
      SyntheticVideo.
    """
    model = as_body_model(body_model)
    n = clip.num_frames - start if num_frames is None else int(num_frames)
    if not 1 <= n <= clip.num_frames - start:
        raise ValueError(f"clip {clip.name!r} has {clip.num_frames} frames; cannot take {n} from {start}")
    rng = np.random.default_rng(seed)
    frames = np.arange(start, start + n)
    kp3d, jt3d = _world_points(model, layout, clip, frames)
    centre = jt3d[:, 0].mean(0)
    K, R, t = _camera(rng, centre, rng.uniform(*distance), rng.uniform(*focal_px), image_size)
    clean = _project(kp3d, K, R, t)
    kp, outlier, missing = _degrade(rng, clean, noise_px, outlier_fraction, missing_fraction)
    kp = _unseen_as_missing(kp, kp3d @ R.T + t, clean, image_size)
    return SyntheticVideo(keypoints=kp, layout=layout, image_size=tuple(int(v) for v in image_size),
                          joints=(jt3d @ R.T).astype(np.float32), keypoints_clean=clean.astype(np.float32),
                          outlier=outlier, missing=missing, K=K, R=R, t=t)


def two_person_video(clip_a, clip_b, *, seed: int = 0, num_frames: int = 120, layout: str = "coco17",
                     image_size: Sequence[int] = (1920, 1080), noise_px: float = 3.0,
                     miss_fraction: float = 0.05, body_model: Union[str, BodyModel] = "open"
                     ) -> SyntheticVideo:
    """Two people walking past each other in front of a static camera (identity-swap test).

    Both clips are placed root-centred on a line across the image, person 0 moving left to right
    and person 1 right to left at a slightly different depth, so their detections cross mid-clip.
    Each person is missed independently in `miss_fraction` of the frames, and the detection order
    is shuffled in every frame.

    Returns:
      SyntheticVideo with keypoints (T, 2, K, 3) and `identity` (T, 2): the person in each slot
      (-1 for a missed detection).
    """
    model = as_body_model(body_model)
    rng = np.random.default_rng(seed)
    n = int(num_frames)
    people = []
    for i, clip in enumerate((clip_a, clip_b)):
        if clip.num_frames < n:
            raise ValueError(f"clip {clip.name!r} has {clip.num_frames} frames, fewer than {n}")
        frames = np.arange(n)
        kp3d, jt3d = _world_points(model, layout, clip, frames)
        root = jt3d[:, :1].copy()
        path = np.linspace(-1.5, 1.5, n) * (1 if i == 0 else -1)
        offset = np.stack([path, np.zeros(n), np.full(n, 0.6 * i)], -1)[:, None]
        people.append((kp3d - root + offset, jt3d - root + offset))
    w, h = image_size
    K = np.array([[1200.0, 0, w / 2], [0, 1200.0, h / 2], [0, 0, 1]])
    R, t = (np.asarray(x, np.float64) for x in look_at(np.array([0.0, 0.2, 6.0]), np.zeros(3)))
    det = np.full((n, 2, len(people[0][0][0]), 3), np.nan, np.float32)
    det[..., 2] = 0.0
    ident = np.full((n, 2), -1, np.int64)
    for i, (kp3d, _) in enumerate(people):
        clean = _project(kp3d, K, R, t)
        kp, _, _ = _degrade(rng, clean, noise_px, 0.0, 0.0)
        seen = rng.random(n) >= miss_fraction
        det[seen, i] = kp[seen]
        ident[seen, i] = i
    order = np.argsort(rng.random((n, 2)), axis=1)
    det = np.take_along_axis(det, order[:, :, None, None], 1)
    ident = np.take_along_axis(ident, order, 1)
    clean0 = _project(people[0][0], K, R, t)
    return SyntheticVideo(keypoints=det, layout=layout, image_size=tuple(int(v) for v in image_size),
                          joints=(people[0][1] @ R.T).astype(np.float32), keypoints_clean=clean0.astype(np.float32),
                          outlier=np.zeros(clean0.shape[:2], bool), missing=~(ident >= 0).any(1),
                          K=K, R=R, t=t, identity=ident)


def ground_truth_init(clip, video: SyntheticVideo, *, start: int = 0,
                      body_model: Union[str, BodyModel] = "open") -> dict:
    """The true motion of a `synthetic_video` as a `bundle_adjust` start (`init=`).

    The global orientation is expressed relative to the camera (the fit's frame: x right, y up,
    z towards the camera); the weak-perspective camera of each frame has the scale focal / depth
    of the pelvis and the translation that puts the pelvis at its true pixel.

    Args:
      clip: the `MotionClip` the video was made from.
      video: `synthetic_video(clip, start=start, ...)`.
      start: the video's first frame in the clip.
      body_model: the model that posed the clip.

    Returns:
      mapping with pose (T, 24, 3) radians, betas (S,), cameras {scale (T,) px/m, translation
      (T, 2) px}.
    """
    model = as_body_model(body_model)
    n = video.joints.shape[0]
    if start < 0 or start + n > clip.num_frames:
        raise ValueError(f"the video's {n} frames from {start} are not in clip {clip.name!r} "
                         f"({clip.num_frames} frames)")
    frames = np.arange(start, start + n)
    pose = np.asarray(clip.pose[frames], np.float64).copy()
    root = CAMERA_ROTATION @ video.R @ np.asarray(axis_angle_to_matrix(pose[:, 0]), np.float64)
    pose[:, 0] = np.asarray(matrix_to_axis_angle(root.astype(np.float32)), np.float64)
    pose = pose.astype(np.float32)
    betas = np.asarray(clip.betas, np.float32)  # as `_world_points` poses it
    # The true pelvis in camera coordinates (`video.joints` is rotated into the camera, not moved).
    pelvis_cam = np.asarray(video.joints[:, :1], np.float64) + video.t
    pelvis_px = _project(pelvis_cam, video.K, np.eye(3), np.zeros(3))[:, 0]
    scale = (video.K[0, 0] / pelvis_cam[:, 0, 2]).astype(np.float32)
    pelvis_fit = kinematics.joints(model, pose, betas)[:, :1]
    at_zero = np.asarray(weak_perspective(pelvis_fit, scale, np.zeros((n, 2), np.float32)))[:, 0]
    return {"pose": pose, "betas": betas,
            "cameras": {"scale": scale, "translation": (pelvis_px - at_zero).astype(np.float32)}}
