"""`python -m posejax` (the README's main command) and `python -m posejax.benchmark`."""

from __future__ import annotations

import json
import os

import pytest

from posejax import __main__ as main_command
from posejax.benchmark import body as body_benchmark
from posejax.benchmark import timing


def test_main_command_poses_the_model_and_saves_a_figure(tmp_path, capsys):
    out = tmp_path / "demo.png"
    path = main_command.main(["--body_model=open-lite", f"--out={out}"])
    assert path == str(out)
    with open(out, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "BodyModel(name='open-lite', vertices=1229" in printed
    height = float(printed.split("T-pose height at betas = 0: ")[1].split(" m")[0])
    assert 1.65 <= height <= 1.75


def test_main_command_rejects_unknown_body_model(tmp_path):
    with pytest.raises(ValueError, match="unknown body model 'smpl'"):
        main_command.main(["--body_model=smpl", f"--out={tmp_path / 'x.png'}"])


def test_body_benchmark_reports_every_case_and_writes_json(tmp_path, capsys):
    rows = body_benchmark.run(batches=(2,), repeats=2)
    cases = {(r["model"], r["case"]) for r in rows}
    assert len(cases) == 6 and len(rows) == 6
    for r in rows:
        assert r["median_ms"] > 0 and r["min_ms"] <= r["median_ms"] and r["compile_s"] > 0
    path = str(tmp_path / "bench.json")
    timing.write_json(path, {"hardware": timing.hardware(), "rows": rows})
    with open(path) as fh:
        saved = json.load(fh)
    assert saved["hardware"]["cpu_cores"] == os.cpu_count() and len(saved["rows"]) == 6
