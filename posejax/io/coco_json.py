"""COCO keypoint JSON: ground-truth annotation files and detection result files.

Two layouts are accepted (COCO's own formats, https://cocodataset.org/#format-data):

* annotations: `{"images": [{"id", "file_name", "width", "height"}, ...], "annotations":
  [{"image_id", "keypoints": [x, y, v] * K, "num_keypoints", "bbox", "category_id"}, ...],
  "categories": [...]}`; v is the COCO visibility flag (0 not labelled, 1 labelled but occluded,
  2 visible);
* results (detector output): `[{"image_id", "category_id", "keypoints": [x, y, s] * K,
  "score"}, ...]`; s is a per-keypoint score (often 1 or a confidence).

The third value is kept as written in either case (flag or score). K is 17 for COCO and must be the
same throughout a file (COCO-WholeBody's 133 etc. read too). Pixels, origin at the top-left corner
(COCO's convention for keypoint coordinates).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from posejax.io.text_files import read_json

__all__ = ["CocoKeypoints", "read_coco_keypoints", "write_coco_keypoints"]


@dataclasses.dataclass(frozen=True)
class CocoKeypoints(collections.abc.Mapping):
    """Keypoints per image; behaves as a read-only dict image_id -> list of (K, 3) arrays.

    Attributes:
      keypoints: image_id -> list of (K, 3) float32 (x, y, visibility flag or score).
      scores: image_id -> list of float person scores (NaN where the file has none).
      bboxes: image_id -> list of (4,) float32 [x, y, width, height] (NaN where absent).
      images: image_id -> {"file_name", "width", "height"} for images listed in the file (only
        what the file gives).
    """

    keypoints: Dict[int, List[np.ndarray]]
    scores: Dict[int, List[float]] = dataclasses.field(default_factory=dict)
    bboxes: Dict[int, List[np.ndarray]] = dataclasses.field(default_factory=dict)
    images: Dict[int, Dict[str, object]] = dataclasses.field(default_factory=dict)

    def __getitem__(self, image_id):
        return self.keypoints[image_id]

    def __iter__(self):
        return iter(self.keypoints)

    def __len__(self):
        return len(self.keypoints)


def read_coco_keypoints(path: str, category_id: Optional[int] = None) -> CocoKeypoints:
    """Reads a COCO keypoint annotation or result file.

    Args:
      path: the JSON file.
      category_id: keep only entries of this category (None: all entries with keypoints).

    Returns:
      CocoKeypoints (a Mapping image_id -> list of (K, 3) float32), images with annotations in
      file order; listed images without any get an empty list.

    Raises:
      FileNotFoundError: missing file.
      ValueError: invalid JSON (file, line, column) or a malformed entry (file and field, e.g.
        `annotations[3].keypoints`).
    """
    data = read_json(path)
    images: Dict[int, Dict[str, object]] = {}
    if isinstance(data, dict):
        if "annotations" not in data:
            raise ValueError(f"{path}: expected a COCO annotation object with an 'annotations' "
                             f"list or a result list, got an object with keys {sorted(data)[:8]}")
        entries, prefix = data["annotations"], "annotations"
        for i, img in enumerate(data.get("images", []) or []):
            if not isinstance(img, dict) or "id" not in img:
                raise ValueError(f"{path}: images[{i}] must be an object with an 'id'")
            images[img["id"]] = {k: img[k] for k in ("file_name", "width", "height") if k in img}
    elif isinstance(data, list):
        entries, prefix = data, "results"
    else:
        raise ValueError(f"{path}: expected a COCO annotation object or a result list, got "
                         f"{type(data).__name__}")
    if not isinstance(entries, list):
        raise ValueError(f"{path}: '{prefix}' must be a list")
    kps: Dict[int, List[np.ndarray]] = {i: [] for i in images}
    scores: Dict[int, List[float]] = {i: [] for i in images}
    boxes: Dict[int, List[np.ndarray]] = {i: [] for i in images}
    num_kp = None
    for i, e in enumerate(entries):
        where = f"{prefix}[{i}]"
        if not isinstance(e, dict):
            raise ValueError(f"{path}: {where} must be an object, got {type(e).__name__}")
        if "keypoints" not in e:
            continue  # e.g. non-person categories in a mixed file
        if category_id is not None and e.get("category_id") != category_id:
            continue
        if "image_id" not in e:
            raise ValueError(f"{path}: {where}.image_id is missing")
        try:
            arr = np.asarray(e["keypoints"], np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {where}.keypoints must be a list of numbers") from None
        if arr.ndim != 1 or arr.size % 3 or arr.size == 0:
            raise ValueError(f"{path}: {where}.keypoints must be a flat list of 3 numbers per "
                             f"keypoint, got {arr.size} values")
        if num_kp is None:
            num_kp = arr.size // 3
        elif arr.size // 3 != num_kp:
            raise ValueError(f"{path}: {where}.keypoints has {arr.size // 3} keypoints, earlier "
                             f"entries have {num_kp}")
        img = e["image_id"]
        kps.setdefault(img, []).append(arr.reshape(-1, 3))
        scores.setdefault(img, []).append(float(e.get("score", np.nan)))
        box = e.get("bbox")
        try:
            box = np.full(4, np.nan, np.float32) if box is None else np.asarray(box, np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {where}.bbox must be 4 numbers") from None
        if box.shape != (4,):
            raise ValueError(f"{path}: {where}.bbox must be 4 numbers [x, y, w, h], got "
                             f"{box.size}")
        boxes.setdefault(img, []).append(box)
    return CocoKeypoints(kps, scores, boxes, images)


def write_coco_keypoints(path: str, keypoints: Mapping[int, Sequence[np.ndarray]],
                         format: str = "results",
                         scores: Optional[Mapping[int, Sequence[float]]] = None,
                         images: Optional[Mapping[int, Mapping[str, object]]] = None,
                         category_id: int = 1) -> None:
    """Writes keypoints as a COCO result list or annotation file.

    Args:
      path: output JSON.
      keypoints: image_id -> list of (K, 3) (x, y, flag or score); a CocoKeypoints works (its
        scores and images are then used unless given).
      format: "results" (detector output list) or "annotations" (object with images, annotations,
        categories; num_keypoints counts keypoints with a positive third value, bbox from the
        labelled keypoints where none is known).
      scores: image_id -> person scores (results; default 1.0).
      images: image_id -> {"file_name", "width", "height"} (annotations).
      category_id: category of every entry (1 = person).
    """
    if format not in ("results", "annotations"):
        raise ValueError(f"`format` must be 'results' or 'annotations', got {format!r}")
    if isinstance(keypoints, CocoKeypoints):
        scores = keypoints.scores if scores is None else scores
        images = keypoints.images if images is None else images
        boxes_in = keypoints.bboxes
    else:
        boxes_in = {}
    entries = []
    for img, people in keypoints.items():
        for j, kp in enumerate(people):
            kp = np.asarray(kp, np.float64)
            if kp.ndim != 2 or kp.shape[1] != 3:
                raise ValueError(
                    f"`keypoints[{img!r}][{j}]` must have shape (K, 3), got {kp.shape}")
            kp = np.where(np.isfinite(kp), kp, 0.0)
            e = {"image_id": _json_id(img), "category_id": category_id,
                 "keypoints": [float(v) for v in kp.reshape(-1)]}
            if format == "results":
                s = scores.get(img, []) if scores else []
                s = float(s[j]) if j < len(s) and np.isfinite(s[j]) else 1.0
                e["score"] = s
            else:
                e["id"] = len(entries) + 1
                e["num_keypoints"] = int(np.sum(kp[:, 2] > 0))
                box = boxes_in.get(img, [])
                box = np.asarray(box[j], np.float64) if j < len(box) else np.full(4, np.nan)
                if not np.all(np.isfinite(box)):
                    lab = kp[kp[:, 2] > 0, :2]
                    lo, hi = (lab.min(0), lab.max(0)) if len(lab) else (np.zeros(2), np.zeros(2))
                    box = np.concatenate([lo, hi - lo])
                e["bbox"] = [float(v) for v in box]
                e["area"] = float(box[2] * box[3])
                e["iscrowd"] = 0
                s = scores.get(img, []) if scores else []
                if j < len(s) and np.isfinite(s[j]):
                    e["score"] = float(s[j])
            entries.append(e)
    if format == "results":
        doc = entries
    else:
        ids = list(dict.fromkeys(list(images or {}) + list(keypoints)))
        doc = {"images": [dict({"id": _json_id(i)}, **dict((images or {}).get(i, {})))
                          for i in ids],
               "annotations": entries,
               "categories": [{"id": category_id, "name": "person", "supercategory": "person"}]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def _json_id(i):
    return int(i) if isinstance(i, (int, np.integer)) else i
