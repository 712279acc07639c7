"""A reproducible, labelled clip: the dataset's test faces pasted into video frames, with a ground-truth file.

Each face (48x48, FER2013's tight crop) is padded by ``pad`` of its side on every side (edge pixels, so
the detector sees a face with some context), scaled up with ``INTER_CUBIC`` and blended into a plain,
noise, gradient or checker background with a feathered edge. A face stays a few frames, drifting a few
pixels per frame (one track for the tracker); consecutive faces never overlap, so the tracker cannot
carry one face's smoothed scores over to the next. Some frames show 2-3 faces, a few none. Faces are
drawn class-balanced (round-robin over the emotions), deterministically from ``seed``.

Ground truth ``clip.json``: per frame, a list of ``{box: [x, y, w, h], label}`` where the box is the face
itself (the 48x48 crop's area, framed like a Haar box) and ``label`` the emotion name.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from benchmarks.data import EvalFaces, load_eval_faces
from benchmarks.errors import BenchError
from benchmarks.progress import progress_bar
from core.fileio import atomic_write_json
from core.labels import EMOTIONS, INPUT_SIZE, NUM_CLASSES
from device.detector import Box

FORMAT = "feredge-clip/1"
BACKGROUNDS: tuple[str, ...] = ("plain", "noise", "gradient", "checker")
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


@dataclass
class ClipResult:
    video: Path
    ground_truth: Path
    frames: int
    faces_placed: int
    haar_check: dict | None = None
    notes: list[str] = field(default_factory=list)


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
    n_empty = max(1, len(counts) // EMPTY_EVERY)
    for i in range(n_empty):
        counts.insert(min(len(counts), 1 + (i + 1) * len(counts) // (n_empty + 1) + i), 0)
    return counts


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


def check_with_haar(video: Path, truth: list[dict], progress: bool = True) -> dict:
    """Run the pipeline's default Haar detector over the written clip: how many placed faces does it find?"""
    from device.detector import HaarDetector
    from device.preprocess import to_gray

    detector = HaarDetector()
    capture = cv2.VideoCapture(str(video))
    found = total = false = frames = 0
    try:
        with progress_bar("clip: Haar check", len(truth), enabled=progress) as bar:
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
        "detector": "haar (device defaults: detect width 320, scale 1.1, 5 neighbours)",
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
    faces = load_eval_faces(options.data)
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
    result = ClipResult(final, out / "clip.json", len(frames), placed, notes=list(faces.notes))
    if options.check:
        result.haar_check = check_with_haar(final, truth, progress)
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
        "box": "the face itself (the 48x48 crop's area, framed like a Haar box), [x, y, w, h] in frame pixels",
        "labels": list(EMOTIONS),
        "haar_check": result.haar_check,
        "notes": result.notes,
        "frames": truth,
    }
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
    return " ".join(shlex.quote(a) for a in args)
