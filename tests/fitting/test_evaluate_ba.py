"""The bundle-adjustment evaluation's tables and argument checks (the measurements themselves run
in `python -m posejax.fitting.evaluate_ba`, minutes long)."""

import pytest

from posejax.fitting import evaluate_ba


def test_error_sources_table_has_one_row_per_start_with_the_mean():
    rows = [{"clip": c, "config": name, "ba_mm": mm}
            for name, values in (("per-frame initialisation", (60.0, 70.0)), ("true motion", (30.0, 41.0)))
            for c, mm in zip(("a", "b"), values)]
    table = evaluate_ba.markdown({"error_sources": rows})
    lines = [line for line in table.splitlines() if line.startswith("|")]
    assert lines[0] == "| noise-free keypoints, start from | a | b | mean |"
    assert lines[2] == "| per-frame initialisation | 60.0 | 70.0 | **65.0** |"
    assert lines[3] == "| true motion | 30.0 | 41.0 | **35.5** |"


def test_round_trip_takes_one_kind_of_start():
    with pytest.raises(ValueError, match="not both"):
        evaluate_ba.synthetic_round_trip([], init_fn=lambda *a: None, start_from_truth=True)
