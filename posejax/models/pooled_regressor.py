"""The pooled temporal regressor (Habekost et al., section 4, Fig. 4).

Per frame, a temporal CNN reads the 32-frame neighbourhood of 2D observations (five convolutions
of width 2 and stride 2 take 32 frames to 1); then, three times, the features of all temporal
positions are max-pooled over the whole sequence, the pooled vector is concatenated to every
position and dense layers follow. Heads per position: height-normalised shape (8), pose (24 joints
as 6D rotations, turned into matrices; axis-angle on the way out), height-normalised root
translation (3) and the static camera (pitch, roll, height, FoV).

One set of weights serves training and inference. Training feeds N sampled neighbourhoods of a
sequence, `(B, N, 32, F)`, read by stride-2 convolutions; inference feeds the whole sequence,
`(B, T, F)`, which the same kernels read with dilations 1, 2, 4, 8, 16 (a stride-2 convolution
tree over a 32-frame window is exactly a dilated convolution chain evaluated at one position), so
a sequence of any length >= 1 is one forward pass with the pooling over all its frames.
"""

from __future__ import annotations

from typing import Dict

import flax.linen as nn
import jax
import jax.numpy as jnp

from posejax.geometry.rotations import rot6d_to_matrix

WINDOW = 32
NUM_CONV = 5  # 2**5 = WINDOW
POSE_JOINTS = 24
HN_DIM = 8
CAMERA_ANGLES = 3  # pitch, roll, horizontal FoV


class TemporalEncoder(nn.Module):
    """Five width-2 convolutions (VALID): 32 frames -> 1 position.

    `strided=True` (training, one 32-frame neighbourhood): stride 2, 32 -> 16 -> ... -> 1.
    `strided=False` (inference, a whole padded sequence): dilation 2^i, the same kernels evaluated
    at every position. Input (..., L, F); output (..., 1, features) or (..., L - 31, features).
    """

    features: int

    @nn.compact
    def __call__(self, x, strided: bool):
        for i in range(NUM_CONV):
            step = dict(strides=(2,)) if strided else dict(kernel_dilation=(2 ** i,))
            x = nn.Conv(self.features, kernel_size=(2,), padding="VALID", name=f"conv{i}", **step)(x)
            x = nn.relu(x)
        return x


class PoolConcatDense(nn.Module):
    """Max-pool a projection of all positions, concatenate to each, then dense layers.

    Input (B, N, D) -> (B, N, dense_features); the pool is over N (positions of one sequence).
    Positions where `mask` is False (padding) take no part in the pool. `pool=False` leaves the
    pooling out (the paper's "only FC" baseline: every position on its own).
    """

    pool_features: int
    dense_features: int
    num_dense: int
    pool: bool = True

    @nn.compact
    def __call__(self, x, mask=None):
        if self.pool:
            pooled = nn.Dense(self.pool_features, name="pool_proj")(x)
            if mask is not None:
                pooled = jnp.where(mask[..., None], pooled, -jnp.inf)
            pooled = jnp.max(pooled, axis=-2, keepdims=True)
            x = jnp.concatenate([x, jnp.broadcast_to(pooled, x.shape[:-1] + pooled.shape[-1:])], -1)
        for i in range(self.num_dense):
            x = nn.relu(nn.Dense(self.dense_features, name=f"dense{i}")(x))
        return x


class PooledRegressor(nn.Module):
    """The regressor. Defaults are the paper's: 3 blocks x 2 dense layers of 2048 units,
    512 max-pooled units.

    Attributes:
      conv_features: channels of the temporal CNN.
      pool_features: units of the max-pooled vector of each block.
      dense_features: units of the dense layers.
      num_blocks: pool-concat-dense blocks.
      dense_per_block: dense layers per block.
      pooling: False drops the global max-pooling (the paper's "only FC" baseline).
    """

    conv_features: int = 512
    pool_features: int = 512
    dense_features: int = 2048
    num_blocks: int = 3
    dense_per_block: int = 2
    pooling: bool = True

    @nn.compact
    def __call__(self, frames, mask=None) -> Dict[str, jax.Array]:
        """Args:
          frames: (B, N, 32, F) N neighbourhoods of 32 frames (training), or (B, T, F) whole
            sequences (inference; edges are padded by repeating the first / last frame).
          mask: optional (B, N) or (B, T) bool, False on padding positions (excluded from pools).

        Returns:
          dict of per-position outputs, (B, N or T, ...): "hn_betas" (8), "pose_matrix"
          (24, 3, 3), and, in units the task standardises: "root_view" (3: the pelvis's
          `static_view` coordinates a, b, log depth), "root_height" (the pelvis's height above
          the ground), "camera_angles" (3: pitch, roll, horizontal FoV).
        """
        if frames.ndim == 4:
            if frames.shape[-2] != WINDOW:
                raise ValueError(f"neighbourhoods must have {WINDOW} frames, got {frames.shape}")
            h = TemporalEncoder(self.conv_features, name="encoder")(frames, strided=True)[..., 0, :]
        elif frames.ndim == 3:
            # Position t sees frames t-16 .. t+15, as a training neighbourhood centred on t does.
            half = WINDOW // 2
            padded = jnp.concatenate([jnp.repeat(frames[:, :1], half, 1), frames,
                                      jnp.repeat(frames[:, -1:], half - 1, 1)], 1)
            h = TemporalEncoder(self.conv_features, name="encoder")(padded, strided=False)
        else:
            raise ValueError(f"`frames` must be (B, N, 32, F) or (B, T, F), got {frames.shape}")
        for b in range(self.num_blocks):
            h = PoolConcatDense(self.pool_features, self.dense_features, self.dense_per_block,
                                pool=self.pooling, name=f"block{b}")(h, mask)
        pose6d = nn.Dense(POSE_JOINTS * 6, name="pose_head", kernel_init=nn.initializers.zeros,
                          bias_init=_identity_6d)(h)
        return {
            "hn_betas": nn.Dense(HN_DIM, name="shape_head")(h),
            "pose_matrix": rot6d_to_matrix(pose6d.reshape(pose6d.shape[:-1] + (POSE_JOINTS, 6))),
            "root_view": nn.Dense(3, name="root_view_head")(h),
            "root_height": nn.Dense(1, name="root_height_head")(h)[..., 0],
            "camera_angles": nn.Dense(CAMERA_ANGLES, name="camera_head")(h),
        }


def _identity_6d(key, shape, dtype=jnp.float32):
    """Bias that starts every joint at the identity rotation (6D of I = (1,0,0, 0,1,0))."""
    del key
    return jnp.tile(jnp.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], dtype), shape[-1] // 6)
