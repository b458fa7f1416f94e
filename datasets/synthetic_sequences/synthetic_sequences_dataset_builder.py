"""`synthetic_sequences`: synthetic monocular 2D sequences for the pooled regressor.

Each example is one sequence of `posejax.synth.sequences.synthesize_sequence` (Habekost et al.,
section 3): one subject with random shape, random motion clips concatenated to at least
`min_frames` frames at 10 fps (clip boundaries recorded), one static camera (pitch, roll, height,
FoV), 1000 x 1000 images, observations in a keypoint layout or as 178 surface points, passed
through the detector-like observation model.

Build (no TensorFlow needed; ArrayRecord files):

    python -m posejax.data_loading build synthetic_sequences --config=tiny --data_dir=/tmp/tfds

Configs: `tiny` (tests: 3 + 2 sequences of >= 30 frames, embedded procedural motion), `coco23`
(default: 2000 + 200 sequences of >= 600 frames, coco23 keypoints), `body25b`, `smpl24`,
`surface178` (the paper's surface-point representation), `coco23_motion_split` (250-frame
sequences whose train and validation splits use different motion clips), `coco23_regressor_cpu`
(the pooled regressor's `:cpu` training data, README). Motion: "auto" =
retargeted CMU clips when ../shared/data/cmu_mocap is present, else the embedded procedural
motion; the build prints which. `stream_examples(config, seed)` yields the same examples on
the fly without building.

Features (T frames, K points: 23 coco23, 25 body25b, 24 smpl24, 178 surface178; C clips):
  keypoints2d (T, K, 2) float32 observed pixels, confidence (T, K) float32 in [0, 1] (0 =
  missing), visible (T, K) bool (not self-occluded), keypoints2d_clean (T, K, 2) exact pixels,
  person_scale (T,) bbox diagonal in pixels,
  pose (T, 24, 3) axis-angle radians, betas (10,), transl (T, 3) metres and transl_hn (T, 3)
  height-normalised (x 1.72 m / subject height), height () metres, all in the camera's world frame
  (Y up, camera at (0, h, 0) looking down +Z),
  camera (4,) = (pitch rad, roll rad, height m, hfov rad), camera_height_hn () metres,
  joints3d (T, 24, 3) / keypoints3d (T, K, 3) camera-frame metres,
  clip_id (T,) int32 (clip of each frame, 0..C-1), clip_boundaries (C,) int32 first frame of each
  clip, clip_index (C,) int32 index into the motion library, clip_names (C,) str,
  fps float32, seed int64 and index int64: the example is
  `synthesize_sequence(jax.random.fold_in(jax.random.key(seed), index % 64), clips, model, cfg)`.
For surface178 the body part of each point is `surface_point_set(model).part_ids`.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Iterator, Optional, Union

import numpy as np
import tensorflow_datasets as tfds

from posejax_datasets import common

NAME = "synthetic_sequences"
BLOCK = 64  # sequences per seed block (see `stream_examples`)


@dataclasses.dataclass(eq=False)
class SyntheticSequencesConfig(tfds.core.BuilderConfig):
    """Builder config.

    Attributes:
      sequence: overrides of `posejax.synth.sequences.SequenceConfig` (min_frames, fps,
        observation, ...; "camera" and "noise" may be dicts of CameraRanges / ObservationConfig
        fields).
      num_train: sequences in the train split.
      num_validation: sequences in the validation split.
      seed: base seed of the splits.
      motion_source: "auto", "procedural", "cmu" or "amass:<folder>".
      num_procedural_clips: clips made when the source is "procedural".
      body_model: body model name for `posejax.body.load_body_model`.
      batch_size: sequences per synthesis kernel call.
      held_out_every: 0: both splits draw from every motion clip; n > 0: the clips are split as
        the tasks split them (`posejax.tasks.motion_split.split_clips`: every n-th clip in name
        order held out), the train split uses the training clips and the validation split the
        held-out ones.
      train_procedural_clips: that many embedded procedural clips added to the train split's
        motion only (as the tasks' `data.train_procedural_clips`).
      mirror_train_clips: add the left-right mirror image of every training clip (as the tasks'
        `data.mirror_train_clips`).
    """

    sequence: dict = dataclasses.field(default_factory=dict)
    num_train: int = 2000
    num_validation: int = 200
    seed: int = 0
    motion_source: str = "auto"
    num_procedural_clips: int = 64
    body_model: str = "open"
    batch_size: int = 16
    held_out_every: int = 0
    train_procedural_clips: int = 0
    mirror_train_clips: bool = False

    def sequence_config(self):
        from posejax.synth.camera_sampling import CameraRanges
        from posejax.synth.observations import ObservationConfig
        from posejax.synth.sequences import SequenceConfig

        kwargs = dict(self.sequence)
        if isinstance(kwargs.get("camera"), dict):
            kwargs["camera"] = CameraRanges(**kwargs["camera"])
        if isinstance(kwargs.get("noise"), dict):
            kwargs["noise"] = ObservationConfig(**kwargs["noise"])
        return SequenceConfig(**kwargs)


CONFIGS = [
    SyntheticSequencesConfig(
        name="tiny", description="Tests: 3 + 2 sequences of >= 30 frames, procedural motion.",
        sequence=dict(min_frames=30), num_train=3, num_validation=2, motion_source="procedural",
        num_procedural_clips=4, batch_size=4),
    SyntheticSequencesConfig(name="coco23", description="coco23 keypoints, >= 600 frames at 10 fps.",
                             sequence=dict(observation="coco23")),
    SyntheticSequencesConfig(name="body25b", description="BODY_25B keypoints.",
                             sequence=dict(observation="body25b")),
    SyntheticSequencesConfig(name="smpl24", description="SMPL joints as keypoints.",
                             sequence=dict(observation="smpl24")),
    SyntheticSequencesConfig(name="surface178",
                             description="178 surface points (emulated DensePose IUV).",
                             sequence=dict(observation="surface178")),
    SyntheticSequencesConfig(
        name="coco23_motion_split",
        description="coco23 keypoints of 250-frame sequences at 10 fps, train motions apart from "
                    "validation motions (the tasks' split); the source of posejax.pseudo_gt's "
                    "README experiment.",
        sequence=dict(min_frames=250), num_train=200, num_validation=20, held_out_every=5),
    SyntheticSequencesConfig(
        name="coco23_regressor_cpu",
        description="The pooled regressor's `:cpu` training data: coco23, >= 300 frames, 10000 + 60 "
                    "sequences (the `:cpu` run reads the first 600), held-out validation motions, "
                    "64 procedural clips added to the training motion.",
        sequence=dict(min_frames=300), num_train=10000, num_validation=60, held_out_every=5,
        train_procedural_clips=64),
]


def _num_points(observation: str) -> int:
    if observation == "surface178":
        from posejax.synth.surface_points import NUM_SURFACE_POINTS

        return NUM_SURFACE_POINTS
    from posejax.body.layouts import get_layout

    return get_layout(observation).num_keypoints


def features(config: SyntheticSequencesConfig) -> dict:
    """The feature spec of a config."""
    K = _num_points(config.sequence_config().observation)
    t = common.tensor
    scalar = tfds.features.Scalar
    return {
        "keypoints2d": t((None, K, 2)),
        "confidence": t((None, K)),
        "visible": t((None, K), np.bool_),
        "keypoints2d_clean": t((None, K, 2)),
        "person_scale": t((None,)),
        "pose": t((None, 24, 3)),
        "betas": t((common.NUM_BETAS,)),
        "transl": t((None, 3)),
        "transl_hn": t((None, 3)),
        "height": scalar(np.float32),
        "camera": t((4,)),
        "camera_height_hn": scalar(np.float32),
        "joints3d": t((None, 24, 3)),
        "keypoints3d": t((None, K, 3)),
        "clip_id": t((None,), np.int32),
        "clip_boundaries": t((None,), np.int32),
        "clip_index": t((None,), np.int32),
        "clip_names": tfds.features.Sequence(tfds.features.Text()),
        "fps": scalar(np.float32),
        "seed": scalar(np.int64),
        "index": scalar(np.int64),
    }


def _split_clips(config: SyntheticSequencesConfig, split: str, clips):
    """The clips `split` draws from (all of them unless the config holds motions out or adds
    procedural training motion)."""
    if not (config.held_out_every or config.train_procedural_clips or config.mirror_train_clips):
        return clips
    from posejax.tasks.motion_split import clips_for_split

    return clips_for_split(clips, split, config.held_out_every, config.train_procedural_clips,
                           config.sequence_config().fps, config.seed, config.body_model,
                           config.mirror_train_clips)


def _get_config(config) -> SyntheticSequencesConfig:
    if isinstance(config, SyntheticSequencesConfig):
        return config
    for c in CONFIGS:
        if c.name == config:
            return c
    raise ValueError(f"{NAME}: unknown config {config!r}; known: {[c.name for c in CONFIGS]}")


@functools.lru_cache(maxsize=4)
def _body_model(name: str):
    from posejax.body import load_body_model

    return load_body_model(name)


def stream_examples(config: Union[str, SyntheticSequencesConfig] = "coco23",
                    seed: Optional[int] = None, split: str = "train", start: int = 0,
                    num_examples: Optional[int] = None, clips=None,
                    model=None) -> Iterator[dict]:
    """Yields sequences on the fly, without building the dataset (e.g. for training).

    Sequences come in blocks of 64: example i is sequence i % 64 of block i // 64, made with the
    block seed `common.example_seed(seed, split, i // 64)`. With the config's seed, example i is the
    stored example i of `split`.

    Args:
      config: config name or object.
      seed: base seed (default: the config's).
      split: "train" or "validation" (selects the seed stream).
      start: index of the first example.
      num_examples: how many to yield; None = endless.
      clips: MotionClips to draw from (default: the config's motion source, loaded once, and
        the split's share of it when the config has `held_out_every`).
      model: body model (default: the config's).

    Yields:
      dicts of NumPy arrays / str with the features of the module docstring.
    """
    from posejax.synth.sequences import synthesize_sequences

    config = _get_config(config)
    seed = config.seed if seed is None else int(seed)
    seq_config = config.sequence_config()
    if clips is None:
        clips = _split_clips(config, split, common.load_motion(
            NAME, config.motion_source, seq_config.fps, config.num_procedural_clips, seed))
    model = _body_model(config.body_model) if model is None else model
    spec = features(config)
    stop = None if num_examples is None else start + num_examples
    block = start // BLOCK
    while stop is None or block * BLOCK < stop:
        block_seed = common.example_seed(seed, split, block)
        first = block * BLOCK
        count = BLOCK if stop is None else min(BLOCK, stop - first)
        sequences = synthesize_sequences(count, block_seed, clips, model, seq_config,
                                         batch_size=config.batch_size)
        for j, seq in enumerate(sequences):
            index = first + j
            if index < start:
                continue
            seq = dict(seq)
            seq["betas"] = common.fixed_betas(seq["betas"])
            seq["clip_names"] = [clips[int(c)].name for c in seq["clip_index"]]
            seq["fps"] = np.float32(seq_config.fps)
            seq["seed"], seq["index"] = block_seed, index
            yield common.to_example(seq, spec)
        block += 1


class SyntheticSequences(tfds.core.GeneratorBasedBuilder):
    """Synthetic monocular sequences with full ground truth (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_BUILDER_CONFIG_NAME = "coco23"

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(features(self.builder_config)),
            disable_shuffling=True,  # stored order = stream order
            homepage="https://github.com/posejax/posejax",
        )

    def _split_generators(self, dl_manager):
        config = self.builder_config
        seq = config.sequence_config()
        clips = common.load_motion(NAME, config.motion_source, seq.fps,
                                   config.num_procedural_clips, config.seed)
        common.log(NAME, f"config {config.name!r}: {seq.observation}, >= {seq.min_frames} frames "
                         f"at {seq.fps:g} fps, {config.num_train} train + "
                         f"{config.num_validation} validation sequences")
        return {split: self._generate_examples(split, num, _split_clips(config, split, clips))
                for split, num in (("train", config.num_train), ("validation", config.num_validation))}

    def _generate_examples(self, split, num, clips):
        stream = stream_examples(self.builder_config, split=split, num_examples=num, clips=clips)
        for i, example in enumerate(common.progress(stream, num, NAME, f"{split} sequences")):
            yield i, example
