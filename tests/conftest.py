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


def tiny_experiment(name: str, **overrides):
    """`experiments/<name>.py:tiny` with top-level fields overridden (what the tests train)."""
    from posejax.benchmark.timing import experiment_config

    cfg = experiment_config(name, "tiny")
    cfg.update(overrides)
    return cfg
