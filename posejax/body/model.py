"""`BodyModel`: an SMPL-layout body model as a pytree of arrays.

The model holds exactly what forward kinematics and linear blend skinning need, plus two derived
pieces that make the common paths cheap:
  * rest joints are affine in betas (`joint_template + joint_shapedirs @ betas`), so posing the 24
    joints never touches the mesh;
  * for every keypoint layout the model can produce, a `KeypointRegressor` that names the few
    vertices its surface landmarks use, so keypoints skin only those vertices.

Being a registered dataclass pytree, a model passes through `jit`, `vmap` and `grad` like any array.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from posejax.body import layouts as layouts_lib
from posejax.body.skeleton import NUM_JOINTS

NUM_POSE_CORRECTIVES = 9 * (NUM_JOINTS - 1)  # 207: flattened (R - I) of the 23 non-root joints.


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class KeypointRegressor:
    """Keypoints as `joint_weights @ joints + vertex_weights @ vertices[vertex_ids]`.

    Without pose correctives, skinning is linear in the rest vertices, so the vertex part of a
    keypoint is sum_j [G_R_j P_kj(beta) + a_kj (G_p_j - G_R_j J_j)] with G the joints' global
    transforms (`kinematics.posed_keypoints`). The three `skin_*` arrays hold that basis,
    precomputed once per model (they only depend on the model and the regressor): P_kj(beta) =
    skin_template + skin_shapedirs @ beta and a_kj = skin_weights.

    Attributes:
      joint_weights: (K, 24) weights over the posed SMPL joints.
      vertex_ids: (U,) int32 ids of the only vertices the keypoints depend on.
      vertex_weights: (K, U) weights over those posed vertices.
      skin_weights: (K, 24) a_kj = sum_u vertex_weights_ku lbs_weights_uj, or None (then computed
        when needed).
      skin_template: (K, 24, 3) sum_u vertex_weights_ku lbs_weights_uj v_template_u, metres, or None.
      skin_shapedirs: (K, 24, 3, S) the same over the shape directions, or None.
    """

    joint_weights: jax.Array
    vertex_ids: jax.Array
    vertex_weights: jax.Array
    skin_weights: Optional[jax.Array] = None
    skin_template: Optional[jax.Array] = None
    skin_shapedirs: Optional[jax.Array] = None


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class BodyModel:
    """SMPL-layout body model (24 joints on the SMPL tree, S shape components, V vertices).

    Attributes:
      v_template: (V, 3) rest vertices at betas = 0, metres, T-pose.
      shapedirs: (V, 3, S) shape blend shapes (per unit beta), metres.
      posedirs: (V, 3, 207) pose-corrective blend shapes, or None for models without them.
      J_regressor: (24, V) rest joints = J_regressor @ rest vertices.
      joint_template: (24, 3) J_regressor @ v_template (cached for the joints-only path).
      joint_shapedirs: (24, 3, S) J_regressor @ shapedirs (cached for the joints-only path).
      lbs_weights: (V, 24) skinning weights, rows sum to 1.
      faces: (F, 3) int32 triangle vertex ids.
      landmark_vertex_ids: (L, M) int32 vertex ids of each named surface landmark.
      landmark_weights: (L, M) convex weights of those vertices (zero-padded).
      keypoint_regressors: layout name -> KeypointRegressor, for every layout this model resolves.
      name: human-readable model name (static).
      landmark_names: names of the L surface landmarks (static).
    """

    v_template: jax.Array
    shapedirs: jax.Array
    posedirs: Optional[jax.Array]
    J_regressor: jax.Array
    joint_template: jax.Array
    joint_shapedirs: jax.Array
    lbs_weights: jax.Array
    faces: jax.Array
    landmark_vertex_ids: jax.Array
    landmark_weights: jax.Array
    keypoint_regressors: Mapping[str, KeypointRegressor]
    name: str = dataclasses.field(default="body", metadata=dict(static=True))
    landmark_names: tuple[str, ...] = dataclasses.field(default=(), metadata=dict(static=True))

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    @property
    def num_betas(self) -> int:
        return self.shapedirs.shape[-1]

    @property
    def layouts(self) -> tuple[str, ...]:
        """Names of the keypoint layouts this model can produce."""
        return tuple(self.keypoint_regressors)

    def __repr__(self) -> str:
        pc = "with" if self.posedirs is not None else "without"
        return (f"BodyModel(name={self.name!r}, vertices={self.num_vertices}, "
                f"betas={self.num_betas}, {pc} pose correctives, layouts={self.layouts})")


def _check_shape(arr: np.ndarray, key: str, shape: Sequence[Optional[int]], source: str) -> None:
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape)):
        expected = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"body model {source!r}: `{key}` must have shape {expected}, got {arr.shape}")


def make_body_model(
    v_template,
    shapedirs,
    J_regressor,
    lbs_weights,
    faces,
    posedirs=None,
    landmarks: Optional[Mapping[str, tuple[Sequence[int], Sequence[float]]]] = None,
    name: str = "body",
    dtype=np.float32,
) -> BodyModel:
    """Builds a `BodyModel` from numpy arrays in the official SMPL layout, with checks.

    Args:
      v_template: (V, 3) rest vertices, metres.
      shapedirs: (V, 3, S) shape directions.
      J_regressor: (24, V) joint regressor (dense or scipy sparse).
      lbs_weights: (V, 24) skinning weights.
      faces: (F, 3) triangles.
      posedirs: optional (V, 3, 207) pose correctives; all-zero arrays are dropped (same result,
        no wasted memory and compute).
      landmarks: optional name -> (vertex ids, weights) convex surface landmarks.
      name: model name for messages and reprs.
      dtype: float dtype of the stored arrays.

    Returns:
      The model, with keypoint regressors for every layout its landmarks and joints resolve.
    """
    v_template = np.asarray(v_template, dtype=np.float64)
    _check_shape(v_template, "v_template", (None, 3), name)
    num_verts = v_template.shape[0]
    shapedirs = np.asarray(shapedirs, dtype=np.float64)
    _check_shape(shapedirs, "shapedirs", (num_verts, 3, None), name)
    if hasattr(J_regressor, "toarray"):  # scipy sparse in official files
        J_regressor = J_regressor.toarray()
    J_regressor = np.asarray(J_regressor, dtype=np.float64)
    _check_shape(J_regressor, "J_regressor", (NUM_JOINTS, num_verts), name)
    lbs_weights = np.asarray(lbs_weights, dtype=np.float64)
    _check_shape(lbs_weights, "weights", (num_verts, NUM_JOINTS), name)
    faces = np.asarray(faces)
    _check_shape(faces, "f", (None, 3), name)
    if faces.size and (faces.min() < 0 or faces.max() >= num_verts):
        raise ValueError(f"body model {name!r}: `f` has vertex ids outside [0, {num_verts})")
    if posedirs is not None:
        posedirs = np.asarray(posedirs, dtype=np.float64)
        _check_shape(posedirs, "posedirs", (num_verts, 3, NUM_POSE_CORRECTIVES), name)
        if not np.any(posedirs):
            posedirs = None
    for key, arr in (("v_template", v_template), ("shapedirs", shapedirs),
                     ("J_regressor", J_regressor), ("weights", lbs_weights)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"body model {name!r}: `{key}` contains NaN or inf values")

    landmark_names, lm_ids, lm_weights = _pack_landmarks(landmarks or {}, num_verts, name)
    regressors = _keypoint_regressors(landmark_names, lm_ids, lm_weights, num_verts, dtype,
                                      v_template, shapedirs, lbs_weights)
    model = BodyModel(
        v_template=v_template.astype(dtype),
        shapedirs=shapedirs.astype(dtype),
        posedirs=None if posedirs is None else posedirs.astype(dtype),
        J_regressor=J_regressor.astype(dtype),
        # Computed in float64 so the joints-only path agrees with regressing the mesh.
        joint_template=(J_regressor @ v_template).astype(dtype),
        joint_shapedirs=np.einsum("jv,vcs->jcs", J_regressor, shapedirs).astype(dtype),
        lbs_weights=lbs_weights.astype(dtype),
        faces=faces.astype(np.int32),
        landmark_vertex_ids=lm_ids,
        landmark_weights=lm_weights.astype(dtype),
        keypoint_regressors=regressors,
        name=name,
        landmark_names=landmark_names,
    )
    # Device arrays once, so eager calls do not copy the model from host memory every time.
    return jax.tree.map(jnp.asarray, model)


def _pack_landmarks(landmarks, num_verts: int, source: str):
    """name -> (ids, weights) to zero-padded (L, M) arrays, checked to be convex."""
    names = tuple(landmarks)
    width = max([len(np.atleast_1d(ids)) for ids, _ in landmarks.values()] or [1])
    ids_arr = np.zeros((len(names), width), np.int32)
    w_arr = np.zeros((len(names), width), np.float64)
    for row, lm_name in enumerate(names):
        ids, weights = (np.atleast_1d(np.asarray(a)) for a in landmarks[lm_name])
        if ids.shape != weights.shape or ids.min() < 0 or ids.max() >= num_verts:
            raise ValueError(f"body model {source!r}: landmark {lm_name!r} has bad vertex ids or weights")
        if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-4:
            raise ValueError(f"body model {source!r}: landmark {lm_name!r} weights must be >= 0 and sum to 1")
        ids_arr[row, :len(ids)] = ids
        w_arr[row, :len(ids)] = weights
    return names, ids_arr, w_arr


def _keypoint_regressors(landmark_names, lm_ids, lm_weights, num_verts, dtype, v_template,
                         shapedirs, lbs_weights):
    """One sparse regressor per layout that the model's joints and landmarks resolve, with its
    skinning basis (float64 products, stored in `dtype`)."""
    # Dense (L, V) landmark matrix: small (tens of rows), used only here at construction time.
    dense = np.zeros((len(landmark_names), num_verts))
    for row in range(len(landmark_names)):
        np.add.at(dense[row], lm_ids[row], lm_weights[row])
    regressors = {}
    for layout_name, layout in layouts_lib.LAYOUTS.items():
        try:
            joint_w, landmark_w = layout.linear_map(landmark_names)
        except ValueError:
            continue  # this model lacks landmarks the layout needs
        vertex_w = np.asarray(landmark_w, np.float64) @ dense  # (K, V)
        used = np.flatnonzero(np.any(vertex_w != 0, axis=0)).astype(np.int32)
        coeff = vertex_w[:, used, None] * lbs_weights[used][None]  # (K, U, 24): w_ku W_uj
        regressors[layout_name] = KeypointRegressor(
            joint_weights=np.asarray(joint_w, dtype),
            vertex_ids=used,
            vertex_weights=vertex_w[:, used].astype(dtype),
            skin_weights=coeff.sum(1).astype(dtype),
            skin_template=np.einsum("kuj,uc->kjc", coeff, v_template[used]).astype(dtype),
            skin_shapedirs=np.einsum("kuj,ucs->kjcs", coeff, shapedirs[used]).astype(dtype),
        )
    return regressors
