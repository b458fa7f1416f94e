"""Tests for the matplotlib body plots and 2D skeleton overlays (Agg, no pyplot state)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mpl_toolkits.mplot3d import proj3d  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection  # noqa: E402

from posejax.body.layouts import get_layout  # noqa: E402
from posejax.body.skeleton import SMPL_PARENTS  # noqa: E402
from posejax.viz import (draw_skeleton_2d, overlay_skeleton, plot_bodies_grid,  # noqa: E402
                         plot_body, save_figure)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _stick_figure():
    """SMPL-layout joints (24, 3), facing +Z, left arm raised (subject's left = +X)."""
    return np.array([
        [0, .9, 0], [.09, .85, 0], [-.09, .85, 0], [0, 1., 0], [.1, .48, 0], [-.1, .48, 0],
        [0, 1.13, 0], [.1, .08, 0], [-.1, .08, 0], [0, 1.27, 0], [.11, .02, .12], [-.11, .02, .12],
        [0, 1.48, 0], [.08, 1.4, 0], [-.08, 1.4, 0], [0, 1.62, .03], [.18, 1.42, 0],
        [-.18, 1.42, 0], [.2, 1.7, 0], [-.45, 1.42, 0], [.22, 1.95, 0], [-.7, 1.42, 0],
        [.22, 2.03, 0], [-.78, 1.42, 0]], np.float32)


def _random_mesh(seed=0, num_vertices=60, num_faces=100):
    rng = np.random.default_rng(seed)
    vertices = rng.normal(size=(num_vertices, 3)).astype(np.float32) * [0.2, 0.5, 0.1] + [0, 1, 0]
    faces = np.stack([rng.choice(num_vertices, 3, replace=False) for _ in range(num_faces)])
    return vertices, faces.astype(np.int32)


def _render(fig):
    """Draws `fig` with Agg (projects the 3D artists); returns the canvas."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas


def _pyplot_figures():
    import matplotlib.pyplot as plt
    return len(plt.get_fignums())


# ------------------------------------------------------------------------------------ 3D plots

def test_plot_body_mesh_and_skeleton_builds_and_saves(tmp_path):
    before = _pyplot_figures()
    vertices, faces = _random_mesh()
    fig = plot_body(vertices, faces, joints=_stick_figure(), views=("front", "side", "top"),
                    title="random mesh")
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert _pyplot_figures() == before  # no pyplot global state touched
    _render(fig)
    for ax in fig.axes:
        assert ax.name == "3d"
        polys = [c for c in ax.collections if isinstance(c, Poly3DCollection)]
        lines = [c for c in ax.collections if isinstance(c, Line3DCollection)]
        assert len(polys) == 1 and len(lines) == 1
        assert len(lines[0].get_segments()) == len(SMPL_PARENTS) - 1
        # Equal aspect: the same span on every axis.
        spans = [np.ptp(lim) for lim in (ax.get_xlim(), ax.get_ylim(), ax.get_zlim())]
        np.testing.assert_allclose(spans, spans[0], rtol=1e-6)
    path = save_figure(fig, tmp_path / "sub" / "body.png", dpi=40)
    data = open(path, "rb").read()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000


def test_plot_body_subsamples_faces_and_draws_vertices_alone():
    vertices, faces = _random_mesh(num_faces=300)
    fig = plot_body(vertices, faces, views="front", max_faces=50)
    (coll,) = [c for c in fig.axes[0].collections if isinstance(c, Poly3DCollection)]
    assert len(coll.get_facecolor()) == 50
    fig = plot_body(vertices=vertices, views=("front",))  # point cloud, no faces
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 1


def test_plot_body_skeleton_edges_from_layout_and_pairs():
    joints = np.random.default_rng(1).normal(size=(17, 3))
    fig = plot_body(joints=joints, edges="coco17", views=("front",))
    _render(fig)
    (lines,) = [c for c in fig.axes[0].collections if isinstance(c, Line3DCollection)]
    assert len(lines.get_segments()) == len(get_layout("coco17").edges)
    fig = plot_body(joints=joints, edges=[(0, 1), (1, 2)], views=("front",))
    _render(fig)
    (lines,) = [c for c in fig.axes[0].collections if isinstance(c, Line3DCollection)]
    assert len(lines.get_segments()) == 2
    fig = plot_body(joints=joints, views=("front",))  # no known tree for 17 joints: points only
    assert not [c for c in fig.axes[0].collections if isinstance(c, Line3DCollection)]


def _projected(ax, points):
    x, y, _ = proj3d.proj_transform(points[:, 0], -points[:, 2], points[:, 1], ax.get_proj())
    return np.stack([x, y], -1)


def test_views_are_oriented_as_documented():
    """Front: head up, subject's left on the image right; side (from +X): front faces image left."""
    joints = _stick_figure()
    fig = plot_body(joints=joints, views=("front", "side", "top", "back"))
    front, side, top, back = fig.axes
    p = _projected(front, joints)
    assert p[15, 1] > p[0, 1] > p[7, 1]          # head above pelvis above ankle
    assert p[22, 0] > p[0, 0] > p[23, 0]         # left hand on the image right
    p = _projected(back, joints)
    assert p[22, 0] < p[0, 0] < p[23, 0]
    p = _projected(side, joints)
    assert p[15, 1] > p[0, 1]
    assert p[10, 0] < p[7, 0]                    # toes (z = +0.12) left of the ankle
    p = _projected(top, joints)
    assert p[22, 0] > p[23, 0]                   # left still on the right
    assert p[10, 1] < p[7, 1]                    # front (+Z) points down the image


def test_plot_bodies_grid_layout(tmp_path):
    vertices, faces = _random_mesh()
    joints = _stick_figure()
    fig = plot_bodies_grid([vertices, vertices * 1.1, vertices + 0.3], faces=faces,
                           titles=["a", "b", "c"])
    assert len(fig.axes) == 6 and all(ax.name == "3d" for ax in fig.axes)
    assert fig.axes[0].get_title() == "a (front)" and fig.axes[3].get_title() == "a (side)"
    bodies = [joints, {"joints": joints * 0.5}, {"vertices": vertices, "joints": joints}]
    fig = plot_bodies_grid(bodies, views=("front", "side", "top"))
    assert len(fig.axes) == 9
    spans = {round(float(np.ptp(ax.get_xlim())), 6) for ax in fig.axes}
    assert len(spans) == 1  # one shared scale
    data = open(save_figure(fig, tmp_path / "grid.png", dpi=30), "rb").read()
    assert data.startswith(PNG_SIGNATURE)


def test_3d_bad_inputs():
    vertices, faces = _random_mesh()
    with pytest.raises(ValueError, match="both were None"):
        plot_body()
    with pytest.raises(ValueError, match=r"`joints` must have shape \(N, 3\), got \(24, 2\)"):
        plot_body(joints=np.zeros((24, 2)))
    with pytest.raises(ValueError, match=r"`faces` must index vertices in \[0, 60\)"):
        plot_body(vertices, faces + 10)
    with pytest.raises(ValueError, match="`faces` must be an integer array"):
        plot_body(vertices, faces.astype(np.float32))
    with pytest.raises(ValueError, match="`faces` was given without `vertices`"):
        plot_body(faces=faces, joints=_stick_figure())
    with pytest.raises(ValueError, match="`views` must be a non-empty sequence"):
        plot_body(joints=_stick_figure(), views=("front", "diagonal"))
    with pytest.raises(ValueError, match="`vertices` contains NaN"):
        plot_body(np.full((4, 3), np.nan))
    with pytest.raises(ValueError, match="layout 'coco17' has 17 keypoints but `joints` has 24"):
        plot_body(joints=_stick_figure(), edges="coco17")
    with pytest.raises(ValueError, match=r"`edges` must index joints in \[0, 24\)"):
        plot_body(joints=_stick_figure(), edges=[(0, 24)])
    with pytest.raises(ValueError, match="`bodies` must be a non-empty list"):
        plot_bodies_grid([])
    with pytest.raises(ValueError, match="`titles` must have one entry per body"):
        plot_bodies_grid([_stick_figure()], titles=["a", "b"])
    with pytest.raises(ValueError, match="`fig` must be a matplotlib Figure"):
        save_figure("not a figure", "x.png")


# ------------------------------------------------------------------------------------ overlays

def _detections(layout, seed=0, people=()):
    rng = np.random.default_rng(seed)
    k = len(get_layout(layout))
    xy = rng.uniform(0, 100, people + (k, 2))
    kp = np.concatenate([xy, rng.uniform(0, 1, people + (k, 1))], -1)
    return kp.astype(np.float32)


@pytest.mark.parametrize("layout", ["coco17", "body25b", "h36m17", "mediapipe33"])
def test_draw_skeleton_2d_draws_exactly_the_confident_edges(layout):
    kp = _detections(layout, seed=3)
    threshold = 0.4
    fig = Figure()
    ax = fig.add_subplot()
    artists = draw_skeleton_2d(ax, kp, layout, confidence_threshold=threshold)
    shown = kp[:, 2] > threshold
    expected = [(i, j) for i, j in get_layout(layout).edges if shown[i] and shown[j]]
    assert 0 < len(expected) < len(get_layout(layout).edges)  # the test exercises both cases
    segments = artists["lines"].get_segments()
    assert len(segments) == len(expected)
    for seg, (i, j) in zip(segments, expected):
        np.testing.assert_allclose(seg, kp[[i, j], :2])
    assert len(artists["points"].get_offsets()) == shown.sum()
    assert [c for c in ax.collections if isinstance(c, LineCollection)] == [artists["lines"]]


def test_draw_skeleton_2d_colours_and_people():
    layout = get_layout("coco17")
    kp = _detections("coco17", people=(2,))
    kp[..., 2] = 1.0
    fig = Figure()
    artists = draw_skeleton_2d(fig.add_subplot(), kp, layout, colors={"left": "#00ff00"})
    assert len(artists["lines"].get_segments()) == 2 * len(layout.edges)
    colours = artists["lines"].get_colors()
    first_left = layout.edge_sides.index("left")
    np.testing.assert_allclose(colours[first_left][:3], [0, 1, 0])
    # (K, 2) input: no confidence, everything drawn.
    artists = draw_skeleton_2d(Figure().add_subplot(), kp[0, :, :2], layout)
    assert len(artists["lines"].get_segments()) == len(layout.edges)


def test_overlay_skeleton_pixel_convention(tmp_path):
    h, w = 30, 20
    image = np.zeros((h, w, 3), np.uint8)
    image[10, 5] = 255
    kp = np.zeros((17, 3), np.float32)
    fig = overlay_skeleton(image, kp, "coco17")  # all confidences 0: nothing drawn
    (ax,) = fig.axes
    assert ax.images[0].get_extent() == [0, w, h, 0]
    assert ax.get_xlim() == (0, w) and ax.get_ylim() == (h, 0)
    assert len(ax.collections[0].get_segments()) == 0
    # The centre of pixel (row 10, col 5) is at (5.5, 10.5): find the white pixel in the render.
    fig.set_dpi(50)
    rgba = np.asarray(_render(fig).buffer_rgba())
    rows, cols = np.nonzero(rgba[..., 0] > 128)
    x_disp, y_disp = ax.transData.transform((5.5, 10.5))
    assert abs(cols.mean() + 0.5 - x_disp) < 1.0
    assert abs((rgba.shape[0] - rows.mean() - 0.5) - y_disp) < 1.0
    data = open(save_figure(fig, tmp_path / "overlay.png"), "rb").read()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 100


def test_overlay_bad_inputs():
    kp = _detections("coco17")
    with pytest.raises(ValueError, match=r"`image` must have shape \(N, N, 3\), got \(30, 20\)"):
        overlay_skeleton(np.zeros((30, 20)), kp, "coco17")
    with pytest.raises(ValueError, match="`image` must be uint8"):
        overlay_skeleton(np.zeros((30, 20, 3), np.int64), kp, "coco17")
    with pytest.raises(ValueError, match=r"`keypoints` must have shape \(\.\.\., 25, N\)"):
        overlay_skeleton(np.zeros((30, 20, 3), np.uint8), kp, "body25b")
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 2\) or \(\.\.\., 17, 3\)"):
        draw_skeleton_2d(Figure().add_subplot(), np.zeros((17, 4)), "coco17")
    with pytest.raises(ValueError, match="unknown keypoint layout 'coco'"):
        draw_skeleton_2d(Figure().add_subplot(), kp, "coco")
