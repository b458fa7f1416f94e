"""Tests of posejax.synth.multiview: shapes, camera placement, exact reprojection, rigs, checks."""

from __future__ import annotations

import numpy as np
import pytest

from posejax.body import kinematics, load_body_model
from posejax.synth.motion import MotionClip
from posejax.synth.multiview import MultiviewConfig, synthesize_multiview

FPS = 30.0
T = 12


def _clip(name, speed, frames=40, swing=0.4):
    """A simple clip: arms down, legs swinging, walking along +Z at `speed` m/s (0 = in place)."""
    t = np.arange(frames) / FPS
    pose = np.zeros((frames, 24, 3), np.float32)
    pose[:, 1, 0] = swing * np.sin(2 * np.pi * t)
    pose[:, 2, 0] = -swing * np.sin(2 * np.pi * t)
    pose[:, 16, 2], pose[:, 17, 2] = -1.2, 1.2
    transl = np.zeros((frames, 3), np.float32)
    transl[:, 1] = 0.95
    transl[:, 2] = speed * t
    return MotionClip(name, "procedural", FPS, pose, transl, np.zeros(10, np.float32))


@pytest.fixture(scope="module")
def model():
    return load_body_model("open")


@pytest.fixture(scope="module")
def still():
    return [_clip("still", 0.0, swing=0.0)]  # a statue: its centre is the same in every frame


@pytest.fixture(scope="module")
def walk():
    return [_clip("walk", 1.3)]


def _clean(**kw):
    return MultiviewConfig(fps=FPS, num_frames=T, noise=False, **kw)


def _project(points, K, R, t):
    """NumPy float64 reference projection: points (T, N, 3), R (T, 3, 3) or (3, 3)."""
    cam = np.einsum("...ij,...nj->...ni", np.asarray(R, np.float64), points) + np.asarray(t)[..., None, :]
    uvw = cam @ np.asarray(K, np.float64).T
    return uvw[..., :2] / uvw[..., 2:3]


@pytest.mark.parametrize("rig", ["static", "moving"])
def test_shapes(model, walk, rig):
    out = synthesize_multiview(0, walk, model, _clean(rig=rig))
    V, K = 4, 23
    cam_t = (V,) if rig == "static" else (V, T)
    expected = dict(keypoints2d=(V, T, K, 2), confidence=(V, T, K), visible=(V, T, K),
                    keypoints2d_clean=(V, T, K, 2), joints3d=(T, 24, 3), keypoints3d=(T, K, 3),
                    joints3d_cam=(V, T, 24, 3), keypoints3d_cam=(V, T, K, 3), camera_K=(V, 3, 3),
                    camera_R=cam_t + (3, 3), camera_t=cam_t + (3,), camera_center=cam_t + (3,),
                    hfov=(V,), pose=(T, 24, 3), transl=(T, 3), betas=(10,), clip_id=(T,))
    for key, shape in expected.items():
        assert out[key].shape == shape, key
    assert out["keypoints2d"].dtype == np.float32 and out["visible"].dtype == bool
    assert out["rig"] == rig and out["clip_names"] == ["walk"]


def test_clean_observations_reproject_exactly(model, walk):
    for rig in ("static", "moving"):
        out = synthesize_multiview(3, walk, model, _clean(rig=rig))
        # The ground truth is self-consistent: the body model reproduces the 3D keypoints ...
        kp3d = np.asarray(kinematics.keypoints(model, "coco23", out["pose"], out["betas"],
                                               out["transl"]))
        np.testing.assert_allclose(kp3d, out["keypoints3d"], atol=1e-4)
        for v in range(4):
            # ... and the cameras reproduce the 2D observations (float64 reference projection).
            px = _project(out["keypoints3d"].astype(np.float64), out["camera_K"][v],
                          out["camera_R"][v], out["camera_t"][v])
            np.testing.assert_allclose(out["keypoints2d"][v], px, atol=1e-3)
            assert np.all(out["confidence"][v] == 1.0)


def test_cameras_look_at_the_subject(model, still, walk):
    for rig in ("static", "moving"):
        out = synthesize_multiview(1, still, model, _clean(rig=rig, aim_jitter=0.0))
        # Aim point = centre of the subject's 3D bounding box: it projects to the image centre.
        pts = out["keypoints3d"]
        center = 0.5 * (pts.min(1) + pts.max(1))  # (T, 3)
        for v in range(4):
            px = _project(center[:, None].astype(np.float64), out["camera_K"][v],
                          out["camera_R"][v], out["camera_t"][v])[:, 0]
            np.testing.assert_allclose(px, 500.0, atol=0.05)
    # A walking subject under a static rig stays near the centre on average and inside the image.
    out = synthesize_multiview(2, walk, model, MultiviewConfig(fps=FPS, num_frames=T, noise=False))
    mean_px = out["keypoints2d"].mean(axis=(1, 2))  # (V, 2)
    assert np.all(np.abs(mean_px - 500.0) < 150.0), mean_px
    inside = np.all((out["keypoints2d"] >= 0) & (out["keypoints2d"] <= 1000), axis=-1)
    assert inside.mean() >= 0.95


def test_camera_ranges_and_azimuths(model, still):
    cfg = _clean(azimuth_jitter=0.0, aim_jitter=0.0, radius_range=(4.0, 5.0),
                 height_range=(1.0, 2.0), hfov_deg_range=(50.0, 60.0))
    out = synthesize_multiview(4, still, model, cfg)
    centers = out["camera_center"]
    assert np.all((centers[:, 1] >= 1.0 - 1e-5) & (centers[:, 1] <= 2.0 + 1e-5))
    subject = out["keypoints3d"].mean((0, 1))
    radius = np.linalg.norm((centers - subject)[:, [0, 2]], axis=-1)
    assert np.all((radius > 3.9) & (radius < 5.1)), radius  # + small offset of bbox vs mean
    hfov = np.rad2deg(out["hfov"])
    assert np.all((hfov >= 50 - 1e-4) & (hfov <= 60 + 1e-4))
    # Evenly spread without jitter: consecutive azimuths 90 degrees apart.
    az = np.sort(np.arctan2(centers[:, 0] - subject[0], centers[:, 2] - subject[2]))
    gaps = np.diff(np.concatenate([az, az[:1] + 2 * np.pi]))
    np.testing.assert_allclose(np.rad2deg(gaps), 90.0, atol=1.0)
    # World-to-camera rotations are proper rotations.
    R = out["camera_R"].astype(np.float64)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-5)


def test_static_rig_is_constant_moving_rig_is_smooth(model, walk):
    static = synthesize_multiview(5, walk, model, _clean(rig="static"))
    assert static["camera_R"].shape == (4, 3, 3)  # one pose per view for the whole clip
    cfg = _clean(rig="moving", angular_speed_deg=30.0)
    out = synthesize_multiview(5, walk, model, cfg)
    c = out["camera_center"].astype(np.float64)  # (V, T, 3)
    travelled = np.linalg.norm(c[:, -1] - c[:, 0], axis=-1)
    assert travelled.max() > 0.2, travelled  # the cameras move ...
    step = np.linalg.norm(np.diff(c, axis=1), axis=-1)
    accel = np.linalg.norm(c[:, 2:] - 2 * c[:, 1:-1] + c[:, :-2], axis=-1)
    assert step.max() < 0.25  # < 7.5 m/s at 30 fps
    assert accel.max() < 0.01, accel.max()  # ... smoothly (< 9 m/s^2)
    R = out["camera_R"].astype(np.float64)
    rel = np.einsum("vtij,vtkj->vtik", R[:, 1:], R[:, :-1])
    angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    assert angle.max() < 3.0, angle.max()  # < 90 deg/s of turning
    # Every frame is still exactly reprojected by its own camera.
    for v in range(4):
        px = _project(out["keypoints3d"].astype(np.float64), out["camera_K"][v], out["camera_R"][v],
                      out["camera_t"][v])
        np.testing.assert_allclose(out["keypoints2d"][v], px, atol=1e-3)


@pytest.mark.parametrize("bad", [1, 9, 0, 2.5, True])
def test_num_views_validated(bad):
    with pytest.raises(ValueError, match=r"num_views must be an integer from 2 to 8, got"):
        MultiviewConfig(num_views=bad)


def test_config_validation():
    assert MultiviewConfig(num_views=2).num_views == 2
    assert MultiviewConfig(num_views=8).num_views == 8
    with pytest.raises(ValueError, match=r"rig must be one of \('static', 'moving'\), got 'orbit'"):
        MultiviewConfig(rig="orbit")
    with pytest.raises(ValueError, match=r"radius_range must satisfy"):
        MultiviewConfig(radius_range=(5.0, 3.0))
    with pytest.raises(ValueError, match=r"observation must be an ObservationConfig"):
        MultiviewConfig(observation={"noise_std": 0.1})


def test_bad_inputs(model, walk):
    with pytest.raises(ValueError, match="at least one MotionClip"):
        synthesize_multiview(0, [], model, _clean())
    with pytest.raises(ValueError, match="layout 'nope' is not produced by body model"):
        synthesize_multiview(0, walk, model, _clean(layout="nope"))


def test_deterministic_and_noisy(model, walk):
    cfg = MultiviewConfig(fps=FPS, num_frames=T)
    a = synthesize_multiview(7, walk, model, cfg)
    b = synthesize_multiview(7, walk, model, cfg)
    c = synthesize_multiview(8, walk, model, cfg)
    for key, value in a.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, b[key], err_msg=key)
    assert not np.allclose(a["keypoints2d_clean"], c["keypoints2d_clean"])
    conf = a["confidence"]
    assert conf.min() >= 0.0 and conf.max() <= 1.0
    # Noisy detections stay close to the truth where confident (noise ~1% of the person size).
    ok = conf > 0.5
    err = np.linalg.norm(a["keypoints2d"] - a["keypoints2d_clean"], axis=-1)
    assert ok.mean() > 0.6
    assert np.median(err[ok]) < 15.0
    # Self-occlusion hides some keypoints in some views, not most of them.
    assert 0.6 < a["visible"].mean() < 0.99
