"""`posejax.virtualpose`: detections -> AGR as the synthesiser draws it, letterboxing keeps the
projection, the ground frame is a proper Y-up frame that leaves the camera's view unchanged."""

import numpy as np
import pytest

from posejax.synth.agr import AGRConfig, synthesize_agr
from posejax.virtualpose import _letterbox, agr_from_detections, ground_frame
from tests.synth.test_agr import _clips

CFG = AGRConfig(image_size=(320, 192), heatmap_size=(80, 48), jitter_px=0.0, miss_rate=0.0,
                false_positives=0.0, min_people=2, max_people=2)


def test_detections_give_the_synthesised_agr():
    s = synthesize_agr(2, _clips(), 1, CFG)
    inside = ((s["joints2d"][0] >= 0) & (s["joints2d"][0] < CFG.image_size)).all(-1)
    det = np.concatenate([s["joints2d"][0], inside[..., None].astype(np.float32)], -1)   # coco17, conf 1/0
    out = agr_from_detections(det, layout="coco17", image_size=CFG.image_size, K=s["K"][0], agr=CFG)
    np.testing.assert_allclose(out["agr"][..., :17], np.moveaxis(s["heatmaps"][0], 0, -1), atol=1e-6)
    np.testing.assert_allclose(out["K"], s["K"][0], rtol=1e-6)
    np.testing.assert_allclose(out["boxes"], s["boxes"][0] / CFG.stride - 0.5, atol=1e-3)
    assert out["mask"].all()
    # The root pixel is the hips' midpoint (the synthesiser uses the pelvis: a few pixels apart).
    assert np.all(np.abs(out["root_uv"] - (s["roots2d"][0] / CFG.stride - 0.5)) < 3.0)
    # A person without hips is left out.
    det[1, 11:13, 2] = 0.0
    assert agr_from_detections(det, layout="coco17", image_size=CFG.image_size, K=s["K"][0],
                               agr=CFG)["mask"].tolist() == [True, False]
    with pytest.raises(ValueError, match="has 17 keypoints"):
        agr_from_detections(det[:, :5], layout="coco17", image_size=CFG.image_size, K=s["K"][0], agr=CFG)


def test_letterboxing_keeps_the_projection():
    K = np.array([[1500.0, 0, 544], [0, 1500.0, 960], [0, 0, 1]])
    size = (1088, 1920)                                                    # portrait
    det = np.zeros((1, 17, 3), np.float32)
    cam_pts = np.random.default_rng(0).normal(0, 0.5, (17, 3)) + [0, 0, 4.0]
    det[0, :, :2] = cam_pts[:, :2] / cam_pts[:, 2:] * 1500.0 + K[:2, 2]
    det[0, :, 2] = 1.0
    out = agr_from_detections(det, layout="coco17", image_size=size, K=K, agr=CFG)
    s, offset = _letterbox(size, CFG.image_size)
    reproj = cam_pts[:, :2] / cam_pts[:, 2:] * out["K"][0, 0] + out["K"][:2, 2]
    np.testing.assert_allclose(reproj, det[0, :, :2] * s + offset, atol=1e-3)
    assert 0 < s * size[1] <= CFG.image_size[1] + 1e-6


def test_ground_frame():
    rng = np.random.default_rng(1)
    from posejax.geometry.cameras import look_at

    eye = np.array([2.0, -1.5, 1.8])                                       # Z-up world, camera 1.8 m high
    R, t = (np.asarray(x, np.float64) for x in look_at(eye, np.array([-1.0, 0.5, 0.9]), up=(0.0, 0.0, 1.0)))
    R2, t2, to_new = ground_frame(R, t, up=(0.0, 0.0, 1.0), ground=0.1, distance=4.0)
    assert np.linalg.det(to_new[:3, :3]) == pytest.approx(1.0)
    centre = -R2.T @ t2
    np.testing.assert_allclose(centre, [0.0, 1.7, 4.0], atol=1e-6)         # above ground, 4 m behind the origin
    pts = rng.normal(0, 2, (5, 3))
    new = pts @ to_new[:3, :3].T + to_new[:3, 3]
    np.testing.assert_allclose(new @ R2.T + t2, pts @ R.T + t, atol=1e-6)  # the camera sees the same
    np.testing.assert_allclose(to_new[:3, :3] @ [0, 0, 1.0], [0, 1, 0], atol=1e-12)


def test_fit_clip_equals_frame_by_frame_estimates():
    """`fit_clip` runs fixed-size chunks (the last one padded); each frame's result must equal
    `estimate_people` on that frame alone, mapped back to the calibration's world."""
    import jax

    from posejax.geometry.cameras import look_at
    from posejax.tasks.virtualpose import VirtualPoseTask
    from posejax.virtualpose import VirtualPoseModel, estimate_people, fit_clip
    from tests.conftest import numpy_random_params, tiny_experiment

    task = VirtualPoseTask(tiny_experiment("virtualpose"))
    params = numpy_random_params(task, task.example_batch())
    model = VirtualPoseModel(task=task, params=params, step=0, predict=jax.jit(task.predict))
    s = synthesize_agr(3, _clips(), 3, CFG)
    kp = np.concatenate([s["joints2d"][:, 0], np.ones((3, 17, 1), np.float32)], -1)     # (T=3, 17, 3)
    R, t = (np.asarray(x, np.float64) for x in look_at(np.array([0.0, -6.0, 1.5]), np.array([0.0, 0.0, 1.0]),
                                                       up=(0.0, 0.0, 1.0)))
    K = s["K"][0]
    out = fit_clip(model, kp, layout="coco17", image_size=CFG.image_size, K=K, R=R, t=t, chunk=2)
    assert out["roots"].shape == (3, 3) and out["joints"].shape == (3, 17, 3) and out["scores"].shape == (3,)
    R2, t2, to_new = ground_frame(R, t)
    back = np.linalg.inv(to_new)
    for i in (0, 2):
        one = estimate_people(model, kp[i][None], layout="coco17", image_size=CFG.image_size, K=K, R=R2, t=t2)
        best = int(np.argmax(one["scores"]))
        np.testing.assert_allclose(out["roots"][i], one["roots"][best] @ back[:3, :3].T + back[:3, 3], atol=1e-4)
        np.testing.assert_allclose(out["depth_only"][i], one["depth_only"][0] @ back[:3, :3].T + back[:3, 3],
                                   atol=1e-4)
