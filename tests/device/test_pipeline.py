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
