"""L-BFGS with a backtracking line search, written so the objective is compiled once.

Why a third L-BFGS next to jaxopt's and optax's: their line searches (zoom, Hager-Zhang, and the
backtracking search wrapped in their solver loops) call the objective's value and gradient from
several places (initial state, line-search start, line-search body, first iteration), and XLA
compiles one copy of the objective per call site. For the bundle-adjustment energy, whose value and
gradient alone take about 6 s to compile on a 2-core CPU, jaxopt's solver took 28 s to compile. Here the whole solve is one `lax.while_loop` whose body evaluates the objective exactly once,
at a trial point; whether the trial is accepted (Armijo condition) or the step is shortened is
decided afterwards, so the compiled program holds a single copy of the objective and its gradient.

The method is the textbook one (Nocedal and Wright, Numerical Optimization, algorithms 7.4 and
3.1): the two-loop recursion with the initial Hessian scaled by s.y / y.y, pairs with s.y <= 0
skipped, a sufficient-decrease (Armijo) test with c1 = 1e-4, and backtracking by safeguarded
quadratic interpolation (the new step stays within [0.1, 0.5] of the old one); an increase within
rounding of the value (8 ulps) counts as none, so float32 solves keep reducing the gradient near
the minimum. A trial whose value or gradient is NaN or inf counts as a failed trial. After
`max_backtracks` failed trials in a row the solve stops at the last accepted point.

Two options beyond the textbook:

  * `scaling="grouped"`: the initial Hessian is diagonal with one Barzilai-Borwein scale
    s_G.y_G / y_G.y_G per group G of variables instead of one for all (the global scale where a
    group's s_G.y_G <= 0). A group is one leaf of the parameter pytree, or, for a leaf with two or
    more axes, one index of its trailing axes across the leading axis: in bundle adjustment the
    leading axis is the frames, so each joint angle, camera coordinate and the shape form groups.
    Their curvatures differ by 30x there (shift 2,100, global orientation 630, body joints 66 per
    unit, Hessian-vector products at the minimum), which one scalar cannot serve.
  * `ftol`: also stop when the value fell by at most `ftol * |value|` over the last `WINDOW`
    accepted iterations (a stalled solve), the relative-decrease test of L-BFGS-B taken over a
    window because single float32 steps are noisy.

The iterates stay pytrees (the history as pytrees with a leading axis of m rows): flattening them
into one vector around the objective cost 25% more time per bundle-adjustment evaluation on CPU
(the slices and concatenations kept XLA from fusing into the energy).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
_C1 = 1e-4  # sufficient-decrease constant of the Armijo test
WINDOW = 10  # accepted iterations over which `ftol` measures the decrease
SCALINGS = ("scalar", "grouped")
GROUP_SPREAD = 100.0  # group scales stay within this factor of the global one

_map = jax.tree_util.tree_map


def _dot(a, b) -> jax.Array:
    """Inner product of two pytrees of the same structure."""
    return sum(jnp.vdot(u, v) for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


def _axpy(alpha, x, y):
    """alpha x + y over pytrees."""
    return _map(lambda u, v: alpha * u + v, x, y)


def _row(tree, i):
    return _map(lambda h: h[i], tree)


def _select(cond, a, b):
    return _map(lambda u, v: jnp.where(cond, u, v), a, b)


class _State(NamedTuple):
    x: Any                  # accepted point (pytree like the parameters)
    value: jax.Array        # objective at x
    grad: Any               # gradient at x
    direction: Any          # search direction from x
    step: jax.Array         # step length of the current trial
    slope: jax.Array        # directional derivative grad . direction (< 0)
    s: Any                  # last m accepted steps (leading axis m), newest at row `newest`
    y: Any                  # matching gradient differences
    rho: jax.Array          # (m,) 1 / s.y, 0 for empty or skipped rows
    newest: jax.Array       # row of the newest pair
    iterations: jax.Array   # accepted steps so far
    backtracks: jax.Array   # failed trials in a row
    recent: jax.Array       # (WINDOW,) values of the last WINDOW accepted points (ring)
    stalled: jax.Array      # the value fell by at most ftol |value| over the last WINDOW


def empty_window(dtype) -> jax.Array:
    """The ring of `stall_window` before any value: (WINDOW,) of inf."""
    return jnp.full((WINDOW,), jnp.inf, dtype)


def stall_window(recent: jax.Array, iteration, value, ftol: float):
    """Records `value` as iteration `iteration`'s in the ring `recent` (WINDOW,) of the latest
    values (inf where none yet); returns (recent, whether the value fell by at most
    ftol |value| since WINDOW iterations ago; always False when ftol is 0)."""
    slot = iteration % WINDOW
    before = recent[slot]
    return recent.at[slot].set(value), (before - value <= ftol * jnp.abs(value)) & (ftol > 0)


def _group_scales(s_new, y_new, gamma):
    """Per-group initial inverse-Hessian scales (module docstring), broadcastable to each leaf."""
    def one(sn, yn):
        axes = (0,) if sn.ndim >= 2 else tuple(range(sn.ndim))
        sy = jnp.sum(sn * yn, axes, keepdims=True)
        yy = jnp.sum(yn * yn, axes, keepdims=True)
        scale = jnp.where((sy > 0) & (yy > 0), sy / jnp.maximum(yy, 1e-30), gamma)
        # Bounded around the global scale: a group whose step and gradient change are at the
        # level of rounding would otherwise get an arbitrary scale.
        return jnp.clip(scale, gamma / GROUP_SPREAD, gamma * GROUP_SPREAD)

    return _map(one, s_new, y_new)


def _two_loop(grad, s, y, rho, newest, grouped: bool):
    """-H grad by the L-BFGS two-loop recursion (rows with rho = 0 are ignored)."""
    m = rho.shape[0]
    order = (newest - jnp.arange(m)) % m  # newest first

    def first(q, i):
        alpha = rho[i] * _dot(_row(s, i), q)
        return _axpy(-alpha, _row(y, i), q), alpha

    q, alphas = jax.lax.scan(first, grad, order)
    y_new = _row(y, newest)
    yy = _dot(y_new, y_new)
    gamma = jnp.where(rho[newest] > 0, 1.0 / jnp.maximum(rho[newest] * yy, 1e-30), 1.0)
    if grouped:
        r = _map(jnp.multiply, _group_scales(_row(s, newest), y_new, gamma), q)
    else:
        r = _map(lambda v: gamma * v, q)

    def second(r, ia):
        i, alpha = ia
        beta = rho[i] * _dot(_row(y, i), r)
        return _axpy(alpha - beta, _row(s, i), r), None

    r, _ = jax.lax.scan(second, r, (order[::-1], alphas[::-1]))
    return _map(jnp.negative, r)


def build_solver(fun: Callable, tol: float, history_size: int, max_backtracks: int = 20,
                 scaling: str = "scalar", ftol: float = 0.0):
    """A function `run(maxiter, init_params, *args) -> (params, iterations, value, grad_norm,
    stalled)`.

    Args:
      fun: scalar objective `fun(params, *args)` over a pytree of float arrays.
      tol: stop when the L2 norm of the gradient is at most this.
      history_size: number m of (s, y) pairs kept.
      max_backtracks: failed trials in a row after which the solve stops.
      scaling: "scalar" or "grouped" initial Hessian (module docstring).
      ftol: stop when the relative decrease over the last `WINDOW` accepted iterations is at most
        this (0: never); `stalled` reports it.

    `run` is traceable (jit it, vmap it); `maxiter` may be traced.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"`scaling` must be one of {SCALINGS}, got {scaling!r}")
    value_and_grad = jax.value_and_grad(fun)
    m = history_size
    grouped = scaling == "grouped"

    def run(maxiter, init_params, *args):
        x0 = _map(jnp.asarray, init_params)
        dtype = jax.tree_util.tree_leaves(x0)[0].dtype
        zeros = _map(jnp.zeros_like, x0)
        history = _map(lambda v: jnp.zeros((m,) + v.shape, v.dtype), x0)
        # The start is evaluated by the loop itself: a first "trial" with step 0 from x0 along
        # direction 0, accepted unconditionally; so the objective has a single call site.
        state = _State(x=x0, value=jnp.asarray(jnp.inf, dtype), grad=zeros, direction=zeros,
                       step=jnp.asarray(0.0, dtype), slope=jnp.asarray(0.0, dtype),
                       s=history, y=history, rho=jnp.zeros((m,), dtype), newest=jnp.asarray(0),
                       iterations=jnp.asarray(-1), backtracks=jnp.asarray(0),
                       recent=empty_window(dtype), stalled=jnp.asarray(False))

        def keep_going(st):
            gnorm = jnp.sqrt(_dot(st.grad, st.grad))
            started = st.iterations >= 0
            return (~started) | ((st.iterations < maxiter) & (gnorm > tol)
                                 & (st.backtracks < max_backtracks) & ~st.stalled)

        def body(st):
            started = st.iterations >= 0
            x_trial = _axpy(st.step, st.direction, st.x)
            v, g = value_and_grad(x_trial, *args)
            finite = jnp.isfinite(v) & jnp.all(jnp.stack(
                [jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(g)]))
            # Armijo, with a rounding allowance: near the minimum, float32 values stop resolving
            # the decrease and an exact test would reject every step (as in Hager and Zhang's
            # approximate Wolfe conditions, a change within a few ulps of |f| counts as no increase).
            ulps = 8.0 * jnp.finfo(dtype).eps * jnp.abs(st.value)
            armijo = v <= st.value + _C1 * st.step * st.slope + ulps
            accept = (~started) | (finite & armijo)

            # Accepted: store the pair (if it has positive curvature) and take a new direction.
            # The history is updated in place (one row), never copied whole: the loop carries it.
            sk = _map(jnp.subtract, x_trial, st.x)
            yk = _map(jnp.subtract, g, st.grad)
            sy = _dot(sk, yk)
            store = accept & started & (sy > 1e-10 * _dot(yk, yk))
            row = jnp.where(store, (st.newest + 1) % m, st.newest)
            put = lambda h, new: h.at[row].set(jnp.where(store, new, h[row]))  # noqa: E731
            s, y = _map(put, st.s, sk), _map(put, st.y, yk)
            rho = st.rho.at[row].set(jnp.where(store, 1.0 / jnp.where(store, sy, 1.0), st.rho[row]))
            d = _two_loop(g, s, y, rho, row, grouped)
            d = _select(_dot(d, g) < 0, d, _map(jnp.negative, g))  # else steepest descent
            slope_new = _dot(d, g)
            # First step without curvature information: at most a unit move in parameter space.
            first_step = jnp.minimum(1.0, 1.0 / jnp.maximum(jnp.sqrt(_dot(g, g)), 1e-12))
            step_new = jnp.where(jnp.any(rho > 0), 1.0, first_step).astype(dtype)

            # Rejected: shorten the step by safeguarded quadratic interpolation.
            denom = 2.0 * (v - st.value - st.slope * st.step)
            quad = -st.slope * st.step ** 2 / jnp.where(denom > 0, denom, 1.0)
            shorter = jnp.where(finite & (denom > 0),
                                jnp.clip(quad, 0.1 * st.step, 0.5 * st.step), 0.5 * st.step)

            iterations = st.iterations + accept.astype(st.iterations.dtype)
            recent, stalled = stall_window(st.recent, jnp.maximum(iterations, 0), v, ftol)

            return _State(
                x=_select(accept, x_trial, st.x), value=jnp.where(accept, v, st.value),
                grad=_select(accept, g, st.grad), direction=_select(accept, d, st.direction),
                step=jnp.where(accept, step_new, shorter).astype(dtype),
                slope=jnp.where(accept, slope_new, st.slope), s=s, y=y, rho=rho, newest=row,
                iterations=iterations, backtracks=jnp.where(accept, 0, st.backtracks + 1),
                recent=jnp.where(accept, recent, st.recent),
                stalled=jnp.where(accept, started & stalled, st.stalled))

        st = jax.lax.while_loop(keep_going, body, state)
        return st.x, st.iterations, st.value, jnp.sqrt(_dot(st.grad, st.grad)), st.stalled

    return run
