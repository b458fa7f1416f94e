"""static_view: the pelvis as a static camera sees it, and back."""

import numpy as np
import pytest

from posejax.geometry import StaticCamera, project, static_to_perspective
from posejax.geometry.static_view import point_from_static_view, point_to_static_view


def _scene(seed, n=64):
    rng = np.random.default_rng(seed)
    pitch = rng.uniform(-0.2, 1.2, n)
    roll = rng.uniform(-0.25, 0.25, n)
    height = rng.uniform(0.2, 20.0, n)
    hfov = rng.uniform(0.6, 1.4, n)
    # points in front of the camera: along the optical axis 1-35 m away, spread sideways
    cam = static_to_perspective(StaticCamera(pitch=pitch, roll=roll, height=height, hfov=hfov))
    depth = rng.uniform(1.0, 35.0, n)
    local = np.stack([rng.uniform(-0.4, 0.4, n) * depth, rng.uniform(-0.4, 0.4, n) * depth, depth], -1)
    world = np.einsum("nji,nj->ni", np.asarray(cam.R), local - np.asarray(cam.t))
    return world.astype(np.float32), (pitch, roll, height, hfov), cam


def test_round_trip_recovers_point_and_camera_height():
    world, (pitch, roll, height, hfov), _ = _scene(0)
    view = point_to_static_view(world, pitch, roll, height, hfov)
    point, cam_height = point_from_static_view(view, world[:, 1], pitch, roll, hfov)
    np.testing.assert_allclose(point, world, atol=2e-3 * np.abs(world).max())
    np.testing.assert_allclose(cam_height, height, atol=2e-3 * 35)


def test_view_coordinates_are_image_coordinates_and_log_depth():
    world, (pitch, roll, height, hfov), cam = _scene(1)
    view = np.asarray(point_to_static_view(world, pitch, roll, height, hfov))
    pixels = np.asarray(project(world[:, None], cam))[:, 0]                # 1000 x 1000 image
    np.testing.assert_allclose(view[:, :2], (pixels - 500.0) / 500.0, atol=1e-3)
    depth = np.einsum("nij,nj->ni", np.asarray(cam.R), world)[:, 2] + np.asarray(cam.t)[:, 2]
    np.testing.assert_allclose(np.exp(view[:, 2]), depth, rtol=1e-4)


def test_depth_error_moves_the_point_along_its_ray():
    world, (pitch, roll, height, hfov), cam = _scene(2)
    view = np.asarray(point_to_static_view(world, pitch, roll, height, hfov))
    far = view.copy()
    far[:, 2] += np.log(1.1)                                                # 10% further
    point, _ = point_from_static_view(far, world[:, 1], pitch, roll, hfov)
    # same pixel (the height is held, so the camera moves, not the ray's direction in the image)
    moved = np.asarray(point_to_static_view(point, pitch, roll, point_from_static_view(
        far, world[:, 1], pitch, roll, hfov)[1], hfov))
    np.testing.assert_allclose(moved, far, atol=1e-3)
    assert not np.allclose(point, world, atol=1e-2)


@pytest.mark.parametrize("depth", [0.0, -2.0])
def test_points_at_or_behind_the_camera_give_finite_views(depth):
    view = point_to_static_view(np.array([0.0, 1.0, depth]), 0.0, 0.0, 1.0, 1.0)
    assert np.all(np.isfinite(view))
