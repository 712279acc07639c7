"""Committed copies of finished runs: the study's archive (what its reports read from each run, kept under
``reports/study/runs``) and kept runs (:func:`keep_run`, ``python -m train.archive``: a run's record, and with
``--checkpoint`` its model, for runs whose folders must outlive a checkout, e.g. a student trained in one session and
converted in a later one).

A run folder (``runs/<recipe>-<E>ep/<variant>-seed<k>/``) holds checkpoints of several megabytes and lives only on
the machine that trained it; a study that takes longer than one working session outlives it. The archive keeps,
per finished run, only what :mod:`train.study` reports from (``config.json``, ``metrics.json`` and
``predictions.npz``, about 0.1 MB), in the same layout, small enough to commit. A fresh checkout then reports the
archived runs and trains only the rest.

An archived run counts only for the same data: its ``config.json`` records the data's split and class counts
(:meth:`core.dataset.Dataset.summary`), and :func:`usable` compares them with the data the study runs on. This
module owns what the archive keeps and when a copy counts; :mod:`train.runs` owns the layout (the same as
``runs/``: :func:`train.runs.run_dir` under the archive's root), what the files hold and when a run is finished
(:func:`train.runs.evaluated`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from core.fileio import atomic_write_bytes
from core.paths import project_root
from train.runs import PREDICTIONS, RunNameError, RunRef, evaluated

# copied in this order: metrics.json, the mark of a finished run, last
ARCHIVED_FILES: tuple[str, ...] = ("config.json", PREDICTIONS, "metrics.json")
# a kept run's record: what its report, the README and convert's manifest read (metrics.json last)
KEPT_FILES: tuple[str, ...] = ("config.json", "log.csv", "history.png", PREDICTIONS, "metrics.json")
# where kept runs are looked for when a recipe needs a run its checkout lacks (the first is keep_run's default)
KEPT_ROOTS: tuple[Path, ...] = (Path("reports") / "students", Path("reports") / "teachers")


def data_summary(folder: Path) -> dict | None:
    """The data's split and class counts a run recorded (None when its config has none)."""
    try:
        return json.loads((Path(folder) / "config.json").read_text()).get("data_summary")
    except (OSError, ValueError, AttributeError):
        return None


def archive_run(run: Path, dest: Path, files: tuple[str, ...] = ARCHIVED_FILES) -> bool:
    """Copy a finished run's report files (``files``) from ``run`` to ``dest`` (each atomically, metrics.json last);
    returns whether anything changed (an unchanged copy is left alone). A file the run lacks (predictions.npz of a run
    from before it was saved) is skipped."""
    changed = False
    for name in files:
        src = Path(run) / name
        if not src.is_file():
            continue
        data = src.read_bytes()
        target = Path(dest) / name
        if target.is_file() and target.read_bytes() == data:
            continue
        atomic_write_bytes(target, data)
        changed = True
    return changed


def usable(folder: Path, epochs: int, summary: dict) -> bool:
    """An archived run stands in for a run folder when it finished and was trained and evaluated on data with
    these split and class counts."""
    return evaluated(folder, epochs) and data_summary(folder) == summary


class KeepError(ValueError):
    """A run that cannot be kept: misnamed, or not finished."""


def finished_run(runs_root: Path, name: str, checkpoint: bool = False) -> RunRef:
    """The run ``name`` (``<recipe>-<E>ep/<variant>-seed<S>``) under ``runs_root``, checked to have finished (and,
    with ``checkpoint``, to hold its best.keras); KeepError saying why not."""
    try:
        ref = RunRef.parse(name)
    except RunNameError as exc:
        raise KeepError(str(exc)) from None
    run = ref.folder(runs_root)
    if not evaluated(run, ref.epochs):
        raise KeepError(f"{run}: run {name!r} has not finished (no metrics.json with all {ref.epochs} epochs); "
                        f"finish it first: python -m train --recipe {ref.recipe} --epochs {ref.epochs} "
                        f"--variants {ref.variant} --seed {ref.seed}")
    if checkpoint and not (run / "best.keras").is_file():
        raise KeepError(f"{run / 'best.keras'}: missing, so the run's model cannot be kept")
    return ref


def keep_run(runs_root: Path, name: str, dest_root: Path, checkpoint: bool = False) -> Path:
    """Keep the finished run ``name`` under ``dest_root`` in the runs' layout: its record (:data:`KEPT_FILES`) and,
    with ``checkpoint``, its ``best.keras`` as the float32 model without optimiser state (a third of the file;
    ``python -m convert --checkpoint VARIANT=<it>`` converts it, reading the record beside it). Returns the kept
    folder. KeepError (:func:`finished_run`) before anything is written."""
    ref = finished_run(runs_root, name, checkpoint)
    run, dest = ref.folder(runs_root), ref.folder(dest_root)
    dest.mkdir(parents=True, exist_ok=True)
    if checkpoint:
        _keep_model(run / "best.keras", dest / "best.keras")
    archive_run(run, dest, KEPT_FILES)
    return dest


def kept_run(ref: RunRef, root: Path | None = None) -> Path | None:
    """The kept copy of run ``ref`` with its model (under :data:`KEPT_ROOTS` of ``root``, the project by default):
    finished (:func:`train.runs.evaluated`) and holding ``best.keras``; None when there is none."""
    for kept_root in KEPT_ROOTS:
        folder = ref.folder(Path(root or project_root()) / kept_root)
        if (folder / "best.keras").is_file() and evaluated(folder, ref.epochs):
            return folder
    return None


def restore_kept(ref: RunRef, runs_root: Path, root: Path | None = None) -> Path | None:
    """Put the kept copy of run ``ref`` (:func:`kept_run`) into its run folder under ``runs_root`` when that folder
    holds nothing of its own (no log, no checkpoint), so a recipe that needs the run starts from it instead of
    training it again; returns the kept folder, or None when nothing was restored. metrics.json is copied last."""
    run = ref.folder(runs_root)
    if (run / "log.csv").exists() or (run / "best.keras").exists():
        return None
    kept = kept_run(ref, root)
    if kept is None:
        return None
    run.mkdir(parents=True, exist_ok=True)
    archive_run(kept, run, ("best.keras", *KEPT_FILES))
    return kept


def _keep_model(src: Path, dst: Path) -> None:
    """``src`` saved again as its float32 model without optimiser state, atomically at ``dst``."""
    from train.models import load_float32

    with tempfile.TemporaryDirectory() as tmp:  # Keras saves to a path named .keras; the write to dst is ours
        saved = Path(tmp) / "best.keras"
        load_float32(src).save(saved)
        atomic_write_bytes(dst, saved.read_bytes())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.archive",
        description="Keep finished runs in a committed folder, in the runs' own layout: their record (config, log, "
                    "metrics, predictions) and with --checkpoint their model, so that a rebuilt checkout (runs/ is not "
                    "committed) can still report and convert them.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("runs", nargs="+", metavar="RUN", help="runs to keep, as <recipe>-<E>ep/<variant>-seed<S>")
    p.add_argument("--runs-root", type=Path, default=project_root() / "runs", help="root folder of the run folders")
    p.add_argument("--out", type=Path, default=project_root() / "reports" / "students", help="where to keep them")
    p.add_argument("--checkpoint", action="store_true",
                   help="keep each run's model too (best.keras without optimiser state: about 4 bytes a parameter)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for name in args.runs:  # every run checked before any is copied
            finished_run(args.runs_root, name, args.checkpoint)
        for name in args.runs:
            print(f"kept {name} in {keep_run(args.runs_root, name, args.out, args.checkpoint)}")
    except KeepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
