"""Tests for posejax.geometry.procrustes: recovery of known transforms, no reflections, robustness."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posejax.geometry.procrustes import rigid_procrustes, similarity_procrustes
from tests.random_transforms import apply_similarity, random_rotations


@pytest.fixture
def known_similarity():
    rng = np.random.default_rng(0)
    pred = rng.normal(scale=0.4, size=(6, 17, 3)).astype(np.float32)
    rot = random_rotations(rng, 6)
    scale = rng.uniform(0.3, 3.0, size=6).astype(np.float32)
    t = rng.normal(size=(6, 3)).astype(np.float32)
    return pred, scale, rot, t, apply_similarity(pred, scale, rot, t)


def test_recovers_known_similarity(known_similarity):
    pred, scale, rot, t, target = known_similarity
    aligned, s, r, tt = similarity_procrustes(pred, target)
    assert aligned.shape == (6, 17, 3) and s.shape == (6,) and r.shape == (6, 3, 3)
    assert tt.shape == (6, 3)
    np.testing.assert_allclose(s, scale, rtol=1e-5)
    np.testing.assert_allclose(r, rot, atol=1e-5)
    np.testing.assert_allclose(tt, t, atol=1e-5)
    np.testing.assert_allclose(aligned, target, atol=1e-5)


def test_recovers_known_rigid(known_similarity):
    pred, _, rot, t, _ = known_similarity
    target = apply_similarity(pred, np.ones(6, np.float32), rot, t)
    aligned, r, tt = rigid_procrustes(pred, target)
    np.testing.assert_allclose(r, rot, atol=1e-5)
    np.testing.assert_allclose(tt, t, atol=1e-5)
    np.testing.assert_allclose(aligned, target, atol=1e-5)


def test_rigid_does_not_scale(known_similarity):
    pred, _, rot, t, _ = known_similarity
    target = apply_similarity(pred, np.full(6, 2.0, np.float32), rot, t)
    aligned, r, _ = rigid_procrustes(pred, target)
    np.testing.assert_allclose(r, rot, atol=1e-5)  # rotation is scale independent
    # Centred spread unchanged by a rigid map.
    c = aligned - aligned.mean(-2, keepdims=True)
    p = pred - pred.mean(-2, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(c, axis=-1), np.linalg.norm(p, axis=-1), atol=1e-5)


def test_mirror_is_not_fixed_by_a_reflection():
    rng = np.random.default_rng(1)
    pred = rng.normal(size=(20, 3)).astype(np.float32)
    mirrored = pred * np.array([-1.0, 1.0, 1.0], np.float32)  # a reflection of a 3D cloud
    aligned, s, r, _ = similarity_procrustes(pred, mirrored)
    assert abs(float(jnp.linalg.det(r)) - 1.0) < 1e-5
    assert float(jnp.mean(jnp.linalg.norm(aligned - mirrored, axis=-1))) > 0.1
    assert float(s) > 0


def test_determinant_always_plus_one():
    rng = np.random.default_rng(2)
    pred = rng.normal(size=(64, 10, 3)).astype(np.float32)
    target = rng.normal(size=(64, 10, 3)).astype(np.float32)  # unrelated: half want reflections
    _, s, r, _ = similarity_procrustes(pred, target)
    np.testing.assert_allclose(jnp.linalg.det(r), np.ones(64), atol=1e-5)
    np.testing.assert_allclose(jnp.einsum("bji,bjk->bik", r, r), np.broadcast_to(np.eye(3), r.shape),
                               atol=1e-5)
    assert np.all(np.asarray(s) >= 0)


def test_weights_ignore_outliers(known_similarity):
    pred, scale, rot, t, target = known_similarity
    corrupted = np.array(target)
    corrupted[:, :3] += 5.0  # garbage at three points
    weights = np.ones((17,), np.float32)
    weights[:3] = 0.0
    aligned, s, r, tt = similarity_procrustes(pred, corrupted, weights)
    np.testing.assert_allclose(s, scale, rtol=1e-4)
    np.testing.assert_allclose(r, rot, atol=1e-4)
    np.testing.assert_allclose(aligned[:, 3:], target[:, 3:], atol=1e-4)


def test_degenerate_inputs_have_no_nan():
    zeros = np.zeros((2, 5, 3), np.float32)
    out = similarity_procrustes(zeros, zeros)
    for x in out:
        assert np.all(np.isfinite(np.asarray(x)))
    np.testing.assert_allclose(out[2], np.broadcast_to(np.eye(3), (2, 3, 3)))
    # A single distinct point set collapsed to one location aligns onto the target centroid.
    target = np.random.default_rng(3).normal(size=(5, 3)).astype(np.float32)
    aligned, s, _, _ = similarity_procrustes(np.ones((5, 3), np.float32), target)
    assert float(s) == 0.0
    np.testing.assert_allclose(aligned, np.broadcast_to(target.mean(0), (5, 3)), atol=1e-6)
    # All-zero weights.
    out = similarity_procrustes(target, target + 1.0, np.zeros(5, np.float32))
    for x in out:
        assert np.all(np.isfinite(np.asarray(x)))


def test_jit_and_vmap(known_similarity):
    pred, scale, _, _, target = known_similarity
    s_jit = jax.jit(similarity_procrustes)(pred, target)[1]
    s_vmap = jax.vmap(similarity_procrustes)(pred, target)[1]
    np.testing.assert_allclose(s_jit, scale, rtol=1e-5)
    np.testing.assert_allclose(s_vmap, scale, rtol=1e-5)
    assert similarity_procrustes(pred, target)[0].dtype == jnp.float32


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"`pred` and `target` must have the same shape.*\(4, 3\).*\(5, 3\)"):
        similarity_procrustes(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"`pred` must have shape \(\.\.\., N, 3\), got \(4, 2\)"):
        rigid_procrustes(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"`weights` must have shape \(\.\.\., 4\), got \(5,\)"):
        similarity_procrustes(np.zeros((4, 3)), np.zeros((4, 3)), np.ones(5))
    with pytest.raises(ValueError, match="`target` contains NaN"):
        similarity_procrustes(np.zeros((4, 3)), np.full((4, 3), np.nan))
