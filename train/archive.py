"""The study's archive of finished runs: what its reports read from each run, kept under ``reports/study/runs``.

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

import json
from pathlib import Path

from core.fileio import atomic_write_bytes
from train.runs import PREDICTIONS, evaluated

# copied in this order: metrics.json, the mark of a finished run, last
ARCHIVED_FILES: tuple[str, ...] = ("config.json", PREDICTIONS, "metrics.json")


def data_summary(folder: Path) -> dict | None:
    """The data's split and class counts a run recorded (None when its config has none)."""
    try:
        return json.loads((Path(folder) / "config.json").read_text()).get("data_summary")
    except (OSError, ValueError, AttributeError):
        return None


def archive_run(run: Path, dest: Path) -> bool:
    """Copy a finished run's report files from ``run`` to ``dest`` (each atomically, metrics.json last); returns
    whether anything changed (an unchanged copy is left alone). A file the run lacks (predictions.npz of a run from
    before it was saved) is skipped."""
    changed = False
    for name in ARCHIVED_FILES:
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
