"""SkeletonMotion: validation, indexing, linear resampling."""

import numpy as np
import pytest

from posejax.io.skeleton_motion import SkeletonMotion


def _motion(num_frames=5, fps=10.0):
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(num_frames, 3, 3))
    return SkeletonMotion(name="m", point_names=["root", "a", "b"], parents=[-1, 0, 1], fps=fps,
                          positions=pos)


def test_normalises_fields():
    m = _motion()
    assert m.point_names == ("root", "a", "b") and m.parents == (-1, 0, 1)
    assert m.positions.dtype == np.float32 and m.positions.shape == (5, 3, 3)
    assert m.num_frames == 5 and m.num_points == 3
    assert m.duration == pytest.approx(0.5)
    np.testing.assert_allclose(m.times, [0.0, 0.1, 0.2, 0.3, 0.4])
    assert m.edges == ((1, 0), (2, 1))
    assert m.index("b") == 2
    with pytest.raises(ValueError, match=r"no point named 'c' in 'm'; known points: root, a, b"):
        m.index("c")


@pytest.mark.parametrize("kwargs, message", [
    (dict(positions=np.zeros((4, 2, 3))),
     r"`positions` must have shape \(T >= 1, 3, 3\), got \(4, 2, 3\)"),
    (dict(positions=np.zeros((0, 3, 3))), r"`positions` must have shape"),
    (dict(positions=np.full((2, 3, 3), np.nan)), r"`positions` contains NaN"),
    (dict(parents=(-1, 0)), r"`parents` must have one entry per point \(3\), got 2"),
    (dict(parents=(-1, 5, 0)),
     r"`parents\[1\]` must be -1 or another point's index in \[0, 3\), got 5"),
    (dict(parents=(-1, 1, 0)), r"`parents\[1\]`"),
    (dict(point_names=("root", "a", "a")), r"`point_names` must be unique, got duplicates \['a'\]"),
    (dict(fps=0.0), r"`fps` must be a positive finite number, got 0.0"),
    (dict(fps=float("inf")), r"`fps` must be a positive"),
    (dict(name=3), r"`name` must be a str"),
])
def test_validation(kwargs, message):
    args = dict(name="m", point_names=("root", "a", "b"), parents=(-1, 0, 1), fps=10.0,
                positions=np.zeros((2, 3, 3)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SkeletonMotion(**args)


def test_resample_halves_and_doubles():
    m = _motion(num_frames=343, fps=120.0)
    half = m.resample(60.0)
    assert half.num_frames == 172 and half.fps == 60.0  # floor(342 / 2) + 1
    np.testing.assert_array_equal(half.positions, m.positions[::2])
    double = m.resample(240.0)
    assert double.num_frames == 685  # 2 * 343 - 1: the last sample stays the last original one
    np.testing.assert_array_equal(double.positions[::2], m.positions)
    mid = 0.5 * (m.positions[:-1].astype(np.float64) + m.positions[1:])
    np.testing.assert_allclose(double.positions[1::2], mid, atol=1e-6)
    assert double.point_names == m.point_names and double.name == m.name


def test_resample_linear_at_odd_ratio():
    # Positions linear in time are reproduced exactly at any rate.
    t = np.arange(11) / 10.0
    pos = np.stack([t, 2 * t, -t], axis=-1)[:, None, :] * np.ones((1, 2, 1))
    m = SkeletonMotion("lin", ("a", "b"), (-1, 0), 10.0, pos)
    r = m.resample(3.0)
    assert r.num_frames == 4  # times 0, 1/3, 2/3, 1
    tt = np.arange(4) / 3.0
    np.testing.assert_allclose(r.positions[:, 1], np.stack([tt, 2 * tt, -tt], -1), atol=1e-6)
    with pytest.raises(ValueError, match="`fps` must be a positive finite number"):
        m.resample(-1.0)
