"""Pseudo ground truth at scale: batch plan, selection, resumable runs (interrupted, and a process
killed mid-run), the TFDS output, the CLI, the batch solve on two devices.

The fits use the bundle-adjustment tests' shapes and short solver (`FAST`, 30-frame coco17 clips
padded to 50, batches of 2) so the compiled solver is shared with them.
"""

from __future__ import annotations

import json
import os

import ml_collections
import numpy as np
import pytest

from posejax.data_loading import load_dataset
from posejax.fitting.synthetic_video import synthetic_video
from posejax.pseudo_gt import (Clip, get_config, plan_batches, read_clips, read_records, run_pseudo_gt, select,
                               statistics)
from posejax.synth.procedural import procedural_clips
from tests.fitting.test_bundle_adjustment import FAST, SIZE, T


def config():
    cfg = get_config()
    cfg.batch_size = 2
    cfg.ba.update(FAST)
    cfg.selection.max_E_norm = float("inf")  # E_norm's scale follows the image; not under test here
    cfg.selection.tau_R_px = 60.0            # the short solve leaves larger reprojection errors
    return cfg


@pytest.fixture(scope="module")
def clips():
    """Four 30-frame coco17 clips of procedural motion with their true joints; the last one lost
    its detections in 60% of the frames (a clip the selection must discard)."""
    motion = procedural_clips(2, duration_s=(1.2, 1.2))
    out = []
    for i in range(4):
        v = synthetic_video(motion[i % 2], seed=i, num_frames=T, image_size=SIZE,
                            missing_fraction=0.6 if i == 3 else 0.05)
        out.append(Clip(f"clip_{i}", v.keypoints, "coco17", SIZE, truth_joints=v.joints))
    return out


def _examples(data_dir):
    splits = load_dataset("pseudo_gt", data_dir=data_dir, prepare=False)
    return {name: [src[i] for i in range(len(src))] for name, src in splits.items()}


def test_plan_groups_by_padded_length_layout_and_slots():
    def clip(name, t, layout="coco17", people=0):
        shape = (t, people, 17, 3) if people else (t, 17, 3)
        return Clip(name, np.zeros(shape, np.float32), layout, (100, 100), multi_person=bool(people))

    clips = [clip("a", 30), clip("b", 120), clip("c", 50), clip("d", 45, people=2), clip("e", 10),
             clip("f", 51), clip("g", 40, layout="body25b")]
    plan = plan_batches(clips, batch_size=2, length_multiple=50)
    got = [(b.length, [clips[i].clip_id for i in b.clips]) for b in plan]
    # Sorted by (padded length, layout, slots), source order inside a group.
    assert got == [(50, ["g"]), (50, ["a", "c"]), (50, ["e"]), (50, ["d"]), (100, ["f"]), (150, ["b"])]
    assert [b.index for b in plan] == list(range(6)) and plan[0].name == "batch_00000"
    with pytest.raises(ValueError, match="positive"):
        plan_batches(clips, batch_size=0, length_multiple=50)


def test_selection_thresholds_and_statistics():
    sel = ml_collections.ConfigDict(dict(max_E_norm=100.0, min_inlier_fraction=0.5, tau_R_px=10.0))
    rec = {"ba_inlier": np.array([True, True, False, True]), "reprojection_px": np.array([1.0, 12.0, 1.0, np.nan]),
           "E_norm": np.float32(50.0), "has_truth": np.bool_(True), "pa_mpjpe_mm": np.float32(40.0),
           "init_pa_mpjpe_mm": np.float32(60.0)}
    # Frame 1 is over tau_R, frame 2 an outlier, frame 3 has no detection: 1 of 4 frames kept.
    kept = select(rec, sel)
    np.testing.assert_array_equal(kept["frame_selected"], [False, False, False, False])
    assert not kept["selected"]
    sel.min_inlier_fraction = 0.25
    kept = select(rec, sel)
    assert kept["selected"] and kept["frame_selected"].tolist() == [True, False, False, False]
    high = select({**rec, "E_norm": np.float32(101.0), "pa_mpjpe_mm": np.float32(90.0)}, sel)
    assert not high["selected"] and not high["frame_selected"].any()
    stats = statistics([kept, high])
    assert stats["clips"] == 2 and stats["clips_kept"] == 1 and stats["frames"] == 8 and stats["frames_kept"] == 1
    assert stats["pa_mpjpe_mm_kept"] == 40.0 and stats["pa_mpjpe_mm_discarded"] == 90.0
    assert stats["pa_mpjpe_mm_init"] == 60.0 and stats["E_norm_p50"] == pytest.approx(75.5)


def test_interrupted_run_resumes_to_the_same_dataset(clips, tmp_path):
    whole = run_pseudo_gt(clips, str(tmp_path / "whole"), config(), verbose=False)
    assert whole["complete"] and whole["batches"] == 2 and whole["skipped"] == 0

    part = str(tmp_path / "part")
    first = run_pseudo_gt(clips, part, config(), max_batches=1, verbose=False)
    assert not first["complete"] and first["dataset_dir"] is None
    assert sorted(os.listdir(os.path.join(part, "shards"))) == ["batch_00000.npz"]
    # A write cut short by the kill leaves a temporary file: ignored, then replaced.
    with open(os.path.join(part, "shards", "batch_00001.npz.tmp"), "wb") as f:
        f.write(b"partial")
    assert len(read_records(part)) == 2
    second = run_pseudo_gt(clips, part, config(), verbose=False)
    assert second["complete"] and second["batches"] == 1 and second["skipped"] == 1

    a, b = _examples(whole["dataset_dir"]), _examples(second["dataset_dir"])
    assert sorted(a) == sorted(b) == ["rejected", "train"]
    assert "clip_3" in [e["clip_id"].decode() for e in a["rejected"]] and len(a["train"]) >= 2
    for split in a:
        assert [e["clip_id"] for e in a[split]] == [e["clip_id"] for e in b[split]]
        for x, y in zip(a[split], b[split]):
            for key in x:
                np.testing.assert_array_equal(x[key], y[key], err_msg=key)
    with open(os.path.join(part, "statistics.json")) as f:
        assert json.load(f) == whole["statistics"]

    # The records: fitted shapes, finite values, truth-based errors, the input kept.
    ex = a["train"][0]
    assert ex["pose"].shape == (T, 24, 3) and ex["joints3d"].shape == (T, 24, 3)
    assert ex["keypoints2d"].shape == (T, 17, 2) and ex["camera_scale"].shape == (T,)
    assert np.isfinite(ex["pose"]).all() and np.isfinite(ex["joints3d"]).all()
    assert 0 < ex["pa_mpjpe_mm"] < 300 and ex["has_truth"] and ex["selected"] and ex["frame_selected"].any()
    src = clips[int(ex["clip_id"].decode()[-1])]
    np.testing.assert_array_equal(ex["confidence"], src.keypoints[..., 2])
    # A pseudo-GT dataset is itself a source (its kept clips' inputs, with their truth).
    again = read_clips(os.path.join(whole["dataset_dir"], "pseudo_gt", "1.0.0"), split="train")
    assert [c.clip_id for c in again] == [f"train/{i:06d}" for i in range(len(a["train"]))]
    assert again[0].layout == "coco17" and again[0].image_size == SIZE
    np.testing.assert_array_equal(again[0].keypoints[..., 2], ex["confidence"])
    np.testing.assert_array_equal(again[0].truth_joints, src.truth_joints)
    # The lifter's view of the kept frames: the fitted pose as the camera sees it projects onto the
    # input keypoints (both unit-scaled; a wrong camera-axis convention would flip y).
    from posejax.body.layouts import get_layout, hip_indices
    from posejax.tasks.canonpose import pseudo_gt_frames

    frames = pseudo_gt_frames(whole["dataset_dir"], "coco17", hip_indices(get_layout("coco17")), True)
    assert len(frames["inputs"]) == sum(int(e["frame_selected"].sum()) for e in a["train"])
    xy = frames["inputs"][:, :34].reshape(-1, 17, 2)
    gap = np.linalg.norm(frames["target"][..., :2] - xy, axis=-1)[frames["present"]]
    flipped = np.linalg.norm(frames["target"][..., :2] * [1, -1] - xy, axis=-1)[frames["present"]]
    assert np.median(gap) < 0.05 < np.median(flipped)
    stats = whole["statistics"]
    assert stats["clips"] == 4 and stats["frames"] == 4 * T and stats["clips_with_truth"] == 4

    # Other thresholds reuse the fits and rewrite the dataset; other fitting settings are refused.
    strict = config()
    strict.selection.tau_R_px = 0.01
    again = run_pseudo_gt(clips, part, strict, verbose=False)
    assert again["batches"] == 0 and again["statistics"]["clips_kept"] == 0
    assert sorted(_examples(again["dataset_dir"])) == ["rejected"]
    other = config()
    other.ba.solver.stages = (3, 7)
    with pytest.raises(ValueError, match="other clips or settings"):
        run_pseudo_gt(clips, part, other, verbose=False)


def test_cli_fits_a_folder_of_files(clips, tmp_path, capsys):
    from posejax.pseudo_gt.__main__ import main

    folder = tmp_path / "clips"
    folder.mkdir()
    for c in clips[:2]:
        np.savez(folder / f"{c.clip_id}.npz", keypoints=c.keypoints, layout="coco17", image_size=np.array(SIZE))
    (folder / "notes.txt").write_text("not a clip")
    out = str(tmp_path / "run")
    args = [f"--dataset={folder}", f"--out={out}", "--config.batch_size=2", "--config.ba.solver.stages=(3, 6)",
            "--config.ba.init.iterations=0", "--nocompilation_cache"]
    summary = main(args)
    assert summary["complete"] and summary["statistics"]["clips"] == 2
    printed = capsys.readouterr().out
    assert "2 clips from" in printed and "clips kept:" in printed and "clips/min" in printed
    ids = sorted(e["clip_id"].decode() for split in _examples(summary["dataset_dir"]).values() for e in split)
    assert ids == ["clip_0.npz", "clip_1.npz"]
    again = main(args)  # finished: nothing to solve
    assert again["batches"] == 0 and again["skipped"] == 1
    with pytest.raises(SystemExit, match="batchsize"):
        main(args + ["--config.batchsize=3"])
    with pytest.raises(SystemExit, match="--out is required"):
        main([f"--dataset={folder}"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no clips"):
        main([f"--dataset={tmp_path / 'empty'}", f"--out={tmp_path / 'x'}"])
    with pytest.raises(SystemExit, match="needs a `keypoints` array"):   # a shard is no clip
        main([f"--dataset={tmp_path / 'run' / 'shards'}", f"--out={tmp_path / 'x'}"])


_TWO_DEVICES = """
import json, sys
import numpy as np
import jax
from posejax.fitting.bundle_adjustment import bundle_adjust_batch
from tests.fitting.test_bundle_adjustment import FAST, SIZE
data = np.load(sys.argv[1])
kps = [data[k] for k in sorted(data.files)]
results = bundle_adjust_batch(kps, layout="coco17", image_size=SIZE, config=FAST)
print(json.dumps({"devices": jax.device_count(), "theta": [r.theta.tolist() for r in results]}))
"""


def test_batch_solve_is_data_parallel_over_devices(clips, tmp_path):
    import subprocess
    import sys

    from posejax.fitting.bundle_adjustment import bundle_adjust_batch

    kps = [c.keypoints for c in clips[:3]]  # 3 clips on 2 devices: padded to 4
    np.savez(tmp_path / "clips.npz", **{f"k{i}": k for i, k in enumerate(kps)})
    one = bundle_adjust_batch(kps, layout="coco17", image_size=SIZE, config=FAST)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _TWO_DEVICES, str(tmp_path / "clips.npz")], cwd=root, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    two = json.loads(out.stdout.strip().splitlines()[-1])
    assert two["devices"] == 2 and len(two["theta"]) == 3
    for a, b in zip(one, two["theta"]):
        np.testing.assert_allclose(np.asarray(b), a.theta, atol=1e-4)


def test_killed_process_resumes_to_the_same_dataset(clips, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from posejax.pseudo_gt.__main__ import main

    folder = tmp_path / "clips"
    folder.mkdir()
    for i in range(6):
        c = clips[i % 3]
        np.savez(folder / f"clip_{i}.npz", keypoints=c.keypoints, layout="coco17", image_size=np.array(SIZE))
    args = ["--config.batch_size=1", "--config.ba.solver.stages=(3, 300)", "--config.ba.solver.tol=0.0",
            "--config.ba.init.iterations=0", "--nocompilation_cache"]
    killed = str(tmp_path / "killed")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-m", "posejax.pseudo_gt", f"--dataset={folder}", f"--out={killed}"]
                            + args, cwd=root, env=dict(os.environ, JAX_PLATFORMS="cpu"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = os.path.join(killed, "shards", "batch_00000.npz")
    deadline = time.time() + 300
    while not os.path.exists(first) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = [n for n in os.listdir(os.path.join(killed, "shards")) if n.endswith(".npz")]
    assert 1 <= len(done) < 6, done                        # killed half-way
    assert not os.path.exists(os.path.join(killed, "tfds"))
    resumed = main([f"--dataset={folder}", f"--out={killed}"] + args)
    assert resumed["complete"] and resumed["skipped"] == len(done) and resumed["batches"] == 6 - len(done)
    whole = main([f"--dataset={folder}", f"--out={tmp_path / 'whole'}"] + args)
    a, b = _examples(whole["dataset_dir"]), _examples(resumed["dataset_dir"])
    assert sorted(a) == sorted(b)
    for split in a:
        for x, y in zip(a[split], b[split]):
            for key in x:
                np.testing.assert_array_equal(x[key], y[key], err_msg=key)
