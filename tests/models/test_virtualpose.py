"""VirtualPose's volumes (`posejax.models.virtualpose`) on exact AGR: the root feature volume is
strongest at the true root, the pose volumes light each joint's channel at that joint, depths
follow the apparent size, peaks refine to sub-voxel positions."""

import jax
import numpy as np
import pytest

from posejax.geometry.voxels import voxel_centres
from posejax.models.virtualpose import (MAX_DEPTH, MAX_LOG_CORRECTION, PERSON_HEIGHT, VolumeNet, person_depths, pose_feature_volume,
                                        refine_peaks, root_feature_volume)
from posejax.synth.agr import AGRConfig, synthesize_agr
from tests.synth.test_agr import _clips

CFG = AGRConfig(image_size=(320, 192), heatmap_size=(80, 48), jitter_px=0.0, miss_rate=0.0,
                false_positives=0.0, max_people=2, min_people=2)
SPACE = ((0.0, 1.0, 0.0), (8.0, 2.0, 8.0), (32, 8, 32))


@pytest.fixture(scope="module")
def scene():
    s = synthesize_agr(5, _clips(), 2, CFG)
    st = CFG.stride
    return {"heat": np.moveaxis(s["heatmaps"], 1, -1), "K": s["K"], "R": s["R"], "t": s["t"],
            "boxes": s["boxes"] / st - 0.5, "root_uv": s["roots2d"] / st - 0.5, "mask": s["people"],
            "roots": s["roots3d"], "joints": s["joints3d"],
            "depths": np.einsum("bj,bpj->bp", s["R"][:, 2], s["roots3d"]) + s["t"][:, 2:3]}


def test_root_feature_volume_is_strongest_at_the_true_roots(scene):
    volume = jax.jit(root_feature_volume, static_argnums=(7, 8, 9, 10))
    vol = np.asarray(volume(scene["heat"], scene["K"], scene["R"], scene["t"], scene["boxes"],
                            scene["depths"], scene["mask"], *SPACE, CFG.stride))
    assert vol.shape == (2, 32, 8, 32, 18)
    centres = np.asarray(voxel_centres(np.array(SPACE[0]), SPACE[1], SPACE[2]))
    for b in range(2):
        weight = vol[b, ..., -1]
        for root in scene["roots"][b]:
            near = np.linalg.norm(centres - root, axis=-1) < 0.3
            assert weight[near].max() > 0.8                      # inside the box, at the right depth
        # Voxels far in depth from every person get (almost) nothing: eq. 5's Gaussian.
        cam_z = centres @ scene["R"][b, 2] + scene["t"][b, 2]
        far = np.min(np.abs(cam_z[..., None] - scene["depths"][b]), -1) > 1.0
        assert weight[far].max() < 1e-4


def test_pose_volume_lights_each_joint_at_its_position(scene):
    volume = jax.jit(pose_feature_volume, static_argnums=(6, 7, 8))
    vol, centres = volume(scene["heat"], scene["K"], scene["R"], scene["t"], scene["boxes"], scene["roots"],
                          2.0, (16, 16, 16), CFG.stride)
    vol, centres = np.asarray(vol), np.asarray(centres)
    assert vol.shape == (2, 2, 16, 16, 16, 17) and centres.shape == (2, 2, 16, 16, 16, 3)
    hits = []
    for b in range(2):
        for p in range(2):
            for j, x in enumerate(scene["joints"][b, p]):
                i = np.unravel_index(np.argmin(np.linalg.norm(centres[b, p] - x, axis=-1)), (16,) * 3)
                hits.append(vol[b, p][i][j])
    assert np.median(hits) > 0.7                                 # a ray through the joint's peak


def test_apparent_size_depth_and_peak_refinement(scene):
    k = scene["K"]
    box_h = scene["boxes"][..., 3] - scene["boxes"][..., 1]
    depths = jax.jit(person_depths, static_argnums=4)
    d = np.asarray(depths(np.zeros((2, 48, 80), np.float32), k, scene["root_uv"], scene["boxes"], CFG.stride))
    np.testing.assert_allclose(d, k[:, None, 0, 0] / CFG.stride * PERSON_HEIGHT / box_h, rtol=1e-5)
    # With a zero correction the guess is within 40% of the truth (posture and box margin vary).
    assert np.all(np.abs(d / scene["depths"] - 1) < 0.4)
    # Degenerate boxes and wild corrections stay bounded: the guess is clipped, the correction too.
    flat = scene["boxes"].copy()
    flat[..., 3] = flat[..., 1]
    wild = np.full((2, 48, 80), 50.0, np.float32)
    d = np.asarray(depths(wild, k, scene["root_uv"], flat, CFG.stride))
    np.testing.assert_allclose(d, MAX_DEPTH * np.exp(MAX_LOG_CORRECTION), rtol=1e-4)
    d = np.asarray(depths(-wild, k, scene["root_uv"], scene["boxes"], CFG.stride))
    assert np.all((d > 0) & (d >= k[:, None, 0, 0] / CFG.stride * PERSON_HEIGHT / box_h * np.exp(-MAX_LOG_CORRECTION) * 0.999))
    centres = voxel_centres(np.zeros(3), (4.0, 4.0, 4.0), (4, 4, 4))
    vol = np.zeros((4, 4, 4), np.float32)
    vol[1, 1, 1], vol[2, 1, 1] = 1.0, 1.0                        # the peak lies between two voxels
    np.testing.assert_allclose(jax.jit(refine_peaks)(vol, centres, np.array([[1, 1, 1]])), [[0.0, -0.5, -0.5]],
                               atol=1e-6)


def test_volume_net_keeps_the_grid():
    net = VolumeNet(out=3, features=4)
    x = np.zeros((2, 5, 8, 4, 8, 6), np.float32)
    params = jax.eval_shape(net.init, jax.random.PRNGKey(0), x[0])     # shapes only: no compilation
    assert jax.eval_shape(net.apply, params, x).shape == (2, 5, 8, 4, 8, 3)


def test_conv3d_as_2d_equals_the_3d_convolution():
    from posejax.models.virtualpose import conv3d_as_2d

    x = np.random.default_rng(0).normal(size=(2, 5, 4, 6, 3)).astype(np.float32)
    k = np.random.default_rng(1).normal(size=(3, 3, 3, 3, 7)).astype(np.float32)
    want = jax.lax.conv_general_dilated(x, k, (1, 1, 1), "SAME", dimension_numbers=("NDHWC", "DHWIO", "NDHWC"))
    got = conv3d_as_2d(x, k)
    assert got.shape == (2, 5, 4, 6, 7)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-4)
