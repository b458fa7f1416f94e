"""Shared test helpers: where the real data lives, and the experiment configs."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CACHE = {}


def pytest_configure(config):
    """One persistent compilation cache for the whole run, in a fresh folder: the tests, the
    notebook kernels and the command-line subprocesses compile many of the same programs (same
    tiny configs, same shapes) and load them from there instead of compiling again. A user's own
    cache is never read or written."""
    _CACHE["previous"] = os.environ.get("POSEJAX_CACHE_DIR")
    _CACHE["folder"] = tempfile.mkdtemp(prefix="posejax-test-cache-")
    os.environ["POSEJAX_CACHE_DIR"] = _CACHE["folder"]
    from posejax.compilation_cache import enable_compilation_cache

    enable_compilation_cache()


def pytest_unconfigure(config):
    if _CACHE.get("previous") is None:
        os.environ.pop("POSEJAX_CACHE_DIR", None)
    else:
        os.environ["POSEJAX_CACHE_DIR"] = _CACHE["previous"]
    shutil.rmtree(_CACHE.get("folder", ""), ignore_errors=True)


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
