"""Fit each detector's transform from its face box to FER2013's framing (``python -m benchmarks calibrate``).

FER2013's faces are 48x48 crops framed one particular way. Training-split faces (never the evaluation split) are
placed on 640x480 canvases as the benchmark clip places them (scaled up with a little edge context and a feathered
border, at several sizes and positions, on plain, noise, gradient and checker backgrounds), then detected again.
For every face the detector finds (IoU >= 0.3 with the placed face), the crop it should have made is known exactly:
the placed 48x48 area. The transform (:class:`device.framing.Framing`) is the median over faces of

- ``scale``: placed side / the box's larger side,
- ``dx``, ``dy``: (placed centre - box centre) / box width, height,

written to ``device/models/framing.json`` with the spread (quartiles), the share of faces found and the command.

Why one transform cannot reproduce every dataset crop is measured too, and kept beside it:

- ``by_class``: each emotion's own median transform. FER2013 framed its faces differently by emotion (and an
  expression changes the face's shape, so the detector's box), and a device crop cannot know the emotion before it
  classifies the face. ``class_p_value``: a permutation test (numpy only) of the spread of the class medians of
  ``scale`` and ``dy`` against labels shuffled over the same faces.
- ``keypoint_model`` (detectors with landmarks, with ``--keypoints``; judged on the evaluation faces in session 41
  and not shipped: it lost 0.25 and 0.54 pp against the median transform, docs/results.md): part of that spread is
  the face's own geometry, which the detector's keypoints see. A ridge regression (scikit-learn's ``RidgeCV``) from the
  keypoints' positions in the box (:func:`device.framing.keypoint_features`) to each found face's ``log(scale)``,
  ``dx`` and ``dy``; its 5-fold cross-validated R^2 and median absolute error (against the median transform's) are
  recorded beside it, and the device frames each face by it (:class:`device.framing.KeypointFraming`).
- ``--repeats 2`` and more: each face is placed that many times (other sizes, positions and backgrounds); the
  variance between placements of one face is the detector's own noise, and ``detector_share`` is its share of the
  whole spread (the rest is the faces' own framing).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from benchmarks.canvas import BACKGROUNDS, background, face_patch, paste
from benchmarks.clip import pick_faces
from benchmarks.errors import BenchError
from benchmarks.progress import progress_bar
from core.labels import EMOTIONS
from device.detector import Box, FaceDetector
from device.framing import TARGETS, Framing, KeypointFraming, keypoint_features
from device.preprocess import to_gray

CANVAS = (640, 480)
SIDES = (64, 240)  # placed face side in pixels, drawn uniformly (FER's 48 px face scaled up)
PAD = 0.25  # edge context around the 48x48 crop, a fraction of its side (as the benchmark clip)
MATCH_IOU = 0.3
MIN_KEYPOINT_FACES = 200  # found faces with keypoints needed to fit a keypoint model (13 weights a target)
KEYPOINT_BOUNDS = (5.0, 95.0)  # percentiles of the found faces' own transforms that hold the model's predictions


@dataclass
class Calibration:
    detector: str
    faces: int  # placed
    found: int  # detected with IoU >= MATCH_IOU
    false_detections: int  # boxes matching no placed face
    framing: Framing | None  # None when no face was found
    quartiles: dict[str, list[float]] = field(default_factory=dict)  # {"scale": [q25, q75], "dx": ..., "dy": ...}
    ms_median: float = 0.0  # detection time per canvas
    by_class: dict[str, dict] = field(default_factory=dict)  # {emotion: {"found", "scale", "dx", "dy"}} (medians)
    class_p_value: float | None = None  # do the class medians differ more than shuffled labels' would?
    repeats: int = 1  # placements of each face
    detector_share: dict[str, float] = field(default_factory=dict)  # {parameter: share of variance} (repeats >= 2)
    keypoint_fit: dict = field(default_factory=dict)  # {"faces", "cv_r2", "median_abs_error"} when a model was fitted

    def record(self, command: str, data: str) -> dict:
        """What framing.json keeps beside the transform: how it was measured."""
        out = {"faces": self.faces, "found": self.found, "false_detections": self.false_detections,
               "quartiles": {k: [round(v, 4) for v in q] for k, q in self.quartiles.items()},
               "by_class": {k: {p: (round(v, 4) if isinstance(v, float) else v) for p, v in row.items()}
                            for k, row in self.by_class.items()},
               "class_p_value": None if self.class_p_value is None else round(self.class_p_value, 4),
               "canvas": list(CANVAS), "face_sides": list(SIDES), "data": data, "command": command}
        if self.keypoint_fit:
            out["keypoint_fit"] = self.keypoint_fit
        if self.repeats > 1:
            out["repeats"] = self.repeats
            out["detector_share"] = {k: round(v, 4) for k, v in self.detector_share.items()}
        return out


def place(face: np.ndarray, rng: np.random.Generator, kind: str) -> tuple[np.ndarray, Box]:
    """A 640x480 BGR canvas with ``face`` (48x48) placed at a random size and position; the placed face's box."""
    width, height = CANVAS
    side = int(rng.integers(SIDES[0], SIDES[1] + 1))
    patch, alpha, offset = face_patch(face, side, PAD)
    full = patch.shape[0]
    x = int(rng.integers(0, width - full + 1))
    y = int(rng.integers(0, height - full + 1))
    canvas = background(kind, width, height, rng)
    paste(canvas, patch, alpha, x, y)
    return canvas, Box(x + offset, y + offset, side, side)


def place_each(faces: np.ndarray, chosen, rng: np.random.Generator,
               repeats: int = 1) -> Iterator[tuple[int, int, np.ndarray, Box]]:
    """Each chosen face (``faces[index]``, 48x48) on ``repeats`` canvases of its own (:func:`place`, backgrounds in
    turn, one ``rng`` stream): ``(i, index, canvas, placed box)``, ``i`` the face's position in ``chosen``."""
    for i, index in enumerate(chosen):
        for r in range(repeats):
            canvas, truth = place(faces[index].reshape(48, 48), rng, BACKGROUNDS[(i * repeats + r) % len(BACKGROUNDS)])
            yield i, int(index), canvas, truth


def transforms(pairs: list[tuple[Box, Box]]) -> dict[str, np.ndarray]:
    """Each (detected box, placed box) pair's own transform: ``scale``, ``dx``, ``dy`` arrays."""
    scale = np.array([t.w / max(b.w, b.h) for b, t in pairs], np.float64)
    dx = np.array([((t.x + t.w / 2) - (b.x + b.w / 2)) / b.w for b, t in pairs], np.float64)
    dy = np.array([((t.y + t.h / 2) - (b.y + b.h / 2)) / b.h for b, t in pairs], np.float64)
    return {"scale": scale, "dx": dx, "dy": dy}


def fit(pairs: list[tuple[Box, Box]]) -> tuple[Framing, dict[str, list[float]]]:
    """The median transform over (detected box, placed box) pairs, and each parameter's quartiles."""
    return fit_transforms(transforms(pairs))


def fit_transforms(values: dict[str, np.ndarray]) -> tuple[Framing, dict[str, list[float]]]:
    """:func:`fit` of the pairs' own transforms (:func:`transforms`)."""
    framing = Framing(*(float(np.median(values[k])) for k in ("scale", "dx", "dy")), source="calibrated")
    return framing, {k: [float(np.percentile(v, 25)), float(np.percentile(v, 75))] for k, v in values.items()}


def fit_keypoints(features: np.ndarray, values: dict[str, np.ndarray],
                  folds: int = 5) -> tuple[KeypointFraming, dict]:
    """A ridge regression from each found face's keypoint features (N, 2K + 1) to its own transform (``values``, as
    :func:`transforms` gives them), with what ``folds``-fold cross-validation says of it: per target the R^2 and the
    median absolute error of its held-out predictions against the median transform's (``log(scale)`` for the
    side)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    targets = np.stack([np.log(values["scale"]), values["dx"], values["dy"]], axis=1)
    alphas = np.logspace(-4, 2, 13)
    coef, intercept, r2, errors = [], [], {}, {}
    cv = KFold(folds, shuffle=True, random_state=0)
    for j, name in enumerate(TARGETS):
        y = targets[:, j]
        held_out = cross_val_predict(RidgeCV(alphas=alphas), features, y, cv=cv)
        r2[name] = round(1.0 - float(np.sum((y - held_out) ** 2) / np.sum((y - y.mean()) ** 2)), 4)
        errors[name] = {"median": round(float(np.median(np.abs(y - np.median(y)))), 4),
                        "keypoints": round(float(np.median(np.abs(y - held_out))), 4)}
        model = RidgeCV(alphas=alphas).fit(features, y)
        coef.append(tuple(float(v) for v in model.coef_))
        intercept.append(float(model.intercept_))
    bounds = tuple(tuple(float(v) for v in np.percentile(values[k], KEYPOINT_BOUNDS)) for k in ("scale", "dx", "dy"))
    points = (features.shape[1] - 1) // 2
    fitted = KeypointFraming(points, tuple(coef), tuple(intercept), bounds)  # type: ignore[arg-type]
    return fitted, {"faces": int(len(features)), "folds": folds, "cv_r2": r2, "median_abs_error": errors}


def class_medians(values: dict[str, np.ndarray], labels: np.ndarray) -> dict[str, dict]:
    """Each emotion's median transform over its found faces (emotions with none left out)."""
    rows = {}
    for k in np.unique(labels):
        mask = labels == k
        rows[EMOTIONS[int(k)]] = {"found": int(mask.sum()), **{p: float(np.median(v[mask])) for p, v in values.items()}}
    return rows


def class_p_value(values: dict[str, np.ndarray], labels: np.ndarray, rng: np.random.Generator,
                  permutations: int = 999, params: tuple[str, ...] = ("scale", "dy")) -> float | None:
    """Permutation test: how often labels shuffled over the same faces spread the class medians of ``params``
    (each standardised by its median absolute deviation, summed) as widely as the real labels do. None with fewer
    than two classes."""
    classes = np.unique(labels)
    if len(classes) < 2:
        return None
    scaled = []
    for p in params:
        v = values[p]
        mad = float(np.median(np.abs(v - np.median(v)))) or 1.0
        scaled.append((v - np.median(v)) / mad)

    def spread(lab: np.ndarray) -> float:
        return float(sum(np.var([np.median(v[lab == k]) for k in classes]) for v in scaled))

    observed = spread(labels)
    hits = sum(spread(rng.permutation(labels)) >= observed - 1e-12 for _ in range(permutations))
    return (hits + 1) / (permutations + 1)


def detector_share(values: dict[str, np.ndarray], faces: np.ndarray) -> dict[str, float]:
    """Share of each parameter's variance that lies between placements of the same face (the detector's noise;
    ``log`` of the scale), from faces found more than once. Empty when no face was."""
    ids, counts = np.unique(faces, return_counts=True)
    repeated = np.isin(faces, ids[counts > 1])
    if not repeated.any():
        return {}
    out = {}
    for p, v in values.items():
        v = np.log(v) if p == "scale" else v
        v, f = v[repeated], faces[repeated]
        within = sum(float(np.sum((v[f == g] - v[f == g].mean()) ** 2)) for g in np.unique(f))
        dof = len(v) - len(np.unique(f))
        total = float(np.var(v, ddof=1))
        out[p] = (within / dof) / total if total > 0 and dof > 0 else 0.0
    return out


def calibrate(detector: FaceDetector, name: str, faces: np.ndarray, labels: np.ndarray, count: int = 600,
              seed: int = 0, progress: bool = True,
              clock: Callable[[], float] = time.perf_counter, repeats: int = 1,
              keypoints: bool = False) -> Calibration:
    """Place ``count`` class-balanced faces (one per canvas, ``repeats`` canvases each) and fit ``name``'s transform
    from what it detects; with ``keypoints`` and a detector that gives them for at least
    :data:`MIN_KEYPOINT_FACES` found faces, the keypoint model too (:func:`fit_keypoints`)."""
    if len(faces) == 0:
        raise BenchError("calibrate: no faces to place")
    if repeats < 1:
        raise BenchError(f"calibrate: repeats {repeats}: expected at least 1 placement of each face")
    rng = np.random.default_rng(seed)
    chosen = pick_faces(labels, count, rng)
    pairs: list[tuple[Box, Box]] = []
    found_faces: list[int] = []
    false = 0
    times = []
    with progress_bar(f"calibrate {name}", len(chosen) * repeats, enabled=progress) as bar:
        for i, _, canvas, truth in place_each(faces, chosen, rng, repeats):
            gray = to_gray(canvas)
            start = clock()
            boxes = detector.detect(gray, canvas)
            times.append((clock() - start) * 1000.0)
            best = max(boxes, key=truth.iou, default=None)
            if best is not None and truth.iou(best) >= MATCH_IOU:
                pairs.append((best, truth))
                found_faces.append(i)
                false += len(boxes) - 1
            else:
                false += len(boxes)
            bar.update()
    result = Calibration(name, len(chosen) * repeats, len(pairs), false, None, {}, float(np.median(times)),
                         repeats=repeats)
    if pairs:
        values = transforms(pairs)
        result.framing, result.quartiles = fit_transforms(values)
        found = np.asarray(found_faces)
        found_labels = np.asarray(labels)[np.asarray(chosen)[found]]
        result.by_class = class_medians(values, found_labels)
        result.class_p_value = class_p_value(values, found_labels, np.random.default_rng(seed + 1))
        if repeats > 1:
            result.detector_share = detector_share(values, found)
        counts = {len(box.keypoints) if box.keypoints else 0 for box, _ in pairs}  # every found box the same points
        if keypoints and len(pairs) >= MIN_KEYPOINT_FACES and len(counts) == 1 and 0 not in counts:
            features = np.stack([keypoint_features(b.x, b.y, b.w, b.h, b.keypoints) for b, _ in pairs])
            model, result.keypoint_fit = fit_keypoints(features, values)
            result.framing = replace(result.framing, keypoints=model)
    return result
