"""Synthetic monocular sequences for the pooled temporal regressor (Habekost et al., section 3).

One sequence = one person, one static camera, one long motion made of random clips:

  * Body: betas ~ N(0, I), clipped to +-`max_abs_beta`. The subject's height is the vertical extent
    of its T-pose mesh; height-normalised quantities are scaled by `target_height / height`
    (1.72 m): `transl_hn`, `camera_height_hn`.
  * Motion: clips drawn uniformly at random (with replacement) and concatenated until at least
    `min_frames` frames at `fps` (10): whole clips, no truncation, no smoothing across boundaries;
    `clip_boundaries` holds each clip's first frame and `clip_id` each frame's clip (0..C-1).
    Every clip is resampled to `fps` (`MotionClip.resample`), turned about the vertical axis by a
    random yaw (global orientation AND translation, about the clip's first root position) and
    moved on the ground plane:
      - chained: the clip starts where the previous one ended, if the whole clip then stays in
        view (up to `placement_tries` random yaws are tried);
      - otherwise it jumps (a cut) to the camera's aim point: the clip's start, the centre of its
        ground-trajectory bounding box or its end is put there, with the anchor and yaw (of
        4 x `placement_tries` random yaws) that keep most of the clip in view without ever
        bringing the subject within 0.5 m of the image plane.
    "In view" is checked on two proxies per frame (the ground point below the root and the point
    one subject height above it) projected with the sequence's camera, and also requires the
    subject to stay within a factor 2 of the sampled camera distance (so the sampled apparent size
    holds over the whole sequence instead of chained walks drifting far away). A clip that cannot keep
    90% of its frames in view even after a jump (a long jog in front of a close, steep camera) is
    redrawn, up to 4 draws per slot, keeping the best: the camera distribution stays as sampled,
    and close-up sequences lean towards motions that stay in place, as real close-ups do.
    Grounding: a clip is grounded for the betas it was made with, so it is re-grounded for the
    sequence's body: the lowest foot point over the clip (a farthest-point subset of the sole
    vertices, those mostly skinned to ankles/feet and within 4 cm of the rest sole) is put on y = 0.
  * Camera: `camera_sampling.sample_static_camera` (see there for the ranges); the camera stays at
    (0, height, 0) looking down +Z, and the motion is placed in front of it.
  * Observations: keypoints of a layout ("coco23", "body25b", "smpl24") or "surface178" surface
    points (`surface_points`), projected to a W x H image, then passed through the observation
    model (`observations.observe`). `visible` is the self-occlusion flag: for surface points,
    front-facing and not occluded in a z-buffer of the mesh; for keypoints (which mostly lie
    inside the body), not more than `keypoint_depth_tolerance` behind the mesh z-buffer (so the far
    hip in a profile view is hidden), when `self_occlusion` is on. Hidden surface points always get
    confidence 0 (DensePose sees no hidden surface).

All per-frame math runs in one jit-compiled kernel over a batch of sequences padded to a common
length; per-sequence random choices are numpy. Sequence i of `synthesize_sequences(n, seed, ...)`
equals `synthesize_sequence(jax.random.fold_in(jax.random.key(seed), i), ...)`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from posejax.body import kinematics
from posejax.body.layouts import get_layout
from posejax.body.model import BodyModel, KeypointRegressor
from posejax.geometry.cameras import StaticCamera, static_to_perspective
from posejax.geometry.projection import perspective_project
from posejax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rot_y
from posejax.synth import surface_points as sp
from posejax.synth.camera_sampling import (CameraRanges, CameraSample, as_numpy_rng,
                                           camera_matrices, sample_static_camera)
from posejax.synth.motion import MotionClip
from posejax.synth.observations import ObservationConfig, _observe_frames, noise_params

OBSERVATIONS = ("coco23", "body25b", "smpl24", "surface178")
_FOOT_JOINTS = (7, 8, 10, 11)  # ankles and feet (balls) on the SMPL tree
_NUM_SOLE_POINTS = 64
_MIN_SUBJECT_DEPTH = 0.5  # metres between the root proxies and the image plane
_JUMP_TRIES = 4           # jumps try this many times `placement_tries` yaws
_CLIP_DRAWS = 4           # clips drawn per slot at most, while none fits the view
_GOOD_PLACEMENT = 0.9     # ... i.e. keeps at least this fraction of its frames in view
_DISTANCE_BAND = 2.0      # "in view" also means within this factor of the sampled distance


@dataclasses.dataclass(frozen=True)
class SequenceConfig:
    """Settings of `synthesize_sequence`.

    Attributes:
      min_frames: minimum length; clips are appended whole until reached.
      fps: frame rate of the sequence (clips are resampled to it).
      image_size: (W, H) pixels.
      observation: "coco23", "body25b", "smpl24" or "surface178".
      target_height: metres; height normalisation target.
      max_abs_beta: betas ~ N(0, I) are clipped to +- this.
      camera: camera distributions.
      noise: observation model (`ObservationConfig.clean()` for exact keypoints).
      self_occlusion: compute `visible` for keypoint layouts with the z-buffer (else all True;
        surface points always use it).
      num_occluders: mesh vertices splatted into the z-buffer of surface points.
      zbuffer_grid: z-buffer cells per side for surface points.
      keypoint_occluders, keypoint_grid: the same for keypoint self-occlusion: coarser, as
        keypoints only need to know which body part is in front, and it keeps keypoint synthesis
        above 20,000 frames/s.
      keypoint_depth_tolerance: metres a keypoint may lie behind the nearest surface in its cell
        and still be visible (keypoints are inside the body).
      surface_depth_tolerance: the same for surface points.
      placement_tries: random yaws tried per clip when chaining / jumping.
    """

    min_frames: int = 600
    fps: float = 10.0
    image_size: Tuple[int, int] = (1000, 1000)
    observation: str = "coco23"
    target_height: float = 1.72
    max_abs_beta: float = 2.5
    camera: CameraRanges = CameraRanges()
    noise: ObservationConfig = ObservationConfig()
    self_occlusion: bool = True
    num_occluders: int = 1024
    zbuffer_grid: int = 24
    keypoint_occluders: int = 256
    keypoint_grid: int = 14
    keypoint_depth_tolerance: float = 0.15
    surface_depth_tolerance: float = 0.05
    placement_tries: int = 8

    def __post_init__(self):
        if not (isinstance(self.min_frames, (int, np.integer)) and self.min_frames >= 1):
            raise ValueError(f"SequenceConfig.min_frames must be an int >= 1, got {self.min_frames!r}")
        if not (isinstance(self.fps, (int, float)) and math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"SequenceConfig.fps must be a positive number, got {self.fps!r}")
        size = tuple(int(v) for v in np.asarray(self.image_size).reshape(-1))
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"SequenceConfig.image_size must be (W, H) positive pixels, got {self.image_size!r}")
        object.__setattr__(self, "image_size", size)
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"SequenceConfig.observation must be one of {OBSERVATIONS}, got {self.observation!r}")
        for name in ("target_height", "max_abs_beta", "keypoint_depth_tolerance", "surface_depth_tolerance"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"SequenceConfig.{name} must be a positive number, got {value!r}")
        for name in ("num_occluders", "zbuffer_grid", "keypoint_occluders", "keypoint_grid",
                     "placement_tries"):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and value >= 1):
                raise ValueError(f"SequenceConfig.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.camera, CameraRanges):
            raise ValueError(f"SequenceConfig.camera must be a CameraRanges, got {type(self.camera).__name__}")
        if not isinstance(self.noise, ObservationConfig):
            raise ValueError(f"SequenceConfig.noise must be an ObservationConfig, got {type(self.noise).__name__}")


# ----------------------------------------------------------------------------------------------
# Per-model constants (numpy, cached).


@dataclasses.dataclass(frozen=True)
class _ModelData:
    template_y: np.ndarray       # (V,) rest vertex heights at betas = 0
    shapedirs_y: np.ndarray      # (V, S) their shape directions
    sole_ids: np.ndarray         # (F,) sole vertex ids used for grounding
    surface: Optional[sp.SurfacePointSet]


_MODEL_CACHE: dict = {}


def _model_data(model: BodyModel, config: SequenceConfig) -> _ModelData:
    need_surface = config.observation == "surface178" or config.self_occlusion
    occluders = config.num_occluders if config.observation == "surface178" else config.keypoint_occluders
    key = (sp._model_token(model), need_surface and occluders)
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    template = np.asarray(model.v_template, np.float64)
    dominant = np.argmax(np.asarray(model.lbs_weights), axis=1)
    feet = np.flatnonzero(np.isin(dominant, _FOOT_JOINTS))
    if feet.size == 0:
        raise ValueError(f"body model {model.name!r} has no vertices skinned mostly to the feet")
    sole = feet[template[feet, 1] <= template[feet, 1].min() + 0.04]
    sole = sole[sp.farthest_point_sampling(template[sole], min(_NUM_SOLE_POINTS, sole.size))]
    surface = sp.surface_point_set(model, num_occluders=occluders) if need_surface else None
    data = _ModelData(template_y=template[:, 1].astype(np.float32),
                      shapedirs_y=np.asarray(model.shapedirs)[:, 1, :].astype(np.float32),
                      sole_ids=np.sort(sole).astype(np.int32), surface=surface)
    _MODEL_CACHE[key] = data
    return data


def subject_height(model: BodyModel, betas) -> float:
    """Height (m) of a body shape: vertical extent of its T-pose mesh."""
    data = _model_data(model, SequenceConfig(self_occlusion=False))
    b = np.asarray(betas, np.float32).reshape(-1)
    y = data.template_y + data.shapedirs_y[:, :b.size] @ b
    return float(y.max() - y.min())


# ----------------------------------------------------------------------------------------------
# Per-sequence plan (numpy).


@dataclasses.dataclass(frozen=True)
class _Plan:
    betas: np.ndarray           # (S,)
    height: float
    camera: CameraSample
    clip_index: np.ndarray      # (C,) into the clip list
    boundaries: np.ndarray      # (C,) first frame of each clip
    clip_id: np.ndarray         # (T,) 0..C-1
    pose: np.ndarray            # (T, 24, 3) clip poses (root not yet turned)
    yaw: np.ndarray             # (T,) yaw added to the root orientation, radians
    transl: np.ndarray          # (T, 3) turned and placed translation (not yet re-grounded)


def _resample_all(clips: Sequence[MotionClip], fps: float) -> List[MotionClip]:
    if isinstance(clips, MotionClip) or len(clips) == 0:
        raise ValueError("`clips` must be a non-empty sequence of MotionClip")
    out = []
    for i, clip in enumerate(clips):
        if not isinstance(clip, MotionClip):
            raise ValueError(f"`clips[{i}]` must be a MotionClip, got {type(clip).__name__}")
        if abs(clip.fps - fps) > 1e-6:
            clip = clip.resample(fps) if hasattr(clip, "resample") else _nearest_resample(clip, fps)
        out.append(clip)
    return out


def _nearest_resample(clip: MotionClip, fps: float) -> MotionClip:
    idx = np.round(np.arange(0, clip.duration, 1.0 / fps) * clip.fps).astype(np.int64)
    idx = np.clip(idx, 0, clip.num_frames - 1)
    return dataclasses.replace(clip, fps=fps, pose=clip.pose[idx], transl=clip.transl[idx])


def _plan(rng: np.random.Generator, clips: List[MotionClip], model: BodyModel,
          config: SequenceConfig) -> _Plan:
    num_betas = model.num_betas
    betas = np.clip(rng.standard_normal(num_betas), -config.max_abs_beta, config.max_abs_beta)
    betas = betas.astype(np.float32)
    height = subject_height(model, betas)
    cam = sample_static_camera(rng, config.camera, subject_height=height, image_size=config.image_size)
    placer = _Placer(cam, height, config)
    chosen, yaws, placed, total, end = [], [], [], 0, None
    while total < config.min_frames:
        best = None
        for _ in range(_CLIP_DRAWS):
            i = int(rng.integers(len(clips)))
            yaw, xz, score = placer.place(rng, clips[i], end)
            if best is None or score > best[3]:
                best = (i, yaw, xz, score)
            if score >= _GOOD_PLACEMENT:
                break
        i, yaw, xz, _ = best
        chosen.append(i)
        yaws.append(yaw)
        placed.append(xz)
        total += clips[i].num_frames
        end = xz[-1]
    lengths = np.array([clips[i].num_frames for i in chosen])
    boundaries = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int32)
    clip_id = np.repeat(np.arange(len(chosen), dtype=np.int32), lengths)
    pose = np.concatenate([clips[i].pose for i in chosen])
    transl = np.concatenate([clips[i].transl for i in chosen]).copy()
    xz = np.concatenate(placed)
    transl[:, 0], transl[:, 2] = xz[:, 0], xz[:, 1]
    return _Plan(betas=betas, height=height, camera=cam, clip_index=np.array(chosen, np.int32),
                 boundaries=boundaries, clip_id=clip_id, pose=pose,
                 yaw=np.repeat(np.array(yaws), lengths).astype(np.float32), transl=transl)


class _Placer:
    """Turns and places clips on the ground in front of one camera (module docstring)."""

    def __init__(self, cam: CameraSample, height: float, config: SequenceConfig):
        self.K, self.R, self.t = camera_matrices(cam.camera)
        self.size = config.image_size
        self.height = height
        self.tries = config.placement_tries
        self.aim = cam.aim[[0, 2]].astype(np.float64)
        self.distance = float(cam.subject_distance)

    def in_view(self, xz):
        """(tries, T, 2) -> (tries,) score: the fraction of frames with both proxies inside the
        image and the subject within a factor `_DISTANCE_BAND` of the sampled distance, minus 2 if
        the subject ever comes closer than 0.5 m to the image plane (the body would cross the
        camera). Why the distance band: without it, chained walks lead away from the camera
        until the subject is a few pixels tall for most of the sequence, whatever was sampled."""
        # Camera coordinates written out per component: (x, 0, z) and (x, height, z) only, and
        # this runs thousands of times per second of data, where stacking + matmul dominated.
        x, z = xz[..., 0], xz[..., 1]
        w, h = self.size
        ok = np.hypot(x, z) >= self.distance / _DISTANCE_BAND  # the camera stands at x = z = 0
        ok &= np.hypot(x, z) <= self.distance * _DISTANCE_BAND
        too_close = np.zeros(xz.shape[:-2], bool)
        for y in (0.0, self.height):
            cx, cy, cz = (self.R[i, 0] * x + self.R[i, 1] * y + self.R[i, 2] * z + self.t[i] for i in range(3))
            depth = np.maximum(cz, 1e-3)
            u = self.K[0, 0] * cx / depth + self.K[0, 2]
            v = self.K[1, 1] * cy / depth + self.K[1, 2]
            ok &= (u >= 0) & (u < w) & (v >= 0) & (v < h)
            too_close |= np.any(cz < _MIN_SUBJECT_DEPTH, axis=-1)
        return np.mean(ok, axis=-1) - 2.0 * too_close

    def place(self, rng, clip: MotionClip, end):
        """-> (yaw, placed root ground positions (T, 2), score) for one clip; `end` is where the
        previous clip ended (None for the first)."""
        rel = (clip.transl[:, [0, 2]] - clip.transl[0, [0, 2]]).astype(np.float64)   # (T, 2)
        yaw = rng.uniform(0.0, 2.0 * np.pi, self.tries)
        turned = _turn(rel, yaw)
        if end is not None:  # chain, if the whole clip then stays in view
            score = self.in_view(end + turned)
            if np.any(score >= 1.0):
                choice = int(np.argmax(score >= 1.0))
                return yaw[choice], (end + turned[choice]).astype(np.float32), 1.0
        # Jump: anchor the aim point at the clip's start, its ground bounding-box centre or its
        # end (a long walk fits a close view best when it starts near the aim and leads away).
        yaw = np.concatenate([yaw, rng.uniform(0.0, 2.0 * np.pi, (_JUMP_TRIES - 1) * self.tries)])
        turned = _turn(rel, yaw)
        centre = 0.5 * (turned.min(axis=1) + turned.max(axis=1))               # (tries, 2)
        starts = np.concatenate([np.broadcast_to(self.aim, centre.shape), self.aim - centre,
                                 self.aim - turned[:, -1]])
        scores = self.in_view(starts[:, None] + np.concatenate([turned] * 3))
        best = int(np.argmax(scores))
        choice = best % len(yaw)
        return yaw[choice], (starts[best] + turned[choice]).astype(np.float32), float(scores[best])


def _turn(rel, yaw):
    """Ground offsets (T, 2) turned by yaws (N,) about the vertical axis -> (N, T, 2)."""
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    # rot_y: x' = c x + s z, z' = -s x + c z.
    return np.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1]], -1)


# ----------------------------------------------------------------------------------------------
# The jit kernel over a batch of sequences (B, T).


def _landmarks(model: BodyModel, reg: KeypointRegressor, pose, betas_bt, betas_b, global_rots,
               global_pos, rest):
    """World landmarks (B, T, K, 3) before translation; fast basis path without pose correctives."""
    out = jnp.einsum("kj,ntjc->ntkc", reg.joint_weights, global_pos)
    if reg.vertex_ids.shape[0] == 0:
        return out
    if model.posedirs is None:
        a, c = sp.skinning_basis(model, reg.vertex_ids, reg.vertex_weights, betas_b)   # (B, K, 24, 3)
        return out + sp.apply_skinning_basis(a, c, global_rots, global_pos, rest)
    tmp = dataclasses.replace(model, keypoint_regressors={"_landmarks": reg})
    return kinematics.keypoints(tmp, "_landmarks", pose, betas_bt)


def _vertex_regressor(ids, num_joints=24) -> KeypointRegressor:
    ids = np.asarray(ids, np.int32)
    return KeypointRegressor(joint_weights=np.zeros((ids.size, num_joints), np.float32),
                             vertex_ids=ids, vertex_weights=np.eye(ids.size, dtype=np.float32))


def _vertex_points(model, ids, pose, betas_bt, betas_b, global_rots, global_pos, rest):
    """World positions (B, T, P, 3) of single vertices, before translation."""
    if model.posedirs is None:
        a, c = sp.skinning_basis(model, ids, None, betas_b)
        return sp.apply_skinning_basis(a, c, global_rots, global_pos, rest)
    return _landmarks(model, _vertex_regressor(ids), pose, betas_bt, betas_b, global_rots,
                      global_pos, rest)


@functools.partial(jax.jit, static_argnames=("config", "num_segments"))
def _kernel(model, pose, yaw, transl, segment, frame_index, betas, camera, seq_keys, sole_ids,
            surface_ids, surface_normals, occluder_ids, flip, noise, *, config: SequenceConfig,
            num_segments: int):
    """All per-frame math for (B, T) frames; see `_synthesize_batch` for the arguments."""
    b, t = yaw.shape
    obs = config.observation
    # Turn the root orientation; the axis-angle written out is the one everything is computed from.
    rots = axis_angle_to_matrix(pose)
    root = matrix_to_axis_angle(rot_y(yaw) @ rots[:, :, 0])
    pose = pose.at[:, :, 0].set(root)
    rots = rots.at[:, :, 0].set(axis_angle_to_matrix(root))
    rest_b = kinematics.rest_joints(model, betas)                               # (B, 24, 3)
    rest = jnp.broadcast_to(rest_b[:, None], (b, t, 24, 3))
    betas_bt = jnp.broadcast_to(betas[:, None], (b, t, betas.shape[-1]))
    global_rots, global_pos = kinematics.global_transforms(rots, rest)
    verts = functools.partial(_vertex_points, model, pose=pose, betas_bt=betas_bt, betas_b=betas,
                              global_rots=global_rots, global_pos=global_pos, rest=rest)

    # Re-ground every clip for this body: lowest sole point over the clip on y = 0.
    sole_y = jnp.min(verts(sole_ids)[..., 1], axis=-1) + transl[..., 1]          # (B, T)
    seg = (jnp.arange(b, dtype=jnp.int32)[:, None] * num_segments + segment).reshape(-1)
    low = jax.ops.segment_min(sole_y.reshape(-1), seg, num_segments=b * num_segments)
    transl = transl.at[..., 1].add(-low[seg].reshape(b, t))

    if obs == "surface178":
        points = verts(surface_ids)
    else:
        points = _landmarks(model, model.keypoint_regressors[obs], pose, betas_bt, betas,
                            global_rots, global_pos, rest)
    points = points + transl[:, :, None]
    joints = global_pos + transl[:, :, None]

    cam = static_to_perspective(StaticCamera(pitch=camera[:, 0], roll=camera[:, 1],
                                             height=camera[:, 2], hfov=camera[:, 3],
                                             image_size=config.image_size))
    R, tc, K = cam.R[:, None], cam.t[:, None], cam.K[:, None]                     # (B, 1, ...)
    to_cam = lambda x: jnp.einsum("ntij,ntkj->ntki", R, x) + tc[:, :, None]
    points_cam, joints_cam = to_cam(points), to_cam(joints)
    px = perspective_project(points_cam, K)
    focal = jnp.broadcast_to(cam.K[:, None, 0, 0], (b, t))

    need_zbuffer = obs == "surface178" or config.self_occlusion
    if need_zbuffer:
        occ_cam = to_cam(verts(occluder_ids) + transl[:, :, None])
        occ_px = perspective_project(occ_cam, K)
    if obs == "surface178":
        normals = sp.posed_normals(model, surface_ids, surface_normals, global_rots)
        visible = sp.surface_visibility(points_cam, to_cam(normals) - tc[:, :, None], px, occ_cam,
                                        occ_px, focal, grid=config.zbuffer_grid,
                                        tolerance=config.surface_depth_tolerance)
    elif config.self_occlusion:
        visible = sp.zbuffer_visible(px, points_cam[..., 2], occ_px, occ_cam[..., 2], focal,
                                     grid=config.keypoint_grid,
                                     tolerance=config.keypoint_depth_tolerance)
    else:
        visible = jnp.ones(px.shape[:-1], bool)

    scale = jnp.linalg.norm(jnp.max(px, axis=-2) - jnp.min(px, axis=-2), axis=-1)   # (B, T)
    keys = jax.vmap(lambda key, i: jax.random.fold_in(key, i))(
        jnp.repeat(seq_keys, t), frame_index.reshape(-1).astype(jnp.uint32))
    k = px.shape[-2]
    noisy, conf = _observe_frames(keys, px.reshape(b * t, k, 2), visible.reshape(b * t, k),
                                  scale.reshape(-1), flip, noise, config.image_size)
    noisy, conf = noisy.reshape(b, t, k, 2), conf.reshape(b, t, k)
    if obs == "surface178":  # no observation of hidden surfaces, whatever the noise settings
        conf = jnp.where(visible, conf, 0.0)
        noisy = jnp.where(visible[..., None] | (noise["zero_missing"] == 0), noisy, 0.0)
    return dict(keypoints2d=noisy, confidence=conf, visible=visible, keypoints2d_clean=px,
                person_scale=scale, pose=pose, transl=transl, joints3d=joints_cam,
                keypoints3d=points_cam)


# ----------------------------------------------------------------------------------------------
# Public API.


def _static_config(config: SequenceConfig) -> SequenceConfig:
    """The config with the parts the kernel does not compile in (noise, camera) reset, so that
    different noise settings or camera ranges share one compiled kernel."""
    return dataclasses.replace(config, noise=ObservationConfig(), camera=CameraRanges(),
                               min_frames=1, placement_tries=1, fps=10.0, target_height=1.72,
                               max_abs_beta=2.5)


def _round_up(x: int, m: int) -> int:
    return max(m, -(-x // m) * m)


def _flip_indices(model: BodyModel, config: SequenceConfig, data: _ModelData) -> np.ndarray:
    if config.observation == "surface178":
        return data.surface.mirror
    return np.asarray(get_layout(config.observation).flip_indices, np.int32)


def _synthesize_batch(keys, plans: List[_Plan], model: BodyModel, config: SequenceConfig,
                      data: _ModelData) -> List[Dict[str, np.ndarray]]:
    """Runs the kernel on plans padded to a common length (buckets keep recompiles rare)."""
    lengths = [p.pose.shape[0] for p in plans]
    b_real = len(plans)
    b = b_real if b_real == 1 else _round_up(b_real, 4)
    t = _round_up(max(lengths), 128)
    num_segments = _round_up(max(len(p.boundaries) for p in plans) + 1, 16)
    pose = np.zeros((b, t, 24, 3), np.float32)
    yaw = np.zeros((b, t), np.float32)
    transl = np.zeros((b, t, 3), np.float32)
    segment = np.full((b, t), num_segments - 1, np.int32)  # padding: a segment of its own
    betas = np.zeros((b, model.num_betas), np.float32)
    camera = np.tile(np.array([0.0, 0.0, 1.0, 1.0], np.float32), (b, 1))
    for i, p in enumerate(plans):
        n = lengths[i]
        pose[i, :n], yaw[i, :n], transl[i, :n], segment[i, :n] = p.pose, p.yaw, p.transl, p.clip_id
        betas[i], camera[i] = p.betas, p.camera.params
    key_data = np.zeros((b,) + tuple(jax.random.key_data(keys[0]).shape), np.uint32)
    key_data[:b_real] = np.stack([np.asarray(jax.random.key_data(k)) for k in keys])
    seq_keys = jax.random.wrap_key_data(key_data)
    frame_index = np.broadcast_to(np.arange(t, dtype=np.int32), (b, t))
    surface = data.surface
    dummy = np.zeros((1,), np.int32)
    out = _kernel(model, pose, yaw, transl, segment, frame_index, betas, camera, seq_keys,
                  data.sole_ids,
                  surface.vertex_ids if surface is not None else dummy,
                  surface.rest_normals if surface is not None else np.zeros((1, 3), np.float32),
                  surface.occluder_ids if surface is not None else dummy,
                  _flip_indices(model, config, data), noise_params(config.noise),
                  config=_static_config(config), num_segments=num_segments)
    out = jax.device_get(out)
    results = []
    scale_hn = lambda p: config.target_height / p.height
    for i, p in enumerate(plans):
        n = lengths[i]
        res = {name: np.asarray(v[i, :n]) for name, v in out.items()}
        res.update(
            betas=p.betas, height=np.float32(p.height), camera=p.camera.params,
            camera_height_hn=np.float32(p.camera.camera.height * scale_hn(p)),
            transl_hn=(res["transl"] * scale_hn(p)).astype(np.float32),
            clip_id=p.clip_id, clip_boundaries=p.boundaries, clip_index=p.clip_index)
        results.append(res)
    return results


def _as_key(seed_or_key):
    if isinstance(seed_or_key, (int, np.integer)):
        return jax.random.key(int(seed_or_key))
    if isinstance(seed_or_key, jax.Array) and jnp.issubdtype(seed_or_key.dtype, jax.dtypes.prng_key):
        return seed_or_key
    if isinstance(seed_or_key, (jax.Array, np.ndarray)) and seed_or_key.dtype == np.uint32:
        return jax.random.wrap_key_data(seed_or_key)  # legacy raw uint32 keys
    raise ValueError(f"`seed_or_key` must be an int seed or a JAX PRNG key, got {type(seed_or_key).__name__}")


def _check_common(model, config):
    if not isinstance(model, BodyModel):
        raise ValueError(f"`model` must be a BodyModel, got {type(model).__name__}")
    if not isinstance(config, SequenceConfig):
        raise ValueError(f"`config` must be a SequenceConfig, got {type(config).__name__}")
    if config.observation != "surface178" and config.observation not in model.layouts:
        raise ValueError(f"body model {model.name!r} cannot produce layout {config.observation!r}; "
                         f"it provides {model.layouts}")


def synthesize_sequence(seed_or_key, clips: Sequence[MotionClip], model: BodyModel,
                        config: SequenceConfig = SequenceConfig()) -> Dict[str, np.ndarray]:
    """One synthetic monocular sequence (module docstring).

    Args:
      seed_or_key: int seed or JAX PRNG key (the same one gives the same sequence).
      clips: motion clips to draw from (any frame rate).
      model: body model.
      config: SequenceConfig.

    Returns:
      dict of numpy arrays (T frames, K observed points, C clips):
        keypoints2d (T, K, 2) float32 observed pixels; confidence (T, K) float32 in [0, 1],
        0 = missing; visible (T, K) bool (self-occlusion); keypoints2d_clean (T, K, 2) exact pixels;
        person_scale (T,) bbox diagonal, pixels;
        pose (T, 24, 3) axis-angle in the camera's world frame (Y up, camera at (0, h, 0) looking
        down +Z); betas (S,); transl (T, 3) metres, so that `kinematics.keypoints(model, layout,
        pose, betas, transl)` projected with `StaticCamera(*camera)` gives keypoints2d_clean;
        transl_hn (T, 3) = transl * target_height / height; height () metres;
        camera (4,) = (pitch rad, roll rad, height m, hfov rad); camera_height_hn ();
        joints3d (T, 24, 3) and keypoints3d (T, K, 3) camera frame, metres;
        clip_id (T,) int32; clip_boundaries (C,) int32 first frame of each clip;
        clip_index (C,) int32 index of each clip in `clips`.
    """
    _check_common(model, config)
    key = _as_key(seed_or_key)
    resampled = _resample_all(clips, config.fps)
    data = _model_data(model, config)
    plan = _plan(as_numpy_rng(key), resampled, model, config)
    return _synthesize_batch([key], [plan], model, config, data)[0]


def synthesize_sequences(num: int, seed: int, clips: Sequence[MotionClip], model: BodyModel,
                         config: SequenceConfig = SequenceConfig(),
                         batch_size: int = 16) -> Iterator[Dict[str, np.ndarray]]:
    """Generates `num` sequences, `batch_size` per kernel call; sequence i is the one
    `synthesize_sequence(jax.random.fold_in(jax.random.key(seed), i), ...)` returns.

    Args:
      num: number of sequences (>= 0).
      seed: int seed.
      clips, model, config: as in `synthesize_sequence`.
      batch_size: sequences per jit call (larger = faster, more memory).

    Yields:
      The sequence dicts, in order.
    """
    if not (isinstance(num, (int, np.integer)) and num >= 0):
        raise ValueError(f"`num` must be an int >= 0, got {num!r}")
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"`batch_size` must be an int >= 1, got {batch_size!r}")
    _check_common(model, config)
    root = _as_key(seed)
    resampled = _resample_all(clips, config.fps)
    data = _model_data(model, config)
    for start in range(0, num, batch_size):
        keys = [jax.random.fold_in(root, i) for i in range(start, min(num, start + batch_size))]
        plans = [_plan(as_numpy_rng(k), resampled, model, config) for k in keys]
        yield from _synthesize_batch(keys, plans, model, config, data)


def sequence_camera(sequence: Dict[str, np.ndarray],
                    image_size: Tuple[int, int] = (1000, 1000)) -> StaticCamera:
    """The StaticCamera of a sequence dict (from its `camera` (4,) field)."""
    pitch, roll, height, hfov = (np.float32(v) for v in np.asarray(sequence["camera"]))
    return StaticCamera(pitch=pitch, roll=roll, height=height, hfov=hfov, image_size=image_size)


__all__ = ["OBSERVATIONS", "SequenceConfig", "synthesize_sequence", "synthesize_sequences",
           "subject_height", "sequence_camera"]
