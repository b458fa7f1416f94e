"""Forward kinematics, skinning and keypoints: internal consistency, gradients, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posejax.body import kinematics, load_body_model
from posejax.body.model import make_body_model
from posejax.body.skeleton import SMPL_PARENTS
from tests.body.conftest import random_smpl_data


@pytest.fixture(scope="module")
def random_model():
    d = random_smpl_data(seed=1)
    return make_body_model(d["v_template"], d["shapedirs"], d["J_regressor"], d["weights"], d["f"],
                           posedirs=d["posedirs"], name="random")


@pytest.fixture(scope="module", params=["random", "open-lite"])
def model(request, random_model):
    return random_model if request.param == "random" else load_body_model("open-lite")


def _inputs(batch, num_betas, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(batch, 24, 3)).astype(np.float32),
            rng.uniform(-2, 2, size=(batch, num_betas)).astype(np.float32),
            rng.normal(size=(batch, 3)).astype(np.float32))


def _reference_joints(model, pose, betas, transl):
    """Float64 numpy SMPL: rest joints regressed from the shaped mesh, chained joint by joint."""
    shaped = (np.asarray(model.v_template, np.float64)
              + np.einsum("vcs,bs->bvc", np.asarray(model.shapedirs, np.float64), betas))
    rest = np.einsum("jv,bvc->bjc", np.asarray(model.J_regressor, np.float64), shaped)
    out = np.zeros_like(rest)
    for b in range(len(pose)):
        rots = Rotation.from_rotvec(pose[b].astype(np.float64)).as_matrix()
        glob = [None] * 24
        for j, p in enumerate(SMPL_PARENTS):
            if p < 0:
                glob[j], out[b, j] = rots[j], rest[b, j]
            else:
                glob[j] = glob[p] @ rots[j]
                out[b, j] = out[b, p] + glob[p] @ (rest[b, j] - rest[b, p])
    return out + transl[:, None]


def test_joints_only_path_equals_full_forward_and_float64_reference(model):
    pose, betas, transl = _inputs(16, model.num_betas)
    fast = kinematics.joints(model, pose, betas, transl)
    full = kinematics.forward(model, pose, betas, transl)
    assert fast.shape == (16, 24, 3) and full.vertices.shape == (16, model.num_vertices, 3)
    np.testing.assert_allclose(fast, full.joints, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fast, _reference_joints(model, pose, betas, transl), atol=1e-6, rtol=0)


def test_sparse_keypoints_equal_dense_keypoints(model):
    pose, betas, transl = _inputs(8, model.num_betas, seed=2)
    for layout in model.layouts:
        sparse = kinematics.keypoints(model, layout, pose, betas, transl)
        dense = kinematics.keypoints_dense(model, layout, pose, betas, transl)
        np.testing.assert_allclose(sparse, dense, atol=2e-6, rtol=0, err_msg=layout)


def test_zero_pose_gives_rest_joints_and_translation_shifts_everything(model):
    _, betas, transl = _inputs(4, model.num_betas, seed=3)
    zero = np.zeros((4, 24, 3), np.float32)
    np.testing.assert_allclose(kinematics.joints(model, zero, betas),
                               kinematics.rest_joints(model, betas), atol=1e-6)
    out0 = kinematics.forward(model, zero, betas)
    out1 = kinematics.forward(model, zero, betas, transl)
    np.testing.assert_allclose(out1.vertices - out0.vertices,
                               np.broadcast_to(transl[:, None], out0.vertices.shape), atol=1e-5)


def test_shared_betas_broadcast_over_frames(model):
    pose, betas, _ = _inputs(5, model.num_betas, seed=4)
    shared = kinematics.joints(model, pose, betas[0])
    per_frame = kinematics.joints(model, pose, np.repeat(betas[:1], 5, axis=0))
    np.testing.assert_allclose(shared, per_frame, atol=1e-6)
    # Fewer betas than the model has = the remaining ones at zero.
    padded = np.concatenate([betas[:, :3], np.zeros_like(betas[:, 3:])], axis=-1)
    np.testing.assert_allclose(kinematics.joints(model, pose, betas[:, :3]),
                               kinematics.joints(model, pose, padded), atol=1e-6)


def test_flat_72_pose_is_accepted(model):
    pose, betas, _ = _inputs(3, model.num_betas, seed=5)
    np.testing.assert_allclose(kinematics.joints(model, pose.reshape(3, 72), betas),
                               kinematics.joints(model, pose, betas), atol=0)


def test_rotating_root_rotates_joints_rigidly_about_root(model):
    _, betas, _ = _inputs(1, model.num_betas, seed=6)
    pose = np.zeros((1, 24, 3), np.float32)
    pose[0, 0] = [0.0, np.pi / 2, 0.0]  # quarter turn about +Y
    rest = np.asarray(kinematics.rest_joints(model, betas))[0]
    rotated = np.asarray(kinematics.joints(model, pose, betas))[0]
    rot_y = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], np.float32)
    expected = (rest - rest[0]) @ rot_y.T + rest[0]
    np.testing.assert_allclose(rotated, expected, atol=1e-5)


def test_grad_at_zero_pose_matches_finite_differences(model):
    betas = jnp.zeros(model.num_betas)
    rng = np.random.default_rng(0)
    probe = jnp.asarray(rng.normal(size=(24, 3)), jnp.float32)

    def objective(pose):
        return jnp.sum(kinematics.joints(model, pose, betas) * probe)

    objective = jax.jit(objective)
    grad = np.asarray(jax.jit(jax.grad(objective))(jnp.zeros((24, 3))))
    assert np.all(np.isfinite(grad))
    eps = 1e-2  # central differences: truncation error O(eps^2) ~ 1e-4 relative, within rtol 1e-3
    fd = np.zeros((24, 3))
    for j in range(24):
        for c in range(3):
            e = np.zeros((24, 3), np.float32)
            e[j, c] = eps
            fd[j, c] = (float(objective(jnp.asarray(e))) - float(objective(jnp.asarray(-e)))) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-3, atol=1e-4)
    assert np.abs(grad).max() > 1e-2  # the test would catch a zero gradient


def test_jit_and_vmap(model):
    pose, betas, transl = _inputs(6, model.num_betas, seed=7)
    eager = kinematics.joints(model, pose, betas, transl)
    jitted = jax.jit(kinematics.joints)(model, pose, betas, transl)
    vmapped = jax.vmap(kinematics.joints, in_axes=(None, 0, 0, 0))(model, pose, betas, transl)
    np.testing.assert_allclose(jitted, eager, atol=1e-6)
    np.testing.assert_allclose(vmapped, eager, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(pose=np.zeros((2, 23, 3))), r"`pose` must have shape \(\.\.\., 24, 3\) or \(\.\.\., 72\)"),
    (dict(pose=np.full((24, 3), np.nan)), "`pose` contains NaN or inf values"),
    (dict(betas=np.zeros(11)), "`betas` has 11 components but body model 'random' has 10"),
    (dict(betas=np.array([np.inf] * 10)), "`betas` contains NaN or inf values"),
    (dict(transl=np.zeros((2, 2))), r"`transl` must have shape \(\.\.\., 3\), got \(2, 2\)"),
])
def test_bad_inputs_raise_clear_errors(random_model, kwargs, message):
    args = dict(pose=np.zeros((2, 24, 3)), betas=np.zeros(10), transl=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        kinematics.joints(random_model, **args)


def test_unknown_layout_names_the_available_ones(random_model):
    with pytest.raises(ValueError, match=r"cannot produce layout 'coco17'; it provides \('smpl24'"):
        kinematics.keypoints(random_model, "coco17", np.zeros((24, 3)), np.zeros(10))


def test_two_batch_axes_under_jit(model):
    """(sequences, frames) batches: once tripped an XLA:CPU verifier error in the kinematic chain."""
    pose, betas, transl = _inputs(12, model.num_betas, seed=8)
    pose, transl = pose.reshape(3, 4, 24, 3), transl.reshape(3, 4, 3)
    shared = betas[:3, None]  # one shape per sequence
    layout = model.layouts[0]
    got = jax.jit(kinematics.joints)(model, pose, shared, transl)
    kp = jax.jit(kinematics.keypoints, static_argnums=1)(model, layout, pose, shared, transl)
    verts = jax.jit(kinematics.vertices)(model, pose, shared, transl)
    flat = kinematics.joints(model, pose.reshape(12, 24, 3), np.repeat(betas[:3], 4, 0), transl.reshape(12, 3))
    np.testing.assert_allclose(got.reshape(12, 24, 3), flat, atol=1e-6)
    assert kp.shape[:2] == (3, 4) and verts.shape == (3, 4, model.num_vertices, 3)


def test_take_static_matches_fancy_indexing():
    from posejax.body.kinematics import take_static

    x = jnp.arange(2 * 7 * 3.0).reshape(2, 7, 3)
    for idx in ([0], [0, 0, 0], [0, 1, 2, 2, 2], [2, 3, 4], [3, 1, 1, 4, 5, 6, 0], list(range(7)), [5, 5, 6, 6]):
        np.testing.assert_array_equal(np.asarray(take_static(x, idx, 1)), np.asarray(x)[:, idx])
        np.testing.assert_array_equal(np.asarray(take_static(x, idx, -2)), np.asarray(x)[:, idx])
    assert take_static(x, list(range(7)), 1) is x
