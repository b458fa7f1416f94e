"""Robust reprojection losses: values, gradients, masking, and the outlier term."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from posejax.fitting.robust import (hinge_huber, huber, outlier_robust_energy,
                                    robust_reprojection_energy, safe_norm)


def test_huber_regimes_and_c1():
    r = jnp.array([0.0, 1.0, 3.0, 10.0, 20.0])
    np.testing.assert_allclose(huber(r, 10.0), [0.0, 0.5, 4.5, 50.0, 10.0 * (20.0 - 5.0)])
    g = jax.vmap(jax.grad(lambda x: huber(x, 10.0)))(jnp.array([0.0, 3.0, 9.999, 10.001, 1e6]))
    np.testing.assert_allclose(g, [0.0, 3.0, 9.999, 10.0, 10.0], rtol=1e-4)


def test_hinge_zero_below_margin_then_huber():
    r = jnp.array([0.0, 2.0, 4.999, 5.0, 6.0, 25.0])
    v = hinge_huber(r, 5.0, 10.0)
    np.testing.assert_allclose(v, [0, 0, 0, 0, 0.5, 10.0 * (20.0 - 5.0)], atol=1e-6)
    g = jax.vmap(jax.grad(lambda x: hinge_huber(x)))(jnp.array([0.0, 4.0, 5.0, 5.5, 100.0]))
    np.testing.assert_allclose(g, [0, 0, 0, 0.5, 10.0], atol=1e-6)


def test_safe_norm_gradient_at_zero():
    g = jax.grad(lambda x: safe_norm(x))(jnp.zeros(2))
    np.testing.assert_array_equal(g, [0.0, 0.0])
    np.testing.assert_allclose(safe_norm(jnp.array([3.0, 4.0])), 5.0)


def test_reprojection_energy_values_and_masking():
    res = jnp.array([[[3.0, 4.0], [0.0, 0.0], [jnp.nan, 1.0], [30.0, 40.0]]])  # (T=1, K=4, 2)
    conf = jnp.array([[2.0, 1.0, 1.0, 0.0]])
    np.testing.assert_allclose(robust_reprojection_energy(res, conf, "huber"), [2.0 * 12.5])
    np.testing.assert_allclose(robust_reprojection_energy(res, conf, "hinge"), [0.0])
    np.testing.assert_allclose(robust_reprojection_energy(res, conf, "l2"), [25.0])
    # multi-person shape (T, P, K, 2) -> (T, P)
    e = robust_reprojection_energy(jnp.ones((3, 2, 5, 2)) * 10, jnp.ones((3, 2, 5)))
    assert e.shape == (3, 2)
    with pytest.raises(ValueError, match="kind"):
        robust_reprojection_energy(res, conf, "cauchy")
    with pytest.raises(ValueError, match="confidence"):
        robust_reprojection_energy(res, conf[:, :3])


def test_jit_and_grad():
    f = jax.jit(lambda r, c: jnp.sum(robust_reprojection_energy(r, c, "hinge")))
    r = jnp.arange(24.0).reshape(2, 6, 2)
    g = jax.grad(f)(r, jnp.ones((2, 6)))
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[0, 0], [0.0, 0.0])  # |(0,1)| < 5 px: in the hinge's dead zone


special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0])
finite_px = st.floats(-1e6, 1e6, allow_nan=False, width=32)
px = st.one_of(finite_px, special, st.floats(width=32))
conf = st.one_of(st.floats(0.0, 1.0, width=32), special, st.just(-1.0), st.just(1e3))


@settings(max_examples=60, deadline=None)
@given(res=hnp.arrays(np.float32, (3, 4, 2), elements=px),
       c=hnp.arrays(np.float32, (3, 4), elements=conf),
       kind=st.sampled_from(["huber", "hinge", "l2"]))
def test_fuzz_finite_values_and_gradients(res, c, kind):
    def f(r):
        return jnp.sum(robust_reprojection_energy(r, c, kind, delta=10.0))

    v, g = jax.value_and_grad(f)(jnp.asarray(res))
    assert np.isfinite(v)
    assert np.all(np.isfinite(g))
    bad = ~np.all(np.isfinite(res), -1) | ~np.isfinite(c) | (c <= 0)
    assert np.all(np.asarray(g)[bad] == 0)


@settings(max_examples=60, deadline=None)
@given(e=hnp.arrays(np.float32, (5, 3), elements=st.one_of(st.floats(0, 1e6, width=32), special)),
       valid=hnp.arrays(bool, (5, 3)), combine=st.sampled_from(["joint", "separate"]))
def test_fuzz_outlier_term(e, valid, combine):
    init = jnp.asarray(np.abs(np.nan_to_num(e[:, 0], nan=1.0, posinf=1.0, neginf=1.0)))

    def f(x):
        en, _ = outlier_robust_energy(x, valid, 100.0, 50.0, init_energy=init * 1.0,
                                      combine=combine)
        return jnp.sum(en)

    v, g = jax.value_and_grad(f)(jnp.asarray(e))
    assert np.isfinite(v) and np.all(np.isfinite(g))
    en, inl = outlier_robust_energy(e, valid, 100.0)
    assert np.all(np.asarray(en) <= 100.0 + 1e-3)
    assert not np.any(np.asarray(inl)[~np.any(valid & np.isfinite(e), -1)])


def test_outlier_term_flags_the_right_frames():
    e = jnp.array([[10.0, 500.0],     # inlier via detection 0
                   [900.0, 40.0],     # inlier via detection 1 (inner min)
                   [300.0, 250.0],    # both above tau_R: outlier
                   [5.0, 7.0],        # no valid detection: outlier
                   [jnp.nan, 60.0]])  # NaN detection ignored; inlier via detection 1
    valid = jnp.array([[True, True], [True, True], [True, True], [False, False], [True, True]])
    en, inl = outlier_robust_energy(e, valid, tau_R=200.0)
    np.testing.assert_array_equal(inl, [True, True, False, False, True])
    np.testing.assert_allclose(en, [10.0, 40.0, 200.0, 200.0, 60.0])
    g = jax.grad(lambda x: jnp.sum(outlier_robust_energy(x, valid, 200.0)[0]))(e)
    np.testing.assert_array_equal(g, [[1, 0], [0, 1], [0, 0], [0, 0], [0, 1]])
    # with the initialisation prior: joint -> min(e_R + E_I, tau_R + tau_I)
    init = jnp.array([0.0, 100.0, 0.0, 0.0, 1e4])
    en, inl = outlier_robust_energy(e, valid, 200.0, 50.0, init_energy=init)
    np.testing.assert_array_equal(inl, [True, True, False, False, False])
    np.testing.assert_allclose(en, [10.0, 140.0, 250.0, 250.0, 250.0])
    en, inl = outlier_robust_energy(e, valid, 200.0, 50.0, init_energy=init, combine="separate")
    np.testing.assert_array_equal(inl, [True, False, False, False, False])
    np.testing.assert_allclose(en, [10.0, 90.0, 200.0, 200.0, 110.0])
    # jit
    en_j, inl_j = jax.jit(outlier_robust_energy)(e, valid, 200.0)
    np.testing.assert_array_equal(inl_j, [True, True, False, False, True])
