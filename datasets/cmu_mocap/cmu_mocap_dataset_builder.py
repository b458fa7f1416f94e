"""`cmu_mocap`: CMU motion capture retargeted to SMPL parameters, with the source 3D points.

Reads the CMU files you hold (ASF/AMC pairs `SS.asf` + `SS_TT.amc`, and BVH files; searched
recursively in the manual folder, so the CMU "subjects/SS/" layout works), resamples each motion
to the config's frame rate and fits SMPL pose, translation and one shape to it
(`posejax.fitting.retarget.retarget`, open body model by default).

Build (no TensorFlow needed; ArrayRecord files):

    python -m posejax.data_loading build cmu_mocap --config=default --data_dir=/tmp/tfds \
        --manual_dir=/path/to/cmu_mocap

Without `--manual_dir`, `<data_dir>/downloads/manual` is used when it holds files, else
`../shared/data/cmu_mocap` beside the repository.

Configs: `tiny` (tests: the walk 02_01 only, at 10 fps), `default` (every file, 30 fps).

Features (T frames, P source points; one example per motion file, split "train"):
  name (e.g. "cmu_02_01"), source_format ("asf_amc" | "bvh"), fps float32,
  pose (T, 24, 3) float32 SMPL axis-angle radians, transl (T, 3) metres (world Y up, lowest foot
  point on y = 0), betas (10,) float32, joints3d (T, 24, 3) metres (the fitted model's joints),
  body_model (name of the model the fit is for), fit_error_mm float32 (mean corresponding-joint
  error of the fit), points3d (T, P, 3) float32 metres (source skeleton points, file frame
  resampled to fps), point_names (P,) str, point_parents (P,) int32.
"""

from __future__ import annotations

import dataclasses
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow_datasets as tfds

from posejax_datasets import common

NAME = "cmu_mocap"


@dataclasses.dataclass(eq=False)
class CmuMocapConfig(tfds.core.BuilderConfig):
    """Builder config.

    Attributes:
      fps: frame rate the motions are resampled to before fitting.
      clips: file stems to include (e.g. ("02_01",)); empty = every file found.
      max_seconds: cut every motion to at most this many seconds (None = whole motion).
      body_model: body model the motion is retargeted to ("open" or a SMPL model path).
    """

    fps: float = 30.0
    clips: Tuple[str, ...] = ()
    max_seconds: Optional[float] = None
    body_model: str = "open"


CONFIGS = [
    CmuMocapConfig(name="tiny", description="Tests: the walk 02_01 only, at 10 fps.",
                   fps=10.0, clips=("02_01",)),
    CmuMocapConfig(name="default", description="Every CMU file in the manual folder, 30 fps."),
]


def find_motion_files(folder: str, clips: Sequence[str] = ()) -> List[Tuple[str, str, tuple]]:
    """Lists the motions in a folder of CMU files.

    Args:
      folder: searched recursively for `*.amc` (each needs `<subject>.asf` beside it, subject =
        the part of the name before the first "_") and `*.bvh`.
      clips: file stems to keep; empty = all.

    Returns:
      [(stem, "asf_amc" | "bvh", paths)] sorted by stem, paths = (asf, amc) or (bvh,).

    Raises:
      FileNotFoundError: no motion file found, an AMC without its ASF, or a requested clip absent.
    """
    found = {}
    for root, _, files in os.walk(folder):
        lower = {f.lower(): f for f in files}
        for f in files:
            stem, ext = os.path.splitext(f)
            ext = ext.lower()
            if ext == ".amc":
                subject = stem.split("_")[0]
                asf = lower.get(f"{subject.lower()}.asf")
                if asf is None:
                    raise FileNotFoundError(
                        f"{os.path.join(root, f)}: no skeleton file {subject}.asf beside it "
                        f"(an AMC file needs its subject's ASF in the same folder)")
                found[stem] = (stem, "asf_amc", (os.path.join(root, asf), os.path.join(root, f)))
            elif ext == ".bvh":
                found[stem] = (stem, "bvh", (os.path.join(root, f),))
    if clips:
        missing = [c for c in clips if c not in found]
        if missing:
            raise FileNotFoundError(f"{folder}: requested clips {missing} not found; it has "
                                    f"{sorted(found)}")
        found = {c: found[c] for c in clips}
    if not found:
        raise FileNotFoundError(f"{folder}: no CMU motion files (*.amc with their *.asf, or *.bvh)")
    return [found[k] for k in sorted(found)]


def read_motion(kind: str, paths: tuple, name: str):
    """Reads one motion file as a `posejax.io.skeleton_motion.SkeletonMotion`."""
    if kind == "asf_amc":
        from posejax.io.asf_amc import read_asf_amc

        return read_asf_amc(paths[0], paths[1], name=name)
    from posejax.io.bvh import read_bvh

    return read_bvh(paths[0], name=name)


class CmuMocap(tfds.core.GeneratorBasedBuilder):
    """CMU mocap retargeted to SMPL parameters (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_BUILDER_CONFIG_NAME = "default"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Put CMU mocap files in the manual folder (or pass --manual_dir): ASF/AMC pairs (SS.asf next to
    SS_TT.amc) and/or BVH files, from http://mocap.cs.cmu.edu. Subfolders are searched. Without a
    manual folder, ../shared/data/cmu_mocap beside the repository is used when present.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        t = common.tensor
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "name": tfds.features.Text(),
                "source_format": tfds.features.Text(),
                "fps": tfds.features.Scalar(np.float32),
                "pose": t((None, 24, 3)),
                "transl": t((None, 3)),
                "betas": t((common.NUM_BETAS,)),
                "joints3d": t((None, 24, 3)),
                "body_model": tfds.features.Text(),
                "fit_error_mm": tfds.features.Scalar(np.float32),
                "points3d": t((None, None, 3)),
                "point_names": tfds.features.Sequence(tfds.features.Text()),
                "point_parents": t((None,), np.int32),
            }),
            disable_shuffling=True,
            homepage="http://mocap.cs.cmu.edu",
            citation="The data used in this project was obtained from mocap.cs.cmu.edu. The "
                     "database was created with funding from NSF EIA-0196217.",
        )

    def _manual_folder(self, dl_manager) -> str:
        try:
            return os.fspath(dl_manager.manual_dir)
        except AssertionError:  # no (or an empty) manual folder: fall back to the shared data
            shared = common.shared_data_dir("cmu_mocap")
            if shared is None:
                raise FileNotFoundError(
                    f"{NAME}: no manual folder with CMU files and no ../shared/data/cmu_mocap; "
                    f"pass --manual_dir (DownloadConfig(manual_dir=...)).\n"
                    f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}") from None
            return shared

    def _split_generators(self, dl_manager):
        folder = self._manual_folder(dl_manager)
        files = find_motion_files(folder, self.builder_config.clips)
        common.log(NAME, f"motion source: CMU files in {folder}: {len(files)} motions "
                         f"({', '.join(f[0] for f in files[:8])}{' ...' if len(files) > 8 else ''})")
        return {"train": self._generate_examples(files)}

    def _generate_examples(self, files):
        from posejax.body import kinematics, load_body_model
        from posejax.fitting.retarget import retarget

        config = self.builder_config
        model = load_body_model(config.body_model)
        for stem, kind, paths in common.progress(files, len(files), NAME, "motions retargeted",
                                                 every_s=0.0):
            motion = read_motion(kind, paths, f"cmu_{stem}")
            if config.max_seconds is not None:
                keep = max(2, int(round(config.max_seconds * motion.fps)))
                motion = dataclasses.replace(motion, positions=motion.positions[:keep])
            motion = motion.resample(config.fps)
            clip, report = retarget(motion, model, fps=config.fps)
            error = float(report.mean_error_mm)
            common.log(NAME, f"{stem}: {clip.num_frames} frames at {config.fps:g} fps, "
                             f"fit error mean {error:.1f} mm, max {report.max_error_mm:.1f} mm")
            joints = kinematics.joints(model, clip.pose, clip.betas[: model.num_betas], clip.transl)
            yield stem, {
                "name": clip.name,
                "source_format": kind,
                "fps": np.float32(clip.fps),
                "pose": clip.pose,
                "transl": clip.transl,
                "betas": common.fixed_betas(clip.betas),
                "joints3d": np.asarray(joints, np.float32),
                "body_model": model.name,
                "fit_error_mm": np.float32(error),
                "points3d": motion.positions,
                "point_names": list(motion.point_names),
                "point_parents": np.asarray(motion.parents, np.int32),
            }
