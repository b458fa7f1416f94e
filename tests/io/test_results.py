"""Tests for saving/loading results as .npz and .json."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from posejax.io.results import load_results, save_results


def _results():
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(3, 24, 3)).astype(np.float32)
    pose[0, 0, 0] = np.nan
    return {"pose": pose, "betas": jnp.arange(10, dtype=jnp.float32),
            "frames": np.arange(3, dtype=np.int32), "name": "clip_01", "fps": 30.0,
            "converged": True, "note": None,
            "metrics": {"mpjpe_mm": 51.5, "per_frame": rng.normal(size=3)}}


def _check(back, res):
    assert set(back) == set(res)
    np.testing.assert_array_equal(back["pose"], res["pose"])  # NaN compares equal here
    assert back["pose"].dtype == np.float32
    np.testing.assert_array_equal(back["betas"], np.asarray(res["betas"]))
    np.testing.assert_array_equal(back["frames"], res["frames"])
    assert back["frames"].dtype == np.int32
    assert back["name"] == "clip_01" and back["fps"] == 30.0 and back["converged"] is True
    assert back["note"] is None
    assert back["metrics"]["mpjpe_mm"] == 51.5
    np.testing.assert_array_equal(back["metrics"]["per_frame"], res["metrics"]["per_frame"])


@pytest.mark.parametrize("suffix", ["npz", "json"])
def test_round_trip(tmp_path, suffix):
    res = _results()
    path = save_results(str(tmp_path / "sub" / f"r.{suffix}"), res)
    _check(load_results(path), res)


def test_json_is_plain_lists(tmp_path):
    path = save_results(str(tmp_path / "r.json"), _results())
    doc = json.load(open(path))
    assert doc["pose"][0][0][0] is None and isinstance(doc["pose"][1][2][1], float)
    assert doc["frames"] == [0, 1, 2] and doc["metrics"]["mpjpe_mm"] == 51.5
    assert doc["__arrays__"]["pose"] == {"dtype": "<f4", "shape": [3, 24, 3]}


def test_errors(tmp_path):
    with pytest.raises(ValueError, match=r"key 'a/b' must be a non-empty string without '/'"):
        save_results(str(tmp_path / "r.npz"), {"a/b": 1})
    with pytest.raises(ValueError, match=r"results can be saved as \.npz or \.json"):
        save_results(str(tmp_path / "r.txt"), {"a": 1})
    with pytest.raises(ValueError, match=r"`results\['x'\]` must be an array"):
        save_results(str(tmp_path / "r.json"), {"x": object()})
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": [1, 2,\n "b"')
    with pytest.raises(ValueError, match=r"bad\.json, line 2, column \d+: invalid JSON"):
        load_results(str(bad))
    with pytest.raises(FileNotFoundError, match=r"none\.npz"):
        load_results(str(tmp_path / "none.npz"))
    bad_npz = tmp_path / "bad.npz"
    bad_npz.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"bad\.npz: not a readable \.npz file"):
        load_results(str(bad_npz))
