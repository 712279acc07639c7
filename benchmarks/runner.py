"""``python -m benchmarks run``: the accuracy, latency, pipeline and camera parts, then the report."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from benchmarks.errors import BenchError
from benchmarks.host import default_out_dir, host_facts, load_average, peak_rss_mib
from benchmarks.models import ModelSet, find_models
from benchmarks.progress import note
from core.formats import FORMATS, FORMATS_BY_NAME
from core.paths import folder_problem

SCHEMA = "feredge-bench/1"
QUICK_FACES = 200
QUICK_PIPELINE_FRAMES = 60
QUICK_PIPELINE_FORMATS: tuple[str, ...] = ("int8", "float32")
AUTO_CLIP_FACES, QUICK_AUTO_CLIP_FACES = 60, 12
PARTS: tuple[str, ...] = ("accuracy", "latency", "pipeline", "camera")
BUSY_LOAD = 0.5  # a 1-minute load average above this at the start gets a note in the report


@dataclass
class RunConfig:
    models: Path
    data: Path | None = None
    clip: str | None = None  # video file (its clip.json is the ground truth), camera index, picamera2, folder
    variants: list[str] | None = None
    formats: list[str] | None = None
    pipeline_formats: list[str] | None = None  # default: all formats (quick: int8 and float32)
    pipeline_frames: int | None = None  # default: the whole clip (quick: 60; live sources: 300)
    threads_max: int | None = None
    quick: bool = False
    out: Path | None = None
    reference: str = "auto"
    seed: int = 0
    plots: bool = True
    progress: bool = True
    mirror: bool = True  # also score every model with mirror averaging
    parts: tuple[str, ...] = PARTS
    detectors: list[str] | None = None  # camera part (default: camera.DEFAULT_DETECTORS, + yunet with a model)
    detector_model: Path | None = None  # YuNet's ONNX file
    crop_placements: int = 1  # canvases each evaluation face is placed on for the crop accuracy
    real_faces: Path | None = None  # the real photos (default: ../shared/data/real-faces beside the repository)
    argv: list[str] = field(default_factory=list)


@dataclass
class RunOutcome:
    out: Path
    report: Path
    results: dict
    failed: bool = False  # every pipeline run failed (the report says why)


def _is_file_source(spec: str) -> bool:
    return not (spec.strip().isdigit() or spec.strip() == "picamera2" or "://" in spec)


def _resolve_clip(config: RunConfig, tmp: Path) -> tuple[str | None, Path | None, str | None, list[str], str | None]:
    """(source spec, ground-truth path, clip command, clip notes, skip reason)."""
    from benchmarks.clip import ClipOptions, build_clip, clip_command, ground_truth_for

    if config.clip:
        spec = config.clip
        if _is_file_source(spec):
            path = Path(spec).expanduser()
            return str(path), ground_truth_for(path) if path.is_file() else None, None, [], None
        return spec, None, None, [], None
    if config.data is None:
        return None, None, None, [], "no --clip and no --data to build one from"
    faces = QUICK_AUTO_CLIP_FACES if config.quick else AUTO_CLIP_FACES
    options = ClipOptions(config.data, tmp / "clip", faces=faces, seed=config.seed, check=False)
    result = build_clip(options, progress=config.progress)
    notes = [f"clip generated from the data for this run ({result.frames} frames, {result.faces_placed} faces); "
             "rebuild it with the command above"]
    command = clip_command(options).replace(str(tmp / "clip"), "CLIPDIR")
    return str(result.video), result.ground_truth, command, notes, None


@dataclass
class _Clip:
    source: str | None
    info: dict | None
    truth: list[dict] | None
    ground_truth: str | None
    command: str | None
    notes: list[str]
    skipped: str | None


def _prepare_clip(config: RunConfig, tmp: Path) -> _Clip:
    """Resolve (or build) the clip and open it once, so a bad clip fails before anything is measured."""
    from benchmarks.pipeline_bench import check_source, load_truth

    source, gt_path, command, notes, skipped = _resolve_clip(config, tmp)
    if source is None:
        return _Clip(None, None, None, None, None, notes, skipped)
    info = check_source(source)
    truth, truth_doc = load_truth(gt_path)
    if truth_doc and truth_doc.get("haar_check") and not command:
        check = truth_doc["haar_check"]
        notes.append(f"the clip generator's own check: Haar found {check['found']} of {check['faces']} faces")
    label = ("generated clip.json" if command else str(gt_path)) if gt_path else None
    return _Clip(source, info, truth, label, command, notes, None)


def _pipeline_part(config: RunConfig, models: ModelSet, formats: list[str], clip: _Clip) -> dict:
    from benchmarks.pipeline_bench import measure_pipeline

    if clip.source is None:
        return {"skipped": clip.skipped, "rows": []}
    wanted = config.pipeline_formats or (list(QUICK_PIPELINE_FORMATS) if config.quick else formats)
    chosen = models.pipeline_choice([f for f in wanted if f in formats])
    frames = config.pipeline_frames or (QUICK_PIPELINE_FRAMES if config.quick else None)
    return {
        "skipped": None,
        "source": clip.info,
        "ground_truth": clip.ground_truth,
        "clip_command": clip.command,
        "clip_notes": clip.notes,
        "max_frames": frames,
        "rows": measure_pipeline(chosen, clip.source, clip.truth, frames, config.progress),
        "serving": serving_cost(clip.source),
    }


def _same_faces(pipeline: dict, models: ModelSet, config: RunConfig, faces) -> None:
    """Each pipeline row with per-face results gets ``same_faces``: the clip's found faces on their dataset crops with
    the same model (:func:`benchmarks.pipeline_bench.same_faces_on_dataset_crops`). Needs ``--data``: the whole
    evaluation split, since the clip's face indices point into it (a quick run's subset is not enough)."""
    from benchmarks.data import load_eval_faces
    from benchmarks.pipeline_bench import same_faces_on_dataset_crops
    from device.classifier import ClassifierOptions, EmotionClassifier

    rows = [r for r in pipeline.get("rows", []) if (r.get("end_to_end") or {}).get("per_face")]
    if not rows or config.data is None:
        return
    split = faces if faces is not None and len(faces) == faces.total else load_eval_faces(config.data)
    by_name = {(m.variant, m.fmt): m for m in models.models}
    for row in rows:
        model = by_name.get((row["variant"], row["format"]))
        if model is None:
            continue
        classifier = EmotionClassifier(ClassifierOptions(model.path, 1))  # the views its graph has, as the demo
        row["same_faces"] = same_faces_on_dataset_crops(row["end_to_end"], classifier.predict_proba, split.x,
                                                        split.y)


def serving_cost(source: str) -> dict | None:
    """What the web view (``--serve``) adds per watched frame: the JPEG encode of one of the source's frames at its
    own resolution and the default quality (``device.web.encode_cost``); None when no frame can be read."""
    from device.sources import SourceError, open_source
    from device.web import DEFAULT_JPEG_QUALITY, encode_cost

    try:
        opened = open_source(source)
        try:
            frame = opened.read()
        finally:
            opened.close()
    except SourceError:
        return None
    return encode_cost(frame.bgr, DEFAULT_JPEG_QUALITY) if frame is not None else None


def camera_detectors(config: RunConfig) -> list[str]:
    """The detectors the camera part compares; YuNet only with a model file (checked before anything is measured)."""
    from benchmarks.camera import DEFAULT_DETECTORS

    names = list(dict.fromkeys(config.detectors or [*DEFAULT_DETECTORS,
                                                     *(["yunet"] if config.detector_model else [])]))
    if "yunet" in names and config.detector_model is None:
        raise BenchError("--detectors yunet: needs --detector-model face_detection_yunet_*.onnx")
    return names


def _camera_part(config: RunConfig, models: ModelSet, faces, clip: _Clip | None, tmp: Path) -> dict:
    from benchmarks.camera import CameraInputs, CameraSettings, measure_camera
    from benchmarks.scenes import default_real_faces

    source, truth, skipped = None, None, None
    if clip is None or clip.source is None:
        skipped = (clip.skipped if clip else None) or "no clip"
    elif clip.info and clip.info.get("live"):
        skipped = f"{clip.source} is a live source: its frames cannot be shown to every detector alike"
    else:
        source, truth = clip.source, clip.truth
    inputs = CameraInputs(
        models=models, detectors=camera_detectors(config), detector_model=config.detector_model,
        settings=replace(CameraSettings.quick() if config.quick else CameraSettings(),
                         crop_placements=config.crop_placements),
        faces_x=faces.x if faces is not None else None, faces_y=faces.y if faces is not None else None,
        clip_source=source, clip_truth=truth, clip_skipped=skipped,
        real_faces=Path(config.real_faces) if config.real_faces else default_real_faces(),
        workdir=tmp, seed=config.seed, quick=config.quick, progress=config.progress,
    )
    note(f"camera: {', '.join(inputs.detectors)}", config.progress)
    return measure_camera(inputs)


def run_benchmark(config: RunConfig) -> RunOutcome:
    """Measure and write the report; raises BenchError for bad input (before anything is measured)."""
    from benchmarks.accuracy import REFERENCES, measure_accuracy, measure_jitter
    from benchmarks.data import load_eval_faces
    from benchmarks.latency import LatencySettings, measure_latency, thread_counts

    started = time.perf_counter()
    if config.reference not in REFERENCES:
        raise BenchError(f"--reference {config.reference!r}: expected one of {', '.join(REFERENCES)}")
    unknown = [p for p in config.parts if p not in PARTS]
    if unknown or not config.parts:
        raise BenchError(f"--parts {unknown or '(none)'}: expected some of {', '.join(PARTS)}")
    out = Path(config.out) if config.out else default_out_dir()
    if problem := folder_problem("--out", out, "the benchmark report"):
        raise BenchError(problem)
    models = find_models(config.models, config.variants, config.formats)
    if "camera" in config.parts:
        from benchmarks.camera import make_detectors

        make_detectors(camera_detectors(config), config.detector_model)  # a bad detector model: exit 2 now
    if config.clip and ("pipeline" in config.parts or "camera" in config.parts):
        spec = config.clip
        if _is_file_source(spec) and not Path(spec).expanduser().exists():
            raise BenchError(f"clip {spec}: not found (build one: python -m benchmarks clip --data DATA --out DIR)")
    host = host_facts(config.argv)
    notes: list[str] = []
    load = host.get("load_average_start")
    if load and load[0] > BUSY_LOAD:
        notes.append(f"the 1-minute load average was {load[0]:.2f} on {host['cores']} cores when the run started: "
                     "other processes were using the CPU, so latencies are likely higher than on an idle machine")
    faces = load_eval_faces(config.data, QUICK_FACES if config.quick else None, config.seed) if config.data else None
    if faces is not None:
        notes += faces.notes
    formats = config.formats or [f.name for f in FORMATS]
    not_asked = f"not asked for (--parts {' '.join(config.parts)})"

    threads = thread_counts(config.threads_max)
    settings = LatencySettings.quick() if config.quick else LatencySettings()
    latency: dict = {"skipped": not_asked, "settings": asdict(settings), "threads": threads, "rows": []}
    pipeline: dict = {"skipped": not_asked, "rows": []}
    camera: dict = {"skipped": not_asked, "rows": []}
    with tempfile.TemporaryDirectory(prefix="feredge-bench-") as tmp:
        wants_clip = "pipeline" in config.parts or "camera" in config.parts
        clip = _prepare_clip(config, Path(tmp)) if wants_clip else None
        if "latency" in config.parts:
            note(f"latency: {len(models.models)} models x {len(threads)} thread counts", config.progress)
            latency["skipped"] = None
            latency["rows"] = measure_latency(models.models, threads, faces.x if faces is not None else None,
                                              settings, config.progress)
        if clip is not None and "pipeline" in config.parts:
            pipeline = _pipeline_part(config, models, formats, clip)
            _same_faces(pipeline, models, config, faces)
        if "camera" in config.parts:
            camera = _camera_part(config, models, faces, clip, Path(tmp))

    accuracy: dict = {"skipped": "no data given: pass DATA=... to make, or --data PATH", "rows": []}
    if "accuracy" not in config.parts:
        accuracy["skipped"] = not_asked
    references: list = []
    if faces is not None and "accuracy" in config.parts:
        rows, references = measure_accuracy(models, faces.x, faces.y, config.reference, config.progress,
                                               config.mirror)
        accuracy = {"skipped": None, "data": faces.source, "split": faces.split, "n": len(faces),
                    "total": faces.total, "rows": rows,
                    "jitter": measure_jitter(models, faces.x, faces.y, config.progress, rows)}
    if "camera" in config.parts:
        from benchmarks.camera import camera_model, measure_views, views_summary

        keras = measure_views(models, camera_model(models), faces.x if faces is not None else None,
                              faces.y if faces is not None else None, camera.pop("_crops", {}), config.reference,
                              config.progress)
        camera["views"] = views_summary(camera, latency, accuracy, keras)
    tf_version = next((r.versions.get("tensorflow") for r in references if r.versions), None)
    host["load_average_end"] = load_average()
    results = {
        "schema": SCHEMA,
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": host["command"],
        "quick": config.quick,
        "host": host,
        "models_dir": str(config.models),
        "formats": [{"name": f, "description": FORMATS_BY_NAME[f].description} for f in formats],
        "models": [{"variant": m.variant, "format": m.fmt, "file": m.path.name, "size_bytes": m.size_bytes,
                    "sha256": m.manifest.get("sha256"), "mirror_in_graph": m.mirror_in_graph}
                   for m in models.models],
        "missing_models": models.missing,
        "reference": {
            "mode": config.reference,
            "tensorflow": tf_version,
            "used": [{"variant": r.variant, "kind": r.kind, "source": r.source, "notes": r.notes,
                      "versions": r.versions} for r in references],
        },
        "accuracy": accuracy,
        "latency": latency,
        "pipeline": pipeline,
        "camera": camera,
        "benchmark_peak_rss_mib": peak_rss_mib(),
        "notes": list(dict.fromkeys(notes)),
        "duration_s": time.perf_counter() - started,
    }
    from benchmarks.report import write_outputs

    report = write_outputs(results, out, config.plots)
    failed = bool(pipeline["rows"]) and all("error" in r for r in pipeline["rows"])
    return RunOutcome(out, report, results, failed)
