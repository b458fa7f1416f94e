"""Robust reprojection losses for bundle adjustment (Arnab, Doersch, Zisserman, CVPR 2019).

All functions are pure `jax.numpy`, elementwise or reductions over fixed axes, so they work under
`jit`, `grad` and `vmap`. They never return NaN: keypoints with NaN or inf coordinates, NaN / inf /
zero / negative confidences are *masked* (they contribute exactly 0 and receive a zero gradient),
using the "double where" pattern so that no NaN leaks into the backward pass either.

Units: residuals are pixels; energies are pixels squared (times confidence).

Losses on a residual norm r >= 0 (both C1-continuous, with finite gradients everywhere):

  * `huber(r, delta)`: 0.5 r^2 for r <= delta, delta (r - 0.5 delta) above (quadratic, then linear).
  * `hinge_huber(r, margin=5, delta)`: `huber(max(r - margin, 0), delta)`: exactly 0 below `margin`
    pixels (the paper's hinge: keypoint detections are only accurate to a few pixels), quadratic
    just above it, linear far above it. Value and slope are 0 at r = margin, so it is C1.

The multi-person / outlier term (`outlier_robust_energy`) follows the paper's description as
summarised in DESIGN.md section 7 ("inner min over detections per frame, outer min with thresholds
tau_R, tau_I, constant loss for outliers"). Our interpretation, in formulas, for frame t with
per-detection reprojection energies E_R(t, p) and (optionally) the frame's initialisation-prior
energy E_I(t) (the 3D-joint prior towards the per-frame initialisation, "I" for initialisation):

    e_R(t) = min_p E_R(t, p)           over valid detections p (inner min; +inf if there are none)
    combine="joint"    (default):
        E(t) = min(e_R(t) + E_I(t),  tau_R + tau_I)          inlier(t) = e_R + E_I < tau_R + tau_I
    combine="separate":
        E(t) = min(e_R(t), tau_R) + min(E_I(t), tau_I)        inlier(t) = e_R < tau_R and E_I < tau_I

i.e. the outer min chooses, per frame, between "the person is one of the detections" (pay its
energy) and "this frame is an outlier" (pay a constant, zero gradient). tau_R is the per-frame
reprojection threshold (px^2, in the units of E_R: a frame whose best detection costs more than
tau_R is an outlier and contributes the constant tau_R), tau_I the matching threshold on the
initialisation prior (a frame whose 3D pose drifts far from its initialisation is switched off too
rather than dragging the fit). With "joint" an outlier frame drops both terms at once (the usual
case: a wrong detection gave a wrong initialisation); with `init_energy=None` both forms reduce to
E(t) = min(e_R(t), tau_R). Frames without any valid detection pay the constant and are flagged
outliers (their E_I is dropped in "joint" mode and kept in "separate" mode).
"""

from __future__ import annotations

from typing import Tuple

import jax.numpy as jnp

from posejax._checks import check_array

__all__ = ["safe_norm", "huber", "hinge_huber", "robust_reprojection_energy",
           "outlier_robust_energy", "HINGE_MARGIN_PX", "RESIDUAL_CLIP_PX"]

HINGE_MARGIN_PX = 5.0
# Residual components are clipped to +-RESIDUAL_CLIP_PX so that squared norms stay finite in float32
# (a residual of 1e15 px is already meaningless; beyond it the loss is flat).
RESIDUAL_CLIP_PX = 1e15
_KINDS = ("huber", "hinge", "l2")


def safe_norm(x, axis: int = -1, keepdims: bool = False):
    """Euclidean norm along `axis` whose gradient is 0 (not NaN) at x = 0.

    Args:
      x: array.
      axis: reduction axis.
      keepdims: keep the reduced axis.

    Returns:
      ||x|| along `axis`; exactly 0 where x is 0, with gradient 0 there and x / ||x|| elsewhere.
    """
    x = jnp.asarray(x)
    sq = jnp.sum(x * x, axis=axis, keepdims=keepdims)
    pos = sq > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, sq, 1.0)), 0.0)


def huber(r, delta: float = 10.0):
    """Huber loss of a residual norm (or signed residual): quadratic below `delta`, linear above.

    huber(r) = 0.5 r^2 for |r| <= delta, delta * (|r| - 0.5 delta) otherwise. Value and slope are
    continuous at |r| = delta (C1); the slope is bounded by delta.

    Args:
      r: residuals (pixels), any shape.
      delta: transition point (pixels), > 0.

    Returns:
      Loss of the same shape as r (pixels^2).
    """
    r = jnp.abs(jnp.asarray(r))
    quad = r <= delta
    rq = jnp.where(quad, r, 0.0)  # keeps the unused branch's gradient finite for huge r
    return jnp.where(quad, 0.5 * rq * rq, delta * (r - 0.5 * delta))


def hinge_huber(r, margin: float = HINGE_MARGIN_PX, delta: float = 10.0):
    """Hinge + Huber: exactly 0 for |r| <= margin, `huber(|r| - margin, delta)` above (C1).

    Args:
      r: residual norms (pixels), any shape.
      margin: dead zone (pixels); the paper uses 5 px.
      delta: Huber transition, measured from the margin (pixels).

    Returns:
      Loss of the same shape as r (pixels^2).
    """
    return huber(jnp.maximum(jnp.abs(jnp.asarray(r)) - margin, 0.0), delta)


def robust_reprojection_energy(residuals, confidence, kind: str = "huber", *, delta: float = 10.0,
                               margin: float = HINGE_MARGIN_PX):
    """Confidence-weighted robust reprojection energy per frame (the paper's E_R).

    E(..., t) = sum_k c[..., t, k] * rho(||residuals[..., t, k, :]||) over valid keypoints, with rho
    = `huber` (kind="huber"), `hinge_huber` (kind="hinge") or 0.5 r^2 (kind="l2").

    A keypoint is valid when both residual coordinates and its confidence are finite and the
    confidence is > 0; invalid keypoints contribute 0 and get zero gradient (NaN/inf never
    propagate, also not through `grad`). Residual components are clipped to +-1e15 px.

    For multi-person data pass residuals of shape (T, P, K, 2) and confidence (T, P, K): the
    result (T, P) holds the per-detection energies expected by `outlier_robust_energy`.

    Args:
      residuals: (..., T, K, 2) projected minus detected keypoints (pixels).
      confidence: (..., T, K) detection confidences (weights).
      kind: "huber", "hinge" or "l2".
      delta: Huber transition (pixels).
      margin: hinge dead zone (pixels), kind="hinge" only.

    Returns:
      (..., T) energies (pixels^2), finite.
    """
    if kind not in _KINDS:
        raise ValueError(f"`kind` must be one of {_KINDS}, got {kind!r}")
    residuals = check_array(residuals, "residuals", ("...", None, None, 2), finite=False)
    confidence = check_array(confidence, "confidence", ("...", None, None), finite=False)
    if confidence.shape != residuals.shape[:-1]:
        raise ValueError(f"`confidence` must have shape {tuple(residuals.shape[:-1])} (residuals' "
                         f"shape without the last axis), got {tuple(confidence.shape)}")
    valid = (jnp.all(jnp.isfinite(residuals), axis=-1) & jnp.isfinite(confidence)
             & (confidence > 0))
    res = jnp.clip(jnp.where(valid[..., None], residuals, 0.0), -RESIDUAL_CLIP_PX, RESIDUAL_CLIP_PX)
    conf = jnp.where(valid, confidence, 0.0)
    r = safe_norm(res, axis=-1)
    if kind == "huber":
        rho = huber(r, delta)
    elif kind == "hinge":
        rho = hinge_huber(r, margin, delta)
    else:
        rho = 0.5 * r * r
    return jnp.sum(conf * rho, axis=-1)


def outlier_robust_energy(per_detection_energy, valid, tau_R: float, tau_I: float = 0.0,
                          init_energy=None, combine: str = "joint"
                          ) -> Tuple[jnp.ndarray, jnp.ndarray]:
    """Multi-person, outlier-robust per-frame energy: inner min over detections, outer min with
    thresholds (see the module docstring for the exact formulas and our reading of the paper).

    Args:
      per_detection_energy: (T, P) reprojection energy of the model against each detection p of
        frame t (e.g. `robust_reprojection_energy` on (T, P, K, 2) residuals), pixels^2.
      valid: (T, P) bool, whether detection p exists in frame t (padding slots are False).
        Non-finite energies are treated as invalid detections.
      tau_R: reprojection threshold (units of the energy); a frame whose best valid detection costs
        more is an outlier and contributes a constant.
      tau_I: threshold on the initialisation prior `init_energy` (ignored when it is None).
      init_energy: optional (T,) per-frame initialisation-prior energy E_I; non-finite -> outlier.
      combine: "joint" (default: min(e_R + E_I, tau_R + tau_I)) or "separate"
        (min(e_R, tau_R) + min(E_I, tau_I)).

    Returns:
      (energy, inlier): (T,) finite per-frame energies and (T,) bool inlier flags. Frames with no
      valid detection are outliers and contribute the constant. Gradients flow only through the
      chosen detection of inlier frames.
    """
    if combine not in ("joint", "separate"):
        raise ValueError(f"`combine` must be 'joint' or 'separate', got {combine!r}")
    e = check_array(per_detection_energy, "per_detection_energy", ("...", None, None), finite=False)
    valid = jnp.asarray(valid, bool)
    if valid.shape != e.shape:
        raise ValueError(f"`valid` must have the shape of `per_detection_energy` {tuple(e.shape)}, "
                         f"got {tuple(valid.shape)}")
    ok = valid & jnp.isfinite(e)
    e_safe = jnp.where(ok, e, 0.0)
    e_R = jnp.min(jnp.where(ok, e_safe, jnp.inf), axis=-1)  # inner min; inf when no detection
    has_det = jnp.any(ok, axis=-1)
    tau_R = jnp.asarray(tau_R, jnp.float32)
    if init_energy is None:
        e_I = jnp.zeros_like(e_R)
        tau_I = jnp.float32(0.0)
        i_ok = jnp.ones_like(has_det)
    else:
        e_I = check_array(init_energy, "init_energy", tuple(e_R.shape), finite=False)
        i_ok = jnp.isfinite(e_I)
        e_I = jnp.where(i_ok, e_I, jnp.inf)
        tau_I = jnp.asarray(tau_I, jnp.float32)
    if combine == "joint" or init_energy is None:
        total = jnp.where(has_det & i_ok, e_R + e_I, jnp.inf)
        inlier = total < tau_R + tau_I
        energy = jnp.where(inlier, jnp.where(inlier, total, 0.0), tau_R + tau_I)
    else:
        in_R = has_det & (e_R < tau_R)
        in_I = i_ok & (e_I < tau_I)
        energy = (jnp.where(in_R, jnp.where(in_R, e_R, 0.0), tau_R)
                  + jnp.where(in_I, jnp.where(in_I, e_I, 0.0), tau_I))
        inlier = in_R & in_I
    return energy, inlier
