"""``python -m benchmarks``: ``clip`` builds a labelled clip from a dataset, ``run`` measures and writes a report.

Exit codes: 0 ok, 1 runtime failure, 2 bad input (missing models/clip/data, bad flag).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from benchmarks.accuracy import REFERENCES
from benchmarks.compare import ASKED_RULES
from benchmarks.errors import BenchError
from benchmarks.host import project_root
from benchmarks.runner import PARTS
from core.argtypes import number_type
from core.formats import FORMATS_BY_NAME
from device.detector import DETECTOR_SETTINGS

EXIT_OK, EXIT_RUNTIME, EXIT_BAD_INPUT = 0, 1, 2



class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None and flags (their help says what happens without them)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def _size(text: str) -> tuple[int, int]:
    from benchmarks.clip import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    positive = number_type(int, 1, "an integer >= 1")
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark reports for feredge models: accuracy, classifier latency, the whole pipeline, the "
                    "camera path detector against detector.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{clip,calibrate,device-crops,tradeoff,compare,smoothing,run}")

    clip = sub.add_parser("clip", help="build a labelled video (clip.mp4 + clip.json) from a dataset's test faces",
                          formatter_class=_HelpFormatter)
    clip.add_argument("--data", type=Path, required=True,
                      help="FER2013 CSV(.gz) or image folder (test, else val faces)")
    clip.add_argument("--out", type=Path, required=True, help="folder for clip.mp4 (or clip.avi) and clip.json")
    clip.add_argument("--frames-per-face", type=positive, default=3, help="frames each placed face stays")
    clip.add_argument("--faces", type=positive, default=60, help="dataset faces to place (class-balanced)")
    clip.add_argument("--seed", type=int, default=0, help="random seed (same seed, same clip)")
    clip.add_argument("--size", type=_size, default="640x480", help="frame size WIDTHxHEIGHT")
    clip.add_argument("--fps", type=number_type(float, 1.0, "a number >= 1"), default=10.0, help="frame rate")
    clip.add_argument("--style", choices=("pasted", "photos"), default="pasted",
                      help="pasted: faces on synthetic backgrounds; photos: faces put where real photos' faces were "
                           "(hair, body and background around them)")
    clip.add_argument("--real-faces", type=Path, default=None,
                      help="--style photos: folder of real photos with faces.json (default: ../shared/data/real-faces "
                           "beside the repository)")
    clip.add_argument("--no-check", dest="check", action="store_false",
                      help="skip running the Haar detector (photos: and BlazeFace) over the written clip")
    clip.add_argument("--no-progress", dest="progress", action="store_false", help="no progress output")

    cal = sub.add_parser("calibrate", help="fit each detector's box -> FER2013 framing transform (framing.json)",
                         formatter_class=_HelpFormatter)
    cal.add_argument("--data", type=Path, required=True, help="FER2013 CSV(.gz) or image folder (its train split)")
    cal.add_argument("--detectors", nargs="+", choices=DETECTOR_SETTINGS,
                     default=["blazeface", "blazeface:refine=0", "blazeface-full", "haar"],
                     help="detector settings to calibrate (blazeface:refine=0: BlazeFace's one pass, without the "
                          "second look; yunet needs --detector-model)")
    cal.add_argument("--detector-model", type=Path, default=None, help="YuNet ONNX model (for yunet)")
    cal.add_argument("--faces", type=positive, default=600,
                     help="training faces to place (class-balanced; for --keypoints, 2000: about 1,100 found)")
    cal.add_argument("--seed", type=int, default=0, help="random seed (faces, sizes, positions, backgrounds)")
    cal.add_argument("--repeats", type=positive, default=1,
                     help="canvases per face (2 or more: also measures the detector's own share of the spread)")
    cal.add_argument("--keypoints", action="store_true",
                     help="also fit a keypoint model (detectors with keypoints): each face framed by its own "
                          "keypoints; judged in session 41 and not shipped (docs/results.md, camera path)")
    cal.add_argument("--out", type=Path, default=None,
                     help="framing file to update (default: the shipped device/models/framing.json)")
    cal.add_argument("--no-progress", dest="progress", action="store_false", help="no progress output")

    crops = sub.add_parser("device-crops", help="cut every Training face as the device would (placed on a canvas, "
                           "detected, calibrated framing) for recipes that train on detector crops",
                           formatter_class=_HelpFormatter)
    crops.add_argument("--data", type=Path, required=True, help="FER2013 CSV(.gz) or image folder (its train split)")
    crops.add_argument("--detector", choices=DETECTOR_SETTINGS, default="blazeface",
                       help="detector setting whose calibrated crops to cut (device/models/framing.json)")
    crops.add_argument("--detector-model", type=Path, default=None, help="YuNet ONNX model (for yunet)")
    crops.add_argument("--repeats", type=positive, default=2,
                       help="canvases a face may get: one the detector misses is placed again, up to this many")
    crops.add_argument("--seed", type=int, default=0, help="seed of the canvases (same seed, same crops)")
    crops.add_argument("--runs", type=Path, default=project_root() / "runs",
                       help="runs root: the crops go to <runs>/device-crops/<detector>.npz, where training looks")
    crops.add_argument("--out", type=Path, default=None, help="write here instead (an .npz file)")
    crops.add_argument("--no-progress", dest="progress", action="store_false", help="no progress output")

    trade = sub.add_parser("tradeoff", help="class weights against prior correction: accuracy vs rare-class recall "
                           "as --balance TAU goes from 0 to 1", formatter_class=_HelpFormatter)
    trade.add_argument("--models", type=Path, default=project_root() / "models", help="models folder (manifest)")
    trade.add_argument("--data", type=Path, required=True, help="FER2013 CSV(.gz) or folder (test, else val split)")
    trade.add_argument("--format", choices=list(FORMATS_BY_NAME), default="int8", help="model format to score")
    trade.add_argument("--out", type=Path, default=project_root() / "reports" / "tradeoff",
                       help="folder for tradeoff.md, tradeoff.json and tradeoff.png")

    smooth = sub.add_parser("smoothing", help="choose the label smoothing's settings on Training faces: flicker on "
                            "steady faces against reaction to a change, every setting of a grid replayed over one "
                            "recording", formatter_class=_HelpFormatter)
    smooth.add_argument("--data", type=Path, required=True, help="FER2013 CSV(.gz) or image folder (its train split)")
    smooth.add_argument("--model", type=Path, default=None,
                        help="model file (default: the demo's, models/ + the manifest's default)")
    smooth.add_argument("--detector", choices=DETECTOR_SETTINGS, default="blazeface", help="detector setting")
    smooth.add_argument("--detector-model", type=Path, default=None, help="YuNet ONNX model (for yunet)")
    smooth.add_argument("--real-faces", type=Path, default=None,
                        help="folder of real photos with faces.json (default: ../shared/data/real-faces beside the "
                             "repository)")
    smooth.add_argument("--pairs", type=positive, default=60, help="changes of expression (pairs of Training faces)")
    smooth.add_argument("--steady-faces", type=positive, default=40, help="Training faces held still")
    smooth.add_argument("--steady-seconds", type=number_type(float, 1.0, "a number >= 1"), default=15.0,
                        help="seconds each steady photo or face is held")
    smooth.add_argument("--change-seconds", type=number_type(float, 1.0, "a number >= 1"), default=4.0,
                        help="seconds each face of a change is shown")
    smooth.add_argument("--seed", type=int, default=0, help="random seed (faces, pairs, jitter)")
    smooth.add_argument("--out", type=Path, default=project_root() / "reports" / "smoothing",
                        help="folder for smoothing.md and smoothing.json")
    smooth.add_argument("--no-progress", dest="progress", action="store_false", help="no progress output")

    cmp = sub.add_parser("compare", help="a candidate models folder against the shipped one: accuracy with intervals, "
                         "face-box jitter, detector crops, and whether to ship it", formatter_class=_HelpFormatter)
    cmp.add_argument("--candidate", type=Path, required=True,
                     help="models folder to judge (make convert RECIPE=student-vgg-tail MODELS_DIR=/tmp/candidate)")
    cmp.add_argument("--models", type=Path, default=project_root() / "models", help="the shipped models folder")
    cmp.add_argument("--data", type=Path, required=True, help="FER2013 CSV(.gz) or folder (test, else val split)")
    cmp.add_argument("--format", choices=list(FORMATS_BY_NAME), default="int8", help="model format to compare")
    cmp.add_argument("--detector", choices=(*DETECTOR_SETTINGS, "none"), default="blazeface",
                     help="detector whose calibrated crops both models are scored on (none: skip that part)")
    cmp.add_argument("--detector-model", type=Path, default=None, help="YuNet ONNX model (for yunet)")
    cmp.add_argument("--crop-faces", type=positive, default=None,
                     help="evaluation faces placed for the crop part (default: all, as the camera benchmark)")
    cmp.add_argument("--crop-placements", type=positive, default=1,
                     help="canvases each face is placed on for the crop part (1: the camera benchmark's own; more: "
                     "a tighter shortfall interval, faces the unit)")
    cmp.add_argument("--seed", type=int, default=0, help="seed of the canvases (the camera benchmark's: 0)")
    cmp.add_argument("--cost-rounds", type=number_type(int, 0, "an integer >= 0"), default=5,
                     help="rounds of timing both classifiers, alternating (0: no cost part, and the rule skips it)")
    cmp.add_argument("--rule", choices=ASKED_RULES, default="auto",
                     help="ship rule to judge by (auto: from which float32 models are new; camera: a model made for "
                     "the detector's crops, benchmarks.compare.CAMERA_RULE)")
    cmp.add_argument("--out", type=Path, default=project_root() / "reports" / "compare",
                     help="folder for compare.md and compare.json")
    cmp.add_argument("--no-progress", dest="progress", action="store_false", help="no progress output")

    run = sub.add_parser("run", help="measure the models and write report.md, results.json and plots",
                         formatter_class=_HelpFormatter)
    run.add_argument("--models", type=Path, default=project_root() / "models",
                     help="folder of <variant>_<format>.tflite models (and their manifest.json)")
    run.add_argument("--data", type=Path, default=None,
                     help="FER2013 CSV(.gz) or image folder: accuracy on its test (else val) split; without it the "
                          "accuracy part is skipped")
    run.add_argument("--clip", default=None,
                     help="video for the pipeline benchmark (its <name>.json is the ground truth), or a camera "
                          "index / 'picamera2'; default: a clip built from --data, else no pipeline part")
    run.add_argument("--variants", nargs="+", default=None, help="model variants (default: every one found)")
    run.add_argument("--formats", nargs="+", choices=list(FORMATS_BY_NAME), default=None,
                     help="formats (default: all)")
    run.add_argument("--pipeline-formats", nargs="+", choices=list(FORMATS_BY_NAME), default=None,
                     help="formats for the pipeline part (default: all; --quick: int8 float32)")
    run.add_argument("--pipeline-frames", type=positive, default=None,
                     help="frames per pipeline run (default: the whole clip; --quick: 60; camera: 300)")
    run.add_argument("--threads-max", type=positive, default=None, help="highest num_threads (default: core count)")
    run.add_argument("--quick", action="store_true", help="few runs, faces and frames (tests, smoke checks)")
    run.add_argument("--out", type=Path, default=None,
                     help="output folder (default: <repo>/benchmarks/results/<host>-<YYYYMMDD-HHMM>/)")
    run.add_argument("--reference", choices=REFERENCES, default="auto",
                     help="float reference: auto = Keras checkpoint when TensorFlow is installed, else float32 TFLite")
    run.add_argument("--seed", type=int, default=0, help="seed for face subsets and generated clips")
    run.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                     help="which parts to run")
    run.add_argument("--detectors", nargs="+", choices=DETECTOR_SETTINGS, default=None,
                     help="detector settings the camera part compares (default: blazeface blazeface:refine=0 "
                          "blazeface-full haar, and yunet with --detector-model)")
    run.add_argument("--detector-model", type=Path, default=None, help="YuNet ONNX model (for yunet)")
    run.add_argument("--crop-placements", type=positive, default=1,
                     help="canvases each evaluation face is placed on for the camera part's crop accuracy (more: a "
                     "tighter shortfall interval, faces the unit)")
    run.add_argument("--real-faces", type=Path, default=None,
                     help="folder of real photos with faces.json (default: ../shared/data/real-faces beside the "
                          "repository); without it the camera part's real-content measurements are skipped")
    run.add_argument("--no-mirror", dest="mirror", action="store_false",
                     help="skip scoring every model a second time with mirror averaging (--mirror-average)")
    run.add_argument("--no-plots", dest="plots", action="store_false", help="skip the plots")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress output")
    return parser


def _writable(flag: str, folder: Path, purpose: str) -> None:
    """Refuse an output folder that cannot be written before any heavy work (names the flag and the folder)."""
    from core.paths import folder_problem

    if problem := folder_problem(flag, folder, purpose):
        raise BenchError(problem)


def _clip(args: argparse.Namespace, argv: list[str]) -> int:
    from benchmarks.clip import ClipOptions, build_clip
    from benchmarks.host import command_line

    if args.real_faces is not None and args.style != "photos":
        raise BenchError("clip: --real-faces is for --style photos")
    _writable("--out", args.out, "the clip")
    options = ClipOptions(args.data, args.out, args.frames_per_face, args.faces, args.seed, args.size, args.fps,
                          check=args.check, style=args.style, real_faces=args.real_faces)
    result = build_clip(options, command=command_line(argv), progress=args.progress)
    print(f"wrote {result.video} ({result.frames} frames, {result.faces_placed} faces) and {result.ground_truth}")
    for name, c in (("Haar", result.haar_check), ("BlazeFace", result.blazeface_check)):
        if c:
            print(f"check: the {name} detector finds {c['found']} of {c['faces']} placed faces "
                  f"({100 * c['recall']:.1f}%, IoU >= {c['iou_threshold']}), {c['false_detections']} false detections")
    for text in result.notes:
        print(f"note: {text}")
    return EXIT_OK


def _training_split(data: Path, seed: int, purpose: str):
    """The Training split of ``data`` (BenchError naming the file when it cannot be read or has no Training faces)."""
    from core.dataset import DataError
    from device.datasets import load_fer2013

    try:
        train = load_fer2013(data, seed=seed, require_val=False).splits.get("train")
    except DataError as exc:
        raise BenchError(f"data: {exc}") from exc
    if train is None or not len(train):
        raise BenchError(f"data {data}: no Training faces {purpose}")
    return train


def _calibrate(args: argparse.Namespace, argv: list[str]) -> int:
    from benchmarks.calibrate import calibrate
    from benchmarks.host import command_line
    from device.detector import make_detector
    from device.framing import FramingError, framing_path, read_framings, write_framing

    out = args.out or framing_path()
    if out.is_dir():
        raise BenchError(f"--out {out}: a folder, expected a framing.json file")
    _writable("--out", out.parent, "framing.json")
    try:
        read_framings(out)  # an existing file must be one to add to, before 600 canvases are detected
    except FramingError as exc:
        raise BenchError(f"--out {exc}") from exc
    if args.keypoints and importlib.util.find_spec("sklearn") is None:
        raise BenchError("--keypoints fits its model with scikit-learn, which is not installed: "
                         "pip install -r requirements/bench.txt")
    detectors = {name: make_detector(name, args.detector_model, 0) for name in args.detectors}  # bad models first
    train = _training_split(args.data, args.seed, "to calibrate with")
    for name, detector in detectors.items():
        result = calibrate(detector, name, train.x, train.y, args.faces, args.seed, args.progress,
                           repeats=args.repeats, keypoints=args.keypoints)
        found = f"{result.found} of {result.faces} faces found, {result.false_detections} false detections"
        if result.framing is None:
            print(f"{name}: {found}: nothing to fit, framing.json unchanged", file=sys.stderr)
            continue
        write_framing(name, result.framing, result.record(command_line(argv), Path(args.data).name), out)
        q = result.quartiles
        print(f"{name}: {result.framing.describe()} ({found}; quartiles scale {q['scale'][0]:.2f}-{q['scale'][1]:.2f}, "
              f"dy {q['dy'][0]:+.2f}-{q['dy'][1]:+.2f}; detection {result.ms_median:.1f} ms median per 640x480)")
        by_class = ", ".join(f"{k} {row['scale']:.2f}x {row['dy']:+.2f}" for k, row in result.by_class.items())
        p_value = "" if result.class_p_value is None else f"; labels shuffled spread them as widely: p = " \
            f"{result.class_p_value:.3f}"
        print(f"  by emotion (side, centre dy): {by_class}{p_value}")
        if result.keypoint_fit:
            fit = result.keypoint_fit
            errors = ", ".join(f"{k} R^2 {fit['cv_r2'][k]:.2f} (median error {e['median']:.3f} -> {e['keypoints']:.3f})"
                               for k, e in fit["median_abs_error"].items())
            print(f"  keypoint model over {fit['faces']} faces, {fit['folds']}-fold cross-validated: {errors}")
        if result.detector_share:
            share = ", ".join(f"{k} {v:.0%}" for k, v in result.detector_share.items())
            print(f"  the detector's own share of the spread (between placements of one face): {share}")
    print(f"wrote {out}")
    return EXIT_OK


def _device_crops(args: argparse.Namespace, argv: list[str]) -> int:
    from benchmarks.camera import detector_framings
    from benchmarks.crops import training_crops
    from benchmarks.host import command_line
    from core.devicecrops import DeviceCrops, device_crops_path, images_digest, write_device_crops
    from core.paths import shown
    from device.detector import make_detector

    out = args.out or device_crops_path(args.runs, args.detector)
    if out.suffix != ".npz":
        raise BenchError(f"--out {out}: expected an .npz file")
    _writable("--out", out.parent, "the device crops")
    detector = make_detector(args.detector, args.detector_model, 320, 1)  # a bad model fails before the data loads
    framing = detector_framings([args.detector])[args.detector][0]
    train = _training_split(args.data, args.seed, "to crop")
    result = training_crops(detector, framing, train.x, args.repeats, args.seed, args.progress,
                            label=f"device crops ({args.detector})")
    record = {"detector": args.detector, "framing": framing.describe(), "repeats": args.repeats, "seed": args.seed,
              "faces": len(train), "found": int(result.found.sum()), "canvases": result.placements,
              "false_detections": result.false_detections, "data": Path(args.data).name,
              "command": command_line(argv)}
    write_device_crops(out, DeviceCrops(result.crops, result.found, images_digest(train.x), record))
    print(f"{args.detector}: {record['found']} of {len(train)} Training faces found "
          f"({100 * record['found'] / len(train):.1f}%, {result.placements} canvases, "
          f"{result.false_detections} false detections); {framing.describe()}")
    print(f"wrote {shown(out)}")
    return EXIT_OK


def _tradeoff(args: argparse.Namespace, argv: list[str]) -> int:
    from benchmarks.host import report_meta
    from benchmarks.tradeoff import measure, write

    _writable("--out", args.out, "the trade-off report")
    result = measure(args.models, args.data, args.format)
    meta = report_meta(argv)  # after measuring: its date is when the figures were done, as compare's and smoothing's
    path = write(result, args.out, meta["command"], meta["machine"])
    print(f"wrote {path} (and tradeoff.json, tradeoff.png)")
    return EXIT_OK


def _compare(args: argparse.Namespace, argv: list[str]) -> int:
    from benchmarks.compare import compare, write
    from benchmarks.data import load_eval_faces
    from benchmarks.host import report_meta
    from benchmarks.models import find_models

    if args.candidate.resolve() == args.models.resolve():
        raise BenchError(f"--candidate {args.candidate} is the shipped folder itself: convert the candidate elsewhere")
    _writable("--out", args.out, "the comparison")
    formats = list(dict.fromkeys((args.format, "int8", "float32")))  # the compared one, the jitter's, the reference
    shipped = find_models(args.models, formats=formats)
    candidate = find_models(args.candidate, formats=formats)
    detector = None if args.detector == "none" else args.detector
    if detector:
        from benchmarks.camera import make_detectors

        make_detectors([detector], args.detector_model)  # one that cannot be built (yunet, no model) fails first
    faces = load_eval_faces(args.data)
    result = compare(shipped, candidate, faces.x, faces.y, args.format, detector, args.crop_faces, args.seed,
                     args.progress, args.detector_model, args.cost_rounds, args.crop_placements, args.rule)
    meta = {**report_meta(argv), "split": faces.split, "data": Path(args.data).name, "notes": faces.notes}
    path = write(result, args.out, meta)
    decision = result["decision"]
    print(f"{'ship the candidate' if decision['ship'] else 'keep the shipped models'}: "
          + "; ".join(decision["reasons"]))
    print(f"wrote {path} (and compare.json)")
    return EXIT_OK


def _smoothing(args: argparse.Namespace, argv: list[str]) -> int:
    from benchmarks.host import report_meta
    from benchmarks.scenes import default_real_faces
    from benchmarks.smoothing import TuneSettings, measure, tune, write
    from core.fileio import sha256_file
    from core.paths import shown
    from device.demo import default_model_path
    from device.smoothing import SmoothingConfig

    model = args.model or default_model_path()
    if not model.is_file():
        raise BenchError(f"--model {model}: no such file (make convert, or pass a .tflite file)")
    _writable("--out", args.out, "the smoothing report")
    settings = TuneSettings(pairs=args.pairs, steady_faces=args.steady_faces, steady_seconds=args.steady_seconds,
                            change_seconds=args.change_seconds)

    def training(data: Path, seed: int):
        train = _training_split(data, seed, "to tune the smoothing with")
        return train.x, train.y

    streams, facts_of_run = measure(args.data, model, args.detector, args.detector_model,
                                    args.real_faces or default_real_faces(), settings, args.seed, args.progress,
                                    training)
    result = tune(streams, SmoothingConfig(), progress=args.progress)
    meta = {**report_meta(argv), "model": shown(model), "model_sha256": sha256_file(model), "detector": args.detector,
            "data": Path(args.data).name, "settings": settings.__dict__, "seed": args.seed, **facts_of_run}
    path = write(result, args.out, meta)
    chosen = result["chosen"]
    if chosen is None:
        print("no setting of the grid meets the flicker rule")
    else:
        c = chosen["config"]
        print(f"chosen: tau {c['tau']:g} s, margin {c['margin']:g}, hold {c['hold']:g} s, settle {c['settle']:g} s: "
              f"flicker {chosen['flicker_per_minute']:.2f}/min, {100 * chosen['within_target']:.0f}% of changes "
              f"followed within 0.5 s (current defaults: {100 * result['current']['within_target']:.0f}%)")
    print(f"wrote {shown(path)} (and smoothing.json)")
    return EXIT_OK


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    from benchmarks.runner import RunConfig, run_benchmark

    config = RunConfig(
        models=args.models, data=args.data, clip=args.clip, variants=args.variants, formats=args.formats,
        pipeline_formats=args.pipeline_formats, pipeline_frames=args.pipeline_frames, threads_max=args.threads_max,
        quick=args.quick, out=args.out, reference=args.reference, seed=args.seed, plots=args.plots,
        progress=args.progress, mirror=args.mirror, parts=tuple(args.parts), detectors=args.detectors,
        detector_model=args.detector_model, real_faces=args.real_faces, crop_placements=args.crop_placements,
        argv=argv,
    )
    outcome = run_benchmark(config)
    print(f"wrote {outcome.report} (and results.json, plots) in {outcome.results['duration_s']:.0f} s")
    if outcome.failed:
        print("error: every pipeline run failed (see the report)", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from device.classifier import ModelError
    from device.detector import DetectorError

    try:
        commands = {"clip": _clip, "calibrate": _calibrate, "device-crops": _device_crops, "tradeoff": _tradeoff,
                    "compare": _compare, "smoothing": _smoothing, "run": _run}
        return commands[args.command](args, argv)
    except (BenchError, ModelError, DetectorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: no report written", file=sys.stderr)
        return EXIT_RUNTIME


if __name__ == "__main__":
    sys.exit(main())
