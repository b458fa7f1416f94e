"""SMPL-layout body models: loading, forward kinematics, skinning and keypoints."""

from posejax.body.kinematics import (BodyOutput, forward, global_transforms, joints, keypoints,
                                     posed_keypoints, rest_joints, skin_vertices, vertices)
from posejax.body.layouts import LAYOUTS, Layout, convert_keypoints, get_layout
from posejax.body.loading import as_body_model, load_body_model
from posejax.body.model import BodyModel, KeypointRegressor, make_body_model
from posejax.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS
