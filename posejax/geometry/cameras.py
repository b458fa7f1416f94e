"""Camera models: pinhole perspective, weak perspective, static (pitch, roll, height, FoV) rig.

Frames (DESIGN.md section 3):
  * World: Y up, ground plane y = 0, right-handed, metres.
  * Camera: OpenCV, x right, y down, z forward (optical axis).
  * Pixels: origin at the top-left corner of the top-left pixel, so the centre of pixel (0, 0) is
    (0.5, 0.5) and the principal point of an ideal W x H camera is (W / 2, H / 2).

All cameras are frozen dataclasses registered as pytrees, so they pass through `jit`, `vmap` and
`grad`; every array field may carry the same leading batch dims.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

from posejax._checks import check_array, is_concrete
from posejax.geometry import rotations


def _as_float(x, name, shape):
    x = check_array(x, name, shape, dtype=None)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class PerspectiveCamera:
    """Pinhole camera without distortion.

    A world point X (metres) maps to the camera frame as `x_cam = R @ X + t`, and to pixels as
    `K @ x_cam` divided by depth.

    Attributes:
      K: (..., 3, 3) intrinsics, `[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`, pixels.
      R: (..., 3, 3) world-to-camera rotation.
      t: (..., 3) world-to-camera translation, metres (the world origin in camera coordinates).
    """

    K: jax.Array
    R: jax.Array
    t: jax.Array

    @property
    def batch_shape(self) -> Tuple[int, ...]:
        return tuple(jnp.shape(self.t))[:-1]


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class WeakPerspectiveCamera:
    """Scaled orthographic camera: `x_px = scale * X[..., :2] + translation`.

    X is given in the camera frame (OpenCV axes, so image x right and image y down); depth is
    dropped. `scale` converts metres to pixels (for a perspective camera at depth z with focal f it
    is about f / z) and `translation` is the pixel position of the camera-frame origin's
    projection.

    Attributes:
      scale: (...,) pixels per metre.
      translation: (..., 2) pixels.
    """

    scale: jax.Array
    translation: jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class StaticCamera:
    """The pooled regressor's static camera: pitch, roll, height and horizontal FoV.

    The camera centre is at (0, height, 0) in the world (Y up, so `height` is metres above the
    ground plane). Yaw is fixed: at pitch = roll = 0 the optical axis is world +Z and the image is
    upright, i.e. camera x = world -X, camera y = world -Y, camera z = world +Z. Then:

      * pitch > 0 tilts the optical axis down, towards the ground: it becomes (0, -sin p, cos p)
        in the world. A point straight ahead at camera height (on the horizon) therefore projects
        *above* the image centre, and the ground in front of the camera moves towards the centre.
      * roll turns the camera about its optical axis. roll > 0 rotates the image content clockwise
        on screen (the camera turns counter-clockwise as seen from behind it): a horizon point on
        the right half of the image moves down.

    In formulas, world-to-camera `R = rot_z(roll) @ rot_x(pitch) @ diag(-1, -1, 1)` and
    `t = -R @ (0, height, 0)`. The principal point is the image centre and fx = fy.

    Attributes:
      pitch: (...,) radians, positive = looking down.
      roll: (...,) radians about the optical axis, positive = image content turns clockwise.
      height: (...,) metres, camera centre above the ground.
      hfov: (...,) horizontal field of view, radians.
      image_size: (W, H) pixels, static (not a pytree leaf). Square 1000 x 1000 by default.
    """

    pitch: jax.Array
    roll: jax.Array
    height: jax.Array
    hfov: jax.Array
    image_size: Tuple[int, int] = dataclasses.field(default=(1000, 1000),
                                                    metadata=dict(static=True))

    def __post_init__(self):
        # A hashable (W, H) of ints, whatever sequence was passed: it is part of jit cache keys.
        size = tuple(int(v) for v in np.asarray(self.image_size).reshape(-1))
        if len(size) != 2:
            raise ValueError(f"`image_size` must be (W, H), got {self.image_size}")
        object.__setattr__(self, "image_size", size)


# ----------------------------------------------------------------------------------------------
# Intrinsics.


def _image_size_array(image_size, dtype):
    size = _as_float(image_size, "image_size", ("...", 2))
    return size.astype(dtype)


def intrinsics_from_focal(focal_px, image_size=None, principal_point=None):
    """Intrinsics of an ideal camera (fx = fy = focal, no skew).

    Args:
      focal_px: (...,) focal length in pixels.
      image_size: (W, H) pixels, or an array (..., 2); sets the principal point to (W/2, H/2).
      principal_point: optional (..., 2) pixels; overrides the one derived from `image_size`.

    Returns:
      (..., 3, 3) intrinsics K.
    """
    f = _as_float(focal_px, "focal_px", ("...",))
    if principal_point is None:
        if image_size is None:
            raise ValueError("`image_size` or `principal_point` must be given, got neither")
        pp = 0.5 * _image_size_array(image_size, f.dtype)
    else:
        pp = _as_float(principal_point, "principal_point", ("...", 2)).astype(f.dtype)
    return _intrinsics(f, pp)


@jax.jit
def _intrinsics(f, pp):
    shape = jnp.broadcast_shapes(f.shape, pp.shape[:-1])
    f = jnp.broadcast_to(f, shape)
    pp = jnp.broadcast_to(pp, shape + (2,))
    zero, one = jnp.zeros_like(f), jnp.ones_like(f)
    return jnp.stack([
        jnp.stack([f, zero, pp[..., 0]], -1),
        jnp.stack([zero, f, pp[..., 1]], -1),
        jnp.stack([zero, zero, one], -1),
    ], -2)


def focal_from_fov(hfov_rad, image_width):
    """Focal length in pixels for a horizontal FoV (...,): `f = (W / 2) / tan(hfov / 2)`."""
    hfov = _as_float(hfov_rad, "hfov_rad", ("...",))
    return 0.5 * jnp.asarray(image_width, hfov.dtype) / jnp.tan(0.5 * hfov)


def intrinsics_from_fov(hfov_rad, image_size):
    """Intrinsics of an ideal camera from its horizontal field of view.

    Args:
      hfov_rad: (...,) horizontal FoV in radians, in (0, pi).
      image_size: (W, H) pixels or an array (..., 2).

    Returns:
      (..., 3, 3) intrinsics, `fx = fy = (W / 2) / tan(hfov / 2)`, principal point (W/2, H/2).
    """
    hfov = _as_float(hfov_rad, "hfov_rad", ("...",))
    size = _image_size_array(image_size, hfov.dtype)
    return intrinsics_from_focal(focal_from_fov(hfov, size[..., 0]), image_size=size)


def fov_from_intrinsics(K, image_size=None):
    """Horizontal FoV (radians) of intrinsics K, `2 atan(W / (2 fx))`.

    Args:
      K: (..., 3, 3) intrinsics.
      image_size: (W, H) or (..., 2); if None, W = 2 cx (principal point at the image centre).

    Returns:
      (...,) horizontal FoV in radians.
    """
    K = _as_float(K, "K", ("...", 3, 3))
    if image_size is None:
        width = 2.0 * K[..., 0, 2]
    else:
        width = _image_size_array(image_size, K.dtype)[..., 0]
    return 2.0 * jnp.arctan2(0.5 * width, K[..., 0, 0])


# ----------------------------------------------------------------------------------------------
# Perspective camera helpers.


def _check_perspective(cam, name="camera"):
    if not isinstance(cam, PerspectiveCamera):
        raise ValueError(f"`{name}` must be a PerspectiveCamera, got {type(cam).__name__}")
    K = _as_float(cam.K, f"{name}.K", ("...", 3, 3))
    R = _as_float(cam.R, f"{name}.R", ("...", 3, 3))
    t = _as_float(cam.t, f"{name}.t", ("...", 3))
    return PerspectiveCamera(K=K, R=R, t=t)


def camera_center(camera):
    """Camera centre in world coordinates, `c = -R^T t`; (...,) camera -> (..., 3) metres."""
    cam = _check_perspective(camera)
    return _camera_center(cam.R, cam.t)


def _camera_center(R, t):
    return -jnp.einsum("...ji,...j->...i", R, t)


def look_at(eye, target, up=(0.0, 1.0, 0.0)):
    """World-to-camera rotation and translation of an OpenCV camera at `eye` looking at `target`.

    Image "up" is aligned with the world `up` direction (camera y = down).

    Args:
      eye: (..., 3) camera centre, metres.
      target: (..., 3) point on the optical axis, metres.
      up: (..., 3) world up direction (default +Y); must not be parallel to `target - eye`.

    Returns:
      (R (..., 3, 3), t (..., 3)).
    """
    eye = _as_float(eye, "eye", ("...", 3))
    target = _as_float(target, "target", ("...", 3))
    up = _as_float(up, "up", ("...", 3))
    z = rotations._normalize(target - eye)
    x = rotations._normalize(jnp.cross(z, up))  # right = forward x up, as camera y points down
    y = jnp.cross(z, x)
    R = jnp.stack([x, y, z], axis=-2)
    t = -jnp.einsum("...ij,...j->...i", R, eye)
    return R, t


# ----------------------------------------------------------------------------------------------
# Static camera <-> perspective camera.

_FLIP = np.diag([-1.0, -1.0, 1.0])  # world -> camera at pitch = roll = 0


def _static_rotation(pitch, roll):
    flip = jnp.asarray(_FLIP, pitch.dtype)
    return rotations.rot_z(roll) @ rotations.rot_x(pitch) @ flip


def static_to_perspective(static: StaticCamera) -> PerspectiveCamera:
    """Converts a StaticCamera to the equivalent PerspectiveCamera (same batch shape)."""
    if not isinstance(static, StaticCamera):
        raise ValueError(f"`static` must be a StaticCamera, got {type(static).__name__}")
    pitch = _as_float(static.pitch, "static.pitch", ("...",))
    roll = _as_float(static.roll, "static.roll", ("...",))
    height = _as_float(static.height, "static.height", ("...",))
    hfov = _as_float(static.hfov, "static.hfov", ("...",))
    return _static_to_perspective(pitch, roll, height, hfov, tuple(static.image_size))


@functools.partial(jax.jit, static_argnums=4)
def _static_to_perspective(pitch, roll, height, hfov, image_size):
    shape = jnp.broadcast_shapes(pitch.shape, roll.shape, height.shape, hfov.shape)
    pitch, roll, height, hfov = (jnp.broadcast_to(a, shape) for a in (pitch, roll, height, hfov))
    R = _static_rotation(pitch, roll)
    center = jnp.stack([jnp.zeros_like(height), height, jnp.zeros_like(height)], -1)
    t = -jnp.einsum("...ij,...j->...i", R, center)
    width = jnp.asarray(image_size[0], hfov.dtype)
    K = _intrinsics(0.5 * width / jnp.tan(0.5 * hfov), 0.5 * jnp.asarray(image_size, hfov.dtype))
    return PerspectiveCamera(K=K, R=R, t=t)


def perspective_to_static(camera: PerspectiveCamera, image_size=(1000, 1000),
                          check: bool = True, atol: float = 1e-4) -> StaticCamera:
    """Recovers (pitch, roll, height, hfov) from a PerspectiveCamera.

    Only cameras of the static family can be represented: centre on the world Y axis and zero yaw
    (the optical axis has no world X component once roll is undone). The FoV comes from fx and the
    image width; skew, fy and the principal point are not represented and are ignored.

    Args:
      camera: PerspectiveCamera with batch shape (...).
      image_size: (W, H) pixels of the static camera (static, hashable).
      check: when the camera values are concrete, raise ValueError if its centre has |x| or |z|
        above `atol` metres or its yaw exceeds `atol` radians. Under `jit` nothing is checked and
        the projection onto the family is returned (pitch and roll from the rotation, height =
        centre y).
      atol: tolerance of the check.

    Returns:
      StaticCamera with fields of shape (...).

    Raises:
      ValueError: if the camera is not of the static family (see `check`).
    """
    cam = _check_perspective(camera)
    image_size = tuple(int(s) for s in np.asarray(image_size).reshape(-1))
    if len(image_size) != 2:
        raise ValueError(f"`image_size` must be (W, H), got {image_size}")
    flip = jnp.asarray(_FLIP, cam.R.dtype)
    m = cam.R @ flip  # = rot_z(roll) @ rot_x(pitch) for the static family
    center = _camera_center(cam.R, cam.t)
    if check and is_concrete(m) and is_concrete(center):
        m_np, c_np = np.asarray(m), np.asarray(center)
        # m[2, 0] = -cos(pitch) sin(yaw) for a yawed camera; m[0, 2] is the same term after roll.
        yaw = np.max(np.abs(m_np[..., 2, 0]), initial=0.0)
        off = np.max(np.abs(c_np[..., [0, 2]]), initial=0.0)
        if yaw > atol:
            raise ValueError(
                "`camera` is not a static camera: its yaw is non-zero (optical axis has a world X "
                f"component; |R[2, 0]| = {yaw:.3g} > {atol})")
        if off > atol:
            raise ValueError(
                "`camera` is not a static camera: its centre must lie on the world Y axis "
                f"(x = z = 0), got max |x|, |z| = {off:.3g} m > {atol}")
    pitch = jnp.arctan2(m[..., 2, 1], m[..., 2, 2])
    roll = jnp.arctan2(m[..., 1, 0], m[..., 0, 0])
    hfov = fov_from_intrinsics(cam.K, image_size)
    return StaticCamera(pitch=pitch, roll=roll, height=center[..., 1], hfov=hfov,
                        image_size=image_size)
