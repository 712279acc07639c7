"""The camera part (``benchmarks.camera``): found/false counting on real-content frames, crop accuracy with a fake
detector, flicker and reaction from crafted label streams, targets, the report section, and ``--parts camera``.

No timing thresholds: this machine's speed says nothing about the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from bench_helpers import PHOTOS, fixture_model
from synthetic import synthetic_images

from benchmarks.__main__ import main
from benchmarks.camera import (
    TARGETS,
    Observation,
    Placement,
    check_targets,
    count_found,
    crop_accuracy,
    detect_clip,
    detect_real_frames,
    pick_pairs,
    reaction_stats,
    steady_stats,
)
from benchmarks.report import camera_section, camera_summary
from benchmarks.scenes import compose_frames, default_real_faces, load_real_photos
from device.classifier import ClassifierOptions, EmotionClassifier
from device.detector import Box
from device.framing import Framing
from device.preprocess import crop_face

# ---------------------------------------------------------------- found and false


@pytest.mark.parametrize(("detected", "expected", "found", "false"),
                         [(0, 1, 0, 0), (1, 1, 1, 0), (3, 1, 1, 2), (1, 2, 1, 0), (0, 0, 0, 0), (2, 0, 0, 2)])
def test_count_found(detected: int, expected: int, found: int, false: int) -> None:
    assert count_found(detected, expected) == (found, false)


class _ListDetector:
    """Returns the next crafted list of boxes on each call."""

    def __init__(self, answers: list[list[Box]]) -> None:
        self.answers = list(answers)

    def detect(self, gray, bgr=None) -> list[Box]:
        return self.answers.pop(0)


def test_found_and_false_on_real_frames_from_crafted_detections() -> None:
    box = Box(10, 10, 50, 50)
    frames = list(compose_frames([PHOTOS[0], PHOTOS[1]], 2, seed=0))  # expected 1, 1, 2, 2
    detectors = {
        "perfect": _ListDetector([[box], [box], [box, box], [box, box]]),
        "sloppy": _ListDetector([[], [box, box, box], [box], [box, box, box]]),
    }
    ticks = iter(range(100))
    tallies = detect_real_frames(detectors, frames, len(frames), progress=False, clock=lambda: next(ticks) / 1000,
                                 warmup=False)
    perfect, sloppy = tallies["perfect"].summary(), tallies["sloppy"].summary()
    assert perfect["expected_faces"] == 6 and perfect["found"] == 6 and perfect["false_detections"] == 0
    assert perfect["frame_found_rate"] == 1.0 and perfect["recall"] == 1.0
    assert sloppy["found"] == 0 + 1 + 1 + 2 and sloppy["false_detections"] == 2 + 1
    assert sloppy["frames_with_face"] == 4 and sloppy["frames_found"] == 3 and sloppy["frame_found_rate"] == 0.75
    assert sloppy["false_per_frame"] == 0.75
    assert perfect["ms"]["median"] == pytest.approx(1.0)  # each detect call took one tick of the fake clock
    assert sloppy["by_photo"] == {"a.jpg": {"frames": 2, "expected": 2, "found": 1, "false": 2},
                                  "b.jpg": {"frames": 2, "expected": 4, "found": 3, "false": 1}}


def test_found_and_false_on_the_clip_by_iou() -> None:
    truth = [{"faces": [{"box": [100, 100, 80, 80], "label": "happy"}]},
             {"faces": [{"box": [100, 100, 80, 80], "label": "happy"}, {"box": [300, 200, 60, 60], "label": "sad"}]},
             {"faces": []}]
    answers = [[Box(110, 105, 80, 80)],  # IoU ~0.7: found
               [Box(300, 200, 60, 60), Box(400, 0, 50, 50)],  # one found, one false; the other face missed
               [Box(0, 0, 30, 30)]]  # a false detection in an empty frame
    frames = [np.zeros((480, 640, 3), np.uint8)] * 3
    summary = detect_clip({"d": _ListDetector(answers)}, frames, truth, 3, progress=False, warmup=False)["d"].summary()
    assert (summary["expected_faces"], summary["found"], summary["false_detections"]) == (3, 2, 2)
    assert summary["recall"] == pytest.approx(2 / 3) and summary["frames"] == 3
    assert summary["ms"]["median"] is not None


# ---------------------------------------------------------------- crops vs dataset


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
    rows, crops = crop_accuracy({"fake": _ListDetector(answers)}, {"fake": (exact, plain)},
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


def test_pairs_are_right_in_their_dataset_crops_and_of_different_labels() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    predicted = np.array([0, 5, 1, 1, 2, 6, 3, 3])  # faces 1 and 5 are classified wrong
    pairs = pick_pairs(labels, predicted, 6, seed=0)
    assert pairs == pick_pairs(labels, predicted, 6, seed=0)
    assert 1 <= len(pairs) <= 3  # 6 faces right, each used once
    used = [i for pair in pairs for i in pair]
    assert len(used) == len(set(used)) and not {1, 5} & set(used)
    assert all(labels[a] != labels[b] for a, b in pairs)
    assert pick_pairs(np.array([2, 2]), np.array([2, 2]), 3, seed=0) == []  # one class only: no pair


# ---------------------------------------------------------------- flicker and reaction


def _stream(labels: list[str | None], fps: float = 10.0, raw: list[str | None] | None = None) -> list[Observation]:
    raw = raw or labels
    return [Observation(i / fps, lab, r, 0 if lab else None) for i, (lab, r) in enumerate(zip(labels, raw,
                                                                                                 strict=True))]


def test_steady_counts_label_changes_per_minute() -> None:
    labels = ["happy"] * 290 + ["fear"] * 5 + ["happy"] * 305  # 60 s at 10 FPS: two changes
    raw = ["happy", "fear"] * 300  # unsmoothed: 599 changes
    stats = steady_stats(_stream(labels, raw=raw))
    assert stats["changes"] == 2 and stats["changes_per_minute"] == pytest.approx(2.0)
    assert stats["label"] == "happy" and stats["raw_changes_per_minute"] == pytest.approx(599.0)
    assert stats["frames"] == stats["frames_with_face"] == 600
    assert steady_stats(_stream([None, None]))["changes_per_minute"] is None


def test_reaction_is_measured_from_the_switch() -> None:
    # 10 FPS, switch at 1.0 s; no face in the first two frames after it; the label follows at 1.4 s
    labels = ["sad"] * 10 + [None, None] + ["sad", "sad"] + ["happy"] * 6
    raw = ["sad"] * 10 + [None, None] + ["happy"] * 8
    result = reaction_stats(_stream(labels, raw=raw), 1.0, "sad", "happy")
    assert result["measured"] and result["classifier_agrees"]
    assert result["reaction_s"] == pytest.approx(0.4) and result["flicker"] == 0
    never = reaction_stats(_stream(["sad"] * 20), 1.0, "sad", "happy")
    assert never["measured"] and never["reaction_s"] is None and never["classifier_agrees"] is False
    assert reaction_stats(_stream(["sad"] * 10 + [None] * 10), 1.0, "sad", "happy")["measured"] is False


# ---------------------------------------------------------------- targets and the report


def _row(name: str, ms: float, rate: float, cal: float, flicker: float, reaction: float | None,
         fps: float | None) -> dict:
    return {
        "detector": name, "framing": "calibrated: side 1.14x the box",
        "real": {"frames": 10, "ms": {"median": ms, "p95": ms * 2, "mean": ms}, "expected_faces": 11, "found": 10,
                 "false_detections": 1, "frame_found_rate": rate, "recall": 10 / 11, "false_per_frame": 0.1,
                 "by_photo": {"img1.jpg": {"frames": 5, "expected": 5, "found": 5, "false": 0},
                              "img3.jpg": {"frames": 5, "expected": 6, "found": 5, "false": 1}}},
        "clip": {"frames": 5, "ms": {"median": ms, "p95": ms, "mean": ms}, "recall": 0.5, "false_per_frame": 0.2},
        "crops": {"found_rate": 0.6, "acc_dataset": 0.70, "acc_calibrated": cal, "acc_plain": 0.65,
                  "acc_placed_box": 0.68, "shortfall_ci_pp": [100 * (0.70 - cal) - 0.9, 100 * (0.70 - cal) + 0.9]},
        "steady": {"changes_per_minute": flicker, "raw_changes_per_minute": 40.0},
        "change": {"pairs": 3, "classifier_agrees": 2, "followed": 2 if reaction else 0, "mean_reaction_s": reaction,
                   "median_reaction_s": reaction and 0.3},
        "pipeline": {"fps": fps, "frame_ms": {"median": 6.0}, "stages_ms": {"classify": {"median": 0.6}}}
        if fps else {"error": "worker exited with code 1 and no result"},
    }


CRAFTED_ROWS = [_row("blazeface", 2.5, 1.0, 0.695, 4.0, 0.35, 150.0),
                _row("blazeface-full", 4.5, 0.98, 0.68, 12.0, 0.6, 100.0),
                _row("haar", 30.0, 0.995, 0.70, 2.0, None, None)]


def test_targets_are_computed_per_detector() -> None:
    rows = [dict(r) for r in CRAFTED_ROWS]
    rows[0]["pipeline"] = {**rows[0]["pipeline"], "vs_haar": 3.5}
    rows[1]["pipeline"] = {**rows[1]["pipeline"], "vs_haar": 2.0}
    met = {(t["key"], t["detector"]): t["met"] for t in check_targets(rows)}
    assert ("detect_ms", "haar") not in met and ("fps", "haar") not in met  # BlazeFace's targets only
    assert met["detect_ms", "blazeface"] is True and met["detect_ms", "blazeface-full"] is False
    assert met["frames_found", "blazeface"] and met["frames_found", "haar"]
    assert not met["frames_found", "blazeface-full"]
    assert met["calibrated_pp", "blazeface"] is True  # 0.5 pp below dataset crops: within 1 pp
    assert met["calibrated_pp", "blazeface-full"] is False  # 2 pp below
    assert met["flicker", "blazeface"] and not met["flicker", "blazeface-full"]
    assert met["reaction", "blazeface"] and not met["reaction", "blazeface-full"] and met["reaction", "haar"] is None
    assert met["fps", "blazeface"] and not met["fps", "blazeface-full"]
    assert met["vs_haar", "blazeface"] and not met["vs_haar", "blazeface-full"]
    assert len({t.key for t in TARGETS}) == len(TARGETS)


def test_the_report_section_renders_from_a_crafted_results_dict() -> None:
    camera = {
        "skipped": None, "detectors": ["blazeface", "blazeface-full", "haar"],
        "model": {"file": "unweighted_int8.tflite", "variant": "unweighted", "format": "int8",
                  "mirror_in_graph": True},
        "settings": {"frames_per_photo": 30, "steady_photos": 3, "steady_seconds": 30.0, "change_seconds": 2.0,
                     "fps": 30.0, "frame_size": [640, 480]},
        "real_faces": {"folder": "/data/real-faces", "photos": 16, "faces": 17, "one_face_photos": 15},
        "rows": CRAFTED_ROWS, "targets": check_targets(CRAFTED_ROWS), "notes": ["a note"],
        "views": {"model": {"file": "unweighted_int8.tflite"}, "views": 2, "blazeface_frame_ms": 6.0,
                  "classify_ms": 0.6, "classify_share": 0.1, "latency_us": 400.0, "latency_share": 0.4 / 6,
                  "keras": {"measured": False, "reason": "no Keras checkpoint"}},
    }
    text = "\n".join(camera_section({"camera": camera}))
    assert text.startswith("## Camera path") and "### Targets" in text and "### Views that earn their cost" in text
    assert "| blazeface | 2.50 / 5.00 | 2.50 / 2.50 | 100.0 | 10 / 11 | 1 | 50.0 | 0.200 | 60.0 | 70.0 | 69.5 | " \
           "65.0 | 68.0 | 4.0 (40.0) | 0.35 / 0.30 (2/2/3) | 150.0 | – |" in text
    assert "False detections on real-content frames, by photo: blazeface: img3.jpg 1; " in text
    assert "(paired, normal approximation): blazeface +0.50 [-0.40, +1.40]; blazeface-full +2.00 " in text
    assert "| haar |" in text and "| failed | – |" in text
    assert "| BlazeFace detection, median ms per 640x480 real-content frame | blazeface | <= 3 ms | 2.50 ms | " \
           "**yes** |" in text
    assert "| blazeface-full | <= 3 ms | 4.50 ms | no |" in text
    assert "| haar | <= 0.5 s | – | not measured |" in text
    assert "takes 0.60 ms of the BlazeFace pipeline's 6.00 ms median frame (10.0%, one face per frame)" in text
    assert "not measured (no Keras checkpoint)" in text and "- a note" in text
    assert "haar pipeline: worker exited with code 1" in text
    (line,) = camera_summary(camera)
    assert line.startswith("**Camera path**: targets met blazeface ") and "blazeface 150 FPS" in line
    assert camera_section({"camera": {"skipped": "not asked for", "rows": []}})[2] == "Skipped: not asked for."


# ---------------------------------------------------------------- the CLI


def _run_camera(bench_models: Path, synthetic_data: Path, out: Path, *extra: str) -> tuple[int, dict, str]:
    rc = main(["run", "--models", str(bench_models), "--data", str(synthetic_data), "--quick", "--out", str(out),
               "--parts", "camera", "--no-plots", "--no-progress", *extra])
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else {}
    report = (out / "report.md").read_text() if (out / "report.md").is_file() else ""
    return rc, results, report


def test_parts_camera_without_real_photos_skips_them_with_a_note(bench_models: Path, synthetic_data: Path,
                                                                   tmp_path: Path) -> None:
    rc, results, report = _run_camera(bench_models, synthetic_data, tmp_path / "r", "--real-faces",
                                      str(tmp_path / "absent"), "--detectors", "blazeface", "haar")
    assert rc == 0
    cam = results["camera"]
    assert cam["skipped"] is None and cam["detectors"] == ["blazeface", "haar"]
    assert results["pipeline"]["skipped"].startswith("not asked for") and results["accuracy"]["skipped"]
    assert any("real photos not found" in n and "skipped" in n for n in cam["notes"])
    for row in cam["rows"]:
        assert "real" not in row and "pipeline" not in row and "steady" not in row
        assert row["crops"]["placed"] == 40 and 0 <= row["crops"]["found"] <= 40
        assert row["clip"]["frames"] > 0 and row["clip"]["ms"]["median"] > 0 and row["clip"]["ground_truth"]
    assert {t["met"] for t in cam["targets"] if t["key"] in ("detect_ms", "fps", "flicker")} == {None}
    assert "_crops" not in cam and cam["views"]["keras"]["measured"] is False
    assert "## Camera path" in report and "real photos not found" in report and "not measured" in report


def test_yunet_without_a_model_is_bad_input(bench_models: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    rc = main(["run", "--models", str(bench_models), "--parts", "camera", "--detectors", "yunet", "--quick",
               "--no-progress", "--out", str(tmp_path / "r")])
    assert rc == 2 and "--detector-model" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_parts_camera_with_the_real_photos(bench_models: Path, synthetic_data: Path, tmp_path: Path) -> None:
    photos, why = load_real_photos(default_real_faces())
    if why:
        pytest.skip(why)
    rc, results, report = _run_camera(bench_models, synthetic_data, tmp_path / "r", "--detectors", "blazeface",
                                      "haar")
    assert rc == 0
    cam = results["camera"]
    assert cam["real_faces"]["photos"] == len(photos) and not any("real photos" in n for n in cam["notes"])
    rows = {r["detector"]: r for r in cam["rows"]}
    for row in rows.values():
        real = row["real"]
        assert real["frames"] == len(photos) * 4 and real["expected_faces"] == 4 * sum(p.faces for p in photos)
        assert real["ms"]["median"] > 0 and real["ms"]["p95"] >= real["ms"]["median"]
        assert 0 <= real["frame_found_rate"] <= 1
        first = next(p.name for p in photos if p.faces == 1)
        assert row["steady"]["frames"] == 4 * 30 and row["steady"]["photos"] == [first]
        assert "error" not in row["pipeline"], row["pipeline"]
        assert row["pipeline"]["frames"] == 4 * sum(p.faces == 1 for p in photos) and row["pipeline"]["fps"] > 0
    assert rows["blazeface"]["real"]["frame_found_rate"] >= 0.9  # BlazeFace finds the real faces
    assert rows["haar"]["pipeline"]["vs_haar"] == pytest.approx(1.0)
    assert rows["blazeface"]["pipeline"]["vs_haar"] > 0
    keys = {(t["key"], t["detector"]) for t in cam["targets"]}
    assert ("detect_ms", "blazeface") in keys and ("vs_haar", "blazeface") in keys and ("fps", "haar") not in keys
    assert "| blazeface |" in report and "### Targets" in report
