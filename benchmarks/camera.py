"""The camera path, detector against detector, in one run (``python -m benchmarks run --parts camera``).

For each detector setting (default: BlazeFace short-range as the demo runs it, with a second look at each face and
faces followed between whole-frame searches; its one pass, ``blazeface:refine=0``; BlazeFace full-range; Haar; YuNet
with ``--detector-model``):

1. **Detection time** per 640x480 frame, median and p95, 1 thread (``cv2.setNumThreads(1)``, BlazeFace's
   interpreter with ``num_threads=1``), the detector object alone (``detect(gray, bgr)``, the gray frame made
   beforehand as the pipeline does), on the labelled clip's frames and on **real-content frames**: the real photos
   (``../shared/data/real-faces``, ``--real-faces``; ``faces.json`` counts their faces) each scaled to fill most of
   the frame and moved smoothly over a still background (a few pixels and a fraction of a percent of zoom per frame).
   The detectors take turns over chunks of 30 frames (one untimed call first): each runs warm, as in the pipeline,
   and load on a shared machine hits them alike.
2. **Faces found and false detections**: on the real-content frames per frame ``found = min(detected, expected)``,
   ``false = max(0, detected - expected)`` and the share of frames with a face in which one was found; on the
   labelled clip, IoU >= 0.3 with its ground truth (greedy matching, as the pipeline part scores it).
3. **Label accuracy on detector crops**: evaluation faces placed on 640x480 canvases exactly as ``benchmarks
   calibrate`` places training faces (:func:`benchmarks.calibrate.place`, another seed), detected, and for every
   face found (IoU >= 0.3) cropped with the detector's calibrated framing (``device/models/framing.json``) and
   with a plain square crop of the box (2% margin), classified by the camera model, and compared with the same
   faces' dataset crops (the 48x48 originals); also cut with each face's own emotion's median transform (the label
   known in advance: what FER2013's framing following the emotion explains) and with the placed face's own box.
4. **Flicker and reaction** with each detector's whole pipeline (``device.demo.build_pipeline``: calibrated
   framing, the demo's default time-based smoothing), frames carrying source timestamps at 30 FPS and processed as
   fast as they come: a real photo held nearly still (sub-pixel jitter, sensor noise) -> displayed label changes per
   minute; two evaluation faces of different labels (both right in their dataset crops) at the same spot, A then B
   -> seconds from the switch until the displayed label is B's. The measures are ``device.smoothing``'s.
5. **Whole-pipeline FPS**: the real-content frames of the one-face photos written to a Motion-JPEG AVI and run by
   the pipeline part's worker (a fresh process, ``device.loop.FrameLoop``) per detector, and the ratio to Haar's.

Targets (issue "The camera path") are checked here, not typed into the report: :data:`TARGETS`.
The frames it shows the detectors (real-content, steady, a change of expression) come from :mod:`benchmarks.scenes`;
part 3 is :mod:`benchmarks.crops`, part 4's measures :mod:`benchmarks.steadiness`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from benchmarks.clip import match_faces
from benchmarks.crops import PLAIN_MARGIN, SEED_OFFSET, crop_accuracy, placements
from benchmarks.errors import BenchError
from benchmarks.models import ModelFile, ModelSet
from benchmarks.progress import note, progress_bar
from benchmarks.scenes import (
    FPS,
    FRAME_SIZE,
    ComposedFrame,
    Photo,
    change_frames,
    compose_frames,
    load_real_photos,
    steady_frames,
)
from benchmarks.stats import summarize
from benchmarks.steadiness import (
    observe,
    pick_pairs,
    reaction_stats,
    steady_stats,
    summarize_changes,
)
from core.labels import EMOTIONS, INPUT_SIZE
from core.manifest import DEFAULT_MODEL_FILE
from device.detector import Box, FaceDetector
from device.framing import Framing
from device.preprocess import to_gray

# BlazeFace as the demo runs it (a second look at each face), the one pass beside it, full-range and Haar.
DEFAULT_DETECTORS: tuple[str, ...] = ("blazeface", "blazeface:refine=0", "blazeface-full", "haar")
CLIP_MAX_FRAMES, QUICK_CLIP_MAX_FRAMES = 600, 60
CHUNK = 30  # frames each detector runs over in turn when timed
WORKER_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class CameraSettings:
    frames_per_photo: int = 30  # real-content frames per photo (1 s at 30 FPS)
    crop_faces: int | None = None  # evaluation faces for the crop accuracy (None: all)
    crop_placements: int = 1  # canvases each of them is placed on
    steady_photos: int = 3  # one-face photos held still, each for steady_seconds
    steady_seconds: float = 30.0
    change_pairs: int = 32
    change_seconds: float = 2.0  # each face of a pair is shown this long
    fps: float = FPS

    @classmethod
    def quick(cls) -> CameraSettings:
        return cls(frames_per_photo=4, crop_faces=40, steady_photos=1, steady_seconds=4.0, change_pairs=2,
                   change_seconds=1.0)


@dataclass(frozen=True)
class Target:
    """A target of the issue: ``value(row)`` against ``threshold`` (at most / at least), for the detectors
    ``applies`` says."""

    key: str
    text: str
    applies: Callable[[str], bool]
    value: Callable[[dict], float | None]
    at_most: bool
    threshold: float
    unit: str


def _is_blazeface(name: str) -> bool:
    return name.startswith("blazeface")


def _get(row: dict, *path: str) -> float | None:
    value: object = row
    for key in path:
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _shortfall_pp(row: dict) -> float | None:
    crops = row.get("crops") or {}
    if crops.get("acc_calibrated") is None or crops.get("acc_dataset") is None:
        return None
    return 100.0 * (crops["acc_dataset"] - crops["acc_calibrated"])


TARGETS: tuple[Target, ...] = (
    Target("detect_ms", "BlazeFace detection, median ms per 640x480 real-content frame", _is_blazeface,
           lambda r: _get(r, "real", "ms", "median"), True, 3.0, "ms"),
    Target("frames_found", "frames with a face in which one was found (real-content frames)", lambda n: True,
           lambda r: _percent(_get(r, "real", "frame_found_rate")), False, 99.0, "%"),
    Target("calibrated_pp", "calibrated crops: accuracy shortfall against the same faces' dataset crops "
           "(dataset - calibrated)", lambda n: True,
           _shortfall_pp, True, 1.0, "pp"),
    Target("flicker", "steady face: displayed label changes per minute", lambda n: True,
           lambda r: _get(r, "steady", "changes_per_minute"), True, 10.0, "/min"),
    Target("reaction", "real change: median seconds until the label follows, over the pairs the classifier "
           "sees (one never followed counts as the slowest)", lambda n: True,
           lambda r: _get(r, "change", "median_all_s"), True, 0.5, "s"),
    Target("fps", "whole pipeline, frames per second (real-content frames)", _is_blazeface,
           lambda r: _get(r, "pipeline", "fps"), False, 120.0, "FPS"),
    Target("vs_haar", "whole pipeline, times the Haar pipeline's FPS", _is_blazeface,
           lambda r: _get(r, "pipeline", "vs_haar"), False, 3.0, "x"),
)


def check_targets(rows: list[dict]) -> list[dict]:
    """One entry per (target, detector it applies to): the measured value and whether it meets the target
    (None: not measured)."""
    out = []
    for target in TARGETS:
        for row in rows:
            if not target.applies(row["detector"]):
                continue
            value = target.value(row)
            if value is None:
                met = None
            else:
                met = value <= target.threshold if target.at_most else value >= target.threshold
            out.append({"key": target.key, "target": target.text, "detector": row["detector"],
                        "threshold": f"{'<=' if target.at_most else '>='} {target.threshold:g}"
                                     + ("" if target.unit in ("x", "%") else " ") + target.unit,
                        "value": value, "unit": target.unit, "met": met})
    return out


# ---------------------------------------------------------------- detection: time, found, false


@contextmanager
def cv2_threads(count: int) -> Iterator[None]:
    """OpenCV's thread pool at ``count`` threads inside the block (Haar's detectMultiScale uses it)."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(count)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def count_found(detected: int, expected: int) -> tuple[int, int]:
    """(found, false) for a frame known to show ``expected`` faces where ``detected`` boxes came back."""
    return min(detected, expected), max(0, detected - expected)


@dataclass
class DetectionTally:
    """Per detector over frames: detection times and, with known face counts, found and false detections."""

    times_ms: list[float] = field(default_factory=list)
    frames: int = 0
    expected: int = 0
    found: int = 0
    false: int = 0
    frames_with_face: int = 0
    frames_found: int = 0  # frames with a face in which at least one was found
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)  # per photo: frames, expected, found, false

    def add_counts(self, detected: int, expected: int, source: str | None = None) -> None:
        found, false = count_found(detected, expected)
        if source is not None:
            mine = self.by_source.setdefault(source, {"frames": 0, "expected": 0, "found": 0, "false": 0})
            for key, value in (("frames", 1), ("expected", expected), ("found", found), ("false", false)):
                mine[key] += value
        self.add_matched(found, expected, false)

    def add_matched(self, found: int, expected: int, false: int) -> None:
        """A frame scored against boxes (IoU matching) rather than counts."""
        self.frames += 1
        self.expected += expected
        self.found += found
        self.false += false
        if expected:
            self.frames_with_face += 1
            self.frames_found += found > 0

    def summary(self) -> dict:
        stats = summarize(self.times_ms)
        return {
            "frames": self.frames,
            "ms": {"median": stats["median"], "p95": stats["p95"], "mean": stats["mean"]},
            "expected_faces": self.expected,
            "found": self.found,
            "false_detections": self.false,
            "recall": self.found / self.expected if self.expected else None,
            "false_per_frame": self.false / self.frames if self.frames else None,
            "frames_with_face": self.frames_with_face,
            "frames_found": self.frames_found,
            "frame_found_rate": self.frames_found / self.frames_with_face if self.frames_with_face else None,
            **({"by_photo": self.by_source} if self.by_source else {}),
        }


def _timed_detect(detector: FaceDetector, gray: np.ndarray, bgr: np.ndarray,
                  clock: Callable[[], float]) -> tuple[list[Box], float]:
    start = clock()
    boxes = detector.detect(gray, bgr)
    return boxes, (clock() - start) * 1000.0


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _each_detector(detectors: dict[str, FaceDetector], frames: Iterable[np.ndarray], warmup: bool,
                   clock: Callable[[], float]) -> Iterator[tuple[list[np.ndarray], dict[str, list]]]:
    """Per chunk of :data:`CHUNK` BGR frames: (the frames, {detector: [(boxes, ms) per frame]}). Each detector runs
    over the whole chunk in turn, after one untimed call on its first frame (``warmup``): warm, as in the pipeline,
    while a shared machine's load still hits every detector alike. (Frame by frame, each detector's call came after
    the others': BlazeFace measured 1.5-2x slower here between Haar's calls than alone.)"""
    for chunk in _chunks(frames, CHUNK):
        grays = [to_gray(bgr) for bgr in chunk]
        results: dict[str, list] = {}
        for name, detector in detectors.items():
            if warmup:
                detector.detect(grays[0], chunk[0])
            results[name] = [_timed_detect(detector, gray, bgr, clock) for gray, bgr in zip(grays, chunk, strict=True)]
        yield chunk, results


def detect_real_frames(detectors: dict[str, FaceDetector], frames: Iterable[ComposedFrame], total: int,
                       progress: bool = True, clock: Callable[[], float] | None = None,
                       warmup: bool = True) -> dict[str, DetectionTally]:
    """The frames through every detector (in chunks, :func:`_each_detector`): time, found = min(detected,
    expected), false = the excess, also per photo."""
    import time

    clock = clock or time.perf_counter
    tallies = {name: DetectionTally() for name in detectors}
    meta: list[ComposedFrame] = []

    def pixels() -> Iterator[np.ndarray]:
        for frame in frames:
            meta.append(frame)
            yield frame.bgr

    with progress_bar("camera: real-content frames", total, enabled=progress) as bar:
        for chunk, results in _each_detector(detectors, pixels(), warmup, clock):
            done, meta[:] = meta[: len(chunk)], meta[len(chunk) :]
            for name, found in results.items():
                for frame, (boxes, ms) in zip(done, found, strict=True):
                    tallies[name].times_ms.append(ms)
                    tallies[name].add_counts(len(boxes), frame.expected, frame.photo)
            bar.update(len(chunk))
    return tallies


def read_clip(source: str, limit: int) -> Iterator[np.ndarray]:
    """Up to ``limit`` BGR frames of a video file."""
    capture = cv2.VideoCapture(str(source))
    try:
        for _ in range(limit):
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def detect_clip(detectors: dict[str, FaceDetector], frames: Iterable[np.ndarray], truth: list[dict] | None,
                total: int, progress: bool = True, warmup: bool = True) -> dict[str, DetectionTally]:
    """The labelled clip through every detector (in chunks, :func:`_each_detector`): time, and with ground truth the
    faces found at IoU >= 0.3 (greedy matching, as ``pipeline_bench.evaluate_frames``) and the detections matching
    no face."""
    import time

    tallies = {name: DetectionTally() for name in detectors}
    start = 0
    with progress_bar("camera: labelled clip", total, enabled=progress) as bar:
        for chunk, results in _each_detector(detectors, frames, warmup, time.perf_counter):
            for name, found in results.items():
                for i, (boxes, ms) in enumerate(found, start):
                    tallies[name].times_ms.append(ms)
                    if truth is not None and i < len(truth):
                        gts = [Box(*f["box"]) for f in truth[i]["faces"]]
                        hit, false = match_faces(gts, boxes)
                        tallies[name].add_matched(sum(hit), len(gts), false)
            start += len(chunk)
            bar.update(len(chunk))
    return tallies


# ---------------------------------------------------------------- the part


def camera_model(models: ModelSet) -> ModelFile:
    """The model the camera path runs: the demo's default file when present, else the first int8 model, else the
    first model."""
    default = next((m for m in models.models if m.path.name == DEFAULT_MODEL_FILE), None)
    return default or next((m for m in models.models if m.fmt == "int8"), None) or models.models[0]


def make_detectors(names: Sequence[str], detector_model: Path | None, search_every: int = 1) -> dict:
    """{setting: detector}, 1 thread each; a bad name or model raises DetectorError before anything is measured.
    ``search_every``: 1 for independent images, the demo's for frame sequences (BlazeFace follows faces)."""
    from device.detector import make_detector

    return {name: make_detector(name, detector_model, 320, 1, search_every=search_every) for name in names}


def detector_framings(names: Sequence[str]) -> dict[str, tuple[Framing, Framing]]:
    """{name: (calibrated framing, plain square crop)}; a never-calibrated detector gets the default margin."""
    from device.demo import DemoOptions, crop_framing

    return {n: (crop_framing(DemoOptions(detector=n)), Framing.from_margin(PLAIN_MARGIN)) for n in names}


def detector_emotion_framings(names: Sequence[str]) -> dict[str, tuple[Framing, ...]]:
    """{name: each emotion's own transform} from the framing.json entry the calibrated crops follow, for the
    detectors whose calibration has them (:func:`device.framing.emotion_framings`)."""
    from device.demo import DemoOptions, framing_entry
    from device.framing import emotion_framings

    entries = {n: framing_entry(DemoOptions(detector=n)) for n in names}
    found = {n: emotion_framings(entry) for n, entry in entries.items() if entry is not None}
    return {n: f for n, f in found.items() if f is not None}


@dataclass
class CameraInputs:
    models: ModelSet
    detectors: list[str]
    detector_model: Path | None
    settings: CameraSettings
    faces_x: np.ndarray | None  # evaluation faces (N, 48, 48, 1) and labels, None without data
    faces_y: np.ndarray | None
    clip_source: str | None  # a video file (None: no clip, or a live source)
    clip_truth: list[dict] | None
    clip_skipped: str | None
    real_faces: Path
    workdir: Path
    seed: int = 0
    quick: bool = False
    progress: bool = True


def measure_camera(inputs: CameraInputs) -> dict:
    """Every measurement of the module docstring, one row per detector, and the targets checked."""
    s = inputs.settings
    names = list(inputs.detectors)
    model = camera_model(inputs.models)
    notes: list[str] = []
    from device.detector import DEFAULT_SEARCH_EVERY

    detectors = make_detectors(names, inputs.detector_model)  # independent canvases
    followers = make_detectors(names, inputs.detector_model, DEFAULT_SEARCH_EVERY)  # frame sequences, as the demo
    framings = detector_framings(names)
    rows = {n: {"detector": n, "framing": framings[n][0].describe()} for n in names}
    photos, why = load_real_photos(inputs.real_faces)
    if why:
        notes.append(f"{why}: the real-content measurements (detection time and faces found on real frames, "
                     "steady-face flicker, whole-pipeline FPS) are skipped")
    from device.classifier import ClassifierOptions, EmotionClassifier

    classifier = EmotionClassifier(ClassifierOptions(model.path, 1))  # one call, the views the model itself has
    with cv2_threads(1):
        if photos:
            total = len(photos) * s.frames_per_photo
            tallies = detect_real_frames(followers, compose_frames(photos, s.frames_per_photo, seed=inputs.seed),
                                         total, inputs.progress)
            for n in names:
                rows[n]["real"] = tallies[n].summary()
        if inputs.clip_source:
            limit = QUICK_CLIP_MAX_FRAMES if inputs.quick else CLIP_MAX_FRAMES
            total = min(limit, len(inputs.clip_truth)) if inputs.clip_truth else limit
            tallies = detect_clip(followers, read_clip(inputs.clip_source, limit), inputs.clip_truth, total,
                                  inputs.progress)
            for n in names:
                rows[n]["clip"] = {**tallies[n].summary(), "ground_truth": inputs.clip_truth is not None}
        elif inputs.clip_skipped:
            notes.append(f"labelled clip: {inputs.clip_skipped}")
        crops: dict = {}
        if inputs.faces_x is not None:
            count, placed = placements(inputs.faces_x, s.crop_faces, inputs.seed + SEED_OFFSET, s.crop_placements)
            crop_rows, crops = crop_accuracy(detectors, framings, classifier.predict_proba, inputs.faces_x,
                                             inputs.faces_y, placed, count, inputs.progress,
                                             detector_emotion_framings(names))
            for n in names:
                rows[n]["crops"] = crop_rows[n]
        else:
            notes.append("no --data: the crop accuracy and the reaction to a real change are skipped")
        del detectors, followers
        _flicker_and_reaction(inputs, model, classifier, photos, rows, notes)
    if photos:
        _pipeline_fps(inputs, model, photos, rows, notes)
    row_list = [rows[n] for n in names]
    return {
        "skipped": None,
        "model": {"variant": model.variant, "format": model.fmt, "file": model.path.name,
                  "mirror_in_graph": model.mirror_in_graph},
        "detectors": names,
        "settings": {**s.__dict__, "frame_size": list(FRAME_SIZE)},
        "real_faces": {"folder": str(inputs.real_faces), "photos": len(photos),
                       "faces": sum(p.faces for p in photos), "one_face_photos": sum(p.faces == 1 for p in photos)},
        "clip": {"source": inputs.clip_source, "ground_truth": inputs.clip_truth is not None},
        "rows": row_list,
        "targets": check_targets(row_list),
        "notes": notes,
        "_crops": crops,  # for the views measurement; dropped before results.json
    }


def _flicker_and_reaction(inputs: CameraInputs, model: ModelFile, classifier, photos: list[Photo],
                          rows: dict[str, dict], notes: list[str]) -> None:
    from device.demo import DemoOptions, build_pipeline

    s = inputs.settings
    steady = [p for p in photos if p.faces == 1][: s.steady_photos]
    pairs: list[tuple[int, int]] = []
    if inputs.faces_x is not None:
        predicted = classifier.predict_proba(inputs.faces_x.reshape(-1, INPUT_SIZE, INPUT_SIZE)).argmax(1)
        pairs = pick_pairs(inputs.faces_y, predicted, s.change_pairs, inputs.seed + SEED_OFFSET)
        if not pairs:
            notes.append("no pair of faces with different labels that the model gets right: no reaction measured")
    frames = len(steady) * int(round(s.steady_seconds * s.fps)) + len(pairs) * int(round(2 * s.change_seconds * s.fps))
    if not frames:
        return
    with progress_bar("camera: flicker and reaction", frames * len(rows), enabled=inputs.progress) as bar:
        for name, row in rows.items():
            pipeline = build_pipeline(DemoOptions(model=model.path, detector=name, detector_model=inputs.detector_model,
                                                  threads=1, headless=True))
            if steady:
                parts = []
                for k, photo in enumerate(steady):
                    pipeline.reset()
                    parts.append(observe(pipeline, steady_frames(photo, s.steady_seconds, s.fps,
                                                                 seed=inputs.seed + k)))
                    bar.update(len(parts[-1]))
                row["steady"] = _combine_steady([steady_stats(o) for o in parts], [p.name for p in steady])
            if pairs:
                results = []
                for k, (a, b) in enumerate(pairs):
                    pipeline.reset()
                    stream = list(change_frames(inputs.faces_x[a], inputs.faces_x[b], s.change_seconds, s.fps,
                                                seed=inputs.seed + k))
                    observations = observe(pipeline, ((t, f) for t, f, _ in stream))
                    bar.update(len(stream))
                    result = reaction_stats(observations, s.change_seconds, EMOTIONS[int(inputs.faces_y[a])],
                                            EMOTIONS[int(inputs.faces_y[b])])
                    results.append({**result, "faces": [a, b]})
                row["change"] = summarize_changes(results)


def _combine_steady(parts: list[dict], photos: list[str]) -> dict:
    """Totals over the steady photos: changes per minute over the time faces were shown."""
    measured = [p for p in parts if p.get("changes_per_minute") is not None]
    duration = sum(p["duration_s"] for p in measured)
    changes = sum(p["changes"] for p in measured)
    raw = sum(p["raw_changes_per_minute"] * p["duration_s"] / 60.0 for p in measured)
    return {
        "photos": photos,
        "frames": sum(p["frames"] for p in parts),
        "frames_with_face": sum(p["frames_with_face"] for p in parts),
        "duration_s": duration,
        "changes": changes,
        "changes_per_minute": 60.0 * changes / duration if duration > 0 else None,
        "raw_changes_per_minute": 60.0 * raw / duration if duration > 0 else None,
        "labels": [p.get("label") for p in parts],
        "tracks": sum(p.get("tracks", 0) for p in parts),
    }


def write_video(frames: Iterable[ComposedFrame], path: Path, fps: float = FPS,
                size: tuple[int, int] = FRAME_SIZE) -> int:
    """The frames into a Motion-JPEG AVI; how many were written."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise BenchError(f"camera: this OpenCV cannot write Motion-JPEG AVI ({path})")
    count = 0
    try:
        for frame in frames:
            writer.write(frame.bgr)
            count += 1
    finally:
        writer.release()
    return count


def _pipeline_fps(inputs: CameraInputs, model: ModelFile, photos: list[Photo], rows: dict[str, dict],
                  notes: list[str]) -> None:
    from benchmarks.pipeline_bench import PipelineRequest, spawn_worker, summarize_run

    single = [p for p in photos if p.faces == 1]
    if not single:
        notes.append("no one-face photo: no whole-pipeline FPS")
        return
    video = inputs.workdir / "real-content.avi"
    count = write_video(compose_frames(single, inputs.settings.frames_per_photo, seed=inputs.seed + 1), video)
    for name, row in rows.items():
        if name == "yunet":
            row["pipeline"] = {"error": "the pipeline worker takes no detector model file: not measured"}
            continue
        note(f"camera: whole pipeline with {name} ({count} frames)", inputs.progress)
        request = PipelineRequest(str(model.path), model.variant, model.fmt, str(video), None, threads=1,
                                  detector=name, progress=inputs.progress, expected_frames=count)
        summary = summarize_run(spawn_worker(request, WORKER_TIMEOUT_S), None)
        if "error" in summary:
            row["pipeline"] = {"error": summary["error"]}
            continue
        row["pipeline"] = {key: summary[key] for key in ("frames", "fps", "frame_ms", "stages_ms", "startup_ms",
                                                          "peak_rss_mib", "faces_detected")}
    haar = (rows.get("haar") or {}).get("pipeline") or {}
    for row in rows.values():
        mine = row.get("pipeline") or {}
        if mine.get("fps") and haar.get("fps"):
            mine["vs_haar"] = mine["fps"] / haar["fps"]


# ---------------------------------------------------------------- views: what the second (mirror) view costs and buys


def measure_views(models: ModelSet, model: ModelFile, x: np.ndarray | None, y: np.ndarray | None, crops: dict,
                  reference: str, progress: bool = True) -> dict:
    """Accuracy of the camera model's Keras checkpoint in one view and in two (the face and its mirror image,
    scores averaged, as the shipped models do in their graph), on the evaluation faces and on BlazeFace's
    calibrated crops of them. Needs TensorFlow and the manifest's checkpoint; otherwise says why not."""
    from benchmarks.accuracy import keras_predict, resolve_checkpoint

    if x is None or y is None:
        return {"measured": False, "reason": "no --data"}
    if reference == "float32":
        return {"measured": False, "reason": "--reference float32: the Keras checkpoint is not loaded"}
    checkpoint = resolve_checkpoint(models.checkpoint(model.variant), models.models_dir)
    if checkpoint is None:
        return {"measured": False, "reason": f"no Keras checkpoint for {model.variant} in the models' manifest"}
    labels = np.asarray(y).reshape(-1)
    out: dict = {"measured": True, "checkpoint": str(checkpoint), "variant": model.variant}
    try:
        note(f"camera: Keras one view vs two views ({checkpoint})", progress)
        sets = [("dataset", np.asarray(x).reshape(-1, INPUT_SIZE, INPUT_SIZE), labels)]
        name = next((n for n in ("blazeface", *crops) if crops.get(n) and crops[n][1] is not None), None)
        if name:
            indices, images, _ = crops[name]
            sets.append((f"{name}_calibrated", images, labels[indices]))
        for key, images, truth in sets:
            one, _ = keras_predict(checkpoint, images[..., None], mirror_average=False)
            two, _ = keras_predict(checkpoint, images[..., None], mirror_average=True)
            acc1, acc2 = float((one.argmax(1) == truth).mean()), float((two.argmax(1) == truth).mean())
            out[key] = {"n": len(truth), "one_view": acc1, "two_views": acc2, "gain_pp": 100 * (acc2 - acc1)}
    except ImportError as exc:
        return {"measured": False, "reason": f"TensorFlow/Keras cannot be imported ({exc})"}
    except Exception as exc:  # noqa: BLE001 - a damaged checkpoint: Keras raises many types
        return {"measured": False, "reason": f"Keras checkpoint {checkpoint}: {type(exc).__name__}: {exc}"}
    return out


def views_summary(camera: dict, latency: dict, accuracy: dict, keras: dict) -> dict:
    """The classifier's share of the BlazeFace frame time (the camera part's pipeline run, and the latency part's
    per-face time against that frame time) and what the second view buys in accuracy."""
    model = camera.get("model") or {}
    row = next((r for r in camera.get("rows", []) if r["detector"] == "blazeface"), None)
    pipe = (row or {}).get("pipeline") or {}
    out: dict = {"model": model, "views": 2 if model.get("mirror_in_graph") else 1, "keras": keras}
    if pipe.get("frame_ms"):
        frame = pipe["frame_ms"]["median"]
        classify = pipe["stages_ms"]["classify"]["median"]
        out["blazeface_frame_ms"] = frame
        out["classify_ms"] = classify
        out["classify_share"] = classify / frame if frame else None
    lat = next((r for r in latency.get("rows", []) if r["variant"] == model.get("variant")
                and r["format"] == model.get("format") and r["threads"] == 1), None)
    if lat:
        out["latency_us"] = lat["median_us"]
        if out.get("blazeface_frame_ms"):
            out["latency_share"] = lat["median_us"] / 1000.0 / out["blazeface_frame_ms"]
    acc = next((r for r in accuracy.get("rows", []) if r["variant"] == model.get("variant")
                and r["format"] == model.get("format")), None)
    if acc:
        out["tflite_accuracy"] = acc["accuracy"]
        out["tflite_mirror_gain_pp"] = acc.get("mirror_gain_pp")
    return out
