"""Cameras and projection: intrinsics, the static (pitch, roll, height, FoV) rig, sign conventions,
projection against a hand-written numpy pinhole, depth clamping, back-projection, bad input."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posejax import geometry as g

W = H = 1000


def _raises(message):
    """pytest.raises(ValueError) whose message contains `message` literally."""
    return pytest.raises(ValueError, match=re.escape(message))


def _static(pitch=0.0, roll=0.0, height=1.6, hfov=np.deg2rad(60.0), image_size=(W, H)):
    f = lambda v: jnp.asarray(v, jnp.float32)
    return g.StaticCamera(pitch=f(pitch), roll=f(roll), height=f(height), hfov=f(hfov),
                          image_size=image_size)


def _numpy_project(X, K, R, t):
    """Reference pinhole in float64: K (R X + t), divided by depth."""
    Xc = X @ R.T + t
    uvw = Xc @ K.T
    return uvw[..., :2] / uvw[..., 2:]


# ----------------------------------------------------------------------------------------------
# Intrinsics.


def test_intrinsics_from_fov_and_focal_agree():
    K = np.asarray(g.intrinsics_from_fov(np.deg2rad(90.0), (1000, 800)))
    # tan(45 deg) = 1, so f = W / 2.
    np.testing.assert_allclose(K, [[500, 0, 500], [0, 500, 400], [0, 0, 1]], atol=1e-3)
    K60 = g.intrinsics_from_fov(np.deg2rad(60.0), (W, H))
    np.testing.assert_allclose(K60[0, 0], 500.0 / np.tan(np.deg2rad(30.0)), rtol=1e-6)
    np.testing.assert_allclose(K60, g.intrinsics_from_focal(866.0254, (W, H)), rtol=1e-6)
    np.testing.assert_allclose(g.focal_from_fov(np.deg2rad(60.0), W), 866.0254, rtol=1e-6)
    hfov = np.linspace(0.2, 2.8, 11).astype(np.float32)
    Ks = g.intrinsics_from_fov(hfov, (640, 480))
    assert Ks.shape == (11, 3, 3)
    np.testing.assert_allclose(g.fov_from_intrinsics(Ks, (640, 480)), hfov, atol=1e-6)
    np.testing.assert_allclose(g.fov_from_intrinsics(Ks), hfov, atol=1e-6)  # W = 2 cx
    # Explicit principal point overrides the centre; batched focal lengths.
    Kp = g.intrinsics_from_focal(np.array([100.0, 200.0]), principal_point=np.array([10.0, 20.0]))
    np.testing.assert_allclose(Kp[1], [[200, 0, 10], [0, 200, 20], [0, 0, 1]])


def test_fov_edge_pixels_project_to_image_border():
    # A ray at half the horizontal FoV to the side lands exactly on the left/right image edge.
    hfov = 1.1
    cam = g.PerspectiveCamera(K=g.intrinsics_from_fov(hfov, (W, H)), R=jnp.eye(3),
                              t=jnp.zeros(3))
    a = hfov / 2
    pts = np.array([[np.sin(a), 0, np.cos(a)], [-np.sin(a), 0, np.cos(a)]]) * 5
    np.testing.assert_allclose(g.project(pts, cam), [[W, H / 2], [0, H / 2]], atol=1e-3)


# ----------------------------------------------------------------------------------------------
# Static camera.


def test_static_camera_identity_orientation():
    cam = g.static_to_perspective(_static(pitch=0.0, roll=0.0, height=1.5))
    np.testing.assert_allclose(cam.R, np.diag([-1.0, -1.0, 1.0]), atol=1e-7)
    np.testing.assert_allclose(g.camera_center(cam), [0, 1.5, 0], atol=1e-6)
    # Same camera as look_at from (0, h, 0) towards +Z with world up +Y.
    R, t = g.look_at([0, 1.5, 0], [0, 1.5, 10.0])
    np.testing.assert_allclose(R, cam.R, atol=1e-6)
    np.testing.assert_allclose(t, cam.t, atol=1e-6)
    # Upright image: world +Y (up) is image up, world +X is image left (camera x = world -X).
    p = np.asarray(g.project(np.array([[0, 1.5, 5.0], [0, 2.5, 5.0], [1.0, 1.5, 5.0]]), cam))
    np.testing.assert_allclose(p[0], [W / 2, H / 2], atol=1e-3)
    assert p[1, 1] < H / 2 and abs(p[1, 0] - W / 2) < 1e-3
    assert p[2, 0] < W / 2 and abs(p[2, 1] - H / 2) < 1e-3


def test_static_camera_pitch_sign():
    horizon = np.array([[0.0, 1.6, 1e3]])  # straight ahead at camera height, far away
    ground = np.array([[0.0, 0.0, 5.0]])  # on the floor in front of the camera
    f = 500.0 / np.tan(np.deg2rad(30.0))
    for pitch in (0.3, -0.3):
        cam = _static(pitch=pitch, height=1.6)
        u, v = np.asarray(g.project(horizon, cam))[0]
        # Looking down (pitch > 0) puts the horizon above the centre, by f tan(pitch).
        np.testing.assert_allclose(u, W / 2, atol=1e-3)
        np.testing.assert_allclose(v, H / 2 - f * np.tan(pitch), atol=0.5)
    v_ground = [float(g.project(ground, _static(pitch=p))[0, 1]) for p in (0.0, 0.2, 0.4)]
    assert v_ground[0] > H / 2  # level camera: floor is below the centre
    assert v_ground[0] > v_ground[1] > v_ground[2]  # pitching down brings it towards the centre
    # The optical axis is (0, -sin p, cos p) in world coordinates, whatever the roll.
    cam = g.static_to_perspective(_static(pitch=0.4, roll=0.7))
    np.testing.assert_allclose(cam.R[2], [0, -np.sin(0.4), np.cos(0.4)], atol=1e-6)


def test_static_camera_roll_sign():
    # roll > 0: image content turns clockwise; a horizon point on the right half moves down.
    right = np.array([[-2.0, 1.6, 10.0]])  # world -X = image right at zero roll
    u0, v0 = np.asarray(g.project(right, _static(roll=0.0)))[0]
    assert u0 > W / 2 and abs(v0 - H / 2) < 1e-3
    u, v = np.asarray(g.project(right, _static(roll=0.2)))[0]
    assert v > H / 2
    # Exactly a rotation by the roll angle about the principal point.
    ang = np.arctan2(v - H / 2, u - W / 2)
    np.testing.assert_allclose(ang, 0.2, atol=1e-5)
    np.testing.assert_allclose(np.hypot(u - W / 2, v - H / 2), u0 - W / 2, rtol=1e-5)


def test_static_perspective_round_trip_random():
    rng = np.random.default_rng(0)
    n = 256
    static = g.StaticCamera(
        pitch=jnp.asarray(rng.uniform(-1.2, 1.2, n), jnp.float32),
        roll=jnp.asarray(rng.uniform(-1.0, 1.0, n), jnp.float32),
        height=jnp.asarray(rng.uniform(0.2, 5.0, n), jnp.float32),
        hfov=jnp.asarray(rng.uniform(0.2, 2.5, n), jnp.float32))
    cam = g.static_to_perspective(static)
    assert cam.K.shape == (n, 3, 3) and cam.R.shape == (n, 3, 3) and cam.t.shape == (n, 3)
    R = np.asarray(cam.R, np.float64)
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape),
                               atol=2e-6)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=2e-6)
    center = np.asarray(g.camera_center(cam))
    np.testing.assert_allclose(center[:, [0, 2]], 0.0, atol=1e-6)
    np.testing.assert_allclose(center[:, 1], static.height, rtol=1e-6)
    back = g.perspective_to_static(cam, (W, H))
    for name in ("pitch", "roll", "height", "hfov"):
        np.testing.assert_allclose(getattr(back, name), getattr(static, name), atol=1e-5,
                                   err_msg=name)
    assert back.image_size == (W, H)
    # Under jit too (the family check is skipped for tracers).
    back_jit = jax.jit(lambda c: g.perspective_to_static(c, (W, H)))(cam)
    np.testing.assert_allclose(back_jit.pitch, static.pitch, atol=1e-5)


def test_perspective_to_static_rejects_other_cameras():
    cam = g.static_to_perspective(_static(pitch=0.2, roll=0.1))
    yawed = g.PerspectiveCamera(K=cam.K, R=cam.R @ Rotation.from_euler("y", 0.1).as_matrix(),
                                t=cam.t)
    with pytest.raises(ValueError, match="yaw is non-zero"):
        g.perspective_to_static(yawed)
    # Moving the camera sideways: t' = t - R d keeps R and moves the centre by d.
    moved = g.PerspectiveCamera(K=cam.K, R=cam.R, t=cam.t - cam.R @ jnp.array([0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match="centre must lie on the world Y axis"):
        g.perspective_to_static(moved)
    out = g.perspective_to_static(moved, check=False)  # projection onto the family
    np.testing.assert_allclose(out.pitch, 0.2, atol=1e-6)
    with pytest.raises(ValueError, match="`camera` must be a PerspectiveCamera"):
        g.perspective_to_static(_static())


def test_cameras_are_pytrees():
    static = _static(pitch=np.array([0.1, 0.2, 0.3]), roll=np.zeros(3), height=np.ones(3),
                     hfov=np.ones(3))
    leaves, treedef = jax.tree_util.tree_flatten(static)
    assert len(leaves) == 4  # image_size is static metadata
    cams = jax.vmap(g.static_to_perspective)(static)
    np.testing.assert_allclose(cams.R, g.static_to_perspective(static).R, atol=1e-7)
    f = jax.jit(lambda c, x: g.project(x, c))
    assert f(cams, jnp.ones((7, 3)) * 3).shape == (3, 7, 2)
    # Gradients flow to the camera parameters.
    grad = jax.grad(lambda p: jnp.sum(g.project(jnp.array([[0.3, 1.0, 4.0]]), g.StaticCamera(
        pitch=p, roll=jnp.float32(0.1), height=jnp.float32(1.5), hfov=jnp.float32(1.0)))))(0.2)
    assert np.isfinite(grad) and grad != 0


# ----------------------------------------------------------------------------------------------
# Projection.


def _random_cameras(rng, c):
    R = Rotation.random(c, random_state=rng).as_matrix()
    t = rng.normal(size=(c, 3)) + np.array([0, 0, 6.0])
    K = np.zeros((c, 3, 3))
    K[:, 0, 0] = rng.uniform(400, 1500, c)
    K[:, 1, 1] = K[:, 0, 0] * rng.uniform(0.95, 1.05, c)
    K[:, 0, 1] = rng.uniform(-2, 2, c)  # a little skew
    K[:, :2, 2] = rng.uniform(300, 700, (c, 2))
    K[:, 2, 2] = 1
    return K, R, t


def test_project_matches_numpy_and_broadcasts():
    rng = np.random.default_rng(1)
    K, R, t = _random_cameras(rng, 4)
    cams = g.PerspectiveCamera(K=jnp.asarray(K, jnp.float32), R=jnp.asarray(R, jnp.float32),
                               t=jnp.asarray(t, jnp.float32))
    X = rng.uniform(-1, 1, (4, 30, 3))
    ref = np.stack([_numpy_project(X[c], K[c], R[c], t[c]) for c in range(4)])
    np.testing.assert_allclose(g.project(X, cams), ref, rtol=1e-5, atol=1e-3)
    # Shared points seen by a batch of cameras: (N, 3) x (C,) -> (C, N, 2).
    shared = g.project(X[0], cams)
    assert shared.shape == (4, 30, 2)
    np.testing.assert_allclose(shared[2], _numpy_project(X[0], K[2], R[2], t[2]), atol=1e-3)
    # perspective_project on camera-frame points, and to_camera_frame.
    Xc = np.asarray(g.to_camera_frame(X, cams))
    np.testing.assert_allclose(Xc, np.einsum("cij,cnj->cni", R, X) + t[:, None], atol=1e-5)
    np.testing.assert_allclose(g.perspective_project(Xc, cams.K), ref, atol=1e-3)


def test_points_at_or_behind_camera_are_finite():
    cam = g.static_to_perspective(_static(pitch=0.1, height=1.5))
    pts = jnp.array([[0.0, 1.5, 0.0], [0.3, 1.5, -2.0], [0.2, 1.4, 1e-9], [0.1, 1.0, 3.0]])
    uv = g.project(pts, cam)
    assert np.all(np.isfinite(uv))
    grad = jax.grad(lambda p: jnp.sum(g.project(p, cam)))(pts)
    assert np.all(np.isfinite(grad))
    # Depth is clamped at DEFAULT_MIN_DEPTH: camera-frame (1 mm, 0, -1 m) lands f pixels right.
    Kid = jnp.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]])
    uv = g.perspective_project(jnp.array([[1e-3, 0.0, -1.0]]), Kid)
    assert g.DEFAULT_MIN_DEPTH == 1e-3
    np.testing.assert_allclose(uv, [[150.0, 50.0]], atol=1e-3)


def test_weak_perspective_projection():
    cam = g.WeakPerspectiveCamera(scale=jnp.array([2.0, 3.0]),
                                  translation=jnp.array([[10.0, 20.0], [0.0, -1.0]]))
    X = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    expected = np.array([2.0, 3.0])[:, None, None] * X[..., :2] + np.array(
        [[10.0, 20.0], [0.0, -1.0]])[:, None]
    np.testing.assert_allclose(g.project(X, cam), expected)
    depth = X[..., 2]
    np.testing.assert_allclose(g.backproject(expected, depth, cam), X, atol=1e-5)


def test_backproject_inverts_project():
    rng = np.random.default_rng(2)
    K, R, t = _random_cameras(rng, 3)
    cams = g.PerspectiveCamera(K=jnp.asarray(K, jnp.float32), R=jnp.asarray(R, jnp.float32),
                               t=jnp.asarray(t, jnp.float32))
    X = rng.uniform(-1, 1, (3, 20, 3)).astype(np.float32)
    uv = g.project(X, cams)
    depth = g.to_camera_frame(X, cams)[..., 2]
    np.testing.assert_allclose(g.backproject(uv, depth, cams), X, atol=1e-4)
    static = _static(pitch=0.3, roll=-0.2)
    Xs = X[0] + np.array([0, 1, 4], np.float32)
    uv = g.project(Xs, static)
    depth = g.to_camera_frame(Xs, static)[..., 2]
    np.testing.assert_allclose(g.backproject(uv, depth, static), Xs, atol=1e-4)


# ----------------------------------------------------------------------------------------------
# Bad input.


def test_bad_inputs_raise():
    cam = g.static_to_perspective(_static())
    with _raises("`points` must have shape (..., N, 3), got (5, 2)"):
        g.project(np.zeros((5, 2)), cam)
    with pytest.raises(ValueError, match=r"`points` must have shape \(\.\.\., N, 3\), got \(3,\)"):
        g.project(np.zeros(3), cam)
    bad = g.PerspectiveCamera(K=np.eye(3)[:, :2], R=np.eye(3), t=np.zeros(3))
    with _raises("`camera.K` must have shape (..., 3, 3), got (3, 2)"):
        g.project(np.zeros((5, 3)), bad)
    with pytest.raises(ValueError, match="`points` contains NaN or inf values"):
        g.project(np.full((2, 3), np.nan), cam)
    with pytest.raises(ValueError, match="`camera` must be a PerspectiveCamera or StaticCamera"):
        g.to_camera_frame(np.zeros((2, 3)), "not a camera")
    with pytest.raises(ValueError, match="`image_size` or `principal_point` must be given"):
        g.intrinsics_from_focal(500.0)
    with pytest.raises(ValueError, match=r"`image_size` must have shape \(\.\.\., 2\), got \(3,\)"):
        g.intrinsics_from_fov(1.0, (1, 2, 3))
    with pytest.raises(ValueError, match=r"`depth` must have shape \(\.\.\., N\) with N = 4"):
        g.backproject(np.zeros((4, 2)), np.ones(3), cam)
