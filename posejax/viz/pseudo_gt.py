"""Figure of a pseudo-ground-truth run's selection (matplotlib Figure built without pyplot, as in
`posejax.viz.body`)."""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
from matplotlib.figure import Figure


def plot_selection(records: Sequence[Dict[str, np.ndarray]], max_E_norm: Optional[float] = None) -> Figure:
    """Each clip's E_norm against its selected-frame fraction and, with ground truth, its PA-MPJPE;
    kept clips in blue, discarded ones as red crosses.

    Args:
      records: the run's records (`posejax.pseudo_gt.read_records`).
      max_E_norm: the E_norm threshold, drawn as a line when finite.
    """
    if not len(records):
        raise ValueError("no records to plot")
    e_norm = np.array([float(r["E_norm"]) for r in records])
    kept = np.array([bool(r["selected"]) for r in records])
    frames = np.array([float(np.mean(r["ba_inlier"])) for r in records])
    truth = np.array([bool(r["has_truth"]) for r in records])
    panels = [("frames counted inliers by bundle adjustment", frames)]
    if truth.any():
        panels.append(("PA-MPJPE against the truth (mm)", np.array([float(r["pa_mpjpe_mm"]) for r in records])))
    fig = Figure(figsize=(5 * len(panels), 4))
    for i, (label, values) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.scatter(e_norm[kept], values[kept], c="tab:blue", s=18, label=f"kept ({kept.sum()})")
        ax.scatter(e_norm[~kept], values[~kept], c="tab:red", marker="x", s=22,
                   label=f"discarded ({(~kept).sum()})")
        if max_E_norm is not None and np.isfinite(max_E_norm):
            ax.axvline(max_E_norm, color="0.4", ls="--", lw=1, label="E_norm threshold")
        ax.set_xscale("log")
        ax.set_xlabel("E_norm (energy / trajectory length in m)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(f"pseudo-ground-truth selection: {kept.sum()} of {len(records)} clips kept")
    fig.tight_layout()
    return fig
