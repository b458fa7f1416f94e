"""VirtualPose (Su et al., ECCV 2022): root and pose networks trained only on synthetic AGR.

    python -m posejax.train --config=experiments/virtualpose.py --workdir=/tmp/virtualpose
    python -m posejax.train --config=experiments/virtualpose.py:tiny --workdir=/tmp/virtualpose_tiny
    python -m posejax.train --config=experiments/virtualpose.py:cpu --workdir=/tmp/virtualpose_cpu
    python -m posejax.train --config=experiments/virtualpose.py:cpu_long --workdir=/tmp/virtualpose_cpu_long
    python -m posejax.evaluate --workdir=/tmp/virtualpose

Default: the paper's sizes (960 x 512 images, 240 x 128 AGR, a 64^3 cube of 2 m for the PEN; the
capture space 8 x 2 x 8 m in 80 x 20 x 80 voxels of 100 mm, sigma 200 mm), random virtual
cameras, 1-3 people, Adam. `:tiny` is a small model on small maps and grids for tests and CPU
demos; `:cpu` is the CPU-feasible run (about half an hour on two cores); `:cpu_long` the same
network trained six times as long on 4,000 instead of 1,500 scenes, half the people mirrored
(`data.mirror`, off elsewhere; about 100 minutes);
`:cpu_fixed` is `:cpu` trained for one camera (`data.camera="fixed"`, `data.fixed_camera` =
(azimuth deg, distance m, height m, horizontal FoV deg) on the random cameras' circle), the
paper's Table 5 setting.
"""

import ml_collections


def get_config(arg=None) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict()
    cfg.task = "virtualpose"
    cfg.seed = 0
    cfg.num_steps = 100_000
    cfg.batch_size = 8             # scenes per step
    cfg.log_every = 100
    cfg.eval_every = 10_000
    cfg.checkpoint_every = 10_000
    cfg.keep_checkpoints = 3
    cfg.body_model = "open"
    cfg.data = ml_collections.ConfigDict(dict(
        image_size=(960, 512), heatmap_size=(240, 128), layout="coco17", min_people=1, max_people=3,
        space_x=(-3.0, 3.0), space_z=(-3.0, 3.0), camera="random", fixed_camera=None,
        jitter_px=3.0, miss_rate=0.05, false_positives=1.0, mirror=0.0,
        motion_source="auto", num_procedural_clips=64, held_out_every=5,
        num_train=20_000, num_validation=500, validation_seed=None))
    cfg.model = ml_collections.ConfigDict(dict(
        space_centre=(0.0, 1.0, 0.0), space_size=(8.0, 2.0, 8.0), space_shape=(80, 20, 80),
        cube_size=2.0, cube_shape=64, sigma=0.2, depth_features=64, root_features=32, pose_features=32))
    cfg.optimizer = ml_collections.ConfigDict(dict(learning_rate=1e-4))
    cfg.loss = ml_collections.ConfigDict(dict(depth=1.0, root=100.0, pose=1.0))
    cfg.eval = ml_collections.ConfigDict(dict(min_score=0.3, match_mm=500.0))
    if arg == "tiny":
        cfg.update(dict(num_steps=40, batch_size=4, log_every=20, eval_every=40, checkpoint_every=40))
        cfg.data.update(image_size=(320, 192), heatmap_size=(80, 48), motion_source="procedural",
                        num_procedural_clips=4, num_train=16, num_validation=4)
        cfg.model.update(space_shape=(16, 4, 16), cube_shape=8, depth_features=8, root_features=4, pose_features=4)
        cfg.optimizer.learning_rate = 1e-3
    elif arg in ("cpu", "cpu_fixed", "cpu_long"):
        # Sized for about half an hour on a 2-core CPU: 3D convolutions dominate.
        cfg.update(dict(num_steps=2_000, batch_size=8, log_every=100, eval_every=2_000, checkpoint_every=500))
        cfg.data.update(image_size=(480, 256), heatmap_size=(120, 64), num_train=1_500, num_validation=100)
        cfg.model.update(space_shape=(32, 8, 32), cube_shape=12, depth_features=16, root_features=8,
                         pose_features=16)
        cfg.optimizer.learning_rate = 3e-4
        if arg == "cpu_fixed":
            cfg.data.update(camera="fixed", fixed_camera=(30.0, 8.0, 2.5, 60.0))
        if arg == "cpu_long":
            # Pose accuracy was still improving at 2,000, 4,000 and 8,000 steps; more scenes keep
            # 96,000 training samples from repeating the same 1,500 scenes 64 times, and mirrored
            # people double the poses of the four training clips.
            cfg.update(dict(num_steps=12_000, eval_every=4_000, checkpoint_every=1_000))
            cfg.data.update(num_train=4_000, mirror=0.5)
    elif arg:
        raise ValueError(f"unknown variant {arg!r}; use ':tiny', ':cpu', ':cpu_long', ':cpu_fixed' or nothing")
    return cfg
