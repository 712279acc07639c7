"""convert.head: the full-integer format with its dense head kept in float32."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")


def _tiny(seed: int = 0):
    """The tiny recipe's model with trained-looking normalisation statistics and a head whose logits span a wide
    range (a coarse int8 grid) while the classes that matter stay close (a softmax far from saturated)."""
    from synthetic import tiny_with_statistics

    model = tiny_with_statistics(seed)
    rng = np.random.default_rng(seed + 1)  # the statistics drew from a generator of this seed
    dense = model.get_layer("probabilities")
    kernel, bias = dense.get_weights()
    bias = np.zeros_like(bias)
    bias[-1] = -30.0  # one class far below the others, as the shipped model's rare ones: the logits' range is wide
    dense.set_weights([rng.normal(scale=0.5, size=kernel.shape), bias])
    return model


def test_the_float_head_keeps_the_dense_head_float_and_the_rest_integer_with_the_int8_contract():
    from ai_edge_litert.interpreter import Interpreter

    from convert.converter import convert, mirror_averaged
    from convert.head import float_ops
    from core.formats import FORMATS_BY_NAME

    wrapped = mirror_averaged(_tiny())  # as shipped: the head is followed by the mirror averaging
    rng = np.random.default_rng(3)
    calibration = rng.integers(0, 256, size=(32, 48, 48, 1)).astype(np.float32)
    int8 = FORMATS_BY_NAME["int8"]
    # the calibrator's own ranges: the float head's own path (convert.head.float_head_model)
    default = convert(wrapped, int8, calibration, head="int8", activation_ranges="minmax")  # every op integer
    data = convert(wrapped, int8, calibration, head="float32", activation_ranges="minmax")

    assert float_ops(default) == [], "--head int8 is full-integer throughout"
    floats = float_ops(data)
    assert floats[:2] == ["DEQUANTIZE", "FULLY_CONNECTED"] and "SOFTMAX" in floats, floats
    assert "CONV_2D" not in floats, "the convolutions stay int8"

    def contract(content: bytes) -> list:
        interpreter = Interpreter(model_content=content)
        return [(d["dtype"], tuple(d["shape"]), d["quantization"][0] > 0)
                for d in (*interpreter.get_input_details(), *interpreter.get_output_details())]

    assert contract(data) == contract(default), "input and output keep the full-integer format's types"

    # nearer its float model than the all-integer head, whose logits sit on a coarse grid (here about a fifth of
    # the all-integer model's mean error)
    faces = rng.integers(0, 256, size=(64, 48, 48, 1)).astype(np.float32)
    reference = wrapped.predict(faces, verbose=0)

    def predict(content: bytes) -> np.ndarray:
        interpreter = Interpreter(model_content=content)
        interpreter.allocate_tensors()
        inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        scale, zero = out["quantization"]
        rows = []
        for face in faces:
            interpreter.set_tensor(inp["index"], (face[None] - 128).astype(np.int8))
            interpreter.invoke()
            rows.append((interpreter.get_tensor(out["index"])[0].astype(np.float32) - zero) * scale)
        return np.array(rows)

    err_float_head = np.abs(predict(data) - reference).mean()
    err_int8_head = np.abs(predict(default) - reference).mean()
    assert err_float_head < 0.6 * err_int8_head, (err_float_head, err_int8_head)


def test_a_model_without_a_dense_layer_has_no_head_to_keep(tmp_path):
    import keras

    from convert.converter import ConversionError, convert
    from core.formats import FORMATS_BY_NAME

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Conv2D(7, 3, padding="same")(keras.layers.Rescaling(1 / 255)(inputs))
    outputs = keras.layers.Softmax()(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    calibration = np.random.default_rng(0).integers(0, 256, size=(8, 48, 48, 1)).astype(np.float32)
    with pytest.raises(ConversionError, match="no FULLY_CONNECTED op in the model"):
        convert(model, FORMATS_BY_NAME["int8"], calibration, head="float32")


def test_an_unknown_head_is_refused_before_anything_is_exported():
    from convert.converter import ConversionError, configured_converter
    from core.formats import FORMATS_BY_NAME

    with pytest.raises(ConversionError, match="head 'int4': expected one of auto, int8, float32, float32-pool"):
        configured_converter(object(), FORMATS_BY_NAME["int8"], np.zeros((1, 48, 48, 1)), None, "nearest", "int4")


def test_the_manifest_records_the_head_the_int8_file_has():
    from convert.converter import convert, mirror_averaged
    from convert.pipeline import head_of
    from core.formats import FORMATS, FORMATS_BY_NAME

    wrapped = mirror_averaged(_tiny())
    calibration = np.random.default_rng(3).integers(0, 256, size=(8, 48, 48, 1)).astype(np.float32)
    int8 = FORMATS_BY_NAME["int8"]
    assert head_of(int8, convert(wrapped, int8, calibration, head="float32")) == "float32"
    assert head_of(int8, convert(wrapped, int8, calibration, head="int8")) == "int8"
    assert {f.name: head_of(f, b"") for f in FORMATS if not f.int8_io} == {
        "float32": None, "float16": None, "dynamic": None}


def test_the_pool_head_starts_at_the_global_average_pool_and_keeps_the_int8_contract():
    from ai_edge_litert.interpreter import Interpreter

    from convert.converter import convert, mirror_averaged
    from convert.head import float_ops
    from convert.pipeline import head_of
    from core.formats import FORMATS_BY_NAME

    wrapped = mirror_averaged(_tiny())
    rng = np.random.default_rng(3)
    calibration = rng.integers(0, 256, size=(32, 48, 48, 1)).astype(np.float32)
    int8 = FORMATS_BY_NAME["int8"]
    dense, pool = (convert(wrapped, int8, calibration, head=h) for h in ("float32", "float32-pool"))  # mse ranges
    assert float_ops(pool)[:3] == ["DEQUANTIZE", "MEAN", "FULLY_CONNECTED"], float_ops(pool)
    minmax = convert(wrapped, int8, calibration, head="float32-pool", activation_ranges="minmax")
    assert float_ops(minmax)[:3] == ["DEQUANTIZE", "MEAN", "FULLY_CONNECTED"], "the float head's own path too"
    assert "CONV_2D" not in float_ops(pool) and float_ops(dense)[:2] == ["DEQUANTIZE", "FULLY_CONNECTED"]
    assert (head_of(int8, pool), head_of(int8, dense)) == ("float32-pool", "float32")

    def io(content: bytes) -> list:
        interpreter = Interpreter(model_content=content)
        return [(d["dtype"], tuple(d["shape"])) for d in (*interpreter.get_input_details(),
                                                           *interpreter.get_output_details())]

    assert io(pool) == io(dense)


def test_the_pool_head_needs_a_pool_before_the_dense_layer():
    from dataclasses import replace

    from convert.converter import ConversionError, convert
    from core.formats import FORMATS_BY_NAME
    from train.models import build_model
    from train.recipes import TINY

    model = build_model(replace(TINY, head="flatten_dense", dense_units=8))  # flatten, dense: no pool before it
    calibration = np.random.default_rng(0).integers(0, 256, size=(8, 48, 48, 1)).astype(np.float32)
    with pytest.raises(ConversionError, match="float32-pool: the dense layer follows .*not a global average pool"):
        convert(model, FORMATS_BY_NAME["int8"], calibration, head="float32-pool")


def test_the_default_head_pools_in_float_when_the_model_pools_and_starts_at_the_dense_layer_otherwise():
    from dataclasses import replace

    from convert.converter import convert, mirror_averaged
    from convert.head import DEFAULT_HEAD
    from convert.pipeline import head_of
    from core.formats import FORMATS_BY_NAME
    from train.models import build_model
    from train.recipes import TINY

    assert DEFAULT_HEAD == "auto"
    int8 = FORMATS_BY_NAME["int8"]
    calibration = np.random.default_rng(0).integers(0, 256, size=(8, 48, 48, 1)).astype(np.float32)
    assert head_of(int8, convert(mirror_averaged(_tiny()), int8, calibration)) == "float32-pool"
    flat = build_model(replace(TINY, head="flatten_dense", dense_units=8))
    assert head_of(int8, convert(flat, int8, calibration)) == "float32"
