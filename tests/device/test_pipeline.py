"""The pipeline on a real photo (golden test), with no face, many faces, and a smaller detection frame."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.labels import EMOTIONS
from device.classifier import ClassifierOptions, EmotionClassifier
from device.detector import Box, HaarDetector
from device.pipeline import STAGES, EmotionPipeline, FrameResult, to_json
from device.preprocess import square_box
from device.smoothing import LabelSmoother
from device.sources import Frame
from device.tracking import FaceTracker


@pytest.fixture(scope="module")
def haar() -> HaarDetector:
    return HaarDetector()


def pipeline_for(model: Path, haar: HaarDetector, **kwargs) -> EmotionPipeline:
    return EmotionPipeline(haar, EmotionClassifier(ClassifierOptions(model)), FaceTracker(), **kwargs)


def test_golden_astronaut(any_model: Path, haar, astronaut_bgr, assert_astronaut_face) -> None:
    result = pipeline_for(any_model, haar)(Frame(0, astronaut_bgr, None, 0.0))
    assert isinstance(result, FrameResult) and result.index == 0
    assert len(result.faces) == 1
    face = result.faces[0]
    assert_astronaut_face(face.box)
    assert face.label in EMOTIONS and face.track_id == 0
    assert face.probabilities.shape == (7,) and face.probabilities.sum() == pytest.approx(1.0, abs=0.02)
    assert face.score == pytest.approx(float(face.probabilities.max()))
    assert set(result.timings_ms) == set(STAGES) and all(v >= 0 for v in result.timings_ms.values())


def test_no_face(float_model: Path, haar) -> None:
    blank = np.full((240, 320, 3), 90, np.uint8)
    result = pipeline_for(float_model, haar)(Frame(3, blank, None, 0.0))
    assert result.faces == [] and result.index == 3 and set(result.timings_ms) == set(STAGES)


@pytest.fixture(scope="module")
def four_faces(astronaut_bgr) -> np.ndarray:
    """Four copies of the astronaut's face on a plain 640x480 canvas."""
    face = astronaut_bgr[30:200, 140:310]
    canvas = np.full((480, 640, 3), 120, np.uint8)
    for y in (30, 260):
        for x in (60, 380):
            canvas[y : y + 170, x : x + 170] = face
    return canvas


def test_many_faces(float_model: Path, haar, four_faces) -> None:
    result = pipeline_for(float_model, haar)(Frame(0, four_faces, None, 0.0))
    assert len(result.faces) == 4
    assert sorted(f.track_id for f in result.faces) == [0, 1, 2, 3]
    capped = pipeline_for(float_model, haar, max_faces=2)(Frame(0, four_faces, None, 0.0))
    assert len(capped.faces) == 2


def test_detection_on_a_smaller_gray_frame(float_model: Path, haar, astronaut_bgr, assert_astronaut_face) -> None:
    """picamera2-style: detect on a half-size gray (lores Y plane), boxes reported in the BGR frame."""
    lores = cv2.resize(cv2.cvtColor(astronaut_bgr, cv2.COLOR_BGR2GRAY), (256, 256), interpolation=cv2.INTER_AREA)
    result = pipeline_for(float_model, haar)(Frame(0, astronaut_bgr, lores, 0.0))
    assert len(result.faces) == 1
    assert_astronaut_face(result.faces[0].box)


def test_untracked_and_json(float_model: Path, haar, astronaut_bgr) -> None:
    pipeline = EmotionPipeline(haar, EmotionClassifier(ClassifierOptions(float_model)))
    data = to_json(pipeline(Frame(7, astronaut_bgr, None, 0.0)))
    data = json.loads(json.dumps(data))
    assert data["frame"] == 7 and set(data["timings_ms"]) == set(STAGES)
    (face,) = data["faces"]
    assert face["track_id"] == -1 and face["label"] in EMOTIONS and len(face["box"]) == 4
    assert list(face["probabilities"]) == list(EMOTIONS)


class FixedBoxes:
    """A detector that reports the same boxes on every frame and remembers the frames it was given."""

    def __init__(self, *boxes) -> None:
        self.boxes, self.seen = list(boxes), []

    def detect(self, gray, bgr=None):
        self.seen.append(gray.shape)
        return list(self.boxes)


class MeanClassifier:
    """Scores one-hot on class ``mean gray value of the crop // 32`` (0..6): the crop says where it came from."""

    mirrors_in_graph = False

    def predict_proba(self, crops: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(crops), 7), np.float32)
        for i, crop in enumerate(crops):
            probs[i, min(6, int(crop.mean()) // 32)] = 1.0
        return probs


@pytest.mark.parametrize("gray_size", [(320, 180), (320, 240)])
def test_crops_come_from_the_shown_frame_when_detection_ran_on_a_smaller_one(gray_size) -> None:
    """A 640x360 frame with a smaller gray frame (picamera2's lores; same or another aspect ratio): the detector
    returns boxes in the shown frame's coordinates (its contract), and the pipeline crops that place of the BGR
    frame, unchanged."""
    bgr = np.zeros((360, 640, 3), np.uint8)
    box = Box(80, 30, 120, 90)
    x0, y0, side = square_box(box, 0.0)
    bgr[y0 : y0 + side, x0 : x0 + side] = 200  # only this box's crop is bright (class 6)
    gray = np.zeros(gray_size[::-1], np.uint8)
    detector = FixedBoxes(box)
    result = EmotionPipeline(detector, MeanClassifier(), margin=0.0)(Frame(0, bgr, gray, 0.0))
    assert detector.seen == [gray.shape]
    (face,) = result.faces
    assert face.box == box
    assert face.label == EMOTIONS[6]


def test_reset_starts_every_track_afresh() -> None:
    frames = [np.full((120, 160, 3), value, np.uint8) for value in (10, 100)]  # classes 0 and 3
    pipeline = EmotionPipeline(FixedBoxes(Box(40, 30, 60, 60)), MeanClassifier(), FaceTracker(window=5))
    pipeline(Frame(0, frames[0], None, 0.0))
    assert pipeline(Frame(1, frames[1], None, 0.0)).faces[0].score == pytest.approx(0.5)  # tracked: averaged
    pipeline.reset()
    (face,) = pipeline(Frame(2, frames[1], None, 0.0)).faces
    np.testing.assert_array_equal(face.probabilities, np.eye(7, dtype=np.float32)[3])
    assert face.track_id == 1
    EmotionPipeline(FixedBoxes(), MeanClassifier()).reset()  # no tracker: nothing to forget


def test_reset_makes_a_following_detector_forget_its_faces() -> None:
    class Following(FixedBoxes):
        resets = 0

        def reset(self) -> None:
            self.resets += 1

    detector = Following(Box(40, 30, 60, 60))
    pipeline = EmotionPipeline(detector, MeanClassifier(), FaceTracker(window=5))
    pipeline.reset()
    pipeline.reset()
    assert detector.resets == 2


# ---------------------------------------------------------------- smoothing in the frames' time


def gray_frames(values: list[int]) -> list[np.ndarray]:
    """Frames whose face crop classifies as class ``value // 32`` (MeanClassifier)."""
    return [np.full((120, 160, 3), value, np.uint8) for value in values]


VALUES = [100] * 8 + [140, 100, 140, 140, 140, 140, 140, 100, 140, 140]  # happy (3), then sad (4) with slips


def run_frames(timestamps: list[float]) -> list:
    pipeline = EmotionPipeline(FixedBoxes(Box(40, 30, 60, 60)), MeanClassifier(), FaceTracker())
    return [pipeline(Frame(i, bgr, None, t)).faces[0] for i, (bgr, t) in enumerate(zip(gray_frames(VALUES),
                                                                                      timestamps, strict=True))]


def test_tracked_faces_are_smoothed_in_the_frames_time() -> None:
    """The pipeline hands ``Frame.timestamp`` to the tracker: probabilities and label are the time-based
    smoother's over those times; ``score`` is the label's probability; ``label_raw`` the frame's own."""
    times = [5.0 + i / 10 for i in range(len(VALUES))]
    faces = run_frames(times)
    reference = LabelSmoother()
    for face, value, t in zip(faces, VALUES, times, strict=True):
        own = np.eye(7, dtype=np.float32)[value // 32]
        expected, label = reference.update(t, own)
        np.testing.assert_array_equal(face.probabilities, expected)
        assert face.label == EMOTIONS[label] and face.score == pytest.approx(float(expected[label]))
        assert face.label_raw == EMOTIONS[value // 32]
    assert [f.label for f in faces[:8]] == ["happy"] * 8 and faces[-1].label == "sad"
    assert any(f.label != f.label_raw for f in faces)  # a slip is not shown
    data = json.loads(json.dumps(to_json(FrameResult(0, faces[-1:], {}))))
    assert data["faces"][0]["label_raw"] == "sad" and data["faces"][0]["label"] == "sad"


def test_a_file_processed_faster_than_real_time_is_smoothed_as_live(monkeypatch) -> None:
    """A video's frames carry media time (0, 0.1, 0.2 s...) however fast they are processed; a camera's carry
    capture time. The same stream gives the same labels and probabilities either way, while the processing clock
    runs at any speed; the same frames 1/60 s apart (another media time) are smoothed less."""
    from device import tracking

    clock = iter(np.arange(0.0, 100.0, 0.001))  # the processing clock: a frame every millisecond
    monkeypatch.setattr(tracking.time, "monotonic", lambda: float(next(clock)))
    as_file = run_frames([i / 10 for i in range(len(VALUES))])
    live = run_frames([1234.5 + i / 10 for i in range(len(VALUES))])  # camera capture times at 10 FPS
    for a, b in zip(as_file, live, strict=True):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
        assert a.label == b.label
    faster = run_frames([i / 60 for i in range(len(VALUES))])
    assert [f.label for f in faster] != [f.label for f in as_file]


@pytest.mark.parametrize("times", [[1.0] * 18, [float(i % 5) for i in range(18)], [float("nan")] * 18])
def test_duplicate_or_backward_timestamps_do_not_crash(times: list[float]) -> None:
    faces = run_frames(times)
    assert len(faces) == len(VALUES)
    assert all(np.all(np.isfinite(f.probabilities)) and f.label in EMOTIONS for f in faces)
