"""The pipeline part's end-to-end scoring (``benchmarks.pipeline_bench.evaluate_frames``) on crafted frames."""

from __future__ import annotations

import pytest

from benchmarks.pipeline_bench import evaluate_frames
from benchmarks.stats import clustered_interval_pp


def _truth(segment: int, *faces: tuple[list[int], str, int]) -> dict:
    return {"segment": segment, "faces": [{"box": box, "label": label, "face": face} for box, label, face in faces]}


def _frame(*faces: tuple[list[int], str]) -> dict:
    return {"faces": [{"box": box, "label": label, "track": 0} for box, label in faces]}


def test_end_to_end_accuracy_and_its_interval_count_faces_not_frames() -> None:
    a, b, c = [10, 10, 50, 50], [200, 40, 60, 60], [300, 300, 40, 40]
    truth = [_truth(0, (a, "happy", 7))] * 3 + [_truth(1, (b, "sad", 9))] * 3 + [_truth(2, (c, "fear", 4))] * 2
    frames = ([_frame((a, "happy"))] * 3  # face 7: right in all three frames
              + [_frame((b, "sad")), _frame((b, "angry")), _frame((b, "angry"))]  # face 9: right in one of three
              + [_frame(([400, 20, 40, 40], "fear")), _frame()])  # face 4: never found; one false detection
    e2e = evaluate_frames(frames, truth)
    assert (e2e["gt_faces"], e2e["found"], e2e["correct"], e2e["false_detections"]) == (8, 6, 4, 1)
    assert e2e["label_accuracy_found"] == pytest.approx(4 / 6) and e2e["label_accuracy_all"] == pytest.approx(4 / 8)
    assert e2e["faces_found"] == 2
    assert e2e["label_accuracy_found_ci_pp"] == pytest.approx(clustered_interval_pp([3, 1], [3, 3]))
    assert evaluate_frames(frames, None) is None
