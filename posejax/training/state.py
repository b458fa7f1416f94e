"""`TrainState`: everything a training step reads and writes, as one pytree."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
    """The state the jitted train step donates and returns.

    The optimiser (an optax `GradientTransformation`) belongs to the task, not to the state, so
    the state stays a pure array pytree that Orbax saves and `NamedSharding` places.

    Attributes:
      step: () int32, steps taken.
      params: model parameters (any pytree; an adversarial task keeps {"generator", "discriminator"}).
      opt_state: the optimiser state of `params`.
      extra: anything else the task carries between steps (e.g. running statistics); may be None.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    extra: Any = None

    @classmethod
    def create(cls, params: Any, tx: optax.GradientTransformation, extra: Any = None) -> "TrainState":
        """Step 0 with a fresh optimiser state."""
        return cls(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), extra=extra)

    def apply_gradients(self, grads: Any, tx: optax.GradientTransformation) -> "TrainState":
        """One optimiser update of `params`; step + 1."""
        updates, opt_state = tx.update(grads, self.opt_state, self.params)
        return self.replace(step=self.step + 1, params=optax.apply_updates(self.params, updates),
                            opt_state=opt_state)


def num_parameters(params: Any) -> int:
    """Number of scalars in a parameter pytree."""
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))
