"""core.manifest: the one reader and writer of models/manifest.json, with one error policy."""

from __future__ import annotations

import json

import pytest

from core.fileio import sha256_file
from core.manifest import (
    DEFAULT_MODEL_FILE,
    ManifestError,
    conversions,
    find_entry,
    read_manifest,
    verified_entry,
    write_manifest,
)


def test_no_manifest_is_an_empty_one(tmp_path):
    assert read_manifest(tmp_path) == {"models": []}


@pytest.mark.parametrize("text,message", [
    ("{not json", "not readable JSON"),
    ("[1, 2]", "expected an object with a 'models' list"),
    ('{"models": {"a": 1}}', "expected an object with a 'models' list"),
    ('{"models": [{"format": "int8"}]}', "models entry 0 has no 'file' name"),
])
def test_a_broken_manifest_is_an_error_naming_the_file(tmp_path, text, message):
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ManifestError, match=message) as info:
        read_manifest(tmp_path)
    assert str(tmp_path / "manifest.json") in str(info.value)


def test_write_then_read_and_find(tmp_path):
    manifest = {"models": [{"file": "a_int8.tflite", "variant": "a"}], "host": "h"}
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path / "manifest.json") == manifest
    assert find_entry(manifest, "a_int8.tflite")["variant"] == "a"
    assert find_entry(manifest, "b_int8.tflite") is None
    assert not list(tmp_path.glob(".*tmp")), "written atomically, no temporary file left"


def test_verified_entry_needs_the_same_bytes(tmp_path):
    model = tmp_path / "a_int8.tflite"
    model.write_bytes(b"model bytes")
    write_manifest(tmp_path, {"models": [{"file": model.name, "sha256": sha256_file(model), "mirror_average": True}]})
    assert verified_entry(model)["mirror_average"] is True
    model.write_bytes(b"another model")  # re-converted or copied over without its manifest
    assert verified_entry(model) is None


def test_conversions_group_variants_by_command():
    entries = [{"variant": "u", "conversion": {"command": "c1"}}, {"variant": "u", "conversion": {"command": "c1"}},
               {"variant": "w", "conversion": {"command": "c2"}}, {"variant": "x"}]
    assert conversions(entries, {"command": "c0"}) == {"c1": ["u"], "c2": ["w"], "c0": ["x"]}


def test_the_shipped_default_model_is_in_the_shipped_manifest(repo_root):
    manifest = json.loads((repo_root / "models" / "manifest.json").read_text())
    assert find_entry(manifest, DEFAULT_MODEL_FILE) is not None
