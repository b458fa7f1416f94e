"""L-BFGS with a backtracking line search, written so the objective is compiled once.

Why a third L-BFGS next to jaxopt's and optax's: their line searches (zoom, Hager-Zhang, and the
backtracking search wrapped in their solver loops) call the objective's value and gradient from
several places (initial state, line-search start, line-search body, first iteration), and XLA
compiles one copy of the objective per call site. For the bundle-adjustment energy, whose value and
gradient alone take about 10 s to compile on a 2-core CPU, that made the first call take most of a
minute. Here the whole solve is one `lax.while_loop` whose body evaluates the objective exactly once,
at a trial point; whether the trial is accepted (Armijo condition) or the step is shortened is
decided afterwards, so the compiled program holds a single copy of the objective and its gradient.

The method is the textbook one (Nocedal and Wright, Numerical Optimization, algorithms 7.4 and
3.1): the two-loop recursion with the initial Hessian scaled by s.y / y.y, pairs with s.y <= 0
skipped, a sufficient-decrease (Armijo) test with c1 = 1e-4, and backtracking by safeguarded
quadratic interpolation (the new step stays within [0.1, 0.5] of the old one); an increase within
rounding of the value (8 ulps) counts as none, so float32 solves keep reducing the gradient near
the minimum. A trial whose value
is NaN or inf counts as a failed trial. After `max_backtracks` failed trials in a row the solve
stops (the point kept is the best one found).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

_C1 = 1e-4  # sufficient-decrease constant of the Armijo test


class _State(NamedTuple):
    x: jax.Array            # (n,) accepted point
    value: jax.Array        # objective at x
    grad: jax.Array         # (n,) gradient at x
    direction: jax.Array    # (n,) search direction from x
    step: jax.Array         # step length of the current trial
    slope: jax.Array        # directional derivative grad . direction (< 0)
    s: jax.Array            # (m, n) last m accepted steps, newest at row `newest`
    y: jax.Array            # (m, n) matching gradient differences
    rho: jax.Array          # (m,) 1 / s.y, 0 for empty or skipped rows
    newest: jax.Array       # row of the newest pair
    iterations: jax.Array   # accepted steps so far
    backtracks: jax.Array   # failed trials in a row
    evaluations: jax.Array  # objective evaluations so far


def _two_loop(grad, s, y, rho, newest):
    """-H grad by the L-BFGS two-loop recursion (rows with rho = 0 are ignored)."""
    m = s.shape[0]
    order = (newest - jnp.arange(m)) % m  # newest first

    def first(q, i):
        alpha = rho[i] * jnp.dot(s[i], q)
        return q - alpha * y[i], alpha

    q, alphas = jax.lax.scan(first, grad, order)
    yy = jnp.dot(y[newest], y[newest])
    gamma = jnp.where(rho[newest] > 0, 1.0 / jnp.maximum(rho[newest] * yy, 1e-30), 1.0)
    r = gamma * q

    def second(r, ia):
        i, alpha = ia
        beta = rho[i] * jnp.dot(y[i], r)
        return r + (alpha - beta) * s[i], None

    r, _ = jax.lax.scan(second, r, (order[::-1], alphas[::-1]))
    return -r


def build_solver(fun: Callable, tol: float, history_size: int, max_backtracks: int = 20):
    """A function `run(maxiter, init_params, *args) -> (params, iterations, value, grad_norm)`.

    Args:
      fun: scalar objective `fun(params, *args)` over a pytree of float arrays.
      tol: stop when the L2 norm of the gradient is at most this.
      history_size: number m of (s, y) pairs kept.
      max_backtracks: failed trials in a row after which the solve stops.

    `run` is traceable (jit it, vmap it); `maxiter` may be traced.
    """
    value_and_grad = jax.value_and_grad(fun)

    def run(maxiter, init_params, *args):
        x0, unravel = ravel_pytree(init_params)
        dtype = x0.dtype

        def evaluate(x):
            v, g = value_and_grad(unravel(x), *args)
            return v, ravel_pytree(g)[0]

        # The start is evaluated by the loop itself: a first "trial" with step 0 from x0 along
        # direction 0, accepted unconditionally; so `evaluate` has a single call site.
        n, m = x0.shape[0], history_size
        zeros = jnp.zeros_like(x0)
        state = _State(x=x0, value=jnp.asarray(jnp.inf, dtype), grad=zeros, direction=zeros,
                       step=jnp.asarray(0.0, dtype), slope=jnp.asarray(0.0, dtype),
                       s=jnp.zeros((m, n), dtype), y=jnp.zeros((m, n), dtype),
                       rho=jnp.zeros((m,), dtype), newest=jnp.asarray(0),
                       iterations=jnp.asarray(-1), backtracks=jnp.asarray(0),
                       evaluations=jnp.asarray(0))

        def keep_going(st):
            gnorm = jnp.linalg.norm(st.grad)
            started = st.iterations >= 0
            return (~started) | ((st.iterations < maxiter) & (gnorm > tol)
                                 & (st.backtracks < max_backtracks))

        def body(st):
            started = st.iterations >= 0
            x_trial = st.x + st.step * st.direction
            v, g = evaluate(x_trial)
            finite = jnp.isfinite(v) & jnp.all(jnp.isfinite(g))
            # Armijo, with a rounding allowance: near the minimum, float32 values stop resolving
            # the decrease and an exact test would reject every step (as in Hager and Zhang's
            # approximate Wolfe conditions, a change within a few ulps of |f| counts as no increase).
            ulps = 8.0 * jnp.finfo(dtype).eps * jnp.abs(st.value)
            armijo = v <= st.value + _C1 * st.step * st.slope + ulps
            accept = (~started) | (finite & armijo)

            # Accepted: store the pair (if it has positive curvature) and take a new direction.
            # The history is updated in place (one row), never copied whole: the loop carries it.
            sk, yk = x_trial - st.x, g - st.grad
            sy = jnp.dot(sk, yk)
            store = accept & started & (sy > 1e-10 * jnp.dot(yk, yk))
            row = jnp.where(store, (st.newest + 1) % m, st.newest)
            s = st.s.at[row].set(jnp.where(store, sk, st.s[row]))
            y = st.y.at[row].set(jnp.where(store, yk, st.y[row]))
            rho = st.rho.at[row].set(jnp.where(store, 1.0 / jnp.where(store, sy, 1.0), st.rho[row]))
            d = _two_loop(g, s, y, rho, row)
            descent = jnp.dot(d, g)
            d = jnp.where(descent < 0, d, -g)  # not a descent direction: steepest descent
            slope_new = jnp.dot(d, g)
            # First step without curvature information: at most a unit move in parameter space.
            first_step = jnp.minimum(1.0, 1.0 / jnp.maximum(jnp.linalg.norm(g), 1e-12))
            step_new = jnp.where(jnp.any(rho > 0), 1.0, first_step).astype(dtype)

            # Rejected: shorten the step by safeguarded quadratic interpolation.
            denom = 2.0 * (v - st.value - st.slope * st.step)
            quad = -st.slope * st.step ** 2 / jnp.where(denom > 0, denom, 1.0)
            shorter = jnp.where(finite & (denom > 0),
                                jnp.clip(quad, 0.1 * st.step, 0.5 * st.step), 0.5 * st.step)

            pick = lambda a, b: jnp.where(accept, a, b)  # noqa: E731
            return _State(
                x=pick(x_trial, st.x), value=pick(v, st.value), grad=pick(g, st.grad),
                direction=pick(d, st.direction), step=pick(step_new, shorter).astype(dtype),
                slope=pick(slope_new, st.slope), s=s, y=y, rho=rho, newest=row,
                iterations=st.iterations + accept.astype(st.iterations.dtype),
                backtracks=jnp.where(accept, 0, st.backtracks + 1),
                evaluations=st.evaluations + 1)

        st = jax.lax.while_loop(keep_going, body, state)
        return unravel(st.x), st.iterations, st.value, jnp.linalg.norm(st.grad)

    return run
