"""`load_body_model`: the embedded open model, or a user's official SMPL files."""

from __future__ import annotations

import functools
import glob
import os
from typing import Any, Optional

import numpy as np

from posejax.body.model import BodyModel, make_body_model
from posejax.body.skeleton import SMPL_PARENTS
from posejax.body.smpl_io import SMPL_DOWNLOAD_HINT, read_smpl_file

ASSET_DIR = os.path.join(os.path.dirname(__file__), "assets")
EMBEDDED = {"open": "open.npz", "open-lite": "open_lite.npz"}
GENDERS = ("neutral", "male", "female")

# Surface landmarks on the official SMPL topology (6,890 vertices): single vertices, as used by the
# smplx package for its extra joints (face, feet, finger tips).
SMPL_TOPOLOGY_VERTICES = 6890
SMPL_LANDMARK_VERTICES = {
    "nose": 332, "right_eye": 6260, "left_eye": 2800, "right_ear": 4071, "left_ear": 583,
    "left_big_toe": 3216, "left_small_toe": 3226, "left_heel": 3387,
    "right_big_toe": 6617, "right_small_toe": 6624, "right_heel": 6787,
    "left_thumb": 2746, "left_index": 2319, "left_pinky": 2673,
    "right_thumb": 6191, "right_index": 5782, "right_pinky": 6133,
}


def load_body_model(source: str = "open", gender: str = "neutral") -> BodyModel:
    """Loads an SMPL-layout body model.

    Args:
      source: "open" (embedded open model, full mesh), "open-lite" (its ~1.2k-vertex mesh), a path
        to an official SMPL `.pkl` or an `.npz` with the same keys, or a folder in the smplx layout
        (`folder/smpl/SMPL_{GENDER}.pkl` or `folder/SMPL_{GENDER}.pkl`).
      gender: "neutral", "male" or "female"; used only to pick a file inside a folder.

    Returns:
      The `BodyModel` (arrays on the default device, float32).

    Raises:
      FileNotFoundError: a path or folder without a model file (with a hint on getting SMPL).
      ValueError: unknown gender, unreadable file, missing keys or wrong shapes.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"`source` must be 'open', 'open-lite' or a path, got {type(source).__name__}")
    source = os.fspath(source)
    if gender not in GENDERS:
        raise ValueError(f"`gender` must be one of {GENDERS}, got {gender!r}")
    if source in EMBEDDED:
        return _load_embedded(source)
    if os.path.isdir(source):
        return _load_file(_find_in_folder(source, gender))
    if not os.path.exists(source) and os.sep not in source and "." not in source:
        raise ValueError(f"unknown body model {source!r}: use one of {tuple(EMBEDDED)} or a file/folder path")
    return _load_file(os.path.abspath(source))


def as_body_model(body_model):
    """`body_model` itself if it is a `BodyModel` (or anything not a name), else
    `load_body_model(body_model)`: for the many functions that take either."""
    return load_body_model(body_model) if isinstance(body_model, str) else body_model


@functools.lru_cache(maxsize=None)
def _load_embedded(name: str) -> BodyModel:
    path = os.path.join(ASSET_DIR, EMBEDDED[name])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"embedded body model asset missing: {path}; reinstall posejax or run "
                                "`python -m posejax.body.build_open_model`")
    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    landmarks = {
        str(name): (ids[w > 0], w[w > 0])
        for name, ids, w in zip(data["landmark_names"], data["landmark_vertex_ids"], data["landmark_weights"])
    }
    return _build(data, name, landmarks)


def _find_in_folder(folder: str, gender: str) -> str:
    tag = gender.upper()
    patterns = [os.path.join(folder, sub, f"SMPL_{tag}.{ext}") for sub in ("smpl", "") for ext in ("pkl", "npz")]
    # Official release names, e.g. basicModel_f_lbs_10_207_0_v1.0.0.pkl / basicmodel_neutral_lbs_...
    short = {"neutral": "neutral", "male": "m", "female": "f"}[gender]
    patterns += [os.path.join(folder, sub, f"basic[Mm]odel_{short}_lbs_*.pkl") for sub in ("smpl", "")]
    for pattern in patterns:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    raise FileNotFoundError(
        f"no {gender} SMPL model found in folder {folder!r} (looked for smpl/SMPL_{tag}.pkl, "
        f"SMPL_{tag}.pkl/.npz and basicModel_*_lbs_*.pkl). {SMPL_DOWNLOAD_HINT}")


@functools.lru_cache(maxsize=8)
def _load_file_cached(path: str, mtime: float) -> BodyModel:
    data = read_smpl_file(path)
    landmarks = None
    if np.shape(data["v_template"])[0] == SMPL_TOPOLOGY_VERTICES:
        landmarks = {k: ([v], [1.0]) for k, v in SMPL_LANDMARK_VERTICES.items()}
    return _build(data, os.path.basename(path), landmarks)


def _load_file(path: str) -> BodyModel:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"body model file not found: {path!r}. {SMPL_DOWNLOAD_HINT}")
    return _load_file_cached(path, os.path.getmtime(path))


def _build(data: dict[str, Any], name: str, landmarks: Optional[dict]) -> BodyModel:
    if "kintree_table" in data:
        parents = np.asarray(data["kintree_table"])[0].astype(np.int64)
        parents = np.where(parents > 1000, -1, parents)  # the root's parent is stored as 2**32 - 1
        if tuple(int(p) for p in parents) != SMPL_PARENTS:
            raise ValueError(f"body model {name!r}: kintree_table is not the SMPL kinematic tree "
                             f"(parents {parents.tolist()})")
    return make_body_model(
        v_template=data["v_template"], shapedirs=data["shapedirs"], J_regressor=data["J_regressor"],
        lbs_weights=data["weights"], faces=data["f"], posedirs=data.get("posedirs"),
        landmarks=landmarks, name=name)
