"""Fits the GMM pose prior by EM on motion-library poses and writes it as an npz asset.

    python -m posejax.fitting.fit_pose_prior [--source=cmu] [--amass_dir=DIR] [--fps=30] \
        [--components=8] [--reg=0.01] [--mirror=true] [--seed=0] \
        [--out=posejax/fitting/assets/pose_prior_gmm8.npz]

Gathers the 69-D body poses (SMPL joints 1..23) of every frame of the library's clips (CMU mocap
retargeted to SMPL, plus AMASS when `--amass_dir` is given), optionally adds their left-right
mirror images, fits the mixture once with one clip held out to report held-out log-likelihood,
then refits on all clips and writes the asset (see posejax/fitting/assets/README.md).
"""

from __future__ import annotations

import time

import jax
import numpy as np
from absl import app, flags

from posejax.body.poses import mirror_pose
from posejax.fitting.pose_prior import POSE_DIM, fit_gmm, log_likelihood, save_gmm

FLAGS = flags.FLAGS
flags.DEFINE_string("source", "cmu", "motion library source: cmu, auto or procedural")
flags.DEFINE_string("amass_dir", None, "optional AMASS folder whose .npz poses are added")
flags.DEFINE_float("fps", 30.0, "frame rate the clips are resampled to")
flags.DEFINE_integer("components", 8, "mixture components")
flags.DEFINE_integer("iterations", 200, "maximum EM iterations")
flags.DEFINE_float("reg", 1e-2, "covariance floor (rad^2) added to every covariance; 1e-2 (0.1 rad std) "
                   "maximised held-out log-likelihood on the CMU clips among 1e-4, 1e-3, 1e-2, 3e-2, 1e-1")
flags.DEFINE_bool("mirror", True, "add left-right mirrored poses (a symmetric prior, twice the data)")
flags.DEFINE_integer("seed", 0, "PRNG seed of the k-means++ seeding")
flags.DEFINE_string("out", "posejax/fitting/assets/pose_prior_gmm8.npz", "output npz")


def gather(clips, mirror: bool) -> np.ndarray:
    poses = np.concatenate([c.pose for c in clips], axis=0)
    if mirror:
        poses = np.concatenate([poses, mirror_pose(poses)], axis=0)
    return poses[:, 1:, :].reshape(-1, POSE_DIM).astype(np.float32)


def main(argv):
    del argv
    from posejax.compilation_cache import enable_compilation_cache
    from posejax.synth.motion import load_motion_library

    enable_compilation_cache()

    clips = load_motion_library(source=FLAGS.source, fps=FLAGS.fps, body_model="open")
    sources = [FLAGS.source]
    if FLAGS.amass_dir:
        clips = clips + load_motion_library(source="amass:" + FLAGS.amass_dir, fps=FLAGS.fps, body_model="open")
        sources.append("amass:" + FLAGS.amass_dir)
    if len(clips) < 2:
        raise app.UsageError("need at least two clips (one is held out)")
    frames = sum(c.num_frames for c in clips)
    x_all = gather(clips, FLAGS.mirror)
    print(f"pose prior data: {len(clips)} clips from {' + '.join(sources)} "
          f"({', '.join(c.name for c in clips)}), {frames} frames"
          f"{' + mirrored' if FLAGS.mirror else ''} = {x_all.shape[0]} poses of dim {POSE_DIM}", flush=True)

    # Held-out estimate: leave out the last clip (and its mirror image).
    key = jax.random.PRNGKey(FLAGS.seed)
    held, train = clips[-1], clips[:-1]
    x_train, x_held = gather(train, FLAGS.mirror), gather([held], FLAGS.mirror)
    t0 = time.perf_counter()
    gmm, hist = fit_gmm(key, x_train, FLAGS.components, FLAGS.iterations, reg=FLAGS.reg)
    t_cv = time.perf_counter() - t0
    ll_train = float(np.mean(log_likelihood(gmm, x_train)))
    ll_held = float(np.mean(log_likelihood(gmm, x_held)))
    print(f"held-out check: trained on {x_train.shape[0]} poses, held out {held.name} "
          f"({x_held.shape[0]} poses): mean log-likelihood train {ll_train:.2f}, held-out {ll_held:.2f} "
          f"nats/pose ({len(hist) - 1} EM iterations, {t_cv:.1f} s)", flush=True)

    t0 = time.perf_counter()
    gmm, hist = fit_gmm(key, x_all, FLAGS.components, FLAGS.iterations, reg=FLAGS.reg)
    jax.block_until_ready(gmm)
    t_fit = time.perf_counter() - t0
    ll_all = float(np.mean(log_likelihood(gmm, x_all)))
    print(f"final fit on all {x_all.shape[0]} poses: mean log-likelihood {ll_all:.2f} nats/pose, "
          f"{len(hist) - 1} EM iterations, {t_fit:.1f} s (incl. compilation)", flush=True)
    print(f"weights: {np.array2string(np.asarray(gmm.weights), precision=3)}")
    save_gmm(FLAGS.out, gmm,
             source=np.array(" + ".join(sources)), clips=np.array([c.name for c in clips]),
             fps=np.float32(FLAGS.fps), num_poses=np.int64(x_all.shape[0]), mirrored=np.bool_(FLAGS.mirror),
             reg=np.float32(FLAGS.reg), seed=np.int64(FLAGS.seed), train_log_likelihood=np.float32(ll_all),
             heldout_clip=np.array(held.name), heldout_log_likelihood=np.float32(ll_held),
             em_history=np.asarray(hist, np.float32))
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
    app.run(main)
