"""AGR synthesis (`posejax.synth.agr`): maps agree with the exact geometry, corruption does what it
says, scenes are deterministic, bad settings are refused."""

import numpy as np
import pytest

from posejax.body.kinematics import rest_joints
from posejax.body.loading import load_body_model
from posejax.body.poses import named_pose
from posejax.synth.agr import AGRConfig, person_boxes, render_box_maps, render_heatmaps, synthesize_agr
from posejax.synth.motion import MotionClip

EXACT = AGRConfig(jitter_px=0.0, miss_rate=0.0, false_positives=0.0)


def _clips(names=("walk", "sit", "cheer", "a-pose")):
    """One-frame clips of named poses, the pelvis 0.95 m above the ground."""
    betas = np.zeros(10, np.float32)
    lift = 0.95 - float(np.asarray(rest_joints(load_body_model("open"), betas))[0, 1])
    return [MotionClip(name=n, source="procedural", fps=30.0, pose=named_pose(n)[None],
                       transl=np.array([[0.0, lift, 0.0]], np.float32), betas=betas) for n in names]


@pytest.fixture(scope="module")
def clips():
    return _clips()


@pytest.fixture(scope="module")
def exact(clips):
    return synthesize_agr(0, clips, 6, EXACT)


def test_heatmap_peaks_sit_on_the_projected_joints(exact):
    s = EXACT.stride
    for n in range(6):
        people = np.flatnonzero(exact["people"][n])
        inside = ((exact["joints2d"][n] >= 0) & (exact["joints2d"][n] < EXACT.image_size)).all(-1)
        np.testing.assert_array_equal(exact["visible"][n], inside & exact["people"][n][:, None])
        for p in people:
            for j in np.flatnonzero(inside[p]):
                u, v = exact["joints2d"][n, p, j] / s - 0.5
                iu, iv = int(round(u)), int(round(v))
                if 0 <= iu < EXACT.heatmap_size[0] and 0 <= iv < EXACT.heatmap_size[1]:
                    # A Gaussian of sigma 2 at most 0.5 px off the pixel centre: value >= exp(-1/16).
                    assert exact["heatmaps"][n, j, iv, iu] >= 0.93


def test_exact_geometry_projection_roots_and_boxes(exact):
    K, R, t = exact["K"], exact["R"], exact["t"]
    for n in range(6):
        for p in np.flatnonzero(exact["people"][n]):
            cam = exact["joints3d"][n, p] @ R[n].T + t[n]
            assert np.all(cam[:, 2] > 1.0)                      # in front of the camera
            px = cam[:, :2] / cam[:, 2:] * K[n, 0, 0] + K[n, :2, 2]
            np.testing.assert_allclose(px, exact["joints2d"][n, p], atol=0.05)
            root = exact["roots3d"][n, p]
            assert root[1] == pytest.approx(0.95, abs=1e-4)    # the pelvis height of the clips
            assert EXACT.space_x[0] <= root[0] <= EXACT.space_x[1] and EXACT.space_z[0] <= root[2] <= EXACT.space_z[1]
            box = exact["boxes"][n, p]
            seen = ((exact["joints2d"][n, p] >= 0) & (exact["joints2d"][n, p] < EXACT.image_size)).all(-1)
            pts = exact["joints2d"][n, p][seen]
            assert np.all(pts >= box[:2] - 1e-3) and np.all(pts <= box[2:] + 1e-3)
            # The box map at the root pixel encodes the box.
            u, v = np.floor(exact["roots2d"][n, p] / EXACT.stride).astype(int)
            if 0 <= u < EXACT.heatmap_size[0] and 0 <= v < EXACT.heatmap_size[1]:
                d = exact["box_maps"][n, :, v, u] * EXACT.stride
                c = (np.array([u, v]) + 0.5) * EXACT.stride
                np.testing.assert_allclose([c[0] - d[0], c[1] - d[1], c[0] + d[2], c[1] + d[3]], box, atol=1e-3)
        # People stand apart, absent slots are zero.
        roots = exact["roots3d"][n, exact["people"][n]][:, [0, 2]]
        gaps = np.linalg.norm(roots[:, None] - roots[None], axis=-1) + 1e3 * np.eye(len(roots))
        assert gaps.min() >= EXACT.min_separation - 1e-4
        assert np.all(exact["joints3d"][n, ~exact["people"][n]] == 0)
    assert set(np.unique(exact["num_people"])) <= {1, 2, 3}


def test_deterministic_in_the_seed(clips, exact):
    again = synthesize_agr(0, clips, 6, EXACT)
    for key in exact:
        np.testing.assert_array_equal(again[key], exact[key])
    other = synthesize_agr(1, clips, 6, EXACT)
    assert not np.array_equal(other["roots3d"], exact["roots3d"])


def test_corruption(clips):
    missing = synthesize_agr(0, clips, 2, AGRConfig(jitter_px=0.0, miss_rate=1.0, false_positives=0.0))
    assert missing["heatmaps"].max() == 0.0
    assert missing["box_maps"].any()                            # boxes come from the truth, joints were missed
    blobs = synthesize_agr(0, clips, 2, AGRConfig(jitter_px=0.0, miss_rate=1.0, false_positives=5.0))
    assert blobs["heatmaps"].max() > 0.9                        # only false positives drawn
    jittered = synthesize_agr(0, clips, 2, AGRConfig(jitter_px=8.0, miss_rate=0.0, false_positives=0.0))
    exact = synthesize_agr(0, clips, 2, EXACT)
    np.testing.assert_array_equal(jittered["joints2d"], exact["joints2d"])   # the truth stays exact
    assert not np.allclose(jittered["heatmaps"], exact["heatmaps"])


def test_mirrored_people_are_reflections_with_sides_swapped(clips, exact):
    import dataclasses

    from posejax.body.layouts import get_layout

    mirrored = synthesize_agr(0, clips, 6, dataclasses.replace(EXACT, mirror=1.0))
    # The same people, cameras and roots; each person's joints reflected in the vertical plane
    # (x = root x) and relabelled left for right.
    for key in ("K", "R", "t", "roots3d", "people"):
        np.testing.assert_array_equal(mirrored[key], exact[key])
    back = mirrored["joints3d"][..., np.asarray(get_layout("coco17").flip_indices), :]
    back[..., 0] = np.where(exact["people"][..., None], 2 * exact["roots3d"][..., None, 0] - back[..., 0], 0.0)
    np.testing.assert_allclose(back, exact["joints3d"], atol=1e-5)
    assert not np.allclose(mirrored["heatmaps"], exact["heatmaps"])
    half = synthesize_agr(0, clips, 6, dataclasses.replace(EXACT, mirror=0.5))
    same = [np.allclose(half["joints3d"][s, p], exact["joints3d"][s, p]) for s, p in zip(*np.nonzero(exact["people"]))]
    assert 0 < sum(same) < len(same)


def test_fixed_camera_and_truncation(clips, exact):
    cam = (exact["K"][0], exact["R"][0], exact["t"][0])
    fixed = synthesize_agr(3, clips, 3, AGRConfig(camera="fixed", fixed_camera=cam, jitter_px=0.0,
                                                  miss_rate=0.0, false_positives=0.0))
    np.testing.assert_array_equal(fixed["K"], np.broadcast_to(cam[0], (3, 3, 3)))
    # Points off the image are not drawn and boxes are clipped to it.
    heat = render_heatmaps(np.array([[[-30.0, 5.0], [10.0, 5.0]]]), np.ones((1, 2), bool), (20, 10), 1.0)
    assert heat[0].max() < 1e-6 and heat[1].max() == pytest.approx(1.0)
    box = person_boxes(np.array([[[-50.0, 10.0], [40.0, 30.0]]]), np.ones((1, 2), bool), 0.0, (100, 100))
    np.testing.assert_array_equal(box, [[0.0, 10.0, 40.0, 30.0]])
    maps = render_box_maps(np.array([[500.0, 5.0]]), box, (20, 10), 4)   # root off the map: nothing
    assert not maps.any()


def test_bad_settings():
    with pytest.raises(ValueError, match="stride"):
        AGRConfig(heatmap_size=(100, 100))
    with pytest.raises(ValueError, match="min_people"):
        AGRConfig(min_people=4)
    with pytest.raises(ValueError, match="fixed_camera"):
        AGRConfig(camera="fixed")
    with pytest.raises(ValueError, match="miss_rate"):
        AGRConfig(miss_rate=2.0)
    with pytest.raises(ValueError, match="mirror"):
        AGRConfig(mirror=-0.1)
    with pytest.raises(ValueError, match="motion clip"):
        synthesize_agr(0, [], 1)
    with pytest.raises(ValueError, match="cannot place"):
        synthesize_agr(0, _clips(("walk",)), 1,
                       AGRConfig(min_people=3, space_x=(0.0, 0.1), space_z=(0.0, 0.1)))
