"""``make bundle``: only what the device needs, checksummed, versioned by code and models, reproducible."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from deploy_helpers import FIXTURES, ROOT, Built, build, run

from deploy.bundle import BundleError, build_bundle, main, module_level_imports

pytestmark = pytest.mark.deploy


def members(bundle: Built) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(bundle.path, "r:gz") as tar:
        return {m.name.removeprefix(f"{bundle.top}/"): m for m in tar.getmembers()}


def read(bundle: Built, name: str) -> bytes:
    with tarfile.open(bundle.path, "r:gz") as tar:
        fh = tar.extractfile(f"{bundle.top}/{name}")
        assert fh is not None
        return fh.read()


def test_bundle_holds_only_what_the_device_needs(bundle_a: Built) -> None:
    names = members(bundle_a)
    files = {n for n, m in names.items() if m.isfile()}
    for required in ("install.sh", "feredge", "README.md", "config.env.example", "VERSION", "bundle.json",
                     "SHA256SUMS", "requirements/device.txt", "requirements/bench.txt", "core/__init__.py",
                     "core/manifest.py", "device/__init__.py", "device/__main__.py", "benchmarks/__init__.py",
                     "device/models/face_detection_short_range.tflite", "device/models/framing.json",
                     "device/models/LICENSE-mediapipe.txt", "device/static/index.html", "models/manifest.json",
                     "models/tiny_int8.tflite", "models/tiny_float32.tflite"):
        assert required in files, f"{required} missing from the bundle"
    tops = {n.split("/")[0] for n in files}
    assert tops <= {"install.sh", "feredge", "README.md", "config.env.example", "VERSION", "bundle.json",
                    "SHA256SUMS", "requirements", "core", "device", "benchmarks", "models", "clips"}, tops
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in files)
    assert {n for n in files if n.startswith("requirements/")} == {"requirements/device.txt", "requirements/bench.txt"}
    for req in ("requirements/device.txt", "requirements/bench.txt"):
        lines = [line.split("#")[0].strip().lower() for line in read(bundle_a, req).decode().splitlines()]
        assert not [line for line in lines if "tensorflow" in line or "keras" in line], lines
    assert names["install.sh"].mode & 0o111 and names["feredge"].mode & 0o111
    assert read(bundle_a, "README.md") == (ROOT / "deploy" / "README-pi.md").read_bytes()
    assert read(bundle_a, "VERSION").decode().strip() == bundle_a.version

    sums = dict(reversed(line.split("  ", 1)) for line in read(bundle_a, "SHA256SUMS").decode().splitlines())
    assert set(sums) == files - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256(read(bundle_a, name)).hexdigest() == digest, name

    manifest = json.loads(read(bundle_a, "models/manifest.json"))
    assert sorted(e["file"] for e in manifest["models"]) == ["tiny_float32.tflite", "tiny_int8.tflite"]
    for entry in manifest["models"]:
        assert entry["sha256"] == hashlib.sha256((FIXTURES / entry["file"]).read_bytes()).hexdigest()
    meta = json.loads(read(bundle_a, "bundle.json"))
    assert meta["version"] == bundle_a.version and meta["demo_model"] == "models/tiny_int8.tflite"


def test_bundle_is_reproducible_and_versioned_by_models(bundle_a: Built, bundle_b: Built, tmp_path: Path) -> None:
    again = build(tmp_path, ["tiny_int8", "tiny_float32"])
    assert again.version == bundle_a.version
    assert again.path.read_bytes() == bundle_a.path.read_bytes()
    assert bundle_b.version != bundle_a.version
    only_int8 = {n for n, m in members(bundle_b).items() if m.isfile() and n.startswith("models/")}
    assert only_int8 == {"models/tiny_int8.tflite", "models/manifest.json"}
    for bundle in (bundle_a, bundle_b):
        assert bundle.path.name == f"feredge-device-{bundle.version}.tar.gz"
        models_sha = json.loads(read(bundle, "bundle.json"))["models_sha256"]
        assert f"-m{models_sha[:8]}" in bundle.version


def fake_repo(root: Path, device_init: str) -> Path:
    (root / "device").mkdir(parents=True)
    (root / "device" / "__init__.py").write_text(device_init)
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "__init__.py").write_text("")
    (root / "core").mkdir()
    (root / "core" / "__init__.py").write_text("")
    (root / "requirements").mkdir()
    (root / "requirements" / "device.txt").write_text("numpy\n")
    (root / "requirements" / "bench.txt").write_text("-r device.txt\n")
    return root


def test_bundle_refuses_module_level_tensorflow(tmp_path: Path) -> None:
    source = "import os\ntry:\n    import tensorflow as tf\nexcept ImportError:\n    tf = None\n"
    bad = fake_repo(tmp_path / "bad", source)
    with pytest.raises(BundleError, match=r"device/__init__.py:3: imports 'tensorflow' at module level"):
        build_bundle(tmp_path / "out", FIXTURES, ["tiny_int8"], root=bad)
    lazy = fake_repo(tmp_path / "lazy", "def load():\n    import tensorflow\n    return tensorflow\n")
    for junk in ("benchmarks/results/host-date/results.json", "benchmarks/clips/clip.mp4", "device/notes.md"):
        (lazy / junk).parent.mkdir(parents=True, exist_ok=True)
        (lazy / junk).write_text("generated output, not for the device")
    result = build_bundle(tmp_path / "out", FIXTURES, ["tiny_int8"], root=lazy, version="t1")
    assert result.path.name == "feredge-device-t1.tar.gz"
    shipped = {n for n in result.files if n.startswith(("core/", "device/", "benchmarks/"))}
    assert shipped == {"core/__init__.py", "device/__init__.py", "benchmarks/__init__.py"}
    assert module_level_imports("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import keras\n", "x") == [
        (1, "typing")
    ]


def test_bundle_cli_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--models-dir", str(tmp_path / "nope")]) == 2
    assert "models folder" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--models-dir", str(FIXTURES), "--models", "no_such_int8"]) == 2
    err = capsys.readouterr().err
    assert "no_such_int8.tflite" in err and "tiny_int8" in err
    assert not list(tmp_path.glob("*.tar.gz"))


def test_bundle_filters_the_manifest_and_picks_the_best_int8(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("a_int8", "b_int8", "b_float32"):
        (models / f"{name}.tflite").write_bytes((FIXTURES / "tiny_int8.tflite").read_bytes() + name.encode())
    entries = [
        {"variant": v, "format": f, "file": f"{v}_{f}.tflite", "accuracy": {"test": {"accuracy": acc}}}
        for v, f, acc in (("a", "int8", 0.5), ("b", "int8", 0.6), ("b", "float32", 0.7))
    ]
    (models / "manifest.json").write_text(json.dumps({"models": entries, "contract": {"labels": ["x"]}}))
    out = tmp_path / "dist"
    assert main(["--out", str(out), "--models-dir", str(models), "--models", "a_int8,b_int8"]) == 0
    bundle = next(out.glob("*.tar.gz"))
    built = Built(bundle, bundle.name.removeprefix("feredge-device-").removesuffix(".tar.gz"),
                  bundle.name.removesuffix(".tar.gz"))
    manifest = json.loads(read(built, "models/manifest.json"))
    assert [e["file"] for e in manifest["models"]] == ["a_int8.tflite", "b_int8.tflite"]
    assert manifest["contract"] == {"labels": ["x"]}
    assert json.loads(read(built, "bundle.json"))["demo_model"] == "models/b_int8.tflite"
    from deploy.bundle import default_model

    assert default_model(entries, preferred="a_int8.tflite") == "a_int8.tflite"  # the runtime's own default wins
    assert default_model(entries, preferred="gone_int8.tflite") == "b_int8.tflite"


def test_bundle_cli_runs_as_a_module(tmp_path: Path) -> None:
    import sys

    proc = run([sys.executable, "-m", "deploy.bundle", "--out", str(tmp_path), "--models-dir", str(FIXTURES),
                "--models", "tiny_int8"], cwd=ROOT)
    assert "bundle: " in proc.stdout and len(list(tmp_path.glob("feredge-device-*.tar.gz"))) == 1


# import name -> the distribution requirements/device.txt names it by
_DISTRIBUTIONS = {"cv2": "opencv-python-headless", "ai_edge_litert": "ai-edge-litert"}


def test_device_requirements_cover_every_module_level_import_of_the_bundle(repo_root: Path) -> None:
    """A Pi installs requirements/device.txt only (bench extras are optional): whatever core/, device/ and
    benchmarks/ import at module level must be in it, or the demo or `feredge bench` fails to start there."""
    import sys

    from deploy.bundle import PACKAGES

    names = {line.split("#")[0].strip().split("<")[0].split(">")[0].split("=")[0].strip().lower()
             for line in (repo_root / "requirements" / "device.txt").read_text().splitlines()}
    names.discard("")
    missing = []
    for package in PACKAGES:
        for path in sorted((repo_root / package).rglob("*.py")):
            for line, module in module_level_imports(path.read_text(encoding="utf-8"), path.name):
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in PACKAGES or top == "__future__":
                    continue
                if _DISTRIBUTIONS.get(top, top).lower() not in names:
                    missing.append(f"{path.relative_to(repo_root)}:{line}: {module}")
    assert missing == [], "module-level imports not in requirements/device.txt"
