"""The static camera of a whole sequence, fitted to its 2D keypoints from a known 3D body.

The pooled regressor predicts the camera's pitch, roll, height and FoV and the pelvis track, but
each of them from pooled features: the camera height comes out as the product of a predicted
depth and angles, and its error grows with the subject's distance. The sequence itself holds the
geometry that fixes it: a person walking on the ground is a vertical object of known size moving
over a plane, seen under one camera. `fit_static_camera` solves for it:

  unknowns: the camera (pitch, roll, log height, and log tan(hfov / 2) when
    `StaticCameraPriors.fit_fov`) and, per frame, where the pelvis appears (a = x / z /
    tan(hfov / 2), as in `posejax.geometry.static_view`) and its log depth; the pelvis's third
    camera coordinate follows from the constraint that its world height above the ground is the
    given one (`pelvis_height`, e.g. the regressor's), so every frame ties the ground plane to
    the camera;
  fixed: the body's keypoints relative to the pelvis as the camera sees them (the regressor's
    pose and HN shape, orientation relative to the camera: what the 2D evidence determines);
  energy: confidence-weighted Huber reprojection error of every keypoint, in units of the
    person's size in the image (so near and far frames count alike), plus Gaussian priors on the
    camera parameters around a start (the regressor's camera), which settle what the sequence
    leaves open (e.g. pitch against height when the subject keeps one distance).

Why the camera-relative orientation is held by default rather than the world one: the tilt of
the body relative to the camera is what its 2D pose shows; the tilt of the world is what the
camera fit is for. Held in the world frame (`body_in_world`), a body leaning by a few degrees in
the regressor's output pulls the pitch by as much (on held-out sequences the two modes gave the
same mean height error, the world mode a larger pitch error; README, "Camera refinement").

Solver: Levenberg-Marquardt with iteratively reweighted Huber residuals, using the problem's
structure (2 unknowns per frame, 4 shared): the per-frame blocks are eliminated (Schur complement),
so one iteration costs O(T), and it stops once a step lowers the energy by less than a relative
1e-7. Lengths are padded to a multiple of 64 frames, so sequences of similar length share one
compilation.

Units: pixels for keypoints, radians for angles, height-normalised metres (or any metric unit
the body is given in) for heights and positions.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from posejax.fitting.robust import huber, safe_norm
from posejax.geometry.cameras import _static_rotation

_BUCKET = 64  # frames; see the module docstring


@dataclasses.dataclass(frozen=True)
class StaticCameraPriors:
    """Gaussian priors of `fit_static_camera` around the start camera (standard deviations).

    Attributes:
      pitch_deg, roll_deg: degrees.
      log_height: of the camera height (0.3 = a factor of 1.35 at one sigma).
      log_tan_half_fov: of tan(hfov / 2) (0.12: about 6 degrees of FoV at 55 degrees).
      weight: how much the priors count against the reprojection term (the mean over keypoints
        of Huber(r) / delta^2, about (r / delta)^2 / 2): a camera parameter one sigma away costs
        `weight / 2`. Small, because the reprojection residuals are correlated over frames (the
        body is the same estimate in every frame) rather than independent; chosen on held-out
        synthetic sequences (README, "Camera refinement").
      fit_fov: whether the FoV is fitted too (else it stays at the start). Off by default: with a
        body estimate of ~100 mm error the FoV goes wherever the perspective distortion of the
        wrong pose fits best, and the height with it; held, a wrong FoV costs the height little at
        the low pitches of everyday footage (a wrong focal length scales the depths, which turns
        the ground plane about the camera rather than moving it away; the steeper the view, the
        more it matters). Measured on held-out sequences in the README ("Camera refinement").
    """

    pitch_deg: float = 2.5
    roll_deg: float = 1.0
    log_height: float = 0.3
    log_tan_half_fov: float = 0.12
    weight: float = 0.01
    fit_fov: bool = False

    def free(self) -> np.ndarray:
        """(4,) 1 for the camera parameters that are fitted, 0 for those held at the start."""
        return np.array([1.0, 1.0, 1.0, 1.0 if self.fit_fov else 0.0], np.float32)

    def sigmas(self) -> np.ndarray:
        """(4,) the standard deviations in the solver's units (radians, log units)."""
        return np.array([np.deg2rad(self.pitch_deg), np.deg2rad(self.roll_deg), self.log_height,
                         self.log_tan_half_fov], np.float64)


@dataclasses.dataclass(frozen=True)
class StaticCameraFit:
    """Result of `fit_static_camera` (numpy).

    Attributes:
      camera: (4,) pitch (rad), roll (rad), height (body units above the ground), hfov (rad).
      pelvis: (T, 3) world pelvis positions (Y = the given pelvis heights).
      pelvis_view: (T, 3) the pelvis as the camera sees it (`static_view`: a, b, log depth).
      cost: final energy (reprojection + priors).
      start_cost: the energy at the start.
      iterations: Levenberg-Marquardt iterations run.
      rms_size: root-mean-square reprojection error of the confident keypoints at the end, as a
        fraction of the person's size in the image.
    """

    camera: np.ndarray
    pelvis: np.ndarray
    pelvis_view: np.ndarray
    cost: float
    start_cost: float
    iterations: int
    rms_size: float


def _pelvis_camera(frame, cam, pelvis_height):
    """(a, log z) + camera + pelvis world height -> pelvis in camera coordinates (3,)."""
    pitch, roll, log_h, log_t = cam[0], cam[1], cam[2], cam[3]
    rot = _static_rotation(pitch, roll)
    z = jnp.exp(frame[1])
    x = frame[0] * jnp.exp(log_t) * z
    # World Y of a camera point p is height + (R^T p)_y = height + sum_i R[i, 1] p_i; solve for p_y.
    y = (pelvis_height - jnp.exp(log_h) - rot[0, 1] * x - rot[2, 1] * z) / rot[1, 1]
    return jnp.stack([x, y, z]), rot


def _frame_residuals(frame, cam, body, pelvis_height, keypoints, scale, half_width, centre, body_in_world):
    """Scaled reprojection residuals (K, 2) of one frame."""
    pelvis, rot = _pelvis_camera(frame, cam, pelvis_height)
    points = pelvis + (body @ rot.T if body_in_world else body)               # (K, 3)
    depth = jnp.maximum(points[:, 2:3], 1e-3)
    focal = half_width / jnp.exp(cam[3])
    pixels = focal * points[:, :2] / depth + centre
    return (pixels - keypoints) * scale


def _huber_weights(residuals, delta):
    """IRLS weights (..., K) of `robust.huber` on each keypoint's 2D residual norm."""
    norm = safe_norm(residuals)
    return jnp.where(norm <= delta, 1.0, delta / jnp.maximum(norm, delta))


@functools.partial(jax.jit, static_argnames=("iterations", "image_size", "body_in_world"))
def _solve(frames, cam, body, pelvis_height, keypoints, confidence, scale, prior_mean, prior_precision,
           free, data_weight, delta, *, iterations, image_size, body_in_world):
    half_width = 0.5 * image_size[0]
    centre = 0.5 * jnp.asarray(image_size, jnp.float32)
    residuals = functools.partial(_frame_residuals, body_in_world=body_in_world)
    res_fn = jax.vmap(residuals, in_axes=(0, None, 0, 0, 0, 0, None, None))

    def with_value(*a):                       # the residuals ride along as jacfwd's aux output
        r = residuals(*a)
        return r, r

    jac_fn = jax.vmap(jax.jacfwd(with_value, argnums=(0, 1), has_aux=True),
                      in_axes=(0, None, 0, 0, 0, 0, None, None))
    args = lambda f, c: (f, c, body, pelvis_height, keypoints, scale[:, None, None], half_width, centre)  # noqa: E731

    def cost(f, c):
        r = res_fn(*args(f, c))
        data = data_weight * jnp.sum(confidence * huber(safe_norm(r), delta))
        d = c - prior_mean
        return data + 0.5 * jnp.sum(prior_precision * d * d)

    def step(carry):
        f, c, lam, current, done, it = carry
        (jf, jc), r = jac_fn(*args(f, c))                          # (T,K,2,2), (T,K,2,4); r (T,K,2)
        jc = jc * free                                       # held parameters: no gradient, no step
        w = data_weight * confidence * _huber_weights(r, delta)                # (T, K)
        # Normal equations, blocks: A_t (2x2) per frame, B_t (2x4), D (4x4); gradients g_f, g_c.
        a = jnp.einsum("tk,tkri,tkrj->tij", w, jf, jf)
        b = jnp.einsum("tk,tkri,tkrj->tij", w, jf, jc)
        d = jnp.einsum("tk,tkri,tkrj->ij", w, jc, jc) + jnp.diag(prior_precision)
        g_f = jnp.einsum("tk,tkri,tkr->ti", w, jf, r)
        g_c = jnp.einsum("tk,tkri,tkr->i", w, jc, r) + free * prior_precision * (c - prior_mean)
        a_damped = a + lam * (jnp.eye(2) * (jnp.trace(a, axis1=1, axis2=2)[:, None, None] * 0.5 + 1e-9))
        d_damped = d + lam * jnp.diag(jnp.diag(d) + 1e-9)
        a_inv = jnp.linalg.inv(a_damped)
        a_inv_b = a_inv @ b                                                    # (T, 2, 4)
        schur = d_damped - jnp.einsum("tji,tjk->ik", b, a_inv_b)
        rhs = g_c - jnp.einsum("tji,tj->i", b, jnp.einsum("tij,tj->ti", a_inv, g_f))
        delta_c = -jnp.linalg.solve(schur, rhs)
        delta_f = -jnp.einsum("tij,tj->ti", a_inv, g_f + jnp.einsum("tij,j->ti", b, delta_c))
        f_new, c_new = f + delta_f, c + delta_c
        new = cost(f_new, c_new)
        better = jnp.isfinite(new) & (new < current) & ~done
        f = jnp.where(better, f_new, f)
        c = jnp.where(better, c_new, c)
        # Converged when a step no longer lowers the energy by a relative 1e-7.
        done = done | (better & (current - new < 1e-7 * current)) | (lam > 1e8)
        lam = jnp.where(better, lam / 3.0, lam * 4.0)
        return f, c, lam, jnp.where(better, new, current), done, it + 1

    start = cost(frames, cam)
    f, c, _, final, _, used = jax.lax.while_loop(
        lambda carry: ~carry[4] & (carry[5] < iterations), step,
        (frames, cam, jnp.float32(1e-3), start, jnp.bool_(False), jnp.int32(0)))
    r = res_fn(*args(f, c))
    pelvis = jax.vmap(_pelvis_camera, in_axes=(0, None, 0))(f, c, pelvis_height)[0]
    return f, c, start, final, used, r, pelvis


def fit_static_camera(keypoints, confidence, body, pelvis_height, camera, pelvis_view, *,
                      image_size, priors: StaticCameraPriors = StaticCameraPriors(),
                      keypoint_weights=None, body_in_world: bool = False, huber_fraction: float = 0.02,
                      iterations: int = 60) -> StaticCameraFit:
    """Fits the static camera and the pelvis track of one sequence (module docstring).

    Args:
      keypoints: (T, K, 2) detections, pixels; NaN for missing.
      confidence: (T, K) in [0, 1]; zero (or a NaN keypoint) removes a point.
      body: (T, K, 3) the body's keypoints minus its pelvis, in the camera's axes (x right, y down,
        z forward), in the units of the heights (height-normalised metres for the regressor).
      pelvis_height: (T,) the pelvis's height above the ground, same units.
      camera: (4,) start and prior mean: pitch (rad), roll (rad), height, hfov (rad).
      pelvis_view: (T, 3) start of the pelvis track (`static_view`: a, b, log depth); b is
        ignored (it follows from the ground constraint).
      image_size: (W, H) pixels.
      priors: `StaticCameraPriors`.
      body_in_world: `body` is given in the world's axes (Y up) instead of the camera's, and
        turns with the fitted pitch and roll.
      keypoint_weights: optional (K,) weights multiplying the confidences (e.g. 0 for the
        points a body estimate gets worst).
      huber_fraction: the Huber threshold as a fraction of the person's size in the image.
      iterations: at most this many Levenberg-Marquardt iterations (it stops earlier when the
        energy no longer falls).

    Returns:
      StaticCameraFit.

    Raises:
      ValueError: on mismatched shapes, a non-finite start, or fewer than 2 frames with keypoints.
    """
    kp = np.asarray(keypoints, np.float32)
    conf = np.asarray(confidence, np.float32)
    body = np.asarray(body, np.float32)
    pelvis_height = np.asarray(pelvis_height, np.float32)
    camera = np.asarray(camera, np.float64)
    pelvis_view = np.asarray(pelvis_view, np.float32)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"`keypoints` must be (T, K, 2), got {kp.shape}")
    t, k = kp.shape[:2]
    for name, value, shape in (("confidence", conf, (t, k)), ("body", body, (t, k, 3)),
                               ("pelvis_height", pelvis_height, (t,)), ("camera", camera, (4,)),
                               ("pelvis_view", pelvis_view, (t, 3))):
        if value.shape != shape:
            raise ValueError(f"`{name}` must have shape {shape}, got {value.shape}")
    if not (np.all(np.isfinite(camera)) and np.all(np.isfinite(pelvis_view)) and np.all(np.isfinite(body))
            and np.all(np.isfinite(pelvis_height))):
        raise ValueError("the start (camera, pelvis_view, body, pelvis_height) must be finite")
    if camera[2] <= 0 or not 0 < camera[3] < np.pi:
        raise ValueError(f"the start camera needs height > 0 and 0 < hfov < pi, got {camera}")
    if keypoint_weights is not None:
        weights = np.asarray(keypoint_weights, np.float32)
        if weights.shape != (k,):
            raise ValueError(f"`keypoint_weights` must have shape {(k,)}, got {weights.shape}")
        conf = conf * weights
    valid = np.isfinite(kp).all(-1) & np.isfinite(conf) & (conf > 0)
    conf = np.where(valid, conf, 0.0).astype(np.float32)
    kp = np.where(valid[..., None], kp, 0.0).astype(np.float32)
    # The person's size per frame: the vertical extent of its valid keypoints (frames without
    # any take the median, they carry no residuals anyway).
    rows = np.where(valid, kp[..., 1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)                       # all-NaN frames
        size = np.nanmax(rows, 1) - np.nanmin(rows, 1)
    seen = np.isfinite(size) & (valid.sum(1) >= 2)
    if seen.sum() < 2:
        raise ValueError("fit_static_camera needs at least 2 frames with 2 or more valid keypoints")
    size = np.where(seen, np.maximum(size, 1.0), np.median(size[seen])).astype(np.float32)

    sig = priors.sigmas()
    start_cam = np.array([camera[0], camera[1], np.log(camera[2]), np.log(np.tan(0.5 * camera[3]))], np.float32)
    frames0 = pelvis_view[:, [0, 2]].astype(np.float32)
    # The data term is the confidence-weighted mean over keypoints of Huber(r) / delta^2 (about
    # (r / delta)^2 / 2 for small r), so that `priors.weight` means the same for any T and K.
    data_weight = np.float32(1.0 / (max(float(conf.sum()), 1e-6) * huber_fraction ** 2))
    # Padded frames (up to a multiple of `_BUCKET`) carry no residuals.
    pad = -t % _BUCKET
    edge = lambda x: np.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1), mode="edge")  # noqa: E731
    zero = lambda x: np.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1))  # noqa: E731
    f, c, start, final, used, r, pelvis_cam = _solve(
        jnp.asarray(edge(frames0)), jnp.asarray(start_cam), jnp.asarray(edge(body)), jnp.asarray(edge(pelvis_height)),
        jnp.asarray(zero(kp)), jnp.asarray(zero(conf)), jnp.asarray(edge(1.0 / size)), jnp.asarray(start_cam),
        jnp.asarray(priors.weight / (sig * sig), jnp.float32), jnp.asarray(priors.free()), data_weight,
        np.float32(huber_fraction), iterations=int(iterations), image_size=tuple(int(v) for v in image_size),
        body_in_world=bool(body_in_world))
    c, r, pelvis_cam = np.asarray(c, np.float64), np.asarray(r)[:t], np.asarray(pelvis_cam, np.float64)[:t]
    cam_out = np.array([c[0], c[1], np.exp(c[2]), 2.0 * np.arctan(np.exp(c[3]))])
    rot = np.asarray(_static_rotation(jnp.float32(c[0]), jnp.float32(c[1])), np.float64)
    pelvis = pelvis_cam @ rot + np.array([0.0, cam_out[2], 0.0])                # R^T p + centre
    view = np.concatenate([pelvis_cam[:, :2] / (pelvis_cam[:, 2:3] * np.tan(0.5 * cam_out[3])),
                           np.log(pelvis_cam[:, 2:3])], -1)
    err = np.sum(r * r, -1)
    rms = float(np.sqrt(np.sum(np.where(valid, err, 0.0)) / max(valid.sum(), 1)))
    return StaticCameraFit(camera=cam_out, pelvis=pelvis.astype(np.float32), pelvis_view=view.astype(np.float32),
                           cost=float(final), start_cost=float(start), iterations=int(used), rms_size=rms)
