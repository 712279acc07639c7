"""The whole device pipeline on a clip or camera, one model at a time, each in a fresh worker process.

A fresh process per model makes two numbers honest: the peak RSS (``ru_maxrss`` is a per-process peak)
and the time from start to the first result (process start, imports, model/detector/source load, first
frame). The worker runs what the demo runs: the device's one frame loop (``device.loop``) over the demo's
pipeline (``device.demo.build_pipeline``: the requested detector with its calibrated framing, the classifier, the
demo's smoothing) and annotation (no window, no video writing). Per frame it records the stage timings and the
faces found; the parent turns them into per-stage median/p95, frames per second and, with a ground-truth file
(``clip.json``), end-to-end accuracy.

Worker: ``python -m benchmarks.pipeline_bench REQUEST.json RESULT.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmarks.errors import BenchError
from benchmarks.host import peak_rss_mib, project_root
from benchmarks.models import ModelFile
from benchmarks.stats import clustered_interval_pp, clustered_ratio_interval, summarize
from core.labels import EMOTIONS, INPUT_SIZE
from device.loop import STAGES as LOOP_STAGES

STAGES: tuple[str, ...] = LOOP_STAGES  # the frame loop's stage names (device.loop owns them)
FOUND_IOU = 0.3
LIVE_DEFAULT_FRAMES = 300


@dataclass(frozen=True)
class PipelineRequest:
    model: str
    variant: str
    fmt: str
    source: str
    max_frames: int | None
    threads: int = 1
    detector: str = "blazeface"
    detect_width: int = 320
    margin: float | None = None  # None: the detector's calibrated framing
    max_faces: int = 8
    spawned_at: float = 0.0  # the parent's time.monotonic() just before starting the worker
    progress: bool = True
    expected_frames: int | None = None  # for the progress bar (the ground truth's frame count)


# ---------------------------------------------------------------- worker (runs in its own process)


class _Annotate:
    """Draws every frame (the loop does it for sinks that want annotation) and discards it: what the demo pays for
    annotation, without a window or video file."""

    wants_annotation = True

    def write(self, frame, result, annotated) -> None:
        return None

    def close(self) -> None:
        pass


class _Collect:
    """Keeps each frame's stage timings and faces (after the loop has timed every stage) and moves the bar."""

    wants_annotation = False

    def __init__(self, bar) -> None:
        self.frames: list[dict] = []
        self.bar = bar

    def write(self, frame, result, annotated) -> None:
        self.frames.append({
            "timings_ms": dict(result.timings_ms),
            "faces": [{"box": f.box.as_list(), "label": f.label, "score": round(f.score, 4), "track": f.track_id}
                      for f in result.faces],
        })
        self.bar.update()
        return None

    def close(self) -> None:
        pass


def run_worker(request: PipelineRequest) -> dict:
    """Run the demo's frame loop (device.loop) over the source; per-frame timings (ms) and faces, startup times,
    peak RSS."""
    entered = time.monotonic()
    from benchmarks.progress import progress_bar
    from device.demo import DemoOptions, build_pipeline
    from device.loop import FrameLoop, LoopOptions
    from device.sources import SourceError, open_source

    imported = time.monotonic()
    options = DemoOptions(model=Path(request.model), detector=request.detector, threads=request.threads,
                          detect_width=request.detect_width, max_faces=request.max_faces, headless=True,
                          margin=request.margin)
    pipeline = build_pipeline(options)
    source = open_source(request.source)
    loaded = time.monotonic()
    limit = request.max_frames if request.max_frames is not None else (LIVE_DEFAULT_FRAMES if source.live else None)
    total = min(limit or request.expected_frames or 0, request.expected_frames or limit or 0)
    with progress_bar(f"pipeline {request.variant}/{request.fmt}/{request.detector}", total,
                      enabled=request.progress) as bar:
        collect = _Collect(bar)
        loop = FrameLoop(source, pipeline, [_Annotate(), collect], LoopOptions(max_frames=limit))
        summary = loop.run()
    if summary.stop_reason == "error":
        raise SourceError(summary.error or "the source failed")
    first_result = summary.first_result_at
    spawned = request.spawned_at or entered
    return {
        "request": asdict(request),
        "frames": collect.frames,
        "loop_seconds": summary.elapsed_s,
        "startup_ms": {
            "process_start_and_imports": (imported - spawned) * 1000.0,
            "load_model_detector_source": (loaded - imported) * 1000.0,
            "first_frame": ((first_result or loaded) - loaded) * 1000.0,
            "total": ((first_result or loaded) - spawned) * 1000.0,
        },
        "peak_rss_mib": peak_rss_mib(),
        "source_live": bool(source.live),
    }


def worker_main(argv: list[str]) -> int:
    from core.fileio import atomic_write_json

    if len(argv) != 2:
        print("usage: python -m benchmarks.pipeline_bench REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    request = PipelineRequest(**json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    try:
        result = run_worker(request)
    except Exception as exc:  # noqa: BLE001 - reported to the parent in one line
        result = {"request": asdict(request), "error": f"{type(exc).__name__}: {exc}"}
    atomic_write_json(argv[1], result)
    return 0


# ---------------------------------------------------------------- parent


def check_source(spec: str) -> dict:
    """Open the clip/camera once in this process: a clear error now instead of one per worker."""
    from device.sources import SourceError, open_source

    try:
        source = open_source(spec)
    except SourceError as exc:
        raise BenchError(f"clip: {exc}") from exc
    try:
        frame = source.read()
        if frame is None:
            raise BenchError(f"clip {spec}: no frames could be read")
        height, width = frame.bgr.shape[:2]
        return {"source": spec, "name": source.name, "live": source.live, "fps": source.fps,
                "width": width, "height": height}
    except SourceError as exc:
        raise BenchError(f"clip: {exc}") from exc
    finally:
        source.close()


def spawn_worker(request: PipelineRequest, timeout: float | None = None) -> dict:
    """Run one worker process; its progress goes to our stderr."""
    env = dict(os.environ)
    root = str(project_root())
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with tempfile.TemporaryDirectory(prefix="feredge-bench-") as tmp:
        req_path, res_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        spawned = time.monotonic()
        req_path.write_text(json.dumps({**asdict(request), "spawned_at": spawned}), encoding="utf-8")
        try:
            proc = subprocess.run([sys.executable, "-m", "benchmarks.pipeline_bench", str(req_path), str(res_path)],
                                  env=env, timeout=timeout, stdout=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"request": asdict(request), "error": f"worker timed out after {timeout:.0f} s"}
        if not res_path.is_file():
            return {"request": asdict(request), "error": f"worker exited with code {proc.returncode} and no result"}
        return json.loads(res_path.read_text(encoding="utf-8"))


def evaluate_frames(frames: list[dict], truth: list[dict] | None) -> dict | None:
    """End-to-end accuracy against the clip's ground truth (None without one)."""
    if truth is None:
        return None
    from device.detector import Box
    from device.tracking import match_boxes

    gt_faces = found = correct = false = evaluated = 0
    per_class: dict[str, dict[str, int]] = {}
    track_faces: dict[int, set[tuple[int, int]]] = {}
    by_face: dict[tuple, list] = {}  # placed face -> [found, correct, label] over its frames
    for i, frame in enumerate(frames[: len(truth)]):
        entry = truth[i]
        gts = [Box(*f["box"]) for f in entry["faces"]]
        dets = [Box(*f["box"]) for f in frame["faces"]]
        matched = match_boxes(gts, dets, FOUND_IOU)  # {det index: gt index}
        evaluated += 1
        gt_faces += len(gts)
        false += len(dets) - len(matched)
        for gi, gt in enumerate(entry["faces"]):
            stats = per_class.setdefault(gt["label"], {"faces": 0, "found": 0, "correct": 0})
            stats["faces"] += 1
            di = next((d for d, g in matched.items() if g == gi), None)
            if di is None:
                continue
            found += 1
            stats["found"] += 1
            det = frame["faces"][di]
            tally = by_face.setdefault((entry.get("segment", i), gi, gt.get("face")), [0, 0, gt["label"]])
            tally[0] += 1
            if det["label"] == gt["label"]:
                correct += 1
                stats["correct"] += 1
                tally[1] += 1
            if det.get("track", -1) >= 0:
                track_faces.setdefault(det["track"], set()).add((entry.get("segment", i), gi))
    return {
        "frames": evaluated,
        "gt_frames": len(truth),
        "gt_faces": gt_faces,
        "found": found,
        "correct": correct,
        "detection_recall": found / gt_faces if gt_faces else None,
        "false_detections": false,
        "false_detections_per_frame": false / evaluated if evaluated else None,
        "label_accuracy_found": correct / found if found else None,
        # the placed faces, not the frames, are the independent units: a face's frames share its label and its look
        "faces_found": len(by_face),
        "per_face": [{"face": key[2], "label": label, "found": n, "correct": c}
                     for key, (n, c, label) in by_face.items()],
        "label_accuracy_found_ci_pp": clustered_interval_pp([c for _, c, _ in by_face.values()],
                                                            [f for f, _, _ in by_face.values()]),
        "label_accuracy_all": correct / gt_faces if gt_faces else None,
        "tracks": len(track_faces),
        "tracks_spanning_faces": sum(1 for faces in track_faces.values() if len(faces) > 1),
        "per_class": per_class,
        "iou_threshold": FOUND_IOU,
    }


def summarize_run(result: dict, truth: list[dict] | None) -> dict:
    """A report row from a worker's result."""
    request = result["request"]
    row = {"variant": request["variant"], "format": request["fmt"], "model": request["model"],
           "threads": request["threads"]}
    if "error" in result:
        return {**row, "error": result["error"]}
    frames = result["frames"]
    stages = {s: summarize([f["timings_ms"].get(s, 0.0) for f in frames]) for s in STAGES}
    totals = [sum(f["timings_ms"].get(s, 0.0) for s in STAGES) for f in frames]
    return {
        **row,
        "frames": len(frames),
        "faces_detected": sum(len(f["faces"]) for f in frames),
        "stages_ms": {s: {"median": v["median"], "p95": v["p95"], "mean": v["mean"]} for s, v in stages.items()},
        "frame_ms": summarize(totals),
        "fps": len(frames) / result["loop_seconds"] if result["loop_seconds"] > 0 else None,
        "startup_ms": result["startup_ms"],
        "peak_rss_mib": result["peak_rss_mib"],
        "end_to_end": evaluate_frames(frames, truth),
    }


def same_faces_on_dataset_crops(e2e: dict | None, predict: Callable[[np.ndarray], np.ndarray], faces: np.ndarray,
                                labels: np.ndarray) -> dict | None:
    """The clip's found faces scored again on their dataset crops (the 48x48 originals) by ``predict`` (the same
    model), each weighted by its found frames as on the clip, and the paired difference clip - dataset with its 95%
    interval over the faces (:func:`benchmarks.stats.clustered_ratio_interval`). The clip's faces are drawn
    class-balanced, so this, not the split's accuracy, is what the clip's accuracy compares with. ``faces``/``labels``:
    the whole evaluation split the clip was built from (its ``face`` indices point into it); None without per-face
    results or face indices, and a BenchError when an index or its label does not match this data."""
    per_face = [f for f in (e2e or {}).get("per_face", []) if f["face"] is not None]
    if not per_face:
        return None
    index = np.asarray([f["face"] for f in per_face], np.int64)
    if index.min() < 0 or index.max() >= len(labels):
        raise BenchError(f"the clip's face indices run to {int(index.max())}, but the data has {len(labels)} "
                         "evaluation faces: the clip was built from other data (rebuild it, or pass its --data)")
    truth = np.asarray([EMOTIONS.index(f["label"]) for f in per_face])
    if not np.array_equal(np.asarray(labels)[index], truth):
        raise BenchError("the clip's face labels differ from this data's labels at the same indices: the clip was "
                         "built from other data (rebuild it, or pass its --data)")
    right = predict(np.asarray(faces)[index].reshape(-1, INPUT_SIZE, INPUT_SIZE)).argmax(1) == truth
    found = np.asarray([f["found"] for f in per_face], np.float64)
    correct = np.asarray([f["correct"] for f in per_face], np.float64)
    diff = clustered_ratio_interval(correct - right * found, found)
    return {
        "faces": len(per_face),
        "acc_clip": float(correct.sum() / found.sum()),
        "acc_dataset": float((right * found).sum() / found.sum()),
        "acc_dataset_faces": float(right.mean()),  # each face once
        "clip_minus_dataset_pp": float(100 * (correct - right * found).sum() / found.sum()),
        "clip_minus_dataset_ci_pp": None if diff is None else [100 * diff[0], 100 * diff[1]],
    }


def load_truth(path: Path | None) -> tuple[list[dict] | None, dict | None]:
    """(frames, document) of a clip.json, or (None, None)."""
    if path is None:
        return None, None
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        frames = document["frames"]
        for entry in frames:
            for face in entry["faces"]:
                if len(face["box"]) != 4 or not isinstance(face["label"], str):
                    raise ValueError("a face needs box [x, y, w, h] and label")
                if face["label"] not in EMOTIONS:
                    raise ValueError(f"frame {entry.get('index', '?')}: label {face['label']!r} is not one of "
                                     f"{', '.join(EMOTIONS)}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"ground truth {path}: unreadable ({type(exc).__name__}: {exc})") from exc
    return frames, document


def measure_pipeline(
    models: list[ModelFile],
    source: str,
    truth: list[dict] | None,
    max_frames: int | None,
    progress: bool = True,
) -> list[dict]:
    """One row per model: per-stage ms, FPS, startup, peak RSS, end-to-end accuracy (with ground truth)."""
    rows = []
    for model in models:
        request = PipelineRequest(str(model.path), model.variant, model.fmt, source, max_frames, progress=progress,
                                  expected_frames=len(truth) if truth else None)
        rows.append(summarize_run(spawn_worker(request), truth))
    return rows


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
