"""The models' manifest, ``<models>/manifest.json``: the one module that reads, checks and writes it.

Written by ``python -m convert``; read by the device (does this file mirror in its graph?), the benchmarks (the Keras
reference of each model), the bundle (what ships, the demo's default) and the README generator. One policy for all:
no manifest is an empty one; a manifest that is not JSON, or not ``{"models": [{"file": ..., ...}, ...]}``, is a
:class:`ManifestError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.fileio import atomic_write_json, sha256_file

MANIFEST_NAME = "manifest.json"
# The model the demo runs when no --model is given: the unweighted int8 model (best accuracy and macro-F1 in the
# study, the int8 format: the smallest and fastest). The bundle makes it the Pi's default too.
DEFAULT_MODEL_FILE = "unweighted_int8.tflite"


class ManifestError(ValueError):
    """``manifest.json`` cannot be read or does not have the manifest's shape; the message names the file."""


def manifest_path(models: str | Path) -> Path:
    """``models`` is the models folder or the manifest file itself."""
    models = Path(models)
    return models if models.suffix == ".json" else models / MANIFEST_NAME


def read_manifest(models: str | Path) -> dict:
    """The manifest of a models folder (or at a path): ``{"models": []}`` when there is none."""
    path = manifest_path(models)
    if not path.is_file():
        return {"models": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: not readable JSON ({exc}); rerun `make convert` or remove the file") from exc
    if not isinstance(data, dict) or not isinstance(data.get("models", []), list):
        raise ManifestError(f"{path}: expected an object with a 'models' list")
    data.setdefault("models", [])
    bad = [i for i, e in enumerate(data["models"]) if not (isinstance(e, dict) and isinstance(e.get("file"), str))]
    if bad:
        raise ManifestError(f"{path}: models entry {bad[0]} has no 'file' name")
    return data


def write_manifest(models_dir: str | Path, manifest: dict) -> Path:
    """Write atomically (a reader never sees half a manifest)."""
    return atomic_write_json(manifest_path(models_dir), manifest)


def find_entry(manifest: dict, file_name: str) -> dict | None:
    """The entry of the model file ``file_name`` (a bare name such as ``unweighted_int8.tflite``), if any."""
    return next((e for e in manifest.get("models", []) if e.get("file") == file_name), None)


def verified_entry(model_path: str | Path) -> dict | None:
    """The entry of ``manifest.json`` beside ``model_path`` that describes this very file (same sha256), if any.

    A model copied over or re-converted without its manifest no longer matches and gets ``None``."""
    model_path = Path(model_path)
    entry = find_entry(read_manifest(model_path.parent), model_path.name)
    if entry is None or entry.get("sha256") != sha256_file(model_path):
        return None
    return entry


def conversions(entries: list[dict], manifest: dict) -> dict[str, list[str]]:
    """Conversion command -> the variants it wrote (an entry from before per-entry records counts as the manifest's)."""
    made: dict[str, list[str]] = {}
    for e in entries:
        cmd = e.get("conversion", {}).get("command", manifest.get("command"))
        if e["variant"] not in made.setdefault(cmd, []):
            made[cmd].append(e["variant"])
    return made
