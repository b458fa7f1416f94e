"""The pooled regressor network: shapes, training/inference equivalence, pooling semantics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posejax.models.pooled_regressor import WINDOW, PooledRegressor

SMALL = dict(conv_features=8, pool_features=8, dense_features=16, num_blocks=3, dense_per_block=2)


def _windows(seq, centres):
    """(B, T, F) -> (B, N, 32, F) neighbourhoods centred on `centres`, edges repeated."""
    t = seq.shape[1]
    idx = np.clip(np.asarray(centres)[:, None] + np.arange(WINDOW) - WINDOW // 2, 0, t - 1)
    return seq[:, idx]


@pytest.fixture(scope="module")
def net_and_params():
    net = PooledRegressor(**SMALL)
    params = jax.jit(net.init)(jax.random.key(0), jnp.zeros((1, 40, 12)))  # eager init compiles op by op
    # Non-trivial head weights (the pose head starts at zero by design).
    rng = np.random.default_rng(1)  # numpy: an eager jax.random call per leaf compiles per shape
    params = jax.tree.map(lambda x: x + 0.05 * rng.normal(size=x.shape).astype(np.float32), params)
    return net, params


def test_output_shapes_and_rotations(net_and_params):
    net, params = net_and_params
    out = net.apply(params, jnp.asarray(np.random.default_rng(0).normal(size=(2, 50, 12)), jnp.float32))
    assert out["hn_betas"].shape == (2, 50, 8)
    assert out["pose_matrix"].shape == (2, 50, 24, 3, 3)
    assert out["root_view"].shape == (2, 50, 3) and out["root_height"].shape == (2, 50)
    assert out["camera_angles"].shape == (2, 50, 3)
    r = np.asarray(out["pose_matrix"])
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-5)


def test_whole_sequence_equals_all_neighbourhoods(net_and_params):
    # Inference on (B, T, F) = training on the T neighbourhoods centred on every frame: the
    # dilated chain reads exactly the 32-frame window, and both pool over all T positions.
    net, params = net_and_params
    seq = jnp.asarray(np.random.default_rng(1).normal(size=(1, 45, 12)), jnp.float32)
    whole = net.apply(params, seq)
    windows = net.apply(params, _windows(seq, np.arange(45)))
    for key in whole:
        np.testing.assert_allclose(np.asarray(whole[key]), np.asarray(windows[key]), atol=2e-5, rtol=1e-4)


def test_position_output_depends_on_far_frames_only_through_the_pool(net_and_params):
    # Frame 55 is outside frame 5's 32-frame window: it reaches frame 5 only through the global
    # max-pool, which must therefore carry it ...
    net, params = net_and_params
    seq = np.random.default_rng(2).normal(size=(1, 60, 12)).astype(np.float32)
    base = net.apply(params, jnp.asarray(seq))["camera_angles"]
    seq2 = seq.copy()
    seq2[0, 55] += 5.0
    moved = net.apply(params, jnp.asarray(seq2))["camera_angles"]
    assert np.abs(np.asarray(moved - base))[0, 5].max() > 1e-6
    # ... and that masked positions take no part in the pool.
    mask = np.ones((1, 60), bool)
    mask[0, 30:] = False
    a = net.apply(params, jnp.asarray(seq), jnp.asarray(mask))["camera_angles"]
    seq3 = seq.copy()
    seq3[0, 59] += 5.0  # only masked positions (30+) have frame 59 in their window (t-16 .. t+15)
    b = net.apply(params, jnp.asarray(seq3), jnp.asarray(mask))["camera_angles"]
    np.testing.assert_allclose(np.asarray(a)[0, :30], np.asarray(b)[0, :30], atol=1e-6)
    assert np.abs(np.asarray(a - b))[0, 45:].max() > 1e-6  # the masked positions themselves do see it


def test_only_fc_variant_sees_its_window_alone():
    # pooling=False (the paper's "only FC"): a frame outside position 5's window changes nothing.
    net = PooledRegressor(**SMALL, pooling=False)
    params = jax.jit(net.init)(jax.random.key(0), jnp.zeros((1, 40, 12)))
    assert not any("pool_proj" in k for k in params["params"]["block0"])
    seq = np.random.default_rng(2).normal(size=(1, 60, 12)).astype(np.float32)
    moved = seq.copy()
    moved[0, 55] += 5.0
    a, b = (np.asarray(net.apply(params, jnp.asarray(x))["camera_angles"]) for x in (seq, moved))
    np.testing.assert_array_equal(a[0, :20], b[0, :20])
    assert np.abs(a[0, 45:] - b[0, 45:]).max() > 0


def test_bad_input_rank(net_and_params):
    net, params = net_and_params
    with pytest.raises(ValueError, match=r"\(B, N, 32, F\) or \(B, T, F\)"):
        net.apply(params, jnp.zeros((45, 12)))
