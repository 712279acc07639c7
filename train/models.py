"""Keras models honouring the feredge contract: raw 48x48x1 pixels 0..255 in, 7 probabilities out."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from core.labels import INPUT_SHAPE, NUM_CLASSES
from train.recipes import Recipe

PRECISIONS = ("float32", "mixed_bfloat16")


def build_model(recipe: Recipe) -> keras.Model:
    """Build the recipe's CNN. Normalisation (x/255) is the first layer, softmax the last (always float32)."""
    if recipe.precision not in PRECISIONS:
        raise ValueError(
            f"recipe {recipe.name!r}: unknown precision {recipe.precision!r}, expected one of {PRECISIONS}"
        )
    dt = recipe.precision
    inputs = keras.Input(shape=INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="normalise", dtype=dt)(inputs)
    for b, (width, n_convs) in enumerate(zip(recipe.widths, recipe.convs, strict=True)):
        for c in range(n_convs):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"b{b}_conv{c}", dtype=dt)(x)
            x = layers.BatchNormalization(momentum=recipe.bn_momentum, name=f"b{b}_bn{c}", dtype=dt)(x)
            x = layers.ReLU(name=f"b{b}_relu{c}", dtype=dt)(x)
        if recipe.head == "flatten_dense" or b < len(recipe.widths) - 1:
            x = layers.MaxPooling2D(name=f"b{b}_pool", dtype=dt)(x)
        if recipe.block_dropout:
            x = layers.Dropout(recipe.block_dropout, name=f"b{b}_drop", dtype=dt)(x)
    if recipe.head == "flatten_dense":
        x = layers.Flatten(name="flatten", dtype=dt)(x)
        x = layers.Dense(recipe.dense_units, use_bias=False, name="dense", dtype=dt)(x)
        x = layers.BatchNormalization(momentum=recipe.bn_momentum, name="dense_bn", dtype=dt)(x)
        x = layers.ReLU(name="dense_relu", dtype=dt)(x)
    elif recipe.head == "gap":
        x = layers.GlobalAveragePooling2D(name="gap", dtype=dt)(x)
    else:
        raise ValueError(f"unknown head {recipe.head!r}, expected 'flatten_dense' or 'gap'")
    if recipe.head_dropout:
        x = layers.Dropout(recipe.head_dropout, name="head_drop", dtype=dt)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"feredge_{recipe.name}")


def load_float32(path: Path, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` checkpoint with every layer computing in float32.

    A run trained in mixed precision saves layers that compute in bfloat16 (their weights are float32); evaluation,
    conversion to TFLite and teachers use the float32 model the device will run. Float32 checkpoints load unchanged.
    """
    model = keras.models.load_model(path, compile=compile)
    if all(layer.dtype_policy.name == "float32" for layer in model.layers):
        return model
    clone = keras.models.clone_model(
        model, clone_function=lambda layer: layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})
    )
    clone.set_weights(model.get_weights())
    return clone


def build_augmenter(recipe: Recipe, seed: int) -> keras.Sequential:
    """Augmentation used in the tf.data pipeline only (these ops do not convert to TFLite)."""
    aug: list[layers.Layer] = []
    if recipe.flip:
        aug.append(layers.RandomFlip("horizontal", seed=seed))
    if recipe.rotation_deg:
        aug.append(layers.RandomRotation(recipe.rotation_deg / 360.0, fill_mode="nearest", seed=seed + 1))
    if recipe.translate:
        aug.append(layers.RandomTranslation(recipe.translate, recipe.translate, fill_mode="nearest", seed=seed + 2))
    if recipe.zoom:
        aug.append(layers.RandomZoom(recipe.zoom, fill_mode="nearest", seed=seed + 3))
    if recipe.erasing:
        # factor (p, p): each image erased with probability p (a single float f would draw p from [0, f] per batch)
        aug.append(layers.RandomErasing(factor=(recipe.erasing, recipe.erasing), value_range=(0, 255), seed=seed + 4))
    if not aug:  # a recipe without augmentation: Keras cannot build an empty Sequential
        aug.append(layers.Identity())
    return keras.Sequential(aug, name="augment")


def predict_probs(model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Inference-mode probabilities (BatchNorm uses its moving statistics, dropout is off)."""
    return np.asarray(model.predict(x.astype(np.float32), batch_size=batch_size, verbose=0))
