"""A small, backend-agnostic L-BFGS interface for the fitting problems (retargeting, bundle adjustment).

`minimize(fun, init_params, *args)` minimises a scalar `fun(params, *args)` over a pytree of float
arrays with one of two L-BFGS implementations:

  * "jaxopt-lbfgs": `jaxopt.LBFGS` (what the project asked for; jaxopt is no longer developed).
  * "optax-lbfgs": `optax.lbfgs` (where jaxopt's L-BFGS lives on), driven by a `lax.while_loop`.

Both stop when the gradient's L2 norm drops below `tol` or after `maxiter` iterations, and both run
the whole solve inside one jitted function. The jitted solver is cached per (fun, method, maxiter,
tol, history_size); JAX re-traces only when the shapes of `init_params`/`args` change, so data that
changes between calls must be passed in `args` (not closed over) to avoid recompiling.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp

METHODS = ("jaxopt-lbfgs", "optax-lbfgs")


@dataclasses.dataclass(frozen=True)
class SolverInfo:
    """Outcome of `minimize`.

    Attributes:
      iterations: L-BFGS iterations run.
      value: final objective value.
      grad_norm: L2 norm of the final gradient (over the whole pytree).
      converged: grad_norm <= tol (False when stopped by maxiter).
    """

    iterations: int
    value: float
    grad_norm: float
    converged: bool


def _tree_norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree)))


@functools.lru_cache(maxsize=64)
def _build(fun: Callable, method: str, maxiter: int, tol: float, history_size: int):
    """Returns a jitted `run(init_params, *args) -> (params, iterations, value, grad_norm)`."""
    if method == "jaxopt-lbfgs":
        import jaxopt  # imported lazily: only this backend needs it

        solver = jaxopt.LBFGS(fun=fun, maxiter=maxiter, tol=tol, history_size=history_size)

        def run(init, *args):
            params, state = solver.run(init, *args)
            return params, state.iter_num, state.value, state.error

    else:
        import optax
        import optax.tree_utils as otu

        opt = optax.lbfgs(memory_size=history_size)

        def run(init, *args):
            f = lambda p: fun(p, *args)  # noqa: E731
            value_and_grad = optax.value_and_grad_from_state(f)

            def step(carry):
                params, state = carry
                value, grad = value_and_grad(params, state=state)
                updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=f)
                return optax.apply_updates(params, updates), state

            def keep_going(carry):
                _, state = carry
                count = otu.tree_get(state, "count")
                err = _tree_norm(otu.tree_get(state, "grad"))
                return (count == 0) | ((count < maxiter) & (err > tol))

            params, state = jax.lax.while_loop(keep_going, step, (init, opt.init(init)))
            # The state's value/grad belong to the final params (computed in the last line search).
            return (params, otu.tree_get(state, "count"), otu.tree_get(state, "value"),
                    _tree_norm(otu.tree_get(state, "grad")))

    return jax.jit(run)


def minimize(fun: Callable[..., jax.Array], init_params: Any, *args, method: str = "jaxopt-lbfgs",
             maxiter: int = 500, tol: float = 1e-6, history_size: int = 10) -> tuple[Any, SolverInfo]:
    """Minimises `fun(params, *args)` with L-BFGS.

    Args:
      fun: scalar objective of (params, *args); must be jit-traceable. Pass a module-level function
        (or the same object every time) so the compiled solver is reused.
      init_params: pytree of float arrays, the starting point.
      *args: extra pytrees passed to `fun` unchanged (data, weights, masks).
      method: "jaxopt-lbfgs" or "optax-lbfgs".
      maxiter: maximum number of iterations.
      tol: stop when the gradient's L2 norm is at most this.
      history_size: number of (s, y) pairs kept by L-BFGS.

    Returns:
      (params, SolverInfo): the minimiser (same pytree structure as `init_params`) and diagnostics.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")
    if not (isinstance(maxiter, int) and maxiter >= 1):
        raise ValueError(f"`maxiter` must be a positive int, got {maxiter!r}")
    if not (isinstance(history_size, int) and history_size >= 1):
        raise ValueError(f"`history_size` must be a positive int, got {history_size!r}")
    if not tol >= 0:
        raise ValueError(f"`tol` must be >= 0, got {tol!r}")
    run = _build(fun, method, int(maxiter), float(tol), int(history_size))
    params, iters, value, gnorm = run(init_params, *args)
    gnorm = float(gnorm)
    return params, SolverInfo(iterations=int(iters), value=float(value), grad_norm=gnorm,
                              converged=bool(gnorm <= tol))
