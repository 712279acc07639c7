"""File helpers shared by every side: atomic writes (a reader never sees a half-written file, and a crash leaves the
old one intact), streaming sha256 digests, and reading files checked against the sha256 a listing gives them."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600): give it the mode a plain write would (or the replaced file's)
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks so large checkpoints need no memory."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ListedFileError(ValueError):
    """A file a listing names is missing or differs from its recorded sha256; the message names it."""


def read_listed(folder: Path, entries: list[dict], listing: Path) -> list[bytes]:
    """The bytes of every ``{"file", "sha256"}`` entry under ``folder``, each checked against its sha256, all before
    any is returned: a missing or damaged file is named with ``listing`` (the file that lists them)."""
    out = []
    for entry in entries:
        path = folder / entry["file"]
        if not path.is_file():
            raise ListedFileError(f"{path}: missing ({len(entries)} files are listed in {listing}; carry them all)")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ListedFileError(f"{path}: sha256 differs from {listing} (damaged, or from another listing)")
        out.append(data)
    return out
