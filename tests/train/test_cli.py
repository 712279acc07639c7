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


def test_plan_says_what_epochs_applies_to(tmp_path, capsys):
    """A recipe that needs other runs says, before anything starts, that they keep their own epochs."""
    from train.pipeline import plan_lines
    from train.recipes import RECIPES

    lines = plan_lines(RECIPES["wide-bf16-tail"].with_epochs(1), ("unweighted",), 0, tmp_path)
    assert lines == [
        "  needed first: wide-bf16-40ep/unweighted-seed0 (40 epochs, to train)",
        "  wide-bf16-tail-1ep/unweighted-seed0 (1 epochs, to train)",
    ]
