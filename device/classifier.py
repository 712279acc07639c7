"""Emotion classifier around a TFLite interpreter: float and full-int8 models alike.

The model contract (see ``core.labels``): input ``[1, 48, 48, 1]`` raw grayscale 0..255 (float32, or
int8 quantised with the input tensor's own scale/zero-point), output 7 scores in ``EMOTIONS`` order
(float32, or int8 dequantised with the output tensor's scale/zero-point). Normalisation is in the model.

Batches are run as one ``invoke`` per face on the fixed ``[1, 48, 48, 1]`` tensor: measured with
ai-edge-litert 2.3 for N = 1..8 faces, looping was as fast as ``resize_tensor_input`` to ``[N, ...]``
(within noise, float32 and int8), and it never re-allocates nor depends on a resizable batch dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from core.balance import adjust, check_tau, prior_vector
from core.labels import EMOTIONS, INPUT_SIZE, NUM_CLASSES
from core.manifest import ManifestError, verified_entry
from device.interpreter import InterpreterNotFoundError, load_interpreter

EXPECTED_INPUT = (1, INPUT_SIZE, INPUT_SIZE, 1)
SUPPORTED_DTYPES = (np.float32, np.int8, np.uint8)


class ModelError(Exception):
    """The model file is missing, unreadable, or does not honour the model contract."""


@dataclass(frozen=True)
class ClassifierOptions:
    model_path: Path
    num_threads: int = 1
    # Test-time mirroring: also classify the left-right mirrored face and average the two score vectors. Two
    # interpreter runs per face; the accuracy it buys is measured per model by ``python -m benchmarks``. Skipped
    # (it would change nothing) when the model already does it in its graph: see ``mirrors_in_graph``.
    mirror_average: bool = False
    # Prior correction (core.balance): scores become softmax(log p - balance * log prior), with the training
    # split's class priors from manifest.json beside the model (same sha256). 0: the model as trained.
    balance: float = 0.0


@dataclass(frozen=True)
class Classification:
    label: str
    index: int
    score: float
    probabilities: np.ndarray  # (7,) float32, EMOTIONS order


def _shape_str(shape: Any) -> str:
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def _check_contract(path: Path, inp: dict, out: dict) -> None:
    """Raise ``ModelError`` unless the tensors match the model contract."""
    shape = tuple(int(d) for d in inp["shape"])
    if len(shape) != 4 or shape[1:] != EXPECTED_INPUT[1:]:
        raise ModelError(
            f"model {path}: input shape {_shape_str(shape)}, expected {_shape_str(EXPECTED_INPUT)} "
            "(one 48x48 grayscale face)"
        )
    out_shape = tuple(int(d) for d in out["shape"])
    if len(out_shape) != 2 or out_shape[-1] != NUM_CLASSES:
        raise ModelError(f"model {path}: output shape {_shape_str(out_shape)}, expected [1,{NUM_CLASSES}] (7 emotions)")
    for role, detail in (("input", inp), ("output", out)):
        dtype = np.dtype(detail["dtype"])
        if dtype not in [np.dtype(d) for d in SUPPORTED_DTYPES]:
            raise ModelError(f"model {path}: {role} dtype {dtype}, expected float32 or int8")
        scale, _ = detail["quantization"]
        if dtype != np.float32 and not scale > 0:
            raise ModelError(f"model {path}: {role} is {dtype} but has no quantisation scale")


def mirrors_in_graph(model_path: Path) -> bool:
    """Whether ``manifest.json`` beside the model says it averages each face and its mirror image in its own graph
    (``convert --mirror``), for this very file (same sha256). No manifest or no entry: ``False``.

    Such a model's scores are the same for a face and its mirror image, so averaging the two again is wasted work.
    """
    try:
        entry = verified_entry(model_path)
    except ManifestError as exc:
        raise ModelError(f"model {model_path}: {exc}") from exc
    return bool(entry and entry.get("mirror_average"))


def _as_faces(faces: np.ndarray) -> np.ndarray:
    """(N, 48, 48) float32 view of (N, 48, 48) or (N, 48, 48, 1) pixels 0..255."""
    faces = np.asarray(faces)
    if faces.ndim == 4 and faces.shape[-1] == 1:
        faces = faces[..., 0]
    if faces.ndim != 3 or faces.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"faces: shape {faces.shape}, expected (N, 48, 48) or (N, 48, 48, 1) gray pixels 0..255")
    return faces.astype(np.float32, copy=False)


class EmotionClassifier:
    """Loads a ``.tflite`` once; ``predict_proba`` maps a batch of 48x48 gray faces to (N, 7) scores."""

    def __init__(self, options: ClassifierOptions) -> None:
        path = Path(options.model_path)
        self.options = options
        self.model_path = path
        if not path.is_file():
            raise ModelError(f"model {path}: file not found (expected a .tflite model)")
        try:
            self._interpreter = load_interpreter(path, options.num_threads)
        except InterpreterNotFoundError as exc:
            raise ModelError(f"model {path}: {exc}") from exc
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"model {path}: not a valid TFLite model, truncated or corrupt? ({reason})") from exc
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"model {path}: {len(inputs)} inputs/{len(outputs)} outputs, expected 1 and 1")
        self._in, self._out = inputs[0], outputs[0]
        _check_contract(path, self._in, self._out)
        if int(self._in["shape"][0]) != 1:
            self._interpreter.resize_tensor_input(self._in["index"], list(EXPECTED_INPUT))
            self._interpreter.allocate_tensors()
        self._buffer = np.zeros(EXPECTED_INPUT, dtype=self.input_dtype)
        if options.mirror_average:
            _ = self.mirrors_in_graph  # a broken manifest.json fails at load time, not at the first face
        self._priors = self._load_priors(check_tau(options.balance)) if options.balance else None

    def _load_priors(self, tau: float) -> np.ndarray:
        """The training split's class priors of this very model (manifest.json beside it, same sha256)."""
        try:
            entry = verified_entry(self.model_path)
        except ManifestError as exc:
            raise ModelError(f"model {self.model_path}: {exc}") from exc
        priors = (entry or {}).get("class_priors")
        if not priors:
            why = "has no entry for this file" if entry is None else "records no class_priors for it"
            raise ModelError(
                f"model {self.model_path}: --balance {tau:g} needs the class priors of the split it was trained on, "
                f"and manifest.json beside it {why} (python -m convert records them; for an older manifest: "
                "python -m convert.priors --data FER2013.csv --models DIR)"
            )
        try:
            return prior_vector(priors)
        except ValueError as exc:
            raise ModelError(f"model {self.model_path}: manifest.json: {exc}") from exc

    @property
    def balance(self) -> float:
        return float(self.options.balance)

    @cached_property
    def mirrors_in_graph(self) -> bool:
        """:func:`mirrors_in_graph` for this model, read (and the file hashed) only when first asked."""
        return mirrors_in_graph(self.model_path)

    @property
    def mirror_views(self) -> bool:
        """Whether ``predict_proba`` runs the mirror image as a second view (asked for, and not already in the graph);
        the manifest is only consulted when the second view is asked for."""
        return self.options.mirror_average and not self.mirrors_in_graph

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._in["dtype"])

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self._out["dtype"])

    @property
    def input_quantization(self) -> tuple[float, int]:
        scale, zero_point = self._in["quantization"]
        return float(scale), int(zero_point)

    @property
    def output_quantization(self) -> tuple[float, int]:
        scale, zero_point = self._out["quantization"]
        return float(scale), int(zero_point)

    def _quantize(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels 0..255 float32 -> the input tensor's dtype."""
        if self.input_dtype == np.float32:
            return pixels
        scale, zero_point = self.input_quantization
        info = np.iinfo(self.input_dtype)
        q = np.rint(pixels / scale + zero_point)
        return np.clip(q, info.min, info.max).astype(self.input_dtype)

    def _dequantize(self, scores: np.ndarray) -> np.ndarray:
        if self.output_dtype == np.float32:
            return scores.astype(np.float32, copy=False)
        scale, zero_point = self.output_quantization
        return ((scores.astype(np.float32) - zero_point) * scale).astype(np.float32)

    def predict_proba(self, faces: np.ndarray) -> np.ndarray:
        """(N, 48, 48[, 1]) pixels 0..255 (uint8 or float) -> (N, 7) float32 scores; N may be 0.

        With ``mirror_average`` the scores are the mean of the face's and its mirror image's (by the graph itself
        when the model mirrors in its graph, else by a second run here).
        """
        pixels = self._quantize(_as_faces(faces))
        scores = self._run(pixels)
        if self.mirror_views:
            scores = (scores + self._run(pixels[:, :, ::-1])) / 2.0
        if self._priors is not None and len(scores):
            scores = adjust(scores, self._priors, self.options.balance)
        return scores

    def _run(self, pixels: np.ndarray) -> np.ndarray:
        """One invoke per face of (N, 48, 48) pixels already in the input dtype -> (N, 7) dequantised scores."""
        raw = np.empty((pixels.shape[0], NUM_CLASSES), dtype=self.output_dtype)
        in_index, out_index = self._in["index"], self._out["index"]
        for i, face in enumerate(pixels):
            self._buffer[0, :, :, 0] = face
            self._interpreter.set_tensor(in_index, self._buffer)
            self._interpreter.invoke()
            raw[i] = self._interpreter.get_tensor(out_index).reshape(NUM_CLASSES)
        return self._dequantize(raw)

    def classify(self, faces: np.ndarray) -> list[Classification]:
        """One :class:`Classification` (arg-max label) per face."""
        return [to_classification(p) for p in self.predict_proba(faces)]


def to_classification(probabilities: np.ndarray) -> Classification:
    index = int(np.argmax(probabilities))
    return Classification(EMOTIONS[index], index, float(probabilities[index]), probabilities)
