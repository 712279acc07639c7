from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from train.models import build_model, load_float32
from train.recipes import DEFAULT_RECIPE, RECIPES


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_model_contract(name):
    model = build_model(RECIPES[name])
    assert tuple(model.input_shape) == (None, 48, 48, 1)
    assert tuple(model.output_shape) == (None, 7)
    x = np.random.default_rng(0).integers(0, 256, size=(3, 48, 48, 1)).astype("float32")
    p = np.asarray(model(x, training=False))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert model.layers[1].name == "normalise", "normalisation lives inside the model"


@pytest.mark.parametrize("name", ["wide", "student-duo-2x", "paper", "teacher-vggnet", "compact"])
def test_a_recipes_cost_is_its_models(name):
    """Recipe.cost (counted from the recipe, for the plan) against the built Keras model, layer by layer."""
    model = build_model(RECIPES[name])
    macs = 0
    for layer in model.layers:
        if layer.__class__.__name__ == "Conv2D":
            _, h, w, filters = layer.output.shape
            kh, kw, cin, _ = layer.kernel.shape
            macs += h * w * kh * kw * cin * filters
        elif layer.__class__.__name__ == "Dense":
            macs += int(np.prod(layer.kernel.shape))
    assert RECIPES[name].cost() == (model.count_params(), macs)


def test_no_augmentation_layers_in_exported_graph():
    model = build_model(RECIPES[DEFAULT_RECIPE])
    assert not [layer for layer in model.layers if layer.__class__.__name__.startswith("Random")]


def test_mixed_precision_recipe_computes_in_bfloat16_with_float32_weights_and_softmax():
    model = build_model(RECIPES["wide-bf16"])
    convs = [layer for layer in model.layers if layer.name.endswith("_conv0")]
    assert convs and all(layer.compute_dtype == "bfloat16" for layer in convs)
    assert all(w.dtype == "float32" for w in model.weights)
    assert model.get_layer("probabilities").compute_dtype == "float32"


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="float16.*expected one of"):
        build_model(replace(RECIPES["tiny"], precision="float16"))


def test_load_float32_rebuilds_a_mixed_precision_checkpoint_as_float32(tmp_path):
    model = build_model(replace(RECIPES["tiny"], precision="mixed_bfloat16"))
    model.save(tmp_path / "bf16.keras")
    loaded = load_float32(tmp_path / "bf16.keras")
    assert {layer.dtype_policy.name for layer in loaded.layers} == {"float32"}
    assert loaded.name == model.name
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).integers(0, 256, size=(16, 48, 48, 1)).astype("float32")
    # same weights, float32 instead of bfloat16 maths: close, not equal
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.02)


def test_load_float32_returns_a_float32_checkpoint_as_saved(tmp_path):
    model = build_model(RECIPES["tiny"])
    model.save(tmp_path / "f32.keras")
    loaded = load_float32(tmp_path / "f32.keras")
    x = np.random.default_rng(1).integers(0, 256, size=(4, 48, 48, 1)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
