"""Whole-video SMPL bundle adjustment (Arnab, Doersch and Zisserman, CVPR 2019).

`bundle_adjust(video_keypoints, layout=..., image_size=...)` fits one body shape and a per-frame
pose and camera to a whole video's 2D keypoints:

  1. read the input (`ba_inputs`); multi-person detections are tracked (`tracking.track_person`,
     the paper's shortest path over detections) to pick the main person for the initialisation,
     while the energy keeps every detection (inner min per frame);
  2. initialise every frame from its keypoints alone (`initialization.initialize_from_keypoints`)
     unless an initialisation is given;
  3. minimise E = E_R + E_T + E_P (`energy`) over all frames jointly with L-BFGS (posejax's own,
     jaxopt's or optax's: `solvers`), in stages: cameras, global orientation and shape first, then
     everything. On a first call the solver compiles in the background while step 2 runs.

The solver works on a better-conditioned copy of the unknowns: per-frame log-scale and translation
in metres relative to the initial camera (perspective mode: log-depth and image-plane offsets), and
the per-frame energy E / (number of frames), so one tolerance fits clips of any length and size.
Everything runs in one jitted function per (T, K, layout, camera mode, weight kinds); frames are
padded to a multiple of `PAD_MULTIPLE` so nearby clip lengths share the compiled solver (the
padding masks are exact: `energy` module docstring). `bundle_adjust_batch` solves clips padded to
one length with one vmapped solver, data-parallel over devices.

The result (`BAResult`) holds the fitted parameters, 3D joints and keypoints, per-frame inlier
flags, the energy per term, the trajectory-normalised energy E_norm used to select videos, and
solver diagnostics.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from posejax import fast_compile
from posejax.body import kinematics
from posejax.body.layouts import convert_keypoints
from posejax.body.loading import as_body_model
from posejax.body.model import BodyModel
from posejax.fitting import ba_config, energy, solvers
from posejax.fitting.ba_inputs import VideoKeypoints, check_layout, read_video_keypoints
from posejax.fitting.initialization import Init, initialize_from_keypoints
from posejax.fitting.pose_prior import GaussianMixture, load_pose_prior, negative_log_likelihood
from posejax.fitting.tracking import Track, select_track, track_person
from posejax.geometry.cameras import WeakPerspectiveCamera

__all__ = ["bundle_adjust", "bundle_adjust_batch", "BAResult", "PAD_MULTIPLE", "trajectory_length"]

PAD_MULTIPLE = 50
"""Clips are padded to a multiple of this many frames (compiled solvers are shared)."""


# ----------------------------------------------------------------------------------------------
# Result
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BAResult:
    """Outcome of `bundle_adjust` for one clip of T frames.

    Attributes:
      betas: (10,) the clip's body shape.
      theta: (T, 72) per-frame axis-angle pose, radians (joint 0: orientation relative to the
        camera, see `posejax.fitting.initialization`).
      cameras: weak mode: WeakPerspectiveCamera (scale (T,) px/m, translation (T, 2) px);
        perspective mode: dict with `focal` () px, `root_translation` (T, 3) metres (camera
        frame, OpenCV axes) and `principal_point` (2,) px.
      joints: (T, 24, 3) SMPL joints, metres, body frame at zero translation (Y up).
      keypoints3d: (T, K, 3) the layout's 3D keypoints, same frame.
      keypoints2d: (T, K, 2) their projections, pixels.
      inlier: (T,) bool per-frame inlier flags (a detection explains the frame within the
        thresholds; False for frames without detections).
      detection: (T,) int, the detection each frame was matched to, as an index into the
        frame's detections in the input order (-1: none; always 0 or -1 for one person's input).
      energies: the energy terms at the solution (`energy.TERM_KEYS`) and "total".
      E_norm: total energy / `trajectory_length` (lower is better; the paper's selection score);
        the length is floored at 1e-6 m, so a static or single-frame clip gets a very large (finite)
        E_norm.
      trajectory_length: metres, see `trajectory_length`.
      solver: diagnostics: method, iterations per stage, final gradient norm, converged, seconds
        (initialisation, solve, total).
      init: the per-frame initialisation that was used.
      track: the person track through multi-person detections (None for single-person input).
      layout: keypoint layout name.
      image_size: (W, H) pixels.
      camera_mode: "weak" or "perspective".
      vertices: (T, V, 3) metres when requested, else None.
    """

    betas: np.ndarray
    theta: np.ndarray
    cameras: Any
    joints: np.ndarray
    keypoints3d: np.ndarray
    keypoints2d: np.ndarray
    inlier: np.ndarray
    detection: np.ndarray
    energies: Dict[str, float]
    E_norm: float
    trajectory_length: float
    solver: Dict[str, Any]
    init: Optional[Init]
    track: Optional[Track]
    layout: str
    image_size: Tuple[int, int]
    camera_mode: str = "weak"
    vertices: Optional[np.ndarray] = None

    @property
    def pose(self) -> np.ndarray:
        """(T, 24, 3) axis-angle pose."""
        return self.theta.reshape(-1, 24, 3)

    @property
    def num_frames(self) -> int:
        return int(self.theta.shape[0])

    @property
    def inlier_fraction(self) -> float:
        return float(np.mean(self.inlier))

    def selected(self, max_E_norm: float = float("inf"), min_inlier_fraction: float = 0.8) -> bool:
        """The paper's video selection: keep a clip when E_norm <= `max_E_norm` and at least
        `min_inlier_fraction` of its frames are inliers."""
        return bool(self.E_norm <= max_E_norm and self.inlier_fraction >= min_inlier_fraction)

    def to_dict(self) -> Dict[str, Any]:
        """Nested dicts of plain arrays, numbers and strings (for
        `posejax.io.results.save_results`, .npz or .json); the per-stage solver diagnostics
        become one array per field, (number of stages,)."""
        solver = dict(self.solver)
        stages = solver.get("stages") or []
        # save_results stores dicts and arrays, not lists of dicts.
        solver["stages"] = {k: np.asarray([s[k] for s in stages]) for k in (stages[0] if stages else ())}
        out = {"betas": self.betas, "theta": self.theta, "joints": self.joints,
               "keypoints3d": self.keypoints3d, "keypoints2d": self.keypoints2d,
               "inlier": self.inlier, "detection": self.detection, "energies": dict(self.energies),
               "E_norm": self.E_norm, "trajectory_length": self.trajectory_length,
               "solver": solver, "layout": self.layout,
               "image_size": np.asarray(self.image_size), "camera_mode": self.camera_mode}
        if isinstance(self.cameras, WeakPerspectiveCamera):
            out["cameras"] = {"scale": np.asarray(self.cameras.scale),
                              "translation": np.asarray(self.cameras.translation)}
        else:
            out["cameras"] = {k: np.asarray(v) for k, v in self.cameras.items()}
        if self.init is not None:
            out["init"] = {"theta": self.init.theta, "valid": self.init.valid,
                           "reprojection_error": self.init.reprojection_error}
        if self.track is not None:
            out["track"] = self.track.indices
        if self.vertices is not None:
            out["vertices"] = self.vertices
        return out


def trajectory_length(joints, translation_m, mask=None) -> jax.Array:
    """Length of the body's 3D trajectory: sum over consecutive frames of the mean joint
    displacement, metres.

    Args:
      joints: (T, 24, 3) root-relative-agnostic joints (the root is removed here).
      translation_m: (T, 3) the root's position (weak mode: image-plane offset in metres,
        translation / scale, depth 0; perspective mode: the root translation).
      mask: (T,) real frames.

    Returns:
      () metres; both body articulation and global motion count, so a static person has a short
      trajectory and a large E_norm (the paper uses this to discard uninformative videos).
    """
    pos = joints - joints[:, :1] + translation_m[:, None]
    step = jnp.mean(jnp.linalg.norm(pos[1:] - pos[:-1], axis=-1), -1)
    if mask is not None:
        step = step * (mask[1:] * mask[:-1])
    return jnp.sum(step)


# ----------------------------------------------------------------------------------------------
# Conditioned unknowns
# ----------------------------------------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class _Reference:
    """The initial cameras the solver's variables are relative to (per frame)."""

    scale: jax.Array        # (T,) px per metre (weak) or focal / depth (perspective)
    translation: jax.Array  # (T, 2) px (weak) or (T, 3) metres (perspective)
    focal: jax.Array        # () px (perspective; 1 in weak mode)


def _to_params(z: Dict[str, jax.Array], ref: _Reference, perspective: bool):
    """Solver variables -> energy parameters."""
    if perspective:
        depth = ref.translation[:, 2] * jnp.exp(z["log_depth"])
        xy = ref.translation[:, :2] + depth[:, None] * z["shift"]
        return energy.PerspectiveBAParams(
            betas=z["betas"], pose=z["pose"], root_translation=jnp.concatenate([xy, depth[:, None]], -1),
            focal=ref.focal * jnp.exp(z["log_focal"]))
    return energy.BAParams(betas=z["betas"], pose=z["pose"], scale=ref.scale * jnp.exp(z["log_scale"]),
                           translation=ref.translation + ref.scale[:, None] * z["shift"])


def _variables(pose, betas, t: int, perspective: bool) -> Dict[str, jax.Array]:
    z = {"betas": jnp.asarray(betas, jnp.float32), "pose": jnp.asarray(pose, jnp.float32),
         "shift": jnp.zeros((t, 2), jnp.float32)}
    if perspective:
        z["log_depth"] = jnp.zeros((t,), jnp.float32)
        z["log_focal"] = jnp.zeros((), jnp.float32)
    else:
        z["log_scale"] = jnp.zeros((t,), jnp.float32)
    return z


def _stage_masks(z, stage: int) -> Dict[str, jax.Array]:
    """Gradient masks: stage 0 frees cameras, global orientation and shape; later stages all."""
    masks = {k: np.ones(v.shape, np.float32) for k, v in z.items()}
    if stage == 0:
        masks["pose"][..., 1:, :] = 0.0  # (..., T, 24, 3): body joints
    return masks


def _masked_grad(x, m):
    """x with gradient multiplied by m (value unchanged)."""
    return jax.lax.stop_gradient(x) + m * (x - jax.lax.stop_gradient(x))


def _objective(z, masks, ref, data, weights, model, prior):
    """Per-frame energy (E / number of real frames) of the solver variables."""
    z = {k: _masked_grad(v, masks[k]) for k, v in z.items()}
    params = _to_params(z, ref, "log_depth" in z)
    total, _ = energy.total_energy(params, data, weights, model=model, pose_prior=prior)
    return total / jnp.maximum(jnp.sum(data.frame_mask), 1.0)


def _evaluate_one(z, ref, data, weights, model, prior):
    """Energies, per-frame diagnostics and outputs at the solution (one compiled program: run op
    by op, the outputs' few hundred small operations took seconds to compile on a first call).

    Returns:
      (params, total, terms, frame energies, joints (T, 24, 3), 2D keypoints (T, K, 2), 3D
      keypoints (T, K, 3), trajectory length in metres).
    """
    perspective = "log_depth" in z
    params = _to_params(z, ref, perspective)
    total, terms = energy.total_energy(params, data, weights, model=model, pose_prior=prior)
    frames = energy.frame_energies(params, data, weights, model=model)
    joints, kp2d = energy.forward_model(model, data.layout, params, data)
    kp3d = kinematics.keypoints(model, data.layout, params.pose, params.betas)
    if perspective:
        traj = params.root_translation
    else:  # image-plane offset in metres, depth 0
        xy = params.translation / params.scale[:, None] * jnp.array([1.0, -1.0])
        traj = jnp.concatenate([xy, jnp.zeros_like(xy[:, :1])], -1)
    length = trajectory_length(joints, traj, data.frame_mask)
    return params, total, terms, frames, joints, kp2d, kp3d, length


_evaluate = fast_compile.jit(_evaluate_one)
_evaluate_batch = fast_compile.jit(jax.vmap(_evaluate_one, in_axes=(0, 0, 0, None, None, None)))


_joints = fast_compile.jit(kinematics.joints)
_vertices = fast_compile.jit(kinematics.vertices)


# ----------------------------------------------------------------------------------------------
# Preparing one clip
# ----------------------------------------------------------------------------------------------


def _model(body_model) -> BodyModel:
    model = as_body_model(body_model)
    if not isinstance(model, BodyModel):
        raise ValueError(f"`body_model` must be a model name or a BodyModel, got {type(body_model).__name__}")
    return model


def _check_image_size(image_size, source: VideoKeypoints) -> Tuple[int, int]:
    size = image_size if image_size is not None else source.image_size
    if size is None:
        raise ValueError("`image_size` (W, H) in pixels is required (it sets the camera bound and "
                         "the principal point)")
    try:
        arr = np.asarray(size, np.float64)
    except (TypeError, ValueError):
        arr = np.zeros(0)  # reported below
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"`image_size` must be (W, H) with positive entries, got {image_size!r}")
    return int(arr[0]), int(arr[1])


def _resolve_layout(layout: Optional[str], source: VideoKeypoints, model: BodyModel
                    ) -> Tuple[np.ndarray, str]:
    """The detections in a layout the model provides (converted to coco17 when needed)."""
    layout = layout or source.layout
    if layout is None:
        raise ValueError("`layout` is required (e.g. 'coco17', 'body25b')")
    if source.layout is not None and layout != source.layout:
        raise ValueError(f"`layout` {layout!r} contradicts the input file's layout {source.layout!r}")
    check_layout(layout, source.detections.shape[2])
    det = source.detections
    if layout not in model.keypoint_regressors:
        if "coco17" not in model.keypoint_regressors:
            raise ValueError(f"body model {model.name!r} cannot produce layout {layout!r}; it provides "
                             f"{model.layouts}")
        det, _ = convert_keypoints(det, layout, "coco17")
        det, layout = np.asarray(det, np.float32), "coco17"
    return det, layout


def _given_init(init, t: int, model: BodyModel) -> Init:
    """A user initialisation (an `Init`, or a mapping with theta/pose, betas, cameras), checked
    and with its cameras as scale (T,) and translation (T, 2)."""
    need = ("`init` needs 'theta' (T, 72) or 'pose' (T, 24, 3), and 'cameras' (a WeakPerspectiveCamera "
            "or a mapping with 'scale' (T,) and 'translation' (T, 2))")
    if isinstance(init, Init):
        pose, betas, cams = init.pose, init.betas, init.cameras
    else:
        if not hasattr(init, "get"):
            raise ValueError(f"`init` must be None, an Init or a mapping, got {type(init).__name__}")
        pose = init.get("pose", init.get("theta"))
        cams = init.get("cameras")
        betas = init.get("betas", np.zeros(model.num_betas))
        if pose is None or cams is None:
            raise ValueError(need)
    if hasattr(cams, "get"):
        if "scale" not in cams or "translation" not in cams:
            raise ValueError(need)
        scale, trans = cams["scale"], cams["translation"]
    elif hasattr(cams, "scale") and hasattr(cams, "translation"):
        scale, trans = cams.scale, cams.translation
    else:
        raise ValueError(need)
    try:
        pose, betas, scale, trans = (np.asarray(x, np.float32) for x in (pose, betas, scale, trans))
    except (TypeError, ValueError) as e:
        raise ValueError(f"`init` must hold numeric arrays: {e}")
    # Explicit shapes: a bare reshape would accept e.g. a (2T, 36) pose as (T, 24, 3).
    pose = pose.reshape(t, 24, 3) if pose.shape == (t, 72) else pose
    scale = scale.reshape(t) if scale.size == t and scale.ndim <= 2 else scale
    if pose.shape != (t, 24, 3) or scale.shape != (t,) or trans.shape != (t, 2) or betas.ndim != 1:
        raise ValueError(f"`init` must cover the clip's {t} frames with theta ({t}, 72) or pose "
                         f"({t}, 24, 3), camera scale ({t},), translation ({t}, 2) and betas (S,); got "
                         f"pose {pose.shape}, scale {scale.shape}, translation {trans.shape}, betas "
                         f"{betas.shape}")
    if not (all(np.all(np.isfinite(x)) for x in (pose, betas, scale, trans)) and np.all(scale > 0)):
        raise ValueError("`init` must be finite with positive camera scales")
    if betas.shape[0] > model.num_betas:
        raise ValueError(f"`init` betas have {betas.shape[0]} components; the model has "
                         f"{model.num_betas}")
    padded = np.zeros(model.num_betas, np.float32)
    padded[:betas.shape[0]] = betas
    cameras = WeakPerspectiveCamera(scale=scale, translation=trans)
    if isinstance(init, Init):
        return dataclasses.replace(init, pose=pose, betas=padded, cameras=cameras)
    zeros = np.zeros(t, np.float32)
    return Init(pose=pose, betas=padded, cameras=cameras, reprojection_error=zeros,
                initial_reprojection_error=zeros, valid=np.ones(t, bool), source_frame=np.arange(t))


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """One clip ready for the solver (numpy, unpadded)."""

    detections: np.ndarray  # (T, P, K, 3)
    layout: str
    image_size: Tuple[int, int]
    init: Init
    track: Optional[Track]
    init_seconds: float


_PRIOR_FNS: Dict[int, Tuple[GaussianMixture, Any]] = {}


def _init_prior_fn(prior: GaussianMixture):
    """The GMM negative log-likelihood as the initialisation's pose prior; one function object per
    mixture, so the initialisation's compiled solver is reused across calls."""
    held = _PRIOR_FNS.get(id(prior))
    if held is None or held[0] is not prior:
        held = (prior, lambda body: negative_log_likelihood(prior, body))
        _PRIOR_FNS[id(prior)] = held
    return held[1]


def _placeholder_init(t: int, model: BodyModel) -> Init:
    """An Init of T frames with the dtypes of a real one (for compiling ahead of the real data)."""
    zeros = np.zeros(t, np.float32)
    return Init(pose=np.zeros((t, 24, 3), np.float32), betas=np.zeros(model.num_betas, np.float32),
                cameras=WeakPerspectiveCamera(scale=np.ones(t, np.float32),
                                              translation=np.zeros((t, 2), np.float32)),
                reprojection_error=zeros, initial_reprojection_error=zeros, valid=np.ones(t, bool),
                source_frame=np.arange(t))


def _compile_ahead(detections_shape, layout, image_size, *, model, cfg, weights, prior):
    """Compiles the solver and the evaluation for a clip of this shape, on placeholder inputs.

    Run in a background thread while the per-frame initialisation runs: XLA compiles outside
    Python's lock, so on a multi-core CPU the compilations overlap (what a first call waits for is
    most of all compilation); the solver and the evaluation compile in threads of their own.
    Errors are left for the real call to raise (run it through `_quietly`).
    """
    fake = _Prepared(detections=np.zeros(detections_shape, np.float32), layout=layout,
                     image_size=image_size, init=_placeholder_init(detections_shape[0], model),
                     track=None, init_seconds=0.0)
    z, ref, data = _problem(fake, model, cfg.camera == "perspective", _padded_length(detections_shape[0]))

    def solver():
        solvers.minimize(_objective, z, _stage_masks(z, 1), ref, data, weights, model, prior,
                         **_solver_options(cfg, 1))

    def evaluation():
        jax.block_until_ready(_evaluate(z, ref, data, weights, model, prior))

    threads = [threading.Thread(target=_quietly, args=(f,), daemon=True) for f in (solver, evaluation)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _quietly(fn: Callable) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - the real call reports it
        pass


def _prepare(video_keypoints, layout, confidences, image_size, init, model, cfg, prior,
             verbose, compile_ahead: Optional[Callable] = None) -> _Prepared:
    source = read_video_keypoints(video_keypoints, confidences)
    size = _check_image_size(image_size, source)
    det, layout = _resolve_layout(layout, source, model)
    t = det.shape[0]
    track = None
    person = det[:, 0] if det.shape[1] else np.full((t, det.shape[2], 3), np.nan, np.float32)
    if source.multi_person:
        track = track_person(det, skip_cost_px=float(cfg.tracking.skip_cost_px),
                             min_confidence=float(cfg.tracking.min_confidence),
                             method=str(cfg.tracking.method))
        person = select_track(det, track)
        if verbose:
            print(f"bundle_adjust: tracked the main person in {int(track.tracked.sum())}/{t} frames "
                  f"({det.shape[1]} detection slots)")
    ahead = None
    if compile_ahead is not None and init is None:  # overlaps with the initialisation below
        ahead = threading.Thread(target=_quietly, daemon=True,
                                 args=(functools.partial(compile_ahead, det.shape, layout, size),))
        ahead.start()
    t0 = time.perf_counter()
    if init is None:
        init_result = initialize_from_keypoints(person, layout=layout, body_model=model, image_size=size,
                                                config=ba_config.init_config(cfg),
                                                pose_prior_fn=_init_prior_fn(prior))
    else:
        init_result = _given_init(init, t, model)
    init_seconds = time.perf_counter() - t0
    if verbose:
        print(f"bundle_adjust: {t} frames, {layout}, initialised in {init_seconds:.1f} s "
              f"({int(init_result.valid.sum())} frames with enough keypoints)")
    if source.multi_person:
        # The energy sees the tracked person and every other detection (inner min), so a frame
        # where the track is wrong can still be explained by the right detection.
        det = _track_first(det, track)
    if ahead is not None:
        ahead.join()
    return _Prepared(detections=det, layout=layout, image_size=size, init=init_result, track=track,
                     init_seconds=init_seconds)


def _track_first(det: np.ndarray, track: Track) -> np.ndarray:
    """Moves each frame's tracked detection to slot 0 (the order inside a frame is free)."""
    out = det.copy()
    for t, q in enumerate(track.indices):
        if q > 0:
            out[t, [0, q]] = det[t, [q, 0]]
    return out


def _input_slots(detection: np.ndarray, track: Optional[Track]) -> np.ndarray:
    """Detection indices of the solver's slot order (`_track_first`) -> the input's order."""
    if track is None:
        return detection
    q = track.indices
    moved = q > 0
    return np.where(moved & (detection == 0), q, np.where(moved & (detection == q), 0, detection))


def _padded_length(t: int) -> int:
    return max(PAD_MULTIPLE, -(-t // PAD_MULTIPLE) * PAD_MULTIPLE)


def _pad(x: np.ndarray, length: int, value=0.0) -> np.ndarray:
    pad = [(0, length - x.shape[0])] + [(0, 0)] * (x.ndim - 1)
    return np.pad(x, pad, constant_values=value)


def _problem(prep: _Prepared, model: BodyModel, perspective: bool, length: int):
    """Padded solver inputs (variables, reference, data) of one clip."""
    t = prep.detections.shape[0]
    init = prep.init
    det = _pad(prep.detections, length, np.nan)
    det[t:, ..., 2] = 0.0
    init_joints = np.asarray(_joints(model, init.pose, init.betas), np.float32)
    w, h = prep.image_size
    data = energy.make_data(det, init_joints=_pad(init_joints, length), image_width=w, image_height=h,
                            frame_mask=_pad(np.ones(t, np.float32), length), layout=prep.layout)
    scale = _pad(np.asarray(init.cameras.scale, np.float32), length, 1.0)
    trans = _pad(np.asarray(init.cameras.translation, np.float32), length)
    pose = _pad(init.pose, length)
    if perspective:
        focal = float(max(w, h))  # about a 53-degree field of view: a typical camera
        depth = focal / scale
        xy = (trans - np.array([w, h], np.float32) / 2) / scale[:, None]
        # Weak-perspective pixel = s (X_x, -X_y) + u; camera frame x = X_x, y = -X_y: same xy.
        ref = _Reference(scale=jnp.asarray(scale), translation=jnp.asarray(np.concatenate([xy, depth[:, None]], -1)),
                         focal=jnp.float32(focal))
    else:
        ref = _Reference(scale=jnp.asarray(scale), translation=jnp.asarray(trans), focal=jnp.float32(1.0))
    z = _variables(pose, init.betas, length, perspective)
    return z, ref, data


# ----------------------------------------------------------------------------------------------
# Solving
# ----------------------------------------------------------------------------------------------


def _stages(cfg) -> List[int]:
    try:
        stages = [int(s) for s in cfg.solver.stages]
    except (TypeError, ValueError):
        stages = []  # reported below
    if not stages or any(s < 0 for s in stages) or sum(stages) == 0:
        raise ValueError(f"`solver.stages` must be non-negative iteration counts with a positive sum, "
                         f"got {cfg.solver.stages!r}")
    return stages


def _solver_options(cfg, maxiter: int) -> Dict[str, Any]:
    """`solvers.minimize` options of one stage (the grouped scaling is posejax-lbfgs's alone, so
    the other backends take the config unchanged with their scalar one)."""
    method = str(cfg.solver.method)
    return dict(method=method, maxiter=maxiter, tol=float(cfg.solver.tol), ftol=float(cfg.solver.ftol),
                history_size=int(cfg.solver.history_size),
                scaling=str(cfg.solver.scaling) if method == "posejax-lbfgs" else "scalar")


def _solve(z, ref, data, weights, model, prior, cfg, batched: bool = False):
    """Runs the stages; returns (variables, per-stage SolverInfo-like dicts). With `batched`, the
    inputs carry a leading axis of clips solved by one vmapped solver and the diagnostics are one
    list of stages per clip."""
    diagnostics = []
    for i, iters in enumerate(_stages(cfg)):
        if iters == 0:
            continue
        t0 = time.perf_counter()
        options = _solver_options(cfg, iters)
        if batched:  # the stage masks depend on shapes only: shared by the clips
            masks = _stage_masks(jax.tree_util.tree_map(lambda x: x[0], z), min(i, 1))
            z, infos = solvers.minimize_batch(_objective, z, masks, ref, data, weights, model, prior,
                                              args_in_axes=(None, 0, 0, None, None, None), **options)
        else:
            z, info = solvers.minimize(_objective, z, _stage_masks(z, min(i, 1)), ref, data, weights,
                                       model, prior, **options)
            infos = [info]
        seconds = time.perf_counter() - t0
        diagnostics.append([{"stage": i, "iterations": info.iterations, "grad_norm": info.grad_norm,
                             "value": info.value, "converged": info.converged, "seconds": seconds}
                            for info in infos])
    per_clip = [list(stages) for stages in zip(*diagnostics)]
    return z, (per_clip if batched else per_clip[0])


def _result(prep: _Prepared, evaluated, model, stages, seconds, cfg, return_vertices: bool) -> BAResult:
    """The BAResult of one clip from `_evaluate`'s outputs (unbatched)."""
    params, total, terms, frames, joints, kp2d, kp3d, length = evaluated
    t = prep.detections.shape[0]
    perspective = isinstance(params, energy.PerspectiveBAParams)
    pose = np.asarray(params.pose)[:t]
    betas = np.asarray(params.betas)
    joints = np.asarray(joints)[:t]
    kp3d = np.asarray(kp3d)[:t]
    if perspective:
        root = np.asarray(params.root_translation)[:t]
        cameras = {"focal": np.asarray(params.focal), "root_translation": root,
                   "principal_point": np.asarray(prep.image_size, np.float32) / 2}
    else:
        scale = np.asarray(params.scale)[:t]
        trans = np.asarray(params.translation)[:t]
        cameras = WeakPerspectiveCamera(scale=scale, translation=trans)
    length = float(length)
    energies = {k: float(v) for k, v in terms.items()}
    energies["total"] = float(total)
    verts = None
    if return_vertices:
        verts = np.asarray(_vertices(model, pose, betas))
    solver_info = {"method": str(cfg.solver.method), "stages": stages,
                   "iterations": int(sum(s["iterations"] for s in stages)),
                   "grad_norm": float(stages[-1]["grad_norm"]) if stages else float("nan"),
                   "converged": bool(stages[-1]["converged"]) if stages else False,
                   "init_seconds": prep.init_seconds, "solve_seconds": seconds,
                   "seconds": prep.init_seconds + seconds}
    return BAResult(betas=betas, theta=pose.reshape(t, 72), cameras=cameras, joints=joints,
                    keypoints3d=kp3d, keypoints2d=np.asarray(kp2d)[:t],
                    inlier=np.asarray(frames["inlier"])[:t],
                    detection=_input_slots(np.asarray(frames["detection"])[:t], prep.track),
                    energies=energies, E_norm=float(total) / max(length, 1e-6), trajectory_length=length,
                    solver=solver_info, init=prep.init, track=prep.track, layout=prep.layout,
                    image_size=prep.image_size, camera_mode="perspective" if perspective else "weak",
                    vertices=verts)


def _pose_prior(pose_prior) -> GaussianMixture:
    if pose_prior is None:
        return energy.default_pose_prior()
    if isinstance(pose_prior, str):
        return load_pose_prior(pose_prior)
    if not isinstance(pose_prior, GaussianMixture):
        raise ValueError("`pose_prior` must be None, a GaussianMixture or a path to an npz written by "
                         f"`pose_prior.save_gmm`, got {type(pose_prior).__name__}")
    return pose_prior


def _settings(config, body_model, pose_prior=None):
    try:
        cfg = ba_config._merged(config)
    except TypeError as e:  # ml_collections refuses a value of the wrong type with a TypeError
        raise ValueError(f"`config`: {e}") from e
    if cfg.camera not in ("weak", "perspective"):
        raise ValueError(f"`config.camera` must be 'weak' or 'perspective', got {cfg.camera!r}")
    if cfg.solver.method not in solvers.METHODS:
        raise ValueError(f"`config.solver.method` must be one of {solvers.METHODS}, got {cfg.solver.method!r}")
    _stages(cfg)
    try:
        weights = ba_config.energy_weights(cfg)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`config.weights`: {e}") from e
    # A negative or non-finite weight makes the energy unbounded below (the solve then diverges).
    bad = {k: v for k, v in dataclasses.asdict(weights).items()
           if isinstance(v, float) and not (np.isfinite(v) and v >= 0)}
    if bad:
        raise ValueError(f"`config.weights` must be finite and non-negative, got {bad}")
    return cfg, weights, _model(body_model), _pose_prior(pose_prior)


def bundle_adjust(video_keypoints, *, layout: Optional[str] = None, confidences=None,
                  image_size: Optional[Sequence[int]] = None, init=None,
                  body_model: Union[str, BodyModel] = "open",
                  config: Union[None, ml_collections.ConfigDict, dict] = None,
                  pose_prior: Union[None, str, GaussianMixture] = None,
                  return_vertices: bool = False, verbose: bool = False) -> BAResult:
    """Fits one body shape and per-frame pose and camera to a video's 2D keypoints.

    Args:
      video_keypoints: (T, K, 2|3) one person's keypoints in pixels (with confidences), or
        multi-person detections ((T, P, K, 3) or a list of per-frame (P_t, K, 3)), or a path (an
        OpenPose JSON folder, a COCO keypoint JSON or an .npz); see `posejax.fitting.ba_inputs`.
        NaN / inf keypoints and confidences <= 0 are treated as missing; frames without any
        present keypoint (or detection) keep their place, carried by the temporal and prior
        terms, and are flagged `inlier` False with `detection` -1. A clip in which no frame has
        enough confident keypoints (`config.init.min_keypoints`) is not an error: it gives the
        neutral initialisation (mean shape, neutral pose facing the camera, centred) refined by
        the priors alone, every frame flagged an outlier, so `selected()` is False.
      layout: the keypoints' layout ("coco17", "body25b", ...); inputs in a layout the body
        model cannot produce are converted to coco17.
      confidences: optional (T, K) confidences for (T, K, 2) keypoints.
      image_size: (W, H) pixels (files may provide it).
      init: None (per-frame initialisation from the keypoints), or an `Init` / mapping with
        'theta' (T, 72) or 'pose', 'betas' and 'cameras' (scale (T,), translation (T, 2)), used as is.
      body_model: "open" (default), "open-lite", a path to SMPL files, or a BodyModel.
      config: overrides of `posejax.fitting.ba_config.default_config()` (a ConfigDict or a
        nested dict).
      pose_prior: the GMM pose prior of E_P and of the initialisation: None (the shipped
        8-component prior), a `GaussianMixture`, or an npz path (`pose_prior.save_gmm`).
      return_vertices: also return the posed mesh (T, V, 3).
      verbose: print progress.

    Returns:
      `BAResult`.

    Raises:
      ValueError: malformed input (including coordinates beyond `ba_inputs.MAX_COORDINATE_PX` and
        confidences above `ba_inputs.MAX_CONFIDENCE`), a layout that does not match the
        keypoints, bad settings (unknown keys, wrong types, negative weights) or a malformed
        `init`.
    """
    cfg, weights, model, prior = _settings(config, body_model, pose_prior)
    ahead = functools.partial(_compile_ahead, model=model, cfg=cfg, weights=weights, prior=prior)
    prep = _prepare(video_keypoints, layout, confidences, image_size, init, model, cfg, prior, verbose,
                    compile_ahead=ahead)
    perspective = cfg.camera == "perspective"
    z, ref, data = _problem(prep, model, perspective, _padded_length(prep.detections.shape[0]))
    t0 = time.perf_counter()
    z, stages = _solve(z, ref, data, weights, model, prior, cfg)
    jax.block_until_ready(z)
    seconds = time.perf_counter() - t0
    if verbose:
        for s in stages:
            print(f"bundle_adjust: stage {s['stage']}: {s['iterations']} iterations, per-frame energy "
                  f"{s['value']:.2f}, gradient norm {s['grad_norm']:.2g}, {s['seconds']:.2f} s")
    return _result(prep, _evaluate(z, ref, data, weights, model, prior), model, stages, seconds, cfg,
                   return_vertices)


def bundle_adjust_batch(clips: Sequence[Any], *, layout: Optional[str] = None,
                        image_size: Optional[Sequence[int]] = None,
                        body_model: Union[str, BodyModel] = "open", config=None,
                        pose_prior: Union[None, str, GaussianMixture] = None,
                        length: Optional[int] = None, devices: Optional[Sequence[Any]] = None,
                        verbose: bool = False) -> List[BAResult]:
    """Bundle adjustment of several clips at once: every clip is initialised on its own, padded
    to one length (padding is exact, see the module docstring), and all are solved by one
    vmapped L-BFGS (each clip with its own line search and stopping test), data-parallel over
    `devices`.

    Args:
      clips: a sequence of `video_keypoints` (any form `bundle_adjust` accepts; same layout and
        detection slots).
      layout, body_model, config, pose_prior: as for `bundle_adjust` (shared by all clips).
      image_size: (W, H) shared by the clips, or one (W, H) per clip.
      length: pad every clip to this many frames (default: the longest clip rounded up to
        `PAD_MULTIPLE`); a fixed length lets batches of different clips share one compiled solver.
      devices: the devices the clips are split over (a ("data",) mesh; default all local
        devices). The batch is padded with copies of its last clip to a multiple of their number.

    Returns:
      One `BAResult` per clip with its own `solver` diagnostics (its `solve_seconds` is the
      batch's). A clip's result matches `bundle_adjust` on it up to float32 rounding: vmapping
      reorders the reductions, and L-BFGS amplifies the difference over its iterations.
    """
    if not len(clips):
        raise ValueError("`clips` is empty")
    cfg, weights, model, prior = _settings(config, body_model, pose_prior)
    sizes = image_size if image_size is not None and np.ndim(image_size) == 2 else [image_size] * len(clips)
    if len(sizes) != len(clips):
        raise ValueError(f"`image_size` gives {len(sizes)} sizes for {len(clips)} clips")
    preps = [_prepare(c, layout, None, size, None, model, cfg, prior, verbose) for c, size in zip(clips, sizes)]
    if len({p.layout for p in preps}) > 1 or len({p.detections.shape[1:] for p in preps}) > 1:
        raise ValueError("all clips of a batch need the same layout and detection slots")
    longest = max(p.detections.shape[0] for p in preps)
    if length is None:
        length = _padded_length(longest)
    elif length < longest:
        raise ValueError(f"`length` {length} is shorter than the longest clip ({longest} frames)")
    devices = list(devices) if devices is not None else jax.local_devices()
    padded = preps + [preps[-1]] * (-len(preps) % len(devices))
    perspective = cfg.camera == "perspective"
    z, ref, data = jax.tree_util.tree_map(lambda *x: np.stack(x),
                                          *[_problem(p, model, perspective, length) for p in padded])
    if len(devices) > 1:
        from posejax.training.mesh import AXIS, batch_sharding

        sharding = batch_sharding(jax.sharding.Mesh(np.asarray(devices), (AXIS,)))
        z, ref, data = jax.device_put((z, ref, data), sharding)
    t0 = time.perf_counter()
    z, stages = _solve(z, ref, data, weights, model, prior, cfg, batched=True)
    evaluated = jax.device_get(_evaluate_batch(z, ref, data, weights, model, prior))
    seconds = time.perf_counter() - t0
    results = [_result(prep, jax.tree_util.tree_map(lambda x: x[b], evaluated), model, stages[b], seconds,
                       cfg, False) for b, prep in enumerate(preps)]
    if verbose:
        print(f"bundle_adjust_batch: {len(clips)} clips x {length} frames on {len(devices)} device(s) "
              f"solved in {seconds:.2f} s")
    return results
