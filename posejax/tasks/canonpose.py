"""Task: CanonPose (Wandt et al., CVPR 2021), self-supervised lifting from multi-view 2D poses.

Data: `synthetic_multiview` examples (V synchronised views of one subject; only the per-view 2D
keypoints and confidences are used for training) synthesised at start-up into in-memory pools.
The motion clips are split first (`motion_split`), so the validation examples show motions never
seen in training, filmed by rigs of their own seed stream; `data.train_procedural_clips` adds
embedded procedural clips to the training motion only.

Input per view (`normalize_pose_2d`): the 2D pose centred on the hip midpoint and divided by its
Frobenius norm (over present points; missing points are 0), concatenated with the confidences.
The lifter (`posejax.models.canonpose.CanonPoseLifter`) gives a canonical pose X_i and a camera
rotation R_i per view. Losses (weak perspective; every projection is centred on its hip midpoint
and Frobenius-normalised over the target's present points, like the input, so scale drops out):
  * reprojection (eq. 5): |proj(R_i X_i) - p_i|, L1 weighted by view i's confidences;
  * view consistency: every canonical pose with every other view's rotation,
    |proj(R_j X_i) - p_j| for i != j (the m^2 mixing; `loss.consistency = "equality"` replaces
    it by |X_i - X_j|, the ablation the paper reports as collapsing);
  * camera consistency (static rigs, eq. 7-8): each training example holds two frames of one
    clip; the relative rotation R_j R_i^T of one frame maps view i of the other frame to view j:
    |proj(R_j^b R_i^bT R_i^a X_i^a) - p_j^a|.
  * chirality (our addition, `loss.chirality`): every loss above is unchanged when a sample's
    canonical poses are mirrored in depth and its rotations conjugated by that mirror, so each
    pose may come out as its mirror image (measured: 76% of poses mirrored without this term,
    PA-MPJPE 130 mm instead of 78 mm for the flipped output). A hinge on `chirality` (the nose
    is in front of the ears relative to the body's left x up axes) picks the anatomical one.
  * pseudo ground truth (`data.pseudo_gt`, a `python -m posejax.pseudo_gt` dataset; weight
    `loss.pseudo_gt`): single-view frames kept by its selection, whose bundle-adjustment fit gives
    the 3D pose as the camera sees it; L1 between the lifted camera-view pose and the fit's, both
    hip-centred and scaled to unit Frobenius norm of their x, y over the present points
    (`pseudo_gt_frames`).
Default weights 1 / 1 / 0.1 (paper) and 0.1 (chirality). `data.use_confidence = False` (ablation)
feeds and weights present points with 1 instead of their confidence. `data.train_motion_source`
replaces the training motion (the pseudo-GT study's "synthetic alone": procedural motion).

Evaluation: every frame and view of the validation examples. The prediction is the pose as its
camera sees it, R X, compared with the true camera-frame keypoints of the same layout, both
centred on the hip midpoint. Metrics (mm): N-MPJPE (optimal scale about the hip midpoint: the
paper's "MPJPE"), PA-MPJPE (similarity Procrustes), PCK@150 mm after the N-MPJPE alignment, and
CPS (the CP curve from 0 to 300 mm; a pose is correct at theta if all its joints are within theta
after the N-MPJPE scale and then a rigid alignment). Joints: all keypoints of the layout
(coco23 by default: 17 COCO body and face points + 6 foot points).
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from posejax import metrics
from posejax.body.layouts import get_layout, hip_centred, hip_indices
from posejax.models.canonpose import CanonPoseLifter
from posejax.tasks.motion_split import task_motion
from posejax.training.state import TrainState
from posejax.training.task import Task

MIN_PRESENT = 8  # views with fewer present keypoints are left out of training


def normalize_pose_2d(points, confidence, hips: Tuple[int, int], use_confidence: bool = True):
    """2D poses -> the lifter's input.

    Args:
      points: (..., K, 2) pixels (any consistent unit; NaN marks missing points).
      confidence: (..., K) in [0, 1]; <= 0 or non-finite = missing.
      hips: (left, right) hip indices; the root is their midpoint, or the mean of the present
        points when a hip is missing.
      use_confidence: False replaces confidences by presence (0 / 1).

    Returns:
      (inputs (..., 3K) float32 = normalised points (2K, missing = 0) then confidences (K),
       present (..., K) bool).
    """
    pts = np.asarray(points, np.float32)
    conf = np.asarray(confidence, np.float32)
    present = np.isfinite(conf) & (conf > 0) & np.all(np.isfinite(pts), -1)
    conf = np.where(present, conf, 0.0) if use_confidence else present.astype(np.float32)
    pts = np.where(present[..., None], pts, 0.0)
    both_hips = present[..., hips[0]] & present[..., hips[1]]
    mid = 0.5 * (pts[..., hips[0], :] + pts[..., hips[1], :])
    mean = pts.sum(-2) / np.maximum(present.sum(-1, keepdims=True), 1)
    root = np.where(both_hips[..., None], mid, mean)
    centred = np.where(present[..., None], pts - root[..., None, :], 0.0)
    norm = np.sqrt((centred ** 2).sum((-2, -1), keepdims=True))
    normed = centred / np.maximum(norm, 1e-6)
    flat = normed.reshape(normed.shape[:-2] + (-1,))
    return np.concatenate([flat, conf], -1).astype(np.float32), present


CHIRALITY_POINTS = ("nose", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_hip", "right_hip")


def chirality(points3d, indices):
    """Handedness of (..., K, 3) poses: the cosine between the face's forward direction (nose
    minus the ears' midpoint) and the body's left x up (left minus right shoulder, shoulders'
    midpoint minus hips' midpoint). About +1 for real people in any right-handed frame, -1 for
    their mirror images. `indices` are the layout's indices of `CHIRALITY_POINTS`."""
    nose, lear, rear, lsh, rsh, lhip, rhip = (points3d[..., i, :] for i in indices)
    face = nose - 0.5 * (lear + rear)
    body = jnp.cross(lsh - rsh, 0.5 * (lsh + rsh) - 0.5 * (lhip + rhip))
    norm = jnp.sqrt(jnp.sum(face ** 2, -1) * jnp.sum(body ** 2, -1) + 1e-12)
    return jnp.sum(face * body, -1) / norm


def normalized_projection(points3d, present, hips: Tuple[int, int]):
    """Weak projection of (..., K, 3) points, normalised like `normalize_pose_2d` over the
    `present` (..., K) points (centred on the hip midpoint, unit Frobenius norm)."""
    centred = jnp.where(present[..., None], hip_centred(points3d[..., :2], hips), 0.0)
    norm = jnp.sqrt(jnp.sum(jnp.square(centred), (-2, -1), keepdims=True) + 1e-12)
    return centred / norm


def unit_scale_pose(points, present, hips: Tuple[int, int]):
    """(..., K, 3) poses hip-centred and divided by the Frobenius norm of their x, y over the
    `present` (..., K) points: the input's normalisation, applied to a 3D pose."""
    centred = hip_centred(points, hips)
    xy = jnp.where(present[..., None], centred[..., :2], 0.0)
    return centred / jnp.sqrt(jnp.sum(jnp.square(xy), (-2, -1), keepdims=True) + 1e-12)


def pseudo_gt_frames(data_dir: str, layout: str, hips: Tuple[int, int], use_confidence: bool) -> Dict[str, np.ndarray]:
    """The frames a `pseudo_gt` dataset kept, as lifter examples: inputs (N, 3K), present (N, K)
    and the fitted pose as its camera sees it (N, K, 3), `unit_scale_pose`d. Bundle adjustment's
    body frame looks at the camera along -Z with Y up; the camera frame is OpenCV's (y down, z
    forward): x, -y, -z."""
    from posejax.data_loading import load_dataset

    source = load_dataset("pseudo_gt", data_dir=data_dir, prepare=False)
    if "train" not in source:
        raise ValueError(f"pseudo-GT dataset {data_dir} has no selected clips")
    inputs, present, target = [], [], []
    for i in range(len(source["train"])):
        ex = source["train"][i]
        if ex["layout"].decode() != layout or ex["fit_layout"].decode() != layout:
            raise ValueError(f"pseudo-GT clip {ex['clip_id'].decode()} has {ex['layout'].decode()} keypoints "
                             f"fitted in {ex['fit_layout'].decode()}; the lifter reads {layout}")
        keep = np.asarray(ex["frame_selected"], bool)
        x, p = normalize_pose_2d(ex["keypoints2d"][keep], ex["confidence"][keep], hips, use_confidence)
        inputs.append(x)
        present.append(p)
        target.append(np.asarray(ex["keypoints3d"], np.float32)[keep] * np.array([1.0, -1.0, -1.0], np.float32))
    present = np.concatenate(present)
    target = np.asarray(unit_scale_pose(np.concatenate(target), present, hips), np.float32)
    print(f"pseudo-GT: {len(present)} frames of {len(source['train'])} selected clips", flush=True)
    return {"inputs": np.concatenate(inputs), "present": present, "target": target}


def pose_metrics(pred, gt, hips: Tuple[int, int]) -> Dict[str, jax.Array]:
    """Per-pose metrics of the module docstring's protocol.

    Args:
      pred: (N, K, 3) lifted poses, any scale.
      gt: (N, K, 3) true camera-frame points, metres.
      hips: (left, right) hip indices; both poses are centred on the hip midpoint.

    Returns:
      (N,) arrays: "n_mpjpe_mm", "pa_mpjpe_mm", "pck150" (percent), "cp_error_m" (largest joint
      error after the N-MPJPE scale and a rigid alignment, metres; CP and CPS count these).
    """
    pred, gt = hip_centred(jnp.asarray(pred), hips), hip_centred(jnp.asarray(gt), hips)
    # A zero "root" joint (the hip midpoint) lets the root-based alignments use the metric
    # functions unchanged; it is masked out of every error.
    root = jnp.zeros_like(gt[:, :1])
    pred_r, gt_r = jnp.concatenate([pred, root], 1), jnp.concatenate([gt, root], 1)
    mask = jnp.concatenate([jnp.ones(gt.shape[:2]), jnp.zeros((gt.shape[0], 1))], 1)
    scaled = metrics.align(pred_r, gt_r, "scale", root_index=-1, mask=mask)
    per_pose = dict(reduction="none", mask=mask)
    return {"n_mpjpe_mm": metrics.n_mpjpe(pred_r, gt_r, root_index=-1, **per_pose),
            "pa_mpjpe_mm": metrics.pa_mpjpe(pred_r, gt_r, **per_pose),
            "pck150": metrics.pck(scaled, gt_r, 0.150, alignment="none", **per_pose),
            "cp_error_m": metrics.pose_errors_for_cps(scaled, gt_r, mask=mask)}


class CanonPoseTask(Task):
    """See the module docstring."""

    def __init__(self, config):
        super().__init__(config)
        self.layout = get_layout(config.data.layout)
        self.hips = hip_indices(self.layout)
        self.num_joints = self.layout.num_keypoints
        self.network = CanonPoseLifter(num_joints=self.num_joints, **config.model.to_dict())
        if config.loss.camera > 0 and config.data.rig != "static":
            raise ValueError("camera consistency (loss.camera > 0) needs a static rig (data.rig = 'static')")
        names = list(self.layout.names)
        self.chirality_indices = tuple(names.index(n) for n in CHIRALITY_POINTS if n in names)
        if config.loss.get("chirality", 0.0) > 0 and len(self.chirality_indices) != len(CHIRALITY_POINTS):
            raise ValueError(f"loss.chirality needs the points {CHIRALITY_POINTS}; layout {self.layout.name!r} lacks some")
        if config.loss.consistency not in ("mixing", "equality"):
            raise ValueError(f"loss.consistency must be 'mixing' or 'equality', got {config.loss.consistency!r}")
        self._pools: Dict[str, List[dict]] = {}

    # -- data ---------------------------------------------------------------------------------

    def examples(self, split: str) -> List[dict]:
        """The raw `synthetic_multiview` examples of "train" or "validation" (all features,
        cameras and 3D truth included), synthesised from that split's motion clips."""
        from posejax_datasets.synthetic_multiview import synthetic_multiview_dataset_builder as builder

        data = self.config.data
        ds_config = builder.SyntheticMultiviewConfig(
            name=f"canonpose_{split}",
            multiview=dict(num_views=int(data.num_views), rig=data.rig, fps=float(data.fps),
                           num_frames=int(data.num_frames), layout=data.layout),
            motion_source=data.motion_source, num_procedural_clips=int(data.num_procedural_clips),
            seed=int(self.config.seed), body_model=self.config.body_model)
        use = task_motion(builder.NAME, data, split, float(data.fps), int(self.config.seed), self.config.body_model)
        count = int(data.num_train if split == "train" else data.num_validation)
        print(f"{split}: {count} multi-view examples from {len(use)} motion clips", flush=True)
        return list(builder.stream_examples(ds_config, split=split, num_examples=count, clips=use))

    def pool(self, split: str) -> List[dict]:
        """Prepared examples of "train" or "validation": inputs (V, T, 3K), present (V, T, K),
        and for evaluation the true camera-frame keypoints (V, T, K, 3)."""
        if split not in self._pools:
            use_conf = bool(self.config.data.use_confidence)
            prepared = []
            for ex in self.examples(split):
                inputs, present = normalize_pose_2d(ex["keypoints2d"], ex["confidence"], self.hips, use_conf)
                prepared.append({"inputs": inputs, "present": present,
                                 "keypoints3d_cam": np.asarray(ex["keypoints3d_cam"], np.float32)})
            self._pools[split] = prepared
        return self._pools[split]

    def pseudo_gt_pool(self):
        """`pseudo_gt_frames` of `config.data.pseudo_gt` (None when unset)."""
        path = self.config.data.get("pseudo_gt", "")
        if path and "pseudo_gt" not in self._pools:
            self._pools["pseudo_gt"] = pseudo_gt_frames(path, self.layout.name, self.hips,
                                                        bool(self.config.data.use_confidence))
        return self._pools.get("pseudo_gt")

    def train_batch(self, step, local_batch_size, process_index, process_count):
        """`local_batch_size` examples, each two frames (a, b) of one clip in all V views:
        inputs (B, 2, V, 3K) and present (B, 2, V, K); with pseudo-GT, also `pseudo_gt_frames`
        F of its frames per example: pseudo_inputs (B, F, 3K), pseudo_present (B, F, K),
        pseudo_target (B, F, K, 3)."""
        pool = self.pool("train")
        rng = np.random.default_rng([int(self.config.seed), int(step)])
        n = local_batch_size * process_count
        # The global batch is fixed by (seed, step); this process takes its slice of it.
        picks = rng.integers(0, len(pool), n)
        t = pool[0]["inputs"].shape[1]
        first = rng.integers(0, t, n)
        second = (first + rng.integers(1, t, n)) % t                      # a different frame
        lo = process_index * local_batch_size
        inputs, present = [], []
        for i in range(lo, lo + local_batch_size):
            ex, frames = pool[picks[i]], [first[i], second[i]]
            inputs.append(np.swapaxes(ex["inputs"][:, frames], 0, 1))
            present.append(np.swapaxes(ex["present"][:, frames], 0, 1))
        batch = {"inputs": np.stack(inputs), "present": np.stack(present)}
        pseudo = self.pseudo_gt_pool()
        if pseudo is not None:  # a stream of its own: the multi-view batches stay as without
            f = int(self.config.data.pseudo_gt_frames)
            rows = np.random.default_rng([int(self.config.seed), int(step), 1]).integers(
                0, len(pseudo["inputs"]), (n, f))[lo:lo + local_batch_size]
            batch.update(pseudo_inputs=pseudo["inputs"][rows], pseudo_present=pseudo["present"][rows],
                         pseudo_target=pseudo["target"][rows])
        return batch

    def example_batch(self):
        v, k = int(self.config.data.num_views), self.num_joints
        batch = {"inputs": np.zeros((1, 2, v, 3 * k), np.float32), "present": np.zeros((1, 2, v, k), bool)}
        if self.config.data.get("pseudo_gt", ""):
            f = int(self.config.data.pseudo_gt_frames)
            batch.update(pseudo_inputs=np.zeros((1, f, 3 * k), np.float32),
                         pseudo_present=np.zeros((1, f, k), bool), pseudo_target=np.zeros((1, f, k, 3), np.float32))
        return batch

    def eval_batches(self):
        for ex in self.pool("validation"):
            v, t = ex["inputs"].shape[:2]
            yield {"inputs": ex["inputs"].reshape(1, v * t, -1),
                   "present": ex["present"].reshape(1, v * t, -1),
                   "keypoints3d_cam": ex["keypoints3d_cam"].reshape(1, v * t, self.num_joints, 3)}

    # -- training -----------------------------------------------------------------------------

    def _tx(self):
        cfg = self.config.optimizer
        n = int(self.config.num_steps)
        boundaries = {int(f * n): 0.1 for f in cfg.decay_at if int(f * n) > 0}
        schedule = optax.piecewise_constant_schedule(cfg.learning_rate, boundaries)
        return optax.adamw(schedule, weight_decay=cfg.weight_decay)

    def init_state(self, rng, batch):
        params = self.network.init(rng, jnp.asarray(batch["inputs"])[:1, 0, 0])
        return TrainState.create(params, self._tx())

    def losses(self, params, batch):
        """The weighted terms of the module docstring and their sum."""
        k = self.num_joints
        inputs = batch["inputs"]                                       # (B, 2, V, 3K)
        target = inputs[..., :2 * k].reshape(inputs.shape[:-1] + (k, 2))
        weight = inputs[..., 2 * k:]                                   # (B, 2, V, K)
        present = batch["present"]
        view_ok = (jnp.sum(present, -1) >= MIN_PRESENT) & present[..., self.hips[0]] & present[..., self.hips[1]]
        out = self.network.apply(params, inputs)
        X, R = out["canonical"], out["rotation"]                       # (B,2,V,K,3), (B,2,V,3,3)
        v = X.shape[2]

        def reproject(points):
            """points (B, 2, V_i, V_j, K, 3) seen by view j -> weighted L1 against view j."""
            pres = present[:, :, None]                                  # target view j's points
            proj = normalized_projection(points, pres, self.hips)
            err = jnp.sum(jnp.abs(proj - target[:, :, None]), -1) * weight[:, :, None]
            return jnp.mean(err, -1)                                    # (B, 2, V_i, V_j)

        mixed = jnp.einsum("bfjxy,bfiky->bfijkx", R, X)                 # R_j X_i
        err = reproject(mixed)
        pair_ok = (view_ok[:, :, :, None] & view_ok[:, :, None, :]).astype(jnp.float32)
        eye = jnp.eye(v, dtype=jnp.float32)
        mean = lambda e, m: jnp.sum(e * m) / jnp.maximum(jnp.sum(m), 1.0)  # noqa: E731
        w = self.config.loss
        terms = {"reprojection": w.reprojection * mean(err, pair_ok * eye)}
        if self.config.loss.consistency == "mixing":
            terms["view"] = w.view * mean(err, pair_ok * (1.0 - eye))
        else:  # "equality": the canonical poses themselves must agree (the paper's ablation)
            diff = jnp.mean(jnp.abs(X[:, :, :, None] - X[:, :, None, :]), (-2, -1))
            terms["view"] = w.view * mean(diff, pair_ok * (1.0 - eye))
        if w.camera > 0:
            # R_rel^b_ij = R_j^b R_i^bT applied to the camera-view pose R_i^a X_i^a.
            rel = jnp.einsum("bfjxy,bfizy->bfijxz", R, R)[:, ::-1]    # the other frame's
            seen = jnp.einsum("bfixy,bfiky->bfikx", R, X)               # R_i X_i
            swapped = jnp.einsum("bfijxy,bfiky->bfijkx", rel, seen)
            both = pair_ok * pair_ok[:, ::-1] * (1.0 - eye)
            terms["camera"] = w.camera * mean(reproject(swapped), both)
        if w.get("chirality", 0.0) > 0:
            wrong = jax.nn.relu(-chirality(X, self.chirality_indices))             # (B, 2, V)
            terms["chirality"] = w.chirality * mean(wrong, view_ok.astype(jnp.float32))
        if "pseudo_inputs" in batch:
            pres = batch["pseudo_present"]
            lifted = unit_scale_pose(self.network.apply(params, batch["pseudo_inputs"])["camera_view"], pres, self.hips)
            err = jnp.sum(jnp.abs(lifted - batch["pseudo_target"]), -1)          # (B, F, K)
            terms["pseudo_gt"] = w.get("pseudo_gt", 1.0) * mean(err, pres.astype(jnp.float32))
        return sum(terms.values()), terms

    def train_step(self, state, batch, rng):
        del rng
        (loss, terms), grads = jax.value_and_grad(self.losses, has_aux=True)(state.params, batch)
        return state.apply_gradients(grads, self._tx()), {"loss": loss, **terms}

    # -- evaluation ---------------------------------------------------------------------------

    def predict(self, params, inputs):
        """(..., 3K) inputs -> (..., K, 3) the pose as its camera sees it (R X), hip-centred,
        the input's scale (unit Frobenius norm of the 2D pose)."""
        view = self.network.apply(params, inputs)["camera_view"]
        return hip_centred(view, self.hips)

    def eval_step(self, state, batch):
        pred = self.predict(state.params, batch["inputs"][0])          # (N, K, 3)
        return {k: v[None] for k, v in pose_metrics(pred, batch["keypoints3d_cam"][0], self.hips).items()}

    def eval_summary(self, results, workdir, step):
        del workdir, step
        out = {k: float(np.mean(v)) for k, v in results.items() if k != "cp_error_m"}
        errors = np.asarray(results["cp_error_m"]).reshape(-1)
        out["cps"] = float(metrics.cps_from_pose_errors(errors))
        out["cp150"] = float(np.mean(errors <= 0.150))
        return out


TASK = CanonPoseTask
