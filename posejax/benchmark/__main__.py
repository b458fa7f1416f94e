"""`python -m posejax.benchmark <name> [--json_out=PATH]`; names: ba, body, canonpose, pseudo_gt, regressor, synth,
virtualpose."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {"ba": "posejax.benchmark.ba", "body": "posejax.benchmark.body", "synth": "posejax.benchmark.synth",
              "canonpose": "posejax.benchmark.canonpose", "pseudo_gt": "posejax.benchmark.pseudo_gt",
              "regressor": "posejax.benchmark.regressor", "virtualpose": "posejax.benchmark.virtualpose"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m posejax.benchmark", description=__doc__)
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--json_out", default=None, help="where to write the JSON results "
                        "(default: benchmark_<name>.json in the current folder)")
    args = parser.parse_args()
    module = importlib.import_module(BENCHMARKS[args.name])
    module.main(json_out=args.json_out or f"benchmark_{args.name}.json")


if __name__ == "__main__":
    main()
