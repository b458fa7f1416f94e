"""Synthetic monocular sequences: lengths, clip bookkeeping, cameras, framing, exact reprojection,
height normalisation, grounding, determinism, surface points, errors."""

import dataclasses
import math

import jax
import numpy as np
import pytest

from posejax.body import kinematics, load_body_model
from posejax.body.poses import named_pose
from posejax.geometry import project, static_to_perspective
from posejax.geometry.rotations import axis_angle_to_matrix
from posejax.synth.camera_sampling import CameraRanges
from posejax.synth.motion import MotionClip
from posejax.synth.observations import ObservationConfig
from posejax.synth.sequences import (SequenceConfig, sequence_camera, subject_height,
                                     synthesize_sequence, synthesize_sequences)

DEG = math.pi / 180


def make_clips(num=5, seed=0):
    """Simple test motion: named poses with swinging legs, a turning root, walking or standing;
    half at 30 fps (resampled to 10 by the generator), grounded roughly for betas = 0."""
    rng = np.random.default_rng(seed)
    names = ["walk", "a-pose", "cheer", "t-pose", "sit"]
    clips = []
    for i in range(num):
        fps = 10.0 if i % 2 == 0 else 30.0
        frames = int(rng.integers(40, 120) * fps / 10)
        t = np.arange(frames) / fps
        pose = np.repeat(named_pose(names[i % len(names)])[None], frames, 0)
        pose[:, 1, 0] += 0.4 * np.sin(2 * np.pi * t)
        pose[:, 2, 0] -= 0.4 * np.sin(2 * np.pi * t)
        pose[:, 0, 1] = 0.3 * t
        speed = [1.2, 0.0, 0.3, 0.6, 0.0][i % 5]
        transl = np.stack([0.1 * np.sin(t), np.full(frames, 0.95 + 0.1 * i), speed * t], -1)
        clips.append(MotionClip(name=f"test_{i}", source="procedural", fps=fps, pose=pose,
                                transl=transl, betas=np.zeros(10)))
    return clips


@pytest.fixture(scope="module")
def model():
    return load_body_model("open")


@pytest.fixture(scope="module")
def clips():
    return make_clips()


@pytest.fixture(scope="module")
def batch(model, clips):
    return list(synthesize_sequences(20, 0, clips, model, SequenceConfig(), batch_size=20))


@pytest.fixture(scope="module")
def clean(model, clips):
    # Same static settings as the determinism check below: one compile for both.
    return synthesize_sequence(jax.random.fold_in(jax.random.key(0), 3), clips, model,
                               SequenceConfig(noise=ObservationConfig.clean()))


def test_lengths_and_clip_bookkeeping(batch, clips):
    resampled = [c.resample(10.0) for c in clips]
    for seq in batch:
        n = seq["pose"].shape[0]
        assert n >= 600
        for name, shape in [("keypoints2d", (n, 23, 2)), ("confidence", (n, 23)), ("visible", (n, 23)),
                            ("pose", (n, 24, 3)), ("transl", (n, 3)), ("transl_hn", (n, 3)),
                            ("joints3d", (n, 24, 3)), ("keypoints3d", (n, 23, 3)), ("clip_id", (n,)),
                            ("betas", (10,)), ("camera", (4,)), ("height", ()), ("camera_height_hn", ())]:
            assert seq[name].shape == shape, name
        assert seq["clip_id"].dtype == np.int32 and seq["clip_boundaries"].dtype == np.int32
        bounds, ids = seq["clip_boundaries"], seq["clip_id"]
        lengths = np.diff(np.append(bounds, n))
        assert bounds[0] == 0 and np.all(lengths > 0)
        np.testing.assert_array_equal(ids, np.repeat(np.arange(len(bounds)), lengths))
        # Whole clips, no truncation: each segment is exactly its clip's length at 10 fps, and
        # the sequence stops as soon as it reaches 600 frames.
        np.testing.assert_array_equal(lengths, [resampled[i].num_frames for i in seq["clip_index"]])
        assert n - lengths[-1] < 600
        # Each clip keeps its local joint angles (only the root is turned, by one yaw per clip).
        for c, start in enumerate(bounds):
            src = resampled[seq["clip_index"][c]]
            seg = slice(start, start + lengths[c])
            np.testing.assert_allclose(seq["pose"][seg, 1:], src.pose[:, 1:], atol=1e-6)
            turn = np.asarray(axis_angle_to_matrix(seq["pose"][seg, 0])) @ np.swapaxes(
                np.asarray(axis_angle_to_matrix(src.pose[:, 0])), -1, -2)
            np.testing.assert_allclose(turn[:, 1, 1], 1.0, atol=1e-4)   # about the vertical axis
            np.testing.assert_allclose(turn, np.broadcast_to(turn[0], turn.shape), atol=1e-4)
            # The translation turns with it (about the clip's start): step lengths are kept.
            steps = np.linalg.norm(np.diff(seq["transl"][seg][:, [0, 2]], axis=0), axis=1)
            src_steps = np.linalg.norm(np.diff(src.transl[:, [0, 2]], axis=0), axis=1)
            np.testing.assert_allclose(steps, src_steps, atol=1e-4)


def test_camera_parameters_inside_ranges(batch):
    r = CameraRanges()
    cams = np.stack([s["camera"] for s in batch])
    pitch, roll, height, hfov = cams.T
    assert np.all((hfov >= 34 * DEG - 1e-6) & (hfov <= 80 * DEG + 1e-6))
    assert np.all((pitch >= r.pitch_deg[0] * DEG - 1e-6) & (pitch <= r.pitch_deg[1] * DEG + 1e-6))
    assert np.all(np.abs(roll) <= r.roll_max_deg * DEG + 1e-6)
    assert np.all((height >= r.height_m[0] - 1e-5) & (height <= r.height_m[1] + 1e-5))
    assert len(np.unique(hfov)) == 20  # one camera per sequence, all different


def test_keypoints_inside_image(batch):
    inside = []
    for seq in batch:
        kp = seq["keypoints2d_clean"]
        inside.append((kp[..., 0] >= 0) & (kp[..., 0] < 1000) & (kp[..., 1] >= 0) & (kp[..., 1] < 1000))
        assert np.all(seq["keypoints3d"][..., 2] > 0)
    frac = np.mean(np.concatenate([i.ravel() for i in inside]))
    assert frac >= 0.9, frac


def test_height_normalisation_and_shape(batch, model):
    for seq in batch:
        assert np.all(np.abs(seq["betas"]) <= 2.5)
    for seq in batch[:2]:
        verts = np.asarray(kinematics.vertices(model, np.zeros((24, 3)), seq["betas"]))
        height = verts[:, 1].max() - verts[:, 1].min()
        np.testing.assert_allclose(seq["height"], height, rtol=1e-4)
        np.testing.assert_allclose(seq["height"], subject_height(model, seq["betas"]), rtol=1e-5)
        np.testing.assert_allclose(seq["transl_hn"], seq["transl"] * 1.72 / height, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(seq["camera_height_hn"], seq["camera"][2] * 1.72 / height, rtol=1e-4)
    heights = [s["height"] for s in batch]
    assert max(heights) - min(heights) > 0.1


def test_observations_are_noisy_with_defaults(batch):
    seq = batch[0]
    conf = seq["confidence"]
    assert np.all((conf >= 0) & (conf <= 1)) and 0.6 < np.mean(conf > 0) < 0.99
    err = np.linalg.norm(seq["keypoints2d"] - seq["keypoints2d_clean"], axis=-1)[conf > 0]
    assert 0 < np.median(err) < 0.05 * np.median(seq["person_scale"])
    assert 0.5 < np.mean(seq["visible"]) < 1.0


def test_clean_observations_reproject_exactly(clean, model):
    seq = clean
    np.testing.assert_array_equal(seq["confidence"], 1.0)
    np.testing.assert_array_equal(seq["keypoints2d"], seq["keypoints2d_clean"])
    cam = sequence_camera(seq)
    world = kinematics.keypoints(model, "coco23", seq["pose"], seq["betas"], seq["transl"])
    px = np.asarray(project(world, cam))
    # <= 1e-3 px inside the image; far outside, float32 resolution itself is coarser than that.
    err = np.abs(px - seq["keypoints2d"]).max(axis=-1)
    tol = np.maximum(1e-3, 1e-6 * np.abs(px).max(axis=-1))
    assert np.all(err <= tol), err.max()
    persp = static_to_perspective(cam)
    kp3d = np.asarray(world) @ np.asarray(persp.R).T + np.asarray(persp.t)
    np.testing.assert_allclose(seq["keypoints3d"], kp3d, atol=1e-4)
    joints = np.asarray(kinematics.joints(model, seq["pose"], seq["betas"], seq["transl"]))
    np.testing.assert_allclose(seq["joints3d"], joints @ np.asarray(persp.R).T + np.asarray(persp.t),
                               atol=1e-4)
    K = np.asarray(persp.K)
    proj = seq["keypoints3d"][..., :2] / seq["keypoints3d"][..., 2:] * K[0, 0] + K[:2, 2]
    assert np.all(np.abs(proj - seq["keypoints2d"]).max(axis=-1) <= tol)


def test_clips_regrounded_for_the_sequence_body(clean, model):
    seq = clean
    dominant = np.argmax(np.asarray(model.lbs_weights), axis=1)
    feet = np.flatnonzero(np.isin(dominant, [7, 8, 10, 11]))
    verts = np.asarray(kinematics.vertices(model, seq["pose"], seq["betas"], seq["transl"]))[:, feet, 1]
    low = verts.min(axis=1)
    bounds = np.append(seq["clip_boundaries"], len(low))
    for a, b in zip(bounds[:-1], bounds[1:]):
        assert abs(low[a:b].min()) < 0.01  # lowest foot point of every clip on the ground


def test_batched_equals_single(batch, clean, model, clips):
    single = synthesize_sequence(jax.random.fold_in(jax.random.key(0), 3), clips, model)
    for name in ("pose", "transl", "keypoints2d", "confidence", "visible", "camera", "betas",
                 "clip_boundaries"):
        np.testing.assert_allclose(single[name], batch[3][name], atol=2e-3, err_msg=name)
    # Clean and default runs of the same key share body, camera and motion; only noise differs.
    np.testing.assert_array_equal(clean["camera"], single["camera"])
    np.testing.assert_allclose(clean["keypoints2d_clean"], single["keypoints2d_clean"], atol=1e-3)


@pytest.mark.slow
def test_surface_points(model, clips):
    seq = synthesize_sequence(5, clips, model, SequenceConfig(observation="surface178", min_frames=100))
    n = seq["pose"].shape[0]
    assert seq["keypoints2d"].shape == (n, 178, 2) and seq["visible"].shape == (n, 178)
    assert np.all(seq["confidence"][~seq["visible"]] == 0)
    assert 0.3 < seq["visible"].mean() < 0.7   # about half the body faces the camera
    np.testing.assert_array_equal(seq["keypoints2d"][~seq["visible"]], 0.0)


@pytest.mark.slow
@pytest.mark.parametrize("layout,k", [("body25b", 25), ("smpl24", 24)])
def test_other_layouts(model, clips, layout, k):
    seq = synthesize_sequence(1, clips, model, SequenceConfig(observation=layout, min_frames=50,
                                                              self_occlusion=False))
    n = seq["pose"].shape[0]
    assert seq["keypoints2d"].shape == (n, k, 2) and np.all(seq["visible"])
    if layout == "smpl24":
        np.testing.assert_allclose(seq["keypoints3d"], seq["joints3d"], atol=1e-5)


def test_errors(model, clips):
    with pytest.raises(ValueError, match="observation must be one of"):
        SequenceConfig(observation="coco17x")
    with pytest.raises(ValueError, match="min_frames"):
        SequenceConfig(min_frames=0)
    with pytest.raises(ValueError, match="image_size"):
        SequenceConfig(image_size=(1000,))
    with pytest.raises(ValueError, match="fps"):
        SequenceConfig(fps=-1.0)
    with pytest.raises(ValueError, match="noise must be an ObservationConfig"):
        SequenceConfig(noise={"noise_std": 0.1})
    with pytest.raises(ValueError, match="non-empty sequence of MotionClip"):
        synthesize_sequence(0, [], model)
    with pytest.raises(ValueError, match=r"clips\[1\]"):
        synthesize_sequence(0, [clips[0], "walk"], model)
    with pytest.raises(ValueError, match="seed_or_key"):
        synthesize_sequence("0", clips, model)
    with pytest.raises(ValueError, match="num"):
        list(synthesize_sequences(-1, 0, clips, model))
    no_layout = dataclasses.replace(model, keypoint_regressors={})
    with pytest.raises(ValueError, match="cannot produce layout 'coco23'"):
        synthesize_sequence(0, clips, no_layout)
