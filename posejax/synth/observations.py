"""Detector-like observation model: turns exact 2D keypoints into noisy detections.

`observe` applies, per frame and keypoint (every effect switchable; `ObservationConfig.clean()`
turns them all off):

  1. Pixel noise: Gaussian, per-coordinate std = `noise_std` x person size (the diagonal of the
     person's 2D bounding box, in pixels), times a per-keypoint log-normal factor m with
     E[m^2] = 1 (`noise_spread`), so some detections are much worse than others while the RMS stays
     `noise_std` x size. Hidden (self-occluded) keypoints get `occluded_noise` times more.
  2. Confidence correlated with the error: `exp(-err^2 / (2 s^2))` with
     `s = confidence_scale x noise_std x size` and err the keypoint's pixel error, times a uniform
     factor in [1 - confidence_jitter, 1] (detectors are not calibrated).
  3. Jumps (outliers): with probability `jump_rate` a keypoint moves by a random displacement of
     `jump_scale` x size in a random direction; its confidence is drawn from `jump_confidence`
     (a detector is often fairly sure of a wrong peak).
  4. Left/right swaps: with probability `swap_rate` a whole frame is mirrored in its labels (each
     keypoint takes the detection of its `flip_indices` partner, confidences and all): the classic
     front/back confusion of 2D detectors.
  5. Self-occlusion, from `visible`: a hidden keypoint is dropped with probability
     `occluded_drop_rate`, otherwise its confidence is multiplied by `occluded_confidence`.
  6. Truncation: a keypoint whose true position is outside the image [0, W) x [0, H) gets
     confidence 0.
  7. Dropped keypoints: independently with probability `drop_rate`, confidence 0.
  8. Missing frames: with probability `missing_frame_rate` the whole frame has confidence 0
     (the detector found nobody).

Points with confidence 0 get coordinates (0, 0) when `zero_missing` (as OpenPose writes them), so
nothing about the truth leaks through missing points.

Randomness: every frame draws from `fold_in(key, frame_index)` (frames counted over the flattened
leading dims), so results do not depend on how frames are batched.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

from posejax._checks import check_array


@dataclasses.dataclass(frozen=True)
class ObservationConfig:
    """Observation-model settings; the defaults imitate a decent 2D detector on in-the-wild video.

    Attributes:
      noise_std: per-coordinate pixel noise RMS as a fraction of the person's bbox diagonal
        (0.01: 5.6 px for a 400 x 400 px person).
      noise_spread: log-normal spread (std of the log) of a per-keypoint noise factor; 0 = same
        std everywhere.
      confidence_scale: error scale of the confidence, in units of the noise RMS.
      confidence_jitter: confidences are multiplied by U[1 - jitter, 1].
      jump_rate: per-keypoint probability of an outlier jump.
      jump_scale: (lo, hi) jump length as a fraction of the person size, uniform.
      jump_confidence: (lo, hi) confidence of a jumped keypoint, uniform.
      swap_rate: per-frame probability of a left/right label swap.
      occluded_drop_rate: probability that a hidden keypoint is dropped.
      occluded_confidence: confidence factor of hidden keypoints that are kept.
      occluded_noise: noise factor of hidden keypoints.
      truncate: zero the confidence of keypoints outside the image.
      drop_rate: per-keypoint probability of a dropped detection.
      missing_frame_rate: per-frame probability of a frame without detection.
      zero_missing: set coordinates of confidence-0 points to (0, 0).
    """

    noise_std: float = 0.01
    noise_spread: float = 0.5
    confidence_scale: float = 3.0
    confidence_jitter: float = 0.2
    jump_rate: float = 0.005
    jump_scale: Tuple[float, float] = (0.1, 0.5)
    jump_confidence: Tuple[float, float] = (0.1, 0.6)
    swap_rate: float = 0.01
    occluded_drop_rate: float = 0.3
    occluded_confidence: float = 0.5
    occluded_noise: float = 2.0
    truncate: bool = True
    drop_rate: float = 0.02
    missing_frame_rate: float = 0.01
    zero_missing: bool = True

    def __post_init__(self):
        def check(name, ok, expected):
            value = getattr(self, name)
            if not ok(value):
                raise ValueError(f"ObservationConfig.{name} must be {expected}, got {value!r}")
        nonneg = lambda v: isinstance(v, (int, float)) and np.isfinite(v) and v >= 0
        prob = lambda v: isinstance(v, (int, float)) and 0.0 <= v <= 1.0
        for name in ("noise_std", "noise_spread", "occluded_noise"):
            check(name, nonneg, "a finite number >= 0")
        check("confidence_scale", lambda v: nonneg(v) and v > 0, "a positive number")
        for name in ("confidence_jitter", "jump_rate", "swap_rate", "occluded_drop_rate",
                     "occluded_confidence", "drop_rate", "missing_frame_rate"):
            check(name, prob, "a probability in [0, 1]")
        for name, upper in (("jump_scale", np.inf), ("jump_confidence", 1.0)):
            value = getattr(self, name)
            try:
                lo, hi = (float(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError(f"ObservationConfig.{name} must be a (lo, hi) pair, got {value!r}") from None
            if not 0.0 <= lo <= hi <= upper:
                raise ValueError(f"ObservationConfig.{name} must satisfy 0 <= lo <= hi <= {upper}, "
                                 f"got {value!r}")
            object.__setattr__(self, name, (lo, hi))
        for name in ("truncate", "zero_missing"):
            check(name, lambda v: isinstance(v, (bool, np.bool_)), "True or False")

    @classmethod
    def clean(cls) -> "ObservationConfig":
        """Every effect off: exact keypoints, confidence 1 everywhere."""
        return cls(noise_std=0.0, noise_spread=0.0, confidence_jitter=0.0, jump_rate=0.0,
                   swap_rate=0.0, occluded_drop_rate=0.0, occluded_confidence=1.0,
                   occluded_noise=1.0, truncate=False, drop_rate=0.0, missing_frame_rate=0.0)


def person_scale(keypoints2d) -> jax.Array:
    """Person size (...,) in pixels: diagonal of the bounding box of (..., K, 2) keypoints."""
    kp = jnp.asarray(keypoints2d)
    return jnp.linalg.norm(jnp.max(kp, axis=-2) - jnp.min(kp, axis=-2), axis=-1)


def observe(key, keypoints2d, visible, person_scale_px, config: ObservationConfig = ObservationConfig(),
            flip_indices=None, image_size: Tuple[int, int] = (1000, 1000)):
    """Simulates detections of exact 2D keypoints (see the module docstring).

    Args:
      key: JAX PRNG key.
      keypoints2d: (..., T, K, 2) exact pixels.
      visible: (..., T, K) bool, False = self-occluded (hidden surface / behind the body).
      person_scale_px: (..., T) person size in pixels (bbox diagonal, see `person_scale`).
      config: the ObservationConfig.
      flip_indices: (K,) left/right partner of each keypoint (a layout's `flip_indices`); needed
        only when `config.swap_rate > 0`.
      image_size: (W, H) pixels, for truncation.

    Returns:
      (keypoints2d (..., T, K, 2) float32 pixels, confidence (..., T, K) float32 in [0, 1]).
    """
    if not isinstance(config, ObservationConfig):
        raise ValueError(f"`config` must be an ObservationConfig, got {type(config).__name__}")
    kp = check_array(keypoints2d, "keypoints2d", ("...", None, None, 2))
    k = kp.shape[-2]
    vis = check_array(visible, "visible", kp.shape[:-1], dtype=bool)
    scale = check_array(person_scale_px, "person_scale_px", kp.shape[:-2])
    flip = _check_flip(flip_indices, k, config)
    size = _check_image_size(image_size)
    batch = kp.shape[:-1]
    n = int(np.prod(kp.shape[:-2], dtype=np.int64))
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n, dtype=jnp.uint32))
    out_kp, conf = _observe_frames(keys, kp.reshape(n, k, 2), vis.reshape(n, k), scale.reshape(n),
                                   flip, noise_params(config), size)
    return out_kp.reshape(batch + (2,)), conf.reshape(batch)


def _check_flip(flip_indices, k, config):
    if flip_indices is None:
        if config.swap_rate > 0:
            raise ValueError("`flip_indices` is required when ObservationConfig.swap_rate > 0 "
                             "(pass the layout's flip_indices)")
        return jnp.arange(k, dtype=jnp.int32)
    flip = np.asarray(flip_indices)
    if flip.shape != (k,) or not np.issubdtype(flip.dtype, np.integer) or (
            k and (flip.min() < 0 or flip.max() >= k)):
        raise ValueError(f"`flip_indices` must be ({k},) integer indices in [0, {k}), got shape "
                         f"{flip.shape} dtype {flip.dtype}")
    return jnp.asarray(flip, jnp.int32)


def _check_image_size(image_size):
    size = tuple(int(v) for v in np.asarray(image_size).reshape(-1))
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"`image_size` must be (W, H) positive pixels, got {image_size!r}")
    return size


def noise_params(config: ObservationConfig) -> dict:
    """The config as a dict of float32 scalars: a traced jit argument, so that changing the noise
    settings (e.g. a curriculum, or `clean()`) never recompiles."""
    out = {}
    for field in dataclasses.fields(ObservationConfig):
        value = getattr(config, field.name)
        if isinstance(value, tuple):
            out[field.name + "_lo"], out[field.name + "_hi"] = (np.float32(v) for v in value)
        else:
            out[field.name] = np.float32(value)
    return out


@functools.partial(jax.jit, static_argnums=(6,))
def _observe_frames(keys, kp, visible, scale, flip, params, image_size):
    """(N,) keys, (N, K, 2) exact pixels, (N, K) visible, (N,) sizes -> noisy (N, K, 2), conf (N, K).

    `params` is `noise_params(config)`; every effect is always computed and switched off by its
    value (a zero rate never fires, a zero std adds exactly zero), so the results for `clean()`
    are exact.
    """
    return jax.vmap(functools.partial(_observe_one, flip=flip, p=params, image_size=image_size))(
        keys, kp, visible, scale)


def _observe_one(key, kp, visible, scale, *, flip, p, image_size):
    k = kp.shape[0]
    dtype = kp.dtype
    # One threefry call per frame for every random number it needs (compiles much faster than a
    # dozen separate draws): 12 uniforms per keypoint + 2 per frame; normals by Box-Muller.
    u = jax.random.uniform(key, (12 * k + 2,), dtype)
    frame_u = u[12 * k:]
    u = u[:12 * k].reshape(12, k)
    radius = jnp.sqrt(-2.0 * jnp.log1p(-u[0:2]))          # log(1 - u): u in [0, 1) -> finite
    angle = 2.0 * jnp.pi * u[2:4]
    normals = jnp.concatenate([radius * jnp.cos(angle), radius * jnp.sin(angle)])  # (4, K)
    hidden = ~visible

    # 1-2. Noise and the confidence that goes with it.
    spread = p["noise_spread"]
    factor = jnp.exp(spread * normals[0] - spread * spread)              # E[factor^2] = 1
    sigma = p["noise_std"] * scale * factor * jnp.where(hidden, p["occluded_noise"], 1.0)
    delta = sigma[:, None] * normals[1:3].T
    noisy = kp + delta
    ref = p["confidence_scale"] * jnp.maximum(p["noise_std"] * scale, 1e-12)
    err2 = jnp.sum(delta * delta, axis=-1)
    conf = jnp.where(p["noise_std"] > 0, jnp.exp(-err2 / (2.0 * ref * ref)), 1.0)
    conf = conf * (1.0 - p["confidence_jitter"] * u[4])

    # 3. Outlier jumps.
    jumped = u[5] < p["jump_rate"]
    direction = 2.0 * jnp.pi * u[6]
    length = scale * (p["jump_scale_lo"] + (p["jump_scale_hi"] - p["jump_scale_lo"]) * u[7])
    step = length[:, None] * jnp.stack([jnp.cos(direction), jnp.sin(direction)], -1)
    noisy = jnp.where(jumped[:, None], noisy + step, noisy)
    jump_conf = p["jump_confidence_lo"] + (p["jump_confidence_hi"] - p["jump_confidence_lo"]) * u[8]
    conf = jnp.where(jumped, jump_conf, conf)

    # Whether the true point is inside the image (the detector can only see those).
    w, h = image_size
    inside = (kp[:, 0] >= 0) & (kp[:, 0] < w) & (kp[:, 1] >= 0) & (kp[:, 1] < h)

    # 4. Left/right swap of the whole frame: labels take their partner's detection.
    pick = jnp.where(frame_u[0] < p["swap_rate"], flip, jnp.arange(k))
    noisy, conf, hidden, inside = noisy[pick], conf[pick], hidden[pick], inside[pick]

    # 5. Self-occlusion.
    keep = ~(hidden & (u[9] < p["occluded_drop_rate"]))
    conf = jnp.where(hidden, conf * p["occluded_confidence"], conf)
    # 6. Truncation. 7. Dropped keypoints. 8. Missing frames.
    keep &= inside | (p["truncate"] == 0)
    keep &= u[10] >= p["drop_rate"]
    keep &= frame_u[1] >= p["missing_frame_rate"]
    conf = jnp.where(keep, jnp.clip(conf, 0.0, 1.0), 0.0)
    noisy = jnp.where((conf[:, None] > 0) | (p["zero_missing"] == 0), noisy, 0.0)
    return noisy, conf


__all__ = ["ObservationConfig", "observe", "person_scale", "noise_params"]
