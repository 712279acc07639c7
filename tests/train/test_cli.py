"""``python -m train``'s checks come first: bad arguments and data fail in a second, before TensorFlow starts."""

from __future__ import annotations

import subprocess
import sys

import pytest
from synthetic import write_fer_csv

from train.__main__ import main as train_main


@pytest.mark.parametrize("flag,value", [("--seed", "-1"), ("--threads", "-1"), ("--epochs", "0"), ("--seed", "x")])
def test_bad_numbers_exit_2_naming_the_flag(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as info:
        train_main(["--data", str(tmp_path / "x.csv"), "--runs", str(tmp_path / "runs"), flag, value])
    assert info.value.code == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "runs").exists(), "no run folder is left behind"


def test_runs_that_is_a_file_is_refused_before_the_data_loads(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.write_text("not a folder")
    for target in (runs, runs / "sub"):
        assert train_main(["--data", str(tmp_path / "missing.csv"), "--runs", str(target)]) == 2
        assert f"{runs} is a file, expected a folder" in capsys.readouterr().err


def test_data_errors_come_before_tensorflow(tmp_path, repo_root):
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels,Usage\n9,1 2 3,Training\n")
    code = (
        "import sys\n"
        "from train.__main__ import main\n"
        f"rc = main(['--data', {str(bad)!r}, '--recipe', 'tiny', '--runs', {str(tmp_path / 'runs')!r}])\n"
        "print('rc', rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert "bad.csv, row 2: emotion '9' is not a label 0..6" in out.stderr
    assert out.stdout.split() == ["rc", "2", "False", "False"], (out.stdout, out.stderr[-1000:])


@pytest.mark.slow
def test_ctrl_c_during_training_says_how_to_resume(tmp_path, capsys, monkeypatch):
    pytest.importorskip("tensorflow")
    import keras

    data = write_fer_csv(tmp_path / "fer.csv", {"train": 2, "val": 1})

    def interrupted_fit(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "fit", interrupted_fit)
    rc = train_main(["--data", str(data), "--recipe", "tiny", "--epochs", "3", "--variants", "unweighted",
                     "--runs", str(tmp_path / "runs"), "--no-report"])
    err = capsys.readouterr().err
    assert rc == 130
    assert "stopped after epoch 0 of 3; run the same command to resume" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_stop_whose_interrupt_was_discarded_still_stops_training(tmp_path, capsys, monkeypatch):
    """SIGTERM's KeyboardInterrupt can land where Python discards it (a weakref callback: a GPU job once trained on
    past its time limit so). The stop is recorded too, and training raises it at the next batch."""
    pytest.importorskip("tensorflow")
    from train import trainer
    from train.runs import STOP_ASKED

    data = write_fer_csv(tmp_path / "fer.csv", {"train": 2, "val": 1})
    begin = trainer.EpochTimer.on_epoch_begin

    def signal_lost_in_epoch_two(self, epoch, logs=None):
        begin(self, epoch, logs)
        if epoch == 1:
            STOP_ASKED.set()  # what the handler records; its raise is taken to be lost

    monkeypatch.setattr(trainer.EpochTimer, "on_epoch_begin", signal_lost_in_epoch_two)
    rc = train_main(["--data", str(data), "--recipe", "tiny", "--epochs", "3", "--variants", "unweighted",
                     "--runs", str(tmp_path / "runs"), "--no-report"])
    assert rc == 130
    assert "stopped after epoch 1 of 3; run the same command to resume" in capsys.readouterr().err
    assert not STOP_ASKED.is_set()  # cleared for whatever runs next in this process


def test_plan_says_what_epochs_applies_to(tmp_path, capsys):
    """A recipe that needs other runs says, before anything starts, that they keep their own epochs."""
    from train.pipeline import plan_lines
    from train.recipes import RECIPES

    lines = plan_lines(RECIPES["wide-bf16-tail"].with_epochs(1), ("unweighted",), 0, tmp_path)
    assert lines == [
        "  needed first: wide-bf16-40ep/unweighted-seed0 (40 epochs, to train)",
        "  wide-bf16-tail-1ep/unweighted-seed0 (1 epoch, to train)",
    ]


def test_plan_flag_prints_the_runs_and_where_each_stands_and_trains_nothing(tmp_path, repo_root):
    """--plan on a chain whose teacher stopped after 2 of its epochs: that run resumes after epoch 2 (best val
    accuracy from its log), the others are to train; no data is read (a missing file is fine), nothing is written
    and TensorFlow is not imported."""
    from train.recipes import RECIPES
    from train.runs import RunSpec

    runs = tmp_path / "runs"
    teacher = RunSpec(recipe=RECIPES["teacher-vgg"], variant="unweighted", seed=0, runs_root=runs).run_dir
    teacher.mkdir(parents=True)
    (teacher / "log.csv").write_text("epoch,accuracy,val_accuracy\n0,0.3,0.41\n1,0.45,0.5234\n")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code = (
        "import sys\n"
        "from train.__main__ import main\n"
        f"rc = main(['--data', {str(tmp_path / 'missing.csv')!r}, '--recipe', 'student-vgg-tail', '--variants', "
        f"'unweighted', '--runs', {str(runs)!r}, '--plan'])\n"
        "print('rc', rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
    lines = out.stdout.splitlines()
    assert lines[1:] == [
        "  needed first: teacher-vgg-60ep/unweighted-seed0 (60 epochs, resumes after epoch 2, best val_accuracy so "
        "far 0.5234)",
        "  needed first: student-vgg-60ep/unweighted-seed0 (60 epochs, to train)",
        "  student-vgg-tail-4ep/unweighted-seed0 (4 epochs, to train)",
        "rc 0 False False",
    ], (out.stdout, out.stderr[-1000:])
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_missing_or_foreign_device_crops_fail_before_tensorflow(tmp_path, repo_root):
    """A recipe that trains on the device's crops names their file and the command that builds it when the file is
    missing or was cut from other training images, before TensorFlow starts."""
    import numpy as np

    from core.devicecrops import DeviceCrops, device_crops_path, write_device_crops

    data = write_fer_csv(tmp_path / "fer.csv", {"train": 2, "val": 1})
    runs = tmp_path / "runs"
    code = (
        "import sys\n"
        "from train.__main__ import main\n"
        f"rc = main(['--data', {str(data)!r}, '--recipe', 'student-deep-device-tail', '--runs', {str(runs)!r}])\n"
        "print('rc', rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    path = device_crops_path(runs, "blazeface")
    for problem in ("no device-crops file", "cut from other training images"):
        out = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120)
        assert str(path) in out.stderr and problem in out.stderr and "make device-crops" in out.stderr, out.stderr
        assert out.stdout.split()[-4:] == ["rc", "2", "False", "False"], (out.stdout, out.stderr[-1000:])
        n = 14  # 2 faces of each class: crops of 14 other faces
        write_device_crops(path, DeviceCrops(np.zeros((n, 48, 48), np.uint8), np.ones(n, bool), "0" * 64))
