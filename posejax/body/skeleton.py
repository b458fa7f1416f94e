"""The SMPL kinematic tree: joint names, parents and the per-depth grouping used by kinematics."""

from __future__ import annotations

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)

# Parent of each joint; -1 for the root (pelvis).
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

NUM_JOINTS = len(SMPL_PARENTS)


def joint_depths(parents=SMPL_PARENTS) -> tuple[int, ...]:
    """Depth of each joint in the tree (root = 0)."""
    depths = []
    for j, p in enumerate(parents):
        if p >= j:
            raise ValueError(f"parents must list every parent before its child; joint {j} has parent {p}")
        depths.append(0 if p < 0 else depths[p] + 1)
    return tuple(depths)


def joints_by_depth(parents=SMPL_PARENTS) -> tuple[tuple[int, ...], ...]:
    """Joint indices grouped by tree depth: ((0,), (1, 2, 3), (4, 5, 6), ...).

    Kinematics walks the tree one depth level at a time, so the compiled program has one batched
    matrix product per level (9 for SMPL) instead of one per joint (24): compile time stays small.
    """
    depths = joint_depths(parents)
    return tuple(tuple(j for j, d in enumerate(depths) if d == level) for level in range(max(depths) + 1))
