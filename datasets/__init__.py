"""TensorFlow Datasets builders of posejax (installed as the `posejax_datasets` package)."""
