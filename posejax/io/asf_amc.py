"""Acclaim ASF (skeleton) / AMC (motion) reader with vectorised forward kinematics.

The format (used by the CMU Graphics Lab Motion Capture Database):

* ASF `:units` gives `mass`, `length` and `angle` (`deg` or `rad`). Lengths convert to metres as
  `x * (1 / length) * 0.0254` (one file unit is 1/length inches; CMU uses `length 0.45`).
* `:root` has `order` (the AMC root channels, e.g. `TX TY TZ RX RY RZ`), `axis` (the Euler order of
  `orientation`), `position` and `orientation`.
* `:bonedata` holds `begin ... end` blocks with `id`, `name`, `direction` (unit vector in the world
  frame at rest), `length`, `axis a1 a2 a3 ORDER` (the bone's local frame as Euler angles), `dof`
  (any subset / order of rx ry rz tx ty tz l) and `limits` (one `(lo hi)` pair per dof).
* `:hierarchy` lists `parent child child ...` lines between `begin` and `end`.
* AMC: optional `:FULLY-SPECIFIED` / `:DEGREES` / `:RADIANS` header, then frames: a frame number on
  its own line followed by one `bone v1 v2 ...` line per bone that has dofs, values in the bone's
  dof order (the root's in its `order`).

Euler convention: an order such as `XYZ` (or the dofs `rx ry rz`) means the rotations are applied
in that order about the fixed axes, R = Rz(c) @ Ry(b) @ Rx(a) (column vectors), which is how the
CMU data is meant to be read. Forward kinematics of a bone with axis rotation C (from `axis`) and
motion rotation M (from its AMC values):

    L = C @ M @ C^-1,   G = G_parent @ L,   end = parent_end + G @ (direction * length).

The root's C comes from `orientation` and its M from the RX/RY/RZ channels; the root point is the
`position` with the TX/TY/TZ channels replacing the components they give. Bone translation dofs
(tx ty tz, rare) offset the bone's start by G_parent @ C @ t; `l` adds to the bone's length.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from posejax.io.skeleton_motion import SkeletonMotion
from posejax.io.text_files import is_float

PathLike = Union[str, os.PathLike]

INCH = 0.0254  # metres
BONE_DOFS = ("rx", "ry", "rz", "tx", "ty", "tz", "l")
ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")


def _err(path, line: Optional[int], message: str) -> ValueError:
    where = f"{os.fspath(path)} line {line}" if line is not None else os.fspath(path)
    return ValueError(f"{where}: {message}")


def _floats(path, line: int, tokens: Sequence[str], what: str, count: Optional[int] = None):
    if count is not None and len(tokens) != count:
        raise _err(path, line, f"expected {count} values for {what}, got {len(tokens)}")
    try:
        return [float(t) for t in tokens]
    except ValueError:
        bad = next(t for t in tokens if not is_float(t))
        raise _err(path, line, f"non-numeric value {bad!r} for {what}") from None


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """Rotation matrices from Euler angles applied in `order` about fixed axes.

    Args:
      angles: (..., len(order)) radians, one column per letter of `order`.
      order: axis letters, e.g. "XYZ" or "ZX" (case-insensitive); "XYZ" gives Rz @ Ry @ Rx.

    Returns:
      (..., 3, 3) float64 rotation matrices (identity for an empty order).
    """
    angles = np.asarray(angles, np.float64)
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for k, axis in enumerate(order.upper()):
        c, s = np.cos(angles[..., k]), np.sin(angles[..., k])
        # Elementary right-handed rotation about one axis; numpy float64 so that parsing + FK of
        # whole files stays exact and free of per-shape JIT compiles.
        i, j = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[axis]
        r = np.broadcast_to(np.eye(3), c.shape + (3, 3)).copy()
        r[..., i, i], r[..., j, j], r[..., i, j], r[..., j, i] = c, c, -s, s
        out = r @ out  # later letters act after earlier ones (fixed axes)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class AsfBone:
    """One ASF bone (lengths in file units, angles in radians).

    Attributes:
      name: bone name.
      id: the `id` field (-1 when absent).
      parent: parent bone name ("root" for the root's children).
      direction: (3,) unit vector, world frame at rest.
      length: length in file units.
      axis: (3,) Euler angles (radians) of the bone's local frame, one per letter of `axis_order`.
      axis_order: e.g. "XYZ".
      dof: degrees of freedom in AMC value order, from rx ry rz tx ty tz l.
      limits: one (low, high) pair per dof, in file units (degrees for angles when `angle deg`).
    """

    name: str
    id: int
    parent: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: Tuple[str, ...]
    limits: Tuple[Tuple[float, float], ...]


@dataclasses.dataclass(frozen=True, eq=False)
class AsfSkeleton:
    """An ASF skeleton; `bones` are in depth-first hierarchy order (parents before children).

    Attributes:
      name: the `:name` field.
      path: the file it was read from.
      length_unit: the `:units length` value (file unit = 1/length_unit inches).
      angle_unit: "deg" or "rad" (`:units angle`).
      mass_unit: the `:units mass` value.
      root_order: AMC root channels in order, e.g. ("TX", "TY", "TZ", "RX", "RY", "RZ").
      root_axis: Euler order of `root_orientation`, e.g. "XYZ".
      root_position: (3,) file length units.
      root_orientation: (3,) radians.
      bones: the bones.
    """

    name: str
    path: str
    length_unit: float
    angle_unit: str
    mass_unit: float
    root_order: Tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    bones: Tuple[AsfBone, ...]

    @property
    def metres_per_unit(self) -> float:
        """Metres per file length unit: (1 / length) * 0.0254."""
        return INCH / self.length_unit

    @property
    def point_names(self) -> Tuple[str, ...]:
        """"root" followed by the bone names (each point is its bone's end)."""
        return ("root",) + tuple(b.name for b in self.bones)

    @property
    def parents(self) -> Tuple[int, ...]:
        """Parent index of each point of `point_names` (-1 for the root)."""
        index = {n: i for i, n in enumerate(self.point_names)}
        return (-1,) + tuple(index[b.parent] for b in self.bones)

    def bone(self, name: str) -> AsfBone:
        """The bone called `name`."""
        for b in self.bones:
            if b.name == name:
                return b
        raise ValueError(f"{self.path}: no bone named {name!r}; bones: "
                         f"{', '.join(b.name for b in self.bones)}")


@dataclasses.dataclass(frozen=True, eq=False)
class AmcMotion:
    """AMC frames as arrays, values in file units (lengths: ASF units; angles: `angle_unit`).

    Attributes:
      path: the file it was read from.
      frame_numbers: (T,) int64 frame numbers as written (consecutive).
      values: bone name -> (T, D) float64 values in the bone's dof order ("root": root order).
        Bones without dofs are absent.
      angle_unit: "deg" or "rad" (the AMC `:DEGREES` / `:RADIANS` header, else the ASF unit).
    """

    path: str
    frame_numbers: np.ndarray
    values: Dict[str, np.ndarray]
    angle_unit: str

    @property
    def num_frames(self) -> int:
        return int(self.frame_numbers.shape[0])


# ----------------------------------------------------------------------------------------- ASF


def _lines(path) -> List[Tuple[int, List[str]]]:
    """(line number, tokens) of the non-empty, non-comment lines of a text file."""
    out = []
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            s = line.split("#", 1)[0].split()
            if s:
                out.append((n, s))
    return out


def _check_order(path, line, letters: str, what: str) -> str:
    order = letters.upper()
    if not order or any(c not in "XYZ" for c in order) or len(set(order)) != len(order):
        raise _err(path, line, f"{what} must be distinct axis letters from X, Y, Z (e.g. XYZ), "
                               f"got {letters!r}")
    return order


def _parse_units(path, body, out):
    for n, tok in body:
        key = tok[0].lower()
        if len(tok) != 2:
            raise _err(path, n, f"expected ':units' entry '<name> <value>', got {' '.join(tok)!r}")
        if key == "angle":
            unit = tok[1].lower()
            if unit not in ("deg", "rad"):
                raise _err(path, n, f"':units angle' must be 'deg' or 'rad', got {tok[1]!r}")
            out["angle"] = unit
        elif key in ("length", "mass"):
            v = _floats(path, n, tok[1:], f"':units {key}'", 1)[0]
            if not v > 0 or not np.isfinite(v):
                raise _err(path, n, f"':units {key}' must be a positive number, got {tok[1]!r}")
            out[key] = v
        # Other unit entries carry no information the reader needs.


def _parse_root(path, body, start_line):
    root = {}
    for n, tok in body:
        key = tok[0].lower()
        if key == "order":
            chans = tuple(t.upper() for t in tok[1:])
            bad = [c for c in chans if c not in ROOT_CHANNELS]
            if bad or len(set(chans)) != len(chans):
                raise _err(path, n, f"root 'order' must be distinct channels from "
                                    f"{' '.join(ROOT_CHANNELS)}, got {' '.join(tok[1:])!r}")
            root["order"] = chans
        elif key == "axis":
            if len(tok) != 2:
                raise _err(path, n, f"root 'axis' must be one Euler order such as XYZ, "
                                    f"got {' '.join(tok[1:])!r}")
            root["axis"] = (_check_order(path, n, tok[1], "root 'axis'"), n)
        elif key in ("position", "orientation"):
            root[key] = (np.array(_floats(path, n, tok[1:], f"root '{key}'", 3)), n)
        else:
            raise _err(path, n, f"unknown ':root' entry {tok[0]!r} (expected order, axis, "
                                f"position, orientation)")
    for key in ("order", "axis", "position", "orientation"):
        if key not in root:
            raise _err(path, start_line, f"':root' section lacks its {key!r} entry")
    if len(root["orientation"][0]) != len(root["axis"][0]):
        raise _err(path, root["axis"][1], f"root 'axis' {root['axis'][0]!r} must name 3 axes for "
                                          f"the 3 orientation angles")
    return root


def _parse_limits(path, first_line, texts) -> List[Tuple[float, float]]:
    joined = " ".join(texts)
    pairs = re.findall(r"\(([^()]*)\)", joined)
    if re.sub(r"\([^()]*\)", "", joined).strip():
        raise _err(path, first_line, f"'limits' must be '(low high)' pairs, got {joined!r}")
    out = []
    for p in pairs:
        vals = _floats(path, first_line, p.split(), "a 'limits' pair", 2)
        out.append((vals[0], vals[1]))
    return out


def _parse_bone(path, block, begin_line, angle_scale):
    """One `begin ... end` block -> dict of fields (lengths in file units, angles radians)."""
    bone = {"line": begin_line}

    def label(key):  # e.g. "'length' of bone 'lfemur'" once the name is known
        return f"'{key}' of bone {bone['name']!r}" if "name" in bone else f"bone '{key}'"

    k = 0
    while k < len(block):
        n, tok = block[k]
        key = tok[0].lower()
        k += 1
        if key == "id":
            if len(tok) != 2 or not re.fullmatch(r"[-+]?\d+", tok[1]):
                raise _err(path, n, f"bone 'id' must be one integer, got {' '.join(tok[1:])!r}")
            bone["id"] = int(tok[1])
        elif key == "name":
            if len(tok) != 2:
                raise _err(path, n, f"bone 'name' must be one word, got {' '.join(tok[1:])!r}")
            bone["name"] = tok[1]
        elif key == "direction":
            d = np.array(_floats(path, n, tok[1:], label("direction"), 3))
            norm = np.linalg.norm(d)
            if not norm > 1e-12 or not np.isfinite(norm):
                raise _err(path, n, f"{label('direction')} must be a non-zero vector, got "
                                    f"{' '.join(tok[1:])!r}")
            bone["direction"] = d / norm  # the format says unit; tolerate rounding
        elif key == "length":
            v = _floats(path, n, tok[1:], label("length"), 1)[0]
            if not v >= 0 or not np.isfinite(v):
                raise _err(path, n, f"{label('length')} must be >= 0, got {tok[1]!r}")
            bone["length"] = v
        elif key == "axis":
            if len(tok) != 5:
                raise _err(path, n, f"{label('axis')} must be 3 angles and an order such as "
                                    f"'axis 0 0 20 XYZ', got {' '.join(tok)!r}")
            angles = _floats(path, n, tok[1:4], label("axis"), 3)
            bone["axis_order"] = _check_order(path, n, tok[4], f"the order in {label('axis')}")
            if len(bone["axis_order"]) != 3:
                raise _err(path, n, f"the order in {label('axis')} must name 3 axes, "
                                    f"got {tok[4]!r}")
            bone["axis"] = np.array(angles) * angle_scale
        elif key == "dof":
            dof = tuple(t.lower() for t in tok[1:])
            bad = [d for d in dof if d not in BONE_DOFS]
            if bad or len(set(dof)) != len(dof):
                raise _err(path, n, f"{label('dof')} must be distinct entries from "
                                    f"{' '.join(BONE_DOFS)}, got {' '.join(tok[1:])!r}")
            bone["dof"] = (dof, n)
        elif key == "limits":
            texts = [" ".join(tok[1:])]
            while k < len(block) and block[k][1][0].startswith("("):
                texts.append(" ".join(block[k][1]))
                k += 1
            bone["limits"] = (_parse_limits(path, n, texts), n)
        elif key in ("bodymass", "cofmass"):
            pass  # mass properties: not needed for kinematics
        else:
            raise _err(path, n, f"unknown bone entry {tok[0]!r} (expected id, name, direction, "
                                f"length, axis, dof, limits)")
    for key in ("name", "direction", "length", "axis"):
        if key not in bone:
            raise _err(path, begin_line, f"bone block lacks its {key!r} entry")
    dof, dof_line = bone.get("dof", ((), begin_line))
    limits, lim_line = bone.get("limits", ([], begin_line))
    if "limits" in bone and len(limits) != len(dof):
        raise _err(path, lim_line, f"bone {bone['name']!r} has {len(dof)} dofs but "
                                   f"{len(limits)} 'limits' pairs")
    bone["dof"], bone["limits"] = dof, tuple(limits)
    return bone


def read_asf(path: PathLike) -> AsfSkeleton:
    """Reads an ASF skeleton file.

    Args:
      path: the .asf file.

    Returns:
      The AsfSkeleton (bones in depth-first hierarchy order).

    Raises:
      FileNotFoundError: no such file.
      ValueError: malformed or truncated file; the message names the file and line.
    """
    path = os.fspath(path)
    lines = _lines(path)
    sections: Dict[str, Tuple[int, list]] = {}
    current = None
    for n, tok in lines:
        if tok[0].startswith(":"):
            key = tok[0][1:].lower()
            if key in sections and key in ("units", "root", "bonedata", "hierarchy"):
                raise _err(path, n, f"section ':{key}' appears twice")
            sections[key] = (n, [(n, tok[1:])] if len(tok) > 1 else [])
            current = key
        elif current is None:
            raise _err(path, n, f"expected a ':section' keyword, got {' '.join(tok)!r}")
        else:
            sections[current][1].append((n, tok))
    for key in ("root", "bonedata", "hierarchy"):
        if key not in sections:
            raise _err(path, None, f"missing ':{key}' section (not an ASF file, or truncated)")

    units = {"length": 1.0, "angle": "deg", "mass": 1.0}
    if "units" in sections:
        _parse_units(path, sections["units"][1], units)
    angle_scale = np.pi / 180.0 if units["angle"] == "deg" else 1.0
    name_line = sections.get("name", (0, []))[1]
    skel_name = " ".join(name_line[0][1]) if name_line else os.path.splitext(
        os.path.basename(path))[0]
    root = _parse_root(path, sections["root"][1], sections["root"][0])

    # Bone blocks.
    bones: Dict[str, dict] = {}
    body = sections["bonedata"][1]
    k = 0
    while k < len(body):
        n, tok = body[k]
        if tok[0].lower() != "begin":
            raise _err(path, n, f"expected 'begin' of a bone block in ':bonedata', got "
                                f"{' '.join(tok)!r}")
        end = k + 1
        while end < len(body) and body[end][1][0].lower() != "end":
            if body[end][1][0].lower() == "begin":
                raise _err(path, body[end][0], "'begin' inside a bone block (missing 'end')")
            end += 1
        if end == len(body):
            last = body[-1][0]
            raise _err(path, last, f"bone block opened at line {n} has no 'end' (truncated?)")
        bone = _parse_bone(path, body[k + 1:end], n, angle_scale)
        if bone["name"] == "root" or bone["name"] in bones:
            raise _err(path, n, f"bone name {bone['name']!r} is used twice (or is 'root')")
        bones[bone["name"]] = bone
        k = end + 1

    # Hierarchy.
    hier = sections["hierarchy"][1]
    hier_line = sections["hierarchy"][0]
    if not hier or hier[0][1][0].lower() != "begin":
        raise _err(path, hier[0][0] if hier else hier_line, "':hierarchy' must start with 'begin'")
    if hier[-1][1][0].lower() != "end" or len(hier) < 2:
        raise _err(path, hier[-1][0], "':hierarchy' has no closing 'end' (truncated?)")
    children: Dict[str, List[str]] = {"root": []}
    parent_of: Dict[str, str] = {}
    for n, tok in hier[1:-1]:
        parent, kids = tok[0], tok[1:]
        if parent != "root" and parent not in bones:
            raise _err(path, n, f"unknown bone {parent!r} in ':hierarchy'")
        if not kids:
            raise _err(path, n, f"':hierarchy' line for {parent!r} names no children")
        for c in kids:
            if c not in bones:
                raise _err(path, n, f"unknown bone {c!r} in ':hierarchy'")
            if c in parent_of:
                raise _err(path, n, f"bone {c!r} is given a second parent in ':hierarchy'")
            parent_of[c] = parent
            children.setdefault(parent, []).append(c)
    order: List[str] = []
    stack = ["root"]
    while stack:  # depth-first, children in listed order
        b = stack.pop()
        if b != "root":
            order.append(b)
        stack.extend(reversed(children.get(b, [])))
    missing = [b for b in bones if b not in order]
    if missing:
        raise _err(path, hier_line, f"bones not connected to the root in ':hierarchy': "
                                    f"{', '.join(missing)}")

    out_bones = tuple(
        AsfBone(name=b, id=bones[b].get("id", -1), parent=parent_of[b],
                direction=bones[b]["direction"], length=bones[b]["length"],
                axis=bones[b]["axis"], axis_order=bones[b]["axis_order"],
                dof=bones[b]["dof"], limits=bones[b]["limits"])
        for b in order)
    return AsfSkeleton(
        name=skel_name, path=path, length_unit=units["length"], angle_unit=units["angle"],
        mass_unit=units["mass"], root_order=root["order"], root_axis=root["axis"][0],
        root_position=root["position"][0], root_orientation=root["orientation"][0] * angle_scale,
        bones=out_bones)


# ----------------------------------------------------------------------------------------- AMC


def read_amc(path: PathLike, skeleton: AsfSkeleton) -> AmcMotion:
    """Reads an AMC motion file for `skeleton`.

    Every frame must list each bone that has dofs exactly once, with one value per dof; frame
    numbers must be consecutive.

    Args:
      path: the .amc file.
      skeleton: the skeleton from `read_asf`.

    Returns:
      AmcMotion with per-bone (T, D) value arrays in file units.

    Raises:
      FileNotFoundError: no such file.
      ValueError: malformed or truncated file, unknown bones, wrong value counts; the message
        names the file and line.
    """
    path = os.fspath(path)
    # Column layout of one frame row: root channels then each bone's dofs.
    layout: Dict[str, Tuple[int, int]] = {"root": (0, len(skeleton.root_order))}
    width = len(skeleton.root_order)
    for b in skeleton.bones:
        layout[b.name] = (width, len(b.dof))
        width += len(b.dof)
    expected = [name for name, (_, d) in layout.items() if d > 0]
    num_expected = len(expected)
    angle_unit = None
    rows: List[List[float]] = []
    numbers: List[int] = []
    row: Optional[List[float]] = None
    seen: set = set()
    frame_line = 0
    last_line = 0

    def close_frame():
        if len(seen) != num_expected:
            lost = [b for b in expected if b not in seen]
            raise _err(path, frame_line, f"frame {numbers[-1]} lacks values for bones "
                                         f"{', '.join(lost)} (truncated file?)")
        rows.append(row)

    with open(path, "r", encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            tok = line.split()
            if not tok or tok[0][0] == "#":
                continue
            last_line = n
            head = tok[0]
            if head[0] == ":":
                if row is not None:
                    raise _err(path, n, f"header keyword {head!r} after the first frame")
                key = head[1:].upper()
                if key == "DEGREES":
                    angle_unit = "deg"
                elif key == "RADIANS":
                    angle_unit = "rad"
                continue  # :FULLY-SPECIFIED and other flags carry nothing we need
            if len(tok) == 1 and head.isdigit():
                if row is not None:
                    close_frame()
                num = int(head)
                if numbers and num != numbers[-1] + 1:
                    raise _err(path, n, f"frame number {num} does not follow frame "
                                        f"{numbers[-1]}")
                numbers.append(num)
                row = [0.0] * width
                seen = set()
                frame_line = n
                continue
            if row is None:
                raise _err(path, n, f"expected a frame number before bone values, got "
                                    f"{' '.join(tok[:4])!r}")
            spec = layout.get(head)
            if spec is None:
                raise _err(path, n, f"unknown bone {head!r} (not in {skeleton.path})")
            start, dofs = spec
            if len(tok) - 1 != dofs:
                raise _err(path, n, f"expected {dofs} values for bone {head!r}, got {len(tok) - 1}")
            if head in seen:
                raise _err(path, n, f"bone {head!r} appears twice in frame {numbers[-1]}")
            if dofs:
                seen.add(head)
                try:
                    row[start:start + dofs] = [float(v) for v in tok[1:]]
                except ValueError:
                    _floats(path, n, tok[1:], f"bone {head!r}")  # raises with the bad token
    if row is None:
        raise _err(path, last_line or None, "no frames found (expected a frame number line "
                                            "followed by 'bone values' lines)")
    close_frame()
    data = np.asarray(rows, np.float64).reshape(len(rows), width)
    if not np.all(np.isfinite(data)):
        bad_frame = numbers[int(np.nonzero(~np.isfinite(data).all(axis=1))[0][0])]
        raise _err(path, None, f"frame {bad_frame} holds NaN or inf values")
    values = {name: data[:, s:s + d] for name, (s, d) in layout.items() if d > 0}
    return AmcMotion(path=path, frame_numbers=np.asarray(numbers, np.int64), values=values,
                     angle_unit=angle_unit or skeleton.angle_unit)


# ------------------------------------------------------------------------------------------ FK


def _motion_rotation(vals: np.ndarray, dof: Sequence[str], angle_scale: float) -> np.ndarray:
    """(T, 3, 3) rotation from the rotational dofs in their listed order."""
    cols = [i for i, d in enumerate(dof) if d.lower() in ("rx", "ry", "rz")]
    order = "".join(dof[i][1].upper() for i in cols)
    return euler_to_matrix(vals[:, cols] * angle_scale, order)


def asf_amc_positions(skeleton: AsfSkeleton, motion: AmcMotion, *, fps: float = 120.0,
                      name: Optional[str] = None,
                      metres_per_unit: Optional[float] = None) -> SkeletonMotion:
    """Forward kinematics of an AMC motion on its ASF skeleton, all frames at once.

    Args:
      skeleton: from `read_asf`.
      motion: from `read_amc` (with the same skeleton).
      fps: frame rate (AMC files do not store one; CMU captures are 120 fps).
      name: clip name (default: the AMC file name without extension).
      metres_per_unit: overrides the ASF `:units length` conversion ((1 / length) * 0.0254).

    Returns:
      SkeletonMotion with points "root" + one per bone (its end), (T, 1 + B, 3) metres.
    """
    scale = skeleton.metres_per_unit if metres_per_unit is None else float(metres_per_unit)
    ang = np.pi / 180.0 if motion.angle_unit == "deg" else 1.0
    t = motion.num_frames
    zeros = np.zeros((t, 0))

    # Root: C from `orientation`; M from the RX/RY/RZ channels in `order`.
    order = [c.lower() for c in skeleton.root_order]
    vals = motion.values.get("root", zeros)
    c_root = euler_to_matrix(skeleton.root_orientation, skeleton.root_axis)
    m = _motion_rotation(vals, order, ang)
    glob = {"root": c_root @ m @ c_root.T}
    pos = np.broadcast_to(skeleton.root_position, (t, 3)).copy()
    for i, ch in enumerate(order):
        if ch[0] == "t":
            pos[:, "xyz".index(ch[1])] = vals[:, i]  # the AMC gives absolute root positions
    ends = {"root": pos}

    for b in skeleton.bones:
        vals = motion.values.get(b.name, zeros)
        c = euler_to_matrix(b.axis, b.axis_order)
        g_parent, start = glob[b.parent], ends[b.parent]
        if vals.shape[1]:
            local = c @ _motion_rotation(vals, b.dof, ang) @ c.T
            g = g_parent @ local
        else:
            g = g_parent  # no dofs: L = C C^-1 = I
        length = np.full(t, b.length)
        trans = np.zeros((t, 3))
        for i, d in enumerate(b.dof):
            if d == "l":
                length = length + vals[:, i]
            elif d[0] == "t":
                trans[:, "xyz".index(d[1])] = vals[:, i]
        if trans.any():
            start = start + np.einsum("...ij,...j->...i", g_parent @ c, trans)
        seg = length[:, None] * b.direction
        ends[b.name] = start + np.einsum("...ij,...j->...i", np.broadcast_to(g, (t, 3, 3)), seg)
        glob[b.name] = g
    positions = np.stack([ends[n] for n in skeleton.point_names], axis=1) * scale
    if name is None:
        name = os.path.splitext(os.path.basename(motion.path))[0]
    return SkeletonMotion(name=name, point_names=skeleton.point_names, parents=skeleton.parents,
                          fps=fps, positions=positions.astype(np.float32))


def read_asf_amc(asf_path: PathLike, amc_path: PathLike, *, fps: float = 120.0,
                 name: Optional[str] = None,
                 metres_per_unit: Optional[float] = None) -> SkeletonMotion:
    """Reads an ASF skeleton + AMC motion and returns world positions of every bone end.

    Args:
      asf_path: the .asf file.
      amc_path: the .amc file.
      fps: frame rate (AMC files store none; CMU captures are 120 fps).
      name: clip name (default: the AMC file name without extension, e.g. "02_01").
      metres_per_unit: overrides the ASF `:units length` conversion ((1 / length) * 0.0254).

    Returns:
      SkeletonMotion: points "root" + one per bone (its end), positions (T, 1 + B, 3) float32
      metres in the file's frame (Y up for CMU).

    Raises:
      FileNotFoundError: a file is missing.
      ValueError: malformed or truncated files; the message names the file and line.
    """
    skeleton = read_asf(asf_path)
    motion = read_amc(amc_path, skeleton)
    return asf_amc_positions(skeleton, motion, fps=fps, name=name,
                             metres_per_unit=metres_per_unit)
