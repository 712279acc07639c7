"""The live demo loop: source -> pipeline -> window, JSON lines and/or recorded video.

Headless mode (asked for, or automatic without a display or GUI-less OpenCV) prints one JSON line per
frame on stdout. Timings per frame: ``capture`` (read + decode), the pipeline's stages, and ``draw``
(annotation, video write and window update; 0 when nothing is drawn). The summary goes to stderr.

Faces are tracked and smoothed across the frames of a stream (camera, video); the images of a folder are
independent stills (``FrameSource.stills``): the tracker starts afresh on each, and an image that cannot be
decoded is skipped with a warning (counted in the summary).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np

from core.manifest import DEFAULT_MODEL_FILE
from core.paths import project_root
from device.classifier import ClassifierOptions, EmotionClassifier
from device.detector import DEFAULT_SEARCH_EVERY, make_detector, parse_setting, setting_key
from device.framing import Framing, calibrated_framing
from device.loop import DEFAULT_STILL_S, FrameLoop, LoopOptions, LoopSummary, OutputError
from device.pipeline import EmotionPipeline, FrameResult, to_json
from device.preprocess import DEFAULT_MARGIN
from device.smoothing import (
    DEFAULT_LABEL_HOLD_S,
    DEFAULT_LABEL_MARGIN,
    DEFAULT_SETTLE_S,
    DEFAULT_TAU_S,
    SmoothingConfig,
)
from device.sources import Frame, open_source
from device.tracking import FaceTracker
from device.web import DEFAULT_JPEG_QUALITY, DEFAULT_MAX_CLIENTS, WebView, pipeline_info

DEFAULT_MODEL = Path("models") / DEFAULT_MODEL_FILE  # core.manifest says which model is the default, and why
WINDOW = "feredge"
VIDEO_CODECS: dict[str, str] = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
FALLBACK_FPS = 15.0
QUIT_KEYS = (ord("q"), 27)  # q, Esc

EXIT_OK, EXIT_RUNTIME, EXIT_BAD_INPUT = 0, 1, 2


def default_model_path() -> Path:
    return project_root() / DEFAULT_MODEL


@dataclass
class DemoOptions:
    source: str = "0"
    model: Path = field(default_factory=default_model_path)
    detector: str = "blazeface"  # BlazeFace short-range, shipped in device/models/
    detector_model: Path | None = None
    refine: float | None = None  # BlazeFace's second look (None: the detector's default, DEFAULT_REFINE; 0: off)
    search_every: int = DEFAULT_SEARCH_EVERY  # BlazeFace: a whole-frame search every this many frames (1: each)
    threads: int = 1
    mirror_average: bool = False  # classify each face and its mirror image, average the scores
    balance: float = 0.0  # prior correction (core.balance): 0 is the model as trained, up to 2
    smoothing_tau: float = DEFAULT_TAU_S  # seconds: per-face average of the log-probabilities in source time (0: off)
    label_margin: float = DEFAULT_LABEL_MARGIN  # log-probability lead another class needs to replace the label
    label_hold: float = DEFAULT_LABEL_HOLD_S  # seconds it must keep that lead
    label_settle: float = DEFAULT_SETTLE_S  # slow rule: seconds a class must lead more than not to take over
    smoothing_window: int | None = None  # the earlier frame-count smoothing instead (--smoothing): a window...
    smoothing_alpha: float | None = None  # ... or a per-frame EMA alpha
    margin: float | None = None  # None: the detector's calibrated framing (framing.json); a number overrides it
    max_frames: int | None = None
    duration: float | None = None
    headless: bool = False
    record: Path | None = None
    retries: int = 0  # re-open a live source this many times when it stops
    retry_delay: float = 1.0
    detect_width: int = 320
    max_faces: int | None = 8
    width: int | None = None
    height: int | None = None
    serve: tuple[str, int] | None = None  # --serve: (host, port) of the web view (device.web), None: no server
    speed: float | None = None  # pace a file at this multiple of real time; 0: unpaced; None: play_speed() decides
    still_s: float = DEFAULT_STILL_S  # paced still images: seconds each is shown
    max_clients: int = DEFAULT_MAX_CLIENTS  # video and event streams at once
    jpeg_quality: int = DEFAULT_JPEG_QUALITY  # of the web view's video stream


@dataclass
class DemoSummary:
    frames: int
    mean_fps: float
    elapsed_s: float
    faces: int
    stop_reason: str  # max-frames, duration, end-of-stream, interrupted, quit, stdout-closed, error
    error: str | None = None
    exit_code: int = EXIT_OK
    skipped: int = 0  # undecodable images of a folder, skipped

    def line(self) -> str:
        plural = "" if self.skipped == 1 else "s"
        skipped = f", {self.skipped} image{plural} skipped (undecodable)" if self.skipped else ""
        text = (
            f"summary: {self.frames} frames in {self.elapsed_s:.2f} s, mean {self.mean_fps:.1f} FPS, "
            f"{self.faces} faces{skipped}, stopped: {self.stop_reason}"
        )
        return text + (f" ({self.error})" if self.error else "")


def display_problem() -> str | None:
    """Why no window can be shown, or None when one can (the window is then created)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display (DISPLAY and WAYLAND_DISPLAY unset)"
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
    except cv2.error:
        return "this OpenCV build has no GUI (opencv-python-headless?)"
    return None


def check_record_path(path: Path) -> None:
    """Up front, before model and camera are opened: extension, and a writable folder to put the file in."""
    if path.suffix.lower() not in VIDEO_CODECS:
        raise OutputError(f"record {path}: unsupported extension, expected one of {', '.join(VIDEO_CODECS)}")
    if path.is_dir():
        raise OutputError(f"record {path}: is a directory, expected a video file ({', '.join(VIDEO_CODECS)})")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"record {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"record {path}: folder {folder} is not writable")
    try:  # access(2) says yes to root everywhere: creating a file is the real test (read-only mounts, procfs)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".feredge-write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"record {path}: folder {folder} is not writable ({reason})") from exc


def fit_frame(bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``bgr`` scaled to fit ``size`` (width, height), centred on black: a video has one frame size."""
    width, height = size
    if bgr.shape[1] == width and bgr.shape[0] == height:
        return bgr
    scale = min(width / bgr.shape[1], height / bgr.shape[0])
    new_w, new_h = max(1, round(bgr.shape[1] * scale)), max(1, round(bgr.shape[0] * scale))
    canvas = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return canvas


class VideoRecorder:
    """Writes annotated frames to ``<path>`` via a hidden partial file, renamed into place on ``close()``.

    The first frame sets the video's size; later frames of another size (images of a folder) are fitted into it.
    """

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.partial = path.with_name(f".{path.stem}.partial{path.suffix}")
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] = (0, 0)

    def _open(self, size: tuple[int, int]) -> None:
        try:  # a writer that fails to open does not say why: tell an unwritable folder from a missing codec
            with open(self.partial, "wb"):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise OutputError(f"record {self.path}: cannot write to folder {self.path.parent} ({reason})") from exc
        fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
        writer = cv2.VideoWriter(str(self.partial), fourcc, self.fps, size)
        if not writer.isOpened():
            writer.release()
            self.partial.unlink(missing_ok=True)
            raise OutputError(f"record {self.path}: cannot open a video writer ({self.path.suffix} codec missing?)")
        self._writer, self._size = writer, size

    def write(self, bgr: np.ndarray) -> None:
        if self._writer is None:
            self._open((bgr.shape[1], bgr.shape[0]))
        self._writer.write(fit_frame(bgr, self._size))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            try:
                os.replace(self.partial, self.path)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise OutputError(
                    f"record {self.path}: cannot move the finished video into place ({reason}); it is in {self.partial}"
                ) from exc


def build_pipeline(options: DemoOptions) -> EmotionPipeline:
    """Raises ModelError / DetectorError for bad model files."""
    detector = make_detector(options.detector, options.detector_model, options.detect_width, options.threads,
                             options.refine, options.search_every)
    classifier = EmotionClassifier(
        ClassifierOptions(Path(options.model), options.threads, options.mirror_average, options.balance))
    if options.smoothing_window is not None or options.smoothing_alpha is not None:  # --smoothing: frame counts
        tracker = FaceTracker(window=options.smoothing_window, alpha=options.smoothing_alpha)
    else:
        config = SmoothingConfig(options.smoothing_tau, options.label_margin, options.label_hold,
                                 options.label_settle)
        tracker = FaceTracker(smoothing=config)
    return EmotionPipeline(detector, classifier, tracker, crop_framing(options), options.max_faces)


def framing_entry(options: DemoOptions) -> str | None:
    """The framing.json entry the crops follow: the detector setting's own, else (BlazeFace with a refinement never
    calibrated) the detector's; None with ``--margin`` or a detector never calibrated."""
    if options.margin is not None:
        return None
    key = setting_key(options.detector, options.refine)
    return next((k for k in (key, parse_setting(key)[0]) if calibrated_framing(k) is not None), None)


def crop_framing(options: DemoOptions) -> Framing:
    """How faces are cropped: ``--margin`` when given, else the calibrated framing of :func:`framing_entry`, else the
    default square margin (never calibrated)."""
    if options.margin is not None:
        return Framing.from_margin(options.margin)
    entry = framing_entry(options)
    return Framing.from_margin(DEFAULT_MARGIN) if entry is None else calibrated_framing(entry)


def play_speed(speed: float | None, shown: bool) -> float:
    """The pace of the loop for a file source: ``speed`` when given; else real time (1) when a window or the web
    view shows it, as a player would, and unpaced (0: as fast as the pipeline runs) for JSON lines and recordings
    alone. The loop never paces a live source, whatever this says (:class:`device.loop.FrameLoop`)."""
    if speed is not None:
        return speed
    return 1.0 if shown else 0.0


class WindowSink:
    """The annotated frame in an OpenCV window; "quit" on q, Esc or closing the window."""

    wants_annotation = True

    def write(self, frame: Frame, result: FrameResult, annotated: np.ndarray | None) -> str | None:
        cv2.imshow(WINDOW, annotated)
        return self.idle(0.001)

    def idle(self, seconds: float) -> str | None:
        """Keep the window answering (keys, closing) for ``seconds``: a paced loop waits here."""
        key = cv2.waitKey(max(1, round(seconds * 1000))) & 0xFF
        if key in QUIT_KEYS or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
            return "quit"
        return None

    def close(self) -> None:
        cv2.destroyAllWindows()


class RecorderSink:
    """The annotated frames into a video file (:class:`VideoRecorder`)."""

    wants_annotation = True

    def __init__(self, recorder: VideoRecorder) -> None:
        self.recorder = recorder

    def write(self, frame: Frame, result: FrameResult, annotated: np.ndarray | None) -> str | None:
        self.recorder.write(annotated)
        return None

    def close(self) -> None:
        self.recorder.close()


class JsonLinesSink:
    """One JSON line per frame (``device.pipeline.to_json``) on ``out``, every stage's time included."""

    wants_annotation = False

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, frame: Frame, result: FrameResult, annotated: np.ndarray | None) -> str | None:
        print(json.dumps(to_json(result)), file=self.out, flush=True)
        return None

    def close(self) -> None:
        pass


def demo_summary(loop: LoopSummary, source: str) -> DemoSummary:
    error = loop.error
    if error == "no frames could be read":
        error = f"source {source}: no frames could be read"
    return DemoSummary(frames=loop.frames, mean_fps=loop.mean_fps, elapsed_s=loop.elapsed_s, faces=loop.faces,
                       stop_reason=loop.stop_reason, error=error,
                       exit_code=EXIT_RUNTIME if loop.stop_reason == "error" else EXIT_OK, skipped=loop.skipped)


def run_demo(options: DemoOptions, out: TextIO | None = None, err: TextIO | None = None) -> DemoSummary:
    """Run the demo until max-frames, duration, end of video, Ctrl-C or the window is closed.

    Bad input found before the first frame (model, detector model, source, record path) raises
    ``ModelError``/``DetectorError``/``SourceError``/``OutputError``; faults after that end up in the summary.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    web = open_web_view(options, err)  # bound first: a port in use is an error before the model and camera open
    try:
        return _run_demo(options, out, err, web)
    except BaseException:
        if web is not None:  # the loop closes it once running; before that (bad model, no camera) we do
            web.close()
        raise


def open_web_view(options: DemoOptions, err: TextIO) -> WebView | None:
    """``--serve``: the web view, bound and serving (raises ``device.web.ServeError``); None without it."""
    if options.serve is None:
        return None
    host, port = options.serve
    web = WebView(host, port, max_clients=options.max_clients, jpeg_quality=options.jpeg_quality)
    exposed = (f" (all interfaces: open http://{socket.gethostname()}:{web.port}/ from another machine; anyone who "
               "can reach this one can watch)") if host in ("0.0.0.0", "::", "") else ""
    print(f"note: serving the web view on {web.url}{exposed}", file=err, flush=True)
    return web


def _run_demo(options: DemoOptions, out: TextIO, err: TextIO, web: WebView | None) -> DemoSummary:
    if options.record is not None:
        check_record_path(Path(options.record))
    pipeline = build_pipeline(options)
    if options.mirror_average and pipeline.classifier.mirrors_in_graph:
        print(f"note: model {options.model} already averages each face with its mirror image in its graph "
              "(manifest.json: mirror_average); --mirror-average would change nothing and is skipped",
              file=err, flush=True)
    show = False
    if not options.headless:
        problem = display_problem()
        if problem:
            print(f"note: {problem}: running headless, one JSON line per frame on stdout", file=err, flush=True)
        show = problem is None
    try:
        source = open_source(options.source, options.width, options.height)
    except BaseException:
        if show:
            cv2.destroyAllWindows()
        raise
    sinks: list = []
    if options.record is not None:
        sinks.append(RecorderSink(VideoRecorder(Path(options.record), source.fps or FALLBACK_FPS)))
    sinks.append(WindowSink() if show else JsonLinesSink(out))
    if web is not None:  # the video stream (annotated frames, only while watched) and the per-frame events
        web.info.update(pipeline_info(pipeline, Path(options.model)))
        if options.balance:
            web.info["balance"] = f"{options.balance:g}"
        sinks.extend(web.sinks)
    speed = play_speed(options.speed, shown=show or web is not None)
    loop = FrameLoop(
        source, pipeline, sinks,
        LoopOptions(options.max_frames, options.duration, options.retries, options.retry_delay, speed,
                    options.still_s),
        reopen=lambda: open_source(options.source, options.width, options.height), err=err,
        caption=f"balance {options.balance:g}" if options.balance else "",
    )
    if loop.pacer is not None:  # the loop decides (a live source is never paced); say what it will do
        pace = f"each image {options.still_s:g} s" if source.stills else "at its own frame times"
        print(f"note: playing {options.source} {pace} at {speed:g}x (--speed 0: as fast as the pipeline runs)",
              file=err, flush=True)
        if web is not None and source.stills:  # a long-shown image is not a stalled camera
            web.stale_after = max(web.stale_after, 2.0 * options.still_s / speed)
    return demo_summary(loop.run(), options.source)
