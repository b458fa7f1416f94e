"""SMPL from lifted 3D keypoints (`posejax.fitting.lifted_init`): exact data is recovered, the
scale of the lifted points does not matter, missing frames copy a neighbour, bad input is refused."""

import numpy as np
import pytest

from posejax import metrics
from posejax.body import kinematics
from posejax.body.loading import load_body_model
from posejax.body.poses import named_pose
from posejax.fitting.initialization import CAMERA_ROTATION, weak_perspective
from posejax.fitting.lifted_init import LiftedInitConfig, init_from_lifted
from posejax.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

SCALE_PX, CENTRE_PX = 400.0, np.array([960.0, 540.0], np.float32)
# Exact points need little prior: the default weight (tuned on a real lifter's noisy output)
# would pull these three unusual poses towards the prior's walking motion.
WEAK_PRIOR = LiftedInitConfig(pose_prior_weight=1e-6, iterations=200)


@pytest.fixture(scope="module")
def scene():
    """Three known poses turned to different yaws: lifted coco23 points (camera view, hip-centred,
    arbitrary scale) and exact coco17 detections under a weak camera."""
    model = load_body_model("open")
    poses = np.stack([named_pose(n) for n in ("walk", "sit", "cheer")]).astype(np.float32)
    for pose, yaw in zip(poses, (0.4, -1.2, 2.6)):
        turn = np.asarray(axis_angle_to_matrix(np.array([0.0, yaw, 0.0], np.float32)))
        pose[0] = np.asarray(matrix_to_axis_angle(turn @ np.asarray(axis_angle_to_matrix(pose[0]))))
    betas = np.zeros(model.num_betas, np.float32)
    body = np.asarray(kinematics.keypoints(model, "coco23", poses, betas))
    hip = 0.5 * (body[:, 11] + body[:, 12])
    lifted = 0.37 * (body - hip[:, None]) @ CAMERA_ROTATION.T           # OpenCV camera view
    kp17 = np.asarray(weak_perspective(kinematics.keypoints(model, "coco17", poses, betas),
                                       np.full(3, SCALE_PX, np.float32), np.tile(CENTRE_PX, (3, 1))))
    detections = np.concatenate([kp17, np.ones(kp17.shape[:2] + (1,), np.float32)], -1)
    truth = np.asarray(kinematics.joints(model, poses, betas))
    return model, lifted, detections, truth


def _fit(scene, lifted=None, detections=None):
    model, points, det, _ = scene
    return init_from_lifted(points if lifted is None else lifted, det if detections is None else detections,
                            points_layout="coco23", layout="coco17", body_model=model, config=WEAK_PRIOR)


def test_recovers_pose_and_camera_from_exact_points(scene):
    model, _, det, truth = scene
    init = _fit(scene)
    joints = np.asarray(kinematics.joints(model, init.pose, init.betas))
    # The keypoints fix every joint but the spine's twist, hands and feet (the prior's choice).
    assert float(metrics.pa_mpjpe(joints, truth)) < 15.0
    # Orientation relative to the camera: no Procrustes, only the hips' offset removed.
    centred = lambda j: j - j[:, :1]  # noqa: E731
    assert float(np.mean(np.linalg.norm(centred(joints) - centred(truth), axis=-1))) < 0.025
    np.testing.assert_allclose(init.cameras.scale, SCALE_PX, rtol=0.03)
    assert np.all(init.reprojection_error < 6.0)
    assert init.valid.all()


def test_the_scale_of_the_lifted_points_does_not_matter(scene):
    model = scene[0]
    a, b = _fit(scene), _fit(scene, lifted=scene[1] * 25.0)
    # The same solve up to rounding (the per-frame scale absorbs the factor): same body, same camera.
    ja, jb = (np.asarray(kinematics.joints(model, x.pose, x.betas)) for x in (a, b))
    np.testing.assert_allclose(ja, jb, atol=5e-3)
    np.testing.assert_allclose(a.cameras.scale, b.cameras.scale, rtol=1e-2)


def test_a_frame_without_detections_copies_its_neighbour(scene):
    det = scene[2].copy()
    det[1] = np.nan
    init = _fit(scene, detections=det)
    assert init.valid.tolist() == [True, False, True]
    assert init.source_frame[1] in (0, 2)
    np.testing.assert_array_equal(init.pose[1], init.pose[init.source_frame[1]])
    assert np.all(np.isfinite(init.pose)) and init.reprojection_error[1] == 0.0


def test_bad_input_is_refused(scene):
    model, lifted, det, _ = scene
    with pytest.raises(ValueError, match="points3d"):
        _fit(scene, lifted=lifted[:2])
    with pytest.raises(ValueError, match="not one of the body model's"):
        init_from_lifted(lifted, det, points_layout="nope", layout="coco17", body_model=model)
    with pytest.raises(ValueError, match="points_weight"):
        init_from_lifted(lifted, det, points_layout="coco23", layout="coco17", body_model=model,
                         points_weight=np.ones((3, 5)))
    with pytest.raises(ValueError, match="no frame"):
        _fit(scene, detections=np.full_like(det, np.nan))
