"""Evaluation metrics for 3D human pose, each defined once (DESIGN section 8).

Inputs are in metres / radians; outputs in millimetres / degrees, PCK and CP in percent unless a
docstring says otherwise. Joint arrays are `(..., N, 3)`: the last two axes are one pose, every
leading axis (frames, people, sequences) indexes poses. Unless stated, a metric is averaged over the
valid joints of each pose first and then over the poses, so every pose weighs the same whatever its
number of valid joints.

`mask` arguments mark valid joints: any array that broadcasts to `pred.shape[:-1]`, e.g. `(N,)` for
a joint subset, `(..., N)` per pose, or `(T, 1)` for valid frames. Non-zero means valid. Masked
joints are left out of both the alignment and the average; a pose with no valid joint is left out
of the average over poses. A concrete all-invalid mask raises ValueError (under `jit` the result
would be 0).

Alignments (`alignment=` in `per_joint_errors` / `pck`):
  "none":        absolute coordinates as given (e.g. camera space).
  "root":        translate the prediction so its root joint coincides with the ground truth's.
  "scale":       "root", then scale the root-relative prediction P by s = <P, G> / <P, P> (the
                 least-squares scale onto the root-relative ground truth G; N-MPJPE).
  "rigid":       best rotation + translation (no scale, no reflection).
  "procrustes":  best similarity: rotation + translation + scale (no reflection; PA-MPJPE).

All functions are pure and `jit`/`vmap` friendly with the string/int arguments static.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from posejax._checks import check_array, is_concrete
from posejax.geometry.procrustes import rigid_procrustes, similarity_procrustes

_ALIGNMENTS = ("none", "root", "scale", "rigid", "procrustes")
_M_TO_MM = 1000.0


# ----------------------------------------------------------------------------------------------
# Validation and reductions
# ----------------------------------------------------------------------------------------------


def _check_pair(pred, gt, shape, pred_name="pred", gt_name="gt"):
    pred = check_array(pred, pred_name, shape)
    gt = check_array(gt, gt_name, shape)
    if pred.shape != gt.shape:
        raise ValueError(
            f"`{pred_name}` and `{gt_name}` must have the same shape, got {tuple(pred.shape)} and "
            f"{tuple(gt.shape)}")
    return pred, gt


def _check_mask(mask, target_shape, name="mask"):
    """Returns a float32 0/1 validity array of `target_shape` (all ones when `mask` is None)."""
    if mask is None:
        return jnp.ones(target_shape, jnp.float32)
    m = check_array(mask, name, (None,) * np.ndim(mask), dtype=None)
    try:
        fits = np.broadcast_shapes(m.shape, tuple(target_shape)) == tuple(target_shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"`{name}` must broadcast to {tuple(target_shape)}, got {tuple(m.shape)}")
    valid = jnp.broadcast_to(m != 0, target_shape).astype(jnp.float32)
    if is_concrete(valid) and not bool(np.any(np.asarray(valid))):
        raise ValueError(f"`{name}` marks no element as valid")
    return valid


def _check_reduction(reduction):
    if reduction not in ("mean", "none"):
        raise ValueError(f"`reduction` must be 'mean' or 'none', got {reduction!r}")


def _pose_means(values, valid):
    """Mean of (..., N) `values` over valid joints -> (per-pose (...,), pose has a valid joint)."""
    count = jnp.sum(valid, axis=-1)
    per_pose = jnp.sum(values * valid, axis=-1) / jnp.maximum(count, 1.0)
    return per_pose, count > 0


def _mean_over(values, valid):
    """Mean of `values` over all entries where `valid`; 0 when none is."""
    valid = jnp.broadcast_to(valid, values.shape).astype(values.dtype)
    return jnp.sum(values * valid) / jnp.maximum(jnp.sum(valid), 1.0)


def _reduce_joints_then_poses(values, valid, reduction):
    per_pose, pose_ok = _pose_means(values, valid)
    if reduction == "none":
        return per_pose
    return _mean_over(per_pose, pose_ok)


def _norm(x):
    """Euclidean norm over the last axis with a finite gradient at 0 (e.g. the aligned root joint)."""
    sq = jnp.sum(x * x, axis=-1)
    ok = sq > 0
    return jnp.where(ok, jnp.sqrt(jnp.where(ok, sq, 1.0)), 0.0)


def _wrap_angle(a):
    """Wraps radians to [-pi, pi) so that a difference of 359 degrees counts as 1."""
    return (a + jnp.pi) % (2.0 * jnp.pi) - jnp.pi


# ----------------------------------------------------------------------------------------------
# Alignment and per-joint errors
# ----------------------------------------------------------------------------------------------


def _check_alignment(alignment, root_index, n):
    if alignment not in _ALIGNMENTS:
        raise ValueError(f"`alignment` must be one of {_ALIGNMENTS}, got {alignment!r}")
    if alignment in ("root", "scale") and not -n <= root_index < n:
        raise ValueError(f"`root_index` must index one of the {n} joints, got {root_index}")


@functools.partial(jax.jit, static_argnames=("alignment", "root_index"))
def _align_core(pred, gt, valid, alignment, root_index):
    if alignment == "none":
        return pred
    root = slice(root_index, root_index + 1 if root_index != -1 else None)
    if alignment == "root":
        return pred - pred[..., root, :] + gt[..., root, :]
    if alignment == "scale":
        p = pred - pred[..., root, :]
        g = gt - gt[..., root, :]
        pg = jnp.einsum("...n,...nd,...nd->...", valid, p, g)
        pp = jnp.einsum("...n,...nd,...nd->...", valid, p, p)
        ok = pp > 1e-12
        s = jnp.where(ok, pg / jnp.where(ok, pp, 1.0), 1.0)
        return s[..., None, None] * p + gt[..., root, :]
    if alignment == "rigid":
        return rigid_procrustes(pred, gt, valid)[0]
    return similarity_procrustes(pred, gt, valid)[0]


def _align(pred, gt, valid, alignment, root_index):
    _check_alignment(alignment, root_index, pred.shape[-2])
    return _align_core(pred, gt, valid, alignment, int(root_index))


def _joint_errors_m(pred, gt, valid, alignment, root_index):
    aligned = _align(pred, gt, valid, alignment, root_index)
    return _norm(aligned - gt)


def _prepare(pred, gt, mask):
    pred, gt = _check_pair(pred, gt, ("...", None, 3))
    return pred, gt, _check_mask(mask, pred.shape[:-1])


def align(pred, gt, alignment="procrustes", root_index=0, mask=None):
    """Aligns predicted joints to the ground truth with one of the metric alignments.

    Args:
      pred: (..., N, 3) predicted joints, metres.
      gt: (..., N, 3) ground-truth joints, metres.
      alignment: "none" | "root" | "scale" | "rigid" | "procrustes" (see module docstring).
      root_index: root joint for "root" / "scale".
      mask: optional validity mask broadcasting to (..., N); only valid joints drive the fit.

    Returns:
      (..., N, 3) aligned prediction in the ground truth's frame, metres.
    """
    pred, gt, valid = _prepare(pred, gt, mask)
    return _align(pred, gt, valid, alignment, root_index)


def per_joint_errors(pred, gt, alignment="root", root_index=0, mask=None):
    """Euclidean error of every joint after an alignment, in millimetres.

    Args:
      pred: (..., N, 3) predicted joints, metres.
      gt: (..., N, 3) ground-truth joints, metres.
      alignment: "none" | "root" | "scale" | "rigid" | "procrustes" (see module docstring).
      root_index: root joint for "root" / "scale".
      mask: optional validity mask broadcasting to (..., N); masked joints are excluded from the
        alignment and returned as 0.

    Returns:
      (..., N) per-joint errors, mm.
    """
    pred, gt, valid = _prepare(pred, gt, mask)
    return _joint_errors_m(pred, gt, valid, alignment, root_index) * _M_TO_MM * valid


def mean_per_joint(pred, gt, alignment="root", root_index=0, mask=None):
    """Error of each joint averaged over all poses (for per-joint tables), in millimetres.

    Args:
      pred, gt: (..., N, 3) joints, metres.
      alignment, root_index, mask: as in `per_joint_errors`.

    Returns:
      (N,) mean error of each joint over the poses where it is valid, mm (0 if never valid).
    """
    pred, gt, valid = _prepare(pred, gt, mask)
    err = _joint_errors_m(pred, gt, valid, alignment, root_index) * _M_TO_MM
    n = err.shape[-1]
    err, valid = err.reshape(-1, n), valid.reshape(-1, n)
    return jnp.sum(err * valid, axis=0) / jnp.maximum(jnp.sum(valid, axis=0), 1.0)


# ----------------------------------------------------------------------------------------------
# MPJPE family
# ----------------------------------------------------------------------------------------------


def mpjpe(pred, gt, root_index=0, mask=None, reduction="mean"):
    """Mean per-joint position error after root alignment (MPJPE, Human3.6M protocol 1), in mm.

    Protocol: both poses are translated so their root joints (`root_index`, the pelvis) coincide; the
    Euclidean joint errors are averaged over the valid joints of each pose (the root is included and
    contributes 0; exclude it with `mask` if a protocol asks), then over poses.

    Args:
      pred: (..., N, 3) predicted joints, metres.
      gt: (..., N, 3) ground-truth joints, metres.
      root_index: index of the root joint.
      mask: optional validity mask broadcasting to (..., N).
      reduction: "mean" -> scalar; "none" -> (...,) per-pose values.

    Returns:
      MPJPE in mm: scalar, or (...,) per pose.
    """
    _check_reduction(reduction)
    pred, gt, valid = _prepare(pred, gt, mask)
    err = _joint_errors_m(pred, gt, valid, "root", root_index) * _M_TO_MM
    return _reduce_joints_then_poses(err, valid, reduction)


def n_mpjpe(pred, gt, root_index=0, mask=None, reduction="mean"):
    """Scale-normalised MPJPE (N-MPJPE, Rhodin et al. 2018), in mm.

    Protocol: root-align both poses, then scale each root-relative prediction P by the least-squares
    factor s = <P, G> / <P, P> onto the root-relative ground truth G (per pose, over valid joints;
    s = 1 when P is all zero). Errors averaged over valid joints, then over poses.

    Args:
      pred: (..., N, 3) predicted joints, metres (any scale).
      gt: (..., N, 3) ground-truth joints, metres.
      root_index: index of the root joint.
      mask: optional validity mask broadcasting to (..., N).
      reduction: "mean" -> scalar; "none" -> (...,) per-pose values.

    Returns:
      N-MPJPE in mm: scalar, or (...,) per pose.
    """
    _check_reduction(reduction)
    pred, gt, valid = _prepare(pred, gt, mask)
    err = _joint_errors_m(pred, gt, valid, "scale", root_index) * _M_TO_MM
    return _reduce_joints_then_poses(err, valid, reduction)


def pa_mpjpe(pred, gt, mask=None, reduction="mean"):
    """Procrustes-aligned MPJPE (PA-MPJPE, Human3.6M protocol 2), in mm.

    Protocol: each predicted pose is aligned to its ground truth with the optimal similarity transform
    (rotation with det +1 -- never a reflection --, translation, positive scale) fitted on its valid
    joints; errors averaged over valid joints, then over poses.

    Args:
      pred: (..., N, 3) predicted joints, metres.
      gt: (..., N, 3) ground-truth joints, metres.
      mask: optional validity mask broadcasting to (..., N).
      reduction: "mean" -> scalar; "none" -> (...,) per-pose values.

    Returns:
      PA-MPJPE in mm: scalar, or (...,) per pose.
    """
    _check_reduction(reduction)
    pred, gt, valid = _prepare(pred, gt, mask)
    err = _joint_errors_m(pred, gt, valid, "procrustes", 0) * _M_TO_MM
    return _reduce_joints_then_poses(err, valid, reduction)


# ----------------------------------------------------------------------------------------------
# PCK family
# ----------------------------------------------------------------------------------------------


def pck(pred, gt, threshold=0.150, alignment="root", root_index=0, mask=None, reduction="mean"):
    """Percentage of correct keypoints: joints whose error is <= `threshold` after an alignment.

    Protocol: align (see module docstring; default root alignment, i.e. MPI-INF-3DHP / MuPoTS
    root-relative PCK), count valid joints with error <= threshold, take the percentage per pose,
    then average over poses. After root alignment the root joint is always correct; exclude it with
    `mask` if a protocol asks.

    Args:
      pred: (..., N, 3) predicted joints, metres.
      gt: (..., N, 3) ground-truth joints, metres.
      threshold: distance threshold, metres (0.150 = PCK@150mm).
      alignment: "none" | "root" | "scale" | "rigid" | "procrustes".
      root_index: root joint for "root" / "scale".
      mask: optional validity mask broadcasting to (..., N).
      reduction: "mean" -> scalar; "none" -> (...,) per-pose percentages.

    Returns:
      PCK in percent [0, 100]: scalar, or (...,) per pose.
    """
    _check_reduction(reduction)
    pred, gt, valid = _prepare(pred, gt, mask)
    err = _joint_errors_m(pred, gt, valid, alignment, root_index)
    hit = (err <= threshold).astype(jnp.float32) * 100.0
    return _reduce_joints_then_poses(hit, valid, reduction)


def pck_rel(pred, gt, threshold=0.150, root_index=0, mask=None, reduction="mean"):
    """Root-relative PCK (MuPoTS-3D / VirtualPose PCK_rel), in percent.

    Same as `pck(..., alignment="root")`: the root-relative pose is scored, root localisation is not.

    Args:
      pred, gt: (..., N, 3) joints, metres.
      threshold: metres (default 150 mm).
      root_index, mask, reduction: as in `pck`.

    Returns:
      PCK_rel in percent.
    """
    return pck(pred, gt, threshold, "root", root_index, mask, reduction)


def pck_abs(pred, gt, threshold=0.150, mask=None, reduction="mean"):
    """Absolute PCK (MuPoTS-3D / VirtualPose PCK_abs), in percent.

    Protocol: joints compared in absolute camera coordinates with no alignment at all, so root
    depth/position errors count; per pose over valid joints, then over poses.

    Args:
      pred: (..., N, 3) predicted joints in camera space, metres.
      gt: (..., N, 3) ground-truth joints in camera space, metres.
      threshold: metres (default 150 mm).
      mask: optional validity mask broadcasting to (..., N).
      reduction: "mean" -> scalar; "none" -> (...,) per pose.

    Returns:
      PCK_abs in percent.
    """
    return pck(pred, gt, threshold, "none", 0, mask, reduction)


def pck_root(pred_root, gt_root, threshold=0.250, mask=None):
    """Root localisation PCK (PCK_root as in SMAP / VirtualPose on MuPoTS-3D), in percent.

    Protocol: the percentage of people whose predicted root joint lies within `threshold` (default
    25 cm) of the true root in camera space, no alignment. This scores absolute root localisation
    only; the root-relative pose score is `pck_rel`.

    Args:
      pred_root: (..., 3) predicted root positions in camera space, metres.
      gt_root: (..., 3) ground-truth root positions, metres.
      threshold: metres (default 250 mm).
      mask: optional validity mask broadcasting to pred_root.shape[:-1].

    Returns:
      Scalar percentage in [0, 100].
    """
    pred_root, gt_root = _check_pair(pred_root, gt_root, ("...", 3), "pred_root", "gt_root")
    valid = _check_mask(mask, pred_root.shape[:-1])
    hit = (_norm(pred_root - gt_root) <= threshold).astype(jnp.float32)
    return _mean_over(hit * 100.0, valid)


# ----------------------------------------------------------------------------------------------
# CanonPose: correct poses
# ----------------------------------------------------------------------------------------------


def _max_pose_errors(pred, gt, valid, alignment):
    """Largest valid-joint error of each pose after alignment (metres), (...,)."""
    if alignment not in ("rigid", "procrustes"):
        raise ValueError(f"`alignment` must be 'rigid' or 'procrustes', got {alignment!r}")
    err = _joint_errors_m(pred, gt, valid, alignment, 0)
    return jnp.max(jnp.where(valid > 0, err, 0.0), axis=-1)


def correct_poses(pred, gt, threshold=0.150, mask=None, alignment="rigid"):
    """Which poses are correct at `threshold` (CanonPose CP@theta criterion).

    Protocol: each prediction is rigidly aligned to its ground truth (rotation + translation, no
    scale, no reflection, fitted on valid joints); the pose is correct if ALL its valid joints are
    within `threshold` (error <= threshold). `alignment="procrustes"` adds the scale.

    Args:
      pred: (..., N, 3) predicted joints, metres.
      gt: (..., N, 3) ground-truth joints, metres.
      threshold: metres.
      mask: optional validity mask broadcasting to (..., N).
      alignment: "rigid" (default, DESIGN 8) or "procrustes".

    Returns:
      (...,) bool, False for poses with no valid joint.
    """
    pred, gt, valid = _prepare(pred, gt, mask)
    max_err = _max_pose_errors(pred, gt, valid, alignment)
    return (max_err <= threshold) & (jnp.sum(valid, axis=-1) > 0)


def cp_curve(pred, gt, thresholds, mask=None, alignment="rigid"):
    """Fraction of correct poses CP(theta) for several thresholds (CanonPose), as fractions in [0, 1].

    Protocol: see `correct_poses`; CP(theta) = (#correct poses) / (#poses with a valid joint).
    Non-decreasing in theta.

    Args:
      pred: (..., N, 3) predicted joints, metres.
      gt: (..., N, 3) ground-truth joints, metres.
      thresholds: (K,) thresholds, metres (a scalar gives a scalar).
      mask: optional validity mask broadcasting to (..., N).
      alignment: "rigid" (default) or "procrustes".

    Returns:
      (K,) CP values as fractions (multiply by 100 for percent).
    """
    pred, gt, valid = _prepare(pred, gt, mask)
    thresholds = check_array(thresholds, "thresholds", (None,) * np.ndim(thresholds))
    if thresholds.ndim > 1:
        raise ValueError(f"`thresholds` must have shape (K,), got {tuple(thresholds.shape)}")
    max_err = _max_pose_errors(pred, gt, valid, alignment).reshape(-1)
    pose_ok = (jnp.sum(valid, axis=-1) > 0).reshape(-1).astype(jnp.float32)
    hit = (max_err[:, None] <= jnp.reshape(thresholds, (1, -1))).astype(jnp.float32)
    cp = jnp.sum(hit * pose_ok[:, None], axis=0) / jnp.maximum(jnp.sum(pose_ok), 1.0)
    return cp.reshape(thresholds.shape)


def cps(pred, gt, max_threshold=0.300, num_thresholds=300, mask=None, alignment="rigid"):
    """Correct Poses Score (CanonPose): area under CP(theta) for theta in [0, 300 mm], in mm.

    CP is taken as a fraction, so CPS is at most `max_threshold` in mm (300). The integral is the
    midpoint rule on `num_thresholds` equal bins: CPS = delta * sum_k CP((k - 1/2) * delta) with
    delta = max_threshold / num_thresholds (1 mm by default). A perfect prediction (every error below
    delta / 2 = 0.5 mm, float32 round-off included) scores exactly 300; the rule's error on a step
    function is at most delta / 2 per pose.

    Args:
      pred: (..., N, 3) predicted joints, metres.
      gt: (..., N, 3) ground-truth joints, metres.
      max_threshold: upper integration limit, metres.
      num_thresholds: number of midpoint samples.
      mask: optional validity mask broadcasting to (..., N).
      alignment: "rigid" (default) or "procrustes".

    Returns:
      Scalar CPS in mm, in [0, max_threshold * 1000].
    """
    pred, gt, valid = _prepare(pred, gt, mask)
    max_err = _max_pose_errors(pred, gt, valid, alignment)
    return cps_from_pose_errors(max_err, jnp.sum(valid, axis=-1) > 0, max_threshold, num_thresholds)


def pose_errors_for_cps(pred, gt, mask=None, alignment="rigid"):
    """Each pose's largest joint error after alignment (metres), (...,): what CP and CPS count.
    Lets evaluations collect poses batch by batch and score them at the end
    (`cps_from_pose_errors`). Poses with no valid joint give +inf (never correct)."""
    pred, gt, valid = _prepare(pred, gt, mask)
    max_err = _max_pose_errors(pred, gt, valid, alignment)
    return jnp.where(jnp.sum(valid, axis=-1) > 0, max_err, jnp.inf)


def cps_from_pose_errors(max_errors, valid=None, max_threshold=0.300, num_thresholds=300):
    """CPS (see `cps`) of poses given their largest aligned joint errors (metres, any shape);
    `valid` (same shape, bool) drops poses from the count; +inf errors count as wrong poses."""
    if int(num_thresholds) < 1:
        raise ValueError(f"`num_thresholds` must be a positive integer, got {num_thresholds}")
    err = jnp.reshape(jnp.asarray(max_errors, jnp.float32), (-1,))
    ok = jnp.ones_like(err) if valid is None else jnp.reshape(jnp.asarray(valid), (-1,)).astype(jnp.float32)
    delta = max_threshold / int(num_thresholds)
    thetas = ((np.arange(int(num_thresholds), dtype=np.float64) + 0.5) * delta).astype(np.float32)
    hit = (err[:, None] <= thetas[None, :]).astype(jnp.float32)
    cp = jnp.sum(hit * ok[:, None], axis=0) / jnp.maximum(jnp.sum(ok), 1.0)
    # mean * range rather than sum * delta: exactly max_threshold when every CP is 1.
    return jnp.mean(cp) * (max_threshold * _M_TO_MM)


# ----------------------------------------------------------------------------------------------
# VirtualPose: absolute root position
# ----------------------------------------------------------------------------------------------


def mrpe(pred_root, gt_root, mask=None):
    """Mean root position error (MRPE, RootNet / VirtualPose), in mm.

    Protocol: Euclidean distance between predicted and true root (pelvis) positions in camera space,
    no alignment, averaged over people/frames (the leading axes).

    Args:
      pred_root: (..., 3) predicted root positions in camera space, metres.
      gt_root: (..., 3) ground-truth root positions, metres.
      mask: optional validity mask broadcasting to pred_root.shape[:-1].

    Returns:
      Scalar MRPE, mm.
    """
    pred_root, gt_root = _check_pair(pred_root, gt_root, ("...", 3), "pred_root", "gt_root")
    valid = _check_mask(mask, pred_root.shape[:-1])
    return _mean_over(_norm(pred_root - gt_root) * _M_TO_MM, valid)


def mrpe_xyz(pred_root, gt_root, mask=None):
    """Per-axis mean root position errors (MRPE_x, MRPE_y, MRPE_z), in mm.

    Protocol: mean absolute difference of each camera-space coordinate of the root (x right, y down,
    z forward/depth), averaged over people/frames.

    Args:
      pred_root: (..., 3) predicted root positions in camera space, metres.
      gt_root: (..., 3) ground-truth root positions, metres.
      mask: optional validity mask broadcasting to pred_root.shape[:-1].

    Returns:
      (3,) [MRPE_x, MRPE_y, MRPE_z], mm.
    """
    pred_root, gt_root = _check_pair(pred_root, gt_root, ("...", 3), "pred_root", "gt_root")
    valid = _check_mask(mask, pred_root.shape[:-1])
    diff = jnp.abs(pred_root - gt_root).reshape(-1, 3) * _M_TO_MM
    v = valid.reshape(-1, 1)
    return jnp.sum(diff * v, axis=0) / jnp.maximum(jnp.sum(v), 1.0)


# ----------------------------------------------------------------------------------------------
# Pooled regressor: global translation and static camera
# ----------------------------------------------------------------------------------------------


def translation_error(pred_t, gt_t, mask=None):
    """Error of the height-normalised global root translation (pooled regressor), x1000.

    Protocol: Euclidean distance between predicted and true root translations, both expressed in the
    height-normalised frame (the person rescaled to the reference height, so that the monocular scale
    ambiguity is removed), averaged over frames, then sequences. The inputs are in metres of that
    frame, so the result is in millimetres of the height-normalised frame (equivalently 1e-3 units
    of normalised length; divide by 1000 for metres).

    Args:
      pred_t: (..., 3) predicted height-normalised root translations (e.g. (B, T, 3)).
      gt_t: (..., 3) ground-truth height-normalised root translations.
      mask: optional validity mask broadcasting to pred_t.shape[:-1] (e.g. valid frames).

    Returns:
      Scalar mean translation error, mm in the height-normalised frame.
    """
    pred_t, gt_t = _check_pair(pred_t, gt_t, ("...", 3), "pred_t", "gt_t")
    valid = _check_mask(mask, pred_t.shape[:-1])
    return _mean_over(_norm(pred_t - gt_t) * _M_TO_MM, valid)


CAMERA_FIELDS = ("pitch", "roll", "height", "fov")


def camera_errors(pred, gt, mask=None):
    """Static-camera errors of the pooled regressor: |dFoV|, |dpitch|, |droll| (deg), |dheight| (mm).

    Protocol: absolute differences averaged over the leading axes (sequences). Pitch and roll
    differences are wrapped to [-180, 180) degrees first; FoV (horizontal) and height are not.

    Args:
      pred: (..., 4) predicted cameras, columns `CAMERA_FIELDS` = (pitch [rad], roll [rad],
        height above ground [m], horizontal FoV [rad]).
      gt: (..., 4) ground-truth cameras, same layout.
      mask: optional validity mask broadcasting to pred.shape[:-1].

    Returns:
      dict with scalar entries "fov" (deg), "pitch" (deg), "roll" (deg), "height" (mm).
    """
    pred, gt = _check_pair(pred, gt, ("...", 4))
    valid = _check_mask(mask, pred.shape[:-1])
    d = pred - gt
    deg = 180.0 / np.pi
    return {
        "fov": _mean_over(jnp.abs(d[..., 3]) * deg, valid),
        "pitch": _mean_over(jnp.abs(_wrap_angle(d[..., 0])) * deg, valid),
        "roll": _mean_over(jnp.abs(_wrap_angle(d[..., 1])) * deg, valid),
        "height": _mean_over(jnp.abs(d[..., 2]) * _M_TO_MM, valid),
    }
