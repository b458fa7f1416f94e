"""`synthetic_multiview`: synchronised multi-view 2D keypoints of virtual humans (CanonPose).

Every example is one clip of one subject filmed by V synchronised virtual cameras
(`posejax.synth.multiview.synthesize_multiview`): per-view 2D keypoints with confidences (what the
self-supervised lifter sees) and, for evaluation only, the cameras and the 3D ground truth.

Build (no TensorFlow needed; ArrayRecord files):

    python -m posejax.data_loading build synthetic_multiview --config=tiny --data_dir=/tmp/tfds

Configs: `tiny` (tests: 3 + 2 examples, 4 views, 8 frames, embedded procedural motion),
`static4` (default: 4 static cameras, 64 frames at 30 fps) and `moving4` (4 moving cameras).
`stream_examples(config, seed)` yields the same examples on the fly without building.

Features (V views, T frames, K keypoints of the config's layout):
  keypoints2d (V, T, K, 2) float32 pixels, confidence (V, T, K) float32 in [0, 1] (0 = missing),
  visible (V, T, K) bool, keypoints2d_clean (V, T, K, 2) exact projections,
  joints3d (T, 24, 3) / keypoints3d (T, K, 3) float32 world metres (Y up),
  joints3d_cam (V, T, 24, 3) / keypoints3d_cam (V, T, K, 3) camera-frame metres (OpenCV),
  camera_K (V, 3, 3), camera_R (V, T, 3, 3) world-to-camera (constant over T for static rigs),
  camera_t (V, T, 3) metres, camera_center (V, T, 3) metres, hfov (V,) radians,
  pose (T, 24, 3) axis-angle, transl (T, 3) metres, betas (10,),
  clip_id (T,) int32 into clip_names, clip_names (list of str), rig ("static" | "moving"),
  fps float32, seed int64 (regenerates the example), index int64 (position in the split).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Iterator, Optional, Union

import numpy as np
import tensorflow_datasets as tfds

from posejax_datasets import common

NAME = "synthetic_multiview"


@dataclasses.dataclass(eq=False)
class SyntheticMultiviewConfig(tfds.core.BuilderConfig):
    """Builder config.

    Attributes:
      multiview: overrides of `posejax.synth.multiview.MultiviewConfig` (num_views, rig, fps,
        num_frames, layout, ranges, noise, ...).
      num_train: examples in the train split.
      num_validation: examples in the validation split.
      seed: base seed; example i of a split is made from `common.example_seed(seed, split, i)`.
      motion_source: "auto" (retargeted CMU clips when present, else embedded procedural motion),
        "procedural", "cmu", or "amass:<folder>" (see `posejax.synth.motion.load_motion_library`).
      num_procedural_clips: clips made when the source is "procedural".
      body_model: body model name for `posejax.body.load_body_model` ("open" or a SMPL path).
    """

    multiview: dict = dataclasses.field(default_factory=dict)
    num_train: int = 1000
    num_validation: int = 100
    seed: int = 0
    motion_source: str = "auto"
    num_procedural_clips: int = 32
    body_model: str = "open"

    def multiview_config(self):
        from posejax.synth.multiview import MultiviewConfig

        return MultiviewConfig(**self.multiview)


CONFIGS = [
    SyntheticMultiviewConfig(
        name="tiny", description="Tests: 3 + 2 examples, 4 static views, 8 frames at 10 fps.",
        multiview=dict(num_views=4, rig="static", fps=10.0, num_frames=8),
        num_train=3, num_validation=2, motion_source="procedural", num_procedural_clips=4),
    SyntheticMultiviewConfig(
        name="static4", description="4 static cameras, 64 frames at 30 fps, coco23.",
        multiview=dict(num_views=4, rig="static", fps=30.0, num_frames=64)),
    SyntheticMultiviewConfig(
        name="moving4", description="4 moving cameras, 64 frames at 30 fps, coco23.",
        multiview=dict(num_views=4, rig="moving", fps=30.0, num_frames=64)),
]


def features(config: SyntheticMultiviewConfig) -> dict:
    """The feature spec of a config (shapes are fixed by its MultiviewConfig)."""
    from posejax.body.layouts import get_layout

    mv = config.multiview_config()
    V, T, K = mv.num_views, mv.num_frames, get_layout(mv.layout).num_keypoints
    t = common.tensor
    return {
        "keypoints2d": t((V, T, K, 2)),
        "confidence": t((V, T, K)),
        "visible": t((V, T, K), np.bool_),
        "keypoints2d_clean": t((V, T, K, 2)),
        "joints3d": t((T, 24, 3)),
        "keypoints3d": t((T, K, 3)),
        "joints3d_cam": t((V, T, 24, 3)),
        "keypoints3d_cam": t((V, T, K, 3)),
        "camera_K": t((V, 3, 3)),
        "camera_R": t((V, T, 3, 3)),
        "camera_t": t((V, T, 3)),
        "camera_center": t((V, T, 3)),
        "hfov": t((V,)),
        "pose": t((T, 24, 3)),
        "transl": t((T, 3)),
        "betas": t((common.NUM_BETAS,)),
        "clip_id": t((T,), np.int32),
        "clip_names": tfds.features.Sequence(tfds.features.Text()),
        "rig": tfds.features.Text(),
        "fps": tfds.features.Scalar(np.float32),
        "seed": tfds.features.Scalar(np.int64),
        "index": tfds.features.Scalar(np.int64),
    }


def _get_config(config: Union[str, SyntheticMultiviewConfig]) -> SyntheticMultiviewConfig:
    if isinstance(config, SyntheticMultiviewConfig):
        return config
    for c in CONFIGS:
        if c.name == config:
            return c
    raise ValueError(f"{NAME}: unknown config {config!r}; known: {[c.name for c in CONFIGS]}")


@functools.lru_cache(maxsize=4)
def _body_model(name: str):
    from posejax.body import load_body_model

    return load_body_model(name)


def _example(seed: int, index: int, clips, model, config: SyntheticMultiviewConfig, spec) -> dict:
    from posejax.synth.multiview import synthesize_multiview

    mv = config.multiview_config()
    out = synthesize_multiview(seed, clips, model, mv)
    T = mv.num_frames
    # One feature layout for both rigs: static cameras are repeated over the frames.
    for key in ("camera_R", "camera_t", "camera_center"):
        if out[key].ndim == (3 if key == "camera_R" else 2):
            out[key] = np.repeat(out[key][:, None], T, axis=1)
    out["betas"] = common.fixed_betas(out["betas"])
    out["seed"], out["index"] = seed, index
    return common.to_example(out, spec)


def stream_examples(config: Union[str, SyntheticMultiviewConfig] = "static4",
                    seed: Optional[int] = None, split: str = "train", start: int = 0,
                    num_examples: Optional[int] = None, clips=None,
                    model=None) -> Iterator[dict]:
    """Yields examples on the fly, without building the dataset (e.g. for training).

    Example i equals the stored example i of `split` when `seed` is the config's seed, so a built
    dataset and a stream agree.

    Args:
      config: config name or object.
      seed: base seed (default: the config's).
      split: "train" or "validation" (selects the seed stream).
      start: index of the first example.
      num_examples: how many to yield; None = endless.
      clips: MotionClips to draw from (default: the config's motion source, loaded once).
      model: body model (default: the config's).

    Yields:
      dicts of NumPy arrays / str with the features of the module docstring.
    """
    config = _get_config(config)
    seed = config.seed if seed is None else int(seed)
    mv = config.multiview_config()
    if clips is None:
        clips = common.load_motion(NAME, config.motion_source, mv.fps,
                                   config.num_procedural_clips, seed)
    model = _body_model(config.body_model) if model is None else model
    spec = features(config)
    i = start
    while num_examples is None or i < start + num_examples:
        yield _example(common.example_seed(seed, split, i), i, clips, model, config, spec)
        i += 1


class SyntheticMultiview(tfds.core.GeneratorBasedBuilder):
    """Synthetic multi-view 2D keypoints with 3D ground truth (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release."}
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_BUILDER_CONFIG_NAME = "static4"

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(features(self.builder_config)),
            # Stored order = generation order, so that source[i] is example i of the stream.
            disable_shuffling=True,
            homepage="https://github.com/posejax/posejax",
        )

    def _split_generators(self, dl_manager):
        config = self.builder_config
        mv = config.multiview_config()
        clips = common.load_motion(NAME, config.motion_source, mv.fps,
                                   config.num_procedural_clips, config.seed)
        common.log(NAME, f"config {config.name!r}: {mv.num_views} {mv.rig} views, "
                         f"{mv.num_frames} frames at {mv.fps:g} fps, layout {mv.layout}, "
                         f"{config.num_train} train + {config.num_validation} validation examples")
        return {
            "train": self._generate_examples("train", config.num_train, clips),
            "validation": self._generate_examples("validation", config.num_validation, clips),
        }

    def _generate_examples(self, split, num, clips):
        config = self.builder_config
        stream = stream_examples(config, split=split, num_examples=num, clips=clips)
        for i, example in enumerate(common.progress(stream, num, NAME, f"{split} examples")):
            yield i, example
