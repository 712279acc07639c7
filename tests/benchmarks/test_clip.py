"""The labelled clip: video + ground truth, deterministic, some frames with several faces or none."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from benchmarks.__main__ import main
from benchmarks.clip import ClipOptions, parse_size, plan_segments, render_clip
from benchmarks.data import load_eval_faces
from core.labels import EMOTIONS


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_data: Path) -> Path:
    out = tmp_path_factory.mktemp("clip") / "clip"
    rc = main(["clip", "--data", str(synthetic_data), "--out", str(out), "--faces", "10", "--frames-per-face", "2",
               "--size", "320x240", "--no-progress"])
    assert rc == 0
    return out


def test_writes_video_and_ground_truth(clip_dir: Path) -> None:
    doc = json.loads((clip_dir / "clip.json").read_text())
    video = clip_dir / doc["video"]
    assert video.is_file() and video.suffix in (".mp4", ".avi")
    assert not list(clip_dir.glob(".*")), "partial files left behind"
    capture = cv2.VideoCapture(str(video))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    assert count == doc["frame_count"] == len(doc["frames"])
    assert doc["faces_placed"] == sum(len(f["faces"]) for f in doc["frames"]) >= 10
    assert doc["split"] == "test"
    assert doc["haar_check"]["faces"] == doc["faces_placed"] and 0 <= doc["haar_check"]["recall"] <= 1


def test_ground_truth_boxes_and_labels(clip_dir: Path) -> None:
    doc = json.loads((clip_dir / "clip.json").read_text())
    width, height = doc["width"], doc["height"]
    assert (width, height) == (320, 240)
    counts = [len(f["faces"]) for f in doc["frames"]]
    assert 0 in counts and max(counts) >= 2, counts
    assert {f["background"] for f in doc["frames"]} >= {"plain", "noise", "gradient", "checker"}
    for frame in doc["frames"]:
        for face in frame["faces"]:
            x, y, w, h = face["box"]
            assert w == h > 0 and x >= 0 and y >= 0 and x + w <= width and y + h <= height
            assert face["label"] in EMOTIONS and EMOTIONS.index(face["label"]) == face["label_index"]


def test_same_seed_same_clip(synthetic_data: Path) -> None:
    faces = load_eval_faces(synthetic_data)
    options = ClipOptions(synthetic_data, Path("unused"), faces=8, frames_per_face=2, size=(320, 240))
    frames_a, truth_a = render_clip(faces, options)
    frames_b, truth_b = render_clip(faces, options)
    assert truth_a == truth_b and all((a == b).all() for a, b in zip(frames_a, frames_b, strict=True))
    _, truth_c = render_clip(faces, ClipOptions(synthetic_data, Path("unused"), faces=8, frames_per_face=2,
                                                size=(320, 240), seed=1))
    assert truth_c != truth_a


def test_segments_have_multi_face_and_empty_frames() -> None:
    import numpy as np

    counts = plan_segments(60, np.random.default_rng(0))
    assert sum(counts) == 60 and 0 in counts and max(counts) >= 2


def test_parse_size() -> None:
    assert parse_size("640x480") == (640, 480)
    for bad in ("640", "axb", "10x10"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_clip_bad_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,fer,file\n1,2,3,4\n")
    assert main(["clip", "--data", str(bad), "--out", str(tmp_path / "c"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
