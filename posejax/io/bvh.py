"""Biovision BVH reader with vectorised forward kinematics.

A BVH file has a HIERARCHY (ROOT / JOINT / End Site blocks with OFFSET and CHANNELS, in any order
of Xposition Yposition Zposition Xrotation Yrotation Zrotation) and a MOTION section (`Frames:`,
`Frame Time:`, then one line of channel values per frame, degrees for rotations).

Conventions implemented:

* A joint's rotation composes its rotation channels in the listed order as intrinsic rotations:
  channels `Zrotation Yrotation Xrotation` give R = Rz @ Ry @ Rx (column vectors).
* G = G_parent @ R; a joint's origin is parent_origin + G_parent @ t, where t is the OFFSET with
  each component that has a position channel replaced by that channel's value (the channels hold
  the absolute local position, as in Blender's importer; the CMU root OFFSET is zero anyway).
  An End Site's point is its joint's origin + G_joint @ OFFSET.
* Units: the file's lengths times `scale`. With `scale=None` it is chosen from the rest-pose size
  (largest side of the bounding box of all points with every channel at zero, i.e. about the
  height or arm span of a standing human) — see `guess_bvh_scale`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import List, Optional, Tuple, Union

import numpy as np

from posejax.io.asf_amc import euler_to_matrix
from posejax.io.skeleton_motion import SkeletonMotion
from posejax.io.text_files import is_float

PathLike = Union[str, os.PathLike]

CMU_UNIT = 0.0254 / 0.45  # metres per CMU length unit (= 0.056444)
CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL_LOOKUP = {c.lower(): c for c in CHANNELS}
# Rest-pose size ranges (largest bounding-box side, file units) -> metres per unit. A standing
# adult is 1.5-2 m tall (about as wide in a T-pose); the ranges leave room for children and crouched
# rest poses, and gaps where two units would be confused.
SCALE_TABLE = (
    (0.5, 3.5, 1.0, "metres"),
    (12.0, 45.0, CMU_UNIT, "CMU units (1/0.45 inch)"),
    (45.0, 110.0, 0.0254, "inches"),
    (110.0, 350.0, 0.01, "centimetres"),
    (500.0, 3500.0, 0.001, "millimetres"),
)


def _err(path, line: Optional[int], message: str) -> ValueError:
    where = f"{os.fspath(path)} line {line}" if line is not None else os.fspath(path)
    return ValueError(f"{where}: {message}")


@dataclasses.dataclass(frozen=True)
class _Node:
    name: str
    parent: int            # index into the node list, -1 for a root
    offset: np.ndarray     # (3,) file units
    channels: Tuple[str, ...]
    first_channel: int     # column of its first channel in a frame line
    line: int


class _Tokens:
    """Whitespace tokens of the HIERARCHY text, each with its line number."""

    def __init__(self, path, items: List[Tuple[str, int]], end_line: int):
        self.path, self.items, self.pos, self.end_line = path, items, 0, end_line

    def peek(self) -> Optional[str]:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    def line(self) -> int:
        return self.items[self.pos][1] if self.pos < len(self.items) else self.end_line

    def next(self, what: str) -> Tuple[str, int]:
        if self.pos >= len(self.items):
            raise _err(self.path, self.end_line,
                       f"unexpected end of the hierarchy, expected {what} (truncated file?)")
        tok = self.items[self.pos]
        self.pos += 1
        return tok

    def expect(self, word: str) -> int:
        tok, n = self.next(repr(word))
        if tok.upper() != word.upper():
            raise _err(self.path, n, f"expected {word!r}, got {tok!r}")
        return n

    def number(self, what: str) -> float:
        tok, n = self.next(what)
        try:
            v = float(tok)
        except ValueError:
            raise _err(self.path, n, f"non-numeric value {tok!r} for {what}") from None
        if not math.isfinite(v):
            raise _err(self.path, n, f"{what} must be finite, got {tok!r}")
        return v


def _parse_node(tok: _Tokens, nodes: List[_Node], parent: int, kind: str, n_line: int,
                width: int) -> int:
    """Parses one ROOT/JOINT block (after its keyword) and its children; returns the new width."""
    path = tok.path
    name, _ = tok.next(f"a {kind} name")
    if name == "{":
        raise _err(path, n_line, f"{kind} has no name")
    tok.expect("{")
    tok.expect("OFFSET")
    offset = np.array([tok.number(f"OFFSET of {name!r}") for _ in range(3)])
    channels: Tuple[str, ...] = ()
    if (tok.peek() or "").upper() == "CHANNELS":
        c_line = tok.expect("CHANNELS")
        count_tok, _ = tok.next("the channel count")
        if not count_tok.isdigit():
            raise _err(path, c_line, f"CHANNELS of {name!r} must start with a count, got "
                                     f"{count_tok!r}")
        chans = []
        for _ in range(int(count_tok)):
            c, c_n = tok.next(f"a channel name of {name!r}")
            if c.lower() not in _CHANNEL_LOOKUP:
                raise _err(path, c_n, f"unknown channel {c!r} of {name!r} (expected "
                                      f"{int(count_tok)} of {', '.join(CHANNELS)})")
            chans.append(_CHANNEL_LOOKUP[c.lower()])
        if len(set(chans)) != len(chans):
            raise _err(path, c_line, f"CHANNELS of {name!r} repeat a channel: {' '.join(chans)}")
        channels = tuple(chans)
    if any(n.name == name for n in nodes):
        raise _err(path, n_line, f"joint name {name!r} is used twice")
    me = len(nodes)
    nodes.append(_Node(name, parent, offset, channels, width, n_line))
    width += len(channels)
    ends = 0
    while True:
        word, n = tok.next(f"JOINT, End Site or '}}' closing {name!r} (opened at line {n_line})")
        up = word.upper()
        if up == "}":
            return width
        if up == "JOINT":
            width = _parse_node(tok, nodes, me, "JOINT", n, width)
        elif up == "END":
            tok.expect("Site")
            tok.expect("{")
            tok.expect("OFFSET")
            off = np.array([tok.number(f"End Site OFFSET of {name!r}") for _ in range(3)])
            tok.expect("}")
            end_name = f"{name}_end" if ends == 0 else f"{name}_end{ends + 1}"
            ends += 1
            nodes.append(_Node(end_name, me, off, (), width, n))
        else:
            raise _err(path, n, f"expected JOINT, End Site or '}}' in {name!r}, got {word!r}")


def _rest_points(nodes: List[_Node]) -> np.ndarray:
    """(P, 3) points with every channel at zero, in file units."""
    pts = np.zeros((len(nodes), 3))
    for i, nd in enumerate(nodes):
        pts[i] = nd.offset + (pts[nd.parent] if nd.parent >= 0 else 0.0)
    return pts


def guess_bvh_scale(rest_size: float) -> Tuple[float, str]:
    """Metres per file unit from the rest-pose size (largest bounding-box side, file units).

    Ranges (file units -> unit): [0.5, 3.5) metres, [12, 45) CMU units (0.0254 / 0.45 m, the
    CMU BVH conversions: a 1.7 m adult is ~30 units), [45, 110) inches, [110, 350) centimetres,
    [500, 3500) millimetres.

    Raises:
      ValueError: the size fits none of them (pass `scale` explicitly).
    """
    for lo, hi, scale, unit in SCALE_TABLE:
        if lo <= rest_size < hi:
            return scale, unit
    raise ValueError(f"cannot tell the length unit of a skeleton whose rest pose spans "
                     f"{rest_size:.4g} file units; pass `scale` (metres per file unit)")


def read_bvh(path: PathLike, scale: Optional[float] = None, *, fps: Optional[float] = None,
             name: Optional[str] = None) -> SkeletonMotion:
    """Reads a BVH file and returns the world positions of every joint and end site.

    Args:
      path: the .bvh file.
      scale: metres per file length unit; None guesses it from the rest-pose size
        (`guess_bvh_scale`): the CMU 131 BVH files come out as CMU units, 0.056444 m.
      fps: frame rate; None uses 1 / `Frame Time` (rounded to the nearest integer when within
        0.01 %, since files store 1/120 s as 0.0083333).
      name: clip name (default: the file name without extension).

    Returns:
      SkeletonMotion: points = joints in file order (each joint's origin) with end sites named
      "<joint>_end" after their joint; positions (T, P, 3) float32 metres in the file's frame.

    Raises:
      FileNotFoundError: no such file.
      ValueError: malformed or truncated file, or a frame count that does not match `Frames:`;
        the message names the file and line.
    """
    path = os.fspath(path)
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()

    # --- HIERARCHY ---
    motion_line = next((i for i, l in enumerate(lines)
                        if [w.upper() for w in l.split()[:1]] == ["MOTION"]), None)
    header_end = len(lines) if motion_line is None else motion_line
    items = [(t, i + 1) for i in range(header_end) for t in lines[i].split()]
    tok = _Tokens(path, items, header_end)
    if tok.peek() is None or tok.peek().upper() != "HIERARCHY":
        raise _err(path, tok.line(), f"expected 'HIERARCHY' at the start of a BVH file, got "
                                     f"{tok.peek()!r}")
    tok.next("HIERARCHY")
    nodes: List[_Node] = []
    width = 0
    while tok.peek() is not None:
        word, n = tok.next("ROOT")
        if word.upper() != "ROOT":
            raise _err(path, n, f"expected 'ROOT', got {word!r}")
        width = _parse_node(tok, nodes, -1, "ROOT", n, width)
    if not nodes:
        raise _err(path, tok.line(), "the hierarchy has no ROOT")
    if motion_line is None:
        raise _err(path, len(lines), "missing 'MOTION' section (truncated file?)")

    # --- MOTION header ---
    def header(k: int, key: str) -> Tuple[str, int]:
        while k < len(lines) and not lines[k].strip():
            k += 1
        if k >= len(lines):
            raise _err(path, len(lines), f"missing '{key}' line after MOTION (truncated file?)")
        text = lines[k].strip()
        if not text.lower().startswith(key.lower()):
            raise _err(path, k + 1, f"expected '{key} <value>', got {text!r}")
        return text[len(key):].strip(), k

    value, k = header(motion_line + 1, "Frames:")
    if not value.isdigit():
        raise _err(path, k + 1, f"'Frames:' must be a non-negative integer, got {value!r}")
    num_frames, frames_line = int(value), k + 1
    value, k = header(k + 1, "Frame Time:")
    try:
        frame_time = float(value)
    except ValueError:
        raise _err(path, k + 1, f"'Frame Time:' must be a number of seconds, got {value!r}") \
            from None
    if not frame_time > 0 or not math.isfinite(frame_time):
        raise _err(path, k + 1, f"'Frame Time:' must be positive, got {value!r}")
    if num_frames == 0:
        raise _err(path, frames_line, "the file holds no frames ('Frames: 0')")

    # --- frame data ---
    rows = []
    last = k + 1
    for i in range(k + 1, len(lines)):
        parts = lines[i].split()
        if not parts:
            continue
        if len(rows) == num_frames:
            raise _err(path, i + 1, f"more frame lines than 'Frames: {num_frames}' (line "
                                    f"{frames_line}) declares")
        if len(parts) != width:
            raise _err(path, i + 1, f"expected {width} channel values in frame {len(rows) + 1}, "
                                    f"got {len(parts)}")
        try:
            rows.append([float(v) for v in parts])
        except ValueError:
            bad = next(v for v in parts if not is_float(v))
            raise _err(path, i + 1, f"non-numeric value {bad!r} in frame {len(rows) + 1}") \
                from None
        last = i + 1
    if len(rows) != num_frames:
        raise _err(path, last, f"'Frames: {num_frames}' (line {frames_line}) but the data ends "
                               f"after {len(rows)} frames (truncated file?)")
    data = np.asarray(rows, np.float64).reshape(num_frames, width)
    if not np.all(np.isfinite(data)):
        row = int(np.nonzero(~np.isfinite(data).all(axis=1))[0][0])
        raise _err(path, None, f"frame {row + 1} holds NaN or inf values")

    # --- units and frame rate ---
    if scale is None:
        rest = _rest_points(nodes)
        size = float((rest.max(axis=0) - rest.min(axis=0)).max())
        try:
            scale, _ = guess_bvh_scale(size)
        except ValueError as e:
            raise _err(path, None, str(e)) from None
    else:
        scale = float(scale)
        if not scale > 0 or not math.isfinite(scale):
            raise ValueError(f"`scale` must be a positive number (metres per file unit), "
                             f"got {scale!r}")
    if fps is None:
        fps = 1.0 / frame_time
        if abs(fps - round(fps)) <= 1e-4 * fps:
            fps = float(round(fps))

    positions = _forward(nodes, data) * scale
    return SkeletonMotion(
        name=name if name is not None else os.path.splitext(os.path.basename(path))[0],
        point_names=tuple(nd.name for nd in nodes), parents=tuple(nd.parent for nd in nodes),
        fps=fps, positions=positions.astype(np.float32))


def _forward(nodes: List[_Node], data: np.ndarray) -> np.ndarray:
    """(T, P, 3) file-unit positions; all frames at once per joint (parents come first)."""
    t = data.shape[0]
    glob = np.zeros((len(nodes), t, 3, 3))
    pos = np.zeros((len(nodes), t, 3))
    for i, nd in enumerate(nodes):
        vals = data[:, nd.first_channel:nd.first_channel + len(nd.channels)]
        local_t = np.broadcast_to(nd.offset, (t, 3)).copy()
        rot_cols, axes = [], ""
        for k, ch in enumerate(nd.channels):
            if ch.endswith("position"):
                local_t[:, "XYZ".index(ch[0])] = vals[:, k]
            else:
                rot_cols.append(k)
                axes += ch[0]
        # Intrinsic R = R_c1 @ R_c2 @ R_c3 equals fixed-axes rotations applied in reverse order.
        rot = euler_to_matrix(np.radians(vals[:, rot_cols[::-1]]), axes[::-1])
        if nd.parent < 0:
            glob[i], pos[i] = rot, local_t
        else:
            gp = glob[nd.parent]
            glob[i] = gp @ rot
            pos[i] = pos[nd.parent] + np.einsum("tij,tj->ti", gp, local_t)
    return pos.transpose(1, 0, 2)
