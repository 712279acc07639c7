"""Carried runs (train.carry): an unfinished run (SGD, or AdamW with its moments) kept in a committable form and
resumed in a new checkout."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import numpy as np
import pytest
from synthetic import write_fer_csv

from train import carry
from train.carry import (
    CarryBusyError,
    CarryError,
    carry_run,
    carry_when_still,
    drop_finished,
    load_carried,
    restore_record,
)
from train.recipes import RECIPES, TINY
from train.runs import RunSpec, TrainingInterrupted

# a tiny SGD run on a cosine schedule: what a teacher is, at the size of a test
SGD = replace(TINY, name="tiny-sgd", optimizer="sgd", schedule="cosine", warmup_epochs=0, epochs=3,
              weight_decay=1e-4)
SUMMARY = {"train": {"n": 40}}


@pytest.fixture()
def repo(tmp_path, monkeypatch):
    """A project root of the test's own, where carried runs are kept and looked for."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setattr(carry, "project_root", lambda: root)
    monkeypatch.setitem(RECIPES, SGD.name, SGD)
    return root


def _fake_carried(root, name, epoch=2, summary=SUMMARY):
    folder = root / carry.CARRY / name
    folder.mkdir(parents=True)
    (folder / "log.csv").write_text("epoch,accuracy,val_accuracy\n" + "".join(
        f"{e},0.5,0.4\n" for e in range(epoch)))
    (folder / "config.json").write_text(json.dumps({"data_summary": summary, "sessions": []}))
    (folder / "carry.json").write_text(json.dumps({"epoch": epoch, "iterations": 7 * epoch, "best": False,
                                                   "arrays": [{"path": "b0_conv0/kernel"}]}))
    return folder


def test_a_carried_record_seeds_a_new_run_folder(tmp_path, repo):
    _fake_carried(repo, "tiny-sgd-3ep/unweighted-seed0")
    spec = RunSpec(recipe=SGD, variant="unweighted", seed=0, runs_root=tmp_path / "runs")
    carried = restore_record(spec, SUMMARY)
    assert (carried.epoch, carried.iterations, carried.paths) == (2, 14, ("b0_conv0/kernel",))
    assert (spec.run_dir / "log.csv").read_text().count("\n") == 3, "the log so far, header and two epochs"
    assert json.loads((spec.run_dir / "config.json").read_text())["data_summary"] == SUMMARY


def test_a_run_folder_with_epochs_of_its_own_is_not_overwritten(tmp_path, repo):
    _fake_carried(repo, "tiny-sgd-3ep/unweighted-seed0")
    spec = RunSpec(recipe=SGD, variant="unweighted", seed=0, runs_root=tmp_path / "runs")
    spec.run_dir.mkdir(parents=True)
    (spec.run_dir / "log.csv").write_text("epoch,accuracy\n0,0.3\n")
    assert restore_record(spec, SUMMARY) is None, "the local backup is newer than any carried state"
    assert (spec.run_dir / "log.csv").read_text() == "epoch,accuracy\n0,0.3\n"
    other = RunSpec(recipe=SGD, variant="weighted", seed=0, runs_root=tmp_path / "runs")
    assert restore_record(other, SUMMARY) is None, "nothing is carried for this run"


def test_a_run_carried_from_other_data_is_refused(tmp_path, repo):
    _fake_carried(repo, "tiny-sgd-3ep/unweighted-seed0")
    spec = RunSpec(recipe=SGD, variant="unweighted", seed=0, runs_root=tmp_path / "runs")
    with pytest.raises(CarryError, match=r"tiny-sgd-3ep/unweighted-seed0: carried from a run on other data"):
        restore_record(spec, {"train": {"n": 41}})
    assert not (spec.run_dir / "log.csv").exists()


def test_a_half_written_or_damaged_carry_is_not_taken(tmp_path, repo):
    folder = _fake_carried(repo, "tiny-sgd-3ep/unweighted-seed0")
    (folder / "carry.json").unlink()  # what a save cut short leaves
    assert load_carried(folder) is None
    (folder / "carry.json").write_text("{}")
    with pytest.raises(CarryError, match=r"carry\.json: unreadable carried state"):
        load_carried(folder)


def test_what_cannot_be_carried_is_said_before_anything_is_written(tmp_path, repo, monkeypatch):
    runs = tmp_path / "runs"
    with pytest.raises(CarryError, match=r"tiny-1ep/unweighted-seed0/backup/latest\.weights\.h5: missing"):
        carry_run(runs, "tiny-1ep/unweighted-seed0")  # AdamW: carried with its moments, once it has a backup
    monkeypatch.setattr(carry, "MAX_SLOTS_MIB", 0.001)
    with pytest.raises(CarryError, match=r"recipe 'tiny' trains with adamw, whose moments would take about 0 MiB in "
                                         r"float32 \(at most 0\.001 are carried; SGD runs keep none\)"):
        carry_run(runs, "tiny-1ep/unweighted-seed0")
    assert carry.MAX_SLOTS_MIB < 2 * RECIPES["teacher-vggnet-gap-cosine"].cost()[0] * 4 / 2**20, \
        "an AdamW teacher of millions of parameters would commit tens of MiB a session"
    with pytest.raises(CarryError, match=r"tiny-sgd-3ep/unweighted-seed0/backup/latest\.weights\.h5: missing"):
        carry_run(runs, "tiny-sgd-3ep/unweighted-seed0")
    finished = runs / "tiny-sgd-3ep" / "unweighted-seed1"
    finished.mkdir(parents=True)
    (finished / "metrics.json").write_text(json.dumps({"completed_epochs": 3}))
    with pytest.raises(CarryError, match=r"unweighted-seed1: finished, nothing to carry; keep it with python -m "
                                         r"train\.archive"):
        carry_run(runs, "tiny-sgd-3ep/unweighted-seed1")
    with pytest.raises(CarryError, match="no recipe named 'nope'"):
        carry_run(runs, "nope-3ep/unweighted-seed0")
    with pytest.raises(CarryError, match="is not <recipe>-<epochs>ep"):
        carry_run(runs, "tiny-sgd/unweighted")
    assert not (repo / carry.CARRY).exists()


def test_a_run_caught_writing_an_epoch_is_read_again_and_anything_else_said_at_once(tmp_path, monkeypatch, capsys):
    reads, waits = [], []

    def busy_twice(runs_root, name, root=None):
        reads.append(name)
        if len(reads) <= 2:
            raise CarryBusyError(f"{name}: an epoch is being written")
        return tmp_path / "kept"

    monkeypatch.setattr(carry, "carry_run", busy_twice)
    assert carry_when_still(tmp_path, "r", attempts=3, wait_s=2.5, sleep=waits.append) == tmp_path / "kept"
    assert (len(reads), waits) == (3, [2.5, 2.5])
    assert capsys.readouterr().err.count("reading it again in 2.5 s") == 2
    reads.clear()
    waits.clear()
    with pytest.raises(CarryBusyError,
                       match=r"r: an epoch is being written; so at each of 2 reads 1 s apart: run it again"):
        carry_when_still(tmp_path, "r", attempts=2, wait_s=1, sleep=waits.append)
    assert (len(reads), waits) == (2, [1])

    def refused(runs_root, name, root=None):
        reads.append(name)
        raise CarryError(f"{name}: finished, nothing to carry")

    reads.clear()
    waits.clear()
    monkeypatch.setattr(carry, "carry_run", refused)
    with pytest.raises(CarryError, match="finished, nothing to carry"):
        carry_when_still(tmp_path, "r", attempts=5, wait_s=1, sleep=waits.append)
    assert (len(reads), waits) == (1, []), "only a run caught mid-epoch is read again"
    with pytest.raises(CarryError, match="expected at least 1 read"):
        carry_when_still(tmp_path, "r", attempts=0)
    for flag, value in (("--attempts", "0"), ("--wait", "-1")):
        with pytest.raises(SystemExit) as exit_info:
            carry.main([flag, value, "tiny-sgd-3ep/unweighted-seed0"])
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "expected a whole number, at least 1" in err and "expected a number of seconds, at least 0" in err


def test_a_finished_run_drops_its_own_carried_state_and_no_other(tmp_path, repo):
    name = "tiny-sgd-3ep/unweighted-seed0"
    carried = _fake_carried(repo, name)  # epochs 0 and 1
    run = tmp_path / "runs" / name
    run.mkdir(parents=True)
    (run / "log.csv").write_text((carried / "log.csv").read_text() + "2,0.6,0.5\n")
    assert drop_finished(name, run) is None and carried.is_dir(), "not finished yet: still needed"
    (run / "metrics.json").write_text(json.dumps({"completed_epochs": 3}))
    (run / "log.csv").write_text("epoch,accuracy,val_accuracy\n0,0.5,0.4\n1,0.7,0.4\n2,0.6,0.5\n")
    assert drop_finished(name, run) is None and carried.is_dir(), "another run of that name: its state is kept"
    (run / "log.csv").write_text((carried / "log.csv").read_text() + "2,0.6,0.5\n")
    assert drop_finished(name, run) == carried and not carried.exists()
    assert drop_finished(name, run) is None, "nothing carried any more"


def test_arrays_are_kept_in_float16_unless_float16_cannot_hold_them():
    small = np.array([0.1, -2.5, 3e-5], dtype=np.float32)
    assert carry._stored(small).dtype == np.float16
    np.testing.assert_allclose(carry._stored(small), small, rtol=1e-3)
    assert carry._stored(np.array([1e6], dtype=np.float32)).dtype == np.float32
    assert carry._stored(np.array([np.inf], dtype=np.float32)).dtype == np.float32
    assert carry._stored(np.array([3], dtype=np.int64)).dtype == np.int64


def _stopped_in_epoch_three(recipe, tmp_path, monkeypatch):
    """(spec, dataset) of ``recipe``'s run trained on a tiny fixture and stopped as epoch 3 began (2 epochs done)."""
    from device.datasets import load_fer2013
    from train import trainer
    from train.runs import STOP_ASKED

    data = write_fer_csv(tmp_path / "fer.csv.gz", {"train": 40, "val": 10})
    ds = load_fer2013(data)
    spec = RunSpec(recipe=recipe, variant="unweighted", seed=0, runs_root=tmp_path / "runs")
    begin = trainer.EpochTimer.on_epoch_begin

    def stop_in_epoch_three(self, epoch, logs=None):
        begin(self, epoch, logs)
        if epoch == 2:
            STOP_ASKED.set()

    with monkeypatch.context() as mp:
        mp.setattr(trainer.EpochTimer, "on_epoch_begin", stop_in_epoch_three)
        with pytest.raises(TrainingInterrupted):
            trainer.train_variant(spec, ds, verbose=0)
    STOP_ASKED.clear()
    return spec, ds


@pytest.mark.slow
def test_an_adamw_run_is_carried_with_its_moments_and_resumes_with_them(tmp_path, repo, monkeypatch):
    import shutil

    import keras

    from train import trainer

    adamw = replace(SGD, name="tiny-adamw", optimizer="adamw")
    monkeypatch.setitem(RECIPES, adamw.name, adamw)
    spec, ds = _stopped_in_epoch_three(adamw, tmp_path, monkeypatch)
    folder = carry_run(spec.runs_root, spec.ref.name)
    carried = load_carried(folder)
    info = json.loads((folder / "carry.json").read_text())
    trainable = [a for a in info["arrays"] if not a["path"].endswith(("moving_mean", "moving_variance"))]
    assert info["dropped"] is None and len(carried.slot_paths) == 2 * len(trainable), \
        "two moments for each trainable weight (BatchNorm's moving statistics have none)"
    assert info["slots"][0]["path"] == "b0_conv0_kernel_momentum", "named without the optimiser's process-wide number"
    with np.load(folder / "slots.npz") as kept:
        assert {kept[k].dtype for k in kept.files} == {np.dtype(np.float32)}
    kept_slots = carried.slots()
    assert any(np.abs(v).max() > 0 for v in kept_slots), "the moments after two epochs, not fresh zeros"

    shutil.rmtree(tmp_path / "runs")  # a new checkout
    seen = {}
    real_fit = keras.Model.fit

    def spy_fit(self, *args, **kwargs):
        seen["slots"] = [np.array(v.numpy()) for v in carry._slot_variables(self.optimizer)]
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy_fit)
    metrics = trainer.train_variant(spec, ds, verbose=0)
    assert len(seen["slots"]) == len(kept_slots)
    for got, kept in zip(seen["slots"], kept_slots, strict=True):
        np.testing.assert_array_equal(got, kept)
    assert metrics["completed_epochs"] == 3


@pytest.mark.slow
def test_a_stopped_run_carried_into_a_new_checkout_resumes_where_it_stopped(tmp_path, repo, monkeypatch, capsys):
    import keras

    spec, ds = _stopped_in_epoch_three(SGD, tmp_path, monkeypatch)
    from train import trainer

    # caught between the epoch's log line and its backup, then as the backup is rewritten: read again, not kept
    log = spec.run_dir / "log.csv"
    whole_log = log.read_text()
    log.write_text("".join(whole_log.splitlines(keepends=True)[:-1]))
    with pytest.raises(CarryBusyError, match=r"log\.csv has 1 epochs but the backup 2; an epoch is being written"):
        carry_run(spec.runs_root, spec.ref.name)
    backup = spec.run_dir / "backup" / "latest.weights.h5"
    real_load = keras.Model.load_weights
    waits = []

    def load_as_the_epoch_ends(self, path, *args, **kwargs):
        real_load(self, path, *args, **kwargs)
        if len(waits) == 1:  # the second read: the run finishes an epoch meanwhile
            stat = backup.stat()
            os.utime(backup, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

    def wait(seconds):
        waits.append(seconds)
        log.write_text(whole_log)  # the log line lands

    monkeypatch.setattr(keras.Model, "load_weights", load_as_the_epoch_ends)
    folder = carry_when_still(spec.runs_root, spec.ref.name, attempts=3, wait_s=0.5, sleep=wait)
    assert waits == [0.5, 0.5], "read three times: the log behind, the backup rewritten, then still"
    assert "rewritten while it was read" in capsys.readouterr().err
    monkeypatch.setattr(keras.Model, "load_weights", real_load)
    carried = load_carried(folder)
    steps = int(np.ceil(len(ds.splits["train"]) / SGD.batch_size))
    assert (carried.epoch, carried.iterations) == (2, 2 * steps)
    with np.load(folder / "weights.npz") as kept:
        assert {kept[k].dtype for k in kept.files} == {np.dtype(np.float16)}
    info = json.loads((folder / "carry.json").read_text())
    assert info["run"] == "tiny-sgd-3ep/unweighted-seed0" and "momentum" in info["dropped"]

    import shutil

    shutil.rmtree(tmp_path / "runs")  # a new checkout: the run folder is gone, the carried state is committed
    seen = {}
    real_fit = keras.Model.fit

    def spy_fit(self, *args, **kwargs):
        seen.update(weights=[np.array(w) for w in self.get_weights()], step=int(self.optimizer.iterations.numpy()),
                    initial_epoch=kwargs.get("initial_epoch"), best=(spec.run_dir / "best.keras").is_file())
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy_fit)
    metrics = trainer.train_variant(spec, ds, verbose=0)
    assert "restored from its carried state" in capsys.readouterr().out
    assert seen["initial_epoch"] == 2 and seen["step"] == 2 * steps, "the schedule goes on where it stopped"
    assert seen["best"], "the best checkpoint so far is back before training goes on"
    for got, kept in zip(seen["weights"], carried.latest()):
        np.testing.assert_array_equal(got, kept)
    assert metrics["completed_epochs"] == 3
    sessions = json.loads((spec.run_dir / "config.json").read_text())["sessions"]
    assert [s["epochs_done"] for s in sessions] == [0, 2]
    assert sessions[1]["restored_from"]["epoch"] == 2


def test_the_training_plan_says_a_run_resumes_from_its_carried_state(tmp_path, repo):
    from train.pipeline import plan_line

    _fake_carried(repo, "tiny-sgd-3ep/unweighted-seed0")
    runs = tmp_path / "runs"
    carried = RunSpec(recipe=SGD, variant="unweighted", seed=0, runs_root=runs)
    assert "resumes after epoch 2 from its carried state, " in plan_line(carried, runs)
    assert plan_line(replace(carried, variant="weighted"), runs).endswith("(3 epochs, to train)")


def test_the_cli_reports_a_damaged_carry_as_bad_input(tmp_path, repo, capsys):
    """``python -m train --plan`` reads the carried state to say where a run resumes: a damaged carry.json is one
    line and exit 2, naming the file, not a traceback."""
    from train.__main__ import main

    folder = _fake_carried(repo, "tiny-sgd-3ep/unweighted-seed0")
    (folder / "carry.json").write_text("{")
    rc = main(["--data", str(tmp_path / "fer.csv"), "--recipe", SGD.name, "--variants", "unweighted", "--runs",
               str(tmp_path / "runs"), "--plan"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "carry.json: unreadable carried state" in err, err
