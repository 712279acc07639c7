"""Fitting a detector's box -> FER2013 framing transform (``benchmarks.calibrate``): the median fit, the canvases the
faces are placed on, the loop with a detector whose framing is known, a real BlazeFace round trip on faces cut from
the shared real photos, and the ``calibrate`` command."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from bench_helpers import record_placements
from synthetic import synthetic_images

import benchmarks.calibrate as cal
from benchmarks.errors import BenchError
from device.detector import Box
from device.framing import Framing, calibrated_framing

# A detector whose box is the FER2013 crop's side / 1.25, centred 0.1 box heights below the crop's centre: the
# transform that undoes it is scale 1.25, dx 0, dy -0.1.
KNOWN = Framing(1.25, 0.0, -0.1, source="calibrated")


def _box_for(truth: Box, scale: float = KNOWN.scale, dy: float = KNOWN.dy) -> Box:
    side = truth.w / scale
    cx, cy = truth.x + truth.w / 2.0, truth.y + truth.h / 2.0 - dy * side
    return Box(int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), int(round(side)), int(round(side)))


def test_fit_is_the_median_transform_and_one_wild_box_does_not_move_it() -> None:
    # every pair: box side 200, crop side 250 (scale 1.25), crop centre 20 px = 0.1 box heights above the box's
    good = [(Box(x, y, 200, 200), Box(x + 100 - 125, y + 100 - 20 - 125, 250, 250))
            for x, y in ((100, 80), (300, 50), (40, 200), (250, 250), (10, 10))]
    wild = (Box(500, 400, 20, 20), Box(100, 100, 200, 200))  # a false match: 10x the side, far away
    framing, quartiles = cal.fit([*good, wild])
    assert framing.scale == pytest.approx(1.25) and framing.dx == pytest.approx(0.0)
    assert framing.dy == pytest.approx(-0.1)
    assert quartiles["scale"] == pytest.approx([1.25, 1.25]) and quartiles["dy"] == pytest.approx([-0.1, -0.1])
    assert framing.source == "calibrated"


def test_fit_reads_the_box_larger_side_and_centre_offsets_per_axis() -> None:
    # box 100 wide, 80 tall; crop 120 square, centred 10 px right (0.1 widths) and 8 px up (-0.1 heights)
    box, crop = Box(100, 100, 100, 80), Box(100 + 50 + 10 - 60, 100 + 40 - 8 - 60, 120, 120)
    framing, _ = cal.fit([(box, crop)])
    assert (framing.scale, framing.dx, framing.dy) == pytest.approx((1.2, 0.1, -0.1))
    x0, y0, side = framing.square(box.x, box.y, box.w, box.h)  # the device's crop of that box is the crop again
    assert (x0, y0, side) == (crop.x, crop.y, crop.w)


def _likeness(gray: np.ndarray, truth: Box, face: np.ndarray, dx: int, dy: int) -> float:
    """Correlation of ``face`` with the canvas cut at ``truth`` moved by (dx, dy), scaled back to 48x48."""
    x0, y0 = truth.x + dx, truth.y + dy
    cut = gray[max(0, y0) : y0 + truth.h, max(0, x0) : x0 + truth.w]
    back = cv2.resize(cut, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float64)
    return float(np.corrcoef(back.ravel(), face.astype(np.float64).ravel())[0, 1])


def test_place_puts_the_face_whole_inside_the_canvas_at_its_box() -> None:
    x, _ = synthetic_images(1, seed=3)
    face = x[0]
    rng = np.random.default_rng(0)
    for kind in cal.BACKGROUNDS:
        canvas, truth = cal.place(face, rng, kind)
        assert canvas.shape == (cal.CANVAS[1], cal.CANVAS[0], 3) and canvas.dtype == np.uint8
        assert cal.SIDES[0] <= truth.w == truth.h <= cal.SIDES[1]
        assert truth.x >= 0 and truth.y >= 0 and truth.x + truth.w <= cal.CANVAS[0]
        assert truth.y + truth.h <= cal.CANVAS[1]
        gray = cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY)
        step = max(2, truth.w // 16)
        around = [_likeness(gray, truth, face, dx, dy) for dx in (-2 * step, -step, 0, step, 2 * step)
                  for dy in (-2 * step, -step, 0, step, 2 * step) if (dx, dy) != (0, 0)]
        here = _likeness(gray, truth, face, 0, 0)
        assert here > max(around) and here > 0.6, kind  # the box is where the face best matches


class _KnownFramingDetector:
    """Sees the face ``place`` put on the canvas and answers with :func:`_box_for` it, plus a false box on every
    third canvas and nothing on every fifth."""

    def __init__(self, truths: list[Box]) -> None:
        self.truths, self.calls = truths, 0

    def detect(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list[Box]:
        assert gray.ndim == 2 and gray.shape == (cal.CANVAS[1], cal.CANVAS[0])
        self.calls += 1
        if self.calls % 5 == 0:
            return []
        boxes = [_box_for(self.truths[-1])]
        if self.calls % 3 == 0:
            boxes.append(Box(0, 0, 30, 30))
        return boxes


@pytest.fixture
def truths(monkeypatch: pytest.MonkeyPatch) -> list[Box]:
    """The boxes of the faces ``calibrate`` places, in order (``place`` wrapped to record them)."""
    return record_placements(monkeypatch, cal)


def test_calibrate_recovers_a_known_framing_and_counts_what_it_found(truths: list[Box]) -> None:
    x, y = synthetic_images(3, seed=1)  # 21 faces, 3 of each class
    ticks = iter(np.arange(0.0, 1000.0, 0.002))  # every detection takes 2 ms on this clock
    result = cal.calibrate(_KnownFramingDetector(truths), "known", x, y, count=30, seed=4, progress=False,
                           clock=lambda: float(next(ticks)))
    assert (result.detector, result.faces, result.found) == ("known", 30, 24)  # every fifth canvas: nothing
    assert result.false_detections == 8  # canvases 3, 6, 9, ..., 30 less those with nothing (15, 30)
    f = result.framing
    assert f is not None and (f.scale, f.dx, f.dy) == pytest.approx((1.25, 0.0, -0.1), abs=0.015)  # pixel rounding
    assert result.ms_median == pytest.approx(2.0)
    record = result.record("python -m benchmarks calibrate --data d.csv", "d.csv")
    assert record["found"] == 24 and record["faces"] == 30 and record["canvas"] == list(cal.CANVAS)
    assert set(record["quartiles"]) == {"scale", "dx", "dy"}


def test_calibrate_with_no_faces_is_an_error_and_a_blind_detector_fits_nothing() -> None:
    class Blind:
        def detect(self, gray, bgr=None):
            return []

    with pytest.raises(BenchError, match="no faces"):
        cal.calibrate(Blind(), "blind", np.empty((0, 48, 48), np.uint8), np.empty(0, np.int64), progress=False)
    x, y = synthetic_images(1, seed=2)
    result = cal.calibrate(Blind(), "blind", x, y, count=5, progress=False)
    assert result.found == 0 and result.framing is None and result.quartiles == {}


def test_blazeface_round_trip_refits_the_shipped_framing(real_framed_faces: np.ndarray) -> None:
    """Faces framed by the shipped transform, placed on canvases and detected again, give that transform back (the
    canvases' scaling blurs them a little: a few hundredths of tolerance)."""
    from device.detector import make_detector

    shipped = calibrated_framing("blazeface")
    labels = np.arange(len(real_framed_faces)) % 7
    result = cal.calibrate(make_detector("blazeface"), "blazeface", real_framed_faces, labels, count=40, seed=0,
                           progress=False)
    assert result.found >= 0.6 * result.faces and result.false_detections <= 2
    f = result.framing
    assert f.scale == pytest.approx(shipped.scale, abs=0.05)
    assert f.dx == pytest.approx(shipped.dx, abs=0.03) and f.dy == pytest.approx(shipped.dy, abs=0.04)


def test_the_command_writes_its_detector_and_keeps_the_others(real_faces_folder: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    from benchmarks.__main__ import main
    from device.framing import framing_path

    data = real_faces_folder
    out = tmp_path / "framing.json"
    out.write_bytes(framing_path().read_bytes())  # the shipped file: other detectors' entries must survive
    rc = main(["calibrate", "--data", str(data), "--detectors", "blazeface", "--faces", "24", "--out", str(out),
               "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "blazeface: calibrated: side" in printed and f"wrote {out}" in printed
    assert "by emotion (side, centre dy): angry " in printed and "p = " in printed
    written = json.loads(out.read_text())["detectors"]
    shipped = json.loads(framing_path().read_text())["detectors"]
    assert set(written) == set(shipped) and written["haar"] == shipped["haar"]
    entry = written["blazeface"]
    assert entry["faces"] == 24 and entry["data"] == "faces" and "--faces 24" in entry["command"]
    assert set(entry["by_class"]) <= {"angry", "happy", "neutral"} and "repeats" not in entry
    assert entry["scale"] == pytest.approx(shipped["blazeface"]["scale"], abs=0.06)


def test_the_command_names_data_without_training_faces(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from benchmarks.__main__ import main

    data = tmp_path / "faces"
    (data / "test" / "happy").mkdir(parents=True)
    cv2.imwrite(str(data / "test" / "happy" / "0.png"), np.full((48, 48), 128, np.uint8))
    out = tmp_path / "framing.json"
    rc = main(["calibrate", "--data", str(data), "--detectors", "haar", "--out", str(out), "--no-progress"])
    assert rc == 2 and str(data) in capsys.readouterr().err and not out.exists()


def test_class_medians_and_a_permutation_test_of_their_spread() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(7), 40)
    noise = rng.normal(0.0, 0.05, labels.size)
    framed_by_class = {"scale": 1.1 + 0.03 * labels + noise, "dx": noise, "dy": -0.1 - 0.01 * labels + noise}
    rows = cal.class_medians(framed_by_class, labels)
    assert list(rows) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert rows["angry"]["found"] == 40 and rows["neutral"]["scale"] == pytest.approx(1.28, abs=0.03)
    assert cal.class_p_value(framed_by_class, labels, np.random.default_rng(1), permutations=199) == 1 / 200
    same_for_all = {"scale": 1.15 + noise, "dx": noise, "dy": -0.1 + noise}
    assert cal.class_p_value(same_for_all, labels, np.random.default_rng(1), permutations=199) > 0.05
    assert cal.class_p_value(same_for_all, np.zeros_like(labels), np.random.default_rng(1)) is None
    no_disgust = np.where(labels == 1, 0, labels)
    assert list(cal.class_medians(same_for_all, no_disgust))[:2] == ["angry", "fear"]  # no faces found: left out


def test_detector_share_is_the_variance_between_placements_of_one_face() -> None:
    rng = np.random.default_rng(2)
    faces = np.repeat(np.arange(300), 2)
    own = np.repeat(rng.normal(0.0, 0.1, 300), 2)  # each face's own framing: sd 0.1
    jitter = rng.normal(0.0, 0.05, faces.size)  # the detector's noise: sd 0.05, a fifth of the variance
    values = {"scale": np.exp(own + jitter), "dx": own + jitter, "dy": own}
    share = cal.detector_share(values, faces)
    assert share["scale"] == pytest.approx(0.2, abs=0.05) and share["dx"] == pytest.approx(0.2, abs=0.05)
    assert share["dy"] == pytest.approx(0.0, abs=1e-9)  # placements of one face agree exactly
    assert cal.detector_share(values, np.arange(faces.size)) == {}  # no face found twice: nothing to tell


def test_repeated_placements_are_counted_and_recorded(truths: list[Box]) -> None:
    x, y = synthetic_images(2, seed=1)
    result = cal.calibrate(_KnownFramingDetector(truths), "known", x, y, count=14, repeats=2, progress=False)
    assert result.faces == 28 and result.repeats == 2
    assert set(result.detector_share) == {"scale", "dx", "dy"}
    # the fake frames every face alike: what varies is pixel rounding, as much between faces as within one
    assert all(0.0 <= v <= 2.0 for v in result.detector_share.values())
    assert set(result.by_class) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    record = result.record("cmd", "data")
    assert record["repeats"] == 2 and set(record["detector_share"]) == {"scale", "dx", "dy"}
    assert 0 < record["class_p_value"] <= 1
    with pytest.raises(BenchError, match="repeats 0"):
        cal.calibrate(_KnownFramingDetector(truths), "known", x, y, count=3, repeats=0, progress=False)
    single = cal.calibrate(_KnownFramingDetector(truths), "known", x, y, count=7, progress=False).record("c", "d")
    assert "repeats" not in single and "detector_share" not in single and "by_class" in single


def test_fit_keypoints_recovers_a_linear_framing_and_says_how_well_it_predicts() -> None:
    rng = np.random.default_rng(5)
    features = rng.normal(0.0, 0.2, (400, 13))
    values = {"scale": np.exp(0.15 + 0.3 * features[:, 0]), "dx": -0.5 * features[:, 1],
              "dy": -0.1 + 0.4 * features[:, 7] + rng.normal(0.0, 0.01, 400)}
    model, fit = cal.fit_keypoints(features, values)
    assert model.points == 6 and fit["faces"] == 400 and fit["folds"] == 5
    assert all(fit["cv_r2"][k] > 0.9 for k in ("log_scale", "dx", "dy"))
    errors = fit["median_abs_error"]["dy"]
    assert errors["keypoints"] < 0.2 * errors["median"]
    assert model.coef[0][0] == pytest.approx(0.3, abs=0.02) and model.intercept[2] == pytest.approx(-0.1, abs=0.01)
    lo, hi = model.bounds[0]  # the 5th-95th percentiles of the faces' own scales
    assert (lo, hi) == pytest.approx(tuple(np.percentile(values["scale"], [5, 95])))
    noise = {k: rng.permutation(v) for k, v in values.items()}  # framing unrelated to the keypoints
    _, unrelated = cal.fit_keypoints(features, noise)
    assert all(r < 0.1 for r in unrelated["cv_r2"].values())


class _KeypointDetector:
    """Frames each placed face with its own random offset and says where the face's centre is as its one keypoint:
    the per-face framing is exactly what the keypoint tells."""

    def __init__(self, truths: list[Box]) -> None:
        self.truths, self.rng = truths, np.random.default_rng(3)

    def detect(self, gray: np.ndarray, bgr: np.ndarray | None = None) -> list[Box]:
        truth = self.truths[-1]
        side = truth.w / 1.2
        shift = float(self.rng.uniform(-0.15, 0.05)) * side  # the face's centre this far below the box's
        cx, cy = truth.x + truth.w / 2.0, truth.y + truth.h / 2.0
        box = Box(int(round(cx - side / 2)), int(round(cy - shift - side / 2)), int(round(side)), int(round(side)))
        return [Box(box.x, box.y, box.w, box.h, keypoints=((cx, cy),))]


def test_calibrate_fits_a_keypoint_model_from_a_detector_with_keypoints(truths: list[Box],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cal, "MIN_KEYPOINT_FACES", 30)
    x, y = synthetic_images(6, seed=2)
    result = cal.calibrate(_KeypointDetector(truths), "keyed", x, y, count=42, seed=1, progress=False, keypoints=True)
    model = result.framing.keypoints
    assert model is not None and model.points == 1 and result.keypoint_fit["faces"] == 42
    assert result.keypoint_fit["cv_r2"]["dy"] > 0.95  # the keypoint says where the centre is
    record = result.record("cmd", "data")
    assert record["keypoint_fit"]["cv_r2"]["dy"] == result.keypoint_fit["cv_r2"]["dy"]
    truth = truths[-1]
    placed = _KeypointDetector([truth]).detect(np.zeros((480, 640), np.uint8))[0]
    x0, y0, side = result.framing.square(placed.x, placed.y, placed.w, placed.h, placed.keypoints)
    assert abs(x0 - truth.x) <= 2 and abs(y0 - truth.y) <= 2 and abs(side - truth.w) <= 2  # the placed face again
    plain = cal.calibrate(_KeypointDetector(truths), "keyed", x, y, count=42, seed=1, progress=False)  # the default
    assert plain.framing.keypoints is None and plain.keypoint_fit == {} and "keypoint_fit" not in plain.record("c", "d")
    few = cal.calibrate(_KeypointDetector(truths), "keyed", x, y, count=20, seed=1, progress=False, keypoints=True)
    assert few.framing.keypoints is None  # fewer found faces than MIN_KEYPOINT_FACES: the median alone


def test_a_detector_without_keypoints_gets_the_median_alone(truths: list[Box], monkeypatch) -> None:
    monkeypatch.setattr(cal, "MIN_KEYPOINT_FACES", 5)
    x, y = synthetic_images(3, seed=1)
    result = cal.calibrate(_KnownFramingDetector(truths), "known", x, y, count=30, seed=4, progress=False,
                           keypoints=True)
    assert result.found == 24 and result.framing.keypoints is None and result.keypoint_fit == {}


def test_the_command_fits_the_keypoint_model_only_when_asked(real_faces_folder: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.__main__ import main

    monkeypatch.setattr(cal, "MIN_KEYPOINT_FACES", 10)
    out = tmp_path / "framing.json"
    args = ["calibrate", "--data", str(real_faces_folder), "--detectors", "blazeface", "--faces", "24", "--out",
            str(out), "--no-progress"]
    assert main(args) == 0
    assert "keypoint_model" not in json.loads(out.read_text())["detectors"]["blazeface"]
    assert "keypoint model" not in capsys.readouterr().out
    assert main([*args, "--keypoints"]) == 0
    assert "keypoint model over " in capsys.readouterr().out
    entry = json.loads(out.read_text())["detectors"]["blazeface"]
    assert entry["keypoint_model"]["points"] == 6 and set(entry["keypoint_fit"]["cv_r2"]) == {"log_scale", "dx", "dy"}
    assert calibrated_framing("blazeface", out).keypoints is not None
