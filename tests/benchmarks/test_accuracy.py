"""Accuracy measurement for models that mirror-average in their graph (``convert --mirror``): scored once, marked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import make_models_dir
from synthetic import synthetic_images

from benchmarks.accuracy import measure_accuracy, resolve_checkpoint
from benchmarks.models import find_models
from benchmarks.report import accuracy_section, latency_section
from core.fileio import sha256_file
from core.formats import FORMATS
from core.labels import EMOTIONS


def test_models_with_mirroring_in_their_graph_are_not_mirrored_again(tmp_path: Path, fixtures_dir: Path) -> None:
    folder = make_models_dir(tmp_path / "models", fixtures_dir)
    entries = [{"variant": "unweighted", "format": f.name, "file": f"unweighted_{f.name}.tflite",
                "sha256": sha256_file(folder / f"unweighted_{f.name}.tflite"), "mirror_average": True} for f in FORMATS]
    (folder / "manifest.json").write_text(json.dumps({"models": entries}))
    models = find_models(folder)
    assert models.mirror_in_graph("unweighted") and not models.mirror_in_graph("weighted")

    x, y = synthetic_images(2, seed=3)
    rows, _ = measure_accuracy(models, x, y, mode="float32", progress=False, mirror=True)
    by = {(r["variant"], r["format"]): r for r in rows}
    for f in FORMATS:
        assert by["unweighted", f.name]["mirror_in_graph"] is True
        assert "accuracy_mirrored" not in by["unweighted", f.name]  # scored once: the graph already mirrors
        assert by["weighted", f.name]["mirror_in_graph"] is False
        assert 0.0 <= by["weighted", f.name]["accuracy_mirrored"] <= 1.0

    results = {
        "accuracy": {"skipped": None, "rows": rows, "data": "synthetic", "split": "test", "n": len(y), "total": len(y)},
        "reference": {"used": [{"variant": v, "kind": "float32", "source": "x"} for v in ("unweighted", "weighted")]},
        "models": [{"variant": m.variant, "format": m.fmt, "size_bytes": m.size_bytes,
                    "mirror_in_graph": m.mirror_in_graph} for m in models.models],
        "latency": {"skipped": None, "threads": [1],
                    "rows": [{"variant": v, "format": "int8", "threads": 1, "median_us": 2.0, "p95_us": 3.0,
                              "speedup_vs_float32": 1.0} for v in ("unweighted", "weighted")],
                    "settings": {"min_runs": 1, "min_seconds": 0.1, "warmup": 1}},
    }
    table = "\n".join(accuracy_section(results))
    assert table.count("| in graph |") == len(FORMATS)
    latency = "\n".join(latency_section(results))
    assert "| unweighted | int8 (2 views) |" in latency and "| weighted | int8 |" in latency


def test_a_manifest_entry_for_another_file_does_not_count_as_mirrored(tmp_path: Path, fixtures_dir: Path) -> None:
    folder = make_models_dir(tmp_path / "models", fixtures_dir, variants=("unweighted",))
    entries = [{"file": f"unweighted_{f.name}.tflite", "sha256": "0" * 64, "mirror_average": True} for f in FORMATS]
    (folder / "manifest.json").write_text(json.dumps({"models": entries}))
    models = find_models(folder)
    assert not models.mirror_in_graph("unweighted")  # the files were replaced after conversion: score both views


def test_unreadable_manifest_is_a_clear_error(tmp_path: Path, fixtures_dir: Path) -> None:
    from benchmarks.errors import BenchError

    folder = make_models_dir(tmp_path / "models", fixtures_dir, variants=("unweighted",))
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(BenchError, match=r"manifest\.json: not readable JSON"):
        find_models(folder)


def test_jitter_moves_and_scales_the_face_box() -> None:
    from benchmarks.accuracy import jitter

    x, _ = synthetic_images(1, seed=1)
    x = x.copy()
    x[:, :, 40:] = 0  # an edge to follow (synthetic pixels are > 0)
    np.testing.assert_array_equal(jitter(x, 1.0, 0, 0), x)
    right = jitter(x, 1.0, 4, 0)  # the box moves right: the content moves left by 4 px
    np.testing.assert_array_equal(right[:, :, :-4], x[:, :, 4:])
    np.testing.assert_array_equal(right[:, :, -4:], np.repeat(x[:, :, -1:], 4, axis=2))  # border repeated
    down = jitter(x[..., None], 1.0, 0, 4)
    assert down.shape == (7, 48, 48, 1)
    np.testing.assert_array_equal(down[:, :-4, :, 0], x[:, 4:])
    larger = jitter(x, 1.15, 0, 0)  # a larger box: the face shrinks, the edge moves towards the centre
    assert (x[:, 24, 38:40] > 0).all() and (larger[:, 24, 38:] == 0).all() and (larger[:, 24, :37] > 0).all()
    smaller = jitter(x, 0.85, 0, 0)  # a smaller box: the face grows, the edge moves outwards
    assert (smaller[:, 24, :42] > 0).all() and (smaller[:, 24, 43:] == 0).all()


def test_quick_run_reports_face_box_jitter(quick_run) -> None:
    from benchmarks.accuracy import JITTER_FORMAT, JITTERS

    rows = quick_run.results["accuracy"]["jitter"]
    assert sorted((r["variant"], r["jitter"]) for r in rows) == sorted(
        (v, j[0]) for v in ("unweighted", "weighted") for j in JITTERS)
    for r in rows:
        assert r["format"] == JITTER_FORMAT and 0.0 <= r["accuracy"] <= 1.0
        assert r["delta_pp"] == pytest.approx(100 * (r["accuracy"] - r["base_accuracy"]))
    assert "Face-box jitter" in quick_run.report and "| box 15% larger |" in quick_run.report


# --- The benchmark's numbers are the device classifier's, on the same faces, exactly --------------------------------


def _device_scores(model: Path, x: np.ndarray, y: np.ndarray, mirror_average: bool = False) -> tuple[float, list]:
    """(accuracy, confusion matrix) of ``EmotionClassifier``'s arg-max labels, counted here, face by face."""
    from device.classifier import ClassifierOptions, EmotionClassifier

    pred = EmotionClassifier(ClassifierOptions(model, 1, mirror_average)).predict_proba(x).argmax(axis=1)
    cm = np.zeros((7, 7), np.int64)
    for truth, label in zip(y, pred):
        cm[truth, label] += 1
    return int((pred == y).sum()) / len(y), cm.tolist()


def test_quick_run_accuracy_is_the_device_classifiers(quick_run, bench_models: Path, synthetic_data: Path) -> None:
    """Every accuracy the benchmark reports (plain, mirrored, face-box jitter and its base) equals the device
    classifier's on the same faces, and so does every confusion matrix: not just a number in 0..1."""
    from benchmarks.accuracy import jitter
    from benchmarks.data import load_eval_faces
    from benchmarks.runner import QUICK_FACES

    faces = load_eval_faces(synthetic_data, QUICK_FACES, seed=0)  # what `run --quick` scores (seed 0, the default)
    acc = quick_run.results["accuracy"]
    assert acc["n"] == len(faces) and acc["split"] == faces.split
    hits = set()
    for r in acc["rows"]:
        model = bench_models / f"{r['variant']}_{r['format']}.tflite"
        accuracy, cm = _device_scores(model, faces.x, faces.y)
        assert r["accuracy"] == accuracy and r["confusion_matrix"] == cm, model.name
        assert r["accuracy_mirrored"] == _device_scores(model, faces.x, faces.y, mirror_average=True)[0], model.name
        hits.add(accuracy)
    assert min(hits) > 0.3  # the fixtures score well above chance (1/7): the faces and labels are not shuffled
    for r in acc["jitter"]:
        model = bench_models / f"{r['variant']}_{r['format']}.tflite"
        assert r["base_accuracy"] == _device_scores(model, faces.x, faces.y)[0]
        moved = jitter(faces.x, r["scale"], r["dx"], r["dy"])
        assert r["accuracy"] == _device_scores(model, moved, faces.y)[0], (model.name, r["jitter"])


def test_measure_accuracy_scores_each_face_against_its_own_label(tmp_path: Path, fixtures_dir: Path) -> None:
    """``measure_accuracy`` in-process, on faces whose order is not that of their classes: each row's accuracy,
    confusion matrix and per-class recall are the device classifier's, counted here."""
    folder = make_models_dir(tmp_path / "models", fixtures_dir, variants=("unweighted",))
    x, y = synthetic_images(3, seed=9)
    rows, _ = measure_accuracy(find_models(folder), x, y, mode="float32", progress=False, mirror=False)
    assert len(rows) == len(FORMATS)
    for r in rows:
        accuracy, cm = _device_scores(folder / f"unweighted_{r['format']}.tflite", x, y)
        assert r["n"] == len(y) and r["accuracy"] == accuracy and r["confusion_matrix"] == cm
        for k, name in enumerate(EMOTIONS):
            assert r["per_class"][name]["recall"] == cm[k][k] / sum(cm[k])
            assert r["per_class"][name]["support"] == sum(cm[k])


def test_tflite_predict_keeps_the_faces_in_order_across_chunks(fixtures_dir: Path) -> None:
    from benchmarks.accuracy import tflite_predict
    from benchmarks.models import ModelFile
    from device.classifier import ClassifierOptions, EmotionClassifier

    x, _ = synthetic_images(3, seed=2)  # 21 faces: chunks of 5 leave a partial one
    for name in ("tiny_float32", "tiny_int8"):
        path = fixtures_dir / f"{name}.tflite"
        model = ModelFile("unweighted", "float32" if name == "tiny_float32" else "int8", path, path.stat().st_size, {})
        expected = EmotionClassifier(ClassifierOptions(path, 1)).predict_proba(x)
        np.testing.assert_array_equal(tflite_predict(model, x, chunk=5), expected)



def test_a_relative_checkpoint_is_never_read_from_the_working_directory(tmp_path: Path, monkeypatch) -> None:
    """The manifest records checkpoints relative to the repository; a file of the same relative name where the
    benchmark happens to run must not become the float reference."""
    models = tmp_path / "models"
    models.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "runs" / "x-1ep" / "unweighted-seed0").mkdir(parents=True)
    (elsewhere / "runs" / "x-1ep" / "unweighted-seed0" / "best.keras").write_bytes(b"not this one")
    monkeypatch.chdir(elsewhere)
    assert resolve_checkpoint("runs/x-1ep/unweighted-seed0/best.keras", models) is None
    (models / "best.keras").write_bytes(b"beside the models")
    assert resolve_checkpoint("best.keras", models) == models / "best.keras"
