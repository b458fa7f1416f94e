"""Task: the pooled temporal regressor (Habekost et al.) on synthetic monocular sequences.

Data: `synthetic_sequences` examples (`posejax_datasets.synthetic_sequences.stream_examples`)
synthesised at start-up into in-memory pools (`config.data`), or read from a prepared TFDS
dataset when `data.dataset` names one (`dataset_sequences`; `synthetic_sequences/coco23_regressor_cpu`
holds the sequences `:cpu` synthesises, up to float32 rounding in one batch). The motion clips are split first
(`motion_split.split_clips`: every `data.held_out_every`-th clip is held out), so the validation sequences show
motions never seen in training, on their own seed stream (subjects and cameras differ too).
`data.train_procedural_clips` adds that many embedded procedural clips to the training motion only;
`data.train_motion_source` replaces the training motion (e.g. "procedural"). `data.pseudo_gt`
mixes the selected clips of a `python -m posejax.pseudo_gt` dataset into training
(`pseudo_gt_sequences`, `data.pseudo_gt_fraction` of the sequences): their pose and shape are
supervised, their missing world translation and camera are not.

Per frame, the input (`normalize_observations`, F = 3K + 3 features) is the K observed 2D points
relative to the person and scaled to unit size (times their confidence), the confidences, and
where the person is and how large: centre and log size in image units. Training takes
`config.model.neighbourhoods` (16) random 32-frame neighbourhoods per sequence (edges padded by
repetition, like inference); the loss is the paper's weighted L1 on
  * pose: the 24 joints' rotation matrices (l_theta = 1000),
  * HN shape: the 8 height-normalised coefficients (l_beta = 10),
  * translation: the pelvis position in the height-normalised world (`root_hn_of_sequence`; l_T = 100),
    and the same pelvis as the camera sees it (`static_view`: image position and log depth;
    `loss.root_view`, our addition: scale-free, so near and far subjects count alike),
  * joints: the 24 root-relative 3D joints of the predicted pose on the true HN body (l_V = 1; the
    paper's term on vertices, taken on the joints here),
  * camera: (pitch, roll, height in HN metres, horizontal FoV) per frame (l_cam = 100, our
    choice: the paper does not state it);
  translation, view and camera errors are taken in units of each quantity's spread in the data
  (its standard deviation over the first batch, kept in the train state), our change: in raw
  units metres of translation and camera height outweighed everything (a 1 m error cost as
  much as 57 degrees of roll), and the roll was not learned at all;
  * adversarial (`model.adversarial`, the paper's "adversarial + pooling"): a motion
    discriminator (`MotionDiscriminator`, the same global pooling) scores the predicted poses and
    pelvis positions of a sequence's sampled frames against as many frames of another training
    sequence's true motion; least-squares GAN losses, weight `loss.adversarial`.
The network predicts the pelvis's view coordinates and height above the ground and the camera's
pitch, roll and FoV (standardised by the statistics of the first batch, kept in the train state);
the world translation and the camera height are decoded from them by exact geometry
(`point_from_static_view`), so the losses above reach the heads through that geometry.

Evaluation: every validation sequence in one forward pass; MPJPE and PA-MPJPE (24 joints,
root-relative, HN metres: predicted pose on the predicted HN shape vs the true pose on the true HN
shape), translation error (pelvis position, HN, mm), camera errors (per-frame predictions averaged
over the sequence; FoV, pitch, roll in degrees, height in HN mm).
"""

from __future__ import annotations

import os
from typing import Dict, List

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from posejax import metrics
from posejax.body import kinematics
from posejax.body.hn_shape import TARGET_HEIGHT, betas_to_hn, hn_to_betas, load_hn_shape_space
from posejax.body.layouts import get_layout
from posejax.body.loading import load_body_model
from posejax.geometry.rotations import axis_angle_to_matrix
from posejax.geometry.static_view import point_from_static_view, point_to_static_view
from posejax.models.motion_discriminator import MotionDiscriminator
from posejax.models.pooled_regressor import WINDOW, PooledRegressor
from posejax.tasks.motion_split import task_motion
from posejax.training.state import TrainState
from posejax.training.task import Task


def input_features(num_keypoints: int) -> int:
    """Per-frame input size F of `normalize_observations` for K keypoints."""
    return 3 * num_keypoints + 3


def normalize_observations(keypoints2d, confidence, image_size) -> np.ndarray:
    """(T, K, 2) pixels and (T, K) confidences -> (T, 3K + 3) network input.

    Image units: pixels centred on the image and divided by half its width (x in [-1, 1]). Per
    frame, the person's centre c is the confidence-weighted mean of its points and its size s
    the weighted RMS distance from c. Features: the points as (p - c) / s times their confidence
    (2K), the confidences (K), then c (2) and log s (1). Why split: pose and small tilts (the
    camera's roll) are read at unit scale, apart from position and size, which carry depth and
    perspective. Missing points (confidence 0 or non-finite) become 0 with confidence 0; a frame
    without points is all zeros.
    """
    kp = np.asarray(keypoints2d, np.float32)
    conf = np.asarray(confidence, np.float32)
    ok = np.isfinite(conf) & (conf > 0) & np.all(np.isfinite(kp), -1)
    conf = np.where(ok, conf, 0.0)
    w, h = image_size
    xy = (np.where(ok[..., None], kp, 0.0) - np.array([w / 2, h / 2], np.float32)) / (w / 2)
    total = conf.sum(-1, keepdims=True)                                         # (T, 1)
    seen = total > 0
    centre = (conf[..., None] * xy).sum(-2) / np.maximum(total, 1e-6)          # (T, 2)
    offset = np.where(ok[..., None], xy - centre[:, None], 0.0)
    size = np.sqrt((conf * (offset ** 2).sum(-1)).sum(-1, keepdims=True) / np.maximum(total, 1e-6))
    size = np.maximum(size, 1e-4)
    rel = offset / size[..., None] * conf[..., None]
    where = np.where(seen, np.concatenate([centre, np.log(size)], -1), 0.0)
    return np.concatenate([rel.reshape(kp.shape[0], -1), conf, where], -1).astype(np.float32)


_POOLS: Dict[str, List[dict]] = {}  # raw sequences per (data config, split, count), per process
IMAGE_SIZE = (1000, 1000)  # (W, H) of the synthetic sequences, pixels (the synthesiser's default)


def sequences(config: ml_collections.ConfigDict, split: str, count: int) -> List[dict]:
    """`count` sequences of a split (cached): the first `count` of a prepared
    `synthetic_sequences` dataset when `data.dataset` names one (`dataset_sequences`), else
    synthesised on the fly from that split's motion clips."""
    from posejax_datasets.synthetic_sequences import synthetic_sequences_dataset_builder as builder

    data = config.data
    key = f"{data.to_json()}|{config.seed}|{config.body_model}|{split}|{count}"
    if key in _POOLS:
        return _POOLS[key]
    if data.get("dataset", ""):
        _POOLS[key] = dataset_sequences(data.dataset, data.get("data_dir", "") or None, split, count,
                                        data.observation, config.body_model)
    else:
        ds_config = builder.SyntheticSequencesConfig(
            name=f"pooled_regressor_{split}",
            sequence=dict(min_frames=int(data.min_frames), observation=data.observation),
            motion_source=data.motion_source, num_procedural_clips=int(data.num_procedural_clips),
            seed=int(config.seed), body_model=config.body_model)
        use = task_motion(builder.NAME, data, split, ds_config.sequence_config().fps, int(config.seed),
                          config.body_model)
        print(f"{split}: {count} sequences from {len(use)} motion clips", flush=True)
        _POOLS[key] = list(builder.stream_examples(ds_config, split=split, num_examples=count, clips=use))
    return _POOLS[key]


def dataset_sequences(dataset: str, data_dir, split: str, count: int, observation: str,
                      body_model: str) -> List[dict]:
    """The first `count` examples of a split of a prepared TFDS dataset (built first if it is
    not prepared under `data_dir`, the way `python -m posejax.data_loading build` does).

    Args:
      dataset: "synthetic_sequences/<config>" (e.g. "synthetic_sequences/coco23_motion_split").
      data_dir: root folder of prepared datasets (None: TFDS's default).
      split: "train" or "validation".
      count: how many examples to take.
      observation, body_model: what the task reads; the dataset must have been made with them
        (and with `IMAGE_SIZE` images).

    Raises:
      ValueError: another dataset, a mismatching observation or body model, or fewer than
        `count` examples in the split.
    """
    from posejax.data_loading import get_builder, load_dataset

    name, _, ds_config = dataset.partition("/")
    if name != "synthetic_sequences":
        raise ValueError(f"data.dataset must be 'synthetic_sequences/<config>', got {dataset!r}")
    made = get_builder(name, ds_config or None, data_dir).builder_config
    made_seq = made.sequence_config()
    if (made_seq.observation, made.body_model, tuple(made_seq.image_size)) != (observation, body_model, IMAGE_SIZE):
        raise ValueError(f"dataset {dataset!r} holds {made_seq.observation} keypoints of the {made.body_model!r} "
                         f"body model in {tuple(made_seq.image_size)} images; the config reads {observation} "
                         f"keypoints of {body_model!r} in {IMAGE_SIZE} images")
    source = load_dataset(name, ds_config or None, data_dir)[split]
    if len(source) < count:
        raise ValueError(f"dataset {dataset!r} has {len(source)} {split} sequences; the config asks for "
                         f"{count} (lower data.num_train / data.num_validation)")
    print(f"{split}: {count} sequences of the prepared dataset {dataset}", flush=True)
    return [source[i] for i in range(count)]


def root_hn_of_sequence(seq: dict, model) -> np.ndarray:
    """(T, 3) the pelvis position in the height-normalised world (the true scene scaled about the
    world origin so the person is 1.72 m tall), metres. The pelvis rather than the body model's
    origin: the origin's offset from the pelvis does not scale with the body."""
    pelvis = np.asarray(kinematics.rest_joints(model, np.asarray(seq["betas"], np.float32)))[0]
    return ((np.asarray(seq["transl"]) + pelvis) * (TARGET_HEIGHT / float(seq["height"]))).astype(np.float32)


_VIEW_BUCKET = 256  # frames: sequence lengths are padded to a multiple of this for `_root_view`


@jax.jit
def _root_view_padded(root, cam):
    return point_to_static_view(root, *cam)


def _root_view(root: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """(T, 3) `point_to_static_view` of the pelvis track under the camera (pitch, roll, height,
    hfov). Lengths are padded to a multiple of `_VIEW_BUCKET`: run op by op, every new sequence
    length compiled each operation again (0.2 s per sequence of a prepared dataset)."""
    t = root.shape[0]
    padded = np.pad(root, ((0, -t % _VIEW_BUCKET), (0, 0)), mode="edge")
    return np.asarray(_root_view_padded(padded, cam), np.float32)[:t]


def _prepare(seq: dict, image_size, space, model) -> dict:
    """One sequence dict -> the arrays the task needs (numpy)."""
    hn = np.asarray(betas_to_hn(space, model, np.asarray(seq["betas"], np.float32)))
    cam = np.asarray(seq["camera"], np.float32).copy()
    cam[2] = float(seq["camera_height_hn"])
    root = root_hn_of_sequence(seq, model)
    return {"frames": normalize_observations(seq["keypoints2d"], seq["confidence"], image_size),
            "pose": np.asarray(seq["pose"], np.float32),
            "root_hn": root, "root_view": _root_view(root, cam),
            "hn_betas": hn.astype(np.float32), "camera": cam}


def pseudo_gt_sequences(data_dir: str, observation: str, space, model) -> List[dict]:
    """The selected clips of a `pseudo_gt` dataset (`python -m posejax.pseudo_gt`) as training
    sequences: their 2D input and the fitted pose and shape as targets. Bundle adjustment gives no
    world translation or camera, and its global orientation is relative to the camera, so those
    targets are switched off for these sequences (`global_weight` 0; the pose loss skips the
    root, the joint loss uses the predicted root orientation); frames the selection discarded
    carry no loss (`frame_weight`)."""
    from posejax.data_loading import load_dataset

    source = load_dataset("pseudo_gt", data_dir=data_dir, prepare=False)
    if "train" not in source:
        raise ValueError(f"pseudo-GT dataset {data_dir} has no selected clips")
    out = []
    for i in range(len(source["train"])):
        ex = source["train"][i]
        if ex["layout"].decode() != observation:
            raise ValueError(f"pseudo-GT clip {ex['clip_id'].decode()} has {ex['layout'].decode()} keypoints; "
                             f"the model reads {observation}")
        t = ex["pose"].shape[0]
        out.append({"frames": normalize_observations(ex["keypoints2d"], ex["confidence"], tuple(ex["image_size"])),
                    "pose": np.asarray(ex["pose"], np.float32),
                    "root_hn": np.zeros((t, 3), np.float32), "root_view": np.zeros((t, 3), np.float32),
                    "hn_betas": np.asarray(betas_to_hn(space, model, ex["betas"]), np.float32),
                    "camera": np.zeros(4, np.float32), "global_weight": np.float32(0.0),
                    "frame_weight": np.asarray(ex["frame_selected"], np.float32)})
    print(f"pseudo-GT: {len(out)} selected clips, {sum(int(o['frame_weight'].sum()) for o in out)} frames",
          flush=True)
    return out


class PooledRegressorTask(Task):
    """See the module docstring."""

    def __init__(self, config):
        super().__init__(config)
        self.model = load_body_model(config.body_model)
        self.space = load_hn_shape_space(config.hn_shape)
        self.network = PooledRegressor(**config.model.network.to_dict())
        self.adversarial = bool(config.model.get("adversarial", False))
        if self.adversarial:
            self.discriminator = MotionDiscriminator(**config.model.discriminator.to_dict())
        self.image_size = IMAGE_SIZE
        self._pools: Dict[str, List[dict]] = {}

    # -- data ---------------------------------------------------------------------------------

    def pool(self, split: str) -> List[dict]:
        """The prepared sequences of "train" or "validation" (synthesised on first use)."""
        if split not in self._pools:
            n = int(self.config.data.num_train if split == "train" else self.config.data.num_validation)
            self._pools[split] = [_prepare(s, self.image_size, self.space, self.model)
                                  for s in sequences(self.config, split, n)]
        return self._pools[split]

    def pseudo_gt_pool(self) -> List[dict]:
        """The pseudo-GT training sequences (`config.data.pseudo_gt`; empty when unset)."""
        if "pseudo_gt" not in self._pools:
            path = self.config.data.get("pseudo_gt", "")
            self._pools["pseudo_gt"] = (pseudo_gt_sequences(path, self.config.data.observation, self.space,
                                                            self.model) if path else [])
        return self._pools["pseudo_gt"]

    def train_batch(self, step, local_batch_size, process_index, process_count):
        pool = self.pool("train")
        pseudo = self.pseudo_gt_pool()
        n = int(self.config.model.neighbourhoods)
        rng = np.random.default_rng([int(self.config.seed), int(step)])
        # The global batch is fixed by (seed, step); this process takes its slice of it.
        picks = rng.integers(0, len(pool), local_batch_size * process_count)
        centres = rng.random((picks.size, n))
        # Pseudo-GT picks from a stream of their own: without pseudo-GT the batches stay those of
        # earlier versions.
        pseudo_rng = np.random.default_rng([int(self.config.seed), int(step), 1])
        # Step 0's batch stays synthetic: `init_state` takes the standardisation statistics of the
        # translation and camera from it (a pseudo-GT sequence has neither).
        fraction = float(self.config.data.get("pseudo_gt_fraction", 0.0)) if pseudo and step > 0 else 0.0
        from_pseudo = pseudo_rng.random(picks.size) < fraction
        pseudo_picks = pseudo_rng.integers(0, max(len(pseudo), 1), picks.size)
        lo = process_index * local_batch_size
        out: Dict[str, list] = {k: [] for k in ("frames", "pose", "root_hn", "root_view", "hn_betas", "camera",
                                                "global_weight", "frame_weight")}
        offsets = np.arange(WINDOW) - WINDOW // 2
        for i in range(lo, lo + local_batch_size):
            seq = pseudo[pseudo_picks[i]] if from_pseudo[i] else pool[picks[i]]
            t = seq["frames"].shape[0]
            centre = np.floor(centres[i] * t).astype(np.int64)                    # (N,)
            window = np.clip(centre[:, None] + offsets, 0, t - 1)                   # (N, 32)
            out["frames"].append(seq["frames"][window])
            for key in ("pose", "root_hn", "root_view"):
                out[key].append(seq[key][centre])
            for key in ("hn_betas", "camera"):
                out[key].append(seq[key])
            out["global_weight"].append(np.float32(seq.get("global_weight", 1.0)))
            out["frame_weight"].append(seq["frame_weight"][centre] if "frame_weight" in seq
                                       else np.ones(n, np.float32))
            if self.adversarial:  # real motion for the discriminator: n frames of another sequence
                other = pool[rng.integers(0, len(pool))]
                frames = np.sort(rng.integers(0, other["pose"].shape[0], n))
                out.setdefault("real_pose", []).append(other["pose"][frames])
                out.setdefault("real_root", []).append(other["root_hn"][frames])
        return {k: np.stack(v) for k, v in out.items()}

    def example_batch(self):
        """Zeros shaped like one training example (restoring a checkpoint needs no data)."""
        n = int(self.config.model.neighbourhoods)
        k = get_layout(self.config.data.observation).num_keypoints
        zeros = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
        return {"frames": zeros(1, n, WINDOW, input_features(k)), "pose": zeros(1, n, 24, 3),
                "root_hn": zeros(1, n, 3), "root_view": zeros(1, n, 3), "hn_betas": zeros(1, 8),
                "camera": zeros(1, 4), "global_weight": np.ones(1, np.float32),
                "frame_weight": np.ones((1, n), np.float32)}

    def eval_batches(self):
        for seq in self.pool("validation"):
            yield {k: np.asarray(v)[None] for k, v in seq.items()}

    # -- model --------------------------------------------------------------------------------

    def _tx(self):
        cfg = self.config.optimizer
        schedule = optax.cosine_decay_schedule(cfg.learning_rate, self.config.num_steps, alpha=cfg.final_fraction)
        return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), optax.adam(schedule))

    def init_state(self, rng, batch):
        g_rng, d_rng = jax.random.split(rng)
        params = {"generator": self.network.init(g_rng, batch["frames"][:1])}
        if self.adversarial:
            n = batch["frames"].shape[1]
            params["discriminator"] = self.discriminator.init(
                d_rng, jnp.zeros((1, n, 24, 3, 3)), jnp.zeros((1, n, 3)))
        # The pelvis and camera heads predict standardised values: they start at the data's mean
        # and move in units of its spread (from the first batch; kept in the state so evaluation
        # and resumed runs use the same constants).
        # Only sequences with a world translation and camera count (not pseudo-GT ones).
        stats = {}
        camera = jnp.asarray(batch["camera"])
        has_global = jnp.asarray(batch["global_weight"]) > 0                     # (B,)
        for key, value in (("root_view", batch["root_view"]), ("root_height", batch["root_hn"][..., 1:2]),
                           ("root_hn", batch["root_hn"]), ("camera", camera),
                           ("camera_angles", camera[..., jnp.array([0, 1, 3])])):
            # Weighted sums over the leading axes (no reshape: the batch axis may be sharded).
            w = has_global.astype(jnp.float32)[(...,) + (None,) * (value.ndim - 1)]
            w = jnp.broadcast_to(w, value.shape[:-1] + (1,))
            axes = tuple(range(value.ndim - 1))
            count = jnp.maximum(jnp.sum(w), 1.0)
            mean = jnp.sum(w * value, axes) / count
            std = jnp.sqrt(jnp.sum(w * jnp.square(value - mean), axes) / count)
            stats[key] = {"mean": mean, "std": jnp.maximum(std, 0.05)}
        return TrainState.create(params, self._tx(), extra=stats)

    def _joints_hn(self, pose_matrix, hn_betas):
        """Root-relative joints (..., 24, 3) of rotation matrices on the HN body, metres."""
        betas = hn_to_betas(self.space, hn_betas)
        rest = kinematics.rest_joints(self.model, betas)
        _, pos = kinematics.global_transforms(pose_matrix, rest)
        return pos - pos[..., :1, :]

    def predict(self, params, stats, frames):
        """Frames (B, N, 32, F) or whole sequences (B, T, F) -> per-position outputs in their
        units (see `PooledRegressor`; translation and camera de-standardised with `stats`)."""
        out = dict(self.network.apply(params["generator"], frames))
        out["root_height"] = out["root_height"][..., None]
        for key in ("root_view", "root_height", "camera_angles"):
            out[key] = stats[key]["mean"] + stats[key]["std"] * out[key]
        out["root_height"] = out["root_height"][..., 0]
        pitch, roll, hfov = (out["camera_angles"][..., i] for i in range(3))
        out["root_hn"], height = point_from_static_view(out["root_view"], out["root_height"], pitch, roll, hfov)
        out["camera"] = jnp.stack([pitch, roll, height, hfov], -1)
        return out

    def _realness(self, params, stats, pose_matrix, root):
        standardised = (root - stats["root_hn"]["mean"]) / stats["root_hn"]["std"]
        return self.discriminator.apply(params["discriminator"], pose_matrix, standardised)

    def losses(self, params, stats, batch):
        """The weighted L1 terms (module docstring), the adversarial term of the generator
        (least squares: (D(fake) - 1)^2, discriminator frozen) when on, and their sum; the
        outputs as aux."""
        out = self.predict(params, stats, batch["frames"])
        w = self.config.loss
        gt_rot = axis_angle_to_matrix(batch["pose"])                          # (B, N, 24, 3, 3)
        n = out["pose_matrix"].shape[1]
        hn_gt = jnp.broadcast_to(batch["hn_betas"][:, None], out["hn_betas"].shape)
        cam_gt = jnp.broadcast_to(batch["camera"][:, None], out["camera"].shape)
        b = out["pose_matrix"].shape[0]
        # Per-sequence and per-frame weights (pseudo-GT sequences: module docstring of
        # `pseudo_gt_sequences`); all ones on synthetic data, where every term is a plain mean.
        has_global = batch["global_weight"][:, None]                               # (B, 1)
        frame_w = batch["frame_weight"]                                            # (B, N)
        global_w = frame_w * has_global
        joint_w = frame_w[..., None] * jnp.concatenate(
            [jnp.broadcast_to(has_global[..., None], (b, n, 1)), jnp.ones((b, n, 23))], -1)  # (B, N, 24)
        # Without a world frame, the true root orientation is replaced by the predicted one, so the
        # joint term sees the articulation only.
        gt_rot_joints = gt_rot.at[:, :, 0].set(jnp.where(
            has_global[..., None, None] > 0, gt_rot[:, :, 0], jax.lax.stop_gradient(out["pose_matrix"][:, :, 0])))
        flat = lambda x: x.reshape((b * n,) + x.shape[2:])  # noqa: E731
        joints_pred = self._joints_hn(flat(out["pose_matrix"]), flat(hn_gt))
        joints_gt = self._joints_hn(flat(gt_rot_joints), flat(hn_gt))

        def weighted_mean(err, weight):
            """Mean of err (B, N, ...) over the entries with weight (B, N[, J]) > 0."""
            weight = jnp.broadcast_to(weight.reshape(weight.shape + (1,) * (err.ndim - weight.ndim)), err.shape)
            return jnp.sum(weight * err) / jnp.maximum(jnp.sum(weight), 1e-6)

        def spread_l1(pred, true, key, weight):
            """L1 in units of the quantity's spread in the data (see the module docstring)."""
            return weighted_mean(jnp.abs(pred - true) / stats[key]["std"], weight)

        terms = {
            "pose": w.pose * weighted_mean(jnp.abs(out["pose_matrix"] - gt_rot), joint_w),
            "shape": w.shape * jnp.mean(jnp.abs(out["hn_betas"] - hn_gt)),
            "translation": w.translation * spread_l1(out["root_hn"], batch["root_hn"], "root_hn", global_w),
            "root_view": w.root_view * spread_l1(out["root_view"], batch["root_view"], "root_view", global_w),
            "joints": w.joints * weighted_mean(jnp.abs(joints_pred - joints_gt).reshape(b, n, 24, 3), frame_w),
            "camera": w.camera * spread_l1(out["camera"], cam_gt, "camera", global_w),
        }
        if self.adversarial:
            frozen = {"discriminator": jax.lax.stop_gradient(params["discriminator"])}
            fake = self._realness(frozen, stats, out["pose_matrix"], out["root_hn"])
            terms["adversarial"] = w.adversarial * jnp.mean(jnp.square(fake - 1.0))
        return sum(terms.values()), (terms, out)

    def train_step(self, state, batch, rng):
        del rng  # the step is deterministic given the batch
        (loss, (terms, out)), grads = jax.value_and_grad(self.losses, has_aux=True)(
            state.params, state.extra, batch)
        if self.adversarial:
            # The discriminator's least-squares loss on real motion vs the (fixed) predictions;
            # both networks step together (simultaneous updates).
            fake_pose = jax.lax.stop_gradient(out["pose_matrix"])
            fake_root = jax.lax.stop_gradient(out["root_hn"])
            real_pose = axis_angle_to_matrix(batch["real_pose"])

            def d_loss(d_params):
                p = {"discriminator": d_params}
                real = self._realness(p, state.extra, real_pose, batch["real_root"])
                fake = self._realness(p, state.extra, fake_pose, fake_root)
                return jnp.mean(jnp.square(real - 1.0)) + jnp.mean(jnp.square(fake))

            terms["discriminator"], d_grads = jax.value_and_grad(d_loss)(state.params["discriminator"])
            grads = {**grads, "discriminator": d_grads}
        return state.apply_gradients(grads, self._tx()), {"loss": loss, **terms}

    # -- evaluation ---------------------------------------------------------------------------

    def eval_step(self, state, batch):
        out = self.predict(state.params, state.extra, batch["frames"])
        pred = self._joints_hn(out["pose_matrix"][0], out["hn_betas"][0])
        gt = self._joints_hn(axis_angle_to_matrix(batch["pose"][0]),
                             jnp.broadcast_to(batch["hn_betas"][0], out["hn_betas"][0].shape))
        camera = jnp.mean(out["camera"][0], 0)
        errs = metrics.camera_errors(camera, batch["camera"][0])
        return {"mpjpe_mm": metrics.mpjpe(pred, gt)[None],
                "pa_mpjpe_mm": metrics.pa_mpjpe(pred, gt)[None],
                "translation_mm": metrics.translation_error(out["root_hn"][0], batch["root_hn"][0])[None],
                **{f"camera_{k}": v[None] for k, v in errs.items()}}

    def eval_figures(self, state, workdir, step):
        """Top-view trajectory and per-frame camera of the first validation sequence
        (`workdir/figures/step_<step>_{trajectory,camera}.png`)."""
        from posejax.viz import plot_camera_per_frame, plot_trajectory_top_view, save_figure

        seq = self.pool("validation")[0]
        out = jax.device_get(jax.jit(self.predict)(state.params, state.extra, seq["frames"][None]))
        folder = os.path.join(workdir, "figures")
        save_figure(plot_trajectory_top_view(out["root_hn"][0], seq["root_hn"],
                                             title=f"held-out sequence, step {step} (HN metres)"),
                    os.path.join(folder, f"step_{step}_trajectory.png"))
        save_figure(plot_camera_per_frame(out["camera"][0], seq["camera"]),
                    os.path.join(folder, f"step_{step}_camera.png"))


TASK = PooledRegressorTask
