"""Pooled-regressor speed: one-shot inference on long sequences, and training steps/s.

    python -m posejax.benchmark regressor [--json_out=benchmark_regressor.json]

  * inference: one forward pass over a whole coco23 sequence of T = 1,000 / 10,000 frames
    (`PooledRegressorTask.predict`), for the paper-size network and the `:cpu` one: compile time,
    median of repeated calls after warm-up, and XLA's memory accounting of the compiled program;
  * training: the jitted train step (forward, the weighted L1 losses with the kinematic chain,
    backward, Adam) on batches of the experiment's shape, steps/s and sequences/s;
  * camera refinement (`posejax.fitting.static_camera.fit_static_camera`, what `refine_camera`
    runs after the forward pass) on sequences of T = 1,000 / 10,000 frames: the first call
    (compilation included) and the median of 5 warm calls, whole function.

Targets (issue acceptance, this 2-core CPU): 10,000-frame inference <= 1 s after compilation,
compile <= 20 s.
"""

from __future__ import annotations

import jax
import numpy as np

from posejax.benchmark import timing

def experiment_config(variant=None):
    """The pooled-regressor experiment config."""
    return timing.experiment_config("pooled_regressor", variant)


def _batch(task, batch_size: int, rng: np.random.Generator) -> dict:
    from posejax.tasks.pooled_regressor import input_features

    n = int(task.config.model.neighbourhoods)
    feats = input_features(23)
    return {"frames": rng.normal(size=(batch_size, n, 32, feats)).astype(np.float32),
            "pose": rng.normal(0, 0.2, size=(batch_size, n, 24, 3)).astype(np.float32),
            "root_hn": rng.normal(size=(batch_size, n, 3)).astype(np.float32),
            "root_view": rng.normal(size=(batch_size, n, 3)).astype(np.float32),
            "hn_betas": rng.normal(size=(batch_size, 8)).astype(np.float32),
            "camera": rng.normal(size=(batch_size, 4)).astype(np.float32)}


def measure(variant, frames=(1_000, 10_000), train_repeats: int = 10) -> dict:
    from posejax.tasks.pooled_regressor import PooledRegressorTask, input_features

    cfg = experiment_config(variant)
    task = PooledRegressorTask(cfg)
    rng = np.random.default_rng(0)
    batch = _batch(task, int(cfg.batch_size), rng)
    state = jax.jit(task.init_state)(jax.random.key(0), batch)
    name = variant or "paper"
    rows = []
    for t in frames:
        seq = rng.normal(size=(1, t, input_features(23))).astype(np.float32)
        stats = timing.time_jitted(task.predict, (state.params, state.extra, seq), repeats=5, warmup=1)
        mem = stats["compiled"].memory_analysis()
        row = {"network": name, "frames": t, "compile_s": stats["compile_s"],
               "inference_s": stats["median_ms"] / 1e3, "frames_per_s": t / (stats["median_ms"] / 1e3)}
        if mem is not None:
            row["temp_mb"] = mem.temp_size_in_bytes / 2**20
        rows.append(row)
        print(f"  {name} T={t}: {row['inference_s']:.3f} s ({row['compile_s']:.1f} s compile)", flush=True)
    timed = timing.time_train_step(task.train_step, state, batch, train_repeats)
    train = {"network": name, "batch_size": int(cfg.batch_size), "neighbourhoods": int(cfg.model.neighbourhoods),
             **timed, "sequences_per_s": int(cfg.batch_size) * timed["steps_per_s"]}
    print(f"  {name} training: {train['steps_per_s']:.2f} steps/s", flush=True)
    return {"inference": rows, "training": train}


def _camera_fit_problem(t: int, rng: np.random.Generator) -> dict:
    """A person walking back and forth 4-10 m in front of a camera 3 m high, pitched 15 degrees;
    23 keypoints projected and given 1 px of noise. The fit starts 3 degrees and 0.6 m off."""
    from posejax.geometry.cameras import StaticCamera, static_to_perspective
    from posejax.geometry.projection import project
    from posejax.geometry.static_view import point_to_static_view

    camera = np.array([np.deg2rad(15.0), 0.0, 3.0, np.deg2rad(60.0)], np.float32)
    phase = np.linspace(0.0, 6 * np.pi, t, dtype=np.float32)
    pelvis = np.stack([1.5 * np.sin(phase / 3), np.full(t, 0.9, np.float32), 7.0 + 3.0 * np.sin(phase)], -1)
    body_world = rng.normal(0.0, 0.3, size=(23, 3)).astype(np.float32) * np.array([0.6, 1.5, 0.4], np.float32)
    cams = static_to_perspective(StaticCamera(*camera))
    pixels = np.asarray(project(pelvis[:, None] + body_world, cams)) + rng.normal(0, 1.0, (t, 23, 2))
    body_cam = np.broadcast_to(body_world @ np.asarray(cams.R).T, (t, 23, 3)).copy()
    start = camera + np.array([np.deg2rad(3.0), 0.0, 0.6, 0.0], np.float32)
    return dict(keypoints=pixels.astype(np.float32), confidence=np.ones((t, 23), np.float32), body=body_cam,
                pelvis_height=pelvis[:, 1], camera=start,
                pelvis_view=np.asarray(point_to_static_view(pelvis, *start)), image_size=(1000, 1000))


def measure_camera_fit(frames=(1_000, 10_000), repeats: int = 5) -> list:
    import statistics
    import time

    from posejax.fitting.static_camera import fit_static_camera

    rows = []
    for t in frames:
        problem = _camera_fit_problem(t, np.random.default_rng(0))
        start = time.perf_counter()
        fit = fit_static_camera(**problem)
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fit_static_camera(**problem)
            times.append(time.perf_counter() - start)
        warm = statistics.median(times)
        rows.append({"frames": t, "first_call_s": first, "warm_s": warm, "iterations": fit.iterations,
                     "height_error_mm": abs(fit.camera[2] - 3.0) * 1e3})
        print(f"  camera fit T={t}: {warm:.3f} s warm, {first:.1f} s first call", flush=True)
    return rows


def main(argv=None, json_out: str = "benchmark_regressor.json") -> None:
    del argv
    hw = timing.hardware()
    print("hardware:", ", ".join(f"{k}={v}" for k, v in hw.items()), flush=True)
    results = [measure(None), measure("cpu")]
    timing.print_table("one-shot inference on a whole sequence (coco23)", [r for x in results for r in x["inference"]],
                       ["network", "frames", "inference_s", "frames_per_s", "compile_s", "temp_mb"])
    timing.print_table("training step", [x["training"] for x in results],
                       ["network", "batch_size", "neighbourhoods", "steps_per_s", "sequences_per_s", "step_compile_s"])
    camera_fit = measure_camera_fit()
    timing.print_table("camera refinement (fit_static_camera, coco23)", camera_fit,
                       ["frames", "warm_s", "first_call_s", "iterations", "height_error_mm"])
    timing.write_json(json_out, {"hardware": hw, "results": results, "camera_fit": camera_fit})
