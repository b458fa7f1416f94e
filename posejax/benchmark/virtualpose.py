"""VirtualPose speed and memory: inference scenes/s, training steps/s, volume memory.

    python -m posejax.benchmark virtualpose [--json_out=benchmark_virtualpose.json]

  * inference: `VirtualPoseTask.predict` (depth map, root volume, peaks, PEN cubes, soft-argmax)
    on a batch of synthetic AGR scenes of the experiment's shape: scenes/s (median after warm-up),
    compile time, and XLA's temporary memory for the compiled program;
  * training: the jitted train step on batches of the experiment's shape: steps/s;
  for `:tiny` and `:cpu`, and inference of one scene at the paper's sizes (240 x 128 maps, 80 x 20 x
  80 root grid, 64^3 cubes; one timed call: it takes seconds on a CPU). Training at paper sizes is
  for an accelerator and is not timed here.
"""

from __future__ import annotations

import jax
import numpy as np

from posejax.benchmark import timing


def _scenes(task, count: int) -> dict:
    from posejax.synth.agr import synthesize_agr
    from posejax.synth.procedural import procedural_clips

    scenes = synthesize_agr(0, procedural_clips(2, 10.0, 0), count, task.agr, task.config.body_model)
    return task.scene_batch(scenes, np.arange(count))


def measure(variant, scenes: int, repeats: int, train: bool = True) -> dict:
    from posejax.tasks.virtualpose import VirtualPoseTask

    cfg = timing.experiment_config("virtualpose", variant)
    cfg.data.num_train = int(cfg.batch_size)     # the timed step needs one batch, not the whole pool
    task = VirtualPoseTask(cfg)
    name = variant or "paper"
    batch = _scenes(task, scenes)
    state = jax.jit(task.init_state)(jax.random.key(0), batch)
    stats = timing.time_jitted(task.predict, (state.params, batch), repeats=repeats, warmup=min(1, repeats - 1))
    mem = stats["compiled"].memory_analysis()
    row = {"network": name, "maps": "x".join(map(str, cfg.data.heatmap_size)),
           "root_grid": "x".join(map(str, cfg.model.space_shape)), "cube": int(cfg.model.cube_shape),
           "scenes": scenes, "compile_s": stats["compile_s"],
           "scenes_per_s": scenes / (stats["median_ms"] / 1e3)}
    if mem is not None:
        row["temp_mb"] = mem.temp_size_in_bytes / 2**20
    print(f"  {name}: {row['scenes_per_s']:.2f} scenes/s ({row['compile_s']:.1f} s compile)", flush=True)
    out = {"inference": row}
    if train:
        timed = timing.time_train_step(task.train_step, state, task.train_batch(0, int(cfg.batch_size), 0, 1), 5)
        out["training"] = {"network": name, "batch_size": int(cfg.batch_size), **timed}
        print(f"  {name} training: {timed['steps_per_s']:.2f} steps/s", flush=True)
    return out


def main(argv=None, json_out: str = "benchmark_virtualpose.json") -> None:
    del argv
    hw = timing.hardware()
    print("hardware:", ", ".join(f"{k}={v}" for k, v in hw.items()), flush=True)
    results = [measure("tiny", 8, 10), measure("cpu", 8, 5), measure(None, 1, 1, train=False)]
    timing.print_table("inference (synthetic AGR scenes, one call)", [x["inference"] for x in results],
                       ["network", "maps", "root_grid", "cube", "scenes", "scenes_per_s", "compile_s", "temp_mb"])
    timing.print_table("training step", [x["training"] for x in results if "training" in x],
                       ["network", "batch_size", "steps_per_s", "step_compile_s"])
    timing.write_json(json_out, {"hardware": hw, "results": results})
