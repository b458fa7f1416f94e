"""MotionClip.resample (slerp/lerp) and the motion library's source selection."""

import numpy as np
import pytest

from posejax.geometry.rotations import axis_angle_to_matrix
from posejax.synth.motion import MotionClip, load_motion_library, slerp


def random_clip(num_frames=31, fps=30.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    pose = 0.6 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0, (24, 3)) * t[:, None, None]
                        + rng.uniform(0, 6, (24, 3)))
    pose[:, 0, 1] = 3.0 * t  # root turns past pi: the axis-angle representation wraps
    transl = np.stack([t, 0.9 + 0.0 * t, np.sin(t)], -1)
    return MotionClip("c", "procedural", fps, pose, transl, rng.normal(size=10))


def rot(pose):
    return np.asarray(axis_angle_to_matrix(np.asarray(pose, np.float32)))


@pytest.mark.parametrize("factor", [2, 4])
def test_resample_round_trip(factor):
    clip = random_clip()
    up = clip.resample(clip.fps * factor)
    assert up.num_frames == (clip.num_frames - 1) * factor + 1 and up.fps == clip.fps * factor
    back = up.resample(clip.fps)
    assert back.num_frames == clip.num_frames
    np.testing.assert_allclose(rot(back.pose), rot(clip.pose), atol=2e-5)
    np.testing.assert_allclose(back.transl, clip.transl, atol=1e-5)
    np.testing.assert_array_equal(back.betas, clip.betas)


def test_resample_is_slerp_and_lerp():
    pose = np.zeros((2, 24, 3), np.float32)
    pose[1, 5] = [0.0, 0.0, 1.2]  # 1.2 rad about z
    pose[1, 0] = [0.0, 3.0, 0.0]  # close to pi about y
    pose[0, 0] = [0.0, -3.0, 0.0]  # the short way between them crosses pi (0.28 rad apart)
    clip = MotionClip("c", "cmu", 1.0, pose, [[0, 0, 0], [1, 2, 3]], np.zeros(10))
    mid = clip.resample(2.0)
    assert mid.num_frames == 3
    np.testing.assert_allclose(mid.pose[1, 5], [0, 0, 0.6], atol=1e-5)
    np.testing.assert_allclose(rot(mid.pose[1, 0]), rot([0.0, np.pi, 0.0]), atol=1e-5)
    np.testing.assert_allclose(mid.transl[1], [0.5, 1.0, 1.5], atol=1e-6)


def test_slerp_endpoints_and_unit_norm():
    rng = np.random.default_rng(1)
    q0, q1 = rng.normal(size=(2, 5, 4))
    q0 /= np.linalg.norm(q0, axis=-1, keepdims=True)
    q1 /= np.linalg.norm(q1, axis=-1, keepdims=True)
    out = slerp(q0, q1, np.linspace(0, 1, 5))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(slerp(q0, q1, np.zeros(5)), q0, atol=1e-12)
    assert np.allclose(np.abs(np.sum(slerp(q0, q1, np.ones(5)) * q1, -1)), 1.0)


def test_resample_bad_fps():
    with pytest.raises(ValueError, match="`fps` must be a positive number"):
        random_clip().resample(0)


def test_library_falls_back_to_procedural(tmp_path, capsys):
    clips = load_motion_library(data_dir=str(tmp_path / "nowhere"), cache_dir=str(tmp_path / "c"))
    out = capsys.readouterr().out
    assert "embedded procedural motion" in out and "no CMU mocap found" in out
    assert f"{len(clips)} clips" in out and len(clips) == 16
    assert all(c.source == "procedural" and c.fps == 30.0 for c in clips)


def test_library_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no .asf/.amc pairs or .bvh files"):
        load_motion_library("cmu", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="`source` must be"):
        load_motion_library("mocap")


def test_mirror_clip_is_the_reflected_motion():
    # Forward kinematics of the mirrored clip = the original joints reflected in x with left and
    # right swapped (the shape kept: exact for a symmetric body, here the mean shape).
    from posejax.body import kinematics, load_body_model
    from posejax.body.skeleton import SMPL_JOINT_NAMES
    from posejax.synth.motion import mirror_clip

    model = load_body_model("open")
    clip = random_clip()
    clip = MotionClip(clip.name, clip.source, clip.fps, clip.pose, clip.transl + np.array([0.7, 0.9, -2.0]),
                      np.zeros(10, np.float32))
    mirrored = mirror_clip(clip, model)
    assert mirrored.name == clip.name + "_mirrored" and mirrored.num_frames == clip.num_frames
    betas = np.zeros((clip.num_frames, 10), np.float32)
    joints = np.asarray(kinematics.joints(model, clip.pose, betas, clip.transl))
    swapped = [SMPL_JOINT_NAMES.index(n.replace("left", "@").replace("right", "left").replace("@", "right"))
               for n in SMPL_JOINT_NAMES]
    reflected = joints[:, swapped] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(np.asarray(kinematics.joints(model, mirrored.pose, betas, mirrored.transl)),
                               reflected, atol=2e-3)
    np.testing.assert_allclose(mirror_clip(mirrored, model).pose, clip.pose, atol=1e-6)
