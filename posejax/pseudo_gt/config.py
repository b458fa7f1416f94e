"""Settings of a pseudo-ground-truth run (`python -m posejax.pseudo_gt --config=...`).

    python -m posejax.pseudo_gt --dataset=synthetic_sequences/coco23_motion_split --out=/tmp/pgt
    python -m posejax.pseudo_gt --dataset=... --out=... --config=posejax/pseudo_gt/config.py:tiny

Fields:
  batch_size: clips per vmapped bundle-adjustment solve (per process; split over its devices).
  length_multiple: clips are padded to a multiple of this many frames; every distinct padded
    length compiles the solver once, so coarser buckets compile less and pad more.
  ba: the bundle-adjustment settings (`posejax.fitting.ba_config.default_config()`: weights,
    solver, init, ...; its own `selection` field is not used here).
  ba_body_model: the body model fitted ("open", "open-lite" or a path to SMPL files).
  selection: `max_E_norm` (clips above are discarded), `min_inlier_fraction` (clips with fewer
    selected frames are discarded), `tau_R_px` (frames whose median keypoint reprojection error
    exceeds it are discarded); see `posejax.pseudo_gt.selection`. Not part of the fit: rerunning
    a finished run with other thresholds only rewrites its dataset. E_norm is in pixel units
    per metre of trajectory, so its scale follows the image and person size: the default 2e4 is
    the 80th percentile measured on the README's collection (synthetic 1000 x 1000 images),
    where the discarded fifth held the worst fits (PA-MPJPE 97 mm against 74 mm kept); for other
    footage, take a percentile of the run's own E_norm (`statistics.json`).
"""

import ml_collections

from posejax.fitting import ba_config


def get_config(arg=None) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict()
    cfg.batch_size = 16
    cfg.length_multiple = 50
    cfg.ba = ba_config.default_config()
    cfg.ba_body_model = "open"
    cfg.selection = ml_collections.ConfigDict(dict(max_E_norm=2e4, min_inlier_fraction=0.8, tau_R_px=20.0))
    if arg == "tiny":  # tests and the notebook: short solves on tiny collections
        cfg.batch_size = 2
        cfg.ba.solver.stages = (10, 30)
    elif arg:
        raise ValueError(f"unknown variant {arg!r}; use ':tiny' or nothing")
    return cfg
