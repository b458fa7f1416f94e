"""ASF/AMC reader: real CMU files, hand-made files with known answers, malformed files."""

import os
import re

import numpy as np
import pytest

from posejax.geometry.rotations import rot_x, rot_y, rot_z
from posejax.io.asf_amc import (AmcMotion, AsfSkeleton, asf_amc_positions, euler_to_matrix,
                                read_amc, read_asf, read_asf_amc)
from tests.conftest import shared_data_dir

CMU = {"01": 2751, "02": 343, "11": 597}  # frame counts from the shared data README

# ------------------------------------------------------------------------------- real CMU data


@pytest.fixture(scope="module")
def cmu_motions():
    d = shared_data_dir("cmu_mocap")
    return {s: read_asf_amc(os.path.join(d, f"{s}.asf"), os.path.join(d, f"{s}_01.amc"),
                            name=f"cmu_{s}_01")
            for s in CMU}


def _dist(m, a, b):
    """(T,) distance between two named points over the clip."""
    return np.linalg.norm(m.positions[:, m.index(a)] - m.positions[:, m.index(b)], axis=-1)


@pytest.mark.parametrize("subject", sorted(CMU))
def test_cmu_files_parse(cmu_motions, subject):
    m = cmu_motions[subject]
    assert m.num_frames == CMU[subject] and m.fps == 120.0 and m.name == f"cmu_{subject}_01"
    assert m.positions.shape == (CMU[subject], 31, 3) and m.positions.dtype == np.float32
    assert m.point_names[0] == "root" and m.parents[0] == -1
    assert m.point_names[m.parents[m.index("ltibia")]] == "lfemur"
    assert m.point_names[m.parents[m.index("lhumerus")]] == "lclavicle"


@pytest.mark.parametrize("subject", sorted(CMU))
def test_cmu_bone_lengths_plausible_and_rigid(cmu_motions, subject):
    m = cmu_motions[subject]
    # Joint centres: hip = hipjoint end, knee = femur end, ankle = tibia end, shoulder = clavicle
    # end, elbow = humerus end, wrist = radius end. CMU's radius bone ends ~0.19-0.20 m below the
    # elbow (the BVH conversions put the wrist joint there too), so the forearm bound is 0.17 m.
    ranges = {("hipjoint", "femur"): (0.35, 0.55), ("femur", "tibia"): (0.35, 0.5),
              ("clavicle", "humerus"): (0.2, 0.35), ("humerus", "radius"): (0.17, 0.32)}
    for side in "lr":
        for (a, b), (lo, hi) in ranges.items():
            d = _dist(m, side + a, side + b)
            assert lo < d[0] < hi, (side + b, d[0])
            assert np.ptp(d) < 1e-5, (side + b, np.ptp(d))  # FK keeps bones rigid


@pytest.mark.parametrize("subject", sorted(CMU))
def test_cmu_stands_upright_in_first_frame(cmu_motions, subject):
    m = cmu_motions[subject]
    y = m.positions[0, :, 1]
    head, pelvis = y[m.index("head")], y[m.index("root")]
    feet = y[[m.index(n) for n in ("lfoot", "rfoot", "ltoes", "rtoes")]]
    assert head > pelvis + 0.4 and np.all(feet < pelvis - 0.6)
    # Head end to the lowest point: CMU's head bone ends below the crown.
    assert 1.4 < y.max() - y.min() < 2.0
    assert -0.05 < y.min() < 0.15  # the lowest point (a foot) is near the ground y = 0


def test_cmu_02_walk(cmu_motions):
    m = cmu_motions["02"]
    root = m.positions[:, 0]
    travel = np.linalg.norm(root[-1, [0, 2]] - root[0, [0, 2]])
    assert 3.0 < travel < 3.6, travel  # README: the root travels ~3.3 m
    # Walking on level ground: both toes touch the floor at some point, the pelvis stays level.
    for toe in ("ltoes", "rtoes"):
        assert -0.03 < m.positions[:, m.index(toe), 1].min() < 0.05
    assert np.ptp(root[:, 1]) < 0.1


def test_cmu_02_truncated_copy_names_file_and_line(tmp_path):
    src = shared_data_dir("cmu_mocap", "02_01.amc")
    asf = read_asf(shared_data_dir("cmu_mocap", "02.asf"))
    with open(src) as f:
        lines = f.readlines()
    broken = tmp_path / "02_01.amc"
    broken.write_text("".join(lines[:1000]))  # cut inside a frame, at a line boundary
    frame_line = max(i + 1 for i, l in enumerate(lines[:1000]) if l.strip().isdigit())
    with pytest.raises(ValueError, match=re.escape(f"{broken} line {frame_line}: frame ")
                       + r"\d+ lacks values for bones .* \(truncated file\?\)"):
        read_amc(broken, asf)
    root_line = next(i for i in range(1000, 1100) if lines[i].startswith("root"))
    lines[root_line] = "root 1.0 2.0 3.0\n"
    broken.write_text("".join(lines))
    with pytest.raises(ValueError, match=re.escape(
            f"{broken} line {root_line + 1}: expected 6 values for bone 'root', got 3")):
        read_amc(broken, asf)


# ------------------------------------------------------------------------------ tiny files

TINY_ASF = """\
# tiny test skeleton
:version 1.10
:name tiny
:units
  mass 1.0
  length {length}
  angle {angle}
:documentation
  hand-made
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation {orientation}
:bonedata
  begin
     id 1
     name a
     direction 1 0 0
     length 1
     axis 0 0 0 XYZ
    dof rx ry rz
    limits (-180.0 180.0)
           (-180.0 180.0)
           (-180.0 180.0)
  end
  begin
     id 2
     name b
     direction 0 0 1
     length 2
     axis 0 0 {b_axis} XYZ
    dof rx
    limits (-180 180)
  end
  begin
     id 3
     name c
     direction 1 0 0
     length 1
     axis 0 0 0 XYZ
    dof rz rx
  end
  begin
     id 4
     name d
     direction 0 1 0
     length 0.5
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root a c
    a b
    c d
  end
"""

TINY_AMC = """\
:FULLY-SPECIFIED
:{unit}
1
root 1 2 3 0 0 0
a 0 0 {q}
b {q}
c {q} {q}
2
root 0 0 0 0 {q} 0
a 0 0 0
b 0
c 0 0
"""


def _write_tiny(tmp_path, length=1.0, angle="deg", orientation="0 0 0", unit="DEGREES",
                q="90", b_axis="90"):
    asf = tmp_path / "tiny.asf"
    amc = tmp_path / "tiny.amc"
    asf.write_text(TINY_ASF.format(length=length, angle=angle, orientation=orientation,
                                   b_axis=b_axis))
    amc.write_text(TINY_AMC.format(unit=unit, q=q))
    return asf, amc


def test_euler_matches_geometry_rotations():
    a, b, c = 0.3, -1.1, 2.0
    ref = np.asarray(rot_z(c) @ rot_y(b) @ rot_x(a))
    np.testing.assert_allclose(euler_to_matrix([a, b, c], "XYZ"), ref, atol=1e-6)
    np.testing.assert_allclose(euler_to_matrix([c, a], "zx"), np.asarray(rot_x(a) @ rot_z(c)),
                               atol=1e-6)
    np.testing.assert_allclose(euler_to_matrix(np.zeros((4, 0)), ""), np.broadcast_to(np.eye(3),
                               (4, 3, 3)))


def test_tiny_skeleton_structure(tmp_path):
    asf, _ = _write_tiny(tmp_path)
    s = read_asf(asf)
    assert isinstance(s, AsfSkeleton) and s.name == "tiny"
    assert s.point_names == ("root", "a", "b", "c", "d")  # depth-first hierarchy order
    assert s.parents == (-1, 0, 1, 0, 3)
    assert s.bone("b").dof == ("rx",) and s.bone("c").dof == ("rz", "rx") and s.bone("d").dof == ()
    assert s.bone("a").limits == ((-180.0, 180.0),) * 3
    np.testing.assert_allclose(s.bone("b").axis, [0, 0, np.pi / 2])
    assert s.metres_per_unit == pytest.approx(0.0254)
    with pytest.raises(ValueError, match=r"tiny.asf: no bone named 'zz'; bones: a, b, c, d"):
        s.bone("zz")


def test_tiny_known_positions(tmp_path):
    asf, amc = _write_tiny(tmp_path)
    m = read_asf_amc(asf, amc, metres_per_unit=1.0, fps=30.0)
    assert m.name == "tiny" and m.fps == 30.0 and m.num_frames == 2
    p = m.positions.astype(np.float64)
    # Frame 1: root at (1, 2, 3); a: rz = 90 turns (1, 0, 0) into (0, 1, 0).
    np.testing.assert_allclose(p[0, m.index("root")], [1, 2, 3], atol=1e-6)
    np.testing.assert_allclose(p[0, m.index("a")], [1, 3, 3], atol=1e-6)
    # b: C = Rz(90), M = Rx(90) -> L = C M C^-1 = Ry(90); G = Rz(90) Ry(90):
    # (0, 0, 2) -Ry(90)-> (2, 0, 0) -Rz(90)-> (0, 2, 0); end = (1, 3, 3) + (0, 2, 0).
    np.testing.assert_allclose(p[0, m.index("b")], [1, 5, 3], atol=1e-6)
    # c: dof "rz rx" = rz first, then rx: (1, 0, 0) -> (0, 1, 0) -> (0, 0, 1).
    np.testing.assert_allclose(p[0, m.index("c")], [1, 2, 4], atol=1e-6)
    # d (no dofs) follows c: G_c (0, 0.5, 0) = Rx(90) Rz(90) (0, 0.5, 0) = (-0.5, 0, 0).
    np.testing.assert_allclose(p[0, m.index("d")], [0.5, 2, 4], atol=1e-6)
    # Frame 2: root RY = 90 turns a's (1, 0, 0) into (0, 0, -1).
    np.testing.assert_allclose(p[1, m.index("a")], [0, 0, -1], atol=1e-6)


def test_tiny_units_radians_and_root_orientation(tmp_path):
    # length 0.45 -> x (1 / 0.45) * 0.0254 m; angles in radians from the ASF and the AMC header.
    asf, amc = _write_tiny(tmp_path, length=0.45, angle="rad", orientation=f"0 {np.pi / 2} 0",
                           unit="RADIANS", q=str(np.pi / 2), b_axis=str(np.pi / 2))
    s = read_asf(asf)
    motion = read_amc(amc, s)
    assert isinstance(motion, AmcMotion) and motion.angle_unit == "rad"
    np.testing.assert_array_equal(motion.frame_numbers, [1, 2])
    np.testing.assert_allclose(motion.values["root"][0], [1, 2, 3, 0, 0, 0])
    m = asf_amc_positions(s, motion)
    unit = 0.0254 / 0.45
    assert m.fps == 120.0  # the CMU capture rate by default
    np.testing.assert_allclose(m.positions[0, m.index("b")], np.array([1, 5, 3]) * unit,
                               atol=1e-6)
    # Frame 2: orientation C = Ry(90), root M = Ry(90) -> L = Ry(90) (C commutes with it).
    np.testing.assert_allclose(m.positions[1, m.index("a")], np.array([0, 0, -1]) * unit,
                               atol=1e-6)


def test_root_orientation_conjugates_root_rotation(tmp_path):
    asf, amc = _write_tiny(tmp_path, orientation="0 90 0")
    text = amc.read_text().replace("root 0 0 0 0 90 0", "root 0 0 0 90 0 0")
    amc.write_text(text)
    m = read_asf_amc(asf, amc, metres_per_unit=1.0)
    # C = Ry(90), M = Rx(90): L = rotation by 90 about C x = (0, 0, -1), i.e. Rz(-90):
    # a's (1, 0, 0) -> (0, -1, 0).
    np.testing.assert_allclose(m.positions[1, m.index("a")], [0, -1, 0], atol=1e-6)


def test_length_and_translation_dofs(tmp_path):
    asf = tmp_path / "t.asf"
    asf.write_text(TINY_ASF.format(length=1.0, angle="deg", orientation="0 0 0", b_axis="0")
                   .replace("dof rz rx", "dof tx l"))
    amc = tmp_path / "t.amc"
    amc.write_text("1\nroot 0 0 0 0 0 0\na 0 0 0\nb 0\nc 0.5 2\n")
    m = read_asf_amc(asf, amc, metres_per_unit=1.0)
    # c starts 0.5 along x and is 1 + 2 long along x.
    np.testing.assert_allclose(m.positions[0, m.index("c")], [3.5, 0, 0], atol=1e-6)


# -------------------------------------------------------------------------- malformed files


def _expect(path, line, message):
    where = f"{path} line {line}: " if line else f"{path}: "
    return pytest.raises(ValueError, match=re.escape(where) + message)


@pytest.mark.parametrize("old, new, line, message", [
    ("b 90\n", "b 90 1\n", 6, r"expected 1 values for bone 'b', got 2"),
    ("c 90 90\n", "q 90 90\n", 7, r"unknown bone 'q' \(not in .*tiny.asf\)"),
    ("a 0 0 90\n", "a 0 zero 90\n", 5, r"non-numeric value 'zero' for bone 'a'"),
    ("c 90 90\n", "c 90 90\nc 1 1\n", 8, r"bone 'c' appears twice in frame 1"),
    ("2\n", "3\n", 8, r"frame number 3 does not follow frame 1"),
    ("1\nroot", "root", 3, r"expected a frame number before bone values"),
    ("c 0 0\n", "", 8, r"frame 2 lacks values for bones c \(truncated file\?\)"),
    ("root 0 0 0 0 90 0\n", "root 0 0 0 0 90\n", 9,
     r"expected 6 values for bone 'root', got 5"),
])
def test_malformed_amc(tmp_path, old, new, line, message):
    asf, amc = _write_tiny(tmp_path)
    text = amc.read_text()
    assert old in text
    amc.write_text(text.replace(old, new, 1))
    with _expect(amc, line, message):
        read_amc(amc, read_asf(asf))


def test_empty_or_truncated_amc(tmp_path):
    asf, amc = _write_tiny(tmp_path)
    amc.write_text(":FULLY-SPECIFIED\n:DEGREES\n")
    with _expect(amc, 2, r"no frames found"):
        read_amc(amc, read_asf(asf))
    _, amc = _write_tiny(tmp_path)
    amc.write_text(amc.read_text()[:-3])  # cut inside the last value line ("c 0 0" -> "c 0")
    with _expect(amc, 12, r"expected 2 values for bone 'c', got 1"):
        read_amc(amc, read_asf(asf))
    with pytest.raises(FileNotFoundError):
        read_amc(tmp_path / "missing.amc", read_asf(asf))


@pytest.mark.parametrize("old, new, line, message", [
    ("     direction 0 0 1\n", "     direction 0 0\n", 30,
     r"expected 3 values for 'direction' of bone 'b', got 2"),
    ("     direction 0 0 1\n", "     direction 0 0 0\n", 30,
     r"'direction' of bone 'b' must be a non-zero vector, got '0 0 0'"),
    ("     length 2\n", "     length two\n", 31,
     r"non-numeric value 'two' for 'length' of bone 'b'"),
    ("     axis 0 0 {b_axis} XYZ\n", "     axis 0 0 {b_axis}\n", 32,
     r"'axis' of bone 'b' must be 3 angles and an order such as 'axis 0 0 20 XYZ'"),
    ("     axis 0 0 {b_axis} XYZ\n", "     axis 0 0 {b_axis} XYW\n", 32,
     r"the order in 'axis' of bone 'b' must be distinct axis letters from X, Y, Z"),
    ("    dof rx\n", "    dof rx rw\n", 33,
     r"'dof' of bone 'b' must be distinct entries from rx ry rz tx ty tz l, got 'rx rw'"),
    ("    limits (-180 180)\n", "    limits (-180 180) (0 1)\n", 34,
     r"bone 'b' has 1 dofs but 2 'limits' pairs"),
    ("    a b\n", "    a b zz\n", 54, r"unknown bone 'zz' in ':hierarchy'"),
    ("    c d\n", "    c d\n    a d\n", 56, r"bone 'd' is given a second parent"),
    ("   order TX TY TZ RX RY RZ\n", "   order TX TY TZ RX RY RQ\n", 11,
     r"root 'order' must be distinct channels"),
    ("  angle {angle}\n", "  angle grad\n", 7, r"':units angle' must be 'deg' or 'rad'"),
    ("     name b\n", "     name a\n", 27, r"bone name 'a' is used twice"),
])
def test_malformed_asf(tmp_path, old, new, line, message):
    text = TINY_ASF
    assert old in text
    asf = tmp_path / "tiny.asf"
    asf.write_text(text.replace(old, new, 1).format(length=1.0, angle="deg",
                                                     orientation="0 0 0", b_axis="90"))
    with _expect(asf, line, message):
        read_asf(asf)


def test_truncated_asf(tmp_path):
    text = TINY_ASF.format(length=1.0, angle="deg", orientation="0 0 0", b_axis="90")
    lines = text.splitlines(keepends=True)
    asf = tmp_path / "cut.asf"
    asf.write_text("".join(lines[:50]))  # inside the bone data
    with _expect(asf, None, r"missing ':hierarchy' section \(not an ASF file, or truncated\)"):
        read_asf(asf)
    asf.write_text("".join(lines[:54]))  # inside the hierarchy
    with _expect(asf, 54, r"':hierarchy' has no closing 'end' \(truncated\?\)"):
        read_asf(asf)
    body = "".join(lines[:46]) + ":hierarchy\n  begin\n  end\n"  # a bone block without 'end'
    asf.write_text(body)
    with _expect(asf, 46, r"bone block opened at line 44 has no 'end' \(truncated\?\)"):
        read_asf(asf)
    asf.write_text(text.replace("    c d\n", ""))
    with _expect(asf, 51, r"bones not connected to the root in ':hierarchy': d"):
        read_asf(asf)
