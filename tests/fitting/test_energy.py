"""Tests of the bundle-adjustment energy terms (posejax.fitting.energy).

One jitted energy and one jitted gradient, shared by all tests of a given T (few compilations).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posejax import fast_compile
from posejax.body import kinematics, load_body_model
from posejax.fitting import energy as E
from posejax.fitting.initialization import project_keypoints

T = 6
WIDTH = 1000.0

_TRACES = {"energy": 0}


def _counted_energy(params, data, weights, model, prior):
    _TRACES["energy"] += 1  # Python side effect: runs only when jit (re)traces
    return E.total_energy(params, data, weights, model=model, pose_prior=prior)


# posejax's CPU compile options, as bundle adjustment uses them (the tests compile several shapes).
ENERGY = fast_compile.jit(_counted_energy)
GRAD = fast_compile.jit(jax.grad(lambda p, d, w, m, g: E.total_energy(p, d, w, model=m, pose_prior=g)[0]))


@pytest.fixture(scope="module")
def model():
    return load_body_model("open-lite")


@pytest.fixture(scope="module")
def prior():
    return E.default_pose_prior()


def _params(t=T, seed=0, static=False):
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.2, (1 if static else t, 24, 3)).astype(np.float32)
    pose = np.repeat(pose, t, 0) if static else pose
    scale = np.full(t, 400.0, np.float32) if static else rng.uniform(380, 420, t).astype(np.float32)
    trans = (np.tile([[500.0, 500.0]], (t, 1)) if static
             else 500 + np.cumsum(rng.normal(0, 5, (t, 2)), 0)).astype(np.float32)
    return E.BAParams(betas=jnp.asarray(rng.normal(0, 0.5, 10), jnp.float32), pose=jnp.asarray(pose),
                      scale=jnp.asarray(scale), translation=jnp.asarray(trans))


def _data_from(params, model, layout="coco17", conf=None, mask=None):
    """Keypoints and init joints generated from the params themselves."""
    kp = project_keypoints(model, layout, params.pose, params.betas, params.scale, params.translation)
    joints = kinematics.joints(model, params.pose, params.betas)
    return E.make_data(kp, conf, init_joints=joints, image_width=WIDTH, frame_mask=mask, layout=layout)


def _w(**kw):
    return E.EnergyWeights(**kw)


def test_forward_model_matches_kinematics(model):
    p = _params()
    j, kp = E.forward_model(model, "coco17", p)
    np.testing.assert_allclose(j, kinematics.joints(model, p.pose, p.betas), atol=1e-5)
    np.testing.assert_allclose(kp, project_keypoints(model, "coco17", p.pose, p.betas, p.scale,
                                                     p.translation), atol=1e-3)


def test_keys_and_terms_sum(model, prior):
    p = _params()
    total, terms = ENERGY(p, _data_from(p, model), _w(), model, prior)
    assert set(terms) == set(E.TERM_KEYS)
    parts = sum(float(terms[k]) for k in ("reprojection", "smooth_joints", "smooth_keypoints",
                                          "smooth_camera", "pose_prior", "init_prior", "shape_prior"))
    assert np.isclose(float(total), parts, rtol=1e-5, atol=1e-3)
    assert np.isclose(float(terms["E_R"] + terms["E_T"] + terms["E_P"]), float(total), rtol=1e-5, atol=1e-3)
    assert all(np.isfinite(float(v)) for v in terms.values())


@pytest.mark.parametrize("kind", ["huber", "hinge"])
def test_reprojection_zero_at_truth(model, kind):
    p = _params()
    data = _data_from(p, model)
    e, per_frame = E.reprojection_term(p, data, _w(robust_kind=kind), model=model)
    assert per_frame.shape == (T,)
    assert float(e) < 1e-4
    # Perturbing the camera raises it; the hinge ignores shifts below 5 px, Huber does not.
    shifted = dataclasses.replace(p, translation=p.translation + jnp.array([3.0, 0.0]))
    e3 = float(E.reprojection_term(shifted, data, _w(robust_kind=kind), model=model)[0])
    assert (e3 < 1e-4) if kind == "hinge" else np.isclose(e3, T * 17 * 0.5 * 9, rtol=1e-3)
    far = dataclasses.replace(p, translation=p.translation + jnp.array([20.0, 0.0]))
    assert float(E.reprojection_term(far, data, _w(robust_kind=kind), model=model)[0]) > e3 + 1.0


def test_reprojection_confidence_weighting_and_nan(model):
    p = _params()
    data = _data_from(p, model)
    kp = np.array(data.keypoints)
    conf = np.ones((T, 17), np.float32)
    kp[1, 3] = np.nan
    conf[1, 3] = 0.0
    kp[2, 4] += 100.0  # an outlier with zero confidence
    conf[2, 4] = 0.0
    d = dataclasses.replace(data, keypoints=jnp.asarray(kp), confidence=jnp.asarray(conf))
    e, per_frame = E.reprojection_term(p, d, _w(), model=model)
    assert float(e) < 1e-4 and np.all(np.isfinite(per_frame))


def test_static_sequence_has_zero_smoothness(model):
    p = _params(static=True)
    s = E.smoothness_terms(p, _data_from(p, model), _w(), model=model)
    assert set(s) == {"smooth_joints", "smooth_keypoints", "smooth_camera"}
    for k, v in s.items():
        assert abs(float(v)) < 1e-6, k


def test_scale_change_not_penalised_by_camera_term(model):
    p = _params(static=True)
    data = _data_from(p, model)
    zoom = dataclasses.replace(p, scale=p.scale * jnp.linspace(1.0, 2.0, T))
    s = E.smoothness_terms(zoom, data, _w(), model=model)
    assert float(s["smooth_camera"]) == 0.0
    assert abs(float(s["smooth_joints"])) < 1e-6  # 3D joints do not depend on the camera
    # The gradient of the camera term w.r.t. scale is exactly zero.
    g = jax.grad(lambda q: E.smoothness_terms(q, data, _w(), model=model)["smooth_camera"])(zoom)
    assert np.all(np.asarray(g.scale) == 0.0)


def test_camera_translation_bound():
    bound = 0.1 * WIDTH
    inside = jnp.array([[0.0, 0.0], [60.0, 70.0], [60.0 - 99.0, 70.0]])  # steps 92.2 and 99 px
    pen = E.camera_translation_penalty(inside, bound)
    assert np.all(np.asarray(pen) == 0.0)
    outside = jnp.array([[0.0, 0.0], [0.0, 130.0]])
    np.testing.assert_allclose(E.camera_translation_penalty(outside, bound), [30.0 ** 2], rtol=1e-6)
    # C1 at the bound: value and slope go to zero there.
    f = lambda x: E.camera_translation_penalty(jnp.array([[0.0, 0.0], [x, 0.0]]), bound)[0]
    assert float(jax.grad(f)(bound)) == 0.0 and float(jax.grad(f)(bound + 1e-3)) < 1e-2
    assert float(jax.grad(f)(bound + 10.0)) == pytest.approx(20.0, rel=1e-4)
    assert np.isfinite(float(jax.grad(f)(0.0)))  # zero motion: safe norm


def test_camera_term_in_energy_uses_image_width(model):
    p = _params(static=True)
    data = _data_from(p, model)
    steps = jnp.arange(T, dtype=jnp.float32)[:, None] * jnp.array([[90.0, 0.0]])
    moved = dataclasses.replace(p, translation=p.translation + steps)
    assert float(E.smoothness_terms(moved, data, _w(), model=model)["smooth_camera"]) == 0.0
    narrow = dataclasses.replace(data, image_width=jnp.float32(800.0))  # bound 80 px
    s = float(E.smoothness_terms(moved, narrow, _w(), model=model)["smooth_camera"])
    assert s == pytest.approx((T - 1) * 10.0 ** 2, rel=1e-4)


def test_priors(model, prior):
    p = _params()
    data = _data_from(p, model)
    terms, e_init = E.prior_terms(p, data, _w(), model=model, pose_prior=prior)
    assert set(terms) == {"pose_prior", "init_prior", "shape_prior"}
    assert e_init.shape == (T,) and float(jnp.max(e_init)) < 1e-8
    assert float(terms["init_prior"]) < 1e-6
    assert float(terms["shape_prior"]) == pytest.approx(T * float(jnp.sum(p.betas ** 2)), rel=1e-5)
    # The init prior is root-relative: moving the init as a whole changes nothing ...
    shifted = dataclasses.replace(data, init_joints=data.init_joints + jnp.array([0.3, -0.2, 1.0]))
    assert float(E.prior_terms(p, shifted, _w(), model=model, pose_prior=prior)[0]["init_prior"]) < 1e-6
    # ... bending the pose away from the init does.
    bent = dataclasses.replace(p, pose=p.pose.at[:, 18].add(0.5))
    assert float(E.prior_terms(bent, data, _w(), model=model, pose_prior=prior)[0]["init_prior"]) > 1e-2
    # GMM: a likely pose (mean of the heaviest component) beats an extreme one; orientation-free.
    mean_pose = jnp.concatenate([jnp.zeros(3), prior.means[jnp.argmax(prior.weights)]]).reshape(24, 3)
    likely = dataclasses.replace(p, pose=jnp.broadcast_to(mean_pose, (T, 24, 3)))
    wild = dataclasses.replace(p, pose=jnp.broadcast_to(mean_pose + 1.5, (T, 24, 3)))
    turned = dataclasses.replace(likely, pose=likely.pose.at[:, 0].set(jnp.array([0.0, 2.0, 0.0])))
    nll = lambda q: float(E.prior_terms(q, data, _w(), model=model, pose_prior=prior)[0]["pose_prior"])
    assert nll(likely) < nll(wild)
    assert nll(likely) == pytest.approx(nll(turned), rel=1e-5, abs=1e-3)


def test_zero_energy_at_static_truth_with_no_priors(model, prior):
    """With the priors off, the generating parameters of a static clip are a zero of E."""
    p = _params(static=True)
    w = _w(pose_prior=0.0, shape_prior=0.0)
    total, terms = ENERGY(p, _data_from(p, model), w, model, prior)
    assert abs(float(total)) < 1e-3, {k: float(v) for k, v in terms.items()}


def test_gradients_finite_with_missing_data(model, prior):
    p = _params()
    data = _data_from(p, model)
    kp = np.array(data.keypoints)
    conf = np.ones((T, 17), np.float32)
    kp[0, :5] = np.nan       # NaN keypoints masked via confidence 0
    conf[0, :5] = 0.0
    conf[2] = 0.0            # a frame with no detection
    kp[3, 1] = np.inf
    conf[3, 1] = np.nan      # NaN confidence
    mask = np.ones(T, np.float32)
    mask[-1] = 0.0           # a padded frame holding garbage data and NaN parameters
    kp[-1] = np.nan
    conf[-1] = np.nan
    init = np.array(data.init_joints)
    init[-1] = np.nan
    d = E.make_data(kp, conf, init_joints=init, image_width=WIDTH, frame_mask=mask)
    q = dataclasses.replace(p, pose=p.pose.at[-1].set(jnp.nan), scale=p.scale.at[-1].set(jnp.nan),
                            translation=p.translation.at[-1].set(jnp.nan))
    for kind in ("huber", "hinge"):
        w = _w(robust_kind=kind)
        total, terms = ENERGY(q, d, w, model, prior)
        assert np.isfinite(float(total))
        g = GRAD(q, d, w, model, prior)
        for leaf in jax.tree_util.tree_leaves(g):
            assert np.all(np.isfinite(np.asarray(leaf)))
        # Padded frame: exactly zero gradient.
        assert np.all(np.asarray(g.pose[-1]) == 0) and float(g.scale[-1]) == 0
        assert np.all(np.asarray(g.translation[-1]) == 0)
    # Static clip at the truth (zero motion, zero residuals): still finite gradients.
    s = _params(static=True)
    g = GRAD(s, _data_from(s, model), _w(), model, prior)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree_util.tree_leaves(g))


def test_padding_is_exact(model, prior):
    p = _params(seed=3)
    data = _data_from(p, model)
    noisy = dataclasses.replace(data, keypoints=data.keypoints + 4.0 * jax.random.normal(
        jax.random.PRNGKey(0), data.keypoints.shape))
    p2 = dataclasses.replace(p, pose=p.pose + 0.05)  # all terms non-zero
    e0, t0 = ENERGY(p2, noisy, _w(), model, prior)
    pad = 3
    padp = E.BAParams(betas=p2.betas,
                      pose=jnp.concatenate([p2.pose, jnp.full((pad, 24, 3), 7.0)]),
                      scale=jnp.concatenate([p2.scale, jnp.full((pad,), 1e4)]),
                      translation=jnp.concatenate([p2.translation, jnp.full((pad, 2), -1e5)]))
    padd = E.make_data(jnp.concatenate([noisy.keypoints, jnp.full((pad, 17, 2), 123.0)]),
                       jnp.concatenate([noisy.confidence, jnp.ones((pad, 17))]),
                       init_joints=jnp.concatenate([noisy.init_joints, jnp.zeros((pad, 24, 3))]),
                       image_width=WIDTH, frame_mask=jnp.arange(T + pad) < T)
    e1, t1 = ENERGY(padp, padd, _w(), model, prior)
    assert float(e0) == pytest.approx(float(e1), rel=1e-6)
    for k in E.TERM_KEYS:
        assert float(t0[k]) == pytest.approx(float(t1[k]), rel=1e-5, abs=1e-5), k
    g0 = GRAD(p2, noisy, _w(), model, prior)
    g1 = GRAD(padp, padd, _w(), model, prior)
    np.testing.assert_allclose(g1.pose[:T], g0.pose, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(g1.betas, g0.betas, rtol=1e-4, atol=1e-3)
    assert np.all(np.asarray(g1.pose[T:]) == 0)


def test_jit_reuses_compilation_across_data_and_weights(model, prior):
    p = _params(seed=5)
    d1 = _data_from(p, model)
    d2 = _data_from(_params(seed=6), model)
    ENERGY(p, d1, _w(), model, prior)
    before = _TRACES["energy"]
    e1 = float(ENERGY(p, d1, _w(), model, prior)[0])
    e2 = float(ENERGY(p, d2, _w(), model, prior)[0])
    e3 = float(ENERGY(p, dataclasses.replace(d2, image_width=jnp.float32(640.0)),
                      _w(pose_prior=3.0, smooth_joints=10.0), model, prior)[0])
    assert _TRACES["energy"] == before  # no retrace: data, widths and weights are arguments
    assert e1 != e2 and e2 != e3
    # Matches the unjitted function.
    assert e2 == pytest.approx(float(E.total_energy(p, d2, _w(), model=model, pose_prior=prior)[0]),
                               rel=1e-4)
    # A static change (the robust kind, not used by another test) does retrace.
    ENERGY(p, d1, _w(robust_kind="l2"), model, prior)
    assert _TRACES["energy"] == before + 1


def test_make_data_validation(model):
    with pytest.raises(ValueError):
        E.make_data(np.zeros((T, 17, 2)), np.ones((T, 16)), init_joints=np.zeros((T, 24, 3)),
                    image_width=WIDTH)
    with pytest.raises(ValueError):
        E.make_data(np.zeros((T, 17, 2)), init_joints=np.zeros((T, 23, 3)), image_width=WIDTH)
    d = E.make_data(np.concatenate([np.zeros((T, 17, 2)), np.full((T, 17, 1), 0.5)], -1),
                    init_joints=np.zeros((T, 24, 3)), image_width=WIDTH)
    assert d.keypoints.shape == (T, 17, 2) and np.allclose(d.confidence, 0.5)
    with pytest.raises(ValueError):
        E.EnergyWeights(robust_kind="cauchy")
    with pytest.raises(ValueError):
        E.forward_model(model, "no_such_layout", _params())
