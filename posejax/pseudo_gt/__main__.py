"""`python -m posejax.pseudo_gt --dataset=... --out=DIR [--config=...]`: pseudo ground truth.

Fits every keypoint sequence of `--dataset` by whole-video bundle adjustment in batches (one
vmapped solve per batch, data-parallel over the devices), keeps the trustworthy fits, and writes
the TFDS dataset `pseudo_gt` under DIR/tfds with the selection statistics in
DIR/statistics.json. Rerun the same command after an interruption: finished batches are skipped.

    python -m posejax.pseudo_gt --dataset=synthetic_sequences/coco23_motion_split --out=/tmp/pgt
    python -m posejax.pseudo_gt --dataset=/path/to/openpose_folders --image_size=1920,1080 --out=/tmp/pgt
    python -m posejax.pseudo_gt ... --config=posejax/pseudo_gt/config.py:tiny --config.batch_size=4

`--dataset`: a TFDS name (`name` or `name/config`, prepared under --data_dir and built when it
is not), a prepared TFDS folder, or a folder of OpenPose JSON folders / COCO .json / .npz files
(`posejax.pseudo_gt.sources`). Settings: `posejax/pseudo_gt/config.py`.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

PROG = "python -m posejax.pseudo_gt"
_CONFIG_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")


def _parse(argv: Sequence[str]):
    from absl import flags
    from ml_collections import config_flags

    fv = flags.FlagValues()  # local, so main() can run several times in one process (tests)
    flags.DEFINE_string("dataset", None, "TFDS name[/config], prepared TFDS folder, or folder of clips",
                        flag_values=fv)
    flags.DEFINE_string("out", None, "the run's folder (shards, dataset, statistics)", flag_values=fv)
    flags.DEFINE_string("split", "train", "TFDS split to read", flag_values=fv)
    flags.DEFINE_string("data_dir", None, "where TFDS datasets are prepared", flag_values=fv)
    flags.DEFINE_string("image_size", None, "W,H for folder clips whose files do not say", flag_values=fv)
    flags.DEFINE_integer("limit", None, "fit only the first N clips", flag_values=fv)
    flags.DEFINE_integer("max_batches", None, "stop after N batches (resume later)", flag_values=fv)
    flags.DEFINE_bool("compilation_cache", True, "use JAX's persistent compilation cache", flag_values=fv)
    try:
        # The --config.* overrides are applied here (an unknown field fails now).
        config_flags.DEFINE_config_file("config", _CONFIG_FILE, "settings file[:variant]", flag_values=fv,
                                        sys_argv=[PROG] + list(argv))
        rest = fv([PROG] + list(argv))
    except (flags.Error, AttributeError, KeyError, ValueError, TypeError) as e:
        raise SystemExit(f"{PROG}: error: {e} (see posejax/pseudo_gt/config.py)")
    if len(rest) > 1:
        raise SystemExit(f"{PROG}: error: unexpected arguments {rest[1:]} (flags are --name=value)")
    for name in ("dataset", "out"):
        if not fv[name].value:
            raise SystemExit(f"{PROG}: error: --{name} is required")
    return fv


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Runs the command with `argv` (default: the process's); returns `run_pseudo_gt`'s summary."""
    fv = _parse(sys.argv[1:] if argv is None else argv)
    from posejax.training.mesh import initialize_distributed

    initialize_distributed()  # multi-host: before any other JAX call (a no-op on one host)
    if fv.compilation_cache:
        from posejax.compilation_cache import enable_compilation_cache

        enable_compilation_cache()
    from posejax.pseudo_gt.run import run_pseudo_gt
    from posejax.pseudo_gt.sources import read_clips

    size = None
    if fv.image_size:
        try:
            size = tuple(int(v) for v in fv.image_size.split(","))
            assert len(size) == 2
        except (ValueError, AssertionError):
            raise SystemExit(f"{PROG}: error: --image_size must be W,H, got {fv.image_size!r}")
    try:
        clips = read_clips(fv.dataset, split=fv.split, data_dir=fv.data_dir, image_size=size, limit=fv.limit)
        print(f"[pseudo_gt] {len(clips)} clips from {fv.dataset} ({fv.split})", flush=True)
        return run_pseudo_gt(clips, fv.out, fv.config, max_batches=fv.max_batches)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"{PROG}: error: {e}")


if __name__ == "__main__":
    main()
