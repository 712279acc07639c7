"""Benchmark fixtures: a models folder of fixture-model copies under the 8 names, synthetic data, a face clip.

Cost control (2-core machine): the quick benchmark with every part runs once per session (``quick_run``), and
the structure tests read its output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from needs import data_missing

if str(Path(__file__).resolve().parent) not in sys.path:  # for ``import bench_helpers`` (--import-mode=importlib)
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_helpers import ASTRONAUT_BOX, QuickRun, make_models_dir  # noqa: E402
from synthetic import write_fer_csv  # noqa: E402


@pytest.fixture(scope="session")
def bench_models(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Path:
    return make_models_dir(tmp_path_factory.mktemp("bench") / "models", fixtures_dir)


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fer_csv(tmp_path_factory.mktemp("data") / "fer.csv", {"train": 2, "val": 3, "test": 6})


@pytest.fixture(scope="session")
def astronaut_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-frame MJPG clip of the astronaut (one frontal face) with a clip.json labelling her 'happy'."""
    skimage_data = pytest.importorskip("skimage.data")
    bgr = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    folder = tmp_path_factory.mktemp("astronaut")
    path = folder / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (512, 512))
    assert writer.isOpened()
    frames = []
    for i in range(6):
        writer.write(np.roll(bgr, 2 * i, axis=1))
        x, y, w, h = ASTRONAUT_BOX
        frames.append({"index": i, "segment": 0, "faces": [{"box": [x + 2 * i, y, w, h], "label": "happy"}]})
    writer.release()
    (folder / "clip.json").write_text(json.dumps({"video": "clip.avi", "frames": frames}))
    return path


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory, bench_models: Path, synthetic_data: Path) -> QuickRun:
    """One quick run with data and a clip generated from it: every part of the report."""
    from benchmarks.__main__ import main

    out = tmp_path_factory.mktemp("quick") / "report"
    rc = main(["run", "--models", str(bench_models), "--data", str(synthetic_data), "--quick", "--out", str(out),
               "--threads-max", "2", "--no-progress"])
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else {}
    report = (out / "report.md").read_text() if (out / "report.md").is_file() else ""
    return QuickRun(rc, out, results, report)


@pytest.fixture(scope="session")
def real_framed_faces() -> np.ndarray:
    """The shared real photos' faces, cut as the device cuts them: BlazeFace's box with the shipped framing."""
    from benchmarks.scenes import default_real_faces, load_real_photos
    from device.detector import make_detector
    from device.framing import calibrated_framing
    from device.preprocess import crop_face, to_gray

    photos, why = load_real_photos(default_real_faces())
    if why:
        data_missing(why)
    detector, framing = make_detector("blazeface"), calibrated_framing("blazeface")
    faces = []
    for photo in photos:
        gray = to_gray(photo.bgr)
        faces += [crop_face(gray, box, framing) for box in detector.detect(gray, photo.bgr)[: photo.faces]]
    return np.stack(faces)


@pytest.fixture(scope="session")
def real_faces_folder(real_framed_faces: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Those faces as a Training split in the Kaggle folder layout (train/<class>/*.png), three classes in turn."""
    data = tmp_path_factory.mktemp("real") / "faces"
    for i, face in enumerate(real_framed_faces):
        folder = data / "train" / ("angry", "happy", "neutral")[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), face)
    return data
