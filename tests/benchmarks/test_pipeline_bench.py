"""The pipeline part's end-to-end scoring (``benchmarks.pipeline_bench.evaluate_frames``) on crafted frames, and the
clip's found faces scored again on their dataset crops (``same_faces_on_dataset_crops``, and the runner's use of it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.errors import BenchError
from benchmarks.pipeline_bench import evaluate_frames, same_faces_on_dataset_crops
from benchmarks.stats import clustered_interval_pp, clustered_ratio_interval
from core.labels import EMOTIONS


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
    assert sorted((f["face"], f["label"], f["found"], f["correct"]) for f in e2e["per_face"]) == [
        (7, "happy", 3, 3), (9, "sad", 3, 1)]
    assert e2e["label_accuracy_found_ci_pp"] == pytest.approx(clustered_interval_pp([3, 1], [3, 3]))
    assert evaluate_frames(frames, None) is None


def _predict_by_first_pixel(faces: np.ndarray) -> np.ndarray:
    """A fake classifier: a face's first pixel is the class it is given (one-hot scores)."""
    return np.eye(7)[np.asarray(faces).reshape(len(faces), -1)[:, 0].astype(int)]


def test_the_same_faces_on_their_dataset_crops_weighted_by_their_found_frames() -> None:
    labels = np.array([3, 4, 5, 6])
    faces = np.zeros((4, 48, 48, 1), np.uint8)
    faces[:, 0, 0, 0] = [3, 0, 5, 6]  # the dataset crops: faces 0, 2, 3 right, face 1 wrong
    per_face = [{"face": 0, "label": "happy", "found": 3, "correct": 3},
                {"face": 1, "label": "sad", "found": 2, "correct": 2},  # wrong on its crop, right on the clip
                {"face": 2, "label": "surprise", "found": 1, "correct": 0}]
    same = same_faces_on_dataset_crops({"per_face": per_face}, _predict_by_first_pixel, faces, labels)
    assert same["faces"] == 3 and same["acc_clip"] == pytest.approx(5 / 6)
    assert same["acc_dataset"] == pytest.approx(4 / 6) and same["acc_dataset_faces"] == pytest.approx(2 / 3)
    assert same["clip_minus_dataset_pp"] == pytest.approx(100 / 6)
    ci = clustered_ratio_interval([0, 2, -1], [3, 2, 1])
    assert same["clip_minus_dataset_ci_pp"] == pytest.approx([100 * ci[0], 100 * ci[1]])
    assert same_faces_on_dataset_crops(None, _predict_by_first_pixel, faces, labels) is None
    assert same_faces_on_dataset_crops({"per_face": [{**per_face[0], "face": None}]}, _predict_by_first_pixel,
                                       faces, labels) is None  # a clip.json without face indices


@pytest.mark.parametrize(("face", "label", "message"), [(9, "happy", "indices run to 9"),
                                                       (0, "sad", "labels differ")])
def test_a_clip_built_from_other_data_is_named(face: int, label: str, message: str) -> None:
    labels, faces = np.array([3, 4]), np.zeros((2, 48, 48, 1), np.uint8)
    per_face = [{"face": face, "label": label, "found": 1, "correct": 1}]
    with pytest.raises(BenchError, match=message):
        same_faces_on_dataset_crops({"per_face": per_face}, _predict_by_first_pixel, faces, labels)


def test_the_runner_adds_the_same_faces_to_each_row_with_per_face_results(bench_models: Path,
                                                                          synthetic_data: Path) -> None:
    from benchmarks.data import load_eval_faces
    from benchmarks.models import find_models
    from benchmarks.runner import RunConfig, _same_faces

    split = load_eval_faces(synthetic_data)
    per_face = [{"face": i, "label": EMOTIONS[int(split.y[i])], "found": 2, "correct": 1} for i in (0, 2)]
    models = find_models(bench_models)
    variant, fmt = models.models[0].variant, models.models[0].fmt
    pipeline = {"rows": [{"variant": variant, "format": fmt, "end_to_end": {"per_face": per_face}},
                         {"variant": variant, "format": fmt, "error": "worker exited"}]}
    _same_faces(pipeline, models, RunConfig(models=bench_models, data=synthetic_data), None)
    same = pipeline["rows"][0]["same_faces"]
    assert same["faces"] == 2 and same["acc_clip"] == pytest.approx(0.5) and "same_faces" not in pipeline["rows"][1]
    _same_faces(pipeline := {"rows": [{"variant": variant, "format": fmt, "end_to_end": {"per_face": per_face}}]},
                models, RunConfig(models=bench_models), None)
    assert "same_faces" not in pipeline["rows"][0]  # no --data: nothing to compare with


def test_a_clip_json_label_that_is_no_emotion_is_refused_when_the_truth_is_read(tmp_path):
    import json

    from benchmarks.pipeline_bench import load_truth

    path = tmp_path / "clip.json"
    path.write_text(json.dumps({"frames": [{"index": 3, "faces": [{"box": [1, 2, 3, 4], "label": "joy"}]}]}))
    with pytest.raises(BenchError, match=r"clip\.json: unreadable .*frame 3: label 'joy' is not one of angry"):
        load_truth(path)
