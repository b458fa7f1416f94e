"""Forward kinematics and linear blend skinning for `BodyModel`s.

Three paths, cheapest first:
  * `joints`: the 24 posed joints by forward kinematics alone (rest joints are affine in betas;
    no vertex is touched).
  * `keypoints`: a layout's keypoints, skinning only the few vertices its landmarks use.
  * `forward` / `vertices`: the full mesh, as the official SMPL does it.

All take axis-angle `pose (..., 24, 3)` (or `(..., 72)`; joint 0 is the global orientation),
`betas (..., S')` with S' <= the model's S, and an optional `transl (..., 3)` in metres; leading
batch dims broadcast against each other (one shape for a whole sequence is `betas (S,)`).
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp

from posejax._checks import check_array
from posejax.body.model import BodyModel
from posejax.body.skeleton import NUM_JOINTS, SMPL_PARENTS, joints_by_depth
from posejax.geometry.rotations import axis_angle_to_matrix

_LEVELS = joints_by_depth(SMPL_PARENTS)
# Order in which the per-level results are concatenated, and its inverse to restore SMPL order.
_LEVEL_ORDER = tuple(j for level in _LEVELS for j in level)
_RESTORE = tuple(_LEVEL_ORDER.index(j) for j in range(NUM_JOINTS))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class BodyOutput:
    """Result of `forward`.

    Attributes:
      vertices: (..., V, 3) posed vertices in metres, or None when not requested.
      joints: (..., 24, 3) posed SMPL joints in metres.
      joint_rotations: (..., 24, 3, 3) global (world) rotation of every joint.
    """

    vertices: Optional[jax.Array]
    joints: jax.Array
    joint_rotations: jax.Array


def _check_inputs(model: BodyModel, pose, betas, transl):
    """Validates and converts the public inputs; returns pose as (..., 24, 3) and zero-filled transl."""
    pose = check_array(pose, "pose", ("...", None))
    if pose.shape[-1] == 3 * NUM_JOINTS:
        pose = pose.reshape(pose.shape[:-1] + (NUM_JOINTS, 3))
    elif pose.ndim < 2 or pose.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"`pose` must have shape (..., 24, 3) or (..., 72) (axis-angle), got {tuple(pose.shape)}")
    betas = check_array(betas, "betas", ("...", None))
    if betas.shape[-1] > model.num_betas:
        raise ValueError(
            f"`betas` has {betas.shape[-1]} components but body model {model.name!r} has {model.num_betas}")
    transl = jnp.zeros(3, pose.dtype) if transl is None else check_array(transl, "transl", ("...", 3))
    return pose, betas, transl


def rest_joints(model: BodyModel, betas: jax.Array) -> jax.Array:
    """Rest (T-pose) joints for given shapes without touching the mesh.

    Args:
      model: the body model.
      betas: (..., S') shape coefficients, S' <= model.num_betas.

    Returns:
      (..., 24, 3) joint positions in metres.
    """
    num = betas.shape[-1]
    return model.joint_template + jnp.einsum("jcs,...s->...jc", model.joint_shapedirs[..., :num], betas)


def take_static(x: jax.Array, indices, axis: int) -> jax.Array:
    """`jnp.take(x, indices, axis)` for indices known at trace time, built from slices.

    Runs of consecutive indices become one slice and repeated indices a broadcast, joined by one
    concatenation; the identity returns `x`. Fancy indexing would emit a gather, whose gradient
    is a scatter: both are slow to trace and to run on CPU, and the kinematic chain indexes at
    every tree level.

    Args:
      x: array.
      indices: sequence of non-negative ints (static).
      axis: axis of `x` to take along.

    Returns:
      x with `axis` replaced by `len(indices)` entries.
    """
    indices = [int(i) for i in indices]
    axis = axis % x.ndim
    if indices == list(range(x.shape[axis])):
        return x
    pieces, i = [], 0
    while i < len(indices):
        j = i + 1
        if j < len(indices) and indices[j] == indices[i]:  # a repeated index: broadcast
            while j < len(indices) and indices[j] == indices[i]:
                j += 1
            piece = jax.lax.slice_in_dim(x, indices[i], indices[i] + 1, axis=axis)
            piece = jnp.broadcast_to(piece, piece.shape[:axis] + (j - i,) + piece.shape[axis + 1:])
        else:  # consecutive indices: one slice
            while j < len(indices) and indices[j] == indices[j - 1] + 1:
                j += 1
            piece = jax.lax.slice_in_dim(x, indices[i], indices[j - 1] + 1, axis=axis)
        pieces.append(piece)
        i = j
    return pieces[0] if len(pieces) == 1 else jnp.concatenate(pieces, axis=axis)


def global_transforms(rotations: jax.Array, rest: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Chains local joint rotations down the SMPL tree, one tree depth at a time.

    Args:
      rotations: (..., 24, 3, 3) local rotation of each joint relative to its parent.
      rest: (..., 24, 3) rest joint positions.

    Returns:
      (global rotations (..., 24, 3, 3), global joint positions (..., 24, 3)); the root stays at its
      rest position (translation is added by the callers).
    """
    batch = jnp.broadcast_shapes(rotations.shape[:-3], rest.shape[:-2])
    # One flat batch axis: XLA:CPU (jax 0.10) fails its HLO verifier on the batched 3x3 products
    # below when they carry two or more batch axes, e.g. (sequences, frames).
    rotations = jnp.broadcast_to(rotations, batch + rotations.shape[-3:]).reshape((-1,) + rotations.shape[-3:])
    rest = jnp.broadcast_to(rest, batch + rest.shape[-2:]).reshape((-1,) + rest.shape[-2:])
    level_rots = [take_static(rotations, _LEVELS[0], -3)]
    level_pos = [take_static(rest, _LEVELS[0], -2)]
    for prev, level in zip(_LEVELS[:-1], _LEVELS[1:]):
        # A joint's parent always sits one depth level up, so each level needs only the previous one.
        parent_slot = [prev.index(SMPL_PARENTS[j]) for j in level]
        parent_rot = take_static(level_rots[-1], parent_slot, -3)
        parent_pos = take_static(level_pos[-1], parent_slot, -2)
        bone = take_static(rest, level, -2) - take_static(rest, [SMPL_PARENTS[j] for j in level], -2)
        level_rots.append(parent_rot @ take_static(rotations, level, -3))
        level_pos.append(parent_pos + jnp.einsum("...ij,...j->...i", parent_rot, bone))
    rots = take_static(jnp.concatenate(level_rots, axis=-3), _RESTORE, -3)
    pos = take_static(jnp.concatenate(level_pos, axis=-2), _RESTORE, -2)
    return rots.reshape(batch + rots.shape[-3:]), pos.reshape(batch + pos.shape[-2:])


def joints(model: BodyModel, pose, betas, transl=None) -> jax.Array:
    """Posed SMPL joints by forward kinematics only (the fast path).

    Args:
      model: the body model.
      pose: (..., 24, 3) axis-angle pose in radians, or (..., 72).
      betas: (..., S') shape coefficients.
      transl: optional (..., 3) global translation in metres.

    Returns:
      (..., 24, 3) joints in metres, world frame.
    """
    pose, betas, transl = _check_inputs(model, pose, betas, transl)
    _, pos = global_transforms(axis_angle_to_matrix(pose), rest_joints(model, betas))
    return pos + transl[..., None, :]


def skin_vertices(model: BodyModel, vertex_ids, pose_rots, betas, global_rots, global_pos, rest):
    """Linear blend skinning of selected vertices, given an already computed kinematic chain.

    Public so that callers that need joints and a few vertices from one forward pass (e.g. the
    bundle-adjustment energy) do not walk the chain twice.

    Args:
      model: the body model.
      vertex_ids: (U,) int vertex ids, or None for all vertices.
      pose_rots: (..., 24, 3, 3) local joint rotations.
      betas: (..., S') shape coefficients.
      global_rots, global_pos: `global_transforms` of `pose_rots` and `rest`.
      rest: (..., 24, 3) rest joints (`rest_joints`).

    Returns:
      (..., U, 3) posed vertices in metres, before global translation.
    """
    take = (lambda a: a) if vertex_ids is None else (lambda a: a[vertex_ids])
    num = betas.shape[-1]
    shaped = take(model.v_template) + jnp.einsum("vcs,...s->...vc", take(model.shapedirs)[..., :num], betas)
    if model.posedirs is not None:
        eye = jnp.eye(3, dtype=pose_rots.dtype)
        pose_feature = (pose_rots[..., 1:, :, :] - eye).reshape(pose_rots.shape[:-3] + (-1,))
        shaped = shaped + jnp.einsum("vci,...i->...vc", take(model.posedirs), pose_feature)
    # Each joint's transform maps its rest position to its posed one: x -> G_R x + (G_p - G_R J).
    offsets = global_pos - jnp.einsum("...jab,...jb->...ja", global_rots, rest)
    weights = take(model.lbs_weights)
    blended_rot = jnp.einsum("vj,...jab->...vab", weights, global_rots)
    blended_off = jnp.einsum("vj,...ja->...va", weights, offsets)
    return jnp.einsum("...vab,...vb->...va", blended_rot, shaped) + blended_off


def posed_keypoints(model: BodyModel, regressor, pose_rots, betas, global_rots, global_pos, rest):
    """Keypoints of one regressor, given an already computed kinematic chain.

    Without pose correctives, skinning is linear in the rest vertices, so a keypoint that is a
    convex combination of skinned vertices is exactly

        sum_j [G_R_j P_kj(beta) + a_kj (G_p_j - G_R_j J_j)],
        P_kj(beta) = sum_u w_ku W_uj v_u(beta),   a_kj = sum_u w_ku W_uj,

    (w: the regressor's vertex weights, W: skinning weights): 24 virtual points per keypoint
    instead of every vertex the landmarks touch (934 for the open model's coco17), about 10x
    faster in bundle adjustment. Models with pose correctives skin the vertices.

    Args:
      model: the body model.
      regressor: a `KeypointRegressor` of `model`.
      pose_rots: (..., 24, 3, 3) local joint rotations.
      betas: (..., S') shape coefficients.
      global_rots, global_pos: `global_transforms` of `pose_rots` and `rest`.
      rest: (..., 24, 3) rest joints (`rest_joints`).

    Returns:
      (..., K, 3) keypoints in metres, before global translation.
    """
    out = jnp.einsum("kj,...jc->...kc", regressor.joint_weights, global_pos)
    ids = regressor.vertex_ids
    if not ids.shape[0]:
        return out
    if model.posedirs is not None:
        verts = skin_vertices(model, ids, pose_rots, betas, global_rots, global_pos, rest)
        return out + jnp.einsum("ku,...uc->...kc", regressor.vertex_weights, verts)
    num = betas.shape[-1]
    if regressor.skin_template is not None:  # the basis precomputed with the model
        weights, template, dirs = regressor.skin_weights, regressor.skin_template, regressor.skin_shapedirs
    else:
        coeff = jnp.einsum("ku,uj->kju", regressor.vertex_weights, model.lbs_weights[ids])  # w_ku W_uj
        weights = jnp.sum(coeff, -1)
        template = jnp.einsum("kju,uc->kjc", coeff, model.v_template[ids])
        dirs = jnp.einsum("kju,ucs->kjcs", coeff, model.shapedirs[ids])
    points = template + jnp.einsum("kjcs,...s->...kjc", dirs[..., :num], betas)  # P_kj(beta)
    offsets = global_pos - jnp.einsum("...jab,...jb->...ja", global_rots, rest)
    return (out + jnp.einsum("...jab,...kjb->...ka", global_rots, points)
            + jnp.einsum("kj,...ja->...ka", weights, offsets))


def forward(model: BodyModel, pose, betas, transl=None, return_vertices: bool = True) -> BodyOutput:
    """Full forward pass: forward kinematics and linear blend skinning of the whole mesh.

    Args:
      model: the body model.
      pose: (..., 24, 3) axis-angle pose in radians, or (..., 72).
      betas: (..., S') shape coefficients.
      transl: optional (..., 3) global translation in metres.
      return_vertices: skin the mesh (otherwise only joints and rotations are computed).

    Returns:
      `BodyOutput` with vertices (..., V, 3), joints (..., 24, 3) and joint_rotations, metres.
    """
    pose, betas, transl = _check_inputs(model, pose, betas, transl)
    # J_regressor @ shaped mesh, in its exact affine form: regressing the float32 mesh would
    # amplify rounding by the regressor's L1 norm (~80-200 for the open model's signed regressor).
    rest = rest_joints(model, betas)
    pose_rots = axis_angle_to_matrix(pose)
    global_rots, global_pos = global_transforms(pose_rots, rest)
    verts = None
    if return_vertices:
        verts = skin_vertices(model, None, pose_rots, betas, global_rots, global_pos, rest) + transl[..., None, :]
    return BodyOutput(vertices=verts, joints=global_pos + transl[..., None, :], joint_rotations=global_rots)


def vertices(model: BodyModel, pose, betas, transl=None) -> jax.Array:
    """Posed mesh vertices (..., V, 3) in metres; see `forward`."""
    return forward(model, pose, betas, transl).vertices


def keypoints(model: BodyModel, layout: str, pose, betas, transl=None) -> jax.Array:
    """Keypoints of a named layout, skinning only the vertices the layout's landmarks use.

    Args:
      model: the body model.
      layout: layout name, one of `model.layouts` (e.g. "smpl24", "coco17", "coco23", "body25b").
      pose: (..., 24, 3) axis-angle pose in radians, or (..., 72).
      betas: (..., S') shape coefficients.
      transl: optional (..., 3) global translation in metres.

    Returns:
      (..., K, 3) keypoints in metres, world frame.
    """
    if layout not in model.keypoint_regressors:
        raise ValueError(
            f"body model {model.name!r} cannot produce layout {layout!r}; it provides {model.layouts}")
    reg = model.keypoint_regressors[layout]
    pose, betas, transl = _check_inputs(model, pose, betas, transl)
    pose_rots = axis_angle_to_matrix(pose)
    rest = rest_joints(model, betas)
    global_rots, global_pos = global_transforms(pose_rots, rest)
    out = posed_keypoints(model, reg, pose_rots, betas, global_rots, global_pos, rest)
    return out + transl[..., None, :]


def keypoints_dense(model: BodyModel, layout: str, pose, betas, transl=None) -> jax.Array:
    """Same keypoints as `keypoints` but from the full skinned mesh (reference for tests)."""
    reg = model.keypoint_regressors[layout]
    out = forward(model, pose, betas, transl)
    dense = jnp.zeros((reg.vertex_weights.shape[0], model.num_vertices), reg.vertex_weights.dtype)
    dense = dense.at[:, reg.vertex_ids].set(reg.vertex_weights)
    return (jnp.einsum("kj,...jc->...kc", reg.joint_weights, out.joints)
            + jnp.einsum("kv,...vc->...kc", dense, out.vertices))
