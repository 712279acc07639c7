"""Soup recipes: a run that averages other runs' best checkpoints instead of training (``Recipe.soup``)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import keras
import numpy as np
import pytest
from synthetic import finished_run, write_fer_csv

from core.fileio import sha256_file
from train.models import load_float32
from train.pipeline import prerequisite_specs, train_and_report
from train.recipes import RECIPES, TINY
from train.trainer import RunMismatchError

pytestmark = pytest.mark.slow

SOUP = replace(TINY, name="tiny-soup", epochs=0, soup=("tiny-1ep/{variant}-seed0", "tiny-1ep/{variant}-seed1"))


@pytest.fixture()
def data(tmp_path):
    return write_fer_csv(tmp_path / "fer.csv.gz", {"train": 40, "val": 10, "test": 10})


def test_a_soup_trains_its_members_first_and_is_their_mean_and_follows_them(tmp_path, data, capsys):
    from convert.pipeline import _prior_runs

    runs = tmp_path / "runs"
    train_and_report(data, SOUP, ("unweighted",), seed=0, runs_root=runs, report=False)
    members = [runs / "tiny-1ep" / f"unweighted-seed{s}" / "best.keras" for s in (0, 1)]
    a, b = (load_float32(m).get_weights() for m in members)
    assert any(not np.allclose(x, y) for x, y in zip(a, b, strict=True)), "two seeds: two different members"
    out = runs / "tiny-soup-0ep" / "unweighted-seed0"
    for got, x, y in zip(load_float32(out / "best.keras").get_weights(), a, b, strict=True):
        np.testing.assert_allclose(got, (x + y) / 2, rtol=1e-6, atol=1e-7)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["completed_epochs"] == 0 and "val" in metrics["splits"]
    config = json.loads((out / "config.json").read_text())
    assert config["soup"]["runs"] == ["tiny-1ep/unweighted-seed0", "tiny-1ep/unweighted-seed1"]
    assert [m["checkpoint_sha256"] for m in config["soup"]["members"]] == [sha256_file(m) for m in members]
    assert _prior_runs(runs, config) == config["soup"]["runs"], "the budget counts the members' training"
    assert config["backend"] == keras.backend.backend() and config[config["backend"]], "the framework it ran on"
    stamp = (out / "best.keras").stat().st_mtime_ns
    train_and_report(data, SOUP, ("unweighted",), seed=0, runs_root=runs, report=False)
    assert (out / "best.keras").stat().st_mtime_ns == stamp, "a finished soup is reused, not averaged again"
    shutil.copyfile(members[0], members[1])  # as if seed 1 were retrained: the soup is stale
    train_and_report(data, SOUP, ("unweighted",), seed=0, runs_root=runs, report=False)
    assert "tiny-1ep/unweighted-seed1 changed since this soup was averaged" in capsys.readouterr().out
    for got, x in zip(load_float32(out / "best.keras").get_weights(), a, strict=True):
        np.testing.assert_allclose(got, x, rtol=1e-6, atol=1e-7)
    config = json.loads((out / "config.json").read_text())
    assert [m["checkpoint_sha256"] for m in config["soup"]["members"]] == [sha256_file(m) for m in members]


def test_a_member_of_another_architecture_is_refused_before_anything_is_written(tmp_path, data):
    runs = tmp_path / "runs"
    finished_run(runs, "compact")
    soup = replace(SOUP, soup=("tiny-1ep/{variant}-seed0", "compact-1ep/{variant}-seed{seed}"))
    with pytest.raises(RunMismatchError, match=r"compact-1ep/unweighted-seed0/best\.keras.*architecture"):
        train_and_report(data, soup, ("unweighted",), seed=0, runs_root=runs, report=False)
    assert not (runs / "tiny-soup-0ep" / "unweighted-seed0" / "best.keras").exists()


def test_the_shipped_chains_soup_needs_both_tails_of_one_run_each_variant(tmp_path):
    names = [str(s.run_dir.relative_to(tmp_path)) for s in
             prerequisite_specs(RECIPES["student-vggnet-soup"], ("unweighted", "weighted"), 0, tmp_path)]
    assert names == ["student-vggnet-60ep/unweighted-seed0", "student-vggnet-tail-4ep/unweighted-seed0",
                     "student-vggnet-plain-tail-4ep/unweighted-seed0", "student-vggnet-60ep/weighted-seed0",
                     "student-vggnet-tail-4ep/weighted-seed0", "student-vggnet-plain-tail-4ep/weighted-seed0"]


@pytest.mark.parametrize("change", [{"epochs": 1}, {"soup": ("tiny-1ep/{variant}-seed0",)},
                                    {"init_from": "tiny-1ep/{variant}-seed0"}])
def test_a_soup_that_would_train_or_has_one_member_is_refused(change):
    with pytest.raises(ValueError, match="a soup averages at least two runs"):
        replace(SOUP, **change)


def test_the_cli_refuses_epochs_for_a_soup(tmp_path, capsys):
    from train.__main__ import main

    assert main(["--data", str(tmp_path / "absent.csv"), "--recipe", "student-vggnet-soup", "--epochs", "3",
                 "--runs", str(tmp_path / "runs")]) == 2
    assert "--epochs 3" in capsys.readouterr().err


def test_the_four_tail_soup_averages_seed_0_and_seed_1_tails_of_one_seed_0_run_whatever_the_seed(tmp_path):
    names = [str(s.run_dir.relative_to(tmp_path)) for s in
             prerequisite_specs(RECIPES["student-vggnet-soup4"], ("weighted",), 3, tmp_path)]
    assert names == ["student-vggnet-60ep/weighted-seed0", "student-vggnet-tail-4ep/weighted-seed0",
                     "student-vggnet-plain-tail-4ep/weighted-seed0", "student-vggnet-tail-reseeded-4ep/weighted-seed1",
                     "student-vggnet-plain-tail-reseeded-4ep/weighted-seed1"]
