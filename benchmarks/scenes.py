"""What the camera benchmark shows its detectors: frames made of the real photos and of evaluation faces.

- :func:`compose_frames`: real-content 640x480 frames, each photo over a still background, panning and zooming a
  little every frame (detection time, faces found and false, the pipeline's FPS);
- :func:`steady_frames`: one photo held nearly still with sensor-like noise (flicker);
- :func:`change_frames`: one evaluation face, then another of a different label, at the same spot (reaction).

The photos are ``../shared/data/real-faces`` (:func:`load_real_photos`; ``faces.json`` counts their faces).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.canvas import background, face_patch, paste
from core.labels import INPUT_SIZE
from core.paths import project_root

REAL_FACES = Path("shared") / "data" / "real-faces"  # beside the repository, as the FER2013 file
FRAME_SIZE = (640, 480)
FPS = 30.0
FILL = (0.78, 0.95)  # the photo spans this share of the frame's limiting side, drifting between the two
SPEED_PX = (1.0, 3.0)  # pixels per frame the photo moves
ZOOM_STEP = 0.003  # per frame, a fraction of the fitted size
COMPOSE_BACKGROUNDS: tuple[str, ...] = ("plain", "gradient", "noise", "checker")
JITTER_PX = 1.5  # steady face: the photo moves at most this far (sub-pixel) from its place, per frame
NOISE_SIGMA = 2.5  # sensor-like noise, grey levels
NOISE_FIELDS = 6  # precomputed noise images, drawn per frame
CHANGE_SIDE = 192  # the face's side in the reaction test (FER's 48 px x 4)


@dataclass(frozen=True)
class Photo:
    name: str
    bgr: np.ndarray
    faces: int  # how many faces it shows (faces.json)


def default_real_faces() -> Path:
    return project_root().parent / REAL_FACES


def load_real_photos(folder: Path) -> tuple[list[Photo], str | None]:
    """(photos in name order, None), or ([], why not) when the folder or its ``faces.json`` is missing/unusable."""
    folder = Path(folder).expanduser()
    index = folder / "faces.json"
    if not index.is_file():
        return [], f"real photos not found ({index} missing; pass --real-faces DIR)"
    try:
        counts = json.loads(index.read_text(encoding="utf-8"))
        if not isinstance(counts, dict):
            raise ValueError("expected an object {file: face count}")
    except (OSError, ValueError) as exc:
        return [], f"real photos: {index} unreadable ({exc})"
    photos = []
    for name in sorted(counts):
        bgr = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        count = counts[name]
        if bgr is None or not isinstance(count, int) or count < 0:
            return [], f"real photos: {folder / name} missing, undecodable or with a bad face count"
        photos.append(Photo(name, bgr, count))
    if not photos:
        return [], f"real photos: {index} lists no photos"
    return photos, None


@dataclass
class ComposedFrame:
    index: int
    bgr: np.ndarray
    photo: str
    expected: int  # faces in the frame (the photo's count)


def _fit_photo(photo: np.ndarray, size: tuple[int, int], fill: float) -> np.ndarray:
    """The photo shrunk (area interpolation) so that it spans ``fill`` of the frame's limiting side."""
    width, height = size
    scale = fill * min(width / photo.shape[1], height / photo.shape[0])
    new = (max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(photo, new, interpolation=interpolation)


def _warp_onto(canvas: np.ndarray, image: np.ndarray, scale: float, x: float, y: float) -> np.ndarray:
    """``image`` scaled by ``scale`` with its top-left corner at (x, y) (sub-pixel), over ``canvas`` (a copy)."""
    matrix = np.array([[scale, 0.0, x], [0.0, scale, y]], np.float64)
    out = canvas.copy()
    cv2.warpAffine(image, matrix, (canvas.shape[1], canvas.shape[0]), dst=out, flags=cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_TRANSPARENT)
    return out


def compose_frames(photos: Sequence[Photo], frames_per_photo: int, size: tuple[int, int] = FRAME_SIZE,
                   seed: int = 0) -> Iterator[ComposedFrame]:
    """``frames_per_photo`` frames per photo: the photo over a still background (plain, gradient, noise,
    checker in turn), spanning 78-95% of the frame's limiting side, panning 1-3 px and zooming 0.3% per frame,
    bouncing off the frame's edges (so every face stays inside). Deterministic given ``seed``."""
    rng = np.random.default_rng(seed)
    width, height = size
    index = 0
    for p, photo in enumerate(photos):
        image = _fit_photo(photo.bgr, size, FILL[1])  # warped with scales <= 1 from here
        base = background(COMPOSE_BACKGROUNDS[p % len(COMPOSE_BACKGROUNDS)], width, height, rng)
        zoom = float(rng.uniform(*FILL)) / FILL[1]
        step = float(rng.choice([-1.0, 1.0])) * ZOOM_STEP
        angle, speed = float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(*SPEED_PX))
        vx, vy = speed * math.cos(angle), speed * math.sin(angle)
        x = float(rng.uniform(0, 1)) * max(0.0, width - image.shape[1] * zoom)
        y = float(rng.uniform(0, 1)) * max(0.0, height - image.shape[0] * zoom)
        for _ in range(frames_per_photo):
            free_x, free_y = max(0.0, width - image.shape[1] * zoom), max(0.0, height - image.shape[0] * zoom)
            x, y = min(max(x, 0.0), free_x), min(max(y, 0.0), free_y)
            yield ComposedFrame(index, _warp_onto(base, image, zoom, x, y), photo.name, photo.faces)
            index += 1
            zoom += step
            if not FILL[0] / FILL[1] <= zoom <= 1.0:
                step, zoom = -step, min(max(zoom, FILL[0] / FILL[1]), 1.0)
            x, y = x + vx, y + vy
            if not 0.0 <= x <= free_x:
                vx = -vx
            if not 0.0 <= y <= free_y:
                vy = -vy


def _noise_fields(shape: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray]:
    return [np.rint(rng.normal(0.0, NOISE_SIGMA, size=shape)).astype(np.int16) for _ in range(NOISE_FIELDS)]


def _noisy(frame: np.ndarray, noise: np.ndarray) -> np.ndarray:
    return np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def steady_frames(photo: Photo, seconds: float, fps: float = FPS, size: tuple[int, int] = FRAME_SIZE,
                  seed: int = 0) -> Iterator[tuple[float, np.ndarray]]:
    """(timestamp, frame): the photo centred at 90% of the frame, moved up to ``JITTER_PX`` (sub-pixel) from its
    place each frame, with sensor-like Gaussian noise; ``seconds * fps`` frames of source time."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = _fit_photo(photo.bgr, size, 0.9)
    base = background("gradient", width, height, rng)
    x0, y0 = (width - image.shape[1]) / 2, (height - image.shape[0]) / 2
    noise = _noise_fields((height, width, 3), rng)
    for i in range(int(round(seconds * fps))):
        dx, dy = rng.uniform(-JITTER_PX, JITTER_PX, size=2)
        frame = _warp_onto(base, image, 1.0, x0 + dx, y0 + dy)
        yield i / fps, _noisy(frame, noise[int(rng.integers(len(noise)))])


def change_frames(face_a: np.ndarray, face_b: np.ndarray, seconds_each: float, fps: float = FPS,
                  size: tuple[int, int] = FRAME_SIZE, seed: int = 0) -> Iterator[tuple[float, np.ndarray, int]]:
    """(timestamp, frame, 0 for face A / 1 for face B): A then B (48x48 gray each) at the same spot, CHANGE_SIDE
    pixels, with the benchmark clip's context padding, 1 px jitter and sensor-like noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    base = background("plain", width, height, rng)
    patches = [face_patch(f.reshape(INPUT_SIZE, INPUT_SIZE), CHANGE_SIDE, 0.25) for f in (face_a, face_b)]
    full = patches[0][0].shape[0]
    x0 = (width - full) // 2 + int(rng.integers(-40, 41))
    y0 = (height - full) // 2 + int(rng.integers(-10, 11))
    noise = _noise_fields((height, width, 3), rng)
    per_face = int(round(seconds_each * fps))
    for i in range(2 * per_face):
        which = 0 if i < per_face else 1
        patch, alpha, _ = patches[which]
        frame = base.copy()
        paste(frame, patch, alpha, x0 + int(rng.integers(-1, 2)), y0 + int(rng.integers(-1, 2)))
        yield i / fps, _noisy(frame, noise[int(rng.integers(len(noise)))]), which
