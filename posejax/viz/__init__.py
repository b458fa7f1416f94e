"""Matplotlib visualisation of bodies, skeletons and 2D keypoint overlays."""

from posejax.viz.body import SIDE_COLORS, VIEWS, plot_bodies_grid, plot_body, save_figure
from posejax.viz.overlay import draw_skeleton_2d, overlay_skeleton

__all__ = ["SIDE_COLORS", "VIEWS", "plot_body", "plot_bodies_grid", "save_figure",
           "draw_skeleton_2d", "overlay_skeleton"]
