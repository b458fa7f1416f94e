"""A few named poses (SMPL axis-angle), for demos, figures and sanity tests.

At rest every joint frame is aligned with the world (Y up, the body faces +Z, +X is the subject's
left), so each entry below is a rotation about world axes: +Z lowers the right arm and raises the
left one, -X swings a thigh forward, +X bends a knee.
"""

from __future__ import annotations

import numpy as np

from posejax.body.skeleton import SMPL_JOINT_NAMES

_POSES = {
    "t-pose": {},
    "a-pose": {"left_shoulder": (0, 0, -0.8), "right_shoulder": (0, 0, 0.8)},
    "walk": {"left_hip": (-0.5, 0, 0), "right_hip": (0.35, 0, 0), "right_knee": (0.5, 0, 0),
             "left_knee": (0.15, 0, 0), "left_shoulder": (0.3, 0, -1.25),
             "right_shoulder": (-0.3, 0, 1.25), "left_elbow": (0, -0.3, 0), "right_elbow": (0, 0.3, 0)},
    "sit": {"left_hip": (-1.5, 0, 0), "right_hip": (-1.5, 0, 0), "left_knee": (1.5, 0, 0),
            "right_knee": (1.5, 0, 0), "left_shoulder": (0, 0, -1.2), "right_shoulder": (0, 0, 1.2)},
    "cheer": {"left_shoulder": (0, 0, 1.0), "right_shoulder": (0, 0, -1.0), "spine2": (0.1, 0, 0),
              "head": (-0.3, 0, 0)},
}

POSE_NAMES = tuple(_POSES)


def named_pose(name: str) -> np.ndarray:
    """Returns the (24, 3) axis-angle pose (radians) called `name`, one of `POSE_NAMES`."""
    if name not in _POSES:
        raise ValueError(f"unknown pose {name!r}; known poses: {POSE_NAMES}")
    pose = np.zeros((24, 3), np.float32)
    for joint, rotvec in _POSES[name].items():
        pose[SMPL_JOINT_NAMES.index(joint)] = rotvec
    return pose


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """Left-right mirror image of (..., 24, 3) SMPL axis-angle poses (reflection x -> -x).

    Left and right joints swap, and a rotation vector r maps to (r_x, -r_y, -r_z) (a rotation
    vector is a pseudo-vector: under the reflection M = diag(-1, 1, 1) it becomes -M r).
    """
    names = list(SMPL_JOINT_NAMES)
    perm = [names.index(n.replace("left", "@").replace("right", "left").replace("@", "right"))
            for n in names]
    return pose[..., perm, :] * np.array([1.0, -1.0, -1.0], pose.dtype)
