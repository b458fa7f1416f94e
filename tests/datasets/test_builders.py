"""The four TFDS builders build their tiny configs without TensorFlow and read back their features."""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

from posejax import data_loading
from tests.conftest import shared_data_dir


@pytest.fixture(scope="module", autouse=True)
def no_tensorflow():
    assert importlib.util.find_spec("tensorflow") is None, "TensorFlow must not be installed"
    yield
    assert "tensorflow" not in sys.modules


def _check(example, shapes):
    for key, shape in shapes.items():
        value = example[key]
        got = np.shape(value)
        assert len(got) == len(shape), (key, got, shape)
        for g, s in zip(got, shape):
            assert s is None or g == s, (key, got, shape)


def _assert_same(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        elif isinstance(a[key], list):
            assert [x.decode() if isinstance(x, bytes) else x for x in a[key]] == \
                   [x.decode() if isinstance(x, bytes) else x for x in b[key]], key
        else:
            assert a[key] == b[key] or (isinstance(a[key], bytes) and a[key].decode() == b[key]), key


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


def test_synthetic_multiview_tiny(data_dir, capsys):
    from posejax_datasets.synthetic_multiview import stream_examples

    splits = data_loading.load_dataset("synthetic_multiview", "tiny", data_dir=data_dir)
    assert "embedded procedural motion" in capsys.readouterr().out
    assert len(splits["train"]) == 3 and len(splits["validation"]) == 2
    V, T, K = 4, 8, 23
    ex = splits["train"][0]
    # As a pseudo-ground-truth source, every view is a clip.
    from posejax.pseudo_gt import read_clips

    clips = read_clips("synthetic_multiview/tiny", data_dir=data_dir, limit=1)
    assert [c.clip_id for c in clips] == [f"train/000000/view{v}" for v in range(V)]
    np.testing.assert_array_equal(clips[2].keypoints[..., :2], ex["keypoints2d"][2])
    np.testing.assert_array_equal(clips[2].truth_joints, ex["joints3d_cam"][2])
    assert clips[2].layout == "coco23" and clips[2].image_size == (1000, 1000)
    _check(ex, dict(keypoints2d=(V, T, K, 2), confidence=(V, T, K), visible=(V, T, K),
                    keypoints2d_clean=(V, T, K, 2), joints3d=(T, 24, 3), keypoints3d=(T, K, 3),
                    joints3d_cam=(V, T, 24, 3), keypoints3d_cam=(V, T, K, 3), camera_K=(V, 3, 3),
                    camera_R=(V, T, 3, 3), camera_t=(V, T, 3), camera_center=(V, T, 3), hfov=(V,),
                    pose=(T, 24, 3), transl=(T, 3), betas=(10,), clip_id=(T,)))
    assert ex["keypoints2d"].dtype == np.float32 and ex["visible"].dtype == bool
    assert ex["rig"] == b"static" and float(ex["fps"]) == 10.0
    # A static rig: the stored per-frame cameras are the same in every frame.
    np.testing.assert_array_equal(ex["camera_R"], np.repeat(ex["camera_R"][:, :1], T, axis=1))
    # The stored cameras reproject the stored 3D keypoints onto the clean 2D keypoints.
    cam = np.einsum("vtij,tkj->vtki", ex["camera_R"], ex["keypoints3d"]) + ex["camera_t"][:, :, None]
    uvw = np.einsum("vij,vtkj->vtki", ex["camera_K"], cam)
    np.testing.assert_allclose(uvw[..., :2] / uvw[..., 2:], ex["keypoints2d_clean"], atol=2e-2)
    # Deterministic: streaming with the config's seed gives the stored examples.
    streamed = list(stream_examples("tiny", num_examples=2))
    for i in range(2):
        _assert_same(splits["train"][i], streamed[i])
    assert not np.allclose(splits["train"][0]["keypoints2d"], splits["train"][1]["keypoints2d"])


def test_synthetic_sequences_tiny(data_dir, capsys):
    from posejax_datasets.synthetic_sequences import stream_examples

    splits = data_loading.load_dataset("synthetic_sequences", "tiny", data_dir=data_dir)
    assert "embedded procedural motion" in capsys.readouterr().out
    assert len(splits["train"]) == 3 and len(splits["validation"]) == 2
    K = 23
    for ex in (splits["train"][0], splits["validation"][1]):
        T = ex["pose"].shape[0]
        assert T >= 30
        _check(ex, dict(keypoints2d=(T, K, 2), confidence=(T, K), visible=(T, K),
                        keypoints2d_clean=(T, K, 2), person_scale=(T,), pose=(T, 24, 3),
                        betas=(10,), transl=(T, 3), transl_hn=(T, 3), height=(), camera=(4,),
                        camera_height_hn=(), joints3d=(T, 24, 3), keypoints3d=(T, K, 3),
                        clip_id=(T,), clip_boundaries=(None,), clip_index=(None,)))
        C = ex["clip_boundaries"].shape[0]
        assert len(ex["clip_names"]) == C and ex["clip_boundaries"][0] == 0
        assert ex["clip_id"].min() == 0 and ex["clip_id"].max() == C - 1
        np.testing.assert_allclose(ex["transl_hn"], ex["transl"] * 1.72 / ex["height"], rtol=1e-4,
                                   atol=1e-5)
        assert np.all((ex["confidence"] >= 0) & (ex["confidence"] <= 1))
    streamed = list(stream_examples("tiny", num_examples=2))
    for i in range(2):
        _assert_same(splits["train"][i], streamed[i])

    # The same dataset as a pseudo-ground-truth source (by name, and by its prepared folder).
    from posejax.pseudo_gt import read_clips

    clips = read_clips("synthetic_sequences/tiny", split="validation", data_dir=data_dir)
    ex = splits["validation"][1]
    assert [c.clip_id for c in clips] == ["validation/000000", "validation/000001"]
    assert clips[1].layout == "coco23" and clips[1].image_size == (1000, 1000) and not clips[1].multi_person
    np.testing.assert_array_equal(clips[1].keypoints[..., :2], ex["keypoints2d"])
    np.testing.assert_array_equal(clips[1].keypoints[..., 2], ex["confidence"])
    np.testing.assert_array_equal(clips[1].truth_joints, ex["joints3d"])
    folder = os.path.join(data_dir, "synthetic_sequences", "tiny", "1.0.0")
    assert len(read_clips(folder, limit=2)) == 2
    with pytest.raises(ValueError, match="no split 'test'"):
        read_clips("synthetic_sequences/tiny", split="test", data_dir=data_dir)


def _fake_amass(path, frames, fps, gender, seed):
    """An AMASS SMPL-H style npz: poses (T, 156), trans (T, 3), betas (16,), z-up world."""
    rng = np.random.default_rng(seed)
    poses = 0.1 * rng.standard_normal((frames, 156)).astype(np.float32)
    trans = np.cumsum(0.01 * rng.standard_normal((frames, 3)), 0).astype(np.float32)
    np.savez(path, poses=poses, trans=trans, betas=rng.standard_normal(16).astype(np.float32),
             mocap_framerate=np.float64(fps), gender=np.array(gender))


def test_amass_tiny(tmp_path, data_dir, capsys):
    manual = tmp_path / "amass" / "SubjectA"
    manual.mkdir(parents=True)
    _fake_amass(manual / "walk_poses.npz", 300, 120.0, "female", 0)
    _fake_amass(manual / "run_poses.npz", 12, 60.0, "male", 1)
    np.savez(manual / "shape.npz", betas=np.zeros(16), gender=np.array("female"))  # no motion
    splits = data_loading.load_dataset("amass", "tiny", data_dir=data_dir,
                                       manual_dir=str(tmp_path / "amass"))
    assert "AMASS files" in capsys.readouterr().out
    train = splits["train"]
    assert len(train) == 2  # shape.npz skipped
    by_name = {train[i]["name"].decode(): train[i] for i in range(2)}
    assert sorted(by_name) == ["SubjectA/run_poses", "SubjectA/walk_poses"]
    walk, run = by_name["SubjectA/walk_poses"], by_name["SubjectA/run_poses"]
    assert walk["pose"].shape == (20, 24, 3)  # 2 s max at 10 fps
    assert run["pose"].shape == (2, 24, 3)  # 12 frames at 60 fps = 0.2 s
    for ex in (walk, run):
        T = ex["pose"].shape[0]
        _check(ex, dict(pose=(T, 24, 3), transl=(T, 3), betas=(10,)))
        assert float(ex["fps"]) == 10.0
    assert float(walk["source_fps"]) == 120.0 and walk["gender"] == b"female"
    # Z-up AMASS -> Y-up posejax world: (x, y, z) -> (x, z, -y); frame 0 is kept by resampling.
    trans0 = np.load(manual / "walk_poses.npz")["trans"][0]
    np.testing.assert_allclose(walk["transl"][0], [trans0[0], trans0[2], -trans0[1]], atol=1e-5)


def test_cmu_mocap_tiny_plumbing(tmp_path, monkeypatch, capsys):
    """Reading, resampling and storing, with the (slow) retargeting replaced by a stub."""
    import posejax.fitting.retarget as retarget_mod
    from posejax.synth.motion import MotionClip

    cmu = shared_data_dir("cmu_mocap")

    class Report:
        mean_error_mm, max_error_mm = 12.5, 30.0

    def fake_retarget(motion, model, fps=30.0, **kw):
        n = motion.num_frames
        transl = np.zeros((n, 3), np.float32)
        transl[:, 1] = 0.9
        return MotionClip(motion.name, "cmu", fps, np.zeros((n, 24, 3)), transl, np.zeros(10)), Report()

    monkeypatch.setattr(retarget_mod, "retarget", fake_retarget)
    splits = data_loading.load_dataset("cmu_mocap", "tiny", data_dir=str(tmp_path),
                                       manual_dir=cmu)
    assert "CMU files" in capsys.readouterr().out
    train = splits["train"]
    assert len(train) == 1
    ex = train[0]
    T = 29  # 343 frames at 120 fps -> 10 fps
    P = len(ex["point_names"])
    assert ex["name"] == b"cmu_02_01" and ex["source_format"] == b"asf_amc" and P == 31
    _check(ex, dict(pose=(T, 24, 3), transl=(T, 3), betas=(10,), joints3d=(T, 24, 3),
                    points3d=(T, P, 3), point_parents=(P,)))
    assert float(ex["fit_error_mm"]) == 12.5 and float(ex["fps"]) == 10.0
    # The source points are the walk in metres: the root travels about 3.3 m.
    root = ex["points3d"][:, list(ex["point_names"]).index(b"root")]
    assert 3.0 < np.linalg.norm((root[-1] - root[0])[[0, 2]]) < 3.6


@pytest.mark.slow
def test_cmu_mocap_tiny_retargeted(tmp_path):
    """The real tiny build: retargets the 02_01 walk to the open model (~1 min on 2 cores)."""
    cmu = shared_data_dir("cmu_mocap")
    splits = data_loading.load_dataset("cmu_mocap", "tiny", data_dir=str(tmp_path), manual_dir=cmu)
    ex = splits["train"][0]
    assert ex["pose"].shape == (29, 24, 3)
    assert float(ex["fit_error_mm"]) <= 30.0
    # The fitted joints follow the source skeleton: pelvis vs the ASF root within 10 cm.
    root = ex["points3d"][:, list(ex["point_names"]).index(b"root")]
    assert np.median(np.linalg.norm(ex["joints3d"][:, 0] - root, axis=-1)) < 0.1


def test_data_loading_helpers(data_dir):
    splits = data_loading.load_dataset("synthetic_multiview", "tiny", data_dir=data_dir)
    batches = list(data_loading.batches(splits["train"], 2, seed=0, num_epochs=2,
                                        transform=data_loading.crop_time(
                                            5, {"keypoints2d": 1, "confidence": 1, "pose": 0})))
    assert len(batches) == 2  # 3 examples, batch 2, remainder dropped, 2 epochs
    assert batches[0]["keypoints2d"].shape == (2, 4, 5, 23, 2)
    assert batches[0]["pose"].shape == (2, 5, 24, 3)
    assert len(batches[0]["clip_names"]) == 2
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        data_loading.get_builder("nope")
    with pytest.raises(ValueError, match="has no config 'huge'"):
        data_loading.get_builder("amass", "huge")
    with pytest.raises(ValueError, match=r"cannot batch feature '\w+': examples have shapes"):
        seq = data_loading.load_dataset("synthetic_sequences", "tiny", data_dir=data_dir)
        lengths = {seq["train"][i]["pose"].shape[0] for i in range(3)}
        if len(lengths) == 1:
            pytest.skip("tiny sequences happen to have equal lengths")
        list(data_loading.batches(seq["train"], 3, shuffle=False))


def test_cli_list_and_info(data_dir, capsys):
    assert data_loading.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("cmu_mocap", "amass", "synthetic_sequences", "synthetic_multiview"):
        assert name in out
    assert data_loading.main(["info", "synthetic_multiview", "--config=tiny",
                              f"--data_dir={data_dir}"]) == 0
    assert "train: 3 examples" in capsys.readouterr().out


def test_a_build_larger_than_the_memory_buffer_spills_to_disk_without_tensorflow(tmp_path, monkeypatch):
    # TFDS keeps up to 1 GB of a split in memory and spills the rest to temporary files through
    # `tf.io.gfile`; with a buffer of 1 byte every example spills, and the build still succeeds
    # without TensorFlow and stores the streamed examples in order.
    from tensorflow_datasets.core import shuffle

    from posejax_datasets.synthetic_sequences import stream_examples

    monkeypatch.setattr(shuffle, "MAX_MEM_BUFFER_SIZE", 1)
    original = shuffle.tf
    splits = data_loading.load_dataset("synthetic_sequences", "tiny", data_dir=str(tmp_path))
    assert shuffle.tf is original   # the stand-in is only there during the build
    streamed = list(stream_examples("tiny", split="validation", num_examples=2))
    for i in range(2):
        _assert_same(splits["validation"][i], streamed[i])
