"""A point as a static camera sees it: where it appears in the image and how far away it is.

The pooled regressor predicts the subject's pelvis in this form rather than as a world position:
the image position is nearly observed and the log depth follows from apparent size and focal
length, while the world position and the camera height are products of depth and angles that a
network fits poorly over a 1-35 m range. Decoding is exact geometry (`StaticCamera` conventions):

  view = (a, b, log z): the point's camera-frame coordinates x/z and y/z divided by tan(hfov / 2)
  (so a = (u - cx) / (W / 2) and b = (v - cy) / (W / 2) for pixel (u, v): the image coordinates
  the network's input uses), and the log of its depth z (metres, along the optical axis).

Given the view, the point's height above the ground and the camera's pitch, roll and FoV, the
world position follows (yaw is fixed) and so does the camera height, because the camera centre is
(0, height, 0): height = point_y - (R^T x_cam)_y.
"""

from __future__ import annotations

import jax.numpy as jnp

from posejax.geometry.cameras import _static_rotation

MIN_DEPTH = 1e-3  # metres; the log depth of points at or behind the camera is clamped here


def point_to_static_view(point, pitch, roll, height, hfov):
    """World point -> view coordinates.

    Args:
      point: (..., 3) world position, metres.
      pitch, roll, hfov: (...) radians; height: (...) camera height, metres.

    Returns:
      (..., 3) (a, b, log depth) as in the module docstring.
    """
    point, pitch, roll, height, hfov = (jnp.asarray(v, jnp.float32) for v in (point, pitch, roll, height, hfov))
    rot = _static_rotation(pitch, roll)                                         # (..., 3, 3)
    centre = jnp.stack([jnp.zeros_like(height), height, jnp.zeros_like(height)], -1)
    cam = jnp.einsum("...ij,...j->...i", rot, point - centre)
    z = jnp.maximum(cam[..., 2], MIN_DEPTH)
    tan_half = jnp.tan(0.5 * hfov)[..., None]
    return jnp.concatenate([cam[..., :2] / (z[..., None] * tan_half), jnp.log(z)[..., None]], -1)


def point_from_static_view(view, point_height, pitch, roll, hfov):
    """View coordinates + the point's height above the ground -> world point and camera height.

    Args:
      view: (..., 3) (a, b, log depth).
      point_height: (...) the point's world Y, metres.
      pitch, roll, hfov: (...) radians.

    Returns:
      (point (..., 3) world metres whose Y is `point_height`, camera height (...) metres).
    """
    view, point_height, pitch, roll, hfov = (jnp.asarray(v, jnp.float32)
                                             for v in (view, point_height, pitch, roll, hfov))
    z = jnp.exp(view[..., 2:3])
    tan_half = jnp.tan(0.5 * hfov)[..., None]
    cam = jnp.concatenate([view[..., :2] * tan_half * z, z], -1)
    rot = _static_rotation(pitch, roll)
    offset = jnp.einsum("...ji,...j->...i", rot, cam)                           # R^T x_cam
    camera_height = point_height - offset[..., 1]
    point = jnp.stack([offset[..., 0], point_height, offset[..., 2]], -1)
    return point, camera_height
