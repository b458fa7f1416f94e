"""Random static cameras for the pooled regressor's synthetic sequences.

The camera is a `posejax.geometry.StaticCamera`: centre at (0, height, 0), looking down world +Z,
tilted by pitch (positive = down) and rolled about its axis (DESIGN.md section 3). The subject is
placed in front of it, so the camera never moves; the sequence generator moves the motion instead.

Sampling (all independent, then rejected until the camera height lands in `height_m`):
  * hfov: uniform in [34, 80] degrees (Habekost et al., section 3).
  * pitch: normal(mean 15, std 20 degrees) truncated to [-10, 70] degrees: from slightly
    up-looking (a low camera close to the person) to almost from above (a high camera looking down
    at 70 degrees); most mass on the 0-35 degree views of everyday footage.
  * roll: normal(0, 5 degrees) clipped to +-15 degrees.
  * subject distance, given as the person's apparent size: the subject's height covers a fraction
    of the image height drawn log-uniform in [0.08, 0.85] ("exceptionally far": 80 pixels tall in a
    1000-pixel image, i.e. 12-35 m away depending on the FoV; "extremely close": 850 pixels, the
    person filling the frame from 1.2-3.2 m). Log-uniform gives every octave of scale the same
    weight. The depth of the subject's centre is `focal * subject_height / (fraction * H)`.
  * where the subject's centre (mid-height point) appears in the image: uniform within half of the
    room that keeps the whole person inside the image at that size (so there is room to move).
  * height: implied. The camera centre is then lifted so that the subject's centre is at half the
    subject's height above the ground; the sample is rejected unless that height lies in
    [0.2, 20] m (looking up is only possible close to the person, and steep views only from high
    up, as in real footage). The test suite checks every parameter against these ranges.

Everything is numpy (per-sequence choices, not hot), driven by a `numpy.random.Generator` derived
from a JAX key or an int seed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Tuple

import jax
import numpy as np

from posejax.geometry.cameras import StaticCamera


@dataclasses.dataclass(frozen=True)
class CameraRanges:
    """Distributions of the static camera; see the module docstring for the reasoning.

    Attributes:
      hfov_deg: (lo, hi) horizontal FoV, uniform, degrees.
      pitch_deg: (lo, hi) pitch truncation bounds, degrees (positive = looking down).
      pitch_mean_deg, pitch_std_deg: the normal distribution truncated to `pitch_deg`.
      roll_std_deg: roll standard deviation, degrees (normal around 0).
      roll_max_deg: roll is clipped to +- this, degrees.
      height_m: (lo, hi) accepted camera heights, metres (metric, before height normalisation).
      person_fraction: (lo, hi) apparent subject height / image height, log-uniform.
      center_spread: fraction of the free room (keeping the person inside) over which the
        subject's centre is spread in the image, in [0, 1].
      max_tries: rejection-sampling budget (raises if exhausted).
    """

    hfov_deg: Tuple[float, float] = (34.0, 80.0)
    pitch_deg: Tuple[float, float] = (-10.0, 70.0)
    pitch_mean_deg: float = 15.0
    pitch_std_deg: float = 20.0
    roll_std_deg: float = 5.0
    roll_max_deg: float = 15.0
    height_m: Tuple[float, float] = (0.2, 20.0)
    person_fraction: Tuple[float, float] = (0.08, 0.85)
    center_spread: float = 0.5
    max_tries: int = 10000

    def __post_init__(self):
        def pair(name, lo_min, hi_max):
            value = getattr(self, name)
            try:
                lo, hi = (float(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError(f"CameraRanges.{name} must be a (lo, hi) pair, got {value!r}") from None
            if not (lo_min <= lo <= hi <= hi_max):
                raise ValueError(f"CameraRanges.{name} must satisfy {lo_min} <= lo <= hi <= {hi_max}, "
                                 f"got {value!r}")
            object.__setattr__(self, name, (lo, hi))
        pair("hfov_deg", 1.0, 179.0)
        pair("pitch_deg", -89.0, 89.0)
        pair("height_m", 0.0, 1e4)
        pair("person_fraction", 1e-3, 1.0)
        if self.person_fraction[0] <= 0:
            raise ValueError(f"CameraRanges.person_fraction must be positive, got {self.person_fraction}")
        for name in ("pitch_std_deg", "roll_std_deg", "roll_max_deg"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"CameraRanges.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.center_spread <= 1.0:
            raise ValueError(f"CameraRanges.center_spread must be in [0, 1], got {self.center_spread!r}")
        if not int(self.max_tries) >= 1:
            raise ValueError(f"CameraRanges.max_tries must be >= 1, got {self.max_tries!r}")


@dataclasses.dataclass(frozen=True)
class CameraSample:
    """A sampled static camera and where to put the subject.

    Attributes:
      camera: the StaticCamera (scalar float32 fields).
      aim: (3,) world point on the ground (y = 0) below the subject's intended centre, metres.
      subject_distance: horizontal distance from the camera centre to `aim`, metres.
      person_fraction: the sampled apparent height / image height.
    """

    camera: StaticCamera
    aim: np.ndarray
    subject_distance: float
    person_fraction: float

    @property
    def params(self) -> np.ndarray:
        """(4,) float32 (pitch rad, roll rad, height m, hfov rad)."""
        c = self.camera
        return np.array([c.pitch, c.roll, c.height, c.hfov], np.float32)


def as_numpy_rng(key_or_seed) -> np.random.Generator:
    """A numpy Generator from an int seed, a numpy Generator (returned as is) or a JAX key."""
    if isinstance(key_or_seed, np.random.Generator):
        return key_or_seed
    if isinstance(key_or_seed, (int, np.integer)):
        return np.random.default_rng(int(key_or_seed))
    try:
        bits = np.asarray(jax.random.bits(key_or_seed, (4,), dtype=np.uint32))
    except Exception as e:
        raise ValueError(f"expected an int seed, a numpy Generator or a JAX PRNG key, got "
                         f"{type(key_or_seed).__name__}: {e}") from e
    return np.random.default_rng([int(b) for b in bits])


def static_rotation(pitch: float, roll: float) -> np.ndarray:
    """World-to-camera rotation (3, 3) of a StaticCamera, numpy (same formula as geometry.cameras)."""
    cp, sp, cr, sr = math.cos(pitch), math.sin(pitch), math.cos(roll), math.sin(roll)
    rot_x = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rot_z = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rot_z @ rot_x @ np.diag([-1.0, -1.0, 1.0])


def camera_matrices(camera: StaticCamera):
    """(K (3, 3), R (3, 3), t (3,)) float64 numpy of a scalar StaticCamera."""
    pitch, roll, height, hfov = (float(np.asarray(v)) for v in
                                 (camera.pitch, camera.roll, camera.height, camera.hfov))
    w, h = camera.image_size
    f = 0.5 * w / math.tan(0.5 * hfov)
    K = np.array([[f, 0, 0.5 * w], [0, f, 0.5 * h], [0, 0, 1.0]])
    R = static_rotation(pitch, roll)
    return K, R, -R @ np.array([0.0, height, 0.0])


def project_numpy(points, K, R, t) -> tuple[np.ndarray, np.ndarray]:
    """World points (..., 3) -> (pixels (..., 2), depth (...)), numpy; depth clamped at 1 mm."""
    cam = np.asarray(points) @ R.T + t
    z = np.maximum(cam[..., 2], 1e-3)
    return (cam[..., :2] / z[..., None]) * K[0, 0] + K[:2, 2], cam[..., 2]


def sample_static_camera(key_or_seed, ranges: CameraRanges = CameraRanges(),
                         subject_height: float = 1.72,
                         image_size: Tuple[int, int] = (1000, 1000)) -> CameraSample:
    """Samples a static camera and the ground point to put the subject at.

    Args:
      key_or_seed: JAX PRNG key, int seed or numpy Generator.
      ranges: the distributions (module docstring).
      subject_height: metres (sets the distance for a given apparent size).
      image_size: (W, H) pixels.

    Returns:
      A `CameraSample`.

    Raises:
      ValueError: bad arguments, or no sample met the height range within `ranges.max_tries`.
    """
    if not isinstance(ranges, CameraRanges):
        raise ValueError(f"`ranges` must be a CameraRanges, got {type(ranges).__name__}")
    if not subject_height > 0:
        raise ValueError(f"`subject_height` must be positive metres, got {subject_height!r}")
    width, height_px = (int(v) for v in image_size)
    rng = as_numpy_rng(key_or_seed)
    r = ranges
    deg = math.pi / 180.0
    batch = 64  # candidates per round: rejection in vectorised chunks
    for _ in range(0, int(r.max_tries), batch):
        hfov = rng.uniform(*r.hfov_deg, batch) * deg
        pitch = _truncated_normal(rng, r.pitch_mean_deg, r.pitch_std_deg, *r.pitch_deg, batch) * deg
        roll = np.clip(rng.normal(0.0, r.roll_std_deg, batch), -r.roll_max_deg, r.roll_max_deg) * deg
        frac = np.exp(rng.uniform(*np.log(r.person_fraction), batch))
        focal = 0.5 * width / np.tan(0.5 * hfov)
        half_h = 0.5 * frac * height_px           # person half-height, pixels
        half_w = 0.25 * frac * height_px          # a generous half-width (arms out)
        room_v = np.maximum(0.5 * height_px - half_h, 0.0) * r.center_spread
        room_u = np.maximum(0.5 * width - half_w, 0.0) * r.center_spread
        du = rng.uniform(-1, 1, batch) * room_u
        dv = rng.uniform(-1, 1, batch) * room_v
        depth = focal * subject_height / (frac * height_px)
        for i in range(batch):
            rot = static_rotation(pitch[i], roll[i])
            centre_cam = np.array([du[i] * depth[i] / focal[i], dv[i] * depth[i] / focal[i], depth[i]])
            offset = rot.T @ centre_cam            # subject centre relative to the camera centre
            cam_height = 0.5 * subject_height - offset[1]
            if not r.height_m[0] <= cam_height <= r.height_m[1]:
                continue
            aim = np.array([offset[0], 0.0, offset[2]])
            camera = StaticCamera(pitch=np.float32(pitch[i]), roll=np.float32(roll[i]),
                                  height=np.float32(cam_height), hfov=np.float32(hfov[i]),
                                  image_size=(width, height_px))
            return CameraSample(camera=camera, aim=aim.astype(np.float32),
                                subject_distance=float(np.hypot(aim[0], aim[2])),
                                person_fraction=float(frac[i]))
    raise ValueError(f"no camera sample met CameraRanges.height_m={r.height_m} in {r.max_tries} tries; "
                     "widen the ranges")


def _truncated_normal(rng, mean, std, lo, hi, n):
    if std == 0:
        return np.full(n, np.clip(mean, lo, hi))
    out = rng.normal(mean, std, n)
    bad = (out < lo) | (out > hi)
    for _ in range(100):  # plain rejection: the bounds hold most of the mass for sane settings
        if not np.any(bad):
            return out
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < lo) | (out > hi)
    out[bad] = rng.uniform(lo, hi, int(bad.sum()))  # mean far outside the bounds: give up on shape
    return out


__all__ = ["CameraRanges", "CameraSample", "sample_static_camera", "camera_matrices",
           "project_numpy", "static_rotation", "as_numpy_rng"]
