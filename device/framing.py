"""How a detector's box becomes a face crop framed like FER2013's: one transform per detector, fitted by measurement.

FER2013's faces are square crops of a particular tightness and centre. Each detector frames a face its own way
(BlazeFace's box is tighter than FER2013's and sits lower), so the crop that feeds the classifier is the detector's
box transformed: centre moved by ``dx`` box widths and ``dy`` box heights, side ``scale`` times the box's larger
side. ``python -m benchmarks calibrate`` fits the transform per detector (medians over FER2013 training faces
placed on canvases and detected again) and writes ``device/models/framing.json``, which this module owns: the
device reads the entry of the detector it runs. ``--margin`` overrides it with a plain square margin.

A detector that gives landmarks (BlazeFace: six keypoints) can frame each face on its own: FER2013's framing varies
face to face, and where the eyes, nose, mouth and ears sit inside the box predicts part of that (the centre much
better than the side). An entry may then carry a ``keypoint_model`` (:class:`KeypointFraming`): a linear model from
the keypoints' positions in the box to that face's ``log(scale)``, ``dx`` and ``dy``, fitted by the same
calibration (ridge regression, cross-validated), its predictions held inside the calibration's 5th-95th
percentiles. The device applies it to every box that has the keypoints and the median transform to any other box.
No shipped entry has one: judged on the evaluation faces in session 41, it lost to the median transform
(docs/results.md, the camera path), so ``python -m benchmarks calibrate`` fits it only with ``--keypoints``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.fileio import atomic_write_json
from core.labels import EMOTIONS
from core.paths import project_root

FRAMING_FILE = Path("device") / "models" / "framing.json"


class FramingError(ValueError):
    """framing.json cannot be read, or an entry is not a usable transform; the message names the file."""


TARGETS = ("log_scale", "dx", "dy")  # what a keypoint model predicts, in this order


def keypoint_features(x: float, y: float, w: float, h: float,
                      keypoints: Sequence[tuple[float, float]]) -> np.ndarray:
    """A box's keypoints as a keypoint model reads them: each point's offset from the box centre in box widths (all
    x first), then in box heights (all y), then the box's aspect ``h / w``: ``2 * K + 1`` numbers."""
    points = np.asarray(keypoints, np.float64).reshape(-1, 2)
    cx, cy = x + w / 2.0, y + h / 2.0
    return np.concatenate([(points[:, 0] - cx) / w, (points[:, 1] - cy) / h, [h / w]])


@dataclass(frozen=True)
class KeypointFraming:
    """Per-face framing from a box's keypoints: ``(log scale, dx, dy) = intercept + coef @ keypoint_features``, each
    clipped to ``bounds`` (the calibration's 5th-95th percentiles; the scale's as ``scale``, not its log)."""

    points: int  # keypoints per box the model reads (BlazeFace: 6)
    coef: tuple[tuple[float, ...], ...]  # 3 rows (TARGETS) of 2 * points + 1 weights
    intercept: tuple[float, float, float]
    bounds: tuple[tuple[float, float], ...]  # 3 (low, high): scale, dx, dy

    def __post_init__(self) -> None:
        width = 2 * self.points + 1
        if self.points < 1 or len(self.coef) != 3 or any(len(row) != width for row in self.coef):
            raise ValueError(f"keypoint model: expected 3 rows of {width} weights for {self.points} keypoints")
        if len(self.intercept) != 3 or len(self.bounds) != 3 or any(len(b) != 2 for b in self.bounds):
            raise ValueError("keypoint model: expected 3 intercepts and 3 (low, high) bounds")
        numbers = [v for row in self.coef for v in row] + list(self.intercept) + [v for b in self.bounds for v in b]
        if not all(math.isfinite(v) for v in numbers):
            raise ValueError("keypoint model: weights, intercepts and bounds must be finite")
        if any(lo > hi for lo, hi in self.bounds) or self.bounds[0][0] <= 0.05:
            raise ValueError(f"keypoint model: bounds {self.bounds}: expected low <= high and a scale above 0.05")

    def predict(self, x: float, y: float, w: float, h: float,
                keypoints: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
        """(scale, dx, dy) for this box."""
        values = np.asarray(self.intercept) + np.asarray(self.coef) @ keypoint_features(x, y, w, h, keypoints)
        scale, dx, dy = math.exp(float(values[0])), float(values[1]), float(values[2])
        (s0, s1), (x0, x1), (y0, y1) = self.bounds
        return min(max(scale, s0), s1), min(max(dx, x0), x1), min(max(dy, y0), y1)

    def to_json(self) -> dict:
        return {"points": self.points, "targets": list(TARGETS), "features": "keypoint x offsets from the box "
                "centre / w, then y offsets / h, then h / w", "coef": [list(r) for r in self.coef],
                "intercept": list(self.intercept), "bounds": [list(b) for b in self.bounds]}

    @classmethod
    def from_json(cls, entry: dict) -> KeypointFraming:
        return cls(int(entry["points"]), tuple(tuple(float(v) for v in row) for row in entry["coef"]),
                   tuple(float(v) for v in entry["intercept"]),  # type: ignore[arg-type]
                   tuple((float(lo), float(hi)) for lo, hi in entry["bounds"]))


@dataclass(frozen=True)
class Framing:
    """Crop = square of side ``scale * max(w, h)`` centred at the box centre + ``(dx * w, dy * h)``; with a keypoint
    model, a box that has its keypoints gets its own ``scale``, ``dx`` and ``dy`` (:class:`KeypointFraming`)."""

    scale: float = 1.04
    dx: float = 0.0
    dy: float = 0.0
    source: str = "margin"  # "margin" (a plain square margin) or "calibrated" (fitted, see framing.json)
    keypoints: KeypointFraming | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and 0.05 < self.scale <= 5.0):
            raise ValueError(f"framing scale {self.scale}: expected a finite multiple of the box side in (0.05, 5]")
        if not (math.isfinite(self.dx) and math.isfinite(self.dy) and abs(self.dx) <= 1 and abs(self.dy) <= 1):
            raise ValueError(f"framing offset ({self.dx}, {self.dy}): expected finite fractions of the box in [-1, 1]")

    @classmethod
    def from_margin(cls, margin: float) -> Framing:
        """A square ``margin`` of the box side on each side, centred on the box (``--margin``)."""
        if not (math.isfinite(margin) and margin > -0.5):
            raise ValueError(f"margin {margin}: expected a finite fraction of the box side > -0.5 (e.g. 0.02)")
        return cls(scale=1.0 + 2.0 * margin, dx=0.0, dy=0.0, source="margin")

    def square(self, x: float, y: float, w: float, h: float,
               keypoints: Sequence[tuple[float, float]] | None = None) -> tuple[int, int, int]:
        """(x0, y0, side) of the crop for the box (x, y, w, h), in the same pixels; ``keypoints`` (the box's, in the
        same pixels) frame it by the keypoint model when there is one and they are the points it reads."""
        scale, dx, dy = self.scale, self.dx, self.dy
        if (self.keypoints is not None and keypoints is not None and len(keypoints) == self.keypoints.points
                and w > 0 and h > 0):
            scale, dx, dy = self.keypoints.predict(x, y, w, h, keypoints)
        side = max(1, int(round(max(w, h) * scale)))
        cx, cy = x + w / 2.0 + dx * w, y + h / 2.0 + dy * h
        return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side

    def median(self) -> Framing:
        """The same transform for every box (the keypoint model dropped)."""
        return replace(self, keypoints=None)

    def describe(self) -> str:
        if self.source == "margin":
            return f"square margin {(self.scale - 1) / 2:.0%} a side"
        text = f"calibrated: side {self.scale:.2f}x the box, centre moved {self.dx:+.2f} w, {self.dy:+.2f} h"
        return text + (", each face by its keypoints" if self.keypoints is not None else "")


def framing_path(root: Path | None = None) -> Path:
    return (root or project_root()) / FRAMING_FILE


def read_framings(path: Path | None = None) -> dict:
    """framing.json's content: ``{"detectors": {name: {"scale", "dx", "dy", ...}}, ...}``; none: empty."""
    path = path or framing_path()
    if not path.is_file():
        return {"detectors": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FramingError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("detectors", {}), dict):
        raise FramingError(f"{path}: expected an object with a 'detectors' object")
    data.setdefault("detectors", {})
    return data


def calibrated_framing(detector: str, path: Path | None = None) -> Framing | None:
    """The fitted transform of ``detector`` (None when it was never calibrated)."""
    entry = read_framings(path)["detectors"].get(detector)
    if entry is None:
        return None
    try:
        model = entry.get("keypoint_model")
        return Framing(float(entry["scale"]), float(entry["dx"]), float(entry["dy"]), source="calibrated",
                       keypoints=None if model is None else KeypointFraming.from_json(model))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FramingError(f"{path or framing_path()}: detector {detector!r}: unusable transform ({exc})") from exc


def emotion_framings(detector: str, path: Path | None = None) -> tuple[Framing, ...] | None:
    """Each emotion's own median transform of ``detector`` (the entry's ``by_class``), indexed by label as
    :data:`core.labels.EMOTIONS`; None when it was never calibrated or its calibration lacks an emotion. Not for the
    device, which cannot know the emotion before it classifies the face: the benchmark cuts each evaluation face
    with its own emotion's transform to measure how much of the crops' shortfall that framing explains."""
    entry = read_framings(path)["detectors"].get(detector)
    rows = entry.get("by_class") if isinstance(entry, dict) else None
    if not isinstance(rows, dict) or any(name not in rows for name in EMOTIONS):
        return None
    try:
        return tuple(Framing(float(rows[name]["scale"]), float(rows[name]["dx"]), float(rows[name]["dy"]),
                             source="calibrated") for name in EMOTIONS)
    except (KeyError, TypeError, ValueError) as exc:
        raise FramingError(f"{path or framing_path()}: detector {detector!r}: unusable by_class transform ({exc})") \
            from exc


def write_framing(detector: str, framing: Framing, record: dict, path: Path | None = None) -> Path:
    """Store ``detector``'s fitted transform with how it was measured (``record``), keeping other detectors'."""
    path = path or framing_path()
    data = read_framings(path)
    data["about"] = ("Per detector: the transform from its face box to FER2013's framing (side = scale x the box's "
                     "larger side; centre moved dx box widths, dy box heights), fitted by python -m benchmarks "
                     "calibrate. The device applies the entry of the detector it runs; --margin overrides it. "
                     "keypoint_model, where present: each face's own (log scale, dx, dy) from its keypoints, a linear "
                     "model fitted by the same calibration, applied to boxes that have the keypoints.")
    entry: dict = {k: round(getattr(framing, k), 4) for k in ("scale", "dx", "dy")}
    if framing.keypoints is not None:
        entry["keypoint_model"] = framing.keypoints.to_json()
    data["detectors"][detector] = {**entry, **record}
    return atomic_write_json(path, data)
