"""`synthetic_sequences`: synthetic monocular 2D sequences for the pooled regressor."""

from posejax_datasets.synthetic_sequences.synthetic_sequences_dataset_builder import (
    SyntheticSequences, SyntheticSequencesConfig, stream_examples)

__all__ = ["SyntheticSequences", "SyntheticSequencesConfig", "stream_examples"]
