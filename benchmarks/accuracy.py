"""Accuracy of every model on the evaluation faces, against a float reference.

The reference per variant is the Keras float model (the manifest's ``checkpoint``) when TensorFlow imports
and the checkpoint exists (``auto``/``keras``), else that variant's float32 TFLite model. TensorFlow is
imported in :func:`keras_predict` only, lazily, so everything else runs on a device without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.errors import BenchError
from benchmarks.host import project_root
from benchmarks.models import ModelFile, ModelSet
from benchmarks.progress import note, progress_bar
from core.formats import REFERENCE_FORMAT
from core.labels import NUM_CLASSES
from core.paths import shown
from device.classifier import ClassifierOptions, EmotionClassifier

REFERENCES: tuple[str, ...] = ("auto", "keras", "float32")
# Face-box jitter: the detector's box is never where the dataset's crop was. Each entry resamples every 48x48 face
# as if its box were ``scale`` times as wide and moved by (dx, dy) pixels: (name, scale, dx, dy).
JITTERS: tuple[tuple[str, float, int, int], ...] = (
    ("box 15% smaller", 0.85, 0, 0),
    ("box 15% larger", 1.15, 0, 0),
    ("box 4 px right", 1.0, 4, 0),
    ("box 4 px down", 1.0, 0, 4),
)
JITTER_FORMAT = "int8"


@dataclass
class Reference:
    variant: str
    kind: str  # "keras" or "float32" (TFLite) or "none"
    source: str  # checkpoint or model path
    probs: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    versions: dict = field(default_factory=dict)


def resolve_checkpoint(text: str | None, models_dir: Path) -> Path | None:
    """The manifest's checkpoint path: absolute, or relative to the repo root (``python -m convert`` records it so)
    or the models folder; never the working directory, where the same relative path could name another model."""
    if not text:
        return None
    path = Path(text).expanduser()
    candidates = [path] if path.is_absolute() else [project_root() / path, models_dir.parent / path,
                                                     models_dir / path]
    return next((c for c in candidates if c.is_file()), None)


def keras_predict(checkpoint: Path, x: np.ndarray, mirror_average: bool = False) -> tuple[np.ndarray, dict]:
    """(probabilities, versions) of the Keras model on ``x``. The only place TensorFlow is imported.

    With ``mirror_average`` the probabilities are the mean over each face and its mirror image, as in a model
    converted with mirror averaging. Raises ImportError when TensorFlow/Keras are not installed.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the progress lines
    import keras
    import tensorflow as tf

    from train.models import load_float32

    model = load_float32(checkpoint)
    views = (x, x[:, :, ::-1]) if mirror_average else (x,)
    probs = np.mean([np.asarray(model.predict(v.astype(np.float32), batch_size=256, verbose=0), dtype=np.float32)
                     for v in views], axis=0)
    return probs, {"tensorflow": tf.__version__, "keras": keras.__version__}


def tflite_predict(model: ModelFile, x: np.ndarray, bar=None, chunk: int = 256,
                   mirror_average: bool = False) -> np.ndarray:
    classifier = EmotionClassifier(ClassifierOptions(model.path, 1, mirror_average))
    out = np.empty((len(x), NUM_CLASSES), np.float32)
    for start in range(0, len(x), chunk):
        out[start : start + chunk] = classifier.predict_proba(x[start : start + chunk])
        if bar is not None:
            bar.update(min(chunk, len(x) - start))
    return out


def reference_for(
    variant: str, models: ModelSet, x: np.ndarray, mode: str, cache: dict[str, np.ndarray], progress: bool = True
) -> Reference:
    """The float reference of ``variant`` (see the module docstring); raises BenchError for ``keras`` without TF."""
    notes: list[str] = []
    if mode in ("auto", "keras"):
        text = models.checkpoint(variant)
        checkpoint = resolve_checkpoint(text, models.models_dir)
        if checkpoint is not None:
            try:
                note(f"reference {variant}: loading the Keras model {checkpoint}", progress)
                mirrored = models.mirror_in_graph(variant)
                probs, versions = keras_predict(checkpoint, x, mirror_average=mirrored)
                if mirrored:
                    notes.append(f"{variant}: the models average each face and its mirror image in their graph, "
                                 "so the Keras reference does too")
                return Reference(variant, "keras", shown(checkpoint), probs, notes, versions)
            except ImportError as exc:
                if mode == "keras":
                    raise BenchError(f"--reference keras: TensorFlow/Keras cannot be imported ({exc})") from exc
                notes.append("TensorFlow is not installed: the float32 TFLite model is the reference")
            except Exception as exc:  # noqa: BLE001 - a damaged checkpoint: Keras raises many types
                if mode == "keras":
                    reason = f"{type(exc).__name__}: {exc}"
                    raise BenchError(f"--reference keras: checkpoint {checkpoint}: {reason}") from exc
                notes.append(f"Keras checkpoint {checkpoint} could not be loaded ({type(exc).__name__}): "
                             "the float32 TFLite model is the reference")
        else:
            why = f"checkpoint {text} not found" if text else "no checkpoint in the models' manifest.json"
            if mode == "keras":
                raise BenchError(f"--reference keras: {variant}: {why}")
            notes.append(f"{variant}: {why}: the float32 TFLite model is the reference")
    float_model = models.get(variant, REFERENCE_FORMAT)
    if float_model is None:
        notes.append(f"{variant}: no float32 model either: no reference, agreement is not reported")
        return Reference(variant, "none", "", None, notes)
    probs = cache.get(str(float_model.path))
    if probs is None:
        probs = tflite_predict(float_model, x)
        cache[str(float_model.path)] = probs
    return Reference(variant, "float32", str(float_model.path), probs, notes)


def metrics(y: np.ndarray, probs: np.ndarray) -> dict:
    """core.metrics.classification_metrics: numpy only, so a Pi without scikit-learn scores the same."""
    from core.metrics import classification_metrics

    return classification_metrics(y, probs)


def _row(variant: str, fmt: str, size: int | None, y: np.ndarray, probs: np.ndarray, ref: Reference) -> dict:
    from core.metrics import top1_agreement

    m = metrics(y, probs)
    agree = top1_agreement(probs, ref.probs) if ref.probs is not None else {}
    ref_m = metrics(y, ref.probs) if ref.probs is not None else None
    return {
        "variant": variant,
        "format": fmt,
        "size_bytes": size,
        "n": m["n"],
        "accuracy": m["accuracy"],
        "balanced_accuracy": m["balanced_accuracy"],
        "macro_f1": m["macro_f1"],
        "accuracy_delta_pp": 100.0 * (m["accuracy"] - ref_m["accuracy"]) if ref_m else None,
        "agreement": agree.get("agreement"),
        "agreement_clear": agree.get("agreement_clear"),  # where the reference has no near tie (core.metrics)
        "near_tie_share": agree.get("near_tie_share"),
        "max_prob_diff": float(np.abs(probs - ref.probs).max()) if ref.probs is not None and len(y) else None,
        "per_class": m["per_class"],
        "confusion_matrix": m["confusion_matrix"],
    }


def measure_accuracy(
    models: ModelSet, x: np.ndarray, y: np.ndarray, mode: str = "auto", progress: bool = True, mirror: bool = True
) -> tuple[list[dict], list[Reference]]:
    """(rows: one per reference and per model, references). Reference rows have ``format`` "keras"/"float32"
    and ``is_reference`` True; a float32 TFLite reference appears once, as its own model row.

    With ``mirror`` every TFLite model is also scored with ``ClassifierOptions.mirror_average`` (each face and its
    mirror image, scores averaged): ``accuracy_mirrored`` and ``mirror_gain_pp`` against its own single pass;
    a model that already does this in its graph (``mirror_in_graph``) is scored once."""
    if mode not in REFERENCES:
        raise BenchError(f"--reference {mode!r}: expected one of {', '.join(REFERENCES)}")
    cache: dict[str, np.ndarray] = {}
    rows: list[dict] = []
    references: list[Reference] = []
    for variant in models.variants:
        ref = reference_for(variant, models, x, mode, cache, progress)
        references.append(ref)
        if ref.kind == "keras":
            row = _row(variant, "keras", None, y, ref.probs, ref)
            rows.append({**row, "is_reference": True, "reference": "keras"})
        members = [m for m in models.models if m.variant == variant]
        passes = sum(2 if mirror and not m.mirror_in_graph else 1 for m in members)
        with progress_bar(f"accuracy {variant}", passes * len(x), enabled=progress) as bar:
            for model in members:
                probs = cache.get(str(model.path))
                if probs is None:
                    probs = tflite_predict(model, x, bar)
                    cache[str(model.path)] = probs
                else:
                    bar.update(len(x))
                row = _row(variant, model.fmt, model.size_bytes, y, probs, ref)
                row["mirror_in_graph"] = model.mirror_in_graph
                if mirror and not model.mirror_in_graph:
                    mirrored = metrics(y, tflite_predict(model, x, bar, mirror_average=True))["accuracy"]
                    row["accuracy_mirrored"] = mirrored
                    row["mirror_gain_pp"] = 100.0 * (mirrored - row["accuracy"])
                is_ref = ref.kind == "float32" and model.fmt == REFERENCE_FORMAT
                rows.append({**row, "is_reference": is_ref, "reference": ref.kind})
    return rows, references


def jitter(x: np.ndarray, scale: float, dx: int, dy: int) -> np.ndarray:
    """(N, 48, 48[, 1]) faces resampled as if the face box were ``scale`` times as wide and moved by (dx, dy)
    pixels (OpenCV bilinear; where the box leaves the crop, the border pixels are repeated)."""
    import cv2

    faces = np.asarray(x)
    squeeze = faces.ndim == 4
    faces = faces[..., 0] if squeeze else faces
    h, w = faces.shape[1:3]
    cx, cy = (w - 1) / 2, (h - 1) / 2
    # output pixel u samples the source at c + (u - c) * scale + d
    m = np.array([[scale, 0.0, cx + dx - cx * scale], [0.0, scale, cy + dy - cy * scale]], np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out = np.stack([cv2.warpAffine(f, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE) for f in faces])
    return out[..., None] if squeeze else out


def jitter_accuracy(model: ModelFile, x: np.ndarray, y: np.ndarray, base: float, bar=None) -> list[dict]:
    """``model``'s accuracy on the faces under every :data:`JITTERS` entry, with the change against ``base`` (its
    accuracy on the unmoved faces) as ``delta_pp``."""
    rows = []
    for name, scale, dx, dy in JITTERS:
        acc = metrics(y, tflite_predict(model, jitter(x, scale, dx, dy), bar))["accuracy"]
        rows.append({"variant": model.variant, "format": model.fmt, "jitter": name, "scale": scale, "dx": dx,
                     "dy": dy, "accuracy": acc, "base_accuracy": base, "delta_pp": 100.0 * (acc - base)})
    return rows


def measure_jitter(models: ModelSet, x: np.ndarray, y: np.ndarray, progress: bool = True,
                   accuracy_rows: list[dict] | None = None) -> list[dict]:
    """:func:`jitter_accuracy` of each variant's ``JITTER_FORMAT`` model. The unmoved accuracy is taken from
    ``accuracy_rows`` (:func:`measure_accuracy`'s rows on the same faces) where given, else measured."""
    known = {(r["variant"], r["format"]): r["accuracy"] for r in accuracy_rows or []}
    chosen = [m for m in models.models if m.fmt == JITTER_FORMAT]
    runs = sum(len(JITTERS) + ((m.variant, m.fmt) not in known) for m in chosen)
    rows: list[dict] = []
    with progress_bar("face-box jitter", runs * len(x), enabled=progress) as bar:
        for model in chosen:
            base = known.get((model.variant, model.fmt))
            if base is None:
                base = metrics(y, tflite_predict(model, x, bar))["accuracy"]
            rows.extend(jitter_accuracy(model, x, y, base, bar))
    return rows
