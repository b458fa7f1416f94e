"""Camera calibration files: Qualisys `.qca` XML, OpenCV-style TOML (Pose2Sim layout), JSON.

Every reader returns a list of `Camera` records in the OpenCV convention (DESIGN.md section 3):
a world point X (metres) maps to the camera frame as `R @ X + t` (x right, y down, z forward) and to
pixels (origin at the top-left image corner) through `K`. `to_perspective_camera` stacks them into
one batched `posejax.geometry.PerspectiveCamera` (distortion is dropped there: posejax cameras are
pinholes; undistort the 2D points first where the lens matters).

Formats:

* Qualisys `.qca` (XML, often saved as `.qca.txt`): per `<camera>`, `<fov_video left top right
  bottom>`, `<transform r11..r33 x y z>` (millimetres) and `<intrinsic focalLengthU/V
  centerPointU/V radialDistortion1..3 tangentalDistortion1..2>` in 1/64 pixel units. Conversion (the
  one checked on the shared demo data, see its README):
  `K = [[fU/64, 0, cU/64 - left], [0, fV/64, cV/64 - top], [0, 0, 1]]`,
  `R = diag(1, -1, -1) @ Rq` (Rq = the transform's r11..r33), `t = -R @ (x, y, z) / 1000`,
  image size = (right - left + 1, bottom - top + 1), distortion = (k1, k2, p1, p2, k3) from the
  radial/tangential coefficients as given.
* TOML, Pose2Sim's layout: one table per camera, e.g.
  `[cam_01]`, `name = "cam01"`, `size = [W, H]`, `matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`,
  `distortions = [k1, k2, p1, p2]`, `rotation = [rx, ry, rz]` (Rodrigues vector of R),
  `translation = [tx, ty, tz]` (metres), `fisheye = false`. Tables without `matrix` (Pose2Sim's
  `[metadata]`) are skipped.
* JSON (posejax's own): `{"cameras": [{"name", "image_size": [W, H], "K", "R", "t",
  "distortion"}]}`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
import xml.parsers.expat
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy.spatial.transform import Rotation

from posejax.geometry import PerspectiveCamera
from posejax.io.text_files import read_json, read_text

__all__ = ["Camera", "read_qca", "read_calibration_toml", "write_calibration_toml",
           "read_calibration_json", "write_calibration_json", "read_calibration",
           "write_calibration", "to_perspective_camera"]


@dataclasses.dataclass(frozen=True)
class Camera:
    """One calibrated camera (OpenCV convention, metres, pixels).

    Attributes:
      name: camera name (e.g. "cam01").
      K: (3, 3) float64 intrinsics, pixels.
      R: (3, 3) float64 world-to-camera rotation.
      t: (3,) float64 world-to-camera translation, metres.
      distortion: (D,) float64 OpenCV coefficients (k1, k2, p1, p2[, k3, ...]); may be empty.
      image_size: (width, height) pixels, or None when unknown.
    """

    name: str
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    distortion: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    image_size: Optional[Tuple[int, int]] = None

    def __post_init__(self):
        # Normalise the field types once so every reader/writer sees the same thing.
        for field, shape in (("K", (3, 3)), ("R", (3, 3)), ("t", (3,))):
            arr = np.asarray(getattr(self, field), np.float64)
            if arr.shape != shape:
                raise ValueError(f"camera {self.name!r}: `{field}` must have shape {shape}, got "
                                 f"{arr.shape}")
            object.__setattr__(self, field, arr)
        object.__setattr__(self, "distortion", np.asarray(self.distortion, np.float64).reshape(-1))
        if self.image_size is not None:
            w, h = (int(v) for v in self.image_size)
            object.__setattr__(self, "image_size", (w, h))

    @property
    def rvec(self) -> np.ndarray:
        """(3,) Rodrigues (axis-angle) vector of R, radians."""
        return Rotation.from_matrix(self.R).as_rotvec()

    @property
    def center(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, metres."""
        return -self.R.T @ self.t


def to_perspective_camera(cameras: Sequence[Camera]) -> PerspectiveCamera:
    """Stacks cameras into one PerspectiveCamera with batch shape (C,) (float32; no distortion)."""
    cameras = list(cameras)
    if not cameras:
        raise ValueError("`cameras` must hold at least one Camera, got none")
    return PerspectiveCamera(K=np.stack([c.K for c in cameras]).astype(np.float32),
                             R=np.stack([c.R for c in cameras]).astype(np.float32),
                             t=np.stack([c.t for c in cameras]).astype(np.float32))


# ---------------------------------------------------------------------------------------- QCA

def _parse_xml_elements(path: str, text: str) -> List[Tuple[str, Dict[str, str], int, List]]:
    """Minimal expat tree: (tag, attributes, line, children) per element, with line numbers
    (ElementTree keeps none, and the error messages must name the line)."""
    root: List = []
    stack = [("", {}, 0, root)]
    parser = xml.parsers.expat.ParserCreate()

    def start(tag, attrs):
        node = (tag, attrs, parser.CurrentLineNumber, [])
        stack[-1][3].append(node)
        stack.append(node)

    def end(tag):
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(text.encode("utf-8"), True)
    except xml.parsers.expat.ExpatError as e:
        raise ValueError(f"{path}, line {e.lineno}, column {e.offset + 1}: invalid XML: "
                         f"{xml.parsers.expat.errors.messages[e.code]}") from None
    return root


def _find(node, tag):
    return [c for c in node[3] if c[0] == tag]


def _attr(path, node, name, cam) -> float:
    tag, attrs, line, _ = node
    if name not in attrs:
        raise ValueError(f"{path}, line {line}: <{tag}> of camera {cam!r} lacks attribute {name!r}")
    try:
        value = float(attrs[name])
    except ValueError:
        raise ValueError(f"{path}, line {line}: <{tag}> of camera {cam!r}: attribute {name!r} must "
                         f"be a number, got {attrs[name]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {line}: <{tag}> of camera {cam!r}: attribute {name!r} is "
                         f"not finite ({attrs[name]!r})")
    return value


def _child(path, cam_node, tag, cam):
    found = _find(cam_node, tag)
    if not found:
        raise ValueError(f"{path}, line {cam_node[2]}: camera {cam!r} has no <{tag}> element")
    return found[0]


def read_qca(path: str, active_only: bool = False) -> List[Camera]:
    """Reads a Qualisys `.qca` calibration (see the module docstring for the conversion).

    Args:
      path: the XML file (`.qca`, `.qca.txt`, `.xml`).
      active_only: skip cameras with `active="0"`.

    Returns:
      Cameras in file order, named by their `serial` attribute.

    Raises:
      FileNotFoundError: missing file.
      ValueError: invalid XML (file, line, column) or a missing / non-numeric field (file, line,
        element and attribute).
    """
    tree = _parse_xml_elements(path, read_text(path))
    calib = [n for n in tree if n[0] == "calibration"]
    if not calib:
        raise ValueError(f"{path}: expected a Qualisys <calibration> root element, got "
                         f"<{tree[0][0] if tree else ''}>")
    cams_nodes = _find(calib[0], "cameras")
    cam_list = [c for cs in cams_nodes for c in _find(cs, "camera")]
    if not cam_list:
        raise ValueError(f"{path}, line {calib[0][2]}: no <cameras><camera> elements")
    cameras = []
    for i, node in enumerate(cam_list):
        name = node[1].get("serial", f"cam{i + 1:02d}")
        if active_only and node[1].get("active", "1") == "0":
            continue
        fov = _child(path, node, "fov_video", name)
        left, top, right, bottom = (_attr(path, fov, k, name)
                                    for k in ("left", "top", "right", "bottom"))
        tr = _child(path, node, "transform", name)
        rq = np.array([[_attr(path, tr, f"r{a}{b}", name) for b in "123"] for a in "123"])
        pos_mm = np.array([_attr(path, tr, k, name) for k in "xyz"])
        intr = _child(path, node, "intrinsic", name)
        fu, fv, cu, cv = (_attr(path, intr, k, name) / 64.0 for k in
                          ("focalLengthU", "focalLengthV", "centerPointU", "centerPointV"))
        k1, k2, k3, p1, p2 = (_attr(path, intr, k, name) for k in (
            "radialDistortion1", "radialDistortion2", "radialDistortion3", "tangentalDistortion1",
            "tangentalDistortion2"))
        K = np.array([[fu, 0.0, cu - left], [0.0, fv, cv - top], [0.0, 0.0, 1.0]])
        # Qualisys cameras look down their -z with y up; OpenCV's look down +z with y down.
        R = np.diag([1.0, -1.0, -1.0]) @ rq
        t = -R @ pos_mm / 1000.0
        size = (int(round(right - left + 1)), int(round(bottom - top + 1)))
        cameras.append(Camera(name, K, R, t, np.array([k1, k2, p1, p2, k3]), size))
    return cameras


# --------------------------------------------------------------------------------------- TOML

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)  # shortest round-trip form; always has '.', 'e' or is inf/nan
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _dumps_toml(tables: Dict[str, Dict[str, object]]) -> str:
    """Tiny TOML writer: top-level tables of scalars / (nested) arrays only."""
    out = []
    for table, entries in tables.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+", table):
            table = json.dumps(table)
        out.append(f"[{table}]")
        out += [f"{k} = {_toml_value(v)}" for k, v in entries.items()]
        out.append("")
    return "\n".join(out)


def write_calibration_toml(path: str, cameras: Sequence[Camera]) -> None:
    """Writes cameras as Pose2Sim / OpenCV-style TOML (tables `cam_01`, `cam_02`, ...)."""
    tables = {}
    for i, cam in enumerate(cameras):
        entry = {"name": cam.name}
        if cam.image_size is not None:
            entry["size"] = [float(cam.image_size[0]), float(cam.image_size[1])]
        entry.update(matrix=cam.K, distortions=cam.distortion, rotation=cam.rvec,
                     translation=cam.t, fisheye=False)
        tables[f"cam_{i + 1:02d}"] = entry
    tables["metadata"] = {"adjusted": False, "error": 0.0}
    with open(path, "w", encoding="utf-8") as f:
        f.write(_dumps_toml(tables))


def _line_of_table(text: str, table: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*\[\s*\"?{re.escape(table)}\"?\s*\]", line):
            return i
    return 0


def _numeric(path, where, key, value, shape) -> np.ndarray:
    try:
        arr = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}, {where}: `{key}` must be numbers of shape {shape}, got "
                         f"{value!r}") from None
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{path}, {where}: `{key}` must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{path}, {where}: `{key}` contains NaN or inf")
    return arr


def read_calibration_toml(path: str) -> List[Camera]:
    """Reads Pose2Sim / OpenCV-style TOML (see the module docstring).

    Raises:
      FileNotFoundError: missing file.
      ValueError: invalid TOML (file, line, column) or a missing / malformed key (file, table and
        its line, key).
    """
    text = read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        # tomllib puts "(at line L, column C)" or "(at end of document)" in its message.
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            where = f"line {m.group(1)}, column {m.group(2)}"
        else:
            where = f"line {max(1, len(text.splitlines()))} (end of file)"
        msg = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", msg)
        raise ValueError(f"{path}, {where}: invalid TOML: {msg}") from None
    cameras = []
    for table, entry in data.items():
        if not isinstance(entry, dict) or "matrix" not in entry:
            continue  # e.g. [metadata]
        where = f"[{table}] (line {_line_of_table(text, table)})"
        for key in ("rotation", "translation"):
            if key not in entry:
                raise ValueError(f"{path}, {where}: missing key `{key}`")
        K = _numeric(path, where, "matrix", entry["matrix"], (3, 3))
        rvec = _numeric(path, where, "rotation", entry["rotation"], None)
        if rvec.shape == (3, 3):  # some tools write the matrix itself
            R = rvec
        elif rvec.shape == (3,):
            R = Rotation.from_rotvec(rvec).as_matrix()
        else:
            raise ValueError(f"{path}, {where}: `rotation` must be a Rodrigues vector (3,) or a "
                             f"matrix (3, 3), got shape {rvec.shape}")
        t = _numeric(path, where, "translation", entry["translation"], (3,))
        dist = _numeric(path, where, "distortions", entry.get("distortions", []), None).reshape(-1)
        size = None
        if "size" in entry:
            s = _numeric(path, where, "size", entry["size"], (2,))
            size = (int(round(s[0])), int(round(s[1])))
        cameras.append(Camera(str(entry.get("name", table)), K, R, t, dist, size))
    if not cameras:
        raise ValueError(f"{path}: no camera tables (tables with a `matrix` key) found")
    return cameras


# --------------------------------------------------------------------------------------- JSON

def write_calibration_json(path: str, cameras: Sequence[Camera]) -> None:
    """Writes cameras as posejax JSON: {"cameras": [{name, image_size, K, R, t, distortion}]}."""
    doc = {"cameras": [{
        "name": c.name, "image_size": None if c.image_size is None else list(c.image_size),
        "K": c.K.tolist(), "R": c.R.tolist(), "t": c.t.tolist(),
        "distortion": c.distortion.tolist()} for c in cameras]}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)


def read_calibration_json(path: str) -> List[Camera]:
    """Reads posejax calibration JSON (see `write_calibration_json`).

    Raises:
      FileNotFoundError: missing file.
      ValueError: invalid JSON (file, line, column) or a missing / malformed field (file, field).
    """
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
        raise ValueError(f"{path}: expected an object with a 'cameras' list")
    cameras = []
    for i, c in enumerate(data["cameras"]):
        where = f"cameras[{i}]"
        if not isinstance(c, dict):
            raise ValueError(f"{path}, {where}: expected an object, got {type(c).__name__}")
        for key in ("K", "R", "t"):
            if key not in c:
                raise ValueError(f"{path}, {where}: missing field `{key}`")
        size = c.get("image_size")
        if size is not None:
            s = _numeric(path, where, "image_size", size, (2,))
            size = (int(round(s[0])), int(round(s[1])))
        cameras.append(Camera(
            str(c.get("name", f"cam{i + 1:02d}")), _numeric(path, where, "K", c["K"], (3, 3)),
            _numeric(path, where, "R", c["R"], (3, 3)), _numeric(path, where, "t", c["t"], (3,)),
            _numeric(path, where, "distortion", c.get("distortion", []), None).reshape(-1), size))
    return cameras


# ------------------------------------------------------------------------------------ dispatch

def read_calibration(path: str) -> List[Camera]:
    """Reads any supported calibration by suffix: .qca / .qca.txt / .xml, .toml, .json."""
    low = path.lower()
    if low.endswith((".qca", ".qca.txt", ".xml")):
        return read_qca(path)
    if low.endswith(".toml"):
        return read_calibration_toml(path)
    if low.endswith(".json"):
        return read_calibration_json(path)
    raise ValueError(f"{path}: unknown calibration format; expected .qca, .qca.txt, .xml, .toml "
                     f"or .json")


def write_calibration(path: str, cameras: Sequence[Camera]) -> None:
    """Writes cameras by suffix: .toml or .json."""
    low = path.lower()
    if low.endswith(".toml"):
        return write_calibration_toml(path, cameras)
    if low.endswith(".json"):
        return write_calibration_json(path, cameras)
    raise ValueError(f"{path}: can write calibration only as .toml or .json")
