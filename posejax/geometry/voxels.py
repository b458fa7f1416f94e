"""Voxel grids seen by a camera: the geometry of VirtualPose's feature volumes.

A grid is `shape` = (X, Y, Z) voxels of `size` metres in all, centred on a world point; its
voxel centres are projected into a camera's 2D maps, maps are read there with bilinear
interpolation, and 3D outputs are read back as points by soft-argmax or as peaks by non-maximum
suppression. World frame: Y up, metres; cameras: OpenCV, `K` in image pixels; maps of stride s
cover image pixels [s u, s (u + 1)) (`posejax.synth.agr`).
"""

from __future__ import annotations

from typing import Tuple

import jax
import jax.numpy as jnp

__all__ = ["voxel_centres", "project_to_map", "sample_maps", "soft_argmax", "local_peaks"]


def voxel_centres(centre, size, shape: Tuple[int, int, int]) -> jax.Array:
    """World positions of the voxel centres.

    Args:
      centre: (..., 3) grid centre, metres.
      size: (3,) edge lengths of the whole grid, metres.
      shape: (X, Y, Z) voxel counts.

    Returns:
      (..., X, Y, Z, 3) metres.
    """
    size = jnp.asarray(size, jnp.float32)
    axes = [(jnp.arange(n, dtype=jnp.float32) + 0.5) / n - 0.5 for n in shape]
    offsets = jnp.stack(jnp.meshgrid(*axes, indexing="ij"), -1) * size               # (X, Y, Z, 3)
    centre = jnp.asarray(centre, jnp.float32)
    return centre[..., None, None, None, :] + offsets


def project_to_map(points, K, R, t, stride: int):
    """World points -> map pixel coordinates (pixel centres at integers) and camera depth.

    Args:
      points: (..., 3) metres.
      K, R, t: the camera (image-pixel intrinsics, world-to-camera rotation and translation).
      stride: image pixels per map pixel.

    Returns:
      (uv (..., 2) map pixels, depth (...) metres along the optical axis).
    """
    cam = jnp.einsum("ij,...j->...i", R, points) + t
    z = cam[..., 2]
    safe = jnp.where(z > 1e-3, z, 1e-3)
    px = jnp.einsum("ij,...j->...i", K[:2, :2], cam[..., :2] / safe[..., None]) + K[:2, 2]
    return px / stride - 0.5, z


def sample_maps(maps, uv, valid=None) -> jax.Array:
    """Bilinear reads of (C, H, W) maps at map-pixel positions; zero outside the map.

    Args:
      maps: (C, H, W).
      uv: (..., 2) positions (u right, v down), pixel centres at integers.
      valid: optional (...) bool; False positions read zero (e.g. points behind the camera).

    Returns:
      (..., C).
    """
    c, h, w = maps.shape
    u, v = uv[..., 0], uv[..., 1]
    u0, v0 = jnp.floor(u), jnp.floor(v)
    out = 0.0
    for du in (0, 1):
        for dv in (0, 1):
            ui, vi = u0 + du, v0 + dv
            weight = (1 - jnp.abs(u - ui)) * (1 - jnp.abs(v - vi))
            inside = (ui >= 0) & (ui <= w - 1) & (vi >= 0) & (vi <= h - 1)
            flat = jnp.clip(vi, 0, h - 1).astype(jnp.int32) * w + jnp.clip(ui, 0, w - 1).astype(jnp.int32)
            read = jnp.take(maps.reshape(c, -1), flat.reshape(-1), axis=1).T.reshape(flat.shape + (c,))
            out = out + jnp.where(inside, weight, 0.0)[..., None] * read
    if valid is not None:
        out = jnp.where(valid[..., None], out, 0.0)
    return out


def soft_argmax(logits, centres) -> jax.Array:
    """Integral regression: the softmax-weighted mean voxel centre.

    Args:
      logits: (..., X, Y, Z) scores.
      centres: (..., X, Y, Z, 3) voxel centres, broadcasting against `logits`.

    Returns:
      (..., 3).
    """
    lead = logits.shape[:-3]
    p = jax.nn.softmax(logits.reshape(lead + (-1,)), -1)
    flat = jnp.broadcast_to(centres, lead + centres.shape[-4:]).reshape(lead + (-1, 3))
    return jnp.einsum("...n,...nc->...c", p, flat)


def local_peaks(volume, num: int, window: int = 3):
    """Non-maximum suppression: the `num` highest voxels that are maxima of their neighbourhood.

    Args:
      volume: (X, Y, Z) scores.
      num: peaks to return (fewer true peaks give lower-scored entries, down to -inf).
      window: neighbourhood edge, voxels (odd).

    Returns:
      (scores (num,), indices (num, 3) int32), highest first.
    """
    pooled = jax.lax.reduce_window(volume, -jnp.inf, jax.lax.max, (window,) * 3, (1, 1, 1), "SAME")
    peaks = jnp.where(volume >= pooled, volume, -jnp.inf).reshape(-1)
    scores, flat = jax.lax.top_k(peaks, num)
    idx = jnp.stack(jnp.unravel_index(flat, volume.shape), -1).astype(jnp.int32)
    return scores, idx
