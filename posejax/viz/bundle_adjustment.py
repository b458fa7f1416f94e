"""Figures of a bundle-adjustment result: 3D bodies, per-frame fit quality, reprojections.

Pure drawing: the functions take arrays (e.g. from `BAResult` and the input detections) and return
matplotlib Figures built without pyplot (as in `posejax.viz.body`). `python -m
posejax.bundle_adjust` writes all three.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np
from matplotlib.figure import Figure

from posejax._checks import check_array
from posejax.body.layouts import Layout, get_layout
from posejax.viz.body import plot_bodies_grid
from posejax.viz.overlay import draw_skeleton_2d

__all__ = ["plot_ba_bodies", "plot_ba_per_frame", "plot_ba_reprojection"]

_DETECTION_COLORS = {"left": "#ffb000", "right": "#ffb000", "center": "#ffb000"}  # amber: any background


def _frame_titles(frames, n: int, inlier) -> list:
    frames = np.arange(n) if frames is None else np.asarray(frames)
    if frames.shape != (n,):
        raise ValueError(f"`frames` must hold one frame number per panel ({n}), got shape {frames.shape}")
    titles = [f"frame {int(f)}" for f in frames]
    if inlier is not None:
        inlier = np.asarray(inlier, bool)
        if inlier.shape != (n,):
            raise ValueError(f"`inlier` must have shape ({n},), got {inlier.shape}")
        titles = [t if ok else t + " (outlier)" for t, ok in zip(titles, inlier)]
    return titles


def plot_ba_bodies(joints, frames=None, *, vertices=None, faces=None, inlier=None,
                   views: Sequence[str] = ("front", "side"), title: Optional[str] = None,
                   max_faces: int = 8000, panel_size: float = 2.5) -> Figure:
    """The fitted body of a few frames in 3D, one column per frame.

    Bundle adjustment expresses the body relative to the camera (joint 0's rotation is the
    orientation seen by the camera, `posejax.fitting.initialization`), so the "front" view is the
    camera's viewpoint and "side" shows the depth the monocular fit had to guess.

    Args:
      joints: (N, 24, 3) SMPL joints of the N frames shown, metres (`BAResult.joints[frames]`).
      frames: (N,) frame numbers for the titles (default 0..N-1).
      vertices: optional (N, V, 3) posed meshes of the same frames, metres.
      faces: (F, 3) mesh faces (with `vertices`).
      inlier: optional (N,) bool; outlier frames are marked in the titles.
      views: rows, names from `posejax.viz.VIEWS`.
      title: figure title.
      max_faces: faces drawn per mesh (a strided subset keeps the figure fast).
      panel_size: inches per panel.

    Returns:
      A Figure with len(views) x N 3D panels sharing one scale.
    """
    j = np.asarray(check_array(joints, "joints", (None, 24, 3)), np.float64)
    n = j.shape[0]
    if n == 0:
        raise ValueError("`joints` holds no frames")
    if vertices is not None:
        v = np.asarray(check_array(vertices, "vertices", (n, None, 3)), np.float64)
        bodies = [{"vertices": vv, "joints": jj} for vv, jj in zip(v, j)]
    else:
        bodies = [{"joints": jj} for jj in j]
    return plot_bodies_grid(bodies, faces=faces if vertices is not None else None, views=views,
                            titles=_frame_titles(frames, n, inlier), title=title,
                            max_faces=max_faces, panel_size=panel_size)


def plot_ba_per_frame(inlier, reprojection_px, *, initial_reprojection_px=None, frames=None,
                      title: Optional[str] = None, width: float = 8.0) -> Figure:
    """Per-frame fit quality: reprojection error over the clip, with outlier frames shaded.

    Args:
      inlier: (T,) bool per-frame inlier flags (`BAResult.inlier`).
      reprojection_px: (T,) per-frame keypoint error of the fit, pixels (NaN: no detection).
      initial_reprojection_px: optional (T,) the same for the per-frame initialisation
        (`BAResult.init.reprojection_error`).
      frames: (T,) frame numbers for the x axis (default 0..T-1).
      title: figure title.
      width: inches.

    Returns:
      A Figure with two axes: the errors (log scale when they span more than a decade) and a strip
      of the inlier flags (green inlier, red outlier, grey no detection).
    """
    inl = np.asarray(check_array(inlier, "inlier", (None,), dtype=None), bool)
    t = inl.shape[0]
    err = np.asarray(check_array(reprojection_px, "reprojection_px", (t,), finite=False), np.float64)
    x = np.arange(t) if frames is None else np.asarray(frames, np.float64)
    if x.shape != (t,):
        raise ValueError(f"`frames` must have shape ({t},), got {x.shape}")
    fig = Figure(figsize=(width, 3.8))
    ax = fig.add_axes((0.09, 0.32, 0.89, 0.56 if title else 0.64))
    strip = fig.add_axes((0.09, 0.15, 0.89, 0.07), sharex=ax)
    half = 0.5 * (x[1] - x[0]) if t > 1 else 0.5
    for f, ok in zip(x, inl):
        if not ok:
            ax.axvspan(f - half, f + half, color="#d62728", alpha=0.12, lw=0)
    series = [(err, "fit", "#1f6fd1")]
    if initial_reprojection_px is not None:
        init = np.asarray(check_array(initial_reprojection_px, "initial_reprojection_px", (t,),
                                      finite=False), np.float64)
        series.insert(0, (init, "initialisation", "0.6"))
    for values, label, color in series:
        ax.plot(x, values, ".-", color=color, lw=1.2, ms=3, label=label)
    finite = np.concatenate([s[0][np.isfinite(s[0]) & (s[0] > 0)] for s in series])
    if finite.size and finite.max() > 10 * finite.min():
        ax.set_yscale("log")
    ax.set_ylabel("keypoint error (px)")
    ax.legend(loc="upper right", fontsize=8, title=f"outlier frames shaded: {int((~inl).sum())}/{t}",
              title_fontsize=8)
    ax.grid(alpha=0.3)
    ax.tick_params(labelbottom=False)
    # 0 outlier (red), 1 inlier (green), 2 no detection (grey).
    code = np.where(inl, 1, np.where(np.isfinite(err), 0, 2))
    colors = np.array([[0.84, 0.15, 0.16], [0.17, 0.63, 0.17], [0.75, 0.75, 0.75]])
    strip.imshow(colors[code][None], aspect="auto", interpolation="nearest",
                 extent=(x[0] - half, x[-1] + half, 0, 1))
    strip.set_yticks([])
    strip.set_xlabel("frame")
    if title:
        fig.suptitle(title)
    return fig


def plot_ba_reprojection(keypoints2d, layout: Union[str, Layout], *, frames=None, images=None,
                         image_size: Optional[Tuple[int, int]] = None, detections=None,
                         detection_layout: Union[None, str, Layout] = None, inlier=None,
                         title: Optional[str] = None, panel_width: float = 3.0) -> Figure:
    """The fitted skeleton reprojected into a few frames, over the video or a blank canvas.

    Args:
      keypoints2d: (N, K, 2) fitted keypoints of the N frames shown, pixels
        (`BAResult.keypoints2d[frames]`).
      layout: their layout (`BAResult.layout`).
      frames: (N,) frame numbers for the titles.
      images: optional N (H, W, 3) RGB frames drawn underneath.
      image_size: (W, H) of the blank canvas when `images` is None.
      detections: optional (N, P, K', 3) input detections (x, y, confidence), drawn in amber.
      detection_layout: their layout (default `layout`).
      inlier: optional (N,) bool; outlier frames are marked in the titles.
      title: figure title.
      panel_width: inches per panel.

    Returns:
      A Figure with one image axes per frame (pixel origin at the top-left corner).
    """
    layout = get_layout(layout)
    k = len(layout.names)
    kp = np.asarray(check_array(keypoints2d, "keypoints2d", (None, k, 2), finite=False), np.float64)
    n = kp.shape[0]
    titles = _frame_titles(frames, n, inlier)
    if images is not None:
        if len(images) != n:
            raise ValueError(f"`images` must hold one frame per panel ({n}), got {len(images)}")
        sizes = [(int(im.shape[1]), int(im.shape[0])) for im in images]
    elif image_size is not None:
        w, h = (int(v) for v in image_size)
        if w <= 0 or h <= 0:
            raise ValueError(f"`image_size` must be (W, H) > 0, got {image_size!r}")
        sizes = [(w, h)] * n
    else:
        raise ValueError("give `images` or `image_size`")
    det = None
    if detections is not None:
        det_layout = get_layout(detection_layout or layout)
        det = np.asarray(check_array(detections, "detections", (n, None, len(det_layout.names), 3),
                                     finite=False), np.float64)
        # Missing keypoints may be NaN; zero confidence hides them just as well (draw_skeleton_2d
        # rejects NaN).
        missing = ~np.all(np.isfinite(det), axis=-1, keepdims=True)
        det = np.where(missing, 0.0, det)
    aspect = sizes[0][1] / sizes[0][0]
    fig = Figure(figsize=(panel_width * n, panel_width * aspect + (0.7 if title else 0.35)))
    for i in range(n):
        ax = fig.add_subplot(1, n, i + 1)
        w, h = sizes[i]
        if images is not None:
            ax.imshow(np.asarray(images[i]), extent=(0, w, h, 0), interpolation="bilinear")
        else:
            ax.set_facecolor("0.97")
        if det is not None:
            draw_skeleton_2d(ax, det[i], det_layout, line_width=1.0, marker_size=4.0,
                             colors=_DETECTION_COLORS)
        draw_skeleton_2d(ax, kp[i], layout, line_width=1.6, marker_size=8.0)
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(titles[i], fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, wspace=0.04,
                        top=1.0 - (0.7 if title else 0.35) / fig.get_figheight())
    if title:
        fig.suptitle(title + ("" if det is None else "  (amber: detections)"))
    return fig
