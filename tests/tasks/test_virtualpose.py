"""The VirtualPose task on the harness (tiny config) and its target volume."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posejax.training import loop
from tests.conftest import numpy_random_params, tiny_experiment


def test_root_target_peaks_at_the_true_roots():
    from posejax.geometry.voxels import voxel_centres
    from posejax.tasks.virtualpose import VirtualPoseTask

    task = VirtualPoseTask(tiny_experiment("virtualpose"))
    roots = np.array([[[0.5, 0.9, -1.0], [-2.0, 0.9, 2.0], [3.0, 0.9, -3.0]]], np.float32)
    mask = np.array([[True, True, False]])
    target = np.asarray(task.root_target(roots, mask))[0]
    centres = np.asarray(voxel_centres(np.array(task.space[0]), task.space[1], task.space[2]))
    sigma = float(np.max(np.array(task.space[1]) / np.array(task.space[2])))   # one voxel edge
    for root in roots[0, :2]:
        i = np.unravel_index(np.argmin(np.linalg.norm(centres - root, axis=-1)), target.shape)
        assert target[i] > 0.6 and target[i] == pytest.approx(
            np.exp(-0.5 * np.sum((centres[i] - root) ** 2) / sigma ** 2), rel=1e-5)
    near_absent = np.linalg.norm(centres - roots[0, 2], axis=-1) < 0.6
    assert target[near_absent].max() < 1e-3                     # the empty slot adds nothing


@pytest.mark.slow
def test_trains_and_evaluates_on_the_harness(tmp_path):
    cfg = tiny_experiment("virtualpose", num_steps=10, log_every=10, eval_every=10, checkpoint_every=10)
    _, scalars = loop.train_and_evaluate(cfg, str(tmp_path))
    assert set(scalars) == {"detected", "mrpe_mm", "mrpe_x_mm", "mrpe_y_mm", "mrpe_z_mm", "mpjpe_mm",
                            "pa_mpjpe_mm", "pck_abs", "pck_root", "mrpe_depth_only_mm", "pck_abs_depth_only"}
    assert 0.0 <= scalars["detected"] <= 1.0 and math.isfinite(scalars["mrpe_depth_only_mm"])


def test_zero_weights_skip_their_networks():
    """`loss.depth = loss.root = 0` trains the PEN alone: only the pose term is computed and one
    step changes only the pose network's parameters (each network has its own optimiser)."""
    import jax

    from posejax.tasks.virtualpose import VirtualPoseTask
    from posejax.training.state import TrainState

    cfg = tiny_experiment("virtualpose")
    cfg.data.num_train = 2
    cfg.loss.depth = cfg.loss.root = 0.0
    task = VirtualPoseTask(cfg)
    batch = task.train_batch(0, 2, 0, 1)
    params = numpy_random_params(task, batch)
    _, terms = jax.eval_shape(task.losses, params, batch)
    assert set(terms) == {"pose"}
    state = TrainState.create(params, task._tx())
    new, metrics = jax.jit(task.train_step)(state, batch, None)
    assert float(metrics["loss"]) == pytest.approx(float(metrics["pose"])) and float(metrics["pose"]) > 0
    changed = {k: any(bool(np.any(a != b)) for a, b in zip(jax.tree.leaves(params[k]), jax.tree.leaves(new.params[k])))
               for k in params}
    assert changed == {"depth": False, "root": False, "pose": True}
    cfg.loss.pose = 0.0
    with pytest.raises(ValueError, match="every weight is zero"):
        jax.eval_shape(VirtualPoseTask(cfg).losses, params, batch)


def test_validation_seed_draws_other_held_out_scenes():
    from posejax.tasks.virtualpose import VirtualPoseTask

    cfg = tiny_experiment("virtualpose")
    default = VirtualPoseTask(cfg).pool("validation")
    cfg.data.validation_seed = int(cfg.seed) * 2 + 1          # the default's own seed: the same scenes
    np.testing.assert_array_equal(VirtualPoseTask(cfg).pool("validation")["R"], default["R"])
    cfg.data.validation_seed = 1234
    other = VirtualPoseTask(cfg).pool("validation")
    assert other["R"].shape == default["R"].shape and not np.allclose(other["R"], default["R"])


def test_fixed_camera_config_places_the_camera_on_the_circle():
    from posejax.benchmark.timing import experiment_config
    from posejax.tasks.virtualpose import VirtualPoseTask

    cfg = experiment_config("virtualpose", "cpu_fixed")
    azimuth, distance, height, hfov = cfg.data.fixed_camera
    task = VirtualPoseTask(cfg)
    K, R, t = task.agr.fixed_camera
    centre = -R.T @ t
    expect = [distance * np.sin(np.radians(azimuth)), height, distance * np.cos(np.radians(azimuth))]
    np.testing.assert_allclose(centre, expect, atol=1e-5)
    np.testing.assert_allclose(2 * np.degrees(np.arctan(cfg.data.image_size[0] / 2 / K[0, 0])), hfov, rtol=1e-5)
    cfg.data.fixed_camera = (30.0, 8.0)
    with pytest.raises(ValueError, match="needs data.fixed_camera"):
        VirtualPoseTask(cfg)


def test_long_cpu_config_is_the_cpu_network_trained_longer_on_more_scenes():
    from posejax.benchmark.timing import experiment_config

    cpu = experiment_config("virtualpose", "cpu").to_dict()
    long = experiment_config("virtualpose", "cpu_long").to_dict()
    assert long["model"] == cpu["model"] and long["optimizer"] == cpu["optimizer"]
    assert (long["num_steps"], long["data"].pop("num_train"), long["data"].pop("mirror")) == (12_000, 4_000, 0.5)
    assert cpu["data"].pop("mirror") == 0.0
    cpu["data"].pop("num_train")
    assert long["data"] == cpu["data"]
    with pytest.raises(ValueError, match="':cpu_long'"):
        experiment_config("virtualpose", "cpu_longer")


def test_camera_study_checks_its_runs(tmp_path):
    import json

    from posejax.benchmark.timing import experiment_config
    from posejax.evaluate_virtualpose_cameras import camera_study, format_table

    for name, variant in (("random", "cpu"), ("fixed", "cpu_fixed")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(experiment_config("virtualpose", variant).to_dict()))
    with pytest.raises(ValueError, match="--random must be a virtualpose run with data.camera='random'"):
        camera_study(str(tmp_path / "fixed"), str(tmp_path / "fixed"))
    with pytest.raises(ValueError, match="--fixed must be"):
        camera_study(str(tmp_path / "random"), str(tmp_path / "random"))
    row = {"trained on": "fixed camera", "step": 5, "tested on": "random cameras", "detected": 0.5, "mrpe_mm": 200.0,
           "mpjpe_mm": 100.0, "pa_mpjpe_mm": 80.0, "pck_abs": 30.0, "mrpe_depth_only_mm": 300.0}
    assert "| fixed camera | 5 | random cameras | 50.0% | 200.0 mm | 100.0 mm | 80.0 mm | 30.0% | 300 mm |" \
        in format_table({"rows": [row]})
