"""Pseudo ground truth at scale (Arnab, Doersch and Zisserman, CVPR 2019, sections 4-5).

Whole-video bundle adjustment over a collection of keypoint sequences, selection of the
trustworthy fits, and a TFDS dataset of them for retraining:

    python -m posejax.pseudo_gt --dataset=synthetic_sequences/coco23_motion_split --out=/tmp/pgt

`sources.read_clips` reads the collection, `run.run_pseudo_gt` fits it in resumable batches and
writes the dataset, `selection` keeps the trustworthy fits and summarises a run.
"""

from posejax.pseudo_gt.config import get_config
from posejax.pseudo_gt.run import plan_batches, read_records, run_pseudo_gt, write_dataset
from posejax.pseudo_gt.selection import format_statistics, select, statistics
from posejax.pseudo_gt.sources import Clip, read_clips

__all__ = ["Clip", "format_statistics", "get_config", "plan_batches", "read_clips", "read_records",
           "run_pseudo_gt", "select", "statistics", "write_dataset"]
