"""Shortest-path / joint tracking of one person through multi-person detections."""

import numpy as np
import pytest

from posejax.fitting.tracking import Track, edge_costs, pad_detections, select_track, track_person

# Normalised 17-keypoint (COCO order) upright template: x in [-0.2, 0.2], y in [-0.95, 0] (feet at 0).
TEMPLATE = np.array([
    [0.0, -0.93], [-0.03, -0.95], [0.03, -0.95], [-0.06, -0.93], [0.06, -0.93],
    [-0.13, -0.80], [0.13, -0.80], [-0.18, -0.62], [0.18, -0.62], [-0.2, -0.45], [0.2, -0.45],
    [-0.09, -0.50], [0.09, -0.50], [-0.1, -0.26], [0.1, -0.26], [-0.1, 0.0], [0.1, 0.0]])


def _person(center_x, foot_y, height, phase, t):
    kp = TEMPLATE * height
    swing = 0.08 * height * np.sin(0.3 * t + phase)
    kp[[9, 15], 0] += swing
    kp[[10, 16], 0] -= swing
    return kp + np.array([center_x, foot_y])


def two_person_clip(seed, T=300, noise=3.0, miss=0.05, kp_drop=0.05, foot_b=420.0, height_b=190.0):
    """Person 0 (bigger) walks left to right, person 1 right to left; they cross at T/2 with their
    feet `foot_b - 400` px apart. Detector order shuffled per frame, `miss` of the detections
    missing, `kp_drop` of the keypoints at confidence 0. Returns per-frame lists and the index of
    person 0 in each frame (-1 where missed)."""
    rng = np.random.default_rng(seed)
    xa, xb = np.linspace(100, 700, T), np.linspace(700, 100, T)
    frames, target = [], np.full(T, -1)
    for t in range(T):
        gt = [_person(xa[t], 400.0, 220.0, 0.0, t), _person(xb[t], foot_b, height_b, 1.3, t)]
        dets = []
        for who in (0, 1):
            if rng.random() < miss:
                continue
            xy = gt[who] + rng.normal(0, noise, gt[who].shape)
            c = rng.uniform(0.4, 1.0, len(xy))
            c[rng.random(len(xy)) < kp_drop] = 0.0
            xy[c == 0] = 0.0  # as OpenPose writes undetected keypoints
            dets.append((who, np.concatenate([xy, c[:, None]], -1)))
        dets = [dets[i] for i in rng.permutation(len(dets))]
        target[t] = next((i for i, (who, _) in enumerate(dets) if who == 0), -1)
        frames.append(np.stack([d for _, d in dets]) if dets else np.zeros((0, 17, 3)))
    return frames, target


def _det(xy, conf=1.0):
    xy = np.asarray(xy, float)
    return np.concatenate([xy, np.full(xy.shape[:-1] + (1,), conf)], -1)


def _dot(x, y, k=3):
    return _det(np.tile([[x, y]], (k, 1)))


def test_edge_cost_is_mean_squared_distance_over_common_confident_joints():
    a = _det([[0, 0], [10, 0], [0, 0]])
    b = _det([[3, 4], [10, 0], [100, 100]])
    b[2, 2] = 0.05  # below the 0.1 threshold in track_person; here we pass the mask directly
    e = edge_costs(a[None, :, :2], np.ones((1, 3), bool), b[None, :, :2],
                   np.array([[True, True, False]]))
    assert e.shape == (1, 1)
    np.testing.assert_allclose(e[0, 0], (25 + 0) / 2)
    assert np.isinf(edge_costs(a[None, :, :2], np.array([[True, False, False]]), b[None, :, :2],
                               np.array([[False, True, True]])))[0, 0]


@pytest.mark.parametrize("method", ["shortest_path", "joint"])
def test_hand_made_path(method):
    # two people: one at x=0 moving +10 px/frame, one at x=500 static; order swapped in frame 2
    frames = [np.stack([_dot(0, 0), _dot(500, 0)]),
              np.stack([_dot(10, 0), _dot(500, 0)]),
              np.stack([_dot(500, 0), _dot(20, 0)]),
              np.stack([_dot(30, 0), _dot(500, 0)])]
    tr = track_person(frames, start=(0, 0), method=method)
    np.testing.assert_array_equal(tr.indices, [0, 0, 1, 0])
    np.testing.assert_allclose(tr.cost, 3 * 100.0)  # three edges of 10 px -> 100 px^2 each
    tr = track_person(frames, start=(0, 1), method=method)
    np.testing.assert_array_equal(tr.indices, [1, 1, 0, 1])
    np.testing.assert_allclose(tr.cost, 0.0)


@pytest.mark.parametrize("method", ["shortest_path", "joint"])
def test_skip_is_taken_for_an_outlier_jump(method):
    # frame 2 only has a detection 300 px away: skipping (100^2) beats two jumps of 300^2
    frames = [_dot(0, 0)[None], _dot(5, 0)[None], _dot(305, 0)[None], _dot(10, 0)[None],
              _dot(15, 0)[None]]
    tr = track_person(frames, method=method)
    np.testing.assert_array_equal(tr.indices, [0, 0, -1, 0, 0])
    # edges 25, then 5 px over the gap from frame 1 (reference kept) = 25, then 25; one skip
    np.testing.assert_allclose(tr.cost, 25 * 3 + 100.0 ** 2)
    # a jump of 50 px (2500 < 10^4 twice? 2 * 2500 < 10^4) is taken instead
    frames[2] = _dot(50, 0)[None]
    tr = track_person(frames, method="shortest_path")
    np.testing.assert_array_equal(tr.indices, [0, 0, 0, 0, 0])


def test_several_frames_skipped_and_missing_frames():
    frames = [_dot(0, 0)[None], np.zeros((0, 3, 3)), _dot(400, 0)[None], _dot(400, 0)[None],
              _dot(6, 0)[None]]
    tr = track_person(frames, start=(0, 0), method="shortest_path")
    np.testing.assert_array_equal(tr.indices, [0, -1, -1, -1, 0])
    np.testing.assert_allclose(tr.cost, 3 * 100.0 ** 2 + 36.0)
    tr = track_person(frames, start=(0, 0), method="joint")
    np.testing.assert_array_equal(tr.indices, [0, -1, -1, -1, 0])


def test_skip_cost_units_are_squared_pixels():
    frames = [_dot(0, 0)[None], _dot(150, 0)[None]]
    # 150 px jump (22500 px^2) vs skipping one frame at 100 px (10^4 px^2): skip wins
    assert track_person(frames, start=(0, 0), method="shortest_path").indices.tolist() == [0, -1]
    assert track_person(frames, start=(0, 0), skip_cost_px=200.0,
                        method="shortest_path").indices.tolist() == [0, 0]


def test_default_start_is_the_largest_person_and_select_track():
    small = _det([[0, 0], [10, 20], [5, 5]])
    big = _det([[300, 0], [400, 200], [350, 100]])
    frames = [np.stack([small, big]), np.stack([big + [1, 0, 0], small]), big[None] + [2, 0, 0]]
    for method in ("joint", "shortest_path"):
        tr = track_person(frames, method=method)
        np.testing.assert_array_equal(tr.indices, [1, 0, 0])
        sel = select_track(frames, tr)
        assert sel.shape == (3, 3, 3) and sel.dtype == np.float32
        np.testing.assert_allclose(sel[2], big + [2, 0, 0])
    # explicit start by keypoints
    tr = track_person(frames, start=small[:, :2] + 1.0)
    np.testing.assert_array_equal(tr.indices, [0, 1, -1])
    sel = select_track(frames, tr)
    assert np.all(np.isnan(sel[2, :, :2])) and np.all(sel[2, :, 2] == 0)


def test_inputs_padded_array_nan_and_empty():
    frames = [np.stack([_dot(0, 0), _dot(500, 0)]), np.zeros((0, 3, 3)), _dot(2, 0)[None]]
    arr = pad_detections(frames)
    assert arr.shape == (3, 2, 3, 3)
    assert np.isnan(arr[1]).any() and np.all(arr[1, :, :, 2] == 0)
    arr[0, 0, 0, :2] = np.nan  # a NaN keypoint with full confidence is ignored
    arr[0, 0, 1, :2] = np.inf
    for method in ("joint", "shortest_path"):
        tr = track_person(arr, start=(0, 0), method=method)
        np.testing.assert_array_equal(tr.indices, [0, -1, 0])
        assert np.isfinite(tr.cost)
    empty = track_person(np.full((4, 2, 3, 3), np.nan), method="shortest_path")
    assert isinstance(empty, Track) and empty.indices.tolist() == [-1] * 4 and empty.start is None
    assert track_person([np.zeros((0, 5, 3))] * 3).indices.tolist() == [-1] * 3
    with pytest.raises(ValueError, match="start"):
        track_person(frames, start=(1, 0))
    with pytest.raises(ValueError, match="method"):
        track_person(frames, method="nope")


@pytest.mark.parametrize("seed", range(8))
def test_two_person_crossing_with_identity_swaps(seed):
    """Acceptance: the track follows the right person in >= 95% of frames (right = person 0's
    detection where it was detected, a skip where it was not)."""
    frames, target = two_person_clip(seed)
    tr = track_person(frames)  # default: joint, largest person
    assert np.mean(tr.indices == target) >= 0.95


def test_two_person_accuracy_over_seeds_and_harder_crossings():
    accs = []
    for seed in range(10):
        for foot_b, height_b in ((420.0, 190.0), (400.0, 205.0)):  # the second passes closer
            frames, target = two_person_clip(100 + seed, foot_b=foot_b, height_b=height_b)
            accs.append(np.mean(track_person(frames).indices == target))
    assert np.mean(accs) >= 0.97 and np.min(accs) >= 0.95, accs


def test_long_clip_is_fast():
    import time
    frames, target = two_person_clip(0, T=3000)
    t0 = time.perf_counter()
    tr = track_person(frames)
    assert time.perf_counter() - t0 < 10.0
    assert np.mean(tr.indices == target) >= 0.95
