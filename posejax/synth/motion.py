"""Motion clips in SMPL parameters: the unit every synthetic-data generator consumes."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class MotionClip:
    """One motion in SMPL parameters.

    Attributes:
      name: identifier, e.g. "cmu_02_01" or "procedural_walk_003".
      source: where it came from: "cmu", "bvh", "amass" or "procedural".
      fps: frames per second.
      pose: (T, 24, 3) float32 SMPL axis-angle in radians (joint 0 = global orientation).
      transl: (T, 3) float32 root translation in metres, world frame (Y up); the lowest foot point
        over the clip touches the ground y = 0 for `betas`.
      betas: (10,) float32 body shape the motion was fitted or made with.
    """

    name: str
    source: str
    fps: float
    pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray

    def __post_init__(self):
        pose = np.asarray(self.pose, np.float32)
        transl = np.asarray(self.transl, np.float32)
        if pose.ndim != 3 or pose.shape[1:] != (24, 3):
            raise ValueError(f"MotionClip {self.name!r}: `pose` must have shape (T, 24, 3), got {pose.shape}")
        if transl.shape != (pose.shape[0], 3):
            raise ValueError(f"MotionClip {self.name!r}: `transl` must have shape ({pose.shape[0]}, 3), "
                             f"got {transl.shape}")
        if not self.fps > 0:
            raise ValueError(f"MotionClip {self.name!r}: `fps` must be positive, got {self.fps}")
        object.__setattr__(self, "pose", pose)
        object.__setattr__(self, "transl", transl)
        object.__setattr__(self, "betas", np.asarray(self.betas, np.float32))

    @property
    def num_frames(self) -> int:
        return self.pose.shape[0]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps
