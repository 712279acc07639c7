"""The packed dataset: FER2013's decoded splits in a few compressed ``.npz`` parts plus ``packed.json``.

It exists to carry the data to a machine that has a size limit per transfer (the GPU machine takes 64 MiB a call,
the CSV is 85 MB): ``python -m train.gpu pack`` writes it, ``--data FOLDER`` reads it wherever a FER2013 path is
accepted (:func:`core.dataset.load_fer2013` recognises the folder by its ``packed.json``). Every part's sha256 and
row counts are recorded and checked, so a missing or damaged part is named before any training starts.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from core.fileio import ListedFileError, atomic_write_bytes, atomic_write_json, read_listed

PACKED_FILE = "packed.json"
FORMAT = "feredge-packed-1"


class PackedError(ValueError):
    """A packed folder is incomplete or damaged; the message names the file."""


def is_packed(path: Path) -> bool:
    return path.is_dir() and (path / PACKED_FILE).is_file()


def write_packed(splits: dict[str, tuple[np.ndarray, np.ndarray]], folder: Path, parts: int, source: str) -> Path:
    """Write ``splits`` ({name: (x uint8, y)}) into ``parts`` compressed parts of about equal size under ``folder``
    and describe them in ``packed.json`` (written last: a folder without it is not a packed dataset)."""
    if parts < 1:
        raise ValueError(f"parts {parts}: expected at least 1")
    folder.mkdir(parents=True, exist_ok=True)
    rows = [(name, i) for name, (x, _) in splits.items() for i in range(len(x))]
    entries = []
    for p, chunk in enumerate(np.array_split(np.arange(len(rows)), parts)):
        arrays: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for name, (x, y) in splits.items():
            idx = [rows[k][1] for k in chunk if rows[k][0] == name]
            if idx:
                arrays[f"{name}_x"], arrays[f"{name}_y"] = x[idx], y[idx]
                counts[name] = len(idx)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        data = buf.getvalue()
        path = folder / f"part-{p + 1}-of-{parts}.npz"
        atomic_write_bytes(path, data)
        entries.append({"file": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                        "rows": counts})
    return atomic_write_json(folder / PACKED_FILE, {"format": FORMAT, "source": source, "parts": entries})


def read_packed(folder: Path) -> tuple[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(the source it was packed from, {split: (x, y)}); every part checked against ``packed.json`` first."""
    meta_path = folder / PACKED_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        entries = meta["parts"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PackedError(f"{meta_path}: not a readable packed-dataset description ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise PackedError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    try:
        datas = read_listed(folder, entries, meta_path)  # all parts checked before any is decoded
    except ListedFileError as exc:
        raise PackedError(str(exc)) from exc
    blobs = [(folder / entry["file"], data, entry["rows"]) for entry, data in zip(entries, datas, strict=True)]
    pieces: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for path, data, rows in blobs:
        with np.load(io.BytesIO(data)) as z:
            for name, count in rows.items():
                x, y = z[f"{name}_x"], z[f"{name}_y"]
                if len(x) != count or len(y) != count:
                    raise PackedError(f"{path}: split {name!r} has {len(x)} rows, {meta_path} says {count}")
                pieces.setdefault(name, []).append((x, y))
    return meta.get("source", str(folder)), {name: (np.concatenate([x for x, _ in ps]),
                                                    np.concatenate([y for _, y in ps])) for name, ps in pieces.items()}
