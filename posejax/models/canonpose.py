"""The CanonPose lifter (Wandt et al., CVPR 2021, section 3.5).

One 2D pose in, a canonical 3D pose and a camera rotation out. The input is the pose centred on
its root joint and divided by its Frobenius norm, concatenated with the per-joint confidences.
A dense layer to `width` units and one residual block form the trunk; then two paths of two
residual blocks each: the pose path ends in 3J canonical coordinates, the camera path in an
axis-angle 3-vector turned into a rotation matrix by Rodrigues' formula. Leaky ReLU (slope 0.01)
everywhere except on the outputs. The pose as seen by the camera is `R @ X` (weak perspective:
its x, y reproject the input up to scale).
"""

from __future__ import annotations

from typing import Dict

import flax.linen as nn
import jax
import jax.numpy as jnp

from posejax.geometry.rotations import axis_angle_to_matrix

LEAKY_SLOPE = 0.01


def _act(x):
    return nn.leaky_relu(x, LEAKY_SLOPE)


class ResidualBlock(nn.Module):
    """x + act(dense(act(dense(x)))), all `width` units."""

    width: int

    @nn.compact
    def __call__(self, x):
        h = _act(nn.Dense(self.width, name="dense0")(x))
        h = _act(nn.Dense(self.width, name="dense1")(h))
        return x + h


class CanonPoseLifter(nn.Module):
    """The lifter. Defaults are the paper's (1024 units, 1 + 2 x 2 residual blocks).

    Attributes:
      num_joints: J, joints of the input and output layout.
      width: units of every hidden layer.
      trunk_blocks: residual blocks shared by both paths.
      path_blocks: residual blocks of each path.
    """

    num_joints: int
    width: int = 1024
    trunk_blocks: int = 1
    path_blocks: int = 2

    @nn.compact
    def __call__(self, inputs: jax.Array) -> Dict[str, jax.Array]:
        """Args:
          inputs: (..., 3J) the normalised 2D pose (J x 2, flattened) and confidences (J), as
            made by `posejax.tasks.canonpose.normalize_pose_2d`.

        Returns:
          "canonical" (..., J, 3) the canonical pose (the input's scale: unit Frobenius norm of
          the 2D pose), "rotation" (..., 3, 3) camera rotation, "camera_view" (..., J, 3) = R X.
        """
        if inputs.shape[-1] != 3 * self.num_joints:
            raise ValueError(f"inputs must have 3 x {self.num_joints} features, got {inputs.shape}")
        h = _act(nn.Dense(self.width, name="embed")(inputs))
        for i in range(self.trunk_blocks):
            h = ResidualBlock(self.width, name=f"trunk{i}")(h)
        pose, cam = h, h
        for i in range(self.path_blocks):
            pose = ResidualBlock(self.width, name=f"pose{i}")(pose)
            cam = ResidualBlock(self.width, name=f"camera{i}")(cam)
        canonical = nn.Dense(3 * self.num_joints, name="pose_out")(pose)
        canonical = canonical.reshape(canonical.shape[:-1] + (self.num_joints, 3))
        rotation = axis_angle_to_matrix(nn.Dense(3, name="camera_out")(cam))
        camera_view = jnp.einsum("...ij,...kj->...ki", rotation, canonical)
        return {"canonical": canonical, "rotation": rotation, "camera_view": camera_view}
