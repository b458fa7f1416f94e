"""Gaussian-mixture pose prior (E_P of bundle adjustment) and EM fitting in JAX.

The prior is a mixture of C full-covariance Gaussians over the 69-D body pose: SMPL joints 1..23
in axis-angle (radians), flattened joint-major, i.e. `pose[..., 1:, :].reshape(..., 69)`. The
global orientation (joint 0) is excluded: the prior must not care which way the body faces. The
hand joints (22, 23) are kept as they are: retargeted CMU motion does not drive them (they stay at
zero), so the fitted mixture holds them near zero with the covariance floor as their variance.
Keypoint layouts observe no hand rotation, so in bundle adjustment this only keeps them at rest.

Energies (both jit/grad/vmap friendly, float32-stable):

  * `negative_log_likelihood(gmm, x)`: the exact mixture NLL, -log sum_c w_c N(x; mu_c, Sigma_c),
    computed with logsumexp. Smooth everywhere. **This is what bundle adjustment should use**:
    L-BFGS builds its curvature model from gradient differences, and the exact NLL has a
    continuous gradient, whereas the min-over-components form switches component (and so its
    gradient jumps) wherever two components tie.
  * `negative_log_likelihood(gmm, x, mode="min")`: SMPLify's max-mixture approximation,
    min_c -log(w_c N(x; mu_c, Sigma_c)). It is an upper bound of the exact NLL, tighter than
    log(C) nats. Kept for comparison with SMPLify-style fits.

Both include all normalising constants, so values are true negative log densities (in 69-D these
are often negative for likely poses); only differences matter in an energy.

`fit_gmm` runs EM in JAX (k-means++ seeding, a few Lloyd iterations, then jit-compiled E and M
steps). `load_pose_prior()` loads the shipped 8-component prior fitted to retargeted CMU mocap
(see `posejax/fitting/assets/README.md` and `python -m posejax.fitting.fit_pose_prior`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from posejax._checks import check_array

POSE_DIM = 69
"""Dimension of the body pose the prior models: SMPL joints 1..23, axis-angle."""

ASSET_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "pose_prior_gmm8.npz")
"""The shipped 8-component prior."""

_LOG_2PI = float(np.log(2.0 * np.pi))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GaussianMixture:
    """A mixture of C full-covariance Gaussians in D dimensions (a registered pytree).

    Attributes:
      weights: (C,) mixture weights, positive, summing to 1.
      means: (C, D) component means.
      precision_cholesky: (C, D, D) upper-triangular P_c with precision Sigma_c^-1 = P_c P_c^T
        (P_c = U_c^-T for the Cholesky factor Sigma_c = U_c U_c^T; scikit-learn's layout).
    """

    weights: jax.Array
    means: jax.Array
    precision_cholesky: jax.Array

    @property
    def num_components(self) -> int:
        return int(self.weights.shape[-1])

    @property
    def dim(self) -> int:
        return int(self.means.shape[-1])

    @property
    def covariances(self) -> jax.Array:
        """(C, D, D) covariances Sigma_c = (P_c P_c^T)^-1."""
        eye = jnp.eye(self.dim, dtype=self.means.dtype)
        inv_l = jax.vmap(lambda l: jax.scipy.linalg.solve_triangular(l, eye, lower=False))(
            self.precision_cholesky)  # P^-1
        return jnp.einsum("cki,ckj->cij", inv_l, inv_l)  # P^-T P^-1

    @classmethod
    def from_covariances(cls, weights, means, covariances) -> "GaussianMixture":
        """Builds the mixture from (C,) weights, (C, D) means and (C, D, D) SPD covariances."""
        weights = jnp.asarray(weights, jnp.float32)
        means = jnp.asarray(means, jnp.float32)
        return cls(weights=weights / jnp.sum(weights), means=means,
                   precision_cholesky=_precision_cholesky(jnp.asarray(covariances, jnp.float32)))


def _precision_cholesky(cov: jax.Array) -> jax.Array:
    """(C, D, D) SPD covariances -> upper-triangular P with P P^T = cov^-1.

    With cov = U U^T (U lower, Cholesky), P = U^-T: P P^T = U^-T U^-1 = cov^-1. This is the same
    factor scikit-learn stores as `precisions_cholesky_`.
    """
    eye = jnp.eye(cov.shape[-1], dtype=cov.dtype)
    chol = jnp.linalg.cholesky(cov)
    u_inv = jax.vmap(lambda u: jax.scipy.linalg.solve_triangular(u, eye, lower=True))(chol)
    return jnp.swapaxes(u_inv, -1, -2)


def component_log_prob(gmm: GaussianMixture, x: jax.Array) -> jax.Array:
    """log(w_c N(x; mu_c, Sigma_c)) for every component.

    Args:
      gmm: the mixture (C components, D dims).
      x: (..., D) points.

    Returns:
      (..., C) log weighted component densities.
    """
    num, dim = gmm.means.shape
    # Mahalanobis: ||P_c^T (x - mu_c)||^2 with P_c P_c^T = Sigma_c^-1, all components in one
    # (..., D) @ (D, C D) product: ~3x faster on CPU than a per-component batched product.
    stacked = jnp.transpose(gmm.precision_cholesky, (1, 0, 2)).reshape(dim, num * dim)
    offset = jnp.einsum("ci,cij->cj", gmm.means, gmm.precision_cholesky).reshape(num * dim)
    y = (x @ stacked - offset).reshape(x.shape[:-1] + (num, dim))
    maha = jnp.sum(y * y, axis=-1)
    log_det_prec = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(gmm.precision_cholesky, axis1=-2, axis2=-1))), -1)
    log_w = jnp.log(jnp.maximum(gmm.weights, jnp.finfo(gmm.weights.dtype).tiny))
    return log_w + log_det_prec - 0.5 * (gmm.dim * _LOG_2PI + maha)


def log_likelihood(gmm: GaussianMixture, x: jax.Array) -> jax.Array:
    """(..., D) points -> (...,) exact mixture log density (logsumexp over components)."""
    return jax.nn.logsumexp(component_log_prob(gmm, x), axis=-1)


def body_pose_vector(pose: jax.Array) -> jax.Array:
    """Maps SMPL poses to the prior's 69-D space.

    Args:
      pose: (..., 24, 3) or (..., 72) full SMPL axis-angle (joint 0 dropped), or (..., 23, 3) or
        (..., 69) body pose already without the global orientation.

    Returns:
      (..., 69) body pose.
    """
    pose = jnp.asarray(pose)
    if pose.ndim >= 2 and pose.shape[-2:] == (24, 3):
        return pose[..., 1:, :].reshape(pose.shape[:-2] + (POSE_DIM,))
    if pose.ndim >= 2 and pose.shape[-2:] == (23, 3):
        return pose.reshape(pose.shape[:-2] + (POSE_DIM,))
    if pose.shape[-1:] == (72,):
        return pose[..., 3:]
    if pose.shape[-1:] == (POSE_DIM,):
        return pose
    raise ValueError("`pose` must have shape (..., 24, 3), (..., 72), (..., 23, 3) or (..., 69), "
                     f"got {tuple(pose.shape)}")


def negative_log_likelihood(gmm: GaussianMixture, pose: jax.Array, mode: str = "logsumexp") -> jax.Array:
    """Pose-prior energy: negative log density of each pose under the mixture.

    Args:
      gmm: the mixture; for the shipped prior D = 69.
      pose: (..., D) points; for a 69-D prior also (..., 24, 3), (..., 72) or (..., 23, 3) SMPL
        axis-angle in radians (the global orientation is dropped, see `body_pose_vector`).
      mode: "logsumexp" (exact NLL, smooth; use this in bundle adjustment) or "min" (SMPLify's
        min over components of -log(w_c N_c); an upper bound within log(C) of the exact NLL).

    Returns:
      (...,) NLL in nats (float32).

    Raises:
      ValueError: wrong shape, NaN/inf in a concrete `pose`, or unknown `mode`.
    """
    if mode not in ("logsumexp", "min"):
        raise ValueError(f"`mode` must be 'logsumexp' or 'min', got {mode!r}")
    x = check_array(pose, "pose", ("...", None))
    if gmm.dim == POSE_DIM:
        x = body_pose_vector(x)
    x = check_array(x, "pose", ("...", gmm.dim), finite=False)
    lp = component_log_prob(gmm, x)
    if mode == "min":
        return -jnp.max(lp, axis=-1)
    return -jax.nn.logsumexp(lp, axis=-1)


def save_gmm(path: str, gmm: GaussianMixture, **metadata) -> None:
    """Writes the mixture (weights, means, covariances, precision_cholesky) and metadata to npz."""
    arrays = {"weights": np.asarray(gmm.weights, np.float32), "means": np.asarray(gmm.means, np.float32),
              "covariances": np.asarray(gmm.covariances, np.float32),
              "precision_cholesky": np.asarray(gmm.precision_cholesky, np.float32)}
    for k, v in metadata.items():
        arrays[k] = np.asarray(v)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_pose_prior(path: Optional[str] = None) -> GaussianMixture:
    """Loads a mixture saved by `save_gmm` (default: the shipped 8-component 69-D pose prior).

    Args:
      path: npz with `weights` (C,), `means` (C, D) and `precision_cholesky` (C, D, D) (or
        `covariances` (C, D, D)); None for `ASSET_PATH`.

    Returns:
      GaussianMixture with float32 arrays.
    """
    path = ASSET_PATH if path is None else path
    if not os.path.exists(path):
        raise FileNotFoundError(f"pose prior {path!r} not found; generate it with "
                                "`python -m posejax.fitting.fit_pose_prior`")
    with np.load(path) as d:
        if "precision_cholesky" in d:
            return GaussianMixture(weights=jnp.asarray(d["weights"], jnp.float32),
                                   means=jnp.asarray(d["means"], jnp.float32),
                                   precision_cholesky=jnp.asarray(d["precision_cholesky"], jnp.float32))
        return GaussianMixture.from_covariances(d["weights"], d["means"], d["covariances"])


# ----------------------------------------------------------------------------------------------
# EM


def _kmeans_pp(key: jax.Array, x: jax.Array, k: int) -> jax.Array:
    """k-means++ seeding: (N, D) data -> (k, D) centres, each drawn with probability ~ D(x)^2."""
    n = x.shape[0]
    key, sub = jax.random.split(key)
    first = x[jax.random.randint(sub, (), 0, n)]
    d2 = jnp.sum((x - first) ** 2, axis=-1)
    centres = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(first)

    def body(i, carry):
        centres, d2, key = carry
        key, sub = jax.random.split(key)
        logits = jnp.log(jnp.maximum(d2, 0.0) + 1e-30)
        idx = jax.random.categorical(sub, logits)
        c = x[idx]
        return centres.at[i].set(c), jnp.minimum(d2, jnp.sum((x - c) ** 2, axis=-1)), key

    centres, _, _ = jax.lax.fori_loop(1, k, body, (centres, d2, key))
    return centres


def _sq_dist(x, centres):
    return (jnp.sum(x * x, -1)[:, None] - 2.0 * x @ centres.T + jnp.sum(centres * centres, -1)[None, :])


@functools.partial(jax.jit, static_argnames=("iterations",))
def _lloyd(x, centres, iterations: int):
    def body(_, c):
        assign = jax.nn.one_hot(jnp.argmin(_sq_dist(x, c), axis=-1), c.shape[0], dtype=x.dtype)
        counts = assign.sum(0)
        new = (assign.T @ x) / jnp.maximum(counts, 1.0)[:, None]
        return jnp.where(counts[:, None] > 0, new, c)  # keep empty clusters where they were

    return jax.lax.fori_loop(0, iterations, body, centres)


@jax.jit
def _m_step(x: jax.Array, resp: jax.Array, reg: jax.Array) -> GaussianMixture:
    """(N, D) data, (N, C) responsibilities -> maximum-likelihood mixture (covariance + reg I)."""
    n, d = x.shape
    nk = resp.sum(0) + 10.0 * jnp.finfo(x.dtype).eps  # (C,)
    means = (resp.T @ x) / nk[:, None]
    diff = x[None, :, :] - means[:, None, :]  # (C, N, D)
    cov = jnp.einsum("nc,cni,cnj->cij", resp, diff, diff) / nk[:, None, None]
    cov = 0.5 * (cov + jnp.swapaxes(cov, -1, -2)) + reg * jnp.eye(d, dtype=x.dtype)
    return GaussianMixture(weights=nk / jnp.sum(nk), means=means, precision_cholesky=_precision_cholesky(cov))


@jax.jit
def _e_step(gmm: GaussianMixture, x: jax.Array):
    """-> (N, C) responsibilities and the mean log-likelihood of `x`."""
    lp = component_log_prob(gmm, x)
    ll = jax.nn.logsumexp(lp, axis=-1, keepdims=True)
    return jnp.exp(lp - ll), jnp.mean(ll)


def fit_gmm(key: jax.Array, data, num_components: int = 8, iterations: int = 100, reg: float = 1e-4,
            tol: float = 1e-5, kmeans_iterations: int = 10, verbose: bool = False):
    """Fits a full-covariance Gaussian mixture by EM.

    Initialisation: k-means++ seeding and `kmeans_iterations` Lloyd steps, then an M-step from the
    hard assignments. Each iteration is one jit-compiled E-step and M-step. The covariance floor
    `reg` is added to every covariance (radians^2 for poses), which keeps them positive definite
    (dimensions the data never moves get variance `reg`). With it the M-step is no longer the exact
    maximiser, but the mean log-likelihood stays non-decreasing up to float32 noise in practice.

    Args:
      key: PRNG key (seeding).
      data: (N, D) float points, N >= num_components, finite.
      num_components: C.
      iterations: maximum EM iterations.
      reg: covariance floor added to the diagonal.
      tol: stop when the mean log-likelihood improves by less than this (nats per point).
      kmeans_iterations: Lloyd iterations after seeding.
      verbose: print the log-likelihood every 10 iterations.

    Returns:
      (gmm, history): the fitted GaussianMixture and a (iterations_run + 1,) numpy array of the mean
      log-likelihood per point, before the first and after every EM iteration.
    """
    x = check_array(data, "data", (None, None))
    if not (isinstance(num_components, (int, np.integer)) and num_components >= 1):
        raise ValueError(f"`num_components` must be a positive int, got {num_components!r}")
    if x.shape[0] < num_components:
        raise ValueError(f"`data` needs at least num_components={num_components} rows, got {x.shape[0]}")
    if not reg >= 0:
        raise ValueError(f"`reg` must be >= 0, got {reg!r}")
    reg = jnp.float32(reg)
    centres = _lloyd(x, _kmeans_pp(key, x, num_components), kmeans_iterations)
    resp = jax.nn.one_hot(jnp.argmin(_sq_dist(x, centres), axis=-1), num_components, dtype=x.dtype)
    gmm = _m_step(x, resp, reg)
    resp, ll = _e_step(gmm, x)
    history = [float(ll)]
    for it in range(iterations):
        gmm = _m_step(x, resp, reg)
        resp, ll = _e_step(gmm, x)
        history.append(float(ll))
        if verbose and (it % 10 == 0 or it == iterations - 1):
            print(f"  EM {it:4d}: mean log-likelihood {history[-1]:.4f}", flush=True)
        if abs(history[-1] - history[-2]) < tol:
            break
    return gmm, np.asarray(history)
