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
from core.balance import MAX_TAU
from device.classifier import ModelError
from device.demo import (
    EXIT_BAD_INPUT,
    DemoOptions,
    OutputError,
    default_model_path,
    run_demo,
)
from device.detector import (
    DEFAULT_SEARCH_EVERY,
    DETECTORS,
    MAX_REFINE,
    MAX_SEARCH_EVERY,
    DetectorError,
    refine_problem,
)
from device.framing import FramingError
from device.loop import DEFAULT_STILL_S
from device.preprocess import DEFAULT_MARGIN
from device.smoothing import (
    DEFAULT_LABEL_HOLD_S,
    DEFAULT_LABEL_MARGIN,
    DEFAULT_SETTLE_S,
    DEFAULT_TAU_S,
    MAX_HOLD_S,
    MAX_TAU_S,
    parse_smoothing,
)
from device.smoothing import MAX_MARGIN as MAX_LABEL_MARGIN
from device.sources import SourceError
from device.web import DEFAULT_JPEG_QUALITY, DEFAULT_MAX_CLIENTS, parse_address

MAX_MARGIN = 1.0  # a margin of a whole box side per side already crops a frame 3x the face
MARGIN_RANGE = f"0..{MAX_MARGIN:g}"
MAX_RETRY_DELAY_S = 3600.0


class _Default(float):
    """A flag's default value, told apart from the same number given on the command line."""


TIME_SMOOTHING_FLAGS = ("smooth_tau", "label_margin", "label_hold", "label_settle")


def _seconds_flag(parser: argparse.ArgumentParser, flag: str, default: float, high: float, help_text: str) -> None:
    """A smoothing flag in seconds, 0..``high``; its default marked so that giving it can be told apart."""
    parser.add_argument(flag, type=number_type(float, 0.0, f"a number of seconds, 0..{high:g}", high=high),
                        default=_Default(default), metavar="SECONDS", help=help_text)


def _check_smoothing_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """``--smoothing`` (frame counts) and the time-based flags choose different smoothers: not both."""
    given = [name for name in TIME_SMOOTHING_FLAGS if not isinstance(getattr(args, name), _Default)]
    if args.smoothing is not None and given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        parser.error(f"argument --smoothing: the frame-count smoothing does not combine with {flags} (time-based "
                     "smoothing); give one or the other")
    return args


def _smoothing(text: str) -> tuple[int, float | None]:
    try:
        return parse_smoothing(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _refine(text: str) -> float:
    """--refine: 0 (off) or a square of 1..8 times the face box."""
    expected = "0 (off) or a multiple of the face box"
    value = number_type(float, 0.0, f"{expected}, 1..{MAX_REFINE:g}", high=MAX_REFINE)(text)
    problem = refine_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r}: {problem}")
    return value


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
    p.add_argument("--refine", type=_refine, default=None,
                   help="BlazeFace: look at each face again in a square this many times its box (tighter boxes, "
                   "crops framed more like FER2013's, and a face not found again is dropped as a false one); "
                   "one more detector run per face; 0: off (one pass, MediaPipe's chain). Default: 2 for "
                   "blazeface, 0 for blazeface-full (its model misses faces that fill the square)")
    p.add_argument("--search-every", type=number_type(int, 1, f"a whole number of frames, 1..{MAX_SEARCH_EVERY}",
                                                      high=MAX_SEARCH_EVERY),
                   default=DEFAULT_SEARCH_EVERY,
                   help="BlazeFace with --refine: search the whole frame every this many frames and, in between, "
                   "only look again where the faces were (a face entering the picture is found within this many "
                   "frames; a lost face triggers a search at once); 1: search every frame")
    p.add_argument("--threads", type=positive_int, default=1, help="TFLite interpreter threads")
    p.add_argument("--mirror-average", action="store_true",
                   help="also classify each face's mirror image and average the scores (2x classifier time; see the "
                   "benchmark report for what it buys per model). Models from `make convert` already do this in "
                   "their graph (manifest.json: mirror_average), where this flag is skipped with a note; it is "
                   "for one-view models (convert --no-mirror)")
    p.add_argument("--balance", type=number_type(float, 0.0, f"a number from 0 to {MAX_TAU:g}", high=MAX_TAU),
                   default=0.0, metavar="TAU",
                   help="prior correction: divide the scores by the training split's class shares raised to TAU "
                   "(manifest.json's class_priors) and renormalise. 0 is the model as trained (best overall "
                   "accuracy); higher finds more rare expressions (disgust, fear) at some precision: the README's "
                   "trade-off table has the measured figures")
    _seconds_flag(p, "--smooth-tau", DEFAULT_TAU_S, MAX_TAU_S,
                  "per-face smoothing: time constant of an exponential average of the log-probabilities, in "
                  "the source's time (a video's media time, a camera's capture time), so it smooths alike at any "
                  "frame rate and processing speed; 0: off (each frame's own scores and label)")
    p.add_argument("--label-margin", type=number_type(float, 0.0, f"a log-probability lead, 0..{MAX_LABEL_MARGIN:g}",
                                                      high=MAX_LABEL_MARGIN),
                   default=_Default(DEFAULT_LABEL_MARGIN), metavar="NATS",
                   help="hysteresis: another class replaces a face's label once its smoothed log-probability leads "
                   "the label's by more than this (0.8: 2.2 times as likely) ...")
    _seconds_flag(p, "--label-hold", DEFAULT_LABEL_HOLD_S, MAX_HOLD_S, "... for this long without a break")
    _seconds_flag(p, "--label-settle", DEFAULT_SETTLE_S, MAX_HOLD_S,
                  "slow rule for a face whose scores are split between classes: a class takes over the label "
                  "once its smoothed score has been the highest for this many seconds more than it was not, "
                  "whatever its lead; 0: off")
    p.add_argument(
        "--smoothing",
        type=_smoothing,
        default=None,
        help="the earlier frame-count smoothing, kept for old scripts, instead of the time-based one: a moving "
        "average over this many frames (integer; 1 or 0: off) or a per-frame EMA alpha in (0, 1); labels are the "
        "smoothed arg-max, no hysteresis. Its time span depends on the frame rate (5 frames: 0.5 s at 10 FPS, "
        "0.08 s at 60 FPS), which is why it is no longer the default",
    )
    p.add_argument(
        "--margin",
        type=fraction,
        default=None,
        help="override the detector's calibrated framing (device/models/framing.json: the crop FER2013's faces "
        f"were framed like) with a plain square margin per side, as a fraction of the face box side, {MARGIN_RANGE}; "
        f"default: the calibrated framing, or {DEFAULT_MARGIN} for a detector without one",
    )
    p.add_argument("--speed", type=number_type(float, 0, "a number >= 0"), default=None,
                   help="play a video file or image folder at this multiple of real time (1: as recorded; each "
                   "still image shown --still-seconds); 0: as fast as the pipeline runs. Default: 1 when a window "
                   "or the web view shows it, 0 for JSON lines and --record alone. A camera is never paced")
    p.add_argument("--still-seconds", type=number_type(float, 0.01, "a number >= 0.01"), default=DEFAULT_STILL_S,
                   help="paced image folder: seconds each image is shown (at --speed 1)")
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
    p.add_argument("--serve", type=parse_address, default=None, metavar="[HOST:]PORT",
                   help="also serve a web view: the annotated video (/stream.mjpg), per-frame JSON events (/events), "
                   "a page with both (/) and /healthz. Binds 127.0.0.1 (this machine only) unless HOST is given; "
                   "--serve 0.0.0.0:8080 exposes it to the whole network on purpose (no login, no TLS). Combines "
                   "with --headless and --record")
    p.add_argument("--max-clients", type=positive_int, default=DEFAULT_MAX_CLIENTS,
                   help="--serve: at most this many video and event streams at once; the next gets HTTP 503")
    p.add_argument("--jpeg-quality", type=number_type(int, 1, "an integer 1..100", high=100),
                   default=DEFAULT_JPEG_QUALITY, help="--serve: JPEG quality of the video stream, 1..100")
    return p


def options_from_args(args: argparse.Namespace) -> DemoOptions:
    window, alpha = args.smoothing if args.smoothing is not None else (None, None)
    return DemoOptions(
        source=args.source,
        model=args.model,
        detector=args.detector,
        detector_model=args.detector_model,
        refine=args.refine,
        search_every=args.search_every,
        threads=args.threads,
        mirror_average=args.mirror_average,
        balance=args.balance,
        smoothing_tau=float(args.smooth_tau),
        label_margin=float(args.label_margin),
        label_hold=float(args.label_hold),
        label_settle=float(args.label_settle),
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
        serve=args.serve,
        max_clients=args.max_clients,
        jpeg_quality=args.jpeg_quality,
        speed=args.speed,
        still_s=args.still_seconds,
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
    parser = build_parser()
    options = options_from_args(_check_smoothing_flags(parser, parser.parse_args(argv)))
    _stop_on_signals()
    try:
        summary = run_demo(options)
    except (ModelError, DetectorError, FramingError, SourceError, OutputError) as exc:
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
