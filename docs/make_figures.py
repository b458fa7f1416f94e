"""Regenerates the data-layer figure of the README: `python docs/make_figures.py`.

docs/figures/synthetic_sequence.png: one synthetic monocular sequence (embedded procedural motion,
default camera and observation model), noisy COCO-23 detections at six frames over the 1000 x 1000
image, with the sampled static camera in the title.
"""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from posejax.body import load_body_model
from posejax.synth.procedural import procedural_clips
from posejax.synth.sequences import SequenceConfig, synthesize_sequence
from posejax.viz import draw_skeleton_2d, save_figure

HERE = os.path.dirname(os.path.abspath(__file__))


def synthetic_sequence_figure(seed: int = 3) -> Figure:
    model = load_body_model("open")
    clips = procedural_clips(num_clips=8, fps=10.0, seed=0)
    config = SequenceConfig()
    seq = synthesize_sequence(seed, clips, model, config)
    pitch, roll, height, hfov = np.asarray(seq["camera"])
    frames = np.linspace(0, len(seq["keypoints2d"]) - 1, 6).astype(int)
    width, height_px = config.image_size
    fig = Figure(figsize=(13, 2.9))
    for i, t in enumerate(frames):
        ax = fig.add_subplot(1, len(frames), i + 1)
        kp = np.concatenate([seq["keypoints2d"][t], seq["confidence"][t][:, None]], axis=-1)
        draw_skeleton_2d(ax, kp, config.observation)
        ax.set_xlim(0, width)
        ax.set_ylim(height_px, 0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"frame {t} (clip {seq['clip_id'][t]})", fontsize=9)
    fig.suptitle(f"synthetic sequence, {len(seq['keypoints2d'])} frames at 10 fps; camera: pitch "
                 f"{np.degrees(pitch):.0f} deg, roll {np.degrees(roll):.0f} deg, height {height:.1f} m, "
                 f"FoV {np.degrees(hfov):.0f} deg; subject {seq['height']:.2f} m", fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.8, wspace=0.05)
    return fig


if __name__ == "__main__":
    print("wrote", save_figure(synthetic_sequence_figure(), os.path.join(HERE, "figures", "synthetic_sequence.png"), dpi=90))
