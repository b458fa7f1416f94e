"""The VirtualPose task on the harness (tiny config) and its target volume."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posejax.training import loop
from tests.conftest import tiny_experiment


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
                            "pa_mpjpe_mm", "pck_abs", "pck_root", "mrpe_depth_only_mm"}
    assert 0.0 <= scalars["detected"] <= 1.0 and math.isfinite(scalars["mrpe_depth_only_mm"])
