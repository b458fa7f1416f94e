"""Tests for the OpenPose JSON reader/writer and the BODY_25 / COCO-18 layouts."""

import json
import os

import numpy as np
import pytest

from posejax.body.layouts import convert_keypoints, get_layout
from posejax.io.openpose import (OpenPoseSequence, bbox_areas, read_openpose_folder,
                                 read_openpose_json, sequence_from_array, write_openpose_folder)
from tests.conftest import shared_data_dir


def _person(rng, k=25, center=(500, 500), size=100.0):
    kp = np.zeros((k, 3), np.float32)
    kp[:, :2] = np.asarray(center) + rng.uniform(-size, size, (k, 2))
    kp[:, 2] = rng.uniform(0.2, 1.0, k)
    return kp


def _write(folder, name, people, key="pose_keypoints_2d"):
    doc = {"version": 1.3, "people": [{"person_id": [-1], key: p.reshape(-1).tolist()}
                                      for p in people]}
    with open(os.path.join(folder, name), "w") as f:
        json.dump(doc, f)


def test_reads_frames_sorted_numerically_with_empty_frames(tmp_path):
    rng = np.random.default_rng(0)
    big, small = _person(rng, size=200), _person(rng, center=(100, 100), size=20)
    _write(tmp_path, "vid_10_keypoints.json", [small, big])
    _write(tmp_path, "vid_9_keypoints.json", [])
    _write(tmp_path, "vid_2_keypoints.json", [big])
    seq = read_openpose_folder(str(tmp_path))
    assert seq.layout == "body25b" and seq.num_frames == 3 and seq.num_keypoints == 25
    np.testing.assert_array_equal(seq.frame_indices, [2, 9, 10])  # 10 after 9, not after 2
    assert [f.shape for f in seq.frames] == [(1, 25, 3), (0, 25, 3), (2, 25, 3)]
    assert seq.file_names[1] == "vid_9_keypoints.json"
    np.testing.assert_allclose(seq.frames[2][0], small, rtol=1e-6)

    arr = seq.to_array()
    assert arr.shape == (3, 2, 25, 3) and arr.dtype == np.float32
    assert np.isnan(arr[0, 1, :, :2]).all() and (arr[0, 1, :, 2] == 0).all()
    assert np.isnan(arr[1, :, :, :2]).all()
    one = seq.to_array(max_people=1)  # keeps the larger person of frame 10
    np.testing.assert_allclose(one[2, 0], big, rtol=1e-6)

    largest = seq.largest_person()
    assert largest.shape == (3, 25, 3)
    np.testing.assert_allclose(largest[2], big, rtol=1e-6)
    assert np.isnan(largest[1, :, :2]).all() and (largest[1, :, 2] == 0).all()


def test_bbox_areas_ignore_unconfident_keypoints():
    people = np.zeros((2, 4, 3), np.float32)
    people[0] = [[0, 0, 1], [10, 20, 1], [1000, 1000, 0.05], [5, 5, 0]]
    people[1, 0] = [3, 3, 1]  # one keypoint: no box
    np.testing.assert_allclose(bbox_areas(people), [200.0, 0.0])


def test_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    frames = (np.stack([_person(rng), _person(rng)]), np.zeros((0, 25, 3), np.float32),
              _person(rng)[None])
    seq = OpenPoseSequence(frames, np.array([0, 5, 7]), "body25b")
    paths = write_openpose_folder(str(tmp_path), seq)
    assert os.path.basename(paths[1]) == "000000000005_keypoints.json"
    back = read_openpose_folder(str(tmp_path))
    np.testing.assert_array_equal(back.frame_indices, [0, 5, 7])
    for a, b in zip(frames, back.frames):
        np.testing.assert_allclose(b, a, rtol=1e-6)
    # A padded array survives array -> sequence -> files -> array.
    arr = seq.to_array()
    write_openpose_folder(str(tmp_path / "b"), sequence_from_array(arr, frame_indices=[0, 5, 7]))
    again = read_openpose_folder(str(tmp_path / "b"))
    np.testing.assert_allclose(again.to_array(), arr, rtol=1e-6)


def test_layout_auto_detection_and_checks(tmp_path):
    rng = np.random.default_rng(2)
    coco = tmp_path / "coco"
    coco.mkdir()
    _write(coco, "a_0.json", [_person(rng, 18)])
    assert read_openpose_folder(str(coco), layout=None).layout == "coco18"
    with pytest.raises(ValueError, match=r"a_0\.json: layout 'body25b' has 25 keypoints, but "
                                         r"the file holds 18 per person"):
        read_openpose_folder(str(coco))
    body = tmp_path / "body"
    body.mkdir()
    _write(body, "a_0.json", [_person(rng)])
    with pytest.raises(ValueError, match=r"25 keypoints per person fit both BODY_25 and "
                                         r"BODY_25B; pass layout='body25b' or layout='body25'"):
        read_openpose_folder(str(body), layout=None)
    assert read_openpose_folder(str(body), layout="body25").layout == "body25"
    with pytest.raises(ValueError, match=r"`layout` must be one of"):
        read_openpose_folder(str(body), layout="coco17")


def test_malformed_files_name_file_and_line(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x_0.json").write_text('{"version": 1.3,\n "people": [\n {"pose_keypoints_2d": [1, 2,]}]}')
    with pytest.raises(ValueError, match=r"x_0\.json, line 3, column \d+: invalid JSON"):
        read_openpose_folder(str(bad))
    (bad / "x_0.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2, 3, 4]}]}')
    with pytest.raises(ValueError, match=r"x_0\.json: people\[0\]\.pose_keypoints_2d must hold "
                                         r"3 numbers .* got 4 values"):
        read_openpose_folder(str(bad))
    (bad / "x_0.json").write_text('{"people": [{"face_keypoints_2d": []}]}')
    with pytest.raises(ValueError, match=r"people\[0\]\.pose_keypoints_2d is missing"):
        read_openpose_json(str(bad / "x_0.json"))
    (bad / "x_0.json").write_text('{"people": [], "version": 1.3')  # truncated
    with pytest.raises(ValueError, match=r"x_0\.json, line 1, column \d+: invalid JSON"):
        read_openpose_folder(str(bad))
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        read_openpose_folder(str(tmp_path / "no_such_folder"))
    with pytest.raises(FileNotFoundError, match="none.json"):
        read_openpose_json(str(tmp_path / "none.json"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no OpenPose .json files"):
        read_openpose_folder(str(tmp_path / "empty"))


def test_body25_and_coco18_layouts():
    b25, c18 = get_layout("body25"), get_layout("coco18")
    assert b25.names[:9] == ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
                             "left_shoulder", "left_elbow", "left_wrist", "mid_hip")
    assert b25.names[15:19] == ("right_eye", "left_eye", "right_ear", "left_ear")
    assert b25.names[19:] == get_layout("body25b").names[19:]
    assert c18.names[8:14] == ("right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
                               "left_ankle")
    rng = np.random.default_rng(3)
    kp = rng.uniform(0, 500, (4, 25, 3)).astype(np.float32)
    out, valid = convert_keypoints(kp, "body25b", "body25")
    out = np.asarray(out)
    assert valid.all()
    b = get_layout("body25b")
    np.testing.assert_allclose(out[:, 8, :2], (kp[:, 11, :2] + kp[:, 12, :2]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(out[:, 3], kp[:, b.index("right_elbow")])
    # BODY_25's neck is the shoulder midpoint, BODY_25B's keeps its own name.
    np.testing.assert_array_equal(out[:, 1], kp[:, 17])
    back, valid = convert_keypoints(out, "body25", "coco17")
    assert valid.all()
    np.testing.assert_array_equal(np.asarray(back), kp[:, :17])
    c, valid = convert_keypoints(kp[:, :17], "coco17", "coco18")
    assert valid.all()
    np.testing.assert_allclose(np.asarray(c)[:, 1, :2], (kp[:, 5, :2] + kp[:, 6, :2]) / 2,
                               rtol=1e-6)


@pytest.mark.parametrize("cam", [1, 2, 3, 4])
def test_real_openpose_folders(cam):
    folder = shared_data_dir("pose2sim_demo", "openpose_json", f"cam0{cam}_json")
    seq = read_openpose_folder(folder)
    assert seq.layout == "body25b" and seq.num_frames == 100
    np.testing.assert_array_equal(seq.frame_indices, np.arange(100))
    counts = [f.shape[0] for f in seq.frames]
    assert min(counts) >= 1
    if cam in (1, 2):  # the bystander is seen by cams 1 and 2
        assert counts.count(2) >= 90
    largest = seq.largest_person()
    assert largest.shape == (100, 25, 3) and np.all(largest[..., 2] >= 0)
    # The subject fills a large part of the portrait frame.
    conf = largest[..., 2] > 0.3
    height = [np.ptp(largest[t, conf[t], 1]) for t in range(100)]
    assert np.median(height) > 500
