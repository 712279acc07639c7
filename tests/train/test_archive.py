"""train.archive: the study's committed copies of finished runs' report files."""

from __future__ import annotations

import json
import re

import pytest

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


def test_keep_copies_a_finished_runs_record_in_the_runs_layout(tmp_path):
    from train.archive import KEPT_FILES, keep_run

    run = _run(tmp_path / "runs" / "tiny-2ep" / "weighted-seed1")
    kept = keep_run(tmp_path / "runs", "tiny-2ep/weighted-seed1", tmp_path / "kept")
    assert kept == tmp_path / "kept" / "tiny-2ep" / "weighted-seed1"
    assert {p.name for p in kept.iterdir()} == {"config.json", "log.csv", "metrics.json", PREDICTIONS}
    assert "history.png" in KEPT_FILES and "best.keras" not in {p.name for p in kept.iterdir()}, \
        "the model only when asked for"
    assert (kept / "log.csv").read_bytes() == (run / "log.csv").read_bytes()


@pytest.mark.parametrize("name,why", [("tiny-3ep/weighted-seed1", "has not finished.*--epochs 3"),
                                      ("tiny/weighted-seed1", "is not <recipe>-<epochs>ep")])
def test_keep_refuses_an_unfinished_or_misnamed_run_before_writing(tmp_path, capsys, name, why):
    from train.archive import KeepError, keep_run, main

    _run(tmp_path / "runs" / "tiny-3ep" / "weighted-seed1", epochs_done=2, epochs=3)
    _run(tmp_path / "runs" / "tiny-2ep" / "weighted-seed1")
    with pytest.raises(KeepError, match=why):
        keep_run(tmp_path / "runs", name, tmp_path / "kept")
    assert main([name, "tiny-2ep/weighted-seed1", "--runs-root", str(tmp_path / "runs"),
                 "--out", str(tmp_path / "kept")]) == 2
    assert re.search(why, capsys.readouterr().err)
    assert not (tmp_path / "kept").exists(), "every run is checked before any is copied"
    with pytest.raises(KeepError, match="best.keras: missing"):
        (tmp_path / "runs" / "tiny-2ep" / "weighted-seed1" / "best.keras").unlink()
        keep_run(tmp_path / "runs", "tiny-2ep/weighted-seed1", tmp_path / "kept", checkpoint=True)


def test_a_kept_model_predicts_as_the_run_did_without_its_optimiser(tmp_path):
    import keras
    import numpy as np

    from train.archive import main
    from train.models import build_model
    from train.recipes import TINY

    run = _run(tmp_path / "runs" / "tiny-2ep" / "unweighted-seed0")
    model = build_model(TINY)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).uniform(0, 255, (8, 48, 48, 1)).astype("float32")
    model.fit(x, np.arange(8) % 7, epochs=1, verbose=0)  # the optimiser now has state to leave behind
    model.save(run / "best.keras")
    assert main(["tiny-2ep/unweighted-seed0", "--checkpoint", "--runs-root", str(tmp_path / "runs"),
                 "--out", str(tmp_path / "kept")]) == 0
    kept = tmp_path / "kept" / "tiny-2ep" / "unweighted-seed0" / "best.keras"
    assert kept.stat().st_size < (run / "best.keras").stat().st_size
    again = keras.models.load_model(kept)
    assert getattr(again, "optimizer", None) is None
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert json.loads((kept.parent / "metrics.json").read_text())["completed_epochs"] == 2


def test_a_kept_run_with_its_model_is_put_in_place_only_where_the_checkout_has_none(tmp_path):
    from train.archive import KEPT_ROOTS, kept_run, restore_kept
    from train.runs import RunRef

    ref = RunRef("tiny", 2, "weighted", 1)
    kept = _run(ref.folder(tmp_path / "repo" / KEPT_ROOTS[1]))  # a kept teacher run
    runs = tmp_path / "runs"
    assert kept_run(ref, tmp_path / "repo") == kept
    assert restore_kept(ref, runs, tmp_path / "repo") == kept
    run = ref.folder(runs)
    assert {p.name for p in run.iterdir()} == {"best.keras", "config.json", "log.csv", "metrics.json", PREDICTIONS}
    assert (run / "best.keras").read_bytes() == b"checkpoint" and evaluated(run, 2)

    own = RunRef("tiny", 2, "weighted", 2).folder(runs)
    own.mkdir(parents=True)
    (own / "best.keras").write_bytes(b"its own")
    _run(RunRef("tiny", 2, "weighted", 2).folder(tmp_path / "repo" / KEPT_ROOTS[0]))
    assert restore_kept(RunRef("tiny", 2, "weighted", 2), runs, tmp_path / "repo") is None
    assert (own / "best.keras").read_bytes() == b"its own", "a run folder of the checkout's own is left alone"

    unfinished = RunRef("tiny", 3, "weighted", 1)
    _run(unfinished.folder(tmp_path / "repo" / KEPT_ROOTS[0]), epochs_done=2, epochs=3)
    assert kept_run(unfinished, tmp_path / "repo") is None, "only a finished run stands in"
    no_model = RunRef("tiny", 2, "unweighted", 1)
    (_run(no_model.folder(tmp_path / "repo" / KEPT_ROOTS[0])) / "best.keras").unlink()
    assert kept_run(no_model, tmp_path / "repo") is None, "a record without its model cannot be started from"
