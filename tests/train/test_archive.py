"""train.archive: the study's committed copies of finished runs' report files."""

from __future__ import annotations

import json

from train.archive import ARCHIVED_FILES, archive_run, usable
from train.runs import PREDICTIONS, evaluated, run_dir

COUNTS = {"train": {"rows": 14, "angry": 2}, "val": {"rows": 7, "angry": 1}}


def _run(folder, epochs_done=2, epochs=2, predictions=True):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"data_summary": COUNTS, "recipe": {"epochs": epochs}}))
    (folder / "metrics.json").write_text(json.dumps({"completed_epochs": epochs_done}))
    (folder / "best.keras").write_bytes(b"checkpoint")
    (folder / "log.csv").write_text("epoch\n0\n1\n")
    if predictions:
        (folder / PREDICTIONS).write_bytes(b"npz")
    return folder


def test_archive_copies_the_report_files_only_and_metrics_last(tmp_path, monkeypatch):
    import train.archive as archive

    run = _run(tmp_path / "runs" / "tiny-2ep" / "weighted-seed1")
    dest = run_dir(tmp_path / "archive", "tiny", 2, "weighted", 1)
    assert dest == tmp_path / "archive" / "tiny-2ep" / "weighted-seed1", "the run folder's own layout"
    written = []
    real = archive.atomic_write_bytes
    monkeypatch.setattr(archive, "atomic_write_bytes", lambda p, d: (written.append(p.name), real(p, d))[1])
    assert archive_run(run, dest) is True
    assert written == list(ARCHIVED_FILES) and written[-1] == "metrics.json", "finished only once all is there"
    assert {p.name for p in dest.iterdir()} == {"config.json", "metrics.json", PREDICTIONS}
    written.clear()
    assert archive_run(run, dest) is False and written == [], "an unchanged copy is left alone"
    (run / "metrics.json").write_text(json.dumps({"completed_epochs": 2, "note": "re-evaluated"}))
    assert archive_run(run, dest) is True and written == ["metrics.json"]


def test_a_run_without_predictions_is_archived_without_them(tmp_path):
    run = _run(tmp_path / "run", predictions=False)
    archive_run(run, tmp_path / "copy")
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["config.json", "metrics.json"]


def test_an_archived_run_counts_when_finished_on_the_same_data(tmp_path):
    done = _run(tmp_path / "done")
    assert evaluated(done, 2) and usable(done, 2, COUNTS)
    assert not usable(done, 4, COUNTS), "another budget"
    assert not usable(done, 2, {**COUNTS, "val": {"rows": 8, "angry": 1}}), "other data"
    assert not evaluated(_run(tmp_path / "partial", epochs_done=1), 2)
    assert not evaluated(tmp_path / "absent", 2)
    (done / "metrics.json").write_text("{truncated")
    assert not evaluated(done, 2), "a damaged copy is not a finished run"
