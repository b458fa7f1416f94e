"""Figures of VirtualPose's input and output: the AGR a network sees (joint heatmaps, person
boxes, root pixels) and the absolute 3D people it returns, from the side and from above
(matplotlib Figures built without pyplot, as in `posejax.viz.body`)."""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from posejax.body.layouts import Layout, get_layout

PERSON_COLORS = ("tab:orange", "tab:blue", "tab:green", "tab:red", "tab:purple", "tab:brown")


def plot_agr(heatmaps: np.ndarray, boxes: Optional[np.ndarray] = None, roots: Optional[np.ndarray] = None,
             title: str = "AGR: joint heatmaps (max over joints) and person boxes") -> Figure:
    """One scene's abstract geometry representation.

    Args:
      heatmaps: (J, H, W) joint heatmaps.
      boxes: optional (P, 4) person boxes (left, top, right, bottom), heatmap pixel centres.
      roots: optional (P, 2) root pixels, heatmap pixel centres.
      title: axes title.
    """
    heatmaps = np.asarray(heatmaps)
    if heatmaps.ndim != 3:
        raise ValueError(f"`heatmaps` must be (J, H, W), got {heatmaps.shape}")
    h, w = heatmaps.shape[1:]
    fig = Figure(figsize=(7, 7 * h / w + 0.6))
    ax = fig.add_subplot()
    ax.imshow(heatmaps.max(0), cmap="magma", vmin=0.0, vmax=1.0, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    for p, box in enumerate(np.zeros((0, 4)) if boxes is None else np.asarray(boxes)):
        color = PERSON_COLORS[p % len(PERSON_COLORS)]
        ax.add_patch(Rectangle(box[:2], box[2] - box[0], box[3] - box[1], fill=False, ec=color, lw=1.5))
        if roots is not None:
            ax.plot(*np.asarray(roots)[p], "+", color=color, ms=10, mew=2)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_title(title)
    ax.set_xlabel("u (heatmap pixels)")
    ax.set_ylabel("v")
    return fig


def _draw(ax, joints, edges, a: int, b: int, color, style: str, label: Optional[str]):
    for k, (i, j) in enumerate(edges):
        ax.plot(joints[[i, j], a], joints[[i, j], b], style, color=color, lw=1.5,
                label=label if k == 0 else None)


def plot_people(pred_joints: np.ndarray, true_joints: Optional[np.ndarray] = None,
                camera_centre: Optional[np.ndarray] = None, layout: Union[str, Layout] = "coco17",
                title: str = "absolute 3D people") -> Figure:
    """People in world metres (Y up), front (x, y) and top (x, z) views; estimates solid, truth
    dashed, one colour per person.

    Args:
      pred_joints: (P, J, 3) estimated joints (rows of NaN are skipped).
      true_joints: optional (P', J, 3) ground truth.
      camera_centre: optional (3,) camera position, drawn in the top view.
      layout: keypoint layout of the joints (for the bones).
      title: figure title.
    """
    layout = get_layout(layout) if isinstance(layout, str) else layout
    pred_joints = np.asarray(pred_joints, np.float64)
    if pred_joints.ndim != 3 or pred_joints.shape[1:] != (layout.num_keypoints, 3):
        raise ValueError(f"`pred_joints` must be (P, {layout.num_keypoints}, 3), got {pred_joints.shape}")
    fig = Figure(figsize=(11, 5))
    axes = fig.subplots(1, 2)
    for ax, (a, b, name) in zip(axes, ((0, 1, "front (x, y)"), (0, 2, "top (x, z)"))):
        for people, style, label in ((true_joints, "--", "truth"), (pred_joints, "-", "estimate")):
            if people is None:
                continue
            for p, joints in enumerate(np.asarray(people, np.float64)):
                if np.isfinite(joints).all():
                    _draw(ax, joints, layout.edges, a, b, PERSON_COLORS[p % len(PERSON_COLORS)], style,
                          label if p == 0 else None)
        if camera_centre is not None and b == 2:
            ax.plot(camera_centre[0], camera_centre[2], "k^", ms=10, label="camera")
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)" if b == 1 else "z (m)")
        ax.set_title(name)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    return fig
