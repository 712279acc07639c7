"""Face crops framed like FER2013: square, margined box -> 48x48 grayscale uint8.

Margin choice: FER2013 faces are framed almost exactly like an OpenCV Haar frontal-face box. Running
``haarcascade_frontalface_default`` (scale 1.1, 5 neighbours) on ~1,500 FER2013 training images
(edge-padded, upscaled x4) gave a median FER-frame/Haar-box side ratio of 1.01-1.03 (IQR 0.95-1.15) and
a box centre within 0.2 px of the image centre. So the default margin is small: 2% of the box side per
side (frame = 1.04 x box). Boxes are squared around their centre first (non-Haar detectors, e.g. YuNet,
give taller-than-wide boxes), so faces are never stretched.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from core.labels import INPUT_SIZE
from device.framing import Framing

DEFAULT_MARGIN: float = 0.02


class BoxLike(Protocol):
    x: int
    y: int
    w: int
    h: int


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR, BGRA or already-gray image -> 2-D uint8 gray."""
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    raise ValueError(f"image: shape {image.shape}, expected (H, W) gray or (H, W, 3) BGR")


def read_face_image(path) -> np.ndarray | None:
    """An image file as a (48, 48) uint8 gray face (OpenCV decodes it, INTER_AREA resizes it), or None when it
    cannot be decoded. The image-folder edition of FER2013 stores its faces this way."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    if img.shape != (INPUT_SIZE, INPUT_SIZE):
        img = cv2.resize(img, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return img


def square_box(box: BoxLike | tuple[int, int, int, int], margin: float) -> tuple[int, int, int]:
    """(x0, y0, side) of the square with side ``max(w, h) * (1 + 2 * margin)`` centred on ``box``.

    ``margin`` is a fraction of the box side per side: finite and > -0.5 (a negative margin crops tighter)."""
    return Framing.from_margin(margin).square(*_xywh(box))


def _xywh(box: BoxLike | tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return (box.x, box.y, box.w, box.h) if hasattr(box, "x") else box  # type: ignore[union-attr,return-value]


def crop_face(
    image: np.ndarray, box: BoxLike | tuple[int, int, int, int], margin: float | Framing = DEFAULT_MARGIN
) -> np.ndarray:
    """(48, 48) uint8 gray crop of ``box`` framed by ``margin`` (a square margin, a fraction of the box side a side)
    or by a detector's calibrated :class:`~device.framing.Framing`; out-of-frame parts are padded with edge pixels.

    ``image`` is gray (H, W) or BGR (H, W, 3); a BGR crop is converted to gray after cropping.
    """
    height, width = image.shape[:2]
    framing = margin if isinstance(margin, Framing) else Framing.from_margin(margin)
    x0, y0, side = framing.square(*_xywh(box), keypoints=getattr(box, "keypoints", None))
    x1, y1 = x0 + side, y0 + side
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if cx0 >= cx1 or cy0 >= cy1:
        raise ValueError(f"box {tuple(box) if isinstance(box, tuple) else box} lies outside the {width}x{height} frame")
    patch = to_gray(image[cy0:cy1, cx0:cx1])
    pads = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
    if any(pads):
        patch = cv2.copyMakeBorder(patch, *pads, borderType=cv2.BORDER_REPLICATE)
    interpolation = cv2.INTER_AREA if side > INPUT_SIZE else cv2.INTER_LINEAR
    face = cv2.resize(patch, (INPUT_SIZE, INPUT_SIZE), interpolation=interpolation)
    return np.ascontiguousarray(face, dtype=np.uint8)


def crop_faces(image: np.ndarray, boxes: list, margin: float | Framing = DEFAULT_MARGIN) -> np.ndarray:
    """(N, 48, 48) uint8 batch of :func:`crop_face`; (0, 48, 48) for no boxes."""
    if not boxes:
        return np.empty((0, INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)
    return np.stack([crop_face(image, b, margin) for b in boxes])
