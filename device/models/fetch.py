"""Re-extract the shipped BlazeFace models from the pinned MediaPipe wheel and check them against ``detectors.json``.

    python -m device.models.fetch                  # pip download the wheel (no deps) to a temp dir, extract, verify
    python -m device.models.fetch --wheel W.whl    # the same from a wheel already on disk
    python -m device.models.fetch --check          # only verify the files in device/models/ (size and sha256)

Nothing is written unless every extracted file has the size and sha256 that ``detectors.json`` pins. Needs neither
TensorFlow nor MediaPipe (the wheel is only unzipped). Exit codes: 0 ok, 1 a file missing or different, the wheel not
found or not downloadable, 2 bad usage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from core.fileio import atomic_write_bytes, sha256_file

MODELS_DIR = Path(__file__).resolve().parent
MANIFEST = MODELS_DIR / "detectors.json"
EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


class FetchError(Exception):
    """The wheel cannot be had, or a file is not the pinned one."""


def load_manifest(path: Path = MANIFEST) -> dict:
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FetchError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list) or "source" not in manifest:
        raise FetchError(f"{path}: expected a 'source' and a 'files' list")
    return manifest


def _difference(name: str, size: int, sha256: str, entry: dict) -> str | None:
    if size != entry["size"]:
        return f"{name}: {size} bytes, expected {entry['size']} (sha256 {sha256}, expected {entry['sha256']})"
    if sha256 != entry["sha256"]:
        return f"{name}: sha256 {sha256}, expected {entry['sha256']}"
    return None


def check_files(folder: Path, manifest: dict) -> list[str]:
    """Problems with the files in ``folder`` (missing, other size or sha256); empty when all are the pinned ones."""
    problems = []
    for entry in manifest["files"]:
        path = Path(folder) / entry["file"]
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        problem = _difference(str(path), path.stat().st_size, sha256_file(path), entry)
        if problem:
            problems.append(problem)
    return problems


def download_wheel(manifest: dict, dest: Path) -> Path:
    """``pip download --no-deps`` the pinned wheel into ``dest``; its path."""
    source = manifest["source"]
    command = [sys.executable, "-m", "pip", "download", *source["pip_download"], "-d", str(dest)]
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    proc = subprocess.run(command, capture_output=True, text=True)
    wheel = Path(dest) / source["wheel"]
    if proc.returncode != 0 or not wheel.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        found = ", ".join(p.name for p in Path(dest).glob("*.whl")) or "no wheel"
        raise FetchError(f"pip download of {source['wheel']} failed (exit {proc.returncode}, got {found}):\n{tail}")
    return wheel


def extract(wheel: Path, manifest: dict) -> dict[str, bytes]:
    """The pinned files' bytes from ``wheel``, each checked against the manifest (``FetchError`` on any difference)."""
    source = manifest["source"]
    if wheel.name != source["wheel"]:
        print(
            f"warning: {wheel.name} is not the pinned wheel {source['wheel']}; checking its files anyway",
            file=sys.stderr,
        )
    digest = sha256_file(wheel)
    if digest != source.get("wheel_sha256"):
        print(
            f"warning: {wheel.name}: sha256 {digest}, recorded {source.get('wheel_sha256')} (a rebuilt wheel?); "
            "the files inside are checked one by one",
            file=sys.stderr,
        )
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise FetchError(f"{wheel}: not a readable wheel ({exc})") from exc
    files: dict[str, bytes] = {}
    problems = []
    with archive:
        names = set(archive.namelist())
        for entry in manifest["files"]:
            if entry["wheel_path"] not in names:
                problems.append(f"{wheel.name}: has no {entry['wheel_path']}")
                continue
            data = archive.read(entry["wheel_path"])
            problem = _difference(
                f"{wheel.name}:{entry['wheel_path']}", len(data), hashlib.sha256(data).hexdigest(), entry
            )
            if problem:
                problems.append(problem)
            files[entry["file"]] = data
    if problems:
        raise FetchError("the wheel's files are not the pinned ones:\n  " + "\n  ".join(problems))
    return files


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m device.models.fetch",
        description="Re-extract the BlazeFace models from the pinned MediaPipe wheel, checked against detectors.json.",
    )
    p.add_argument("--wheel", type=Path, default=None, help="use this wheel instead of pip-downloading the pinned one")
    p.add_argument("--check", action="store_true", help="only verify the files already there (size and sha256)")
    p.add_argument("--dir", type=Path, default=MODELS_DIR, help="the models folder (default: device/models)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        manifest = load_manifest()
        if args.check:
            problems = check_files(args.dir, manifest)
            if problems:
                print(
                    "error: detector model files differ from detectors.json:\n  "
                    + "\n  ".join(problems)
                    + "\nrestore them with: python -m device.models.fetch",
                    file=sys.stderr,
                )
                return EXIT_MISMATCH
            print(f"ok: {len(manifest['files'])} files in {args.dir} match detectors.json", file=sys.stderr)
            return EXIT_OK
        if args.wheel is not None:
            if not args.wheel.is_file():
                print(f"error: wheel {args.wheel}: file not found", file=sys.stderr)
                return EXIT_USAGE
            files = extract(args.wheel, manifest)
        else:
            with tempfile.TemporaryDirectory(prefix="feredge-mediapipe-") as tmp:
                files = extract(download_wheel(manifest, Path(tmp)), manifest)
        for name, data in files.items():
            atomic_write_bytes(Path(args.dir) / name, data).chmod(0o644)  # mkstemp's 0600 would hide it from others
            print(f"wrote {Path(args.dir) / name} ({len(data)} bytes, sha256 ok)", file=sys.stderr)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MISMATCH
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
