"""Label accuracy on detector crops (part 3 of ``python -m benchmarks run --parts camera``, and ``benchmarks compare``).

Evaluation faces are placed on 640x480 canvases exactly as ``benchmarks calibrate`` places training faces
(:func:`benchmarks.calibrate.place`, another seed: :data:`SEED_OFFSET`), detected, and every face found (IoU >= 0.3)
is cropped with the detector's calibrated framing and with a plain square crop of the box; the placed face's own box
is cut from the canvas too (what scaling a face up and the crop down again costs, whatever the framing). A framing
with a keypoint model (each face framed by its own keypoints) is scored against its median transform on the same
boxes too, with the paired interval of the difference: what the keypoint model buys. Given the labels and a
detector's per-emotion transforms (framing.json's ``by_class``), each found face is also cut with its own emotion's
transform, the label known in advance as no camera can know it: how much of the shortfall is FER2013's framing
following the emotion (a cue a device crop cannot have) rather than the model's sensitivity to each face's framing.
:func:`detect_crops` does the detection once; :func:`score_crops` scores the crops with any classifier against the
same faces' dataset crops (the 48x48 originals), with the paired interval of the shortfall.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.calibrate import MATCH_IOU, place, place_each
from benchmarks.canvas import BACKGROUNDS
from benchmarks.errors import BenchError
from benchmarks.progress import progress_bar
from benchmarks.stats import clustered_ratio_interval
from core.labels import INPUT_SIZE
from device.detector import Box, FaceDetector
from device.framing import Framing
from device.preprocess import DEFAULT_MARGIN, crop_face, to_gray

PLAIN_MARGIN = DEFAULT_MARGIN  # the plain square crop: 2% a side
EXACT = Framing(1.0, 0.0, 0.0, source="calibrated")  # the box itself, no margin
SEED_OFFSET = 7919  # canvases for the crop accuracy use seed + this: never calibration's own draws


@dataclass(frozen=True)
class Placement:
    face: int  # index into the evaluation faces
    canvas: np.ndarray  # BGR
    truth: Box  # where the 48x48 face went


def placements(faces: np.ndarray, count: int | None, seed: int, repeats: int = 1) -> tuple[int, Iterator[Placement]]:
    """(how many canvases, the placements): ``count`` faces (None: all; else a seeded random subset, in index order),
    each on ``repeats`` canvases of its own as :func:`benchmarks.calibrate.place` makes them (other sizes, positions
    and backgrounds, in turn). One placement a face draws exactly what it always drew, so earlier reports stand."""
    if repeats < 1:
        raise BenchError(f"crop placements {repeats}: expected at least 1 canvas for each face")
    rng = np.random.default_rng(seed)
    total = len(faces)
    chosen = np.arange(total) if count is None or count >= total else np.sort(rng.choice(total, count, replace=False))

    placed = (Placement(index, canvas, box) for _, index, canvas, box in place_each(faces, chosen, rng, repeats))
    return len(chosen) * repeats, placed


def shortfall_interval_pp(found: Sequence[int], dataset_right: Sequence[bool],
                          crop_right: Sequence[bool]) -> list[float] | None:
    """95% interval of accuracy(dataset crops) - accuracy(detector crops) in pp over the found placements, the faces
    the unit: a face placed on several canvases is one cluster (its placements share its label and its dataset
    crop, so they are not independent; :func:`benchmarks.stats.clustered_ratio_interval`). With one placement a face
    it is the plain paired interval (:func:`benchmarks.stats.paired_interval_pp`)."""
    if len(found) == 0:
        return None
    d = np.asarray(dataset_right, np.float64) - np.asarray(crop_right, np.float64)
    faces, cluster = np.unique(np.asarray(found), return_inverse=True)
    totals = np.bincount(cluster, weights=d, minlength=len(faces))
    sizes = np.bincount(cluster, minlength=len(faces)).astype(np.float64)
    interval = clustered_ratio_interval(totals, sizes)
    return None if interval is None else [100.0 * interval[0], 100.0 * interval[1]]


@dataclass
class CropTally:
    """What one detector made of the placed faces (:func:`detect_crops`)."""

    placed: list[int] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    calibrated: list[np.ndarray] = field(default_factory=list)
    plain: list[np.ndarray] = field(default_factory=list)
    placed_box: list[np.ndarray] = field(default_factory=list)  # the placed face's own box, resampled alike
    median: list[np.ndarray] = field(default_factory=list)  # the calibrated median alone (keypoint framings only)
    emotion: list[np.ndarray] = field(default_factory=list)  # cut with the face's own emotion's transform (oracle)
    false: int = 0


def detect_crops(detectors: dict[str, FaceDetector], framings: dict[str, tuple[Framing, Framing]],
                 placed: Iterable[Placement], total: int, progress: bool = True,
                 emotion_framings: dict[str, Sequence[Framing]] | None = None,
                 labels: np.ndarray | None = None) -> dict[str, CropTally]:
    """Per detector: which placed faces it found (best box IoU >= 0.3), its false detections, and the found faces'
    calibrated and plain crops (``framings[name] = (calibrated, plain)``) and the placed face's own box cut from the
    canvas; for a detector in ``emotion_framings`` (one transform per label), each found face cut with its own
    label's (``labels``, needed then). Detection only: :func:`score_crops` scores the crops with any classifiers."""
    emotion_framings = emotion_framings or {}
    if emotion_framings and labels is None:
        raise ValueError("detect_crops: per-emotion framings need the faces' labels")
    labels = None if labels is None else np.asarray(labels).reshape(-1)
    tallies = {name: CropTally() for name in detectors}
    medians = {name: framings[name][0].median() for name in detectors if framings[name][0].keypoints is not None}
    with progress_bar("camera: crops vs dataset", total, enabled=progress) as bar:
        for p in placed:
            gray = to_gray(p.canvas)
            for name, detector in detectors.items():
                tally = tallies[name]
                tally.placed.append(p.face)
                boxes = detector.detect(gray, p.canvas)
                best = max(boxes, key=p.truth.iou, default=None)
                if best is None or p.truth.iou(best) < MATCH_IOU:
                    tally.false += len(boxes)
                    continue
                tally.false += len(boxes) - 1
                tally.found.append(p.face)
                calibrated, plain = framings[name]
                tally.calibrated.append(crop_face(gray, best, calibrated))
                tally.plain.append(crop_face(gray, best, plain))
                tally.placed_box.append(crop_face(gray, p.truth, EXACT))
                if name in medians:
                    tally.median.append(crop_face(gray, best, medians[name]))
                if name in emotion_framings:
                    tally.emotion.append(crop_face(gray, best, emotion_framings[name][int(labels[p.face])]))
            bar.update()
    return tallies


def crop_accuracy(detectors: dict[str, FaceDetector], framings: dict[str, tuple[Framing, Framing]],
                  predict: Callable[[np.ndarray], np.ndarray], faces: np.ndarray, labels: np.ndarray,
                  placed: Iterable[Placement], total: int, progress: bool = True,
                  emotion_framings: dict[str, Sequence[Framing]] | None = None) -> tuple[dict[str, dict], dict]:
    """:func:`score_crops` of :func:`detect_crops`: one classifier, detection and scoring in one call."""
    tallies = detect_crops(detectors, framings, placed, total, progress, emotion_framings, labels)
    return score_crops(tallies, framings, predict, faces, labels)


def score_crops(tallies: dict[str, CropTally], framings: dict[str, tuple[Framing, Framing]],
                predict: Callable[[np.ndarray], np.ndarray], faces: np.ndarray,
                labels: np.ndarray) -> tuple[dict[str, dict], dict]:
    """Per detector of ``tallies``: faces placed and found, false detections, and accuracy of the found faces'
    dataset crops, calibrated crops, plain crops and the placed face's own box (what scaling the face up and the crop
    down again costs, whatever the framing); ``predict`` maps (N, 48, 48) uint8 faces to (N, 7) scores. Also returns
    ``{detector: (face indices, calibrated crops, the label predicted on each)}``."""
    labels = np.asarray(labels).reshape(-1)
    dataset_pred: dict[int, int] = {}
    wanted = sorted({i for t in tallies.values() for i in t.placed})
    if wanted:
        scores = predict(np.asarray(faces)[wanted].reshape(-1, INPUT_SIZE, INPUT_SIZE))
        dataset_pred = dict(zip(wanted, (int(k) for k in scores.argmax(1)), strict=True))

    def right(indices: list[int], predicted: Sequence[int]) -> list[bool]:
        return [p == labels[i] for i, p in zip(indices, predicted, strict=True)]

    def accuracy(indices: list[int], predicted: Sequence[int]) -> float | None:
        return float(np.mean(right(indices, predicted))) if indices else None

    def paired_gain(key: str, indices: list[int], better: Sequence[int], base: Sequence[int]) -> dict:
        """``{key}_pp``: accuracy(better) - accuracy(base) on the same faces, and ``{key}_ci_pp`` its interval."""
        return {f"{key}_pp": 100 * (accuracy(indices, better) - accuracy(indices, base)),
                f"{key}_ci_pp": shortfall_interval_pp(indices, right(indices, better), right(indices, base))}

    rows: dict[str, dict] = {}
    crops: dict = {}
    for name, t in tallies.items():
        calibrated = predict(np.stack(t.calibrated)).argmax(1) if t.found else []
        plain = predict(np.stack(t.plain)).argmax(1) if t.found else []
        exact = predict(np.stack(t.placed_box)).argmax(1) if t.found else []
        acc_dataset = accuracy(t.found, [dataset_pred[i] for i in t.found])
        acc_calibrated, acc_plain = accuracy(t.found, calibrated), accuracy(t.found, plain)
        rows[name] = {
            "placed": len(t.placed),
            "found": len(t.found),
            "found_rate": len(t.found) / len(t.placed) if t.placed else None,
            "false_detections": t.false,
            "acc_dataset_all": accuracy(t.placed, [dataset_pred[i] for i in t.placed]),
            "acc_dataset": acc_dataset,
            "acc_calibrated": acc_calibrated,
            "acc_plain": acc_plain,
            "acc_placed_box": accuracy(t.found, exact),
            "calibrated_minus_dataset_pp": None if acc_calibrated is None else 100 * (acc_calibrated - acc_dataset),
            "shortfall_ci_pp": shortfall_interval_pp(
                t.found, [dataset_pred[i] == labels[i] for i in t.found], right(t.found, calibrated)),
            "faces_found": len(set(t.found)),
            "plain_minus_dataset_pp": None if acc_plain is None else 100 * (acc_plain - acc_dataset),
            "calibrated_framing": framings[name][0].describe(),
            "plain_framing": framings[name][1].describe(),
        }
        if t.median:  # each face framed by its keypoints (the calibrated crops) against the median transform
            median = predict(np.stack(t.median)).argmax(1)
            rows[name].update({"acc_calibrated_median": accuracy(t.found, median),
                               **paired_gain("keypoints_minus_median", t.found, calibrated, median)})
        if t.emotion:  # each face cut with its own emotion's transform against the calibrated crops
            by_emotion = predict(np.stack(t.emotion)).argmax(1)
            rows[name].update({"acc_emotion_framed": accuracy(t.found, by_emotion),
                               **paired_gain("emotion_minus_calibrated", t.found, by_emotion, calibrated)})
        crops[name] = (list(t.found), np.stack(t.calibrated) if t.found else None, [int(p) for p in calibrated])
    return rows, crops


TRAIN_SEED_OFFSET = 104729  # placements of training faces for device crops: never calibration's or the benchmark's


@dataclass
class TrainingCrops:
    """What :func:`training_crops` made of the training faces."""

    crops: np.ndarray  # (N, 48, 48) uint8, zeros where not found
    found: np.ndarray  # (N,) bool
    placements: int  # canvases detected in all
    false_detections: int


def training_crops(detector: FaceDetector, framing: Framing, faces: np.ndarray, repeats: int = 2, seed: int = 0,
                   progress: bool = True, label: str = "device crops") -> TrainingCrops:
    """Each face placed on a canvas as :func:`benchmarks.calibrate.place` places it (backgrounds in turn, seed +
    :data:`TRAIN_SEED_OFFSET`), detected, and cut with ``framing`` from the best box (IoU >= 0.3); a face the
    detector misses is placed again, up to ``repeats`` canvases in all (short-range BlazeFace misses the smallest
    placed faces, as it would on a camera)."""
    if repeats < 1:
        raise ValueError(f"device crops: repeats {repeats}: expected at least 1 placement of each face")
    rng = np.random.default_rng(seed + TRAIN_SEED_OFFSET)
    faces = np.asarray(faces).reshape(-1, INPUT_SIZE, INPUT_SIZE)
    crops = np.zeros((len(faces), INPUT_SIZE, INPUT_SIZE), np.uint8)
    found = np.zeros(len(faces), bool)
    canvases = false = 0
    with progress_bar(label, len(faces), enabled=progress) as bar:
        for i, face in enumerate(faces):
            for r in range(repeats):
                canvas, truth = place(face, rng, BACKGROUNDS[(i * repeats + r) % len(BACKGROUNDS)])
                gray = to_gray(canvas)
                boxes = detector.detect(gray, canvas)
                canvases += 1
                best = max(boxes, key=truth.iou, default=None)
                if best is None or truth.iou(best) < MATCH_IOU:
                    false += len(boxes)
                    continue
                false += len(boxes) - 1
                crops[i] = crop_face(gray, best, framing).reshape(INPUT_SIZE, INPUT_SIZE)
                found[i] = True
                break
            bar.update()
    return TrainingCrops(crops, found, canvases, false)
