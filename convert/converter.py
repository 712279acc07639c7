"""Keras checkpoint -> TFLite in every format of :data:`core.formats.FORMATS`.

Conversion goes through ``model.export()`` (a SavedModel) and ``TFLiteConverter.from_saved_model``; the
full-integer format is calibrated on a stratified sample of the training split. Its weights are handed to the
converter already on their int8 grid, rounded so that each output channel keeps its kernel's sum
(``weight_rounding="sum-kept"``, :mod:`convert.rounding`), or rounded by the converter to the nearest step
(``"nearest"``); its dense head is kept in float32 inside the integer model (``head="float32"``,
:mod:`convert.head`), or quantised like the rest (``"int8"``); its activations' ranges are the calibrator's extremes
(``activation_ranges="minmax"``) or cut where 8 bits lose least (``"mse"``, :mod:`convert.ranges`). The defaults
are what ships.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from convert.head import DEFAULT_HEAD, FLOAT_HEADS
from convert.ranges import ACTIVATION_RANGES, DEFAULT_ACTIVATION_RANGES
from convert.rounding import DEFAULT_WEIGHT_ROUNDING
from core.formats import ModelFormat
from core.labels import INPUT_SHAPE


class ConversionError(RuntimeError):
    """A checkpoint or calibration set that cannot be converted; the message names the path."""


def load_checkpoint(path: Path):
    """Load a ``.keras`` checkpoint and check it honours the 48x48x1 -> 7 contract."""
    from train.models import load_float32

    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: checkpoint not found (run `make train` first, or pass --checkpoint)")
    try:
        model = load_float32(path)  # a mixed-precision checkpoint converts as float32
    except Exception as exc:  # keras raises many types for a damaged zip/h5
        raise ConversionError(f"{path}: unreadable Keras checkpoint ({type(exc).__name__}: {exc})") from exc
    in_shape = tuple(model.input_shape[1:])
    if in_shape != INPUT_SHAPE:
        raise ConversionError(f"{path}: model input is {in_shape}, expected {INPUT_SHAPE} (48x48 grayscale)")
    out_shape = tuple(model.output_shape[1:])
    if out_shape != (7,):
        raise ConversionError(f"{path}: model output is {out_shape}, expected (7,) emotion scores")
    return model


def mirror_averaged(model):
    """``model`` wrapped to classify each face and its left-right mirror image in one batch and output the mean of
    the two score vectors: test-time mirroring inside the ``.tflite`` itself, so every runtime that loads the file
    gets it (twice the classifier's compute). A batch of N faces runs as one batch of 2N."""
    import keras

    face = keras.Input(shape=INPUT_SHAPE, name="face")
    both = keras.layers.Concatenate(axis=0, name="face_and_mirror")([face, keras.ops.flip(face, axis=2)])
    scores = model(both)
    mean = keras.ops.mean(keras.ops.reshape(scores, (2, -1, scores.shape[-1])), axis=0)
    return keras.Model(face, mean, name=f"{model.name}_mirror_averaged")


def calibration_sample(x: np.ndarray, y: np.ndarray | None, size: int, seed: int) -> np.ndarray:
    """A class-stratified sample of ``size`` images (all of them when fewer are given)."""
    if len(x) == 0:
        raise ConversionError("calibration set is empty: int8 conversion needs representative images")
    if size >= len(x):
        return x
    if y is None:
        rng = np.random.default_rng(seed)
        return x[rng.choice(len(x), size=size, replace=False)]
    from sklearn.model_selection import train_test_split

    classes, counts = np.unique(y, return_counts=True)
    # scikit-learn's own preconditions: both the sample and what is left must hold every class
    stratify = y if counts.min() >= 2 and min(size, len(y) - size) >= len(classes) else None
    idx, _ = train_test_split(np.arange(len(y)), train_size=size, stratify=stratify, random_state=seed)
    return x[np.sort(idx)]


def mixed_calibration(x: np.ndarray, y: np.ndarray, device_crops: np.ndarray, found: np.ndarray, size: int,
                      share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``size`` calibration faces of which ``round(size * share)`` are the device's crops (``device_crops[i]``, the
    detector's calibrated crop of training face ``i``, where ``found[i]``) and the rest the dataset's own crops of
    other faces, each part class-stratified: the int8 ranges then see the faces the camera path hands the model as
    well as FER2013's framing. Raises ConversionError when the detector found too few faces."""
    if not 0.0 <= share <= 1.0:
        raise ConversionError(f"device-crop share {share}: expected a fraction in [0, 1]")
    y = np.asarray(y).reshape(-1)
    n_device = int(round(size * share))
    candidates = np.flatnonzero(np.asarray(found, bool))
    if n_device > len(candidates):
        raise ConversionError(f"{n_device} device crops asked for calibration, but the detector found only "
                              f"{len(candidates)} training faces")
    chosen = calibration_sample(candidates, y[candidates], n_device, seed) if n_device else np.zeros(0, int)
    rest = np.setdiff1d(np.arange(len(x)), chosen)
    own = calibration_sample(rest, y[rest], size - n_device, seed) if size > n_device else np.zeros(0, int)
    images = np.concatenate([np.asarray(x)[own].reshape(-1, *INPUT_SHAPE),
                             np.asarray(device_crops)[chosen].reshape(-1, *INPUT_SHAPE)]).astype(np.uint8)
    return images, np.concatenate([y[own], y[chosen]])


def convert(model, fmt: ModelFormat, calibration: np.ndarray | None = None,
            weight_rounding: str = DEFAULT_WEIGHT_ROUNDING, head: str = DEFAULT_HEAD,
            activation_ranges: str = DEFAULT_ACTIVATION_RANGES, cuts: list | None = None) -> bytes:
    """Return the ``.tflite`` flatbuffer of ``model`` in format ``fmt`` (``weight_rounding``: how the full-integer
    format's weights are rounded, one of :data:`convert.rounding.WEIGHT_ROUNDINGS`; ``head``: the full-integer
    format's dense head in int8 or kept in float32 (from the dense layer or the pool before it), one of
    :data:`convert.head.HEAD_PRECISIONS`;
    ``activation_ranges``: its activations' ranges, one of :data:`convert.ranges.ACTIVATION_RANGES`; the ranges
    cut are appended to ``cuts`` as :class:`convert.ranges.RangeCut`, when given)."""
    from convert.head import float_head_model

    with tempfile.TemporaryDirectory(prefix="feredge-export-") as tmp:
        converter = configured_converter(model, fmt, calibration, Path(tmp), weight_rounding, head,
                                         activation_ranges)
        try:
            if fmt.int8_io and activation_ranges != "minmax":
                return narrowed_model(converter, Path(tmp), calibration, head, cuts)
            if fmt.int8_io and head in FLOAT_HEADS:
                return float_head_model(converter, Path(tmp), calibration, head)
            return bytes(converter.convert())
        except Exception as exc:
            raise ConversionError(f"TFLite conversion to {fmt.name} failed: {exc}") from exc


def narrowed_model(converter, saved_model_dir: Path, calibration: np.ndarray, head: str,
                   cuts: list | None = None) -> bytes:
    """The full-integer flatbuffer of ``converter`` (set up for the int8 format over ``saved_model_dir``) with its
    one-sided activation ranges cut where 8 bits lose least on ``calibration`` (:func:`convert.ranges.narrowed`),
    its dense head in float32 when ``head`` says so (:mod:`convert.head`); the cuts made are appended to ``cuts``."""
    from convert.head import float_head_nodes
    from convert.ranges import calibrated_model, narrowed, quantised

    nodes = float_head_nodes(converter, saved_model_dir, head) if head in FLOAT_HEADS else []
    model, made = narrowed(calibrated_model(converter), calibration, keep=frozenset(nodes))
    if cuts is not None:
        cuts.extend(made)
    return quantised(model, nodes)


def representative_images(images: np.ndarray):
    """A representative-dataset callable over ``images``, one face a call, as the TFLite converter wants."""
    samples = np.asarray(images, dtype=np.float32).reshape((-1, *INPUT_SHAPE))

    def representative():
        for i in range(len(samples)):
            yield [samples[i : i + 1]]

    return representative


def configured_converter(model, fmt: ModelFormat, calibration: np.ndarray | None, export_dir: Path,
                         weight_rounding: str = DEFAULT_WEIGHT_ROUNDING, head: str = DEFAULT_HEAD,
                         activation_ranges: str = DEFAULT_ACTIVATION_RANGES):
    """A ``TFLiteConverter`` for ``model`` (exported as a SavedModel into ``export_dir``, which must outlive the
    conversion) set up for format ``fmt``: what :func:`convert` converts and :mod:`convert.layers` inspects."""
    if fmt.representative_data and (calibration is None or len(calibration) == 0):
        raise ConversionError(f"format {fmt.name!r} needs a non-empty calibration set")
    import tensorflow as tf

    from convert.head import HEAD_PRECISIONS
    from convert.rounding import WEIGHT_ROUNDINGS, int8_grid_weights

    if weight_rounding not in WEIGHT_ROUNDINGS:
        raise ConversionError(f"weight rounding {weight_rounding!r}: expected one of {', '.join(WEIGHT_ROUNDINGS)}")
    if head not in HEAD_PRECISIONS:
        raise ConversionError(f"head {head!r}: expected one of {', '.join(HEAD_PRECISIONS)}")
    if activation_ranges not in ACTIVATION_RANGES:
        raise ConversionError(f"activation ranges {activation_ranges!r}: expected one of "
                              f"{', '.join(ACTIVATION_RANGES)}")
    with int8_grid_weights(model) if (fmt.int8_io and weight_rounding == "sum-kept") else nullcontext():
        model.export(str(export_dir), format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(export_dir))
    if fmt.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt.supported_types and not fmt.int8_io:
        converter.target_spec.supported_types = [getattr(tf, t) for t in fmt.supported_types]
    if fmt.representative_data:
        converter.representative_dataset = representative_images(calibration)
    if fmt.int8_io:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter
