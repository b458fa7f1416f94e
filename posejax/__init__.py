"""posejax: 3D human motion and camera from 2D observations, in JAX.

Public API (more arrives with each capability):
  load_body_model, BodyModel, forward, joints, keypoints, vertices: SMPL-layout body models.
  posejax.geometry: rotations, cameras, projection, Procrustes, triangulation.
  posejax.metrics: MPJPE and friends, defined once.
  posejax.viz: matplotlib figures of bodies and 2D skeletons.
"""

from posejax.body import (BodyModel, BodyOutput, forward, get_layout, joints, keypoints,
                          load_body_model, rest_joints, vertices)

__version__ = "0.1.0"
