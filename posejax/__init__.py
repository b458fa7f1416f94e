"""posejax: 3D human motion and camera from 2D observations, in JAX.

Public API (more arrives with each capability):
  load_body_model, BodyModel, forward, joints, keypoints, vertices: SMPL-layout body models.
  bundle_adjust, BAResult: whole-video SMPL bundle adjustment (Arnab et al. 2019); also
    `python -m posejax.bundle_adjust`.
  posejax.regress: `regress_sequence` with a trained pooled temporal regressor (Habekost et al.).
  posejax.train / posejax.evaluate: `python -m posejax.train --config=experiments/<name>.py[:tiny]
    --workdir=DIR` trains any model on the shared harness (`posejax.training`).
  posejax.geometry: rotations, cameras, projection, Procrustes, triangulation.
  posejax.metrics: MPJPE and friends, defined once.
  posejax.viz: matplotlib figures of bodies and 2D skeletons.
"""

from posejax.body import (BodyModel, BodyOutput, forward, get_layout, joints, keypoints,
                          load_body_model, rest_joints, vertices)

__version__ = "0.1.0"

# Loaded on first use, so `import posejax` stays light (no solvers, no config machinery).
_LAZY = ("bundle_adjust", "BAResult")


def __getattr__(name):
    if name == "bundle_adjust":
        import importlib

        # The submodule is callable as the function (see its `_CallableModule`); importing it also
        # binds it here, so this runs once.
        return importlib.import_module("posejax.bundle_adjust")
    if name == "BAResult":
        from posejax.fitting.bundle_adjustment import BAResult

        return BAResult
    raise AttributeError(f"module 'posejax' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
