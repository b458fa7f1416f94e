"""Which fits become pseudo ground truth (Arnab et al., section 4), and the statistics of a run.

A clip is kept when its trajectory-normalised energy E_norm is at most `max_E_norm` and at least
`min_inlier_fraction` of its frames are kept frames; a frame is kept when bundle adjustment
counted it an inlier and its reprojection error (the median distance of the fitted keypoints to
the detected ones, `run.median_reprojection_px`) is at most `tau_R_px`. A discarded clip keeps
no frame.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import ml_collections
import numpy as np

__all__ = ["select", "statistics", "format_statistics"]


def select(record: Dict[str, np.ndarray], selection: ml_collections.ConfigDict) -> Dict[str, np.ndarray]:
    """The record with `frame_selected` (T,) and `selected` () set by the thresholds.

    Args:
      record: one clip's fit (`posejax.pseudo_gt.run` record: `ba_inlier`, `reprojection_px`,
        `E_norm`).
      selection: `max_E_norm`, `min_inlier_fraction`, `tau_R_px`.
    """
    inlier = np.asarray(record["ba_inlier"], bool)
    reproj = np.asarray(record["reprojection_px"], np.float32)
    frames = inlier & np.isfinite(reproj) & (reproj <= float(selection.tau_R_px))
    keep = (float(record["E_norm"]) <= float(selection.max_E_norm)
            and float(np.mean(frames)) >= float(selection.min_inlier_fraction))
    return {**record, "frame_selected": frames & keep, "selected": np.bool_(keep)}


def _quantiles(values: Sequence[float]) -> List[float]:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    return [float(v) for v in np.quantile(values, [0.1, 0.5, 0.9])] if values.size else [float("nan")] * 3


def _mean(values) -> float:
    values = np.asarray(list(values), np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def statistics(records: Sequence[Dict[str, np.ndarray]]) -> Dict[str, float]:
    """Counts and distributions of a selected run (the analogue of the paper's Table 3).

    Returns a flat dict: clips and frames in and kept, the kept fractions, E_norm and per-frame
    reprojection error quantiles (10/50/90%), and, for clips with ground truth, the mean PA-MPJPE
    (mm, 24 SMPL joints, per frame then per clip) of the kept and the discarded clips and of the
    per-frame initialisation; None where there is nothing to average.
    """
    kept = [r for r in records if bool(r["selected"])]
    frames = sum(int(r["ba_inlier"].shape[0]) for r in records)
    kept_frames = sum(int(np.sum(r["frame_selected"])) for r in kept)
    reproj = np.concatenate([r["reprojection_px"] for r in records]) if records else np.zeros(0)
    stats = {
        "clips": len(records), "clips_kept": len(kept),
        "clips_kept_fraction": len(kept) / max(len(records), 1),
        "frames": frames, "frames_kept": kept_frames, "frames_kept_fraction": kept_frames / max(frames, 1),
        "ba_inlier_fraction": _mean(np.mean(r["ba_inlier"]) for r in records),
    }
    for name, q in zip(("p10", "p50", "p90"), _quantiles([float(r["E_norm"]) for r in records])):
        stats[f"E_norm_{name}"] = q
    for name, q in zip(("p10", "p50", "p90"), _quantiles(reproj)):
        stats[f"reprojection_px_{name}"] = q
    with_truth = [r for r in records if bool(r["has_truth"])]
    if with_truth:
        stats["clips_with_truth"] = len(with_truth)
        stats["pa_mpjpe_mm_all"] = _mean(r["pa_mpjpe_mm"] for r in with_truth)
        stats["pa_mpjpe_mm_kept"] = _mean(r["pa_mpjpe_mm"] for r in with_truth if bool(r["selected"]))
        stats["pa_mpjpe_mm_discarded"] = _mean(r["pa_mpjpe_mm"] for r in with_truth if not bool(r["selected"]))
        stats["pa_mpjpe_mm_init"] = _mean(r["init_pa_mpjpe_mm"] for r in with_truth)
    # None, not NaN, for what has no value (no kept or no discarded clip): JSON has no NaN.
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in stats.items()}


def format_statistics(stats: Dict[str, float]) -> str:
    """A few lines of text for the console and the README."""
    def f(key, spec=".1f"):
        return "n/a" if stats.get(key) is None else format(stats[key], spec)

    lines = [f"clips kept: {stats['clips_kept']}/{stats['clips']} ({100 * stats['clips_kept_fraction']:.1f}%), "
             f"frames kept: {stats['frames_kept']}/{stats['frames']} ({100 * stats['frames_kept_fraction']:.1f}%)",
             f"E_norm 10/50/90%: {f('E_norm_p10', '.4g')} / {f('E_norm_p50', '.4g')} / {f('E_norm_p90', '.4g')}; "
             f"reprojection px 10/50/90%: {f('reprojection_px_p10')} / {f('reprojection_px_p50')} / "
             f"{f('reprojection_px_p90')}"]
    if "pa_mpjpe_mm_all" in stats:
        lines.append(f"PA-MPJPE (mm, {stats['clips_with_truth']} clips with ground truth): all "
                     f"{f('pa_mpjpe_mm_all')}, kept {f('pa_mpjpe_mm_kept')}, discarded "
                     f"{f('pa_mpjpe_mm_discarded')}; per-frame initialisation {f('pa_mpjpe_mm_init')}")
    return "\n".join(lines)
