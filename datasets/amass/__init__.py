"""`amass`: AMASS motion (SMPL / SMPL-H npz files the user holds) as SMPL parameters."""

from posejax_datasets.amass.amass_dataset_builder import Amass, AmassConfig, find_amass_files

__all__ = ["Amass", "AmassConfig", "find_amass_files"]
