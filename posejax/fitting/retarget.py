"""Retargeting: motion of another skeleton (CMU ASF/AMC, BVH) -> SMPL parameters of a body model.

The source is a `SkeletonMotion`: world positions of named points over time. Each of a set of
*model markers* (a point rigidly attached to one SMPL segment) corresponds to one source point or a
weighted mix of source points. Marker m is

    marker_m(t) = J[joint_m](t) + R[frame_m](t) @ (offset0_m + delta_m)

where J are the posed SMPL joints (forward kinematics only, no mesh), R the global joint rotations,
`frame_m` the segment the marker rides on, `offset0_m` a rest-pose offset (zero for joint centres)
and `delta_m` a constant per-clip offset that is fitted. Why the fitted offsets: other skeletons put
their joints elsewhere. CMU's hip points are only ~14-18 cm apart (SMPL's ~23 cm) and its root sits
~9 cm above the hip line (SMPL's pelvis ~2 cm); its spine points are spaced differently. One shape
(10 betas) cannot absorb that; a small constant offset per marker in the segment's frame can,
without altering the motion (it is rigid with the segment). Offsets are L2-regularised (larger
freedom on the torso, where the skeletons disagree most, than on the limbs).

Objective (per clip, all frames jointly; float32, JAX, L-BFGS from `posejax.fitting.solvers`):
  data:   sum_m w_m |marker_m - target_m|^2 / sigma^2, averaged over frames (sigma = 1 cm)
  smooth: |R_j(t+1) - R_j(t)|_F^2 (all joints, wrap-free) + joint accelerations (weak)
  priors: |theta_1..23|^2 (small; more on joints no marker observes), |betas|^2, |delta / s_m|^2.

Stages: (1) up to `window` (128) key frames spread over the clip fit everything, without temporal
terms (shape and offsets settle; every frame starts from the source's root orientation and zero
body pose); (2) the clip is walked in windows of 128 frames with shape and offsets fixed, each frame
starting from the nearest key frame's pose, consecutive windows overlapping by 4 frames held at the
earlier solution. Every solve has the same shapes (window x all markers, unused markers weigh 0),
so the solver compiles once per process whatever the clip length. Finally the translation is
shifted so the lowest foot-mesh point over the clip is at y = 0 (`posejax.synth.motion.grounded`).

Correspondences (`MARKERS` names on the left, source points on the right) for the naming schemes
recognised automatically are in `SCHEMES`; see `_CMU_ASF` for the reasoning on the CMU skeleton.

Command line (prints the report, optionally writes a figure):
  python -m posejax.fitting.retarget --asf=../shared/data/cmu_mocap/02.asf \
      --amc=../shared/data/cmu_mocap/02_01.amc --figure=docs/figures/retarget_cmu.png
  python -m posejax.fitting.retarget --bvh=../shared/data/cmu_mocap/131_01.bvh
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Mapping, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from posejax.body import BodyModel, as_body_model, load_body_model, rest_joints
from posejax.body.kinematics import global_transforms
from posejax.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS
from posejax.fitting.solvers import minimize
from posejax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
# MotionClip is the result type of retargeting; synth.motion imports fitting only lazily.
from posejax.synth.motion import MotionClip, grounded

# ----------------------------------------------------------------------------------------------
# Model markers: name -> (SMPL joint, segment frame joint, rest offset in that frame (m)).
# Joint centres ride on their parent's segment (a hip centre moves rigidly with the pelvis); the
# extra markers ride on the leaf segments (head, toes) so those rotations are observed too.

MARKERS: dict[str, tuple[int, int, tuple[float, float, float]]] = {
    name: (j, max(SMPL_PARENTS[j], 0), (0.0, 0.0, 0.0)) for j, name in enumerate(SMPL_JOINT_NAMES)}
MARKERS.update({
    "head_top": (15, 15, (0.0, 0.10, 0.0)),
    "left_toe_tip": (10, 10, (0.0, 0.0, 0.05)),
    "right_toe_tip": (11, 11, (0.0, 0.0, 0.05)),
})
MARKER_NAMES = tuple(MARKERS)

# Markers every scheme must resolve (the rest are used when the source has them).
CORE_MARKERS = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                "right_ankle", "neck", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                "left_wrist", "right_wrist")

# Offset freedom (m, the prior's scale) on the torso, where skeletons disagree most; limbs get 2 cm.
_TORSO = ("pelvis", "left_hip", "right_hip", "spine1", "spine2", "spine3", "neck", "head",
          "head_top", "left_collar", "right_collar", "left_shoulder", "right_shoulder")


def _sided(table: Mapping[str, Union[str, Mapping[str, float]]]) -> dict:
    """Expands "left_*" entries whose source names contain "{s}"/"{S}"/"{side}" to both sides."""
    out = {}
    for key, value in table.items():
        if not key.startswith("left_") or "{" not in str(value):
            out[key] = value
            continue
        for side, s, big in (("left", "l", "L"), ("right", "r", "R")):
            fmt = lambda n: n.format(s=s, S=big, side=side.capitalize())  # noqa: E731
            out[side + key[4:]] = (fmt(value) if isinstance(value, str)
                                   else {fmt(k): w for k, w in value.items()})
    return out


# CMU ASF/AMC. Points are bone END points plus "root". Bones: root -> lhipjoint (end = hip centre)
# -> lfemur (knee) -> ltibia (ankle) -> lfoot (ball of the foot) -> ltoes (toe tip); root ->
# lowerback -> upperback -> thorax -> lowerneck -> upperneck -> head (mid-head); thorax ->
# lclavicle (shoulder) -> lhumerus (elbow) -> lradius (wrist) -> lwrist (hand, ~9 cm on).
# Heights (m) of the spine points of 02.asf vs the open model's rest joints, measured from the
# hip line and (after the slash) from the shoulder line:
#   CMU  root 0.10, lowerback 0.22, upperback 0.33, thorax 0.45/-0.06, lowerneck 0.54/+0.03,
#        upperneck 0.63/+0.12, head 0.72/+0.21
#   SMPL pelvis 0.02, spine1 0.10, spine2 0.17, spine3 0.25, collars 0.48/+0.02, neck 0.56/+0.10,
#        head 0.65/+0.19
# so spine2 <- lowerback, spine3 <- upperback, collars <- lowerneck, neck <- upperneck,
# head <- head; the fitted offsets take up the few-cm differences (and the pelvis's 8 cm).
_CMU_ASF = _sided({
    "pelvis": "root", "left_hip": "{s}hipjoint", "left_knee": "{s}femur", "left_ankle": "{s}tibia",
    "left_foot": "{s}foot", "left_toe_tip": "{s}toes",
    "spine2": "lowerback", "spine3": "upperback", "left_collar": "lowerneck", "neck": "upperneck",
    "head": "head",
    "left_shoulder": "{s}clavicle", "left_elbow": "{s}humerus", "left_wrist": "{s}radius",
    "left_hand": "{s}wrist",
})

# CMU BVH as converted for 3ds Max (cgspeed; the shared 131_*.bvh): joint ORIGINS. The spine is
# Hips -> lowerback (origin = Hips) -> Chest (+0.11 m) -> Chest2 (+0.11) = lowerneck = collars ->
# Neck (+0.09, at shoulder height) -> Head (+0.09) -> Head_end (+0.09): the ASF thorax is
# folded away, so by height: collars <- Neck, neck <- Head, head <- Head_end. lhand coincides
# with the wrist; the hand marker takes the finger end site (~6 cm on).
_CMU_BVH_MAX = _sided({
    "pelvis": "Hips", "left_hip": "{side}Hip", "left_knee": "{side}Knee", "left_ankle": "{side}Ankle",
    "left_foot": "{side}Toe", "left_toe_tip": "{side}Toe_end",
    "spine2": "Chest", "spine3": "Chest2", "left_collar": "Neck", "neck": "Head", "head": "Head_end",
    "left_shoulder": "{side}Shoulder", "left_elbow": "{side}Elbow", "left_wrist": "{side}Wrist",
    "left_hand": "{S}Fingers_end",
})

# CMU BVH as converted for MotionBuilder: the ASF bones renamed (Hips, LowerBack, Spine = lowerback
# end, Spine1 = upperback end, Neck = thorax end, Neck1 = lowerneck end, Head = upperneck end;
# LeftShoulder = clavicle, LeftArm = shoulder point), so the ASF correspondence carries over.
_CMU_BVH_MB = _sided({
    "pelvis": "Hips", "left_hip": "{side}UpLeg", "left_knee": "{side}Leg", "left_ankle": "{side}Foot",
    "left_foot": "{side}ToeBase", "left_toe_tip": "{side}ToeBase_end",
    "spine2": "Spine", "spine3": "Spine1", "left_collar": "Neck1", "neck": "Head", "head": "Head_end",
    "left_shoulder": "{side}Arm", "left_elbow": "{side}ForeArm", "left_wrist": "{side}Hand",
    "left_hand": "{side}FingerBase",
})

# Mixamo (prefix "mixamorig:" is stripped): Spine/Spine1/Spine2 follow SMPL's spine1..3 closely.
_MIXAMO = _sided({
    "pelvis": "Hips", "left_hip": "{side}UpLeg", "left_knee": "{side}Leg", "left_ankle": "{side}Foot",
    "left_foot": "{side}ToeBase", "left_toe_tip": "{side}Toe_End",
    "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck", "head": "Head",
    "head_top": "HeadTop_End",
    "left_collar": "{side}Shoulder", "left_shoulder": "{side}Arm", "left_elbow": "{side}ForeArm",
    "left_wrist": "{side}Hand",
    "left_hand": {"{side}HandIndex1": 0.5, "{side}HandRing1": 0.5},
})

# Sources that already use SMPL joint names (e.g. joints exported from SMPL/AMASS fits).
_SMPL = {name: name for name in SMPL_JOINT_NAMES}

SCHEMES: dict[str, dict] = {
    "cmu_asf": _CMU_ASF, "cmu_bvh_max": _CMU_BVH_MAX, "cmu_bvh_mb": _CMU_BVH_MB,
    "mixamo": _MIXAMO, "smpl": _SMPL}

Correspondence = Mapping[str, Union[str, Mapping[str, float]]]


@dataclasses.dataclass(frozen=True)
class RetargetConfig:
    """Weights and solver settings of `retarget` (documented defaults).

    Attributes:
      sigma: data-term scale (m): a 1-sigma error costs 1 per marker and frame.
      marker_weights: per-marker data weights overriding 1.0 (the leaf markers are less reliable).
      torso_offset_sigma, limb_offset_sigma: prior scale (m) of the fitted per-marker offsets.
      rot_smooth: weight of |R_j(t+1) - R_j(t)|_F^2 summed over joints (per frame pair).
      accel_smooth: weight of |J(t+1) - 2 J(t) + J(t-1)|^2 / sigma^2 over joints.
      pose_prior: weight of |theta_j|^2 for observed body joints; unobserved_prior for joints whose
        rotation moves no marker (hands, toes without tip markers).
      shape_prior: weight of |betas|^2 (per frame-average objective, so it does not grow with T).
      window: frames per solve (stage 1 key frames, stage 2 windows); fixed so the solver compiles
        once per process.
      overlap: frames shared by consecutive stage-2 windows (held at the earlier solution).
      maxiter: L-BFGS iteration limit per solve.
      tol: gradient-norm tolerance.
      method: solver backend ("jaxopt-lbfgs" or "optax-lbfgs").
      ground: shift the result so its lowest foot point is at y = 0.
      verbose: print progress.
    """

    sigma: float = 0.01
    marker_weights: Mapping[str, float] = dataclasses.field(default_factory=lambda: {
        "head_top": 0.5, "left_toe_tip": 0.5, "right_toe_tip": 0.5, "left_hand": 0.5,
        "right_hand": 0.5, "left_collar": 0.5, "right_collar": 0.5})
    torso_offset_sigma: float = 0.06
    limb_offset_sigma: float = 0.02
    rot_smooth: float = 1.0
    accel_smooth: float = 0.05
    pose_prior: float = 0.01
    unobserved_prior: float = 1.0
    shape_prior: float = 1.0
    window: int = 128
    overlap: int = 4
    maxiter: int = 500
    tol: float = 1e-4
    method: str = "jaxopt-lbfgs"
    ground: bool = True
    verbose: bool = True


@dataclasses.dataclass(frozen=True)
class RetargetReport:
    """Quality and cost of one retargeting.

    Attributes:
      name: clip name.
      scheme: correspondence scheme used ("cmu_asf", ..., or "custom").
      num_frames: frames fitted (after resampling to the target fps).
      mean_error_mm, max_error_mm: mean and max distance between corresponding points (model marker
        incl. its fitted offset vs source point or mix) over markers and frames, millimetres.
      per_marker_mean_mm: marker name -> mean error (mm).
      offsets_mm: marker name -> norm of the fitted constant offset (mm).
      iterations: L-BFGS iterations per stage.
      time_s: wall time (s) including compilation.
    """

    name: str
    scheme: str
    num_frames: int
    mean_error_mm: float
    max_error_mm: float
    per_marker_mean_mm: Mapping[str, float]
    offsets_mm: Mapping[str, float]
    iterations: tuple[int, ...]
    time_s: float

    def summary(self) -> str:
        return (f"{self.name}: {self.num_frames} frames, scheme {self.scheme}, corresponding-point "
                f"error mean {self.mean_error_mm:.1f} mm, max {self.max_error_mm:.1f} mm, "
                f"iterations {'+'.join(map(str, self.iterations))}, {self.time_s:.1f} s")


# ----------------------------------------------------------------------------------------------
# Correspondence resolution.

def _canonical(name: str) -> str:
    """Case-insensitive match, ignoring namespace prefixes such as "mixamorig:"."""
    return name.split(":")[-1].lower()


def _as_mix(value) -> dict[str, float]:
    if isinstance(value, str):
        return {value: 1.0}
    if isinstance(value, Mapping) and value and all(isinstance(k, str) for k in value):
        return {k: float(w) for k, w in value.items()}
    raise ValueError(f"a correspondence value must be a source point name or a non-empty mapping "
                     f"{{name: weight}}, got {value!r}")


def _resolve(table: Correspondence, point_names: Sequence[str], strict: bool):
    """Maps a table onto the source's point names.

    Returns (resolved {marker: {index: weight}}, missing {marker: [source names not found]}).
    """
    lookup = {_canonical(n): i for i, n in enumerate(point_names)}
    resolved, missing = {}, {}
    for marker, value in table.items():
        if marker not in MARKERS:
            raise ValueError(f"correspondence key {marker!r} is not a model marker; expected one of "
                             f"{MARKER_NAMES}")
        mix = _as_mix(value)
        absent = [n for n in mix if _canonical(n) not in lookup]
        if absent:
            missing[marker] = absent
            continue
        total = sum(mix.values())
        if not total > 0 or any(w < 0 for w in mix.values()):
            raise ValueError(f"correspondence weights for {marker!r} must be >= 0 with a positive "
                             f"sum, got {mix}")
        resolved[marker] = {lookup[_canonical(n)]: w / total for n, w in mix.items()}
    if strict and missing:
        raise ValueError(f"correspondence names source points that do not exist: {missing}; "
                         f"source points are {tuple(point_names)}")
    return resolved, missing


def resolve_correspondence(point_names: Sequence[str], correspondence: Optional[Correspondence] = None):
    """Chooses the correspondence for a source skeleton.

    Args:
      point_names: the source's point names.
      correspondence: None to detect a known naming scheme (`SCHEMES`), or an explicit mapping
        {marker name: source point name or {source point name: weight}}.

    Returns:
      (scheme name, {marker name: {source point index: weight (sums to 1)}}).

    Raises:
      ValueError: no scheme covers the core markers (the message lists what is missing and the
        source names no scheme recognises), or an explicit mapping names unknown points.
    """
    if correspondence is not None:
        resolved, _ = _resolve(correspondence, point_names, strict=True)
        lacking = [m for m in ("pelvis",) if m not in resolved]
        if lacking or len(resolved) < 6:
            raise ValueError(f"an explicit correspondence needs 'pelvis' and at least 6 markers, got "
                             f"{sorted(resolved)}")
        return "custom", resolved
    attempts = []
    for scheme, table in SCHEMES.items():
        resolved, missing = _resolve(table, point_names, strict=False)
        core_missing = {m: missing[m] for m in CORE_MARKERS if m in missing}
        if not core_missing:
            return scheme, resolved
        attempts.append((len(core_missing), scheme, core_missing))
    attempts.sort(key=lambda a: a[0])
    _, best, core_missing = attempts[0]
    known = {_canonical(n) for table in SCHEMES.values() for v in table.values() for n in _as_mix(v)}
    unknown = [n for n in point_names if _canonical(n) not in known]
    raise ValueError(
        f"cannot map the source skeleton to SMPL automatically: no known naming scheme "
        f"({', '.join(SCHEMES)}) fits. Closest is {best!r}, which lacks source points for "
        f"{core_missing}. Source point names not recognised by any scheme: {unknown}. Pass "
        f"`correspondence={{marker: source_name or {{source_name: weight}}}}` with markers from "
        f"{MARKER_NAMES}.")


# ----------------------------------------------------------------------------------------------
# Objective.

def _markers(params, data):
    """Posed joints (T, 24, 3), global rotations (T, 24, 3, 3) and markers (T, M, 3)."""
    rest = rest_joints(data["model"], params["betas"])
    rots = axis_angle_to_matrix(params["pose"])
    grot, gpos = global_transforms(rots, rest)
    gpos = gpos + params["transl"][:, None, :]
    offset = data["offset0"] + params["delta"]
    frames = grot[:, data["marker_frame"]]
    markers = gpos[:, data["marker_joint"]] + jnp.einsum("tmab,mb->tma", frames, offset)
    return gpos, grot, markers


def _frozen(x, free):
    """x where `free` is 1, a constant (zero gradient) where it is 0: fixes parameters in place."""
    return free * x + (1.0 - free) * jax.lax.stop_gradient(x)


def _objective(params, data):
    """Scalar retargeting objective; see the module docstring. `data` holds arrays only."""
    w = data["weights"]
    free = data["free_frame"]
    params = dict(pose=_frozen(params["pose"], free[:, None, None]),
                  transl=_frozen(params["transl"], free[:, None]),
                  betas=_frozen(params["betas"], data["free_shape"]),
                  delta=_frozen(params["delta"], data["free_shape"]))
    gpos, grot, markers = _markers(params, data)
    mask = data["mask"]  # (T,) 1 for real frames
    num = jnp.maximum(jnp.sum(mask), 1.0)
    inv_s2 = 1.0 / jnp.square(w["sigma"])
    sq = jnp.sum(jnp.square(markers - data["targets"]), axis=-1)  # (T, M)
    e_data = jnp.sum(mask[:, None] * data["marker_weight"] * sq) * inv_s2 / num
    pair = mask[1:] * mask[:-1]
    e_rot = jnp.sum(pair[:, None, None, None] * jnp.square(grot[1:] - grot[:-1])) / num
    triple = mask[2:] * mask[1:-1] * mask[:-2]
    acc = gpos[2:] - 2.0 * gpos[1:-1] + gpos[:-2]
    e_acc = jnp.sum(triple[:, None, None] * jnp.square(acc)) * inv_s2 / num
    e_pose = jnp.sum(mask[:, None] * data["pose_prior"] * jnp.sum(jnp.square(params["pose"]), -1)) / num
    e_shape = jnp.sum(jnp.square(params["betas"]))
    e_off = jnp.sum(jnp.square(params["delta"] / data["offset_sigma"][:, None]))
    # The data term is a per-frame average, so clip-wide parameters (shape, offsets) are priced
    # against the average frame: a 1-sigma offset costs as much as a 1 cm error on one marker.
    return (e_data + w["rot_smooth"] * e_rot + w["accel_smooth"] * e_acc + e_pose
            + w["shape_prior"] * e_shape + e_off)


# ----------------------------------------------------------------------------------------------
# Initialisation.

def _unit(v, eps=1e-9):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def _root_orientation(targets: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Per-frame root rotation (T, 3, 3) from the hips (left-right axis) and the spine (up axis).

    At zero pose SMPL's left hip lies along +X and the spine along +Y, so the rotation's columns are
    the source's left, up and forward directions.
    """
    idx = {n: i for i, n in enumerate(names)}
    left = targets[:, idx["left_hip"]] - targets[:, idx["right_hip"]]
    up = targets[:, idx["neck"]] - targets[:, idx["pelvis"]]
    x = _unit(left)
    y = _unit(up - np.sum(up * x, -1, keepdims=True) * x)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def _unwrap_axis_angle(aa: np.ndarray) -> np.ndarray:
    """Makes a (T, 3) axis-angle sequence continuous: near angle pi, (a, pi) and (-a, pi) are the
    same rotation, so each frame takes the equivalent vector closest to the previous frame's."""
    out = aa.copy()
    for t in range(1, len(out)):
        angle = np.linalg.norm(out[t])
        if angle < 1e-6:
            continue
        alt = out[t] * (1.0 - 2.0 * math.pi / angle)
        if np.sum((alt - out[t - 1]) ** 2) < np.sum((out[t] - out[t - 1]) ** 2):
            out[t] = alt
    return out


# ----------------------------------------------------------------------------------------------
# Driver.
#
# Every solve has the same shapes -- a window of `config.window` frames and all len(MARKER_NAMES)
# markers (unused ones weigh 0) -- so the solver compiles once per process, whatever the clip
# length or skeleton. Stage 1 fits `window` key frames spread over the clip (shape and offsets
# free, no temporal terms); stage 2 walks over the clip in windows with shape and offsets fixed.
# Consecutive windows overlap by `config.overlap` frames that are held at the previous window's
# solution (zero gradient), so the temporal terms join the windows without a seam.


def _pad(x: np.ndarray, length: int) -> np.ndarray:
    """Pads the leading axis to `length` by repeating the last entry."""
    if len(x) >= length:
        return x[:length]
    return np.concatenate([x, np.repeat(x[-1:], length - len(x), axis=0)], axis=0)


def _weights(config: RetargetConfig, temporal: bool) -> dict:
    return {k: np.float32(v) for k, v in dict(
        sigma=config.sigma, rot_smooth=config.rot_smooth if temporal else 0.0,
        accel_smooth=config.accel_smooth if temporal else 0.0, shape_prior=config.shape_prior).items()}


def _check_source(source, fps):
    for attr in ("point_names", "positions", "fps"):
        if not hasattr(source, attr):
            raise ValueError(f"`source` must be a SkeletonMotion (point_names, positions, fps), got "
                             f"{type(source).__name__} without `{attr}`")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"`fps` must be a positive number, got {fps!r}")
    name = getattr(source, "name", "source")
    positions = np.asarray(source.positions, np.float32)
    if positions.ndim != 3 or positions.shape[1:] != (len(source.point_names), 3):
        raise ValueError(f"`source.positions` of {name!r} must have shape (T, {len(source.point_names)}"
                         f", 3), got {positions.shape}")
    if not np.all(np.isfinite(positions)):
        raise ValueError(f"`source.positions` of {name!r} contains NaN or inf")
    return name


def retarget(source, body_model: Union[str, BodyModel] = "open",
             correspondence: Optional[Correspondence] = None, fps: float = 30.0,
             config: RetargetConfig = RetargetConfig()) -> tuple[MotionClip, RetargetReport]:
    """Fits SMPL parameters (per-frame pose and translation, one shape) to a source skeleton motion.

    Args:
      source: a `posejax.io.skeleton_motion.SkeletonMotion` (named points (T, P, 3), metres, Y up).
      body_model: "open" (or another `load_body_model` source) or a BodyModel.
      correspondence: None to detect the naming scheme (CMU ASF, CMU BVH 3ds Max / MotionBuilder,
        Mixamo, SMPL joint names), or {marker: source point name or {name: weight}} (markers:
        `MARKER_NAMES`).
      fps: frame rate of the result; the source is resampled (linearly) to it first.
      config: weights and solver settings (`RetargetConfig`).

    Returns:
      (MotionClip with pose (T', 24, 3), transl (T', 3), betas (10,), grounded unless
      config.ground is False; RetargetReport).
    """
    start = time.perf_counter()
    model = as_body_model(body_model)
    if not isinstance(model, BodyModel):
        raise ValueError(f"`body_model` must be a model name or a BodyModel, got {type(body_model).__name__}")
    name = _check_source(source, fps)
    if abs(float(source.fps) - float(fps)) > 1e-6:
        source = source.resample(float(fps))
    positions = np.asarray(source.positions, np.float32)
    num_frames = positions.shape[0]
    if num_frames < 2:
        raise ValueError(f"source {name!r} has {num_frames} frame(s) at {fps} fps; need at least 2")
    if not (config.window > 2 * config.overlap and config.overlap >= 2):
        raise ValueError(f"config needs window > 2 * overlap and overlap >= 2, got window="
                         f"{config.window}, overlap={config.overlap}")
    scheme, resolved = resolve_correspondence(source.point_names, correspondence)
    used = [m for m in MARKER_NAMES if m in resolved]
    mix = np.zeros((len(MARKER_NAMES), positions.shape[1]), np.float32)
    for i, m in enumerate(MARKER_NAMES):
        for p, wgt in resolved.get(m, {}).items():
            mix[i, p] = wgt
    targets = np.einsum("mp,tpc->tmc", mix, positions)  # (T, M, 3); unused markers are 0
    log = print if config.verbose else (lambda *a, **k: None)
    log(f"retarget {name}: {num_frames} frames at {fps:g} fps, scheme {scheme} ({len(used)} markers)",
        flush=True)

    # Per-marker constants; unused markers get weight 0.
    in_use = np.array([m in resolved for m in MARKER_NAMES])
    mweight = in_use * np.array([config.marker_weights.get(m, 1.0) for m in MARKER_NAMES], np.float32)
    osigma = np.array([config.torso_offset_sigma if m in _TORSO else config.limb_offset_sigma
                       for m in MARKER_NAMES], np.float32)
    # A joint's rotation is observed when it moves some marker: the marker's frame joint and its
    # ancestors. The others (e.g. hands, toes without tip markers) are held near zero.
    observed = np.zeros(24, bool)
    for m in used:
        j = MARKERS[m][1]
        while j >= 0:
            observed[j] = True
            j = SMPL_PARENTS[j]
    pose_prior = np.where(observed, config.pose_prior, config.unobserved_prior).astype(np.float32)
    pose_prior[0] = 0.0  # global orientation is free
    base = dict(model=model, marker_joint=_MARKER_JOINT, marker_frame=_MARKER_FRAME,
                offset0=_MARKER_OFFSET0, marker_weight=mweight.astype(np.float32),
                offset_sigma=osigma, pose_prior=pose_prior)

    # Initialisation from the source: root orientation from hips and spine, zero body pose.
    rest0 = np.asarray(rest_joints(model, jnp.zeros(model.num_betas)))
    root_rot = _root_orientation(targets, MARKER_NAMES)
    root_aa = _unwrap_axis_angle(np.asarray(matrix_to_axis_angle(root_rot), np.float32))
    transl0 = targets[:, MARKER_NAMES.index("pelvis")] - rest0[0]
    win = config.window

    def solve(params, data):
        params = jax.tree_util.tree_map(jnp.asarray, params)
        return minimize(_objective, params, data, method=config.method, maxiter=config.maxiter,
                        tol=config.tol)

    # Stage 1: key frames -> shape and offsets.
    key = np.unique(np.linspace(0, num_frames - 1, min(win, num_frames)).round().astype(int))
    pose = np.zeros((win, 24, 3), np.float32)
    pose[:, 0] = _pad(root_aa[key], win)
    params = dict(pose=pose, transl=_pad(transl0[key], win),
                  betas=np.zeros(model.num_betas, np.float32),
                  delta=np.zeros((len(MARKER_NAMES), 3), np.float32))
    ones = np.ones(win, np.float32)
    data = dict(base, targets=_pad(targets[key], win), weights=_weights(config, temporal=False),
                mask=(np.arange(win) < len(key)).astype(np.float32), free_frame=ones,
                free_shape=np.float32(1.0))
    t0 = time.perf_counter()
    kparams, kinfo = solve(params, data)
    iterations = [kinfo.iterations]
    log(f"  stage 1: {len(key)} key frames (shape + offsets): {kinfo.iterations} iterations, "
        f"{time.perf_counter() - t0:.1f} s", flush=True)
    betas, delta = np.asarray(kparams["betas"]), np.asarray(kparams["delta"])

    # Stage 2: windows over all frames; body pose starts from the nearest key frame's solution.
    nearest = np.abs(np.arange(num_frames)[:, None] - key[None, :]).argmin(axis=1)
    pose_all = np.asarray(kparams["pose"])[nearest]
    pose_all[:, 0] = root_aa
    transl_all = transl0.copy()
    markers_all = np.zeros_like(targets)
    t0 = time.perf_counter()
    first, fixed = 0, 0  # window start; number of leading frames held from the previous window
    while True:
        idx = np.minimum(np.arange(first, first + win), num_frames - 1)
        real = (np.arange(first, first + win) < num_frames).astype(np.float32)
        params = dict(pose=pose_all[idx], transl=transl_all[idx], betas=betas, delta=delta)
        data = dict(base, targets=targets[idx], weights=_weights(config, temporal=True), mask=real,
                    free_frame=(np.arange(win) >= fixed).astype(np.float32),
                    free_shape=np.float32(0.0))
        sol, info = solve(params, data)
        iterations.append(info.iterations)
        n = int(real.sum())
        pose_all[first:first + n] = np.asarray(sol["pose"])[:n]
        transl_all[first:first + n] = np.asarray(sol["transl"])[:n]
        markers_all[first:first + n] = np.asarray(_markers_jit(sol, data)[2])[:n]
        if first + win >= num_frames:
            break
        first, fixed = first + win - config.overlap, config.overlap
    log(f"  stage 2: {len(iterations) - 1} window(s) of {win} frames: "
        f"{'+'.join(map(str, iterations[1:]))} iterations, {time.perf_counter() - t0:.1f} s", flush=True)

    # Report and result.
    err = np.linalg.norm(markers_all - targets, axis=-1)[:, in_use] * 1000.0  # (T, M used) mm
    clip = MotionClip(name=name, source="cmu" if scheme == "cmu_asf" else "bvh" if scheme.startswith(
        ("cmu_bvh", "mixamo")) else "custom", fps=float(fps), pose=pose_all, transl=transl_all,
        betas=betas)
    if config.ground:
        clip = grounded(clip, model)
    report = RetargetReport(
        name=name, scheme=scheme, num_frames=num_frames, mean_error_mm=float(err.mean()),
        max_error_mm=float(err.max()),
        per_marker_mean_mm={m: float(e) for m, e in zip(used, err.mean(axis=0))},
        offsets_mm={m: float(np.linalg.norm(d) * 1000.0)
                    for m, d in zip(MARKER_NAMES, delta) if m in resolved},
        iterations=tuple(iterations), time_s=time.perf_counter() - start)
    log("  " + report.summary(), flush=True)
    return clip, report


_markers_jit = jax.jit(_markers)
_MARKER_JOINT = np.array([MARKERS[m][0] for m in MARKER_NAMES], np.int32)
_MARKER_FRAME = np.array([MARKERS[m][1] for m in MARKER_NAMES], np.int32)
_MARKER_OFFSET0 = np.array([MARKERS[m][2] for m in MARKER_NAMES], np.float32)


# ----------------------------------------------------------------------------------------------
# Command line: report and figure.

def plot_retarget(source, clip: MotionClip, model: BodyModel, num_frames: int = 6,
                  views: Sequence[str] = ("front", "side"), max_faces: int = 0):
    """Figure: fitted mesh and SMPL joints (coloured by side) with the source skeleton (black) at
    `num_frames` frames spread over the clip. `source` must already be at the clip's fps and in
    the clip's frame (apply the same grounding shift).
    """
    from posejax.body import joints as body_joints, vertices as body_vertices
    from posejax.viz import plot_bodies_grid

    frames = np.linspace(0, clip.num_frames - 1, num_frames).round().astype(int)
    pos = np.asarray(source.positions)[: clip.num_frames]
    verts = np.asarray(body_vertices(model, clip.pose[frames], clip.betas, clip.transl[frames]))
    jts = np.asarray(body_joints(model, clip.pose[frames], clip.betas, clip.transl[frames]))
    bodies = [dict(vertices=verts[k], joints=jts[k]) for k in range(len(frames))]
    fig = plot_bodies_grid(bodies, faces=np.asarray(model.faces), edges="smpl24", views=views,
                           titles=[f"frame {f}" for f in frames], max_faces=max_faces,
                           title=f"{clip.name}: source skeleton (black) vs fitted {model.name} model",
                           mesh_color=(0.80, 0.82, 0.88))
    axes = fig.axes
    for r in range(len(views)):
        for c, f in enumerate(frames):
            ax = axes[r * len(frames) + c]
            p = pos[f]
            for i, par in enumerate(source.parents):
                if par >= 0:
                    seg = p[[par, i]]
                    ax.plot(seg[:, 0], -seg[:, 2], seg[:, 1], color="k", lw=1.2, zorder=10)
            ax.scatter(p[:, 0], -p[:, 2], p[:, 1], color="k", s=3, zorder=10)
    return fig


def _main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m posejax.fitting.retarget",
                                     description="Retarget a mocap clip to the open body model.")
    parser.add_argument("--asf", help="ASF skeleton (with --amc)")
    parser.add_argument("--amc", help="AMC motion (with --asf)")
    parser.add_argument("--bvh", help="BVH file (instead of --asf/--amc)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--model", default="open", help="body model (load_body_model source)")
    parser.add_argument("--method", default="jaxopt-lbfgs", choices=("jaxopt-lbfgs", "optax-lbfgs"))
    parser.add_argument("--figure", help="write a figure (PNG) of source vs fit here")
    parser.add_argument("--frames", type=int, default=6, help="frames shown in the figure")
    args = parser.parse_args(argv)
    from posejax.compilation_cache import enable_compilation_cache
    enable_compilation_cache()  # the solver's compile (tens of seconds) is paid once per machine
    if args.bvh:
        from posejax.io.bvh import read_bvh
        source = read_bvh(args.bvh)
    elif args.asf and args.amc:
        from posejax.io.asf_amc import read_asf_amc
        source = read_asf_amc(args.asf, args.amc)
    else:
        parser.error("give --bvh, or --asf and --amc")
    model = load_body_model(args.model)
    config = RetargetConfig(method=args.method, ground=False)
    clip, report = retarget(source, model, fps=args.fps, config=config)
    print("per-marker mean error (mm): "
          + ", ".join(f"{m} {e:.1f}" for m, e in report.per_marker_mean_mm.items()))
    print("fitted offsets (mm): " + ", ".join(f"{m} {e:.0f}" for m, e in report.offsets_mm.items()))
    print(f"betas: {np.round(clip.betas, 2).tolist()}")
    if args.figure:
        from posejax.viz import save_figure
        resampled = source.resample(args.fps) if abs(source.fps - args.fps) > 1e-6 else source
        # Ground source and fit by the same shift so they overlay exactly.
        low = grounded(clip, model)
        shift = low.transl[0] - clip.transl[0]
        resampled = dataclasses.replace(resampled, positions=resampled.positions + shift)
        fig = plot_retarget(resampled, low, model, num_frames=args.frames)
        print("wrote", save_figure(fig, args.figure, dpi=80))


if __name__ == "__main__":
    _main()
