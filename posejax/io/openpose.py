"""OpenPose JSON keypoints: one file per frame, several people per frame.

OpenPose writes, per frame, `{"version": ..., "people": [{"pose_keypoints_2d": [x0, y0, c0,
x1, ...], ...}, ...]}`. Coordinates are pixels with the origin at the top-left image corner;
a keypoint that was not detected is written as (0, 0, 0). This module keeps those values as
they are in `OpenPoseSequence.frames` and only pads with (NaN, NaN, 0) where a person is absent
(`to_array`, `largest_person`).

Layouts (`posejax.body.layouts`): "body25b" (BODY_25B, the shared demo data), "body25" (BODY_25,
OpenPose's default model), "coco18" (OpenPose COCO with neck). BODY_25 and BODY_25B both have 25
keypoints and cannot be told apart from the count, so `layout=None` (auto-detect) only settles 18
keypoints and asks for an explicit layout when it sees 25.

Frame indices come from the file names: the last group of digits in the name once a trailing
"_keypoints" is removed (`cam01.0042.json` -> 42, `video_000000000042_keypoints.json` -> 42);
files are sorted by that number, not alphabetically.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import List, Optional, Sequence, Tuple

import numpy as np

from posejax.body.layouts import get_layout
from posejax.io.text_files import read_json

__all__ = ["OpenPoseSequence", "read_openpose_folder", "read_openpose_json",
           "write_openpose_folder", "sequence_from_array", "bbox_areas"]

_LAYOUT_BY_COUNT = {18: "coco18"}  # 25 is ambiguous (BODY_25 vs BODY_25B): needs an explicit layout
_OPENPOSE_LAYOUTS = ("body25b", "body25", "coco18")


@dataclasses.dataclass(frozen=True)
class OpenPoseSequence:
    """OpenPose detections of one camera over time.

    Attributes:
      frames: (T,) arrays, frame t of shape (P_t, K, 3) float32: x, y pixels (origin top-left
        corner), confidence in [0, 1]; undetected keypoints are (0, 0, 0) as OpenPose writes them;
        P_t may be 0.
      frame_indices: (T,) int64 frame numbers parsed from the file names, increasing.
      layout: keypoint layout name ("body25b", "body25" or "coco18").
      file_names: (T,) base names of the files read (empty strings for frames built in memory).
    """

    frames: Tuple[np.ndarray, ...]
    frame_indices: np.ndarray
    layout: str
    file_names: Tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def num_keypoints(self) -> int:
        return len(get_layout(self.layout))

    @property
    def max_people(self) -> int:
        """Largest number of people in any frame."""
        return max((f.shape[0] for f in self.frames), default=0)

    def to_array(self, max_people: Optional[int] = None) -> np.ndarray:
        """Stacks the frames into one padded array.

        Args:
          max_people: number of person slots P; None = the most people in any frame. A frame with
            more people keeps its `max_people` largest (confident bounding-box area, see
            `bbox_areas`), in file order.

        Returns:
          (T, P, K, 3) float32; slots without a person are (NaN, NaN, 0).
        """
        p = self.max_people if max_people is None else int(max_people)
        if p < 0:
            raise ValueError(f"`max_people` must be >= 0, got {max_people}")
        out = np.full((self.num_frames, p, self.num_keypoints, 3), np.nan, np.float32)
        out[..., 2] = 0.0
        for t, people in enumerate(self.frames):
            if people.shape[0] > p:
                keep = np.sort(np.argsort(-bbox_areas(people), kind="stable")[:p])
                people = people[keep]
            out[t, :people.shape[0]] = people
        return out

    def largest_person(self, min_confidence: float = 0.1) -> np.ndarray:
        """Per frame, the detection with the largest confident bounding box.

        A simple stand-in for tracking: the main subject is usually the biggest person in view.
        It can jump to another person (e.g. a bystander walking close to the camera); real
        tracking comes later.

        Args:
          min_confidence: keypoints below this confidence do not count towards the box.

        Returns:
          (T, K, 3) float32; frames without people are (NaN, NaN, 0).
        """
        out = np.full((self.num_frames, self.num_keypoints, 3), np.nan, np.float32)
        out[..., 2] = 0.0
        for t, people in enumerate(self.frames):
            if people.shape[0]:
                out[t] = people[int(np.argmax(bbox_areas(people, min_confidence)))]
        return out


def bbox_areas(people: np.ndarray, min_confidence: float = 0.1) -> np.ndarray:
    """Areas (pixels^2) of the boxes around each person's keypoints with confidence >= threshold.

    Args:
      people: (P, K, 3) x, y, confidence.
      min_confidence: keypoints below it are ignored.

    Returns:
      (P,) float64 areas; 0 for a person with fewer than two confident keypoints.
    """
    people = np.asarray(people, np.float64)
    ok = (people[..., 2] >= min_confidence) & np.all(np.isfinite(people[..., :2]), axis=-1)
    areas = np.zeros(people.shape[0])
    for i in range(people.shape[0]):
        xy = people[i, ok[i], :2]
        if len(xy) >= 2:
            w, h = xy.max(0) - xy.min(0)
            areas[i] = w * h
    return areas


def _frame_index(file_name: str) -> Optional[int]:
    stem = os.path.splitext(file_name)[0]
    stem = re.sub(r"_keypoints$", "", stem)
    digits = re.findall(r"\d+", stem)
    return int(digits[-1]) if digits else None


def _resolve_layout(layout, num_keypoints, where):
    if layout is None:
        if num_keypoints in _LAYOUT_BY_COUNT:
            return _LAYOUT_BY_COUNT[num_keypoints]
        if num_keypoints == 25:
            raise ValueError(
                f"{where}: 25 keypoints per person fit both BODY_25 and BODY_25B; pass "
                f"layout='body25b' or layout='body25'")
        raise ValueError(f"{where}: cannot detect the layout of {num_keypoints} keypoints per "
                         f"person (known: 18 = coco18, 25 = body25 / body25b)")
    if layout not in _OPENPOSE_LAYOUTS:
        raise ValueError(f"`layout` must be one of {_OPENPOSE_LAYOUTS} or None, got {layout!r}")
    expected = len(get_layout(layout))
    if num_keypoints != expected:
        raise ValueError(f"{where}: layout {layout!r} has {expected} keypoints, but the file holds "
                         f"{num_keypoints} per person")
    return layout


def read_openpose_json(path: str, key: str = "pose_keypoints_2d") -> np.ndarray:
    """Reads the people of one OpenPose JSON file.

    Args:
      path: the file.
      key: the per-person keypoint field ("pose_keypoints_2d"; "hand_left_keypoints_2d" etc. work).

    Returns:
      (P, K, 3) float32 (P may be 0; then K = 0).

    Raises:
      FileNotFoundError: missing file.
      ValueError: invalid JSON (file, line, column) or a malformed field (file and field).
    """
    data = read_json(path)
    if not isinstance(data, dict) or "people" not in data:
        got = "an object without 'people'" if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected an OpenPose object with a 'people' list, got {got}")
    people = data["people"]
    if not isinstance(people, list):
        raise ValueError(f"{path}: 'people' must be a list, got {type(people).__name__}")
    rows = []
    for i, person in enumerate(people):
        field = f"people[{i}].{key}"
        if not isinstance(person, dict) or key not in person:
            raise ValueError(f"{path}: {field} is missing")
        values = person[key]
        try:
            arr = np.asarray(values, np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {field} must be a list of numbers") from None
        if arr.ndim != 1:
            raise ValueError(f"{path}: {field} must be a flat list, got shape {arr.shape}")
        if arr.size % 3:
            raise ValueError(f"{path}: {field} must hold 3 numbers (x, y, confidence) per "
                             f"keypoint, got {arr.size} values")
        if rows and arr.size != rows[0].size:
            raise ValueError(f"{path}: {field} has {arr.size // 3} keypoints, people[0] has "
                             f"{rows[0].size // 3}")
        rows.append(arr)
    if not rows:
        return np.zeros((0, 0, 3), np.float32)
    return np.stack(rows).reshape(len(rows), -1, 3)


def read_openpose_folder(folder: str, layout: Optional[str] = "body25b",
                         key: str = "pose_keypoints_2d") -> OpenPoseSequence:
    """Reads every `*.json` of an OpenPose output folder.

    Args:
      folder: folder with one JSON file per frame.
      layout: "body25b" (default: the format of posejax's demo data), "body25", "coco18", or None
        to detect it from the keypoint count (18 -> coco18; 25 is ambiguous and raises).
      key: the per-person keypoint field.

    Returns:
      OpenPoseSequence with frames sorted by the frame number in the file names.

    Raises:
      FileNotFoundError: missing folder.
      ValueError: no JSON files, a file without a frame number, duplicate frame numbers, malformed
        files (named with the line), or keypoint counts that disagree with `layout`.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no such folder: {folder}")
    names = [n for n in os.listdir(folder) if n.lower().endswith(".json")]
    if not names:
        raise ValueError(f"{folder}: no OpenPose .json files found")
    indexed = []
    for n in names:
        idx = _frame_index(n)
        if idx is None:
            raise ValueError(f"{os.path.join(folder, n)}: no frame number in the file name")
        indexed.append((idx, n))
    indexed.sort()
    for (a, na), (b, nb) in zip(indexed, indexed[1:]):
        if a == b:
            raise ValueError(f"{folder}: files {na!r} and {nb!r} have the same frame number {a}")
    frames: List[np.ndarray] = []
    resolved = None
    for idx, n in indexed:
        path = os.path.join(folder, n)
        people = read_openpose_json(path, key)
        if people.shape[0]:
            if resolved is None:
                resolved = _resolve_layout(layout, people.shape[1], path)
            else:
                _resolve_layout(resolved, people.shape[1], path)
        frames.append(people)
    if resolved is None:  # every frame empty: the count cannot be checked
        if layout is None:
            raise ValueError(f"{folder}: no people in any frame, so the layout cannot be detected; "
                             f"pass `layout`")
        resolved = _resolve_layout(layout, len(get_layout(layout)), folder)
    k = len(get_layout(resolved))
    frames = [f if f.shape[0] else np.zeros((0, k, 3), np.float32) for f in frames]
    return OpenPoseSequence(tuple(frames), np.array([i for i, _ in indexed], np.int64), resolved,
                            tuple(n for _, n in indexed))


def write_openpose_folder(folder: str, sequence: OpenPoseSequence,
                          name_format: str = "{:012d}_keypoints.json") -> List[str]:
    """Writes one OpenPose JSON file per frame (as OpenPose does; `read_openpose_folder` reads it).

    Args:
      folder: output folder (created if needed).
      sequence: the detections; NaN coordinates are written as 0 with confidence 0 (OpenPose's
        "not detected").
      name_format: file name pattern formatted with the frame index.

    Returns:
      The paths written.
    """
    os.makedirs(folder, exist_ok=True)
    if len(sequence.frame_indices) != sequence.num_frames:
        raise ValueError(f"`sequence` has {sequence.num_frames} frames but "
                         f"{len(sequence.frame_indices)} frame indices")
    paths = []
    for idx, people in zip(sequence.frame_indices, sequence.frames):
        people = np.array(people, np.float64, copy=True)
        missing = ~np.all(np.isfinite(people), axis=-1)
        people[missing] = 0.0
        doc = {"version": 1.3, "people": [
            {"person_id": [-1], "pose_keypoints_2d": [float(v) for v in p.reshape(-1)],
             "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
             "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
             "hand_right_keypoints_3d": []} for p in people]}
        path = os.path.join(folder, name_format.format(int(idx)))
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        paths.append(path)
    return paths


def sequence_from_array(keypoints: np.ndarray, layout: str = "body25b",
                        frame_indices: Optional[Sequence[int]] = None) -> OpenPoseSequence:
    """Builds an OpenPoseSequence from a padded (T, P, K, 3) array (slots with all confidences 0
    and non-finite or zero coordinates are dropped)."""
    kp = np.asarray(keypoints, np.float32)
    if kp.ndim != 4 or kp.shape[-1] != 3 or kp.shape[2] != len(get_layout(layout)):
        raise ValueError(f"`keypoints` must have shape (T, P, {len(get_layout(layout))}, 3), "
                         f"got {kp.shape}")
    frames = []
    for people in kp:
        empty = np.all(people[..., 2] <= 0, axis=-1)
        frames.append(people[~empty])
    idx = np.arange(len(kp)) if frame_indices is None else np.asarray(frame_indices, np.int64)
    return OpenPoseSequence(tuple(frames), idx.astype(np.int64), layout, ("",) * len(kp))
