"""Tests for COCO keypoint JSON (annotation and result files)."""

import json

import numpy as np
import pytest

from posejax.io.coco_json import CocoKeypoints, read_coco_keypoints, write_coco_keypoints


def _kp(rng, k=17):
    kp = rng.uniform(0, 640, (k, 3)).astype(np.float32)
    kp[:, 2] = rng.integers(0, 3, k)
    return kp


def test_reads_annotation_file_with_images(tmp_path):
    rng = np.random.default_rng(0)
    a, b, c = _kp(rng), _kp(rng), _kp(rng)
    doc = {"images": [{"id": 7, "file_name": "000007.jpg", "width": 640, "height": 480},
                      {"id": 9, "file_name": "000009.jpg", "width": 320, "height": 240}],
           "annotations": [
               {"id": 1, "image_id": 7, "category_id": 1, "keypoints": a.reshape(-1).tolist(),
                "bbox": [1, 2, 3, 4], "num_keypoints": 17},
               {"id": 2, "image_id": 7, "category_id": 1, "keypoints": b.reshape(-1).tolist()},
               {"id": 3, "image_id": 8, "category_id": 1, "keypoints": c.reshape(-1).tolist()},
               {"id": 4, "image_id": 9, "category_id": 2, "bbox": [0, 0, 1, 1]}],  # no keypoints
           "categories": [{"id": 1, "name": "person"}]}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(doc))
    res = read_coco_keypoints(str(path))
    assert isinstance(res, CocoKeypoints)
    assert dict(res).keys() == {7, 8, 9} and len(res[7]) == 2 and res[9] == []
    np.testing.assert_array_equal(res[7][0], a)
    np.testing.assert_array_equal(res[8][0], c)
    assert res[7][0].shape == (17, 3) and res[7][0].dtype == np.float32
    assert res.images[7] == {"file_name": "000007.jpg", "width": 640, "height": 480}
    np.testing.assert_array_equal(res.bboxes[7][0], [1, 2, 3, 4])
    assert np.isnan(res.bboxes[7][1]).all() and np.isnan(res.scores[7][0])


@pytest.mark.parametrize("fmt", ["results", "annotations"])
def test_round_trip(tmp_path, fmt):
    rng = np.random.default_rng(1)
    kps = {1: [_kp(rng), _kp(rng)], 5: [_kp(rng)]}
    scores = {1: [0.9, 0.5], 5: [0.7]}
    images = {1: {"file_name": "a.jpg", "width": 640, "height": 480}, 5: {"file_name": "b.jpg"}}
    path = str(tmp_path / f"{fmt}.json")
    write_coco_keypoints(path, kps, format=fmt, scores=scores, images=images)
    back = read_coco_keypoints(path)
    assert sorted(back) == [1, 5]
    for i in kps:
        for x, y in zip(kps[i], back[i]):
            np.testing.assert_allclose(y, x, rtol=1e-6)
        np.testing.assert_allclose(back.scores[i], scores[i], rtol=1e-6)
    if fmt == "annotations":
        assert back.images == images
        box = back.bboxes[1][0]
        lab = kps[1][0][kps[1][0][:, 2] > 0, :2]
        np.testing.assert_allclose(box, [*lab.min(0), *(lab.max(0) - lab.min(0))], rtol=1e-5)
        again = str(tmp_path / "again.json")  # a CocoKeypoints writes back with its metadata
        write_coco_keypoints(again, back, format="annotations")
        assert read_coco_keypoints(again).images == images
    else:
        assert isinstance(json.load(open(path)), list)


def test_category_filter(tmp_path):
    rng = np.random.default_rng(2)
    doc = [{"image_id": 1, "category_id": 1, "keypoints": _kp(rng).reshape(-1).tolist(),
            "score": 0.8},
           {"image_id": 1, "category_id": 3, "keypoints": _kp(rng).reshape(-1).tolist(),
            "score": 0.1}]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    assert len(read_coco_keypoints(str(path))[1]) == 2
    assert read_coco_keypoints(str(path), category_id=1).scores[1] == [pytest.approx(0.8)]


def test_errors(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n{"image_id": 1,\n "keypoints": [1, 2, 3]\n')  # truncated
    with pytest.raises(ValueError, match=r"bad\.json, line 4, column \d+: invalid JSON"):
        read_coco_keypoints(str(path))
    path.write_text('[{"image_id": 1, "keypoints": [1, 2, 3, 4]}]')
    with pytest.raises(ValueError, match=r"bad\.json: results\[0\]\.keypoints must be a flat "
                                         r"list of 3 numbers per keypoint, got 4 values"):
        read_coco_keypoints(str(path))
    path.write_text('{"annotations": [{"image_id": 1, "keypoints": [1, 2, 3]}, '
                    '{"image_id": 2, "keypoints": [1, 2, 3, 4, 5, 6]}]}')
    with pytest.raises(ValueError, match=r"annotations\[1\]\.keypoints has 2 keypoints, earlier "
                                         r"entries have 1"):
        read_coco_keypoints(str(path))
    path.write_text('{"annotations": [{"keypoints": [1, 2, 3]}]}')
    with pytest.raises(ValueError, match=r"annotations\[0\]\.image_id is missing"):
        read_coco_keypoints(str(path))
    path.write_text('{"images": []}')
    with pytest.raises(ValueError, match=r"expected a COCO annotation object with an "
                                         r"'annotations' list"):
        read_coco_keypoints(str(path))
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        read_coco_keypoints(str(tmp_path / "nope.json"))
    with pytest.raises(ValueError, match=r"`keypoints\[1\]\[0\]` must have shape \(K, 3\)"):
        write_coco_keypoints(str(tmp_path / "o.json"), {1: [np.zeros((17, 2))]})
