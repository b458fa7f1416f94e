"""Shared test helpers: where the real data lives, and the experiment configs."""

from __future__ import annotations

import os

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_data_dir(*parts: str) -> str:
    """Path inside the shared real-data folder (../shared/data beside the repository).

    Skips the calling test with a clear reason when the folder (or the requested entry) is absent,
    e.g. on a user's machine without it.
    """
    path = os.path.join(REPO_ROOT, "..", "shared", "data", *parts)
    if not os.path.exists(path):
        pytest.skip(f"shared data not found at {os.path.normpath(path)}")
    return os.path.normpath(path)


def numpy_random_params(task, batch, seed: int = 0, scale: float = 0.2):
    """Random parameters of `task`'s networks drawn by NumPy (shapes from `jax.eval_shape`):
    initialising large networks would compile JAX's random draws, seconds each on CPU."""
    import jax
    import numpy as np

    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(task.init_state, jax.random.PRNGKey(0), batch).params
    return jax.tree.map(lambda x: (scale * rng.standard_normal(x.shape)).astype(np.float32), shapes)


def tiny_experiment(name: str, **overrides):
    """`experiments/<name>.py:tiny` with top-level fields overridden (what the tests train)."""
    from posejax.benchmark.timing import experiment_config

    cfg = experiment_config(name, "tiny")
    cfg.update(overrides)
    return cfg
