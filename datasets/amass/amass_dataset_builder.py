"""`amass`: AMASS motion as SMPL parameters, from the npz files you hold.

AMASS (https://amass.is.tue.mpg.de) is licence-restricted: download it yourself and point the
builder at the folder (searched recursively for `*.npz`; the per-subject `shape.npz` files, which
hold no motion, are skipped). Each file is read with `posejax.io.amass.read_amass` (SMPL and SMPL-H
files: the 22 body joints + the two hand joints of SMPL's 24), turned from AMASS's Z-up world into
posejax's Y-up world (`posejax.io.amass.amass_to_y_up`) and optionally resampled.

Build (no TensorFlow needed; ArrayRecord files):

    python -m posejax.data_loading build amass --config=default --data_dir=/tmp/tfds \
        --manual_dir=/path/to/AMASS

Configs: `tiny` (tests: at most 2 s per file, 10 fps), `default` (whole files at 30 fps),
`native` (whole files at their own frame rate).

Features (T frames; one example per npz file, split "train"):
  name (path relative to the manual folder, without ".npz"), pose (T, 24, 3) float32 SMPL
  axis-angle radians, transl (T, 3) float32 metres (world Y up; the rotation is applied about
  the origin, i.e. without the subject's pelvis offset, so heights are off by a constant of a
  few cm: re-ground with your body model if it matters), betas (10,)
  float32 (the first 10 of the file's shape coefficients; they belong to the file's body model,
  not to posejax's open model), gender (str), fps float32, source_fps float32.
"""

from __future__ import annotations

import dataclasses
import os
from typing import List, Optional

import numpy as np
import tensorflow_datasets as tfds

from posejax_datasets import common

NAME = "amass"


@dataclasses.dataclass(eq=False)
class AmassConfig(tfds.core.BuilderConfig):
    """Builder config.

    Attributes:
      fps: frame rate the motions are resampled to (None = keep each file's).
      max_seconds: cut every motion to at most this many seconds (None = whole motion).
      y_up: turn Z-up files into posejax's Y-up world (False keeps the file's frame).
    """

    fps: Optional[float] = 30.0
    max_seconds: Optional[float] = None
    y_up: bool = True


CONFIGS = [
    AmassConfig(name="tiny", description="Tests: at most 2 s per file, at 10 fps.",
                fps=10.0, max_seconds=2.0),
    AmassConfig(name="default", description="Whole files, resampled to 30 fps."),
    AmassConfig(name="native", description="Whole files at their own frame rate.", fps=None),
]


def find_amass_files(folder: str) -> List[str]:
    """Sorted paths of the AMASS motion npz files under `folder` (recursive; skips shape.npz).

    Raises:
      FileNotFoundError: the folder does not exist or holds no npz file.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{NAME}: manual folder {folder} does not exist")
    paths = sorted(os.path.join(root, f) for root, _, files in os.walk(folder) for f in files
                   if f.lower().endswith(".npz") and f.lower() != "shape.npz")
    if not paths:
        raise FileNotFoundError(f"{NAME}: no AMASS *.npz files under {folder}")
    return paths


class Amass(tfds.core.GeneratorBasedBuilder):
    """AMASS motion as SMPL parameters (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_BUILDER_CONFIG_NAME = "default"
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Download AMASS (SMPL+H G or SMPL-X N renders' npz files) from https://amass.is.tue.mpg.de
    after accepting its licence, extract it and pass the folder as --manual_dir
    (DownloadConfig(manual_dir=...)). Subfolders are searched.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        t = common.tensor
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "name": tfds.features.Text(),
                "pose": t((None, 24, 3)),
                "transl": t((None, 3)),
                "betas": t((common.NUM_BETAS,)),
                "gender": tfds.features.Text(),
                "fps": tfds.features.Scalar(np.float32),
                "source_fps": tfds.features.Scalar(np.float32),
            }),
            disable_shuffling=True,
            homepage="https://amass.is.tue.mpg.de",
            citation="Mahmood et al., AMASS: Archive of Motion Capture as Surface Shapes, "
                     "ICCV 2019.",
        )

    def _split_generators(self, dl_manager):
        folder = os.fspath(dl_manager.manual_dir)
        paths = find_amass_files(folder)
        common.log(NAME, f"motion source: AMASS files in {folder}: {len(paths)} files")
        return {"train": self._generate_examples(folder, paths)}

    def _generate_examples(self, folder, paths):
        from posejax.io.amass import amass_to_y_up, read_amass
        from posejax.synth.motion import MotionClip

        config = self.builder_config
        for path in common.progress(paths, len(paths), NAME, "files", every_s=10.0):
            data = read_amass(path)
            name = os.path.splitext(os.path.relpath(path, folder))[0].replace(os.sep, "/")
            source_fps = float(data["fps"])
            pose, transl = data["pose"], data["transl"]
            if config.y_up and data.get("up_axis", "z") == "z":
                pose, transl = amass_to_y_up(pose, transl)
            clip = MotionClip(name=name, source="amass", fps=source_fps, pose=pose,
                              transl=transl, betas=common.fixed_betas(data["betas"]))
            if config.fps is not None and abs(config.fps - source_fps) > 1e-6:
                clip = clip.resample(config.fps)
            pose, transl = clip.pose, clip.transl
            if config.max_seconds is not None:
                keep = max(1, int(round(config.max_seconds * clip.fps)))
                pose, transl = pose[:keep], transl[:keep]
            yield name, {
                "name": name,
                "pose": pose,
                "transl": transl,
                "betas": clip.betas,
                "gender": str(data.get("gender", "neutral")),
                "fps": np.float32(clip.fps),
                "source_fps": np.float32(source_fps),
            }
