"""Face crops: square, margined, clipped to the frame and edge-padded, 48x48 uint8 gray."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from device.detector import Box
from device.preprocess import DEFAULT_MARGIN, crop_face, crop_faces, square_box, to_gray


@pytest.fixture
def gradient() -> np.ndarray:
    """200x300 gray image whose value encodes the column: easy to check which region a crop took."""
    return np.tile(np.linspace(0, 255, 300).astype(np.uint8), (200, 1))


def test_to_gray() -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255  # red
    assert to_gray(bgr).shape == (4, 5) and int(to_gray(bgr)[0, 0]) == 76
    assert to_gray(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)).shape == (4, 5)
    gray = np.zeros((4, 5), np.uint8)
    assert to_gray(gray) is gray
    with pytest.raises(ValueError):
        to_gray(np.zeros((4, 5, 2), np.uint8))


def test_square_box_with_margin() -> None:
    assert square_box(Box(10, 20, 100, 100), 0.1) == (0, 10, 120)
    assert square_box((10, 20, 50, 100), 0.0) == (-15, 20, 100)  # squared around the centre


def test_default_margin_is_small() -> None:
    assert 0.0 <= DEFAULT_MARGIN <= 0.1  # FER2013 framing ~ Haar box (see device/preprocess.py)


def test_crop_inside_the_frame(gradient: np.ndarray) -> None:
    face = crop_face(gradient, Box(100, 50, 96, 96), margin=0.0)
    assert face.shape == (48, 48) and face.dtype == np.uint8
    expected = cv2.resize(gradient[50:146, 100:196], (48, 48), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(face, expected)


def test_crop_pads_with_edge_pixels(gradient: np.ndarray) -> None:
    image = gradient // 2 + 100  # columns 100..227: the first column is not black, so black padding would show
    face = crop_face(image, Box(-20, -20, 60, 60), margin=0.0)  # top-left corner, partly outside
    assert face.shape == (48, 48)
    left_pad_columns = face[:, : 48 * 20 // 60 - 1]
    assert image[0, 0] == 100 and np.all(left_pad_columns == image[0, 0])  # replicated first column, not black
    right = crop_face(image, Box(280, 100, 40, 40), margin=0.0)  # past the right edge: the last column repeated
    assert np.all(right[:, -10:] == image[0, -1])


def test_crop_from_bgr_equals_crop_from_gray(gradient: np.ndarray) -> None:
    bgr = cv2.cvtColor(gradient, cv2.COLOR_GRAY2BGR)
    box = Box(30, 30, 80, 80)
    np.testing.assert_array_equal(crop_face(bgr, box), crop_face(gradient, box))


def test_crop_outside_the_frame_is_an_error(gradient: np.ndarray) -> None:
    with pytest.raises(ValueError, match="outside"):
        crop_face(gradient, Box(1000, 1000, 10, 10))


def test_crop_faces_batch(gradient: np.ndarray) -> None:
    assert crop_faces(gradient, []).shape == (0, 48, 48)
    assert crop_faces(gradient, [Box(0, 0, 50, 50), Box(100, 100, 30, 30)]).shape == (2, 48, 48)


@pytest.mark.parametrize("margin", [float("inf"), float("nan"), -0.5, -1.0])
def test_unusable_margin_is_a_clear_error(gradient: np.ndarray, margin: float) -> None:
    """Not an OverflowError from deep inside, nor a crop of nothing: the margin is named."""
    with pytest.raises(ValueError, match="margin"):
        crop_face(gradient, Box(30, 30, 80, 80), margin=margin)
