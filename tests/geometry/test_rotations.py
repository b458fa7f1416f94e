"""Rotation conversions: round trips (float32, 1e-6), edge cases at angle 0 and pi, gradients."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from posejax import geometry as g

# All tests run in float32 (the library default). Worst case over 4e5 random samples, half of them
# within 1e-2 of pi, was 7.2e-7 for every axis-angle round trip (float32 spacing at pi: 2.4e-7).
ATOL = 1e-6

aa_to_mat_to_aa = jax.jit(lambda a: g.matrix_to_axis_angle(g.axis_angle_to_matrix(a)))
aa_to_quat_to_aa = jax.jit(lambda a: g.quaternion_to_axis_angle(g.axis_angle_to_quaternion(a)))
aa_to_mat = jax.jit(g.axis_angle_to_matrix)
aa_to_quat = jax.jit(g.axis_angle_to_quaternion)
mat_to_quat = jax.jit(g.matrix_to_quaternion)
aa_via_all = jax.jit(lambda a: g.quaternion_to_axis_angle(g.matrix_to_quaternion(
    g.rot6d_to_matrix(g.matrix_to_rot6d(g.quaternion_to_matrix(g.axis_angle_to_quaternion(a)))))))


def _raises(message):
    """pytest.raises(ValueError) whose message contains `message` literally."""
    return pytest.raises(ValueError, match=re.escape(message))


def _direction(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


directions = st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3).filter(
    lambda v: np.linalg.norm(v) > 1e-3).map(_direction)
# Angles up to pi - 1e-5: beyond that float32 cannot tell the angle from its pi-complement reliably;
# the last stretch up to pi is covered by the explicit cases below.
angles = st.one_of(st.floats(0.0, np.pi - 1e-5), st.floats(0.0, 1e-3),
                   st.floats(np.pi - 1e-2, np.pi - 1e-5))


def _aa(direction, angle):
    return (direction * angle).astype(np.float32)


@settings(max_examples=150, deadline=None)
@given(directions, angles)
def test_axis_angle_matrix_round_trip(direction, angle):
    aa = _aa(direction, angle)
    np.testing.assert_allclose(aa_to_mat_to_aa(aa), aa, atol=ATOL, rtol=0)


@settings(max_examples=150, deadline=None)
@given(directions, angles)
def test_axis_angle_quaternion_round_trip(direction, angle):
    aa = _aa(direction, angle)
    np.testing.assert_allclose(aa_to_quat_to_aa(aa), aa, atol=ATOL, rtol=0)
    # quaternion -> matrix -> 6D -> matrix -> quaternion -> axis-angle.
    np.testing.assert_allclose(aa_via_all(aa), aa, atol=ATOL, rtol=0)


@settings(max_examples=100, deadline=None)
@given(directions, angles)
def test_matches_scipy(direction, angle):
    aa = _aa(direction, angle)
    ref = Rotation.from_rotvec(aa.astype(np.float64))
    np.testing.assert_allclose(aa_to_mat(aa), ref.as_matrix(), atol=ATOL)
    q = np.asarray(aa_to_quat(aa))
    q_ref = ref.as_quat(scalar_first=True)
    np.testing.assert_allclose(q, q_ref * np.sign(q_ref[0] + 1e-30), atol=ATOL)
    np.testing.assert_allclose(mat_to_quat(ref.as_matrix().astype(np.float32)), q, atol=ATOL)


def test_rot6d_round_trip_and_layout():
    rng = np.random.default_rng(0)
    R = Rotation.random(500, random_state=rng).as_matrix().astype(np.float32)
    r6 = np.asarray(g.matrix_to_rot6d(R))
    assert r6.shape == (500, 6)
    # Zhou et al.: first column, then second column.
    np.testing.assert_array_equal(r6[:, :3], R[:, :, 0])
    np.testing.assert_array_equal(r6[:, 3:], R[:, :, 1])
    # 2e-6: the float32 input matrices themselves are orthonormal only to ~1e-7 per entry, and the
    # Gram-Schmidt step adds a few ulps.
    np.testing.assert_allclose(g.rot6d_to_matrix(r6), R, atol=2e-6)
    np.testing.assert_allclose(g.matrix_to_rot6d(g.rot6d_to_matrix(r6)), r6, atol=2e-6)


EDGE_DIRECTIONS = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1), (0.3, -0.5, 0.8), (-1, 2, -0.5)]
EDGE_ANGLES = [0.0, 1e-8, 1e-4, np.pi - 1e-6, np.pi]


def test_explicit_edge_angles():
    # Every direction at 0, tiny angles, pi - 1e-6 and pi.
    for angle in EDGE_ANGLES:
        for d in EDGE_DIRECTIONS:
            aa = _aa(_direction(d), angle)
            R_ref = Rotation.from_rotvec(aa.astype(np.float64)).as_matrix()
            np.testing.assert_allclose(aa_to_mat(aa), R_ref, atol=ATOL)
            for out in (aa_to_mat_to_aa(aa), aa_to_quat_to_aa(aa), aa_via_all(aa)):
                out = np.asarray(out)
                err = np.abs(out - aa).max()
                if angle == np.pi:
                    # v and -v are the same rotation (and float32(pi) is a hair above pi).
                    err = min(err, np.abs(out + aa).max())
                assert err <= ATOL, (angle, d, out, aa)
                np.testing.assert_allclose(aa_to_mat(out), R_ref, atol=ATOL)


def test_pi_rotations_about_axes_give_exact_axis():
    for i in range(3):
        R = np.ones(3)
        R[i] = -1.0
        R = -np.diag(R)  # rotation by pi about axis i: diag with +1 at i, -1 elsewhere
        aa = np.asarray(g.matrix_to_axis_angle(R.astype(np.float32)))
        expected = np.zeros(3)
        expected[i] = np.pi
        np.testing.assert_allclose(np.abs(aa), expected, atol=ATOL)
        q = np.asarray(g.matrix_to_quaternion(R.astype(np.float32)))
        np.testing.assert_allclose(np.abs(q), np.eye(4)[i + 1], atol=ATOL)


def test_identity_cases_exact():
    np.testing.assert_array_equal(g.axis_angle_to_matrix(np.zeros(3)), np.eye(3))
    np.testing.assert_array_equal(g.matrix_to_axis_angle(np.eye(3)), np.zeros(3))
    np.testing.assert_array_equal(g.axis_angle_to_quaternion(np.zeros(3)), [1, 0, 0, 0])
    np.testing.assert_array_equal(g.quaternion_to_axis_angle(np.array([1.0, 0, 0, 0])), np.zeros(3))
    np.testing.assert_array_equal(g.matrix_to_quaternion(np.eye(3)), [1, 0, 0, 0])


def _fd_jacobian(f, x, h=1e-2):
    cols = []
    for i in range(x.shape[0]):
        e = np.zeros_like(x)
        e[i] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, -1)


def _skew_generators():
    """d R / d a_i at a = 0 is the cross-product matrix [e_i]_x; stacked on the last axis."""
    e = np.eye(3)
    return np.stack([np.stack([np.cross(e[i], e[j]) for j in range(3)], -1) for i in range(3)], -1)


GRADIENT_CASES = {
    # name: (jitted function, exact Jacobian at a = 0)
    "axis_angle_to_matrix": (aa_to_mat, _skew_generators()),
    "axis_angle_to_quaternion": (aa_to_quat, np.vstack([np.zeros(3), 0.5 * np.eye(3)])),
    # The round trips are the identity map (through R = I and q = 1 exactly).
    "matrix_round_trip": (aa_to_mat_to_aa, np.eye(3)),
    "quaternion_round_trip": (aa_to_quat_to_aa, np.eye(3)),
}


@pytest.mark.parametrize("name", list(GRADIENT_CASES))
def test_gradients_at_zero_exact_and_match_finite_differences(name):
    f, expected = GRADIENT_CASES[name]
    x0 = jnp.zeros(3)
    jf = np.asarray(jax.jacfwd(f)(x0))
    jr = np.asarray(jax.jacrev(f)(x0))
    np.testing.assert_allclose(jf, expected, atol=1e-7, rtol=0)
    np.testing.assert_allclose(jr, expected, atol=1e-7, rtol=0)
    # Central differences in float32 with h = 1e-2: truncation error ~h^2/6, roundoff ~1e-5.
    fd = _fd_jacobian(f, np.zeros(3, np.float32))
    np.testing.assert_allclose(jr.reshape(fd.shape), fd, atol=1e-4)
    # Same away from zero, near pi (finite everywhere).
    a = jnp.asarray(_aa(_direction([0.3, -0.5, 0.8]), np.pi - 1e-3))
    ja = np.asarray(jax.jacrev(f)(a))
    assert np.all(np.isfinite(ja))
    np.testing.assert_allclose(ja.reshape(fd.shape), _fd_jacobian(f, np.asarray(a), h=1e-4),
                               atol=2e-2)


def test_gradients_finite_at_identity_matrix_and_for_6d():
    # A loss through matrix_to_axis_angle at exactly R = I, the singular point of the log map.
    def loss(R):
        aa = g.matrix_to_axis_angle(R)
        return jnp.sum(aa ** 2 + aa)

    gR = jax.jit(jax.grad(loss))(jnp.eye(3))
    assert np.all(np.isfinite(gR))
    # d loss / dR at I: loss ~ sum(vee(R - R^T) / 2), so the gradient is antisymmetric, +-1/2.
    np.testing.assert_allclose(gR, 0.5 * np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]), atol=1e-6)
    r6 = jnp.array([1.0, 0.2, -0.1, 0.3, 1.0, 0.5])
    assert np.all(np.isfinite(jax.jit(jax.jacrev(g.rot6d_to_matrix))(r6)))


def test_orthonormal_and_det_one():
    rng = np.random.default_rng(1)
    aa = rng.normal(size=(200, 3)).astype(np.float32) * 2
    q = rng.normal(size=(200, 4)).astype(np.float32) * 3  # unnormalised on purpose
    r6 = rng.normal(size=(200, 6)).astype(np.float32)
    for R in (g.axis_angle_to_matrix(aa), g.quaternion_to_matrix(q), g.rot6d_to_matrix(r6),
              g.rot_x(aa[:, 0]), g.rot_y(aa[:, 1]), g.rot_z(aa[:, 2])):
        R = np.asarray(R, np.float64)
        np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(np.eye(3), R.shape),
                                   atol=5e-6)
        np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=5e-6)
    # Gram-Schmidt keeps the first column's direction and the plane of the first two.
    R = np.asarray(g.rot6d_to_matrix(r6))
    np.testing.assert_allclose(R[:, :, 0], r6[:, :3] / np.linalg.norm(r6[:, :3], axis=-1,
                                                                       keepdims=True), atol=1e-6)


def test_quaternion_multiply_composes_rotations():
    rng = np.random.default_rng(2)
    a = Rotation.random(50, random_state=rng)
    b = Rotation.random(50, random_state=rng)
    qa, qb = a.as_quat(scalar_first=True), b.as_quat(scalar_first=True)
    qab = g.quaternion_multiply(qa, qb)
    np.testing.assert_allclose(g.quaternion_to_matrix(qab), (a * b).as_matrix(), atol=2e-6)
    np.testing.assert_allclose(
        g.quaternion_multiply(qa, g.quaternion_conjugate(qa)),
        np.broadcast_to([1.0, 0, 0, 0], (50, 4)), atol=1e-6)
    assert np.all(np.asarray(g.matrix_to_quaternion(a.as_matrix()))[:, 0] >= 0)


def test_elementary_rotations_match_scipy():
    angles = np.array([-2.0, -0.3, 0.0, 0.7, 3.0], np.float32)
    for f, axis in ((g.rot_x, "x"), (g.rot_y, "y"), (g.rot_z, "z")):
        expected = Rotation.from_euler(axis, angles[:, None]).as_matrix()
        np.testing.assert_allclose(f(angles), expected, atol=1e-6)
    assert g.rot_x(0.5).shape == (3, 3)


def test_batching_jit_vmap():
    rng = np.random.default_rng(3)
    aa = rng.normal(size=(2, 5, 24, 3)).astype(np.float32)
    R = jax.jit(g.axis_angle_to_matrix)(aa)
    assert R.shape == (2, 5, 24, 3, 3) and R.dtype == jnp.float32
    Rv = jax.vmap(g.axis_angle_to_matrix)(aa.reshape(-1, 3))
    np.testing.assert_allclose(Rv.reshape(R.shape), R, atol=1e-6)
    assert g.matrix_to_quaternion(R).shape == (2, 5, 24, 4)
    assert g.matrix_to_rot6d(R).shape == (2, 5, 24, 6)


def test_bad_inputs_raise():
    with _raises("`axis_angle` must have shape (..., 3), got (4, 2)"):
        g.axis_angle_to_matrix(np.zeros((4, 2)))
    with _raises("`matrix` must have shape (..., 3, 3), got (3, 4)"):
        g.matrix_to_axis_angle(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"`quaternion` must have shape \(\.\.\., 4\)"):
        g.quaternion_to_matrix(np.zeros(3))
    with pytest.raises(ValueError, match=r"`rot6d` must have shape \(\.\.\., 6\), got \(9,\)"):
        g.rot6d_to_matrix(np.zeros(9))
    with pytest.raises(ValueError, match="`axis_angle` contains NaN or inf values"):
        g.axis_angle_to_matrix(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="`q2` must have shape"):
        g.quaternion_multiply(np.zeros(4), np.zeros(3))
