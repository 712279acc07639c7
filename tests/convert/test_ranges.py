"""convert.ranges: the full-integer format's activation ranges cut where 8 bits lose least."""

from __future__ import annotations

import numpy as np
import pytest

from convert.ranges import INT8_LEVELS, LOWEST_CUT, mse_cut


def _mse(values: np.ndarray, cut: float) -> float:
    step = cut / (INT8_LEVELS - 1)
    return float(np.mean((np.round(np.minimum(values, cut) / step) * step - values) ** 2))


def test_evenly_spread_values_keep_their_whole_range():
    """Uniform values on [0, 1]: clipping any of them costs more than the finer step saves."""
    values = np.linspace(0.0, 1.0, 100_001)
    assert mse_cut(values, 1.0) == pytest.approx(1.0)


def test_a_long_tail_is_cut_between_the_bulk_and_the_largest_value():
    """Exponential values (a ReLU activation's long tail): the cut lies well inside the observed range, above the
    99.9th percentile, and no other cut of the grid represents them with less squared error."""
    values = np.random.default_rng(0).exponential(1.0, 1_000_000)
    top = float(values.max())  # about 14: the calibrator's maximum
    cut = mse_cut(values, top)
    assert np.percentile(values, 99.9) < cut < 0.9 * top, (cut, top)
    assert _mse(values, cut) < _mse(values, top), "the cut beats the calibrator's range"
    for fraction in (1.0, 0.9, 0.8, 0.6, 0.45, LOWEST_CUT):
        assert _mse(values, cut) <= _mse(values, fraction * top) + 1e-15, fraction


def test_the_cut_never_goes_below_the_lowest_fraction():
    """A recorded maximum of 10 over sampled values on [0, 1] (the sample missed the outlier): the best cut would be
    1, but the grid stops at LOWEST_CUT of the maximum."""
    values = np.random.default_rng(1).uniform(0, 1, 10_000)
    assert mse_cut(values, 10.0) == pytest.approx(LOWEST_CUT * 10.0)


def test_nothing_to_represent_keeps_the_recorded_maximum_and_bad_values_are_refused():
    assert mse_cut(np.empty(0), 3.0) == 3.0
    assert mse_cut(np.zeros(10), 0.0) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        mse_cut(np.array([-1.0, 2.0]), 2.0)
    with pytest.raises(ValueError, match="finite"):
        mse_cut(np.array([np.nan, 2.0]), 2.0)


def _tailed_model(seed: int = 0):
    """The tiny recipe's model, mirrored as shipped, its ReLU activations with long tails (a few loud channels)."""
    from synthetic import tiny_with_statistics

    from convert.converter import mirror_averaged

    return mirror_averaged(tiny_with_statistics(seed, loud_share=1 / 8))


def _scales(content: bytes) -> dict[str, list]:
    """Per op kind, the int8 output scales of the ops in graph order; and the model's input and output contract."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    tensors = interpreter.get_tensor_details()
    out: dict[str, list] = {}
    for op in interpreter._get_ops_details():
        t = tensors[op["outputs"][0]]
        out.setdefault(op["op_name"], []).append(float(t["quantization"][0]))
    out["contract"] = [(d["dtype"], tuple(d["shape"]), d["quantization"])
                       for d in (*interpreter.get_input_details(), *interpreter.get_output_details())]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("head", ["float32", "int8"])
def test_mse_ranges_give_finer_activation_steps_and_keep_the_int8_contract(head):
    """Converted with ``activation_ranges="mse"``: every convolution's int8 step is at most the calibrator's and
    some are finer; each max pool has its input convolution's step (the quantiser's rule, which the cut relies on
    instead of cutting pools itself); the image input and the output keep their
    quantisation (the device's contract) and the float head stays float."""
    pytest.importorskip("tensorflow")
    from convert.converter import convert
    from convert.head import float_ops
    from core.formats import FORMATS_BY_NAME

    model = _tailed_model()
    calibration = np.random.default_rng(3).integers(0, 256, size=(40, 48, 48, 1)).astype(np.float32)
    int8 = FORMATS_BY_NAME["int8"]
    plain = _scales(convert(model, int8, calibration, head=head, activation_ranges="minmax"))
    made: list = []
    data = convert(model, int8, calibration, head=head, activation_ranges="mse", cuts=made)
    cut = _scales(data)
    assert made and all(c.cut_max < c.recorded_max for c in made), made
    assert {c.op for c in made} <= {"CONV_2D", "MEAN"}, "the tiny model's convolutions and its pooling mean"

    assert cut["contract"] == plain["contract"], "the input and output keep the full-integer format's quantisation"
    assert len(cut["CONV_2D"]) == len(plain["CONV_2D"]) > 1
    assert all(c <= p * (1 + 1e-6) for c, p in zip(cut["CONV_2D"], plain["CONV_2D"], strict=True))
    assert any(c < 0.99 * p for c, p in zip(cut["CONV_2D"], plain["CONV_2D"], strict=True)), (cut, plain)
    # the tiny model: conv, conv, pool, ... each pool right after the conv that feeds it
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data)
    tensors = interpreter.get_tensor_details()
    producers = {int(op["outputs"][0]): op for op in interpreter._get_ops_details()}
    pools = [op for op in producers.values() if op["op_name"] == "MAX_POOL_2D"]
    assert pools
    for pool in pools:
        source = tensors[int(pool["inputs"][0])]["quantization"]
        assert tensors[int(pool["outputs"][0])]["quantization"] == pytest.approx(source), "a pool keeps its scale"
    assert ("FULLY_CONNECTED" in float_ops(data)) == (head == "float32")
    assert "CONV_2D" not in float_ops(data)


def test_an_unknown_activation_range_is_refused_before_conversion():
    pytest.importorskip("tensorflow")
    from convert.converter import ConversionError, convert
    from core.formats import FORMATS_BY_NAME

    with pytest.raises(ConversionError, match="activation ranges 'median'"):
        convert(object(), FORMATS_BY_NAME["int8"], np.zeros((2, 48, 48, 1)), activation_ranges="median")


def test_a_cut_is_recorded_under_its_keras_layer():
    from convert.ranges import RangeCut, cut_record

    fused = ("model_mirror_averaged_1/model_1/b0_relu0_1/Relu;model_mirror_averaged_1/model_1/b0_bn0_1/batchnorm/"
             "add_1;model_mirror_averaged_1/model_1/b0_conv0_1/convolution")
    assert cut_record(RangeCut("CONV_2D", fused, 14.59183, 9.04694)) == {
        "layer": "b0_relu0", "op": "CONV_2D", "recorded_max": 14.5918, "cut_max": 9.0469}
    assert cut_record(RangeCut("MEAN", "m_1/model_1/gap_1/Mean", 1.8, 1.6))["layer"] == "gap"


def test_a_mixed_calibration_set_takes_device_crops_of_found_faces_and_dataset_crops_of_the_others():
    """70 training faces (10 a class), the detector found the even ones; 20 calibration faces at share 0.5: 10 are
    device crops of found faces, 10 dataset crops of faces not among those, each part covering the classes."""
    from synthetic import synthetic_images

    from convert.converter import ConversionError, mixed_calibration

    x, y = synthetic_images(10, seed=2)
    x = x[..., None]
    device = np.full((70, 48, 48), 255, np.uint8)
    device[:, 0, 0] = np.arange(70)  # a white crop whose corner tells its face
    found = np.arange(70) % 2 == 0
    images, labels = mixed_calibration(x, y, device, found, 20, 0.5, seed=0)
    assert images.shape == (20, 48, 48, 1) and images.dtype == np.uint8 and len(labels) == 20
    own, crops = images[:10], images[10:]
    assert all((c == 255).mean() > 0.99 for c in crops) and not any((c == 255).mean() > 0.5 for c in own)
    crop_faces = [int(c[0, 0, 0]) for c in crops]
    assert all(found[i] for i in crop_faces), "device crops only of faces the detector found"
    assert list(labels[10:]) == [int(y[i]) for i in crop_faces]
    own_faces = [int(np.argmax((x == c).all(axis=(1, 2, 3)))) for c in own]
    assert not set(own_faces) & set(crop_faces), "no face twice"
    assert list(labels[:10]) == [int(y[i]) for i in own_faces]
    assert len(set(labels[:10])) >= 6 and len(set(labels[10:])) >= 6, "each part class-stratified"

    many, _ = mixed_calibration(x, y, device, found, 60, 0.5, seed=0)  # 30 of the 35 found, 30 of the other 40
    crop_faces = {int(c[0, 0, 0]) for c in many[30:]}
    own_faces = {int(np.argmax((x == c).all(axis=(1, 2, 3)))) for c in many[:30]}
    assert len(crop_faces) == len(own_faces) == 30 and not crop_faces & own_faces, "60 faces, none twice"

    none, _ = mixed_calibration(x, y, device, found, 20, 0.0, seed=0)
    assert not any((c == 255).mean() > 0.5 for c in none), "share 0: dataset crops only"
    with pytest.raises(ConversionError, match="found only 35"):
        mixed_calibration(x, y, device, found, 100, 0.5, seed=0)
    with pytest.raises(ConversionError, match="share 1.5"):
        mixed_calibration(x, y, device, found, 20, 1.5, seed=0)
