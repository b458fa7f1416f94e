"""Task: VirtualPose's root and pose networks trained end to end on synthetic AGR.

Data: `posejax.synth.agr` scenes of 1 to `data.max_people` people, made at start-up into
in-memory pools from the split's motion clips (`motion_split`: whole clips held out for
validation, which also has its own seed stream, so its people and camera poses are new). A person
with fewer than `MIN_VISIBLE_JOINTS` joints in the image is treated as absent: nothing in the AGR
shows them, so no loss or metric may ask for them.

Losses (paper sections 4.2-4.3), summed with `config.loss` weights:
  * depth: L1 between each present person's estimated root depth and the truth (metres);
  * root: L2 between the root-confidence volume and the target volume, a Gaussian (sigma = one
    voxel edge) around every true root;
  * pose: L1 between the PEN's joints (soft-argmax of its volumes, built around the true roots
    during training as in VoxelPose) and the true joints (metres).

Evaluation (per true person; `eval_step` gives NaN for empty slots, the summary ignores them):
the root-confidence volume's peaks (`local_peaks`, score >= `eval.min_score`, refined to sub-voxel)
are the detected people; each true person takes the nearest detection (a miss when none lies within
`eval.match_mm`); its box is the input box whose root pixel is nearest to the detection's
projection, and the PEN runs around the detection. Reported: detection rate; MRPE and its camera-
frame x / y / z parts (mm); root-relative MPJPE (both poses centred on their hips' midpoint: the
layout has no pelvis) and PA-MPJPE (mm); PCK_abs and PCK_root (% of joints within 150 mm,
absolute or after that alignment); and, for the paper's Table 4, the MRPE of the depth estimator
alone (each root pixel back-projected at its estimated depth) and the PCK_abs of the PEN run
around those roots instead of the REN's (every input person, no detection step).
"""

from __future__ import annotations

import dataclasses
from typing import Dict

import jax
import jax.numpy as jnp
import numpy as np
import optax

from posejax import metrics
from posejax.body.layouts import get_layout, hip_centred, hip_indices
from posejax.geometry.voxels import local_peaks, project_to_map, voxel_centres
from posejax.models.virtualpose import (DepthNet, VolumeNet, person_depths, pose_feature_volume,
                                        pose_from_volumes, refine_peaks, root_feature_volume)
from posejax.synth.agr import MIN_VISIBLE_JOINTS, AGRConfig, circle_camera, synthesize_agr, to_heatmap_pixels
from posejax.tasks.motion_split import clips_for_split
from posejax.training.state import TrainState
from posejax.training.task import Task


NETWORKS = ("depth", "root", "pose")


class VirtualPoseTask(Task):
    """See the module docstring."""

    def __init__(self, config):
        super().__init__(config)
        data, m = config.data, config.model
        self.agr = AGRConfig(
            image_size=tuple(data.image_size), heatmap_size=tuple(data.heatmap_size), layout=data.layout,
            min_people=int(data.min_people), max_people=int(data.max_people),
            space_x=tuple(data.space_x), space_z=tuple(data.space_z),
            jitter_px=float(data.jitter_px), miss_rate=float(data.miss_rate),
            false_positives=float(data.false_positives), mirror=float(data.get("mirror", 0.0)))
        if data.camera == "fixed":
            # config: (azimuth deg, distance m, height m, horizontal FoV deg) on the random cameras' circle
            spec = data.get("fixed_camera")
            if spec is None or len(spec) != 4:
                raise ValueError("data.camera='fixed' needs data.fixed_camera="
                                 "(azimuth_deg, distance, height, hfov_deg)")
            self.agr = dataclasses.replace(self.agr, camera="fixed",
                                           fixed_camera=circle_camera(self.agr, *map(float, spec)))
        elif data.camera != "random":
            raise ValueError(f"data.camera must be 'random' or 'fixed', got {data.camera!r}")
        layout = get_layout(data.layout)
        self.num_joints = layout.num_keypoints
        self.hips = hip_indices(layout)
        self.stride = self.agr.stride
        self.space = (tuple(m.space_centre), tuple(m.space_size), tuple(m.space_shape))
        self.cube = (float(m.cube_size), (int(m.cube_shape),) * 3)
        self.depth_net = DepthNet(features=int(m.depth_features))
        self.root_net = VolumeNet(out=1, features=int(m.root_features))
        self.pose_net = VolumeNet(out=self.num_joints, features=int(m.pose_features))
        self._pools: Dict[str, dict] = {}

    # -- data ---------------------------------------------------------------------------------

    def pool(self, split: str) -> dict:
        """All scenes of "train" or "validation" (`synthesize_agr` arrays), made once."""
        if split not in self._pools:
            from posejax_datasets import common

            data = self.config.data
            clips = common.load_motion("virtualpose", data.motion_source, 10.0, int(data.num_procedural_clips),
                                       int(self.config.seed), body_model=self.config.body_model)
            use = clips_for_split(clips, split, int(data.held_out_every), 0, 10.0, int(self.config.seed),
                                  self.config.body_model)
            count = int(data.num_train if split == "train" else data.num_validation)
            print(f"{split}: {count} AGR scenes from {len(use)} motion clips", flush=True)
            seed = int(self.config.seed) * 2 + (split == "validation")
            if split == "validation" and data.get("validation_seed") is not None:
                seed = int(data.validation_seed)   # other held-out scenes for a finished run
            self._pools[split] = synthesize_agr(seed, use, count, self.agr, self.config.body_model)
        return self._pools[split]

    def scene_batch(self, scenes: dict, picks) -> dict:
        """The network inputs and targets of scenes `picks` of a pool (`pool`), map-pixel roots and boxes."""
        s = self.stride
        return {
            "agr": np.concatenate([np.moveaxis(scenes["heatmaps"][picks], 1, -1),
                                   np.moveaxis(scenes["box_maps"][picks], 1, -1)], -1),
            "K": scenes["K"][picks], "R": scenes["R"][picks], "t": scenes["t"][picks],
            "root_uv": to_heatmap_pixels(scenes["roots2d"][picks], s),
            "boxes": to_heatmap_pixels(scenes["boxes"][picks], s),  # corner coordinates map alike
            # The people in view: one with fewer joints in the image is no detector's business.
            "mask": scenes["people"][picks] & (scenes["visible"][picks].sum(-1) >= MIN_VISIBLE_JOINTS),
            "roots3d": scenes["roots3d"][picks],
            "joints3d": scenes["joints3d"][picks],
        }

    def train_batch(self, step, local_batch_size, process_index, process_count):
        scenes = self.pool("train")
        rng = np.random.default_rng([int(self.config.seed), int(step)])
        picks = rng.integers(0, len(scenes["K"]), local_batch_size * process_count)
        lo = process_index * local_batch_size
        return self.scene_batch(scenes, picks[lo:lo + local_batch_size])

    def example_batch(self):
        w, h = self.agr.heatmap_size
        p, j = self.agr.max_people, self.num_joints
        z = lambda *shape: np.zeros(shape, np.float32)  # noqa: E731
        return {"agr": z(1, h, w, j + 4), "K": np.eye(3, dtype=np.float32)[None], "R": np.eye(3, dtype=np.float32)[None],
                "t": z(1, 3), "root_uv": z(1, p, 2), "boxes": z(1, p, 4), "mask": np.zeros((1, p), bool),
                "roots3d": z(1, p, 3), "joints3d": z(1, p, j, 3)}

    def eval_batches(self):
        scenes = self.pool("validation")
        n = len(scenes["K"])
        for lo in range(0, n, 8):
            yield self.scene_batch(scenes, np.arange(lo, min(lo + 8, n)))

    # -- model --------------------------------------------------------------------------------

    def _tx(self):
        cfg = self.config.optimizer
        schedule = optax.cosine_decay_schedule(cfg.learning_rate, int(self.config.num_steps), alpha=0.05)
        # Each network clips its own gradient: one norm over all three let a burst of the depth
        # term (tiny boxes give wild apparent-size depths) shrink the pose network's step too.
        per_net = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
        return optax.multi_transform({name: per_net for name in NETWORKS},
                                     lambda params: {k: jax.tree.map(lambda _: k, v) for k, v in params.items()})

    def init_state(self, rng, batch):
        r1, r2, r3 = jax.random.split(rng, 3)
        g = self.space[2]
        c = self.cube[1]
        params = {"depth": self.depth_net.init(r1, jnp.asarray(batch["agr"][:1])),
                  "root": self.root_net.init(r2, jnp.zeros((1,) + g + (self.num_joints + 1,))),
                  "pose": self.pose_net.init(r3, jnp.zeros((1,) + c + (self.num_joints,)))}
        return TrainState.create(params, self._tx())

    def _depths(self, params, batch):
        log_depth = self.depth_net.apply(params["depth"], batch["agr"])
        return person_depths(log_depth, batch["K"], batch["root_uv"], batch["boxes"], self.stride)

    def _root_volume(self, params, batch, depths):
        heat = batch["agr"][..., :self.num_joints]
        vol = root_feature_volume(heat, batch["K"], batch["R"], batch["t"], batch["boxes"], depths,
                                  batch["mask"], *self.space, self.stride, float(self.config.model.sigma))
        return self.root_net.apply(params["root"], vol)[..., 0]

    def _pose(self, params, batch, roots, boxes):
        heat = batch["agr"][..., :self.num_joints]
        vol, centres = pose_feature_volume(heat, batch["K"], batch["R"], batch["t"], boxes, roots,
                                           *self.cube, self.stride)
        return pose_from_volumes(self.pose_net.apply(params["pose"], vol), centres)

    def _true_depths(self, batch):
        return jnp.einsum("bj,bpj->bp", batch["R"][:, 2], batch["roots3d"]) + batch["t"][:, 2:3]

    def root_target(self, roots, mask):
        """(B, X, Y, Z) Gaussian target volume around the true roots (sigma = one voxel edge)."""
        centres = voxel_centres(jnp.asarray(self.space[0]), self.space[1], self.space[2])
        sigma = float(np.max(np.asarray(self.space[1]) / np.asarray(self.space[2])))
        d2 = jnp.sum(jnp.square(centres[None, None] - roots[:, :, None, None, None]), -1)   # (B, P, X, Y, Z)
        return jnp.max(jnp.where(mask[..., None, None, None], jnp.exp(-0.5 * d2 / sigma ** 2), 0.0), 1)

    def losses(self, params, batch):
        """Weighted loss terms; a network whose terms all weigh zero is not run (stage-wise
        training: `--config.loss.depth=0 --config.loss.root=0` trains the PEN alone)."""
        w = self.config.loss
        mask = batch["mask"].astype(jnp.float32)
        count = jnp.maximum(jnp.sum(mask), 1.0)
        terms = {}
        if w.depth or w.root:
            depths = self._depths(params, batch)
            terms["depth"] = w.depth * jnp.sum(jnp.abs(depths - self._true_depths(batch)) * mask) / count
        if w.root:
            # The volume is built from the estimated depths, as at inference (no gradient through
            # them: the depth term trains the depth network).
            volume = self._root_volume(params, batch, jax.lax.stop_gradient(depths))
            terms["root"] = w.root * jnp.mean(jnp.square(volume - self.root_target(batch["roots3d"], batch["mask"])))
        if w.pose:
            joints = self._pose(params, batch, batch["roots3d"], batch["boxes"])
            err = jnp.sum(jnp.abs(joints - batch["joints3d"]), -1).mean(-1)
            terms["pose"] = w.pose * jnp.sum(err * mask) / count
        if not terms:
            raise ValueError("config.loss: every weight is zero, nothing to train")
        return sum(terms.values()), terms

    def train_step(self, state, batch, rng):
        del rng
        (loss, terms), grads = jax.value_and_grad(self.losses, has_aux=True)(state.params, batch)
        return state.apply_gradients(grads, self._tx()), {"loss": loss, **terms}

    # -- inference and evaluation -------------------------------------------------------------

    def detect(self, params, batch):
        """Roots of one batch: (roots (B, P, 3) metres, scores (B, P), boxes (B, P, 4) assigned to
        each root, depth-only roots (B, P, 3): each input person back-projected at its depth)."""
        depths = self._depths(params, batch)
        volume = self._root_volume(params, batch, depths)
        centres = voxel_centres(jnp.asarray(self.space[0]), self.space[1], self.space[2])
        p = batch["mask"].shape[1]

        def one(vol, k, r, t, root_uv, boxes, mask):
            scores, idx = local_peaks(vol, p)
            roots = refine_peaks(vol, centres, idx)
            uv, _ = project_to_map(roots, k, r, t, self.stride)                       # (P, 2)
            d = jnp.sum(jnp.square(uv[:, None] - root_uv[None]), -1) + jnp.where(mask, 0.0, 1e12)[None]
            return roots, scores, boxes[jnp.argmin(d, 1)]

        roots, scores, boxes = jax.vmap(one)(volume, batch["K"], batch["R"], batch["t"], batch["root_uv"],
                                             batch["boxes"], batch["mask"])
        k = batch["K"]
        px = (batch["root_uv"] + 0.5) * self.stride
        ray = jnp.stack([(px[..., 0] - k[:, None, 0, 2]) / k[:, None, 0, 0],
                         (px[..., 1] - k[:, None, 1, 2]) / k[:, None, 1, 1], jnp.ones_like(px[..., 0])], -1)
        cam = ray * depths[..., None]
        depth_only = jnp.einsum("bji,bpj->bpi", batch["R"], cam - batch["t"][:, None])   # R^T (x - t)
        return roots, scores, boxes, depth_only

    def predict(self, params, batch):
        """Inference on a batch: the detected people's roots (B, P, 3), scores (B, P), joints
        (B, P, J, 3), world metres, and the depth-only roots (B, P, 3) (`detect`)."""
        roots, scores, boxes, depth_only = self.detect(params, batch)
        return {"roots": roots, "scores": scores, "joints": self._pose(params, batch, roots, boxes),
                "depth_only": depth_only}

    def eval_step(self, state, batch):
        cfg = self.config.eval
        out = self.predict(state.params, batch)
        roots, scores, joints, depth_only = out["roots"], out["scores"], out["joints"], out["depth_only"]
        # Table 4's first row: the PEN around each input person's depth-only root (no REN).
        depth_only_joints = self._pose(state.params, batch, depth_only, batch["boxes"])
        true_roots, mask = batch["roots3d"], batch["mask"]
        d = jnp.linalg.norm(true_roots[:, :, None] - roots[:, None], axis=-1)         # (B, true, pred)
        d = jnp.where(scores[:, None] >= cfg.min_score, d, jnp.inf)
        nearest = jnp.argmin(d, -1)
        found = mask & (jnp.min(d, -1) <= cfg.match_mm / 1000.0)
        take = lambda x: jnp.take_along_axis(x, nearest.reshape(nearest.shape + (1,) * (x.ndim - 2)), 1)  # noqa: E731
        pred_root, pred_joints = take(roots), take(joints)
        to_cam = lambda x: jnp.einsum("bij,bp...j->bp...i", batch["R"], x)  # noqa: E731  (offsets only)
        root_err = jnp.abs(to_cam(pred_root - true_roots)) * 1000.0                     # (B, P, 3) mm
        abs_err = jnp.linalg.norm(pred_joints - batch["joints3d"], axis=-1)            # (B, P, J) m
        # Root-relative: the layout has no pelvis joint, so both poses are centred on their hips'
        # midpoint (the REN's root error is MRPE's business, not the pose's).
        rel_pred = hip_centred(pred_joints, self.hips)
        rel_true = hip_centred(batch["joints3d"], self.hips)
        rel_err = jnp.linalg.norm(rel_pred - rel_true, axis=-1)
        pa = metrics.pa_mpjpe(rel_pred, rel_true, reduction="none")
        nan = lambda x, where: jnp.where(where, x, jnp.nan)  # noqa: E731
        return {
            "detected": nan(found.astype(jnp.float32), mask),
            "mrpe_mm": nan(jnp.linalg.norm(root_err, axis=-1), found),
            "mrpe_x_mm": nan(root_err[..., 0], found), "mrpe_y_mm": nan(root_err[..., 1], found),
            "mrpe_z_mm": nan(root_err[..., 2], found),
            "mpjpe_mm": nan(rel_err.mean(-1) * 1000.0, found),
            "pa_mpjpe_mm": nan(pa, found),
            "pck_abs": nan(100.0 * jnp.mean(abs_err <= 0.15, -1), found),
            "pck_root": nan(100.0 * jnp.mean(rel_err <= 0.15, -1), found),
            "mrpe_depth_only_mm": nan(jnp.linalg.norm(depth_only - true_roots, axis=-1) * 1000.0, mask),
            "pck_abs_depth_only": nan(100.0 * jnp.mean(jnp.linalg.norm(
                depth_only_joints - batch["joints3d"], axis=-1) <= 0.15, -1), mask),
        }

    def eval_summary(self, results, workdir, step):
        del workdir, step
        return {k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in results.items()}


TASK = VirtualPoseTask
