"""The camera benchmark's scenes (``benchmarks.scenes``): real-content frames from photos, a steady face, a change
of expression, and the real photos' loader."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from bench_helpers import PHOTOS, photo

from benchmarks.scenes import FILL, change_frames, compose_frames, load_real_photos, steady_frames


def _extent(frame: np.ndarray, colour: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the pixels close to ``colour``."""
    mask = np.all(np.abs(frame.astype(int) - np.array(colour)) < 40, axis=2)
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_composed_frames_are_deterministic_sized_and_counted() -> None:
    frames = list(compose_frames(PHOTOS, 5, seed=3))
    again = list(compose_frames(PHOTOS, 5, seed=3))
    other = list(compose_frames(PHOTOS, 5, seed=4))
    assert len(frames) == 15 and [f.index for f in frames] == list(range(15))
    assert all(np.array_equal(a.bgr, b.bgr) for a, b in zip(frames, again, strict=True))
    assert not all(np.array_equal(a.bgr, b.bgr) for a, b in zip(frames, other, strict=True))
    assert all(f.bgr.shape == (480, 640, 3) and f.bgr.dtype == np.uint8 for f in frames)
    assert [(f.photo, f.expected) for f in frames] == [(p.name, p.faces) for p in PHOTOS for _ in range(5)]


def test_the_photo_fills_most_of_the_frame_and_moves_a_few_pixels_a_frame() -> None:
    red = photo("red.jpg", 400, 300, (0, 0, 255))  # limited by the frame's height: 480 * 0.78..0.95
    frames = list(compose_frames([red], 20, seed=1))
    boxes = [_extent(f.bgr, (0, 0, 255)) for f in frames]
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 and 0 <= y0 and x1 <= 640 and y1 <= 480  # the whole photo (its faces) stays in the frame
        assert FILL[0] * 480 - 3 <= y1 - y0 <= FILL[1] * 480 + 3
    centres = [((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in boxes]
    steps = [math.dist(a, b) for a, b in zip(centres, centres[1:], strict=False)]
    assert 0 < max(steps) <= 6 and np.mean(steps) >= 0.5  # smooth motion, and it does move
    assert len({b for b in boxes}) > 1


def test_steady_and_change_frames() -> None:
    red = photo("red.jpg", 400, 300, (0, 0, 255))
    steady = list(steady_frames(red, 1.0, fps=10, seed=0))
    assert [t for t, _ in steady] == pytest.approx([i / 10 for i in range(10)])
    boxes = [_extent(f, (0, 0, 255)) for _, f in steady]
    assert max(b[0] for b in boxes) - min(b[0] for b in boxes) <= 4  # held nearly still: jitter of 1-2 px
    assert not np.array_equal(steady[0][1], steady[1][1])  # jitter and noise: no two frames alike

    a, b = np.full((48, 48), 40, np.uint8), np.full((48, 48), 220, np.uint8)
    change = list(change_frames(a, b, 0.5, fps=10, seed=0))
    assert [w for _, _, w in change] == [0] * 5 + [1] * 5
    assert change[5][0] == pytest.approx(0.5)
    centre = [f[240, 320].mean() for _, f, _ in change]  # the face at the same spot: dark, then bright
    assert max(centre[:5]) < 100 < 160 < min(centre[5:])


def test_real_photos_are_loaded_with_their_counts_or_a_reason(tmp_path: Path) -> None:
    photos, why = load_real_photos(tmp_path / "nope")
    assert photos == [] and "faces.json" in why and "--real-faces" in why
    for name in ("b.jpg", "a.jpg"):
        cv2.imwrite(str(tmp_path / name), np.full((60, 80, 3), 128, np.uint8))
    (tmp_path / "faces.json").write_text(json.dumps({"b.jpg": 2, "a.jpg": 1}))
    photos, why = load_real_photos(tmp_path)
    assert why is None and [(p.name, p.faces, p.bgr.shape) for p in photos] == [("a.jpg", 1, (60, 80, 3)),
                                                                                ("b.jpg", 2, (60, 80, 3))]
    (tmp_path / "faces.json").write_text(json.dumps({"a.jpg": 1, "missing.jpg": 1}))
    photos, why = load_real_photos(tmp_path)
    assert photos == [] and "missing.jpg" in why
