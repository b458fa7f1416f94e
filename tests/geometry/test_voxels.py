"""Voxel-grid geometry (`posejax.geometry.voxels`) against direct computations."""

import numpy as np

from posejax.geometry.voxels import local_peaks, project_to_map, sample_maps, soft_argmax, voxel_centres


def test_voxel_centres_tile_the_grid():
    c = np.asarray(voxel_centres(np.array([1.0, 2.0, 3.0]), (4.0, 2.0, 6.0), (4, 2, 3)))
    assert c.shape == (4, 2, 3, 3)
    np.testing.assert_allclose(c[0, 0, 0], [1 - 1.5, 2 - 0.5, 3 - 2.0], atol=1e-6)
    np.testing.assert_allclose(c[-1, -1, -1], [1 + 1.5, 2 + 0.5, 3 + 2.0], atol=1e-6)
    np.testing.assert_allclose(c.reshape(-1, 3).mean(0), [1, 2, 3], atol=1e-6)


def test_projection_matches_the_pinhole_model():
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], np.float32)
    R, t = np.eye(3, dtype=np.float32), np.array([0.0, 0.0, 4.0], np.float32)
    uv, z = project_to_map(np.array([[0.4, -0.2, 1.0]], np.float32), K, R, t, stride=4)
    np.testing.assert_allclose(z, [5.0])
    np.testing.assert_allclose(uv, [[(320 + 500 * 0.4 / 5) / 4 - 0.5, (240 - 500 * 0.2 / 5) / 4 - 0.5]], rtol=1e-6)


def test_bilinear_sampling():
    maps = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    at = sample_maps(maps, np.array([[1.0, 2.0], [1.5, 0.5], [-2.0, 1.0]], np.float32))
    np.testing.assert_allclose(at[0], maps[:, 2, 1])
    np.testing.assert_allclose(at[1], maps[:, :2, 1:3].mean((1, 2)))          # the four neighbours' mean
    np.testing.assert_allclose(at[2], 0.0)                                      # outside: zero
    masked = sample_maps(maps, np.array([[1.0, 2.0]], np.float32), valid=np.array([False]))
    np.testing.assert_allclose(masked, 0.0)


def test_soft_argmax_and_peaks():
    centres = voxel_centres(np.zeros(3), (4.0, 4.0, 4.0), (4, 4, 4))
    logits = np.full((4, 4, 4), -50.0, np.float32)
    logits[1, 2, 3] = 50.0
    np.testing.assert_allclose(soft_argmax(logits, centres), np.asarray(centres)[1, 2, 3], atol=1e-5)
    vol = np.zeros((6, 6, 6), np.float32)
    vol[1, 1, 1], vol[1, 2, 1], vol[4, 4, 4] = 0.9, 0.5, 0.7                   # (1,2,1) is no peak
    scores, idx = local_peaks(vol, 2)
    np.testing.assert_allclose(scores, [0.9, 0.7])
    np.testing.assert_array_equal(idx, [[1, 1, 1], [4, 4, 4]])
