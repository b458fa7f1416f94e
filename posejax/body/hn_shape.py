"""Height-normalised (HN) shape space (Habekost et al., section 3).

Body shape and height are entangled in a body model's betas, and height cannot be recovered from
monocular 2D observations (a tall person far away looks like a short one close by). The pooled
regressor therefore predicts shape in a space where every body is 1.72 m tall:

  1. sample shapes betas ~ N(0, I) (clipped to +-2.5), take their T-pose meshes, centre each on
     its rest pelvis and scale it to `TARGET_HEIGHT` (top-to-bottom vertex distance);
  2. PCA with 8 components of those normalised meshes: HN coefficients are the projections in
     units of each component's standard deviation (so they are ~N(0, 1));
  3. fit body-model betas to each normalised mesh (linear least squares: the T-pose mesh is
     affine in betas; one extra row holds the height at 1.72 m) -- the betas of a 1.72 m body
     with that shape;
  4. train the mapping network Theta (2 dense layers, 16 hidden units, tanh) from the 8 HN
     coefficients to those betas (loss: the mesh and height error of its betas).

`hn_to_betas` is Theta; `betas_to_hn` measures any betas (e.g. a dataset's ground truth) in the
HN space; `hn_to_metric` / `metric_to_hn` scale translations between HN and metric units given a
known height. The space is stored per body model (`posejax/body/assets/hn_shape_<name>.npz` for
the embedded model); `python -m posejax.body.hn_shape --body_model=PATH --out=FILE` recomputes it
for a user's SMPL.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from posejax.body.model import BodyModel

TARGET_HEIGHT = 1.72  # metres
NUM_COMPONENTS = 8
HIDDEN = 16
ASSET_DIR = os.path.join(os.path.dirname(__file__), "assets")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class HNShapeSpace:
    """A fitted HN shape space of one body model (a pytree).

    Attributes:
      mean: (V, 3) mean normalised mesh, metres (pelvis at the origin, 1.72 m tall).
      basis: (C, V, 3) orthonormal principal directions.
      std: (C,) their standard deviations, metres: hn_c = <basis_c, mesh - mean> / std_c.
      w1, b1, w2, b2: Theta, the mapping network: betas = w2^T tanh(w1^T hn + b1) + b2.
      target_height: () metres.
    """

    mean: jax.Array
    basis: jax.Array
    std: jax.Array
    w1: jax.Array
    b1: jax.Array
    w2: jax.Array
    b2: jax.Array
    target_height: jax.Array


def _rest_meshes(model: BodyModel, betas: np.ndarray) -> np.ndarray:
    """(N, V, 3) T-pose meshes of (N, S) betas, pelvis at the origin (float64)."""
    v = np.asarray(model.v_template, np.float64)
    dirs = np.asarray(model.shapedirs, np.float64)[..., :betas.shape[-1]]
    meshes = v + (betas @ dirs.reshape(-1, dirs.shape[-1]).T).reshape((-1,) + v.shape)
    pelvis = (np.asarray(model.joint_template, np.float64)[0]
              + np.einsum("cs,ns->nc", np.asarray(model.joint_shapedirs, np.float64)[0, :, :betas.shape[-1]], betas))
    return meshes - pelvis[:, None]


def normalized_meshes(model: BodyModel, betas: np.ndarray, target_height: float = TARGET_HEIGHT):
    """(N, V, 3) pelvis-centred T-pose meshes scaled to `target_height`, and the (N,) heights."""
    meshes = _rest_meshes(model, np.atleast_2d(np.asarray(betas, np.float64)))
    heights = meshes[..., 1].max(-1) - meshes[..., 1].min(-1)
    return meshes * (target_height / heights)[:, None, None], heights


def _theta(space: HNShapeSpace, hn):
    return jnp.tanh(hn @ space.w1 + space.b1) @ space.w2 + space.b2


def hn_to_betas(space: HNShapeSpace, hn: jax.Array) -> jax.Array:
    """HN coefficients (..., 8) -> body-model betas (..., S) of a `target_height` tall body."""
    return _theta(space, jnp.asarray(hn, jnp.float32))


def betas_to_hn(space: HNShapeSpace, model: BodyModel, betas: jax.Array) -> jax.Array:
    """Body-model betas (..., S') -> HN coefficients (..., 8): the normalised mesh projected on
    the space (jit/grad friendly)."""
    betas = jnp.asarray(betas, jnp.float32)
    num = betas.shape[-1]
    meshes = model.v_template + jnp.einsum("vcs,...s->...vc", model.shapedirs[..., :num], betas)
    pelvis = model.joint_template[0] + jnp.einsum("cs,...s->...c", model.joint_shapedirs[0, :, :num], betas)
    meshes = meshes - pelvis[..., None, :]
    height = jnp.max(meshes[..., 1], -1) - jnp.min(meshes[..., 1], -1)
    meshes = meshes * (space.target_height / height)[..., None, None]
    return jnp.einsum("cvk,...vk->...c", space.basis, meshes - space.mean) / space.std


def hn_to_mesh(space: HNShapeSpace, hn: jax.Array) -> jax.Array:
    """HN coefficients (..., 8) -> the PCA's normalised T-pose mesh (..., V, 3), metres."""
    return space.mean + jnp.einsum("...c,cvk->...vk", jnp.asarray(hn, jnp.float32) * space.std, space.basis)


def hn_to_metric(x_hn, height):
    """Height-normalised lengths / translations -> metres for a person `height` metres tall."""
    return jnp.asarray(x_hn) * (jnp.asarray(height)[..., None] / TARGET_HEIGHT)


def metric_to_hn(x, height):
    """Metres -> height-normalised units (a `height` tall person scaled to 1.72 m)."""
    return jnp.asarray(x) * (TARGET_HEIGHT / jnp.asarray(height)[..., None])


def fit_hn_shape_space(model: BodyModel, num_samples: int = 1000, seed: int = 0,
                       train_steps: int = 4000, verbose: bool = True):
    """Fits the space (module docstring, steps 1-4).

    Returns:
      (HNShapeSpace, report dict: explained variance, beta-fit residual, Theta's error).
    """
    import optax

    rng = np.random.default_rng(seed)
    num_betas = model.num_betas
    betas = np.clip(rng.normal(size=(num_samples, num_betas)), -2.5, 2.5)
    meshes, _ = normalized_meshes(model, betas)
    flat = meshes.reshape(num_samples, -1)
    mean = flat.mean(0)
    _, sing, vt = np.linalg.svd(flat - mean, full_matrices=False)
    std = sing[:NUM_COMPONENTS] / np.sqrt(num_samples - 1)
    basis = vt[:NUM_COMPONENTS]                    # orthonormal rows
    hn = (flat - mean) @ basis.T / std             # (N, C), ~N(0, 1)
    explained = float(np.sum(sing[:NUM_COMPONENTS] ** 2) / np.sum(sing ** 2))
    # Betas of each normalised mesh: min ||mesh(b) - target||^2, affine in b (pelvis-centred).
    zero = _rest_meshes(model, np.zeros((1, num_betas)))[0].reshape(-1)
    design = np.stack([_rest_meshes(model, np.eye(num_betas)[i:i + 1])[0].reshape(-1) - zero
                       for i in range(num_betas)], 1)                     # (3V, S)
    # The height (top minus bottom vertex of the mean shape, affine in b) is held at 1.72 m by one
    # extra least-squares row weighted like the whole mesh.
    top, bottom = int(np.argmax(mean[1::3])), int(np.argmin(mean[1::3]))
    height_row = design[3 * top + 1] - design[3 * bottom + 1]
    height_zero = zero[3 * top + 1] - zero[3 * bottom + 1]
    w_height = float(design.shape[0])
    a = np.concatenate([design, np.sqrt(w_height) * height_row[None]], 0)
    rhs = np.concatenate([(flat - zero).T, np.full((1, num_samples), np.sqrt(w_height) * (TARGET_HEIGHT - height_zero))], 0)
    fitted, *_ = np.linalg.lstsq(a, rhs, rcond=None)
    fitted = fitted.T                                                     # (N, S)
    residual = flat - zero - fitted @ design.T
    fit_rms_mm = float(1e3 * np.sqrt(np.mean(residual ** 2) * 3))
    # Theta: a 2-layer MLP, Adam on what matters: the squared mesh error of its betas against the
    # fitted ones, (d b)^T G (d b) per coordinate with G = design^T design, plus the same height row.
    key = jax.random.key(seed)
    k1, k2 = jax.random.split(key)
    params = {"w1": jax.random.normal(k1, (NUM_COMPONENTS, HIDDEN)) / np.sqrt(NUM_COMPONENTS),
              "b1": jnp.zeros(HIDDEN), "w2": jax.random.normal(k2, (HIDDEN, num_betas)) / np.sqrt(HIDDEN),
              "b2": jnp.asarray(fitted.mean(0), jnp.float32)}
    x, y = jnp.asarray(hn, jnp.float32), jnp.asarray(fitted, jnp.float32)
    gram = jnp.asarray(design.T @ design / design.shape[0], jnp.float32)
    hrow = jnp.asarray(height_row, jnp.float32)
    tx = optax.adam(optax.cosine_decay_schedule(1e-2, train_steps))
    opt_state = tx.init(params)

    def loss_fn(p):
        pred = jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        d = pred - y
        height = height_zero + pred @ hrow
        return jnp.mean(jnp.sum((d @ gram) * d, -1) + jnp.square(height - TARGET_HEIGHT))

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    t0 = time.perf_counter()
    for i in range(train_steps):
        params, opt_state, loss = step(params, opt_state)
        if verbose and (i + 1) % 1000 == 0:
            print(f"  Theta step {i + 1}/{train_steps}: rms mesh + height error "
                  f"{1e3 * np.sqrt(float(loss)):.2f} mm", flush=True)
    space = HNShapeSpace(mean=jnp.asarray(mean.reshape(-1, 3), jnp.float32),
                         basis=jnp.asarray(basis.reshape(NUM_COMPONENTS, -1, 3), jnp.float32),
                         std=jnp.asarray(std, jnp.float32),
                         w1=params["w1"], b1=params["b1"], w2=params["w2"], b2=params["b2"],
                         target_height=jnp.float32(TARGET_HEIGHT))
    # Theta's error where it matters: the mesh of its betas against the normalised mesh.
    pred = np.asarray(jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"], np.float64)
    theta_mesh = zero + pred @ design.T
    theta_rms_mm = float(1e3 * np.sqrt(np.mean((theta_mesh - flat) ** 2) * 3))
    report = {"num_samples": num_samples, "explained_variance": explained, "beta_fit_rms_mm": fit_rms_mm,
              "theta_mesh_rms_mm": theta_rms_mm,
              "theta_height_error_mm": float(1e3 * np.mean(np.abs(height_zero + pred @ height_row - TARGET_HEIGHT))),
              "theta_seconds": time.perf_counter() - t0}
    return space, report


def save_hn_shape_space(path: str, space: HNShapeSpace, **metadata) -> None:
    """Writes the space (and metadata) to an npz."""
    arrays = {f.name: np.asarray(getattr(space, f.name)) for f in dataclasses.fields(HNShapeSpace)}
    arrays.update({k: np.asarray(v) for k, v in metadata.items()})
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_hn_shape_space(source: str = "open") -> HNShapeSpace:
    """Loads a space: "open" (the shipped one of the embedded model) or an npz path."""
    path = os.path.join(ASSET_DIR, f"hn_shape_{source}.npz") if source in ("open",) else source
    if not os.path.exists(path):
        raise FileNotFoundError(f"no HN shape space at {path}; compute one with "
                                "`python -m posejax.body.hn_shape --body_model=... --out=...`")
    with np.load(path) as f:
        return HNShapeSpace(**{fld.name: jnp.asarray(f[fld.name], jnp.float32)
                               for fld in dataclasses.fields(HNShapeSpace)})


def main(argv: Optional[list] = None) -> None:
    from absl import app, flags

    flags.DEFINE_string("body_model", "open", "'open' or a path to a user's SMPL model file/folder")
    flags.DEFINE_string("out", None, "output npz (default: the shipped asset for 'open')")
    flags.DEFINE_integer("num_samples", 1000, "sampled shapes")
    flags.DEFINE_integer("seed", 0, "sampling and initialisation seed")

    def run(_):
        from posejax.body.loading import load_body_model

        fv = flags.FLAGS
        model = load_body_model(fv.body_model)
        out = fv.out or (os.path.join(ASSET_DIR, "hn_shape_open.npz") if fv.body_model == "open" else None)
        if out is None:
            raise app.UsageError("--out is required for a user's body model")
        print(f"fitting the HN shape space of {model.name!r} from {fv.num_samples} shapes", flush=True)
        space, report = fit_hn_shape_space(model, fv.num_samples, fv.seed)
        save_hn_shape_space(out, space, body_model=model.name, **report)
        print("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in report.items()))
        print(f"wrote {out}", flush=True)

    app.run(run, argv=argv)


if __name__ == "__main__":
    main()
