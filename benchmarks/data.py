"""Evaluation faces from a FER2013 dataset: the test split, else the validation split."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.errors import BenchError

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
    """{split: (x, y)} through the one FER2013 loader (``core.dataset``, with its decoded-array cache)."""
    from core.dataset import DataError
    from device.datasets import load_fer2013

    try:
        dataset = load_fer2013(path, require_train=False)
    except DataError as exc:
        raise BenchError(f"data: {exc}") from exc
    return {name: (s.x, s.y) for name, s in dataset.splits.items() if len(s)}


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
