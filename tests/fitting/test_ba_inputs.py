"""Input readers of bundle adjustment (`posejax.fitting.ba_inputs`): every accepted form, the
missing-keypoint convention, clear errors, and fuzzing (a ValueError with a message, or a
well-formed `VideoKeypoints`). No solver runs here, so the whole file takes a few seconds."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from posejax.fitting.ba_inputs import (MAX_CONFIDENCE, MAX_COORDINATE_PX, VideoKeypoints, check_layout,
                                       read_video_keypoints)
from posejax.io.coco_json import write_coco_keypoints

NAN = float("nan")
INF = float("inf")
# Values a detector, a file or a bug may produce: mostly ordinary pixels or confidences, often
# missing markers, negative values and float64 extremes (tiny confidences underflow float32),
# rarely (2% each: most arrays stay valid) out-of-range values.
_MISSING = [NAN, INF, -INF, 0.0, -1.0, 5e-324, 1e-40]
_OUT_OF_RANGE = st.sampled_from([MAX_CONFIDENCE + 1, 2 * MAX_COORDINATE_PX, -1e30, 1e300])


def _values(ordinary, special):
    return st.tuples(st.integers(0, 99), ordinary, st.sampled_from(special), _OUT_OF_RANGE).map(
        lambda c: c[3] if c[0] < 2 else c[2] if c[0] < 25 else c[1])


COORDINATES = _values(st.floats(-50.0, 2000.0), _MISSING + [MAX_COORDINATE_PX, -MAX_COORDINATE_PX])
CONFIDENCES = _values(st.floats(0.0, 1.0), _MISSING + [MAX_CONFIDENCE])
VALUES = st.one_of(COORDINATES, CONFIDENCES)


def keypoints(shape):
    """Arrays of `shape` whose last channel, when 3, holds confidences."""
    if not shape or shape[-1] != 3:
        return hnp.arrays(np.float64, shape, elements=VALUES)
    return st.tuples(hnp.arrays(np.float64, shape[:-1] + (2,), elements=COORDINATES),
                     hnp.arrays(np.float64, shape[:-1] + (1,), elements=CONFIDENCES)
                     ).map(lambda xy_c: np.concatenate(xy_c, -1))


MESSAGE = re.compile(r"`video_keypoints`|`confidences`")


def assert_well_formed(out: VideoKeypoints, num_frames: int) -> None:
    """The documented invariants of `VideoKeypoints.detections`."""
    det = out.detections
    assert det.dtype == np.float32 and det.ndim == 4 and det.shape[-1] == 3
    assert det.shape[0] == num_frames == out.num_frames >= 1 and det.shape[1] >= 1
    present = det[..., 2] > 0
    missing = det[~present]
    assert np.all(np.isnan(missing[:, :2])) and np.all(missing[:, 2] == 0.0)
    kept = det[present]
    assert np.all(np.isfinite(kept))
    assert np.all(np.abs(kept[:, :2]) <= MAX_COORDINATE_PX) and np.all(kept[:, 2] <= MAX_CONFIDENCE)


def expected_single(arr: np.ndarray, conf=None) -> np.ndarray:
    """What a (T, K, 2|3) input should read as, (T, 1, K, 3), from the module docstring's rules."""
    arr = np.asarray(arr, np.float64)
    if conf is None:
        conf = arr[..., 2] if arr.shape[-1] == 3 else np.ones(arr.shape[:2])
    det = np.concatenate([arr[..., :2], np.asarray(conf, np.float64)[..., None]], -1)
    with np.errstate(invalid="ignore", over="ignore"):
        present = np.all(np.isfinite(det), -1) & (det[..., 2] > 0)
        det = det.astype(np.float32)
        present &= det[..., 2] > 0
    det[~present] = (NAN, NAN, 0.0)
    return det[:, None]


# ----------------------------------------------------------------------------------------------
# Accepted forms
# ----------------------------------------------------------------------------------------------


def test_single_person_array_with_and_without_confidences():
    xy = np.arange(2 * 4 * 2, dtype=np.float64).reshape(2, 4, 2)
    out = read_video_keypoints(xy)
    assert not out.multi_person and out.layout is None and out.image_size is None
    np.testing.assert_array_equal(out.detections[:, 0, :, :2], xy)
    np.testing.assert_array_equal(out.detections[..., 2], 1.0)  # (T, K, 2): every keypoint sure

    conf = np.full((2, 4), 0.5)
    with_conf = read_video_keypoints(np.concatenate([xy, np.ones((2, 4, 1))], -1), confidences=conf)
    np.testing.assert_array_equal(with_conf.detections[..., 2], 0.5)  # replaces the third channel


def test_missing_keypoints_are_normalised_to_nan_nan_zero():
    kp = np.full((3, 5, 3), 10.0)
    kp[..., 2] = 0.9
    kp[0, 0, 0] = NAN      # one coordinate NaN
    kp[0, 1, 1] = -INF     # one coordinate inf
    kp[0, 2, 2] = NAN      # NaN confidence
    kp[0, 3, 2] = -0.5     # negative confidence
    kp[1, :, 2] = 0.0      # a whole frame at confidence 0 (coordinates finite)
    kp[2, 4, :2] = 1e30    # out of range but missing (confidence 0): not an error
    kp[2, 4, 2] = 0.0
    det = read_video_keypoints(kp).detections[:, 0]
    missing = np.zeros((3, 5), bool)
    missing[0, :4] = missing[1] = True
    missing[2, 4] = True
    assert np.all(np.isnan(det[missing][:, :2])) and np.all(det[missing][:, 2] == 0)
    np.testing.assert_array_equal(det[~missing], np.tile([10.0, 10.0, 0.9], (int((~missing).sum()), 1))
                                  .astype(np.float32))


@pytest.mark.parametrize("where, value, message", [
    ((1, 2, 0), 2 * MAX_COORDINATE_PX, r"keypoint at \(2e\+06, 10\) px \(frame 1, keypoint 2\); "
                                       r"coordinates beyond 1e\+06 px are not accepted"),
    ((0, 3, 1), -1e30, r"\(frame 0, keypoint 3\); coordinates beyond 1e\+06 px"),
    ((2, 0, 2), MAX_CONFIDENCE + 1, r"confidence 101 \(frame 2, keypoint 0\); confidences above 100"),
])
def test_out_of_range_values_are_errors_naming_the_keypoint(where, value, message):
    kp = np.full((3, 4, 3), 10.0)
    kp[..., 2] = 1.0
    kp[where] = value
    with pytest.raises(ValueError, match=message):
        read_video_keypoints(kp)


def test_range_limits_are_inclusive():
    kp = np.full((1, 2, 3), 1.0)
    kp[0, 0, :2] = (MAX_COORDINATE_PX, -MAX_COORDINATE_PX)
    kp[0, 1, 2] = MAX_CONFIDENCE
    det = read_video_keypoints(kp).detections
    np.testing.assert_array_equal(det[0, 0], [[MAX_COORDINATE_PX, -MAX_COORDINATE_PX, 1.0],
                                              [1.0, 1.0, MAX_CONFIDENCE]])


def test_multi_person_list_with_empty_frames():
    person = np.tile([100.0, 200.0, 0.8], (4, 1))
    frames = [np.stack([person, person + 1]), np.zeros((0, 4, 3)), person[None], np.zeros(0), []]
    out = read_video_keypoints(frames)
    assert out.multi_person and out.detections.shape == (5, 2, 4, 3)
    det = out.detections
    np.testing.assert_array_equal(det[0, 1], (person + 1).astype(np.float32))
    for t, p in [(0, 0), (0, 1), (2, 0)]:
        assert np.all(det[t, p, :, 2] > 0)
    empty = [(1, 0), (1, 1), (2, 1), (3, 0), (3, 1), (4, 0), (4, 1)]
    for t, p in empty:
        assert np.all(np.isnan(det[t, p, :, :2])) and np.all(det[t, p, :, 2] == 0), (t, p)


def test_no_detection_in_any_frame():
    # (0, K, 3) frames say K: a video of missing frames (bundle adjustment then flags every frame).
    out = read_video_keypoints([np.zeros((0, 17, 3))] * 4)
    assert out.detections.shape == (4, 1, 17, 3) and np.all(out.detections[..., 2] == 0)
    # (T, 0, K, 3) arrays get one (empty) slot: the energy needs one to take its minimum over.
    out = read_video_keypoints(np.zeros((4, 0, 17, 3)))
    assert out.detections.shape == (4, 1, 17, 3) and np.all(np.isnan(out.detections[..., :2]))
    with pytest.raises(ValueError, match=r"no detection in any frame and its empty frames do not give "
                                         r"one keypoint count; pass \(0, K, 3\) arrays"):
        read_video_keypoints([np.zeros(0), []])


@pytest.mark.parametrize("value, message", [
    (np.zeros((0, 17, 3)), "`video_keypoints` has no frames"),
    ([], "`video_keypoints` has no frames"),
    (np.zeros((3, 17, 4)), r"\(T, K, C\) needs C = 2 or 3, got \(3, 17, 4\)"),
    (np.zeros((3, 2, 17, 2)), r"must have shape \(T, P, K, 3\), got \(3, 2, 17, 2\)"),
    (np.zeros((3, 1, 1, 17, 3)), r"must have shape \(T, K, 2\|3\) or \(T, P, K, 3\), got \(3, 1, 1, 17, 3\)"),
    (np.zeros(5), r"must have shape \(T, K, 2\|3\)"),
    ([np.zeros((1, 17, 3)), np.zeros((1, 12, 3))], r"different keypoint counts \[12, 17\]"),
    ([np.zeros((1, 17, 2))], r"frame 0 of `detections` must have shape \(P_t, K, 3\)"),
    ([["a"]], "as a list must hold per-frame"),
    ("not a keypoint file.txt", "does not exist"),
    (object(), "`video_keypoints` must be numeric"),
])
def test_malformed_inputs_raise_clear_errors(value, message):
    error = FileNotFoundError if isinstance(value, str) else ValueError
    with pytest.raises(error, match=message):
        read_video_keypoints(value)


def test_confidences_errors(tmp_path):
    kp = np.zeros((3, 17, 2))
    with pytest.raises(ValueError, match=r"`confidences` must have shape \(3, 17\), got \(17, 3\)"):
        read_video_keypoints(kp, confidences=np.zeros((17, 3)))
    with pytest.raises(ValueError, match="`confidences` must be a numeric"):
        read_video_keypoints(kp, confidences=[["x"] * 17] * 3)
    with pytest.raises(ValueError, match="`confidences` is only for"):
        read_video_keypoints(np.zeros((3, 1, 17, 3)), confidences=np.zeros((3, 17)))
    with pytest.raises(ValueError, match="cannot be combined with per-frame detection lists"):
        read_video_keypoints([np.zeros((1, 17, 3))], confidences=np.zeros((1, 17)))
    path = tmp_path / "kp.npz"
    np.savez(path, keypoints=kp)
    with pytest.raises(ValueError, match="cannot be combined with a path input"):
        read_video_keypoints(str(path), confidences=np.zeros((3, 17)))


def test_npz_file(tmp_path):
    kp = np.random.default_rng(0).uniform(0, 500, (6, 25, 2))
    conf = np.full((6, 25), 0.7)
    conf[2] = 0.0
    path = tmp_path / "clip.npz"
    np.savez(path, keypoints=kp, confidences=conf, layout="body25b", image_size=np.array([640, 480]))
    out = read_video_keypoints(path)  # a PathLike works as well as a str
    assert not out.multi_person and out.layout == "body25b" and out.image_size == (640, 480)
    np.testing.assert_array_equal(out.detections, expected_single(kp, conf))

    bad = tmp_path / "bad.npz"
    np.savez(bad, points=kp)
    with pytest.raises(ValueError, match=r"needs a `keypoints` array; it has \['points'\]"):
        read_video_keypoints(str(bad))
    other = tmp_path / "clip.csv"
    other.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="expected an OpenPose JSON folder, a COCO keypoint .json file "
                                         "or an .npz file"):
        read_video_keypoints(str(other))


def test_coco_keypoint_file_frames_follow_image_ids(tmp_path):
    a = np.column_stack([np.arange(17.0), np.arange(17.0) + 100, np.full(17, 0.9)])
    b = a + [5.0, 5.0, 0.0]
    path = str(tmp_path / "coco.json")
    images = {i: {"file_name": f"{i}.jpg", "width": 640, "height": 480} for i in (3, 7, 9)}
    write_coco_keypoints(path, {9: [a], 3: [a, b], 7: []}, format="annotations", images=images)
    out = read_video_keypoints(path)
    assert out.multi_person and out.layout == "coco17" and out.image_size == (640, 480)
    det = out.detections
    assert det.shape == (3, 2, 17, 3)  # frames = image ids 3, 7, 9 in order
    np.testing.assert_allclose(det[0, 1], b)
    assert np.all(det[1, ..., 2] == 0) and np.all(det[2, 1, :, 2] == 0)
    np.testing.assert_allclose(det[2, 0], a)
    assert json.load(open(path))["images"][0]["id"] == 3


def test_check_layout_message():
    check_layout("coco17", 17)
    with pytest.raises(ValueError, match=r"layout 'body25b' has 25 keypoints but `video_keypoints` has 17 "
                                         r"per person; pass the layout the keypoints are in"):
        check_layout("body25b", 17)
    with pytest.raises(ValueError, match="unknown keypoint layout 'nope'"):
        check_layout("nope", 17)


# ----------------------------------------------------------------------------------------------
# Fuzzing
# ----------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@st.composite
def keypoint_arrays(draw):
    """(array, confidences): mostly the accepted shapes, (T, K, 2|3) with or without (T, K)
    confidences and (T, P, K, 3), sometimes any shape."""
    shape = draw(st.one_of(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.sampled_from([2, 3])),
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 4), st.just(3)),
        hnp.array_shapes(min_dims=1, max_dims=5, min_side=0, max_side=4)))
    arr = draw(keypoints(shape))
    conf_shape = draw(st.one_of(st.none(), st.just(shape[:2]), hnp.array_shapes(max_dims=3, max_side=4)))
    conf = None if conf_shape is None else draw(hnp.arrays(np.float64, conf_shape, elements=CONFIDENCES))
    return arr, conf


@FUZZ
@given(case=keypoint_arrays())
def test_fuzz_arrays(case):
    arr, conf = case
    try:
        out = read_video_keypoints(arr, confidences=conf)
    except ValueError as e:
        assert MESSAGE.search(str(e)), str(e)
        return
    assert_well_formed(out, arr.shape[0])
    assert out.multi_person == (arr.ndim == 4)
    if arr.ndim == 3:  # present keypoints keep their values exactly (as float32)
        np.testing.assert_array_equal(out.detections, expected_single(arr, conf))


@st.composite
def frame_lists(draw):
    """Per-frame detection lists: mostly consistent (P_t, K, 3) arrays, some empty in any form,
    sometimes a frame with another K or channel count."""
    k = draw(st.integers(1, 4))
    frames = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["people", "people", "empty", "empty_k", "empty_list", "odd"]))
        if kind == "people":
            frames.append(draw(keypoints((draw(st.integers(1, 3)), k, 3))))
        elif kind == "empty":
            frames.append(np.zeros(0))
        elif kind == "empty_k":
            frames.append(np.zeros((0, k, 3)))
        elif kind == "empty_list":
            frames.append([])
        else:
            frames.append(np.zeros((1, draw(st.integers(1, 4)), draw(st.integers(2, 4)))))
    return frames


@FUZZ
@given(frames=frame_lists())
def test_fuzz_detection_lists(frames):
    try:
        out = read_video_keypoints(frames)
    except ValueError as e:
        assert MESSAGE.search(str(e)), str(e)
        return
    assert_well_formed(out, len(frames))
    assert out.multi_person
    people = [np.asarray(f) for f in frames if np.size(f)]
    assert out.detections.shape[1] == max([len(f) for f in people] + [1])
    for t, f in enumerate(frames):  # slots beyond a frame's detections are missing
        assert np.all(out.detections[t, np.shape(f)[0] if np.size(f) else 0:, :, 2] == 0)
