"""`posejax.fitting.static_camera`: the static camera and pelvis track from 2D keypoints and a
known body."""

from __future__ import annotations

import numpy as np
import pytest

from posejax.body import kinematics
from posejax.body.hn_shape import TARGET_HEIGHT
from posejax.body.loading import load_body_model
from posejax.fitting.static_camera import StaticCameraPriors, fit_static_camera
from posejax.geometry.cameras import _static_rotation
from posejax.geometry.static_view import point_to_static_view
from posejax.tasks.pooled_regressor import root_hn_of_sequence


@pytest.fixture(scope="module")
def scene():
    """A synthetic sequence in the height-normalised world: the true body relative to the pelvis
    in the camera's axes, pelvis heights and track, the camera, and the noisy detections."""
    from posejax_datasets.synthetic_sequences import synthetic_sequences_dataset_builder as b

    cfg = b.SyntheticSequencesConfig(name="t", sequence=dict(min_frames=150, observation="coco23"),
                                     motion_source="procedural", num_procedural_clips=3)
    seq = next(b.stream_examples(cfg, split="validation", num_examples=1))
    model = load_body_model("open")
    k = TARGET_HEIGHT / float(seq["height"])
    camera = np.asarray(seq["camera"], np.float64).copy()
    camera[2] = float(seq["camera_height_hn"])
    points = np.asarray(kinematics.keypoints(model, "coco23", seq["pose"], seq["betas"]))
    pelvis = np.asarray(kinematics.joints(model, seq["pose"], seq["betas"]))[:, :1]
    rot = np.asarray(_static_rotation(np.float32(camera[0]), np.float32(camera[1])))
    root = root_hn_of_sequence(seq, model)
    return {"body": ((points - pelvis) * k) @ rot.T, "root": root, "camera": camera,
            "view": np.asarray(point_to_static_view(root, *camera.astype(np.float32))),
            "keypoints": np.asarray(seq["keypoints2d"]), "clean": np.asarray(seq["keypoints2d_clean"]),
            "confidence": np.asarray(seq["confidence"])}


def _fit(scene, camera, view, keypoints=None, **kwargs):
    kp = scene["keypoints"] if keypoints is None else keypoints
    return fit_static_camera(kp, scene["confidence"], scene["body"], scene["root"][:, 1], camera, view,
                             image_size=(1000, 1000), **kwargs)


def test_the_truth_is_a_fixed_point(scene):
    # Clean keypoints, started at the true camera and pelvis track: nothing to improve.
    fit = _fit(scene, scene["camera"], scene["view"], keypoints=scene["clean"])
    assert fit.rms_size < 1e-3                            # < 0.1% of the person's size
    np.testing.assert_allclose(fit.camera, scene["camera"], atol=2e-3, rtol=2e-3)
    np.testing.assert_allclose(fit.pelvis, scene["root"], atol=2e-2)
    np.testing.assert_allclose(fit.pelvis[:, 1], scene["root"][:, 1], atol=1e-4)   # the ground constraint


def test_recovers_a_perturbed_camera_from_noisy_keypoints(scene):
    # Start 4 degrees of pitch, 1 of roll, 40% of height (1.35 m) and 15% of focal off, the pelvis
    # depth 15% off; default priors (around the start); a steep camera (pitch 44 degrees). With
    # the FoV fitted as well, the fit to the noisy detections lands near the truth (measured:
    # height 24 mm, pitch 0.7, FoV 0.2 degrees off). With the FoV held at its wrong start (the
    # default, for bodies that are estimates) the height still comes most of the way (215 mm,
    # pitch 2.5 degrees): at this pitch a wrong focal length does tilt the ground plane. Roll
    # stays near where it started (0.5 / 0.9 degrees off): this subject moves too little sideways.
    truth = scene["camera"]
    start = truth + np.array([np.deg2rad(4.0), np.deg2rad(-1.0), 0.4 * truth[2], 0.0])
    start[3] = 2 * np.arctan(np.tan(0.5 * truth[3]) * 1.15)
    view = scene["view"].copy()
    view[:, 2] += np.log(1.15)
    fitted = _fit(scene, start, view, priors=StaticCameraPriors(fit_fov=True))
    assert abs(fitted.camera[2] - truth[2]) < 0.05 * abs(start[2] - truth[2])           # HN metres
    assert abs(np.rad2deg(fitted.camera[0] - truth[0])) < 1.0
    assert abs(np.rad2deg(fitted.camera[3] - truth[3])) < 1.0
    assert np.median(np.linalg.norm(fitted.pelvis - scene["root"], axis=-1)) < 0.1
    held = _fit(scene, start, view)
    assert held.camera[3] == pytest.approx(start[3], abs=1e-6)                          # not fitted
    assert abs(held.camera[2] - truth[2]) < 0.25 * abs(start[2] - truth[2])
    assert abs(np.rad2deg(held.camera[0] - truth[0])) < 3.5
    for fit in (held, fitted):
        assert abs(np.rad2deg(fit.camera[1] - truth[1])) < 1.5
        assert fit.cost < 0.1 * fit.start_cost and fit.iterations > 1


def test_strong_priors_keep_the_start(scene):
    start = scene["camera"] + np.array([np.deg2rad(3.0), 0.0, 0.3, 0.0])
    fit = _fit(scene, start, scene["view"], priors=StaticCameraPriors(weight=1e6))
    np.testing.assert_allclose(fit.camera, start, atol=1e-3)


def test_a_body_in_world_axes_turns_with_the_camera(scene):
    # The same body given in world axes (Y up): at the true camera it projects exactly as the
    # camera-axes body does, so the truth is again a fixed point.
    rot = np.asarray(_static_rotation(np.float32(scene["camera"][0]), np.float32(scene["camera"][1])))
    fit = fit_static_camera(scene["clean"], scene["confidence"], scene["body"] @ rot, scene["root"][:, 1],
                            scene["camera"], scene["view"], image_size=(1000, 1000), body_in_world=True)
    assert fit.rms_size < 1e-3
    np.testing.assert_allclose(fit.camera, scene["camera"], atol=2e-3, rtol=2e-3)


def test_keypoint_weights_remove_points(scene):
    # Corrupting the wrists is harmless when their weight is zero.
    kp = scene["clean"].copy()
    kp[:, 9:11] += 200.0
    weights = np.ones(kp.shape[1], np.float32)
    weights[9:11] = 0.0
    fit = _fit(scene, scene["camera"], scene["view"], keypoints=kp, keypoint_weights=weights)
    assert fit.rms_size < 1e-3
    np.testing.assert_allclose(fit.camera, scene["camera"], atol=2e-3, rtol=2e-3)
    with pytest.raises(ValueError, match="keypoint_weights"):
        _fit(scene, scene["camera"], scene["view"], keypoint_weights=weights[:-1])


def test_missing_frames_and_points_are_ignored(scene):
    kp = scene["keypoints"].copy()
    kp[::5] = np.nan                                      # every fifth frame missing
    kp[:, 3] = np.inf                                     # one keypoint never valid
    fit = _fit(scene, scene["camera"], scene["view"], keypoints=kp)
    assert np.all(np.isfinite(fit.camera)) and np.all(np.isfinite(fit.pelvis))
    assert abs(fit.camera[2] - scene["camera"][2]) < 0.1


def test_rejects_bad_input(scene):
    with pytest.raises(ValueError, match=r"`keypoints` must be \(T, K, 2\)"):
        _fit(scene, scene["camera"], scene["view"], keypoints=scene["keypoints"][..., :1])
    with pytest.raises(ValueError, match="`pelvis_view` must have shape"):
        _fit(scene, scene["camera"], scene["view"][1:])
    with pytest.raises(ValueError, match="must be finite"):
        _fit(scene, scene["camera"] * np.nan, scene["view"])
    with pytest.raises(ValueError, match="height > 0"):
        _fit(scene, scene["camera"] * np.array([1, 1, -1, 1]), scene["view"])
    with pytest.raises(ValueError, match="at least 2 frames"):
        _fit(scene, scene["camera"], scene["view"], keypoints=np.full_like(scene["keypoints"], np.nan))
