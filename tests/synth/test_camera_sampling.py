"""Static-camera sampling: parameter ranges, placement of the subject, determinism, errors."""

import math

import jax
import numpy as np
import pytest

from posejax.geometry import StaticCamera, static_to_perspective
from posejax.synth.camera_sampling import (CameraRanges, camera_matrices, project_numpy,
                                           sample_static_camera, static_rotation)

DEG = math.pi / 180


@pytest.fixture(scope="module")
def samples():
    return [sample_static_camera(seed, subject_height=_height(seed)) for seed in range(400)]


def _height(seed):
    return 1.5 + 0.2 * (seed % 3)


def test_parameters_inside_default_ranges(samples):
    r = CameraRanges()
    p = np.stack([s.params for s in samples])
    pitch, roll, height, hfov = p.T
    assert np.all((hfov >= r.hfov_deg[0] * DEG - 1e-6) & (hfov <= r.hfov_deg[1] * DEG + 1e-6))
    assert np.all((pitch >= r.pitch_deg[0] * DEG - 1e-6) & (pitch <= r.pitch_deg[1] * DEG + 1e-6))
    assert np.all(np.abs(roll) <= r.roll_max_deg * DEG + 1e-6)
    assert np.all((height >= r.height_m[0] - 1e-5) & (height <= r.height_m[1] + 1e-5))
    frac = np.array([s.person_fraction for s in samples])
    assert np.all((frac >= r.person_fraction[0]) & (frac <= r.person_fraction[1]))
    # The ranges are actually covered: wide and narrow lenses, up-looking and steep views,
    # low and high cameras, close and far subjects.
    assert hfov.min() < 37 * DEG and hfov.max() > 77 * DEG
    assert pitch.min() < 0 and pitch.max() > 45 * DEG
    assert height.min() < 1.0 and height.max() > 6.0
    dist = np.array([s.subject_distance for s in samples])
    assert dist.min() < 2.5 and dist.max() > 15.0


def test_subject_centre_projects_into_image(samples):
    for seed, s in enumerate(samples[:100]):
        K, R, t = camera_matrices(s.camera)
        height = _height(seed)
        px, z = project_numpy(s.aim + np.array([0.0, 0.5 * height, 0.0]), K, R, t)
        assert z > 0
        assert np.all((px > 0) & (px < 1000)), (s, px)
        assert s.aim[1] == 0.0
        # Apparent height roughly the sampled fraction (foreshortened by the pitch).
        ends, _ = project_numpy(np.stack([s.aim, s.aim + np.array([0.0, height, 0.0])]), K, R, t)
        apparent = np.linalg.norm(ends[1] - ends[0]) / 1000
        assert 0.3 * s.person_fraction < apparent < 1.3 * s.person_fraction


def test_numpy_rotation_matches_static_camera():
    for pitch, roll in [(0.3, -0.1), (-0.15, 0.2), (1.2, 0.0)]:
        cam = static_to_perspective(StaticCamera(pitch=np.float32(pitch), roll=np.float32(roll),
                                                 height=np.float32(2.0), hfov=np.float32(1.0)))
        np.testing.assert_allclose(static_rotation(pitch, roll), np.asarray(cam.R), atol=1e-6)
        K, R, t = camera_matrices(StaticCamera(pitch=pitch, roll=roll, height=2.0, hfov=1.0))
        np.testing.assert_allclose(K, np.asarray(cam.K), rtol=1e-5)
        np.testing.assert_allclose(t, np.asarray(cam.t), atol=1e-5)


def test_deterministic_from_seed_and_key():
    a, b = sample_static_camera(7), sample_static_camera(7)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.aim, b.aim)
    k1 = sample_static_camera(jax.random.key(3))
    k2 = sample_static_camera(jax.random.key(3))
    np.testing.assert_array_equal(k1.params, k2.params)
    assert not np.array_equal(sample_static_camera(8).params, a.params)


def test_custom_ranges_respected():
    r = CameraRanges(hfov_deg=(50, 50), pitch_deg=(20, 30), roll_std_deg=0.0, height_m=(2.0, 10.0))
    for seed in range(50):
        p = sample_static_camera(seed, r).params
        assert abs(p[3] - 50 * DEG) < 1e-6 and 20 * DEG - 1e-6 <= p[0] <= 30 * DEG + 1e-6
        assert p[1] == 0.0 and 2.0 <= p[2] <= 10.0


def test_bad_ranges_raise():
    with pytest.raises(ValueError, match="hfov_deg"):
        CameraRanges(hfov_deg=(80, 34))
    with pytest.raises(ValueError, match="center_spread"):
        CameraRanges(center_spread=2.0)
    with pytest.raises(ValueError, match="roll_std_deg"):
        CameraRanges(roll_std_deg=-1.0)
    with pytest.raises(ValueError, match="person_fraction"):
        CameraRanges(person_fraction=0.5)
    with pytest.raises(ValueError, match="no camera sample met"):
        sample_static_camera(0, CameraRanges(pitch_deg=(60, 70), height_m=(0.2, 0.3), max_tries=64))
    with pytest.raises(ValueError, match="subject_height"):
        sample_static_camera(0, subject_height=0.0)
    with pytest.raises(ValueError, match="int seed"):
        sample_static_camera("seed")
