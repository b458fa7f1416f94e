"""Random rigid and similarity transforms shared by geometry and metric tests."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3, 3) float32 rotations, uniform on SO(3)."""
    return Rotation.random(n, random_state=rng).as_matrix().astype(np.float32)


def apply_similarity(points, scale, rot, t) -> np.ndarray:
    """`scale * rot @ p + t` for batched points (B, N, 3), scale (B,), rot (B, 3, 3), t (B, 3)."""
    return (scale[:, None, None] * np.einsum("bij,bnj->bni", rot, points)
            + t[:, None, :]).astype(np.float32)
