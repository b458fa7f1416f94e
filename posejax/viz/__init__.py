"""Matplotlib visualisation of bodies, skeletons, 2D keypoint overlays, bundle-adjustment results,
the pooled regressor's trajectories and cameras, VirtualPose's AGR and 3D people, and the
selection of pseudo ground truth."""

from posejax.viz.body import SIDE_COLORS, VIEWS, plot_bodies_grid, plot_body, save_figure
from posejax.viz.bundle_adjustment import plot_ba_bodies, plot_ba_per_frame, plot_ba_reprojection
from posejax.viz.overlay import draw_skeleton_2d, overlay_skeleton
from posejax.viz.pseudo_gt import plot_selection
from posejax.viz.trajectory import plot_camera_per_frame, plot_trajectory_top_view
from posejax.viz.virtualpose import plot_agr, plot_people

__all__ = ["SIDE_COLORS", "VIEWS", "plot_body", "plot_bodies_grid", "save_figure",
           "draw_skeleton_2d", "overlay_skeleton", "plot_ba_bodies", "plot_ba_per_frame",
           "plot_ba_reprojection", "plot_trajectory_top_view", "plot_camera_per_frame", "plot_agr",
           "plot_people", "plot_selection"]
