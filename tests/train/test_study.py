from __future__ import annotations

import json
import os

import numpy as np
import pytest
from synthetic import study_metrics

from core.labels import EMOTIONS
from train import results
from train.study_report import CLAIMS, aggregate


def test_readme_section_is_generated_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.BEGIN}\nold\n{results.END}\noutro\n")
    summary = aggregate({v: {s: study_metrics(0.6 + 0.01 * s, 0.4) for s in range(3)}
                         for v in ("unweighted", "weighted")}, "val")
    study = tmp_path / "study.json"
    meta = {"recipe": "tiny", "epochs": 1, "command": "python -m train.study"}
    study.write_text(json.dumps({"meta": meta, "claims": CLAIMS, **summary}))
    assert results.main(["--readme", str(readme), "--models", str(tmp_path / "none"),
                         "--studies", str(study)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "Do class weights help?" in text and "59.3 -> 65.0" in text


def test_study_driver_trains_only_missing_runs_and_names_failures(tmp_path, monkeypatch):
    """`make study`: every (variant, seed) without a complete run is trained as its own `python -m train`, jobs at
    a time; a failed run is named; finished runs are only read."""
    import subprocess
    import threading

    from core.fileio import atomic_write_json
    from train import study
    from train.recipes import TINY
    from train.runs import run_dir

    runs = tmp_path / "runs"
    for v in ("unweighted", "weighted"):  # seed 0 complete for both variants
        d = run_dir(runs, "tiny", 2, v, 0)
        atomic_write_json(d / "metrics.json", {**study_metrics(0.6, 0.4), "completed_epochs": 2})
        atomic_write_json(d / "config.json", {"recipe": TINY.with_epochs(2).to_dict()})
    started, lock, peak = [], threading.Lock(), [0, 0]

    def fake_run(cmd, *args, **kwargs):
        with lock:
            started.append(cmd)
            peak[0] += 1
            peak[1] = max(peak[1], peak[0])
        threading.Event().wait(0.05)
        with lock:
            peak[0] -= 1
        seed, variant = cmd[cmd.index("--seed") + 1], cmd[cmd.index("--variants") + 1]
        return subprocess.CompletedProcess(cmd, 1 if (seed, variant) == ("2", "weighted") else 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    args = study.build_parser().parse_args(["--data", str(tmp_path / "fer.csv"), "--recipe", "tiny", "--epochs", "2",
                                            "--seeds", "0", "1", "2", "--runs", str(runs), "--jobs", "2"])
    todo = [(v, s) for s in (1, 2) for v in ("unweighted", "weighted")]
    with pytest.raises(RuntimeError, match=r"training failed: .*--variants weighted --seed 2") as info:
        study._train_missing(args, [(TINY.with_epochs(2), v, s) for v, s in todo])
    assert "--seed 1" not in str(info.value), "only the failed run is named"
    assert len(started) == 4 and peak[1] == 2, "all four missing runs, two at a time"
    assert {c[c.index("--threads") + 1] for c in started} == {str(max(1, (os.cpu_count() or 1) // 2))}


def test_a_run_the_driver_finishes_is_archived_at_once_and_its_carried_state_dropped(tmp_path, monkeypatch, capsys):
    """A run carried across sessions and finished by the driver: archived as it finishes, its carried state removed
    (it is this run's own: its log is the start of the run's)."""
    import subprocess

    from core.fileio import atomic_write_json
    from train import carry, study
    from train.recipes import TINY
    from train.runs import run_dir

    monkeypatch.setattr(carry, "project_root", lambda: tmp_path)
    runs, archive = tmp_path / "runs", tmp_path / "archive"
    state = tmp_path / carry.CARRY / "tiny-2ep" / "unweighted-seed1"
    state.mkdir(parents=True)
    (state / "log.csv").write_text("epoch,accuracy\n0,0.5\n")
    (state / "carry.json").write_text("{}")

    def finish(cmd, *args, **kwargs):
        d = run_dir(runs, "tiny", 2, cmd[cmd.index("--variants") + 1], int(cmd[cmd.index("--seed") + 1]))
        (d / "log.csv").parent.mkdir(parents=True, exist_ok=True)
        (d / "log.csv").write_text("epoch,accuracy\n0,0.5\n1,0.6\n")
        atomic_write_json(d / "metrics.json", {**study_metrics(0.6, 0.4), "completed_epochs": 2})
        atomic_write_json(d / "config.json", {"recipe": TINY.with_epochs(2).to_dict()})
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", finish)
    args = study.build_parser().parse_args(["--data", str(tmp_path / "fer.csv"), "--recipe", "tiny", "--epochs", "2",
                                            "--runs", str(runs), "--jobs", "1"])
    study._train_missing(args, [(TINY.with_epochs(2), "unweighted", 1)], archive)
    assert (archive / "tiny-2ep" / "unweighted-seed1" / "metrics.json").is_file()
    assert not state.exists() and "unweighted-seed1 finished: its carried state" in capsys.readouterr().out


def test_study_reports_from_finished_runs_without_training(tmp_path, monkeypatch):
    import subprocess

    from core.fileio import atomic_write_json
    from train import study
    from train.recipes import TINY
    from train.runs import run_dir

    runs = tmp_path / "runs"
    for s in range(3):
        for v, acc in (("unweighted", 0.6), ("weighted", 0.57)):
            d = run_dir(runs, "tiny", 2, v, s)
            atomic_write_json(d / "metrics.json", {**study_metrics(acc + 0.01 * s, 0.4), "completed_epochs": 2})
            atomic_write_json(d / "config.json", {"recipe": TINY.with_epochs(2).to_dict()})
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a complete study trains nothing"))
    out = tmp_path / "report"
    assert study.main(["--data", str(tmp_path / "fer.csv"), "--recipe", "tiny", "--epochs", "2",
                       "--runs", str(runs), "--out", str(out)]) == 0
    summary = json.loads((out / "study.json").read_text())
    assert summary["paired"]["accuracy"]["mean"] == pytest.approx(-3.0)
    assert summary["meta"]["command"].startswith("python -m train.study --data")
    assert (out / "study.md").read_text().startswith("# Study")


def _fake_run(runs, recipe, variant, seed, acc, probs, y):
    """A finished run folder: metrics.json, config.json (training split counts) and predictions.npz."""
    import io

    from core.fileio import atomic_write_bytes, atomic_write_json
    from train.runs import PREDICTIONS, run_dir

    d = run_dir(runs, recipe.name, recipe.epochs, variant, seed)
    atomic_write_json(d / "metrics.json", {**study_metrics(acc, 0.4), "completed_epochs": recipe.epochs})
    counts = dict(zip(EMOTIONS, [3995, 436, 4097, 7215, 4830, 3171, 4965]))
    atomic_write_json(d / "config.json", {"recipe": recipe.to_dict(), "data_summary": {"train": counts}})
    buf = io.BytesIO()
    np.savez(buf, val_probs=probs.astype(np.float32), val_y=y)
    atomic_write_bytes(d / PREDICTIONS, buf.getvalue())


def test_budgets_and_prior_correction_at_each(tmp_path, monkeypatch):
    """Several budgets: one report each and one across them; at each budget the unweighted run's scores, corrected
    by the training priors at the tau that matches the weighted run's balanced accuracy, are compared with it."""
    import subprocess

    from core.balance import adjust, prior_vector, priors_from_counts
    from core.metrics import classification_metrics
    from train import study
    from train.recipes import TINY

    priors = prior_vector(priors_from_counts([3995, 436, 4097, 7215, 4830, 3171, 4965]))
    runs = tmp_path / "runs"
    rng = np.random.default_rng(0)
    scored: dict[int, list] = {2: [], 4: []}
    for epochs in (2, 4):
        recipe = TINY.with_epochs(epochs)
        for seed in range(3):
            y = rng.choice(7, size=600, p=priors)
            logits = rng.normal(0, 1, size=(600, 7)) + 1.5 * np.eye(7)[y] + np.log(priors)
            probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
            _fake_run(runs, recipe, "unweighted", seed, 0.6, probs, y)
            _fake_run(runs, recipe, "weighted", seed, 0.57, adjust(probs, priors, 0.6), y)  # = correction at 0.6
            scored[epochs].append((probs, y))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("finished runs are not trained again"))
    out = tmp_path / "reports"
    assert study.main(["--data", str(tmp_path / "fer.csv"), "--recipe", "tiny", "--epochs", "2", "4",
                       "--runs", str(runs), "--out", str(out)]) == 0
    budgets = json.loads((out / "tiny-budgets" / "budgets.json").read_text())
    assert [b["epochs"] for b in budgets["budgets"]] == [2, 4]
    for b in budgets["budgets"]:
        assert b["accuracy"]["mean"] == pytest.approx(-3.0)
        # the weighted scores are the unweighted ones corrected at tau 0.6: the least tau that reaches their balanced
        # accuracy is at most 0.6 (balanced accuracy is a step function of tau), and there the accuracy is no lower
        assert all(t <= 0.6 for t in b["posthoc"]["tau"]) and not b["posthoc"]["unreached"]
        assert min(b["posthoc"]["accuracy_diff"]["diffs"]) >= 0.0
    per_budget = json.loads((out / "tiny-4ep" / "study.json").read_text())
    for seed, row in per_budget["posthoc"]["per_seed"].items():
        assert row["reached"] and row["balanced_accuracy"] >= row["weighted_balanced_accuracy"], seed
        p, y = scored[4][int(seed)]
        below = classification_metrics(y, adjust(p, priors, round(row["tau"] - 0.01, 2)))["balanced_accuracy"]
        assert row["tau"] == 0 or 100 * below < row["weighted_balanced_accuracy"], "the least such tau"
    assert "## Prior correction instead of class weights" in (out / "tiny-4ep" / "study.md").read_text()
    # the trade-off curve: each variant's corrected scores, tau 0 to 1, averaged over seeds
    curve = per_budget["curve"]
    assert [r["tau"] for r in curve["unweighted"]] == [round(0.1 * i, 1) for i in range(11)]
    as_trained = [classification_metrics(y, p)["accuracy"] for p, y in scored[4]]
    assert curve["unweighted"][0]["accuracy"] == pytest.approx(np.mean(as_trained))
    at_06 = [classification_metrics(y, adjust(p, priors, 0.6))["balanced_accuracy"] for p, y in scored[4]]
    assert curve["unweighted"][6]["balanced_accuracy"] == pytest.approx(np.mean(at_06), abs=1e-6)
    assert curve["weighted"][0]["balanced_accuracy"] == pytest.approx(np.mean(at_06), abs=1e-6), (
        "the weighted model as trained is its curve's tau-0 point")
    text = (out / "tiny-4ep" / "study.md").read_text()
    assert "## The trade-off curve" in text and "### weighted" in text and "![trade-off](study_tradeoff.png)" in text
    assert (out / "tiny-4ep" / "study_tradeoff.png").stat().st_size > 0
    # and at tau 1 for every seed, fixed in advance: the weighted runs here are the same scores corrected at 0.6
    fixed = per_budget["posthoc"]["fixed"]
    gap = [100 * (classification_metrics(y, adjust(p, priors, 1.0))["accuracy"]
                  - classification_metrics(y, adjust(p, priors, 0.6))["accuracy"]) for p, y in scored[4]]
    assert fixed["tau"] == 1.0 and fixed["accuracy_diff"]["mean"] == pytest.approx(np.mean(gap), abs=1e-6)
    assert "At tau 1 for every seed" in text
    assert budgets["budgets"][1]["posthoc"]["fixed"] == fixed
    assert "| 4 | 3 | val |" in (out / "tiny-budgets" / "budgets.md").read_text()
    assert (out / "tiny-budgets" / "budgets.png").stat().st_size > 0
    assert "![paired differences against the budget](budgets.png)" in (out / "tiny-budgets" / "budgets.md").read_text()


def test_plan_lists_every_run_and_the_epochs_left_without_data(tmp_path, capsys):
    """--plan: one line per budget x seed x variant with its state; a partial run counts its remaining epochs."""
    from train.study import main

    runs = tmp_path / "runs"
    partial = runs / "compact-16ep" / "unweighted-seed0"
    partial.mkdir(parents=True)
    (partial / "log.csv").write_text("epoch,accuracy,val_accuracy\n" + "".join(f"{e},0.5,0.4{e}\n" for e in range(5)))
    done = runs / "compact-16ep" / "weighted-seed0"
    done.mkdir(parents=True)
    (done / "metrics.json").write_text(json.dumps({"completed_epochs": 16}))
    rc = main(["--data", str(tmp_path / "absent.csv"), "--epochs", "16", "32", "--seeds", "0", "--runs", str(runs),
               "--archive", str(tmp_path / "archive"), "--plan"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "compact-16ep/unweighted-seed0 (16 epochs, resumes after epoch 5, best val_accuracy so far 0.4400)" in out
    assert "compact-16ep/weighted-seed0 (16 epochs, done, reused)" in out
    assert out.count("(32 epochs, to train)") == 2
    assert "epochs left to train: 75" in out  # 11 + 0 + 32 + 32
    assert " h at " not in out, "no finished run with a wall time: no estimate"
    (done / "metrics.json").write_text(json.dumps({"completed_epochs": 16, "train_wall_s": 16 * 96.0}))
    main(["--data", str(tmp_path / "absent.csv"), "--epochs", "16", "32", "--seeds", "0", "--runs", str(runs),
          "--archive", str(tmp_path / "archive"), "--jobs", "2", "--plan"])
    assert "epochs left to train: 75, about 1.0 h at 2 run(s) at a time and 96 s per epoch" in capsys.readouterr().out


def test_plan_counts_a_carried_runs_epochs_as_done(tmp_path, monkeypatch, capsys):
    """In a new checkout a run carried after epoch 10 (train.carry) has only its remaining epochs left."""
    from train import carry
    from train.study import main

    monkeypatch.setattr(carry, "project_root", lambda: tmp_path / "repo")
    kept = tmp_path / "repo" / carry.CARRY / "compact-32ep" / "weighted-seed0"
    kept.mkdir(parents=True)
    (kept / "carry.json").write_text(json.dumps({"epoch": 10, "iterations": 2250, "best": False, "arrays": []}))
    main(["--data", str(tmp_path / "absent.csv"), "--epochs", "32", "--seeds", "0", "--runs", str(tmp_path / "runs"),
          "--archive", str(tmp_path / "archive"), "--plan"])
    out = capsys.readouterr().out
    assert "compact-32ep/weighted-seed0 (32 epochs, resumes after epoch 10 from its carried state" in out
    assert "epochs left to train: 54" in out  # 32 + 22


def test_report_only_reports_finished_budgets_and_lists_the_rest(tmp_path, monkeypatch, capsys):
    """--report-only trains nothing: finished budgets are reported, unfinished ones listed as pending; with no
    finished budget it is a clear error, exit 2."""
    import subprocess

    from train import study
    from train.recipes import TINY

    runs = tmp_path / "runs"
    rng = np.random.default_rng(1)
    recipe = TINY.with_epochs(2)
    for seed in range(3):
        y = rng.integers(0, 7, size=200)
        probs = rng.dirichlet(np.ones(7), size=200)
        _fake_run(runs, recipe, "unweighted", seed, 0.6, probs, y)
        _fake_run(runs, recipe, "weighted", seed, 0.57, probs, y)
    _fake_run(runs, TINY.with_epochs(4), "unweighted", 0, 0.6, probs, y)  # one run of the 4-epoch budget
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("--report-only trains nothing"))
    out = tmp_path / "reports"
    args = ["--data", str(tmp_path / "fer.csv"), "--recipe", "tiny", "--runs", str(runs), "--out", str(out),
            "--report-only"]
    assert study.main([*args, "--epochs", "2", "4"]) == 0
    budgets = json.loads((out / "tiny-budgets" / "budgets.json").read_text())
    assert [b["epochs"] for b in budgets["budgets"]] == [2]
    assert budgets["pending"] == [{"epochs": 4, "runs_left": 5}]
    assert "4 epochs (5 run(s) left)" in (out / "tiny-budgets" / "budgets.md").read_text()
    assert not (out / "tiny-4ep").exists()
    capsys.readouterr()
    assert study.main([*args, "--epochs", "4"]) == 2
    assert "no budget of 4 epochs has all its runs finished" in capsys.readouterr().err


def test_finished_runs_are_archived_and_a_checkout_without_runs_reports_them(tmp_path, monkeypatch, capsys):
    """A study over several sessions: each finished run's report files are copied to the archive; with runs/ gone
    (a fresh checkout) the archived runs are reported, not trained, when they were trained on the same data; a copy
    trained on other data is trained again; the plan marks archived runs."""
    import shutil
    import subprocess

    from synthetic import write_fer_csv

    from core.dataset import load_fer2013
    from train import study
    from train.recipes import TINY

    data = write_fer_csv(tmp_path / "fer.csv", {"train": 3, "val": 2})
    counts = load_fer2013(data).summary()
    runs, archive, out = tmp_path / "runs", tmp_path / "archive", tmp_path / "reports"
    rng = np.random.default_rng(2)
    recipe = TINY.with_epochs(2)
    for seed in range(3):
        y = rng.integers(0, 7, size=100)
        probs = rng.dirichlet(np.ones(7), size=100)
        _fake_run(runs, recipe, "unweighted", seed, 0.6 + 0.01 * seed, probs, y)
        _fake_run(runs, recipe, "weighted", seed, 0.57, probs, y)
    for d in runs.glob("tiny-2ep/*"):  # the runs record the data they were trained on
        config = json.loads((d / "config.json").read_text())
        (d / "config.json").write_text(json.dumps({**config, "data_summary": counts}))
    (runs / "tiny-2ep" / "weighted-seed2" / "metrics.json").unlink()  # one run unfinished: not archived
    from train import carry

    monkeypatch.setattr(carry, "project_root", lambda: tmp_path)  # carried runs under tmp_path/reports/carry
    log = "epoch,accuracy\n0,0.5\n"
    for name in ("unweighted-seed0", "weighted-seed2"):  # carried earlier in the study; one has finished since
        (runs / "tiny-2ep" / name / "log.csv").write_text(log + "1,0.6\n")
        state = tmp_path / carry.CARRY / "tiny-2ep" / name
        state.mkdir(parents=True)
        (state / "log.csv").write_text(log)
        (state / "carry.json").write_text("{}")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("--report-only trains nothing"))
    args = ["--data", str(data), "--recipe", "tiny", "--epochs", "2", "--runs", str(runs), "--archive", str(archive),
            "--out", str(out), "--report-only"]
    assert study.main(args) == 2
    assert sorted(p.parent.name for p in archive.glob("tiny-2ep/*/metrics.json")) == [
        "unweighted-seed0", "unweighted-seed1", "unweighted-seed2", "weighted-seed0", "weighted-seed1"]
    assert {p.name for p in (archive / "tiny-2ep" / "weighted-seed0").iterdir()} == {
        "config.json", "metrics.json", "predictions.npz"}, "the report's files only, no checkpoint"
    assert not (tmp_path / carry.CARRY / "tiny-2ep" / "unweighted-seed0").exists(), "finished: its carried state goes"
    assert (tmp_path / carry.CARRY / "tiny-2ep" / "weighted-seed2" / "carry.json").is_file(), "unfinished: kept"
    assert "tiny-2ep/unweighted-seed0 finished: its carried state" in capsys.readouterr().out
    _fake_run(runs, recipe, "weighted", 2, 0.57, probs, y)
    config = json.loads((runs / "tiny-2ep" / "weighted-seed2" / "config.json").read_text())
    (runs / "tiny-2ep" / "weighted-seed2" / "config.json").write_text(json.dumps({**config, "data_summary": counts}))
    assert study.main(args) == 0
    before = json.loads((out / "study.json").read_text())
    assert before["meta"]["from_archive"] == []

    shutil.rmtree(runs)  # a fresh checkout: the archive alone
    assert study.main(args) == 0
    after = json.loads((out / "study.json").read_text())
    assert after["paired"] == before["paired"] and after["posthoc"] == before["posthoc"]
    assert len(after["meta"]["from_archive"]) == 6
    assert "Read from the study's archive" in (out / "study.md").read_text()
    capsys.readouterr()
    assert study.main([*args[:-1], "--plan"]) == 0
    assert capsys.readouterr().out.count("archived: reported from the archive, not trained") == 6

    other = write_fer_csv(tmp_path / "other.csv", {"train": 4, "val": 2})  # other data: the copies do not count
    capsys.readouterr()
    assert study.main(["--data", str(other), *args[2:]]) == 2
    assert "was trained on other data" in capsys.readouterr().out


def test_an_archived_run_of_another_recipe_is_refused(tmp_path, capsys):
    from dataclasses import replace

    from train import study
    from train.recipes import TINY

    archive = tmp_path / "archive"
    y = np.zeros(10, int)
    _fake_run(archive, replace(TINY.with_epochs(2), learning_rate=0.5), "unweighted", 0, 0.6, np.eye(7)[y], y)
    assert study.main(["--data", str(tmp_path / "absent.csv"), "--recipe", "tiny", "--epochs", "2", "--seeds", "0",
                       "--runs", str(tmp_path / "runs"), "--archive", str(archive), "--report-only"]) == 2
    err = capsys.readouterr().err
    assert "archive/tiny-2ep/unweighted-seed0/config.json" in err and "learning_rate" in err


@pytest.mark.parametrize("flag", ["--runs", "--archive"])
def test_a_runs_or_archive_folder_that_is_a_file_is_refused_before_anything(tmp_path, capsys, flag):
    from train import study

    blocker = tmp_path / "file"
    blocker.write_text("x")
    folders = {"--runs": str(tmp_path / "runs"), "--archive": str(tmp_path / "archive"), flag: str(blocker / "sub")}
    assert study.main(["--data", str(tmp_path / "absent.csv"), "--recipe", "tiny", "--epochs", "2",
                       "--runs", folders["--runs"], "--archive", folders["--archive"]]) == 2
    assert f"{flag} {blocker / 'sub'}: {blocker} is a file" in capsys.readouterr().err
