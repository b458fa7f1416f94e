"""Pooled temporal regressor (Habekost et al.) trained on synthetic monocular sequences.

    python -m posejax.train --config=experiments/pooled_regressor.py --workdir=/tmp/pooled
    python -m posejax.train --config=experiments/pooled_regressor.py:tiny --workdir=/tmp/pooled_tiny
    python -m posejax.train --config=experiments/pooled_regressor.py:cpu --workdir=/tmp/pooled_cpu
    python -m posejax.train --config=experiments/pooled_regressor.py:cpu_10k --workdir=/tmp/pooled_10k \
        --config.data.data_dir=/tmp/tfds
    python -m posejax.evaluate --workdir=/tmp/pooled

Default: the paper's network (6 dense layers of 2048 units in 3 pool-concat-dense blocks, 512
max-pooled units), Adam 1e-4, weighted L1 (l_theta 1000, l_beta 10, l_T 100, l_V 1), 16
neighbourhoods of 32 frames per sequence. `:tiny` is a small network on a few short sequences of
the embedded procedural motion, for tests and CPU demos; `:cpu` is the CPU-feasible run of the
README (narrower network, 600 sequences); `:cpu_10k` trains that network on 10,000 sequences of a
prepared TFDS dataset (the README's best camera estimates).
"""

import ml_collections


def get_config(arg=None) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict()
    cfg.task = "pooled_regressor"
    cfg.seed = 0
    cfg.num_steps = 200_000
    cfg.batch_size = 16            # sequences per step (x 16 neighbourhoods)
    cfg.log_every = 100
    cfg.eval_every = 5_000
    cfg.checkpoint_every = 5_000
    cfg.keep_checkpoints = 3
    cfg.body_model = "open"
    cfg.hn_shape = "open"
    cfg.data = ml_collections.ConfigDict(dict(
        observation="coco23", min_frames=600, motion_source="auto", num_procedural_clips=64,
        held_out_every=5, train_procedural_clips=0, num_train=2000, num_validation=100,
        mirror_train_clips=False,  # add every training clip's left-right mirror image
        # Retraining on pseudo ground truth (README): `train_motion_source` replaces the training
        # motion (e.g. "procedural"), `pseudo_gt` is a `python -m posejax.pseudo_gt` dataset
        # folder (<out>/tfds) mixed in at `pseudo_gt_fraction` of the sequences.
        train_motion_source="", pseudo_gt="", pseudo_gt_fraction=0.5,
        # Training from a prepared TFDS dataset instead of on-the-fly synthesis (README): e.g.
        # dataset="synthetic_sequences/coco23_regressor_cpu" under data_dir (built on first use);
        # the first num_train / num_validation examples of its splits; the motion fields above
        # are then unused (the dataset's config fixes the motion).
        dataset="", data_dir=""))
    cfg.model = ml_collections.ConfigDict(dict(
        neighbourhoods=16,
        adversarial=False,  # the paper's "adversarial + pooling" variant (Table 2)
        discriminator=dict(features=256, pool_features=128, num_blocks=2),
        network=dict(conv_features=512, pool_features=512, dense_features=2048, num_blocks=3,
                     dense_per_block=2, pooling=True)))  # pooling=False: "only FC" (Table 2)
    cfg.optimizer = ml_collections.ConfigDict(dict(learning_rate=1e-4, final_fraction=0.1, grad_clip=10.0))
    cfg.loss = ml_collections.ConfigDict(dict(pose=1000.0, shape=10.0, translation=100.0, root_view=100.0,
                                              joints=1.0, camera=100.0, adversarial=10.0))
    if arg == "tiny":
        cfg.update(dict(num_steps=60, batch_size=4, log_every=20, eval_every=60, checkpoint_every=60))
        cfg.data.update(min_frames=48, motion_source="procedural", num_procedural_clips=4,
                        num_train=8, num_validation=2)
        cfg.model.neighbourhoods = 8
        cfg.model.network.update(conv_features=32, pool_features=32, dense_features=64)
        cfg.model.discriminator.update(features=32, pool_features=16)
        cfg.optimizer.learning_rate = 1e-3
    elif arg == "cpu":
        # CPU-feasible: a narrower network on 600 sequences of >= 300 frames whose motion is the
        # training CMU clips plus 64 procedural clips (README: wall time and results).
        cfg.update(dict(num_steps=12_000, batch_size=8, log_every=500, eval_every=4_000,
                        checkpoint_every=2_000))
        cfg.data.update(min_frames=300, num_train=600, num_validation=60, train_procedural_clips=64)
        cfg.model.network.update(conv_features=128, pool_features=128, dense_features=512)
        cfg.optimizer.learning_rate = 3e-4
    elif arg == "cpu_10k":
        # The `:cpu` network on 10,000 prepared sequences (`synthetic_sequences/coco23_regressor_cpu`,
        # built on first use under data.data_dir, default ~/tensorflow_datasets: 6 min, 3.4 GB;
        # its first 600 are `:cpu`'s, up to float32 rounding) for 100k steps: 37 min on 2 CPU
        # cores (README).
        cfg = get_config("cpu")
        cfg.update(dict(num_steps=100_000, eval_every=25_000, checkpoint_every=25_000))
        cfg.data.update(dataset="synthetic_sequences/coco23_regressor_cpu", num_train=10_000)
    elif arg:
        raise ValueError(f"unknown variant {arg!r}; use ':tiny', ':cpu', ':cpu_10k' or nothing")
    return cfg
