"""The L-BFGS backends behind `minimize` find the same optimum."""

import jax.numpy as jnp
import numpy as np
import pytest

from posejax.fitting.solvers import METHODS, SolverInfo, minimize


def rosenbrock(params, scale):
    x, y = params["x"], params["y"]
    return jnp.sum(scale * (y - x**2) ** 2 + (1.0 - x) ** 2)


def least_squares(w, a, b):
    return 0.5 * jnp.sum((a @ w - b) ** 2)


@pytest.mark.parametrize("method", METHODS)
def test_rosenbrock(method):
    init = {"x": jnp.full((3,), -1.2), "y": jnp.ones((3,))}
    params, info = minimize(rosenbrock, init, jnp.float32(100.0), method=method, maxiter=300, tol=1e-5)
    assert isinstance(info, SolverInfo)
    np.testing.assert_allclose(params["x"], 1.0, atol=2e-3)
    np.testing.assert_allclose(params["y"], 1.0, atol=4e-3)
    assert info.value < 1e-5
    assert 5 < info.iterations <= 300


def test_backends_agree_on_least_squares():
    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(40, 8)), jnp.float32)
    b = jnp.asarray(rng.normal(size=(40,)), jnp.float32)
    expected = np.linalg.lstsq(np.asarray(a), np.asarray(b), rcond=None)[0]
    results = [minimize(least_squares, jnp.zeros(8), a, b, method=m, maxiter=200, tol=1e-5) for m in METHODS]
    for w, info in results:
        np.testing.assert_allclose(w, expected, atol=1e-4)
        assert info.converged and info.grad_norm <= 1e-5
    np.testing.assert_allclose(results[0][0], results[1][0], atol=1e-4)


def test_compiled_once_per_shape_and_across_maxiter():
    from posejax.fitting import solvers
    solvers._build.cache_clear()
    a = jnp.eye(3)
    for b, maxiter in ((jnp.ones(3), 50), (jnp.arange(3.0), 80)):
        w, _ = minimize(least_squares, jnp.zeros(3), a, b, maxiter=maxiter)
        np.testing.assert_allclose(w, b, atol=1e-4)
    assert solvers._build.cache_info().misses == 1
    run = solvers.compiled_solver(least_squares, tol=1e-6, history_size=10)
    assert run._cache_size() == 1


@pytest.mark.parametrize("method", METHODS)
def test_maxiter_is_respected(method):
    init = {"x": jnp.full((3,), -1.2), "y": jnp.ones((3,))}
    _, info = minimize(rosenbrock, init, jnp.float32(100.0), method=method, maxiter=3, tol=0.0)
    assert info.iterations == 3 and not info.converged


@pytest.mark.parametrize("method", METHODS)
def test_batched_matches_one_by_one(method):
    rng = np.random.default_rng(1)
    a = jnp.asarray(rng.normal(size=(4, 20, 5)), jnp.float32)
    b = jnp.asarray(rng.normal(size=(4, 20)), jnp.float32)
    w, info = minimize(least_squares, jnp.zeros((4, 5)), a, b, method=method, maxiter=200, tol=1e-5,
                       batched=True)
    for i in range(4):
        expected = np.linalg.lstsq(np.asarray(a[i]), np.asarray(b[i]), rcond=None)[0]
        np.testing.assert_allclose(w[i], expected, atol=1e-4)
    assert info.converged


def test_batch_with_shared_arguments_and_per_problem_diagnostics():
    from posejax.fitting.solvers import minimize_batch

    rng = np.random.default_rng(2)
    a = jnp.asarray(rng.normal(size=(20, 5)), jnp.float32)        # shared by the problems
    b = jnp.asarray(rng.normal(size=(3, 20)), jnp.float32)
    b = b.at[1].set(a @ jnp.ones(5))                             # problem 1: an exact solution
    w, infos = minimize_batch(least_squares, jnp.zeros((3, 5)), a, b, args_in_axes=(None, 0), maxiter=200,
                              tol=1e-5)
    assert len(infos) == 3 and all(i.converged for i in infos)
    for i in range(3):
        expected = np.linalg.lstsq(np.asarray(a), np.asarray(b[i]), rcond=None)[0]
        np.testing.assert_allclose(w[i], expected, atol=1e-4)
    assert infos[1].value < 1e-8 < infos[0].value
    with pytest.raises(ValueError, match="one entry"):
        minimize_batch(least_squares, jnp.zeros((3, 5)), a, b, args_in_axes=(None,))


def test_bad_method():
    with pytest.raises(ValueError, match="`method` must be one of"):
        minimize(least_squares, jnp.zeros(3), jnp.eye(3), jnp.ones(3), method="bfgs")


def test_own_lbfgs_traces_the_objective_once():
    """One call site of the objective in the compiled solver (its compile-time advantage)."""
    from posejax.fitting import solvers

    traces = {}

    def counted(method):
        def fun(w, a, b):
            traces[method] = traces.get(method, 0) + 1
            return least_squares(w, a, b)
        return fun

    for method in ("posejax-lbfgs", "jaxopt-lbfgs"):
        solvers._build(counted(method), method, 1e-6, 10).lower(
            jnp.int32(5), jnp.zeros(3), jnp.eye(3), jnp.ones(3))
    assert traces["posejax-lbfgs"] == 1
    assert traces["jaxopt-lbfgs"] > 1


def test_own_lbfgs_backtracks_out_of_non_finite_regions():
    """Trials where the objective is NaN are rejected; the result stays finite and lower."""
    def fenced(x):  # minimum at 3, but undefined beyond 0.5
        return jnp.sum(jnp.where(x < 0.5, (x - 3.0) ** 2, jnp.nan))

    x, info = minimize(fenced, jnp.zeros(2), method="posejax-lbfgs", maxiter=50, tol=1e-6)
    assert np.all(np.isfinite(np.asarray(x))) and np.all(np.asarray(x) < 0.5)
    assert np.isfinite(info.value) and info.value < 12.51  # f(0) = 18, the fence allows 12.5
    assert not info.converged


def badly_scaled(params, weights):
    """A chain of T frames with a stiff and a soft coordinate and one shared variable; minimum
    at frames = (1, -2) everywhere, shared = 2, value 0."""
    x, g = params["frames"], params["shared"]
    fit = weights[0] * (x[:, 0] - 1.0) ** 2 + weights[1] * (x[:, 1] + g[0]) ** 2
    return 0.5 * (jnp.sum(fit) + jnp.sum((x[1:] - x[:-1]) ** 2) + 100.0 * jnp.sum((g - 2.0) ** 2))


def _chain_start():
    return {"frames": jnp.asarray(np.random.default_rng(0).normal(size=(50, 2)), jnp.float32),
            "shared": jnp.zeros(1)}


def test_grouped_scaling_serves_variables_of_different_curvature():
    weights = jnp.array([1000.0, 0.1])  # curvatures 1e4 apart: one scalar scale serves neither
    runs = {s: minimize(badly_scaled, _chain_start(), weights, maxiter=2000, tol=1e-4, scaling=s)
            for s in ("scalar", "grouped")}
    for params, info in runs.values():
        assert info.converged and not info.stalled
        np.testing.assert_allclose(params["frames"], np.broadcast_to([1.0, -2.0], (50, 2)), atol=1e-3)
        np.testing.assert_allclose(params["shared"], [2.0], atol=1e-3)
    # Measured: 42 iterations grouped, 495 scalar.
    assert runs["grouped"][1].iterations * 5 < runs["scalar"][1].iterations


@pytest.mark.parametrize("method", METHODS)
def test_ftol_stops_a_stalled_solve(method):
    def offset(params, weights):  # minimum value 10: a relative test needs a non-zero value
        return badly_scaled(params, weights) + 10.0

    weights = jnp.array([1000.0, 0.1])
    runs = [minimize(offset, _chain_start(), weights, method=method, maxiter=2000, tol=0.0, ftol=f)[1]
            for f in (1e-4, 1e-6, 0.0)]
    loose, tight, off = runs
    assert loose.stalled and loose.converged and tight.stalled
    # Measured (posejax / jaxopt / optax): 189 / 173 / 189 iterations 0.9e-3 / 5.6e-3 / 2.9e-3
    # above the minimum at 1e-4; 263-305 iterations within 4e-5 at 1e-6.
    assert loose.iterations < tight.iterations < 2000
    assert loose.value - 10.0 < 0.02 and tight.value - 10.0 < 1e-4
    assert off.iterations == 2000 and not off.stalled and not off.converged


def test_bad_scaling_and_ftol():
    args = (least_squares, jnp.zeros(3), jnp.eye(3), jnp.ones(3))
    with pytest.raises(ValueError, match="'grouped' with method='posejax-lbfgs'"):
        minimize(*args, method="jaxopt-lbfgs", scaling="grouped")
    with pytest.raises(ValueError, match="`scaling` must be"):
        minimize(*args, scaling="diagonal")
    with pytest.raises(ValueError, match="`ftol` must be >= 0"):
        minimize(*args, ftol=-1.0)
