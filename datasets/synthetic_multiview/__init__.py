"""`synthetic_multiview`: synchronised multi-view 2D keypoints of virtual humans (CanonPose)."""

from posejax_datasets.synthetic_multiview.synthetic_multiview_dataset_builder import (
    SyntheticMultiview, SyntheticMultiviewConfig, stream_examples)

__all__ = ["SyntheticMultiview", "SyntheticMultiviewConfig", "stream_examples"]
