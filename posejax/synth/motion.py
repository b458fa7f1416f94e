"""Motion clips in SMPL parameters: the unit every synthetic-data generator consumes."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
from typing import Optional

import numpy as np

from posejax import fast_compile
from posejax.body import BodyModel, as_body_model, kinematics
from posejax.body.poses import mirror_pose
from posejax.geometry.rotations import axis_angle_to_quaternion, quaternion_to_axis_angle

# Ankles and feet (balls of the feet) of the SMPL tree: what touches the ground when standing.
_FOOT_JOINTS = (7, 8, 10, 11)


@dataclasses.dataclass(frozen=True)
class MotionClip:
    """One motion in SMPL parameters.

    Attributes:
      name: identifier, e.g. "cmu_02_01" or "procedural_walk_003".
      source: where it came from: "cmu", "bvh", "amass" or "procedural".
      fps: frames per second.
      pose: (T, 24, 3) float32 SMPL axis-angle in radians (joint 0 = global orientation).
      transl: (T, 3) float32 root translation in metres, world frame (Y up); the lowest foot point
        over the clip touches the ground y = 0 for `betas`.
      betas: (10,) float32 body shape the motion was fitted or made with.
    """

    name: str
    source: str
    fps: float
    pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray

    def __post_init__(self):
        pose = np.asarray(self.pose, np.float32)
        transl = np.asarray(self.transl, np.float32)
        if pose.ndim != 3 or pose.shape[1:] != (24, 3):
            raise ValueError(f"MotionClip {self.name!r}: `pose` must have shape (T, 24, 3), got {pose.shape}")
        if transl.shape != (pose.shape[0], 3):
            raise ValueError(f"MotionClip {self.name!r}: `transl` must have shape ({pose.shape[0]}, 3), "
                             f"got {transl.shape}")
        if not self.fps > 0:
            raise ValueError(f"MotionClip {self.name!r}: `fps` must be positive, got {self.fps}")
        object.__setattr__(self, "pose", pose)
        object.__setattr__(self, "transl", transl)
        object.__setattr__(self, "betas", np.asarray(self.betas, np.float32))

    @property
    def num_frames(self) -> int:
        return self.pose.shape[0]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps

    def resample(self, fps: float) -> "MotionClip":
        """Resamples the clip in time: slerp on every joint rotation, linear on translation.

        The new frames sit at times k / fps for k = 0 .. floor(duration_covered * fps), where
        duration_covered = (T - 1) / self.fps is the time between the first and last frame, so
        resampling to a multiple of the rate and back reproduces the original frames.

        Args:
          fps: target frames per second (> 0).

        Returns:
          A new MotionClip with the same name, source and betas.
        """
        if not (isinstance(fps, (int, float, np.floating, np.integer)) and np.isfinite(fps) and fps > 0):
            raise ValueError(f"`fps` must be a positive number, got {fps!r}")
        fps = float(fps)
        t_old = np.arange(self.num_frames) / self.fps
        # A tiny slack so that e.g. 343 frames at 120 fps -> 30 fps keeps the frame at exactly t_end.
        num_new = int(np.floor(t_old[-1] * fps + 1e-6)) + 1
        t_new = np.minimum(np.arange(num_new) / fps, t_old[-1])
        pos = t_new * self.fps
        lo = np.clip(np.floor(pos).astype(np.int64), 0, max(self.num_frames - 2, 0))
        hi = np.minimum(lo + 1, self.num_frames - 1)
        w = (pos - lo).astype(np.float32)
        transl = (1.0 - w)[:, None] * self.transl[lo] + w[:, None] * self.transl[hi]
        quats = np.asarray(axis_angle_to_quaternion(self.pose), np.float64)  # (T, 24, 4)
        q = slerp(quats[lo], quats[hi], w[:, None].astype(np.float64))
        pose = np.asarray(quaternion_to_axis_angle(q.astype(np.float32)), np.float32)
        return dataclasses.replace(self, fps=fps, pose=pose, transl=transl)


def slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions along the shorter arc.

    Args:
      q0, q1: (..., 4) unit quaternions (scalar first).
      w: (...) interpolation weights in [0, 1] (0 gives q0), broadcast against q0[..., 0].

    Returns:
      (..., 4) unit quaternions.
    """
    q0, q1, w = np.asarray(q0), np.asarray(q1), np.asarray(w)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)  # q and -q are the same rotation: take the short way
    dot = np.abs(dot)
    angle = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(angle)
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    # Nearly identical rotations: plain lerp (then normalise) avoids 0/0.
    a = np.where(small, 1.0 - w, np.sin((1.0 - w) * angle) / safe)
    b = np.where(small, w, np.sin(w * angle) / safe)
    q = a * q0 + b * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def in_chunks(fn, *arrays, chunk: int = 64) -> np.ndarray:
    """Applies `fn` to fixed-size chunks of the leading axis (the last chunk padded) and
    concatenates the results: eager JAX code then compiles once, not once per clip length."""
    n = len(arrays[0])
    out = []
    for s in range(0, n, chunk):
        part = [a[s:s + chunk] for a in arrays]
        k = len(part[0])
        part = [np.concatenate([a, np.repeat(a[-1:], chunk - k, 0)]) if k < chunk else a for a in part]
        out.append(np.asarray(fn(*part))[:k])
    return np.concatenate(out)


def foot_vertex_ids(model: BodyModel) -> np.ndarray:
    """Ids of the vertices mostly skinned to the ankles or feet (SMPL joints 7, 8, 10, 11)."""
    dominant = np.argmax(np.asarray(model.lbs_weights), axis=1)
    return np.flatnonzero(np.isin(dominant, _FOOT_JOINTS))


def foot_model(model: BodyModel) -> BodyModel:
    """The model restricted to its foot vertices (`foot_vertex_ids`), for cheap skinning of the
    feet only. Joints are unchanged (they come from the joint regressor's affine form); faces are
    meaningless in the result."""
    ids = foot_vertex_ids(model)
    return dataclasses.replace(
        model, v_template=model.v_template[ids], shapedirs=model.shapedirs[ids],
        posedirs=None if model.posedirs is None else model.posedirs[ids],
        lbs_weights=model.lbs_weights[ids])


def foot_heights(model: BodyModel, pose, betas, transl) -> np.ndarray:
    """Per-frame height (m) of the lowest foot-mesh vertex, (T,).

    Args:
      model: body model.
      pose: (T, 24, 3) axis-angle; betas: (S,); transl: (T, 3) metres.
    """
    feet = foot_model(model)
    betas = np.asarray(betas, np.float32)
    return in_chunks(lambda p, t: _lowest_vertex_height(feet, p, betas, t),
                     np.asarray(pose, np.float32), np.asarray(transl, np.float32))


@fast_compile.jit
def _lowest_vertex_height(model, pose, betas, transl):
    # One compiled program: run op by op, skinning compiled ~120 small programs on first use (5 s).
    return kinematics.vertices(model, pose, betas, transl)[..., 1].min(axis=-1)


def lowest_foot_height(model: BodyModel, pose, betas, transl) -> float:
    """Height (m) of the lowest foot-mesh point over a motion (the ground for `grounded`)."""
    return float(foot_heights(model, pose, betas, transl).min())


def mirror_clip(clip: MotionClip, model: BodyModel) -> MotionClip:
    """The clip's left-right mirror image (reflection x -> -x of the world): left and right joints
    swap (`posejax.body.poses.mirror_pose`) and the pelvis follows the reflected pelvis path. The
    body shape is kept (the shape space is close to symmetric: the mirrored joints of the CMU
    clips' shapes are within 0.2 mm of the reflected ones). Doubles the motion a few clips
    provide; named `<name>_mirrored`."""
    # The translation moves the body model's origin, which sits off the pelvis by the rest
    # pelvis position; reflect the pelvis, not the origin.
    pelvis = np.asarray(kinematics.rest_joints(model, clip.betas))[0]
    flip = np.array([-1.0, 1.0, 1.0], np.float32)
    transl = (clip.transl + pelvis) * flip - pelvis
    return dataclasses.replace(clip, name=f"{clip.name}_mirrored", pose=mirror_pose(clip.pose),
                               transl=transl.astype(np.float32))


def grounded(clip: MotionClip, model: BodyModel) -> MotionClip:
    """Shifts the clip's translation vertically so that its lowest foot point is at y = 0."""
    low = lowest_foot_height(model, clip.pose, clip.betas, clip.transl)
    return dataclasses.replace(clip, transl=clip.transl - np.array([0.0, low, 0.0], np.float32))


# ----------------------------------------------------------------------------------------------
# Motion library.

# Bump when retargeting changes so that stale cached clips are not reused.
_CACHE_VERSION = "retarget-v2"


def default_cmu_dir() -> str:
    """The shared CMU mocap folder beside the repository (../shared/data/cmu_mocap)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.normpath(os.path.join(repo, "..", "shared", "data", "cmu_mocap"))


def default_cache_dir() -> str:
    """`$POSEJAX_CACHE_DIR` if set, else ~/.cache/posejax/motion."""
    return os.environ.get("POSEJAX_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "posejax", "motion")


def find_mocap_files(folder: str) -> list[tuple[str, ...]]:
    """Mocap takes in `folder` (not recursive): ("asf", asf, amc) for every AMC whose subject ASF
    (`SS.asf` for `SS_TT.amc`, else the only ASF) is present, and ("bvh", path) per BVH file;
    sorted by file name."""
    if not os.path.isdir(folder):
        return []
    names = sorted(os.listdir(folder))
    asfs = [n for n in names if n.lower().endswith(".asf")]
    takes = []
    for n in names:
        path = os.path.join(folder, n)
        if n.lower().endswith(".amc"):
            subject = n.split("_")[0] + ".asf"
            asf = subject if subject in asfs else (asfs[0] if len(asfs) == 1 else None)
            if asf is not None:
                takes.append(("asf", os.path.join(folder, asf), path))
        elif n.lower().endswith(".bvh"):
            takes.append(("bvh", path))
    return takes


def _file_hash(paths) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:24]


def _model_key(model: BodyModel) -> str:
    h = hashlib.sha256(np.asarray(model.joint_template, np.float32).tobytes())
    h.update(np.asarray(model.joint_shapedirs, np.float32).tobytes())
    return f"{model.name}-{h.hexdigest()[:12]}"


def _retarget_cached(take, fps, model, cache_dir, verbose):
    """Retargets one take, reusing the cached result keyed by file contents and settings."""
    from posejax.fitting import retarget as rt  # lazy: fitting depends on this module
    from posejax.io.asf_amc import read_asf_amc
    from posejax.io.bvh import read_bvh

    config = rt.RetargetConfig(verbose=verbose)
    settings = f"{_CACHE_VERSION}|{fps:g}|{_model_key(model)}|{config!r}"
    key = hashlib.sha256((_file_hash(take[1:]) + settings).encode()).hexdigest()[:32]
    stem = os.path.splitext(os.path.basename(take[-1]))[0]
    path = os.path.join(cache_dir, f"{stem}-{key}.npz")
    if os.path.isfile(path):
        with np.load(path) as z:
            return MotionClip(name=str(z["name"]), source=str(z["source"]), fps=float(z["fps"]),
                              pose=z["pose"], transl=z["transl"], betas=z["betas"]), True
    motion = read_asf_amc(take[1], take[2]) if take[0] == "asf" else read_bvh(take[1])
    motion = dataclasses.replace(motion, name=f"cmu_{stem}")
    clip, report = rt.retarget(motion, model, fps=fps, config=config)
    os.makedirs(cache_dir, exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, name=clip.name, source=clip.source, fps=clip.fps, pose=clip.pose,
             transl=clip.transl, betas=clip.betas, mean_error_mm=report.mean_error_mm,
             max_error_mm=report.max_error_mm)
    os.replace(tmp, path)  # atomic: a concurrent reader never sees a half-written file
    return clip, False


def _amass_clips(folder: str, fps: float, model: BodyModel) -> list[MotionClip]:
    from posejax.io.amass import amass_to_y_up, read_amass

    files = sorted(glob.glob(os.path.join(folder, "**", "*.npz"), recursive=True))
    clips = []
    for f in files:
        d = read_amass(f, num_betas=model.num_betas)
        pose, transl = amass_to_y_up(d["pose"], d["transl"])
        # SMPL betas do not transfer to another model's shape space: keep the motion, mean shape.
        clip = MotionClip(name=f"amass_{os.path.splitext(os.path.basename(f))[0]}", source="amass",
                          fps=float(d["fps"]), pose=pose, transl=transl,
                          betas=np.zeros(model.num_betas, np.float32))
        clips.append(grounded(clip.resample(fps) if abs(clip.fps - fps) > 1e-6 else clip, model))
    return clips


def load_motion_library(source: str = "auto", fps: float = 30.0, body_model="open",
                        data_dir: Optional[str] = None, cache_dir: Optional[str] = None,
                        verbose: bool = True) -> list[MotionClip]:
    """The motion clips the synthetic-data generators draw from.

    Args:
      source: "auto" (CMU mocap when found, else procedural), "cmu" (required), "amass:<folder>"
        (AMASS .npz files, found recursively), or "procedural" (embedded, needs no data).
      fps: frame rate of the returned clips.
      body_model: "open" or a BodyModel; retargeting and grounding use it.
      data_dir: folder with CMU .asf/.amc and .bvh files (or a folder holding `cmu_mocap/`);
        default: `default_cmu_dir()`, the shared data beside the repository.
      cache_dir: where retargeted clips are cached (default `default_cache_dir()`); keyed by file
        contents, fps, body model and retargeting settings.
      verbose: print retargeting progress (the one summary line is always printed).

    Returns:
      List of MotionClip at `fps`.

    Raises:
      FileNotFoundError: source "cmu" or "amass:..." and no motion files in the folder.
      ValueError: unknown source.
    """
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise ValueError(f"`fps` must be a positive number, got {fps!r}")
    fps = float(fps)
    model = as_body_model(body_model)
    if source.startswith("amass:"):
        folder = source[len("amass:"):]
        clips = _amass_clips(folder, fps, model)
        if not clips:
            raise FileNotFoundError(f"source {source!r}: no AMASS .npz files under {folder!r}")
        _summary(f"AMASS from {folder}", clips, fps)
        return clips
    if source not in ("auto", "cmu", "procedural"):
        raise ValueError(f"`source` must be 'auto', 'cmu', 'amass:<folder>' or 'procedural', got {source!r}")
    folder = default_cmu_dir() if data_dir is None else os.path.abspath(data_dir)
    if os.path.isdir(os.path.join(folder, "cmu_mocap")):
        folder = os.path.join(folder, "cmu_mocap")
    takes = find_mocap_files(folder) if source != "procedural" else []
    if source == "cmu" and not takes:
        raise FileNotFoundError(f"source 'cmu': no .asf/.amc pairs or .bvh files in {folder!r}")
    if takes:
        cache = cache_dir or default_cache_dir()
        clips, hits = [], 0
        for take in takes:
            clip, hit = _retarget_cached(take, fps, model, cache, verbose)
            clips.append(clip)
            hits += hit
        _summary(f"CMU mocap from {folder} retargeted to {model.name!r} "
                 f"({hits}/{len(takes)} from cache {cache})", clips, fps)
        return clips
    from posejax.synth.procedural import procedural_clips

    clips = procedural_clips(fps=fps, body_model=model)
    why = "" if source == "procedural" else f" (no CMU mocap found in {folder})"
    _summary(f"embedded procedural motion{why}", clips, fps)
    return clips


def _summary(what: str, clips, fps: float) -> None:
    frames = sum(c.num_frames for c in clips)
    print(f"motion library: {what}: {len(clips)} clips, {frames} frames at {fps:g} fps "
          f"({frames / fps / 60.0:.1f} min)", flush=True)
