"""The pooled-regressor task on the harness (tiny config)."""

from __future__ import annotations

import math
import os

import jax
import numpy as np
import pytest

from posejax.tasks.pooled_regressor import PooledRegressorTask, normalize_observations
from posejax.training import loop
from tests.conftest import tiny_experiment


def tiny_config(**overrides):
    return tiny_experiment("pooled_regressor", **overrides)


@pytest.fixture(scope="module")
def task():
    return PooledRegressorTask(tiny_config())


def test_normalize_observations():
    kp = np.array([[[500.0, 500.0], [1000.0, 250.0], [np.nan, 3.0]]], np.float32)
    conf = np.array([[1.0, 0.5, 0.9]], np.float32)
    out = normalize_observations(kp, conf, (1000, 1000))
    assert out.shape == (1, 3 * 3 + 3)
    # image units: (0, 0) and (1, -0.5); weighted centre (1/3, -1/6); offsets (-1/3, 1/6) and
    # (2/3, -1/3); weighted RMS size sqrt((1 * 5/36 + 0.5 * 20/36) / 1.5) = sqrt(5/18)
    size = np.sqrt(5 / 18)
    np.testing.assert_allclose(out[0, :6], [-1 / 3 / size, 1 / 6 / size, 0.5 * 2 / 3 / size,
                                            -0.5 / 3 / size, 0, 0], rtol=1e-5)  # x conf; NaN -> 0
    np.testing.assert_allclose(out[0, 6:9], [1.0, 0.5, 0.0])          # the NaN point is missing
    np.testing.assert_allclose(out[0, 9:], [1 / 3, -1 / 6, np.log(size)], rtol=1e-5)


def test_normalized_pose_is_independent_of_position_and_scale():
    rng = np.random.default_rng(0)
    kp = rng.uniform(300, 700, (5, 17, 2)).astype(np.float32)
    conf = rng.uniform(0.2, 1.0, (5, 17)).astype(np.float32)
    a = normalize_observations(kp, conf, (1000, 1000))
    b = normalize_observations(2.0 * kp, conf, (2000, 2000))  # the same picture, larger image
    np.testing.assert_allclose(a, b, atol=1e-5)
    c = normalize_observations(0.5 * kp + 40.0, conf, (1000, 1000))   # moved and shrunk
    np.testing.assert_allclose(a[:, :51], c[:, :51], atol=1e-4)        # pose part unchanged
    np.testing.assert_allclose(c[:, -1] - a[:, -1], np.log(0.5), atol=1e-5)
    empty = normalize_observations(kp[:1], np.zeros((1, 17), np.float32), (1000, 1000))
    np.testing.assert_array_equal(empty, 0.0)


def test_batches_are_deterministic_and_split_over_processes(task):
    a = task.train_batch(3, 4, 0, 1)
    b = task.train_batch(3, 4, 0, 1)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert a["frames"].shape[:3] == (4, 8, 32) and a["pose"].shape == (4, 8, 24, 3)
    halves = [task.train_batch(3, 2, p, 2) for p in (0, 1)]
    np.testing.assert_array_equal(np.concatenate([h["frames"] for h in halves]), a["frames"])
    assert not np.array_equal(task.train_batch(4, 4, 0, 1)["frames"], a["frames"])


def test_trains_and_evaluates_on_the_harness(tmp_path):
    cfg = tiny_config(num_steps=10, log_every=10, eval_every=10, checkpoint_every=10)
    _, scalars = loop.train_and_evaluate(cfg, str(tmp_path))
    assert set(scalars) == {"mpjpe_mm", "pa_mpjpe_mm", "translation_mm", "camera_fov", "camera_pitch",
                            "camera_roll", "camera_height"}
    assert all(math.isfinite(v) and v >= 0 for v in scalars.values())
    assert scalars["pa_mpjpe_mm"] <= scalars["mpjpe_mm"] + 1e-3  # Procrustes can only help
    assert sorted(os.listdir(tmp_path / "figures")) == ["step_10_camera.png", "step_10_trajectory.png"]
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["10"]
    _regress_then_refine_plumbing(str(tmp_path))


def _regress_then_refine_plumbing(workdir):
    """`python -m posejax.evaluate_refinement` on a finished run, with a stand-in for bundle
    adjustment that returns its start unchanged (the real one is measured in the README): the
    "regressor + BA" row must then equal the regressor's own error, since the initialisation only
    re-expresses the regressed body relative to the camera (PA-MPJPE ignores the rotation)."""
    from types import SimpleNamespace

    from posejax import evaluate_refinement as er
    from posejax.body import kinematics
    from posejax.fitting import bundle_adjustment

    def unchanged(keypoints, *, init=None, body_model=None, **_):
        t = keypoints.shape[0]
        pose = np.zeros((t, 24, 3), np.float32) if init is None else init["pose"]
        betas = np.zeros(10, np.float32) if init is None else init["betas"]
        start = SimpleNamespace(pose=pose, betas=betas)
        return SimpleNamespace(joints=np.asarray(kinematics.joints(body_model, pose, betas)), init=start)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bundle_adjustment, "bundle_adjust", unchanged)
        mp.setattr(er, "held_out_prior", lambda config: None)
        report = er.evaluate_refinement(workdir, num_sequences=2, num_frames=32, verbose=False)
    assert list(report["summary"]) == ["BA initialisation", *er.METHODS] and len(report["rows"]) == 8
    summary = {k: v["pa_mpjpe_mm"] for k, v in report["summary"].items()}
    assert 0 < summary["regressor"] < 1000
    assert summary["regressor + BA"] == pytest.approx(summary["regressor"], abs=0.5)
    assert "| regressor + BA |" in er.format_table(report)


def test_split_clips_holds_out_whole_motions():
    from posejax.tasks.motion_split import clips_for_split, split_clips

    class Clip:
        def __init__(self, name):
            self.name = name

    clips = [Clip(f"c{i:02d}") for i in range(12)]
    train, held = split_clips(clips, 5)
    assert [c.name for c in held] == ["c02", "c07"]
    assert not {c.name for c in train} & {c.name for c in held} and len(train) == 10
    with pytest.raises(ValueError, match="cannot be split"):
        split_clips(clips[:1], 5)
    assert [c.name for c in clips_for_split(clips, "validation", 5, extra_procedural=3)] == ["c02", "c07"]
    widened = clips_for_split(clips, "train", 5, extra_procedural=3)
    assert len(widened) == 13 and [c.name for c in widened[:10]] == [c.name for c in train]


def test_mirrored_training_clips_widen_only_the_training_motion():
    from posejax.synth.motion import load_motion_library
    from posejax.tasks.motion_split import clips_for_split

    clips = load_motion_library("procedural", fps=10.0, verbose=False)[:5]
    held = clips_for_split(clips, "validation", 5, mirror=True)
    assert [c.name for c in held] == [c.name for c in clips_for_split(clips, "validation", 5)]
    train = clips_for_split(clips, "train", 5, mirror=True)
    names = [c.name for c in clips_for_split(clips, "train", 5)]
    assert [c.name for c in train] == names + [n + "_mirrored" for n in names]


def test_adversarial_variant_learns_one_batch(task):
    # Fitting one fixed batch: the regressor's losses and the discriminator's loss fall (the plain
    # variant is the same step without the adversarial terms).
    cfg = tiny_config()
    cfg.model.adversarial = True
    adv = PooledRegressorTask(cfg)
    batch = adv.train_batch(0, 4, 0, 1)
    assert batch["real_pose"].shape == (4, 8, 24, 3) and batch["real_root"].shape == (4, 8, 3)
    state = jax.jit(adv.init_state)(jax.random.key(0), batch)  # eager init compiles op by op
    assert set(state.params) == {"generator", "discriminator"}
    step = jax.jit(adv.train_step)
    d0 = state.params["discriminator"]
    losses = []
    for _ in range(25):
        state, m = step(state, batch, jax.random.key(1))
        losses.append({k: float(v) for k, v in m.items()})
    assert {"adversarial", "discriminator"} <= set(losses[0])
    assert all(math.isfinite(v) for row in losses for v in row.values())
    assert losses[-1]["pose"] < 0.9 * losses[0]["pose"]
    assert losses[-1]["loss"] < losses[0]["loss"]
    # The discriminator learns: its loss falls on this fixed batch, and its parameters moved.
    assert losses[-1]["discriminator"] < losses[0]["discriminator"]
    moved = jax.tree.map(lambda a, b: float(np.abs(np.asarray(a) - np.asarray(b)).max()), d0,
                         state.params["discriminator"])
    assert max(jax.tree.leaves(moved)) > 0


def test_world_translation_and_camera_height_are_decoded_from_the_view(task):
    # The heads predict the pelvis's view (image position, log depth) and height; the task's world
    # pelvis and camera height must be the scene that shows exactly that view, and the targets
    # the batches carry must be the same geometry applied to the truth.
    from posejax.geometry.static_view import point_to_static_view

    batch = task.train_batch(0, 4, 0, 1)
    cam = np.broadcast_to(batch["camera"][:, None], batch["root_hn"].shape[:2] + (4,))
    np.testing.assert_allclose(point_to_static_view(batch["root_hn"], *np.moveaxis(cam, -1, 0)),
                               batch["root_view"], atol=1e-4)
    state = jax.jit(task.init_state)(jax.random.key(0), batch)
    out = task.predict(state.params, state.extra, batch["frames"])
    again = point_to_static_view(out["root_hn"], *np.moveaxis(np.asarray(out["camera"]), -1, 0))
    np.testing.assert_allclose(again, out["root_view"], atol=1e-3)
    np.testing.assert_allclose(out["root_hn"][..., 1], out["root_height"], atol=1e-5)
    # At initialisation the heads sit at the data's mean: the view's log depth is the batch mean.
    np.testing.assert_allclose(np.mean(out["root_view"][..., 2]), np.mean(batch["root_view"][..., 2]), atol=0.2)


def test_pseudo_gt_sequences_supervise_only_what_bundle_adjustment_gives(task):
    # A pseudo-GT sequence (global_weight 0) has no world translation or camera and its root
    # orientation is relative to the camera: changing those targets changes no loss term, while
    # its body joints still count. Frames the selection dropped (frame_weight 0) count for nothing.
    batch = task.train_batch(0, 4, 0, 1)
    assert batch["global_weight"].tolist() == [1.0] * 4 and batch["frame_weight"].shape == (4, 8)
    # With a pseudo-GT pool, later batches mix it in; step 0 (the statistics' batch) does not.
    import copy

    mixed = copy.copy(task)
    mixed.config = tiny_config()
    mixed.config.data.pseudo_gt_fraction = 0.5
    mixed._pools = dict(task._pools, pseudo_gt=[{**task.pool("train")[0], "global_weight": np.float32(0.0),
                                                 "frame_weight": np.ones(len(task.pool("train")[0]["pose"]),
                                                                         np.float32)}])
    assert mixed.train_batch(0, 8, 0, 1)["global_weight"].min() == 1.0
    assert 0.0 in mixed.train_batch(1, 8, 0, 1)["global_weight"]
    state = jax.jit(task.init_state)(jax.random.key(0), batch)
    losses = jax.jit(lambda b: task.losses(state.params, state.extra, b)[1][0])
    pseudo = {**batch, "global_weight": np.array([1, 0, 1, 1], np.float32)}
    base = losses(pseudo)
    moved = {**pseudo, "root_hn": pseudo["root_hn"].copy(), "root_view": pseudo["root_view"].copy(),
             "camera": pseudo["camera"].copy(), "pose": pseudo["pose"].copy()}
    moved["root_hn"][1] += 3.0
    moved["root_view"][1] += 0.5
    moved["camera"][1] += 0.3
    moved["pose"][1, :, 0] += 0.7      # root orientation
    for name, value in losses(moved).items():
        np.testing.assert_allclose(value, base[name], rtol=1e-5, err_msg=name)
    body = {**pseudo, "pose": pseudo["pose"].copy()}
    body["pose"][1, :, 5] += 0.7       # a body joint
    changed = losses(body)
    assert changed["pose"] > base["pose"] and changed["joints"] > base["joints"]
    # The same targets on a synthetic sequence do count.
    assert losses({**moved, "global_weight": batch["global_weight"]})["translation"] > base["translation"]
    dropped = {**batch, "frame_weight": batch["frame_weight"].copy(), "pose": batch["pose"].copy()}
    dropped["frame_weight"][2, 3] = 0.0
    before = losses(dropped)
    dropped["pose"][2, 3] += 0.9
    for name, value in losses(dropped).items():
        np.testing.assert_allclose(value, before[name], rtol=1e-5, err_msg=name)


def test_trains_from_a_prepared_dataset(tmp_path):
    # `data.dataset` reads a built `synthetic_sequences` dataset: the task's pools are its stored
    # examples (which equal the on-the-fly stream of that config), prepared as synthesised ones.
    from posejax.tasks.pooled_regressor import _prepare
    from posejax_datasets.synthetic_sequences import stream_examples

    data_dir = str(tmp_path / "tfds")
    cfg = tiny_config()
    cfg.data.update(dataset="synthetic_sequences/tiny", data_dir=data_dir, num_train=3, num_validation=2)
    task = PooledRegressorTask(cfg)
    for split, count in (("train", 3), ("validation", 2)):
        pool = task.pool(split)
        assert len(pool) == count
        for got, example in zip(pool, stream_examples("tiny", split=split, num_examples=count)):
            want = _prepare(example, task.image_size, task.space, task.model)
            for key in want:
                np.testing.assert_allclose(got[key], want[key], atol=1e-6, err_msg=f"{split} {key}")
    assert os.path.isdir(os.path.join(data_dir, "synthetic_sequences", "tiny"))  # built on first use
    assert task.train_batch(0, 2, 0, 1)["frames"].shape == (2, 8, 32, 72)

    def refused(match, **data):
        bad = tiny_config()
        bad.data.update(data_dir=data_dir, **data)
        with pytest.raises(ValueError, match=match):
            PooledRegressorTask(bad).pool("train")

    refused("has 3 train sequences; the config asks for 8", dataset="synthetic_sequences/tiny")
    refused("holds coco23 keypoints .* the config reads body25b", dataset="synthetic_sequences/tiny",
            num_train=3, observation="body25b")
    refused("must be 'synthetic_sequences/<config>'", dataset="synthetic_multiview/tiny", num_train=3)


def test_cpu_10k_variant_reads_the_cpu_runs_sequences():
    # `:cpu_10k` reads a prepared dataset whose builder config makes exactly what `:cpu`
    # synthesises on the fly (same motion split, procedural clips, length, seed), with enough
    # training sequences.
    from posejax_datasets.synthetic_sequences import synthetic_sequences_dataset_builder as builder

    from posejax.benchmark.timing import experiment_config

    cpu, big = experiment_config("pooled_regressor", "cpu"), experiment_config("pooled_regressor", "cpu_10k")
    name, config = big.data.dataset.split("/")
    made = builder._get_config(config)
    assert name == builder.NAME and made.num_train >= big.data.num_train > cpu.data.num_train
    assert made.num_validation == big.data.num_validation == cpu.data.num_validation
    assert (made.held_out_every, made.train_procedural_clips, made.num_procedural_clips, made.seed,
            made.motion_source, made.body_model, made.mirror_train_clips) == (
        cpu.data.held_out_every, cpu.data.train_procedural_clips, cpu.data.num_procedural_clips, cpu.seed,
        cpu.data.motion_source, cpu.body_model, cpu.data.mirror_train_clips)
    assert made.sequence == {"min_frames": cpu.data.min_frames} and cpu.data.observation == "coco23"
    assert big.model.to_dict() == cpu.model.to_dict()


def test_root_view_of_any_length_equals_the_op_by_op_view():
    # `_root_view` pads lengths to one bucket (one compilation for many lengths); the padding
    # must not change the frames it returns.
    from posejax.geometry.static_view import point_to_static_view
    from posejax.tasks.pooled_regressor import _root_view

    rng = np.random.default_rng(0)
    cam = np.array([0.3, -0.05, 2.5, 1.1], np.float32)
    for t in (1, 300, 513):
        root = np.stack([rng.uniform(-2, 2, t), rng.uniform(0.8, 1.0, t), rng.uniform(3, 12, t)], -1)
        view = _root_view(root.astype(np.float32), cam)
        assert view.shape == (t, 3)
        np.testing.assert_allclose(view, point_to_static_view(root, *cam), atol=1e-6)


def test_dataset_builder_mirrors_the_training_motion_when_asked():
    from posejax_datasets.synthetic_sequences import synthetic_sequences_dataset_builder as builder

    from posejax.synth.motion import load_motion_library

    clips = load_motion_library("procedural", fps=10.0, verbose=False)[:5]
    config = builder.SyntheticSequencesConfig(name="m", held_out_every=5, mirror_train_clips=True)
    train = [c.name for c in builder._split_clips(config, "train", clips)]
    assert len(train) == 8 and sum(n.endswith("_mirrored") for n in train) == 4
    assert all(not n.endswith("_mirrored") for n in (c.name for c in builder._split_clips(config, "validation", clips)))
    mirrored_only = builder.SyntheticSequencesConfig(name="m2", mirror_train_clips=True)
    assert len(builder._split_clips(mirrored_only, "train", clips)) == 10
