"""Tests for AMASS npz reading/writing."""

import numpy as np
import pytest

from posejax.geometry import axis_angle_to_matrix
from posejax.io.amass import amass_to_y_up, read_amass, write_amass_npz


def _motion(seed=0, t=5):
    rng = np.random.default_rng(seed)
    return (rng.normal(scale=0.3, size=(t, 24, 3)).astype(np.float32),
            rng.normal(size=(t, 3)).astype(np.float32), rng.normal(size=10).astype(np.float32))


def test_write_read_round_trip(tmp_path):
    pose, transl, betas = _motion()
    path = str(tmp_path / "m.npz")
    write_amass_npz(path, pose, transl, betas, fps=120.0, gender="female")
    with np.load(path) as raw:
        assert set(raw.files) == {"poses", "trans", "betas", "mocap_framerate", "gender"}
        assert raw["poses"].shape == (5, 72)
    m = read_amass(path)
    np.testing.assert_array_equal(m["pose"], pose)
    np.testing.assert_array_equal(m["transl"], transl)
    np.testing.assert_array_equal(m["betas"], betas)
    assert m["fps"] == 120.0 and m["gender"] == "female" and m["source_model"] == "smpl"
    assert m["up_axis"] == "z"


@pytest.mark.parametrize("dims,fps_key", [(156, "mocap_framerate"), (165, "mocap_frame_rate")])
def test_smplh_and_smplx_files(tmp_path, dims, fps_key):
    rng = np.random.default_rng(1)
    poses = rng.normal(size=(6, dims)).astype(np.float32)
    path = tmp_path / "amass.npz"
    np.savez(path, poses=poses, trans=np.zeros((6, 3)), betas=np.arange(16.0),
             gender=np.array(b"male"), **{fps_key: np.array(59.94)})
    m = read_amass(str(path))
    assert m["pose"].shape == (6, 24, 3)
    np.testing.assert_array_equal(m["pose"].reshape(6, 72)[:, :66], poses[:, :66])
    assert not m["pose"][:, 22:].any()  # SMPL hand joints: no counterpart, flat
    np.testing.assert_array_equal(m["betas"], np.arange(10.0))
    assert m["fps"] == pytest.approx(59.94) and m["gender"] == "male"
    assert m["source_model"] == ("smplh" if dims == 156 else "smplx")


def test_split_smplx_keys(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, root_orient=np.ones((3, 3)), pose_body=np.full((3, 63), 2.0),
             trans=np.zeros((3, 3)), mocap_frame_rate=30, gender="neutral")
    m = read_amass(str(path))
    assert (m["pose"][:, 0] == 1).all() and (m["pose"][:, 1:22] == 2).all()
    assert m["gender"] == "neutral" and m["betas"].shape == (10,)


def test_errors(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, poses=np.zeros((3, 70)), trans=np.zeros((3, 3)), mocap_framerate=30)
    with pytest.raises(ValueError, match=r"bad\.npz: key 'poses' must have shape \(T, 72\), "
                                         r"\(T, 156\) or \(T, 165\).*got \(3, 70\)"):
        read_amass(str(path))
    np.savez(path, poses=np.zeros((3, 72)), trans=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"missing frame rate key 'mocap_framerate' or "
                                         r"'mocap_frame_rate'"):
        read_amass(str(path))
    np.savez(path, poses=np.zeros((3, 72)), trans=np.zeros((2, 3)), mocap_framerate=30)
    with pytest.raises(ValueError, match=r"key 'trans' must have shape \(3, 3\), got \(2, 3\)"):
        read_amass(str(path))
    np.savez(path, betas=np.zeros(10))
    with pytest.raises(ValueError, match=r"no key 'poses'"):
        read_amass(str(path))
    data = open(path, "rb").read()
    path.write_bytes(data[:len(data) // 2])  # truncated
    with pytest.raises(ValueError, match=r"bad\.npz"):
        read_amass(str(path))
    with pytest.raises(FileNotFoundError, match=r"gone\.npz"):
        read_amass(str(tmp_path / "gone.npz"))
    with pytest.raises(ValueError, match=r"`pose` must have shape \(T, 24, 3\) or \(T, 72\)"):
        write_amass_npz(str(tmp_path / "o.npz"), np.zeros((3, 23, 3)), np.zeros((3, 3)),
                        np.zeros(10), 30.0)


def test_z_up_to_y_up():
    pose, transl, _ = _motion(2)
    j0 = np.array([0.01, -0.2, 0.03])
    new_pose, new_t = amass_to_y_up(pose, transl, pelvis_rest=j0)
    C = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], np.float64)
    np.testing.assert_allclose(np.asarray(axis_angle_to_matrix(new_pose[:, 0])),
                               C @ np.asarray(axis_angle_to_matrix(pose[:, 0])), atol=1e-5)
    np.testing.assert_array_equal(new_pose[:, 1:], pose[:, 1:])
    # The pelvis (rest pelvis + transl) moves exactly by C.
    np.testing.assert_allclose(j0 + new_t, (j0 + transl) @ C.T, atol=1e-6)
    # Z up becomes Y up.
    _, t2 = amass_to_y_up(pose[:1], np.array([[0.0, 0.0, 1.0]]))
    np.testing.assert_allclose(t2, [[0, 1, 0]], atol=1e-7)
