"""Pseudo-ground-truth throughput: clips per minute of 250-frame clips, batch cost against one clip.

    python -m posejax.benchmark pseudo_gt

  * batches: warm `bundle_adjust_batch` (initialisation + one vmapped solve + outputs) of B
    different 250-frame coco17 clips for B = 1, 4, 16 (and 64 on an accelerator), median of 3
    after a compiling call: seconds per batch, its cost relative to one clip, clips per minute;
  * end to end: `run_pseudo_gt` over 32 clips in batches of 16 (records, selection, shards and
    the TFDS dataset included), after the same shapes were compiled.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import jax

from posejax.benchmark import timing
from posejax.benchmark.ba import T_DEFAULT, clip_keypoints


def _batch_seconds(kps, size, repeats: int = 3) -> float:
    from posejax.fitting.bundle_adjustment import bundle_adjust_batch

    run = lambda: bundle_adjust_batch(kps, layout="coco17", image_size=size, length=T_DEFAULT)  # noqa: E731
    run()  # compile this batch size
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def batches(sizes) -> list[dict]:
    clips = [clip_keypoints(T_DEFAULT, seed=s) for s in range(max(sizes))]
    size = clips[0][1]
    rows, one = [], None
    for b in sizes:
        seconds = _batch_seconds([c[0] for c in clips[:b]], size)
        one = seconds if b == 1 else one
        rows.append({"clips": b, "batch_s": seconds, "vs_one_clip": seconds / one,
                     "clips_per_min": 60 * b / seconds})
        print(f"batch of {b}: {seconds:.2f} s", flush=True)
    return rows


def end_to_end(num_clips: int = 32, batch_size: int = 16) -> dict:
    from posejax.pseudo_gt import Clip, get_config, run_pseudo_gt

    clips = []
    for s in range(num_clips):
        kp, size = clip_keypoints(T_DEFAULT, seed=100 + s)
        clips.append(Clip(f"clip_{s:03d}", kp, "coco17", size))
    cfg = get_config()
    cfg.batch_size = batch_size
    run_pseudo_gt(clips[:batch_size], tempfile.mkdtemp(), cfg, verbose=False)  # compile
    t0 = time.perf_counter()
    out = run_pseudo_gt(clips, tempfile.mkdtemp(), cfg, verbose=False)
    seconds = time.perf_counter() - t0
    return {"clips": num_clips, "batch_size": batch_size, "seconds": seconds,
            "clips_per_min": 60 * num_clips / seconds, "kept": out["statistics"]["clips_kept"]}


def main(argv=None, json_out: str = "benchmark_pseudo_gt.json") -> None:
    del argv
    from posejax.compilation_cache import enable_compilation_cache

    hw = timing.hardware()
    print("hardware:", ", ".join(f"{k}={v}" for k, v in hw.items()), flush=True)
    enable_compilation_cache(tempfile.mkdtemp())
    sizes = (1, 4, 16) if jax.default_backend() == "cpu" else (1, 4, 16, 64)
    rows = batches(sizes)
    timing.print_table(f"bundle_adjust_batch of 250-frame clips on {jax.device_count()} device(s) "
                       "(median of 3, warm)", rows, ["clips", "batch_s", "vs_one_clip", "clips_per_min"])
    e2e = end_to_end()
    timing.print_table("run_pseudo_gt end to end (shards, selection, dataset)", [e2e],
                       ["clips", "batch_size", "seconds", "clips_per_min", "kept"])
    timing.write_json(json_out, {"hardware": hw, "batches": rows, "end_to_end": e2e})
