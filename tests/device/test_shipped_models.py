"""The committed models: manifest matches the files, every model honours the contract, golden photo is 'happy'."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from needs import data_missing

from core.labels import EMOTIONS
from device.classifier import ClassifierOptions, EmotionClassifier
from device.detector import HaarDetector, HaarOptions
from device.pipeline import EmotionPipeline

REQUIRED = ("unweighted_int8", "weighted_int8", "unweighted_float32", "weighted_float32")
# Re-scored on the real data: one interpreter run per face (the classifier's way), about 1 s per 1,000 faces for int8
# and 3 s for float32 on the 2-core development machine, so both int8 models and one float32 model.
RESCORED = ("unweighted_int8", "weighted_int8", "unweighted_float32")


@pytest.fixture(scope="module")
def manifest(repo_root: Path) -> dict:
    path = repo_root / "models" / "manifest.json"
    if not path.is_file():
        pytest.skip("no models/manifest.json (run `make train convert`)")
    return json.loads(path.read_text())


def test_manifest_matches_files(manifest, repo_root):
    files = {e["file"] for e in manifest["models"]}
    for name in REQUIRED:
        assert f"{name}.tflite" in files
    total = 0
    for e in manifest["models"]:
        path = repo_root / "models" / e["file"]
        data = path.read_bytes()
        total += len(data)
        assert hashlib.sha256(data).hexdigest() == e["sha256"], path
        assert len(data) == e["size_bytes"], path
        assert e["labels"] == list(EMOTIONS)
        for key in ("command", "host"):
            assert e["training"].get(key), f"{path}: training.{key} missing from the manifest"
        for key in ("epochs", "train_wall_s"):  # 0 for a weight average (a soup), which trains nothing itself
            assert e["training"].get(key) is not None, f"{path}: training.{key} missing from the manifest"
        # what the model cost in all, the runs it needed first (a soup's members, a tail's base) included
        assert e["training"].get("total_train_min", 0) > 0, f"{path}: training.total_train_min missing or 0"
    assert total < 10 * 1024 * 1024, "shipped models must stay well under 10 MB together"


def test_contract_and_int8_parity(manifest, repo_root):
    for e in manifest["models"]:
        clf = EmotionClassifier(ClassifierOptions(repo_root / "models" / e["file"]))
        assert np.dtype(clf.input_dtype).name == e["input"]["dtype"]
        assert clf.input_quantization == pytest.approx((e["input"]["scale"], e["input"]["zero_point"]))
        probs = clf.predict_proba(np.full((2, 48, 48), 128, dtype=np.uint8))
        assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1.0, atol=0.05)
        if e["format"] == "int8":
            for split, acc in e["accuracy"].items():
                assert e["keras"][split]["accuracy"] - acc["accuracy"] <= 0.005, f"{e['file']}: int8 > 0.5 pp drop"


@pytest.mark.parametrize("name", REQUIRED)
def test_golden_astronaut_is_happy(manifest, repo_root, astronaut_bgr, assert_astronaut_face, name):
    """skimage's astronaut photo: one frontal, smiling face. Expected: found, and 'happy' with p >= 0.6."""
    clf = EmotionClassifier(ClassifierOptions(repo_root / "models" / f"{name}.tflite"))
    pipeline = EmotionPipeline(HaarDetector(HaarOptions()), clf)
    from device.sources import Frame

    gray = cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY)
    result = pipeline(Frame(index=0, bgr=astronaut_bgr, gray=gray, timestamp=0.0))
    assert len(result.faces) == 1
    face = result.faces[0]
    assert_astronaut_face(face.box)
    assert face.label == "happy"
    assert face.probabilities[EMOTIONS.index("happy")] >= 0.6


def test_manifest_mirror_flag_is_true_of_the_graph(manifest, repo_root):
    """A model the manifest marks ``mirror_average`` scores a face and its mirror image alike (the graph averages
    both views), and the classifier reads that flag, so ``--mirror-average`` does not run it twice."""
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, size=(3, 48, 48), dtype=np.uint8)
    faces[:, :, :24] //= 3  # left-right asymmetric
    for e in manifest["models"]:
        clf = EmotionClassifier(ClassifierOptions(repo_root / "models" / e["file"], mirror_average=True))
        assert clf.mirrors_in_graph == bool(e.get("mirror_average")), e["file"]
        if e.get("mirror_average"):
            assert not clf.mirror_views
            np.testing.assert_allclose(clf.predict_proba(faces), clf.predict_proba(faces[:, :, ::-1]), atol=1e-5,
                                       err_msg=e["file"])


@pytest.fixture(scope="module")
def fer2013():
    """The FER2013 file named by ``$FER2013`` (CI: ``../shared/data/fer2013-dev.csv.gz``), evaluation splits only."""
    path = os.environ.get("FER2013")
    if not path:
        data_missing("FER2013 is not set: set FER2013=path/to/fer2013.csv(.gz) (the file the models were converted "
                    "with, e.g. ../shared/data/fer2013-dev.csv.gz) to re-score the shipped models")
    from core.dataset import load_fer2013

    return load_fer2013(path, require_train=False)


@pytest.fixture(scope="module")
def readme_results(repo_root: Path) -> tuple[str, dict[str, list[str]]]:
    """(split, {model file: its cells}) of the shipped-models table in the README's generated results block."""
    text = (repo_root / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- results:begin -->", 1)[1].split("<!-- results:end -->", 1)[0]
    split = re.search(r"Accuracy on \*\*(\w+)\*\*", block)
    assert split, "README results block: no 'Accuracy on **split**' line"
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0].endswith(".tflite"):
            rows[cells[0]] = cells
    return split.group(1), rows


@pytest.mark.parametrize("name", RESCORED)
def test_recorded_accuracy_is_what_the_device_classifier_scores(manifest, repo_root, fer2013, readme_results, name):
    """The accuracy the manifest and the README report for a shipped model is what the TF-free classifier scores on
    the evaluation split (the first split the converter scored: PublicTest when the file has no PrivateTest rows),
    face for face: the same count of correct faces, so equal to the printed two decimals."""
    entry = next(e for e in manifest["models"] if e["file"] == f"{name}.tflite")
    split = next(iter(entry["accuracy"]), None)
    assert split, f"{name}: the manifest records no accuracy (converted without --data)"
    recorded = entry["accuracy"][split]
    data = fer2013.splits.get(split)
    assert data is not None and len(data) == recorded["n"], (
        f"$FER2013 ({fer2013.source}) has {len(data) if data is not None else 'no'} {split} faces, the manifest "
        f"{recorded['n']}: not the data the models were converted with ({entry['conversion']['command']})")
    probs = EmotionClassifier(ClassifierOptions(repo_root / "models" / entry["file"])).predict_proba(data.x)
    correct = int((probs.argmax(axis=1) == data.y).sum())
    assert round(recorded["accuracy"] * recorded["n"]) == correct, f"{name}: manifest says {recorded['accuracy']}"
    assert recorded["accuracy"] == pytest.approx(correct / len(data), abs=1e-12)
    from core.metrics import classification_metrics  # numpy only: the device environment has it too

    measured = classification_metrics(data.y, probs)
    for key in ("macro_f1", "balanced_accuracy"):
        assert recorded[key] == pytest.approx(measured[key], abs=1e-12), f"{name}: {key}"

    table_split, rows = readme_results
    assert table_split == split, f"README reports {table_split}, the manifest's first split is {split}"
    cells = rows.get(entry["file"])
    assert cells, f"README results table has no row for {entry['file']} (run `make readme`)"
    assert cells[3].split()[0] == f"{100 * correct / len(data):.2f}", f"README accuracy of {entry['file']}: {cells[3]}"
    assert cells[5] == f"{100 * measured['macro_f1']:.2f}", f"README macro-F1 of {entry['file']}: {cells[5]}"
