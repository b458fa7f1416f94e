"""Rotation representations: axis-angle, matrix, unit quaternion, 6D.

Conventions:
  * Rotation matrices act on column vectors, `x' = R @ x`, and are right-handed (det = +1).
  * Axis-angle `(..., 3)`: direction = axis, norm = angle in radians (right-hand rule).
    Conversions *to* axis-angle return angles in [0, pi].
  * Quaternions `(..., 4)` are scalar-first `(w, x, y, z)` and unit norm; `q` and `-q` are the same
    rotation and conversions *to* quaternions return the one with `w >= 0`. Products follow the
    Hamilton convention, so `quaternion_to_matrix(quaternion_multiply(a, b)) == Ra @ Rb`.
  * 6D (Zhou et al., CVPR 2019, "On the continuity of rotation representations"): the first two
    columns of the matrix, concatenated: `r6 = [R[:, 0], R[:, 1]]`.

Every function is branch-free (`jnp.where` selections), so it works under `jit`, `vmap` and `grad`.
Public functions validate their input eagerly and then call a jitted core, so eager calls compile
once per shape instead of dispatching dozens of small ops.
Where a formula has a removable singularity (angle 0), the value and the gradient there come from a
Taylor series, and the other branch is fed a harmless dummy input so that no NaN leaks into the
gradient through `jnp.where`.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from posejax._checks import check_array

# Below this angle (radians) sin(x)/x and atan(x)/x use their Taylor series. At 1e-3 the first
# dropped term is ~x^6/5040 < 1e-21, far below float32 resolution.
_SMALL_ANGLE = 1e-3
# Guards divisions by norms of vectors that should be unit-ish (quaternions, 6D columns).
_EPS = 1e-12


def _as_float(x, name, shape):
    """Validates `x`; returns a floating jax array (float32 unless the input is already float64)."""
    x = check_array(x, name, shape, dtype=None)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    return x


def _sinc_from_sq(x2):
    """sin(x) / x given x^2 >= 0; exact in value and gradient at x = 0."""
    small = x2 < _SMALL_ANGLE**2
    # The sqrt only sees values where its gradient is finite (double-where trick).
    x = jnp.sqrt(jnp.where(small, 1.0, x2))
    return jnp.where(small, 1.0 - x2 / 6.0 + x2 * x2 / 120.0, jnp.sin(x) / x)


def _skew(v):
    """Cross-product matrix `[v]_x` with `[v]_x @ u = v x u`; (..., 3) -> (..., 3, 3)."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    o = jnp.zeros_like(x)
    return jnp.stack(
        [jnp.stack([o, -z, y], -1), jnp.stack([z, o, -x], -1), jnp.stack([-y, x, o], -1)], -2)


# ----------------------------------------------------------------------------------------------
# Axis-angle <-> matrix.


@jax.jit
def _axis_angle_to_matrix(aa):
    theta2 = jnp.sum(aa * aa, axis=-1)
    a = _sinc_from_sq(theta2)  # sin(t) / t
    # (1 - cos t) / t^2 written as sinc(t/2)^2 / 2: no cancellation for small t in float32.
    b = 0.5 * _sinc_from_sq(0.25 * theta2) ** 2
    k = _skew(aa)
    eye = jnp.eye(3, dtype=aa.dtype)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def axis_angle_to_matrix(axis_angle):
    """Rodrigues' formula.

    Args:
      axis_angle: (..., 3) axis times angle, radians.

    Returns:
      (..., 3, 3) rotation matrices. Exact (value and gradient) at the zero vector.
    """
    return _axis_angle_to_matrix(_as_float(axis_angle, "axis_angle", ("...", 3)))


def matrix_to_axis_angle(matrix):
    """Inverse of `axis_angle_to_matrix`, stable at 0 and near pi.

    Goes through the quaternion (Shepperd's selection), so the axis stays accurate when the
    antisymmetric part of the matrix vanishes at pi.

    Args:
      matrix: (..., 3, 3) rotation matrices.

    Returns:
      (..., 3) axis-angle with angle in [0, pi]. At exactly pi, `v` and `-v` are equivalent and
      either may be returned.
    """
    m = _as_float(matrix, "matrix", ("...", 3, 3))
    return _matrix_to_axis_angle(m)


@jax.jit
def _matrix_to_axis_angle(m):
    return _quaternion_to_axis_angle(_matrix_to_quaternion(m))


# ----------------------------------------------------------------------------------------------
# Quaternions.


def _normalize(v):
    return v / jnp.sqrt(jnp.maximum(jnp.sum(v * v, axis=-1, keepdims=True), _EPS))


def _standardize(q):
    """Picks the representative with w >= 0."""
    return jnp.where(q[..., :1] < 0, -q, q)


def axis_angle_to_quaternion(axis_angle):
    """Axis-angle (..., 3) -> unit quaternion (..., 4), scalar-first; w >= 0 for angles <= pi."""
    aa = _as_float(axis_angle, "axis_angle", ("...", 3))
    return _axis_angle_to_quaternion(aa)


@jax.jit
def _axis_angle_to_quaternion(aa):
    theta2 = jnp.sum(aa * aa, axis=-1)
    small = theta2 < _SMALL_ANGLE**2
    half = 0.5 * jnp.sqrt(jnp.where(small, 1.0, theta2))
    # cos(t/2) and its series 1 - t^2/8 + t^4/384, so the gradient at t = 0 is exact.
    w = jnp.where(small, 1.0 - theta2 / 8.0 + theta2 * theta2 / 384.0, jnp.cos(half))
    s = 0.5 * _sinc_from_sq(0.25 * theta2)  # sin(t/2) / t
    return jnp.concatenate([w[..., None], s[..., None] * aa], axis=-1)


def quaternion_to_axis_angle(quaternion):
    """Quaternion (..., 4) (normalised internally) -> axis-angle (..., 3), angle in [0, pi]."""
    q = _as_float(quaternion, "quaternion", ("...", 4))
    return _quaternion_to_axis_angle(q)


@jax.jit
def _quaternion_to_axis_angle(q):
    q = _standardize(_normalize(q))
    w, v = q[..., 0], q[..., 1:]
    n2 = jnp.sum(v * v, axis=-1)
    small = n2 < _SMALL_ANGLE**2
    n = jnp.sqrt(jnp.where(small, 1.0, n2))
    # angle / |v| = 2 atan2(|v|, w) / |v|; for small |v| (hence w ~ 1) use the series of atan(u)/u
    # in u = |v| / w so the value and gradient are exact at the identity.
    # Unit q with small |v| has w ~ 1; the floor only protects a degenerate all-zero input.
    w_safe = jnp.where(small, jnp.maximum(w, 0.5), 1.0)
    u2 = n2 / (w_safe * w_safe)
    series = (2.0 / w_safe) * (1.0 - u2 / 3.0 + u2 * u2 / 5.0)
    factor = jnp.where(small, series, 2.0 * jnp.arctan2(n, w) / n)
    return factor[..., None] * v


def quaternion_to_matrix(quaternion):
    """Quaternion (..., 4), scalar-first (normalised internally) -> rotation matrix (..., 3, 3)."""
    q = _as_float(quaternion, "quaternion", ("...", 4))
    return _quaternion_to_matrix(q)


@jax.jit
def _quaternion_to_matrix(q):
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    # 2 / |q|^2 instead of 2 makes the result a rotation even for slightly non-unit input.
    s = 2.0 / jnp.maximum(jnp.sum(q * q, axis=-1), _EPS)
    xx, yy, zz = s * x * x, s * y * y, s * z * z
    xy, xz, yz = s * x * y, s * x * z, s * y * z
    wx, wy, wz = s * w * x, s * w * y, s * w * z
    rows = [
        jnp.stack([1.0 - (yy + zz), xy - wz, xz + wy], -1),
        jnp.stack([xy + wz, 1.0 - (xx + zz), yz - wx], -1),
        jnp.stack([xz - wy, yz + wx, 1.0 - (xx + yy)], -1),
    ]
    return jnp.stack(rows, -2)


def matrix_to_quaternion(matrix):
    """Rotation matrix (..., 3, 3) -> unit quaternion (..., 4), scalar-first, w >= 0.

    Shepperd's method: of the four algebraically equivalent formulas, the one whose pivot component
    is largest (>= 1/2) is selected with `jnp.where`, so there is no division by a small number.
    """
    m = _as_float(matrix, "matrix", ("...", 3, 3))
    return _matrix_to_quaternion(m)


@jax.jit
def _matrix_to_quaternion(m):
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # 4 q_i^2 for i = w, x, y, z.
    four_sq = jnp.stack([
        1.0 + m00 + m11 + m22,
        1.0 + m00 - m11 - m22,
        1.0 - m00 + m11 - m22,
        1.0 - m00 - m11 + m22,
    ], -1)
    # The selected pivot has 4 q^2 >= 1; the clamps only affect discarded candidates and keep their
    # gradients finite.
    two_q = jnp.sqrt(jnp.maximum(four_sq, 0.1))  # 2 |q_i|
    d_w, d_x, d_y = m21 - m12, m02 - m20, m10 - m01
    s_xy, s_xz, s_yz = m01 + m10, m02 + m20, m12 + m21
    cand = jnp.stack([
        jnp.stack([two_q[..., 0] ** 2, d_w, d_x, d_y], -1),
        jnp.stack([d_w, two_q[..., 1] ** 2, s_xy, s_xz], -1),
        jnp.stack([d_x, s_xy, two_q[..., 2] ** 2, s_yz], -1),
        jnp.stack([d_y, s_xz, s_yz, two_q[..., 3] ** 2], -1),
    ], -2)  # row i = 4 q_i * q
    cand = cand / (2.0 * two_q[..., :, None])  # row i = q (up to sign of q_i)
    best = jnp.argmax(four_sq, axis=-1)
    onehot = (jnp.arange(4) == best[..., None]).astype(m.dtype)
    q = jnp.sum(onehot[..., :, None] * cand, axis=-2)
    return _standardize(_normalize(q))


def quaternion_multiply(q1, q2):
    """Hamilton product q1 * q2 of (..., 4) quaternions (broadcasting); rotation of q2 then q1."""
    a = _as_float(q1, "q1", ("...", 4))
    b = _as_float(q2, "q2", ("...", 4))
    return _quaternion_multiply(a, b)


@jax.jit
def _quaternion_multiply(a, b):
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return jnp.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], -1)


def quaternion_conjugate(quaternion):
    """(w, x, y, z) -> (w, -x, -y, -z): the inverse rotation for unit quaternions."""
    q = _as_float(quaternion, "quaternion", ("...", 4))
    return q * jnp.array([1.0, -1.0, -1.0, -1.0], q.dtype)


# ----------------------------------------------------------------------------------------------
# 6D.


def matrix_to_rot6d(matrix):
    """Rotation matrix (..., 3, 3) -> 6D (..., 6) = first column then second column."""
    m = _as_float(matrix, "matrix", ("...", 3, 3))
    return jnp.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def rot6d_to_matrix(rot6d):
    """6D (..., 6) -> rotation matrix (..., 3, 3) by Gram-Schmidt on the two 3-vectors.

    Any input whose two halves are non-zero and not parallel maps to a valid rotation; the first
    column keeps the direction of the first half.
    """
    return _rot6d_to_matrix(_as_float(rot6d, "rot6d", ("...", 6)))


@jax.jit
def _rot6d_to_matrix(r):
    a1, a2 = r[..., :3], r[..., 3:]
    b1 = _normalize(a1)
    b2 = _normalize(a2 - jnp.sum(b1 * a2, axis=-1, keepdims=True) * b1)
    b3 = jnp.cross(b1, b2)
    return jnp.stack([b1, b2, b3], axis=-1)


# ----------------------------------------------------------------------------------------------
# Elementary rotations.


def _elementary(angle, i, j, name):
    return _elementary_core(_as_float(angle, name, ("...",)), i, j)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _elementary_core(a, i, j):
    # Built by stacking entries, not by scatter updates: stacking keeps the batch's sharding and
    # differentiates to plain slices.
    c, s = jnp.cos(a), jnp.sin(a)
    one, zero = jnp.ones_like(a), jnp.zeros_like(a)
    entries = {(i, i): c, (j, j): c, (i, j): -s, (j, i): s}
    rows = [jnp.stack([entries.get((r, k), one if r == k else zero) for k in range(3)], -1)
            for r in range(3)]
    return jnp.stack(rows, -2)


def rot_x(angle):
    """Right-handed rotation about +X by `angle` (..., ) radians -> (..., 3, 3)."""
    return _elementary(angle, 1, 2, "angle")


def rot_y(angle):
    """Right-handed rotation about +Y by `angle` (..., ) radians -> (..., 3, 3)."""
    return _elementary(angle, 2, 0, "angle")


def rot_z(angle):
    """Right-handed rotation about +Z by `angle` (..., ) radians -> (..., 3, 3)."""
    return _elementary(angle, 0, 1, "angle")
