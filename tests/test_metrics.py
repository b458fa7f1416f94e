"""Tests for posejax.metrics against hand-computed cases and invariances."""

import functools

import jax
import numpy as np
import pytest

from posejax import metrics
from tests.random_transforms import apply_similarity, random_rotations

RNG_SEED = 0


@pytest.fixture
def poses():
    """(8, 17, 3) skeleton-sized random poses in metres, plus a noisy copy (~3 cm per axis)."""
    rng = np.random.default_rng(RNG_SEED)
    gt = rng.normal(scale=0.3, size=(8, 17, 3)).astype(np.float32)
    gt[..., 2] += 4.0  # in front of a camera
    noisy = (gt + rng.normal(scale=0.03, size=gt.shape)).astype(np.float32)
    return gt, noisy


# ---------------------------------------------------------------------------------------- MPJPE


def test_mpjpe_translation_is_free(poses):
    gt, _ = poses
    pred = gt + np.array([0.5, -2.0, 3.0], np.float32)
    assert float(metrics.mpjpe(pred, gt)) < 1e-3


def test_mpjpe_known_offset():
    gt = np.zeros((2, 4, 3), np.float32)
    gt[:, 1:, 0] = [0.1, 0.2, 0.3]
    pred = gt.copy()
    pred[0, 1] += [0.0, 0.03, 0.04]  # 50 mm at one joint of pose 0
    pred[1, 2] += [0.0, 0.0, 0.02]  # 20 mm at one joint of pose 1
    per_pose = metrics.mpjpe(pred, gt, reduction="none")
    np.testing.assert_allclose(per_pose, [50 / 4, 20 / 4], rtol=1e-5)
    np.testing.assert_allclose(metrics.mpjpe(pred, gt), (12.5 + 5.0) / 2, rtol=1e-5)
    errs = metrics.per_joint_errors(pred, gt)
    np.testing.assert_allclose(errs, [[0, 50, 0, 0], [0, 0, 20, 0]], atol=1e-4)
    np.testing.assert_allclose(metrics.mean_per_joint(pred, gt), [0, 25, 10, 0], atol=1e-4)


def test_mpjpe_root_offset_spreads_to_all_joints():
    gt = np.zeros((1, 3, 3), np.float32)
    gt[0, 1, 1] = 0.5
    gt[0, 2, 1] = 1.0
    pred = gt.copy()
    pred[0, 0, 0] = 0.01  # moving the root by 10 mm shifts the others by -10 mm after alignment
    np.testing.assert_allclose(metrics.mpjpe(pred, gt), 20 / 3, rtol=1e-5)
    np.testing.assert_allclose(metrics.mpjpe(pred, gt, root_index=2), 10 / 3, rtol=1e-5)


def test_mpjpe_mask_joints_then_poses():
    gt = np.zeros((2, 3, 3), np.float32)
    pred = gt.copy()
    pred[0, 1, 0] = 0.03  # 30 mm
    pred[0, 2, 0] = 0.06  # 60 mm
    pred[1, 1, 0] = 0.09  # 90 mm
    mask = np.array([[1, 1, 1], [1, 1, 0]], bool)
    # pose 0: (0 + 30 + 60) / 3 = 30; pose 1: (0 + 90) / 2 = 45; mean 37.5 (not pooled 36).
    np.testing.assert_allclose(metrics.mpjpe(pred, gt, mask=mask), 37.5, rtol=1e-5)
    # Frame mask of shape (T, 1): only pose 1 counts.
    np.testing.assert_allclose(metrics.mpjpe(pred, gt, mask=np.array([[0], [1]])), 30.0, rtol=1e-5)


def test_n_mpjpe_scale_invariance(poses):
    gt, noisy = poses
    base = float(metrics.n_mpjpe(noisy, gt))
    root = noisy[:, :1]
    for s in (0.25, 1.7, 10.0):
        scaled = root + s * (noisy - root) + np.float32(0.3)
        np.testing.assert_allclose(metrics.n_mpjpe(scaled, gt), base, rtol=1e-4)
    assert float(metrics.n_mpjpe(3.0 * gt, gt)) < 1e-3
    assert float(metrics.mpjpe(3.0 * gt, gt)) > 100.0


def test_n_mpjpe_hand_case():
    # Root-relative G = (1, 0, 0), P = (2, 2, 0): s = <P,G>/<P,P> = 2/8 = 0.25, sP = (0.5, 0.5, 0),
    # error = |(-0.5, 0.5, 0)| = 0.7071 m at one joint, 0 at the root -> mean 353.55 mm.
    gt = np.array([[0, 0, 0], [1, 0, 0]], np.float32)
    pred = np.array([[0, 0, 0], [2, 2, 0]], np.float32)
    np.testing.assert_allclose(metrics.n_mpjpe(pred, gt), 1000 * np.sqrt(0.5) / 2, rtol=1e-5)


def test_pa_mpjpe_invariant_to_similarity_transforms(poses):
    gt, noisy = poses
    rng = np.random.default_rng(1)
    rot = random_rotations(rng, 8)
    scale = rng.uniform(0.2, 5.0, size=8).astype(np.float32)
    t = rng.normal(scale=2.0, size=(8, 3)).astype(np.float32)
    moved_gt = apply_similarity(gt, scale, rot, t)
    assert float(metrics.pa_mpjpe(moved_gt, gt)) < 1e-2
    base = metrics.pa_mpjpe(noisy, gt, reduction="none")
    moved = metrics.pa_mpjpe(apply_similarity(noisy, scale, rot, t), gt, reduction="none")
    np.testing.assert_allclose(moved, base, rtol=1e-3, atol=1e-3)
    assert 10.0 < float(np.mean(base)) < 60.0  # ~3 cm noise per axis
    assert float(metrics.pa_mpjpe(noisy, gt)) <= float(metrics.mpjpe(noisy, gt)) + 1e-4


def test_pa_mpjpe_does_not_use_reflections(poses):
    gt, _ = poses
    centred = gt - gt.mean(-2, keepdims=True)
    mirrored = centred * np.array([-1.0, 1.0, 1.0], np.float32)
    err = metrics.pa_mpjpe(mirrored, centred, reduction="none")
    assert np.all(np.asarray(err) > 50.0)


def test_pa_mpjpe_mask_ignores_garbage_joints(poses):
    gt, _ = poses
    pred = gt.copy()
    pred[:, :2] += 10.0
    mask = np.ones(17, bool)
    mask[:2] = False
    assert float(metrics.pa_mpjpe(pred, gt, mask=mask)) < 1e-2
    assert float(metrics.pa_mpjpe(pred, gt)) > 100.0


def test_metrics_jit_and_vmap(poses):
    gt, noisy = poses
    for fn in (metrics.mpjpe, metrics.n_mpjpe, metrics.pa_mpjpe):
        np.testing.assert_allclose(jax.jit(fn)(noisy, gt), fn(noisy, gt), rtol=1e-5)
    per_pose = jax.vmap(functools.partial(metrics.pa_mpjpe))(noisy, gt)
    np.testing.assert_allclose(per_pose, metrics.pa_mpjpe(noisy, gt, reduction="none"), rtol=1e-5)
    pck_jit = jax.jit(functools.partial(metrics.pck, alignment="procrustes"))
    np.testing.assert_allclose(pck_jit(noisy, gt), metrics.pck(noisy, gt, alignment="procrustes"))


def test_mpjpe_family_gradients_are_finite(poses):
    gt, noisy = poses
    # The aligned root has error exactly 0, where a plain norm has a NaN gradient.
    for fn in (metrics.mpjpe, metrics.n_mpjpe, metrics.pa_mpjpe):
        grad = jax.jit(jax.grad(lambda x, fn=fn: fn(x, gt)))(noisy)
        assert np.all(np.isfinite(np.asarray(grad)))
        assert float(np.abs(np.asarray(grad)).max()) > 0


# ------------------------------------------------------------------------------------------ PCK


def test_pck_hand_cases():
    gt = np.zeros((2, 4, 3), np.float32)
    gt[:, :, 1] = [0.0, 0.3, 0.6, 0.9]
    pred = gt.copy()
    pred[0, 1, 0] = 0.10   # within 150 mm
    pred[0, 2, 0] = 0.15   # exactly on the threshold: counts as correct (<=)
    pred[0, 3, 0] = 0.20   # wrong
    pred[1, 1, 2] = 0.151  # wrong
    # pose 0: 3/4 = 75 %, pose 1: 3/4 = 75 %.
    np.testing.assert_allclose(metrics.pck(pred, gt, reduction="none"), [75.0, 75.0])
    np.testing.assert_allclose(metrics.pck(pred, gt, threshold=0.2), 100.0)
    np.testing.assert_allclose(metrics.pck(pred, gt, threshold=0.12), (50 + 75) / 2)
    np.testing.assert_allclose(metrics.pck(pred, gt, threshold=0.05), 50.0)
    np.testing.assert_allclose(metrics.pck_rel(pred, gt), 75.0)


def test_pck_alignments():
    gt = np.zeros((1, 3, 3), np.float32)
    gt[0, 1, 0] = 0.5
    gt[0, 2, 1] = 0.5
    shifted = gt + np.float32(1.0)  # absolute error 1.73 m at every joint
    assert float(metrics.pck(shifted, gt, alignment="none")) == 0.0
    assert float(metrics.pck_abs(shifted, gt)) == 0.0
    assert float(metrics.pck(shifted, gt, alignment="root")) == 100.0
    doubled = 2.0 * gt
    assert float(metrics.pck(doubled, gt, alignment="root")) == pytest.approx(100 / 3)
    assert float(metrics.pck(doubled, gt, alignment="scale")) == 100.0
    assert float(metrics.pck(doubled, gt, alignment="procrustes")) == 100.0
    with pytest.raises(ValueError, match="`alignment` must be one of"):
        metrics.pck(gt, gt, alignment="umeyama")


def test_pck_root_counts_people():
    gt_root = np.array([[0, 0, 5], [1, 0, 5], [2, 0, 5], [3, 0, 5]], np.float32)
    pred_root = gt_root + np.array([[0, 0, 0.1], [0, 0, 0.25], [0, 0.3, 0], [0.2, 0.2, 0]],
                                   np.float32)
    # errors 100, 250 (on the threshold), 300, 283 mm -> 2 of 4 within 250 mm.
    assert float(metrics.pck_root(pred_root, gt_root)) == pytest.approx(50.0)
    assert float(metrics.pck_root(pred_root, gt_root, threshold=0.3)) == pytest.approx(100.0)


# ----------------------------------------------------------------------------------- CanonPose


def test_correct_poses_and_cp_curve_hand_case():
    gt = np.zeros((3, 4, 3), np.float32)
    gt[:, :, 1] = [0.0, 0.4, 0.8, 1.2]
    gt[:, :, 0] = [0.0, 0.2, 0.0, 0.2]
    pred = gt.copy()
    # Symmetric +-d offsets along z of a planar (x, y) pose leave the rigid fit unchanged:
    # every joint is then exactly d away.
    pred[1, :, 2] += np.array([1, -1, -1, 1], np.float32) * 0.05
    pred[2, :, 2] += np.array([1, -1, -1, 1], np.float32) * 0.2
    np.testing.assert_array_equal(metrics.correct_poses(pred, gt, 0.1), [True, True, False])
    cp = metrics.cp_curve(pred, gt, np.array([0.01, 0.1, 0.25], np.float32))
    np.testing.assert_allclose(cp, [1 / 3, 2 / 3, 1.0], atol=1e-6)
    # CPS = 300 - 50 - 200 over three poses / 3 (each pose adds 300 - its threshold crossing).
    np.testing.assert_allclose(metrics.cps(pred, gt), (300 + 250 + 100) / 3, atol=0.5)


def test_correct_poses_are_rigid_not_scaled(poses):
    gt, _ = poses
    centred = gt - gt.mean(-2, keepdims=True)
    big = 1.5 * centred
    assert not np.any(np.asarray(metrics.correct_poses(big, centred, 0.05)))
    assert np.all(np.asarray(metrics.correct_poses(big, centred, 0.05, alignment="procrustes")))


def test_cps_of_perfect_prediction_is_300(poses):
    gt, _ = poses
    rng = np.random.default_rng(2)
    moved = apply_similarity(gt, np.ones(8, np.float32), random_rotations(rng, 8),
                        rng.normal(size=(8, 3)).astype(np.float32))
    np.testing.assert_allclose(metrics.cps(gt, gt), 300.0, atol=1e-3)
    np.testing.assert_allclose(metrics.cps(moved, gt), 300.0, atol=1e-3)
    np.testing.assert_allclose(metrics.cps(gt, gt, max_threshold=0.2, num_thresholds=7), 200.0,
                               atol=1e-3)


def test_cp_curve_monotone_and_cps_bounds(poses):
    gt, noisy = poses
    rng = np.random.default_rng(3)
    worse = (gt + rng.normal(scale=0.1, size=gt.shape)).astype(np.float32)
    thetas = np.linspace(0.0, 0.3, 31).astype(np.float32)
    for pred in (noisy, worse):
        cp = np.asarray(metrics.cp_curve(pred, gt, thetas))
        assert np.all(np.diff(cp) >= 0)
        assert cp[0] == 0.0 and 0.0 <= cp[-1] <= 1.0
    c1, c2 = float(metrics.cps(noisy, gt)), float(metrics.cps(worse, gt))
    assert 0.0 < c2 < c1 < 300.0


def test_cps_from_pose_errors_matches_cps_when_collected_in_parts(poses):
    gt, noisy = poses
    errors = np.concatenate([np.asarray(metrics.pose_errors_for_cps(noisy[:3], gt[:3])),
                             np.asarray(metrics.pose_errors_for_cps(noisy[3:], gt[3:]))])
    np.testing.assert_allclose(metrics.cps_from_pose_errors(errors), metrics.cps(noisy, gt), atol=1e-4)
    # hand case: errors 0 / 50 / 200 mm -> (300 + 250 + 100) / 3; a pose without valid joints
    # (inf) counts as wrong, unless `valid` drops it
    np.testing.assert_allclose(metrics.cps_from_pose_errors(np.array([0.0, 0.05, 0.2])), 650 / 3, atol=0.5)
    np.testing.assert_allclose(metrics.cps_from_pose_errors(np.array([0.0, np.inf])), 150.0, atol=0.5)
    np.testing.assert_allclose(metrics.cps_from_pose_errors(np.array([0.0, np.inf]), np.array([True, False])),
                               300.0, atol=0.5)
    mask = np.ones(gt[:2].shape[:-1])
    mask[1] = 0
    partly = np.asarray(metrics.pose_errors_for_cps(noisy[:2], gt[:2], mask=mask))
    assert np.isfinite(partly[0]) and np.isinf(partly[1])


# ---------------------------------------------------------------------- VirtualPose / regressor


def test_mrpe_and_components():
    gt = np.array([[0.0, 0.0, 5.0], [1.0, 1.0, 4.0]], np.float32)
    pred = gt + np.array([[0.03, -0.04, 0.0], [0.0, 0.0, -0.1]], np.float32)
    np.testing.assert_allclose(metrics.mrpe(pred, gt), (50 + 100) / 2, rtol=1e-5)
    np.testing.assert_allclose(metrics.mrpe_xyz(pred, gt), [15.0, 20.0, 50.0], rtol=1e-4)
    np.testing.assert_allclose(metrics.mrpe(pred, gt, mask=np.array([0, 1])), 100.0, rtol=1e-5)


def test_translation_error():
    gt = np.zeros((2, 3, 3), np.float32)  # 2 sequences x 3 frames
    pred = gt.copy()
    pred[0, 0] = [0.3, 0.4, 0.0]  # 0.5 normalised units
    pred[1, 2] = [0.0, 0.0, 0.1]
    np.testing.assert_allclose(metrics.translation_error(pred, gt), 1000 * 0.6 / 6, rtol=1e-5)


def test_camera_errors():
    d2r = np.pi / 180
    # columns: pitch, roll (rad), height (m), fov (rad)
    gt = np.array([[10 * d2r, 0.0, 1.5, 60 * d2r], [5 * d2r, 179 * d2r, 2.0, 40 * d2r]], np.float32)
    pred = np.array([[12 * d2r, -1 * d2r, 1.6, 55 * d2r], [5 * d2r, -179 * d2r, 1.9, 50 * d2r]],
                    np.float32)
    err = metrics.camera_errors(pred, gt)
    assert set(err) == {"fov", "pitch", "roll", "height"}
    np.testing.assert_allclose(err["fov"], (5 + 10) / 2, rtol=1e-4)
    np.testing.assert_allclose(err["pitch"], (2 + 0) / 2, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(err["roll"], (1 + 2) / 2, rtol=1e-4)  # 179 vs -179 is 2 degrees
    np.testing.assert_allclose(err["height"], 100.0, rtol=1e-4)


# ----------------------------------------------------------------------------------- validation


def test_bad_inputs_raise_clear_errors():
    a = np.zeros((5, 17, 3), np.float32)
    with pytest.raises(ValueError, match=r"`pred` and `gt` must have the same shape, got "
                                         r"\(5, 17, 3\) and \(5, 16, 3\)"):
        metrics.mpjpe(a, np.zeros((5, 16, 3)))
    with pytest.raises(ValueError, match=r"`pred` must have shape \(\.\.\., N, 3\), got \(5, 17\)"):
        metrics.pa_mpjpe(np.zeros((5, 17)), a)
    with pytest.raises(ValueError, match=r"`gt` contains NaN or inf"):
        metrics.pck(a, np.full((5, 17, 3), np.nan))
    with pytest.raises(ValueError, match=r"`mask` must broadcast to \(5, 17\), got \(16,\)"):
        metrics.mpjpe(a, a, mask=np.ones(16))
    with pytest.raises(ValueError, match="`mask` marks no element as valid"):
        metrics.mpjpe(a, a, mask=np.zeros(17))
    with pytest.raises(ValueError, match=r"`pred_root` and `gt_root` must have the same shape"):
        metrics.mrpe(np.zeros((4, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"`pred` must have shape \(\.\.\., 4\), got \(2, 3\)"):
        metrics.camera_errors(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="`reduction` must be"):
        metrics.mpjpe(a, a, reduction="sum")
    with pytest.raises(ValueError, match="`root_index` must index one of the 17 joints"):
        metrics.mpjpe(a, a, root_index=17)
