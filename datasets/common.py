"""Helpers shared by the posejax TFDS builders: paths, seeds, features, motion sources, progress.

Everything here works without TensorFlow: the builders write ArrayRecord files
(`file_format="array_record"`) and are read back with `builder.as_data_source()`.
"""

from __future__ import annotations

import os
import time
from typing import Iterable, Iterator, Optional, Sequence, TypeVar

import numpy as np
import tensorflow_datasets as tfds

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILE_FORMAT = "array_record"
NUM_BETAS = 10

T = TypeVar("T")


def shared_data_dir(*parts: str) -> Optional[str]:
    """Path inside ../shared/data beside the repository, or None when it does not exist."""
    path = os.path.normpath(os.path.join(REPO_ROOT, "..", "shared", "data", *parts))
    return path if os.path.exists(path) else None


def log(builder: str, message: str) -> None:
    """One console line prefixed with the builder's name (always flushed: builds run long)."""
    print(f"[{builder}] {message}", flush=True)


def progress(items: Iterable[T], total: int, builder: str, what: str,
             every_s: float = 20.0) -> Iterator[T]:
    """Yields `items`, printing a progress line (count, rate, ETA) about every `every_s` seconds.

    TFDS draws its own tqdm bar over the examples; these plain lines also show in log files and
    cover the slow parts TFDS cannot see (motion retargeting, long synthetic builds).
    """
    start = last = time.time()
    n = 0
    for n, item in enumerate(items, 1):
        yield item
        now = time.time()
        if now - last >= every_s or n == total:
            rate = n / max(now - start, 1e-9)
            eta = (total - n) / rate if rate > 0 else float("inf")
            log(builder, f"{what}: {n}/{total} ({rate:.1f}/s, ETA {eta:.0f} s)")
            last = now


def example_seed(seed: int, split: str, index: int) -> int:
    """Seed of example `index` of `split`: independent streams per (seed, split, index).

    `stream_examples(config, seed)` and the builders use the same derivation, so the streamed
    example i of the train split is identical to the stored one.
    """
    split_id = {"train": 0, "validation": 1, "test": 2}.get(split, 3)
    # 31 bits: a valid int32 seed for jax.random.key without 64-bit mode.
    return int(np.random.SeedSequence([int(seed), split_id, int(index)]).generate_state(1)[0] & 0x7FFFFFFF)


def tensor(shape: Sequence[Optional[int]], dtype=np.float32) -> tfds.features.Tensor:
    """A tensor feature (None = variable length along that axis); zlib-compressed on disk."""
    return tfds.features.Tensor(shape=tuple(shape), dtype=dtype, encoding="zlib")


def fixed_betas(betas) -> np.ndarray:
    """Betas cut or zero-padded to NUM_BETAS (AMASS SMPL-H files carry 16)."""
    betas = np.asarray(betas, np.float32).reshape(-1)
    out = np.zeros(NUM_BETAS, np.float32)
    out[: min(NUM_BETAS, betas.shape[0])] = betas[:NUM_BETAS]
    return out


def load_motion(builder: str, source: str, fps: float, num_procedural_clips: int, seed: int,
                data_dir: Optional[str] = None, body_model: str = "open"):
    """The motion clips a synthetic builder draws from, and a line saying which source it used.

    Args:
      builder: builder name, for the console line.
      source: "procedural" (the embedded procedural motion, `num_procedural_clips` clips made from
        `seed`), or any source of `posejax.synth.motion.load_motion_library` ("auto" = retargeted
        CMU clips when ../shared/data/cmu_mocap or `data_dir` exists, else procedural; "cmu";
        "amass:<folder>").
      fps: frame rate of the clips.
      num_procedural_clips: clips for the procedural source.
      seed: seed of the procedural motion.
      data_dir: folder of CMU files for "auto" / "cmu".
      body_model: body model the motion is retargeted to.

    Returns:
      list of MotionClip.
    """
    if source == "procedural":
        from posejax.synth.procedural import procedural_clips

        clips = procedural_clips(num_procedural_clips, fps, seed, body_model=body_model)
        label = "embedded procedural motion"
    else:
        from posejax.synth.motion import load_motion_library

        clips = load_motion_library(source=source, fps=fps, body_model=body_model,
                                    data_dir=data_dir, verbose=True)
        kinds = sorted({c.source for c in clips})
        label = ("embedded procedural motion (no real motion found)" if kinds == ["procedural"]
                 else f"real motion ({', '.join(kinds)})")
    if not clips:
        raise ValueError(f"{builder}: motion source {source!r} gave no clips")
    frames = sum(c.num_frames for c in clips)
    log(builder, f"motion source: {label} [{source!r}]: {len(clips)} clips, {frames} frames "
                 f"at {fps:g} fps")
    return clips


def to_example(values: dict, features: dict) -> dict:
    """Keeps the featured keys of `values` as NumPy arrays of the feature dtypes.

    Raises:
      ValueError: a featured key is missing from `values` (names the key and what is there).
    """
    out = {}
    for name, feature in features.items():
        if name not in values:
            raise ValueError(f"example is missing feature {name!r}; it has {sorted(values)}")
        value = values[name]
        if isinstance(feature, tfds.features.Tensor):
            value = np.asarray(value, dtype=feature.np_dtype)
        out[name] = value
    return out
