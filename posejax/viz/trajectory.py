"""Figures of the pooled regressor's outputs: top-view trajectories and per-frame cameras
(matplotlib Figures built without pyplot, as in `posejax.viz.body`)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from matplotlib.figure import Figure

CAMERA_LABELS = ("pitch (deg)", "roll (deg)", "height (m)", "horizontal FoV (deg)")


def plot_trajectory_top_view(pred_root: np.ndarray, gt_root: Optional[np.ndarray] = None,
                             title: str = "root trajectory, top view") -> Figure:
    """Ground-plane trajectories seen from above (x right, z away from the camera at the origin).

    Args:
      pred_root: (T, 3) predicted root positions, metres (world frame, Y up).
      gt_root: optional (T, 3) ground truth.
      title: axes title.
    """
    pred_root = np.asarray(pred_root)
    if pred_root.ndim != 2 or pred_root.shape[1] != 3:
        raise ValueError(f"`pred_root` must be (T, 3), got {pred_root.shape}")
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    if gt_root is not None:
        gt_root = np.asarray(gt_root)
        ax.plot(gt_root[:, 0], gt_root[:, 2], "-", color="0.3", lw=2, label="ground truth")
        ax.plot(gt_root[0, 0], gt_root[0, 2], "o", color="0.3")
    ax.plot(pred_root[:, 0], pred_root[:, 2], "-", color="tab:orange", lw=1.5, label="predicted")
    ax.plot(pred_root[0, 0], pred_root[0, 2], "o", color="tab:orange")
    ax.plot(0, 0, "k^", ms=10, label="camera")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("z (m)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_camera_per_frame(pred: np.ndarray, gt: Optional[Sequence[float]] = None) -> Figure:
    """The four static-camera parameters predicted per frame, with the truth as a line.

    Args:
      pred: (T, 4) per-frame (pitch rad, roll rad, height m, horizontal FoV rad).
      gt: optional (4,) true camera, same units.
    """
    pred = np.asarray(pred)
    if pred.ndim != 2 or pred.shape[1] != 4:
        raise ValueError(f"`pred` must be (T, 4), got {pred.shape}")
    scale = np.array([180 / np.pi, 180 / np.pi, 1.0, 180 / np.pi])
    fig = Figure(figsize=(12, 2.6))
    axes = fig.subplots(1, 4)
    for i, ax in enumerate(axes):
        ax.plot(pred[:, i] * scale[i], color="tab:orange", lw=1, label="per frame")
        ax.axhline(np.mean(pred[:, i]) * scale[i], color="tab:orange", ls="--", lw=1, label="mean")
        if gt is not None:
            ax.axhline(float(gt[i]) * scale[i], color="0.3", lw=2, label="truth")
        ax.set_title(CAMERA_LABELS[i], fontsize=9)
        ax.set_xlabel("frame")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
