"""The pipeline: frame -> faces -> labels with scores, as one callable (demo, benchmarks and tests use it).

Stages timed with ``time.perf_counter`` (milliseconds): ``preprocess`` (gray conversion + face crops),
``detect``, ``classify``, ``smooth``. Boxes in results are in the BGR frame's coordinates, also when
detection ran on a smaller gray frame (picamera2's lores stream); crops then come from the BGR frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from device.classifier import EmotionClassifier
from device.detector import Box, FaceDetector
from device.labels import EMOTIONS
from device.preprocess import DEFAULT_MARGIN, crop_faces, to_gray
from device.sources import Frame
from device.tracking import FaceTracker

STAGES: tuple[str, ...] = ("detect", "preprocess", "classify", "smooth")
UNTRACKED = -1


@dataclass
class FaceResult:
    box: Box
    track_id: int  # -1 without a tracker
    label: str
    score: float
    probabilities: np.ndarray  # (7,) float32, EMOTIONS order (smoothed when tracked)


@dataclass
class FrameResult:
    index: int
    faces: list[FaceResult]
    timings_ms: dict[str, float] = field(default_factory=dict)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class EmotionPipeline:
    """``pipeline(frame) -> FrameResult``. ``max_faces`` keeps the largest faces (None: all)."""

    def __init__(
        self,
        detector: FaceDetector,
        classifier: EmotionClassifier,
        tracker: FaceTracker | None = None,
        margin: float = DEFAULT_MARGIN,
        max_faces: int | None = None,
    ) -> None:
        self.detector, self.classifier, self.tracker = detector, classifier, tracker
        self.margin, self.max_faces = margin, max_faces

    def reset(self) -> None:
        """Forget all tracks: the next frame is unrelated to the previous ones (independent stills, e.g. an image
        folder), so nothing is matched to or averaged with earlier faces."""
        if self.tracker is not None:
            self.tracker.reset()

    def __call__(self, frame: Frame) -> FrameResult:
        timings: dict[str, float] = {}
        start = time.perf_counter()
        gray = frame.gray if frame.gray is not None else to_gray(frame.bgr)
        gray_ms = _ms(start)

        start = time.perf_counter()
        boxes = self.detector.detect(gray, frame.bgr)
        boxes = sorted(boxes, key=lambda b: b.area, reverse=True)[: self.max_faces]
        timings["detect"] = _ms(start)

        start = time.perf_counter()
        height, width = frame.bgr.shape[:2]
        if gray.shape[:2] != (height, width):  # detection frame smaller than the shown frame: map boxes back
            boxes = [b.scaled(width / gray.shape[1], height / gray.shape[0]) for b in boxes]
            crops = crop_faces(frame.bgr, boxes, self.margin)
        else:
            crops = crop_faces(gray, boxes, self.margin)
        timings["preprocess"] = gray_ms + _ms(start)

        start = time.perf_counter()
        probs = self.classifier.predict_proba(crops)
        timings["classify"] = _ms(start)

        start = time.perf_counter()
        if self.tracker is not None:
            tracked = self.tracker.update(boxes, probs)
        else:
            tracked = [(UNTRACKED, p) for p in probs]
        faces = [_face(box, track_id, p) for box, (track_id, p) in zip(boxes, tracked, strict=True)]
        timings["smooth"] = _ms(start)
        return FrameResult(frame.index, faces, timings)


def _face(box: Box, track_id: int, probabilities: np.ndarray) -> FaceResult:
    index = int(np.argmax(probabilities))
    return FaceResult(box, track_id, EMOTIONS[index], float(probabilities[index]), probabilities)


def face_to_json(face: FaceResult, digits: int = 4) -> dict[str, Any]:
    probabilities = {name: round(float(p), digits) for name, p in zip(EMOTIONS, face.probabilities, strict=True)}
    return {
        "box": face.box.as_list(),
        "detector_score": round(float(face.box.score), digits),
        "track_id": face.track_id,
        "label": face.label,
        "score": round(face.score, digits),
        "probabilities": probabilities,
    }


def to_json(result: FrameResult, digits: int = 4) -> dict[str, Any]:
    """A JSON-serialisable dict of one frame's result."""
    return {
        "frame": result.index,
        "faces": [face_to_json(face, digits) for face in result.faces],
        "timings_ms": {stage: round(ms, 3) for stage, ms in result.timings_ms.items()},
    }
