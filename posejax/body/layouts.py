"""Keypoint layouts: named keypoint sets, how a body model produces them, and conversions.

A `Layout` is an ordered list of keypoint names plus everything needed to use it: bones for drawing,
the left/right flip permutation, and for every keypoint an ordered list of *recipes* saying how to
obtain it. The first recipe that resolves wins:

* `FromLandmark(name)`: a named surface landmark (convex vertex regressor) of the body model, or a
  keypoint of that canonical name in the source layout of a conversion.
* `FromJoints(((joint, w), ...))`: a fixed affine combination of SMPL joints.
* `FromKeypoints(((keypoint, w), ...))`: an affine combination of other keypoints *of the same
  layout*, each resolved recursively (e.g. the BODY_25B neck is the shoulder midpoint).

All weights of a recipe sum to 1, so every produced keypoint is an affine combination of its sources
and moves rigidly with the body.

Naming: keypoints use the canonical landmark spelling (see `CANONICAL_LANDMARKS`) where they denote
the same anatomical point, so that equal names in two point layouts mean the same point. The
`smpl24` layout is different: its keypoints are SMPL *joints* (rotation centres inside the body), so
its names live in a separate namespace and never match a point layout's `left_hip` by name alone;
conversions from `smpl24` go through the explicit `FromJoints` recipes instead.

Approximations (documented, not hidden):

* COCO / BODY_25B / MediaPipe shoulders, elbows, wrists, hips, knees and ankles fall back to the
  SMPL joint of the same name when the body model has no such landmark. Annotators place COCO hips
  and shoulders on the visible body outline, not at the SMPL joint centres inside the body: expect
  a few centimetres of systematic offset in that fallback.
* BODY_25B neck = shoulder midpoint. OpenPose trained BODY_25B's neck on MPII "upper neck"
  annotations, which lie a few centimetres above the shoulder midpoint.
* OpenPose BODY_25 and COCO-18 (`body25`, `coco18`) neck = shoulder midpoint, which is how
  OpenPose made its COCO neck labels (so it is exact there, but is named like BODY_25B's "upper
  neck", which it is not quite); BODY_25 mid_hip = hip midpoint.
* Human3.6M joints are mocap-derived joint centres. `h36m17` uses: pelvis = SMPL pelvis (else the
  hip midpoint); hips/knees/ankles/shoulders/elbows/wrists = the landmark of that name, else the
  SMPL joint (H3.6M hip centres lie lower and wider than SMPL's hip joints, and neither equals a
  surface hip landmark); thorax = shoulder midpoint; spine = midpoint of pelvis and thorax;
  neck_nose (H3.6M "Neck/Nose", its 32-joint "Head") = nose landmark, else the SMPL head joint;
  head (H3.6M head end site) = head_top landmark only (no SMPL joint lies near the top of the
  head, so there is no joint fallback).
* MediaPipe `*_foot_index` (tip of the foot) = big toe landmark. Because its name differs, a
  conversion from `mediapipe33` does not fill `*_big_toe` of another layout.

Foot points: COCO-WholeBody numbers its six foot points 17..22 as left big toe, left small toe, left
heel, right big toe, right small toe, right heel; OpenPose BODY_25B uses the same order at 19..24.
`coco23` follows that order.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np

from posejax._checks import check_array
from posejax.body.skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS

__all__ = [
    "CANONICAL_LANDMARKS", "FromLandmark", "FromJoints", "FromKeypoints", "Layout", "LAYOUTS",
    "get_layout", "conversion_matrix", "convert_keypoints", "flip_keypoints", "hip_indices", "hip_centred",
]

CANONICAL_LANDMARKS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle", "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel", "head_top", "left_eye_inner",
    "left_eye_outer", "right_eye_inner", "right_eye_outer", "mouth_left", "mouth_right",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
)

# Namespaces for keypoint identity: equal names only match inside one namespace.
POINTS = "points"
SMPL_JOINTS = "smpl_joints"


@dataclasses.dataclass(frozen=True)
class FromLandmark:
    """Take the surface landmark (or source keypoint) with canonical name `name`."""

    name: str


@dataclasses.dataclass(frozen=True)
class FromJoints:
    """Affine combination of SMPL joints: ((joint_name, weight), ...), weights summing to 1."""

    weights: Tuple[Tuple[str, float], ...]


@dataclasses.dataclass(frozen=True)
class FromKeypoints:
    """Affine combination of other keypoints of the same layout: ((name, weight), ...)."""

    weights: Tuple[Tuple[str, float], ...]


Recipe = Union[FromLandmark, FromJoints, FromKeypoints]


def _swap_side(name: str) -> str:
    """left_knee <-> right_knee, mouth_left <-> mouth_right; other names unchanged."""
    swap = {"left": "right", "right": "left"}
    return "_".join(swap.get(t, t) for t in name.split("_"))


def _side(name: str) -> str:
    tokens = name.split("_")
    if "left" in tokens:
        return "left"
    if "right" in tokens:
        return "right"
    return "center"


@dataclasses.dataclass(frozen=True)
class Layout:
    """A named, ordered keypoint set.

    Attributes:
      name: registry name, e.g. "coco17".
      names: (K,) keypoint names.
      edges: ((i, j), ...) index pairs drawn as bones.
      flip_indices: (K,) permutation swapping left and right keypoints (an involution).
      definitions: (K,) tuples of recipes, tried in order (see module docstring).
      namespace: "points" for anatomical points, "smpl_joints" for SMPL joint centres.
    """

    name: str
    names: Tuple[str, ...]
    edges: Tuple[Tuple[int, int], ...]
    flip_indices: Tuple[int, ...]
    definitions: Tuple[Tuple[Recipe, ...], ...]
    namespace: str = POINTS

    def __post_init__(self):
        k = len(self.names)
        if len(set(self.names)) != k:
            raise ValueError(f"layout {self.name!r}: keypoint names must be unique")
        if len(self.definitions) != k or len(self.flip_indices) != k:
            raise ValueError(
                f"layout {self.name!r}: names, definitions and flip_indices differ in length")
        if sorted(self.flip_indices) != list(range(k)) or any(
                self.flip_indices[self.flip_indices[i]] != i for i in range(k)):
            raise ValueError(
                f"layout {self.name!r}: flip_indices must be an involutive permutation")
        for i, j in self.edges:
            if not (0 <= i < k and 0 <= j < k) or i == j:
                raise ValueError(f"layout {self.name!r}: bad edge ({i}, {j}) for {k} keypoints")
        for kp, recipes in zip(self.names, self.definitions):
            for r in recipes:
                if isinstance(r, (FromJoints, FromKeypoints)):
                    known = SMPL_JOINT_NAMES if isinstance(r, FromJoints) else self.names
                    bad = [n for n, _ in r.weights if n not in known]
                    if bad or abs(sum(w for _, w in r.weights) - 1.0) > 1e-6:
                        raise ValueError(f"layout {self.name!r}: bad recipe for {kp!r}: {r}")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def num_keypoints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of keypoint `name`; ValueError listing the names when absent."""
        try:
            return self.names.index(name)
        except ValueError:
            known = ", ".join(self.names)
            raise ValueError(
                f"layout {self.name!r} has no keypoint {name!r}; it has {known}") from None

    @property
    def sides(self) -> Tuple[str, ...]:
        """(K,) "left", "right" or "center" per keypoint (from the name)."""
        return tuple(_side(n) for n in self.names)

    @property
    def edge_sides(self) -> Tuple[str, ...]:
        """Side of each edge: "left"/"right" if an endpoint is on that side only, else "center"."""
        out = []
        for i, j in self.edges:
            s = {_side(self.names[i]), _side(self.names[j])} - {"center"}
            out.append(s.pop() if len(s) == 1 else "center")
        return tuple(out)

    def linear_map(self, landmark_names: Sequence[str] = ()) -> Tuple[np.ndarray, np.ndarray]:
        """Weights producing this layout from SMPL joints and named surface landmarks.

        keypoints = joint_weights @ joints (24, 3) + landmark_weights @ landmarks (L, 3).
        Every row of [joint_weights, landmark_weights] sums to 1 (affine).

        Args:
          landmark_names: (L,) names of the landmarks the body model provides.

        Returns:
          joint_weights (K, 24) float32 and landmark_weights (K, L) float32.

        Raises:
          ValueError: naming the layout and the keypoints that no recipe can produce.
        """
        landmark_names = tuple(landmark_names)
        lm_index = {n: i for i, n in enumerate(landmark_names)}
        jt_index = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}
        n_j, n_l = len(SMPL_JOINT_NAMES), len(landmark_names)

        def leaf(recipe):
            if isinstance(recipe, FromLandmark):
                if recipe.name not in lm_index:
                    return None
                w = np.zeros(n_j + n_l, np.float64)
                w[n_j + lm_index[recipe.name]] = 1.0
                return w
            w = np.zeros(n_j + n_l, np.float64)
            for jn, wt in recipe.weights:
                w[jt_index[jn]] += wt
            return w

        weights, missing = self._resolve(leaf, n_j + n_l)
        if missing:
            given = f"landmarks [{', '.join(landmark_names)}]" if landmark_names else "no landmarks"
            raise ValueError(
                f"layout {self.name!r} cannot be produced from the SMPL joints and {given}"
                f": no recipe resolves for keypoints {', '.join(missing)}")
        w = np.stack(weights).astype(np.float32)
        return w[:, :n_j], w[:, n_j:]

    def _resolve(self, leaf, size):
        """Resolves every keypoint to a weight vector over the sources.

        `leaf(recipe)` handles FromLandmark / FromJoints (None when unavailable); FromKeypoints
        recurses inside this layout. Returns (list of weight vectors or None, names that failed).
        """
        cache: Dict[int, Optional[np.ndarray]] = {}

        def resolve(k: int, visiting: frozenset) -> Optional[np.ndarray]:
            if k in cache:
                return cache[k]
            out = None
            for recipe in self.definitions[k]:
                if isinstance(recipe, FromKeypoints):
                    if k in visiting:
                        continue
                    acc = np.zeros(size, np.float64)
                    for n, wt in recipe.weights:
                        sub = resolve(self.names.index(n), visiting | {k})
                        if sub is None:
                            acc = None
                            break
                        acc += wt * sub
                else:
                    acc = leaf(recipe)
                if acc is not None:
                    out = acc
                    break
            cache[k] = out
            return out

        weights = [resolve(k, frozenset()) for k in range(len(self.names))]
        missing = [self.names[k] for k, w in enumerate(weights) if w is None]
        return weights, missing


# ----------------------------------------------------------------------------------------------
# Layout tables.

def _limb(name: str) -> Tuple[Recipe, ...]:
    """Canonical landmark, falling back to the SMPL joint of the same name."""
    return (FromLandmark(name), FromJoints(((name, 1.0),)))


def _lm(name: str) -> Tuple[Recipe, ...]:
    return (FromLandmark(name),)


def _mid(a: str, b: str) -> FromKeypoints:
    return FromKeypoints(((a, 0.5), (b, 0.5)))


def _make(name: str, table: Sequence[Tuple[str, Tuple[Recipe, ...]]],
          bones: Sequence[Tuple[str, str]], namespace: str = POINTS) -> Layout:
    names = tuple(n for n, _ in table)
    flip = tuple(names.index(_swap_side(n)) for n in names)
    edges = tuple((names.index(a), names.index(b)) for a, b in bones)
    return Layout(name, names, edges, flip, tuple(r for _, r in table), namespace)


_LIMB_NAMES = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
               "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
               "right_ankle")
_COCO17_TABLE = tuple(
    [(n, _lm(n)) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    + [(n, _limb(n)) for n in _LIMB_NAMES])
_FEET_TABLE = tuple((n, _lm(n)) for n in (
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel"))


def _both(*pairs):
    """Bones given for the left side, mirrored to the right side too."""
    out = []
    for a, b in pairs:
        out += [(a, b), (_swap_side(a), _swap_side(b))]
    return out


_FACE_BONES = _both(("nose", "left_eye"), ("left_eye", "left_ear"))
_LIMB_BONES = _both(("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
                    ("left_shoulder", "left_hip"), ("left_hip", "left_knee"),
                    ("left_knee", "left_ankle"))
_TORSO_BONES = [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")]
_FOOT_BONES = _both(("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
                    ("left_ankle", "left_heel"))

SMPL24 = _make(
    "smpl24", [(n, (FromJoints(((n, 1.0),)),)) for n in SMPL_JOINT_NAMES],
    [(SMPL_JOINT_NAMES[p], SMPL_JOINT_NAMES[j]) for j, p in enumerate(SMPL_PARENTS) if p >= 0],
    namespace=SMPL_JOINTS)

COCO17 = _make("coco17", _COCO17_TABLE,
               _FACE_BONES + _both(("left_ear", "left_shoulder")) + _TORSO_BONES + _LIMB_BONES)

COCO23 = _make("coco23", _COCO17_TABLE + _FEET_TABLE,
               _FACE_BONES + _both(("left_ear", "left_shoulder")) + _TORSO_BONES + _LIMB_BONES
               + _FOOT_BONES)

BODY25B = _make(
    "body25b",
    _COCO17_TABLE
    + (("neck", (_mid("left_shoulder", "right_shoulder"),)), ("head_top", _lm("head_top")))
    + _FEET_TABLE,
    _FACE_BONES + [("neck", "nose"), ("neck", "head_top")]
    + _both(("neck", "left_shoulder")) + _TORSO_BONES + _LIMB_BONES + _FOOT_BONES)

H36M17 = _make(
    "h36m17",
    (
        ("pelvis", (FromJoints((("pelvis", 1.0),)), _mid("left_hip", "right_hip"))),
        ("right_hip", _limb("right_hip")),
        ("right_knee", _limb("right_knee")),
        ("right_ankle", _limb("right_ankle")),
        ("left_hip", _limb("left_hip")),
        ("left_knee", _limb("left_knee")),
        ("left_ankle", _limb("left_ankle")),
        ("spine", (_mid("pelvis", "thorax"),)),
        ("thorax", (_mid("left_shoulder", "right_shoulder"),)),
        ("neck_nose", (FromLandmark("nose"), FromJoints((("head", 1.0),)))),
        ("head", (FromLandmark("head_top"),)),
        ("left_shoulder", _limb("left_shoulder")),
        ("left_elbow", _limb("left_elbow")),
        ("left_wrist", _limb("left_wrist")),
        ("right_shoulder", _limb("right_shoulder")),
        ("right_elbow", _limb("right_elbow")),
        ("right_wrist", _limb("right_wrist")),
    ),
    [("pelvis", "left_hip"), ("pelvis", "right_hip"), ("pelvis", "spine"), ("spine", "thorax"),
     ("thorax", "neck_nose"), ("neck_nose", "head")]
    + _both(("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("thorax", "left_shoulder"),
            ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist")))

MEDIAPIPE33 = _make(
    "mediapipe33",
    tuple((n, _lm(n)) for n in (
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right"))
    + tuple((n, _limb(n)) for n in _LIMB_NAMES[:6])
    + tuple((n, _lm(n)) for n in (
        "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb"))
    + tuple((n, _limb(n)) for n in _LIMB_NAMES[6:])
    + (("left_heel", _lm("left_heel")), ("right_heel", _lm("right_heel")),
       ("left_foot_index", (FromLandmark("left_big_toe"),)),
       ("right_foot_index", (FromLandmark("right_big_toe"),))),
    _both(("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"),
          ("left_eye", "left_eye_outer"), ("left_eye_outer", "left_ear"),
          ("left_wrist", "left_pinky"), ("left_wrist", "left_index"),
          ("left_pinky", "left_index"), ("left_wrist", "left_thumb"), ("left_ankle", "left_heel"),
          ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"))
    + [("mouth_left", "mouth_right")] + _TORSO_BONES + _LIMB_BONES)

# OpenPose BODY_25 (the default OpenPose model; not BODY_25B): neck and mid hip first-class,
# COCO face points at 15..18, the six foot points at 19..24 in the COCO-WholeBody order.
_OPENPOSE_HEAD = (
    ("nose", _lm("nose")),
    ("neck", (_mid("left_shoulder", "right_shoulder"),)),
    ("right_shoulder", _limb("right_shoulder")), ("right_elbow", _limb("right_elbow")),
    ("right_wrist", _limb("right_wrist")), ("left_shoulder", _limb("left_shoulder")),
    ("left_elbow", _limb("left_elbow")), ("left_wrist", _limb("left_wrist")))
_OPENPOSE_LEGS = (
    ("right_hip", _limb("right_hip")), ("right_knee", _limb("right_knee")),
    ("right_ankle", _limb("right_ankle")), ("left_hip", _limb("left_hip")),
    ("left_knee", _limb("left_knee")), ("left_ankle", _limb("left_ankle")))
_OPENPOSE_FACE = tuple((n, _lm(n)) for n in ("right_eye", "left_eye", "right_ear", "left_ear"))
_OPENPOSE_BONES = (_both(("neck", "left_shoulder"), ("left_shoulder", "left_elbow"),
                         ("left_elbow", "left_wrist"), ("left_hip", "left_knee"),
                         ("left_knee", "left_ankle"), ("nose", "left_eye"),
                         ("left_eye", "left_ear"))
                   + [("neck", "nose")])

BODY25 = _make(
    "body25",
    _OPENPOSE_HEAD + (("mid_hip", (_mid("left_hip", "right_hip"),)),) + _OPENPOSE_LEGS
    + _OPENPOSE_FACE + _FEET_TABLE,
    _OPENPOSE_BONES + [("neck", "mid_hip")] + _both(("mid_hip", "left_hip")) + _FOOT_BONES)

# OpenPose COCO-18: COCO-17 reordered plus a neck (the shoulder midpoint, which is how OpenPose
# generated its COCO neck labels), no mid hip: the hips hang from the neck.
COCO18 = _make(
    "coco18", _OPENPOSE_HEAD + _OPENPOSE_LEGS + _OPENPOSE_FACE,
    _OPENPOSE_BONES + _both(("neck", "left_hip")))

LAYOUTS: Mapping[str, Layout] = {
    layout.name: layout
    for layout in (SMPL24, COCO17, COCO23, BODY25B, H36M17, MEDIAPIPE33, BODY25, COCO18)}


def get_layout(layout: Union[str, Layout]) -> Layout:
    """Returns the registered layout called `layout` (a Layout passes through).

    Raises:
      ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(layout, Layout):
        return layout
    if isinstance(layout, str) and layout in LAYOUTS:
        return LAYOUTS[layout]
    raise ValueError(f"unknown keypoint layout {layout!r}; known layouts: {', '.join(LAYOUTS)}")


# ----------------------------------------------------------------------------------------------
# Conversions between layouts.

def conversion_matrix(src: Union[str, Layout],
                      dst: Union[str, Layout]) -> Tuple[np.ndarray, np.ndarray]:
    """Static linear map from `src` keypoints to `dst` keypoints.

    A dst keypoint is taken from the src keypoint with the same name in the same namespace, else
    from its first recipe that src can satisfy (FromLandmark: a src point of that name; FromJoints:
    src holds those SMPL joints, i.e. src is smpl24; FromKeypoints: recursively).

    Returns:
      weights (K_dst, K_src) float32 (affine rows; zero rows where invalid) and valid (K_dst,) bool.
    """
    mat, valid = _conversion_matrix(get_layout(src), get_layout(dst))
    return mat.copy(), valid.copy()


@functools.lru_cache(maxsize=None)
def _conversion_matrix(src: Layout, dst: Layout) -> Tuple[np.ndarray, np.ndarray]:
    k_src = len(src.names)
    by_name = {(src.namespace, n): i for i, n in enumerate(src.names)}

    def one_hot(i):
        w = np.zeros(k_src, np.float64)
        w[i] = 1.0
        return w

    def leaf(recipe):
        if isinstance(recipe, FromLandmark):
            i = by_name.get((POINTS, recipe.name))
            return None if i is None else one_hot(i)
        w = np.zeros(k_src, np.float64)
        for jn, wt in recipe.weights:
            i = by_name.get((SMPL_JOINTS, jn))
            if i is None:
                return None
            w[i] += wt
        return w

    def leaf_or_direct(recipe):
        if isinstance(recipe, _Direct):
            i = by_name.get((dst.namespace, recipe.name))
            return None if i is None else one_hot(i)
        return leaf(recipe)

    # Same-name keypoints are the same point: that "direct" recipe goes before dst's own ones.
    weights, _ = _with_direct(dst)._resolve(leaf_or_direct, k_src)
    valid = np.array([w is not None for w in weights], bool)
    mat = np.stack([np.zeros(k_src) if w is None else w for w in weights]).astype(np.float32)
    mat.setflags(write=False)  # cached and shared
    valid.setflags(write=False)
    return mat, valid


@dataclasses.dataclass(frozen=True)
class _Direct:
    """Internal recipe: the source keypoint with this exact name and namespace."""

    name: str


def _with_direct(layout: Layout) -> Layout:
    """Copy of `layout` whose keypoints first try a same-name source keypoint."""
    return dataclasses.replace(
        layout,
        definitions=tuple((_Direct(n),) + tuple(r)
                          for n, r in zip(layout.names, layout.definitions)))


def convert_keypoints(keypoints, src: Union[str, Layout], dst: Union[str, Layout],
                      has_confidence: Optional[bool] = None):
    """Converts keypoint data from layout `src` to layout `dst`.

    Coordinates of a dst keypoint are the affine combination given by `conversion_matrix`; a
    confidence channel becomes the minimum confidence of the src keypoints combined (a midpoint is
    only as trustworthy as its worst end). Keypoints dst cannot get from src are zero-filled
    (confidence 0) and flagged in `valid`.

    Args:
      keypoints: (..., K_src, C) coordinates, optionally with a trailing confidence channel.
      src, dst: layout names or Layouts.
      has_confidence: whether the last channel is a confidence. None means C == 3, i.e. detector
        output (x, y, conf); pass False for 3D points (x, y, z).

    Returns:
      converted (..., K_dst, C) float32 and valid (K_dst,) numpy bool.
    """
    src, dst = get_layout(src), get_layout(dst)
    kp = check_array(keypoints, "keypoints", ("...", len(src.names), None))
    c = kp.shape[-1]
    if has_confidence is None:
        has_confidence = c == 3
    if c < (2 if has_confidence else 1):
        raise ValueError(f"`keypoints` must have at least {2 if has_confidence else 1} channels "
                         f"(last axis), got shape {tuple(kp.shape)}")
    mat, valid = _conversion_matrix(src, dst)
    valid = valid.copy()
    # HIGHEST: selections must stay exact on accelerators whose default f32 matmul is TF32/bf16.
    mix = functools.partial(jnp.einsum, "ds,...sc->...dc", mat, precision=jax.lax.Precision.HIGHEST)
    if not has_confidence:
        return mix(kp), valid
    xy = mix(kp[..., :-1])
    used = jnp.asarray(mat != 0)                                     # (K_dst, K_src)
    conf = jnp.min(jnp.where(used, kp[..., None, :, -1], jnp.inf), axis=-1)
    conf = jnp.where(jnp.asarray(valid), conf, 0.0)
    return jnp.concatenate([xy, conf[..., None]], axis=-1), valid


def flip_keypoints(keypoints, layout: Union[str, Layout]):
    """Swaps left and right keypoints (index permutation only; coordinates are not mirrored).

    Args:
      keypoints: (..., K, C) in `layout`.

    Returns:
      (..., K, C) with keypoint i taken from flip_indices[i].
    """
    layout = get_layout(layout)
    kp = check_array(keypoints, "keypoints", ("...", len(layout.names), None), dtype=None)
    return kp[..., np.asarray(layout.flip_indices), :]


def hip_indices(layout) -> Tuple[int, int]:
    """Indices of the left and right hip in a keypoint layout."""
    names = list(layout.names)
    if "left_hip" not in names or "right_hip" not in names:
        raise ValueError(f"layout {layout.name!r} has no left_hip / right_hip keypoints")
    return names.index("left_hip"), names.index("right_hip")


def hip_centred(points, hips: Tuple[int, int]):
    """(..., K, D) points minus their hips' midpoint (the root of layouts without a pelvis).

    Works on NumPy and JAX arrays; `hips` from `hip_indices`."""
    return points - 0.5 * (points[..., hips[0], :] + points[..., hips[1], :])[..., None, :]
