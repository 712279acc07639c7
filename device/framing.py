"""How a detector's box becomes a face crop framed like FER2013's: one transform per detector, fitted by measurement.

FER2013's faces are square crops of a particular tightness and centre. Each detector frames a face its own way
(BlazeFace's box is tighter than FER2013's and sits lower), so the crop that feeds the classifier is the detector's
box transformed: centre moved by ``dx`` box widths and ``dy`` box heights, side ``scale`` times the box's larger
side. ``python -m benchmarks calibrate`` fits the transform per detector (medians over FER2013 training faces
placed on canvases and detected again) and writes ``device/models/framing.json``, which this module owns: the
device reads the entry of the detector it runs. ``--margin`` overrides it with a plain square margin.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from core.fileio import atomic_write_json
from core.paths import project_root

FRAMING_FILE = Path("device") / "models" / "framing.json"


class FramingError(ValueError):
    """framing.json cannot be read, or an entry is not a usable transform; the message names the file."""


@dataclass(frozen=True)
class Framing:
    """Crop = square of side ``scale * max(w, h)`` centred at the box centre + ``(dx * w, dy * h)``."""

    scale: float = 1.04
    dx: float = 0.0
    dy: float = 0.0
    source: str = "margin"  # "margin" (a plain square margin) or "calibrated" (fitted, see framing.json)

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

    def square(self, x: float, y: float, w: float, h: float) -> tuple[int, int, int]:
        """(x0, y0, side) of the crop for the box (x, y, w, h), in the same pixels."""
        side = max(1, int(round(max(w, h) * self.scale)))
        cx, cy = x + w / 2.0 + self.dx * w, y + h / 2.0 + self.dy * h
        return int(round(cx - side / 2.0)), int(round(cy - side / 2.0)), side

    def describe(self) -> str:
        if self.source == "margin":
            return f"square margin {(self.scale - 1) / 2:.0%} a side"
        return f"calibrated: side {self.scale:.2f}x the box, centre moved {self.dx:+.2f} w, {self.dy:+.2f} h"


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
        return Framing(float(entry["scale"]), float(entry["dx"]), float(entry["dy"]), source="calibrated")
    except (KeyError, TypeError, ValueError) as exc:
        raise FramingError(f"{path or framing_path()}: detector {detector!r}: unusable transform ({exc})") from exc


def write_framing(detector: str, framing: Framing, record: dict, path: Path | None = None) -> Path:
    """Store ``detector``'s fitted transform with how it was measured (``record``), keeping other detectors'."""
    path = path or framing_path()
    data = read_framings(path)
    data["about"] = ("Per detector: the transform from its face box to FER2013's framing (side = scale x the box's "
                     "larger side; centre moved dx box widths, dy box heights), fitted by python -m benchmarks "
                     "calibrate. The device applies the entry of the detector it runs; --margin overrides it.")
    entry = {k: round(v, 4) for k, v in asdict(framing).items() if k != "source"}
    data["detectors"][detector] = {**entry, **record}
    return atomic_write_json(path, data)
