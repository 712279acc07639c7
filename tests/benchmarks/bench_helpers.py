"""Helpers shared by the benchmark tests and their fixtures (imported as ``bench_helpers``)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from benchmarks.scenes import Photo
from core.formats import FORMATS, model_path
from device.detector import Box

VARIANTS = ("unweighted", "weighted")
# skimage.data.astronaut(): Haar finds her face at about (x=175, y=64, w=h=98) of 512x512 (see tests/device).
ASTRONAUT_BOX = (175, 64, 98, 98)


@dataclass(frozen=True)
class QuickRun:
    rc: int
    out: Path
    results: dict
    report: str


def fixture_model(fixtures_dir: Path, name: str) -> Path:
    path = fixtures_dir / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"fixture model {path} missing (regenerate with: python tests/fixtures/make_fixtures.py)")
    return path


def make_models_dir(folder: Path, fixtures_dir: Path, variants: tuple[str, ...] = VARIANTS) -> Path:
    """Every variant x format name, filled with the int8 fixture for int8 and the float32 fixture otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    for variant in variants:
        for fmt in FORMATS:
            source = fixture_model(fixtures_dir, "tiny_int8" if fmt.int8_io else "tiny_float32")
            shutil.copyfile(source, model_path(folder, variant, fmt.name))
    return folder


def photo(name: str, width: int, height: int, colour: tuple[int, int, int], faces: int = 1) -> Photo:
    return Photo(name, np.full((height, width, 3), colour, np.uint8), faces)


PHOTOS = [photo("a.jpg", 400, 300, (0, 0, 255)), photo("b.jpg", 300, 500, (0, 255, 0), 2),
          photo("c.jpg", 800, 557, (255, 0, 0), 0)]


class ListDetector:
    """A fake detector: returns the next crafted list of boxes on each call."""

    def __init__(self, answers: list[list[Box]]) -> None:
        self.answers = list(answers)

    def detect(self, gray, bgr=None) -> list[Box]:
        return self.answers.pop(0)


def record_placements(monkeypatch: pytest.MonkeyPatch, module) -> list[Box]:
    """Wrap ``module.place`` (the canvas placement a benchmark module imported) to record each placed face's box, in
    order: a scripted detector can then answer with the truth."""
    placed: list[Box] = []
    real_place = module.place

    def recording_place(face, rng, kind):
        canvas, truth = real_place(face, rng, kind)
        placed.append(truth)
        return canvas, truth

    monkeypatch.setattr(module, "place", recording_place)
    return placed
