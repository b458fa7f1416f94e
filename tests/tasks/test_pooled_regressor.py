"""The pooled-regressor task on the harness (tiny config)."""

from __future__ import annotations

import importlib.util
import math
import os

import jax
import numpy as np
import pytest

from posejax.tasks.pooled_regressor import PooledRegressorTask, normalize_observations
from posejax.training import loop
from tests.conftest import REPO_ROOT


def tiny_config(**overrides):
    spec = importlib.util.spec_from_file_location(
        "pooled_regressor_config", os.path.join(REPO_ROOT, "experiments", "pooled_regressor.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = module.get_config("tiny")
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope="module")
def task():
    return PooledRegressorTask(tiny_config())


def test_normalize_observations():
    kp = np.array([[[500.0, 500.0], [1000.0, 250.0], [np.nan, 3.0]]], np.float32)
    conf = np.array([[1.0, 0.5, 0.9]], np.float32)
    out = normalize_observations(kp, conf, (1000, 1000))
    assert out.shape == (1, 9)
    np.testing.assert_allclose(out[0, :6], [0, 0, 0.5, -0.25, 0, 0])  # x0.5 conf; NaN -> 0
    np.testing.assert_allclose(out[0, 6:], [1.0, 0.5, 0.0])          # the NaN point is missing


def test_batches_are_deterministic_and_split_over_processes(task):
    a = task.train_batch(3, 4, 0, 1)
    b = task.train_batch(3, 4, 0, 1)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert a["frames"].shape[:3] == (4, 8, 32) and a["pose"].shape == (4, 8, 24, 3)
    halves = [task.train_batch(3, 2, p, 2) for p in (0, 1)]
    np.testing.assert_array_equal(np.concatenate([h["frames"] for h in halves]), a["frames"])
    assert not np.array_equal(task.train_batch(4, 4, 0, 1)["frames"], a["frames"])


def test_trains_and_evaluates_on_the_harness(tmp_path):
    cfg = tiny_config(num_steps=10, log_every=10, eval_every=10, checkpoint_every=10)
    _, scalars = loop.train_and_evaluate(cfg, str(tmp_path))
    assert set(scalars) == {"mpjpe_mm", "pa_mpjpe_mm", "translation_mm", "camera_fov", "camera_pitch",
                            "camera_roll", "camera_height"}
    assert all(math.isfinite(v) and v >= 0 for v in scalars.values())
    assert scalars["pa_mpjpe_mm"] <= scalars["mpjpe_mm"] + 1e-3  # Procrustes can only help
    assert sorted(os.listdir(tmp_path / "figures")) == ["step_10_camera.png", "step_10_trajectory.png"]
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["10"]


def test_split_clips_holds_out_whole_motions():
    from posejax.tasks.pooled_regressor import split_clips

    class Clip:
        def __init__(self, name):
            self.name = name

    clips = [Clip(f"c{i:02d}") for i in range(12)]
    train, held = split_clips(clips, 5)
    assert [c.name for c in held] == ["c02", "c07"]
    assert not {c.name for c in train} & {c.name for c in held} and len(train) == 10
    with pytest.raises(ValueError, match="cannot be split"):
        split_clips(clips[:1], 5)


def test_adversarial_variant_learns_one_batch(task):
    # Fitting one fixed batch: the regressor's losses and the discriminator's loss fall (the plain
    # variant is the same step without the adversarial terms).
    cfg = tiny_config()
    cfg.model.adversarial = True
    adv = PooledRegressorTask(cfg)
    batch = adv.train_batch(0, 4, 0, 1)
    assert batch["real_pose"].shape == (4, 8, 24, 3) and batch["real_root"].shape == (4, 8, 3)
    state = adv.init_state(jax.random.key(0), batch)
    assert set(state.params) == {"generator", "discriminator"}
    step = jax.jit(adv.train_step)
    d0 = state.params["discriminator"]
    losses = []
    for _ in range(25):
        state, m = step(state, batch, jax.random.key(1))
        losses.append({k: float(v) for k, v in m.items()})
    assert {"adversarial", "discriminator"} <= set(losses[0])
    assert all(math.isfinite(v) for row in losses for v in row.values())
    assert losses[-1]["pose"] < 0.9 * losses[0]["pose"]
    assert losses[-1]["loss"] < losses[0]["loss"]
    # The discriminator learns: its loss falls on this fixed batch, and its parameters moved.
    assert losses[-1]["discriminator"] < losses[0]["discriminator"]
    moved = jax.tree.map(lambda a, b: float(np.abs(np.asarray(a) - np.asarray(b)).max()), d0,
                         state.params["discriminator"])
    assert max(jax.tree.leaves(moved)) > 0
