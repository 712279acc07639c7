"""Label accuracy on detector crops (``benchmarks.crops``): a fake detector's boxes on canvases of known faces, the
dataset, calibrated, plain and placed-box crops scored and compared; the device's crops of training faces
(``training_crops`` and the ``device-crops`` command) with a scripted detector and with BlazeFace on real faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from bench_helpers import ListDetector, fixture_model, record_placements
from synthetic import synthetic_images

import benchmarks.crops as crops_module
from benchmarks.crops import EXACT, Placement, crop_accuracy, training_crops
from device.classifier import ClassifierOptions, EmotionClassifier
from device.detector import Box
from device.framing import Framing
from device.preprocess import crop_face


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
    rows, crops = crop_accuracy({"fake": ListDetector(answers)}, {"fake": (exact, plain)},
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
    indices, images, _ = crops["fake"]
    assert indices == [0, 1, 3] and np.array_equal(images, x[[0, 1, 3]])
    assert row["shortfall_ci_pp"] == [0.0, 0.0]  # the same right and wrong faces: no difference, no spread


class _Scripted:
    """Answers each canvas from a script: "hit" (the placed face's box), "hit+false" (and a box elsewhere), "miss"
    (nothing) or "off" (a box nowhere near the face)."""

    def __init__(self, truths: list[Box], script: list[str]) -> None:
        self.truths, self.script = truths, list(script)

    def detect(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list[Box]:
        answer, truth = self.script.pop(0), self.truths[-1]
        return {"hit": [truth], "hit+false": [Box(0, 0, 30, 30), truth], "miss": [],
                "off": [Box(600, 440, 30, 30)]}[answer]


@pytest.fixture
def placed_truths(monkeypatch: pytest.MonkeyPatch) -> list[Box]:
    """The boxes of the faces ``training_crops`` places, in order."""
    return record_placements(monkeypatch, crops_module)


def test_training_crops_cut_each_face_from_its_first_canvas_found(placed_truths: list[Box]) -> None:
    x, _ = synthetic_images(1, seed=3)
    faces = x[:4]
    # face 0: missed, then found; face 1: found beside a false box; face 2: off, then missed; face 3: found
    script = ["miss", "hit", "hit+false", "off", "miss", "hit"]
    result = training_crops(_Scripted(placed_truths, script), EXACT, faces, repeats=2, seed=0, progress=False)
    assert result.found.tolist() == [True, True, False, True]
    assert (result.placements, result.false_detections) == (6, 2) and len(placed_truths) == 6
    assert not result.crops[2].any() and result.crops.dtype == np.uint8 and result.crops.shape == (4, 48, 48)
    for i in (0, 1, 3):  # the exact box cut back to 48x48: the face, up to the canvas' resampling
        diff = np.abs(result.crops[i].astype(int) - faces[i].reshape(48, 48).astype(int))
        assert diff.mean() < 6, f"face {i}: mean abs difference {diff.mean():.1f}"
    other = np.abs(result.crops[0].astype(int) - faces[1].reshape(48, 48).astype(int)).mean()
    assert other > 15  # and not any face: the right one


def test_training_crops_with_one_canvas_a_face_and_the_same_seed_the_same_crops(placed_truths: list[Box]) -> None:
    x, _ = synthetic_images(1, seed=3)
    once = training_crops(_Scripted(placed_truths, ["miss", "hit", "hit"]), EXACT, x[:3], repeats=1, progress=False)
    assert once.found.tolist() == [False, True, True] and once.placements == 3
    again = training_crops(_Scripted(placed_truths, ["miss", "hit", "hit"]), EXACT, x[:3], repeats=1, progress=False)
    assert np.array_equal(once.crops, again.crops)
    with pytest.raises(ValueError, match="repeats"):
        training_crops(_Scripted(placed_truths, []), EXACT, x[:3], repeats=0, progress=False)


def test_blazeface_training_crops_frame_real_faces_as_the_dataset_does(real_framed_faces: np.ndarray) -> None:
    """Real faces framed like FER2013, placed, found by BlazeFace and cut with its shipped framing: close to the
    originals (a resampled, re-detected copy), and closer than a plain square crop of the box."""
    from device.detector import make_detector
    from device.framing import calibrated_framing

    faces = real_framed_faces
    calibrated = training_crops(make_detector("blazeface"), calibrated_framing("blazeface"), faces, repeats=3,
                                seed=1, progress=False)
    assert calibrated.found.mean() >= 0.8 and calibrated.false_detections <= 2
    plain = training_crops(make_detector("blazeface"), Framing.from_margin(0.02), faces, repeats=3, seed=1,
                           progress=False)
    assert np.array_equal(plain.found, calibrated.found)  # same seed, same canvases, same detections

    def error(result) -> float:
        kept = result.found
        return float(np.abs(result.crops[kept].astype(float) - faces.reshape(-1, 48, 48)[kept]).mean())

    assert error(calibrated) < 20 and error(calibrated) < 0.7 * error(plain)


def test_the_command_writes_crops_training_reads_back(real_faces_folder: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    from benchmarks.__main__ import main
    from core.devicecrops import DeviceCropsError, device_crops_path, read_device_crops
    from device.datasets import load_fer2013

    data = real_faces_folder
    runs = tmp_path / "runs"
    rc = main(["device-crops", "--data", str(data), "--runs", str(runs), "--repeats", "3", "--no-progress"])
    assert rc == 0
    out = device_crops_path(runs, "blazeface")
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "Training faces found" in printed
    train = load_fer2013(data, require_val=False).splits["train"]
    crops = read_device_crops(out, train.x)
    assert crops.found.sum() >= 0.8 * len(train.x) and crops.record["detector"] == "blazeface"
    assert crops.record["repeats"] == 3 and "--repeats 3" in crops.record["command"]
    assert crops.record["framing"] and crops.record["faces"] == len(train.x)
    with pytest.raises(DeviceCropsError, match="other training images"):
        read_device_crops(out, 255 - train.x)
    rc = main(["device-crops", "--data", str(data), "--out", str(tmp_path / "crops.txt"), "--no-progress"])
    assert rc == 2 and "expected an .npz file" in capsys.readouterr().err


def test_placements_put_each_face_on_several_canvases_and_one_a_face_draws_as_before() -> None:
    faces = synthetic_images(1, seed=3)[0].reshape(-1, 48, 48)[:5]
    count, once = crops_module.placements(faces, 3, seed=11)
    once = list(once)
    assert count == 3 and len(once) == 3 and [p.face for p in once] == sorted(p.face for p in once)
    # the stream of one placement a face, as every report before crop placements drew it
    rng = np.random.default_rng(11)
    chosen = np.sort(rng.choice(5, 3, replace=False))
    kinds = crops_module.BACKGROUNDS
    for i, (p, index) in enumerate(zip(once, chosen, strict=True)):
        canvas, truth = crops_module.place(faces[index], rng, kinds[i % len(kinds)])
        assert p.face == index and p.truth == truth and np.array_equal(p.canvas, canvas)
    count, thrice = crops_module.placements(faces, 3, seed=11, repeats=3)
    thrice = list(thrice)
    assert count == 9 and [p.face for p in thrice] == [f for f in chosen for _ in range(3)]
    assert len({(p.truth.x, p.truth.y, p.truth.w) for p in thrice[:3]}) == 3  # other sizes and positions
    with pytest.raises(crops_module.BenchError, match="crop placements 0"):
        crops_module.placements(faces, 3, seed=11, repeats=0)


def test_shortfall_interval_takes_each_face_as_one_unit() -> None:
    from benchmarks.stats import paired_interval_pp

    rng = np.random.default_rng(2)
    dataset = rng.random(40) < 0.7
    crop = np.where(rng.random(40) < 0.8, dataset, ~dataset)
    # one placement a face: the plain paired interval
    assert crops_module.shortfall_interval_pp(list(range(40)), dataset, crop) == pytest.approx(
        paired_interval_pp(dataset, crop))
    # every face placed three times with the same outcome: the same mean, and no narrower an interval than one
    # placement a face gives (three copies of one face are not three faces)
    found = [f for f in range(40) for _ in range(3)]
    tripled = crops_module.shortfall_interval_pp(found, np.repeat(dataset, 3), np.repeat(crop, 3))
    single = paired_interval_pp(dataset, crop)
    assert np.mean(tripled) == pytest.approx(np.mean(single))
    assert tripled[1] - tripled[0] == pytest.approx(single[1] - single[0])
    naive = paired_interval_pp(np.repeat(dataset, 3), np.repeat(crop, 3))
    assert naive[1] - naive[0] < 0.6 * (single[1] - single[0])  # what counting placements as faces would claim
    assert crops_module.shortfall_interval_pp([], [], []) is None


def _faces_in_a_row(fixtures_dir: Path) -> tuple[EmotionClassifier, np.ndarray, np.ndarray, list[Placement]]:
    """The fixture classifier, seven synthetic faces labelled as it labels them (every one right on its dataset
    crop), and each face at 48 px on a canvas of its own, in a row."""
    classifier = EmotionClassifier(ClassifierOptions(fixture_model(fixtures_dir, "tiny_int8"), 1))
    x, _ = synthetic_images(1, seed=5)
    y = classifier.predict_proba(x).argmax(1)
    placed = []
    for i in range(len(x)):
        canvas = np.full((480, 640, 3), 90, np.uint8)
        px, py = 40 + 80 * i, 200
        canvas[py : py + 48, px : px + 48] = x[i][..., None]
        placed.append(Placement(i, canvas, Box(px, py, 48, 48)))
    return classifier, x, y, placed


def test_a_keypoint_framing_is_scored_against_its_median_on_the_same_boxes(fixtures_dir: Path) -> None:
    from device.framing import KeypointFraming

    classifier, x, y, placed = _faces_in_a_row(fixtures_dir)
    # each box sits 24 px low; its one keypoint is the face's centre, 24 px above the box's (-0.5 box heights)
    answers = [[Box(p.truth.x, p.truth.y + 24, 48, 48, keypoints=((p.truth.x + 24.0, p.truth.y + 24.0),))]
               for p in placed]
    keyed = KeypointFraming(1, ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0)), (0.0, 0.0, 0.0),
                            ((0.5, 2.0), (-1.0, 1.0), (-1.0, 1.0)))  # dy = the keypoint's offset: back on the face
    framing = Framing(1.0, 0.0, 0.0, "calibrated", keypoints=keyed)
    rows, crops = crop_accuracy({"keyed": ListDetector(answers)}, {"keyed": (framing, Framing.from_margin(0.02))},
                                classifier.predict_proba, x, y, placed, len(x), progress=False)
    row = rows["keyed"]
    assert row["acc_calibrated"] == row["acc_dataset"] == 1.0  # framed by the keypoint: the originals again
    assert np.array_equal(crops["keyed"][1], x.reshape(-1, 48, 48))
    gray = [cv2.cvtColor(p.canvas, cv2.COLOR_BGR2GRAY) for p in placed]
    low = np.array([crop_face(g, a[0], framing.median()) for g, a in zip(gray, answers, strict=True)])
    expected = float(np.mean(classifier.predict_proba(low).argmax(1) == y))
    assert row["acc_calibrated_median"] == pytest.approx(expected) and expected < 1.0
    assert row["keypoints_minus_median_pp"] == pytest.approx(100 * (1.0 - expected))
    low_ci, high_ci = row["keypoints_minus_median_ci_pp"]
    assert low_ci <= row["keypoints_minus_median_pp"] <= high_ci
    plain_rows, _ = crop_accuracy({"keyed": ListDetector(answers)}, {"keyed": (framing.median(), framing.median())},
                                  classifier.predict_proba, x, y, placed, len(x), progress=False)
    assert "acc_calibrated_median" not in plain_rows["keyed"]  # no keypoint model: nothing to compare


def test_each_face_is_cut_with_its_own_emotions_transform_against_the_calibrated_crop(fixtures_dir: Path) -> None:
    classifier, x, y, placed = _faces_in_a_row(fixtures_dir)
    assert {k % 2 for k in y} == {0, 1}, "the fixture needs labels of both parities"
    answers = [[Box(p.truth.x, p.truth.y + 24 * (y[p.face] % 2), 48, 48)] for p in placed]  # odd emotions: 24 px low
    calibrated = Framing(1.0, 0.0, 0.0, "calibrated")  # right for even emotions only
    per_emotion = [Framing(1.0, 0.0, -0.5 * (k % 2), "calibrated") for k in range(7)]  # each emotion's own
    framings = {"d": (calibrated, Framing.from_margin(0.02))}
    tally = crops_module.detect_crops({"d": ListDetector(answers)}, framings, placed, len(x), False,
                                      {"d": per_emotion}, y)["d"]
    assert np.array_equal(np.stack(tally.emotion), x.reshape(-1, 48, 48))  # the label's transform: the originals
    rows, _ = crop_accuracy({"d": ListDetector(answers)}, framings, classifier.predict_proba, x, y, placed, len(x),
                            progress=False, emotion_framings={"d": per_emotion})
    row = rows["d"]
    assert row["acc_emotion_framed"] == row["acc_dataset"] == 1.0
    assert row["acc_calibrated"] < 1.0
    assert row["emotion_minus_calibrated_pp"] == pytest.approx(100 * (1.0 - row["acc_calibrated"]))
    low_ci, high_ci = row["emotion_minus_calibrated_ci_pp"]
    assert low_ci <= row["emotion_minus_calibrated_pp"] <= high_ci
    none, _ = crop_accuracy({"d": ListDetector(answers)}, framings, classifier.predict_proba, x, y, placed, len(x),
                            progress=False)
    assert "acc_emotion_framed" not in none["d"]  # no per-emotion transforms: nothing to compare
    with pytest.raises(ValueError, match="labels"):
        crops_module.detect_crops({"d": ListDetector(answers)}, framings, placed, len(x), False, {"d": per_emotion})
