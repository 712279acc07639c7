"""The pipeline: frame -> faces -> labels with scores, as one callable (demo, benchmarks and tests use it).

Stages timed with ``time.perf_counter`` (milliseconds): ``preprocess`` (gray conversion + face crops),
``detect``, ``classify``, ``smooth``. Boxes in results are in the BGR frame's coordinates, also when
detection ran on a smaller gray frame (picamera2's lores stream); crops then come from the BGR frame.

With a tracker, each face's probabilities and label are smoothed in the frame's own time (``Frame.timestamp``:
media time for a video file, capture time for a camera); ``label_raw`` is the frame's unsmoothed arg-max.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.labels import EMOTIONS
from device.classifier import EmotionClassifier
from device.detector import Box, FaceDetector
from device.framing import Framing
from device.preprocess import DEFAULT_MARGIN, crop_faces, to_gray
from device.sources import Frame
from device.tracking import FaceTracker, Tracked

STAGES: tuple[str, ...] = ("detect", "preprocess", "classify", "smooth")
UNTRACKED = -1


@dataclass
class FaceResult:
    box: Box
    track_id: int  # -1 without a tracker
    label: str  # displayed label (tracked: smoothed in time, with hysteresis)
    score: float  # the label's probability
    probabilities: np.ndarray  # (7,) float32, EMOTIONS order (smoothed when tracked)
    label_raw: str | None = None  # this frame's own arg-max, before smoothing


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
        margin: float | Framing = DEFAULT_MARGIN,  # a square margin, or a detector's calibrated framing
        max_faces: int | None = None,
    ) -> None:
        self.detector, self.classifier, self.tracker = detector, classifier, tracker
        self.margin, self.max_faces = margin, max_faces

    def reset(self) -> None:
        """Forget all tracks: the next frame is unrelated to the previous ones (independent stills, e.g. an image
        folder), so nothing is matched to or averaged with earlier faces."""
        if self.tracker is not None:
            self.tracker.reset()
        reset = getattr(self.detector, "reset", None)  # a detector that follows faces (BlazeFace) forgets them
        if callable(reset):
            reset()

    def __call__(self, frame: Frame) -> FrameResult:
        timings: dict[str, float] = {}
        start = time.perf_counter()
        gray = frame.gray if frame.gray is not None else to_gray(frame.bgr)
        gray_ms = _ms(start)

        start = time.perf_counter()
        boxes = self.detector.detect(gray, frame.bgr)[: self.max_faces]  # frame coordinates, largest first
        timings["detect"] = _ms(start)

        start = time.perf_counter()
        same_size = gray.shape[:2] == frame.bgr.shape[:2]  # else crops come from the (larger) shown frame
        crops = crop_faces(gray if same_size else frame.bgr, boxes, self.margin)
        timings["preprocess"] = gray_ms + _ms(start)

        start = time.perf_counter()
        probs = self.classifier.predict_proba(crops)
        timings["classify"] = _ms(start)

        start = time.perf_counter()
        if self.tracker is not None:  # smoothed in the source's time: media time for files, capture time else
            tracked = self.tracker.update(boxes, probs, frame.timestamp)
        else:
            tracked = [Tracked(UNTRACKED, p, int(np.argmax(p))) for p in probs]
        faces = [_face(box, t, raw) for box, t, raw in zip(boxes, tracked, probs, strict=True)]
        timings["smooth"] = _ms(start)
        return FrameResult(frame.index, faces, timings)


def _face(box: Box, tracked: Tracked, raw: np.ndarray) -> FaceResult:
    probabilities = tracked.probabilities
    return FaceResult(box, tracked.track_id, EMOTIONS[tracked.label], float(probabilities[tracked.label]),
                      probabilities, EMOTIONS[int(np.argmax(raw))])


def face_to_json(face: FaceResult, digits: int = 4) -> dict[str, Any]:
    probabilities = {name: round(float(p), digits) for name, p in zip(EMOTIONS, face.probabilities, strict=True)}
    return {
        "box": face.box.as_list(),
        "detector_score": round(float(face.box.score), digits),
        "track_id": face.track_id,
        "label": face.label,
        "score": round(face.score, digits),
        "probabilities": probabilities,
        "label_raw": face.label_raw if face.label_raw is not None else face.label,
    }


def to_json(result: FrameResult, digits: int = 4) -> dict[str, Any]:
    """A JSON-serialisable dict of one frame's result."""
    return {
        "frame": result.index,
        "faces": [face_to_json(face, digits) for face in result.faces],
        "timings_ms": {stage: round(ms, 3) for stage, ms in result.timings_ms.items()},
    }
