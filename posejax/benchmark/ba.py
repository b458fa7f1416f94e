"""Bundle-adjustment speed: warm solve, first call (compilation), memory in T, batches, backends.

    python -m posejax.benchmark ba [--json_out=benchmark_ba.json]

The clip: a procedural walk (embedded, no data needed) filmed by `synthetic_video` (coco17,
1920x1080, 3 px noise, 10% outlier keypoints, 5% missing frames), one person, default settings.

  * first call: a fresh Python process runs `bundle_adjust` once, with JAX's persistent
    compilation cache off ("cold") and then on with a filled cache ("cached"): what a user waits
    for the first time, and every later time, respectively;
  * solver compilation per L-BFGS backend (tracing and XLA compilation of the solve alone);
  * warm solve: median of repeated calls in one process (initialisation and L-BFGS solve reported
    apart), per backend (jaxopt vs optax L-BFGS);
  * convergence: how far the default solve (which stops when the energy stalls, `solver.ftol`)
    ends from a reference solve run on to 3,000 iterations without that test: relative energy
    gap and mean 3D joint distance;
  * memory: XLA's own accounting of the compiled solver (arguments + temporaries) for
    T = 250, 1000, 5000 frames (the clip repeated), and the warm solve time there;
  * batch: `bundle_adjust_batch` of 16 clips (one vmapped solve) against 16 single calls.

Targets (issue acceptance, 2-core CPU, T = 250): warm solve to convergence <= 1.0 s, first call
<= 15 s, memory linear in T.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Optional

import numpy as np

from posejax.benchmark import timing

T_DEFAULT = 250


def clip_keypoints(num_frames: int = T_DEFAULT, seed: int = 0):
    """(T, 17, 3) degraded coco17 keypoints of a procedural walk, and the image size."""
    from posejax.fitting.synthetic_video import synthetic_video
    from posejax.synth.procedural import procedural_clips

    clip = procedural_clips(num_clips=1, seed=seed, duration_s=(12.0, 12.0))[0]
    # Walk in place (vertical motion kept): a travelling clip leaves the static camera's view.
    transl = np.asarray(clip.transl).copy()
    transl[:, [0, 2]] = transl[:1, [0, 2]]
    clip = dataclasses.replace(clip, transl=transl)
    video = synthetic_video(clip, seed=seed, num_frames=min(T_DEFAULT, clip.num_frames))
    kp = video.keypoints
    reps = -(-num_frames // kp.shape[0])
    return np.concatenate([kp] * reps, 0)[:num_frames], video.image_size


_FIRST_CALL = """
import time, json, sys
t0 = time.perf_counter()
from posejax.compilation_cache import enable_compilation_cache
if sys.argv[1] != "off":
    enable_compilation_cache(sys.argv[1])
from posejax.benchmark.ba import clip_keypoints
kp, size = clip_keypoints()
t1 = time.perf_counter()
from posejax.fitting.bundle_adjustment import bundle_adjust
r = bundle_adjust(kp, layout="coco17", image_size=size)
t2 = time.perf_counter()
print(json.dumps({"first_call_s": t2 - t1, "imports_and_data_s": t1 - t0,
                  "init_s": r.solver["init_seconds"], "solve_s": r.solver["solve_seconds"]}))
"""


def first_call() -> list[dict]:
    """First `bundle_adjust` call in fresh processes: cache off, then cache filled."""
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for mode, arg in (("cold (no cache)", "off"), ("fill cache", cache), ("cached", cache)):
            out = subprocess.run([sys.executable, "-c", _FIRST_CALL, arg], capture_output=True,
                                 text=True, check=True)
            stats = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append({"case": mode, **stats})
            print(f"  first call, {mode}: {stats['first_call_s']:.1f} s", flush=True)
    return [r for r in rows if r["case"] != "fill cache"]


def warm(method: str, kp, size, repeats: int = 5) -> dict:
    """Median timings of repeated calls after one warm-up call."""
    from posejax.fitting.bundle_adjustment import bundle_adjust

    cfg = {"solver": {"method": method}}
    bundle_adjust(kp, layout="coco17", image_size=size, config=cfg)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = bundle_adjust(kp, layout="coco17", image_size=size, config=cfg)
        runs.append((time.perf_counter() - t0, r.solver["init_seconds"], r.solver["solve_seconds"],
                     r.solver["iterations"], r.solver["converged"]))
    med = lambda i: statistics.median(x[i] for x in runs)  # noqa: E731
    return {"method": method, "frames": int(kp.shape[0]), "total_s": med(0), "init_s": med(1),
            "solve_s": med(2), "iterations": int(med(3)), "converged": bool(runs[-1][4]),
            "ms_per_iteration": 1e3 * med(2) / max(med(3), 1)}


def convergence(kp, size, reference_iterations: int = 3000) -> dict:
    """The default solve against a long one from the same start (`solver.ftol` off)."""
    from posejax.fitting.bundle_adjustment import bundle_adjust

    default = bundle_adjust(kp, layout="coco17", image_size=size)
    stages = list(default.solver["stages"])
    first = int(stages[0]["iterations"]) if len(stages) > 1 else 0
    ref = bundle_adjust(kp, layout="coco17", image_size=size,
                        config={"solver": {"stages": (first, reference_iterations), "ftol": 0.0}})
    gap = default.energies["total"] / ref.energies["total"] - 1.0
    dist = float(np.linalg.norm(default.joints - ref.joints, axis=-1).mean())
    row = {"iterations": default.solver["iterations"], "converged": default.solver["converged"],
           "reference_iterations": ref.solver["iterations"], "energy_gap_percent": 100 * gap,
           "joint_distance_mm": 1e3 * dist}
    print(f"  default solve ({row['iterations']} iterations) vs {row['reference_iterations']}: energy "
          f"{row['energy_gap_percent']:+.4f}%, joints {row['joint_distance_mm']:.2f} mm", flush=True)
    return row


def _solver_problem(kp, size, method: Optional[str] = None):
    """The default solver (or `method`'s) and its arguments for the clip `kp`: (run, args) with
    `run(*args)` one bundle-adjustment solve of at most one iteration."""
    import jax

    from posejax.fitting import bundle_adjustment as ba, solvers

    cfg, weights, model, prior = ba._settings(None, "open")
    prep = ba._prepare(kp, "coco17", None, size, None, model, cfg, prior, False)
    z, ref, data = ba._problem(prep, model, False, ba._padded_length(kp.shape[0]))
    if method:
        cfg.solver.method = method
    options = ba._solver_options(cfg, 1)
    del options["maxiter"]  # a traced argument of the compiled solver
    run = solvers.compiled_solver(ba._objective, **options)
    return run, (jax.numpy.int32(1), z, ba._stage_masks(z, 1), ref, data, weights, model, prior)


def solver_compile(method: str, frames: int = T_DEFAULT) -> dict:
    """Tracing + XLA compilation of one backend's solver for a clip of `frames` frames (the part
    of a first call that depends on the backend)."""
    run, args = _solver_problem(*clip_keypoints(frames), method)
    t0 = time.perf_counter()
    lowered = run.lower(*args)
    t1 = time.perf_counter()
    lowered.compile()
    t2 = time.perf_counter()
    print(f"  {method}: trace {t1 - t0:.1f} s, compile {t2 - t1:.1f} s", flush=True)
    return {"method": method, "frames": frames, "trace_s": t1 - t0, "compile_s": t2 - t1,
            "total_s": t2 - t0}


def memory(frames: int) -> dict:
    """XLA's memory accounting of the compiled solver for a clip of `frames` frames."""
    kp, size = clip_keypoints(frames)
    run, args = _solver_problem(kp, size)
    t0 = time.perf_counter()
    compiled = run.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    row = {"frames": frames, "compile_s": compile_s}
    if mem is not None:
        row.update(argument_mb=mem.argument_size_in_bytes / 2**20, temp_mb=mem.temp_size_in_bytes / 2**20,
                   output_mb=mem.output_size_in_bytes / 2**20)
        row["total_mb"] = row["argument_mb"] + row["temp_mb"] + row["output_mb"]
    from posejax.fitting.bundle_adjustment import bundle_adjust

    t0 = time.perf_counter()
    r = bundle_adjust(kp, layout="coco17", image_size=size)
    row.update(call_s=time.perf_counter() - t0, solve_s=r.solver["solve_seconds"],
               iterations=r.solver["iterations"])
    print(f"  T={frames}: {row.get('total_mb', float('nan')):.1f} MB, solve {row['solve_s']:.2f} s", flush=True)
    return row


def batch(num_clips: int = 16) -> dict:
    """`bundle_adjust_batch` of `num_clips` different clips against one call per clip."""
    from posejax.fitting.bundle_adjustment import bundle_adjust, bundle_adjust_batch

    clips = [clip_keypoints(T_DEFAULT, seed=s) for s in range(num_clips)]
    size = clips[0][1]
    kps = [c[0] for c in clips]
    bundle_adjust_batch(kps[:num_clips], layout="coco17", image_size=size)  # compile
    t0 = time.perf_counter()
    results = bundle_adjust_batch(kps, layout="coco17", image_size=size)
    batch_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for kp in kps:
        bundle_adjust(kp, layout="coco17", image_size=size)
    single_s = time.perf_counter() - t0
    return {"clips": num_clips, "frames": T_DEFAULT, "batch_s": batch_s, "one_by_one_s": single_s,
            "batch_solve_s": results[0].solver["solve_seconds"]}


def main(argv=None, json_out: str = "benchmark_ba.json") -> None:
    del argv
    hw = timing.hardware()
    print("hardware:", ", ".join(f"{k}={v}" for k, v in hw.items()), flush=True)
    firsts = first_call()
    timing.print_table("first call in a fresh process (T=250, includes initialisation)", firsts,
                       ["case", "first_call_s", "init_s", "solve_s"])
    from posejax.compilation_cache import enable_compilation_cache
    from posejax.fitting import solvers

    enable_compilation_cache(tempfile.mkdtemp())  # this process: compile once per shape
    kp, size = clip_keypoints()
    compiles = [solver_compile(m) for m in solvers.METHODS]
    timing.print_table("solver compilation per backend (T=250, tracing + XLA)", compiles,
                       ["method", "trace_s", "compile_s", "total_s"])
    warms = [warm(m, kp, size) for m in solvers.METHODS]
    timing.print_table("warm calls (T=250, median of 5 after a warm-up)", warms,
                       ["method", "total_s", "init_s", "solve_s", "iterations", "ms_per_iteration", "converged"])
    conv = convergence(kp, size)
    timing.print_table("convergence of the default solve (T=250)", [conv],
                       ["iterations", "converged", "reference_iterations", "energy_gap_percent",
                        "joint_distance_mm"])
    mems = [memory(t) for t in (250, 1000, 5000)]
    timing.print_table("memory of the compiled solver vs clip length", mems,
                       ["frames", "total_mb", "temp_mb", "argument_mb", "compile_s", "solve_s", "iterations"])
    b = batch()
    timing.print_table("batch of clips (bundle_adjust_batch vs one call each)", [b],
                       ["clips", "frames", "batch_s", "one_by_one_s"])
    timing.write_json(json_out, {"hardware": hw, "first_call": firsts, "compile": compiles,
                                 "warm": warms, "convergence": conv, "memory": mems,
                                 "batch": b})
