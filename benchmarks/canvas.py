"""Faces on canvases: the backgrounds and the blending that the labelled clip (:mod:`benchmarks.clip`), the framing
calibration (:mod:`benchmarks.calibrate`) and the camera part's scenes (:mod:`benchmarks.scenes`) share.

A 48x48 face is padded with its edge pixels, scaled up with ``INTER_CUBIC`` (:func:`face_patch`) and blended into a
frame with a feathered edge (:func:`paste`) over one of the synthetic :data:`BACKGROUNDS` (:func:`background`).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.labels import INPUT_SIZE

BACKGROUNDS: tuple[str, ...] = ("plain", "noise", "gradient", "checker")


def background(kind: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A (height, width, 3) uint8 BGR background of ``kind``."""
    if kind == "plain":
        level = int(rng.integers(60, 200))
        return np.full((height, width, 3), level, np.uint8)
    if kind == "noise":
        small = rng.normal(128, 45, size=(height // 8 + 1, width // 8 + 1, 3))
        image = cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
        image += rng.normal(0, 12, size=image.shape)
        return np.clip(image, 0, 255).astype(np.uint8)
    if kind == "gradient":
        c0, c1 = rng.integers(20, 236, size=3), rng.integers(20, 236, size=3)
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        t = xx * np.cos(angle) + yy * np.sin(angle)
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        return (c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]).astype(np.uint8)
    if kind == "checker":
        cell = int(rng.integers(16, 64))
        c0, c1 = rng.integers(40, 216, size=3), rng.integers(40, 216, size=3)
        yy, xx = np.mgrid[0:height, 0:width]
        mask = ((xx // cell + yy // cell) % 2).astype(bool)
        image = np.empty((height, width, 3), np.uint8)
        image[~mask], image[mask] = c0, c1
        return image
    raise ValueError(f"background {kind!r}: expected one of {BACKGROUNDS}")


def face_patch(face: np.ndarray, side: int, pad: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(patch BGR uint8, alpha float32 in 0..1, offset of the face inside the patch) for a ``side``-pixel face."""
    border = int(round(pad * INPUT_SIZE))
    padded = cv2.copyMakeBorder(face.reshape(INPUT_SIZE, INPUT_SIZE), border, border, border, border,
                                cv2.BORDER_REPLICATE)
    full = int(round(side * padded.shape[0] / INPUT_SIZE))
    patch = cv2.resize(padded, (full, full), interpolation=cv2.INTER_CUBIC)
    offset = (full - side) // 2
    # alpha: 1 over the face and the inner half of the padding, a smooth ramp to 0 at the patch edge
    ramp = max(1, offset // 2)
    dist = np.minimum.outer(np.minimum(np.arange(full), np.arange(full)[::-1]),
                            np.minimum(np.arange(full), np.arange(full)[::-1]))
    alpha = np.clip(dist / ramp, 0.0, 1.0).astype(np.float32)
    alpha = 0.5 - 0.5 * np.cos(np.pi * alpha)
    return cv2.cvtColor(patch, cv2.COLOR_GRAY2BGR), alpha, offset


def paste(frame: np.ndarray, patch: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Blend ``patch`` into ``frame`` at (x, y) in place; the patch lies inside the frame."""
    h, w = patch.shape[:2]
    region = frame[y : y + h, x : x + w].astype(np.float32)
    a = alpha[..., None]
    frame[y : y + h, x : x + w] = np.clip(a * patch + (1.0 - a) * region, 0, 255).astype(np.uint8)
