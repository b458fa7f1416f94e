"""JAX's persistent compilation cache for posejax's command-line tools.

Compiling a whole-clip L-BFGS solve takes seconds to tens of seconds on a CPU; with the cache the
second run of a command (same shapes, same JAX) loads the compiled program from disk instead.
Library functions never switch it on by themselves (it is global JAX state): commands call
`enable_compilation_cache()`, and users may too.
"""

from __future__ import annotations

import os
from typing import Optional

import jax

DEFAULT_DIR = os.path.join("~", ".cache", "posejax", "jax_compilation_cache")


def cache_dir(path: Optional[str] = None) -> str:
    """The cache folder: `path`, else $POSEJAX_CACHE_DIR/jax_compilation_cache, else ~/.cache/posejax/..."""
    if path is None:
        root = os.environ.get("POSEJAX_CACHE_DIR")
        path = os.path.join(root, "jax_compilation_cache") if root else DEFAULT_DIR
    return os.path.abspath(os.path.expanduser(path))


def enable_compilation_cache(path: Optional[str] = None, min_compile_time_s: float = 0.0) -> str:
    """Turns on JAX's persistent compilation cache; returns the folder used.

    Args:
      path: cache folder (see `cache_dir` for the default).
      min_compile_time_s: only programs that took at least this long to compile are stored. 0
        (default) stores every program: a fresh process then also skips the hundreds of small
        compilations (eager operations, helpers) that otherwise add seconds to a first call.
    """
    folder = cache_dir(path)
    os.makedirs(folder, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_s))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return folder
