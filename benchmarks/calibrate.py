"""Fit each detector's transform from its face box to FER2013's framing (``python -m benchmarks calibrate``).

FER2013's faces are 48x48 crops framed one particular way. Training-split faces (never the evaluation split) are
placed on 640x480 canvases as the benchmark clip places them (scaled up with a little edge context and a feathered
border, at several sizes and positions, on plain, noise, gradient and checker backgrounds), then detected again.
For every face the detector finds (IoU >= 0.3 with the placed face), the crop it should have made is known exactly:
the placed 48x48 area. The transform (:class:`device.framing.Framing`) is the median over faces of

- ``scale``: placed side / the box's larger side,
- ``dx``, ``dy``: (placed centre - box centre) / box width, height,

written to ``device/models/framing.json`` with the spread (quartiles), the share of faces found and the command.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from benchmarks.canvas import BACKGROUNDS, background, face_patch, paste
from benchmarks.clip import pick_faces
from benchmarks.errors import BenchError
from benchmarks.progress import progress_bar
from device.detector import Box, FaceDetector
from device.framing import Framing
from device.preprocess import to_gray

CANVAS = (640, 480)
SIDES = (64, 240)  # placed face side in pixels, drawn uniformly (FER's 48 px face scaled up)
PAD = 0.25  # edge context around the 48x48 crop, a fraction of its side (as the benchmark clip)
MATCH_IOU = 0.3


@dataclass
class Calibration:
    detector: str
    faces: int  # placed
    found: int  # detected with IoU >= MATCH_IOU
    false_detections: int  # boxes matching no placed face
    framing: Framing | None  # None when no face was found
    quartiles: dict[str, list[float]] = field(default_factory=dict)  # {"scale": [q25, q75], "dx": ..., "dy": ...}
    ms_median: float = 0.0  # detection time per canvas

    def record(self, command: str, data: str) -> dict:
        """What framing.json keeps beside the transform: how it was measured."""
        return {"faces": self.faces, "found": self.found, "false_detections": self.false_detections,
                "quartiles": {k: [round(v, 4) for v in q] for k, q in self.quartiles.items()},
                "canvas": list(CANVAS), "face_sides": list(SIDES), "data": data, "command": command}


def place(face: np.ndarray, rng: np.random.Generator, kind: str) -> tuple[np.ndarray, Box]:
    """A 640x480 BGR canvas with ``face`` (48x48) placed at a random size and position; the placed face's box."""
    width, height = CANVAS
    side = int(rng.integers(SIDES[0], SIDES[1] + 1))
    patch, alpha, offset = face_patch(face, side, PAD)
    full = patch.shape[0]
    x = int(rng.integers(0, width - full + 1))
    y = int(rng.integers(0, height - full + 1))
    canvas = background(kind, width, height, rng)
    paste(canvas, patch, alpha, x, y)
    return canvas, Box(x + offset, y + offset, side, side)


def fit(pairs: list[tuple[Box, Box]]) -> tuple[Framing, dict[str, list[float]]]:
    """The median transform over (detected box, placed box) pairs, and each parameter's quartiles."""
    scale = np.array([t.w / max(b.w, b.h) for b, t in pairs])
    dx = np.array([((t.x + t.w / 2) - (b.x + b.w / 2)) / b.w for b, t in pairs])
    dy = np.array([((t.y + t.h / 2) - (b.y + b.h / 2)) / b.h for b, t in pairs])
    values = {"scale": scale, "dx": dx, "dy": dy}
    framing = Framing(float(np.median(scale)), float(np.median(dx)), float(np.median(dy)), source="calibrated")
    return framing, {k: [float(np.percentile(v, 25)), float(np.percentile(v, 75))] for k, v in values.items()}


def calibrate(detector: FaceDetector, name: str, faces: np.ndarray, labels: np.ndarray, count: int = 600,
              seed: int = 0, progress: bool = True,
              clock: Callable[[], float] = time.perf_counter) -> Calibration:
    """Place ``count`` class-balanced faces (one per canvas) and fit ``name``'s transform from what it detects."""
    if len(faces) == 0:
        raise BenchError("calibrate: no faces to place")
    rng = np.random.default_rng(seed)
    chosen = pick_faces(labels, count, rng)
    pairs: list[tuple[Box, Box]] = []
    false = 0
    times = []
    with progress_bar(f"calibrate {name}", len(chosen), enabled=progress) as bar:
        for i, index in enumerate(chosen):
            canvas, truth = place(faces[index].reshape(48, 48), rng, BACKGROUNDS[i % len(BACKGROUNDS)])
            gray = to_gray(canvas)
            start = clock()
            boxes = detector.detect(gray, canvas)
            times.append((clock() - start) * 1000.0)
            best = max(boxes, key=truth.iou, default=None)
            if best is not None and truth.iou(best) >= MATCH_IOU:
                pairs.append((best, truth))
                false += len(boxes) - 1
            else:
                false += len(boxes)
            bar.update()
    framing, quartiles = fit(pairs) if pairs else (None, {})
    return Calibration(name, len(chosen), len(pairs), false, framing, quartiles, float(np.median(times)))
