"""A few frames of a video, or of a folder of images, as RGB arrays (for figures).

Frame t is the t-th frame of the video file, or the t-th image of the folder with images ordered
by the last group of digits in their names (`frame_9.png` before `frame_10.png`), then by name.

Image folders (.png, .jpg, .jpeg, .bmp) are read with Pillow, which matplotlib already needs.
Video files need `imageio` (with its `pyav` or `imageio-ffmpeg` plugin) or OpenCV (`cv2`); posejax
does not install either (both are large), and `check_video` says which to install when neither is
there.
"""

from __future__ import annotations

import os
import re
from typing import List, Sequence

import numpy as np

__all__ = ["IMAGE_SUFFIXES", "check_video", "read_video_frames"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

_INSTALL_HINT = ("reading video files needs imageio with a video plugin or OpenCV, and neither is "
                 "installed: `pip install imageio av` (or `pip install opencv-python-headless`), "
                 "or pass a folder of frame images instead")


def _image_files(folder: str) -> List[str]:
    names = [n for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES)]

    def key(name):
        digits = re.findall(r"\d+", os.path.splitext(name)[0])
        return (int(digits[-1]) if digits else -1, name)

    return [os.path.join(folder, n) for n in sorted(names, key=key)]


def _video_backend() -> str:
    """The first importable video reader: "imageio" or "cv2" (ImportError when none is)."""
    try:
        import imageio.v3  # noqa: F401
        return "imageio"
    except ImportError:
        pass
    try:
        import cv2  # noqa: F401
        return "cv2"
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None


def check_video(path: str) -> None:
    """Fails early (before any long computation) when `path` cannot be read.

    Raises:
      FileNotFoundError: `path` does not exist.
      ValueError: a folder without images.
      ImportError: a video file and no video reader installed (the message says what to install).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"video {path!r} does not exist")
    if os.path.isdir(path):
        if not _image_files(path):
            raise ValueError(f"video folder {path!r} holds no {'/'.join(IMAGE_SUFFIXES)} images")
        return
    _video_backend()


def _read_images(path: str, indices: Sequence[int]) -> List[np.ndarray]:
    from PIL import Image

    files = _image_files(path)
    out = []
    for i in indices:
        if not 0 <= i < len(files):
            raise ValueError(f"video folder {path!r} has {len(files)} images; frame {i} requested")
        with Image.open(files[i]) as im:
            out.append(np.asarray(im.convert("RGB")))
    return out


def _read_video(path: str, indices: Sequence[int]) -> List[np.ndarray]:
    wanted = {int(i) for i in indices}
    found = {}
    if _video_backend() == "imageio":
        import imageio.v3 as iio

        # Sequential decoding: seeking is plugin-dependent and the clips here are short.
        for i, frame in enumerate(iio.imiter(path)):
            if i in wanted:
                found[i] = np.asarray(frame)[..., :3]
            if len(found) == len(wanted):
                break
    else:
        import cv2

        cap = cv2.VideoCapture(path)
        try:
            for i in sorted(wanted):
                cap.set(cv2.CAP_PROP_POS_FRAMES, i)
                ok, frame = cap.read()
                if ok:
                    found[i] = frame[..., ::-1].copy()  # OpenCV decodes to BGR
        finally:
            cap.release()
    missing = sorted(wanted - set(found))
    if missing:
        raise ValueError(f"video {path!r}: could not read frame(s) {missing} (too short?)")
    return [found[int(i)] for i in indices]


def read_video_frames(path: str, indices: Sequence[int]) -> List[np.ndarray]:
    """Reads frames `indices` (0-based) of a video file or image folder.

    Args:
      path: a video file, or a folder of images (module docstring for the order).
      indices: frame numbers to read.

    Returns:
      One (H, W, 3) uint8 RGB array per index, in the order of `indices`.

    Raises:
      As `check_video`; ValueError when a frame is out of range.
    """
    check_video(path)
    if os.path.isdir(path):
        return _read_images(path, indices)
    return _read_video(path, indices)

