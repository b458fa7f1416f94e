"""A small, backend-agnostic L-BFGS interface for the fitting problems (retargeting, bundle adjustment).

`minimize(fun, init_params, *args)` minimises a scalar `fun(params, *args)` over a pytree of float
arrays with one of three L-BFGS implementations:

  * "posejax-lbfgs" (default): `posejax.fitting.lbfgs`, backtracking line search, the objective
    compiled once. For the bundle-adjustment solver (T = 250, 2-core CPU) tracing + compilation
    take 6.0 s, against 28.3 s for jaxopt and 13.9 s for optax (their line searches call the
    objective from several places, each compiled), and an iteration is no slower.
  * "jaxopt-lbfgs": `jaxopt.LBFGS` (zoom line search; jaxopt is no longer developed).
  * "optax-lbfgs": `optax.lbfgs` (where jaxopt's L-BFGS lives on), driven by a `lax.while_loop`.

All stop when the gradient's L2 norm drops below `tol`, when the value fell by at most
`ftol * |value|` over the last `lbfgs.WINDOW` iterations (a stalled solve; `ftol=0` turns this
off), or after `maxiter` iterations, and all run the whole solve inside one jitted function
(compiled with `posejax.fast_compile`'s options). posejax's also takes `scaling="grouped"`, a
diagonal initial Hessian with one scale per group of variables (`posejax.fitting.lbfgs`). The
jitted solver is cached per (fun, method, tol, history_size, scaling, ftol), with the iteration
limit a traced argument; JAX re-traces only when the shapes of `init_params`/`args` change, so
data that changes between calls must be passed in `args` (not closed over) to avoid recompiling.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from posejax import fast_compile

METHODS = ("posejax-lbfgs", "jaxopt-lbfgs", "optax-lbfgs")


@dataclasses.dataclass(frozen=True)
class SolverInfo:
    """Outcome of `minimize`.

    Attributes:
      iterations: L-BFGS iterations run.
      value: final objective value.
      grad_norm: L2 norm of the final gradient (over the whole pytree).
      converged: grad_norm <= tol, or stalled (False when stopped by maxiter).
      stalled: stopped by the `ftol` test.
    """

    iterations: int
    value: float
    grad_norm: float
    converged: bool
    stalled: bool = False


def _tree_norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree)))


@functools.lru_cache(maxsize=64)
def _build(fun: Callable, method: str, tol: float, history_size: int,
           args_in_axes: Optional[Tuple[Optional[int], ...]] = None, scaling: str = "scalar",
           ftol: float = 0.0):
    """Returns a jitted `run(maxiter, init_params, *args) -> (params, iterations, value, grad_norm,
    stalled)`, vmapped over a leading axis of `init_params` and of the `args` whose entry in
    `args_in_axes` is 0 when `args_in_axes` is given (None entries: shared by every problem).

    Both backends run one `lax.while_loop` over the backend's own update step with the iteration
    limit as a traced argument, so one compilation serves every `maxiter` (stages of a staged solve
    reuse it), and the update step is compiled once (`jaxopt`'s own `run` unrolls a first update
    outside its loop, which doubled the compile time of the bundle-adjustment solver).
    """
    from posejax.fitting import lbfgs

    if method == "posejax-lbfgs":
        run = lbfgs.build_solver(fun, tol, history_size, scaling=scaling, ftol=ftol)

    elif method == "jaxopt-lbfgs":
        import jaxopt  # imported lazily: only this backend needs it

        solver = jaxopt.LBFGS(fun=fun, tol=tol, history_size=history_size)

        def run(maxiter, init, *args):
            def keep_going(carry):
                _, state, _, stalled = carry
                return (state.iter_num < maxiter) & (state.error > tol) & ~stalled

            def step(carry):
                params, state, recent, _ = carry
                params, state = solver.update(params, state, *args)
                recent, stalled = lbfgs.stall_window(recent, state.iter_num, state.value, ftol)
                return params, state, recent, stalled

            state = solver.init_state(init, *args)
            recent = lbfgs.empty_window(state.value.dtype)
            params, state, _, stalled = jax.lax.while_loop(
                keep_going, step, (init, state, recent, jnp.asarray(False)))
            value = jnp.where(state.iter_num > 0, state.value, fun(params, *args))
            gnorm = jnp.where(state.iter_num > 0, state.error, _tree_norm(jax.grad(fun)(params, *args)))
            return params, state.iter_num, value, gnorm, stalled

    else:
        import optax
        import optax.tree_utils as otu

        opt = optax.lbfgs(memory_size=history_size)

        def run(maxiter, init, *args):
            f = lambda p: fun(p, *args)  # noqa: E731
            value_and_grad = optax.value_and_grad_from_state(f)

            def step(carry):
                params, state, recent, _ = carry
                value, grad = value_and_grad(params, state=state)
                updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=f)
                recent, stalled = lbfgs.stall_window(recent, otu.tree_get(state, "count"),
                                                      otu.tree_get(state, "value"), ftol)
                return optax.apply_updates(params, updates), state, recent, stalled

            def keep_going(carry):
                _, state, _, stalled = carry
                count = otu.tree_get(state, "count")
                err = _tree_norm(otu.tree_get(state, "grad"))
                return (count < maxiter) & ((count == 0) | (err > tol)) & ~stalled

            dtype = jax.tree_util.tree_leaves(init)[0].dtype
            recent = lbfgs.empty_window(dtype)
            params, state, _, stalled = jax.lax.while_loop(
                keep_going, step, (init, opt.init(init), recent, jnp.asarray(False)))
            # The state's value/grad belong to the final params (computed in the last line search).
            return (params, otu.tree_get(state, "count"), otu.tree_get(state, "value"),
                    _tree_norm(otu.tree_get(state, "grad")), stalled)

    if args_in_axes is not None:
        unbatched = run

        def run(maxiter, init, *args):  # maxiter shared
            return jax.vmap(lambda i, *a: unbatched(maxiter, i, *a), in_axes=(0,) + args_in_axes)(init, *args)

    return jax.jit(run, compiler_options=fast_compile.compiler_options())


def compiled_solver(fun: Callable, method: str = "posejax-lbfgs", tol: float = 1e-6, history_size: int = 10,
                    scaling: str = "scalar", ftol: float = 0.0,
                    args_in_axes: Optional[Sequence[Optional[int]]] = None):
    """The cached jitted solver that `minimize` (or, with `args_in_axes`, `minimize_batch`) runs:
    `run(maxiter, init_params, *args) -> (params, iterations, value, grad_norm, stalled)`, for
    benchmarks that time its tracing and compilation apart. Arguments as for those functions."""
    axes = None if args_in_axes is None else tuple(args_in_axes)
    return _build(fun, method, float(tol), int(history_size), axes, scaling, float(ftol))


def _check(method: str, maxiter: int, tol: float, history_size: int, scaling: str = "scalar",
           ftol: float = 0.0) -> None:
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}, got {method!r}")
    from posejax.fitting.lbfgs import SCALINGS

    if scaling not in SCALINGS or (scaling == "grouped" and method != "posejax-lbfgs"):
        raise ValueError(f"`scaling` must be 'scalar', or 'grouped' with method='posejax-lbfgs'; got "
                         f"scaling={scaling!r} with method={method!r}")
    if not ftol >= 0:
        raise ValueError(f"`ftol` must be >= 0, got {ftol!r}")
    if not (isinstance(maxiter, int) and maxiter >= 1):
        raise ValueError(f"`maxiter` must be a positive int, got {maxiter!r}")
    if not (isinstance(history_size, int) and history_size >= 1):
        raise ValueError(f"`history_size` must be a positive int, got {history_size!r}")
    if not tol >= 0:
        raise ValueError(f"`tol` must be >= 0, got {tol!r}")


def minimize(fun: Callable[..., jax.Array], init_params: Any, *args, method: str = "posejax-lbfgs",
             maxiter: int = 500, tol: float = 1e-6, history_size: int = 10,
             batched: bool = False, scaling: str = "scalar", ftol: float = 0.0) -> tuple[Any, SolverInfo]:
    """Minimises `fun(params, *args)` with L-BFGS.

    Args:
      fun: scalar objective of (params, *args); must be jit-traceable. Pass a module-level function
        (or the same object every time) so the compiled solver is reused.
      init_params: pytree of float arrays, the starting point.
      *args: extra pytrees passed to `fun` unchanged (data, weights, masks).
      method: one of METHODS (see the module docstring).
      maxiter: maximum number of iterations.
      tol: stop when the gradient's L2 norm is at most this.
      history_size: number of (s, y) pairs kept by L-BFGS.
      scaling: "scalar" (textbook) or "grouped" (posejax-lbfgs only; `posejax.fitting.lbfgs`).
      ftol: also stop when the value fell by at most ftol |value| over the last `lbfgs.WINDOW`
        iterations; 0 turns the test off.
      batched: `init_params` and every one of `args` carry a leading batch axis (see
        `minimize_batch`, which also takes shared arguments); SolverInfo then reports the largest
        iteration count and gradient norm and the mean value.

    Returns:
      (params, SolverInfo): the minimiser (same pytree structure as `init_params`) and diagnostics.
    """
    if batched:
        params, infos = minimize_batch(fun, init_params, *args, method=method, maxiter=maxiter, tol=tol,
                                       history_size=history_size, scaling=scaling, ftol=ftol)
        return params, SolverInfo(iterations=max(i.iterations for i in infos),
                                  value=float(np.mean([i.value for i in infos])),
                                  grad_norm=max(i.grad_norm for i in infos),
                                  converged=all(i.converged for i in infos),
                                  stalled=all(i.stalled for i in infos))
    _check(method, maxiter, tol, history_size, scaling, ftol)
    run = compiled_solver(fun, method, tol, history_size, scaling, ftol)
    params, iters, value, gnorm, stalled = run(jnp.int32(maxiter), init_params, *args)
    # numpy, not jnp: eager jnp reductions would each compile a small program on a first call.
    return params, _info(iters, value, gnorm, stalled, tol)


def _info(iters, value, gnorm, stalled, tol: float) -> SolverInfo:
    gnorm, stalled = float(np.asarray(gnorm)), bool(np.asarray(stalled))
    return SolverInfo(iterations=int(np.asarray(iters)), value=float(np.asarray(value)), grad_norm=gnorm,
                      converged=bool(gnorm <= tol) or stalled, stalled=stalled)


def minimize_batch(fun: Callable[..., jax.Array], init_params: Any, *args,
                   args_in_axes: Optional[Sequence[Optional[int]]] = None,
                   method: str = "posejax-lbfgs", maxiter: int = 500, tol: float = 1e-6,
                   history_size: int = 10, scaling: str = "scalar", ftol: float = 0.0
                   ) -> tuple[Any, List[SolverInfo]]:
    """Minimises B independent problems `fun(params[b], *args[b])` with one vmapped L-BFGS.

    Each problem keeps its own line search and curvature history and stops updating when it
    converges; the loop runs until all have. Inputs placed on several devices with a
    `NamedSharding` over their leading axis stay there: the solve is then data-parallel (jit
    propagates the sharding; the only cross-device traffic is the loop's "any left?" test).

    Args:
      fun, method, maxiter, tol, history_size, scaling, ftol: as for `minimize`.
      init_params: pytree of float arrays with a leading axis of B problems.
      *args: extra pytrees passed to `fun`.
      args_in_axes: per entry of `args`, 0 (leading batch axis) or None (shared by all
        problems); default all 0.

    Returns:
      (params with the leading axis B, one SolverInfo per problem).
    """
    _check(method, maxiter, tol, history_size, scaling, ftol)
    axes = tuple(0 for _ in args) if args_in_axes is None else tuple(args_in_axes)
    if len(axes) != len(args) or any(a not in (0, None) for a in axes):
        raise ValueError(f"`args_in_axes` needs one entry (0 or None) per argument ({len(args)}), got "
                         f"{args_in_axes!r}")
    run = compiled_solver(fun, method, tol, history_size, scaling, ftol, axes)
    params, iters, value, gnorm, stalled = run(jnp.int32(maxiter), init_params, *args)
    return params, [_info(*row, tol) for row in zip(*(np.asarray(x) for x in (iters, value, gnorm, stalled)))]
