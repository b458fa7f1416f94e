"""Body-model speed: joints-only forward kinematics, sparse keypoints and full skinning.

Targets on a 2-core CPU (issue acceptance): joints-only FK at batch 256 <= 1 ms; open full mesh at
batch 256 <= 300 ms; open-lite at batch 256 <= 30 ms; FK compile <= 3 s.
"""

from __future__ import annotations

import jax

from posejax.benchmark import timing
from posejax.body import kinematics
from posejax.body.loading import load_body_model


def _inputs(batch: int, num_betas: int, seed: int = 0):
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    pose = 0.5 * jax.random.normal(k1, (batch, 24, 3))
    betas = jax.random.normal(k2, (batch, num_betas))
    transl = jax.random.normal(k3, (batch, 3))
    return pose, betas, transl


def run(batches=(1, 256), repeats: int = 20) -> list[dict]:
    """Times every body-model path for both embedded models; returns one row per case."""
    rows = []
    for model_name in ("open", "open-lite"):
        model = load_body_model(model_name)
        cases = {
            "joints (FK only)": lambda m, p, b, t: kinematics.joints(m, p, b, t),
            "keypoints coco17 (sparse)": lambda m, p, b, t: kinematics.keypoints(m, "coco17", p, b, t),
            "vertices (full LBS)": lambda m, p, b, t: kinematics.forward(m, p, b, t).vertices,
        }
        for case, fn in cases.items():
            for batch in batches:
                args = (model, *_inputs(batch, model.num_betas))
                stats = timing.time_jitted(fn, args, repeats=repeats)
                rows.append({"model": model_name, "vertices": model.num_vertices, "case": case,
                             "batch": batch, **{k: v for k, v in stats.items() if k != "compiled"}})
    return rows


def main(argv=None, json_out: str = "benchmark_body.json") -> None:
    del argv
    hw = timing.hardware()
    print("hardware:", ", ".join(f"{k}={v}" for k, v in hw.items()))
    rows = run()
    timing.print_table("body model (median of 20 runs after 3 warm-up calls; compile separate)", rows,
                       ["model", "vertices", "case", "batch", "median_ms", "min_ms", "compile_s"])
    timing.write_json(json_out, {"hardware": hw, "rows": rows})
