"""`cmu_mocap`: CMU motion capture (ASF/AMC, BVH) retargeted to SMPL parameters."""

from posejax_datasets.cmu_mocap.cmu_mocap_dataset_builder import (CmuMocap, CmuMocapConfig,
                                                                   find_motion_files)

__all__ = ["CmuMocap", "CmuMocapConfig", "find_motion_files"]
