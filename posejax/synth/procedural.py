"""Embedded default motion that needs no data: procedural walking, jogging, turning and idling.

Every clip is built from smooth periodic joint angles (SMPL axis-angle, composed from elementary
rotations) driven by a gait phase, coupled to an integrated root trajectory:

  * gait phase phi(t) = 2 pi f t (f = strides per second); the left hip flexes as A sin(phi), the
    right half a cycle later; knees flex in swing, arms swing against the legs, the pelvis yaws
    and rolls, the torso counter-rotates.
  * speed v = 4 L sin(A) f: in one stride the stance foot travels 2 L sin(A) relative to the hip
    (L = hip height) per half cycle, so this speed keeps the planted foot roughly still (no gross
    sliding); heading psi(t) integrates an angular velocity (curved paths for "turn").
  * height: each frame's lowest foot-mesh point is put on the ground (y = 0), so the stance foot
    touches the floor and the pelvis bobs naturally.

Axis conventions (SMPL frame: Y up, body faces +Z, +X is the subject's left): rotating a leg about +X
moves it backward, so hip flexion is a negative X rotation and knee flexion a positive one.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from posejax.body import BodyModel, as_body_model, rest_joints
from posejax.geometry.rotations import matrix_to_axis_angle
from posejax.synth.motion import MotionClip, foot_heights, foot_vertex_ids, in_chunks

KINDS = ("walk", "jog", "turn", "idle")


def _rx(a):
    a = np.asarray(a, np.float64)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([i, o, o], -1), np.stack([o, c, -s], -1), np.stack([o, s, c], -1)], -2)


def _ry(a):
    a = np.asarray(a, np.float64)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, o, s], -1), np.stack([o, i, o], -1), np.stack([-s, o, c], -1)], -2)


def _rz(a):
    a = np.asarray(a, np.float64)
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, o], -1), np.stack([s, c, o], -1), np.stack([o, o, i], -1)], -2)


def _wiggle(rng, t, amp, freq=(0.1, 0.5), terms=3):
    """A smooth random curve: a few sinusoids with random frequencies and phases, (T,)."""
    out = np.zeros_like(t)
    for _ in range(terms):
        out += rng.uniform(-1, 1) * np.sin(2 * np.pi * rng.uniform(*freq) * t + rng.uniform(0, 2 * np.pi))
    return amp * out / terms


def _leg_length(model: BodyModel, betas) -> float:
    """Hip height above the sole at rest (m)."""
    rest = np.asarray(rest_joints(model, betas))
    sole = float(np.asarray(model.v_template + np.einsum("vcs,s->vc", model.shapedirs, betas))[
        foot_vertex_ids(model), 1].min())
    return float(rest[1, 1] - sole)


def _gait_clip(kind, rng, t, leg):
    """Joint rotations (T, 24, 3, 3), heading (T,) and root speed (T,) of a walk/jog/turn clip."""
    n = len(t)
    jog = kind == "jog"
    f = rng.uniform(1.3, 1.5) if jog else rng.uniform(0.85, 1.0)  # strides per second
    amp = rng.uniform(0.45, 0.55) if jog else rng.uniform(0.33, 0.42)  # hip swing amplitude (rad)
    phi = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
    speed = np.full(n, 4.0 * leg * np.sin(amp) * f)
    # Accelerate from standstill over the first second so the clip starts plausibly.
    ramp = np.clip(t / 1.0, 0.0, 1.0)
    ramp = 0.5 - 0.5 * np.cos(np.pi * ramp)
    yaw_rate = np.zeros(n)
    if kind == "turn":
        yaw_rate = rng.choice([-1, 1]) * rng.uniform(0.3, 0.7) + _wiggle(rng, t, 0.4, (0.05, 0.2))
    heading = rng.uniform(-np.pi, np.pi) + np.cumsum(yaw_rate) * (t[1] - t[0] if n > 1 else 0.0)
    rots = np.tile(np.eye(3), (n, 24, 1, 1))
    knee_swing, knee_stance = (1.4, 0.35) if jog else (1.0, 0.1)
    for side, p in ((1, phi), (-1, phi + np.pi)):  # left (+1), right (-1)
        hip_j, knee_j, ankle_j = (1, 4, 7) if side == 1 else (2, 5, 8)
        flex = amp * np.sin(p) * ramp + (0.15 if jog else 0.0)
        # Knee flexion peaks mid-swing (hip moving forward: cos p > 0), small in stance.
        knee = knee_stance + knee_swing * np.maximum(np.cos(p - 0.3), 0.0) ** 2 * (0.3 + 0.7 * ramp)
        rots[:, hip_j] = _rx(-flex) @ _rz(side * 0.03)
        rots[:, knee_j] = _rx(knee)
        # Ankle: toes down at push-off, up at heel strike.
        rots[:, ankle_j] = _rx(0.25 * np.sin(p + 0.9) * ramp - 0.1 * knee)
        # Arms hang down (about Z), swing against the same-side leg, elbows bent.
        arm = -(0.5 if jog else 0.3) * amp / 0.4 * np.sin(p) * ramp
        sh_j, el_j = (16, 18) if side == 1 else (17, 19)
        rots[:, sh_j] = _rx(-arm) @ _rz(-side * (1.35 if not jog else 1.2))
        rots[:, el_j] = _ry(-side * ((1.3 if jog else 0.3) + 0.15 * np.sin(p)))
    rots[:, 0] = _ry(heading) @ _rx(np.full(n, 0.15 if jog else 0.04)) @ _rz(
        0.04 * np.sin(2 * phi)) @ _ry(0.1 * np.sin(phi) * ramp)
    rots[:, 0] = rots[:, 0] @ _rz(-0.15 * yaw_rate * speed / 1.3)  # lean into turns
    rots[:, 9] = _ry(-0.15 * np.sin(phi) * ramp)  # thorax counter-rotation
    rots[:, 12] = _rx(-0.05 if jog else 0.0)  # keep the head level against the lean
    return rots, heading, speed * ramp


def _idle_clip(rng, t):
    """Standing: weight shift and sway, looking around, arm gestures."""
    n = len(t)
    rots = np.tile(np.eye(3), (n, 24, 1, 1))
    sway = _wiggle(rng, t, 0.05, (0.1, 0.3))
    for side, hip_j, knee_j, ankle_j in ((1, 1, 4, 7), (-1, 2, 5, 8)):
        rots[:, hip_j] = _rz(-side * sway + side * 0.04) @ _rx(-0.05 - _wiggle(rng, t, 0.04))
        rots[:, knee_j] = _rx(0.1 + _wiggle(rng, t, 0.05))
        rots[:, ankle_j] = _rz(side * sway)
    for side, sh_j, el_j in ((1, 16, 18), (-1, 17, 19)):
        # Gestures: the arm lifts forward/sideways and the elbow bends, smoothly and at random.
        lift = np.maximum(_wiggle(rng, t, 1.6, (0.08, 0.3), 4), 0.0)
        rots[:, sh_j] = (_rx(-lift * rng.uniform(0.3, 1.0)) @ _rz(-side * (1.35 - 0.5 * lift))
                         @ _rx(_wiggle(rng, t, 0.2)))
        rots[:, el_j] = _ry(-side * (0.2 + 1.4 * np.maximum(_wiggle(rng, t, 1.0, (0.1, 0.4)), 0)))
    rots[:, 0] = _ry(rng.uniform(-np.pi, np.pi) + _wiggle(rng, t, 0.15, (0.05, 0.15))) @ _rz(sway)
    rots[:, 15] = _ry(_wiggle(rng, t, 0.5, (0.05, 0.25))) @ _rx(_wiggle(rng, t, 0.2, (0.05, 0.25)))
    rots[:, 6] = _rz(-0.5 * sway)
    return rots, np.zeros(n), np.zeros(n)


def procedural_clips(num_clips: int = 16, fps: float = 30.0, seed: int = 0,
                     duration_s: Sequence[float] = (4.0, 12.0),
                     body_model: Union[str, BodyModel] = "open") -> list[MotionClip]:
    """Deterministic procedural motion: walk, jog, turn (curved walk) and idle clips in turn.

    Args:
      num_clips: number of clips; kinds cycle through `KINDS`.
      fps: frames per second.
      seed: random seed (the same seed gives the same clips).
      duration_s: (min, max) clip duration in seconds, drawn uniformly.
      body_model: model used to size the stride and ground the feet ("open" or a BodyModel).

    Returns:
      List of MotionClip (source "procedural"); each frame's lowest foot point is at y = 0.
    """
    if not (isinstance(num_clips, (int, np.integer)) and num_clips >= 1):
        raise ValueError(f"`num_clips` must be a positive int, got {num_clips!r}")
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise ValueError(f"`fps` must be a positive number, got {fps!r}")
    lo, hi = duration_s
    if not 0 < lo <= hi:
        raise ValueError(f"`duration_s` must be (min, max) with 0 < min <= max, got {duration_s!r}")
    model = as_body_model(body_model)
    clips = []
    for i in range(num_clips):
        kind = KINDS[i % len(KINDS)]
        rng = np.random.default_rng([seed, i])
        n = max(2, int(round(rng.uniform(lo, hi) * fps)))
        t = np.arange(n) / fps
        betas = (0.5 * rng.standard_normal(model.num_betas)).astype(np.float32)
        if kind == "idle":
            rots, heading, speed = _idle_clip(rng, t)
            drift = np.stack([_wiggle(rng, t, 0.03), np.zeros(n), _wiggle(rng, t, 0.03)], -1)
        else:
            rots, heading, speed = _gait_clip(kind, rng, t, _leg_length(model, betas))
            step = speed / fps
            drift = np.cumsum(np.stack([step * np.sin(heading), np.zeros(n), step * np.cos(heading)],
                                       -1), axis=0)
        pose = in_chunks(matrix_to_axis_angle, rots.astype(np.float32)).astype(np.float32)
        transl = drift.astype(np.float32)
        transl[:, 1] -= foot_heights(model, pose, betas, transl)
        clips.append(MotionClip(name=f"procedural_{kind}_{i:03d}", source="procedural", fps=float(fps),
                                pose=pose, transl=transl, betas=betas))
    return clips
