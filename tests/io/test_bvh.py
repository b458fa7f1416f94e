"""BVH reader: real CMU 131 files, a hand-made file with known answers, malformed files."""

import os
import re

import numpy as np
import pytest

from posejax.io.bvh import CMU_UNIT, guess_bvh_scale, read_bvh
from tests.conftest import shared_data_dir

CMU_BVH = {"131_01": 994, "131_02": 1247}  # frame counts from the shared data README

# ------------------------------------------------------------------------------- real CMU data


@pytest.fixture(scope="module")
def bvh_motions():
    d = shared_data_dir("cmu_mocap")
    return {s: read_bvh(os.path.join(d, f"{s}.bvh")) for s in CMU_BVH}


@pytest.mark.parametrize("clip", sorted(CMU_BVH))
def test_cmu_bvh_parse(bvh_motions, clip):
    m = bvh_motions[clip]
    assert m.num_frames == CMU_BVH[clip] and m.fps == 120.0 and m.name == clip
    assert m.positions.shape == (CMU_BVH[clip], 38, 3) and m.positions.dtype == np.float32
    assert m.point_names[:3] == ("Hips", "LHipJoint", "LeftHip")
    assert m.point_names[m.parents[m.index("LeftToe_end")]] == "LeftToe"
    assert m.point_names[m.parents[m.index("Head")]] == "Neck"


def test_cmu_bvh_scale_guess_is_cmu_units(bvh_motions):
    path = shared_data_dir("cmu_mocap", "131_01.bvh")
    explicit = read_bvh(path, scale=0.0254 / 0.45)
    np.testing.assert_array_equal(explicit.positions, bvh_motions["131_01"].positions)
    raw = read_bvh(path, scale=1.0)
    np.testing.assert_allclose(raw.positions * CMU_UNIT, explicit.positions, rtol=1e-5, atol=1e-6)
    # The root channels are the root position (first frame line: 5.2300 16.9002 -33.8986).
    np.testing.assert_allclose(raw.positions[0, 0], [5.23, 16.9002, -33.8986], atol=1e-4)


@pytest.mark.parametrize("clip", sorted(CMU_BVH))
def test_cmu_bvh_bone_lengths_plausible_and_rigid(bvh_motions, clip):
    m = bvh_motions[clip]
    # The conversion puts the wrist joint at the end of CMU's radius bone, ~0.185 m below the
    # elbow for subject 131, hence the forearm's 0.17 m lower bound.
    ranges = {("Hip", "Knee"): (0.35, 0.55), ("Knee", "Ankle"): (0.35, 0.5),
              ("Shoulder", "Elbow"): (0.2, 0.35), ("Elbow", "Wrist"): (0.17, 0.32)}
    for side in ("Left", "Right"):
        for (a, b), (lo, hi) in ranges.items():
            p = m.positions
            d = np.linalg.norm(p[:, m.index(side + a)] - p[:, m.index(side + b)], axis=-1)
            assert lo < d[0] < hi, (side + b, d[0])
            assert np.ptp(d) < 1e-5, (side + b, np.ptp(d))


@pytest.mark.parametrize("clip", sorted(CMU_BVH))
def test_cmu_bvh_upright(bvh_motions, clip):
    m = bvh_motions[clip]
    y = m.positions[0, :, 1]
    pelvis = y[m.index("Hips")]
    assert y[m.index("Head")] > pelvis + 0.3
    assert np.all(y[[m.index(n) for n in ("LeftAnkle", "RightAnkle", "LeftToe_end",
                                           "RightToe_end")]] < pelvis - 0.6)
    # Subject 131 is small: head end to lowest point is 1.39-1.43 m in the first frames.
    assert 1.3 < y.max() - y.min() < 2.0
    assert -0.05 < y.min() < 0.15
    # "start, walk, stop": the root moves over a metre on the ground plane.
    root = m.positions[:, 0]
    assert np.linalg.norm(root[-1, [0, 2]] - root[0, [0, 2]]) > 1.0


# ------------------------------------------------------------------------------ tiny file

TINY_BVH = """\
HIERARCHY
ROOT hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT a
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
  JOINT b
  {
    OFFSET 0 -1 0
    CHANNELS 4 Yposition Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 0 1
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
1 2 3 90 0 0   0 90 0   -1 0 0 0
0 0 0 0 0 0   90 90 0   -1 0 0 0
"""


def _write(tmp_path, text, name="tiny.bvh"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_tiny_bvh_known_positions(tmp_path):
    m = read_bvh(_write(tmp_path, TINY_BVH), scale=1.0)
    assert m.point_names == ("hips", "a", "a_end", "b", "b_end")
    assert m.parents == (-1, 0, 1, 0, 3)
    assert m.fps == 30.0 and m.num_frames == 2  # 1 / 0.0333333 snapped to 30
    p = m.positions.astype(np.float64)
    # Frame 1: root at (1, 2, 3) turned by Rz(90): a's offset (1, 0, 0) -> (0, 1, 0).
    np.testing.assert_allclose(p[0, m.index("hips")], [1, 2, 3], atol=1e-6)
    np.testing.assert_allclose(p[0, m.index("a")], [1, 3, 3], atol=1e-6)
    # a: R_a = Rz(0) Rx(90) Ry(0): (0, 1, 0) -> (0, 0, 1); Rz(90) keeps it: end (1, 3, 4).
    np.testing.assert_allclose(p[0, m.index("a_end")], [1, 3, 4], atol=1e-6)
    # b: the Yposition channel (-1) replaces the offset's y; Rz(90) (0, -1, 0) = (1, 0, 0).
    np.testing.assert_allclose(p[0, m.index("b")], [2, 2, 3], atol=1e-6)
    np.testing.assert_allclose(p[0, m.index("b_end")], [2, 2, 4], atol=1e-6)
    # Frame 2: intrinsic order Z then X: Rz(90) Rx(90) (0, 1, 0) = (0, 0, 1) -> end (1, 0, 1).
    # (The other order, Rx(90) Rz(90), would give (-1, 0, 0) -> end (0, 0, 0).)
    np.testing.assert_allclose(p[1, m.index("a_end")], [1, 0, 1], atol=1e-6)


def test_tiny_bvh_scale_and_fps(tmp_path):
    path = _write(tmp_path, TINY_BVH)
    m = read_bvh(path, scale=0.5, fps=25.0, name="x")
    assert m.fps == 25.0 and m.name == "x"
    np.testing.assert_allclose(m.positions[0, m.index("a_end")], [0.5, 1.5, 2.0], atol=1e-6)
    # Rest size 2 file units -> metres.
    np.testing.assert_allclose(read_bvh(path).positions, read_bvh(path, scale=1.0).positions)
    big = _write(tmp_path, TINY_BVH.replace("OFFSET 1 0 0", "OFFSET 7 0 0"), "big.bvh")
    with pytest.raises(ValueError, match=re.escape(f"{big}: cannot tell the length unit of a "
                                                   "skeleton whose rest pose spans 7 file units; "
                                                   "pass `scale`")):
        read_bvh(big)
    with pytest.raises(ValueError, match=r"`scale` must be a positive number"):
        read_bvh(path, scale=-1.0)


@pytest.mark.parametrize("size, scale", [(1.7, 1.0), (30.0, CMU_UNIT), (67.0, 0.0254),
                                         (170.0, 0.01), (1700.0, 0.001)])
def test_guess_bvh_scale(size, scale):
    assert guess_bvh_scale(size)[0] == pytest.approx(scale)


# -------------------------------------------------------------------------- malformed files


@pytest.mark.parametrize("old, new, line, message", [
    ("1 2 3 90 0 0   0 90 0   -1 0 0 0\n", "1 2 3 90 0 0   0 90 0   -1 0 0\n", 28,
     r"expected 13 channel values in frame 1, got 12"),
    ("0 0 0 0 0 0   90", "0 0 0 0 0 x   90", 29, r"non-numeric value 'x' in frame 2"),
    ("Frames: 2", "Frames: 3", 29,
     r"'Frames: 3' \(line 26\) but the data ends after 2 frames \(truncated file\?\)"),
    ("Frames: 2", "Frames: 1", 29, r"more frame lines than 'Frames: 1' \(line 26\) declares"),
    ("Frames: 2", "Frames: two", 26, r"'Frames:' must be a non-negative integer, got 'two'"),
    ("Frame Time: 0.0333333", "Frame Time: -1", 27, r"'Frame Time:' must be positive"),
    ("Frame Time: 0.0333333", "FrameTime 0.03", 27, r"expected 'Frame Time: <value>'"),
    ("Zrotation Xrotation Yrotation", "Zrotation Xrotation Wrotation", 9,
     r"unknown channel 'Wrotation' of 'a'"),
    ("CHANNELS 3 Zrotation", "CHANNELS x Zrotation", 9, r"CHANNELS of 'a' must start with a count"),
    ("OFFSET 1 0 0", "OFFSET 1 zero 0", 8, r"non-numeric value 'zero' for OFFSET of 'a'"),
    ("  JOINT b", "  JOINT a", 15, r"joint name 'a' is used twice"),
    ("    End Site\n", "    End Sight\n", 10, r"expected 'Site', got 'Sight'"),
    ("  JOINT b", "  BONE b", 15, r"expected JOINT, End Site or '}' in 'hips', got 'BONE'"),
    ("HIERARCHY\n", "HIERARCH\n", 1, r"expected 'HIERARCHY' at the start of a BVH file"),
])
def test_malformed_bvh(tmp_path, old, new, line, message):
    assert old in TINY_BVH
    path = _write(tmp_path, TINY_BVH.replace(old, new, 1))
    with pytest.raises(ValueError, match=re.escape(f"{path} line {line}: ") + message):
        read_bvh(path, scale=1.0)


def test_truncated_bvh(tmp_path):
    lines = TINY_BVH.splitlines(keepends=True)
    path = _write(tmp_path, "".join(lines[:18]))  # cut inside joint b
    with pytest.raises(ValueError, match=re.escape(f"{path} line 18: unexpected end of the "
                                                   "hierarchy, expected") + r".*truncated file\?"):
        read_bvh(path, scale=1.0)
    path = _write(tmp_path, "".join(lines[:24]))  # the whole hierarchy, no MOTION
    with pytest.raises(ValueError, match=re.escape(f"{path} line 24: missing 'MOTION' section")):
        read_bvh(path, scale=1.0)
    path = _write(tmp_path, "".join(lines[:26]))  # MOTION and Frames, no Frame Time
    with pytest.raises(ValueError, match=re.escape(f"{path} line 26: missing 'Frame Time:'")):
        read_bvh(path, scale=1.0)
    path = _write(tmp_path, TINY_BVH[:-5])  # cut inside the last frame line
    with pytest.raises(ValueError, match=re.escape(f"{path} line 29: expected 13 channel values "
                                                   "in frame 2, got 11")):
        read_bvh(path, scale=1.0)
    with pytest.raises(FileNotFoundError):
        read_bvh(tmp_path / "missing.bvh")


def test_cmu_bvh_truncated_copy(tmp_path):
    src = shared_data_dir("cmu_mocap", "131_02.bvh")
    with open(src) as f:
        lines = f.readlines()
    path = _write(tmp_path, "".join(lines[:1000]), "131_02.bvh")
    with pytest.raises(ValueError, match=re.escape(
            f"{path} line 1000: 'Frames: 1247' (line 186) but the data ends after ")):
        read_bvh(path)
