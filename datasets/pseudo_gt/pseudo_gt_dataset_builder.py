"""`pseudo_gt`: bundle-adjustment fits of keypoint sequences, selected as pseudo ground truth.

Written by `python -m posejax.pseudo_gt --dataset=... --out=DIR` (Arnab et al., sections 4-5)
under `DIR/tfds` from the run's shards (`DIR/shards`, the manual folder); read it with

    posejax.data_loading.load_dataset("pseudo_gt", data_dir="DIR/tfds")

Splits: "train" holds the selected clips (E_norm and inlier thresholds,
`posejax.pseudo_gt.selection`), "rejected" the others (a split without clips is left out).
Example key and order: the clip id.

Features (T frames, K input keypoints, K' keypoints of the fit's layout):
  clip_id, layout (input), fit_layout: text; image_size (2,) int32 (W, H) pixels;
  keypoints2d (T, K, 2) pixels and confidence (T, K): the fitted person's detections;
  betas (10,); pose (T, 24, 3) axis-angle radians (joint 0 relative to the camera);
  camera_scale (T,) px/m and camera_translation (T, 2) px: the weak-perspective cameras;
  joints3d (T, 24, 3) metres (body frame, zero translation); keypoints3d (T, K', 3);
  keypoints2d_fit (T, K', 2); ba_inlier (T,) bool; reprojection_px (T,); frame_selected (T,)
  bool; E_norm, energy, trajectory_length (metres) float32; iterations int32; selected bool;
  has_truth bool, truth_joints3d (T or 0, 24, 3) metres, pa_mpjpe_mm and init_pa_mpjpe_mm
  (NaN without ground truth).
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow_datasets as tfds

from posejax_datasets import common

NAME = "pseudo_gt"


def features() -> dict:
    t = common.tensor
    scalar = tfds.features.Scalar
    text = tfds.features.Text
    return {
        "clip_id": text(), "layout": text(), "fit_layout": text(),
        "image_size": t((2,), np.int32),
        "keypoints2d": t((None, None, 2)), "confidence": t((None, None)),
        "betas": t((common.NUM_BETAS,)), "pose": t((None, 24, 3)),
        "camera_scale": t((None,)), "camera_translation": t((None, 2)),
        "joints3d": t((None, 24, 3)), "keypoints3d": t((None, None, 3)),
        "keypoints2d_fit": t((None, None, 2)),
        "ba_inlier": t((None,), np.bool_), "reprojection_px": t((None,)),
        "frame_selected": t((None,), np.bool_),
        "E_norm": scalar(np.float32), "energy": scalar(np.float32),
        "trajectory_length": scalar(np.float32), "iterations": scalar(np.int32),
        "selected": scalar(np.bool_), "has_truth": scalar(np.bool_),
        "truth_joints3d": t((None, 24, 3)), "pa_mpjpe_mm": scalar(np.float32),
        "init_pa_mpjpe_mm": scalar(np.float32),
    }


class PseudoGt(tfds.core.GeneratorBasedBuilder):
    """Selected bundle-adjustment fits (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Written by `python -m posejax.pseudo_gt`: the manual folder is the run's `shards` folder.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__, features=tfds.features.FeaturesDict(features()),
            disable_shuffling=True, homepage="https://github.com/posejax/posejax")

    def _split_generators(self, dl_manager):
        import ml_collections

        from posejax.pseudo_gt.run import read_records

        shards = os.fspath(dl_manager.manual_dir)
        run = os.path.dirname(shards)
        with open(os.path.join(run, "selection.json")) as f:  # written by the run before building
            selection = ml_collections.ConfigDict(json.load(f))
        records = sorted(read_records(run, selection), key=lambda r: str(r["clip_id"]))
        common.log(NAME, f"{len(records)} fitted clips from {shards}")
        splits = {"train": [r for r in records if bool(r["selected"])],
                  "rejected": [r for r in records if not bool(r["selected"])]}
        # TFDS refuses empty splits: a run that kept (or discarded) every clip has one split.
        return {name: self._generate_examples(recs) for name, recs in splits.items() if recs}

    def _generate_examples(self, records):
        spec = features()
        for rec in records:
            values = {k: (str(v) if isinstance(spec.get(k), tfds.features.Text) else v) for k, v in rec.items()}
            yield str(rec["clip_id"]), common.to_example(values, spec)
