"""Multi-view triangulation: weighted DLT with optional Gauss-Newton refinement.

Each view c contributes the two linear equations `u P3 - P1 = 0`, `v P3 - P2 = 0` in the homogeneous
point (DLT, Hartley & Zisserman ch. 12). Conditioning for float32:
  * every equation row is scaled to unit norm, so pixel magnitudes and projection-matrix scale do
    not matter;
  * the 3D frame is centred on the mean camera centre and scaled by the cameras' spread, so a scene
    far from the world origin does not make the homogeneous coordinate tiny.
Rows are then weighted by sqrt(confidence) and the null vector is the last right singular vector.
The optional refinement minimises `sum_c w_c |project_c(X) - x_c|^2` (pixels) with a few damped
Gauss-Newton steps, each accepted only if it lowers that cost.
"""

from __future__ import annotations

import functools
from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

from posejax._checks import check_array, format_shape, is_concrete
from posejax.geometry.cameras import PerspectiveCamera, StaticCamera, static_to_perspective


def _as_float(x, name, shape, finite=True):
    x = check_array(x, name, shape, dtype=None, finite=finite)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def projection_matrix(camera) -> jax.Array:
    """`P = K [R | t]`, mapping homogeneous world points to homogeneous pixels.

    Args:
      camera: PerspectiveCamera (or StaticCamera) with batch shape (...).

    Returns:
      (..., 3, 4) projection matrices.
    """
    if isinstance(camera, StaticCamera):
        camera = static_to_perspective(camera)
    if not isinstance(camera, PerspectiveCamera):
        raise ValueError(f"`camera` must be a PerspectiveCamera, got {type(camera).__name__}")
    K = _as_float(camera.K, "camera.K", ("...", 3, 3))
    R = _as_float(camera.R, "camera.R", ("...", 3, 3))
    t = _as_float(camera.t, "camera.t", ("...", 3))
    Rt = jnp.concatenate([R, t[..., :, None]], axis=-1)
    return K @ Rt


def _row_normalize(x, axis=-1):
    n2 = jnp.sum(x * x, axis=axis, keepdims=True)
    return x / jnp.sqrt(jnp.maximum(n2, 1e-30))


def _solve3(A, b):
    """Solves A x = b for batched 3x3 A (..., 3, 3), b (..., 3) by the adjugate.

    Closed form instead of `jnp.linalg.solve`: the systems here are tiny, and the LU-based solver
    costs far more to compile than to run. Callers ensure A is well away from singular.
    """
    c0, c1, c2 = A[..., :, 0], A[..., :, 1], A[..., :, 2]
    r0, r1, r2 = jnp.cross(c1, c2), jnp.cross(c2, c0), jnp.cross(c0, c1)  # rows of adj(A)
    det = jnp.sum(c0 * r0, axis=-1)
    adj_b = jnp.stack([jnp.sum(r0 * b, -1), jnp.sum(r1 * b, -1), jnp.sum(r2 * b, -1)], -1)
    return adj_b / det[..., None]


def _conditioning_transform(P):
    """4x4 T (batch (*b)) with world X = T X': origin at the mean camera centre, unit spread."""
    M, p4 = P[..., :3], P[..., 3]
    # Guard singular M (e.g. affine cameras): fall back to the identity transform.
    det = jnp.sum(M[..., :, 0] * jnp.cross(M[..., :, 1], M[..., :, 2]), axis=-1)
    ok = jnp.abs(det) > 1e-12 * jnp.maximum(jnp.sum(M * M, axis=(-1, -2)), 1e-30) ** 1.5
    M_safe = jnp.where(ok[..., None, None], M, jnp.eye(3, dtype=M.dtype))
    centres = -_solve3(M_safe, p4)  # (C, *b, 3): P [c; 1] = 0
    all_ok = jnp.all(ok, axis=0)
    mean = jnp.mean(centres, axis=0)
    spread = jnp.mean(jnp.sqrt(jnp.sum((centres - mean) ** 2, axis=-1) + 1e-30), axis=0)
    mean = jnp.where(all_ok[..., None], mean, 0.0)
    scale = jnp.where(all_ok & (spread > 1e-6), spread, 1.0)
    T = jnp.zeros(mean.shape[:-1] + (4, 4), P.dtype)
    T = T.at[..., :3, :3].set(scale[..., None, None] * jnp.eye(3, dtype=P.dtype))
    T = T.at[..., :3, 3].set(mean).at[..., 3, 3].set(1.0)
    return T, mean, scale


def _dlt(P, x, w, valid):
    """P (C, ..., N, 3, 4) (broadcast), x (C, ..., N, 2), w (C, ..., N) -> X (..., N, 3)."""
    rows = jnp.stack([x[..., 0:1] * P[..., 2, :] - P[..., 0, :],
                      x[..., 1:2] * P[..., 2, :] - P[..., 1, :]], axis=-2)  # (C, ..., N, 2, 4)
    # sqrt only where w > 0 keeps the gradient with respect to the weights finite.
    pos = w > 0
    sqrt_w = jnp.where(pos, jnp.sqrt(jnp.where(pos, w, 1.0)), 0.0)
    rows = _row_normalize(rows) * sqrt_w[..., None, None]
    num_views = rows.shape[0]
    A = jnp.moveaxis(rows, 0, -3)  # (..., N, C, 2, 4)
    A = A.reshape(A.shape[:-3] + (2 * num_views, 4))
    # Under-determined points get a dummy system with distinct singular values and null vector
    # (0, 0, 0, 1): keeps the SVD (and its gradient) finite, and the result is masked anyway.
    dummy = jnp.zeros((2 * num_views, 4), A.dtype)
    dummy = dummy.at[:3, :3].set(jnp.diag(jnp.array([3.0, 2.0, 1.0], A.dtype)))
    A = jnp.where(valid[..., None, None], A, dummy)
    _, _, vh = jnp.linalg.svd(A, full_matrices=False)
    X_h = vh[..., -1, :]
    h = X_h[..., 3:]
    h = jnp.where(jnp.abs(h) < 1e-12, jnp.where(h < 0, -1e-12, 1e-12), h)
    return X_h[..., :3] / h


def _reprojection(P, X):
    """P (C, ..., N, 3, 4), X (..., N, 3) -> pixels (C, ..., N, 2), d pixels / dX (..., 2, 3)."""
    p = (P[..., :3] @ X[..., None])[..., 0] + P[..., 3]
    # P rows are scaled so that P3[:3] is a unit vector: p[2] is the depth in normalised units.
    z = jnp.maximum(p[..., 2], 1e-6)
    uv = p[..., :2] / z[..., None]
    J = (P[..., :2, :3] - uv[..., :, None] * P[..., 2:3, :3]) / z[..., None, None]
    return uv, J


def _refine(P, x, w, X, valid, num_iterations):
    def cost(X):
        uv, _ = _reprojection(P, X)
        return jnp.sum(w * jnp.sum((uv - x) ** 2, axis=-1), axis=0)

    def step(_, X):
        uv, J = _reprojection(P, X)
        r = uv - x  # (C, ..., N, 2)
        H = jnp.sum(w[..., None, None] * jnp.einsum("...ki,...kj->...ij", J, J), axis=0)
        g = jnp.sum(w[..., None] * jnp.einsum("...ki,...k->...i", J, r), axis=0)
        # Levenberg-style damping relative to the curvature keeps near-singular H solvable.
        damp = 1e-6 * jnp.trace(H, axis1=-2, axis2=-1)[..., None, None] + 1e-12
        eye = jnp.eye(3, dtype=H.dtype)
        # Points seen by < 2 views take no step: a harmless system keeps gradients finite.
        H = jnp.where(valid[..., None, None], H + damp * eye, eye)
        g = jnp.where(valid[..., None], g, 0.0)
        delta = -_solve3(H, g)
        X_new = X + delta
        better = cost(X_new) < cost(X)
        return jnp.where(better[..., None], X_new, X)

    return jax.lax.fori_loop(0, num_iterations, step, X)


def triangulate(points2d, cameras, weights=None, refine: bool = False,
                num_iterations: int = 5) -> Tuple[jax.Array, jax.Array]:
    """Triangulates 3D points from C >= 2 calibrated views.

    Args:
      points2d: (C, ..., N, 2) pixels. Non-finite entries (NaN for a missing detection) are treated
        as unseen (weight 0).
      cameras: PerspectiveCamera (or StaticCamera) with batch shape (C,) or (C, ...), or projection
        matrices (C, 3, 4) or (C, ..., 3, 4); the dims after C broadcast against the points' (...).
      weights: optional (C, ..., N) non-negative confidences (broadcastable); 0 = not seen. A view's
        squared error is weighted by its confidence.
      refine: if True, polish the DLT solution with `num_iterations` Gauss-Newton steps on the
        weighted pixel reprojection error.
      num_iterations: refinement steps (static).

    Returns:
      points3d: (..., N, 3) world points, metres; zeros where not valid.
      valid: (..., N) bool, True where at least two views have positive weight.

    Raises:
      ValueError: on malformed shapes, fewer than two views, or negative / non-finite weights.
    """
    x = _as_float(points2d, "points2d", ("...", None, 2), finite=False)
    if x.ndim < 3:
        raise ValueError(f"`points2d` must have shape (C, ..., N, 2), got {tuple(x.shape)}")
    num_views = x.shape[0]
    if num_views < 2:
        raise ValueError(f"`points2d` must hold at least 2 views (C >= 2), got C = {num_views}")
    batch = x.shape[1:-2]

    if isinstance(cameras, (PerspectiveCamera, StaticCamera)):
        P = projection_matrix(cameras)
    else:
        P = _as_float(cameras, "cameras", ("...", 3, 4))
    b = P.shape[1:-2] if P.ndim >= 3 else None
    if P.ndim < 3 or P.shape[0] != num_views or len(b) > len(batch) or not _broadcastable(b, batch):
        raise ValueError(
            f"`cameras` must have leading dim C = {num_views} (projection matrices of shape "
            f"{format_shape((num_views,) + batch + (3, 4))} or (C, 3, 4), or a camera with batch "
            f"(C, ...)), got {tuple(P.shape)}")

    if weights is None:
        w = jnp.ones(x.shape[:-1], x.dtype)
    else:
        w = _as_float(weights, "weights", ("...",))
        try:
            np.broadcast_shapes(w.shape, x.shape[:-1])
            ok = len(w.shape) <= len(x.shape[:-1]) and np.broadcast_shapes(
                w.shape, x.shape[:-1]) == x.shape[:-1]
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"`weights` must have shape {format_shape(x.shape[:-1])} (C, ..., N) "
                             f"or broadcast to it, got {tuple(w.shape)}")
        if is_concrete(w) and bool(np.any(np.asarray(w) < 0)):
            raise ValueError("`weights` must be non-negative")
        w = jnp.broadcast_to(w, x.shape[:-1]).astype(x.dtype)
    # Insert singleton dims so P's batch right-aligns with the points' batch.
    P = P.reshape((num_views,) + (1,) * (len(batch) - len(b)) + b + (3, 4))
    return _triangulate(x, P, w, refine=bool(refine), num_iterations=int(num_iterations))


@functools.partial(jax.jit, static_argnames=("refine", "num_iterations"))
def _triangulate(x, P, w, refine, num_iterations):
    finite = jnp.all(jnp.isfinite(x), axis=-1)
    w = jnp.where(finite, w, 0.0)
    x = jnp.where(finite[..., None], x, 0.0)
    valid = jnp.sum(w > 0, axis=0) >= 2
    T, mean, scale = _conditioning_transform(P)
    Pn = P @ T
    # A uniform scale per camera (which leaves its projection unchanged) making the rotation part
    # of the third row unit, so p[2] is a depth in the conditioned frame (used by refinement).
    Pn = Pn / jnp.sqrt(jnp.maximum(jnp.sum(Pn[..., 2:3, :3] ** 2, axis=-1, keepdims=True), 1e-30))
    Pn = Pn[..., None, :, :]  # (C, ..., 1, 3, 4)

    X = _dlt(Pn, x, w, valid)
    if refine:
        X = _refine(Pn, x, w, X, valid, num_iterations)
    X = X * scale[..., None, None] + mean[..., None, :]
    X = jnp.where(valid[..., None], X, 0.0)
    return X, valid


def _broadcastable(b, batch):
    if len(b) > len(batch):
        return False
    return all(bi in (1, ai) for bi, ai in zip(b[::-1], batch[::-1]))
