"""Observation model: every effect measurable, clean preset exact, jit, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posejax.body.layouts import get_layout
from posejax.synth.observations import ObservationConfig, observe, person_scale

K = 23
FLIP = np.asarray(get_layout("coco23").flip_indices)
OFF = ObservationConfig.clean()


def _inputs(frames=2000, scale=300.0, seed=0):
    rng = np.random.default_rng(seed)
    kp = rng.uniform(200, 800, (frames, K, 2)).astype(np.float32)
    return kp, np.ones((frames, K), bool), np.full((frames,), scale, np.float32)


def _only(**kw):
    import dataclasses
    return dataclasses.replace(OFF, **kw)


def test_clean_is_exact():
    kp, vis, scale = _inputs(100)
    vis[:, :5] = False
    out, conf = observe(jax.random.key(0), kp, vis, scale, OFF, FLIP)
    np.testing.assert_array_equal(np.asarray(out), kp)
    np.testing.assert_array_equal(np.asarray(conf), 1.0)


@pytest.mark.parametrize("spread", [0.0, 0.5])
def test_noise_std_scales_with_person_size(spread):
    cfg = _only(noise_std=0.02, noise_spread=spread)
    for size in (100.0, 600.0):
        kp, vis, scale = _inputs(3000, size)
        out, conf = observe(jax.random.key(1), kp, vis, scale, cfg, FLIP)
        rms = np.sqrt(np.mean((np.asarray(out) - kp) ** 2))
        assert abs(rms / (0.02 * size) - 1) < 0.2, (spread, size, rms)


def test_confidence_correlates_with_error():
    cfg = _only(noise_std=0.02, noise_spread=0.5, confidence_jitter=0.2)
    kp, vis, scale = _inputs(2000)
    out, conf = observe(jax.random.key(2), kp, vis, scale, cfg, FLIP)
    err = np.linalg.norm(np.asarray(out) - kp, axis=-1).ravel()
    conf = np.asarray(conf).ravel()
    assert np.all((conf >= 0) & (conf <= 1))
    assert np.corrcoef(err, conf)[0, 1] < -0.6
    # Small errors -> high confidence, large -> low.
    assert conf[err < 2].mean() > 0.85 and conf[err > 20].mean() < 0.5


def test_drop_rate_and_missing_frames():
    kp, vis, scale = _inputs(4000)
    _, conf = observe(jax.random.key(3), kp, vis, scale, _only(drop_rate=0.2), FLIP)
    assert abs(np.mean(np.asarray(conf) == 0) - 0.2) < 0.01
    out, conf = observe(jax.random.key(4), kp, vis, scale, _only(missing_frame_rate=0.1), FLIP)
    conf = np.asarray(conf)
    whole = np.all(conf == 0, axis=1)
    assert abs(whole.mean() - 0.1) < 0.015
    assert np.all(conf[~whole] == 1)
    np.testing.assert_array_equal(np.asarray(out)[whole], 0.0)  # zero_missing


def test_truncation_zeroes_outside_points():
    kp, vis, scale = _inputs(50)
    kp[:, :4] = np.array([-5.0, 500.0])
    kp[:, 4:8] = np.array([500.0, 1000.5])
    _, conf = observe(jax.random.key(5), kp, vis, scale, _only(truncate=True), FLIP)
    conf = np.asarray(conf)
    np.testing.assert_array_equal(conf[:, :8], 0.0)
    np.testing.assert_array_equal(conf[:, 8:], 1.0)
    _, conf = observe(jax.random.key(5), kp, vis, scale, _only(truncate=True), FLIP,
                      image_size=(2000, 2000))
    np.testing.assert_array_equal(np.asarray(conf)[:, 4:], 1.0)


def test_swap_swaps_left_and_right():
    kp, vis, scale = _inputs(20)
    out, _ = observe(jax.random.key(6), kp, vis, scale, _only(swap_rate=1.0), FLIP)
    np.testing.assert_array_equal(np.asarray(out), kp[:, FLIP])
    out, _ = observe(jax.random.key(6), kp, vis, scale, _only(swap_rate=0.3), FLIP)
    swapped = np.all(np.asarray(out) == kp[:, FLIP], axis=(1, 2))
    assert 0.1 < swapped.mean() < 0.55


def test_jumps():
    kp, vis, scale = _inputs(500, 400.0)
    cfg = _only(jump_rate=0.1, jump_scale=(0.1, 0.5), jump_confidence=(0.1, 0.6))
    out, conf = observe(jax.random.key(7), kp, vis, scale, cfg, FLIP)
    dist = np.linalg.norm(np.asarray(out) - kp, axis=-1)
    jumped = dist > 0
    assert abs(jumped.mean() - 0.1) < 0.01
    assert dist[jumped].min() >= 40 - 1e-3 and dist[jumped].max() <= 200 + 1e-3
    conf = np.asarray(conf)
    assert conf[jumped].min() >= 0.1 and conf[jumped].max() <= 0.6 and np.all(conf[~jumped] == 1)


def test_self_occlusion():
    kp, vis, scale = _inputs(1000)
    vis[:, ::2] = False
    _, conf = observe(jax.random.key(8), kp, vis, scale, _only(occluded_drop_rate=1.0), FLIP)
    conf = np.asarray(conf)
    assert np.all(conf[:, ::2] == 0) and np.all(conf[:, 1::2] == 1)
    _, conf = observe(jax.random.key(8), kp, vis, scale,
                      _only(occluded_drop_rate=0.5, occluded_confidence=0.4), FLIP)
    hidden = np.asarray(conf)[:, ::2]
    assert abs(np.mean(hidden == 0) - 0.5) < 0.03
    np.testing.assert_allclose(hidden[hidden > 0], 0.4)
    out, _ = observe(jax.random.key(8), kp, vis, scale,
                     _only(noise_std=0.01, noise_spread=0.0, occluded_noise=3.0), FLIP)
    err = np.asarray(out) - kp
    ratio = np.sqrt(np.mean(err[:, ::2] ** 2) / np.mean(err[:, 1::2] ** 2))
    assert abs(ratio - 3.0) < 0.3


def test_defaults_jit_and_batch_invariance():
    kp, vis, scale = _inputs(200)
    cfg = ObservationConfig()
    out, conf = observe(jax.random.key(9), kp, vis, scale, cfg, FLIP)
    assert out.shape == (200, K, 2) and conf.shape == (200, K)
    frac_zero = np.mean(np.asarray(conf) == 0)
    assert 0.0 < frac_zero < 0.15
    jitted = jax.jit(lambda key, x: observe(key, x, vis, scale, cfg, FLIP))
    out2, conf2 = jitted(jax.random.key(9), jnp.asarray(kp))
    np.testing.assert_allclose(np.asarray(out2), np.asarray(out), atol=1e-4)
    np.testing.assert_allclose(np.asarray(conf2), np.asarray(conf), atol=1e-6)
    # Frames are numbered over the flattened leading dims: a leading axis of 1 changes nothing.
    out3, _ = observe(jax.random.key(9), kp[None], vis[None], scale[None], cfg, FLIP)
    np.testing.assert_allclose(np.asarray(out3)[0], np.asarray(out), atol=1e-4)


def test_person_scale():
    kp = np.array([[[0.0, 0.0], [30.0, 40.0], [10.0, 10.0]]])
    np.testing.assert_allclose(np.asarray(person_scale(kp)), [50.0])


def test_bad_config_and_inputs_raise():
    with pytest.raises(ValueError, match="drop_rate must be a probability"):
        ObservationConfig(drop_rate=1.5)
    with pytest.raises(ValueError, match="noise_std"):
        ObservationConfig(noise_std=-0.1)
    with pytest.raises(ValueError, match="jump_scale"):
        ObservationConfig(jump_scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="jump_confidence"):
        ObservationConfig(jump_confidence=(0.5, 1.5))
    with pytest.raises(ValueError, match="truncate"):
        ObservationConfig(truncate="yes")
    kp, vis, scale = _inputs(10)
    with pytest.raises(ValueError, match="flip_indices` is required"):
        observe(jax.random.key(0), kp, vis, scale, _only(swap_rate=0.1))
    with pytest.raises(ValueError, match="flip_indices"):
        observe(jax.random.key(0), kp, vis, scale, OFF, FLIP[:5])
    with pytest.raises(ValueError, match="visible"):
        observe(jax.random.key(0), kp, vis[:, :5], scale, OFF, FLIP)
    with pytest.raises(ValueError, match="keypoints2d"):
        observe(jax.random.key(0), kp[..., :1], vis, scale, OFF, FLIP)
    with pytest.raises(ValueError, match="ObservationConfig"):
        observe(jax.random.key(0), kp, vis, scale, {"noise_std": 0.1}, FLIP)
