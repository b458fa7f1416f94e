"""Speed of synthetic monocular sequence generation (pooled-regressor training data).

`python -m posejax.benchmark synth`. For each observation kind, `synthesize_sequences` runs with
`batch_size` sequences (~640 frames each) per jit call:
  * compile_s: the first batch (planning + jit compile + run), reported separately;
  * frames_per_s: steady state, end to end (numpy planning of clips/camera/placement, the jit
    kernel: FK, keypoints, re-grounding, projection, z-buffer, observation model, and unpacking
    to per-sequence numpy dicts), over `repeats` further batches;
  * kernel_frames_per_s / plan_frames_per_s: the two halves alone.

Target (issue acceptance): keypoint-observation synthesis >= 20,000 frames/s on the 2-core CPU.
At that rate the paper's largest set (70k sequences x ~700 frames = 49M frames) takes ~41 min, or
it can be streamed during training.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from posejax.benchmark import timing
from posejax.body.loading import load_body_model
from posejax.synth import sequences as sq
from posejax.synth.camera_sampling import as_numpy_rng


def _clips(fps: float = 10.0):
    try:
        from posejax.synth.procedural import procedural_clips
        clips = procedural_clips(16, fps, 0)
        print(f"motion: {len(clips)} procedural clips, {sum(c.num_frames for c in clips)} frames at {fps:g} fps")
        return clips
    except ImportError:  # pragma: no cover - before the procedural motion module existed
        from posejax.body.poses import named_pose
        from posejax.synth.motion import MotionClip
        frames = 80
        t = np.arange(frames) / fps
        clips = []
        for i, name in enumerate(("walk", "a-pose", "cheer", "t-pose")):
            pose = np.repeat(named_pose(name)[None], frames, 0)
            pose[:, 1, 0] += 0.4 * np.sin(2 * np.pi * t)
            transl = np.stack([np.zeros(frames), np.full(frames, 0.95), 0.5 * i * t], -1)
            clips.append(MotionClip(f"bench_{name}", "procedural", fps, pose, transl, np.zeros(10)))
        print(f"motion: {len(clips)} named-pose test clips")
        return clips


def run(batch_size: int = 32, repeats: int = 3, model_name: str = "open") -> list[dict]:
    """Times every observation kind; returns one row per case."""
    model = load_body_model(model_name)
    clips = _clips()
    cases = [
        ("coco23 (default: z-buffer self-occlusion)", sq.SequenceConfig()),
        ("coco23, no self-occlusion", sq.SequenceConfig(self_occlusion=False)),
        ("smpl24, no self-occlusion", sq.SequenceConfig(observation="smpl24", self_occlusion=False)),
        ("body25b (default)", sq.SequenceConfig(observation="body25b")),
        ("surface178", sq.SequenceConfig(observation="surface178")),
    ]
    rows = []
    for name, config in cases:
        start = time.perf_counter()
        list(sq.synthesize_sequences(batch_size, 0, clips, model, config, batch_size=batch_size))
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        seqs = list(sq.synthesize_sequences(batch_size * repeats, 1, clips, model, config,
                                            batch_size=batch_size))
        elapsed = time.perf_counter() - start
        frames = sum(s["pose"].shape[0] for s in seqs)
        # The halves alone, on one batch.
        keys = [jax.random.fold_in(jax.random.key(2), i) for i in range(batch_size)]
        resampled = sq._resample_all(clips, config.fps)
        start = time.perf_counter()
        plans = [sq._plan(as_numpy_rng(k), resampled, model, config) for k in keys]
        plan_s = time.perf_counter() - start
        data = sq._model_data(model, config)
        sq._synthesize_batch(keys, plans, model, config, data)  # same padded shape: compile
        start = time.perf_counter()
        sq._synthesize_batch(keys, plans, model, config, data)
        kernel_s = time.perf_counter() - start
        batch_frames = sum(p.pose.shape[0] for p in plans)
        rows.append({"case": name, "model": model_name, "batch": batch_size,
                     "frames_per_s": frames / elapsed,
                     "kernel_frames_per_s": batch_frames / kernel_s,
                     "plan_frames_per_s": batch_frames / plan_s,
                     "compile_s": compile_s, "frames": frames})
    return rows


def main(argv=None, json_out: str = "benchmark_synth.json") -> None:
    del argv
    hw = timing.hardware()
    print("hardware:", ", ".join(f"{k}={v}" for k, v in hw.items()))
    rows = run()
    timing.print_table(
        "synthetic sequences (steady state after a first, compiling batch; frames at 10 fps)", rows,
        ["case", "batch", "frames_per_s", "kernel_frames_per_s", "plan_frames_per_s", "compile_s"])
    timing.write_json(json_out, {"hardware": hw, "rows": rows})


if __name__ == "__main__":
    main()
