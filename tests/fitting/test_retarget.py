"""Retargeting: known synthetic motion is recovered; real CMU clips fit within 30 mm."""

import dataclasses
import os

import numpy as np
import pytest

from posejax.body import SMPL_JOINT_NAMES, SMPL_PARENTS, joints, load_body_model
from posejax.fitting.retarget import (MARKER_NAMES, RetargetConfig, resolve_correspondence,
                                      retarget)
from posejax.io.skeleton_motion import SkeletonMotion
from tests.conftest import shared_data_dir

QUIET = RetargetConfig(verbose=False)


@pytest.fixture(scope="module")
def model():
    return load_body_model("open")


def smooth_motion(num_frames, fps, seed):
    """A random smooth motion: sinusoidal joint angles, turning root, drifting translation."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    pose = np.zeros((num_frames, 24, 3), np.float32)
    for j in range(1, 24):
        for c in range(3):
            pose[:, j, c] = (rng.uniform(-0.3, 0.3) * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t
                                                            + rng.uniform(0, 6.3)) + rng.uniform(-0.2, 0.2))
    pose[:, [4, 5], 0] = np.abs(pose[:, [4, 5], 0]) + 0.2  # knees bend the natural way
    pose[:, 0, 1] = 2.5 + 0.8 * np.sin(2 * np.pi * 0.3 * t)
    transl = np.stack([0.6 * t, 0.9 + 0.03 * np.sin(6 * t), 0.2 * np.sin(t)], -1).astype(np.float32)
    betas = (0.7 * rng.standard_normal(10)).astype(np.float32)
    return pose, transl, betas


# The three retargeting tests share one solver compilation (~15-35 s on 2 loaded cores), which
# the first of them pays: slow-marked, each stays well under 90 s.
@pytest.mark.slow
def test_recovers_synthetic_motion_with_scale_change(model):
    fps = 30.0
    pose, transl, betas = smooth_motion(150, 60.0, seed=3)  # 2.5 s at 60 fps -> 75 frames at 30 fps
    scale = 1.08  # a different skeleton size than the model's
    points = np.asarray(joints(model, pose, betas, transl)) * scale
    source = SkeletonMotion("synthetic", SMPL_JOINT_NAMES, SMPL_PARENTS, 60.0, points)
    clip, report = retarget(source, model, fps=fps, config=dataclasses.replace(QUIET, ground=False))
    assert report.scheme == "smpl" and report.num_frames == 75 == clip.num_frames
    assert clip.fps == fps and clip.pose.shape == (75, 24, 3) and clip.betas.shape == (10,)
    assert report.mean_error_mm < 10.0, report.summary()
    assert report.max_error_mm < 40.0, report.summary()
    # The fitted joints themselves (no marker offsets) follow the scaled source closely too.
    fitted = np.asarray(joints(model, clip.pose, clip.betas, clip.transl))
    err = np.linalg.norm(fitted - points[::2], axis=-1).mean() * 1000
    assert err < 25.0


def _cmu_check(source, max_mean_mm=30.0):
    clip, report = retarget(source, "open", fps=30.0, config=QUIET)
    assert report.mean_error_mm <= max_mean_mm, report.summary()
    model = load_body_model("open")
    from posejax.synth.motion import lowest_foot_height
    assert abs(lowest_foot_height(model, clip.pose, clip.betas, clip.transl)) < 1e-3  # grounded
    assert np.all(np.abs(clip.betas) < 4.0)  # a plausible body, not an extreme shape
    return clip, report


@pytest.mark.slow
def test_cmu_asf_walk_02_01():
    from posejax.io.asf_amc import read_asf_amc
    folder = shared_data_dir("cmu_mocap")
    source = read_asf_amc(os.path.join(folder, "02.asf"), os.path.join(folder, "02_01.amc"))
    clip, report = _cmu_check(source)
    assert report.scheme == "cmu_asf" and clip.num_frames == 86
    # The walk travels ~3.3 m: so must the fitted root.
    assert 2.8 < np.linalg.norm(clip.transl[-1, [0, 2]] - clip.transl[0, [0, 2]]) < 3.8


@pytest.mark.slow
def test_cmu_bvh_sub_clip():
    from posejax.io.bvh import read_bvh
    source = read_bvh(os.path.join(shared_data_dir("cmu_mocap"), "131_01.bvh"))
    source = dataclasses.replace(source, positions=source.positions[:480])  # 4 s: start of the walk
    clip, report = _cmu_check(source)
    assert report.scheme == "cmu_bvh_max" and clip.num_frames == 120


@pytest.mark.parametrize("names, scheme", [
    (("root", "lhipjoint", "rhipjoint", "lfemur", "rfemur", "ltibia", "rtibia", "upperneck",
      "lclavicle", "rclavicle", "lhumerus", "rhumerus", "lradius", "rradius"), "cmu_asf"),
    (("Hips", "LeftHip", "RightHip", "LeftKnee", "RightKnee", "LeftAnkle", "RightAnkle", "Head",
      "LeftShoulder", "RightShoulder", "LeftElbow", "RightElbow", "LeftWrist", "RightWrist"),
     "cmu_bvh_max"),
    (tuple("mixamorig:" + n for n in (
        "Hips", "LeftUpLeg", "RightUpLeg", "LeftLeg", "RightLeg", "LeftFoot", "RightFoot", "Neck",
        "Spine", "LeftShoulder", "RightShoulder", "LeftArm", "RightArm", "LeftForeArm",
        "RightForeArm", "LeftHand", "RightHand")), "mixamo"),
])
def test_scheme_detection(names, scheme):
    found, resolved = resolve_correspondence(names)
    assert found == scheme
    assert all(abs(sum(mix.values()) - 1.0) < 1e-6 for mix in resolved.values())


def test_unmapped_names_are_listed():
    names = ("pelvis_bone", "thigh_l", "thigh_r", "calf_l", "calf_r")
    with pytest.raises(ValueError, match="cannot map the source skeleton") as err:
        resolve_correspondence(names)
    assert "thigh_l" in str(err.value) and "correspondence=" in str(err.value)


def test_explicit_correspondence_errors():
    names = ("a", "b", "c")
    with pytest.raises(ValueError, match="do not exist"):
        resolve_correspondence(names, {"pelvis": "a", "left_hip": "zz"})
    with pytest.raises(ValueError, match="not a model marker"):
        resolve_correspondence(names, {"hips": "a"})
    assert "head_top" in MARKER_NAMES


def test_bad_source():
    with pytest.raises(ValueError, match="must be a SkeletonMotion"):
        retarget(np.zeros((3, 4, 3)), config=QUIET)
