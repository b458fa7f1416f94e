"""Tests for MediaPipe pose landmark CSV / NPZ readers and writers."""

import numpy as np
import pytest

from posejax.io.mediapipe import (MEDIAPIPE_NAMES, read_mediapipe, read_mediapipe_csv,
                                  read_mediapipe_npz, write_mediapipe_csv, write_mediapipe_npz)

SIZE = (640, 480)


def _landmarks(seed=0, t=4):
    rng = np.random.default_rng(seed)
    lm = np.empty((t, 33, 4), np.float32)
    lm[..., 0] = rng.uniform(0, SIZE[0], (t, 33))
    lm[..., 1] = rng.uniform(0, SIZE[1], (t, 33))
    lm[..., 2] = rng.uniform(-100, 100, (t, 33))
    lm[..., 3] = rng.uniform(0, 1, (t, 33))
    return lm


def test_names_follow_the_mediapipe33_layout():
    assert len(MEDIAPIPE_NAMES) == 33
    assert MEDIAPIPE_NAMES[11] == "left_shoulder" and MEDIAPIPE_NAMES[32] == "right_foot_index"


@pytest.mark.parametrize("suffix", ["csv", "npz"])
def test_round_trip_pixels_through_normalised_file(tmp_path, suffix):
    lm = _landmarks()
    lm[2, 5] = np.nan  # a missing landmark
    path = str(tmp_path / f"lm.{suffix}")
    writer = write_mediapipe_csv if suffix == "csv" else write_mediapipe_npz
    writer(path, lm, image_size=SIZE, frame_indices=[10, 11, 12, 13])
    back, frames = read_mediapipe(path, image_size=SIZE, return_frames=True)
    assert back.shape == (4, 33, 4) and back.dtype == np.float32
    np.testing.assert_array_equal(frames, [10, 11, 12, 13])
    ok = np.ones((4, 33), bool)
    ok[2, 5] = False
    np.testing.assert_allclose(back[ok], lm[ok], rtol=1e-5, atol=1e-3)
    assert np.isnan(back[2, 5, :3]).all() and back[2, 5, 3] == 0
    xyv = read_mediapipe(path, image_size=SIZE, with_z=False)
    np.testing.assert_allclose(xyv[ok], lm[..., [0, 1, 3]][ok], rtol=1e-5, atol=1e-3)
    # Without image_size the stored (normalised) values come back.
    norm = read_mediapipe(path)
    np.testing.assert_allclose(norm[0, :, 0], lm[0, :, 0] / SIZE[0], rtol=1e-5)
    np.testing.assert_allclose(norm[0, :, 2], lm[0, :, 2] / SIZE[0], rtol=1e-5)


@pytest.mark.parametrize("style", ["x_{i}", "landmark_{i}_{c}", "{i}.{c}", "{NAME}_{c}"])
def test_header_forms(tmp_path, style):
    lm = _landmarks(1, 2) / np.array([SIZE[0], SIZE[1], SIZE[0], 1], np.float32)
    chans = {"x": 0, "y": 1, "z": 2, "visibility": 3}
    cols, vals = [], []
    for i, name in enumerate(MEDIAPIPE_NAMES):
        for c, ch in chans.items():
            if style == "x_{i}":
                cols.append(f"{c if c != 'visibility' else 'v'}_{i}")
            else:
                cols.append(style.format(i=i, c=c, NAME=name.upper()))
            vals.append(ch)
    lines = ["timestamp," + ",".join(cols)]
    for t in range(2):
        lines.append(f"{t * 33.3}," + ",".join(repr(float(lm[t, i // 4, vals[i]]))
                                                for i in range(len(cols))))
    path = tmp_path / "h.csv"
    path.write_text("\n".join(lines) + "\n")
    out = read_mediapipe_csv(str(path), image_size=SIZE)
    np.testing.assert_allclose(out[..., 0], lm[..., 0] * SIZE[0], rtol=1e-5)
    np.testing.assert_allclose(out[..., 1], lm[..., 1] * SIZE[1], rtol=1e-5)
    np.testing.assert_allclose(out[..., 3], lm[..., 3], rtol=1e-6)


def test_long_form_and_missing_visibility(tmp_path):
    rows = ["frame,landmark,x,y"]
    for f in (3, 1):
        for i in range(33):
            rows.append(f"{f},{MEDIAPIPE_NAMES[i] if i % 2 else i},{0.01 * i},{0.5}")
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows))
    out, frames = read_mediapipe_csv(str(path), image_size=(100, 200), return_frames=True)
    np.testing.assert_array_equal(frames, [1, 3])
    np.testing.assert_allclose(out[1, :, 0], np.arange(33), rtol=1e-5)
    np.testing.assert_allclose(out[..., 1], 100.0)
    assert (out[..., 2] == 0).all() and (out[..., 3] == 1).all()  # no z, no visibility given


def test_errors(tmp_path):
    path = tmp_path / "bad.csv"
    write_mediapipe_csv(str(path), _landmarks(2, 3))
    text = path.read_text().splitlines()
    text[2] = text[2].replace(",", ",abc,", 1).rsplit(",", 1)[0]  # same field count, bad cell
    path.write_text("\n".join(text))
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: column 'nose_x' must be a number, "
                                         r"got 'abc'"):
        read_mediapipe_csv(str(path))
    path.write_text("\n".join(text[:2] + [text[3][:50]]))  # truncated last row
    with pytest.raises(ValueError, match=r"bad\.csv, line 3: \d+ fields, the header has 133"):
        read_mediapipe_csv(str(path))
    path.write_text("frame,a,b\n0,1,2\n")
    with pytest.raises(ValueError, match=r"bad\.csv, line 1: header lacks column nose_x"):
        read_mediapipe_csv(str(path))
    path.write_text("")
    with pytest.raises(ValueError, match=r"bad\.csv, line 1: empty file"):
        read_mediapipe_csv(str(path))
    npz = tmp_path / "bad.npz"
    np.savez(npz, landmarks=np.zeros((3, 17, 3)))
    with pytest.raises(ValueError, match=r"bad\.npz: array 'landmarks' must have shape \(T, 33, "
                                         r"3 or 4\), got \(3, 17, 3\)"):
        read_mediapipe_npz(str(npz))
    npz.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(ValueError, match=r"bad\.npz: not a readable \.npz file"):
        read_mediapipe_npz(str(npz))
    with pytest.raises(FileNotFoundError, match=r"nope\.csv"):
        read_mediapipe_csv(str(tmp_path / "nope.csv"))
    with pytest.raises(ValueError, match=r"expected a \.csv or \.npz"):
        read_mediapipe(str(tmp_path / "x.txt"))
