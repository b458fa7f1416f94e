"""The keypoint sequences a pseudo-ground-truth run fits: from a TFDS dataset or a folder of files.

A source is named by `--dataset`:
  * `name` or `name/config` of a posejax TFDS dataset with 2D keypoint sequences
    (`synthetic_sequences`; `synthetic_multiview`, each view a clip; a `pseudo_gt` run's dataset;
    prepared under `data_dir`, built first when it is not), or the folder of a prepared TFDS
    dataset (the one holding `dataset_info.json`);
  * a folder of clips: every OpenPose JSON folder, COCO keypoint .json file and .npz file in it
    (the forms `posejax.bundle_adjust` reads), one clip each, named by its path in the folder.

Clips from a TFDS dataset keep their ground truth when it has some (`joints3d`): the selection
statistics then report how accurate the kept and the discarded fits are.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from posejax.fitting.ba_inputs import VideoKeypoints, read_video_keypoints

__all__ = ["Clip", "read_clips"]


@dataclasses.dataclass(frozen=True)
class Clip:
    """One keypoint sequence to fit.

    Attributes:
      clip_id: unique name inside the source (TFDS: "<split>/<index>[/view<v>]"; folder: relative
        path).
      keypoints: (T, K, 3) one person's keypoints (x, y pixels, confidence), or (T, P, K, 3)
        multi-person detections (`multi_person`); missing = (NaN, NaN, 0).
      layout: keypoint layout name.
      image_size: (W, H) pixels.
      multi_person: whether `keypoints` holds per-frame detections to track.
      truth_joints: (T, 24, 3) true SMPL joints in metres when the source has them, else None.
    """

    clip_id: str
    keypoints: np.ndarray
    layout: str
    image_size: Tuple[int, int]
    multi_person: bool = False
    truth_joints: Optional[np.ndarray] = None

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def num_slots(self) -> int:
        """Detection slots per frame (1 for one person's keypoints)."""
        return int(self.keypoints.shape[1]) if self.multi_person else 1


def _is_tfds_folder(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "dataset_info.json"))


def _tfds_clips(source, split: str, layout: Optional[str], image_size) -> List[Clip]:
    """Clips of a TFDS split; a dataset whose examples carry `layout` and `image_size` (e.g.
    `pseudo_gt`) gives them per example."""
    clips = []
    for i in range(len(source)):
        ex = source[i]
        kp = np.concatenate([np.asarray(ex["keypoints2d"], np.float32),
                             np.asarray(ex["confidence"], np.float32)[..., None]], -1)
        truth = np.asarray(ex["joints3d"], np.float32) if "joints3d" in ex else None
        if "truth_joints3d" in ex:  # a pseudo-GT dataset: its fit is not the truth
            truth = np.asarray(ex["truth_joints3d"], np.float32) if bool(ex["has_truth"]) else None
        ex_layout = ex["layout"].decode() if "layout" in ex else layout
        size = tuple(int(v) for v in ex["image_size"]) if "image_size" in ex else image_size
        if kp.ndim == 4:  # multi-view (V, T, K, 3): each view is a monocular clip
            truth = np.asarray(ex["joints3d_cam"], np.float32)
            clips += [Clip(f"{split}/{i:06d}/view{v}", kp[v], ex_layout, size, truth_joints=truth[v])
                      for v in range(kp.shape[0])]
        else:
            clips.append(Clip(f"{split}/{i:06d}", kp, ex_layout, size, truth_joints=truth))
    return clips


def _keypoint_config(builder) -> Tuple[Optional[str], Optional[Tuple[int, int]]]:
    """Layout and image size of a dataset's keypoints: from a synthetic-sequences config, or
    (None, None) for a dataset whose examples say (`pseudo_gt`)."""
    from posejax.data_loading import DATASETS, builder_class

    if builder.name == "pseudo_gt":
        return None, None
    config = builder.builder_config
    if builder.name in DATASETS:
        # A builder read back from its folder has a plain config: take posejax's of that name.
        config = builder_class(builder.name).builder_configs.get(config.name, config)
    if hasattr(config, "multiview_config"):
        views = config.multiview_config()
        return views.layout, tuple(views.image_size)
    if not hasattr(config, "sequence_config"):
        raise ValueError(f"dataset {builder.name!r} config {config.name!r} holds no 2D keypoint "
                         "sequences; pseudo ground truth reads `synthetic_sequences`, "
                         "`synthetic_multiview` or `pseudo_gt` datasets or a folder of keypoint files")
    seq = config.sequence_config()
    if seq.observation == "surface178":
        raise ValueError("the surface178 observation has no keypoint layout; use a keypoint config")
    return seq.observation, tuple(seq.image_size)


def _folder_clips(folder: str, image_size, limit: Optional[int]) -> List[Clip]:
    entries = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        is_openpose = os.path.isdir(path) and any(f.endswith(".json") for f in os.listdir(path))
        if is_openpose or name.endswith((".npz", ".json")):
            entries.append((name, path))
    if not entries:
        raise ValueError(f"{folder}: no clips (OpenPose JSON folders, COCO .json or .npz files) in it")
    clips = []
    for name, path in entries[:limit]:
        source: VideoKeypoints = read_video_keypoints(path)
        size = source.image_size or image_size
        if size is None:
            raise ValueError(f"{path}: the file gives no image size; pass `image_size` (W, H)")
        if source.layout is None:
            raise ValueError(f"{path}: the file gives no keypoint layout (an .npz needs a `layout` entry)")
        det = source.detections
        kp = det if source.multi_person else det[:, 0]
        clips.append(Clip(name, kp, source.layout, tuple(int(v) for v in size), source.multi_person))
    return clips


def read_clips(dataset: str, *, split: str = "train", data_dir: Optional[str] = None,
               image_size: Optional[Tuple[int, int]] = None, limit: Optional[int] = None) -> List[Clip]:
    """The clips of a source (module docstring), in a fixed order.

    Args:
      dataset: TFDS name (`name` or `name/config`), a prepared TFDS folder, or a folder of clips.
      split: the TFDS split to read.
      data_dir: where TFDS datasets are prepared (TFDS names only).
      image_size: (W, H) for folder clips whose files do not say.
      limit: read only the first `limit` examples (TFDS; a multi-view example gives one clip per
        view) or files.

    Raises:
      ValueError: an unknown dataset or split, a dataset without keypoint sequences, clips without
        layout or image size.
    """
    if os.path.isdir(dataset) and _is_tfds_folder(dataset):
        import tensorflow_datasets as tfds

        builder = tfds.builder_from_directory(dataset)
        splits: Dict = dict(builder.as_data_source())
    elif os.path.isdir(dataset):
        return _folder_clips(dataset, image_size, limit)
    else:
        from posejax.data_loading import build

        name, _, config = dataset.partition("/")
        builder = build(name, config or None, data_dir)
        splits = dict(builder.as_data_source())
    if split not in splits:
        raise ValueError(f"dataset {dataset!r} has no split {split!r}; splits: {sorted(splits)}")
    layout, size = _keypoint_config(builder)
    source = splits[split]
    if limit is not None:
        source = [source[i] for i in range(min(limit, len(source)))]
    return _tfds_clips(source, split, layout, size)
