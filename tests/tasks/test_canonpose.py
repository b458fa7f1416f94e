"""The CanonPose task: input normalisation, losses on exact geometry, the harness (tiny config)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from posejax.geometry.rotations import axis_angle_to_matrix
from posejax.tasks.canonpose import CanonPoseTask, normalize_pose_2d
from posejax.training import loop
from tests.conftest import tiny_experiment


def tiny_config(**overrides):
    return tiny_experiment("canonpose", **overrides)


@pytest.fixture(scope="module")
def task():
    return CanonPoseTask(tiny_config())


def test_normalize_pose_2d():
    pts = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0], [np.nan, 1.0]], np.float32)
    conf = np.array([1.0, 0.8, 0.5, 0.9], np.float32)
    inputs, present = normalize_pose_2d(pts, conf, hips=(0, 1))
    # root = hip midpoint (1, 0); centred (-1, 0), (1, 0), (0, 3); Frobenius norm sqrt(11)
    np.testing.assert_allclose(inputs[:8], np.array([-1, 0, 1, 0, 0, 3, 0, 0]) / np.sqrt(11), rtol=1e-6)
    np.testing.assert_allclose(inputs[8:], [1.0, 0.8, 0.5, 0.0])
    np.testing.assert_array_equal(present, [True, True, True, False])
    # invariant to image position and scale; confidences replaced by presence on request
    moved, _ = normalize_pose_2d(3.0 * pts + 40.0, conf, hips=(0, 1), use_confidence=False)
    np.testing.assert_allclose(moved[:8], inputs[:8], atol=1e-6)
    np.testing.assert_allclose(moved[8:], [1, 1, 1, 0])
    # a missing hip: the root is the mean of the present points
    no_hip, _ = normalize_pose_2d(pts, np.array([0.0, 1, 1, 1], np.float32), hips=(0, 1))
    centred = np.array([[0, 0], [0.5, -1.5], [-0.5, 1.5], [0, 0]])
    np.testing.assert_allclose(no_hip[:8], (centred / np.sqrt(5)).reshape(-1), atol=1e-6)


class _Exact:
    """Stands in for the lifter: its "parameters" are the canonical poses and rotations it returns,
    so one compiled `task.losses` serves every case."""

    @staticmethod
    def apply(params, inputs):
        del inputs
        return params


def _exact(canonical, rotation):
    return {"canonical": jnp.asarray(canonical, jnp.float32), "rotation": jnp.asarray(rotation, jnp.float32)}


@pytest.fixture(scope="module")
def exact_losses(task):
    """`task.losses` with the lifter replaced by `_Exact`, compiled once for the tests below."""
    import copy

    from posejax import fast_compile

    exact = copy.copy(task)
    exact.network = _Exact()
    return fast_compile.jit(exact.losses)


def _rig_batch(task, rng, b=3, v=4):
    """Orthographic views of random 3D poses by static rigs: (batch, X, R)."""
    k = task.num_joints
    poses = task.pool("validation")[0]["keypoints3d_cam"][0]           # real poses, one per frame
    poses = poses[rng.choice(len(poses), 2 * b, replace=False)]
    poses = poses - poses.mean(-2, keepdims=True)                       # centred on each pose
    X = poses.reshape(b, 2, 1, k, 3).repeat(v, 2)
    R = np.asarray(axis_angle_to_matrix(rng.normal(0, 1.0, (b, 1, v, 3)).astype(np.float32)))
    R = np.broadcast_to(R, (b, 2, v, 3, 3))                            # static: same both frames
    seen = np.einsum("bfvxy,bfvky->bfvkx", R, X)
    inputs, present = normalize_pose_2d(seen[..., :2], np.ones(seen.shape[:-1]), task.hips)
    return {"inputs": inputs, "present": present}, X.astype(np.float32), R.astype(np.float32)


def test_losses_vanish_on_the_true_poses_and_cameras(task, exact_losses):
    batch, X, R = _rig_batch(task, np.random.default_rng(0))
    total, terms = exact_losses(_exact(X, R), batch)
    assert set(terms) == {"reprojection", "view", "camera", "chirality"}
    assert float(total) < 1e-5
    # A canonical pose that differs between views breaks view consistency only...
    X2 = X.copy()
    X2[:, :, 1] = X[:, :, 1] * np.array([1.0, 1.0, -1.0])            # mirrored in depth
    R2 = R.copy()
    R2[:, :, 1] = R[:, :, 1] @ np.diag([1.0, 1.0, -1.0])            # still reprojects view 1
    _, terms = exact_losses(_exact(X2, R2), batch)
    assert float(terms["reprojection"]) < 1e-5 and float(terms["view"]) > 1e-3
    # ... and a rotation that changes between the frames of a static rig breaks camera
    # consistency while every single frame still reprojects.
    R3 = R.copy()
    turn = np.asarray(axis_angle_to_matrix(np.array([0.0, 0.5, 0.0], np.float32)))
    R3[:, 1] = R[:, 1] @ turn.T
    X3 = X.copy()
    X3[:, 1] = np.einsum("xy,bvky->bvkx", turn, X[:, 1])
    _, terms = exact_losses(_exact(X3, R3), batch)
    assert float(terms["reprojection"]) < 1e-5 and float(terms["view"]) < 1e-5
    assert float(terms["camera"]) < 1e-5  # a common turn of all views keeps relative rotations
    R4 = R3.copy()
    R4[:, 1, 0] = R3[:, 1, 0] @ turn.T                              # one view turns alone
    _, terms = exact_losses(_exact(X3, R4), batch)
    assert float(terms["camera"]) > 1e-3


def test_eval_metrics_are_zero_for_the_truth_at_any_scale(task):
    from posejax.tasks.canonpose import pose_metrics

    rng = np.random.default_rng(1)
    k = task.num_joints
    gt = rng.normal(0, 0.4, (6, k, 3)).astype(np.float32) + np.array([0, 0, 5.0], np.float32)
    out = pose_metrics(0.01 * gt, gt, task.hips)                       # any scale, any position
    np.testing.assert_allclose(out["n_mpjpe_mm"], 0.0, atol=1e-2)
    np.testing.assert_allclose(out["pa_mpjpe_mm"], 0.0, atol=1e-2)
    np.testing.assert_allclose(out["pck150"], 100.0)
    summary = task.eval_summary({k: np.asarray(v) for k, v in out.items()}, "", 0)
    assert summary["cps"] > 299.0 and summary["cp150"] == 1.0
    # a pose mirrored in depth is wrong by the depth extent: N-MPJPE sees it, PCK drops
    flipped = gt * np.array([1.0, 1.0, -1.0], np.float32)
    bad = pose_metrics(flipped, gt, task.hips)
    assert float(np.mean(bad["n_mpjpe_mm"])) > 100.0 and float(np.mean(bad["pck150"])) < 100.0


def test_trains_and_evaluates_on_the_harness(tmp_path):
    cfg = tiny_config(num_steps=40, log_every=20, eval_every=40, checkpoint_every=40)
    _, scalars = loop.train_and_evaluate(cfg, str(tmp_path))
    assert set(scalars) == {"n_mpjpe_mm", "pa_mpjpe_mm", "pck150", "cps", "cp150"}
    assert all(math.isfinite(v) and v >= 0 for v in scalars.values())
    assert scalars["pa_mpjpe_mm"] <= scalars["n_mpjpe_mm"] + 1e-3
    lines = [l for l in open(tmp_path / "metrics.jsonl") if '"train"' in l]
    assert len(lines) == 2
    # The trained lifter as bundle adjustment's start: SMPL by inverse kinematics, weak cameras
    # that put the body over the detections.
    from posejax.lift import lift_to_smpl, load_lifter

    lifter = load_lifter(str(tmp_path))
    example = lifter.task.examples("validation")[0]
    kp = np.concatenate([example["keypoints2d"][0], example["confidence"][0][..., None]], -1)  # view 0
    init = lift_to_smpl(kp, layout="coco23", lifter=lifter, body_model=lifter.task.config.body_model)
    assert init.pose.shape == (kp.shape[0], 24, 3) and np.all(np.isfinite(init.pose))
    assert np.all(init.cameras.scale > 0) and init.valid.all()
    size = np.ptp(kp[..., :2], axis=1).max(-1)                      # person's extent, pixels
    assert np.all(init.reprojection_error < 0.5 * size)


def test_batches_and_config_errors(task):
    a = task.train_batch(5, 4, 0, 1)
    assert a["inputs"].shape == (4, 2, 4, 3 * task.num_joints) and a["present"].shape == (4, 2, 4, task.num_joints)
    np.testing.assert_array_equal(a["inputs"], task.train_batch(5, 4, 0, 1)["inputs"])
    halves = [task.train_batch(5, 2, p, 2)["inputs"] for p in (0, 1)]
    np.testing.assert_array_equal(np.concatenate(halves), a["inputs"])
    with pytest.raises(ValueError, match="static rig"):
        CanonPoseTask(tiny_config(data=dict(rig="moving")))
    with pytest.raises(ValueError, match="consistency"):
        CanonPoseTask(tiny_config(loss=dict(consistency="same")))


def test_chirality_tells_a_pose_from_its_mirror_image(task, exact_losses):
    from posejax.tasks.canonpose import chirality

    batch, X, R = _rig_batch(task, np.random.default_rng(3))
    ex = task.pool("validation")[0]["keypoints3d_cam"]                 # true camera-frame poses
    c = np.asarray(chirality(ex, task.chirality_indices))
    assert np.all(c > 0.5)
    mirrored = np.asarray(chirality(ex * np.array([1.0, 1.0, -1.0]), task.chirality_indices))
    np.testing.assert_allclose(mirrored, -c, atol=1e-5)
    turned = ex @ np.asarray(axis_angle_to_matrix(np.array([0.3, -1.2, 0.5], np.float32))).T
    np.testing.assert_allclose(chirality(turned, task.chirality_indices), c, atol=1e-5)
    # the loss term: zero for true poses, positive for mirror images
    true_pose = np.broadcast_to(ex[0, :1], X.shape).astype(np.float32)
    assert float(exact_losses(_exact(true_pose, R), batch)[1]["chirality"]) == 0.0
    mirror = true_pose * np.array([1.0, 1.0, -1.0], np.float32)
    assert float(exact_losses(_exact(mirror, R), batch)[1]["chirality"]) > 0.05


class _ExactWithView(_Exact):
    """`_Exact`, and for single-view inputs (B, F, 3K), the camera-view pose in params["view"]."""

    @staticmethod
    def apply(params, inputs):
        return {"camera_view": params["view"]} if inputs.ndim == 3 else params


def test_pseudo_gt_term_compares_unit_scale_camera_view_poses(task):
    import copy

    from posejax import fast_compile
    from posejax.tasks.canonpose import unit_scale_pose

    exact = copy.copy(task)
    exact.network = _ExactWithView()
    losses = fast_compile.jit(exact.losses)
    rng = np.random.default_rng(3)
    batch, X, R = _rig_batch(task, rng)
    k = task.num_joints
    fitted = rng.normal(0, 0.3, (3, 2, k, 3)).astype(np.float32)       # (B, F, K, 3) poses, metres
    present = np.ones((3, 2, k), bool)
    present[0, 1, 5] = False
    batch.update(pseudo_inputs=np.zeros((3, 2, 3 * k), np.float32), pseudo_present=present,
                 pseudo_target=np.asarray(unit_scale_pose(fitted, present, task.hips)))
    assert batch["pseudo_target"].shape == (3, 2, k, 3)
    np.testing.assert_allclose(np.sum(np.square(batch["pseudo_target"][0, 0, :, :2])), 1.0, rtol=1e-5)
    params = _exact(X, R)
    # Any scale and position of the same pose: no loss; the term joins the others.
    _, terms = losses({**params, "view": jnp.asarray(2.5 * fitted + 0.4)}, batch)
    assert set(terms) == {"reprojection", "view", "camera", "chirality", "pseudo_gt"}
    assert float(terms["pseudo_gt"]) < 1e-5
    # A missing point does not count; a pose mirrored in depth does.
    moved = fitted.copy()
    moved[0, 1, 5] += 1.0
    assert float(losses({**params, "view": jnp.asarray(moved)}, batch)[1]["pseudo_gt"]) < 1e-5
    mirrored = fitted * np.array([1.0, 1.0, -1.0], np.float32)
    assert float(losses({**params, "view": jnp.asarray(mirrored)}, batch)[1]["pseudo_gt"]) > 1e-2
