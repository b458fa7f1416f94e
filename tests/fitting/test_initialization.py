"""Tests of the per-frame initialisation of bundle adjustment (one step-2 compilation in all)."""

from __future__ import annotations

import numpy as np
import pytest

from posejax.body import kinematics, load_body_model
from posejax.fitting import solvers
from posejax.fitting.initialization import (CAMERA_ROTATION, InitConfig,
                                            initialize_from_keypoints, project_keypoints,
                                            weak_perspective)
from posejax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle, rot_x
from posejax.metrics import pa_mpjpe
from posejax.synth.procedural import procedural_clips

FRAMES_PER_CLIP = 24
NUM_CLIPS = 4  # walk, jog, turn, idle: all headings


@pytest.fixture(scope="module")
def model():
    return load_body_model("open")


@pytest.fixture(scope="module")
def clean(model):
    """Procedural motion seen by a weak-perspective camera 15 degrees above, 1000 x 1000 images."""
    clips = procedural_clips(NUM_CLIPS, seed=1, duration_s=(1.0, 1.0), body_model=model)
    pose = np.concatenate([c.pose[:FRAMES_PER_CLIP] for c in clips]).copy()
    betas = np.concatenate([np.repeat(c.betas[None], FRAMES_PER_CLIP, 0) for c in clips])
    root = np.asarray(rot_x(np.radians(15.0))) @ np.asarray(axis_angle_to_matrix(pose[:, 0]))
    pose[:, 0] = np.asarray(matrix_to_axis_angle(root))
    t = pose.shape[0]
    rng = np.random.default_rng(0)
    scale = rng.uniform(300, 500, t).astype(np.float32)  # a 1.7 m person is 500-850 px tall
    trans = np.stack([rng.uniform(400, 600, t), rng.uniform(450, 550, t)], -1).astype(np.float32)
    x3d = np.asarray(kinematics.keypoints(model, "coco17", pose, betas))
    kp = np.asarray(weak_perspective(x3d, scale, trans))
    return dict(pose=pose, root=root, kp=kp, x3d=x3d)


@pytest.fixture(scope="module")
def init(model, clean):
    return initialize_from_keypoints(clean["kp"], layout="coco17", body_model=model,
                                     image_size=(1000, 1000))


def _angle_deg(rot_a, rot_b):
    cos = (np.trace(np.swapaxes(rot_a, -1, -2) @ rot_b, axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_convention_matches_camera_rotation(model):
    pose = np.zeros((1, 24, 3), np.float32)
    x = np.asarray(kinematics.keypoints(model, "coco17", pose, np.zeros(10, np.float32)))
    px = np.asarray(project_keypoints(model, "coco17", pose, np.zeros(10, np.float32),
                                      np.array([100.0], np.float32), np.array([[5.0, 7.0]], np.float32)))
    np.testing.assert_allclose(px, 100 * (x @ CAMERA_ROTATION.T)[..., :2] + [5, 7], atol=1e-4)
    # Facing the camera: the subject's left shoulder is on the image right, the head above the hips.
    ls, rs, lh = 5, 6, 11
    assert px[0, ls, 0] > px[0, rs, 0] and px[0, 0, 1] < px[0, lh, 1]


def test_clean_sequence(init, clean, model):
    t = clean["kp"].shape[0]
    assert init.pose.shape == (t, 24, 3) and init.betas.shape == (10,)
    assert init.cameras.scale.shape == (t,) and init.cameras.translation.shape == (t, 2)
    assert init.valid.all() and np.array_equal(init.source_frame, np.arange(t))
    for x in (init.pose, init.cameras.scale, init.cameras.translation, init.reprojection_error):
        assert np.all(np.isfinite(x))
    # Reprojection (1000 px images, person 500-850 px tall, true shape unknown to the init).
    assert np.median(init.reprojection_error) < 6.0
    assert np.percentile(init.reprojection_error, 90) < 15.0
    # Step 2 improves on the closed form.
    assert np.median(init.reprojection_error) < 0.5 * np.median(init.initial_reprojection_error)
    assert np.mean(init.reprojection_error <= init.initial_reprojection_error + 0.5) > 0.95
    # Global orientation relative to the camera.
    ang = _angle_deg(np.asarray(axis_angle_to_matrix(init.pose[:, 0])), clean["root"])
    assert np.mean(ang < 30) >= 0.9 and np.median(ang) < 15
    # Reprojected keypoints agree with the reported error.
    px = np.asarray(project_keypoints(model, "coco17", init.pose, init.betas, init.cameras.scale,
                                      init.cameras.translation))
    err = np.linalg.norm(px - clean["kp"], axis=-1).mean(-1)
    np.testing.assert_allclose(err, init.reprojection_error, rtol=1e-3, atol=1e-2)
    # 3D: PA-MPJPE of the coco17 keypoints (a per-frame init, not the final fit).
    x3d = np.asarray(kinematics.keypoints(model, "coco17", init.pose, init.betas))
    assert float(pa_mpjpe(x3d, clean["x3d"])) < 70.0


def test_closed_form_only(clean, model):
    init0 = initialize_from_keypoints(clean["kp"], layout="coco17", body_model=model, iterations=0)
    assert init0.solver is None
    np.testing.assert_allclose(init0.reprojection_error, init0.initial_reprojection_error)
    assert np.median(init0.reprojection_error) < 60.0
    ang = _angle_deg(np.asarray(axis_angle_to_matrix(init0.pose[:, 0])), clean["root"])
    assert np.mean(ang < 45) >= 0.9


def test_missing_frames_and_keypoints(init, clean, model):
    kp = clean["kp"].copy()
    conf = np.ones(kp.shape[:2], np.float32)
    conf[3] = 0.0  # no keypoints
    kp[10] = np.nan  # non-finite keypoints count as missing
    conf[20, 2:] = 0.0  # two keypoints only: too few
    conf[30, [9, 10, 15, 16]] = 0.0  # some missing joints: still valid
    out = initialize_from_keypoints(kp, conf, layout="coco17", body_model=model)
    assert not out.valid[[3, 10, 20]].any() and out.valid.sum() == len(kp) - 3
    assert out.source_frame[3] in (2, 4) and out.source_frame[10] in (9, 11)
    np.testing.assert_array_equal(out.pose[3], out.pose[out.source_frame[3]])
    np.testing.assert_array_equal(out.cameras.scale[10], out.cameras.scale[out.source_frame[10]])
    for x in (out.pose, out.cameras.scale, out.cameras.translation, out.reprojection_error,
              out.initial_reprojection_error):
        assert np.all(np.isfinite(x))
    assert out.reprojection_error[3] == 0.0
    assert out.reprojection_error[30] < 15.0


def test_no_valid_frame(model):
    out = initialize_from_keypoints(np.zeros((5, 17, 2)), np.zeros((5, 17)), layout="coco17",
                                    body_model=model, image_size=(640, 480))
    assert not out.valid.any()
    np.testing.assert_allclose(out.cameras.translation, np.tile([320.0, 240.0], (5, 1)))
    assert np.all(np.isfinite(out.pose)) and np.all(out.cameras.scale > 0)


def test_third_channel_is_confidence(model):
    kp = np.concatenate([np.zeros((2, 17, 2)), np.zeros((2, 17, 1))], -1)
    out = initialize_from_keypoints(kp, layout="coco17", body_model=model)
    assert not out.valid.any()


@pytest.mark.parametrize("kwargs, match", [
    (dict(keypoints=np.zeros((4, 16, 2))), "keypoints"),
    (dict(keypoints=np.zeros((17, 2))), "keypoints"),
    (dict(keypoints=np.zeros((0, 17, 2))), "keypoints"),
    (dict(keypoints=np.zeros((4, 17, 4))), "keypoints"),
    (dict(keypoints=np.zeros((4, 17, 2)), confidence=np.ones((4, 16))), "confidence"),
    (dict(keypoints=np.zeros((4, 17, 2)), layout="nope"), "layout"),
    (dict(keypoints=np.zeros((4, 17, 2)), image_size=(0, 10)), "image_size"),
    (dict(keypoints=np.zeros((4, 17, 2)), iterations=-1), "iterations"),
    (dict(keypoints=np.zeros((4, 17, 2)), config=dict(hypotheses=3)), "hypotheses"),
    (dict(keypoints=np.zeros((4, 17, 2)), config=dict(bogus=1)), "unknown"),
    (dict(keypoints=np.zeros((4, 17, 2)), pose_prior_fn=3), "pose_prior_fn"),
])
def test_bad_inputs(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        initialize_from_keypoints(body_model=model, **kwargs)


def test_config_type(model):
    assert InitConfig().method in solvers.METHODS
