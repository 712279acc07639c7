"""``python -m device``: live facial-emotion recognition demo (no TensorFlow needed).

Exit codes: 0 ok (including end of video and Ctrl-C), 1 runtime failure (source lost after retries),
2 bad input (missing/invalid model, unknown source, bad flag).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from core.argtypes import number_type
from device.classifier import ModelError
from device.demo import (
    EXIT_BAD_INPUT,
    DemoOptions,
    OutputError,
    default_model_path,
    run_demo,
)
from device.detector import DETECTORS, DetectorError
from device.preprocess import DEFAULT_MARGIN
from device.sources import SourceError
from device.tracking import parse_smoothing

MAX_MARGIN = 1.0  # a margin of a whole box side per side already crops a frame 3x the face
MARGIN_RANGE = f"0..{MAX_MARGIN:g}"
MAX_RETRY_DELAY_S = 3600.0


def _smoothing(text: str) -> tuple[int, float | None]:
    try:
        return parse_smoothing(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _file_path(expected: str):
    """An argparse ``type=`` for a model file: a directory is refused here (a missing file is reported when the
    model is loaded, with its own hint)."""

    def parse(text: str) -> Path:
        path = Path(text)
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text}: is a directory, expected {expected}")
        return path

    parse.__name__ = expected
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m device",
        description="Facial emotion recognition on a camera, video, or image folder (TFLite, no TensorFlow).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    positive_int = number_type(int, 1, "an integer >= 1")
    count = number_type(int, 0, "an integer >= 0")
    seconds = number_type(float, 0.0, "a number of seconds >= 0")
    fraction = number_type(float, 0.0, f"a fraction of the face box side, {MARGIN_RANGE}", high=MAX_MARGIN)
    delay = number_type(float, 0.0, f"a number of seconds, 0..{MAX_RETRY_DELAY_S:g}", high=MAX_RETRY_DELAY_S)
    p.add_argument(
        "--source", default="0", help="camera index, 'picamera2', video file, stream URL, image folder or image file"
    )
    p.add_argument("--model", type=_file_path("a .tflite file"), default=default_model_path(),
                   help="TFLite model (float or int8)")
    p.add_argument("--detector", choices=DETECTORS, default="blazeface",
                   help="face detector: blazeface (BlazeFace short-range, faces within about 2 m), blazeface-full "
                   "(full-range, up to about 5 m), both shipped in device/models/; haar (OpenCV); yunet (needs "
                   "--detector-model)")
    p.add_argument("--detector-model", type=_file_path("a BlazeFace .tflite or a YuNet .onnx file"), default=None,
                   help="the detector's model file: a BlazeFace .tflite instead of the shipped one, or the YuNet "
                   ".onnx (required for --detector yunet); not used by haar")
    p.add_argument("--threads", type=positive_int, default=1, help="TFLite interpreter threads")
    p.add_argument("--mirror-average", action="store_true",
                   help="also classify each face's mirror image and average the scores (2x classifier time; see the "
                   "benchmark report for what it buys per model). Models from `make convert` already do this in "
                   "their graph (manifest.json: mirror_average), where this flag is skipped with a note; it is "
                   "for one-view models (convert --no-mirror)")
    p.add_argument(
        "--smoothing",
        type=_smoothing,
        default="5",
        help="per-face smoothing: window in frames (integer, 1 or 0 = off) or EMA alpha in (0, 1)",
    )
    p.add_argument(
        "--margin",
        type=fraction,
        default=DEFAULT_MARGIN,
        help=f"crop margin per side, as a fraction of the face box side, {MARGIN_RANGE}",
    )
    p.add_argument("--max-frames", type=count, default=None, help="stop after this many frames")
    p.add_argument("--duration", type=seconds, default=None, help="stop after this many seconds")
    p.add_argument(
        "--headless",
        action="store_true",
        help="no window: one JSON line per frame on stdout (automatic without a display)",
    )
    p.add_argument("--record", type=Path, default=None, help="write the annotated video here (.mp4, .avi, .mkv)")
    p.add_argument("--retries", type=count, default=0, help="re-open a camera/stream this many times if it stops")
    p.add_argument("--retry-delay", type=delay, default=1.0,
                   help=f"seconds to wait before re-opening, 0..{MAX_RETRY_DELAY_S:g}")
    p.add_argument("--detect-width", type=count, default=320,
                   help="Haar and YuNet: detect faces on a frame this wide (0: full); BlazeFace letterboxes the "
                   "whole frame to its own input size")
    p.add_argument("--max-faces", type=count, default=8, help="classify at most this many (largest) faces; 0: all")
    p.add_argument("--width", type=positive_int, default=None, help="camera capture width")
    p.add_argument("--height", type=positive_int, default=None, help="camera capture height")
    return p


def options_from_args(args: argparse.Namespace) -> DemoOptions:
    window, alpha = args.smoothing
    return DemoOptions(
        source=args.source,
        model=args.model,
        detector=args.detector,
        detector_model=args.detector_model,
        threads=args.threads,
        mirror_average=args.mirror_average,
        smoothing_window=window,
        smoothing_alpha=alpha,
        margin=args.margin,
        max_frames=args.max_frames,
        duration=args.duration,
        headless=args.headless,
        record=args.record,
        retries=args.retries,
        retry_delay=args.retry_delay,
        detect_width=args.detect_width,
        max_faces=args.max_faces or None,
        width=args.width,
        height=args.height,
    )


def _silence_stdout() -> None:
    """After the reader of stdout went away (``| head``): keep Python's final flush from failing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (systemd stop) end the demo cleanly with its summary.

    Installed explicitly: a process started in the background by a non-interactive shell inherits SIGINT as
    ignored, and Python then never raises KeyboardInterrupt.
    """

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    options = options_from_args(build_parser().parse_args(argv))
    _stop_on_signals()
    try:
        summary = run_demo(options)
    except (ModelError, DetectorError, SourceError, OutputError) as exc:
        hint = " (pass --model PATH)" if isinstance(exc, ModelError) and not options.model.exists() else ""
        print(f"error: {exc}{hint}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("summary: interrupted before the first frame", file=sys.stderr)
        return 0
    if summary.stop_reason == "stdout-closed":
        _silence_stdout()
    if summary.error:
        print(f"error: {summary.error}", file=sys.stderr)
    print(summary.line(), file=sys.stderr)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
