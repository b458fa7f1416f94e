"""Synthetic multi-view 2D observations for CanonPose-style lifting.

One subject (SMPL-layout body model, motion from `MotionClip`s) is filmed by N synchronised virtual
pinhole cameras placed around it. The learner only ever sees the per-view 2D keypoints and
confidences; the cameras and the 3D ground truth are returned for evaluation.

How a sample is made (`synthesize_multiview`):

1. Motion. Clips are resampled to `config.fps`; a random window of one clip is taken, and further
   random clips are appended (each turned by a random yaw about the vertical through its first
   root position and placed where the previous one ended; no smoothing across boundaries) until
   `num_frames` frames exist. With `sample_betas` the subject gets a fresh shape
   betas ~ N(0, betas_std^2 I), and every clip is lifted or lowered so that its lowest foot joint
   stays where it was for the shape it was made with (feet stay on the ground). The trajectory is
   then centred on the world origin (x, z).
2. Rig. Camera azimuths are spread evenly around the subject (spacing 2 pi / V) with a random
   common offset and a per-camera jitter of up to `azimuth_jitter * pi / V`; every camera looks at
   the subject (the centre of its 3D bounding box, plus an optional aim jitter) from a horizontal
   distance `radius_range` (plus the extent of the subject's path, so that the subject never walks
   into a camera) at a height `height_range` above the ground, with a horizontal field of view
   `hfov_deg_range` and a small roll `roll_deg_range`.
   * "static": one camera pose per view for the whole clip, aimed at the centre of the path.
   * "moving": every camera follows the subject (aim = its bounding-box centre, smoothed in time
     with a Gaussian of `target_smoothing_s` seconds), while its azimuth drifts at a constant
     angular speed up to `angular_speed_deg` deg/s plus a slow sinusoidal sway, and its distance
     and height oscillate slowly (periods in `wobble_period_s`): smooth (C-infinity) trajectories.
3. Observations. The 3D keypoints of `layout` are projected into every view (vectorised JAX).
   `visible` is the self-occlusion flag per view: the keypoint is in front of the camera and, with
   `self_occlusion`, not more than `keypoint_depth_tolerance` behind the body surface in a coarse
   z-buffer of the mesh (`posejax.synth.surface_points.zbuffer_visible`, the same test as the
   monocular sequences), so e.g. the far hip in a profile view is hidden. With `noise=True` the
   detector model `posejax.synth.observations.observe` (pixel noise scaled with the person's size,
   confidences correlated with it, drop-outs, missing frames, left/right swaps, jumps, lower
   confidence or drops for hidden keypoints, truncation at the image border) is applied to every
   view; with `noise=False` the observations are the exact projections, with confidence 1 for
   keypoints in front of the camera and inside the image, else 0.

Defaults (documented ranges): 4 views, radius U[3, 6] m, camera height U[0.4, 2.8] m, horizontal
FoV U[40, 70] deg, roll U[-3, 3] deg, 1000 x 1000 images, 30 fps, 64 frames, coco23 keypoints. At
these settings a 1.7 m subject is roughly 190-780 px tall (f x 1.7 m / distance).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Optional, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from posejax.body import kinematics
from posejax.body.layouts import get_layout
from posejax.body.model import BodyModel
from posejax.geometry import cameras as cameras_lib
from posejax.geometry import rotations
from posejax.synth import surface_points
from posejax.synth.observations import ObservationConfig, observe, person_scale

__all__ = ["MultiviewConfig", "RIGS", "synthesize_multiview", "rig_trajectories"]

RIGS = ("static", "moving")
MIN_VIEWS, MAX_VIEWS = 2, 8
_FOOT_JOINTS = (7, 8, 10, 11)  # SMPL ankles and feet: the lowest joints of a standing body


def _check_range(name, value, low=-math.inf, high=math.inf):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"MultiviewConfig.{name} must be a (low, high) pair, got {value!r}") from None
    if not (low <= lo <= hi <= high):
        raise ValueError(f"MultiviewConfig.{name} must satisfy {low} <= low <= high <= {high}, "
                         f"got {value!r}")
    return lo, hi


@dataclasses.dataclass(frozen=True)
class MultiviewConfig:
    """Settings of `synthesize_multiview` (see the module docstring for what each range does).

    Attributes:
      num_views: number of synchronised cameras V, 2 to 8.
      rig: "static" (cameras fixed over the clip) or "moving" (smooth camera trajectories).
      fps: frame rate of the synthesised clip, frames per second.
      num_frames: frames T per sample.
      layout: keypoint layout of the observations, one of the body model's layouts ("coco23",
        "body25b", "smpl24", ...).
      image_size: (W, H) pixels, the same for every view.
      radius_range: horizontal camera-to-subject distance in metres, uniform; the radius of the
        subject's path around its centre is added so no camera stands inside it.
      height_range: camera centre height above the ground in metres, uniform.
      hfov_deg_range: horizontal field of view in degrees, uniform per view.
      roll_deg_range: camera roll about its optical axis in degrees, uniform per view.
      azimuth_jitter: per-camera azimuth jitter as a fraction of half the even spacing (0 = evenly
        spaced around the subject, 1 = neighbours may touch).
      aim_jitter: std of the aim point offset from the subject's centre in metres, per view (so
        the subject is not always exactly centred).
      angular_speed_deg: moving rigs: max azimuth drift speed, deg/s (uniform in +-).
      sway_deg: moving rigs: max amplitude of the sinusoidal azimuth sway, degrees.
      radius_wobble: moving rigs: max relative amplitude of the distance oscillation.
      height_wobble: moving rigs: max amplitude of the height oscillation, metres.
      wobble_period_s: moving rigs: (low, high) period range of the oscillations, seconds.
      target_smoothing_s: moving rigs: Gaussian sigma (seconds) of the followed aim point.
      sample_betas: draw a new body shape per sample (else the first clip's betas).
      betas_std: std of the sampled betas (they are N(0, I)-scaled PCA coefficients).
      noise: apply the detector-like observation model; False gives exact projections.
      observation: `posejax.synth.observations.ObservationConfig`, or None for its defaults.
      self_occlusion: compute `visible` with the mesh z-buffer (else: in front of the camera).
      num_occluders: mesh vertices splatted into the z-buffer.
      zbuffer_grid: z-buffer cells per side.
      keypoint_depth_tolerance: metres a keypoint may lie behind the nearest surface and still be
        visible (keypoints lie inside the body).
      min_depth: metres; keypoints closer to (or behind) a camera are not visible.
    """

    num_views: int = 4
    rig: str = "static"
    fps: float = 30.0
    num_frames: int = 64
    layout: str = "coco23"
    image_size: Tuple[int, int] = (1000, 1000)
    radius_range: Tuple[float, float] = (3.0, 6.0)
    height_range: Tuple[float, float] = (0.4, 2.8)
    hfov_deg_range: Tuple[float, float] = (40.0, 70.0)
    roll_deg_range: Tuple[float, float] = (-3.0, 3.0)
    azimuth_jitter: float = 0.5
    aim_jitter: float = 0.1
    angular_speed_deg: float = 20.0
    sway_deg: float = 10.0
    radius_wobble: float = 0.15
    height_wobble: float = 0.3
    wobble_period_s: Tuple[float, float] = (3.0, 10.0)
    target_smoothing_s: float = 0.5
    sample_betas: bool = True
    betas_std: float = 1.0
    noise: bool = True
    observation: Any = None
    self_occlusion: bool = True
    num_occluders: int = 1024
    zbuffer_grid: int = 24
    keypoint_depth_tolerance: float = 0.15
    min_depth: float = 0.1

    def __post_init__(self):
        nv = self.num_views
        if isinstance(nv, bool) or not isinstance(nv, (int, np.integer)) or not (
                MIN_VIEWS <= nv <= MAX_VIEWS):
            raise ValueError(f"MultiviewConfig.num_views must be an integer from {MIN_VIEWS} to "
                             f"{MAX_VIEWS}, got {nv!r}")
        object.__setattr__(self, "num_views", int(nv))
        if self.rig not in RIGS:
            raise ValueError(f"MultiviewConfig.rig must be one of {RIGS}, got {self.rig!r}")
        if not self.fps > 0:
            raise ValueError(f"MultiviewConfig.fps must be positive, got {self.fps!r}")
        if not (isinstance(self.num_frames, (int, np.integer)) and self.num_frames >= 1):
            raise ValueError(f"MultiviewConfig.num_frames must be a positive integer, "
                             f"got {self.num_frames!r}")
        size = tuple(int(v) for v in np.asarray(self.image_size).reshape(-1))
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"MultiviewConfig.image_size must be (W, H) positive pixels, "
                             f"got {self.image_size!r}")
        object.__setattr__(self, "image_size", size)
        object.__setattr__(self, "radius_range", _check_range("radius_range", self.radius_range, 0.5))
        object.__setattr__(self, "height_range", _check_range("height_range", self.height_range, 0.0))
        object.__setattr__(self, "hfov_deg_range",
                           _check_range("hfov_deg_range", self.hfov_deg_range, 1.0, 170.0))
        object.__setattr__(self, "roll_deg_range",
                           _check_range("roll_deg_range", self.roll_deg_range, -90.0, 90.0))
        object.__setattr__(self, "wobble_period_s",
                           _check_range("wobble_period_s", self.wobble_period_s, 1e-3))
        for name in ("azimuth_jitter", "aim_jitter", "angular_speed_deg", "sway_deg",
                     "radius_wobble", "height_wobble", "target_smoothing_s", "betas_std",
                     "min_depth"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"MultiviewConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.observation is not None and not isinstance(self.observation, ObservationConfig):
            raise ValueError(f"MultiviewConfig.observation must be an ObservationConfig or None, "
                             f"got {type(self.observation).__name__}")
        for name in ("num_occluders", "zbuffer_grid"):
            if not (isinstance(getattr(self, name), (int, np.integer)) and getattr(self, name) >= 1):
                raise ValueError(f"MultiviewConfig.{name} must be an int >= 1, got "
                                 f"{getattr(self, name)!r}")
        if self.radius_wobble >= 1:
            raise ValueError(f"MultiviewConfig.radius_wobble must be < 1, got {self.radius_wobble!r}")


# ----------------------------------------------------------------------------------------------
# Motion assembly (NumPy: it is bookkeeping over a handful of clips, not the hot path).


def _key(key_or_seed):
    if isinstance(key_or_seed, (int, np.integer)):
        return jax.random.PRNGKey(int(key_or_seed))
    return key_or_seed


def _np_rng(key) -> np.random.Generator:
    """A NumPy generator derived deterministically from a JAX key."""
    bits = np.asarray(jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
                      else key).astype(np.uint64).reshape(-1)
    return np.random.default_rng([int(b) for b in bits])


@functools.partial(jax.jit, static_argnames=("layout",))
def _pose_points(model, pose, betas, transl, occluder_ids, layout):
    """World joints (T, 24, 3), keypoints (T, K, 3) and z-buffer occluder vertices (T, M, 3)."""
    j = kinematics.joints(model, pose, betas, transl)
    k = kinematics.keypoints(model, layout, pose, betas, transl)
    # Occluders by the skinning basis (exact LBS of single vertices; pose correctives, if the
    # model has them, are left out: millimetres, irrelevant for a coarse z-buffer).
    rest = kinematics.rest_joints(model, betas)
    rots, pos = kinematics.global_transforms(rotations.axis_angle_to_matrix(pose), rest)
    a, c = surface_points.skinning_basis(model, occluder_ids, None, betas)
    occ = surface_points.apply_skinning_basis(a, c, rots, pos, rest) + transl[:, None]
    return j, k, occ


@jax.jit
def _place(model, pose, transl, betas, clip_betas, segment, yaw, pivot):
    """Re-grounds and turns concatenated clip windows, all T frames in one fixed-shape call.

    Args:
      pose: (T, 24, 3), transl: (T, 3) the raw clip frames.
      betas: (S,) the subject's shape; clip_betas: (T, S) the shape each frame's clip was made with.
      segment: (T,) int32 clip window of each frame (< T).
      yaw: (T,) radians and pivot: (T, 2) world (x, z), constant within a window.

    Returns:
      pose (T, 24, 3), transl (T, 3): each window lifted/lowered so its lowest foot joint keeps its
      height for `betas`, then turned by its yaw about the vertical line through its pivot.
    """
    T = pose.shape[0]
    # Keep the feet where they were for the shape the clip was made with.
    old = kinematics.joints(model, pose, clip_betas, transl)[:, _FOOT_JOINTS, 1].min(-1)
    new = kinematics.joints(model, pose, betas, transl)[:, _FOOT_JOINTS, 1].min(-1)
    dy = (jax.ops.segment_min(old, segment, num_segments=T)
          - jax.ops.segment_min(new, segment, num_segments=T))[segment]
    transl = transl.at[:, 1].add(dy)
    r = rotations.rot_y(yaw)                                                  # (T, 3, 3)
    root = rotations.matrix_to_axis_angle(r @ rotations.axis_angle_to_matrix(pose[:, 0]))
    # SMPL rotates the body about its root joint J0 + transl; turning the world maps
    # J0 + transl -> R (J0 + transl - p) + p, so transl' = that - J0.
    j0 = kinematics.rest_joints(model, betas)[0]
    p = jnp.stack([pivot[:, 0], jnp.zeros_like(yaw), pivot[:, 1]], -1)
    moved = jnp.einsum("tij,tj->ti", r, j0 + transl - p) + p
    return pose.at[:, 0].set(root), moved - j0


def _assemble_motion(rng, clips, model, config, betas):
    """Concatenates random clip windows to `num_frames` frames with the subject's `betas`.

    Returns pose (T, 24, 3), transl (T, 3), clip_id (T,) int32, clip names (list of str).
    """
    T = config.num_frames
    poses, transls, clip_betas, yaws, pivots, ids, names = [], [], [], [], [], [], []
    total = 0
    while total < T:
        clip = clips[int(rng.integers(len(clips)))]
        if abs(clip.fps - config.fps) > 1e-6:
            clip = clip.resample(config.fps)
        n = clip.num_frames
        # First window: random start; later ones start at their first frame (a clip change).
        start = int(rng.integers(0, max(n - (T - total), 0) + 1)) if total == 0 else 0
        stop = min(n, start + T - total)
        m = stop - start
        poses.append(clip.pose[start:stop])
        transls.append(clip.transl[start:stop])
        b = np.zeros(model.num_betas, np.float32)
        cb = np.asarray(clip.betas, np.float32).reshape(-1)[: model.num_betas]
        b[: cb.shape[0]] = cb
        clip_betas.append(np.repeat(b[None], m, 0))
        yaws.append(np.full(m, rng.uniform(-np.pi, np.pi), np.float32))
        pivots.append(np.repeat(clip.transl[start, [0, 2]][None], m, 0))
        ids.append(np.full(m, len(names), np.int32))
        names.append(clip.name)
        total += m
    segment = np.concatenate(ids)
    pose, transl = _place(model, jnp.asarray(np.concatenate(poses)),
                          jnp.asarray(np.concatenate(transls)), jnp.asarray(betas),
                          jnp.asarray(np.concatenate(clip_betas)), jnp.asarray(segment),
                          jnp.asarray(np.concatenate(yaws)), jnp.asarray(np.concatenate(pivots)))
    pose, transl = np.asarray(pose, np.float32), np.array(transl, np.float64)
    # Chain the windows: each starts where the previous one ended (on the ground plane).
    for s in range(1, len(names)):
        first = np.argmax(segment == s)
        shift = transl[first - 1, [0, 2]] - transl[first, [0, 2]]
        transl[first:, 0] += shift[0]
        transl[first:, 2] += shift[1]
    transl[:, [0, 2]] -= transl[:, [0, 2]].mean(0)  # centre the path on the world origin
    return pose, transl.astype(np.float32), segment, names


# ----------------------------------------------------------------------------------------------
# Camera rigs.


def _gaussian_smooth(x, sigma_frames):
    """Gaussian smoothing along axis 0 with edge padding; x (T, D)."""
    if sigma_frames <= 0 or x.shape[0] < 2:
        return x
    radius = int(math.ceil(3 * sigma_frames))
    w = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    w /= w.sum()
    padded = np.pad(x, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, d], w, mode="valid") for d in range(x.shape[1])], 1)


def rig_trajectories(rng: np.random.Generator, config: MultiviewConfig, centers: np.ndarray):
    """Samples camera centres and aim points of a rig.

    Args:
      rng: NumPy generator.
      config: the rig settings.
      centers: (T, 3) subject centre per frame (metres, world).

    Returns:
      eye (V, T', 3) camera centres, aim (V, T', 3) points on the optical axes, roll (V,) radians,
      hfov (V,) radians; T' = 1 for a static rig, T for a moving one.
    """
    V, T = config.num_views, centers.shape[0]
    mean_center = centers.mean(0)
    path_radius = float(np.max(np.linalg.norm((centers - mean_center)[:, [0, 2]], axis=-1)))
    spacing = 2 * np.pi / V
    azimuth = (rng.uniform(0, 2 * np.pi) + spacing * np.arange(V)
               + config.azimuth_jitter * 0.5 * spacing * rng.uniform(-1, 1, V))
    radius = rng.uniform(*config.radius_range, V) + path_radius
    height = rng.uniform(*config.height_range, V)
    hfov = np.deg2rad(rng.uniform(*config.hfov_deg_range, V))
    roll = np.deg2rad(rng.uniform(*config.roll_deg_range, V))
    aim_offset = config.aim_jitter * rng.standard_normal((V, 3))
    if config.rig == "static":
        aim = (mean_center + aim_offset)[:, None]
        az, r, h = azimuth[:, None], radius[:, None], height[:, None]
    else:
        time = np.arange(T) / config.fps
        follow = _gaussian_smooth(centers.astype(np.float64), config.target_smoothing_s * config.fps)
        aim = follow[None] + aim_offset[:, None]

        def wave(amplitude):  # (V, T) sinusoids of random period and phase, amplitude (V,)
            period = rng.uniform(*config.wobble_period_s, (V, 1))
            phase = rng.uniform(0, 2 * np.pi, (V, 1))
            return amplitude[:, None] * np.sin(2 * np.pi * time / period + phase)

        speed = np.deg2rad(config.angular_speed_deg) * rng.uniform(-1, 1, (V, 1))
        az = azimuth[:, None] + speed * time + wave(np.deg2rad(config.sway_deg) * rng.uniform(0, 1, V))
        r = radius[:, None] * (1 + wave(config.radius_wobble * rng.uniform(0, 1, V)))
        # Keep the oscillating height inside the configured range by shrinking its amplitude.
        h_lo, h_hi = config.height_range
        room = np.minimum(height - h_lo, h_hi - height)
        h = height[:, None] + wave(np.minimum(config.height_wobble, room) * rng.uniform(0, 1, V))
    eye = np.stack([aim[..., 0] + r * np.sin(az), np.broadcast_to(h, r.shape),
                    aim[..., 2] + r * np.cos(az)], -1)
    aim = np.broadcast_to(aim, eye.shape)
    return eye.astype(np.float32), aim.astype(np.float32), roll.astype(np.float32), hfov.astype(np.float32)


@functools.partial(jax.jit, static_argnames=("image_size",))
def _cameras(eye, aim, roll, hfov, image_size):
    R, t = cameras_lib.look_at(eye, aim)
    # Roll about the optical axis: x_cam' = rot_z(roll) x_cam.
    rz = rotations.rot_z(roll)[:, None]
    R = rz @ R
    t = jnp.einsum("vtij,vtj->vti", rz, t)
    K = cameras_lib.intrinsics_from_fov(hfov, image_size)
    return K, R, t


@functools.partial(jax.jit, static_argnames=("image_size",))
def _render(points, K, R, t, min_depth, image_size):
    """points (T, N, 3) world -> camera frame (V, T, N, 3), pixels (V, T, N, 2), in-view mask."""
    cam = jnp.einsum("vtij,tnj->vtni", R, points) + t[:, :, None, :]
    z = jnp.maximum(cam[..., 2:3], min_depth)
    xy1 = jnp.concatenate([cam[..., :2] / z, jnp.ones_like(z)], -1)
    px = jnp.einsum("vij,vtnj->vtni", K, xy1)[..., :2]
    w, h = image_size
    inside = ((cam[..., 2] > min_depth) & (px[..., 0] >= 0) & (px[..., 0] <= w)
              & (px[..., 1] >= 0) & (px[..., 1] <= h))
    return cam, px, inside


@functools.partial(jax.jit, static_argnames=("config",))
def _views(key, kp3d, joints3d, occ3d, K, R, t, config: MultiviewConfig):
    """Everything per view in one compiled call: projection, self-occlusion, observation model."""
    # Static rigs have one pose per view (V, 1, ...); broadcast over frames for the projection.
    T = kp3d.shape[0]
    R = jnp.broadcast_to(R, (config.num_views, T, 3, 3))
    t = jnp.broadcast_to(t, (config.num_views, T, 3))
    kp_cam, kp2d, inside = _render(kp3d, K, R, t, config.min_depth, config.image_size)
    j_cam, _, _ = _render(joints3d, K, R, t, config.min_depth, config.image_size)
    in_front = kp_cam[..., 2] > config.min_depth
    if config.self_occlusion:
        occ_cam, occ_px, _ = _render(occ3d, K, R, t, config.min_depth, config.image_size)
        focal = jnp.broadcast_to(K[:, None, 0, 0], in_front.shape[:2])
        visible = in_front & surface_points.zbuffer_visible(
            kp2d, kp_cam[..., 2], occ_px, occ_cam[..., 2], focal, grid=config.zbuffer_grid,
            tolerance=config.keypoint_depth_tolerance, min_depth=config.min_depth)
    else:
        visible = in_front
    if config.noise:
        obs_config = config.observation if config.observation is not None else ObservationConfig()
        flip = np.asarray(get_layout(config.layout).flip_indices, np.int32)
        kp_obs, conf = observe(key, kp2d, visible, person_scale(kp2d), obs_config,
                               flip_indices=flip, image_size=config.image_size)
    else:
        kp_obs, conf = kp2d, inside.astype(jnp.float32)
    return kp_cam, kp2d, inside, j_cam, visible, kp_obs, conf


def synthesize_multiview(key_or_seed: Union[int, jax.Array], clips: Sequence[Any],
                         model: BodyModel, config: Optional[MultiviewConfig] = None) -> dict:
    """Synthesises one multi-view sample: V synchronised views of one moving subject.

    Args:
      key_or_seed: a JAX PRNG key or an int seed; the sample is a deterministic function of it.
      clips: non-empty sequence of `posejax.synth.motion.MotionClip` to draw the motion from.
      model: body model producing joints and the keypoints of `config.layout`.
      config: `MultiviewConfig` (defaults when None).

    Returns:
      dict of NumPy arrays (V views, T frames, K keypoints):
        keypoints2d (V, T, K, 2) float32 pixels (noisy when `config.noise`),
        confidence (V, T, K) float32 in [0, 1] (0 = missing),
        visible (V, T, K) bool: in front of the camera and not self-occluded (see module doc),
        keypoints2d_clean (V, T, K, 2) float32 exact projections (evaluation only),
        joints3d (T, 24, 3), keypoints3d (T, K, 3) float32 world metres,
        joints3d_cam (V, T, 24, 3), keypoints3d_cam (V, T, K, 3) float32 camera-frame metres,
        camera_K (V, 3, 3), camera_R (V, 3, 3) static / (V, T, 3, 3) moving world-to-camera,
        camera_t (V, 3) / (V, T, 3) metres, camera_center (V, 3) / (V, T, 3) metres,
        hfov (V,) radians (cameras are for evaluation only: never feed them to the learner),
        pose (T, 24, 3), transl (T, 3), betas (B,) float32 SMPL parameters of the subject,
        clip_id (T,) int32 index into clip_names, clip_names list of str,
        rig str ("static" | "moving"), fps float.

    Raises:
      ValueError: bad config, empty clips or a layout the body model cannot produce.
    """
    config = MultiviewConfig() if config is None else config
    if not isinstance(config, MultiviewConfig):
        raise ValueError(f"`config` must be a MultiviewConfig, got {type(config).__name__}")
    clips = list(clips)
    if not clips:
        raise ValueError("`clips` must hold at least one MotionClip, got an empty sequence")
    if config.layout not in model.keypoint_regressors:
        raise ValueError(f"MultiviewConfig.layout {config.layout!r} is not produced by body model "
                         f"{model.name!r}; it provides {model.layouts}")
    key = _key(key_or_seed)
    k_motion, k_obs = jax.random.split(key)
    rng = _np_rng(k_motion)

    if config.sample_betas:
        betas = (config.betas_std * rng.standard_normal(model.num_betas)).astype(np.float32)
    else:
        betas = np.zeros(model.num_betas, np.float32)
        b = np.asarray(clips[0].betas, np.float32)[: model.num_betas]
        betas[: b.shape[0]] = b
    pose, transl, clip_id, names = _assemble_motion(rng, clips, model, config, betas)
    occluder_ids = surface_points.surface_point_set(
        model, num_occluders=config.num_occluders).occluder_ids
    joints3d, kp3d, occ3d = _pose_points(model, jnp.asarray(pose), jnp.asarray(betas),
                                         jnp.asarray(transl), jnp.asarray(occluder_ids),
                                         config.layout)

    # The subject's centre: middle of its 3D bounding box per frame.
    pts = np.asarray(kp3d)
    centers = 0.5 * (pts.min(1) + pts.max(1))
    eye, aim, roll, hfov = rig_trajectories(rng, config, centers)
    K, R, t = _cameras(jnp.asarray(eye), jnp.asarray(aim), jnp.asarray(roll), jnp.asarray(hfov),
                       config.image_size)
    kp_cam, kp2d, inside, j_cam, visible, kp_obs, conf = _views(
        k_obs, kp3d, joints3d, occ3d, K, R, t, config)

    static = config.rig == "static"
    squeeze = (lambda a: np.asarray(a)[:, 0]) if static else np.asarray
    return dict(
        keypoints2d=np.asarray(kp_obs, np.float32),
        confidence=np.asarray(conf, np.float32),
        visible=np.asarray(visible),
        keypoints2d_clean=np.asarray(kp2d, np.float32),
        joints3d=np.asarray(joints3d, np.float32),
        keypoints3d=np.asarray(kp3d, np.float32),
        joints3d_cam=np.asarray(j_cam, np.float32),
        keypoints3d_cam=np.asarray(kp_cam, np.float32),
        camera_K=np.asarray(K, np.float32),
        camera_R=squeeze(R).astype(np.float32),
        camera_t=squeeze(t).astype(np.float32),
        camera_center=squeeze(eye).astype(np.float32),
        hfov=hfov,
        pose=pose,
        transl=transl,
        betas=betas,
        clip_id=clip_id,
        clip_names=names,
        rig=config.rig,
        fps=float(config.fps),
    )
