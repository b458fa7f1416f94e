"""`pseudo_gt`: bundle-adjustment fits kept as pseudo ground truth (`python -m posejax.pseudo_gt`)."""

from posejax_datasets.pseudo_gt.pseudo_gt_dataset_builder import PseudoGt

__all__ = ["PseudoGt"]
