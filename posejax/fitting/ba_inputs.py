"""Reading the `video_keypoints` argument of `posejax.bundle_adjust` into one array.

Accepted inputs:
  * an array (T, K, 2 or 3): one person, x, y in pixels (and confidence);
  * an array (T, P, K, 3) or a list of per-frame (P_t, K, 3) arrays (P_t may be 0): detections of
    any number of people per frame;
  * a path: a folder of OpenPose JSON files (one per frame, BODY_25B), a COCO keypoint JSON file (images in
    id order are the frames), or an .npz file with a `keypoints` array (and optionally
    `confidences`, `layout`, `image_size`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Tuple

import numpy as np

from posejax.body.layouts import get_layout
from posejax.fitting.tracking import pad_detections

__all__ = ["VideoKeypoints", "read_video_keypoints", "check_layout"]


@dataclasses.dataclass(frozen=True)
class VideoKeypoints:
    """Detections of a video, padded to one array.

    Attributes:
      detections: (T, P, K, 3) float32 x, y (pixels), confidence; missing = (NaN, NaN, 0).
      multi_person: whether the input held per-frame detection lists (tracking is needed) rather
        than one person's keypoints.
      layout: the layout name the source declared (None when it did not say).
      image_size: (W, H) when the source gave it, else None.
    """

    detections: np.ndarray
    multi_person: bool
    layout: Optional[str] = None
    image_size: Optional[Tuple[int, int]] = None

    @property
    def num_frames(self) -> int:
        return int(self.detections.shape[0])


def _from_array(arr: np.ndarray, confidences) -> VideoKeypoints:
    if arr.ndim == 3:
        if arr.shape[-1] not in (2, 3):
            raise ValueError(f"`video_keypoints` of shape (T, K, C) needs C = 2 or 3, got {arr.shape}")
        if confidences is not None:
            conf = np.asarray(confidences, np.float32)
            if conf.shape != arr.shape[:2]:
                raise ValueError(f"`confidences` must have shape {arr.shape[:2]}, got {conf.shape}")
        else:
            conf = arr[..., 2] if arr.shape[-1] == 3 else np.ones(arr.shape[:2], np.float32)
        det = np.concatenate([arr[..., :2], conf[..., None]], -1)[:, None]
        return VideoKeypoints(det.astype(np.float32), multi_person=False)
    if arr.ndim == 4:
        if arr.shape[-1] != 3:
            raise ValueError(f"multi-person `video_keypoints` must have shape (T, P, K, 3), got {arr.shape}")
        if confidences is not None:
            raise ValueError("`confidences` is only for (T, K, 2) keypoints; multi-person detections "
                             "carry their confidences in the last channel")
        return VideoKeypoints(arr.astype(np.float32), multi_person=True)
    raise ValueError("`video_keypoints` must have shape (T, K, 2|3) or (T, P, K, 3), got "
                     f"{arr.shape}")


def _from_path(path: str) -> VideoKeypoints:
    if os.path.isdir(path):
        from posejax.io.openpose import read_openpose_folder

        seq = read_openpose_folder(path)  # BODY_25B, as posejax's demo data (see its docstring)
        return VideoKeypoints(seq.to_array(), multi_person=True, layout=seq.layout)
    if not os.path.exists(path):
        raise FileNotFoundError(f"`video_keypoints` path {path!r} does not exist")
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as f:
            if "keypoints" not in f:
                raise ValueError(f"{path}: an .npz input needs a `keypoints` array; it has {sorted(f.keys())}")
            out = _from_array(np.asarray(f["keypoints"], np.float32),
                              f["confidences"] if "confidences" in f else None)
            layout = str(f["layout"]) if "layout" in f else None
            size = tuple(int(v) for v in f["image_size"]) if "image_size" in f else None
        return dataclasses.replace(out, layout=layout, image_size=size)
    if path.endswith(".json"):
        from posejax.io.coco_json import read_coco_keypoints

        coco = read_coco_keypoints(path)
        ids = sorted(coco.keys())
        det = pad_detections([np.asarray(coco[i], np.float32).reshape(-1, 17, 3) if len(coco[i])
                              else np.zeros((0, 17, 3), np.float32) for i in ids])
        sizes = {(int(im["width"]), int(im["height"])) for im in coco.images.values()
                 if "width" in im and "height" in im}
        return VideoKeypoints(det.astype(np.float32), multi_person=True, layout="coco17",
                              image_size=sizes.pop() if len(sizes) == 1 else None)
    raise ValueError(f"`video_keypoints` path {path!r}: expected an OpenPose JSON folder, a COCO "
                     "keypoint .json file or an .npz file")


def read_video_keypoints(video_keypoints, confidences=None) -> VideoKeypoints:
    """Reads any accepted input (module docstring) into a `VideoKeypoints`.

    Raises:
      ValueError: malformed arrays or unknown file types; FileNotFoundError: missing paths.
    """
    if isinstance(video_keypoints, (str, os.PathLike)):
        if confidences is not None:
            raise ValueError("`confidences` cannot be combined with a path input")
        out = _from_path(os.fspath(video_keypoints))
    elif isinstance(video_keypoints, (list, tuple)):
        if confidences is not None:
            raise ValueError("`confidences` cannot be combined with per-frame detection lists")
        try:
            out = VideoKeypoints(pad_detections(video_keypoints).astype(np.float32), multi_person=True)
        except (TypeError, ValueError) as e:
            raise ValueError(f"`video_keypoints` as a list must hold per-frame (P_t, K, 3) arrays: {e}")
    else:
        try:
            arr = np.asarray(video_keypoints, np.float32)
        except (TypeError, ValueError) as e:
            raise ValueError(f"`video_keypoints` must be numeric: {e}")
        out = _from_array(arr, confidences)
    if out.num_frames < 1:
        raise ValueError("`video_keypoints` has no frames")
    return out


def check_layout(layout: str, num_keypoints: int) -> None:
    """Raises a clear error when the keypoint count does not match the layout."""
    k = len(get_layout(layout).names)
    if num_keypoints != k:
        raise ValueError(f"layout {layout!r} has {k} keypoints but `video_keypoints` has "
                         f"{num_keypoints} per person; pass the layout the keypoints are in")
