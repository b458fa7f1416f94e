"""A tiny task for harness tests: linear regression y = x @ W* + noise, with an MLP-free model."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from posejax.training.state import TrainState
from posejax.training.task import Task

DIM_IN, DIM_OUT = 8, 3
TRUE_W = np.random.default_rng(123).normal(size=(DIM_IN, DIM_OUT)).astype(np.float32)


def get_config(arg=None) -> ml_collections.ConfigDict:
    del arg
    return ml_collections.ConfigDict(dict(
        task="tests.training.toy_task", seed=0, num_steps=60, batch_size=8, log_every=20,
        eval_every=30, checkpoint_every=30, keep_checkpoints=2, learning_rate=0.05, dropout=0.02))


def _examples(seed: int, start: int, count: int):
    rng = np.random.default_rng([seed, start])
    x = rng.normal(size=(count, DIM_IN)).astype(np.float32)
    return {"x": x, "y": x @ TRUE_W + 0.01 * rng.normal(size=(count, DIM_OUT)).astype(np.float32)}


class ToyTask(Task):
    def _tx(self):
        return optax.adam(self.config.learning_rate)

    def train_batch(self, step, local_batch_size, process_index, process_count):
        # The global batch of a step is fixed by (seed, step); each process takes its slice.
        full = _examples(self.config.seed, step, local_batch_size * process_count)
        return {k: v[process_index * local_batch_size:(process_index + 1) * local_batch_size]
                for k, v in full.items()}

    def init_state(self, rng, batch):
        w = 0.1 * jax.random.normal(rng, (DIM_IN, DIM_OUT))
        return TrainState.create({"w": w}, self._tx())

    def train_step(self, state, batch, rng):
        def loss_fn(params):
            # Dropout on the inputs makes the step use its key (tests that resuming repeats it).
            keep = jax.random.bernoulli(rng, 1.0 - self.config.dropout, batch["x"].shape)
            x = jnp.where(keep, batch["x"] / (1.0 - self.config.dropout), 0.0)
            return jnp.mean(jnp.square(x @ params["w"] - batch["y"]))

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads, self._tx()), {"loss": loss}

    def eval_batches(self):
        for i in range(2):
            yield _examples(999, i, 16)

    def eval_step(self, state, batch):
        return {"sq_error": jnp.mean(jnp.square(batch["x"] @ state.params["w"] - batch["y"]), -1)}


TASK = ToyTask
