"""The training harness: learning, resuming, evaluation, multi-device parity, errors, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from posejax.training import loop
from posejax.training.progress import read_metrics
from posejax.training.task import get_task
from tests.conftest import REPO_ROOT
from tests.training import toy_task


def _config(**overrides):
    cfg = toy_task.get_config()
    cfg.update(overrides)
    return cfg


def test_training_learns_and_logs(tmp_path):
    state, scalars = loop.train_and_evaluate(_config(), str(tmp_path))
    train = read_metrics(str(tmp_path), "train")
    assert [r["step"] for r in train] == [20, 40, 60]
    assert train[-1]["loss"] < 0.2 * train[0]["loss"]
    assert all(r["steps_per_s"] > 0 for r in train)
    # Evaluation at 30 and 60, and the returned scalars are the last one.
    evals = read_metrics(str(tmp_path), "eval")
    assert [r["step"] for r in evals] == [30, 60]
    assert scalars["sq_error"] == pytest.approx(evals[-1]["sq_error"])
    assert scalars["sq_error"] < 0.05
    np.testing.assert_allclose(np.asarray(state.params["w"]), toy_task.TRUE_W, atol=0.3)
    assert int(state.step) == 60
    saved = json.load(open(tmp_path / "config.json"))
    assert saved["task"] == "tests.training.toy_task"


def test_resume_repeats_the_uninterrupted_run(tmp_path):
    straight, _ = loop.train_and_evaluate(_config(eval_every=0), str(tmp_path / "a"))
    # "Killed" after the checkpoint at step 30, then rerun in the same workdir.
    loop.train_and_evaluate(_config(eval_every=0, num_steps=30), str(tmp_path / "b"))
    resumed, _ = loop.train_and_evaluate(_config(eval_every=0), str(tmp_path / "b"))
    assert int(resumed.step) == 60
    np.testing.assert_array_equal(np.asarray(resumed.params["w"]), np.asarray(straight.params["w"]))
    steps = [r["step"] for r in read_metrics(str(tmp_path / "b"), "train")]
    assert steps == [20, 30, 40, 60]  # the first run logs its last step; the rerun starts at 31
    # Only the newest `keep_checkpoints` are kept.
    assert sorted(os.listdir(tmp_path / "b" / "checkpoints")) == ["30", "60"]


def test_evaluate_reproduces_the_training_evaluation(tmp_path):
    _, scalars = loop.train_and_evaluate(_config(num_steps=30), str(tmp_path))
    again = loop.evaluate(str(tmp_path))
    assert again["step"] == 30
    assert again["sq_error"] == pytest.approx(scalars["sq_error"], rel=1e-6)
    assert json.load(open(tmp_path / "evaluation.json"))["sq_error"] == pytest.approx(scalars["sq_error"])


def test_config_overrides():
    cfg = _config()
    cfg.sub = {"n": 3}
    new = loop.override_config(cfg, ["num_steps=7", "sub.n=4", "sub.name=abc", "sub.pair=(1, 2)"])
    assert (new.num_steps, new.sub.n, new.sub.name, tuple(new.sub.pair)) == (7, 4, "abc", (1, 2))
    assert (cfg.num_steps, cfg.sub.n) == (60, 3)                      # a copy: the original is unchanged
    with pytest.raises(ValueError, match="section 'sbu'"):
        loop.override_config(cfg, ["sbu.n=4"])
    with pytest.raises(ValueError, match="dotted.key=value"):
        loop.override_config(cfg, ["num_steps"])


@pytest.mark.parametrize("field, value, message", [
    ("num_steps", 0, "num_steps"),
    ("batch_size", -1, "batch_size"),
    ("eval_every", -2, "eval_every"),
])
def test_bad_harness_fields(tmp_path, field, value, message):
    with pytest.raises(ValueError, match=message):
        loop.train_and_evaluate(_config(**{field: value}), str(tmp_path))


def test_missing_field_and_unknown_task(tmp_path):
    cfg = _config()
    del cfg["seed"]
    with pytest.raises(ValueError, match="seed"):
        loop.train_and_evaluate(cfg, str(tmp_path))
    with pytest.raises(ValueError, match="unknown task 'no_such_task'"):
        get_task(_config(task="no_such_task"))
    with pytest.raises(FileNotFoundError, match="config.json"):
        loop.evaluate(str(tmp_path / "nothing"))


_RUN = """
import json, sys
import jax
from posejax.training import loop
from tests.training import toy_task
cfg = toy_task.get_config()
cfg.update(num_steps=10, eval_every=0, log_every=10, checkpoint_every=10)
state, _ = loop.train_and_evaluate(cfg, sys.argv[1])
print(json.dumps({"devices": jax.device_count(), "w": state.params["w"].tolist(),
                  "sharding": str(state.params["w"].sharding.spec)}))
"""


def _run(workdir, devices: int) -> dict:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _RUN, str(workdir)], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_one_and_four_devices_train_the_same(tmp_path):
    assert jax.device_count() == 1  # this process: one CPU device
    state, _ = loop.train_and_evaluate(_config(num_steps=10, eval_every=0, log_every=10, checkpoint_every=10),
                                       str(tmp_path / "one"))
    one = {"w": np.asarray(state.params["w"]).tolist()}
    four = _run(tmp_path / "four", 4)
    assert four["devices"] == 4 and four["sharding"] in ("P()", "PartitionSpec()")  # replicated
    # Same global batches, same keys: the sharded mean gradient equals the single-device one
    # up to float32 summation order.
    np.testing.assert_allclose(np.asarray(four["w"]), np.asarray(one["w"]), rtol=1e-5, atol=1e-6)
    code = _RUN.replace("cfg.update(num_steps=10", "cfg.update(batch_size=6)\ncfg.update(num_steps=10")
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bad")], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "batch size 6 does not split over 4 devices" in out.stderr


def test_command_line_trains_and_evaluates(tmp_path):
    env = dict(os.environ, JAX_PLATFORMS="cpu", POSEJAX_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run(
        [sys.executable, "-m", "posejax.train", "--config=tests/training/toy_task.py",
         f"--workdir={tmp_path / 'run'}", "--config.num_steps=20", "--config.eval_every=20"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "[train 20/20] loss=" in out.stdout and "ETA" in out.stdout
    assert "final evaluation: sq_error=" in out.stdout
    out = subprocess.run([sys.executable, "-m", "posejax.evaluate", f"--workdir={tmp_path / 'run'}"],
                         cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "evaluation: step=20" in out.stdout
