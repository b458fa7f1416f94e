"""2D skeletons drawn over images.

Pixel convention (as everywhere in posejax): the origin is the top-left corner of the top-left
pixel, x to the right, y down; the centre of pixel (0, 0) is at (0.5, 0.5). Images are shown with
`extent=(0, W, H, 0)` so keypoint coordinates in that convention land on the right pixels.
"""

from __future__ import annotations

from typing import Dict, Optional, Union

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from posejax._checks import check_array
from posejax.body.layouts import Layout, get_layout
from posejax.viz.body import SIDE_COLORS

__all__ = ["draw_skeleton_2d", "overlay_skeleton"]


def draw_skeleton_2d(ax, keypoints, layout: Union[str, Layout], confidence_threshold: float = 0.1,
                     *, line_width: float = 2.0, marker_size: float = 16.0,
                     colors: Optional[Dict[str, str]] = None) -> Dict[str, object]:
    """Draws 2D skeletons on a matplotlib axes.

    A keypoint is shown when its confidence is strictly above `confidence_threshold` (so
    zero-confidence, missing keypoints never show); a bone when both its ends are shown. Bones are
    coloured by side: left, right, or centre (bones joining the two sides, or on the midline).

    Args:
      ax: a matplotlib 2D Axes.
      keypoints: (..., K, 2) pixel coordinates or (..., K, 3) with confidence; leading axes are
        people, all drawn.
      layout: layout name or Layout with K keypoints.
      confidence_threshold: visibility threshold on the confidence channel.
      line_width, marker_size: bone width (points) and marker area (points^2).
      colors: overrides for SIDE_COLORS ("left", "right", "center").

    Returns:
      {"lines": LineCollection of the drawn bones, "points": PathCollection of the shown keypoints}.
    """
    layout = get_layout(layout)
    k = len(layout.names)
    kp = np.asarray(check_array(keypoints, "keypoints", ("...", k, None)), np.float64)
    if kp.shape[-1] not in (2, 3):
        raise ValueError(f"`keypoints` must have shape (..., {k}, 2) or (..., {k}, 3) for layout "
                         f"{layout.name!r}, got {kp.shape}")
    kp = kp.reshape(-1, k, kp.shape[-1])
    if kp.shape[-1] == 3:
        shown = kp[..., 2] > confidence_threshold                          # (P, K)
    else:
        shown = np.ones(kp.shape[:2], bool)
    palette = {**SIDE_COLORS, **(colors or {})}
    edges = np.asarray(layout.edges, np.int64).reshape(-1, 2)
    edge_colors = [palette[s] for s in layout.edge_sides]
    segments, seg_colors = [], []
    for person, vis in zip(kp, shown):
        for (i, j), col in zip(edges, edge_colors):
            if vis[i] and vis[j]:
                segments.append(person[[i, j], :2])
                seg_colors.append(col)
    lines = LineCollection(segments, colors=seg_colors, linewidths=line_width, zorder=3)
    ax.add_collection(lines)
    sides = layout.sides
    pts = kp[..., :2][shown]
    point_colors = [palette[sides[j]] for _, j in zip(*np.nonzero(shown))]
    points = ax.scatter(pts[:, 0], pts[:, 1], s=marker_size, c=point_colors or None,
                        edgecolors="white", linewidths=0.5, zorder=4)
    return {"lines": lines, "points": points}


def overlay_skeleton(image, keypoints, layout: Union[str, Layout],
                     confidence_threshold: float = 0.1, title: Optional[str] = None, *,
                     width: float = 6.0, **draw_kwargs) -> Figure:
    """Shows an image with 2D skeletons drawn on top.

    Args:
      image: (H, W, 3) uint8 RGB, or float RGB in [0, 1].
      keypoints: (..., K, 2|3) pixel coordinates (origin at the top-left image corner) with an
        optional confidence channel.
      layout: layout name or Layout.
      confidence_threshold: see `draw_skeleton_2d`.
      title: axes title.
      width: figure width in inches (height follows the image aspect).
      **draw_kwargs: passed to `draw_skeleton_2d`.

    Returns:
      A Figure with one axes spanning the image, limits (0, W) x (H, 0).
    """
    img = np.asarray(check_array(image, "image", (None, None, 3), dtype=None))
    if img.dtype != np.uint8 and not np.issubdtype(img.dtype, np.floating):
        raise ValueError(f"`image` must be uint8 (or float in [0, 1]) of shape (H, W, 3), "
                         f"got dtype {img.dtype}")
    h, w = img.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"`image` must be non-empty, got shape {img.shape}")
    fig = Figure(figsize=(width, width * h / w + (0.4 if title else 0.0)))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - (0.4 / (width * h / w + 0.4) if title else 0.0)))
    ax.imshow(img, extent=(0, w, h, 0), interpolation="nearest")
    draw_skeleton_2d(ax, keypoints, layout, confidence_threshold, **draw_kwargs)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig
