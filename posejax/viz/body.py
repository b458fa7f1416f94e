"""Matplotlib pictures of bodies (mesh and/or skeleton) in the world frame.

Figures are built with `matplotlib.figure.Figure` directly, never through pyplot, so nothing is
registered in pyplot's global figure list and the functions work under any backend (Agg included).

World frame: Y up, body faces +Z. Views (orthographic):
  "front": from +Z looking toward -Z; image right = +X (the subject's left is on the image right).
  "back":  from -Z; image right = -X.
  "side":  from +X (the subject's left side); image right = -Z, so the subject faces image left.
  "top":   from +Y looking down; image right = +X, image up = -Z (the subject's front points down).
"""

from __future__ import annotations

import math
import os
from typing import Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the "3d" projection)
from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection

from posejax._checks import check_array
from posejax.body.layouts import Layout, get_layout
from posejax.body.skeleton import SMPL_JOINT_NAMES

__all__ = ["VIEWS", "SIDE_COLORS", "plot_body", "plot_bodies_grid", "save_figure"]

# (elevation, azimuth) in degrees for matplotlib's camera, in the plotting frame below.
VIEWS = {"front": (0.0, -90.0), "back": (0.0, 90.0), "side": (0.0, 0.0), "top": (90.0, -90.0)}

# World direction toward the viewer, used to light each view from the camera (slightly above).
_VIEW_DIRS = {"front": (0.0, 0.0, 1.0), "back": (0.0, 0.0, -1.0), "side": (1.0, 0.0, 0.0),
              "top": (0.0, 1.0, 0.0)}

SIDE_COLORS = {"left": "#1f6fd1", "right": "#d62728", "center": "#2ca02c"}

EdgesLike = Union[None, str, Layout, Sequence[Tuple[int, int]]]


def _to_plot(p: np.ndarray) -> np.ndarray:
    """World (x, y, z) -> matplotlib 3D (x, -z, y): a proper rotation putting world Y up."""
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def _check_views(views) -> Tuple[str, ...]:
    if isinstance(views, str):
        views = (views,)
    views = tuple(views)
    bad = [v for v in views if v not in VIEWS]
    if not views or bad:
        raise ValueError(f"`views` must be a non-empty sequence of {sorted(VIEWS)}, got {views!r}")
    return views


def _check_faces(faces, num_vertices: int) -> np.ndarray:
    f = np.asarray(check_array(faces, "faces", (None, 3), dtype=None))
    if not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"`faces` must be an integer array of shape (F, 3), got dtype {f.dtype}")
    if f.size and (f.min() < 0 or f.max() >= num_vertices):
        raise ValueError(f"`faces` must index vertices in [0, {num_vertices}), "
                         f"got values in [{f.min()}, {f.max()}]")
    return f.astype(np.int64)


def _resolve_edges(edges: EdgesLike, num_joints: int):
    """Edge index pairs (E, 2) and per-edge colours for `num_joints` joints."""
    if edges is None:
        if num_joints != len(SMPL_JOINT_NAMES):
            return np.zeros((0, 2), np.int64), []
        edges = "smpl24"
    if isinstance(edges, (str, Layout)):
        layout = get_layout(edges)
        if len(layout.names) != num_joints:
            raise ValueError(f"`edges` layout {layout.name!r} has {len(layout.names)} keypoints "
                             f"but `joints` has {num_joints}")
        return np.asarray(layout.edges, np.int64).reshape(-1, 2), [
            SIDE_COLORS[s] for s in layout.edge_sides]
    e = np.asarray(edges)
    if e.size == 0:
        return np.zeros((0, 2), np.int64), []
    if e.ndim != 2 or e.shape[1] != 2 or not np.issubdtype(e.dtype, np.integer):
        raise ValueError(f"`edges` must be integer index pairs of shape (E, 2), a layout or None, "
                         f"got an array of shape {e.shape} and dtype {e.dtype}")
    if e.min() < 0 or e.max() >= num_joints:
        raise ValueError(f"`edges` must index joints in [0, {num_joints}), got values in "
                         f"[{e.min()}, {e.max()}]")
    return e.astype(np.int64), [SIDE_COLORS["center"]] * len(e)


def _shade(tri: np.ndarray, view: str, color) -> np.ndarray:
    """Lambert shading of triangles (F, 3, 3), lit from the viewer and above: (F, 4) RGBA."""
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n = n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    above = [0.0, 0.4, 0.0] if view != "top" else [0.0, 0.0, 0.3]
    light = np.asarray(_VIEW_DIRS[view]) + np.asarray(above)
    light = light / np.linalg.norm(light)
    # Two-sided: a mesh seen from inside (or with flipped winding) is still readable.
    intensity = 0.35 + 0.65 * np.abs(n @ light)
    rgb = np.clip(np.asarray(color, np.float64)[None, :3] * intensity[:, None], 0.0, 1.0)
    return np.concatenate([rgb, np.ones((len(rgb), 1))], axis=1)


def _subsample_faces(faces: np.ndarray, max_faces: int) -> np.ndarray:
    if max_faces <= 0 or len(faces) <= max_faces:
        return faces
    # Evenly strided subset: deterministic; mesh files order faces spatially, so holes spread out.
    return faces[np.linspace(0, len(faces) - 1, max_faces).round().astype(np.int64)]


def _draw(ax, view: str, vertices, faces, joints, edges, edge_colors, center, half,
          mesh_color, joint_size, line_width):
    """Draws one body on a 3D axes with the given view and cube limits."""
    if vertices is not None and faces is not None and len(faces):
        tri = vertices[faces]                                            # (F, 3, 3) world
        coll = Poly3DCollection(_to_plot(tri), facecolors=_shade(tri, view, mesh_color),
                                edgecolors="none", linewidths=0.0)
        coll.set_zorder(1)
        ax.add_collection3d(coll)
    elif vertices is not None:
        p = _to_plot(vertices)
        ax.scatter(p[:, 0], p[:, 1], p[:, 2], s=1.0, c=[mesh_color], depthshade=False, zorder=1)
    if joints is not None:
        p = _to_plot(joints)
        if len(edges):
            lines = Line3DCollection(p[edges], colors=edge_colors, linewidths=line_width)
            lines.set_zorder(3)
            ax.add_collection3d(lines)
        ax.scatter(p[:, 0], p[:, 1], p[:, 2], s=joint_size, c="k", depthshade=False, zorder=4)
    elev, azim = VIEWS[view]
    ax.view_init(elev=elev, azim=azim)
    ax.set_proj_type("ortho")
    # Skeleton drawn over the mesh: per-artist depth sorting would hide joints inside the body.
    ax.computed_zorder = False
    c = _to_plot(center)
    ax.set_xlim(c[0] - half, c[0] + half)
    ax.set_ylim(c[1] - half, c[1] + half)
    ax.set_zlim(c[2] - half, c[2] + half)
    # matplotlib shrinks the box so that any rotation fits; our views are axis-aligned, so zoom in.
    ax.set_box_aspect((1.0, 1.0, 1.0), zoom=1.45)


def _prepare(vertices, faces, joints, edges, max_faces):
    """Validated numpy inputs for one body."""
    if vertices is None and joints is None:
        raise ValueError("give `vertices` (with `faces`) and/or `joints`; both were None")
    v = f = j = None
    e, ec = np.zeros((0, 2), np.int64), []
    if vertices is not None:
        v = np.asarray(check_array(vertices, "vertices", (None, 3)), np.float64)
        if faces is not None:
            f = _subsample_faces(_check_faces(faces, len(v)), max_faces)
    elif faces is not None:
        raise ValueError("`faces` was given without `vertices`")
    if joints is not None:
        j = np.asarray(check_array(joints, "joints", (None, 3)), np.float64)
        e, ec = _resolve_edges(edges, len(j))
    return v, f, j, e, ec


def _bounds(v, j) -> Tuple[np.ndarray, float]:
    pts = np.concatenate([p for p in (v, j) if p is not None and len(p)], axis=0)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.05, 1e-3)


def _leave_room_for_titles(fig: Figure, has_suptitle: bool, hspace: float = 0.0) -> None:
    """Panels fill the figure except a fixed band (inches) at the top for the titles."""
    band = 0.75 if has_suptitle else 0.35
    fig.subplots_adjust(left=0.0, right=1.0, bottom=0.0, top=1.0 - band / fig.get_figheight(),
                        wspace=0.0, hspace=hspace)


def plot_body(vertices=None, faces=None, joints=None, edges: EdgesLike = None,
              views: Sequence[str] = ("front", "side"), title: Optional[str] = None, *,
              mesh_color=(0.72, 0.76, 0.86), max_faces: int = 30000, joint_size: float = 12.0,
              line_width: float = 2.0, panel_size: float = 3.5, show_axes: bool = False) -> Figure:
    """Plots one body as a shaded mesh and/or a skeleton from one or more views.

    Args:
      vertices: (V, 3) metres, world frame (or None).
      faces: (F, 3) int vertex indices (None with vertices: draws the vertices as points).
      joints: (J, 3) metres (or None).
      edges: bones between joints: (E, 2) index pairs, a layout (name or Layout; edges coloured by
        side: left blue, right red, centre green), or None (the SMPL tree when J == 24, else none).
      views: names from VIEWS ("front", "back", "side", "top"); one panel each, left to right.
      title: figure title.
      mesh_color: RGB of the lit mesh.
      max_faces: draw at most this many faces (an evenly strided subset, which leaves holes;
        <= 0 means all). Drawing 20k faces takes ~0.2 s per panel.
      joint_size, line_width: marker area (points^2) and bone width (points).
      panel_size: inches per panel.
      show_axes: keep matplotlib's 3D axes, ticks and panes.

    Returns:
      A matplotlib Figure with one 3D axes per view (equal aspect, orthographic).
    """
    views = _check_views(views)
    v, f, j, e, ec = _prepare(vertices, faces, joints, edges, max_faces)
    center, half = _bounds(v, j)
    fig = Figure(figsize=(panel_size * len(views), panel_size + (0.4 if title else 0.0)))
    for k, view in enumerate(views):
        ax = fig.add_subplot(1, len(views), k + 1, projection="3d")
        _draw(ax, view, v, f, j, e, ec, center, half, mesh_color, joint_size, line_width)
        ax.set_title(view)
        if not show_axes:
            ax.set_axis_off()
    _leave_room_for_titles(fig, bool(title))
    if title:
        fig.suptitle(title)
    return fig


def plot_bodies_grid(bodies: Sequence, faces=None, edges: EdgesLike = None,
                     views: Sequence[str] = ("front", "side"),
                     titles: Optional[Sequence[str]] = None, title: Optional[str] = None, *,
                     mesh_color=(0.72, 0.76, 0.86),
                     max_faces: int = 30000, joint_size: float = 8.0, line_width: float = 1.5,
                     panel_size: float = 2.5, show_axes: bool = False) -> Figure:
    """Plots several bodies side by side: one column per body, one row per view.

    All panels share one scale (so sizes compare) and each is centred on its own body.

    Args:
      bodies: sequence of bodies; each is a (N, 3) array (vertices when `faces` is given, else
        joints) or a mapping with keys "vertices" and/or "joints".
      faces: (F, 3) faces shared by all meshes (or None).
      edges: as in `plot_body`.
      views: one row per view.
      titles: one title per body (column).
      title: figure title.
      mesh_color, max_faces, joint_size, line_width, panel_size, show_axes: as in `plot_body`.

    Returns:
      A Figure with len(views) * len(bodies) 3D axes (row-major: views x bodies).
    """
    views = _check_views(views)
    if isinstance(bodies, np.ndarray) or not isinstance(bodies, Sequence) or not len(bodies):
        raise ValueError("`bodies` must be a non-empty list of (N, 3) arrays or mappings with "
                         f"'vertices'/'joints', got {type(bodies).__name__}")
    if titles is not None and len(titles) != len(bodies):
        raise ValueError(
            f"`titles` must have one entry per body ({len(bodies)}), got {len(titles)}")
    prepared = []
    for i, body in enumerate(bodies):
        if isinstance(body, Mapping):
            unknown = set(body) - {"vertices", "joints"}
            if unknown:
                raise ValueError(f"`bodies[{i}]` has unknown keys {sorted(unknown)}; "
                                 "use 'vertices' and/or 'joints'")
            vv, jj = body.get("vertices"), body.get("joints")
        elif faces is not None:
            vv, jj = body, None
        else:
            vv, jj = None, body
        prepared.append(_prepare(vv, faces if vv is not None else None, jj, edges, max_faces))
    bounds = [_bounds(p[0], p[2]) for p in prepared]
    half = max(b[1] for b in bounds)
    n = len(bodies)
    fig = Figure(figsize=(panel_size * n, panel_size * len(views) + (0.4 if title else 0.0)))
    for r, view in enumerate(views):
        for c, (v, f, j, e, ec) in enumerate(prepared):
            ax = fig.add_subplot(len(views), n, r * n + c + 1, projection="3d")
            _draw(ax, view, v, f, j, e, ec, bounds[c][0], half, mesh_color, joint_size, line_width)
            label = titles[c] if titles is not None else f"#{c}"
            ax.set_title(f"{label} ({view})", fontsize=9)
            if not show_axes:
                ax.set_axis_off()
    _leave_room_for_titles(fig, bool(title), hspace=0.12)
    if title:
        fig.suptitle(title)
    return fig


def save_figure(fig: Figure, path: Union[str, os.PathLike], dpi: int = 100) -> str:
    """Saves `fig` to `path` (format from the extension), creating parent folders.

    Returns:
      The path written, as a string.
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"`fig` must be a matplotlib Figure, got {type(fig).__name__}")
    if not (isinstance(dpi, (int, float)) and math.isfinite(dpi) and dpi > 0):
        raise ValueError(f"`dpi` must be a positive number, got {dpi!r}")
    path = os.fspath(path)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
