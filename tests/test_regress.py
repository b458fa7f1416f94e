"""`posejax.regress`: the conversion to a bundle-adjustment initialisation, and inference."""

from __future__ import annotations

import numpy as np
import pytest

from posejax.body import kinematics
from posejax.body.hn_shape import betas_to_hn, hn_to_betas, load_hn_shape_space
from posejax.body.loading import load_body_model
from posejax.fitting.initialization import project_keypoints
from posejax.geometry.cameras import static_to_perspective
from posejax.geometry.rotations import matrix_to_axis_angle
from posejax.geometry.static_view import point_to_static_view
from posejax.regress import RegressionResult
from posejax.tasks.pooled_regressor import root_hn_of_sequence


@pytest.fixture(scope="module")
def sequence():
    from posejax_datasets.synthetic_sequences import synthetic_sequences_dataset_builder as b

    cfg = b.SyntheticSequencesConfig(name="t", sequence=dict(min_frames=40, observation="coco23"),
                                     motion_source="procedural", num_procedural_clips=3)
    return next(b.stream_examples(cfg, split="validation", num_examples=1))


def _truth(sequence):
    """The open body model, its HN space, the sequence's HN shape, its camera with the height in
    HN metres, and its HN pelvis track."""
    model = load_body_model("open")
    space = load_hn_shape_space("open")
    hn = np.asarray(betas_to_hn(space, model, sequence["betas"]))
    cam = np.asarray(sequence["camera"], np.float32).copy()
    cam[2] = sequence["camera_height_hn"]
    return model, space, hn, cam, root_hn_of_sequence(sequence, model)


def test_bundle_adjust_init_is_the_weak_perspective_of_the_prediction(sequence):
    # A "prediction" equal to the truth (HN body: Theta's betas at 1.72 m, HN pelvis positions
    # and camera height). Bundle adjustment's weak projection of the init must equal the weak
    # perspective of the predicted scene about each frame's pelvis, computed here independently
    # from world-frame kinematics and the perspective camera: pixel = f / z_p (x - p)_xy + pi(p).
    model, space, hn, cam, root_hn = _truth(sequence)
    t = len(sequence["pose"])
    root_view = np.asarray(point_to_static_view(root_hn, *cam))
    result = RegressionResult(pose=np.asarray(sequence["pose"], np.float32), hn_betas=hn,
                              betas=np.asarray(hn_to_betas(space, hn)), root_hn=root_hn, root_view=root_view,
                              camera=cam, camera_per_frame=np.tile(cam, (t, 1)), image_size=(1000, 1000))
    init = result.bundle_adjust_init(model)
    px = np.asarray(project_keypoints(model, "coco23", init["pose"], init["betas"],
                                      init["cameras"]["scale"], init["cameras"]["translation"]))
    persp = static_to_perspective(result.static_camera())
    rot, k = np.asarray(persp.R), np.asarray(persp.K)
    world = np.asarray(kinematics.keypoints(model, "coco23", result.pose, result.betas,
                                            result.transl_hn(model)))
    cam_pts = world @ rot.T + np.asarray(persp.t)
    pelvis = result.root_hn @ rot.T + np.asarray(persp.t)
    f = k[0, 0]
    ref = (f / pelvis[:, 2:])[:, None] * (cam_pts[..., :2] - pelvis[:, None, :2]) \
        + (f * pelvis[:, :2] / pelvis[:, 2:] + k[:2, 2])[:, None]
    np.testing.assert_allclose(px, ref, atol=0.5)  # pixels
    # And the scene itself is the truth: its perspective projection hits the clean keypoints.
    full = f * cam_pts[..., :2] / cam_pts[..., 2:] + k[:2, 2]
    assert np.median(np.abs(full - sequence["keypoints2d_clean"])) < 2.0


def test_regress_sequence_rejects_bad_input():
    from posejax.regress import regress_sequence

    with pytest.raises(ValueError, match=r"\(T, K, 2\) or \(T, K, 3\)"):
        regress_sequence(np.zeros((5, 17)), layout="coco17", image_size=(100, 100), regressor=None)
    with pytest.raises(ValueError, match="layout 'coco17' has 17 keypoints"):
        regress_sequence(np.zeros((5, 16, 2)), layout="coco17", image_size=(100, 100), regressor=None)
    with pytest.raises(ValueError, match=r"`confidences` must have shape \(5, 17\)"):
        regress_sequence(np.zeros((5, 17, 2)), np.ones((5, 3)), layout="coco17", image_size=(100, 100),
                         regressor=None)


def test_load_regressor_needs_a_pooled_regressor_run(tmp_path):
    from posejax.regress import load_regressor

    with pytest.raises(FileNotFoundError, match="config.json"):
        load_regressor(str(tmp_path))
    (tmp_path / "config.json").write_text('{"task": "tests.training.toy_task"}')
    with pytest.raises(ValueError, match="not a pooled_regressor one"):
        load_regressor(str(tmp_path))


@pytest.mark.slow
def test_evaluate_refinement_reports_every_method(tmp_path):
    # A tiny run, then the regress-then-refine comparison on one held-out sequence: every method
    # is measured and its errors are finite.
    from posejax.evaluate_refinement import METHODS, evaluate_refinement, format_table
    from posejax.training import loop
    from tests.tasks.test_pooled_regressor import tiny_config

    cfg = tiny_config(num_steps=10, log_every=10, eval_every=10, checkpoint_every=10)
    loop.train_and_evaluate(cfg, str(tmp_path))
    report = evaluate_refinement(str(tmp_path), num_sequences=1, num_frames=40, verbose=False)
    assert set(report["summary"]) == {"BA initialisation", *METHODS}
    for row in report["summary"].values():
        assert np.isfinite(row["pa_mpjpe_mm"]) and 0 < row["pa_mpjpe_mm"] < 1000
    assert "regressor + BA" in format_table(report)
    with pytest.raises(ValueError, match="num_frames"):
        evaluate_refinement(str(tmp_path), num_sequences=1, num_frames=10)


def test_refine_camera_recovers_the_camera_and_keeps_the_view_of_the_body(sequence):
    # A "prediction" that is right about everything the camera sees (pose relative to the camera,
    # shape, pelvis heights and image positions) but has a wrong camera: 3 degrees of pitch and 30%
    # of height off. Its world orientation is then the true one seen through the wrong camera.
    # Refinement must find the camera near the truth, keep each frame's orientation relative to
    # the camera exactly, and so bring the world orientation back near the truth.
    import types

    from posejax.geometry.cameras import _static_rotation
    from posejax.geometry.rotations import axis_angle_to_matrix
    from posejax.regress import refine_camera

    model, space, hn, truth, root_hn = _truth(sequence)
    wrong = truth + np.array([np.deg2rad(3.0), 0.0, 0.3 * truth[2], 0.0], np.float32)
    t = len(sequence["pose"])
    rot = lambda c: np.asarray(_static_rotation(np.float32(c[0]), np.float32(c[1])))  # noqa: E731
    world_root = np.asarray(axis_angle_to_matrix(sequence["pose"][:, 0]))
    seen_root = rot(wrong).T @ rot(truth) @ world_root            # true view, wrong camera
    pose = np.asarray(sequence["pose"], np.float32).copy()
    pose[:, 0] = np.asarray(matrix_to_axis_angle(seen_root))
    result = RegressionResult(pose=pose, hn_betas=hn, betas=np.asarray(hn_to_betas(space, hn)), root_hn=root_hn,
                              root_view=np.asarray(point_to_static_view(root_hn, *truth)), camera=wrong,
                              camera_per_frame=np.tile(wrong, (t, 1)), image_size=(1000, 1000))
    regressor = types.SimpleNamespace(task=types.SimpleNamespace(model=model), layout="coco23")
    keypoints = np.concatenate([sequence["keypoints2d"], sequence["confidence"][..., None]], -1)
    refined = refine_camera(result, keypoints, layout="coco23", regressor=regressor)
    assert refined.camera_fit is not None and refined.camera_fit.cost < refined.camera_fit.start_cost
    # Measured: height 1,012 -> 5 mm, pitch 3 -> 0.06 degrees.
    assert abs(refined.camera[2] - truth[2]) < 0.25 * abs(wrong[2] - truth[2])
    assert abs(np.rad2deg(refined.camera[0] - truth[0])) < 1.0
    np.testing.assert_allclose(refined.camera_per_frame, np.tile(refined.camera, (t, 1)))
    new_root = np.asarray(axis_angle_to_matrix(refined.pose[:, 0]))
    np.testing.assert_allclose(rot(refined.camera) @ new_root, rot(wrong) @ seen_root, atol=1e-5)
    np.testing.assert_allclose(refined.pose[:, 1:], pose[:, 1:])
    np.testing.assert_allclose(refined.root_hn, refined.camera_fit.pelvis)
    with pytest.raises(ValueError, match="frames"):
        refine_camera(result, keypoints[:-1], layout="coco23", regressor=regressor)


def test_with_truth_replaces_only_the_named_predictions():
    from posejax.evaluate_camera_refinement import with_truth

    t = 5
    pred = RegressionResult(pose=np.zeros((t, 24, 3), np.float32), hn_betas=np.zeros(8, np.float32),
                            betas=np.zeros(10, np.float32), root_hn=np.ones((t, 3), np.float32),
                            root_view=np.zeros((t, 3), np.float32), camera=np.array([0.1, 0.0, 2.0, 1.0]),
                            camera_per_frame=np.tile([0.1, 0.0, 2.0, 1.0], (t, 1)), image_size=(100, 100))
    cam, root = np.array([0.3, 0.05, 4.0, 0.8]), np.full((t, 3), 0.9)
    fov = with_truth(pred, cam, root, "fov")
    np.testing.assert_allclose(fov.camera, [0.1, 0.0, 2.0, 0.8])
    np.testing.assert_allclose(fov.camera_per_frame[:, 3], 0.8)
    np.testing.assert_allclose(fov.root_hn, 1.0)
    both = with_truth(pred, cam, root, "pitch_roll+pelvis_height")
    np.testing.assert_allclose(both.camera, [0.3, 0.05, 2.0, 1.0])
    np.testing.assert_allclose(both.root_hn[:, 1], 0.9)
    np.testing.assert_allclose(both.root_hn[:, 0], 1.0)
    np.testing.assert_allclose(pred.camera, [0.1, 0.0, 2.0, 1.0])     # the input is not changed
    with pytest.raises(ValueError, match="oracle"):
        with_truth(pred, cam, root, "fov+height")


@pytest.mark.slow
def test_evaluate_camera_refinement_reports_every_method(tmp_path):
    # A tiny run, then the camera-refinement comparison on its held-out sequence and on one past
    # the run's validation set (synthesised on the same stream): finite errors for the regressor
    # and for each prior weight, and the table lists them.
    from posejax.evaluate_camera_refinement import evaluate_camera_refinement, format_table
    from posejax.training import loop
    from tests.tasks.test_pooled_regressor import tiny_config

    cfg = tiny_config(num_steps=10, log_every=10, eval_every=10, checkpoint_every=10)
    loop.train_and_evaluate(cfg, str(tmp_path))
    report = evaluate_camera_refinement(str(tmp_path), num_sequences=2, first=1, prior_weights=[0.01, 0.1],
                                        oracles=["fov+pitch_roll"], verbose=False)
    assert set(report["summary"]) == {"regressor", "refined (prior weight 0.01)", "refined (prior weight 0.1)",
                                      "refined, true fov+pitch_roll"}
    assert sorted({r["sequence"] for r in report["rows"]}) == [1, 2]
    for row in report["summary"].values():
        assert all(np.isfinite(v) for v in row.values())
        assert 0 <= row["camera_height"] < 1e5 and 0 <= row["camera_pitch"] < 90
    # The FoV is held by default, so the oracle's refined FoV is the true one.
    assert report["summary"]["refined, true fov+pitch_roll"]["camera_fov"] < 1e-3
    table = format_table(report)
    assert "refined (prior weight 0.1)" in table and "true camera height" in table
    with pytest.raises(ValueError, match="num_sequences >= 1"):
        evaluate_camera_refinement(str(tmp_path), num_sequences=1, first=-1)
