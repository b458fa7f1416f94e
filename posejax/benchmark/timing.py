"""Timing helpers shared by the benchmarks: compile time, medians after warm-up, hardware."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import time
from typing import Any, Callable, Sequence

import jax


def hardware() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    devices = jax.devices()
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": f"{len(devices)} x {devices[0].device_kind}",
        "python": platform.python_version(),
    }


def time_jitted(fn: Callable, args: Sequence[Any], repeats: int = 20, warmup: int = 3) -> dict[str, float]:
    """Compiles `jax.jit(fn)` for `args` and times it.

    Returns:
      dict with compile_s (lowering + XLA compilation), median_ms and min_ms over `repeats` calls
      made after `warmup` untimed calls (every call blocks until the result is ready), and
      compiled, the compiled function (for its memory analysis).
    """
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    for _ in range(warmup):
        jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append((time.perf_counter() - start) * 1e3)
    return {"compile_s": compile_s, "median_ms": statistics.median(times), "min_ms": min(times),
            "compiled": compiled}


def time_train_step(step: Callable, state: Any, batch: Any, repeats: int = 10) -> dict[str, float]:
    """Times a training step `step(state, batch, key) -> (state, metrics)` that donates its
    state: the first call (compilation included), then the median of `repeats` further calls,
    each feeding the new state back.

    Returns:
      dict with step_compile_s and steps_per_s.
    """
    jitted = jax.jit(step, donate_argnums=0)
    key = jax.random.key(0)
    start = time.perf_counter()
    state, metrics = jitted(state, batch, key)
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state, metrics = jitted(state, batch, key)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - start)
    return {"step_compile_s": compile_s, "steps_per_s": 1.0 / statistics.median(times)}


def print_table(title: str, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """Prints rows as an aligned text table."""
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)
    widths = [max(len(c), *(len(fmt(r.get(c, ""))) for r in rows)) for c in columns]
    print(title)
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(fmt(r.get(c, "")).ljust(w) for c, w in zip(columns, widths)))


def write_json(path: str, payload: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2)
    print(f"wrote {path}")


def experiment_config(name: str, variant=None):
    """`experiments/<name>.py`'s config (the file beside the package) for a variant."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"{name}_experiment", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(variant)
