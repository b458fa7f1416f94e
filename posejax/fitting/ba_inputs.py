"""Reading the `video_keypoints` argument of `posejax.bundle_adjust` into one array.

Accepted inputs:
  * an array (T, K, 2 or 3): one person, x, y in pixels (and confidence);
  * an array (T, P, K, 3) or a list of per-frame (P_t, K, 3) arrays (P_t may be 0): detections of
    any number of people per frame;
  * a path: a folder of OpenPose JSON files (one per frame, BODY_25B), a COCO keypoint JSON file (images in
    id order are the frames), or an .npz file with a `keypoints` array (and optionally
    `confidences`, `layout`, `image_size`).

Missing keypoints: a keypoint whose x, y or confidence is NaN or inf, or whose confidence is <= 0,
is missing and is stored as (NaN, NaN, 0), so every other keypoint has finite coordinates and a
positive confidence. Coordinates beyond `MAX_COORDINATE_PX` and confidences above
`MAX_CONFIDENCE` are errors rather than missing values (they overflow the float32 energy, and are
more likely a units mistake than a detection). A frame without any detection is a frame of missing
keypoints; an input always has at least one detection slot.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Tuple

import numpy as np

from posejax.body.layouts import get_layout
from posejax.fitting.tracking import pad_detections

__all__ = ["VideoKeypoints", "read_video_keypoints", "check_layout", "MAX_COORDINATE_PX",
           "MAX_CONFIDENCE"]

MAX_COORDINATE_PX = 1e6
"""Largest accepted |x|, |y| of a present keypoint, pixels (no image is a million pixels wide)."""

MAX_CONFIDENCE = 100.0
"""Largest accepted confidence (detectors give [0, 1], COCO visibility flags 0-2)."""


@dataclasses.dataclass(frozen=True)
class VideoKeypoints:
    """Detections of a video, padded to one array.

    Attributes:
      detections: (T, P, K, 3) float32 x, y (pixels), confidence, P >= 1; missing = (NaN, NaN, 0),
        present keypoints have finite |x|, |y| <= MAX_COORDINATE_PX and a confidence in
        (0, MAX_CONFIDENCE].
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
    # float64 until `_clean`, so that values beyond float32's range are reported, not made inf.
    if arr.ndim == 3:
        if arr.shape[-1] not in (2, 3):
            raise ValueError(f"`video_keypoints` of shape (T, K, C) needs C = 2 or 3, got {arr.shape}")
        if confidences is not None:
            try:
                conf = np.asarray(confidences, np.float64)
            except (TypeError, ValueError, OverflowError) as e:
                raise ValueError(f"`confidences` must be a numeric (T, K) array: {e}")
            if conf.shape != arr.shape[:2]:
                raise ValueError(f"`confidences` must have shape {arr.shape[:2]}, got {conf.shape}")
        else:
            conf = arr[..., 2] if arr.shape[-1] == 3 else np.ones(arr.shape[:2])
        det = np.concatenate([arr[..., :2], conf[..., None]], -1)[:, None]
        return VideoKeypoints(det, multi_person=False)
    if arr.ndim == 4:
        if arr.shape[-1] != 3:
            raise ValueError(f"multi-person `video_keypoints` must have shape (T, P, K, 3), got {arr.shape}")
        if confidences is not None:
            raise ValueError("`confidences` is only for (T, K, 2) keypoints; multi-person detections "
                             "carry their confidences in the last channel")
        return VideoKeypoints(arr, multi_person=True)
    raise ValueError("`video_keypoints` must have shape (T, K, 2|3) or (T, P, K, 3), got "
                     f"{arr.shape}")


def _from_list(frames) -> np.ndarray:
    """Per-frame (P_t, K, 3) detections -> (T, P, K, 3)."""
    try:
        det = pad_detections(frames)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`video_keypoints` as a list must hold per-frame (P_t, K, 3) arrays: {e}")
    if det.shape[2] == 0 and len(frames):
        # No frame has a detection: only the shapes of the empty frames, (0, K, 3), give K.
        ks = {np.shape(f)[1] for f in frames if np.ndim(f) == 3 and np.shape(f)[2] == 3}
        if len(ks) != 1 or 0 in ks:
            raise ValueError("`video_keypoints` has no detection in any frame and its empty frames do "
                             "not give one keypoint count; pass (0, K, 3) arrays for frames without "
                             "detections")
        det = np.full((len(frames), 1, ks.pop(), 3), np.nan)
        det[..., 2] = 0.0
    return det


def _clean(source: VideoKeypoints) -> VideoKeypoints:
    """Marks missing keypoints (NaN / inf anywhere, confidence <= 0) as (NaN, NaN, 0), rejects
    out-of-range values of the others, gives empty inputs one detection slot, casts to float32."""
    det = np.array(source.detections, np.float64)
    with np.errstate(invalid="ignore"):
        present = np.all(np.isfinite(det), -1) & (det[..., 2] > 0)
    det[~present] = (np.nan, np.nan, 0.0)

    def where(index) -> str:
        t, p, k = (int(i) for i in index)
        return f"frame {t}, " + (f"detection {p}, " if source.multi_person else "") + f"keypoint {k}"

    with np.errstate(invalid="ignore"):
        far = present & (np.max(np.abs(det[..., :2]), -1) > MAX_COORDINATE_PX)
        sure = present & (det[..., 2] > MAX_CONFIDENCE)
    if far.any():
        i = tuple(np.argwhere(far)[0])
        x, y = det[i][:2]
        raise ValueError(f"`video_keypoints` has a keypoint at ({x:g}, {y:g}) px "
                         f"({where(i)}); coordinates beyond {MAX_COORDINATE_PX:g} px are not accepted: "
                         "mark missing keypoints with NaN or confidence 0")
    if sure.any():
        i = tuple(np.argwhere(sure)[0])
        raise ValueError(f"`video_keypoints` has confidence {float(det[i][2]):g} ({where(i)}); "
                         f"confidences above {MAX_CONFIDENCE:g} are not accepted (detectors give "
                         "scores in [0, 1])")
    det = det.astype(np.float32)
    det[~(det[..., 2] > 0)] = (np.nan, np.nan, 0.0)  # confidences below float32's range became 0
    if det.shape[1] == 0:
        det = np.concatenate([det, np.full(det.shape[:1] + (1,) + det.shape[2:], np.nan, np.float32)], 1)
        det[..., 2] = 0.0
    return dataclasses.replace(source, detections=det)


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
            out = _from_array(np.asarray(f["keypoints"], np.float64),
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
        return VideoKeypoints(det, multi_person=True, layout="coco17",
                              image_size=sizes.pop() if len(sizes) == 1 else None)
    raise ValueError(f"`video_keypoints` path {path!r}: expected an OpenPose JSON folder, a COCO "
                     "keypoint .json file or an .npz file")


def read_video_keypoints(video_keypoints, confidences=None) -> VideoKeypoints:
    """Reads any accepted input (module docstring) into a `VideoKeypoints`.

    Args:
      video_keypoints: an array, a list of per-frame arrays or a path (module docstring).
      confidences: optional (T, K) confidences of (T, K, 2|3) keypoints (they replace a third
        channel).

    Raises:
      ValueError: malformed arrays, out-of-range values or unknown file types; FileNotFoundError:
        missing paths.
    """
    if isinstance(video_keypoints, (str, os.PathLike)):
        if confidences is not None:
            raise ValueError("`confidences` cannot be combined with a path input")
        out = _from_path(os.fspath(video_keypoints))
    elif isinstance(video_keypoints, (list, tuple)):
        if confidences is not None:
            raise ValueError("`confidences` cannot be combined with per-frame detection lists")
        out = VideoKeypoints(_from_list(video_keypoints), multi_person=True)
    else:
        try:
            arr = np.asarray(video_keypoints, np.float64)
        except (TypeError, ValueError, OverflowError) as e:
            raise ValueError(f"`video_keypoints` must be numeric: {e}")
        out = _from_array(arr, confidences)
    if out.num_frames < 1:
        raise ValueError("`video_keypoints` has no frames")
    return _clean(out)


def check_layout(layout: str, num_keypoints: int) -> None:
    """Raises a clear error when the keypoint count does not match the layout."""
    k = len(get_layout(layout).names)
    if num_keypoints != k:
        raise ValueError(f"layout {layout!r} has {k} keypoints but `video_keypoints` has "
                         f"{num_keypoints} per person; pass the layout the keypoints are in")
