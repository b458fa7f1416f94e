"""The settings of `posejax.bundle_adjust`, as one ml_collections ConfigDict.

`default_config()` documents every default; override fields on a copy, e.g.

    cfg = posejax.fitting.ba_config.default_config()
    cfg.weights.smooth_joints = 300.0
    cfg.solver.method = "jaxopt-lbfgs"
    result = posejax.bundle_adjust(keypoints, layout="coco17", image_size=(1920, 1080), config=cfg)

or from the command line: `python -m posejax.bundle_adjust ... --config.weights.pose_prior=1`.

The paper (Arnab, Doersch and Zisserman, CVPR 2019) gives no weights. The energy weights below
were tuned on synthetic round trips (retargeted CMU motion filmed by a perspective camera, coco17,
3 px noise, 10% outlier joints, 5% missing frames; `posejax.fitting.evaluate_ba`) and checked on the
real 4-view clip; the README has the measured numbers.
"""

from __future__ import annotations

import dataclasses

import ml_collections

from posejax.fitting.energy import EnergyWeights
from posejax.fitting.initialization import InitConfig

__all__ = ["default_config", "energy_weights", "init_config"]

# Energy weights tuned on the synthetic round trip (see the module docstring; five CMU clips,
# held-out pose prior); every other EnergyWeights field keeps its documented default. First,
# with a 230-iteration solve and scalar L-BFGS scaling, mean PA-MPJPE of single changes from the
# EnergyWeights defaults (74.4 mm): smooth_joints 1e4 72.1 mm (taken); pose_prior 5 with
# smooth_joints 3e3 73.4; init_prior 300 73.8, 30 75.9; smooth_keypoints 0.5 75.6. Then, with
# solves run until the energy stalls and grouped scaling (66.2 mm, real clip 111.6 mm mean over
# the four cameras): smooth_keypoints 0.2 63.4 / 107.8 mm (taken), 0.5 65.2 / 105.1, 1.0 68.4 /
# 105.5; smooth_joints 3e4 68.2 / 108.3, 3e3 67.5 / 110.3; pose_prior 4 65.6 / 111.8;
# init_prior 300 63.7 / 114.9. Per clip these move by up to 10 mm: under depth ambiguity the
# energy has several minima of nearly equal value and a change of weights can switch between them.
_TUNED_WEIGHTS = dict(outliers=True, smooth_joints=1e4, smooth_keypoints=0.2)
# The initialisation uses the GMM pose prior (its NLL, nats, against a mean squared reprojection
# error in metres^2): 1e-3 roughly halved the per-frame PA-MPJPE of the L2 default on the round trip.
_TUNED_INIT = dict(pose_prior_weight=1e-3)


def default_config() -> ml_collections.ConfigDict:
    """All settings of bundle adjustment with their defaults.

    Fields:
      camera: "weak" (the paper: per-frame scale and translation) or "perspective" (beyond the
        paper: one focal length for the clip and a per-frame 3D root translation, so the result
        has a global trajectory).
      weights: the energy weights (`posejax.fitting.energy.EnergyWeights`: units and meaning of
        each).
      solver.method: "posejax-lbfgs" (default: compiles fastest), "jaxopt-lbfgs" or "optax-lbfgs"
        (`posejax.fitting.solvers`).
      solver.stages: iteration caps per stage; stage 1 frees only the cameras, the global
        orientation and the shape, later stages everything (0 iterations skips a stage).
      solver.tol: stop a stage when the gradient norm of the per-frame energy (energy / number of
        frames) is below this.
      solver.ftol: stop a stage when the energy fell by at most this fraction over the last 10
        iterations; 0 runs every stage to its cap. 5e-5 (0.005%): on the benchmark clip the
        default solve stops after 30 + 255 iterations, 0.03% above the energy of 3,000 iterations
        and 1.7 mm (mean) from their joints; against 1e-5 (30 + 348 iterations, 0.01%, 1.3 mm) it
        needs a quarter fewer iterations on the round trip's clips for the same accuracy (65.2
        against 65.0 mm PA-MPJPE synthetic, 108.2 against 108.1 mm on the real clip).
      solver.scaling: posejax-lbfgs's initial Hessian: "grouped" (one scale per joint angle,
        camera coordinate and the shape, `posejax.fitting.lbfgs`; measured with the earlier
        weights: 340 instead of 530 iterations to convergence, and 66.1 instead of 69.5 mm
        PA-MPJPE on the synthetic round trip after 530 iterations, than "scalar"). The other backends always use
        their scalar one.
      solver.history_size: L-BFGS memory.
      init: the per-frame initialisation (`posejax.fitting.initialization.InitConfig`).
      tracking: multi-person input: `method` ("joint" or "shortest_path"), `skip_cost_px` (the
        paper's 100 px) and `min_confidence` (`posejax.fitting.tracking.track_person`).
      selection: `max_E_norm` and `min_inlier_fraction`, the thresholds of `BAResult.selected`.
    """
    cfg = ml_collections.ConfigDict()
    cfg.camera = "weak"
    weights = {f.name: getattr(EnergyWeights(), f.name) for f in dataclasses.fields(EnergyWeights)}
    weights.update(_TUNED_WEIGHTS)
    cfg.weights = ml_collections.ConfigDict(weights)
    cfg.solver = ml_collections.ConfigDict(dict(
        method="posejax-lbfgs", stages=(30, 1000), tol=1e-3, ftol=5e-5, scaling="grouped", history_size=10))
    init = {f.name: getattr(InitConfig(), f.name) for f in dataclasses.fields(InitConfig)}
    init.update(_TUNED_INIT)
    cfg.init = ml_collections.ConfigDict(init)
    cfg.tracking = ml_collections.ConfigDict(dict(method="joint", skip_cost_px=100.0, min_confidence=0.1))
    cfg.selection = ml_collections.ConfigDict(dict(max_E_norm=float("inf"), min_inlier_fraction=0.8))
    return cfg


def _merged(config) -> ml_collections.ConfigDict:
    """`config` (None, a ConfigDict or a nested mapping of overrides) over the defaults."""
    cfg = default_config()
    if config is None:
        return cfg
    items = config.to_dict() if hasattr(config, "to_dict") else config
    if not isinstance(items, dict):
        raise ValueError(f"`config` must be None, a ConfigDict or a mapping, got {type(config).__name__}")
    _update(cfg, items, "config")
    return cfg


def _update(cfg: ml_collections.ConfigDict, items: dict, where: str) -> None:
    for key, value in items.items():
        if key not in cfg:
            raise ValueError(f"`{where}.{key}` is not a setting; known: {sorted(cfg.keys())}")
        if isinstance(cfg[key], ml_collections.ConfigDict):
            if not isinstance(value, dict) and not hasattr(value, "to_dict"):
                raise ValueError(f"`{where}.{key}` must be a mapping, got {type(value).__name__}")
            _update(cfg[key], value.to_dict() if hasattr(value, "to_dict") else value, f"{where}.{key}")
        else:
            with cfg.unlocked():
                cfg[key] = value


def energy_weights(cfg: ml_collections.ConfigDict) -> EnergyWeights:
    """The `EnergyWeights` of a config."""
    values = cfg.weights.to_dict()
    floats = {k: float(v) for k, v in values.items() if k not in ("robust_kind", "outliers")}
    return EnergyWeights(**{**values, **floats})


def init_config(cfg: ml_collections.ConfigDict) -> InitConfig:
    """The `InitConfig` of a config."""
    return InitConfig(**cfg.init.to_dict())
