"""The shared real 4-camera clip (pose2sim_demo): calibration, OpenPose keypoints, triangulation.

Every real-footage evaluation of posejax reads it the same way: the Qualisys calibration, each
camera's OpenPose BODY_25B keypoints of the largest person, and a reference triangulated from
some of the cameras with the keypoints of confidence >= 0.3.
"""

from __future__ import annotations

import dataclasses
import os
from typing import List, Optional, Sequence

import numpy as np

__all__ = ["FourViewClip", "load_four_view_clip"]

MIN_CONFIDENCE = 0.3
"""Keypoints below this confidence do not enter the triangulation."""


@dataclasses.dataclass(frozen=True)
class FourViewClip:
    """The clip as read from disk.

    Attributes:
      cameras: the four calibrated cameras (`posejax.io.calibration.Camera`).
      keypoints: (4, T, 25, 3) BODY_25B keypoints (pixels, confidence) of the largest person.
    """

    cameras: List
    keypoints: np.ndarray

    def perspective(self, views: Sequence[int]):
        """The `PerspectiveCamera` (batched) of the cameras `views` (0-based)."""
        from posejax.io.calibration import to_perspective_camera

        return to_perspective_camera([self.cameras[v] for v in views])

    def triangulate(self, views: Sequence[int] = (0, 1, 2, 3)):
        """Keypoints triangulated from the cameras `views` (0-based): (points (T, 25, 3) metres,
        ok (T, 25) bool), numpy."""
        from posejax.geometry import triangulate

        kp = self.keypoints[list(views)]
        weights = np.where(kp[..., 2] >= MIN_CONFIDENCE, kp[..., 2], 0.0)
        points, ok = triangulate(kp[..., :2], self.perspective(views), weights=weights)
        return np.asarray(points), np.asarray(ok)


def default_dir() -> str:
    """Where the clip sits: beside the shared CMU motion data."""
    from posejax.synth.motion import default_cmu_dir

    return os.path.join(os.path.dirname(default_cmu_dir()), "pose2sim_demo")


def load_four_view_clip(data_dir: Optional[str] = None) -> FourViewClip:
    """Reads the clip from `data_dir` (default: `default_dir()`)."""
    from posejax.io.calibration import read_qca
    from posejax.io.openpose import read_openpose_folder

    root = data_dir or default_dir()
    if not os.path.isdir(root):
        raise ValueError(f"the shared 4-view clip is not at {root}")
    cams = read_qca(os.path.join(root, "Calib.qca.txt"))
    kp = np.stack([read_openpose_folder(os.path.join(root, "openpose_json", f"cam0{i}_json")).largest_person()
                   for i in range(1, 5)])
    return FourViewClip(cameras=list(cams), keypoints=kp)
