from __future__ import annotations

import numpy as np
import pytest

from train.models import build_model
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


def test_no_augmentation_layers_in_exported_graph():
    model = build_model(RECIPES[DEFAULT_RECIPE])
    assert not [layer for layer in model.layers if layer.__class__.__name__.startswith("Random")]
