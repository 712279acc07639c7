"""Small synthetic FER2013-shaped data for tests: class k has mean brightness 25 + 32k (learnable in seconds)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

USAGES = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}


def synthetic_images(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(7), n_per_class)
    base = 25 + 32 * y[:, None, None]
    x = base + rng.normal(0, 8, size=(len(y), 48, 48))
    x = np.clip(np.round(x), 0, 255).astype(np.uint8)
    order = rng.permutation(len(y))
    return x[order], y[order]


def write_fer_csv(path: Path, sizes: dict[str, int], seed: int = 0, drop_train: dict[int, int] | None = None) -> Path:
    """Write an ``emotion,pixels,Usage`` CSV (gzipped when the name ends in .gz) with n images per class per split.

    ``drop_train`` ({class: count}) leaves that many of a class out of the training split, so class weights differ.
    """
    lines = ["emotion,pixels,Usage"]
    for i, (split, n) in enumerate(sizes.items()):
        x, y = synthetic_images(n, seed + i)
        if split == "train" and drop_train:
            keep = np.ones(len(y), bool)
            for label, count in drop_train.items():
                keep[np.flatnonzero(y == label)[:count]] = False
            x, y = x[keep], y[keep]
        for img, label in zip(x, y):
            lines.append(f"{label},{' '.join(map(str, img.ravel()))},{USAGES[split]}")
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def finished_run(runs: Path, recipe_name: str, epochs: int = 1, variant: str = "unweighted", seed: int = 0) -> Path:
    """A run folder that looks finished (config, metrics, an untrained best checkpoint of the recipe's architecture):
    for tests where only the architecture of a run another recipe needs matters. Needs TensorFlow."""
    from core.fileio import atomic_write_json
    from train.models import build_model
    from train.recipes import RECIPES
    from train.runs import run_dir

    recipe = RECIPES[recipe_name].with_epochs(epochs)
    folder = run_dir(runs, recipe_name, epochs, variant, seed)
    folder.mkdir(parents=True)
    build_model(recipe).save(folder / "best.keras")
    atomic_write_json(folder / "config.json", {"recipe": recipe.to_dict()})
    atomic_write_json(folder / "metrics.json", {"completed_epochs": epochs, "splits": {}})
    return folder


def study_metrics(acc: float, disgust_prec: float) -> dict:
    """A run's metrics.json as the study reads it: every class at ``acc``, disgust precision apart."""
    from core.labels import EMOTIONS

    per = {c: {"precision": acc, "recall": acc, "f1": acc, "support": 10} for c in EMOTIONS}
    per["disgust"]["precision"] = disgust_prec
    return {"splits": {"val": {"accuracy": acc, "balanced_accuracy": acc - 0.05, "macro_f1": acc - 0.1,
                               "per_class": per}}, "train_wall_s": 60.0}


def tiny_with_statistics(seed: int = 0, loud_share: float = 0.0):
    """The tiny recipe's Keras model with trained-looking batch-normalisation statistics (what a freshly built one
    lacks: its zero means and unit variances make every layer nearly the identity); ``loud_share`` of each layer's
    channels get six times the gain, a long tail in its ReLU activations as trained networks have. Needs
    TensorFlow."""
    import keras

    from train.models import build_model
    from train.recipes import TINY

    keras.utils.set_random_seed(seed)
    model = build_model(TINY)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            gamma = rng.uniform(0.5, 2, n)
            if loud_share > 0:
                gamma[: max(1, int(n * loud_share))] *= 6.0
            layer.set_weights([gamma, rng.normal(size=n), rng.normal(size=n), rng.uniform(0.1, 3, n)])
    return model
