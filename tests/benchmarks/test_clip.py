"""The labelled clip: video + ground truth, deterministic, some frames with several faces or none."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from needs import data_missing

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


# ---------------------------------------------------------------- --style photos: faces where real photos' faces were

PHOTO_NAMES = ("couple.jpg", "img1.jpg", "img12.jpg")  # two faces; a plate below the face; a plate beside it


@pytest.fixture(scope="module")
def few_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-faces folder with three of the shared photos (skipped when the shared photos are absent)."""
    import shutil

    from benchmarks.clip import default_real_faces

    source = default_real_faces()
    index = source / "faces.json"
    if not index.is_file():
        data_missing(f"real photos not found ({index} missing)")
    counts = json.loads(index.read_text())
    if not all(name in counts and (source / name).is_file() for name in PHOTO_NAMES):
        data_missing(f"real photos: {source} lacks one of {PHOTO_NAMES}")
    folder = tmp_path_factory.mktemp("real-faces")
    for name in PHOTO_NAMES:
        shutil.copyfile(source / name, folder / name)
    (folder / "faces.json").write_text(json.dumps({name: counts[name] for name in PHOTO_NAMES}))
    return folder


@pytest.fixture(scope="module")
def photo_clip(few_photos: Path, synthetic_data: Path) -> tuple:
    from benchmarks.clip import real_photo_faces, render_photo_clip

    faces = load_eval_faces(synthetic_data)
    photos, notes = real_photo_faces(few_photos)
    options = ClipOptions(synthetic_data, Path("unused"), faces=14, frames_per_face=2, style="photos",
                          real_faces=few_photos)
    frames, truth = render_photo_clip(faces, photos, options)
    return faces, photos, notes, options, frames, truth


def test_photos_style_finds_every_photo_face(photo_clip: tuple) -> None:
    _, photos, notes, _, _, _ = photo_clip
    assert notes == [] and [p.name for p in photos] == list(PHOTO_NAMES)
    squares = {p.name: p.squares for p in photos}
    assert len(squares["couple.jpg"]) == 2 and len(squares["img1.jpg"]) == len(squares["img12.jpg"]) == 1
    plates = {p.name: p.plate for p in photos}
    assert plates["couple.jpg"] is None and plates["img12.jpg"] is not None  # the couple fills its photo
    for photo in photos:
        height, width = photo.bgr.shape[:2]
        for x, y, side in photo.squares:
            assert 0 <= x and 0 <= y and x + side <= width and y + side <= height and side > 100


def test_photos_style_is_deterministic(photo_clip: tuple, few_photos: Path) -> None:
    from dataclasses import replace

    from benchmarks.clip import render_clip

    faces, _, _, options, frames, truth = photo_clip
    again, truth_again = render_clip(faces, options)  # loads and detects the photos again
    assert truth_again == truth and all((a == b).all() for a, b in zip(again, frames, strict=True))
    _, other = render_clip(faces, replace(options, seed=1))
    assert other != truth


def test_photos_ground_truth_is_where_the_face_was_blended(photo_clip: tuple) -> None:
    """Over the box the frame's luminance is the evaluation face scaled to it (a linear brightness and contrast match
    apart); a quarter side off, it is not."""
    import numpy as np

    from core.labels import INPUT_SIZE

    faces, _, _, options, frames, truth = photo_clip
    width, height = options.size
    checked = 0
    for frame, entry in zip(frames, truth, strict=True):
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float64)
        for face in entry["faces"]:
            x, y, w, h = face["box"]
            assert w == h and 80 <= w <= 270 and x >= 0 and y >= 0 and x + w <= width and y + h <= height
            scaled = cv2.resize(faces.x[face["face"]].reshape(INPUT_SIZE, INPUT_SIZE), (w, w),
                                interpolation=cv2.INTER_CUBIC).astype(np.float64)
            here = np.corrcoef(gray[y : y + h, x : x + w].ravel(), scaled.ravel())[0, 1]
            shift = w // 4 if x + w + w // 4 <= width else -(w // 4)
            off = np.corrcoef(gray[y : y + h, x + shift : x + shift + w].ravel(), scaled.ravel())[0, 1]
            assert here > 0.97 and abs(off) < 0.5, (entry["index"], here, off)
            checked += 1
    assert checked == sum(len(e["faces"]) for e in truth) > 0


def test_photos_faces_apart_labels_balanced_some_empty(photo_clip: tuple) -> None:
    from collections import Counter

    from device.detector import Box

    faces, _, _, options, _, truth = photo_clip
    per_face: dict[int, str] = {}
    for entry in truth:
        boxes = [Box(*f["box"]) for f in entry["faces"]]
        assert all(a.iou(b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1 :]), entry
        if entry["photo"] == "couple.jpg":
            assert len(boxes) == 2
        for face in entry["faces"]:
            assert face["label"] in EMOTIONS and EMOTIONS.index(face["label"]) == face["label_index"]
            assert int(faces.y[face["face"]]) == face["label_index"]
            per_face[(entry["segment"], face["photo_face"])] = face["label"]
    counts = Counter(per_face.values())
    assert options.faces <= len(per_face) <= options.faces + 1  # a two-face photo may take one more
    assert set(counts) == set(EMOTIONS) and max(counts.values()) - min(counts.values()) <= 1, counts
    assert any(not e["faces"] for e in truth) and {e["photo"] for e in truth if e["faces"]} == set(PHOTO_NAMES)
    assert all(e["background"] == ("photo" if e["faces"] else "photo-plate") for e in truth)


def test_photos_cli(few_photos: Path, synthetic_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "photos"
    rc = main(["clip", "--style", "photos", "--real-faces", str(few_photos), "--data", str(synthetic_data),
               "--out", str(out), "--faces", "4", "--frames-per-face", "2", "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "the Haar detector finds" in printed and "the BlazeFace detector finds" in printed
    doc = json.loads((out / "clip.json").read_text())
    assert doc["style"] == "photos" and doc["settings"]["style"] == "photos"
    assert set(doc["photos"]) <= set(PHOTO_NAMES) and doc["real_faces"] == str(few_photos)
    assert doc["blazeface_check"]["faces"] == doc["haar_check"]["faces"] == doc["faces_placed"] >= 4
    assert "FER2013-style square" in doc["box"]


def test_pasted_is_the_default_style(clip_dir: Path) -> None:
    doc = json.loads((clip_dir / "clip.json").read_text())
    assert doc["style"] == "pasted" and doc["settings"]["style"] == "pasted" and "blazeface_check" not in doc


def test_photos_without_real_faces_is_a_clear_error(synthetic_data: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    from benchmarks.clip import real_photo_faces
    from benchmarks.errors import BenchError

    missing = tmp_path / "no-real-faces"
    with pytest.raises(BenchError, match="faces.json"):
        real_photo_faces(missing)
    rc = main(["clip", "--style", "photos", "--real-faces", str(missing), "--data", str(synthetic_data),
               "--out", str(tmp_path / "c"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "--real-faces" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()
    rc = main(["clip", "--real-faces", str(missing), "--data", str(synthetic_data), "--out", str(tmp_path / "c"),
               "--no-progress"])
    assert rc == 2 and "--style photos" in capsys.readouterr().err
