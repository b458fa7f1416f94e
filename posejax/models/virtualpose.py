"""VirtualPose's two 3D networks on the abstract geometry representation (Su et al., ECCV 2022).

Input: a scene's AGR (`posejax.synth.agr`: J joint heatmaps and 4 box maps, NHWC here), its
camera and its people (root pixel, box, in map pixels). Outputs, in world metres:

  * Root Estimation Network (REN, paper section 4.2):
      1. `DepthNet`, a 2D CNN on the AGR, gives every map pixel a log-depth correction, read at
         each person's root pixel, to the apparent-size depth focal * 1.7 m / box height: one
         network then serves every focal length and starts from a sensible guess.
      2. `root_feature_volume`: every voxel of the capture-space grid is projected into the maps;
         person p contributes where the voxel falls inside its box, weighted by
         exp(-(z - D_p)^2 / (2 sigma^2)) with z the voxel's depth and D_p the person's estimated
         depth (eq. 5, sigma = 200 mm); features are the heatmaps read there and the weight itself.
      3. `VolumeNet` (a small V2V-style 3D encoder-decoder) turns that into a root-confidence
         volume; `local_peaks` + a sub-voxel weighted mean read the people off it.
  * Pose Estimation Network (PEN, section 4.3): for each root, a cube (2 m) around it is filled
    by back-projecting the heatmaps (inside the person's box), and a second `VolumeNet` gives one
    volume per joint, read by soft-argmax (integral regression).

Shapes: B scenes, P people slots, J joints, maps (H, W), grid (X, Y, Z), cube G^3.
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from posejax.geometry.voxels import project_to_map, sample_maps, soft_argmax, voxel_centres

__all__ = ["DepthNet", "VolumeNet", "Conv3x3x3", "conv3d_as_2d", "person_depths", "root_feature_volume",
           "pose_feature_volume", "refine_peaks"]


def _flat_lecun_normal(key, shape, dtype=jnp.float32):
    """`lecun_normal` for a kernel (..., C, O), drawn as (prod(...) * C, O) and reshaped: the same
    distribution (fan-in = prod(...) * C either way), but XLA on CPU takes seconds to compile
    JAX's (partitionable) random draw of a 4-D or 5-D shape, and well under one for 2-D."""
    flat = nn.initializers.lecun_normal()(key, (math.prod(shape[:-1]), shape[-1]), dtype)
    return flat.reshape(shape)


class DepthNet(nn.Module):
    """AGR (B, H, W, C) -> log-depth correction per map pixel (B, H, W) (`person_depths`); dilated
    convolutions keep the resolution while the receptive field covers a person."""

    features: int = 32
    dilations: Sequence[int] = (1, 2, 4, 8)

    @nn.compact
    def __call__(self, agr):
        h = agr
        for d in self.dilations:
            h = nn.relu(nn.Conv(self.features, (3, 3), kernel_dilation=(d, d), kernel_init=_flat_lecun_normal)(h))
        return nn.Conv(1, (1, 1), kernel_init=_flat_lecun_normal)(h)[..., 0]


def conv3d_as_2d(x, kernel):
    """'SAME' 3 x 3 x 3 convolution computed as one 2D convolution: the three X-neighbour slices
    are stacked on the channel axis. Equal to `lax.conv_general_dilated` in 3D; about twice as
    fast on CPU, where XLA's 3D convolution is far slower than its 2D one.

    Args:
      x: (N, X, Y, Z, C); kernel: (3, 3, 3, C, O).

    Returns:
      (N, X, Y, Z, O).
    """
    n, a, b, c, ci = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 1), (0, 0), (0, 0), (0, 0)))
    stacked = jnp.concatenate([padded[:, d:d + a] for d in range(3)], -1).reshape(n * a, b, c, 3 * ci)
    k2 = jnp.moveaxis(kernel, 0, 2).reshape(3, 3, 3 * ci, kernel.shape[-1])   # (Y, Z, [dX, C], O)
    y = jax.lax.conv_general_dilated(stacked, k2, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y.reshape(n, a, b, c, -1)


class Conv3x3x3(nn.Module):
    """`nn.Conv(features, (3, 3, 3))` on (N, X, Y, Z, C) through `conv3d_as_2d`."""

    features: int

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", _flat_lecun_normal, (3, 3, 3, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return conv3d_as_2d(x, kernel) + bias


class VolumeNet(nn.Module):
    """(..., X, Y, Z, C) -> (..., X, Y, Z, out): two resolutions with a skip connection (the grid
    edges must be even)."""

    out: int
    features: int = 16

    @nn.compact
    def __call__(self, x):
        lead = x.shape[:-4]
        x = x.reshape((-1,) + x.shape[-4:])
        f = self.features
        conv = lambda c, h: nn.relu(Conv3x3x3(c)(h))  # noqa: E731
        fine = conv(f, conv(f, x))
        coarse = conv(2 * f, conv(2 * f, nn.max_pool(fine, (2, 2, 2), (2, 2, 2))))
        up = nn.ConvTranspose(f, (2, 2, 2), strides=(2, 2, 2), kernel_init=_flat_lecun_normal)(coarse)
        h = conv(f, jnp.concatenate([up, fine], -1))
        y = nn.Conv(self.out, (1, 1, 1), kernel_init=_flat_lecun_normal)(h)
        return y.reshape(lead + y.shape[1:])


PERSON_HEIGHT = 1.7
"""Metres; the apparent-size depth guess assumes a person this tall, upright in the box."""
MIN_DEPTH, MAX_DEPTH = 0.3, 30.0
"""Metres: the apparent-size guess is clipped to this range."""
MAX_LOG_CORRECTION = 2.0
"""The depth network's correction is a factor within exp(+-2) (x 0.14 to x 7.4) of the guess."""


def person_depths(log_depth_map, K, root_uv, boxes, stride: int):
    """Each person's depth (B, P) metres: focal * PERSON_HEIGHT / box height (clipped to
    [MIN_DEPTH, MAX_DEPTH]), times exp of the depth map read at the root pixel (bounded by tanh to
    +-MAX_LOG_CORRECTION).

    Args:
      log_depth_map: (B, H, W) `DepthNet` output.
      K: (B, 3, 3) image intrinsics.
      root_uv: (B, P, 2) root positions; boxes: (B, P, 4) (left, top, right, bottom); map pixels.
    """
    read = jax.vmap(lambda m, uv: sample_maps(m[None], uv)[..., 0])(log_depth_map, root_uv)
    box_height = jnp.maximum(boxes[..., 3] - boxes[..., 1], 1.0)
    # Both factors are bounded: a box of a few pixels (a truncated or far person, or an empty
    # slot) would otherwise give depths of hundreds of metres and a loss that swamps training.
    guess = jnp.clip((K[:, 0, 0] / stride)[:, None] * PERSON_HEIGHT / box_height, MIN_DEPTH, MAX_DEPTH)
    return guess * jnp.exp(MAX_LOG_CORRECTION * jnp.tanh(read / MAX_LOG_CORRECTION))


def _inside(uv, boxes):
    """uv (..., V, 2) inside boxes (..., P, 4) -> (..., P, V) bool."""
    u, v = uv[..., None, :, 0], uv[..., None, :, 1]
    b = boxes[..., :, None, :]
    return (u >= b[..., 0]) & (u <= b[..., 2]) & (v >= b[..., 1]) & (v <= b[..., 3])


def root_feature_volume(heatmaps, K, R, t, boxes, depths, mask, centre, size, shape, stride: int,
                        sigma: float = 0.2):
    """The REN's input volume (eq. 5): (B, X, Y, Z, J + 1).

    Args:
      heatmaps: (B, H, W, J).
      K, R, t: (B, 3, 3), (B, 3, 3), (B, 3) cameras.
      boxes: (B, P, 4) (left, top, right, bottom), map pixels; depths: (B, P) metres; mask:
        (B, P) bool, the people present.
      centre, size, shape: the capture-space grid (`voxel_centres`).
      sigma: depth tolerance, metres.
    """
    grid = voxel_centres(centre, size, shape).reshape(-1, 3)                     # (V, 3)

    def one(maps, k, r, tt, box, depth, m):
        uv, z = project_to_map(grid, k, r, tt, stride)                            # (V, 2), (V,)
        near = jnp.exp(-0.5 * jnp.square((z[None] - depth[:, None]) / sigma))     # (P, V)
        w = jnp.sum(jnp.where(_inside(uv, box) & m[:, None] & (z[None] > 0.1), near, 0.0), 0)
        feats = sample_maps(jnp.moveaxis(maps, -1, 0), uv) * w[:, None]
        return jnp.concatenate([feats, w[:, None]], -1).reshape(tuple(shape) + (-1,))

    return jax.vmap(one)(heatmaps, K, R, t, boxes, depths, mask)


def pose_feature_volume(heatmaps, K, R, t, boxes, roots, cube_size: float, cube_shape, stride: int):
    """The PEN's input volumes: heatmaps back-projected into a cube around each root, inside that
    person's box: (B, P, G, G, G, J), and the cubes' voxel centres (B, P, G, G, G, 3).

    Args:
      heatmaps: (B, H, W, J); K, R, t: cameras; boxes: (B, P, 4) map pixels; roots: (B, P, 3).
    """
    shape = tuple(cube_shape)
    centres = voxel_centres(roots, (cube_size,) * 3, shape)                      # (B, P, G, G, G, 3)

    def one(maps, k, r, tt, box, cubes):
        flat = cubes.reshape(cubes.shape[0], -1, 3)                                # (P, V, 3)
        uv, z = project_to_map(flat, k, r, tt, stride)
        inside = jnp.diagonal(_inside(uv, box), axis1=0, axis2=1).T               # (P, V): own box
        feats = sample_maps(jnp.moveaxis(maps, -1, 0), uv, valid=inside & (z > 0.1))
        return feats.reshape(cubes.shape[:-1] + (-1,))

    return jax.vmap(one)(heatmaps, K, R, t, boxes, centres), centres


def refine_peaks(volume, centres, idx):
    """Sub-voxel peak positions: the score-weighted mean of the 3 x 3 x 3 voxels around each peak.

    Args:
      volume: (X, Y, Z) scores (negative scores count as zero).
      centres: (X, Y, Z, 3) voxel centres.
      idx: (N, 3) int peak indices.

    Returns:
      (N, 3) metres.
    """
    offsets = jnp.stack(jnp.meshgrid(*[jnp.arange(-1, 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    near = jnp.clip(idx[:, None] + offsets, 0, jnp.array(volume.shape) - 1)      # (N, 27, 3)
    w = jnp.maximum(volume[near[..., 0], near[..., 1], near[..., 2]], 0.0)
    pts = centres[near[..., 0], near[..., 1], near[..., 2]]
    mean = jnp.sum(w[..., None] * pts, 1) / jnp.maximum(jnp.sum(w, 1), 1e-9)[:, None]
    return jnp.where(jnp.sum(w, 1)[:, None] > 0, mean, centres[idx[:, 0], idx[:, 1], idx[:, 2]])


def pose_from_volumes(logits, centres):
    """(..., G, G, G, J) joint volumes and (..., G, G, G, 3) centres -> (..., J, 3) joints."""
    return soft_argmax(jnp.moveaxis(logits, -1, -4), centres[..., None, :, :, :, :])
