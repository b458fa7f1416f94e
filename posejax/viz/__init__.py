"""Matplotlib visualisation of bodies, skeletons, 2D keypoint overlays, bundle-adjustment results
and the pooled regressor's trajectories and cameras."""

from posejax.viz.body import SIDE_COLORS, VIEWS, plot_bodies_grid, plot_body, save_figure
from posejax.viz.bundle_adjustment import plot_ba_bodies, plot_ba_per_frame, plot_ba_reprojection
from posejax.viz.overlay import draw_skeleton_2d, overlay_skeleton
from posejax.viz.trajectory import plot_camera_per_frame, plot_trajectory_top_view

__all__ = ["SIDE_COLORS", "VIEWS", "plot_body", "plot_bodies_grid", "save_figure",
           "draw_skeleton_2d", "overlay_skeleton", "plot_ba_bodies", "plot_ba_per_frame",
           "plot_ba_reprojection", "plot_trajectory_top_view", "plot_camera_per_frame"]
