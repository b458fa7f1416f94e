"""Fixtures for body-model tests: a small random model in the official SMPL file layout."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from posejax.body.skeleton import SMPL_PARENTS

VERTS_PER_JOINT = 10


def random_smpl_data(seed: int = 0, num_betas: int = 10, with_posedirs: bool = True) -> dict:
    """A random but well-formed SMPL-layout model (240 vertices) as the official keys hold it."""
    rng = np.random.default_rng(seed)
    joints = np.zeros((24, 3))
    for j, p in enumerate(SMPL_PARENTS):
        if p >= 0:
            joints[j] = joints[p] + rng.normal(scale=0.12, size=3)
    owner = np.repeat(np.arange(24), VERTS_PER_JOINT)
    v_template = joints[owner] + rng.normal(scale=0.04, size=(len(owner), 3))
    num_verts = len(owner)
    weights = np.zeros((num_verts, 24))
    mix = rng.uniform(0.5, 1.0, size=num_verts)
    weights[np.arange(num_verts), owner] = mix
    parent = np.array([max(SMPL_PARENTS[j], 0) for j in owner])
    weights[np.arange(num_verts), parent] += 1.0 - mix
    regressor = np.zeros((24, num_verts))
    for j in range(24):
        w = rng.uniform(0.1, 1.0, size=VERTS_PER_JOINT)
        regressor[j, owner == j] = w / w.sum()
    data = {
        "v_template": v_template,
        "shapedirs": rng.normal(scale=0.01, size=(num_verts, 3, num_betas)),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.stack([np.array([2**32 - 1] + list(SMPL_PARENTS[1:]), np.int64),
                                   np.arange(24)]),
        "f": rng.integers(0, num_verts, size=(400, 3)).astype(np.uint32),
    }
    if with_posedirs:
        data["posedirs"] = rng.normal(scale=0.002, size=(num_verts, 3, 207))
    return data


def write_smpl_folder(root: str, data: dict, gender: str = "NEUTRAL") -> str:
    """Writes `data` as a plain (chumpy-free) pickle where smplx looks for it; returns the file."""
    os.makedirs(os.path.join(root, "smpl"), exist_ok=True)
    path = os.path.join(root, "smpl", f"SMPL_{gender}.pkl")
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    return path


@pytest.fixture(scope="session")
def random_smpl_folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("smpl_random"))
    data = random_smpl_data()
    write_smpl_folder(root, data)
    return root, data
