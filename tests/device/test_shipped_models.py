"""The committed models: manifest matches the files, every model honours the contract, golden photo is 'happy'."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from device.classifier import ClassifierOptions, EmotionClassifier
from device.detector import HaarDetector, HaarOptions
from device.labels import EMOTIONS
from device.pipeline import EmotionPipeline

REQUIRED = ("unweighted_int8", "weighted_int8", "unweighted_float32", "weighted_float32")


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
        for key in ("command", "host", "epochs", "train_wall_s"):
            assert e["training"].get(key), f"{path}: training.{key} missing from the manifest"
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
