"""AMASS motion files (`.npz`): SMPL / SMPL-H / SMPL-X parameters per frame.

AMASS stores, per sequence: `poses` (T, 156) SMPL-H axis-angle (52 joints: root, 21 body joints, 30
finger joints) or (T, 165) SMPL-X (root, 21 body, jaw, two eyes, 30 fingers); `trans` (T, 3)
metres; `betas` (16,) (or 10 / 300); `mocap_framerate` (SMPL-H releases) or `mocap_frame_rate`
(SMPL-X releases); `gender`. Some SMPL-X releases split the pose into `root_orient` (T, 3) and
`pose_body` (T, 63) instead of `poses`; those are read too.

posejax works on the SMPL-24 tree: joints 0..21 of all three models are the same joints, SMPL's
22/23 (left/right hand) have no SMPL-H/X counterpart (the fingers replace them), so they are set to
zero (flat hands), as is common practice when using AMASS with SMPL.

Frames: AMASS's world is Z up. `read_amass` returns the file's values unchanged (with
`up_axis="z"`); `amass_to_y_up` turns them into posejax's Y-up world.
"""

from __future__ import annotations

import os
import zipfile
from typing import Dict, Optional

import numpy as np

from posejax.geometry import axis_angle_to_matrix, matrix_to_axis_angle

__all__ = ["read_amass", "write_amass_npz", "amass_to_y_up"]

_POSE_DIMS = {72: "smpl", 156: "smplh", 165: "smplx"}

# p_yup = C p_zup: x stays, z (up) becomes y, y becomes -z (rotation of -90 deg about x).
_Z_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def _scalar_text(value) -> str:
    v = np.asarray(value)
    if v.dtype.kind == "S":
        return v.item().decode("utf-8")
    return str(v.item() if v.ndim == 0 else v.reshape(-1)[0])


def read_amass(path: str, num_betas: int = 10) -> Dict[str, object]:
    """Reads one AMASS sequence.

    Args:
      path: the `.npz` file.
      num_betas: betas returned (the file's first `num_betas`, zero-padded if it has fewer).

    Returns:
      dict with pose (T, 24, 3) float32 SMPL axis-angle (joint 0 = global orientation, hands
      zero), transl (T, 3) float32 metres, betas (num_betas,) float32, fps float, gender str
      ("neutral" when absent), source_model ("smpl" | "smplh" | "smplx"), up_axis "z".

    Raises:
      FileNotFoundError: missing file.
      ValueError: not an npz, or missing / malformed keys (file and key).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        data = np.load(path, allow_pickle=False)
        keys = set(data.files)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable AMASS .npz file: {e}") from None

    def get(key):
        try:
            return np.asarray(data[key])
        except Exception as e:  # truncated member, pickled object arrays
            raise ValueError(f"{path}: cannot read key {key!r}: {e}") from None

    if "poses" in keys:
        poses = get("poses").astype(np.float32)
        if poses.ndim != 2 or poses.shape[1] not in _POSE_DIMS:
            raise ValueError(f"{path}: key 'poses' must have shape (T, 72), (T, 156) or (T, 165) "
                             f"(SMPL, SMPL-H, SMPL-X), got {poses.shape}")
        source = _POSE_DIMS[poses.shape[1]]
        body = poses[:, :72] if source == "smpl" else poses[:, :66]
    elif {"root_orient", "pose_body"} <= keys:
        body = np.concatenate([get("root_orient"), get("pose_body")], axis=-1).astype(np.float32)
        if body.ndim != 2 or body.shape[1] != 66:
            raise ValueError(f"{path}: keys 'root_orient' (T, 3) + 'pose_body' (T, 63) expected, "
                             f"got {body.shape[1:]} in total")
        source = "smplx"
    else:
        raise ValueError(f"{path}: no key 'poses' (nor 'root_orient' + 'pose_body'); keys in the "
                         f"file: {sorted(keys)}")
    T = body.shape[0]
    pose = np.zeros((T, 24, 3), np.float32)
    pose.reshape(T, 72)[:, :body.shape[1]] = body

    if "trans" not in keys:
        raise ValueError(f"{path}: missing key 'trans' (T, 3)")
    transl = get("trans").astype(np.float32)
    if transl.shape != (T, 3):
        raise ValueError(f"{path}: key 'trans' must have shape ({T}, 3), got {transl.shape}")
    betas = np.zeros(num_betas, np.float32)
    if "betas" in keys:
        b = get("betas").astype(np.float32).reshape(-1)
        betas[:min(num_betas, b.size)] = b[:num_betas]
    fps_key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in keys), None)
    if fps_key is None:
        raise ValueError(f"{path}: missing frame rate key 'mocap_framerate' or 'mocap_frame_rate'")
    fps = float(get(fps_key).reshape(-1)[0])
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"{path}: key {fps_key!r} must be a positive frame rate, got {fps}")
    gender = _scalar_text(get("gender")).strip().lower() if "gender" in keys else "neutral"
    for name, arr in (("poses", pose), ("trans", transl)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{path}: key {name!r} contains NaN or inf")
    return {"pose": pose, "transl": transl, "betas": betas, "fps": fps, "gender": gender,
            "source_model": source, "up_axis": "z"}


def write_amass_npz(path: str, pose, transl, betas, fps: float, gender: str = "neutral") -> None:
    """Writes an AMASS-style npz with SMPL poses (keys poses (T, 72), trans, betas,
    mocap_framerate, gender), readable by `read_amass` and AMASS tooling that accepts SMPL.

    Args:
      pose: (T, 24, 3) or (T, 72) axis-angle.
      transl: (T, 3) metres.
      betas: (B,) shape coefficients.
      fps: frame rate.
      gender: "neutral" | "male" | "female".
    """
    pose = np.asarray(pose, np.float32)
    T = pose.shape[0] if pose.ndim >= 1 else 0
    if pose.shape not in ((T, 24, 3), (T, 72)):
        raise ValueError(f"`pose` must have shape (T, 24, 3) or (T, 72), got {pose.shape}")
    transl = np.asarray(transl, np.float32)
    if transl.shape != (T, 3):
        raise ValueError(f"`transl` must have shape ({T}, 3), got {transl.shape}")
    betas = np.asarray(betas, np.float32).reshape(-1)
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"`fps` must be positive, got {fps}")
    np.savez(path, poses=pose.reshape(T, 72), trans=transl, betas=betas,
             mocap_framerate=np.float64(fps), gender=np.array(str(gender)))


def amass_to_y_up(pose, transl, pelvis_rest: Optional[np.ndarray] = None):
    """Rotates an AMASS (Z-up) motion into posejax's Y-up world.

    The global orientation rotates as `C @ R0`. SMPL rotates about the pelvis, which sits at
    `pelvis_rest + transl` (rest pelvis of the body with the clip's betas), so the exact new
    translation is `C (pelvis_rest + transl) - pelvis_rest`; without `pelvis_rest` the
    translation is just rotated (`C transl`), which is off by the constant `(C - I) pelvis_rest`
    (a few centimetres to decimetres; harmless when the clip is re-grounded afterwards).

    Args:
      pose: (T, 24, 3) axis-angle.
      transl: (T, 3) metres.
      pelvis_rest: optional (3,) rest position of joint 0 for the clip's shape, metres.

    Returns:
      pose (T, 24, 3) float32 and transl (T, 3) float32 in the Y-up world.
    """
    pose = np.array(pose, np.float32)
    transl = np.asarray(transl, np.float64)
    C = _Z_TO_Y_UP
    R0 = np.asarray(axis_angle_to_matrix(pose[:, 0]), np.float64)
    pose[:, 0] = np.asarray(matrix_to_axis_angle((C @ R0).astype(np.float32)))
    j0 = np.zeros(3) if pelvis_rest is None else np.asarray(pelvis_rest, np.float64).reshape(3)
    new_t = (transl + j0) @ C.T - j0
    return pose, new_t.astype(np.float32)
