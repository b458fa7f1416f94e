"""The persistent compilation cache stores compiled programs and serves a second process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    import jax, jax.numpy as jnp
    from posejax.compilation_cache import enable_compilation_cache
    folder = enable_compilation_cache(sys.argv[1], min_compile_time_s=0.0)
    events = []
    jax.monitoring.register_event_listener(lambda name, **kwargs: events.append(name))
    def f(x):
        for _ in range(30):
            x = jnp.sin(x) @ x.T
        return x
    jax.jit(f).lower(jnp.ones((64, 64))).compile()
    hits = sum(e == "/jax/compilation_cache/cache_hits" for e in events)
    misses = sum(e == "/jax/compilation_cache/cache_misses" for e in events)
    print(folder, hits, misses)
""")


def _run(folder):
    out = subprocess.run([sys.executable, "-c", SCRIPT, folder], capture_output=True, text=True,
                         check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    used, hits, misses = out.stdout.split()
    return used, int(hits), int(misses)


def test_second_process_reads_the_cache(tmp_path):
    folder = str(tmp_path / "cache")
    used, hits, misses = _run(folder)
    assert used == folder and hits == 0 and misses >= 1
    assert os.listdir(folder), "nothing was written to the compilation cache"
    _, hits, misses = _run(folder)
    assert hits >= 1 and misses == 0  # the second process loads the program from disk


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    from posejax.compilation_cache import cache_dir
    monkeypatch.setenv("POSEJAX_CACHE_DIR", str(tmp_path))
    assert cache_dir() == str(tmp_path / "jax_compilation_cache")
    assert cache_dir("~/x").endswith(os.path.join("", "x")) and "~" not in cache_dir("~/x")
