"""Keras models honouring the feredge contract: raw 48x48x1 pixels 0..255 in, 7 probabilities out."""

from __future__ import annotations

import keras
from keras import layers

from device.labels import INPUT_SHAPE, NUM_CLASSES
from train.recipes import Recipe


def build_model(recipe: Recipe) -> keras.Model:
    """Build the recipe's CNN. Normalisation (x/255) is the first layer, softmax the last."""
    inputs = keras.Input(shape=INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="normalise")(inputs)
    for b, (width, n_convs) in enumerate(zip(recipe.widths, recipe.convs, strict=True)):
        for c in range(n_convs):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"b{b}_conv{c}")(x)
            x = layers.BatchNormalization(momentum=recipe.bn_momentum, name=f"b{b}_bn{c}")(x)
            x = layers.ReLU(name=f"b{b}_relu{c}")(x)
        if recipe.head == "flatten_dense" or b < len(recipe.widths) - 1:
            x = layers.MaxPooling2D(name=f"b{b}_pool")(x)
        if recipe.block_dropout:
            x = layers.Dropout(recipe.block_dropout, name=f"b{b}_drop")(x)
    if recipe.head == "flatten_dense":
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(recipe.dense_units, use_bias=False, name="dense")(x)
        x = layers.BatchNormalization(momentum=recipe.bn_momentum, name="dense_bn")(x)
        x = layers.ReLU(name="dense_relu")(x)
    elif recipe.head == "gap":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    else:
        raise ValueError(f"unknown head {recipe.head!r}, expected 'flatten_dense' or 'gap'")
    if recipe.head_dropout:
        x = layers.Dropout(recipe.head_dropout, name="head_drop")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"feredge_{recipe.name}")


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
    return keras.Sequential(aug, name="augment")
