"""``python -m convert``: best checkpoints -> TFLite (float32, float16, dynamic, int8) + manifest + parity report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from convert.head import DEFAULT_HEAD, HEAD_PRECISIONS
from convert.ranges import ACTIVATION_RANGES, DEFAULT_ACTIVATION_RANGES
from convert.rounding import DEFAULT_WEIGHT_ROUNDING, WEIGHT_ROUNDINGS
from core.argtypes import number_type, whole
from core.formats import FORMATS_BY_NAME
from core.labels import NUM_CLASSES
from core.paths import project_root
from train.recipes import DEFAULT_RECIPE, RECIPES
from train.teachers import model_teacher_name

VARIANTS = ("unweighted", "weighted")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m convert",
        description="Convert trained checkpoints to TFLite in every format and check them against the float model.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", type=Path, default=None,
                   help="FER2013 csv(.gz)/folder: calibration from its train split, parity on val/test")
    p.add_argument("--calibration", type=Path, default=None,
                   help="alternative calibration set: .npz with 'x' (N,48,48[,1]) uint8 and optional 'y'")
    p.add_argument("--calibration-size", type=whole(1), default=500, help="int8 calibration images (class-stratified)")
    p.add_argument("--runs", type=Path, default=project_root() / "runs", help="training runs root")
    p.add_argument("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE, help="recipe whose runs to convert")
    p.add_argument("--epochs", type=whole(1), default=None, help="epochs of the runs to convert (default: recipe's)")
    p.add_argument("--seed", type=whole(0), default=0, help="seed of the runs to convert")
    p.add_argument("--checkpoint", action="append", default=[], metavar="VARIANT=PATH",
                   help="explicit checkpoint(s), overriding --runs lookup")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS), help="variants")
    p.add_argument("--formats", nargs="+", choices=list(FORMATS_BY_NAME), default=list(FORMATS_BY_NAME),
                   help="formats")
    p.add_argument("--out", type=Path, default=project_root() / "models", help="output folder")
    p.add_argument("--max-int8-drop", type=number_type(float, 0.0, "percentage points, at least 0"), default=0.5,
                   help="fail when int8 accuracy is more than this many pp below its float model")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                   help="build test-time mirroring into each model: classify the face and its mirror image in one "
                   "batch and output the mean scores (twice the classifier compute; --no-mirror: one view)")
    p.add_argument("--weight-rounding", choices=WEIGHT_ROUNDINGS, default=DEFAULT_WEIGHT_ROUNDING,
                   help="int8 weights: sum-kept (on the int8 grid, each output channel keeping its kernel's sum: "
                   "convert.rounding), or the converter's nearest step")
    p.add_argument("--head", choices=HEAD_PRECISIONS, default=DEFAULT_HEAD,
                   help="int8 format: its head kept in float32 inside the integer model, input and output still "
                   "int8: float32 from the first fully-connected layer on, float32-pool from the global average pool "
                   "before it, auto the pool where the model has one and the dense layer otherwise; int8: full "
                   "integer (convert.head)")
    p.add_argument("--activation-ranges", choices=ACTIVATION_RANGES, default=DEFAULT_ACTIVATION_RANGES,
                   help="int8 format: each activation's range as the calibrator observed it (minmax), or each "
                   "ReLU activation's range cut where 8 bits lose least on the calibration faces (mse; "
                   "convert.ranges)")
    p.add_argument("--calibration-device-share", type=number_type(float, 0.0, "a fraction in [0, 1]", 1.0),
                   default=0.0, help="int8 calibration: this share of the --calibration-size faces are the device's "
                   "crops of other Training faces (make device-crops; the rest FER2013's own crops), so the int8 "
                   "ranges see what the camera path hands the model")
    p.add_argument("--device-crops-detector", default="blazeface",
                   help="whose device crops --calibration-device-share takes (<runs>/device-crops/<detector>.npz)")
    p.add_argument("--threads", type=whole(1), default=1, help="interpreter threads for the parity check")
    return p


def _checkpoints(args) -> dict[str, Path]:
    explicit: dict[str, Path] = {}
    for item in args.checkpoint:
        variant, sep, path = item.partition("=")
        if not sep or variant not in VARIANTS:
            raise ValueError(f"--checkpoint {item!r}: expected VARIANT=PATH with VARIANT in {VARIANTS}")
        explicit[variant] = Path(path)
    if explicit:
        return explicit
    from train.runs import run_dir

    epochs = args.epochs or RECIPES[args.recipe].epochs
    return {v: run_dir(args.runs, args.recipe, epochs, v, args.seed) / "best.keras" for v in args.variants}


def _load_calibration(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    from convert.converter import ConversionError

    try:
        with np.load(path) as z:
            x = z["x"]
            y = z["y"] if "y" in z else None
    except (OSError, KeyError, ValueError) as exc:
        raise ConversionError(f"{path}: cannot read calibration set (expected .npz with array 'x'): {exc}") from exc
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[1:] != (48, 48, 1):
        raise ConversionError(f"{path}: calibration images have shape {x.shape[1:]}, expected (48, 48[, 1])")
    if len(x) == 0:
        raise ConversionError(f"{path}: calibration set is empty")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 255:
        raise ConversionError(f"{path}: calibration images must be gray pixels 0..255 (as FER2013's), got "
                              f"{x.dtype} in {x.min()}..{x.max()}")
    if x.dtype != np.uint8 and x.max() <= 1.0:
        raise ConversionError(f"{path}: calibration images look scaled to 0..1 ({x.dtype}, max {x.max()}); the "
                              "model takes pixels 0..255: save them unscaled (uint8)")
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(x):
            raise ConversionError(f"{path}: 'y' has {len(y)} labels for {len(x)} images: expected one label each")
        if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= NUM_CLASSES:
            raise ConversionError(f"{path}: 'y' must hold class indices 0..{NUM_CLASSES - 1}, got {y.dtype} in "
                                  f"{y.min()}..{y.max()}")
    return x, y


def _device_crops_file(args) -> Path:
    """The device-crops file ``--calibration-device-share`` reads, checked before any data is loaded: it needs
    ``--data`` (the training faces the crops were cut from), not ``--calibration``, and the file of
    ``--device-crops-detector``."""
    from convert.converter import ConversionError
    from core.devicecrops import build_hint, device_crops_path

    if args.calibration is not None or args.data is None:
        raise ConversionError("--calibration-device-share needs --data (the training faces the device crops were "
                              "cut from), not --calibration")
    path = device_crops_path(args.runs, args.device_crops_detector)
    if not path.is_file():
        raise ConversionError(f"{path}: missing; {build_hint(args.device_crops_detector, args.runs)}")
    return path


def _device_calibration(args, path: Path, calibration: tuple[np.ndarray, np.ndarray]):
    """The calibration faces with ``--calibration-device-share`` of them the device's crops of other training faces
    (:func:`convert.converter.mixed_calibration`), from the device-crops file ``path`` (:func:`_device_crops_file`)."""
    from convert.converter import mixed_calibration
    from core.devicecrops import read_device_crops

    crops = read_device_crops(path, calibration[0])
    return mixed_calibration(calibration[0], calibration[1], crops.crops, crops.found, args.calibration_size,
                             args.calibration_device_share, args.seed)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from convert.converter import ConversionError
    from convert.pipeline import ConvertJob, convert_all, parity_table
    from core.dataset import DataError
    from device.datasets import load_fer2013

    try:
        ckpts = _checkpoints(args)
        for variant, path in ckpts.items():
            if not path.is_file():
                raise ConversionError(f"{path}: checkpoint for {variant!r} not found (run `make train` first)")
        device_crops = _device_crops_file(args) if args.calibration_device_share > 0 else None
        eval_splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        calibration = None
        if args.data is not None:
            ds = load_fer2013(args.data)
            calibration = (ds.splits["train"].x, ds.splits["train"].y)
            eval_splits = {s: (ds.splits[s].x, ds.splits[s].y) for s in ("val", "test") if ds.has(s)}
            for note in ds.notes:
                print(f"note: {note}")
        if args.calibration is not None:
            calibration = _load_calibration(args.calibration)
        if device_crops is not None:
            calibration = _device_calibration(args, device_crops, calibration)
        if calibration is None and any(FORMATS_BY_NAME[f].representative_data for f in args.formats):
            raise ConversionError("int8 needs calibration images: pass --data or --calibration")
        jobs = [ConvertJob(v, p, tuple(args.formats)) for v, p in ckpts.items()]
        result = convert_all(jobs, args.out, eval_splits, calibration, args.calibration_size,
                             args.seed, args.max_int8_drop, args.threads,
                             command=" ".join(["python", "-m", "convert", *(sys.argv[1:] if argv is None else argv)]),
                             mirror=args.mirror, weight_rounding=args.weight_rounding,
                             head=args.head, activation_ranges=args.activation_ranges,
                             calibration_device_share=args.calibration_device_share)
    except (ConversionError, DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for e in result.entries:
        path = args.out / e["file"]
        # how a recipe or `python -m train.ensemble` names this float model as a teacher (train.teachers); float16
        # keeps a large teacher at half the size (its weights are float16, its maths float32)
        teacher = f"; as a teacher: {model_teacher_name(path)}" if e["format"] in ("float32", "float16") else ""
        print(f"wrote {path} ({e['size_bytes'] / 1024:.1f} KB){teacher}")
        if cuts := e.get("activation_cuts"):
            ratios = [c["cut_max"] / c["recorded_max"] for c in cuts]
            print(f"  activation ranges ({e['activation_ranges']}): {len(cuts)} cut to {min(ratios):.2f}-"
                  f"{max(ratios):.2f}x the calibrator's maxima (manifest: activation_cuts)")
    if result.entries and result.entries[0]["accuracy"]:
        print(parity_table(result.entries))
    print(f"manifest: {args.out / 'manifest.json'}; report: {args.out / 'parity.md'}")
    for v in result.int8_violations:
        print(f"error: {v}", file=sys.stderr)
    if result.failures:
        print(f"error: {len(result.failures)} conversion(s) failed", file=sys.stderr)
    return 1 if (result.failures or result.int8_violations) else 0


if __name__ == "__main__":
    raise SystemExit(main())
