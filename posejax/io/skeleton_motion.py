"""SkeletonMotion: world positions of the named points of a source (mocap) skeleton over time.

Readers of skeleton-based motion files (ASF/AMC, BVH) return this one structure, so that later
stages (retargeting to SMPL, drawing, datasets) need not know the file format.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Tuple

import numpy as np


# eq=False: equality of numpy fields is ambiguous; instances compare (and hash) by identity.
@dataclasses.dataclass(frozen=True, eq=False)
class SkeletonMotion:
    """Motion of a source skeleton as world positions of named points.

    Attributes:
      name: clip name, e.g. "cmu_02_01".
      point_names: (P,) unique names. ASF/AMC: "root" + one per bone, the bone's END point;
        BVH: every joint's origin + end sites named "<parent>_end".
      parents: (P,) parent index of each point (-1 for a root), for drawing.
      fps: frames per second (> 0).
      positions: (T, P, 3) float32 metres, the file's world frame (CMU files are Y up),
        right-handed.
    """

    name: str
    point_names: Tuple[str, ...]
    parents: Tuple[int, ...]
    fps: float
    positions: np.ndarray

    def __post_init__(self):
        # Normalise containers (lists -> tuples, arrays -> float32) on the frozen instance.
        if not isinstance(self.name, str):
            raise ValueError(f"`name` must be a str, got {type(self.name).__name__}")
        names = tuple(self.point_names)
        if not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"`point_names` must be non-empty strings, got {names!r}")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"`point_names` must be unique, got duplicates {dup}")
        try:
            parents = tuple(int(p) for p in self.parents)
        except (TypeError, ValueError) as e:
            raise ValueError(f"`parents` must be integers, got {self.parents!r}") from e
        num = len(names)
        if len(parents) != num:
            raise ValueError(f"`parents` must have one entry per point ({num}), got {len(parents)}")
        for i, p in enumerate(parents):
            if p != -1 and not 0 <= p < num or p == i:
                raise ValueError(f"`parents[{i}]` must be -1 or another point's index in "
                                 f"[0, {num}), got {p}")
        fps = float(self.fps)
        if not math.isfinite(fps) or fps <= 0:
            raise ValueError(f"`fps` must be a positive finite number, got {self.fps!r}")
        pos = np.asarray(self.positions, dtype=np.float32)
        if pos.ndim != 3 or pos.shape[1:] != (num, 3) or pos.shape[0] < 1:
            raise ValueError(f"`positions` must have shape (T >= 1, {num}, 3), got {pos.shape}")
        if not np.all(np.isfinite(pos)):
            raise ValueError("`positions` contains NaN or inf values")
        object.__setattr__(self, "point_names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "positions", pos)

    @property
    def num_frames(self) -> int:
        """T, the number of frames."""
        return int(self.positions.shape[0])

    @property
    def num_points(self) -> int:
        """P, the number of named points."""
        return len(self.point_names)

    @property
    def duration(self) -> float:
        """Recording length in seconds, T / fps (each frame covers 1 / fps)."""
        return self.num_frames / self.fps

    @property
    def times(self) -> np.ndarray:
        """(T,) float64 sample times in seconds, k / fps."""
        return np.arange(self.num_frames) / self.fps

    @property
    def edges(self) -> Tuple[Tuple[int, int], ...]:
        """(child, parent) index pairs, e.g. for `posejax.viz.plot_body(edges=...)`."""
        return tuple((i, p) for i, p in enumerate(self.parents) if p >= 0)

    def index(self, name: str) -> int:
        """Index of the point called `name`; ValueError listing the known names otherwise."""
        try:
            return self.point_names.index(name)
        except ValueError:
            raise ValueError(f"no point named {name!r} in {self.name!r}; known points: "
                             f"{', '.join(self.point_names)}") from None

    def resample(self, fps: float) -> "SkeletonMotion":
        """The same motion sampled at `fps` by linear interpolation in time.

        New samples lie at times k / fps for every k with k / fps <= (T - 1) / self.fps (the last
        original sample), so T' = floor((T - 1) * fps / self.fps) + 1: halving the rate of 343
        frames gives 172, doubling it gives 685.
        """
        fps = float(fps)
        if not math.isfinite(fps) or fps <= 0:
            raise ValueError(f"`fps` must be a positive finite number, got {fps!r}")
        last = (self.num_frames - 1) / self.fps
        # The small slack keeps an exact multiple (e.g. 342 / 120 * 60 = 171) from rounding down.
        count = int(math.floor(last * fps + 1e-9)) + 1
        t = np.arange(count) * (self.fps / fps)  # in units of old frames
        lo = np.minimum(np.floor(t).astype(np.int64), self.num_frames - 1)
        hi = np.minimum(lo + 1, self.num_frames - 1)
        w = (t - lo)[:, None, None]
        p = self.positions.astype(np.float64)
        new = (1.0 - w) * p[lo] + w * p[hi]
        return dataclasses.replace(self, fps=fps, positions=new.astype(np.float32))
