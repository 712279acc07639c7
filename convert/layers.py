"""``python -m convert.layers``: where full-integer quantisation loses information, tensor by tensor.

TFLite's ``QuantizationDebugger`` runs the int8 model on a few faces with a NumericVerify check after every
quantised op: the op's int8 output against the same op run in float on the same (dequantised) inputs, so each
tensor's own error, not the error accumulated since the input. The error is reported in quantisation steps (the
tensor's own scale): a tensor that only rounds has an RMS error of about 1/sqrt(12) = 0.29 steps; one far above that
clips or is calibrated badly, and is where a fix (a float layer, another calibration) would pay.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from convert.converter import (
    ConversionError,
    calibration_sample,
    configured_converter,
    load_checkpoint,
    mirror_averaged,
    representative_images,
)
from convert.rounding import DEFAULT_WEIGHT_ROUNDING, WEIGHT_ROUNDINGS
from core.argtypes import whole
from core.dataset import evaluation_split
from core.fileio import atomic_write_json, atomic_write_text
from core.formats import FORMATS_BY_NAME
from core.paths import folder_problem, project_root, shown
from core.provenance import command_line, provenance

ROUNDING_RMSE_STEPS = 1 / math.sqrt(12)  # the RMS error of rounding alone, in quantisation steps


@dataclass(frozen=True)
class TensorError:
    """One quantised tensor's error against the float model, in quantisation steps (``scale``)."""

    op: str
    tensor: str
    scale: float
    rmse_steps: float
    mean_error_steps: float
    max_error_steps: float


def _number(text: str | None) -> float:
    return float(text) if text not in ("", None) else float("nan")


def _steps(value: float, scale: float) -> float:
    return value / scale if scale > 0 else float("nan")


def int8_tensor_errors(model, calibration: np.ndarray, faces: np.ndarray,
                       weight_rounding: str = DEFAULT_WEIGHT_ROUNDING) -> list[TensorError]:
    """Every tensor of ``model``'s full-integer conversion (calibrated on ``calibration``, weights rounded by
    ``weight_rounding``, as :func:`convert.converter.convert` does; every op in int8, the dense head too, as
    ``--head int8`` converts it), run on ``faces``: each op's int8 output against the same op in float on the same
    inputs, in graph order."""
    import tensorflow as tf

    if len(faces) == 0:
        raise ConversionError("no faces to compare the int8 and float models on")
    with tempfile.TemporaryDirectory(prefix="feredge-layers-") as tmp:
        converter = configured_converter(model, FORMATS_BY_NAME["int8"], calibration, Path(tmp), weight_rounding)
        debugger = tf.lite.experimental.QuantizationDebugger(converter=converter,
                                                             debug_dataset=representative_images(faces))
        debugger.run()
        dump = io.StringIO()
        debugger.layer_statistics_dump(dump)
    errors = []
    for row in csv.DictReader(io.StringIO(dump.getvalue())):
        scale = float(row["scale"])
        errors.append(TensorError(
            op=row["op_name"], tensor=row["tensor_name"], scale=scale,
            rmse_steps=_steps(math.sqrt(max(_number(row["mean_squared_error"]), 0.0)), scale),
            mean_error_steps=_steps(_number(row["mean_error"]), scale),
            max_error_steps=_steps(_number(row["max_abs_error"]), scale)))
    return errors


def _json_safe(record: dict) -> dict:
    """NaN (a tensor without a scale) as null: strict JSON has no NaN."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in record.items()}


def _short(tensor: str, width: int = 60) -> str:
    return tensor if len(tensor) <= width else "..." + tensor[-(width - 3):]


def summary_line(errors: list[TensorError]) -> str:
    """The worst tensor and how many are above twice the rounding error ("" when none was measured)."""
    measured = [e for e in errors if not math.isnan(e.rmse_steps)]
    if not measured:
        return ""
    worst = max(measured, key=lambda e: e.rmse_steps)
    above = sum(e.rmse_steps > 2 * ROUNDING_RMSE_STEPS for e in measured)
    return (f"Largest RMS error: {worst.rmse_steps:.2f} steps ({worst.op}, `{_short(worst.tensor)}`); "
            f"{above} of {len(measured)} tensors above twice the rounding error.")


def report_markdown(errors: list[TensorError], made: dict, checkpoint: Path, faces: int, calibration: int,
                    split: str) -> str:
    """The tensors as a table, worst first named in a summary line."""
    lines = [
        "# int8 quantisation error, tensor by tensor", "",
        f"`{made['command']}` on `{made['host']}` ({made['platform']}), {made['created']}. Checkpoint "
        f"`{shown(checkpoint)}`; int8 calibrated on {calibration} Training faces as `python -m convert` calibrates; "
        f"run on {faces} faces of the **{split}** split with TFLite's QuantizationDebugger: each op's int8 output "
        f"against the same op in float on the same inputs (its own error, not the error accumulated since the input). "
        f"Errors in quantisation steps of each tensor; rounding alone gives an RMS error of "
        f"{ROUNDING_RMSE_STEPS:.2f} steps.", "",
    ]
    if summary := summary_line(errors):
        lines += [summary, ""]
    lines += ["| # | op | tensor | scale | RMS error (steps) | mean error (steps) | max abs error (steps) |",
              "|--:|---|---|--:|--:|--:|--:|"]
    lines += [f"| {i} | {e.op} | `{_short(e.tensor)}` | {e.scale:.4g} | {e.rmse_steps:.3f} | {e.mean_error_steps:+.3f} "
              f"| {e.max_error_steps:.2f} |" for i, e in enumerate(errors)]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m convert.layers", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="Keras checkpoint (a run's best.keras)")
    p.add_argument("--data", type=Path, required=True,
                   help="FER2013 csv(.gz)/folder: calibration from its train split, faces from test, else val")
    p.add_argument("--calibration-size", type=whole(1), default=500, help="int8 calibration images (class-stratified)")
    p.add_argument("--faces", type=whole(1), default=200, help="evaluation faces both models run on")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=True,
                   help="the model with test-time mirroring in its graph, as python -m convert builds it")
    p.add_argument("--weight-rounding", choices=WEIGHT_ROUNDINGS, default=DEFAULT_WEIGHT_ROUNDING,
                   help="how the int8 weights are rounded, as python -m convert --weight-rounding")
    p.add_argument("--seed", type=whole(0), default=0, help="seed of the calibration and face samples")
    p.add_argument("--out", type=Path, default=project_root() / "reports" / "quantisation",
                   help="folder for layers.md and layers.json")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from core.dataset import DataError
    from device.datasets import load_fer2013

    try:
        if problem := folder_problem("--out", args.out, "the quantisation report"):
            raise ConversionError(problem)
        model = load_checkpoint(args.checkpoint)  # a bad checkpoint fails before the data is read
        ds = load_fer2013(args.data)
        split = evaluation_split({name for name in ds.splits if ds.has(name)})
        train = ds.splits["train"]
        calibration = calibration_sample(train.x, train.y, args.calibration_size, args.seed)
        pool = ds.splits[split].x
        faces = pool[np.random.default_rng(args.seed).permutation(len(pool))[:args.faces]]
        errors = int8_tensor_errors(mirror_averaged(model) if args.mirror else model, calibration, faces,
                                    args.weight_rounding)
    except (ConversionError, DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    made = provenance(command_line(argv, module="convert.layers"))
    text = report_markdown(errors, made, args.checkpoint, len(faces), len(calibration), split)
    atomic_write_text(args.out / "layers.md", text)
    atomic_write_json(args.out / "layers.json", {
        **made, "checkpoint": shown(args.checkpoint), "split": split, "faces": len(faces),
        "calibration_size": len(calibration), "mirror": args.mirror, "weight_rounding": args.weight_rounding,
        "tensors": [_json_safe(asdict(e)) for e in errors]})
    print(summary_line(errors) or "no tensor was measured")
    print(f"wrote {args.out / 'layers.md'} (and layers.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
