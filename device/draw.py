"""Annotate a frame: a box per face with its label and score, and the FPS."""

from __future__ import annotations

import cv2
import numpy as np

from core.labels import EMOTIONS
from device.pipeline import FrameResult

# BGR colour per emotion, EMOTIONS order.
PALETTE = ((0, 0, 255), (0, 128, 0), (128, 0, 128), (0, 215, 255), (255, 0, 0), (0, 165, 255), (200, 200, 200))
COLORS: dict[str, tuple[int, int, int]] = dict(zip(EMOTIONS, PALETTE, strict=True))
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _text(image: np.ndarray, text: str, x: int, y: int, color: tuple[int, int, int], scale: float) -> None:
    """Text on a filled background box whose bottom-left corner is (x, y)."""
    thickness = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    y = max(th + base, y)
    cv2.rectangle(image, (x, y - th - base), (x + tw, y), color, cv2.FILLED)
    dark = sum(color) > 384
    cv2.putText(image, text, (x, y - base), FONT, scale, (0, 0, 0) if dark else (255, 255, 255), thickness, cv2.LINE_AA)


def draw_results(bgr: np.ndarray, result: FrameResult, fps: float | None = None, caption: str = "") -> np.ndarray:
    """Draws on ``bgr`` in place and returns it; ``caption`` (e.g. the prior-correction setting) follows the FPS."""
    scale = max(0.4, bgr.shape[1] / 1280.0)
    thickness = max(1, int(round(scale * 2)))
    for face in result.faces:
        box, color = face.box, COLORS.get(face.label, (255, 255, 255))
        cv2.rectangle(bgr, (box.x, box.y), (box.x + box.w, box.y + box.h), color, thickness)
        tag = f"{face.label} {face.score:.2f}" + (f" #{face.track_id}" if face.track_id >= 0 else "")
        _text(bgr, tag, box.x, box.y, color, scale)
    header = " | ".join(part for part in (f"{fps:.1f} FPS" if fps is not None else "", caption) if part)
    if header:
        _text(bgr, header, 0, 0, (32, 32, 32), scale)
    return bgr
