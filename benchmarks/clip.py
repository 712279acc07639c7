"""A reproducible, labelled clip: the dataset's test faces pasted into video frames, with a ground-truth file.

Each face (48x48, FER2013's tight crop) is padded by ``pad`` of its side on every side (edge pixels, so
the detector sees a face with some context), scaled up with ``INTER_CUBIC`` and blended into a plain,
noise, gradient or checker background with a feathered edge. A face stays a few frames, drifting a few
pixels per frame (one track for the tracker); consecutive faces never overlap, so the tracker cannot
carry one face's smoothed scores over to the next. Some frames show 2-3 faces, a few none. Faces are
drawn class-balanced (round-robin over the emotions), deterministically from ``seed``.

Ground truth ``clip.json``: per frame, a list of ``{box: [x, y, w, h], label}`` where the box is the face
itself (the 48x48 crop's area, framed like a Haar box) and ``label`` the emotion name.

Style ``photos`` (``--style photos``): the same faces, labels and ground truth, but each face is put where a real
photo's face was (``../shared/data/real-faces``, ``--real-faces``), so the detector sees hair, ears, neck, body and
the photo's own background around it. At build time the shipped BlazeFace (short-range) finds each photo's faces
(``faces.json`` says how many; a photo where it finds fewer is left out) and BlazeFace's calibrated framing
(``device/models/framing.json``) turns each box into the FER2013-style square of that face; the square is the
ground-truth box. Per segment one photo is scaled so that its face square is ``photo_sides`` (80-260 px at 640x480,
log-uniform), placed at a random position, and drifts a few pixels per frame; the evaluation face (48x48, scaled with
``INTER_CUBIC``) replaces the square's content: its luminance, matched in mean and (within limits) contrast to the
photo's face there, with the photo's own colour smoothed over it; its edge fades into the photo across a ring outside
the square (12% of the side), so the photo's hair and neck continue around it while a crop of the square is still
the evaluation face. Where the photo does not cover the frame, its edge pixels are carried outwards and blurred (a
letterbox in the photo's own colours: no black bars, no mirrored face) and the photo's own edge is feathered into
that, so no hard edge lies near a face. Empty segments show a photo's "plate", enlarged: a face-free strip beside,
above or (else) below its faces, keeping clear of hair and neck.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from benchmarks.canvas import BACKGROUNDS, background, face_patch, paste
from benchmarks.data import EvalFaces, load_eval_faces
from benchmarks.errors import BenchError
from benchmarks.progress import progress_bar
from benchmarks.scenes import default_real_faces, load_real_photos
from core.fileio import atomic_write_json
from core.labels import EMOTIONS, INPUT_SIZE, NUM_CLASSES
from device.detector import Box

FORMAT = "feredge-clip/1"
STYLES: tuple[str, ...] = ("pasted", "photos")
# (suffix, fourcc): mp4 where this OpenCV can write it, else Motion-JPEG in AVI (always available).
CONTAINERS: tuple[tuple[str, str], ...] = ((".mp4", "mp4v"), (".avi", "MJPG"))
MULTI_FACE_SHARE = 0.15  # share of segments with 2-3 faces
EMPTY_EVERY = 8  # one empty segment per this many face segments
RECENT_FRAMES = 8  # a new face avoids every box shown this many frames back (> the tracker's max_missed)
RECENT_MAX_IOU = 0.05  # ... by this much at most: far below the tracker's matching IoU (0.3)
MAX_DRIFT = 3  # pixels per frame
GT_IOU = 0.3
REFERENCE_SIZE = (640, 480)  # ClipOptions.min_side/max_side are for this frame size, scaled for others
MIN_FACE = 40  # pixels: well above the Haar detector's smallest window at detect width 320
# --style photos
PHOTO_DETECTOR = "blazeface"  # finds the real photos' faces at build time; its calibrated framing gives the squares
PHOTO_RING = 0.12  # the evaluation face fades into the photo across a ring this share of its side outside its square
PHOTO_EDGE = 0.04  # the photo's own outer ramp into the fill, a share of its shorter side (at least 4 px)
CONTRAST_RANGE = (0.75, 1.33)  # the evaluation face's contrast is scaled towards the photo face's within this
CHROMA_SIGMA = 1 / 6  # the photo's colour under the face is smoothed with this sigma (a share of the side)
# a face square's surroundings (hair, ears, neck) kept out of the plate: left, top, right, bottom, in square sides
CLEARANCE = (0.5, 0.6, 0.5, 0.35)
MIN_PLATE = 32  # pixels: a smaller face-free strip is no plate
FILL_BLUR = 0.03  # the letterbox fill's Gaussian sigma, a share of the frame's longer side


@dataclass(frozen=True)
class ClipOptions:
    data: Path
    out: Path
    frames_per_face: int = 3
    faces: int = 60
    seed: int = 0
    size: tuple[int, int] = (640, 480)  # width, height
    fps: float = 10.0
    min_side: int = 96
    max_side: int = 240
    pad: float = 0.25
    check: bool = True  # run the Haar detector over the written clip and record what it finds
    style: str = "pasted"  # "pasted" (faces on synthetic backgrounds) or "photos" (faces where real photos' were)
    real_faces: Path | None = None  # photos style: folder with faces.json (None: ../shared/data/real-faces)
    photo_sides: tuple[int, int] = (80, 260)  # photos style: face square sides at 640x480 (log-uniform)


@dataclass
class ClipResult:
    video: Path
    ground_truth: Path
    frames: int
    faces_placed: int
    haar_check: dict | None = None
    notes: list[str] = field(default_factory=list)
    blazeface_check: dict | None = None  # photos style: the same check with BlazeFace (short-range)


def parse_size(text: str) -> tuple[int, int]:
    """'640x480' -> (640, 480)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480")
    width, height = int(parts[0]), int(parts[1])
    if width < 160 or height < 120:
        raise ValueError(f"size {text!r}: at least 160x120")
    return width, height


def pick_faces(labels: np.ndarray, count: int, rng: np.random.Generator) -> list[int]:
    """``count`` indices, class-balanced round-robin over the emotions present (without repeats while possible)."""
    pools = {k: list(rng.permutation(np.flatnonzero(labels == k))) for k in range(NUM_CLASSES)}
    pools = {k: v for k, v in pools.items() if v}
    order = list(pools)
    picked: list[int] = []
    while len(picked) < count and any(pools.values()):
        for k in order:
            if pools[k] and len(picked) < count:
                picked.append(int(pools[k].pop()))
    while len(picked) < count:  # fewer faces than asked: repeat them
        picked.append(picked[len(picked) % max(1, len(picked))] if picked else 0)
    return picked


@dataclass
class _Placed:
    face: int  # index into the split
    label: int
    side: int
    x: int  # patch top-left
    y: int
    full: int  # patch side
    offset: int  # face offset inside the patch

    def box(self) -> Box:
        return Box(self.x + self.offset, self.y + self.offset, self.side, self.side)

    def patch_box(self) -> Box:
        return Box(self.x, self.y, self.full, self.full)


def _overlaps(box: Box, others: list[Box], max_iou: float = 0.0) -> bool:
    return any(box.iou(o) > max_iou for o in others)


def _place(
    faces: list[tuple[int, int]], options: ClipOptions, recent: list[Box], rng: np.random.Generator
) -> list[_Placed]:
    """Positions and sizes for a segment's faces: inside the frame, patches apart, faces away from ``recent``."""
    width, height = options.size
    scale = 1.0 + 2.0 * round(options.pad * INPUT_SIZE) / INPUT_SIZE
    ratio = min(width / REFERENCE_SIZE[0], height / REFERENCE_SIZE[1])  # face sizes are given for 640x480
    max_side = min(int(options.max_side * ratio),
                   int((min(width, height) - 2 * MAX_DRIFT * options.frames_per_face) / scale))
    max_side = max(MIN_FACE, min(max_side, int(width / (scale * len(faces))) - 2))
    min_side = min(max(MIN_FACE, int(options.min_side * ratio)), max_side)
    avoid_recent = True
    for attempt in range(400):
        if attempt == 300:
            avoid_recent = False  # a crowded frame: give up keeping clear of the previous faces
        top = max(min_side, int(max_side * 0.9 ** (attempt // 50)))  # smaller faces fit more easily
        low = min_side if attempt < 200 else max(MIN_FACE, int(min_side * 0.85 ** ((attempt - 150) // 50)))
        placed: list[_Placed] = []
        for face, label in faces:
            side = int(rng.integers(low, max(low, top) + 1))
            full = int(round(side * scale))
            offset = (full - side) // 2
            margin = MAX_DRIFT * options.frames_per_face
            x = int(rng.integers(margin, max(margin + 1, width - full - margin)))
            y = int(rng.integers(margin, max(margin + 1, height - full - margin)))
            placed.append(_Placed(face, label, side, x, y, full, offset))
        patches = [p.patch_box() for p in placed]
        apart = all(not _overlaps(a, patches[i + 1 :]) for i, a in enumerate(patches))
        clear = not avoid_recent or not any(_overlaps(p.box(), recent, RECENT_MAX_IOU) for p in placed)
        if apart and clear:
            return placed
    raise BenchError(f"clip: cannot place {len(faces)} faces in a {width}x{height} frame; use a larger --size")


def plan_segments(n_faces: int, rng: np.random.Generator) -> list[int]:
    """Faces per segment (0 = an empty segment) for ``n_faces`` faces in all."""
    counts: list[int] = []
    left = n_faces
    while left > 0:
        k = int(rng.integers(2, 4)) if left >= 2 and rng.random() < MULTI_FACE_SHARE else 1
        k = min(k, left)
        counts.append(k)
        left -= k
    if not any(c > 1 for c in counts) and n_faces >= 4:  # always some multi-face frames
        counts[len(counts) // 2 : len(counts) // 2 + 2] = [2]
    return _with_empty(counts, 0)


def _with_empty(segments: list, empty: object) -> list:
    """``segments`` with one ``empty`` entry per EMPTY_EVERY (at least one), spread between them."""
    segments = list(segments)
    n_empty = max(1, len(segments) // EMPTY_EVERY)
    for i in range(n_empty):
        segments.insert(min(len(segments), 1 + (i + 1) * len(segments) // (n_empty + 1) + i), empty)
    return segments


def _open_writer(out: Path, size: tuple[int, int], fps: float) -> tuple[cv2.VideoWriter, Path, Path]:
    """(writer, partial path, final path) for the first container this OpenCV can write."""
    for suffix, fourcc in CONTAINERS:
        final = out / f"clip{suffix}"
        partial = out / f".clip.partial{suffix}"
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if writer.isOpened():
            return writer, partial, final
        writer.release()
        partial.unlink(missing_ok=True)
    raise BenchError("clip: this OpenCV can write neither mp4 (mp4v) nor avi (MJPG) video")


def render_clip(faces: EvalFaces, options: ClipOptions, progress: bool = True) -> tuple[list[np.ndarray], list[dict]]:
    """(frames, ground truth per frame), deterministic given ``options.seed``."""
    if options.style == "photos":
        photos, _ = real_photo_faces(options.real_faces)
        return render_photo_clip(faces, photos, options)
    if options.style != "pasted":
        raise BenchError(f"clip: style {options.style!r}: expected one of {', '.join(STYLES)}")
    rng = np.random.default_rng(options.seed)
    chosen = pick_faces(faces.y, options.faces, rng)
    counts = plan_segments(len(chosen), rng)
    width, height = options.size
    frames: list[np.ndarray] = []
    truth: list[dict] = []
    shown: list[tuple[int, Box]] = []  # (frame index, face box) of every face shown
    next_face = 0
    for segment, count in enumerate(counts):
        kind = BACKGROUNDS[segment % len(BACKGROUNDS)]
        base = background(kind, width, height, rng)
        members = [(chosen[i], int(faces.y[chosen[i]])) for i in range(next_face, next_face + count)]
        next_face += count
        recent = [b for f, b in shown if f >= len(frames) - RECENT_FRAMES]
        placed = _place(members, options, recent, rng) if members else []
        patches = [face_patch(faces.x[p.face], p.side, options.pad) for p in placed]
        drift = [(int(rng.integers(-MAX_DRIFT, MAX_DRIFT + 1)), int(rng.integers(-MAX_DRIFT, MAX_DRIFT + 1)))
                 for _ in placed]
        for step in range(options.frames_per_face):
            frame = base.copy()
            gt_faces = []
            for p, (patch, alpha, _), (dx, dy) in zip(placed, patches, drift, strict=True):
                x = int(np.clip(p.x + dx * step, 0, width - p.full))
                y = int(np.clip(p.y + dy * step, 0, height - p.full))
                paste(frame, patch, alpha, x, y)
                box = Box(x + p.offset, y + p.offset, p.side, p.side)
                shown.append((len(frames), box))
                gt_faces.append({"box": box.as_list(), "label": EMOTIONS[p.label], "label_index": p.label,
                                 "face": p.face})
            truth.append({"index": len(frames), "segment": segment, "background": kind, "faces": gt_faces})
            frames.append(frame)
    return frames, truth


# ---------------------------------------------------------------- style "photos": faces where real photos' faces were


@dataclass(frozen=True)
class PhotoFaces:
    """A real photo, its faces' FER2013-style squares (x0, y0, side) in its pixels, left to right, and its plate."""

    name: str
    bgr: np.ndarray
    squares: tuple[tuple[int, int, int], ...]
    plate: tuple[int, int, int, int] | None  # (x, y, w, h): the largest face-free strip, None when there is none


def face_free_strip(shape: tuple[int, ...], squares: list[tuple[int, int, int]]) -> tuple[int, int, int, int] | None:
    """A face-free part of the photo, (x, y, w, h): the largest strip left of, right of or above every face square
    with its CLEARANCE (hair, ears, neck) at least 2 x MIN_PLATE pixels on a side (the photo's background), else the
    largest one of those and the strip below (the body) at least MIN_PLATE; None when there is none."""
    height, width = shape[:2]
    left = min(x - CLEARANCE[0] * side for x, _, side in squares)
    top = min(y - CLEARANCE[1] * side for _, y, side in squares)
    right = max(x + (1 + CLEARANCE[2]) * side for x, _, side in squares)
    bottom = max(y + (1 + CLEARANCE[3]) * side for _, y, side in squares)
    left, top = int(np.floor(max(0.0, left))), int(np.floor(max(0.0, top)))
    right, bottom = int(np.ceil(min(width, right))), int(np.ceil(min(height, bottom)))
    strips = [(0, 0, left, height), (right, 0, width - right, height), (0, 0, width, top),
              (0, bottom, width, height - bottom)]
    backdrop = [s for s in strips[:3] if min(s[2], s[3]) >= 2 * MIN_PLATE]  # beside or above: the background
    strips = backdrop or [s for s in strips if min(s[2], s[3]) >= MIN_PLATE]  # else below (the body) will do
    return max(strips, key=lambda s: s[2] * s[3]) if strips else None


def real_photo_faces(folder: Path | None = None) -> tuple[list[PhotoFaces], list[str]]:
    """(photos with their faces' squares, notes on photos left out). The shipped BlazeFace (short-range) finds the
    faces, its calibrated framing squares them. A BenchError when the folder, its faces.json, the detector or its
    framing is missing, or no photo is usable."""
    from device.detector import DetectorError, make_detector
    from device.framing import FramingError, calibrated_framing
    from device.preprocess import to_gray

    folder = Path(folder) if folder is not None else default_real_faces()
    photos, why = load_real_photos(folder)
    if why:
        raise BenchError(f"clip --style photos: {why}")
    try:
        detector = make_detector(PHOTO_DETECTOR)
        framing = calibrated_framing(PHOTO_DETECTOR)
    except (DetectorError, FramingError) as exc:
        raise BenchError(f"clip --style photos: {exc}") from exc
    if framing is None:
        raise BenchError(f"clip --style photos: {PHOTO_DETECTOR} has no calibrated framing in "
                         "device/models/framing.json; run python -m benchmarks calibrate first")
    usable: list[PhotoFaces] = []
    notes: list[str] = []
    for photo in photos:
        if photo.faces < 1:
            continue
        boxes = detector.detect(to_gray(photo.bgr), photo.bgr)
        if len(boxes) < photo.faces:
            notes.append(f"{photo.name}: {PHOTO_DETECTOR} finds {len(boxes)} of its {photo.faces} faces; left out "
                         "(a real face would stay unlabelled)")
            continue
        squares = sorted(framing.square(b.x, b.y, b.w, b.h) for b in boxes[: photo.faces])  # largest, left to right
        grown = [Box(x - face_ring(side), y - face_ring(side), side + 2 * face_ring(side), side + 2 * face_ring(side))
                 for x, y, side in squares]
        if any(_overlaps(a, grown[i + 1 :]) for i, a in enumerate(grown)):
            notes.append(f"{photo.name}: its faces' squares (and the rings they fade across) overlap; left out")
            continue
        usable.append(PhotoFaces(photo.name, photo.bgr, tuple(squares), face_free_strip(photo.bgr.shape, squares)))
    if not usable:
        raise BenchError(f"clip --style photos: no usable photo in {folder} ({'; '.join(notes) or 'none'})")
    return usable, notes


def plan_photo_segments(photos: list[PhotoFaces], n_faces: int, rng: np.random.Generator) -> list[int | None]:
    """Photo index per segment (None: an empty segment), photos in a seeded order, cycled, until ``n_faces`` faces
    are placed; a photo with more faces than are left is passed over while another fits."""
    order = [int(i) for i in rng.permutation(len(photos))]
    plan: list[int | None] = []
    left, turn = n_faces, 0
    while left > 0:
        ahead = [order[(turn + k) % len(order)] for k in range(len(order))]
        fits = [i for i in ahead if len(photos[i].squares) <= left]
        chosen = fits[0] if fits else min(ahead, key=lambda i: len(photos[i].squares))
        turn = (order.index(chosen) + 1) % len(order)
        plan.append(chosen)
        left -= len(photos[chosen].squares)
    return _with_empty(plan, None)


def _feather(height: int, width: int, ramp: int) -> np.ndarray:
    """(height, width) float32 alpha: 1 inside, a raised-cosine ramp to 0 over ``ramp`` pixels at every edge."""
    ramp = max(1, ramp)
    ys = np.minimum(np.arange(height), np.arange(height)[::-1]).astype(np.float32)
    xs = np.minimum(np.arange(width), np.arange(width)[::-1]).astype(np.float32)
    dist = np.minimum.outer(ys, xs)
    alpha = np.clip((dist + 0.5) / ramp, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * alpha)).astype(np.float32)


def blend_into(frame: np.ndarray, image: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Blend ``image`` (with ``alpha``) into ``frame`` at (x, y) in place; parts outside the frame are dropped."""
    height, width = frame.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + image.shape[1]), min(height, y + image.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    sub = image[y0 - y : y1 - y, x0 - x : x1 - x]
    paste(frame, sub, alpha[y0 - y : y1 - y, x0 - x : x1 - x], x0, y0)


def face_ring(side: int) -> int:
    """Pixels the evaluation face's edge reaches beyond its ``side``-pixel square, fading into the photo."""
    return max(2, int(round(PHOTO_RING * side)))


def photo_face_patch(face: np.ndarray, region: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """(patch BGR uint8, alpha) for ``region``: the frame's pixels of a ``side``-pixel face square grown by
    :func:`face_ring` on every side (BGR), the square being replaced by ``face`` (48x48 gray).

    The face is scaled to the square (``INTER_CUBIC``) and its edge mirrored into the ring; its luminance takes the
    mean of the photo's face there and moves its contrast towards it (within CONTRAST_RANGE), both measured inside
    the square less its outer PHOTO_RING; its colour is the region's, smoothed (the skin tone continues, the real
    face's features do not). The alpha is 1 over the square, so a crop of the square is the evaluation face
    itself (its brightness and contrast matched), and falls to 0 across the ring (a raised cosine of the distance
    from the square, round at the corners): the photo's hair, ears and neck continue around the face.
    """
    ring = (region.shape[0] - side) // 2
    gray = cv2.resize(face.reshape(INPUT_SIZE, INPUT_SIZE), (side, side), interpolation=cv2.INTER_CUBIC)
    gray = cv2.copyMakeBorder(gray, ring, ring, ring, ring, cv2.BORDER_REFLECT_101).astype(np.float32)
    ycc = cv2.cvtColor(region, cv2.COLOR_BGR2YCrCb).astype(np.float32)
    inset = ring + face_ring(side) if side > 2 * face_ring(side) + 2 else ring
    inner = (slice(inset, ring + side - (inset - ring)),) * 2
    mean_f, std_f = float(gray[inner].mean()), float(gray[inner].std())
    mean_r, std_r = float(ycc[..., 0][inner].mean()), float(ycc[..., 0][inner].std())
    gain = float(np.clip(std_r / max(std_f, 1.0), *CONTRAST_RANGE))
    luma = np.clip((gray - mean_f) * gain + mean_r, 0, 255)
    chroma = cv2.GaussianBlur(ycc[..., 1:], (0, 0), max(1.0, CHROMA_SIGMA * side), borderType=cv2.BORDER_REFLECT)
    patch = cv2.cvtColor(np.dstack([luma, chroma]).round().astype(np.uint8), cv2.COLOR_YCrCb2BGR)
    return patch, ring_mask(side, ring)


def ring_mask(side: int, ring: int) -> np.ndarray:
    """(side + 2 ring)^2 float32 alpha: 1 over the centred ``side``-pixel square, a raised cosine of the distance
    from it to 0 at ``ring`` pixels out (so round at the corners)."""
    coords = np.arange(side + 2 * ring, dtype=np.float32) + 0.5
    out = np.maximum(np.maximum(ring - coords, coords - (ring + side)), 0.0)  # per axis, pixels beyond the square
    dist = np.sqrt(np.add.outer(out**2, out**2))
    alpha = np.clip(1.0 - dist / max(1, ring), 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * alpha)).astype(np.float32)


def frame_region(frame: np.ndarray, x: int, y: int, size: int) -> np.ndarray:
    """The ``size``-pixel square of ``frame`` at (x, y); parts outside the frame repeat its edge pixels."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + size), min(height, y + size)
    inside = frame[y0:y1, x0:x1]
    return cv2.copyMakeBorder(inside, y0 - y, y + size - y1, x0 - x, x + size - x1, cv2.BORDER_REPLICATE)


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled (aspect kept) to cover width x height, centre crop."""
    scale = max(width / image.shape[1], height / image.shape[0])
    new = (max(width, int(np.ceil(image.shape[1] * scale))), max(height, int(np.ceil(image.shape[0] * scale))))
    big = cv2.resize(image, new, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    x, y = (new[0] - width) // 2, (new[1] - height) // 2
    return big[y : y + height, x : x + width]


def _plate(photo: PhotoFaces) -> np.ndarray:
    if photo.plate is None:
        raise ValueError(f"{photo.name} has no face-free part")
    x, y, w, h = photo.plate
    return photo.bgr[y : y + h, x : x + w]


def photo_fill(image: np.ndarray, x: int, y: int, width: int, height: int) -> np.ndarray:
    """What the frame shows where the (scaled) photo at (x, y) does not reach: the photo's edge rows and columns
    carried outwards and blurred (a letterbox that continues the photo's own colours; no mirrored face)."""
    matrix = np.array([[1.0, 0.0, x], [0.0, 1.0, y]], np.float64)
    extended = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
    return cv2.GaussianBlur(extended, (0, 0), FILL_BLUR * max(width, height), borderType=cv2.BORDER_REFLECT)


@dataclass
class _PhotoLayout:
    scale: float
    x: int  # the scaled photo's top-left corner in the frame (step 0)
    y: int
    squares: list[tuple[int, int, int]]  # face squares in the scaled photo

    def boxes(self, dx: int = 0, dy: int = 0) -> list[Box]:
        return [Box(self.x + sx + dx, self.y + sy + dy, side, side) for sx, sy, side in self.squares]


def _layout_photo(photo: PhotoFaces, options: ClipOptions, recent: list[Box], rng: np.random.Generator) -> _PhotoLayout:
    """Scale (the smallest face square's side log-uniform in ``photo_sides``, smaller when the faces would not fit)
    and position with every face square inside the frame (margin for the drift), away from ``recent``."""
    width, height = options.size
    ratio = min(width / REFERENCE_SIZE[0], height / REFERENCE_SIZE[1])
    low = max(MIN_FACE, int(options.photo_sides[0] * ratio))
    high = max(low, int(options.photo_sides[1] * ratio))
    margin = MAX_DRIFT * options.frames_per_face
    x0 = min(x for x, _, _ in photo.squares)
    y0 = min(y for _, y, _ in photo.squares)
    x1 = max(x + side for x, _, side in photo.squares)
    y1 = max(y + side for _, y, side in photo.squares)
    ref = min(side for _, _, side in photo.squares)  # the smallest face gets the drawn side (none under ``low``)
    fit = min((width - 2 * margin - 2) / (x1 - x0), (height - 2 * margin - 2) / (y1 - y0))
    if fit * ref < MIN_FACE:
        raise BenchError(f"clip: the faces of {photo.name} do not fit a {width}x{height} frame; use a larger --size")
    for attempt in range(400):
        if attempt % 100 == 0:  # the size stays while positions are tried (else avoiding recent faces favours small)
            target = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        scale = min(target / ref, fit)
        squares = [(int(round(x * scale)), int(round(y * scale)), int(round(side * scale)))
                   for x, y, side in photo.squares]
        ux0, uy0 = min(x for x, _, _ in squares), min(y for _, y, _ in squares)
        ux1, uy1 = max(x + side for x, _, side in squares), max(y + side for _, y, side in squares)
        x = int(rng.integers(margin - ux0, max(margin - ux0, width - margin - ux1) + 1))
        y = int(rng.integers(margin - uy0, max(margin - uy0, height - margin - uy1) + 1))
        layout = _PhotoLayout(scale, x, y, squares)
        if attempt >= 300 or not any(_overlaps(b, recent, RECENT_MAX_IOU) for b in layout.boxes()):
            return layout
    raise AssertionError("unreachable: the last attempts ignore the recent faces")


def _scaled(image: np.ndarray, scale: float) -> np.ndarray:
    size = (max(1, int(round(image.shape[1] * scale))), max(1, int(round(image.shape[0] * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def render_photo_clip(faces: EvalFaces, photos: list[PhotoFaces], options: ClipOptions
                      ) -> tuple[list[np.ndarray], list[dict]]:
    """(frames, ground truth per frame) of the photos style, deterministic given ``options.seed`` and the photos."""
    rng = np.random.default_rng(options.seed)
    most = max(len(p.squares) for p in photos)
    chosen = pick_faces(faces.y, options.faces + most - 1, rng)  # a multi-face photo may take one or two extra
    plan = plan_photo_segments(photos, options.faces, rng)
    plated = [i for i, p in enumerate(photos) if p.plate]
    width, height = options.size
    margin = MAX_DRIFT * options.frames_per_face
    frames: list[np.ndarray] = []
    truth: list[dict] = []
    shown: list[tuple[int, Box]] = []
    next_face = empties = 0
    for segment, index in enumerate(plan):
        drift = (int(rng.integers(-MAX_DRIFT, MAX_DRIFT + 1)), int(rng.integers(-MAX_DRIFT, MAX_DRIFT + 1)))
        if index is None:  # an empty segment: a photo's plate (none has one: a gradient), drifting
            plate = photos[plated[empties % len(plated)]] if plated else None
            empties += 1
            size = (width + 2 * margin, height + 2 * margin)
            big = _cover(_plate(plate), *size) if plate else background("gradient", *size, rng)
            for step in range(options.frames_per_face):
                x, y = margin + drift[0] * step, margin + drift[1] * step
                truth.append({"index": len(frames), "segment": segment,
                              "background": "photo-plate" if plate else "gradient",
                              "photo": plate.name if plate else None, "faces": []})
                frames.append(np.ascontiguousarray(big[y : y + height, x : x + width]))
            continue
        photo = photos[index]
        members = chosen[next_face : next_face + len(photo.squares)]
        next_face += len(members)
        recent = [b for f, b in shown if f >= len(frames) - RECENT_FRAMES]
        layout = _layout_photo(photo, options, recent, rng)
        image = _scaled(photo.bgr, layout.scale)
        edge = _feather(image.shape[0], image.shape[1], int(round(PHOTO_EDGE * min(image.shape[:2]))) + 4)
        fill = photo_fill(image, layout.x, layout.y, width, height)
        first = fill.copy()
        blend_into(first, image, edge, layout.x, layout.y)
        patches = []
        for box in layout.boxes():
            ring = face_ring(box.w)
            region = frame_region(first, box.x - ring, box.y - ring, box.w + 2 * ring)
            patches.append(photo_face_patch(faces.x[members[len(patches)]], region, box.w))
        for step in range(options.frames_per_face):
            dx, dy = drift[0] * step, drift[1] * step
            frame = fill.copy()
            blend_into(frame, image, edge, layout.x + dx, layout.y + dy)
            gt_faces = []
            for k, (box, (patch, alpha)) in enumerate(zip(layout.boxes(dx, dy), patches, strict=True)):
                ring = (patch.shape[0] - box.w) // 2
                blend_into(frame, patch, alpha, box.x - ring, box.y - ring)
                shown.append((len(frames), box))
                label = int(faces.y[members[k]])
                gt_faces.append({"box": box.as_list(), "label": EMOTIONS[label], "label_index": label,
                                 "face": members[k], "photo_face": k})
            truth.append({"index": len(frames), "segment": segment, "background": "photo", "photo": photo.name,
                          "faces": gt_faces})
            frames.append(frame)
    return frames, truth


def check_with_haar(video: Path, truth: list[dict], progress: bool = True) -> dict:
    """Run the pipeline's default Haar detector over the written clip: how many placed faces does it find?"""
    return check_with_detector(video, truth, "haar", progress)


CHECK_NAMES = {"haar": "haar (device defaults: detect width 320, scale 1.1, 5 neighbours)",
               "blazeface": "blazeface (short-range, MediaPipe's defaults)"}


def check_with_detector(video: Path, truth: list[dict], name: str, progress: bool = True) -> dict:
    """Run a device detector (``device.detector.make_detector``) over the written clip: how many placed faces does
    it find?"""
    from device.detector import make_detector
    from device.preprocess import to_gray

    detector = make_detector(name)
    capture = cv2.VideoCapture(str(video))
    found = total = false = frames = 0
    try:
        with progress_bar(f"clip: {name} check", len(truth), enabled=progress) as bar:
            for entry in truth:
                ok, bgr = capture.read()
                if not ok:
                    break
                boxes = detector.detect(to_gray(bgr), bgr)
                gts = [Box(*f["box"]) for f in entry["faces"]]
                hit, fp = match_faces(gts, boxes)
                found += sum(hit)
                total += len(gts)
                false += fp
                frames += 1
                bar.update()
    finally:
        capture.release()
    return {
        "detector": CHECK_NAMES.get(name, name),
        "frames_read": frames,
        "faces": total,
        "found": found,
        "recall": found / total if total else 0.0,
        "false_detections": false,
        "iou_threshold": GT_IOU,
    }


def match_faces(gts: list[Box], detections: list[Box], threshold: float = GT_IOU) -> tuple[list[bool], int]:
    """(found flag per ground-truth face, number of unmatched detections), greedy IoU matching."""
    from device.tracking import match_boxes

    matched = match_boxes(gts, detections, threshold)  # {detection index: gt index}
    hit = [False] * len(gts)
    for gi in matched.values():
        hit[gi] = True
    return hit, len(detections) - len(matched)


def build_clip(options: ClipOptions, command: str = "", progress: bool = True) -> ClipResult:
    """Write ``clip.mp4`` (or ``clip.avi``) and ``clip.json`` into ``options.out``; both appear atomically."""
    if options.frames_per_face < 1 or options.faces < 1:
        raise BenchError("clip: --frames-per-face and --faces must be >= 1")
    if options.style not in STYLES:
        raise BenchError(f"clip: style {options.style!r}: expected one of {', '.join(STYLES)}")
    photo_notes: list[str] = []
    if options.style == "photos":
        photos, photo_notes = real_photo_faces(options.real_faces)  # a missing folder fails before the data loads
    faces = load_eval_faces(options.data)
    if options.style == "photos":
        frames, truth = render_photo_clip(faces, photos, options)
    else:
        frames, truth = render_clip(faces, options, progress)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    writer, partial, final = _open_writer(out, options.size, options.fps)
    try:
        with progress_bar("clip: writing", len(frames), enabled=progress) as bar:
            for frame in frames:
                writer.write(frame)
                bar.update()
        writer.release()
        os.replace(partial, final)
    except BaseException:
        writer.release()
        partial.unlink(missing_ok=True)
        raise
    placed = sum(len(t["faces"]) for t in truth)
    width, height = options.size
    result = ClipResult(final, out / "clip.json", len(frames), placed, notes=[*faces.notes, *photo_notes])
    if options.check:
        result.haar_check = check_with_haar(final, truth, progress)
        if options.style == "photos":
            result.blazeface_check = check_with_detector(final, truth, PHOTO_DETECTOR, progress)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
    document = {
        "format": FORMAT,
        "video": final.name,
        "width": width,
        "height": height,
        "fps": options.fps,
        "frame_count": len(frames),
        "faces_placed": placed,
        "data": faces.source,
        "split": faces.split,
        "settings": settings,
        "command": command,
        "style": options.style,
        "box": "the face itself (the 48x48 crop's area, framed like a Haar box), [x, y, w, h] in frame pixels",
        "labels": list(EMOTIONS),
        "haar_check": result.haar_check,
        "notes": result.notes,
        "frames": truth,
    }
    if options.style == "photos":
        document["box"] = ("the face itself: the FER2013-style square of the real face it replaced (BlazeFace's box "
                           "through its calibrated framing), which the 48x48 face fills; [x, y, w, h] in frame pixels")
        document["real_faces"] = str(Path(options.real_faces) if options.real_faces else default_real_faces())
        document["photos"] = sorted({t["photo"] for t in truth if t["photo"]})
        document["blazeface_check"] = result.blazeface_check
    atomic_write_json(result.ground_truth, document)
    return result


def ground_truth_for(video: Path) -> Path | None:
    """The ``clip.json`` written next to a clip (``<stem>.json``), if any."""
    candidate = Path(video).with_suffix(".json")
    return candidate if candidate.is_file() else None


def clip_command(options: ClipOptions) -> str:
    width, height = options.size
    args = ["python", "-m", "benchmarks", "clip", "--data", str(options.data), "--out", str(options.out),
            "--frames-per-face", str(options.frames_per_face), "--faces", str(options.faces), "--seed",
            str(options.seed), "--size", f"{width}x{height}"]
    if options.style != "pasted":
        args += ["--style", options.style]
        if options.real_faces is not None:
            args += ["--real-faces", str(options.real_faces)]
    return " ".join(shlex.quote(a) for a in args)
