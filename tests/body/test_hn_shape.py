"""Height-normalised shape space: the shipped asset of the open model."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from posejax.body import hn_shape
from posejax.body.loading import load_body_model


@pytest.fixture(scope="module")
def model():
    return load_body_model("open")


@pytest.fixture(scope="module")
def space():
    return hn_shape.load_hn_shape_space("open")


def test_normalized_meshes_are_172_tall(model):
    betas = np.random.default_rng(0).normal(size=(5, 10))
    meshes, heights = hn_shape.normalized_meshes(model, betas)
    np.testing.assert_allclose(meshes[..., 1].max(-1) - meshes[..., 1].min(-1), 1.72, atol=1e-9)
    assert np.ptp(heights) > 0.05  # the raw shapes do differ in height


def test_height_is_removed(model, space):
    # Scaling a body changes its betas but not its HN coefficients: compare a shape with the
    # shape whose normalised mesh is the same (the least-squares fit of its scaled mesh).
    rng = np.random.default_rng(1)
    betas = rng.normal(size=(20, 10)).astype(np.float32)
    hn = np.asarray(hn_shape.betas_to_hn(space, model, betas))
    assert hn.shape == (20, 8)
    assert 0.3 < np.std(hn) < 3.0  # ~N(0, 1) by construction
    back = np.asarray(hn_shape.betas_to_hn(space, model, hn_shape.hn_to_betas(space, hn)))
    # Theta's betas describe the same normalised body: the PCA meshes of both coefficient sets
    # agree to millimetres (per-coefficient differences are larger on the low-variance
    # components, which move the mesh least).
    diff = np.asarray(hn_shape.hn_to_mesh(space, back)) - np.asarray(hn_shape.hn_to_mesh(space, hn))
    assert 1e3 * np.sqrt(np.mean(np.sum(diff ** 2, -1))) < 10.0
    assert np.sqrt(np.mean((back[:, 0] - hn[:, 0]) ** 2)) < 0.25


def test_theta_reconstructs_held_out_shapes(model, space):
    # Shapes the space was not fitted on (another seed): normalised mesh -> HN -> Theta's betas
    # -> T-pose mesh, against the normalised mesh (issue acceptance: mean vertex error <= 5 mm),
    # and the height of Theta's body (the normalisation target, 1.72 m).
    betas = np.clip(np.random.default_rng(7).normal(size=(200, 10)), -2.5, 2.5)
    target, _ = hn_shape.normalized_meshes(model, betas)
    hn = hn_shape.betas_to_hn(space, model, betas.astype(np.float32))
    rebuilt = hn_shape._rest_meshes(model, np.asarray(hn_shape.hn_to_betas(space, hn), np.float64))
    assert 1e3 * np.mean(np.linalg.norm(rebuilt - target, axis=-1)) < 5.0
    heights = rebuilt[..., 1].max(-1) - rebuilt[..., 1].min(-1)
    assert 1e3 * np.mean(np.abs(heights - 1.72)) < 1.0


def test_translation_scaling_round_trip():
    x = jnp.array([[1.0, 0.5, 4.0]])
    height = jnp.array([1.9])
    hn = hn_shape.metric_to_hn(x, height)
    np.testing.assert_allclose(np.asarray(hn), np.asarray(x) * 1.72 / 1.9, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(hn_shape.hn_to_metric(hn, height)), np.asarray(x), rtol=1e-6)


def test_missing_asset_names_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m posejax.body.hn_shape"):
        hn_shape.load_hn_shape_space(str(tmp_path / "none.npz"))


def test_fit_recovers_a_small_space(model, tmp_path):
    space, report = hn_shape.fit_hn_shape_space(model, num_samples=100, train_steps=100, verbose=False)
    assert report["explained_variance"] > 0.97
    assert report["beta_fit_rms_mm"] < 10.0
    path = tmp_path / "space.npz"
    hn_shape.save_hn_shape_space(str(path), space)
    again = hn_shape.load_hn_shape_space(str(path))
    np.testing.assert_allclose(np.asarray(again.std), np.asarray(space.std))
