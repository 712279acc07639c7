"""End-to-end: both variants for one epoch on a tiny fixture, the report, and resume after a hard kill."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic import write_fer_csv

from train.__main__ import main as train_main

pytestmark = pytest.mark.slow


FIT_CALLS: list[dict] = []  # what keras.Model.fit received in the tiny_runs fixture, one entry per run


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory) -> tuple[Path, Path]:
    import keras

    tmp = tmp_path_factory.mktemp("train")
    data = write_fer_csv(tmp / "fer.csv.gz", {"train": 40, "val": 10, "test": 10})
    runs = tmp / "runs"
    real_fit = keras.Model.fit

    def spy_fit(self, x=None, *args, **kwargs):  # records what reaches the loss, then trains as usual
        FIT_CALLS.append({"class_weight": kwargs.get("class_weight"), "element_spec": x.element_spec})
        return real_fit(self, x, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(keras.Model, "fit", spy_fit)
        assert train_main(["--data", str(data), "--recipe", "tiny", "--epochs", "1", "--runs", str(runs)]) == 0
    return data, runs


def test_class_weights_reach_fit(tiny_runs):
    """The study's variable: the weighted run hands fit() the inverse-frequency weights, the unweighted none."""
    from core.dataset import load_fer2013
    from train.runs import class_weights

    data, _ = tiny_runs
    assert len(FIT_CALLS) == 2, FIT_CALLS  # unweighted, then weighted
    unweighted, weighted = FIT_CALLS
    assert unweighted["class_weight"] is None
    y = load_fer2013(data).splits["train"].y
    assert weighted["class_weight"] == class_weights(y)
    # balanced classes here: every weight is 1; the point is that they are passed (imbalanced maths: test_class_weights)
    assert len(weighted["element_spec"]) == 2, "labels only: no per-image weights besides class_weight"


def test_stopped_during_final_evaluation_is_evaluated_not_retrained(tiny_runs, capsys):
    """After the last epoch Keras removes backup/; a run that stops before metrics.json is written (or whose
    metrics.json is deleted to re-evaluate) must be evaluated from its best checkpoint, never trained again."""
    data, runs = tiny_runs
    d = runs / "tiny-1ep" / "unweighted-seed0"
    log_before = (d / "log.csv").read_text()
    before = json.loads((d / "metrics.json").read_text())
    (d / "metrics.json").unlink()
    assert train_main(["--data", str(data), "--recipe", "tiny", "--epochs", "1", "--runs", str(runs),
                       "--variants", "unweighted", "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "all 1 epochs are trained; evaluating" in out and "resuming" not in out
    assert (d / "log.csv").read_text() == log_before, "no epoch was trained again"
    after = json.loads((d / "metrics.json").read_text())
    assert after["splits"]["test"]["accuracy"] == before["splits"]["test"]["accuracy"]
    assert after["completed_epochs"] == 1


def test_missing_class_with_weighted_variant_fails_before_training(tmp_path, capsys):
    data = write_fer_csv(tmp_path / "fer.csv", {"train": 3, "val": 1})
    lines = data.read_text().splitlines()
    data.write_text("\n".join(ln for ln in lines if not ln.startswith("1,") or ln.endswith("PublicTest")) + "\n")
    runs = tmp_path / "runs"
    rc = train_main(["--data", str(data), "--recipe", "tiny", "--epochs", "1", "--runs", str(runs)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "fer.csv: the training split has no examples of disgust" in err and "--variants unweighted" in err
    assert not runs.exists() or not any(runs.rglob("*.keras")), "nothing was trained before the check"


def test_both_variants_write_their_run_folders(tiny_runs):
    _, runs = tiny_runs
    for variant in ("unweighted", "weighted"):
        d = runs / "tiny-1ep" / f"{variant}-seed0"
        for name in ("config.json", "model_summary.txt", "log.csv", "best.keras", "metrics.json",
                     "history.png", "confusion_test.png"):
            assert (d / name).is_file(), f"{d / name} missing"
        metrics = json.loads((d / "metrics.json").read_text())
        assert metrics["completed_epochs"] == 1
        assert set(metrics["splits"]) == {"val", "test"}
        test = metrics["splits"]["test"]
        assert 0.0 <= test["accuracy"] <= 1.0 and len(test["confusion_matrix"]) == 7
        assert sum(map(sum, test["confusion_matrix"])) == 70
        config = json.loads((d / "config.json").read_text())
        assert (config["class_weights"] is None) == (variant == "unweighted")


def test_comparison_report(tiny_runs):
    _, runs = tiny_runs
    report = runs / "tiny-1ep" / "report-seed0.md"
    text = report.read_text()
    assert "| unweighted |" in text and "| weighted |" in text and "disgust" in text
    for png in ("class_weights.png", "confusion_test.png", "per_class_recall.png", "per_class_precision.png"):
        assert (runs / "tiny-1ep" / png).stat().st_size > 1000


def test_finished_run_is_not_retrained(tiny_runs, capsys):
    data, runs = tiny_runs
    assert train_main(["--data", str(data), "--recipe", "tiny", "--epochs", "1", "--runs", str(runs),
                       "--variants", "weighted", "--no-report"]) == 0
    assert "already complete" in capsys.readouterr().out


def _epochs_logged(log: Path) -> list[int]:
    if not log.exists():
        return []
    with open(log, newline="") as fh:
        return [int(r["epoch"]) for r in csv.DictReader(fh)]


def test_resume_after_kill(tmp_path, repo_root):
    data = write_fer_csv(tmp_path / "fer.csv", {"train": 150, "val": 5})
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "train", "--data", str(data), "--recipe", "tiny", "--epochs", "4",
           "--variants", "unweighted", "--runs", str(runs), "--no-report", "--threads", "1"]
    env = {**os.environ, "FEREDGE_CACHE": str(tmp_path / "cache")}
    log = runs / "tiny-4ep" / "unweighted-seed0" / "log.csv"
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(_epochs_logged(log)) < 1 and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = _epochs_logged(log)
    assert 1 <= len(done_before) < 4, "the kill must land mid-training for this test to mean anything"
    best = log.parent / "best.keras"
    kept = best.read_bytes()
    partial = log.parent / "best.partial.keras"
    partial.write_bytes(b"a save cut short")  # as a kill during ModelCheckpoint's save leaves it
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "resuming" in out.stdout
    assert "dropped best.partial.keras" in out.stdout, "a save cut short must be dropped before training resumes"
    from train.batches import stream_seed

    assert f"stream seed {stream_seed(0, len(done_before))}," in out.stdout, "the resumed part is not a replay"
    epochs = _epochs_logged(log)
    assert epochs == [0, 1, 2, 3], f"exactly one log row per epoch, in order: {epochs}"
    started = [int(m) for m in re.findall(r"^Epoch (\d+)/4", out.stdout, flags=re.M)]
    assert started and started[0] == len(done_before) + 1, f"resumed at epoch {started[:1]}, not after {done_before}"
    metrics = json.loads((log.parent / "metrics.json").read_text())
    assert metrics["completed_epochs"] == 4 and metrics["sessions"] == 2
    assert not partial.exists() and best.read_bytes() != b"a save cut short" and len(kept) > 0
    sessions = json.loads((log.parent / "config.json").read_text())["sessions"]
    assert [(x["epochs_done"], x["stream_seed"]) for x in sessions] == [
        (0, 0), (len(done_before), stream_seed(0, len(done_before)))], "each process that trained the run is recorded"


def test_a_resumed_run_shuffles_and_augments_on_a_stream_of_its_own():
    """A pipeline's streams restart from their seed in every process: resumed on the run's own seed, a run sees its
    first epochs' batches again, in the same order (and, but for the parallel map's ordering, the same transforms).
    The order is what can be checked exactly; the augmenter takes the same seed (trainer)."""
    import numpy as np

    from train.batches import stream_seed, training_batches
    from train.models import build_augmenter
    from train.recipes import RECIPES

    assert stream_seed(3, 0) == 3, "an uninterrupted run keeps its seed"
    assert len({stream_seed(3, done) for done in range(0, 60)}) == 60
    x = (np.arange(16 * 48 * 48) % 251).astype(np.uint8).reshape(16, 48, 48, 1)
    y = np.arange(16)

    def first_epoch_order(seed):
        batches = training_batches((x, y), 8, seed, build_augmenter(RECIPES["wide"], seed))
        return np.concatenate([yb.numpy() for _, yb in batches])

    fresh = first_epoch_order(stream_seed(0, 0))
    np.testing.assert_array_equal(fresh, first_epoch_order(stream_seed(0, 0)))  # what a resume on seed 0 replays
    assert not np.array_equal(fresh, first_epoch_order(stream_seed(0, 5))), "a resumed run's first epoch is new"


def test_the_optimiser_follows_the_recipe():
    import keras

    from train.recipes import RECIPES, TINY
    from train.trainer import _optimizer, _schedule_callbacks

    sgd = _optimizer(keras, RECIPES["teacher-vggnet"], steps_per_epoch=10)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == pytest.approx(0.9)
    assert sgd.weight_decay == pytest.approx(1e-4)
    assert isinstance(_optimizer(keras, TINY, 10), keras.optimizers.AdamW)
    from dataclasses import replace

    assert type(_optimizer(keras, replace(TINY, weight_decay=0.0), 10)) is keras.optimizers.Adam
    assert _schedule_callbacks(keras, TINY) == []


def test_a_plateau_recipe_trains_with_reduce_on_plateau_and_erasing(tmp_path, monkeypatch):
    """SGD + the plateau rule + random erasing (the teacher-vggnet kind) in a tiny run: the rate is cut after
    ``plateau_patience`` epochs without a better validation accuracy, and the log records it."""
    from dataclasses import replace

    from train import recipes
    from train.recipes import TINY

    plateau = replace(TINY, name="tiny-plateau", optimizer="sgd", learning_rate=1e-6, schedule="plateau",
                      plateau_patience=0, plateau_factor=0.5, erasing=1.0, warmup_epochs=0)
    monkeypatch.setitem(recipes.RECIPES, "tiny-plateau", plateau)
    data = write_fer_csv(tmp_path / "fer.csv.gz", {"train": 20, "val": 5})
    assert train_main(["--data", str(data), "--recipe", "tiny-plateau", "--epochs", "4", "--variants",
                       "unweighted", "--runs", str(tmp_path / "runs"), "--no-report"]) == 0
    with open(tmp_path / "runs" / "tiny-plateau-4ep" / "unweighted-seed0" / "log.csv") as f:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(f)]
    assert rates[0] == pytest.approx(1e-6) and rates[-1] < rates[0]  # patience 0: cut after a flat epoch


def test_a_recipe_with_an_unknown_schedule_or_optimiser_is_refused():
    from dataclasses import replace

    from train.recipes import TINY

    with pytest.raises(ValueError, match="schedule 'linear'"):
        replace(TINY, schedule="linear")
    with pytest.raises(ValueError, match="optimizer 'rmsprop'"):
        replace(TINY, optimizer="rmsprop")


def test_the_best_checkpoint_is_renamed_into_place_whole(tmp_path):
    """ModelCheckpoint writes beside the best checkpoint; PromoteCheckpoint renames it over the old one at the
    epoch's end, so a stop during the save never leaves a truncated best.keras."""
    from train.trainer import PromoteCheckpoint, partial_checkpoint

    final = tmp_path / "best.keras"
    partial = partial_checkpoint(final)
    assert partial == tmp_path / "best.partial.keras"
    final.write_bytes(b"epoch 1")
    promote = PromoteCheckpoint(partial, final)
    promote.on_epoch_end(1)  # not the best epoch: nothing written aside
    assert final.read_bytes() == b"epoch 1"
    partial.write_bytes(b"epoch 2")
    promote.on_epoch_end(2)
    assert final.read_bytes() == b"epoch 2" and not partial.exists()
