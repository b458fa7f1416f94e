"""Surface points: the 178-vertex set, skinning basis, visibility (front-facing + z-buffer)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from posejax.body import kinematics, load_body_model
from posejax.body.poses import named_pose
from posejax.geometry import StaticCamera, project, to_camera_frame
from posejax.geometry.rotations import axis_angle_to_matrix
from posejax.synth import surface_points as sp


@pytest.fixture(scope="module")
def model():
    return load_body_model("open")


@pytest.fixture(scope="module")
def point_set(model):
    return sp.surface_point_set(model)


def test_point_set(model, point_set):
    ids = point_set.vertex_ids
    assert ids.shape == (178,) and len(np.unique(ids)) == 178
    assert ids.min() >= 0 and ids.max() < model.num_vertices
    assert point_set.part_ids.shape == (178,) and len(np.unique(point_set.part_ids)) >= 18
    np.testing.assert_array_equal(point_set.part_ids,
                                  np.argmax(np.asarray(model.lbs_weights)[ids], axis=1))
    np.testing.assert_allclose(np.linalg.norm(point_set.rest_normals, axis=1), 1.0, atol=1e-5)
    mirror = point_set.mirror
    assert np.mean(mirror[mirror] == np.arange(178)) > 0.7
    # Left points mirror to right points (+X is the subject's left).
    x = np.asarray(model.v_template)[ids, 0]
    side = np.abs(x) > 0.1
    assert np.all(np.sign(x[mirror][side]) == -np.sign(x[side]))
    assert point_set.occluder_ids.shape == (sp.DEFAULT_OCCLUDERS,)


def test_point_set_deterministic_and_spread(model, point_set):
    sp._SET_CACHE.clear()
    again = sp.surface_point_set(model)
    np.testing.assert_array_equal(again.vertex_ids, point_set.vertex_ids)
    other = sp.surface_point_set(model, seed=1)
    assert not np.array_equal(other.vertex_ids, point_set.vertex_ids)
    verts = np.asarray(model.v_template)

    def min_gap(ids):
        p = verts[ids]
        d = np.linalg.norm(p[:, None] - p[None], axis=-1) + np.eye(len(ids)) * 9
        return d.min()
    random_ids = np.random.default_rng(0).choice(len(verts), 178, replace=False)
    assert min_gap(point_set.vertex_ids) > 3 * min_gap(random_ids)
    assert min_gap(point_set.vertex_ids) > 0.04  # metres: spread over the whole body


def test_skinning_basis_matches_kinematics(model):
    rng = np.random.default_rng(0)
    pose = (0.4 * rng.standard_normal((2, 5, 24, 3))).astype(np.float32)
    betas = rng.standard_normal((2, 10)).astype(np.float32)
    reg = model.keypoint_regressors["coco23"]
    ids = np.array([5, 100, 5000])

    @jax.jit  # one program: run eagerly, the few hundred small operations compile one by one
    def both_ways(model, pose, betas):
        rest = kinematics.rest_joints(model, betas)[:, None].repeat(5, 1)
        rots, pos = kinematics.global_transforms(axis_angle_to_matrix(pose), rest)
        a, c = sp.skinning_basis(model, reg.vertex_ids, reg.vertex_weights, betas)
        got = (jnp.einsum("kj,ntjc->ntkc", reg.joint_weights, pos)
               + sp.apply_skinning_basis(a, c, rots, pos, rest))
        ref = kinematics.keypoints(model, "coco23", pose, betas[:, None])
        a, c = sp.skinning_basis(model, ids, None, betas)
        verts = kinematics.vertices(model, pose, betas[:, None])[..., ids, :]
        return got, ref, sp.apply_skinning_basis(a, c, rots, pos, rest), verts

    got, ref, got_verts, verts = both_ways(model, pose, betas)
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), atol=2e-5)
    np.testing.assert_allclose(np.asarray(got_verts), np.asarray(verts), atol=2e-5)


_FORWARD = jax.jit(kinematics.forward)  # eagerly, its many small operations compile one by one


def _visibility(model, point_set, yaw, pose_name="a-pose", zbuffer=True):
    """Surface-point visibility for a body at 3 m in front of a level camera, turned by `yaw`."""
    pose = named_pose(pose_name).copy()
    pose[0] = (0.0, yaw, 0.0)  # a turn about the vertical axis
    out = _FORWARD(model, pose, np.zeros(10), np.array([0.0, 0.0, 3.0]))
    cam = StaticCamera(pitch=np.float32(0.0), roll=np.float32(0.0), height=np.float32(0.3),
                       hfov=np.float32(1.0))
    verts = out.vertices
    ids, occ = point_set.vertex_ids, point_set.occluder_ids
    pts_cam = to_camera_frame(verts[ids], cam)
    occ_cam = to_camera_frame(verts[occ], cam)
    normals = sp.posed_normals(model, ids, point_set.rest_normals, out.joint_rotations)
    normals_cam = to_camera_frame(normals, cam) - to_camera_frame(jnp.zeros((1, 3)), cam)
    focal = 500.0 / np.tan(0.5)
    return np.asarray(sp.surface_visibility(pts_cam, normals_cam, project(verts[ids], cam), occ_cam,
                                            project(verts[occ], cam), focal, zbuffer=zbuffer))


def test_visibility_flips_when_body_turns(model, point_set):
    # The body faces +Z at yaw 0, i.e. away from the camera (which looks down +Z).
    back_view = _visibility(model, point_set, 0.0)
    front_view = _visibility(model, point_set, np.pi)
    front_points = point_set.rest_normals[:, 2] > 0.6   # on the chest, face, fronts of the legs
    back_points = point_set.rest_normals[:, 2] < -0.6
    assert front_points.sum() > 15 and back_points.sum() > 15
    assert front_view[front_points].mean() > 0.9 and back_view[front_points].mean() < 0.05
    assert back_view[back_points].mean() > 0.9 and front_view[back_points].mean() < 0.05
    assert 0.3 < front_view.mean() < 0.7


def test_zbuffer_hides_far_side_in_profile(model, point_set):
    # Turned by +90 degrees the subject's left (+X) faces the camera: the inner side of the right
    # arm faces the camera but lies behind the torso.
    right = np.isin(point_set.part_ids, [17, 19, 21, 23, 2, 5, 8, 11])  # right arm and leg
    normals_only = _visibility(model, point_set, np.pi / 2, zbuffer=False)
    with_zbuffer = _visibility(model, point_set, np.pi / 2, zbuffer=True)
    assert normals_only[right].sum() >= 5
    assert with_zbuffer[right].mean() < 0.1
    left = np.isin(point_set.part_ids, [16, 18, 20, 22])
    assert with_zbuffer[left].mean() > 0.3
    assert np.all(with_zbuffer <= normals_only)


def test_zbuffer_visible_simple_scene():
    occ = np.stack(np.meshgrid(np.linspace(0, 100, 21), np.linspace(0, 100, 21)), -1).reshape(-1, 2)
    occ_z = np.full(len(occ), 2.0)
    pts = np.array([[50.0, 50.0], [50.0, 50.0], [50.0, 50.0], [300.0, 300.0]])
    z = np.array([1.9, 2.04, 2.5, 9.0])
    vis = sp.zbuffer_visible(jnp.asarray(pts), jnp.asarray(z), jnp.asarray(occ), jnp.asarray(occ_z),
                             jnp.asarray(1000.0), grid=10, tolerance=0.05)
    np.testing.assert_array_equal(np.asarray(vis), [True, True, False, True])


def test_errors(model):
    with pytest.raises(ValueError, match="num_points"):
        sp.surface_point_set(model, num_points=0)
    with pytest.raises(ValueError, match="BodyModel"):
        sp.surface_point_set("open")
    with pytest.raises(ValueError, match=r"points` must have shape \(N, 3\)"):
        sp.farthest_point_sampling(np.zeros((5, 2)), 2)
    with pytest.raises(ValueError, match="num"):
        sp.farthest_point_sampling(np.zeros((5, 3)), 6)
