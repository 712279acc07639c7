"""The full-integer format's activation ranges: the calibrator's observed extremes, or each one-sided activation's
range cut where 8 bits lose least (``python -m convert --activation-ranges``).

TFLite's calibrator runs the float model on the calibration faces and records each tensor's smallest and largest
value; the quantiser spreads 256 int8 steps over that range. A ReLU activation's largest value is a rare outlier, so
the step is coarser than the values below it need, and every face pays that rounding in every layer
(``python -m convert.layers`` puts each op's own error at the rounding floor; the error that costs agreement with
the float model is that floor, accumulated). ``mse`` keeps the calibrator's run and changes only the recorded
maximum of the tensors that :data:`NARROWED_OPS` output with a one-sided range (min >= 0): for each one, the cut in
``[LOWEST_CUT, 1] x max`` that minimises the mean squared error between its observed values and their int8 values
(rounded within the cut, clipped above it), the criterion of the histogram observers in PyTorch and OpenVINO. A max
pool needs no cut of its own: the quantiser gives it its input's scale. The image, the model's output and the float
head's tensors are not touched. ``minmax`` is the converter's own calibration. On the students shipped until session
39 ``mse`` raised int8's agreement with float32 (99.14% to 99.41%, 99.44% to 99.58%) but cost the weighted model
0.34 pp on BlazeFace's calibrated crops, outside the conversion rule's band (reports/compare/int8-mse-ranges); fitted
on calibration faces half of which were device crops (``--calibration-device-share 0.5``) it kept those crops level
but put one jitter row 0.33 pp below (reports/compare/int8-mse-device-calibration). With the pooled features in
float too (``--head float32-pool``) on the models shipped since session 39 it passed that rule (agreement 99.44% and
99.67%, reports/compare/int8-pool-mse), and ``mse`` is the default since session 41.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATION_RANGES: tuple[str, ...] = ("minmax", "mse")
DEFAULT_ACTIVATION_RANGES = "mse"  # since session 41 (reports/compare/int8-pool-mse)
NARROWED_OPS: tuple[str, ...] = ("CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "AVERAGE_POOL_2D")
LOWEST_CUT = 0.3  # the smallest cut tried, as a fraction of the observed maximum
CUT_STEPS = 71  # cuts tried from 1.0 down to LOWEST_CUT x the maximum (steps of 0.01)
INT8_LEVELS = 256
SAMPLE_PER_IMAGE = 4096  # observed values kept per tensor and calibration image (seeded, uniform)


@dataclass(frozen=True)
class RangeCut:
    """One tensor whose recorded maximum was cut: its name, the calibrator's maximum and the cut."""

    op: str
    tensor: str
    recorded_max: float
    cut_max: float


def layer_name(tensor: str) -> str:
    """The Keras layer a TFLite tensor name comes from (a fused op's name lists its parts, ``;``-separated, its
    activation first): ``.../b0_relu0_1/Relu;...`` -> ``b0_relu0``; the last path part otherwise."""
    first = tensor.split(";")[0].split("/")
    part = first[-2] if len(first) >= 2 else first[-1]
    return part[:-2] if part.endswith("_1") else part


def cut_record(cut: RangeCut) -> dict:
    """How a manifest entry records one cut: the layer, the op, the calibrator's maximum and the cut."""
    return {"layer": layer_name(cut.tensor), "op": cut.op, "recorded_max": round(cut.recorded_max, 4),
            "cut_max": round(cut.cut_max, 4)}


def mse_cut(values: np.ndarray, top: float, levels: int = INT8_LEVELS, lowest: float = LOWEST_CUT,
            steps: int = CUT_STEPS) -> float:
    """The upper end of ``[0, cut]`` in ``[lowest, 1] x top`` whose ``levels`` evenly spaced values represent
    ``values`` (non-negative observations) with the least mean squared error, clipping counted; ``top`` itself when
    there is nothing to represent (no values, or ``top`` <= 0). Ties go to the wider range."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or not np.isfinite(top) or top <= 0:
        return float(top)
    if np.any(v < 0) or not np.all(np.isfinite(v)):
        raise ValueError("mse_cut: expected finite non-negative values (a one-sided activation)")
    best_cut, best_err = float(top), np.inf
    for fraction in np.linspace(1.0, lowest, steps):
        cut = float(top) * float(fraction)
        step = cut / (levels - 1)
        err = float(np.mean((np.round(np.minimum(v, cut) / step) * step - v) ** 2))
        if err < best_err:
            best_cut, best_err = cut, err
    return best_cut


def calibrated_model(converter) -> bytes:
    """The float flatbuffer of ``converter`` (set up for the int8 format, with its representative dataset) with the
    calibrator's min/max recorded on every tensor, not yet quantised (what TFLite's QuantizationDebugger starts
    from)."""
    converter._experimental_calibrate_only = True  # the converter's own calibrate-then-quantise split (private)
    try:
        return bytes(converter.convert())
    finally:
        converter._experimental_calibrate_only = False


def _interpreter(model: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    # no delegate, every tensor kept: the intermediate activations are read after each run
    interpreter = Interpreter(model_content=model, experimental_preserve_all_tensors=True,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter


def narrowed(calibrated: bytes, images: np.ndarray, keep: frozenset[str] = frozenset(),
             seed: int = 0) -> tuple[bytes, list[RangeCut]]:
    """``calibrated`` (:func:`calibrated_model`) with the recorded maximum of every one-sided activation of
    :data:`NARROWED_OPS` cut by :func:`mse_cut` over its values on ``images`` (the calibration faces); tensors named
    in ``keep`` (a float head's) and the model's outputs are left alone.
    Returns the new flatbuffer and the cuts made, in graph order."""
    from tensorflow.lite.tools import flatbuffer_utils

    interpreter = _interpreter(calibrated)
    details = {t["index"]: t for t in interpreter.get_tensor_details()}
    outputs = {o["index"] for o in interpreter.get_output_details()}
    ops = interpreter._get_ops_details()  # the interpreter's own op list (no public accessor)
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    tensors = model.subgraphs[0].tensors

    def recorded(index: int) -> tuple[float, float] | None:
        q = tensors[index].quantization
        if q is None or q.min is None or q.max is None or len(q.min) != 1:
            return None
        return float(q.min[0]), float(q.max[0])

    chosen = [op for op in ops if op["op_name"] in NARROWED_OPS
              and (out := int(op["outputs"][0])) not in outputs and details[out]["name"] not in keep
              and (r := recorded(out)) is not None and r[0] >= 0.0 and r[1] > 0.0]
    own = [int(op["outputs"][0]) for op in chosen]
    rng = np.random.default_rng(seed)
    samples: dict[int, list[np.ndarray]] = {index: [] for index in own}
    feed = interpreter.get_input_details()[0]
    for image in np.asarray(images, dtype=np.float32).reshape((-1, *feed["shape"][1:])):
        interpreter.set_tensor(feed["index"], image[None])
        interpreter.invoke()
        for index in own:
            values = interpreter.get_tensor(index).ravel()
            if values.size > SAMPLE_PER_IMAGE:
                values = values[rng.choice(values.size, SAMPLE_PER_IMAGE, replace=False)]
            samples[index].append(values.astype(np.float32, copy=True))
    made: list[RangeCut] = []
    for op in chosen:
        out = int(op["outputs"][0])
        top = recorded(out)[1]
        cut = mse_cut(np.concatenate(samples[out]) if samples[out] else np.empty(0), top)
        if cut < top:
            tensors[out].quantization.max = np.array([cut], dtype=np.float32)
            made.append(RangeCut(op["op_name"], details[out]["name"], top, cut))
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), made


def quantised(calibrated: bytes, float_nodes: list[str] | None = None, disable_per_channel: bool = False) -> bytes:
    """The full-integer model of ``calibrated``: int8 input and output, every op int8 but those whose output
    tensors ``float_nodes`` names (kept in float32: :mod:`convert.head`). Quantised as TFLite's QuantizationDebugger
    quantises (``fully_quantize`` keeps the full-integer format's int8 input and output around any float ops)."""
    from tensorflow.lite.python import convert as tflite_convert

    return bytes(tflite_convert.mlir_quantize(calibrated, disable_per_channel=disable_per_channel,
                                              fully_quantize=True, denylisted_nodes=float_nodes or None))
