"""Annotation: boxes, labels and FPS are drawn in place."""

from __future__ import annotations

import numpy as np

from core.labels import EMOTIONS
from device.detector import Box
from device.draw import COLORS, draw_results
from device.pipeline import FaceResult, FrameResult


def test_draw_results() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    face = FaceResult(Box(100, 80, 60, 60), 3, "happy", 0.9, np.full(7, 1 / 7, np.float32))
    out = draw_results(image, FrameResult(0, [face], {}), fps=12.3)
    assert out is image
    assert tuple(int(v) for v in image[110, 100]) == COLORS["happy"]  # left edge of the box
    assert image[:15, :60].any()  # FPS text
    assert set(COLORS) == set(EMOTIONS)


def test_draw_nothing() -> None:
    image = np.zeros((50, 50, 3), np.uint8)
    draw_results(image, FrameResult(0, [], {}))
    assert not image.any()
