"""``python -m train.gpu``: train on a lent GPU machine that has JAX (or PyTorch) and no TensorFlow, and bring the
run folders back.

Such a machine takes at most 64 MiB of files a call (the working tree included), hands back at most 8 files of
16 MiB, and lends about 15 minutes. Keras 3 trains the same recipes there on the JAX backend (:mod:`train.backend`,
:mod:`train.batches`) and writes ordinary run folders; conversion and benchmarks stay on this machine. Three steps:

1. ``pack`` (here): FER2013's train and validation splits as a packed dataset in parts that fit a call each
   (:mod:`core.packed`), and the wheels Keras needs there (``keras``, ``namex``, ``optree`` for its Python);
2. on the GPU machine (the commands ``pack`` prints): install the wheels, ``KERAS_BACKEND=jax python3 -m train
   --data .gpu/data ...`` under ``timeout`` (SIGTERM stops training like Ctrl-C, finished epochs kept), then
   ``collect``: the run folders (finished checkpoints without optimiser state) as a tar in chunks under ``$OUT``;
3. ``unpack`` (here): check the chunks and put the run folders under ``runs/``, where ``make convert`` and
   ``python -m train`` (evaluation, resume) take them like any other run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from core.fileio import ListedFileError, atomic_write_bytes, atomic_write_json, read_listed
from core.paths import project_root

WHEELS = ("keras", "namex", "optree")  # what Keras 3 needs that the GPU machine's image lacks
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
CALL_LIMIT_MIB = 64.0  # files sent per call, working tree included
RETURN_FILES, RETURN_FILE_MIB, RETURN_TOTAL_MIB = 8, 16.0, 64.0
CHUNK_MIB = 15.0
RUNS_JSON = "runs.json"
SKIP = {"backup"}  # of a finished run (Keras removes it anyway); a partial run needs it to resume


class GpuJobError(RuntimeError):
    """Something the job cannot do; the message says what and where."""


def mib(n: int) -> float:
    return n / 2**20


def tracked_bytes(root: Path) -> int:
    """Bytes of the files git tracks under ``root`` (what every call sends besides the carried paths)."""
    return sum((root / name).stat().st_size for name in _tracked(root) if (root / name).is_file())


LEAN_RECORD = "lean.json"  # under the pack folder: the tracked files `lean` took out, for `restore`


def _tracked(root: Path) -> list[str]:
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise GpuJobError(f"{root}: not a git checkout ({exc}); the calls send a checkout's tracked files") from exc
    return [name for name in out.decode().split("\0") if name]


def lean(root: Path, pack_dir: Path, keep: list[str], min_bytes: int = 256 * 1024) -> list[str]:
    """Take the tracked files of at least ``min_bytes`` that no ``keep`` path (a file or a folder, relative to
    ``root``) covers out of the working tree, since a call sends what is there and the committed checkpoints and
    models alone outgrew its 64 MiB; they are listed in ``pack_dir``/lean.json first, and :func:`restore` brings
    them back from git. A file with changes git has not committed is never taken: the call is refused, naming it."""
    record = pack_dir / LEAN_RECORD
    if record.exists():
        raise GpuJobError(f"{record}: files are out already; python -m train.gpu restore first")
    prefixes = [k.strip("/") for k in keep]

    def kept(name: str) -> bool:
        return any(name == k or name.startswith(k + "/") for k in prefixes)

    big = [n for n in _tracked(root) if (root / n).is_file() and (root / n).stat().st_size >= min_bytes
           and not kept(n)]
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-z", "--", *big],
                            capture_output=True, check=True).stdout.decode() if big else ""
    changed = [entry[3:] for entry in status.split("\0") if entry]  # "XY path"
    if changed:
        raise GpuJobError(f"not taking out files with uncommitted changes: {', '.join(changed)}; commit them first")
    atomic_write_json(record, {"removed": big})
    for name in big:
        (root / name).unlink()
    return big


def restore(root: Path, pack_dir: Path) -> list[str]:
    """Bring back from git what :func:`lean` took out, and forget the record."""
    record = pack_dir / LEAN_RECORD
    if not record.exists():
        return []
    names = json.loads(record.read_text())["removed"]
    if names:
        subprocess.run(["git", "-C", str(root), "checkout", "--", *names], check=True, capture_output=True)
    record.unlink()
    return names


def download_wheels(folder: Path, python: str) -> list[Path]:
    """The installed versions of :data:`WHEELS`, as wheels for CPython ``python`` on x86-64 Linux."""
    folder.mkdir(parents=True, exist_ok=True)
    pins = [f"{name}=={metadata.version(name)}" for name in WHEELS]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", python,
           "--implementation", "cp", *[a for p in PLATFORMS for a in ("--platform", p)], "-d", str(folder), *pins]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise GpuJobError(f"pip download {' '.join(pins)} for Python {python} failed:\n{done.stderr.strip()[-800:]}")
    return sorted(folder.glob("*.whl"))


def plan_calls(parts: list[Path], wheels: list[Path], tree: int, root: Path) -> list[list[str]]:
    """The carry list of each call: wheels and the first part first, one more part a call, ``packed.json`` with the
    last; each call within :data:`CALL_LIMIT_MIB` or a :class:`GpuJobError`."""
    packed = parts[0].parent / "packed.json"
    calls = []
    for i, part in enumerate(parts):
        call = [str(wheels[0].parent.relative_to(root))] if i == 0 and wheels else []
        call.append(str(part.relative_to(root)))
        if i == len(parts) - 1:
            call.append(str(packed.relative_to(root)))
        calls.append(call)
    for i, call in enumerate(calls):
        size = tree + sum(sum(f.stat().st_size for f in (root / c).rglob("*") if f.is_file()) if (root / c).is_dir()
                          else (root / c).stat().st_size for c in call)
        if mib(size) > CALL_LIMIT_MIB:
            raise GpuJobError(f"call {i + 1} would send {mib(size):.1f} MiB (tracked tree {mib(tree):.1f} MiB + "
                              f"{', '.join(call)}), over {CALL_LIMIT_MIB:g} MiB: take the tracked files training "
                              "does not read out of the working tree for the calls (README: Training on a lent GPU "
                              "machine) or pack with more --parts")
    return calls


def pack(data: Path, out: Path, parts: int, python: str, wheels: bool = True) -> dict:
    """Write the packed train and validation splits and the wheels under ``out``; return the calls to make."""
    from core.packed import write_packed
    from device.datasets import load_fer2013

    root = project_root()
    try:
        out.resolve().relative_to(root)
    except ValueError as exc:
        raise GpuJobError(f"--out {out}: must lie inside the repository ({root}) to be carried") from exc
    ds = load_fer2013(data)
    splits = {name: (ds.splits[name].x, ds.splits[name].y) for name in ("train", "val")}
    shutil.rmtree(out / "data", ignore_errors=True)
    write_packed(splits, out / "data", parts, source=f"{data.name} (train and val splits)")
    wheel_files = download_wheels(out / "wheels", python) if wheels else []
    part_files = sorted((out / "data").glob("part-*.npz"))
    calls = plan_calls(part_files, wheel_files, tracked_bytes(root), root)
    return {"parts": [(p.name, round(mib(p.stat().st_size), 1)) for p in part_files],
            "wheels": [w.name for w in wheel_files], "calls": calls}


def _strip_optimizer(checkpoint: Path, into: Path) -> None:
    """``checkpoint`` re-saved without optimiser state (a finished run only needs the weights)."""
    import keras

    keras.models.load_model(checkpoint, compile=False).save(into)


def collect(runs: Path, out: Path, chunk_mib: float = CHUNK_MIB, resumable: bool = True) -> dict:
    """Every run folder under ``runs`` (``<recipe>-<E>ep/<variant>-seed<S>``) as one tar in chunks under ``out``
    with ``runs.json`` (the tar's sha256 and the chunks'); finished runs' checkpoints lose their optimiser state,
    partial runs (stopped by ``timeout``) keep their Keras backup so that ``python -m train`` resumes them, unless
    ``resumable`` is False: then every run comes back as its best checkpoint without optimiser state or backup (a
    large teacher's backup holds the weights and the optimiser's slots, too much to hand back)."""
    folders = sorted(p.parent for p in runs.glob("*/*/config.json"))
    if not folders:
        raise GpuJobError(f"{runs}: no run folders (*/*/config.json) to collect")
    buf = io.BytesIO()
    stripped: list[Path] = []  # the checkpoints re-saved without optimiser state, one file each
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=buf, mode="w") as tar:
        for folder in folders:
            lean = (folder / "metrics.json").is_file() or not resumable
            for f in sorted(folder.rglob("*")):
                rel = f.relative_to(runs)
                if not f.is_file() or (lean and SKIP & set(rel.parts)):
                    continue  # a partial run keeps its Keras backup: it resumes from it, here or there
                source = f
                if lean and f.suffix == ".keras":
                    source = Path(tmp) / f"{len(stripped)}.keras"
                    stripped.append(source)
                    _strip_optimizer(f, source)
                tar.add(source, arcname=str(rel))
    blob = buf.getvalue()
    size = int(chunk_mib * 2**20)
    chunks = [blob[i:i + size] for i in range(0, len(blob), size)]
    others = [f for f in out.iterdir() if f.is_file()] if out.is_dir() else []  # e.g. the job's train.log
    room_files = RETURN_FILES - 1 - len(others)
    room_mib = RETURN_TOTAL_MIB - 1 - mib(sum(f.stat().st_size for f in others))
    if len(chunks) > room_files or mib(len(blob)) > room_mib or chunk_mib > RETURN_FILE_MIB:
        raise GpuJobError(f"the runs are {mib(len(blob)):.1f} MiB in {len(chunks)} chunk(s) of {chunk_mib:g} MiB; "
                          f"{room_files} chunk(s) and {room_mib:.0f} MiB can come back beside runs.json and "
                          f"{len(others)} other file(s) in {out}: train fewer runs a call")
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for i, chunk in enumerate(chunks):
        name = f"runs.tar.{i + 1:03d}"
        atomic_write_bytes(out / name, chunk)
        names.append({"file": name, "sha256": hashlib.sha256(chunk).hexdigest()})
    record = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob), "chunks": names,
              "runs": [str(f.relative_to(runs)) for f in folders]}
    atomic_write_json(out / RUNS_JSON, record)
    return record


def smoke(names: list[str], steps: int = 20, train_images: int = 28_709) -> list[dict]:
    """For each recipe, on random faces: the seconds per batch of its augmentation (the training pipeline's, outside
    the model) and of a training step after the first (which compiles), and the epoch time they imply when the
    two overlap (the slower one sets the pace). The first call's command on a GPU machine: it shows that Keras,
    the backend and the accelerator work before the long call, and what an epoch will cost there."""
    import keras
    import numpy as np

    from train.backend import configure
    from train.batches import CompiledAugmenter
    from train.models import build_augmenter, build_model
    from train.precision import training_precision
    from train.recipes import RECIPES

    backend = configure()
    rng = np.random.default_rng(0)
    results = []
    for name in names:
        recipe = RECIPES[name]
        precision, _ = training_precision(recipe, backend.accelerators)
        model = build_model(replace(recipe, precision=precision))
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy")
        augment = CompiledAugmenter(build_augmenter(recipe, 0))  # as the training batches run it
        x = rng.integers(0, 256, (recipe.batch_size, 48, 48, 1)).astype(np.float32)
        y = keras.utils.to_categorical(rng.integers(0, 7, recipe.batch_size), 7)
        augment(x)
        model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(steps):
            augment(x)
        aug_s = (time.perf_counter() - start) / steps
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)
        step_s = (time.perf_counter() - start) / steps
        batches = -(-train_images // recipe.batch_size)
        results.append({"recipe": name, "backend": backend.record(), "precision": precision,
                        "batch": recipe.batch_size, "augment_ms": round(aug_s * 1e3, 2),
                        "step_ms": round(step_s * 1e3, 2), "epoch_s": round(batches * max(aug_s, step_s), 1)})
    return results


def _record_problem(record: object) -> str | None:
    """What is wrong with a runs.json's shape (None when nothing is): chunks, sha256 and run names that stay
    inside the runs root."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if not isinstance(record.get("chunks"), list) or not isinstance(record.get("sha256"), str):
        return "no 'chunks' list or 'sha256' string"
    names = record.get("runs")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        return "no 'runs' list of run names"
    escaping = [n for n in names if Path(n).is_absolute() or ".." in Path(n).parts]
    if escaping:
        return f"run name(s) outside the runs root: {', '.join(escaping)}"
    return None


def unpack(source: Path, runs: Path, replace: bool = False) -> list[str]:
    """Check ``collect``'s chunks under ``source`` and put their run folders under ``runs``; an existing run folder
    is left alone (an error) unless ``replace``. Nothing is written until every check has passed."""
    try:
        record = json.loads((source / RUNS_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GpuJobError(f"{source / RUNS_JSON}: not readable ({exc}); is this the GPU job's $OUT?") from exc
    problem = _record_problem(record)
    if problem:
        raise GpuJobError(f"{source / RUNS_JSON}: {problem}; expected what python -m train.gpu collect writes")
    try:
        parts = read_listed(source, record["chunks"], source / RUNS_JSON)
    except ListedFileError as exc:
        raise GpuJobError(str(exc)) from exc
    blob = b"".join(parts)
    if hashlib.sha256(blob).hexdigest() != record["sha256"]:
        raise GpuJobError(f"{source}: the joined chunks' sha256 differs from {RUNS_JSON}")
    existing = [name for name in record["runs"] if (runs / name).exists()]
    if existing and not replace:
        raise GpuJobError(f"{runs}: {', '.join(existing)} already exist(s); move them away or pass --replace")
    with tempfile.TemporaryDirectory(dir=runs.parent if runs.parent.exists() else None) as tmp:
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(tmp, filter="data")
        for name in record["runs"]:
            target = runs / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            shutil.move(str(Path(tmp) / name), target)
    return record["runs"]


def build_parser() -> argparse.ArgumentParser:
    from core.argtypes import number_type
    from train.recipes import RECIPES

    ap = argparse.ArgumentParser(prog="python -m train.gpu", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = ap.add_subparsers(dest="step", required=True)
    p = sub.add_parser("pack", help="the data and wheels to carry", formatter_class=ap.formatter_class)
    p.add_argument("--data", type=Path, required=True, help="FER2013 csv(.gz) or folder")
    p.add_argument("--out", type=Path, default=project_root() / ".gpu", help="folder inside the repository "
                   "(git-ignored) that the calls carry")
    p.add_argument("--parts", type=number_type(int, 1, "a whole number of parts, at least 1"), default=2,
                   help="data parts, one per call")
    p.add_argument("--python", default="3.12", help="the GPU machine's Python version, for the wheels")
    p.add_argument("--no-wheels", action="store_true", help="skip downloading the wheels")
    c = sub.add_parser("collect", help="on the GPU machine: the run folders into $OUT",
                       formatter_class=ap.formatter_class)
    c.add_argument("--runs", type=Path, required=True, help="the runs root the training wrote")
    c.add_argument("--out", type=Path, required=True, help="$OUT")
    c.add_argument("--chunk-mib", type=number_type(float, 0.01, f"a chunk size in MiB, 0.01..{RETURN_FILE_MIB:g}",
                                                   high=RETURN_FILE_MIB),
                   default=CHUNK_MIB, help="chunk size (16 MiB come back a file)")
    c.add_argument("--best-only", action="store_true", help="every run as its best checkpoint without optimiser "
                   "state or Keras backup, partial runs too (they cannot resume; for large teachers)")
    s = sub.add_parser("smoke", help="on the GPU machine: augmentation and step time per batch on random faces",
                       formatter_class=ap.formatter_class)
    s.add_argument("--recipes", nargs="+", required=True, choices=sorted(RECIPES), metavar="RECIPE",
                   help="recipes to time")
    s.add_argument("--steps", type=number_type(int, 1, "a whole number of batches, at least 1"), default=20,
                   help="batches timed after the first")
    le = sub.add_parser("lean", help="here: take the large tracked files a GPU call does not need out of the "
                        "working tree (restore brings them back)", formatter_class=ap.formatter_class)
    le.add_argument("--keep", nargs="*", default=[], help="tracked files or folders the job reads (e.g. the "
                    "teachers a student recipe names), kept whatever their size")
    le.add_argument("--min-kib", type=number_type(int, 0, "a whole number of KiB, at least 0"), default=256,
                    help="take out tracked files of at least this size")
    le.add_argument("--out", type=Path, default=project_root() / ".gpu", help="the pack folder (holds lean.json)")
    re_ = sub.add_parser("restore", help="here: bring back what lean took out (from git)",
                         formatter_class=ap.formatter_class)
    re_.add_argument("--out", type=Path, default=project_root() / ".gpu", help="the pack folder (holds lean.json)")
    u = sub.add_parser("unpack", help="here: the returned run folders into the runs root",
                       formatter_class=ap.formatter_class)
    u.add_argument("--from", dest="source", type=Path, required=True, help="the folder the files came back to")
    u.add_argument("--runs", type=Path, default=project_root() / "runs", help="training runs root")
    u.add_argument("--replace", action="store_true", help="replace run folders that already exist")
    return ap


def main(argv: list[str] | None = None) -> int:
    from core.dataset import DataError

    args = build_parser().parse_args(argv)
    try:
        if args.step == "pack":
            result = pack(args.data, args.out, args.parts, args.python, not args.no_wheels)
            print(f"data parts: {', '.join(f'{n} ({s} MiB)' for n, s in result['parts'])}; wheels: "
                  f"{', '.join(result['wheels']) or 'none'}")
            for i, carry in enumerate(result["calls"]):
                last = i == len(result["calls"]) - 1
                command = ("see README (GPU training)" if last else
                           "the smoke check (lands the files; README)" if i == 0 else "true (lands the files)")
                print(f"call {i + 1}: carry {json.dumps(carry)}; command: {command}")
        elif args.step == "collect":
            record = collect(args.runs, args.out, args.chunk_mib, resumable=not args.best_only)
            print(f"collected {len(record['runs'])} run(s), {mib(record['bytes']):.1f} MiB in "
                  f"{len(record['chunks'])} chunk(s): {', '.join(record['runs'])}")
        elif args.step == "lean":
            args.out.mkdir(parents=True, exist_ok=True)
            removed = lean(project_root(), args.out, args.keep, args.min_kib * 1024)
            print(f"took out {len(removed)} tracked file(s), {mib(tracked_bytes(project_root())):.1f} MiB of tracked "
                  f"files left to send; python -m train.gpu restore brings them back")
        elif args.step == "restore":
            print(f"restored {len(restore(project_root(), args.out))} file(s) from git")
        elif args.step == "smoke":
            for row in smoke(args.recipes, args.steps):
                print(json.dumps(row))
        else:
            names = unpack(args.source, args.runs, args.replace)
            print(f"unpacked into {args.runs}: {', '.join(names)}")
    except (GpuJobError, DataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
