"""`python -m posejax.bundle_adjust` run in-process, and `posejax.bundle_adjust` as the function.

Compilation dominates on a CPU, so every fit here has the same shapes: 30 frames (padded to 50)
of BODY_25B detections with two detection slots, like the first 30 frames of the real clip's
camera 1 (the main person and a bystander); the solver runs 5 + 10 iterations.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import posejax  # noqa: E402
from posejax import bundle_adjust as cli  # noqa: E402  (the callable module)
from posejax.fitting import bundle_adjustment  # noqa: E402
from posejax.io.results import load_results  # noqa: E402
from tests.conftest import shared_data_dir  # noqa: E402

T = 30
SHORT = {"solver": {"stages": (5, 10), "method": "posejax-lbfgs"}}
SHORT_FLAGS = ["--config.solver.stages=5,10", "--config.solver.method=posejax-lbfgs"]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def two_people():
    """Synthetic BODY_25B detections of two people crossing, (T, 2, 25, 3), 1920 x 1080 px."""
    from posejax.fitting.synthetic_video import two_person_video
    from posejax.synth.procedural import procedural_clips

    clips = procedural_clips(2, duration_s=(1.2, 1.2))
    return two_person_video(clips[0], clips[1], num_frames=T, layout="body25b", seed=1)


@pytest.fixture(scope="module")
def npz_input(two_people, tmp_path_factory):
    path = tmp_path_factory.mktemp("input") / "keypoints.npz"
    np.savez(path, keypoints=two_people.keypoints, layout="body25b",
             image_size=np.array(two_people.image_size))
    return str(path)


def _frame_folder(folder, num_frames, size):
    """A 'video' as a folder of PNG frames (graded grey, so the overlay has a background)."""
    from PIL import Image

    os.makedirs(folder)
    w, h = size
    row = np.linspace(60, 200, w).astype(np.uint8)
    for i in range(num_frames):
        img = np.repeat(np.repeat(row[None, :, None], h, 0), 3, 2)
        Image.fromarray(img).save(os.path.join(folder, f"frame_{i}.png"))
    return str(folder)


def test_cli_fits_a_synthetic_clip_and_writes_results_and_figures(npz_input, two_people, tmp_path, capsys):
    video = _frame_folder(tmp_path / "frames", T, two_people.image_size)
    out = tmp_path / "fit" / "result.npz"
    run = cli.main([f"--keypoints={npz_input}", f"--out={out}", f"--video={video}",
                    "--num_figure_frames=3", *SHORT_FLAGS])

    printed = capsys.readouterr().out
    assert "compilation cache:" in printed and "bundle_adjust: stage 1: 10 iterations" in printed
    assert f"saved {out}" in printed and "warning" not in printed

    saved = load_results(str(out))
    shapes = {"betas": (10,), "theta": (T, 72), "joints": (T, 24, 3), "keypoints3d": (T, 25, 3),
              "keypoints2d": (T, 25, 2), "inlier": (T,), "detection": (T,), "track": (T,),
              "image_size": (2,), "frame_reprojection_px": (T,)}
    for key, shape in shapes.items():
        assert np.shape(saved[key]) == shape, key
    assert saved["cameras"]["scale"].shape == (T,) and saved["cameras"]["translation"].shape == (T, 2)
    assert saved["init"]["theta"].shape == (T, 72) and saved["init"]["valid"].shape == (T,)
    assert saved["layout"] == "body25b" and saved["camera_mode"] == "weak"
    assert set(saved["energies"]) >= {"total", "E_R", "E_T", "E_P"}
    assert np.isfinite(saved["E_norm"]) and saved["trajectory_length"] > 0
    np.testing.assert_array_equal(saved["solver"]["stages"]["stage"], [0, 1])
    assert np.all(saved["solver"]["stages"]["iterations"] <= [5, 10])
    np.testing.assert_array_equal(saved["input"]["frames"], [0, T])
    np.testing.assert_array_equal(saved["image_size"], two_people.image_size)

    # The saved file is the returned result.
    result = run["result"]
    np.testing.assert_array_equal(saved["theta"], result.theta)
    # Even after 15 iterations the fit explains the tracked person's detections (3 px noise, 10%
    # outlier keypoints): the median per-frame error (px, confidence-weighted, closest detection)
    # measured 7.5 px; frames where only the other person was detected are outliers.
    err = saved["frame_reprojection_px"]
    assert np.all(np.isfinite(err[~two_people.missing])) and np.nanmedian(err) < 15.0

    names = sorted(os.path.basename(p) for p in run["figures"])
    assert names == sorted(cli.FIGURES)
    for path in run["figures"]:
        assert os.path.dirname(path) == str(tmp_path / "fit" / "result_figures")
        with open(path, "rb") as fh:
            assert fh.read(8) == PNG


def test_posejax_bundle_adjust_is_the_library_function(npz_input, two_people):
    from posejax import bundle_adjust

    lib = bundle_adjustment.bundle_adjust
    assert bundle_adjust is posejax.bundle_adjust and callable(bundle_adjust)
    assert bundle_adjust.__wrapped__ is lib
    assert inspect.signature(bundle_adjust) == inspect.signature(lib)
    assert inspect.getdoc(bundle_adjust).startswith(inspect.getdoc(lib))
    assert posejax.BAResult is bundle_adjustment.BAResult
    kwargs = dict(layout="body25b", image_size=two_people.image_size, config=SHORT)
    a = posejax.bundle_adjust(two_people.keypoints, **kwargs)
    b = lib(two_people.keypoints, **kwargs)
    assert isinstance(a, posejax.BAResult)
    np.testing.assert_allclose(a.theta, b.theta, atol=1e-6)
    np.testing.assert_array_equal(a.inlier, b.inlier)
    assert a.energies == pytest.approx(b.energies)
    # The CLI on the same input (from the .npz) gives the same fit.
    run = cli.main([f"--keypoints={npz_input}", "--nofigures", "--noverbose",
                    f"--out={os.path.dirname(npz_input)}/r.json", *SHORT_FLAGS])
    np.testing.assert_allclose(run["result"].theta, b.theta, atol=1e-6)


def test_import_posejax_leaves_the_fitting_stack_unloaded():
    code = ("import sys, posejax\n"
            "assert 'posejax.fitting' not in sys.modules and 'posejax.bundle_adjust' not in sys.modules\n"
            "assert 'bundle_adjust' in dir(posejax)\n"
            "f = posejax.bundle_adjust\n"
            "assert callable(f) and 'posejax.fitting.bundle_adjustment' in sys.modules\n"
            "assert 'matplotlib' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})


@pytest.mark.parametrize("args, message", [
    ([], "--keypoints is required"),
    (["--keypoints=/no/such/folder"], "does not exist"),
    (["--keypoints={npz}", "--frames=5"], "--frames must be START:STOP"),
    (["--keypoints={npz}", "--frames=40:50"], "selects no frames of the 30"),
    (["--keypoints={npz}", "--image_size=1920"], "--image_size must be W,H"),
    (["--keypoints={npz}", "--config.solver.nope=3"], "config.solver has no field 'nope'"),
    (["--keypoints={npz}", "--config.weights.pose_prior=x"], "could not convert string to float"),
    (["--keypoints={npz}", "--camera=orthographic"], "--camera"),
    (["--keypoints={npz}", "--out=result.txt"], "--out must end in .npz or .json"),
    (["--keypoints={npz}", "--layout=coco17"], "contradicts the input file's layout"),
    (["--keypoints={bare}"], "--layout is required"),
    (["--keypoints={bare}", "--layout=body25b"], "--image_size=W,H is required"),
    (["--keypoints={npz}", "--video={tmp}/none.mp4"], "does not exist"),
    (["--keypoints={npz}", "--pose_prior={tmp}/none.npz"], "pose prior"),
])
def test_cli_rejects_bad_input_with_a_clear_message(args, message, npz_input, two_people, tmp_path):
    bare = tmp_path / "bare.npz"
    np.savez(bare, keypoints=two_people.keypoints)
    args = [a.format(npz=npz_input, bare=bare, tmp=tmp_path) for a in args]
    if not any(a.startswith("--out") for a in args):
        args.append(f"--out={tmp_path}/r.npz")
    with pytest.raises(SystemExit) as info:
        cli.main([*args, "--nocompilation_cache", "--noverbose"])
    assert str(info.value.code).startswith("python -m posejax.bundle_adjust: error:")
    assert message in str(info.value.code)


def test_cli_video_file_without_a_reader_says_what_to_install(npz_input, tmp_path, monkeypatch):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 16)
    monkeypatch.setitem(sys.modules, "imageio", None)  # None in sys.modules: the import fails
    monkeypatch.setitem(sys.modules, "imageio.v3", None)
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(SystemExit, match="pip install imageio av"):
        cli.main([f"--keypoints={npz_input}", f"--video={video}", "--nocompilation_cache",
                  f"--out={tmp_path}/r.npz"])


def test_cli_help_prints_usage_and_flags(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    printed = capsys.readouterr().out
    assert "python -m posejax.bundle_adjust --keypoints=PATH" in printed and "--frames" in printed


@pytest.mark.slow
def test_cli_on_real_openpose_folder(tmp_path, capsys):
    folder = shared_data_dir("pose2sim_demo", "openpose_json", "cam01_json")
    out = tmp_path / "cam01.npz"
    run = cli.main([f"--keypoints={folder}", "--frames=0:30", "--image_size=1080,1920", f"--out={out}",
                    "--nofigures", *SHORT_FLAGS])
    assert "frames 0:30 of 100, body25b, up to 2 detections per frame" in capsys.readouterr().out
    saved = load_results(str(out))
    assert saved["theta"].shape == (T, 72) and saved["keypoints2d"].shape == (T, 25, 2)
    assert saved["layout"] == "body25b"
    np.testing.assert_array_equal(saved["input"]["frames"], [0, 30])
    assert run["result"].track is not None  # two people in these frames: the main one is tracked
    # The lab subject stands in the middle of a 1080 x 1920 frame, ~1100 px tall; after 15
    # iterations the fit sits on the detections within tens of pixels.
    err = saved["frame_reprojection_px"]
    assert np.all(np.isfinite(err)) and np.median(err) < 60.0
