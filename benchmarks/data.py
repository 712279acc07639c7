"""Evaluation faces from a FER2013 dataset: the test split, else the validation split.

Uses ``train.data.load_fer2013`` (numpy/OpenCV only, with its decoded-array cache) when the training code is
there; a device bundle has no ``train/``, so a minimal reader of FER2013's CSV(.gz) takes over there.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.errors import BenchError
from device.labels import INPUT_SIZE, NUM_CLASSES, PIXELS_PER_FACE

USAGE_TO_SPLIT: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
EVAL_SPLITS: tuple[str, ...] = ("test", "val")


@dataclass
class EvalFaces:
    """Faces (N, 48, 48, 1) uint8 and labels (N,) of one split."""

    source: str
    split: str
    x: np.ndarray
    y: np.ndarray
    total: int  # faces in the split before any subsampling
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.y.shape[0])


def _load_splits(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (x, y)} via train.data when importable, else the minimal CSV reader."""
    try:
        from train.data import DataError, load_fer2013
    except ImportError:
        return _read_csv(path)
    try:
        dataset = load_fer2013(path)
    except DataError as exc:
        raise BenchError(f"data: {exc}") from exc
    return {name: (s.x, s.y) for name, s in dataset.splits.items() if len(s)}


def _read_csv(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """FER2013's ``emotion,pixels,Usage`` CSV (optionally gzipped), val and test rows only."""
    if path.is_dir():
        raise BenchError(f"data {path}: a folder needs the training code (train/data.py); pass the FER2013 CSV")
    xs: dict[str, list[np.ndarray]] = {"val": [], "test": []}
    ys: dict[str, list[int]] = {"val": [], "test": []}
    try:
        raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
        with io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            if "emotion" not in header or "pixels" not in header or "Usage" not in header:
                raise BenchError(f"data {path}: header {header}, expected 'emotion,pixels,Usage' (FER2013 CSV)")
            i_e, i_p, i_u = header.index("emotion"), header.index("pixels"), header.index("Usage")
            for row_no, row in enumerate(reader, start=2):
                if not row:
                    continue
                split = USAGE_TO_SPLIT.get(row[i_u].strip()) if len(row) > i_u else None
                if split not in xs:
                    continue
                pixels = np.array(row[i_p].split(), dtype=np.int64)
                label = int(row[i_e])
                if pixels.size != PIXELS_PER_FACE or pixels.min() < 0 or pixels.max() > 255:
                    raise BenchError(f"data {path}, row {row_no}: expected {PIXELS_PER_FACE} pixel values 0..255")
                if not 0 <= label < NUM_CLASSES:
                    raise BenchError(f"data {path}, row {row_no}: emotion {label} is not a label 0..6")
                xs[split].append(pixels.astype(np.uint8))
                ys[split].append(label)
    except (OSError, EOFError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise BenchError(f"data {path}: cannot read as a FER2013 CSV ({type(exc).__name__}: {exc})") from exc
    return {
        s: (np.stack(xs[s]).reshape(-1, INPUT_SIZE, INPUT_SIZE, 1), np.asarray(ys[s], dtype=np.int64))
        for s in xs
        if ys[s]
    }


def load_eval_faces(path: str | Path, limit: int | None = None, seed: int = 0) -> EvalFaces:
    """The test split (else validation) of ``path``; ``limit``: a seeded random subset of that many faces."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BenchError(f"data {path}: no such file or folder (pass a FER2013 CSV(.gz) or image folder with DATA=)")
    splits = _load_splits(path)
    split = next((s for s in EVAL_SPLITS if s in splits and len(splits[s][1])), None)
    if split is None:
        raise BenchError(f"data {path}: no test (PrivateTest) or validation (PublicTest) faces")
    x, y = splits[split]
    notes = []
    if split != "test":
        notes.append(f"{path.name} has no test (PrivateTest) faces: the validation split is used (training picked "
                     "its best checkpoints on it, so accuracy is a little optimistic)")
    total = int(len(y))
    if limit is not None and limit < total:
        index = np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))
        x, y = x[index], y[index]
        notes.append(f"quick mode: a random {limit} of the {total} {split} faces (seed {seed})")
    return EvalFaces(str(path), split, np.ascontiguousarray(x), np.asarray(y, dtype=np.int64), total, notes)
