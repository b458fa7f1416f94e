"""VirtualPose figures: the AGR panel and the 3D people views draw what they are given."""

from __future__ import annotations

import numpy as np
import pytest

from posejax.body.layouts import get_layout
from posejax.viz import plot_agr, plot_people, save_figure


def test_agr_panel_shows_max_heatmap_boxes_and_roots(tmp_path):
    heat = np.zeros((17, 48, 80), np.float32)
    heat[3, 10, 20] = 1.0
    heat[5, 30, 60] = 0.5
    boxes = np.array([[10.0, 5.0, 30.0, 40.0], [50.0, 20.0, 70.0, 45.0]])
    fig = plot_agr(heat, boxes, roots=np.array([[20.0, 25.0], [60.0, 33.0]]))
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), heat.max(0))
    assert len(ax.patches) == 2 and ax.patches[1].get_width() == pytest.approx(20.0)
    np.testing.assert_allclose(ax.lines[1].get_xydata(), [[60.0, 33.0]])
    assert save_figure(fig, tmp_path / "agr.png").endswith("agr.png")
    with pytest.raises(ValueError, match=r"\(J, H, W\)"):
        plot_agr(heat[0])


def test_people_views_front_and_top():
    rng = np.random.default_rng(0)
    true = rng.normal(0, 0.3, (2, 17, 3)) + [[[0, 1, 0]], [[2, 1, 3]]]
    pred = np.concatenate([true[:1] + 0.05, np.full((1, 17, 3), np.nan)])      # a NaN person is skipped
    fig = plot_people(pred, true, camera_centre=np.array([0.0, 2.0, 8.0]))
    front, top = fig.axes
    edges = len(get_layout("coco17").edges)
    assert len(front.lines) == 3 * edges and len(top.lines) == 3 * edges + 1     # + the camera marker
    i, j = get_layout("coco17").edges[0]
    np.testing.assert_allclose(top.lines[2 * edges].get_xydata(), pred[0][[i, j]][:, [0, 2]])
    with pytest.raises(ValueError, match=r"\(P, 17, 3\)"):
        plot_people(pred[..., :2])
