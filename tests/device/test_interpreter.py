"""The interpreter fallback: ai_edge_litert -> tflite_runtime -> tensorflow.lite."""

from __future__ import annotations

import sys
import types

import pytest

from device import interpreter
from device.interpreter import InterpreterNotFoundError, interpreter_backend, load_interpreter


class FakeInterpreter:
    def __init__(self, model_path: str, num_threads: int) -> None:
        self.model_path, self.num_threads, self.allocated = model_path, num_threads, False

    def allocate_tensors(self) -> None:
        self.allocated = True


def _block(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now raises ImportError


def test_prefers_ai_edge_litert() -> None:
    pytest.importorskip("ai_edge_litert.interpreter")
    package, version = interpreter_backend()
    assert package == "ai_edge_litert" and version[0].isdigit()


def test_falls_back_to_tflite_runtime(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    _block(monkeypatch, "ai_edge_litert", "ai_edge_litert.interpreter")
    fake = types.ModuleType("tflite_runtime.interpreter")
    fake.Interpreter = FakeInterpreter
    monkeypatch.setitem(sys.modules, "tflite_runtime", types.ModuleType("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake)
    loaded = load_interpreter(tmp_path / "m.tflite", num_threads=3)
    assert isinstance(loaded, FakeInterpreter) and loaded.allocated and loaded.num_threads == 3
    assert interpreter_backend()[0] == "tflite_runtime"


def test_no_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    _block(
        monkeypatch,
        "ai_edge_litert",
        "ai_edge_litert.interpreter",
        "tflite_runtime",
        "tflite_runtime.interpreter",
        "tensorflow",
    )
    with pytest.raises(InterpreterNotFoundError, match="pip install ai-edge-litert"):
        load_interpreter(tmp_path / "m.tflite")


def test_backend_order_ends_with_tensorflow() -> None:
    assert [b[0] for b in interpreter.BACKENDS] == ["ai_edge_litert", "tflite_runtime", "tensorflow"]
