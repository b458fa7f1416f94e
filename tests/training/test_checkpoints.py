"""`posejax.training.checkpoints`: the latest state, or a kept step's, comes back as saved."""

import numpy as np
import pytest

from posejax.training import checkpoints


def test_restore_latest_or_a_kept_step(tmp_path):
    mngr = checkpoints.manager(str(tmp_path), keep=2)
    try:
        assert checkpoints.restore_latest(mngr, {"w": np.zeros(3, np.float32)}) is None
        for step in (1, 2, 3):
            checkpoints.save(mngr, step, {"w": np.full(3, step, np.float32)})
        like = {"w": np.zeros(3, np.float32)}
        np.testing.assert_array_equal(checkpoints.restore_latest(mngr, like)["w"], [3, 3, 3])
        np.testing.assert_array_equal(checkpoints.restore_latest(mngr, like, step=2)["w"], [2, 2, 2])
        with pytest.raises(FileNotFoundError, match=r"no checkpoint of step 1; kept: \[2, 3\]"):
            checkpoints.restore_latest(mngr, like, step=1)            # kept only the last two
    finally:
        mngr.close()
