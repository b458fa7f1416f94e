"""Tests of the GMM pose prior (posejax.fitting.pose_prior) and its shipped asset."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posejax.body.poses import named_pose
from posejax.body.poses import mirror_pose
from posejax.fitting.pose_prior import (ASSET_PATH, POSE_DIM, GaussianMixture, fit_gmm, load_pose_prior,
                                        log_likelihood, negative_log_likelihood)


@pytest.fixture(scope="module")
def prior():
    return load_pose_prior()


def _known_mixture():
    weights = np.array([0.5, 0.3, 0.2], np.float32)
    means = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 4.0]], np.float32)
    covs = np.array([[[1.0, 0.5], [0.5, 1.0]], [[0.5, 0.0], [0.0, 2.0]], [[1.5, -0.6], [-0.6, 0.8]]],
                    np.float32)
    return weights, means, covs


def _sample(weights, means, covs, n, seed=0):
    rng = np.random.default_rng(seed)
    comp = rng.choice(len(weights), size=n, p=weights)
    chol = np.linalg.cholesky(covs)
    z = rng.normal(size=(n, means.shape[1]))
    return (means[comp] + np.einsum("nij,nj->ni", chol[comp], z)).astype(np.float32)


def test_em_recovers_known_mixture():
    weights, means, covs = _known_mixture()
    x = _sample(weights, means, covs, 6000)
    gmm, _ = fit_gmm(jax.random.PRNGKey(0), x, num_components=3, iterations=200, reg=1e-6)
    order = [int(np.argmin(np.linalg.norm(np.asarray(gmm.means) - m, axis=-1))) for m in means]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(np.asarray(gmm.weights)[order], weights, atol=0.02)
    np.testing.assert_allclose(np.asarray(gmm.means)[order], means, atol=0.1)
    np.testing.assert_allclose(np.asarray(gmm.covariances)[order], covs, atol=0.12)


def test_density_matches_scipy():
    from scipy.stats import multivariate_normal

    weights, means, covs = _known_mixture()
    gmm = GaussianMixture.from_covariances(weights, means, covs)
    x = np.array([[0.3, -0.2], [4.0, 6.0], [-10.0, 1.0]], np.float32)
    ref = np.log(sum(w * multivariate_normal(m, c).pdf(x) for w, m, c in zip(weights, means, covs)))
    np.testing.assert_allclose(np.asarray(log_likelihood(gmm, x)), ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(gmm.covariances), covs, atol=1e-5)


def test_em_log_likelihood_non_decreasing():
    weights, means, covs = _known_mixture()
    x = _sample(weights, means, covs, 2000, seed=1)
    _, hist = fit_gmm(jax.random.PRNGKey(3), x, num_components=4, iterations=60, reg=1e-4, tol=0.0)
    assert len(hist) == 61
    assert np.all(np.diff(hist) >= -1e-4), np.diff(hist).min()
    assert hist[-1] > hist[0]


def test_min_mode_bounds_exact_nll(prior):
    pose = 0.2 * np.random.default_rng(0).normal(size=(50, 24, 3)).astype(np.float32)
    exact = np.asarray(negative_log_likelihood(prior, pose))
    upper = np.asarray(negative_log_likelihood(prior, pose, mode="min"))
    assert np.all(upper >= exact - 1e-3)
    assert np.all(upper <= exact + np.log(prior.num_components) + 1e-3)


def test_real_poses_more_likely_than_random(prior):
    # A gait cycle: the named walk pose blended into its mirror image and back, with small jitter.
    # (procedural_clips gives real walk frames too but costs ~10 s of body-model compilation.)
    rng = np.random.default_rng(0)
    w = 0.5 - 0.5 * np.cos(np.linspace(0.0, 2.0 * np.pi, 60))[:, None, None]
    stride = named_pose("walk")
    walk = ((1.0 - w) * stride + w * mirror_pose(stride) + 0.03 * rng.normal(size=(60, 24, 3))).astype(np.float32)
    named = np.stack([named_pose(n) for n in ("t-pose", "a-pose", "walk")])
    normal = rng.normal(size=(500, 24, 3)).astype(np.float32)
    uniform = rng.uniform(-np.pi, np.pi, size=(500, 24, 3)).astype(np.float32)
    nll = lambda p: np.asarray(negative_log_likelihood(prior, p))
    worst_real = max(nll(walk).max(), nll(named).max())
    assert worst_real < nll(normal).min()
    assert worst_real < nll(uniform).min()
    assert np.median(nll(walk)) + 500 < np.median(nll(normal))


def test_global_orientation_ignored_and_input_forms(prior):
    pose = named_pose("walk")
    turned = pose.copy()
    turned[0] = (0.3, 2.0, -0.1)
    a = negative_log_likelihood(prior, pose)
    np.testing.assert_allclose(negative_log_likelihood(prior, turned), a, rtol=1e-6)
    np.testing.assert_allclose(negative_log_likelihood(prior, pose.reshape(72)), a, rtol=1e-6)
    np.testing.assert_allclose(negative_log_likelihood(prior, pose[1:]), a, rtol=1e-6)
    np.testing.assert_allclose(negative_log_likelihood(prior, pose[1:].reshape(69)), a, rtol=1e-6)
    batch = np.stack([pose, turned, np.zeros_like(pose)]).reshape(1, 3, 24, 3)
    assert negative_log_likelihood(prior, batch).shape == (1, 3)


def test_mirror_is_involution_and_prior_nearly_symmetric(prior):
    pose = np.random.default_rng(0).normal(size=(5, 24, 3)).astype(np.float32)
    np.testing.assert_allclose(mirror_pose(mirror_pose(pose)), pose)
    walk = named_pose("walk")
    np.testing.assert_allclose(negative_log_likelihood(prior, mirror_pose(walk)),
                               negative_log_likelihood(prior, walk), atol=2.0)


@pytest.mark.parametrize("mode", ["logsumexp", "min"])
@pytest.mark.parametrize("scale", [0.0, 1.0, 10.0, 100.0])
def test_gradient_finite(prior, mode, scale):
    pose = jnp.full((24, 3), scale, jnp.float32)
    f = jax.jit(jax.value_and_grad(lambda p: negative_log_likelihood(prior, p, mode=mode)))
    value, grad = f(pose)
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(np.asarray(grad)))
    assert np.allclose(np.asarray(grad)[0], 0.0)  # global orientation untouched


def test_vmap_matches_batch(prior):
    pose = 0.3 * jax.random.normal(jax.random.PRNGKey(0), (7, 24, 3))
    np.testing.assert_allclose(jax.vmap(lambda p: negative_log_likelihood(prior, p))(pose),
                               negative_log_likelihood(prior, pose), rtol=1e-5)


def test_bad_inputs(prior):
    with pytest.raises(ValueError, match="pose"):
        negative_log_likelihood(prior, np.zeros((5, 24, 2)))
    with pytest.raises(ValueError, match="pose"):
        negative_log_likelihood(prior, np.zeros((70,)))
    bad = named_pose("walk")
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        negative_log_likelihood(prior, bad)
    with pytest.raises(ValueError, match="mode"):
        negative_log_likelihood(prior, bad, mode="max")
    with pytest.raises(ValueError, match="data"):
        fit_gmm(jax.random.PRNGKey(0), np.zeros((2, 3)), num_components=3)
    with pytest.raises(ValueError, match="data"):
        fit_gmm(jax.random.PRNGKey(0), np.full((10, 3), np.inf), num_components=2)
    with pytest.raises(ValueError, match="data"):
        fit_gmm(jax.random.PRNGKey(0), np.zeros((10,)), num_components=2)


def test_asset_keys_and_shapes(prior):
    with np.load(ASSET_PATH) as d:
        for k in ("weights", "means", "covariances", "precision_cholesky", "source", "clips", "num_poses",
                  "reg", "heldout_log_likelihood", "train_log_likelihood"):
            assert k in d.files, k
        assert d["weights"].shape == (8,) and d["means"].shape == (8, POSE_DIM)
        assert d["covariances"].shape == (8, POSE_DIM, POSE_DIM)
        np.testing.assert_allclose(d["weights"].sum(), 1.0, rtol=1e-5)
        assert np.all(np.linalg.eigvalsh(d["covariances"].astype(np.float64)) > 0)
        assert int(d["num_poses"]) > 1000
    assert prior.num_components == 8 and prior.dim == POSE_DIM
    assert all(np.asarray(a).dtype == np.float32 for a in jax.tree_util.tree_leaves(prior))
    np.testing.assert_allclose(np.asarray(prior.covariances), np.load(ASSET_PATH)["covariances"],
                               rtol=2e-3, atol=1e-5)
    with pytest.raises(FileNotFoundError):
        load_pose_prior("/nonexistent/prior.npz")
