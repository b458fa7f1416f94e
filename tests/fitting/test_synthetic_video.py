"""Synthetic videos: degradation statistics, keypoints a detector could not see, and the true
motion as a bundle-adjustment start."""

import numpy as np
import pytest

from posejax.body import kinematics
from posejax.body.loading import load_body_model
from posejax.fitting.initialization import project_keypoints
from posejax.fitting.synthetic_video import _unseen_as_missing, ground_truth_init, synthetic_video
from posejax.synth.procedural import procedural_clips


@pytest.fixture(scope="module")
def clip():
    return procedural_clips(num_clips=1, seed=1, duration_s=(12.0, 12.0))[0]


def test_degradation_statistics(clip):
    v = synthetic_video(clip, seed=0, num_frames=200, outlier_fraction=0.1, missing_fraction=0.05)
    assert v.keypoints.shape == (200, 17, 3) and v.joints.shape == (200, 24, 3)
    assert v.missing.sum() == 10
    assert np.all(v.keypoints[v.missing, :, 2] == 0) and np.all(np.isnan(v.keypoints[v.missing, :, 0]))
    assert 0.07 < v.outlier.mean() < 0.13
    seen = v.keypoints[..., 2] > 0
    inlier = seen & ~v.outlier
    # Inlier keypoints carry 3 px Gaussian noise per coordinate.
    residual = (v.keypoints[..., :2] - v.keypoints_clean)[inlier]
    assert 2.7 < residual.std() < 3.3


def test_keypoints_outside_the_image_or_behind_the_camera_are_missing(clip):
    v = synthetic_video(clip, seed=1, num_frames=300)  # this walk leaves the camera's view
    w, h = v.image_size
    xy = v.keypoints[..., :2]
    seen = v.keypoints[..., 2] > 0
    assert (~seen).mean() > v.missing.mean() + 0.1  # frames outside the view, beyond the dropped ones
    assert np.all(np.abs(xy[seen]) < 2 * max(w, h))
    assert np.all(np.isnan(xy[~seen]))

    kp = np.zeros((1, 3, 3), np.float32)
    kp[..., 2] = 1.0
    cam = np.array([[[0, 0, 5.0], [0, 0, -1.0], [0, 0, 5.0]]])
    clean = np.array([[[100, 100], [100, 100], [5000, 100]]], np.float64)
    out = _unseen_as_missing(kp, cam, clean, (1000, 800))
    assert out[0, 0, 2] == 1.0  # in front, inside the image
    assert out[0, 1, 2] == 0.0 and np.isnan(out[0, 1, 0])  # behind the camera
    assert out[0, 2, 2] == 0.0  # far outside the image


def test_ground_truth_init_is_the_truth_in_the_fits_conventions(clip):
    model = load_body_model("open")
    v = synthetic_video(clip, seed=2, start=30, num_frames=40, noise_px=0.0, outlier_fraction=0.0,
                        missing_fraction=0.0)
    init = ground_truth_init(clip, v, start=30)
    # Joints: the truth's camera-oriented joints with y and z turned (OpenCV -> y up, z to camera).
    joints = np.asarray(kinematics.joints(model, init["pose"], init["betas"]), np.float64)
    truth = v.joints * np.array([1.0, -1.0, -1.0])
    rel = lambda x: x - x[:, :1]  # noqa: E731
    np.testing.assert_allclose(rel(joints), rel(truth), atol=2e-4)
    # Cameras: the pelvis lands on its true pixel; the other keypoints within the weak-perspective
    # approximation of a person 4-7 m away (depth spread / depth ~ 5%: tens of pixels at most).
    cams = init["cameras"]
    pelvis_cam = v.joints[:, 0] + v.t
    pelvis_px = pelvis_cam[:, :2] / pelvis_cam[:, 2:] * v.K[0, 0] + v.K[:2, 2]
    fit_px = cams["scale"][:, None] * joints[:, 0, :2] * np.array([1.0, -1.0]) + cams["translation"]
    np.testing.assert_allclose(fit_px, pelvis_px, atol=0.05)
    kp = np.asarray(project_keypoints(model, "coco17", init["pose"], init["betas"], cams["scale"],
                                      cams["translation"]))
    err = np.linalg.norm(kp - v.keypoints_clean, axis=-1)
    assert np.median(err) < 8.0 and err.max() < 40.0
    with pytest.raises(ValueError, match="not in clip"):
        ground_truth_init(clip, v, start=clip.num_frames - 10)
