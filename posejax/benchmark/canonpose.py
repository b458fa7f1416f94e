"""CanonPose speed: lifting throughput and training throughput.

    python -m posejax.benchmark canonpose [--json_out=benchmark_canonpose.json]

  * inference: `CanonPoseTask.predict` on 100,000 normalised coco23 poses in one call (poses/s,
    median after warm-up, compile time), for the paper-size lifter (1024 units) and the `:cpu`
    one (512);
  * training: the jitted train step (forward on 2 frames x 4 views per example, the m^2 mixed
    reprojections, camera consistency, backward, AdamW) on batches of the experiment's shape:
    steps/s and poses/s.

Target (issue acceptance, this 2-core CPU): inference >= 100,000 poses/s after compilation.
"""

from __future__ import annotations

import jax
import numpy as np

from posejax.benchmark import timing


def _batch(task, batch_size: int, rng: np.random.Generator) -> dict:
    v, k = int(task.config.data.num_views), task.num_joints
    inputs = rng.normal(size=(batch_size, 2, v, 3 * k)).astype(np.float32)
    inputs[..., 2 * k:] = 1.0
    return {"inputs": inputs, "present": np.ones((batch_size, 2, v, k), bool)}


def measure(variant, num_poses: int = 100_000, train_repeats: int = 10) -> dict:
    from posejax.tasks.canonpose import CanonPoseTask

    cfg = timing.experiment_config("canonpose", variant)
    task = CanonPoseTask(cfg)
    rng = np.random.default_rng(0)
    batch = _batch(task, int(cfg.batch_size), rng)
    state = jax.jit(task.init_state)(jax.random.key(0), batch)
    name = variant or "paper"
    poses = rng.normal(size=(num_poses, 3 * task.num_joints)).astype(np.float32)
    stats = timing.time_jitted(task.predict, (state.params, poses), repeats=5, warmup=1)
    infer = {"network": name, "width": int(cfg.model.width), "poses": num_poses,
             "compile_s": stats["compile_s"], "seconds": stats["median_ms"] / 1e3,
             "poses_per_s": num_poses / (stats["median_ms"] / 1e3)}
    print(f"  {name}: {infer['poses_per_s']:,.0f} poses/s ({infer['compile_s']:.1f} s compile)", flush=True)
    timed = timing.time_train_step(task.train_step, state, batch, train_repeats)
    per_step = int(cfg.batch_size) * 2 * int(cfg.data.num_views)
    train = {"network": name, "batch_size": int(cfg.batch_size), "poses_per_step": per_step,
             **timed, "poses_per_s": per_step * timed["steps_per_s"]}
    print(f"  {name} training: {train['steps_per_s']:.2f} steps/s", flush=True)
    return {"inference": infer, "training": train}


def main(argv=None, json_out: str = "benchmark_canonpose.json") -> None:
    del argv
    hw = timing.hardware()
    print("hardware:", ", ".join(f"{k}={v}" for k, v in hw.items()), flush=True)
    results = [measure(None), measure("cpu")]
    timing.print_table("lifting (coco23, one call)", [x["inference"] for x in results],
                       ["network", "width", "poses", "seconds", "poses_per_s", "compile_s"])
    timing.print_table("training step", [x["training"] for x in results],
                       ["network", "batch_size", "poses_per_step", "steps_per_s", "poses_per_s", "step_compile_s"])
    timing.write_json(json_out, {"hardware": hw, "results": results})
