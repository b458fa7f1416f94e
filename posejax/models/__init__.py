"""Flax (linen) modules of posejax's learned models (parameters only; losses live in `posejax.tasks`)."""
