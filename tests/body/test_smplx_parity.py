"""Parity with the smplx package (PyTorch, CPU) as the reference implementation of SMPL."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from posejax.body import kinematics, load_body_model
from posejax.body.loading import ASSET_DIR
from tests.body.conftest import random_smpl_data, write_smpl_folder

torch = pytest.importorskip("torch", reason="parity tests need the `smplx` extra (torch CPU + smplx)")
smplx = pytest.importorskip("smplx", reason="parity tests need the `smplx` extra (torch CPU + smplx)")

BATCH = 16
# smplx appends 21 extra joints picked at fixed vertex ids of the real SMPL mesh; the test models have
# other vertex counts, so point those picks at valid vertices (they are not compared).
EXTRA_JOINT_NAMES = ("nose", "reye", "leye", "rear", "lear", "rthumb", "rindex", "rmiddle", "rring",
                     "rpinky", "lthumb", "lindex", "lmiddle", "lring", "lpinky", "LBigToe",
                     "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")


def _random_inputs(num_betas, seed=0):
    rng = np.random.default_rng(seed)
    return (0.5 * rng.normal(size=(BATCH, 24, 3)).astype(np.float32),
            rng.uniform(-2, 2, size=(BATCH, num_betas)).astype(np.float32),
            rng.normal(size=(BATCH, 3)).astype(np.float32))


def _compare(folder, model_path):
    reference = smplx.create(folder, model_type="smpl", gender="neutral", batch_size=BATCH,
                             vertex_ids={n: i for i, n in enumerate(EXTRA_JOINT_NAMES)})
    model = load_body_model(model_path)
    pose, betas, transl = _random_inputs(model.num_betas)
    with torch.no_grad():
        ref = reference(global_orient=torch.from_numpy(pose[:, 0]),
                        body_pose=torch.from_numpy(pose[:, 1:].reshape(BATCH, 69)),
                        betas=torch.from_numpy(betas), transl=torch.from_numpy(transl))
    ours = kinematics.forward(model, pose, betas, transl)
    vert_err = np.abs(np.asarray(ours.vertices) - ref.vertices.numpy()).max()
    joint_err = np.abs(np.asarray(ours.joints) - ref.joints[:, :24].numpy()).max()
    fast_err = np.abs(np.asarray(kinematics.joints(model, pose, betas, transl))
                      - ref.joints[:, :24].numpy()).max()
    return vert_err, joint_err, fast_err


def test_random_model_with_pose_correctives_matches_smplx(tmp_path):
    data = random_smpl_data(seed=11)
    path = write_smpl_folder(str(tmp_path), data)
    vert_err, joint_err, fast_err = _compare(str(tmp_path), path)
    assert vert_err <= 1e-5 and joint_err <= 1e-5 and fast_err <= 1e-5, (vert_err, joint_err, fast_err)


@pytest.mark.slow
def test_open_model_as_chumpy_free_smpl_pickle_matches_smplx(tmp_path):
    with np.load(os.path.join(ASSET_DIR, "open.npz")) as npz:
        data = {k: npz[k] for k in ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")}
    # smplx needs pose correctives; the open model has none, which all-zero ones reproduce exactly.
    data["posedirs"] = np.zeros(data["v_template"].shape + (207,), np.float32)
    path = write_smpl_folder(str(tmp_path), data)
    vert_err, joint_err, fast_err = _compare(str(tmp_path), path)
    assert vert_err <= 1e-5 and joint_err <= 1e-5 and fast_err <= 1e-5, (vert_err, joint_err, fast_err)
    # The same file through the npz path gives identical results.
    npz_path = str(tmp_path / "open_as_smpl.npz")
    np.savez(npz_path, **data)
    pose, betas, transl = _random_inputs(10)
    a = kinematics.forward(load_body_model(path), pose, betas, transl)
    b = kinematics.forward(load_body_model(npz_path), pose, betas, transl)
    np.testing.assert_array_equal(np.asarray(a.vertices), np.asarray(b.vertices))
