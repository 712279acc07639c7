"""FER2013 with an image codec: ``core.dataset`` (numpy alone) plus OpenCV for the image-folder edition."""

from __future__ import annotations

from pathlib import Path

from core.dataset import Dataset
from core.dataset import load_fer2013 as _load
from device.preprocess import read_face_image


def load_fer2013(path: str | Path, cache_dir: Path | None = None, seed: int = 0,
                 require_train: bool = True, require_val: bool = True) -> Dataset:
    """:func:`core.dataset.load_fer2013` for a CSV(.gz) or an image folder (decoded with OpenCV)."""
    return _load(path, cache_dir, seed, require_train, read_image=read_face_image, require_val=require_val)
