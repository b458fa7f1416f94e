"""Tests for keypoint layouts, their body-model recipes and conversions between layouts."""

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posejax.body.layouts import (CANONICAL_LANDMARKS, LAYOUTS, FromJoints, FromKeypoints,
                                  FromLandmark, Layout, conversion_matrix, convert_keypoints,
                                  flip_keypoints, get_layout)
from posejax.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

ALL = sorted(LAYOUTS)

BODY25B_README_ORDER = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle", "neck", "head_top", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel")


def _rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------------------------ structure

def test_registry_has_every_layout_with_expected_sizes():
    sizes = {n: len(l) for n, l in LAYOUTS.items()}
    assert sizes == {"smpl24": 24, "coco17": 17, "coco23": 23, "body25b": 25, "h36m17": 17,
                     "mediapipe33": 33, "body25": 25, "coco18": 18}


def test_get_layout_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown keypoint layout 'coco19'.*coco17.*body25b"):
        get_layout("coco19")
    assert get_layout(LAYOUTS["coco17"]) is LAYOUTS["coco17"]


@pytest.mark.parametrize("name", ALL)
def test_names_unique_edges_in_range_and_recipes_present(name):
    layout = get_layout(name)
    assert layout.name == name
    assert len(set(layout.names)) == len(layout.names)
    assert len(layout.edges) > 0
    for i, j in layout.edges:
        assert 0 <= i < len(layout) and 0 <= j < len(layout) and i != j
    assert len({tuple(sorted(e)) for e in layout.edges}) == len(layout.edges)  # no duplicate bones
    assert all(len(r) >= 1 for r in layout.definitions)


@pytest.mark.parametrize("name", ALL)
def test_edges_connect_every_keypoint(name):
    layout = get_layout(name)
    adjacency = {i: set() for i in range(len(layout))}
    for i, j in layout.edges:
        adjacency[i].add(j)
        adjacency[j].add(i)
    components, unseen = 0, set(range(len(layout)))
    while unseen:
        components += 1
        stack = [unseen.pop()]
        while stack:
            for n in adjacency[stack.pop()] & unseen:
                unseen.discard(n)
                stack.append(n)
    # MediaPipe's own drawing keeps the face (eyes/ears/nose) and the mouth apart from the body.
    assert components == (3 if name == "mediapipe33" else 1)


@pytest.mark.parametrize("name", ALL)
def test_flip_is_an_involution_swapping_left_and_right(name):
    layout = get_layout(name)
    flip = np.asarray(layout.flip_indices)
    np.testing.assert_array_equal(flip[flip], np.arange(len(layout)))
    for i, n in enumerate(layout.names):
        target = layout.names[flip[i]]
        if n.startswith("left_"):
            assert target == "right_" + n[5:]
        elif n.startswith("right_"):
            assert target == "left_" + n[6:]
        elif n.endswith("_left"):
            assert target == n[:-5] + "_right"
        elif n.endswith("_right"):
            assert target == n[:-6] + "_left"
        else:
            assert target == n
    # Bones map to bones under the flip (the drawing is mirror-symmetric).
    bones = {frozenset(e) for e in layout.edges}
    assert {frozenset((flip[i], flip[j])) for i, j in layout.edges} == bones


def test_sides_and_edge_sides():
    coco = get_layout("coco17")
    assert coco.sides[:3] == ("center", "left", "right")
    sides = dict(zip([tuple(coco.names[k] for k in e) for e in coco.edges], coco.edge_sides))
    assert sides[("left_hip", "right_hip")] == "center"
    assert sides[("left_knee", "left_ankle")] == "left"
    assert sides[("nose", "right_eye")] == "right"


def test_coco17_is_the_prefix_of_coco23_and_body25b():
    coco17 = get_layout("coco17")
    for other in ("coco23", "body25b"):
        layout = get_layout(other)
        assert layout.names[:17] == coco17.names
        assert layout.definitions[:17] == coco17.definitions


def test_orders_match_documented_conventions():
    assert get_layout("body25b").names == BODY25B_README_ORDER
    # COCO-WholeBody foot points 17..22.
    assert get_layout("coco23").names[17:] == BODY25B_README_ORDER[19:]
    assert get_layout("smpl24").names == SMPL_JOINT_NAMES
    assert set(get_layout("smpl24").edges) == {(p, j) for j, p in enumerate(SMPL_PARENTS) if p >= 0}
    h36m = get_layout("h36m17").names
    assert h36m[:7] == ("pelvis", "right_hip", "right_knee", "right_ankle", "left_hip",
                        "left_knee", "left_ankle")
    assert h36m[7:11] == ("spine", "thorax", "neck_nose", "head")
    assert h36m[11:] == ("left_shoulder", "left_elbow", "left_wrist", "right_shoulder",
                         "right_elbow", "right_wrist")
    mp = get_layout("mediapipe33").names
    assert mp[0] == "nose" and mp[1:4] == ("left_eye_inner", "left_eye", "left_eye_outer")
    assert mp[9:13] == ("mouth_left", "mouth_right", "left_shoulder", "right_shoulder")
    assert mp[17:23] == ("left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
                         "right_thumb")
    assert mp[29:] == ("left_heel", "right_heel", "left_foot_index", "right_foot_index")


def test_point_names_use_canonical_spelling():
    """Every FromLandmark recipe names a canonical landmark; point names that coincide are equal."""
    for layout in LAYOUTS.values():
        for name, recipes in zip(layout.names, layout.definitions):
            for r in recipes:
                if isinstance(r, FromLandmark):
                    assert r.name in CANONICAL_LANDMARKS, (layout.name, name, r.name)
            if layout.namespace == "points" and name in CANONICAL_LANDMARKS:
                assert recipes[0] == FromLandmark(name)


def test_layout_validation_rejects_bad_tables():
    with pytest.raises(ValueError, match="unique"):
        Layout("x", ("a", "a"), (), (0, 1), ((), ()))
    with pytest.raises(ValueError, match="bad edge"):
        Layout("x", ("a", "b"), ((0, 2),), (0, 1), ((), ()))
    with pytest.raises(ValueError, match="involutive"):
        Layout("x", ("a", "b", "c"), (), (1, 2, 0), ((), (), ()))
    with pytest.raises(ValueError, match="bad recipe"):
        Layout("x", ("a",), (), (0,), ((FromJoints((("no_such_joint", 1.0),)),),))
    with pytest.raises(ValueError, match="bad recipe"):
        Layout("x", ("a", "b"), (), (0, 1), ((FromKeypoints((("b", 0.7),)),), ()))


def test_index_names_missing_keypoint():
    assert get_layout("body25b").index("neck") == 17
    with pytest.raises(ValueError, match=r"layout 'coco17' has no keypoint 'neck'"):
        get_layout("coco17").index("neck")


# ------------------------------------------------------------------------------------ linear_map

def test_linear_map_smpl24_is_identity_without_landmarks():
    jw, lw = get_layout("smpl24").linear_map([])
    assert jw.dtype == np.float32 and jw.shape == (24, 24) and lw.shape == (24, 0)
    np.testing.assert_array_equal(jw, np.eye(24, dtype=np.float32))


def test_linear_map_coco17_without_landmarks_names_the_missing_keypoints():
    with pytest.raises(ValueError) as info:
        get_layout("coco17").linear_map([])
    msg = str(info.value)
    assert "'coco17'" in msg and "nose" in msg and "left_ear" in msg
    assert "left_hip" not in msg.split("keypoints")[-1]  # limbs fall back to SMPL joints


@pytest.mark.parametrize("name", ALL)
def test_linear_map_with_all_canonical_landmarks_resolves_and_is_affine(name):
    landmarks = list(CANONICAL_LANDMARKS)[::-1]  # order must not matter
    jw, lw = get_layout(name).linear_map(landmarks)
    assert jw.shape == (len(get_layout(name)), 24) and lw.shape == (len(get_layout(name)), 36)
    assert jw.dtype == np.float32 and lw.dtype == np.float32
    np.testing.assert_allclose(jw.sum(1) + lw.sum(1), 1.0, atol=1e-6)
    # Canonically named point keypoints come straight from their landmark.
    layout = get_layout(name)
    for k, n in enumerate(layout.names):
        if layout.namespace == "points" and n in CANONICAL_LANDMARKS:
            assert lw[k, landmarks.index(n)] == 1.0 and not jw[k].any()


def test_linear_map_values_for_mixed_recipes():
    landmarks = ["left_shoulder", "right_shoulder", "nose", "head_top"]
    h36m = get_layout("h36m17")
    jw, lw = h36m.linear_map(landmarks)
    j = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
    pelvis, spine, thorax = (h36m.index(n) for n in ("pelvis", "spine", "thorax"))
    np.testing.assert_array_equal(jw[pelvis], np.eye(24)[j["pelvis"]])
    np.testing.assert_allclose(lw[thorax], [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(jw[spine], 0.5 * np.eye(24)[j["pelvis"]])
    np.testing.assert_allclose(lw[spine], [0.25, 0.25, 0, 0])
    # Hips have no landmark here: they fall back to the SMPL hip joints.
    np.testing.assert_array_equal(jw[h36m.index("left_hip")], np.eye(24)[j["left_hip"]])
    # Without nose / head_top: neck_nose falls back to the SMPL head, head cannot be made.
    with pytest.raises(ValueError, match=r"'h36m17'.*: no recipe resolves for keypoints head$"):
        h36m.linear_map([])
    body = get_layout("body25b")
    jw, lw = body.linear_map(CANONICAL_LANDMARKS)
    neck = body.index("neck")
    expected = np.zeros(len(CANONICAL_LANDMARKS))
    expected[[CANONICAL_LANDMARKS.index(n) for n in ("left_shoulder", "right_shoulder")]] = 0.5
    np.testing.assert_allclose(lw[neck], expected)


def test_linear_map_numbers_on_random_joints_and_landmarks():
    rng = _rng(1)
    joints = rng.normal(size=(24, 3)).astype(np.float32)
    names = [n for n in CANONICAL_LANDMARKS if n not in ("left_hip", "right_hip")]
    landmarks = rng.normal(size=(len(names), 3)).astype(np.float32)
    layout = get_layout("body25b")
    jw, lw = layout.linear_map(names)
    kp = jw @ joints + lw @ landmarks
    lm = dict(zip(names, landmarks))
    np.testing.assert_allclose(kp[layout.index("nose")], lm["nose"], atol=1e-6)
    np.testing.assert_allclose(kp[layout.index("left_hip")], joints[1], atol=1e-6)
    np.testing.assert_allclose(kp[layout.index("neck")],
                               (lm["left_shoulder"] + lm["right_shoulder"]) / 2, atol=1e-6)


# ------------------------------------------------------------------------------------ conversions

def _random_keypoints(layout, batch=(), channels=3, seed=0):
    rng = _rng(seed)
    kp = rng.uniform(0, 500, size=batch + (len(get_layout(layout)), channels)).astype(np.float32)
    if channels == 3:
        kp[..., 2] = rng.uniform(0.05, 1.0, size=kp.shape[:-1])
    return kp


def test_body25b_to_coco17_is_a_selection():
    kp = _random_keypoints("body25b", (4,))
    out, valid = convert_keypoints(kp, "body25b", "coco17")
    assert out.shape == (4, 17, 3) and out.dtype == np.float32 and valid.all()
    np.testing.assert_array_equal(np.asarray(out), kp[:, :17])


def test_coco17_to_body25b_fills_neck_and_zeroes_the_rest():
    kp = _random_keypoints("coco17", (2, 3))
    out, valid = convert_keypoints(kp, "coco17", "body25b")
    out = np.asarray(out)
    body = get_layout("body25b")
    invalid = {body.names[k] for k in np.nonzero(~valid)[0]}
    assert invalid == {"head_top", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
                       "right_small_toe", "right_heel"}
    np.testing.assert_array_equal(out[..., ~valid, :], 0.0)
    np.testing.assert_array_equal(out[..., :17, :], kp)
    neck = out[..., 17, :]
    np.testing.assert_allclose(neck[..., :2], (kp[..., 5, :2] + kp[..., 6, :2]) / 2, rtol=1e-6)
    # Confidence of a midpoint = the smaller of the two.
    np.testing.assert_array_equal(neck[..., 2], np.minimum(kp[..., 5, 2], kp[..., 6, 2]))


def test_three_channels_as_3d_points_average_all_channels():
    kp = _random_keypoints("coco17", (), channels=3, seed=3)
    out, _ = convert_keypoints(kp, "coco17", "body25b", has_confidence=False)
    np.testing.assert_allclose(np.asarray(out)[17], (kp[5] + kp[6]) / 2, rtol=1e-6)


def test_round_trips_coco23_body25b_exact_on_shared_points():
    kp23 = _random_keypoints("coco23", (5,), seed=4)
    body, valid = convert_keypoints(kp23, "coco23", "body25b")
    back, valid_back = convert_keypoints(body, "body25b", "coco23")
    assert valid_back.all()
    np.testing.assert_array_equal(np.asarray(back), kp23)
    kp25 = _random_keypoints("body25b", (5,), seed=5)
    there, v1 = convert_keypoints(kp25, "body25b", "coco23")
    again, v2 = convert_keypoints(there, "coco23", "body25b")
    shared = [k for k, n in enumerate(get_layout("body25b").names) if n not in ("neck", "head_top")]
    assert v1.all() and not v2[18] and v2[17]
    np.testing.assert_array_equal(np.asarray(again)[:, shared], kp25[:, shared])


def test_smpl24_conversions_go_through_joint_recipes_only():
    joints = _random_keypoints("smpl24", (), channels=3, seed=6)
    coco, valid = convert_keypoints(joints, "smpl24", "coco17", has_confidence=False)
    assert not valid[:5].any() and valid[5:].all()
    j = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
    coco_names = get_layout("coco17").names
    for k in range(5, 17):
        np.testing.assert_array_equal(np.asarray(coco)[k], joints[j[coco_names[k]]])
    # SMPL joints and point layouts never match by name alone, in either direction.
    _, valid = convert_keypoints(_random_keypoints("coco17"), "coco17", "smpl24")
    assert not valid.any()
    h36m, valid = convert_keypoints(joints, "smpl24", "h36m17", has_confidence=False)
    names = get_layout("h36m17").names
    assert [n for n, v in zip(names, valid) if not v] == ["head"]
    np.testing.assert_array_equal(np.asarray(h36m)[0], joints[0])  # pelvis = SMPL pelvis
    np.testing.assert_allclose(np.asarray(h36m)[names.index("neck_nose")], joints[j["head"]])


def test_coco17_to_h36m17_mixes():
    kp = _random_keypoints("coco17", (), seed=7)
    out, valid = convert_keypoints(kp, "coco17", "h36m17")
    out = np.asarray(out)
    names = get_layout("h36m17").names
    assert [n for n, v in zip(names, valid) if not v] == ["head"]
    pelvis = (kp[11, :2] + kp[12, :2]) / 2
    thorax = (kp[5, :2] + kp[6, :2]) / 2
    np.testing.assert_allclose(out[0, :2], pelvis, rtol=1e-6)
    np.testing.assert_allclose(out[names.index("thorax"), :2], thorax, rtol=1e-6)
    np.testing.assert_allclose(out[names.index("spine"), :2], (pelvis + thorax) / 2, rtol=1e-5)
    assert out[names.index("spine"), 2] == kp[[5, 6, 11, 12], 2].min()
    np.testing.assert_array_equal(out[names.index("neck_nose")], kp[0])
    np.testing.assert_array_equal(out[names.index("right_knee")], kp[14])


def test_mediapipe_conversions():
    kp = _random_keypoints("mediapipe33", (), seed=8)
    out, valid = convert_keypoints(kp, "mediapipe33", "coco17")
    assert valid.all()
    mp = get_layout("mediapipe33").names
    picks = [mp.index(n) for n in get_layout("coco17").names]
    np.testing.assert_array_equal(np.asarray(out), kp[picks])
    kp23 = _random_keypoints("coco23", (), seed=9)
    out, valid = convert_keypoints(kp23, "coco23", "mediapipe33")
    np.testing.assert_array_equal(np.asarray(out)[mp.index("left_foot_index")], kp23[17])
    assert not valid[mp.index("left_eye_inner")] and not valid[mp.index("left_pinky")]


def test_conversion_matrix_rows_are_affine_or_zero():
    for src in ALL:
        for dst in ALL:
            mat, valid = conversion_matrix(src, dst)
            assert mat.shape == (len(get_layout(dst)), len(get_layout(src)))
            np.testing.assert_allclose(mat.sum(1), valid.astype(np.float32), atol=1e-6)
            if src == dst:
                np.testing.assert_array_equal(mat, np.eye(len(get_layout(src))))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), src=st.sampled_from(ALL), dst=st.sampled_from(ALL))
def test_conversion_commutes_with_affine_maps(seed, src, dst):
    """Keypoints converted then moved = moved then converted (recipes are affine)."""
    rng = _rng(seed)
    kp = rng.normal(size=(len(get_layout(src)), 3)).astype(np.float32)
    a = rng.normal(size=(3, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    out1, valid = convert_keypoints(kp @ a.T + b, src, dst, has_confidence=False)
    out2, _ = convert_keypoints(kp, src, dst, has_confidence=False)
    np.testing.assert_allclose(np.asarray(out1)[valid], (np.asarray(out2) @ a.T + b)[valid],
                               atol=2e-4, rtol=1e-4)


def test_convert_under_jit():
    kp = _random_keypoints("coco17", (2,))
    f = jax.jit(lambda x: convert_keypoints(x, "coco17", "body25b")[0])
    eager = convert_keypoints(kp, "coco17", "body25b")[0]
    np.testing.assert_allclose(np.asarray(f(kp)), np.asarray(eager))


def test_convert_bad_inputs():
    with pytest.raises(ValueError,
                       match=r"`keypoints` must have shape \(\.\.\., 17, N\), got \(25, 3\)"):
        convert_keypoints(np.zeros((25, 3)), "coco17", "body25b")
    with pytest.raises(ValueError, match="unknown keypoint layout"):
        convert_keypoints(np.zeros((17, 3)), "coco17", "openpose")
    with pytest.raises(ValueError, match="NaN"):
        convert_keypoints(np.full((17, 3), np.nan), "coco17", "body25b")
    with pytest.raises(ValueError, match="at least 2 channels"):
        convert_keypoints(np.zeros((17, 1)), "coco17", "body25b", has_confidence=True)


def test_flip_keypoints_permutes_indices():
    kp = _random_keypoints("body25b", (3,), seed=10)
    flipped = np.asarray(flip_keypoints(kp, "body25b"))
    body = get_layout("body25b")
    np.testing.assert_array_equal(flipped[:, body.index("left_heel")],
                                  kp[:, body.index("right_heel")])
    np.testing.assert_array_equal(flipped[:, body.index("neck")], kp[:, body.index("neck")])
    np.testing.assert_array_equal(np.asarray(flip_keypoints(flipped, body)), kp)
    with pytest.raises(ValueError, match=r"`keypoints` must have shape \(\.\.\., 25, N\)"):
        flip_keypoints(kp[:, :17], "body25b")


def test_hip_centred_removes_the_hip_midpoint():
    from posejax.body.layouts import hip_centred, hip_indices

    layout = get_layout("coco17")
    hips = hip_indices(layout)
    pts = np.random.default_rng(0).normal(size=(2, 17, 3))
    out = hip_centred(pts, hips)
    np.testing.assert_allclose(out[:, hips[0]] + out[:, hips[1]], 0.0, atol=1e-12)
    np.testing.assert_allclose(out - pts, np.broadcast_to(out[:, :1] - pts[:, :1], pts.shape), atol=1e-12)
