"""Procedural motion: deterministic, grounded, plausible speeds."""

import numpy as np
import pytest

from posejax.body import load_body_model
from posejax.synth.motion import lowest_foot_height
from posejax.synth.procedural import KINDS, procedural_clips


@pytest.fixture(scope="module")
def clips():
    return procedural_clips(num_clips=8, fps=30.0, seed=5, duration_s=(3.0, 5.0))


def speed(clip):
    """Mean horizontal root speed (m/s)."""
    step = np.linalg.norm(np.diff(clip.transl[:, [0, 2]], axis=0), axis=1)
    return step.sum() / (clip.duration - 1 / clip.fps)


def test_kinds_and_shapes(clips):
    assert [c.name.split("_")[1] for c in clips] == list(KINDS) * 2
    for c in clips:
        assert c.source == "procedural" and c.fps == 30.0
        assert 90 <= c.num_frames <= 150 and np.all(np.isfinite(c.pose))


def test_deterministic(clips):
    again = procedural_clips(num_clips=2, fps=30.0, seed=5, duration_s=(3.0, 5.0))
    for a, b in zip(clips[:2], again):
        np.testing.assert_array_equal(a.pose, b.pose)
        np.testing.assert_array_equal(a.transl, b.transl)
    other = procedural_clips(num_clips=1, fps=30.0, seed=6, duration_s=(3.0, 5.0))[0]
    assert not np.allclose(other.pose[: 10], clips[0].pose[: 10])


def test_grounded(clips):
    model = load_body_model("open")
    for c in clips:
        assert abs(lowest_foot_height(model, c.pose, c.betas, c.transl)) < 0.02, c.name


def test_speeds(clips):
    for c in clips:
        v = speed(c)
        kind = c.name.split("_")[1]
        if kind in ("walk", "turn"):
            assert 0.8 <= v <= 1.8, (c.name, v)
        elif kind == "jog":
            assert 1.8 < v < 3.5, (c.name, v)
        else:
            assert v < 0.3, (c.name, v)


def test_turn_changes_heading(clips):
    turn = clips[2]
    d = np.diff(turn.transl[:, [0, 2]], axis=0)
    heading = np.unwrap(np.arctan2(d[:, 0], d[:, 1])[30:])  # after the start-up ramp
    assert abs(heading[-1] - heading[0]) > 0.5


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_clips"):
        procedural_clips(num_clips=0)
    with pytest.raises(ValueError, match="duration_s"):
        procedural_clips(num_clips=1, duration_s=(5.0, 1.0))
