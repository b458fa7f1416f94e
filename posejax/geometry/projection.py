"""Projection of 3D points to pixels and back.

Camera batch dims broadcast against the points' leading dims: points (..., N, 3) with a camera of
batch shape (...) give (..., N, 2); a single set of points (N, 3) seen by cameras of batch (C,)
gives (C, N, 2).

Points at or behind the camera: perspective division uses `max(z, min_depth)` (default 1 mm), so
such points give large but finite pixels and finite gradients (zero with respect to depth below the
clamp). Their pixels carry no meaning; mask them with `to_camera_frame(...)[..., 2] > min_depth`.
"""

from __future__ import annotations

from typing import Union

import jax
import jax.numpy as jnp

from posejax._checks import check_array
from posejax.geometry.cameras import (PerspectiveCamera, StaticCamera, WeakPerspectiveCamera,
                                      static_to_perspective)

DEFAULT_MIN_DEPTH = 1e-3  # metres

Camera = Union[PerspectiveCamera, WeakPerspectiveCamera, StaticCamera]


def _as_float(x, name, shape):
    x = check_array(x, name, shape, dtype=None)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def _perspective(camera, name="camera"):
    if isinstance(camera, StaticCamera):
        camera = static_to_perspective(camera)
    if not isinstance(camera, PerspectiveCamera):
        raise ValueError(f"`{name}` must be a PerspectiveCamera or StaticCamera, "
                         f"got {type(camera).__name__}")
    return PerspectiveCamera(K=_as_float(camera.K, f"{name}.K", ("...", 3, 3)),
                             R=_as_float(camera.R, f"{name}.R", ("...", 3, 3)),
                             t=_as_float(camera.t, f"{name}.t", ("...", 3)))


@jax.jit
def _to_camera(points, R, t):
    return points @ jnp.swapaxes(R, -1, -2) + t[..., None, :]


def to_camera_frame(points, camera):
    """World points (..., N, 3) -> camera-frame points (..., N, 3), `x_cam = R x + t`, metres.

    Args:
      points: (..., N, 3) world points, metres.
      camera: PerspectiveCamera or StaticCamera with batch shape broadcastable to (...).
    """
    points = _as_float(points, "points", ("...", None, 3))
    cam = _perspective(camera)
    return _to_camera(points, cam.R, cam.t)


@jax.jit
def _perspective_project(points_cam, K, min_depth):
    z = jnp.maximum(points_cam[..., 2:3], min_depth)
    xy1 = jnp.concatenate([points_cam[..., :2] / z, jnp.ones_like(z)], axis=-1)
    return (xy1 @ jnp.swapaxes(K, -1, -2))[..., :2]


def perspective_project(points_cam, K, min_depth: float = DEFAULT_MIN_DEPTH):
    """Pinhole projection of camera-frame points.

    Args:
      points_cam: (..., N, 3) points in the camera frame (OpenCV), metres.
      K: (..., 3, 3) intrinsics (last row 0, 0, 1).
      min_depth: depths are clamped to at least this (metres) before dividing.

    Returns:
      (..., N, 2) pixels.
    """
    points_cam = _as_float(points_cam, "points_cam", ("...", None, 3))
    K = _as_float(K, "K", ("...", 3, 3))
    return _perspective_project(points_cam, K, min_depth)


@jax.jit
def _project_weak(points, scale, trans):
    return scale[..., None, None] * points[..., :2] + trans[..., None, :]


def project(points, camera: Camera, min_depth: float = DEFAULT_MIN_DEPTH):
    """Projects world points to pixels.

    Args:
      points: (..., N, 3) metres; world frame for perspective/static cameras, camera frame for a
        WeakPerspectiveCamera (`x_px = scale * X[..., :2] + translation`).
      camera: PerspectiveCamera, StaticCamera or WeakPerspectiveCamera, batch shape broadcastable
        to (...).
      min_depth: perspective depth clamp in metres (see module docstring).

    Returns:
      (..., N, 2) pixels.
    """
    points = _as_float(points, "points", ("...", None, 3))
    if isinstance(camera, WeakPerspectiveCamera):
        scale = _as_float(camera.scale, "camera.scale", ("...",))
        trans = _as_float(camera.translation, "camera.translation", ("...", 2))
        return _project_weak(points, scale, trans)
    cam = _perspective(camera)
    return _project_perspective(points, cam.K, cam.R, cam.t, min_depth)


@jax.jit
def _project_perspective(points, K, R, t, min_depth):
    return _perspective_project(_to_camera(points, R, t), K, min_depth)


def backproject(pixels, depth, camera: Camera):
    """Lifts pixels with known depth back to 3D.

    Args:
      pixels: (..., N, 2) pixel coordinates.
      depth: (..., N) camera-frame z in metres (not the distance along the ray).
      camera: PerspectiveCamera / StaticCamera (returns world points) or WeakPerspectiveCamera
        (returns camera-frame points whose z is `depth`).

    Returns:
      (..., N, 3) points, metres, such that `project(backproject(p, d, cam), cam) == p`.
    """
    pixels = _as_float(pixels, "pixels", ("...", None, 2))
    depth = _as_float(depth, "depth", ("...",))
    if depth.ndim == 0 or depth.shape[-1] not in (1, pixels.shape[-2]):
        raise ValueError(f"`depth` must have shape (..., N) with N = {pixels.shape[-2]} to match "
                         f"`pixels` {tuple(pixels.shape)}, got {tuple(depth.shape)}")
    if isinstance(camera, WeakPerspectiveCamera):
        scale = _as_float(camera.scale, "camera.scale", ("...",))
        trans = _as_float(camera.translation, "camera.translation", ("...", 2))
        xy = (pixels - trans[..., None, :]) / scale[..., None, None]
        xy, z = jnp.broadcast_arrays(xy, depth[..., None])
        return jnp.concatenate([xy, z[..., :1]], axis=-1)
    cam = _perspective(camera)
    return _backproject(pixels, depth, cam.K, cam.R, cam.t)


@jax.jit
def _backproject(pixels, depth, K, R, t):
    K = K[..., None, :, :]
    # Inverse of an upper-triangular K (with skew) written out; no general matrix inverse needed.
    y_n = (pixels[..., 1] - K[..., 1, 2]) / K[..., 1, 1]
    x_n = (pixels[..., 0] - K[..., 0, 2] - K[..., 0, 1] * y_n) / K[..., 0, 0]
    p_cam = depth[..., None] * jnp.stack([x_n, y_n, jnp.ones_like(x_n)], axis=-1)
    # x = R^T (x_cam - t), i.e. row-vector (x_cam - t) @ R.
    return (p_cam - t[..., None, :]) @ R
