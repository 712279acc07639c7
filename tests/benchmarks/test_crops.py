"""Label accuracy on detector crops (``benchmarks.crops``): a fake detector's boxes on canvases of known faces, the
dataset, calibrated, plain and placed-box crops scored and compared."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from bench_helpers import ListDetector, fixture_model
from synthetic import synthetic_images

from benchmarks.crops import Placement, crop_accuracy
from device.classifier import ClassifierOptions, EmotionClassifier
from device.detector import Box
from device.framing import Framing
from device.preprocess import crop_face


def test_crop_accuracy_calibrated_vs_plain_vs_dataset(fixtures_dir: Path) -> None:
    classifier = EmotionClassifier(ClassifierOptions(fixture_model(fixtures_dir, "tiny_int8"), 1))
    x, _ = synthetic_images(1, seed=5)  # 7 faces
    x = x[:4]
    y = classifier.predict_proba(x).argmax(1)  # labels the model gets right on the dataset crops...
    y[3] = (y[3] + 1) % 7  # ...except the last face
    placed, boxes = [], []
    for i in range(4):
        canvas = np.full((480, 640, 3), 90, np.uint8)
        px, py = 100 + 60 * i, 120 + 30 * i
        canvas[py : py + 48, px : px + 48] = x[i][..., None]  # the face unscaled: the exact crop is the original
        truth = Box(px, py, 48, 48)
        placed.append(Placement(i, canvas, truth))
        boxes.append(truth)
    answers = [[boxes[0]], [boxes[1], Box(500, 400, 40, 40)], [], [boxes[3]]]  # face 2 missed; one false box
    exact = Framing(1.0, 0.0, 0.0, source="calibrated")
    plain = Framing.from_margin(0.02)
    rows, crops = crop_accuracy({"fake": ListDetector(answers)}, {"fake": (exact, plain)},
                                classifier.predict_proba, x, y, placed, 4, progress=False)
    row = rows["fake"]
    assert (row["placed"], row["found"], row["found_rate"], row["false_detections"]) == (4, 3, 0.75, 1)
    # found: faces 0, 1 (right on their dataset crops) and 3 (wrong): 2 of 3; all 4 placed: 3 of 4
    assert row["acc_dataset"] == pytest.approx(2 / 3) and row["acc_dataset_all"] == pytest.approx(3 / 4)
    assert row["acc_calibrated"] == row["acc_dataset"]  # the exact framing crops the originals back
    assert row["calibrated_minus_dataset_pp"] == 0.0 and row["acc_placed_box"] == row["acc_dataset"]
    gray = [cv2.cvtColor(p.canvas, cv2.COLOR_BGR2GRAY) for p in placed]
    plain_pred = [classifier.predict_proba(crop_face(gray[i], boxes[i], plain)[None]).argmax(1)[0] for i in (0, 1, 3)]
    expected_plain = np.mean([plain_pred[k] == y[i] for k, i in enumerate((0, 1, 3))])
    assert row["acc_plain"] == pytest.approx(expected_plain)
    assert row["plain_minus_dataset_pp"] == pytest.approx(100 * (expected_plain - 2 / 3))
    indices, images = crops["fake"]
    assert indices == [0, 1, 3] and np.array_equal(images, x[[0, 1, 3]])
    assert row["shortfall_ci_pp"] == [0.0, 0.0]  # the same right and wrong faces: no difference, no spread
