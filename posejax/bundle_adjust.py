"""Whole-video bundle adjustment from the command line.

    python -m posejax.bundle_adjust --keypoints=PATH --out=result.npz \\
        [--layout=coco17] [--image_size=W,H] [--frames=START:STOP] [--video=PATH] \\
        [--figures_dir=DIR] [--body_model=open] [--pose_prior=GMM.npz] [--camera=weak|perspective] \\
        [--config.solver.ftol=1e-4] [--config.weights.pose_prior=2.0] ...

Inputs:
  --keypoints: an OpenPose JSON folder (BODY_25B), a COCO keypoint JSON file, or an .npz with
    `keypoints` (T, K, 2|3) or (T, P, K, 3) pixels (and optionally `confidences`, `layout`,
    `image_size`); see `posejax.fitting.ba_inputs`.
  --layout, --image_size: required unless the file provides them (--image_size may also come from
    the --video frames).
  --frames=START:STOP: fit only these keypoint rows (Python slice bounds; either may be omitted).
  --video: the video the keypoints came from (a video file, which needs imageio or OpenCV, or a
    folder of frame images; `posejax.io.video`); keypoint row t is video frame t.
  --config.*: any field of `posejax.fitting.ba_config.default_config()`; --camera is a shortcut
    for --config.camera.

Outputs:
  --out (.npz or .json, `posejax.io.results.save_results`): `BAResult.to_dict()`, i.e. betas (10,),
    theta (T, 72), joints (T, 24, 3), keypoints3d (T, K, 3), keypoints2d (T, K, 2), inlier (T,),
    detection (T,), energies/*, E_norm, trajectory_length, layout, image_size (2,), camera_mode,
    cameras/* (weak: scale (T,), translation (T, 2); perspective: focal, root_translation (T, 3),
    principal_point (2,)), init/* (theta (T, 72), valid (T,), reprojection_error (T,)), track (T,)
    for multi-person input, solver/* (solver/stages/* as one (S,) array per field); plus
    frame_reprojection_px (T,) (confidence-weighted mean keypoint error of the fit per frame, px,
    closest detection, NaN without one) and input/keypoints, input/frames ([START, STOP)).
  Figures in --figures_dir (default `<out without suffix>_figures/`; --nofigures skips them):
    bodies_3d.png (a few frames in 3D, camera and side views), per_frame.png (error and inlier
    flags per frame) and reprojection.png (the fit over the video frames, or over a blank canvas
    without --video).

JAX's persistent compilation cache is on (`posejax.compilation_cache`), so a second run on a clip of
similar length skips most of the compilation.

In Python, `posejax.bundle_adjust(...)` is the library function
`posejax.fitting.bundle_adjustment.bundle_adjust`: this module is callable (`_CallableModule`).
"""

from __future__ import annotations

import inspect
import os
import sys
import time
import types
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from posejax.fitting.bundle_adjustment import BAResult, bundle_adjust

__all__ = ["main", "bundle_adjust", "BAResult"]

PROG = "python -m posejax.bundle_adjust"
FIGURES = ("bodies_3d.png", "per_frame.png", "reprojection.png")

_USAGE = __doc__


# ----------------------------------------------------------------------------------------------
# Flags
# ----------------------------------------------------------------------------------------------


def _fail(message: str):
    """Ends the command with `message` on stderr and exit status 1."""
    raise SystemExit(f"{PROG}: error: {message}")


def _check_config_overrides(argv: Sequence[str]) -> None:
    """Names an unknown --config.a.b field clearly (absl would report a bare KeyError)."""
    from posejax.fitting import ba_config

    for arg in argv:
        if not (arg.startswith("--config.") or arg.startswith("--noconfig.")):
            continue
        name = arg.lstrip("-").split("=", 1)[0]
        node, path = ba_config.default_config(), ["config"]
        for part in name.split(".")[1:]:
            if not hasattr(node, "keys") or part not in node:
                known = sorted(node.keys()) if hasattr(node, "keys") else []
                _fail(f"`{arg}`: {'.'.join(path)} has no field {part!r}"
                      + (f"; known: {', '.join(known)}" if known else ""))
            node, path = node[part], path + [part]


def _parse(argv: Sequence[str]):
    """Flag values from `argv` (without the program name); SystemExit on usage errors."""
    from absl import flags
    from ml_collections import config_flags

    from posejax.fitting import ba_config

    fv = flags.FlagValues()  # local, so main() can run several times in one process (tests)
    flags.DEFINE_string("keypoints", None, "OpenPose JSON folder, COCO keypoint .json or .npz",
                        flag_values=fv)
    flags.DEFINE_string("out", "bundle_adjust_result.npz", "results file (.npz or .json)", flag_values=fv)
    flags.DEFINE_string("layout", None, "keypoint layout (coco17, body25b, ...) unless the file says",
                        flag_values=fv)
    flags.DEFINE_string("image_size", None, "W,H in pixels unless the file or --video gives it",
                        flag_values=fv)
    flags.DEFINE_string("frames", None, "START:STOP, the keypoint rows to fit (default all)", flag_values=fv)
    flags.DEFINE_string("video", None, "video file or folder of frame images, for the overlay figure",
                        flag_values=fv)
    flags.DEFINE_string("figures_dir", None, "figure folder (default: <out without suffix>_figures)",
                        flag_values=fv)
    flags.DEFINE_bool("figures", True, "write the figures", flag_values=fv)
    flags.DEFINE_integer("num_figure_frames", 4, "frames shown in the 3D and overlay figures",
                         flag_values=fv)
    flags.DEFINE_string("body_model", "open", "'open', 'open-lite' or SMPL files", flag_values=fv)
    flags.DEFINE_string("pose_prior", None, "GMM pose prior npz (default: the shipped one; "
                        "`python -m posejax.fitting.fit_pose_prior` writes others)", flag_values=fv)
    flags.DEFINE_enum("camera", None, ["weak", "perspective"], "shortcut for --config.camera",
                      flag_values=fv)
    flags.DEFINE_bool("verbose", True, "print progress", flag_values=fv)
    flags.DEFINE_bool("compilation_cache", True, "use JAX's persistent compilation cache", flag_values=fv)
    argv = list(argv)
    if any(a in ("-h", "--help", "-help", "--helpfull") for a in argv):
        print(_USAGE.split("\n\nIn Python")[0])
        print(fv.get_help())
        raise SystemExit(0)
    _check_config_overrides(argv)
    config_flags.DEFINE_config_dict("config", ba_config.default_config(), "bundle-adjustment settings",
                                    flag_values=fv, sys_argv=[PROG] + argv)
    try:
        rest = fv([PROG] + argv)
    except (flags.Error, AttributeError, KeyError, ValueError) as e:
        _fail(f"{e} (see --help)")
    if len(rest) > 1:
        _fail(f"unexpected arguments {rest[1:]} (flags are --name=value)")
    if not fv.keypoints:
        _fail("--keypoints is required (an OpenPose JSON folder, a COCO keypoint .json or an .npz)")
    if fv.num_figure_frames < 1:
        _fail(f"--num_figure_frames must be positive, got {fv.num_figure_frames}")
    return fv


def _image_size(text: Optional[str]) -> Optional[Tuple[int, int]]:
    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        _fail(f"--image_size must be W,H in pixels (e.g. 1920,1080), got {text!r}")
    if w <= 0 or h <= 0:
        _fail(f"--image_size must be positive, got {text!r}")
    return w, h


def _frame_range(text: Optional[str], num_frames: int) -> Tuple[int, int]:
    """[start, stop) of --frames=START:STOP (slice semantics) within `num_frames` rows."""
    if text is None:
        return 0, num_frames
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start, stop = (int(p) if p.strip() else None for p in parts)
    except ValueError:
        _fail(f"--frames must be START:STOP (e.g. 0:100, 50:, :-10), got {text!r}")
    start, stop, _ = slice(start, stop).indices(num_frames)
    if stop <= start:
        _fail(f"--frames={text} selects no frames of the {num_frames} in the input")
    return start, stop


# ----------------------------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------------------------


def _read_keypoints(path: str, frames: Optional[str]):
    """The input's detections in the selected frames, as `bundle_adjust` takes them.

    Returns:
      (keypoints, detections, source, (start, stop)): keypoints is (T, K, 3) for one person's
      input, else (T, P, K, 3) without detection slots that are empty in every selected frame;
      detections is always (T, P, K, 3).
    """
    from posejax.fitting.ba_inputs import read_video_keypoints

    try:
        source = read_video_keypoints(path)
    except (ValueError, OSError) as e:
        _fail(f"--keypoints={path}: {e}")
    start, stop = _frame_range(frames, source.num_frames)
    det = source.detections[start:stop]
    if not source.multi_person:
        return det[:, 0], det, source, (start, stop)
    # A slot used only outside the selected frames would add a dimension (and a compilation).
    used = np.any(det[..., 2] > 0, axis=(0, 2))
    det = det[:, used] if used.any() else det[:, :1]
    return det, det, source, (start, stop)


def _check_video(path: str) -> None:
    from posejax.io.video import check_video

    try:
        check_video(path)
    except (ImportError, OSError, ValueError) as e:
        _fail(f"--video={path}: {e}")


def _read_frames(path: str, frames: np.ndarray) -> List[np.ndarray]:
    from posejax.io.video import read_video_frames

    try:
        return read_video_frames(path, [int(f) for f in frames])
    except (ImportError, OSError, ValueError) as e:
        _fail(f"--video={path}: {e}")


def _figure_frames(num_frames: int, count: int) -> np.ndarray:
    """Up to `count` frames spread evenly over the clip, first and last included."""
    return np.unique(np.linspace(0, num_frames - 1, min(count, num_frames)).round().astype(np.int64))


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------


def frame_reprojection_px(keypoints2d: np.ndarray, detections: np.ndarray) -> np.ndarray:
    """Per-frame error of a fit: confidence-weighted mean keypoint distance to the closest
    detection (the definition of `Init.reprojection_error`).

    Args:
      keypoints2d: (T, K, 2) fitted keypoints, pixels.
      detections: (T, P, K, 3) x, y (pixels), confidence in the same layout; missing keypoints
        have confidence 0 or NaN coordinates.

    Returns:
      (T,) pixels; NaN for frames without any detected keypoint.
    """
    dist = np.linalg.norm(detections[..., :2] - keypoints2d[:, None], axis=-1)   # (T, P, K)
    valid = (detections[..., 2] > 0) & np.isfinite(dist)
    w = np.where(valid, detections[..., 2], 0.0)
    total = w.sum(-1)
    per_det = np.where(total > 0, (w * np.where(valid, dist, 0.0)).sum(-1) / np.maximum(total, 1e-12),
                       np.inf)
    best = per_det.min(-1) if per_det.shape[1] else np.full(per_det.shape[0], np.inf)
    return np.where(np.isfinite(best), best, np.nan).astype(np.float32)


def _npz_ready(results: Dict[str, Any]) -> Dict[str, Any]:
    """`BAResult.to_dict()` with the per-stage solver list as one array per field (npz has no
    lists of dicts)."""
    solver = dict(results["solver"])
    stages = solver.get("stages")
    if isinstance(stages, (list, tuple)):
        fields = list(stages[0]) if stages else []
        solver["stages"] = {k: np.asarray([s[k] for s in stages]) for k in fields}
    return {**results, "solver": solver}


def _write_figures(folder: str, result: BAResult, detections: np.ndarray, det_layout: str,
                   shown: np.ndarray, start: int, images, body_model: str) -> List[str]:
    from posejax.body import kinematics
    from posejax.body.loading import load_body_model
    from posejax.viz import plot_ba_bodies, plot_ba_per_frame, plot_ba_reprojection, save_figure

    model = load_body_model(body_model)
    pose = result.theta[shown].reshape(-1, 24, 3)
    verts = np.asarray(kinematics.vertices(model, pose, result.betas[None].repeat(len(shown), 0)))
    err = frame_reprojection_px(result.keypoints2d, _in_layout(detections, det_layout, result.layout))
    init_err = None
    if result.init is not None:
        init_err = np.where(result.init.valid, result.init.reprojection_error, np.nan)
    name = f"{result.num_frames} frames, {result.layout}, {result.camera_mode} camera"
    figs = {
        "bodies_3d.png": plot_ba_bodies(result.joints[shown], frames=shown + start, vertices=verts,
                                        faces=np.asarray(model.faces), inlier=result.inlier[shown],
                                        title=f"bundle adjustment: {name} (front = camera view)"),
        "per_frame.png": plot_ba_per_frame(result.inlier, err, initial_reprojection_px=init_err,
                                           frames=np.arange(result.num_frames) + start,
                                           title=f"per-frame fit: {name}, E_norm {result.E_norm:.3g}"),
        "reprojection.png": plot_ba_reprojection(
            result.keypoints2d[shown], result.layout, frames=shown + start, images=images,
            image_size=result.image_size, detections=detections[shown], detection_layout=det_layout,
            inlier=result.inlier[shown], title="fit reprojected"),
    }
    return [save_figure(fig, os.path.join(folder, name), dpi=100) for name, fig in figs.items()]


def _in_layout(detections: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Detections converted to the fit's layout (the fit may have converted them to coco17)."""
    if src == dst:
        return detections
    from posejax.body.layouts import convert_keypoints

    return np.asarray(convert_keypoints(detections, src, dst)[0], np.float32)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Runs the command (module docstring).

    Args:
      argv: the arguments without the program name (default: sys.argv[1:]).

    Returns:
      {"result": BAResult, "out": results path, "figures": figure paths}.

    Raises:
      SystemExit: with a message for bad flags or inputs.
    """
    fv = _parse(sys.argv[1:] if argv is None else argv)
    log = print if fv.verbose else (lambda *a, **k: None)
    if fv.compilation_cache:
        from posejax.compilation_cache import enable_compilation_cache

        log(f"compilation cache: {enable_compilation_cache()}")
    if os.path.splitext(fv.out)[1].lower() not in (".npz", ".json"):
        _fail(f"--out must end in .npz or .json, got {fv.out!r}")
    image_size = _image_size(fv.image_size)
    if fv.video is not None:
        _check_video(fv.video)  # before reading anything: a missing reader should not cost a solve

    keypoints, detections, source, (start, stop) = _read_keypoints(fv.keypoints, fv.frames)
    # The fit gets arrays (the selected frames), so the file's own layout and size are applied here.
    if fv.layout and source.layout and fv.layout != source.layout:
        _fail(f"--layout={fv.layout} contradicts the input file's layout {source.layout!r}")
    layout = fv.layout or source.layout
    if layout is None:
        _fail(f"--layout is required: {fv.keypoints} does not say which keypoint layout it holds")
    image_size = image_size or source.image_size
    t = stop - start
    shown = _figure_frames(t, fv.num_figure_frames)
    images = None
    if fv.video is not None and fv.figures:
        images = _read_frames(fv.video, shown + start)  # before the fit, to fail early
        video_size = (int(images[0].shape[1]), int(images[0].shape[0]))
        if image_size is None:
            image_size = video_size
        elif tuple(image_size) != video_size:
            log(f"warning: video frames are {video_size[0]}x{video_size[1]} px, the keypoints' image "
                f"{image_size[0]}x{image_size[1]}; the overlay assumes video pixels")
    if image_size is None:
        _fail(f"--image_size=W,H is required: {fv.keypoints} does not give it (nor does --video)")
    people = "" if keypoints.ndim == 3 else f", up to {keypoints.shape[1]} detections per frame"
    log(f"{fv.keypoints}: frames {start}:{stop} of {source.num_frames}, {layout}{people}")

    cfg = fv.config
    if fv.camera is not None:
        cfg.camera = fv.camera
    t0 = time.perf_counter()
    try:
        result = bundle_adjust(keypoints, layout=layout, image_size=image_size, body_model=fv.body_model,
                               config=cfg, pose_prior=fv.pose_prior, verbose=fv.verbose)
    except (ValueError, OSError) as e:
        _fail(str(e))
    selected = result.selected(cfg.selection.max_E_norm, cfg.selection.min_inlier_fraction)
    log(f"fitted {t} frames in {time.perf_counter() - t0:.1f} s (including compilation): E_norm "
        f"{result.E_norm:.4g}, inliers {result.inlier_fraction:.0%}, {result.solver['iterations']} "
        f"L-BFGS iterations, selected: {selected}")

    results = _npz_ready(result.to_dict())
    results["frame_reprojection_px"] = frame_reprojection_px(
        result.keypoints2d, _in_layout(detections, layout, result.layout))
    results["input"] = {"keypoints": os.path.abspath(fv.keypoints), "frames": np.array([start, stop])}
    from posejax.io.results import save_results

    out = save_results(fv.out, results)
    log(f"saved {out}")
    figures = []
    if fv.figures:
        folder = fv.figures_dir or os.path.splitext(fv.out)[0] + "_figures"
        figures = _write_figures(folder, result, detections, layout, shown, start, images, fv.body_model)
        log("figures: " + ", ".join(figures))
    return {"result": result, "out": out, "figures": figures}


# ----------------------------------------------------------------------------------------------
# `posejax.bundle_adjust` is both this module and the function
# ----------------------------------------------------------------------------------------------


class _CallableModule(types.ModuleType):
    """The module `posejax.bundle_adjust`, callable as the library function `bundle_adjust`.

    `posejax.bundle_adjust(...)` is the public function, and `python -m posejax.bundle_adjust` needs
    a module of the same name. Importing a submodule sets the package attribute of that name to the
    module, so `import posejax.bundle_adjust` (by the command, a test, a user) would replace the
    function with a module. Instead the module is the function too: calling it calls
    `posejax.fitting.bundle_adjustment.bundle_adjust`, and its `__wrapped__`, `__signature__` and
    `__doc__` are the function's (as `functools.wraps` would set them), so `inspect.signature` and
    `help` describe the function.
    """

    def __call__(self, *args, **kwargs) -> BAResult:
        return bundle_adjust(*args, **kwargs)


__wrapped__ = bundle_adjust
__signature__ = inspect.signature(bundle_adjust)
__doc__ = (inspect.cleandoc(bundle_adjust.__doc__)
           + "\n\nThe command line `python -m posejax.bundle_adjust` lives in this module too:\n\n" + _USAGE)
sys.modules[__name__].__class__ = _CallableModule


if __name__ == "__main__":
    main()
