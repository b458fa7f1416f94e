"""Procrustes alignment of point sets (similarity and rigid), batched over leading axes.

The closed form is Umeyama's (1991): centre both sets on their (weighted) centroids, take the SVD of
the 3x3 cross-covariance, and flip the sign of the last singular direction when the best orthogonal
map would be a reflection, so the rotation always has det(R) = +1. A mirrored pose therefore keeps a
positive error instead of being "fixed" by a reflection.

Convention: `target ≈ scale * pred @ R.T + t`, i.e. each point p maps to `scale * R p + t`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from posejax._checks import check_array

# Below this (squared metres, after weighting) a point set has no spread: nothing to rotate or scale.
_TINY = 1e-12


def _det3(m):
    """Determinant of (..., 3, 3) matrices via the scalar triple product (cheap, batched)."""
    return jnp.sum(m[..., 0, :] * jnp.cross(m[..., 1, :], m[..., 2, :]), axis=-1)


def _validate(pred, target, weights):
    pred = check_array(pred, "pred", ("...", None, 3))
    target = check_array(target, "target", ("...", None, 3))
    if pred.shape != target.shape:
        raise ValueError(
            f"`pred` and `target` must have the same shape (..., N, 3), got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}")
    n = pred.shape[-2]
    if weights is None:
        weights = jnp.ones(pred.shape[:-1], jnp.float32)
    else:
        weights = check_array(weights, "weights", ("...", n))
        try:
            weights = jnp.broadcast_to(weights, pred.shape[:-1])
        except ValueError as e:
            raise ValueError(
                f"`weights` must broadcast to {tuple(pred.shape[:-1])} (the points of `pred`), "
                f"got {tuple(weights.shape)}") from e
    return pred, target, weights


# Jitted so that eager (unjitted) callers such as metric evaluation run one fused kernel instead of
# dispatching every small op separately.
@functools.partial(jax.jit, static_argnames="with_scale")
def _umeyama(pred, target, weights, with_scale: bool):
    """Shared core: returns (scale, R, t) with scale = 1 when `with_scale` is False."""
    w_sum = jnp.sum(weights, axis=-1, keepdims=True)
    # All-zero weights leave w = 0 everywhere: centroids 0, covariance 0, R = I, no NaN.
    w = weights / jnp.where(w_sum > 0, w_sum, 1.0)
    mu_p = jnp.einsum("...n,...nd->...d", w, pred)
    mu_t = jnp.einsum("...n,...nd->...d", w, target)
    x = pred - mu_p[..., None, :]
    y = target - mu_t[..., None, :]
    cov = jnp.einsum("...n,...ni,...nj->...ij", w, y, x)  # Sigma_{target, pred}
    u, sing, vt = jnp.linalg.svd(cov)
    # Reflection fix: negate the weakest direction so that det(U D Vt) = +1.
    d_last = jnp.where(_det3(u) * _det3(vt) < 0, -1.0, 1.0)
    d = jnp.concatenate([jnp.ones_like(sing[..., :2]), d_last[..., None]], axis=-1)
    rot = jnp.einsum("...ij,...j,...jk->...ik", u, d, vt)
    if with_scale:
        var_p = jnp.einsum("...n,...nd,...nd->...", w, x, x)
        ok = var_p > _TINY
        scale = jnp.where(ok, jnp.sum(sing * d, axis=-1) / jnp.where(ok, var_p, 1.0), 0.0)
    else:
        scale = jnp.ones(pred.shape[:-2], pred.dtype)
    t = mu_t - scale[..., None] * jnp.einsum("...ij,...j->...i", rot, mu_p)
    return scale, rot, t


def _apply(pred, scale, rot, t):
    return scale[..., None, None] * jnp.einsum("...ij,...nj->...ni", rot, pred) + t[..., None, :]


def similarity_procrustes(pred, target, weights=None):
    """Best similarity transform (rotation, translation, positive scale) mapping `pred` onto `target`.

    Minimises sum_n w_n ||scale * R pred_n + t - target_n||^2 over rotations R (det +1, never a
    reflection), translations t and scales >= 0 (Umeyama 1991). Degenerate input (all points equal,
    or all weights zero) yields scale 0 / R = I and no NaN.

    Args:
      pred: (..., N, 3) points to align (e.g. predicted joints, metres).
      target: (..., N, 3) reference points, same shape as `pred`.
      weights: optional (..., N) non-negative point weights (e.g. a 0/1 validity mask), broadcast
        against the batch axes of `pred`; None means all ones.

    Returns:
      aligned: (..., N, 3) `scale * pred @ R.T + t`.
      scale: (...,) optimal scale.
      R: (..., 3, 3) rotation, det(R) = +1.
      t: (..., 3) translation.

    Raises:
      ValueError: on bad shapes, mismatched `pred`/`target` shapes, or NaN/inf input.
    """
    pred, target, weights = _validate(pred, target, weights)
    scale, rot, t = _umeyama(pred, target, weights, with_scale=True)
    return _apply(pred, scale, rot, t), scale, rot, t


def rigid_procrustes(pred, target, weights=None):
    """Best rigid transform (rotation + translation, scale fixed to 1) mapping `pred` onto `target`.

    Same as `similarity_procrustes` without the scale: minimises
    sum_n w_n ||R pred_n + t - target_n||^2 with det(R) = +1.

    Args:
      pred: (..., N, 3) points to align (metres).
      target: (..., N, 3) reference points, same shape as `pred`.
      weights: optional (..., N) non-negative point weights; None means all ones.

    Returns:
      aligned: (..., N, 3) `pred @ R.T + t`.
      R: (..., 3, 3) rotation, det(R) = +1.
      t: (..., 3) translation.

    Raises:
      ValueError: on bad shapes, mismatched `pred`/`target` shapes, or NaN/inf input.
    """
    pred, target, weights = _validate(pred, target, weights)
    scale, rot, t = _umeyama(pred, target, weights, with_scale=False)
    return _apply(pred, scale, rot, t), rot, t
