"""Building and reading posejax's TFDS datasets without TensorFlow, and NumPy batches from them.

The builders live in the top-level `datasets/` folder (installed as `posejax_datasets`):
`cmu_mocap`, `amass`, `synthetic_sequences`, `synthetic_multiview`, and `pseudo_gt` (written by
`python -m posejax.pseudo_gt`). They write ArrayRecord files
and are read with random access (`builder.as_data_source()`), so TensorFlow is never imported.

Command line (the documented way to build; works offline):

    python -m posejax.data_loading build synthetic_sequences --config=tiny --data_dir=/tmp/tfds
    python -m posejax.data_loading build cmu_mocap --config=default --manual_dir=/path/to/cmu
    python -m posejax.data_loading info synthetic_multiview --config=tiny --data_dir=/tmp/tfds
    python -m posejax.data_loading list

From Python:

    splits = load_dataset("synthetic_multiview", "tiny", data_dir="/tmp/tfds")  # builds if needed
    for batch in batches(splits["train"], batch_size=8, seed=0):
        ...  # dict of stacked NumPy arrays
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
import types
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

import numpy as np

DATASETS = {
    "cmu_mocap": ("posejax_datasets.cmu_mocap", "CmuMocap"),
    "amass": ("posejax_datasets.amass", "Amass"),
    "synthetic_sequences": ("posejax_datasets.synthetic_sequences", "SyntheticSequences"),
    "synthetic_multiview": ("posejax_datasets.synthetic_multiview", "SyntheticMultiview"),
    "pseudo_gt": ("posejax_datasets.pseudo_gt", "PseudoGt"),
}
FILE_FORMAT = "array_record"


def builder_class(name: str):
    """The TFDS builder class of a posejax dataset name (ValueError listing the names if unknown)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; posejax datasets are {sorted(DATASETS)}")
    module, cls = DATASETS[name]
    return getattr(importlib.import_module(module), cls)


def get_builder(name: str, config: Optional[str] = None, data_dir: Optional[str] = None):
    """A builder instance writing/reading ArrayRecord files under `data_dir`.

    Args:
      name: dataset name (see `DATASETS`).
      config: builder config name (None = the builder's default).
      data_dir: root folder of prepared datasets (None = TFDS's default, `~/tensorflow_datasets`
        or $TFDS_DATA_DIR).
    """
    cls = builder_class(name)
    if config is not None and config not in cls.builder_configs:
        raise ValueError(f"dataset {name!r} has no config {config!r}; configs: "
                         f"{sorted(cls.builder_configs)}")
    return cls(config=config, data_dir=data_dir, file_format=FILE_FORMAT)


def build(name: str, config: Optional[str] = None, data_dir: Optional[str] = None,
          manual_dir: Optional[str] = None):
    """Prepares a dataset (a no-op when it is already prepared) and returns its builder.

    Args:
      name, config, data_dir: as `get_builder`.
      manual_dir: folder of the user's files for `cmu_mocap` / `amass`; a pseudo-GT run's
        shards for `pseudo_gt`.
    """
    import tensorflow_datasets as tfds

    builder = get_builder(name, config, data_dir)
    download_config = tfds.download.DownloadConfig(
        manual_dir=os.path.abspath(manual_dir) if manual_dir else None)
    with _spill_files_without_tensorflow():
        builder.download_and_prepare(file_format=FILE_FORMAT, download_config=download_config)
    return builder


@contextlib.contextmanager
def _spill_files_without_tensorflow():
    """Lets TFDS's writer spill to disk with no TensorFlow installed.

    TFDS's example shuffler keeps up to 1 GB of a split in memory, then writes temporary bucket
    files with `tf.io.gfile`, which needs TensorFlow (a 4,000-sequence build failed there). Its
    only file calls are GFile / exists / remove on local paths, so without TensorFlow they are
    served by Python's own file functions for the duration of the build.
    """
    from tensorflow_datasets.core import shuffle

    if importlib.util.find_spec("tensorflow") is not None:
        yield
        return

    class _NeverRaised(Exception):
        pass

    gfile = types.SimpleNamespace(GFile=open, exists=os.path.exists, remove=os.remove)
    original = shuffle.tf
    shuffle.tf = types.SimpleNamespace(io=types.SimpleNamespace(gfile=gfile),
                                       errors=types.SimpleNamespace(ResourceExhaustedError=_NeverRaised))
    try:
        yield
    finally:
        shuffle.tf = original


def load_dataset(name: str, config: Optional[str] = None, data_dir: Optional[str] = None,
                 manual_dir: Optional[str] = None, prepare: bool = True) -> Dict[str, Any]:
    """Random-access splits of a posejax dataset, building it first if needed.

    Args:
      name, config, data_dir, manual_dir: as `build`.
      prepare: build when not prepared yet (else FileNotFoundError).

    Returns:
      {split name: data source}; `len(source)` examples, `source[i]` a dict of NumPy arrays
      (text features come back as bytes).
    """
    builder = get_builder(name, config, data_dir)
    if not builder.is_prepared():
        if not prepare:
            raise FileNotFoundError(f"dataset {name!r} config {builder.builder_config.name!r} is "
                                    f"not prepared under {builder.data_dir}")
        builder = build(name, config, data_dir, manual_dir)
    return dict(builder.as_data_source())


def _stack(examples: Sequence[dict]) -> dict:
    out = {}
    for key in examples[0]:
        values = [e[key] for e in examples]
        if isinstance(values[0], (bytes, str)) or (
                isinstance(values[0], (list, tuple)) and values[0] and isinstance(values[0][0], (bytes, str))):
            out[key] = values  # text stays a list
            continue
        try:
            out[key] = np.stack([np.asarray(v) for v in values])
        except ValueError:
            shapes = sorted({np.shape(v) for v in values})
            raise ValueError(f"cannot batch feature {key!r}: examples have shapes {shapes}; pass "
                             f"a `transform` that crops them to one shape (e.g. `crop_time`)") from None
    return out


def batches(source, batch_size: int, *, shuffle: bool = True, seed: int = 0,
            num_epochs: Optional[int] = 1, drop_remainder: bool = True,
            transform: Optional[Callable[[dict, np.random.Generator], dict]] = None
            ) -> Iterator[dict]:
    """A small NumPy batch iterator over a random-access source (a data source or a list).

    Args:
      source: anything with `len()` and `__getitem__` returning example dicts.
      batch_size: examples per batch.
      shuffle: reshuffle the order every epoch (deterministic from `seed`).
      seed: seed of the order and of `transform`'s generator.
      num_epochs: passes over the data; None = endless.
      drop_remainder: drop the last incomplete batch of an epoch.
      transform: optional `f(example, rng) -> example` applied before batching (e.g. `crop_time`).

    Yields:
      dicts of stacked arrays (batch axis first); text features as lists.
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}")
    n = len(source)
    if n == 0:
        raise ValueError("`source` is empty")
    rng = np.random.default_rng(seed)
    epoch = 0
    while num_epochs is None or epoch < num_epochs:
        order = rng.permutation(n) if shuffle else np.arange(n)
        stop = n - n % batch_size if drop_remainder else n
        for begin in range(0, stop, batch_size):
            examples = [source[int(i)] for i in order[begin:begin + batch_size]]
            if transform is not None:
                examples = [transform(e, rng) for e in examples]
            yield _stack(examples)
        epoch += 1


def crop_time(length: int, time_axes: Dict[str, int]) -> Callable[[dict, np.random.Generator], dict]:
    """A `transform` for `batches` that crops a random window of `length` frames.

    Args:
      length: frames to keep (sequences shorter than this raise ValueError).
      time_axes: feature name -> its time axis, e.g. {"keypoints2d": 0, "pose": 0} for
        synthetic_sequences or {"keypoints2d": 1, "pose": 0} for synthetic_multiview. Features not
        listed are passed through unchanged.
    """
    def transform(example: dict, rng: np.random.Generator) -> dict:
        first = next(iter(time_axes))
        T = np.shape(example[first])[time_axes[first]]
        if T < length:
            raise ValueError(f"crop_time: example has {T} frames, fewer than length={length}")
        start = int(rng.integers(0, T - length + 1))
        out = dict(example)
        for key, axis in time_axes.items():
            out[key] = np.take(example[key], np.arange(start, start + length), axis=axis)
        return out

    return transform


# ----------------------------------------------------------------------------------------------
# Command line.


def _describe(builder) -> str:
    lines = [f"{builder.name} / {builder.builder_config.name} at {builder.data_dir}"]
    if builder.is_prepared():
        for split, info in builder.info.splits.items():
            lines.append(f"  {split}: {info.num_examples} examples")
    else:
        lines.append("  (not prepared)")
    lines.append(str(builder.info.features))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m posejax.data_loading",
                                     description="Build or inspect posejax's TFDS datasets "
                                                 "(ArrayRecord, no TensorFlow).")
    sub = parser.add_subparsers(dest="command", required=True)
    for cmd, help_text in (("build", "prepare a dataset"), ("info", "describe a dataset")):
        p = sub.add_parser(cmd, help=help_text)
        p.add_argument("name", choices=sorted(DATASETS))
        p.add_argument("--config", default=None, help="builder config (default: the builder's)")
        p.add_argument("--data_dir", default=None,
                       help="root of prepared datasets (default: ~/tensorflow_datasets)")
        if cmd == "build":
            p.add_argument("--manual_dir", default=None,
                           help="folder of your CMU / AMASS files (cmu_mocap, amass)")
    sub.add_parser("list", help="list the datasets and their configs")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name in sorted(DATASETS):
            cls = builder_class(name)
            configs = ", ".join(f"{c.name}" for c in cls.BUILDER_CONFIGS)
            print(f"{name}: configs {configs} (default {cls.DEFAULT_BUILDER_CONFIG_NAME})")
        return 0
    if args.command == "build":
        from posejax.compilation_cache import enable_compilation_cache
        enable_compilation_cache()  # retargeting and synthesis kernels compile once per machine
        builder = build(args.name, args.config, args.data_dir, args.manual_dir)
    else:
        builder = get_builder(args.name, args.config, args.data_dir)
    print(_describe(builder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
