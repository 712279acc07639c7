"""convert.rounding: int8 weights rounded so that each output channel keeps its kernel's sum."""

from __future__ import annotations

import numpy as np
import pytest

from convert.rounding import INT8_MAX, grid_kernel, sum_preserving_round


def _kernels(seed: int, shape=(3, 3, 1, 64)) -> np.ndarray:
    """Edge-like kernels (each channel's weights sum to about zero) scaled so each channel's extreme is 127 steps."""
    k = np.random.default_rng(seed).normal(size=shape)
    k -= k.mean(axis=(0, 1, 2), keepdims=True)
    return k / np.abs(k).reshape(-1, shape[-1]).max(axis=0) * INT8_MAX


def test_each_channel_keeps_its_sum_moving_the_fewest_weights_one_step():
    x = _kernels(0)
    q = sum_preserving_round(x)
    nearest = np.round(x)
    flat_x, flat_q, flat_n = (a.reshape(-1, x.shape[-1]) for a in (x, q, nearest))
    assert np.array_equal(q, np.round(q)) and np.abs(q).max() <= INT8_MAX
    assert np.abs(flat_q.sum(0) - flat_x.sum(0)).max() <= 0.5, "every channel's sum is its float sum rounded"
    assert np.abs(flat_n.sum(0) - flat_x.sum(0)).max() >= 1.5, "nearest rounding alone does not keep them"
    moved = np.abs(flat_q - flat_n).sum(0)
    assert np.array_equal(moved, np.abs(np.round(flat_x.sum(0)) - flat_n.sum(0))), "one step per missing step"
    assert np.abs(q - x).max() <= 1.0, "a moved weight goes to its other neighbouring step"
    extremes = np.abs(flat_x) >= INT8_MAX - 1e-9
    assert np.array_equal(flat_q[extremes], np.round(flat_x[extremes])), "the weight that sets the step stays"


def test_the_weights_closest_to_a_tie_are_the_ones_moved():
    x = np.array([-127.0, 10.4, 20.45, 30.3, 40.1])[:, None]  # sum 73.55 -> 74; nearest gives 73
    np.testing.assert_array_equal(sum_preserving_round(x)[:, 0], [-127, 10, 21, 30, 40])


def test_a_kernel_on_the_grid_keeps_its_step_and_what_the_following_normalisation_folds_in():
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(3, 3, 4, 8)).astype(np.float32)
    scale = rng.uniform(0.2, 3.0, size=8).astype(np.float32)
    scale[3] = 0.0  # a channel the normalisation zeroes is left alone
    snapped = grid_kernel(kernel, scale)
    folded = (snapped * scale).reshape(-1, 8)
    step = np.abs((kernel * scale).reshape(-1, 8)).max(axis=0) / INT8_MAX
    live = scale != 0
    steps = folded[:, live] / step[live]
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    np.testing.assert_allclose(np.abs(steps).max(axis=0), INT8_MAX, rtol=1e-5)
    np.testing.assert_array_equal(snapped[..., 3], kernel[..., 3])
    assert snapped.dtype == np.float32


@pytest.mark.slow
def test_sum_kept_int8_weights_reach_the_file_and_the_float_model_is_left_as_it_was():
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from convert.converter import convert, mirror_averaged
    from core.formats import FORMATS_BY_NAME
    from train.models import build_model
    from train.recipes import TINY

    model = build_model(TINY)
    rng = np.random.default_rng(2)
    for layer in model.layers:  # trained-looking normalisation statistics, so folding matters
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, n), rng.normal(size=n), rng.normal(size=n), rng.uniform(0.1, 3, n)])
    wrapped = mirror_averaged(model)  # as shipped: the model nested in the mirror-averaging graph
    before = [w.copy() for w in wrapped.get_weights()]
    calibration = rng.integers(0, 256, size=(16, 48, 48, 1)).astype(np.float32)
    data = convert(wrapped, FORMATS_BY_NAME["int8"], calibration, weight_rounding="sum-kept")
    assert all(np.array_equal(a, b) for a, b in zip(before, wrapped.get_weights())), "float weights put back"
    nearest = Interpreter(model_content=convert(wrapped, FORMATS_BY_NAME["int8"], calibration,
                                                weight_rounding="nearest"))

    interpreter = Interpreter(model_content=data)
    stored = {tuple(d["shape"]): interpreter.get_tensor(d["index"]) for d in interpreter.get_tensor_details()
              if d["dtype"] == np.int8 and len(d["shape"]) == 4 and len(d["quantization_parameters"]["scales"]) > 1}
    conv = model.get_layer("b0_conv0")
    bn = model.get_layer("b0_bn0")
    gamma, _, _, var = bn.get_weights()
    folded = conv.get_weights()[0] * (gamma / np.sqrt(var + bn.epsilon))
    step = np.abs(folded).reshape(-1, folded.shape[-1]).max(axis=0) / INT8_MAX
    expected = sum_preserving_round(folded / step)  # (3, 3, 1, out)
    got = stored[(folded.shape[-1], 3, 3, 1)]  # TFLite's (out, 3, 3, in)
    np.testing.assert_array_equal(got, np.transpose(expected, (3, 0, 1, 2)).astype(np.int8))
    default = [nearest.get_tensor(d["index"]) for d in nearest.get_tensor_details()
               if d["dtype"] == np.int8 and tuple(d["shape"]) == (folded.shape[-1], 3, 3, 1)]
    np.testing.assert_array_equal(default[0], np.transpose(np.round(folded / step), (3, 0, 1, 2)).astype(np.int8))
    assert not np.array_equal(default[0], got), "on these kernels the two roundings differ"


def test_an_unknown_weight_rounding_is_refused():
    from convert.converter import ConversionError, configured_converter
    from core.formats import FORMATS_BY_NAME

    with pytest.raises(ConversionError, match="weight rounding 'up': expected one of nearest, sum-kept"):
        configured_converter(object(), FORMATS_BY_NAME["int8"], np.zeros((1, 48, 48, 1)), None, "up")
