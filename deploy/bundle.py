"""Build the device bundle ``dist/feredge-device-<version>.tar.gz``: only what a Raspberry Pi needs.

Contents (under one top folder ``feredge-device-<version>/``): ``device/`` and ``benchmarks/`` (Python
sources, plus ``.onnx``/``.xml`` detector data; never their ``results/`` or ``clips/``), the chosen
``models/*.tflite`` with their ``models/manifest.json`` (filtered to those models, or generated when the
models folder has none), ``requirements/device.txt`` and ``bench.txt``,
``install.sh``, the ``feredge`` launcher, ``config.env.example``, ``README.md`` (from
``deploy/README-pi.md``), ``VERSION``, ``bundle.json`` and ``SHA256SUMS`` (``sha256sum -c`` format).

Refuses to build when a bundled module imports TensorFlow/Keras or the training code at module level,
or when a device requirement names TensorFlow: the bundle must stand alone without them.

The version is ``<pyproject version>-<git describe --always --dirty>-m<models sha256[:8]>``; a dirty tree
adds ``.<content sha256[:8]>`` after ``dirty`` so two different dirty builds never share a version. The
tarball is reproducible: same inputs, same bytes (sorted entries, fixed mtimes, gzip mtime 0).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from core.fileio import atomic_write_bytes
from core.manifest import DEFAULT_MODEL_FILE, ManifestError, manifest_path, read_manifest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_DIR = Path(__file__).resolve().parent
BUNDLE_PREFIX = "feredge-device-"
PACKAGES: tuple[str, ...] = ("core", "device", "benchmarks")
REQUIREMENTS: tuple[str, ...] = ("requirements/device.txt", "requirements/bench.txt")
# (source under deploy/, name in the bundle, executable)
SUPPORT_FILES: tuple[tuple[str, str, bool], ...] = (
    ("install.sh", "install.sh", True),
    ("feredge.sh", "feredge", True),
    ("config.env.example", "config.env.example", False),
    ("README-pi.md", "README.md", False),
)
# Top-level modules a bundled file must not import at module level (training side, or TensorFlow itself).
FORBIDDEN_IMPORTS: frozenset[str] = frozenset({"tensorflow", "keras", "tf_keras", "train", "convert", "tests"})
# Generated outputs inside the packages (benchmark reports, clips) never ship; only sources and small model data.
SKIP_DIRS: frozenset[str] = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "results",
                                       "clips"})
PACKAGE_SUFFIXES: tuple[str, ...] = (".py", ".onnx", ".xml")
# data folders inside the packages: the shipped detector models, their manifest (detectors.json), the calibrated
# framing (framing.json), the licence text, and the web view's page; nowhere else (benchmark results, notes) does
# such a file ship
DATA_FOLDERS: dict[str, tuple[str, ...]] = {"device/models": (".tflite", ".json", ".txt"),
                                            "device/static": (".html",)}
MODEL_NAME = re.compile(r"^(?P<variant>.+)_(?P<format>[a-z0-9]+)\.tflite$")


class BundleError(Exception):
    """The bundle cannot be built as asked; the message says why and what to do."""


@dataclass(frozen=True)
class BundleResult:
    path: Path
    version: str
    models: tuple[str, ...]
    default_model: str
    files: dict[str, str] = field(default_factory=dict)  # arcname (without top folder) -> sha256


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()  # of bytes in memory; files: core.fileio.sha256_file


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def project_version(root: Path) -> str:
    """``version`` from ``pyproject.toml`` (``[project]``), else ``VERSION``, else ``0.0.0``."""
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            import tomllib  # Python 3.11+
        except ModuleNotFoundError:  # pragma: no cover - Python 3.10
            tomllib = None  # type: ignore[assignment]
        text = pyproject.read_text(encoding="utf-8")
        if tomllib is not None:
            version = tomllib.loads(text).get("project", {}).get("version")
        else:  # pragma: no cover
            found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
            version = found.group(1) if found else None
        if version:
            return str(version)
    version_file = root / "VERSION"
    if version_file.is_file() and version_file.read_text().strip():
        return version_file.read_text().strip()
    return "0.0.0"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)


def make_version(root: Path, models_sha: str, content_sha: str) -> str:
    base = project_version(root)
    describe = _git(root, "describe", "--always", "--dirty", "--tags")
    if describe is None:
        return _safe(f"{base}-m{models_sha[:8]}.{content_sha[:8]}")
    if describe.endswith("-dirty"):
        describe = f"{describe}.{content_sha[:8]}"
    if describe.lstrip("v").startswith(base):  # a release tag already says the version
        return _safe(f"{describe}-m{models_sha[:8]}")
    return _safe(f"{base}-{describe}-m{models_sha[:8]}")


def source_date_epoch(root: Path) -> int:
    """Fixed mtime for every tar entry: ``SOURCE_DATE_EPOCH``, else the last commit's time, else 0."""
    env = os.environ.get("SOURCE_DATE_EPOCH", "")
    if env.isdigit():
        return int(env)
    commit_time = _git(root, "log", "-1", "--format=%ct")
    return int(commit_time) if commit_time and commit_time.isdigit() else 0


def module_level_imports(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, top-level module) of every import run at import time (not inside a function or lambda)."""
    tree = ast.parse(source, filename=filename)
    found: list[tuple[int, str]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((node.lineno, node.module.split(".")[0]))
            for attr in ("body", "orelse", "finalbody"):
                children = getattr(node, attr, None)
                if isinstance(children, list):
                    visit(children)
            for handler in getattr(node, "handlers", None) or []:
                visit(handler.body)
            for case in getattr(node, "cases", None) or []:
                visit(case.body)

    visit(tree.body)
    return found


def check_standalone(files: dict[str, bytes]) -> None:
    """Raise ``BundleError`` when a bundled module or requirement would pull in TensorFlow or training code."""
    problems: list[str] = []
    for name, data in sorted(files.items()):
        if name.endswith(".py"):
            try:
                imports = module_level_imports(data.decode("utf-8"), name)
            except SyntaxError as exc:
                problems.append(f"{name}: does not parse ({exc.msg}, line {exc.lineno})")
                continue
            problems.extend(
                f"{name}:{line}: imports {module!r} at module level"
                for line, module in imports
                if module in FORBIDDEN_IMPORTS
            )
        elif name.startswith("requirements/"):
            for raw in data.decode("utf-8").splitlines():
                req = raw.split("#", 1)[0].strip().lower()
                if re.match(r"^(tensorflow|tf-nightly|keras|tf-keras)\b", req):
                    problems.append(f"{name}: requires {req!r}")
    if problems:
        raise BundleError(
            "the device bundle must run without TensorFlow or the training code, but:\n  "
            + "\n  ".join(problems)
            + "\nMove such imports inside the functions that need them (or out of device/ and benchmarks/)."
        )


def _package_files(root: Path, package: str) -> dict[str, bytes]:
    base = root / package
    if not (base / "__init__.py").is_file():
        raise BundleError(f"{base}/__init__.py not found: the bundle needs the {package!r} package")
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        suffixes = PACKAGE_SUFFIXES + DATA_FOLDERS.get(Path(dirpath).relative_to(root).as_posix(), ())
        for name in sorted(filenames):
            if name.startswith(".") or not name.endswith(suffixes):
                continue
            path = Path(dirpath) / name
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def _model_file_name(name: str) -> str:
    name = Path(name).name
    return name if name.endswith(".tflite") else f"{name}.tflite"


def select_models(models_dir: Path, names: list[str] | None) -> tuple[list[Path], dict | None]:
    """The chosen model files (all of the manifest's, or every ``*.tflite``, when ``names`` is empty)."""
    if not models_dir.is_dir():
        raise BundleError(
            f"models folder {models_dir} not found: convert the models first (python -m convert), "
            "or pass --models-dir"
        )
    manifest: dict | None = None
    if manifest_path(models_dir).is_file():
        try:
            manifest = read_manifest(models_dir)
        except ManifestError as exc:
            raise BundleError(str(exc)) from exc
    if names:
        files = [models_dir / _model_file_name(n) for n in names]
    elif manifest is not None and manifest["models"]:
        files = [models_dir / str(e["file"]) for e in manifest["models"]]
    else:
        files = sorted(models_dir.glob("*.tflite"))
    if not files:
        raise BundleError(f"no .tflite models in {models_dir}: convert the models first (python -m convert)")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        available = ", ".join(sorted(p.stem for p in models_dir.glob("*.tflite"))) or "none"
        raise BundleError(f"model(s) not found: {', '.join(missing)} (available in {models_dir}: {available})")
    return list(dict.fromkeys(files)), manifest


def bundle_manifest(models: dict[str, bytes], manifest: dict | None) -> dict:
    """``models/manifest.json`` for the bundle: the source manifest's entries for these files, else generated."""
    by_file = {str(e.get("file")): e for e in (manifest or {}).get("models", []) if isinstance(e, dict)}
    entries = []
    for file_name, data in models.items():
        entry = dict(by_file.get(file_name, {}))
        if not entry:
            match = MODEL_NAME.match(file_name)
            entry = {
                "variant": match.group("variant") if match else Path(file_name).stem,
                "format": match.group("format") if match else "unknown",
                "file": file_name,
            }
        entry["size_bytes"] = len(data)
        entry["sha256"] = sha256_bytes(data)
        entries.append(entry)
    out = {k: v for k, v in (manifest or {}).items() if k != "models"}
    out["models"] = entries
    return out


def default_model(entries: list[dict], preferred: str | None = None) -> str:
    """The demo's default: ``preferred`` (the runtime's own default) when bundled, else the int8 model with the best
    recorded accuracy (test, else validation split), else the first int8, else the first model."""
    if preferred and any(e.get("file") == preferred for e in entries):
        return preferred

    def accuracy(entry: dict) -> float:
        scores = entry.get("accuracy")
        if isinstance(scores, dict):
            for split in ("test", "private_test", "public_test", "val", "validation"):
                value = scores.get(split)
                if isinstance(value, dict) and isinstance(value.get("accuracy"), (int, float)):
                    return float(value["accuracy"])
        return -1.0

    int8 = [e for e in entries if e.get("format") == "int8"]
    pool = int8 or entries
    return str(max(pool, key=accuracy)["file"]) if pool else ""


def _tar_bytes(top: str, files: dict[str, bytes], executables: set[str], mtime: int) -> bytes:
    raw = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            dirs: set[str] = set()
            for name in sorted(files):
                parts = name.split("/")[:-1]
                for i in range(len(parts) + 1):
                    d = "/".join([top, *parts[:i]])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                        tar.addfile(info)
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size, info.mtime = len(files[name]), mtime
                info.mode = 0o755 if name in executables else 0o644
                tar.addfile(info, io.BytesIO(files[name]))
    return raw.getvalue()


def build_bundle(
    out_dir: Path,
    models_dir: Path,
    models: list[str] | None = None,
    root: Path = REPO_ROOT,
    version: str | None = None,
    clip: Path | None = None,
    demo_model: str | None = None,
) -> BundleResult:
    """Write ``<out_dir>/feredge-device-<version>.tar.gz`` atomically and return what it holds."""
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        files.update(_package_files(root, package))
    for req in REQUIREMENTS:
        path = root / req
        if not path.is_file():
            raise BundleError(f"{path} not found: the bundle installs from it")
        files[req] = path.read_bytes()
    executables: set[str] = set()
    for src, dst, executable in SUPPORT_FILES:
        files[dst] = (DEPLOY_DIR / src).read_bytes()
        if executable:
            executables.add(dst)
    check_standalone(files)

    model_files, manifest = select_models(models_dir, models)
    model_bytes = {p.name: p.read_bytes() for p in model_files}
    for name, data in model_bytes.items():
        files[f"models/{name}"] = data
    bman = bundle_manifest(model_bytes, manifest)
    files["models/manifest.json"] = (json.dumps(bman, indent=2) + "\n").encode()
    chosen = demo_model and _model_file_name(demo_model)
    if chosen and chosen not in model_bytes:
        raise BundleError(f"--demo-model {demo_model!r} is not among the bundled models: {', '.join(model_bytes)}")
    demo = chosen or default_model(bman["models"], DEFAULT_MODEL_FILE)
    if clip is not None:
        if not clip.is_file():
            raise BundleError(f"clip {clip} not found")
        files[f"clips/{clip.name}"] = clip.read_bytes()
        truth = clip.with_suffix(".json")  # the benchmark's ground truth for a clip made by `benchmarks clip`
        if truth.is_file():
            files[f"clips/{truth.name}"] = truth.read_bytes()

    models_sha = sha256_bytes("".join(f"{n}\0{sha256_bytes(d)}\n" for n, d in sorted(model_bytes.items())).encode())
    content_sha = sha256_bytes("".join(f"{n}\0{sha256_bytes(d)}\n" for n, d in sorted(files.items())).encode())
    version = _safe(version) if version else make_version(root, models_sha, content_sha)
    top = f"{BUNDLE_PREFIX}{version}"
    meta = {
        "name": "feredge-device",
        "version": version,
        "project_version": project_version(root),
        "git": _git(root, "describe", "--always", "--dirty", "--tags"),
        "models_sha256": models_sha,
        "content_sha256": content_sha,
        "models": sorted(model_bytes),
        "demo_model": f"models/{demo}",
        "bench_clip": f"clips/{clip.name}" if clip is not None else None,
        "requires_python": ">=3.10",
    }
    files["VERSION"] = f"{version}\n".encode()
    files["bundle.json"] = (json.dumps(meta, indent=2) + "\n").encode()
    sums = {n: sha256_bytes(d) for n, d in sorted(files.items())}
    files["SHA256SUMS"] = "".join(f"{h}  {n}\n" for n, h in sums.items()).encode()

    data = _tar_bytes(top, files, executables, source_date_epoch(root))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{top}.tar.gz"
    atomic_write_bytes(target, data)
    return BundleResult(target, version, tuple(sorted(model_bytes)), f"models/{demo}", sums)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.bundle",
        description="Build dist/feredge-device-<version>.tar.gz for a Raspberry Pi (no training code, no TensorFlow).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "dist", help="folder for the tarball")
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models", help="folder with the .tflite models")
    parser.add_argument(
        "--models", nargs="*", default=None, metavar="NAME",
        help="models to ship, e.g. mobilenet_int8 (with or without .tflite); default: all in the manifest",
    )
    parser.add_argument("--demo-model", default=None,
                        help="model the demo uses by default (default: core.manifest's DEFAULT_MODEL_FILE when "
                        "bundled, "
                        "else the most accurate int8)")
    parser.add_argument("--clip", type=Path, default=None,
                        help="optional video shipped for the on-device benchmark (with its .json ground truth)")
    parser.add_argument("--version", default=None, help="override the computed version string")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    models = [m for item in (args.models or []) for m in item.replace(",", " ").split()]
    try:
        result = build_bundle(
            args.out, args.models_dir, models or None, root=args.root, version=args.version, clip=args.clip,
            demo_model=args.demo_model,
        )
    except BundleError as exc:
        print(f"bundle: error: {exc}", file=sys.stderr)
        return 2
    size_mb = result.path.stat().st_size / 1e6
    print(f"bundle: {result.path} ({size_mb:.1f} MB, version {result.version})")
    print(f"bundle: models: {', '.join(result.models)}; demo default: {result.default_model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
