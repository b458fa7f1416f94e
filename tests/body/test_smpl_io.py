"""Reading official SMPL files: chumpy-free pickles, npz, folders, and clear errors."""

from __future__ import annotations

import os
import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse

from posejax.body import kinematics, load_body_model
from posejax.body.smpl_io import read_smpl_file
from tests.body.conftest import random_smpl_data, write_smpl_folder


def _write_chumpy_style_pickle(path, data):
    """Pickles `data` the way the official files are: chumpy objects and a scipy sparse J_regressor.

    A stand-in `chumpy.ch.Ch` class is registered only while pickling, so that loading happens
    without any chumpy module; the sparse matrix's module path is rewritten to the old
    `scipy.sparse.csc` one that official files carry.
    """
    class Ch:  # pickled as chumpy.ch.Ch with its array under "x", like chumpy's own __getstate__
        def __init__(self, x):
            self.x = x

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    fake = types.ModuleType("chumpy.ch")
    fake.Ch = Ch
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = types.ModuleType("chumpy"), fake
    try:
        wrapped = dict(data)
        for key in ("v_template", "shapedirs", "posedirs", "weights"):
            wrapped[key] = Ch(data[key])
        wrapped["J_regressor"] = scipy.sparse.csc_matrix(data["J_regressor"])
        blob = pickle.dumps(wrapped, protocol=2)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    sparse_module = type(wrapped["J_regressor"]).__module__.encode()
    assert sparse_module + b"\n" in blob
    blob = blob.replace(sparse_module + b"\n", b"scipy.sparse.csc\n")
    with open(path, "wb") as fh:
        fh.write(blob)


def _joints_and_vertices(model):
    rng = np.random.default_rng(0)
    pose = 0.5 * rng.normal(size=(3, 24, 3))
    betas = rng.uniform(-2, 2, size=(3, 10))
    out = kinematics.forward(model, pose, betas)
    return np.asarray(out.joints), np.asarray(out.vertices)


def test_chumpy_pickle_with_sparse_regressor_loads_without_chumpy(tmp_path):
    assert "chumpy" not in sys.modules
    data = random_smpl_data(seed=3)
    path = str(tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl")
    _write_chumpy_style_pickle(path, data)
    raw = read_smpl_file(path)
    assert scipy.sparse.issparse(raw["J_regressor"])
    np.testing.assert_array_equal(raw["shapedirs"], data["shapedirs"])
    model = load_body_model(path)
    np.testing.assert_allclose(model.J_regressor, data["J_regressor"], atol=1e-7)
    np.testing.assert_allclose(model.posedirs, data["posedirs"], atol=1e-7)
    assert "chumpy" not in sys.modules
    # Found inside a folder by the official release name too.
    assert load_body_model(str(tmp_path)).num_vertices == data["v_template"].shape[0]


def test_npz_gives_identical_results_to_pkl(tmp_path):
    data = random_smpl_data(seed=4)
    pkl = write_smpl_folder(str(tmp_path), data)
    npz = str(tmp_path / "model.npz")
    np.savez(npz, **data)
    j_pkl, v_pkl = _joints_and_vertices(load_body_model(pkl))
    j_npz, v_npz = _joints_and_vertices(load_body_model(npz))
    np.testing.assert_array_equal(j_pkl, j_npz)
    np.testing.assert_array_equal(v_pkl, v_npz)


def test_folder_layout_and_gender(tmp_path):
    write_smpl_folder(str(tmp_path), random_smpl_data(seed=5), gender="FEMALE")
    model = load_body_model(str(tmp_path), gender="female")
    assert model.name == "SMPL_FEMALE.pkl"
    with pytest.raises(FileNotFoundError, match=r"no male SMPL model found in folder .*official SMPL website"):
        load_body_model(str(tmp_path), gender="male")
    with pytest.raises(ValueError, match=r"`gender` must be one of \('neutral', 'male', 'female'\), got 'other'"):
        load_body_model(str(tmp_path), gender="other")


def test_posedirs_are_optional(tmp_path):
    data = random_smpl_data(seed=6, with_posedirs=False)
    path = str(tmp_path / "no_posedirs.npz")
    np.savez(path, **data)
    model = load_body_model(path)
    assert model.posedirs is None
    # All-zero correctives are dropped: same result, no wasted memory.
    zero = dict(data, posedirs=np.zeros((data["v_template"].shape[0], 3, 207)))
    np.savez(str(tmp_path / "zero.npz"), **zero)
    assert load_body_model(str(tmp_path / "zero.npz")).posedirs is None


def test_missing_file_error_has_download_hint(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"body model file not found: .*official SMPL website"):
        load_body_model(str(tmp_path / "SMPL_NEUTRAL.pkl"))
    with pytest.raises(ValueError, match=r"unknown body model 'smpl': use one of \('open', 'open-lite'\)"):
        load_body_model("smpl")


def test_missing_keys_and_wrong_shapes(tmp_path):
    data = random_smpl_data(seed=7)
    np.savez(str(tmp_path / "nokeys.npz"), **{k: v for k, v in data.items() if k != "weights"})
    with pytest.raises(ValueError, match=r"lacks required keys \['weights'\]"):
        load_body_model(str(tmp_path / "nokeys.npz"))
    bad = dict(data, shapedirs=data["shapedirs"][:10])
    np.savez(str(tmp_path / "badshape.npz"), **bad)
    with pytest.raises(ValueError, match=r"`shapedirs` must have shape \(240, 3, N\), got \(10, 3, 10\)"):
        load_body_model(str(tmp_path / "badshape.npz"))
    bad_tree = dict(data, kintree_table=data["kintree_table"][:, ::-1])
    np.savez(str(tmp_path / "badtree.npz"), **bad_tree)
    with pytest.raises(ValueError, match="kintree_table is not the SMPL kinematic tree"):
        load_body_model(str(tmp_path / "badtree.npz"))


def test_corrupt_and_malicious_files_are_refused(tmp_path):
    corrupt = tmp_path / "corrupt.pkl"
    corrupt.write_bytes(b"\x80\x02}q\x00(X\x01")  # truncated pickle
    with pytest.raises(ValueError, match="could not read body model file .*corrupt.pkl"):
        load_body_model(str(corrupt))
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"v_template": os.getcwd}, protocol=2))
    with pytest.raises(ValueError, match=r"refusing to load posix.getcwd|refusing to load os.getcwd"):
        load_body_model(str(evil))
    bad_npz = tmp_path / "bad.npz"
    bad_npz.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="could not read body model file .*bad.npz"):
        load_body_model(str(bad_npz))


def test_as_body_model_loads_names_and_passes_models_through():
    from posejax.body import as_body_model

    model = load_body_model("open")
    assert as_body_model("open") is model           # the embedded model is loaded once
    assert as_body_model(model) is model
    with pytest.raises(ValueError, match="unknown body model"):
        as_body_model("no-such-model")
