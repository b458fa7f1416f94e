"""VirtualPose's camera study (the paper's Table 5): random virtual cameras against training for
the test camera.

    python -m posejax.evaluate_virtualpose_cameras --random=DIR [--random_step=N] \
        --fixed=DIR [--fixed_step=N] [--out=cameras.json]

`--random` is a run trained with random virtual cameras (`experiments/virtualpose.py:cpu`),
`--fixed` one trained for a single camera (`:cpu_fixed`). Both are evaluated on the fixed run's
held-out scenes (held-out motion, new people placements, all seen by that one camera), and both
on the random-camera held-out scenes, so the table shows what camera-specific training gains on
its camera and what it loses elsewhere. `--*_step` picks a kept checkpoint (for equal training
budgets); the default is the latest.
"""

from __future__ import annotations

import argparse
import json
from typing import Optional

COLUMNS = ("detected", "mrpe_mm", "mpjpe_mm", "pa_mpjpe_mm", "pck_abs", "mrpe_depth_only_mm")


def camera_study(random_dir: str, fixed_dir: str, random_step: Optional[int] = None,
                 fixed_step: Optional[int] = None, verbose: bool = True) -> dict:
    """Metrics of each run on each camera setting: {"rows": [{run, step, test, metric: value}]}."""
    import jax

    from posejax.training.loop import load_config, restore_state, run_evaluation
    from posejax.training.task import get_task

    fixed_config = load_config(fixed_dir)
    random_config = load_config(random_dir)
    for name, cfg, want in (("--random", random_config, "random"), ("--fixed", fixed_config, "fixed")):
        if cfg.task != "virtualpose" or cfg.data.camera != want:
            raise ValueError(f"{name} must be a virtualpose run with data.camera={want!r}")
    tests = {"fixed camera": fixed_config.data, "random cameras": random_config.data}
    rows = []
    for run, workdir, step in (("random cameras", random_dir, random_step), ("fixed camera", fixed_dir, fixed_step)):
        state = None
        for test, data in tests.items():
            config = load_config(workdir)
            config.data = data                       # the test scenes; the network is the run's own
            task = get_task(config)
            if state is None:                        # one restore per run: the data does not change it
                state = restore_state(workdir, task, step)
            scalars = run_evaluation(task, state, workdir, int(jax.device_get(state.step)))
            rows.append({"trained on": run, "step": int(jax.device_get(state.step)), "tested on": test, **scalars})
            if verbose:
                print(f"trained on {run} (step {rows[-1]['step']}), tested on {test}: "
                      + ", ".join(f"{k}={scalars[k]:.1f}" for k in COLUMNS), flush=True)
    return {"rows": rows, "fixed_camera": list(fixed_config.data.fixed_camera)}


def format_table(report: dict) -> str:
    head = "| trained on | step | tested on | detected | MRPE | MPJPE | PA-MPJPE | PCK_abs | depth only: MRPE |"
    lines = [head, "|" + "---|" * 9]
    for r in report["rows"]:
        lines.append(f"| {r['trained on']} | {r['step']} | {r['tested on']} | {100 * r['detected']:.1f}% | "
                     f"{r['mrpe_mm']:.1f} mm | {r['mpjpe_mm']:.1f} mm | {r['pa_mpjpe_mm']:.1f} mm | "
                     f"{r['pck_abs']:.1f}% | {r['mrpe_depth_only_mm']:.0f} mm |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m posejax.evaluate_virtualpose_cameras", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random", required=True, help="a run trained with random cameras")
    parser.add_argument("--fixed", required=True, help="a run trained for one camera")
    parser.add_argument("--random_step", type=int, default=None)
    parser.add_argument("--fixed_step", type=int, default=None)
    parser.add_argument("--out", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    report = camera_study(args.random, args.fixed, args.random_step, args.fixed_step)
    print(format_table(report))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()
