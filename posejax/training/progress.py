"""Console progress lines and JSONL scalars (`workdir/metrics.jsonl`)."""

from __future__ import annotations

import json
import math
import os
import time
from typing import Dict, Optional


def _format(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class ProgressLogger:
    """Writes one JSON object per logged step to `workdir/metrics.jsonl` and prints a line with
    the step, the scalars, steps/s and the time left.

    Args:
      workdir: run folder.
      num_steps: total steps (for the ETA).
      start_step: first step of this process (a resumed run starts later).
      enabled: False on all but process 0 of a multi-host run.
    """

    def __init__(self, workdir: str, num_steps: int, start_step: int = 0, enabled: bool = True):
        self.path = os.path.join(workdir, "metrics.jsonl")
        self.num_steps = num_steps
        self.enabled = enabled
        self._last_step = start_step
        self._last_time = time.perf_counter()
        if enabled:
            os.makedirs(workdir, exist_ok=True)

    def write(self, step: int, scalars: Dict[str, float], kind: str = "train") -> None:
        """Records `scalars` of `kind` ("train" or "eval") at `step` and prints them."""
        if not self.enabled:
            return
        scalars = {k: float(v) for k, v in scalars.items()}
        row = {"step": int(step), "kind": kind, **scalars}
        if kind == "train":
            now = time.perf_counter()
            rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
            self._last_step, self._last_time = step, now
            row["steps_per_s"] = rate
            eta = (self.num_steps - step) / rate if rate > 0 else math.inf
            extra = f"  {rate:.2f} steps/s  ETA {_eta(eta)}"
        else:
            extra = ""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        body = "  ".join(f"{k}={_format(v)}" for k, v in scalars.items())
        print(f"[{kind} {step}/{self.num_steps}] {body}{extra}", flush=True)


def _eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def read_metrics(workdir: str, kind: Optional[str] = None) -> list:
    """The rows of `workdir/metrics.jsonl` (of one kind, if given)."""
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if kind is None or r.get("kind") == kind]
