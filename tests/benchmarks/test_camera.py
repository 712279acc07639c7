"""The camera part (``benchmarks.camera``): found/false counting on real-content frames and on the clip, targets,
the report section, and ``--parts camera`` (crop accuracy: test_crops.py; flicker and reaction: test_steadiness.py).

No timing thresholds: this machine's speed says nothing about the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bench_helpers import PHOTOS, ListDetector
from needs import data_missing

from benchmarks.__main__ import main
from benchmarks.camera import (
    TARGETS,
    check_targets,
    count_found,
    detect_clip,
    detect_real_frames,
)
from benchmarks.report import camera_section, camera_summary
from benchmarks.scenes import compose_frames, default_real_faces, load_real_photos
from device.detector import Box

# ---------------------------------------------------------------- found and false


@pytest.mark.parametrize(("detected", "expected", "found", "false"),
                         [(0, 1, 0, 0), (1, 1, 1, 0), (3, 1, 1, 2), (1, 2, 1, 0), (0, 0, 0, 0), (2, 0, 0, 2)])
def test_count_found(detected: int, expected: int, found: int, false: int) -> None:
    assert count_found(detected, expected) == (found, false)


def test_found_and_false_on_real_frames_from_crafted_detections() -> None:
    box = Box(10, 10, 50, 50)
    frames = list(compose_frames([PHOTOS[0], PHOTOS[1]], 2, seed=0))  # expected 1, 1, 2, 2
    detectors = {
        "perfect": ListDetector([[box], [box], [box, box], [box, box]]),
        "sloppy": ListDetector([[], [box, box, box], [box], [box, box, box]]),
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
    summary = detect_clip({"d": ListDetector(answers)}, frames, truth, 3, progress=False, warmup=False)["d"].summary()
    assert (summary["expected_faces"], summary["found"], summary["false_detections"]) == (3, 2, 2)
    assert summary["recall"] == pytest.approx(2 / 3) and summary["frames"] == 3
    assert summary["ms"]["median"] is not None


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
                   "median_reaction_s": reaction and 0.3, "median_all_s": reaction,
                   "within_target": 2 if reaction and reaction <= 0.5 else 0},
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
           "65.0 | 68.0 | 4.0 (40.0) | 0.35 / 0.35 (2/2/2/3) | 150.0 | – |" in text
    assert "False detections on real-content frames, by photo: blazeface: img3.jpg 1; " in text
    assert "(paired, normal approximation): blazeface +0.50 [-0.40, +1.40]; blazeface-full +2.00 " in text
    assert "by its keypoints" not in text  # no row scored a keypoint framing
    keyed = [dict(r) for r in CRAFTED_ROWS]
    keyed[0] = {**keyed[0], "crops": {**keyed[0]["crops"], "acc_calibrated_median": 0.69,
                                      "keypoints_minus_median_pp": 0.5, "keypoints_minus_median_ci_pp": [-0.25, 1.25]}}
    text = "\n".join(camera_section({"camera": {**camera, "rows": keyed}}))
    assert "the median transform alone, with the paired 95% interval of the difference: blazeface 69.5 against " \
           "69.0 (+0.50 pp [-0.25, +1.25])." in text
    assert "own emotion's median transform" not in text  # no row cut by the emotions' transforms
    oracle = [dict(r) for r in CRAFTED_ROWS]
    oracle[0] = {**oracle[0], "crops": {**oracle[0]["crops"], "acc_emotion_framed": 0.7025,
                                        "emotion_minus_calibrated_pp": 0.75,
                                        "emotion_minus_calibrated_ci_pp": [-0.5, 2.0]}}
    text = "\n".join(camera_section({"camera": {**camera, "rows": oracle}}))
    assert "own emotion's median transform" in text and ": blazeface 70.2 against 69.5 (+0.75 pp [-0.50, +2.00])." \
        in text
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
                                      str(tmp_path / "absent"), "--detectors", "blazeface", "haar",
                                      "--crop-placements", "2")
    assert rc == 0
    cam = results["camera"]
    assert cam["settings"]["crop_placements"] == 2 and "Each face on 2 canvases" in report
    assert cam["skipped"] is None and cam["detectors"] == ["blazeface", "haar"]
    assert results["pipeline"]["skipped"].startswith("not asked for") and results["accuracy"]["skipped"]
    assert any("real photos not found" in n and "skipped" in n for n in cam["notes"])
    for row in cam["rows"]:
        assert "real" not in row and "pipeline" not in row and "steady" not in row
        assert row["crops"]["placed"] == 80 and 0 <= row["crops"]["found"] <= 80  # 40 faces, 2 canvases each
        assert row["crops"]["faces_found"] <= 40
        if row["crops"]["found"]:  # both shipped calibrations have each emotion's transform
            assert 0 <= row["crops"]["acc_emotion_framed"] <= 1 and "emotion_minus_calibrated_pp" in row["crops"]
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
        data_missing(why)
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
