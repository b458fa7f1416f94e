"""Real 4-camera clip: OpenPose keypoints + Qualisys calibration -> weighted triangulation.

Uses the largest person per view. On this clip it is the subject in every frame of every view (the
bystander is much smaller in cams 1-2 and unseen in cams 3-4); the per-frame check below would
catch a view switching to the bystander (its reprojection error would be hundreds of pixels), in
which case the person whose keypoints agree best across views should be picked instead.
"""

import numpy as np
import pytest

from posejax.geometry import PerspectiveCamera, project, triangulate
from posejax.io.calibration import read_qca, to_perspective_camera
from posejax.io.openpose import read_openpose_folder
from tests.conftest import shared_data_dir

MIN_CONFIDENCE = 0.3


@pytest.fixture(scope="module")
def clip():
    root = shared_data_dir("pose2sim_demo")
    cams = read_qca(f"{root}/Calib.qca.txt")
    kp = np.stack([read_openpose_folder(f"{root}/openpose_json/cam0{i}_json").largest_person()
                   for i in range(1, 5)])  # (V, T, 25, 3)
    pc = to_perspective_camera(cams)
    w = np.where(kp[..., 2] >= MIN_CONFIDENCE, kp[..., 2], 0.0)
    X, valid = triangulate(kp[..., :2], pc, weights=w)
    X, valid = np.asarray(X), np.asarray(valid)
    per_view = PerspectiveCamera(pc.K[:, None], pc.R[:, None], pc.t[:, None])
    err = np.linalg.norm(np.asarray(project(X[None], per_view)) - kp[..., :2], axis=-1)
    used = (w > 0) & valid[None]
    return X, valid, err, used


def test_median_reprojection_error(clip):
    X, valid, err, used = clip
    assert X.shape == (100, 25, 3) and valid.mean() > 0.9
    median = float(np.median(err[used]))
    print(f"median reprojection error {median:.2f} px over {used.sum()} observations")
    assert median <= 20.0  # the data README reports ~13 px
    # Same person in every view and frame: no frame's median error is far off.
    per_frame = [np.median(err[:, t][used[:, t]]) for t in range(X.shape[0])]
    assert max(per_frame) < 30.0


def test_bone_lengths(clip):
    X, valid, _, _ = clip

    def length(a, b):
        ok = valid[:, a] & valid[:, b]
        return float(np.median(np.linalg.norm(X[ok, a] - X[ok, b], axis=-1)))

    # BODY_25B: 11/12 hips, 13/14 knees, 15/16 ankles, 5/6 shoulders, 7/8 elbows, 9/10 wrists.
    for side in (0, 1):
        assert length(11 + side, 13 + side) == pytest.approx(0.42, rel=0.2)  # thigh
        assert length(13 + side, 15 + side) == pytest.approx(0.39, rel=0.2)  # shank
        assert length(5 + side, 7 + side) == pytest.approx(0.27, rel=0.2)  # upper arm
        assert length(7 + side, 9 + side) == pytest.approx(0.26, rel=0.2)  # forearm
    # World is Z up in millimetres -> metres: the subject stands, head above ankles by ~1.5 m.
    assert 1.3 < np.median(X[:, 18, 2] - X[:, 15, 2]) < 2.0
