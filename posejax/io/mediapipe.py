"""MediaPipe Pose landmarks (33 points, layout "mediapipe33") from CSV or NPZ.

MediaPipe gives per landmark x, y normalised by the image width and height (0..1, origin top-left),
z (depth relative to the hips, on roughly the same scale as x) and a visibility in [0, 1]. Given
`image_size=(W, H)` the readers convert to pixels: x * W, y * H, z * W. Without it the values are
returned as stored (use that for files already in pixels).

Output: (T, 33, 4) float32 (x, y, z, visibility), or (T, 33, 3) (x, y, visibility) with
`with_z=False`, matching the (x, y, confidence) convention of the other 2D readers. Missing values
(empty CSV cells, a frame without detection) become NaN coordinates with visibility 0.

Accepted CSV forms (one header line, comma separated):

* wide, one row per frame: a column per landmark and channel, the header naming landmark and
  channel joined by `_`, `.`, `:` or `-` in either order; the landmark as its mediapipe33 name
  (`left_shoulder`, any case, as MediaPipe's PoseLandmark enum) or its index 0..32, the channel as
  `x`, `y`, `z`, `visibility` / `vis` / `v` (`presence` is ignored). Examples: `nose_x`,
  `LEFT_SHOULDER_visibility`, `x_0`, `landmark_11_y`, `11.x`, `x11`. Columns `frame` / `frame_idx` /
  `frame_index` / `frame_id` are taken as frame numbers; other columns are ignored.
* long, one row per frame and landmark: columns `frame`, `landmark` (index or name), `x`, `y`,
  optional `z`, `visibility`.

NPZ: the array under `key` (default: the first of "landmarks", "pose_landmarks", "keypoints",
or the only array), shape (T, 33, C) with C = 3 (x, y, z) or 4 (x, y, z, visibility);
"frame_indices" is read when present.
"""

from __future__ import annotations

import csv
import os
import re
from typing import Optional, Sequence, Tuple

import numpy as np

from posejax.body.layouts import get_layout

__all__ = ["MEDIAPIPE_NAMES", "read_mediapipe_csv", "read_mediapipe_npz", "read_mediapipe",
           "write_mediapipe_csv", "write_mediapipe_npz"]

MEDIAPIPE_NAMES: Tuple[str, ...] = get_layout("mediapipe33").names
_NUM = len(MEDIAPIPE_NAMES)
_CHANNELS = {"x": 0, "y": 1, "z": 2, "visibility": 3, "vis": 3, "v": 3}
_FRAME_COLUMNS = ("frame", "frame_idx", "frame_index", "frame_id", "frame_number")
_NAME_INDEX = {n: i for i, n in enumerate(MEDIAPIPE_NAMES)}


def _landmark_id(token: str) -> Optional[int]:
    token = token.strip().lower()
    token = re.sub(r"^(landmark|lm|kp|keypoint|point)[_.:\-]?", "", token)
    if token.isdigit():
        i = int(token)
        return i if i < _NUM else None
    return _NAME_INDEX.get(token)


def _parse_header(name: str) -> Optional[Tuple[int, int]]:
    """'nose_x' / 'x_0' / 'landmark_11_y' / 'x11' -> (landmark, channel); None if not one."""
    low = name.strip().lower()
    m = re.fullmatch(r"(.+?)[_.:\-]?(x|y|z|visibility|vis|v)", low)
    if m:
        lm = _landmark_id(m.group(1).rstrip("_.:-"))
        if lm is not None:
            return lm, _CHANNELS[m.group(2)]
    m = re.fullmatch(r"(x|y|z|visibility|vis|v)[_.:\-]?(.+)", low)
    if m:
        lm = _landmark_id(m.group(2))
        if lm is not None:
            return lm, _CHANNELS[m.group(1)]
    return None


def _cell(path, line, column, text) -> float:
    text = text.strip()
    if text == "" or text.lower() in ("nan", "none", "null"):
        return np.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}, line {line}: column {column!r} must be a number, got "
                         f"{text!r}") from None


def _finish(out: np.ndarray, image_size, with_z: bool) -> np.ndarray:
    """out (T, 33, 4) with NaN visibility where not given -> scaled, NaN-safe, channel-selected."""
    missing = ~np.all(np.isfinite(out[..., :2]), axis=-1)
    vis = out[..., 3]
    vis = np.where(np.isnan(vis), 1.0, vis)  # a file without visibility: trust every landmark
    vis[missing] = 0.0
    out[..., 3] = vis
    out[missing, :3] = np.nan
    if image_size is not None:
        w, h = (float(v) for v in image_size)
        out[..., 0] *= w
        out[..., 1] *= h
        out[..., 2] *= w
    return out if with_z else out[..., [0, 1, 3]]


def read_mediapipe_csv(path: str, image_size: Optional[Sequence[float]] = None,
                       with_z: bool = True, return_frames: bool = False):
    """Reads MediaPipe pose landmarks from CSV (wide or long form, see the module docstring).

    Args:
      path: the CSV file.
      image_size: (W, H) pixels to convert normalised coordinates to pixels; None keeps values.
      with_z: return (x, y, z, visibility) instead of (x, y, visibility).
      return_frames: also return the (T,) int64 frame numbers (0..T-1 when the file has none).

    Returns:
      (T, 33, 4 or 3) float32 [, frame numbers].

    Raises:
      FileNotFoundError: missing file.
      ValueError: unrecognised header, non-numeric cells or ragged rows (file and line).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    with open(path, "r", encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path}, line 1: empty file, expected a CSV header") from None
        except csv.Error as e:
            raise ValueError(f"{path}, line {reader.line_num}: invalid CSV: {e}") from None
        low = [h.strip().lower() for h in header]
        try:
            rows = [(reader.line_num, r) for r in reader if r]
        except csv.Error as e:
            raise ValueError(f"{path}, line {reader.line_num}: invalid CSV: {e}") from None
    frame_col = next((low.index(c) for c in _FRAME_COLUMNS if c in low), None)
    for line, r in rows:
        if len(r) != len(header):
            raise ValueError(f"{path}, line {line}: {len(r)} fields, the header has {len(header)}")
    if "landmark" in low and "x" in low and "y" in low:
        return _read_long(path, low, rows, frame_col, image_size, with_z, return_frames)
    columns = {}
    for c, name in enumerate(header):
        parsed = _parse_header(name)
        if parsed is not None and c != frame_col:
            columns[c] = parsed
    got = {(lm, ch) for lm, ch in columns.values()}
    need = [(lm, ch) for lm in range(_NUM) for ch in (0, 1) if (lm, ch) not in got]
    if need:
        lm, ch = need[0]
        raise ValueError(
            f"{path}, line 1: header lacks column {MEDIAPIPE_NAMES[lm]}_{'xy'[ch]} (and "
            f"{len(need) - 1} more x/y columns); expected per-landmark columns such as nose_x, "
            f"nose_y, nose_z, nose_visibility or x_0, y_0, ... (see posejax.io.mediapipe)")
    out = np.full((len(rows), _NUM, 4), np.nan, np.float32)
    frames = np.arange(len(rows), dtype=np.int64)
    for t, (line, r) in enumerate(rows):
        for c, (lm, ch) in columns.items():
            out[t, lm, ch] = _cell(path, line, header[c], r[c])
        if frame_col is not None:
            frames[t] = int(_cell(path, line, header[frame_col], r[frame_col]))
    if 2 not in {ch for _, ch in columns.values()}:
        out[..., 2] = 0.0  # a file without z: flat depth
    res = _finish(out, image_size, with_z)
    return (res, frames) if return_frames else res


def _read_long(path, low, rows, frame_col, image_size, with_z, return_frames):
    if frame_col is None:
        raise ValueError(f"{path}, line 1: long-form CSV (a 'landmark' column) needs a 'frame' "
                         f"column")
    idx = {k: low.index(k) for k in ("landmark", "x", "y", "z", "visibility") if k in low}
    recs = []
    for line, r in rows:
        lm = _landmark_id(r[idx["landmark"]])
        if lm is None:
            raise ValueError(f"{path}, line {line}: unknown landmark {r[idx['landmark']]!r} "
                             f"(expected 0..32 or a mediapipe33 name)")
        frame = int(_cell(path, line, "frame", r[frame_col]))
        vals = [_cell(path, line, k, r[idx[k]]) if k in idx else (0.0 if k == "z" else np.nan)
                for k in ("x", "y", "z", "visibility")]
        recs.append((frame, lm, vals))
    frames = np.array(sorted({f for f, _, _ in recs}), np.int64)
    pos = {f: i for i, f in enumerate(frames)}
    out = np.full((len(frames), _NUM, 4), np.nan, np.float32)
    for f, lm, vals in recs:
        out[pos[f], lm] = vals
    res = _finish(out, image_size, with_z)
    return (res, frames) if return_frames else res


def read_mediapipe_npz(path: str, image_size: Optional[Sequence[float]] = None,
                       with_z: bool = True, key: Optional[str] = None,
                       return_frames: bool = False):
    """Reads MediaPipe landmarks from NPZ (see the module docstring); outputs as the CSV reader."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        data = np.load(path, allow_pickle=False)
        names = list(data.files)
    except Exception as e:  # zipfile / pickle errors for a corrupt or non-npz file
        raise ValueError(f"{path}: not a readable .npz file: {e}") from None
    if key is None:
        key = next((k for k in ("landmarks", "pose_landmarks", "keypoints") if k in names),
                   names[0] if len(names) == 1 else None)
    if key is None or key not in names:
        raise ValueError(f"{path}: no landmark array {key!r}; arrays in the file: {names}")
    arr = np.asarray(data[key], np.float32)
    if arr.ndim != 3 or arr.shape[1] != _NUM or arr.shape[2] not in (3, 4):
        raise ValueError(f"{path}: array {key!r} must have shape (T, 33, 3 or 4), got {arr.shape}")
    out = np.full(arr.shape[:2] + (4,), np.nan, np.float32)
    out[..., :arr.shape[2]] = arr
    frames = (np.asarray(data["frame_indices"], np.int64) if "frame_indices" in names
              else np.arange(arr.shape[0], dtype=np.int64))
    res = _finish(out, image_size, with_z)
    return (res, frames) if return_frames else res


def read_mediapipe(path: str, image_size: Optional[Sequence[float]] = None, with_z: bool = True,
                   return_frames: bool = False):
    """Dispatches on the suffix: .csv or .npz."""
    low = path.lower()
    if low.endswith(".csv"):
        return read_mediapipe_csv(path, image_size, with_z, return_frames=return_frames)
    if low.endswith(".npz"):
        return read_mediapipe_npz(path, image_size, with_z, return_frames=return_frames)
    raise ValueError(f"{path}: expected a .csv or .npz MediaPipe landmark file")


def _to_normalised(landmarks, image_size):
    lm = np.array(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[1] != _NUM or lm.shape[2] != 4:
        raise ValueError(f"`landmarks` must have shape (T, 33, 4) (x, y, z, visibility), got "
                         f"{lm.shape}")
    if image_size is not None:
        w, h = (float(v) for v in image_size)
        lm[..., 0] /= w
        lm[..., 1] /= h
        lm[..., 2] /= w
    return lm


def write_mediapipe_csv(path: str, landmarks: np.ndarray,
                        image_size: Optional[Sequence[float]] = None,
                        frame_indices: Optional[Sequence[int]] = None) -> None:
    """Writes wide-form CSV: `frame, nose_x, nose_y, nose_z, nose_visibility, ...`.

    Args:
      landmarks: (T, 33, 4) x, y, z, visibility; pixels if `image_size` is given (written
        normalised), else written as they are. NaN becomes an empty cell.
    """
    lm = _to_normalised(landmarks, image_size)
    frames = np.arange(len(lm)) if frame_indices is None else np.asarray(frame_indices)
    header = ["frame"] + [f"{n}_{c}" for n in MEDIAPIPE_NAMES
                          for c in ("x", "y", "z", "visibility")]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for t in range(len(lm)):
            w.writerow([int(frames[t])] + ["" if not np.isfinite(v) else repr(float(v))
                                           for v in lm[t].reshape(-1)])


def write_mediapipe_npz(path: str, landmarks: np.ndarray,
                        image_size: Optional[Sequence[float]] = None,
                        frame_indices: Optional[Sequence[int]] = None) -> None:
    """Writes `landmarks` (T, 33, 4) (normalised when `image_size` is given) and `frame_indices`."""
    lm = _to_normalised(landmarks, image_size).astype(np.float32)
    frames = np.arange(len(lm)) if frame_indices is None else np.asarray(frame_indices)
    np.savez(path, landmarks=lm, frame_indices=frames.astype(np.int64))
