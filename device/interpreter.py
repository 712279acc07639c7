"""The TFLite interpreter, from the lightest package installed.

Order: ``ai_edge_litert`` (LiteRT), then ``tflite_runtime``, then full TensorFlow's ``tf.lite`` as a
last resort. This is the only module of ``device/`` that may import TensorFlow, and only lazily, when
neither runtime package is installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path
from typing import Any

# (package, module to import, attribute path to the Interpreter class, distribution name for the version)
BACKENDS: tuple[tuple[str, str, str, str], ...] = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", "Interpreter", "ai-edge-litert"),
    ("tflite_runtime", "tflite_runtime.interpreter", "Interpreter", "tflite-runtime"),
    ("tensorflow", "tensorflow", "lite.Interpreter", "tensorflow"),  # last resort, lazily
)
INSTALL_HINT = "install one of: pip install ai-edge-litert (or tflite-runtime, or tensorflow)"


class InterpreterNotFoundError(ImportError):
    """No TFLite interpreter package is installed."""


def _find_backend() -> tuple[str, str, Any]:
    """(package, distribution, Interpreter class) of the first importable backend."""
    for package, module_name, attribute, dist in BACKENDS:
        try:
            found: Any = importlib.import_module(module_name)
            for name in attribute.split("."):
                found = getattr(found, name)
        except (ImportError, AttributeError):
            continue
        return package, dist, found
    raise InterpreterNotFoundError(f"no TFLite interpreter found; {INSTALL_HINT}")


def interpreter_backend() -> tuple[str, str]:
    """(package name, version) of the interpreter :func:`load_interpreter` uses."""
    package, dist, _ = _find_backend()
    try:
        version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return package, version


def load_interpreter(model_path: str | Path, num_threads: int = 1) -> Any:
    """A ready (tensors allocated) interpreter for ``model_path``.

    Raises ``InterpreterNotFoundError`` when no backend is installed; the backend's own exception
    (``ValueError``/``RuntimeError``) when the file is not a valid model.
    """
    _, _, interpreter_cls = _find_backend()
    interpreter = interpreter_cls(model_path=str(model_path), num_threads=max(1, int(num_threads)))
    interpreter.allocate_tensors()
    return interpreter
