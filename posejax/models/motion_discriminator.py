"""Motion discriminator for the adversarial pooled regressor (Habekost et al., "adversarial +
pooling"): tells predicted per-frame (pose, translation) sets of a sequence from real motion,
with the regressor's global pooling (each frame sees the max-pooled summary of the whole set)."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from posejax.models.pooled_regressor import PoolConcatDense


class MotionDiscriminator(nn.Module):
    """Per-frame features -> one realness logit per sequence.

    Attributes:
      features: width of the per-frame embedding and of the dense layers.
      pool_features: units of each block's max-pooled vector.
      num_blocks: pool-concat-dense blocks.
    """

    features: int = 256
    pool_features: int = 128
    num_blocks: int = 2

    @nn.compact
    def __call__(self, pose_matrix: jax.Array, root: jax.Array) -> jax.Array:
        """Args:
          pose_matrix: (B, N, 24, 3, 3) joint rotations of N frames of each sequence.
          root: (B, N, 3) standardised root positions.

        Returns:
          (B,) logits (real > 0).
        """
        x = jnp.concatenate([pose_matrix.reshape(pose_matrix.shape[:2] + (-1,)), root], -1)
        x = nn.relu(nn.Dense(self.features, name="embed")(x))
        for b in range(self.num_blocks):
            x = PoolConcatDense(self.pool_features, self.features, 1, name=f"block{b}")(x)
        return jnp.mean(nn.Dense(1, name="logit")(x)[..., 0], -1)
