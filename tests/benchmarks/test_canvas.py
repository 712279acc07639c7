"""Faces on canvases (``benchmarks.canvas``): the backgrounds, the padded and scaled face patch, its blending."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.canvas import BACKGROUNDS, background, face_patch, paste
from core.labels import INPUT_SIZE


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_every_background_is_a_bgr_frame_drawn_from_the_seed(kind: str) -> None:
    image = background(kind, 64, 48, np.random.default_rng(3))
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    assert np.array_equal(image, background(kind, 64, 48, np.random.default_rng(3)))
    if kind != "plain":
        assert image.std() > 0  # texture, not one level


def test_an_unknown_background_is_named() -> None:
    with pytest.raises(ValueError, match="'stripes'"):
        background("stripes", 64, 48, np.random.default_rng(0))


def test_the_face_patch_holds_the_face_scaled_with_a_feathered_pad() -> None:
    face = np.tile(np.arange(INPUT_SIZE, dtype=np.uint8) * 5, (INPUT_SIZE, 1))
    patch, alpha, offset = face_patch(face, 96, pad=0.25)
    full = patch.shape[0]
    assert patch.shape == (full, full, 3) and alpha.shape == (full, full)
    assert full == round(96 * (INPUT_SIZE + 2 * 12) / INPUT_SIZE) and offset == (full - 96) // 2
    assert np.all(alpha[offset : offset + 96, offset : offset + 96] == 1.0)  # the face itself is opaque
    assert alpha[0, 0] == 0.0 and alpha[0, full // 2] == 0.0  # the patch edge is transparent
    inner = patch[offset : offset + 96, offset : offset + 96, 0]
    assert inner[:, :8].mean() < inner[:, -8:].mean()  # the face's left-to-right ramp survives the scaling


def test_paste_blends_by_alpha_in_place() -> None:
    frame = np.full((10, 10, 3), 100, np.uint8)
    patch = np.full((4, 4, 3), 200, np.uint8)
    alpha = np.zeros((4, 4), np.float32)
    alpha[1:3, 1:3] = 1.0
    alpha[0, 0] = 0.5
    paste(frame, patch, alpha, 3, 2)
    assert np.all(frame[3:5, 4:6] == 200)  # opaque: the patch
    assert frame[2, 3, 0] == 150  # half: the mean
    assert frame[2, 4, 0] == 100 and frame[0, 0, 0] == 100  # transparent and outside: untouched
