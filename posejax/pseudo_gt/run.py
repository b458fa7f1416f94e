"""Bundle adjustment over a collection of clips, in resumable batches (Arnab et al., section 4).

`run_pseudo_gt(clips, out_dir, config)`:
  1. plans batches: clips of one layout and number of detection slots, padded to the same
     multiple of `config.length_multiple` frames, `config.batch_size` at a time, in a fixed order
     (`plan.json` in `out_dir`; a rerun with other clips or settings is refused);
  2. solves each batch with `bundle_adjust_batch` (one vmapped L-BFGS, data-parallel over the
     local devices); with several processes, process i takes batches i, i + n, ...;
  3. writes each batch's records to `shards/batch_<k>.npz` (written to a temporary name and
     renamed, so an interrupted run never leaves a partial shard); a rerun skips the batches whose
     shard exists, so a killed run resumes where it stopped and produces the same dataset;
  4. when every shard exists, selects (`selection.select` with `config.selection`, saved to
     `out_dir/selection.json`) and writes the TFDS dataset `pseudo_gt` (ArrayRecord,
     `posejax_datasets.pseudo_gt`) under `out_dir/tfds` and the selection statistics to
     `out_dir/statistics.json`. The shards hold the fits before selection: a rerun with other
     thresholds solves nothing and rewrites the dataset.

A record (one clip) holds: `clip_id`, `layout` (the input's), `fit_layout`, `image_size` (2,),
`keypoints2d` (T, K, 2) and `confidence` (T, K): the fitted person's detections (multi-person
input: the detection each frame was matched to), `betas` (10,), `pose` (T, 24, 3) axis-angle
(joint 0 relative to the camera), `camera_scale` (T,) px/m and `camera_translation` (T, 2) px
(weak perspective), `joints3d` (T, 24, 3) metres (body frame, zero translation), `keypoints3d`
(T, K', 3) and `keypoints2d_fit` (T, K', 2) in `fit_layout`, `ba_inlier` (T,), `reprojection_px`
(T,) (`median_reprojection_px`), `E_norm`, `energy`, `trajectory_length`, `iterations`, and
with ground truth `truth_joints3d` (T, 24, 3), `pa_mpjpe_mm` (clip mean) and
`init_pa_mpjpe_mm` (the per-frame initialisation's); `has_truth` says which. Selection adds
`frame_selected` (T,) and `selected`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import warnings
from typing import Dict, List, Optional, Sequence

import jax
import ml_collections
import numpy as np

from posejax import fast_compile, metrics
from posejax.body import kinematics
from posejax.body.layouts import convert_keypoints
from posejax.body.loading import load_body_model
from posejax.fitting.bundle_adjustment import BAResult, bundle_adjust_batch
from posejax.pseudo_gt.selection import format_statistics, select, statistics
from posejax.pseudo_gt.sources import Clip

__all__ = ["Batch", "plan_batches", "run_pseudo_gt", "read_records", "write_dataset"]

_joints = fast_compile.jit(kinematics.joints)


@dataclasses.dataclass(frozen=True)
class Batch:
    """Clips solved together: indices into the clip list, and the padded length."""

    index: int
    clips: tuple
    length: int

    @property
    def name(self) -> str:
        return f"batch_{self.index:05d}"


def plan_batches(clips: Sequence[Clip], batch_size: int, length_multiple: int) -> List[Batch]:
    """Batches of clips that share a layout, detection slots and padded length, in a fixed order
    (shortest lengths first, then source order)."""
    if batch_size < 1 or length_multiple < 1:
        raise ValueError(f"`batch_size` and `length_multiple` must be positive, got {batch_size}, "
                         f"{length_multiple}")
    groups: Dict[tuple, List[int]] = {}
    for i, clip in enumerate(clips):
        length = -(-clip.num_frames // length_multiple) * length_multiple
        groups.setdefault((length, clip.layout, clip.num_slots), []).append(i)
    batches = []
    for (length, _, _), members in sorted(groups.items()):
        for start in range(0, len(members), batch_size):
            batches.append(Batch(len(batches), tuple(members[start:start + batch_size]), length))
    return batches


def _fingerprint(clips: Sequence[Clip], config: ml_collections.ConfigDict) -> str:
    """What a resumed run must share with the interrupted one: the clips and the fitting settings
    (not the selection, which is applied after the fits)."""
    fitting = {k: v for k, v in config.to_dict().items() if k != "selection"}
    h = hashlib.sha256(json.dumps(fitting, sort_keys=True, default=str).encode())
    for clip in clips:
        h.update(clip.clip_id.encode())
        h.update(np.ascontiguousarray(clip.keypoints).tobytes())
    return h.hexdigest()


def _check_plan(out_dir: str, clips: Sequence[Clip], config, batches: List[Batch]) -> None:
    path = os.path.join(out_dir, "plan.json")
    plan = {"fingerprint": _fingerprint(clips, config), "clips": [c.clip_id for c in clips],
            "batches": [list(b.clips) for b in batches], "lengths": [b.length for b in batches]}
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        if old.get("fingerprint") != plan["fingerprint"]:
            raise ValueError(f"{out_dir} holds a run over other clips or settings; resume it with the same "
                             "dataset and config, or write to a new --out folder")
        return
    _write_json(path, plan)


def _atomic_write(path: str, write) -> None:
    """`write(temporary path)`, then a rename: readers never see a partly written file."""
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def _write_json(path: str, value) -> None:
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(value, f, indent=1)

    _atomic_write(path, write)


def _person_detections(clip: Clip, result: BAResult) -> np.ndarray:
    """(T, K, 3) the detections the fit explained (multi-person: the matched slot per frame)."""
    if not clip.multi_person:
        return clip.keypoints
    t = clip.num_frames
    slot = np.maximum(result.detection, 0)
    out = clip.keypoints[np.arange(t), slot].copy()
    out[result.detection < 0] = (np.nan, np.nan, 0.0)
    return out


def median_reprojection_px(fitted: np.ndarray, detections: np.ndarray) -> np.ndarray:
    """(T,) per frame, the median distance in pixels between the fitted keypoints (T, K, 2) and
    the present detected ones (T, K, 3); NaN for frames without any. The median, not the mean:
    a detector's few wild keypoints per frame (which the robust energy already ignores) would
    otherwise decide whether a well-fitted frame is kept."""
    dist = np.linalg.norm(fitted - detections[..., :2], axis=-1)
    present = (detections[..., 2] > 0) & np.isfinite(dist)
    with warnings.catch_warnings():  # frames without detections: NaN, as documented
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.where(present, dist, np.nan), axis=-1).astype(np.float32)


def _record(clip: Clip, result: BAResult, model) -> Dict[str, np.ndarray]:
    person = _person_detections(clip, result)
    in_fit = person if clip.layout == result.layout else np.asarray(
        convert_keypoints(person, clip.layout, result.layout)[0], np.float32)
    rec = {
        "clip_id": np.str_(clip.clip_id), "layout": np.str_(clip.layout), "fit_layout": np.str_(result.layout),
        "image_size": np.asarray(clip.image_size, np.int32),
        "keypoints2d": person[..., :2].astype(np.float32), "confidence": person[..., 2].astype(np.float32),
        "betas": result.betas.astype(np.float32), "pose": result.pose.astype(np.float32),
        "camera_scale": np.asarray(result.cameras.scale, np.float32),
        "camera_translation": np.asarray(result.cameras.translation, np.float32),
        "joints3d": result.joints.astype(np.float32), "keypoints3d": result.keypoints3d.astype(np.float32),
        "keypoints2d_fit": result.keypoints2d.astype(np.float32), "ba_inlier": result.inlier.astype(bool),
        "reprojection_px": median_reprojection_px(result.keypoints2d, in_fit),
        "E_norm": np.float32(result.E_norm), "energy": np.float32(result.energies["total"]),
        "trajectory_length": np.float32(result.trajectory_length),
        "iterations": np.int32(result.solver["iterations"]),
        "has_truth": np.bool_(clip.truth_joints is not None),
        "truth_joints3d": np.zeros((0, 24, 3), np.float32), "pa_mpjpe_mm": np.float32(np.nan),
        "init_pa_mpjpe_mm": np.float32(np.nan),
    }
    if clip.truth_joints is not None:
        init = np.asarray(_joints(model, result.init.pose, result.init.betas))
        rec["truth_joints3d"] = clip.truth_joints.astype(np.float32)
        rec["pa_mpjpe_mm"] = np.float32(metrics.pa_mpjpe(result.joints, clip.truth_joints))
        rec["init_pa_mpjpe_mm"] = np.float32(metrics.pa_mpjpe(init, clip.truth_joints))
    return rec


def _write_shard(path: str, records: List[Dict[str, np.ndarray]]) -> None:
    arrays = {f"{j}.{k}": v for j, rec in enumerate(records) for k, v in rec.items()}

    def write(tmp):
        with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to the temporary name
            np.savez(f, **arrays)

    _atomic_write(path, write)


def read_records(out_dir: str, selection: Optional[ml_collections.ConfigDict] = None
                 ) -> List[Dict[str, np.ndarray]]:
    """Every record of the finished shards of a run (in batch order), selected by `selection`
    (`max_E_norm`, `min_inlier_fraction`, `tau_R_px`) when given."""
    folder = os.path.join(out_dir, "shards")
    records = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not (name.startswith("batch_") and name.endswith(".npz")):
            continue  # temporary files of an interrupted write
        with np.load(os.path.join(folder, name)) as f:
            by_clip: Dict[int, Dict[str, np.ndarray]] = {}
            for key in f.files:
                j, field = key.split(".", 1)
                by_clip.setdefault(int(j), {})[field] = f[key]
        records.extend(by_clip[j] for j in sorted(by_clip))
    return [select(r, selection) for r in records] if selection is not None else records


def write_dataset(out_dir: str, selection: ml_collections.ConfigDict) -> str:
    """Writes the TFDS dataset `pseudo_gt` (splits "train": kept clips, "rejected": the others)
    from the shards under `out_dir/tfds` (rewritten when the selection changed); returns that
    folder."""
    from posejax.data_loading import build

    data_dir = os.path.join(out_dir, "tfds")
    path = os.path.join(out_dir, "selection.json")
    wanted = {k: float(v) for k, v in selection.to_dict().items()}
    if os.path.exists(path):
        with open(path) as f:
            if json.load(f) != wanted:
                shutil.rmtree(data_dir, ignore_errors=True)
    _write_json(path, wanted)
    build("pseudo_gt", data_dir=data_dir, manual_dir=os.path.join(out_dir, "shards"))
    return data_dir


def _log(message: str) -> None:
    print(f"[pseudo_gt] {message}", flush=True)


def run_pseudo_gt(clips: Sequence[Clip], out_dir: str, config: ml_collections.ConfigDict, *,
                  devices: Optional[Sequence] = None, process_index: Optional[int] = None,
                  process_count: Optional[int] = None, max_batches: Optional[int] = None,
                  verbose: bool = True) -> Dict[str, object]:
    """Fits every clip, writes the shards, and (when all exist) the dataset and statistics.

    Args:
      clips: the clips (`sources.read_clips`).
      out_dir: the run's folder (created; resumed when it holds a run of the same clips and config).
      config: `posejax.pseudo_gt.config.get_config()` (batch_size, length_multiple, ba, selection).
      devices: devices of the data-parallel solve (default: this process's local devices).
      process_index, process_count: this process's share (default: JAX's); batches are dealt
        round-robin, each process writes its own shards.
      max_batches: solve at most this many batches, then stop (a partial run, resumable).
      verbose: progress lines.

    Returns:
      {"batches": solved now, "skipped": already done, "complete": every shard exists,
       "statistics": dict or None, "dataset_dir": str or None, "clips_per_minute": float}
    """
    if not clips:
        raise ValueError("no clips to fit")
    if len({c.clip_id for c in clips}) != len(clips):
        raise ValueError("clip ids must be unique")
    if config.ba.get("camera", "weak") != "weak":
        raise ValueError("pseudo ground truth stores the paper's weak-perspective cameras: "
                         "`ba.camera` must be 'weak'")
    process_index = jax.process_index() if process_index is None else process_index
    process_count = jax.process_count() if process_count is None else process_count
    batches = plan_batches(clips, int(config.batch_size), int(config.length_multiple))
    os.makedirs(os.path.join(out_dir, "shards"), exist_ok=True)
    _check_plan(out_dir, clips, config, batches)
    shard = lambda b: os.path.join(out_dir, "shards", b.name + ".npz")  # noqa: E731
    mine = batches[process_index::process_count]
    todo = [b for b in mine if not os.path.exists(shard(b))]
    if verbose:
        _log(f"{len(clips)} clips in {len(batches)} batches; this process: {len(mine)}, "
             f"{len(mine) - len(todo)} already done")
    model = load_body_model(config.ba_body_model)
    ba_config = config.ba.to_dict()
    start, fitted, solved = time.perf_counter(), 0, 0
    for b in todo[:max_batches]:
        members = [clips[i] for i in b.clips]
        t0 = time.perf_counter()
        results = bundle_adjust_batch([c.keypoints for c in members], layout=members[0].layout,
                                      image_size=[c.image_size for c in members], body_model=model,
                                      config=ba_config, length=b.length, devices=devices)
        _write_shard(shard(b), [_record(c, r, model) for c, r in zip(members, results)])
        solved += 1
        fitted += len(members)
        if verbose:
            elapsed = time.perf_counter() - start
            rate = fitted / elapsed * 60
            left = sum(len(x.clips) for x in todo[solved:max_batches])
            _log(f"{b.name}: {len(members)} clips x {b.length} frames in {time.perf_counter() - t0:.1f} s; "
                 f"{solved}/{len(todo[:max_batches])} batches, {rate:.1f} clips/min, "
                 f"ETA {left / max(rate, 1e-9):.1f} min")
    seconds = time.perf_counter() - start
    complete = all(os.path.exists(shard(b)) for b in batches)
    out = {"batches": solved, "skipped": len(mine) - len(todo), "complete": complete, "statistics": None,
           "dataset_dir": None, "clips_per_minute": fitted / seconds * 60 if fitted else float("nan")}
    if complete and process_index == 0:
        stats = statistics(read_records(out_dir, config.selection))
        _write_json(os.path.join(out_dir, "statistics.json"), stats)
        out["statistics"] = stats
        out["dataset_dir"] = write_dataset(out_dir, config.selection)
        if verbose:
            _log(format_statistics(stats))
            _log(f"dataset: {out['dataset_dir']} (posejax.data_loading.load_dataset('pseudo_gt', "
                 f"data_dir=...))")
    elif verbose and not complete:
        _log("stopped before the last batch; run the same command again to resume")
    return out
