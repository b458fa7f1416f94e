"""Triangulation: exact recovery without noise, robustness to noise and unseen views, validity,
conditioning far from the origin, jit/grad, bad input."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posejax import geometry as g


def _raises(message):
    """pytest.raises(ValueError) whose message contains `message` literally."""
    return pytest.raises(ValueError, match=re.escape(message))


def _ring_cameras(num, radius=4.0, center=(0.0, 1.0, 0.0), focal=1000.0, seed=0):
    """`num` cameras on a ring around `center`, looking at it, at varied heights."""
    rng = np.random.default_rng(seed)
    center = np.asarray(center)
    Rs, ts = [], []
    for k in range(num):
        ang = 2 * np.pi * k / num + rng.uniform(-0.2, 0.2)
        eye = center + np.array([radius * np.sin(ang), rng.uniform(0.2, 1.5), radius * np.cos(ang)])
        R, t = g.look_at(eye, center)
        Rs.append(R)
        ts.append(t)
    K = g.intrinsics_from_focal(jnp.full((num,), focal), (1000, 1000))
    return g.PerspectiveCamera(K=K, R=jnp.stack(Rs), t=jnp.stack(ts))


def _views(X, cams):
    """World points (..., N, 3) seen by cameras of batch (C,) -> pixels (C, ..., N, 2)."""
    cams_b = jax.tree.map(lambda a: a.reshape(a.shape[:1] + (1,) * (X.ndim - 2) + a.shape[1:]),
                          cams)
    return g.project(jnp.asarray(X, jnp.float32)[None], cams_b)


# Tests share a few shapes ((3 views, 5 points) and (4 views, 50 points)) so that the jitted
# triangulation compiles only a handful of times.
@pytest.mark.parametrize("num_views,num_points", [(3, 5), (4, 50)])
def test_exact_recovery_without_noise(num_views, num_points):
    rng = np.random.default_rng(num_views)
    cams = _ring_cameras(num_views)
    X = rng.uniform(-1, 1, (num_points, 3)) + np.array([0, 1, 0])
    x2d = _views(X, cams)
    for cameras in (cams, g.projection_matrix(cams), 7.5 * g.projection_matrix(cams)):
        for refine in (False, True):
            Xh, valid = g.triangulate(x2d, cameras, refine=refine)
            assert Xh.shape == (num_points, 3) and valid.shape == (num_points,)
            assert bool(valid.all())
            assert np.abs(np.asarray(Xh) - X).max() < 1e-4, (refine, np.abs(Xh - X).max())


def test_two_views_and_per_view_batched_cameras():
    rng = np.random.default_rng(10)
    cams = _ring_cameras(2)
    X = rng.uniform(-0.5, 0.5, (5, 3)) + np.array([0, 1, 0])
    Xh, valid = g.triangulate(_views(X, cams), cams)
    assert bool(valid.all()) and np.abs(np.asarray(Xh) - X).max() < 1e-4
    # Cameras that change over the batch: P of shape (C, T, 3, 4) with points (C, T, N, 2).
    T = 3
    cams_t = [_ring_cameras(3, seed=s) for s in range(T)]
    P = jnp.stack([g.projection_matrix(c) for c in cams_t], axis=1)  # (C, T, 3, 4)
    X_t = rng.uniform(-0.5, 0.5, (T, 5, 3)) + np.array([0, 1, 0])
    x2d = jnp.stack([_views(X_t[i], cams_t[i]) for i in range(T)], axis=1)  # (C, T, N, 2)
    Xh, valid = g.triangulate(x2d, P)
    assert Xh.shape == (T, 5, 3) and np.abs(np.asarray(Xh) - X_t).max() < 1e-4


def test_far_from_origin_is_conditioned():
    rng = np.random.default_rng(11)
    offset = np.array([120.0, 0.0, -300.0])
    cams = _ring_cameras(4, center=offset + np.array([0, 1, 0]))
    X = rng.uniform(-1, 1, (50, 3)) + offset + np.array([0, 1, 0])
    Xh, _ = g.triangulate(_views(X, cams), cams)
    # Float32 resolution at 300 m is 3e-5 m.
    assert np.abs(np.asarray(Xh) - X).max() < 2e-4
    Xr, _ = g.triangulate(_views(X, cams), cams, refine=True)
    assert np.abs(np.asarray(Xr) - X).max() < 2e-4


def test_noise_and_zero_weight_views():
    rng = np.random.default_rng(12)
    cams = _ring_cameras(4)
    X = rng.uniform(-1, 1, (50, 3)) + np.array([0, 1, 0])
    x_clean = np.asarray(_views(X, cams))
    x_noisy = x_clean + rng.normal(0, 1.0, x_clean.shape)  # 1 px noise
    weights = rng.uniform(0.5, 1.0, (4, 50))
    # Drop one random view for half of the points and replace its observation with garbage.
    drop = rng.integers(0, 4, 50)
    hide = rng.uniform(size=50) < 0.5
    for n in np.flatnonzero(hide):
        weights[drop[n], n] = 0.0
        x_noisy[drop[n], n] = rng.uniform(-5e4, 5e4, 2)
    Xh, valid = g.triangulate(x_noisy, cams, weights=weights)
    Xr, _ = g.triangulate(x_noisy, cams, weights=weights, refine=True)
    assert bool(valid.all())
    err = np.linalg.norm(np.asarray(Xh) - X, axis=-1)
    err_r = np.linalg.norm(np.asarray(Xr) - X, axis=-1)
    # 1 px at f = 1000 and ~4 m is ~4 mm per view; the estimate averages 3-4 views.
    assert err.mean() < 5e-3 and err.max() < 2e-2, (err.mean(), err.max())
    assert err_r.mean() < 5e-3 and err_r.max() < 2e-2, (err_r.mean(), err_r.max())

    # Refinement minimises the weighted pixel error: never worse than the DLT answer.
    def cost(Y):
        r = np.asarray(_views(np.asarray(Y), cams)) - x_noisy
        return np.sum(weights * np.sum(r ** 2, -1), 0)
    assert np.all(cost(Xr) <= cost(Xh) * (1 + 1e-4) + 1e-6)
    assert cost(Xr).sum() < cost(Xh).sum()
    # The garbage in zero-weight views had no influence: same answer with clean values there.
    x_masked = np.where(weights[..., None] > 0, x_noisy, x_clean)
    Xh2, _ = g.triangulate(x_masked, cams, weights=weights)
    np.testing.assert_allclose(Xh2, Xh, atol=1e-5)


def test_under_observed_points_are_flagged_not_nan():
    rng = np.random.default_rng(13)
    cams = _ring_cameras(3)
    X = rng.uniform(-1, 1, (5, 3)) + np.array([0, 1, 0])
    x2d = np.array(_views(X, cams))
    w = np.ones((3, 5))
    w[:, 0] = 0.0  # never seen
    w[1:, 1] = 0.0  # seen once
    w[2, 2] = 0.0  # seen twice: fine
    x2d[0, 3] = np.nan  # missing detection (NaN) in one view: still two views left
    x2d[:2, 4] = np.nan  # missing in two views: only one left
    for refine in (False, True):
        Xh, valid = g.triangulate(x2d, cams, weights=w, refine=refine)
        np.testing.assert_array_equal(valid, [False, False, True, True, False])
        assert np.all(np.isfinite(Xh))
        np.testing.assert_array_equal(np.asarray(Xh)[~np.asarray(valid)], 0.0)
        assert np.abs(np.asarray(Xh)[2:4] - X[2:4]).max() < 1e-4


def test_jit_and_gradients():
    rng = np.random.default_rng(14)
    cams = _ring_cameras(3)
    X = rng.uniform(-1, 1, (5, 3)) + np.array([0, 1, 0])
    x2d = _views(X, cams)
    w = jnp.ones((3, 5)).at[1:, 0].set(0.0)  # point 0 is invalid

    def loss(x, w):
        Xh, valid = g.triangulate(x, cams, weights=w, refine=True)
        return jnp.sum(jnp.where(valid[:, None], Xh, 0.0) ** 2)

    gx, gw = jax.jit(jax.grad(loss, argnums=(0, 1)))(x2d, w)
    assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gw))
    np.testing.assert_array_equal(gx[:, 0], 0.0)  # the invalid point does not contribute
    # Moving a pixel moves the point: gradient matches a finite difference.
    eps = 0.5
    d = np.zeros(x2d.shape, np.float32)
    d[0, 1, 0] = eps
    fd = (loss(x2d + d, w) - loss(x2d - d, w)) / (2 * eps)
    np.testing.assert_allclose(gx[0, 1, 0], fd, rtol=2e-2, atol=1e-6)


def test_bad_inputs_raise():
    cams = _ring_cameras(3)
    x2d = np.zeros((3, 5, 2))
    with pytest.raises(ValueError, match=r"at least 2 views \(C >= 2\), got C = 1"):
        g.triangulate(np.zeros((1, 5, 2)), jax.tree.map(lambda a: a[:1], cams))
    with _raises("`points2d` must have shape (C, ..., N, 2), got (5, 2)"):
        g.triangulate(np.zeros((5, 2)), cams)
    with _raises("`points2d` must have shape (..., N, 2), got (3, 5, 3)"):
        g.triangulate(np.zeros((3, 5, 3)), cams)
    with pytest.raises(ValueError, match="`cameras` must have leading dim C = 3"):
        g.triangulate(x2d, jax.tree.map(lambda a: a[:2], cams))
    with _raises("`cameras` must have shape (..., 3, 4), got (3, 3, 3)"):
        g.triangulate(x2d, np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match=r"`weights` must have shape \(3, 5\)"):
        g.triangulate(x2d, cams, weights=np.ones((3, 4)))
    with pytest.raises(ValueError, match="`weights` must be non-negative"):
        g.triangulate(x2d, cams, weights=-np.ones((3, 5)))
    with pytest.raises(ValueError, match="`weights` contains NaN or inf values"):
        g.triangulate(x2d, cams, weights=np.full((3, 5), np.nan))
