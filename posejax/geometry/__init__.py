"""Geometry: rotations, cameras, projection, triangulation and Procrustes alignment.

Conventions (DESIGN.md section 3): world Y up, metres, radians; camera frame OpenCV (x right,
y down, z forward); pixel origin at the top-left corner of the top-left pixel; quaternions
scalar-first (w, x, y, z).
"""

from posejax.geometry.cameras import (PerspectiveCamera, StaticCamera, WeakPerspectiveCamera,
                                      camera_center, focal_from_fov, fov_from_intrinsics,
                                      intrinsics_from_focal, intrinsics_from_fov, look_at,
                                      perspective_to_static, static_to_perspective)
from posejax.geometry.procrustes import rigid_procrustes, similarity_procrustes
from posejax.geometry.projection import (DEFAULT_MIN_DEPTH, backproject, perspective_project,
                                         project, to_camera_frame)
from posejax.geometry.rotations import (axis_angle_to_matrix, axis_angle_to_quaternion,
                                        matrix_to_axis_angle, matrix_to_quaternion,
                                        matrix_to_rot6d, quaternion_conjugate,
                                        quaternion_multiply, quaternion_to_axis_angle,
                                        quaternion_to_matrix, rot6d_to_matrix, rot_x, rot_y, rot_z)
from posejax.geometry.triangulation import projection_matrix, triangulate

__all__ = [
    "PerspectiveCamera", "StaticCamera", "WeakPerspectiveCamera", "camera_center",
    "focal_from_fov", "fov_from_intrinsics", "intrinsics_from_focal", "intrinsics_from_fov",
    "look_at", "perspective_to_static", "static_to_perspective",
    "DEFAULT_MIN_DEPTH", "backproject", "perspective_project", "project", "to_camera_frame",
    "axis_angle_to_matrix", "axis_angle_to_quaternion", "matrix_to_axis_angle",
    "matrix_to_quaternion", "matrix_to_rot6d", "quaternion_conjugate", "quaternion_multiply",
    "quaternion_to_axis_angle", "quaternion_to_matrix", "rot6d_to_matrix", "rot_x", "rot_y",
    "rot_z",
    "projection_matrix", "triangulate", "rigid_procrustes", "similarity_procrustes",
]
