"""The one table of TFLite model formats: it drives the converter (convert/) and the benchmarks (benchmarks/).

Plain data, no TensorFlow: the converter maps ``optimize``/``supported_types``/``int8_io`` onto
``tf.lite.TFLiteConverter`` settings, the benchmark iterates the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelFormat:
    name: str
    description: str
    optimize: bool  # tf.lite.Optimize.DEFAULT
    supported_types: tuple[str, ...]  # e.g. ("float16",)
    representative_data: bool  # needs a calibration set
    int8_io: bool  # int8 input and output tensors (full-integer model)
    parity_tolerance: float  # max |p_tflite - p_float| against the float model on a fixed batch (tests)

    @property
    def suffix(self) -> str:
        return f"_{self.name}.tflite"

    def filename(self, variant: str) -> str:
        return f"{variant}{self.suffix}"


FORMATS: tuple[ModelFormat, ...] = (
    ModelFormat("float32", "no quantisation", False, (), False, False, 1e-4),
    ModelFormat("float16", "float16 weights, float32 compute", True, ("float16",), False, False, 1e-2),
    ModelFormat("dynamic", "dynamic-range: int8 weights, float activations", True, (), False, False, 0.1),
    ModelFormat("int8", "int8 weights and activations, int8 input and output; the dense head in float32 unless "
                "converted with --head int8 (full integer)", True, ("int8",), True, True, 0.15),
)
FORMATS_BY_NAME: dict[str, ModelFormat] = {f.name: f for f in FORMATS}
REFERENCE_FORMAT = "float32"


def model_path(models_dir: str | Path, variant: str, fmt: str) -> Path:
    return Path(models_dir) / FORMATS_BY_NAME[fmt].filename(variant)
