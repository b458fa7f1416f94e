"""Tests for calibration readers/writers (Qualisys QCA, Pose2Sim TOML, JSON)."""

import os

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posejax.geometry import PerspectiveCamera, project
from posejax.io.calibration import (Camera, read_calibration, read_calibration_json,
                                    read_calibration_toml, read_qca, to_perspective_camera,
                                    write_calibration, write_calibration_json,
                                    write_calibration_toml)
from tests.conftest import shared_data_dir

QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration source="test">
  <cameras>
    <camera active="1" serial="camA">
      <fov_video bottom="1919" left="8" right="1087" top="0"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="1" r23="0" r31="0" r32="0" r33="1" x="100" y="-200" z="3000"/>
      <intrinsic centerPointU="34560" centerPointV="61440" focalLengthU="102400" focalLengthV="102464" radialDistortion1="-0.05" radialDistortion2="0.1" radialDistortion3="0.01" tangentalDistortion1="0.001" tangentalDistortion2="0.002"/>
    </camera>
  </cameras>
</calibration>
"""


def _cameras(seed=0, n=3):
    rng = np.random.default_rng(seed)
    cams = []
    for i in range(n):
        R = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()
        K = np.array([[rng.uniform(800, 2000), 0, rng.uniform(400, 600)],
                      [0, rng.uniform(800, 2000), rng.uniform(800, 1000)], [0, 0, 1]])
        cams.append(Camera(f"cam{i + 1:02d}", K, R, rng.normal(size=3),
                           rng.normal(scale=0.05, size=4), (1088, 1920)))
    return cams


def _assert_same(a, b, atol=1e-12):
    assert [c.name for c in a] == [c.name for c in b]
    for x, y in zip(a, b):
        for f in ("K", "R", "t", "distortion"):
            np.testing.assert_allclose(getattr(y, f), getattr(x, f), atol=atol, rtol=0)
        assert x.image_size == y.image_size


def test_qca_conversion(tmp_path):
    path = tmp_path / "c.qca.txt"
    path.write_text(QCA)
    (cam,) = read_qca(str(path))
    assert cam.name == "camA" and cam.image_size == (1080, 1920)
    np.testing.assert_allclose(cam.K, [[1600, 0, 540 - 8], [0, 1601, 960], [0, 0, 1]])
    np.testing.assert_allclose(cam.R, np.diag([1, -1, -1]))
    np.testing.assert_allclose(cam.t, -np.diag([1, -1, -1]) @ [0.1, -0.2, 3.0])
    np.testing.assert_allclose(cam.center, [0.1, -0.2, 3.0])
    np.testing.assert_allclose(cam.distortion, [-0.05, 0.1, 0.001, 0.002, 0.01])
    assert read_calibration(str(path))[0].name == "camA"


def test_qca_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.qca.txt"
    path.write_text(QCA.replace("</camera>", "</camra>"))
    with pytest.raises(ValueError, match=r"bad\.qca\.txt, line 8, column \d+: invalid XML: "
                                         r"mismatched tag"):
        read_qca(str(path))
    path.write_text(QCA[:300])  # truncated
    with pytest.raises(ValueError, match=r"bad\.qca\.txt, line \d+, column \d+: invalid XML"):
        read_qca(str(path))
    path.write_text(QCA.replace('focalLengthV="102464" ', ""))
    with pytest.raises(ValueError, match=r"bad\.qca\.txt, line 7: <intrinsic> of camera 'camA' "
                                         r"lacks attribute 'focalLengthV'"):
        read_qca(str(path))
    path.write_text(QCA.replace('x="100"', 'x="abc"'))
    with pytest.raises(ValueError, match=r"line 6: <transform> of camera 'camA': attribute 'x' "
                                         r"must be a number, got 'abc'"):
        read_qca(str(path))
    path.write_text(QCA.replace('<fov_video bottom="1919" left="8" right="1087" top="0"/>', ""))
    with pytest.raises(ValueError, match=r"line 4: camera 'camA' has no <fov_video> element"):
        read_qca(str(path))
    with pytest.raises(FileNotFoundError, match=r"missing\.qca"):
        read_qca(str(tmp_path / "missing.qca"))


@pytest.mark.parametrize("suffix", ["toml", "json"])
def test_round_trip(tmp_path, suffix):
    cams = _cameras()
    path = str(tmp_path / f"calib.{suffix}")
    write_calibration(path, cams)
    back = read_calibration(path)
    # TOML stores a Rodrigues vector: R comes back through exp(log(R)), exact to ~1e-15.
    _assert_same(cams, back, atol=1e-12)


def test_toml_is_pose2sim_layout(tmp_path):
    import tomllib
    cams = _cameras(1, 2)
    path = tmp_path / "calib.toml"
    write_calibration_toml(str(path), cams)
    data = tomllib.loads(path.read_text())
    assert set(data) == {"cam_01", "cam_02", "metadata"}
    entry = data["cam_01"]
    assert entry["name"] == "cam01" and entry["size"] == [1088.0, 1920.0]
    assert entry["fisheye"] is False and len(entry["distortions"]) == 4
    np.testing.assert_allclose(Rotation.from_rotvec(entry["rotation"]).as_matrix(), cams[0].R,
                               atol=1e-12)
    np.testing.assert_allclose(entry["translation"], cams[0].t)


def test_toml_and_json_errors(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[cam_01]\nname = "a"\nmatrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n'
                    'rotation = [0, 0, 0]\ntranslation = [0, 0,\n')
    with pytest.raises(ValueError, match=r"c\.toml, line 5 \(end of file\): invalid "
                                         r"TOML: Invalid value$"):
        read_calibration_toml(str(path))
    path.write_text('[cam_01]\nname = "a"\nmatrix = [[1, 0, 0], [0, 1, 0]]]\n')
    with pytest.raises(ValueError, match=r"c\.toml, line 3, column \d+: invalid TOML"):
        read_calibration_toml(str(path))
    path.write_text('[metadata]\nx = 1\n\n[cam_01]\nname = "a"\n'
                    'matrix = [[1, 0, 0], [0, 1, 0]]\nrotation = [0, 0, 0]\ntranslation = [0, 0, 1]\n')
    with pytest.raises(ValueError, match=r"c\.toml, \[cam_01\] \(line 4\): `matrix` must have "
                                         r"shape \(3, 3\), got \(2, 3\)"):
        read_calibration_toml(str(path))
    path.write_text('[cam_01]\nmatrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\nrotation = [0, 0, 0]\n')
    with pytest.raises(ValueError, match=r"\[cam_01\] \(line 1\): missing key `translation`"):
        read_calibration_toml(str(path))
    jpath = tmp_path / "c.json"
    jpath.write_text('{"cameras": [\n{"K": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],\n "R": 3}')
    with pytest.raises(ValueError, match=r"c\.json, line 3, column \d+: invalid JSON"):
        read_calibration_json(str(jpath))
    jpath.write_text('{"cameras": [{"K": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "R": 3, "t": [0, 0, 0]}]}')
    with pytest.raises(ValueError, match=r"c\.json, cameras\[0\]: `R` must have shape \(3, 3\)"):
        read_calibration_json(str(jpath))
    with pytest.raises(ValueError, match="unknown calibration format"):
        read_calibration(str(tmp_path / "c.yaml"))


def test_to_perspective_camera_projects_like_opencv():
    cams = _cameras(2, 3)
    pc = to_perspective_camera(cams)
    assert isinstance(pc, PerspectiveCamera) and pc.batch_shape == (3,)
    X = np.random.default_rng(0).normal(size=(5, 3)) + cams[0].center * 0
    for i, c in enumerate(cams):
        cam_pts = X @ c.R.T + c.t
        front = cam_pts[:, 2] > 0.1
        expected = (cam_pts @ c.K.T)[:, :2] / cam_pts[:, 2:]
        got = np.asarray(project(X, PerspectiveCamera(pc.K[i], pc.R[i], pc.t[i])))
        np.testing.assert_allclose(got[front], expected[front], rtol=1e-4, atol=1e-2)


def test_real_qca_loads_four_portrait_cameras():
    cams = read_qca(shared_data_dir("pose2sim_demo", "Calib.qca.txt"))
    assert [c.name for c in cams] == ["cam01", "cam02", "cam03", "cam04"]
    for c in cams:
        assert c.image_size[0] in (1080, 1088) and c.image_size[1] == 1920
        np.testing.assert_allclose(c.R @ c.R.T, np.eye(3), atol=1e-6)
        assert abs(np.linalg.det(c.R) - 1) < 1e-6
        assert 1600 < c.K[0, 0] < 1750 and 400 < c.K[0, 2] < 700 and 850 < c.K[1, 2] < 1050
        assert 2.0 < np.linalg.norm(c.center[:2]) < 5.0 and 1.5 < c.center[2] < 2.2  # Z up, mm->m
