"""Pooled-regressor figures."""

from __future__ import annotations

import numpy as np
import pytest

from posejax.viz import plot_camera_per_frame, plot_trajectory_top_view, save_figure


def test_figures_draw_and_save(tmp_path):
    t = np.linspace(0, 1, 30)
    root = np.stack([np.sin(3 * t), np.full_like(t, 0.9), 5 + t], -1)
    fig = plot_trajectory_top_view(root + 0.1, root)
    ax = fig.axes[0]
    assert len(ax.lines) == 5  # truth line + start, prediction line + start, camera
    np.testing.assert_allclose(ax.lines[2].get_ydata(), root[:, 2] + 0.1)  # z on the vertical axis
    assert save_figure(fig, tmp_path / "traj.png").endswith("traj.png")
    cams = np.tile([0.2, 0.0, 1.5, 1.0], (30, 1))
    fig = plot_camera_per_frame(cams, gt=[0.25, 0.0, 1.6, 1.1])
    assert len(fig.axes) == 4
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), np.degrees(0.2))
    with pytest.raises(ValueError, match=r"\(T, 4\)"):
        plot_camera_per_frame(np.zeros((30, 3)))
    with pytest.raises(ValueError, match=r"\(T, 3\)"):
        plot_trajectory_top_view(np.zeros(3))
