"""Fine-tuning recipes: a run that starts from another run's best checkpoint (``Recipe.init_from``)."""

from __future__ import annotations

import json
from dataclasses import replace

import keras
import numpy as np
import pytest
from synthetic import finished_run, write_fer_csv

from core.fileio import sha256_file
from train.pipeline import TeacherError, prerequisite_specs, train_and_report
from train.recipes import RECIPES, TINY
from train.trainer import RunMismatchError, _lr_schedule

pytestmark = pytest.mark.slow

FROZEN = replace(TINY, name="ft", learning_rate=1e-12, init_from="tiny-1ep/{variant}-seed{seed}")


@pytest.fixture()
def data(tmp_path):
    # imbalanced training split: the weighted variant's loss, and so its trained kernel, differs from the unweighted
    return write_fer_csv(tmp_path / "fer.csv.gz", {"train": 40, "val": 10, "test": 10}, drop_train={0: 30, 1: 20})


def _conv_kernel(path) -> np.ndarray:
    return keras.models.load_model(path).get_layer("b0_conv0").get_weights()[0]


def test_fine_tuning_starts_from_the_runs_own_variant_and_trains_it_first(tmp_path, data):
    runs = tmp_path / "runs"
    train_and_report(data, FROZEN, ("unweighted", "weighted"), seed=2, runs_root=runs, report=False)
    kernels = {}
    for variant in ("unweighted", "weighted"):
        parent = runs / "tiny-1ep" / f"{variant}-seed2" / "best.keras"
        assert parent.is_file(), "the missing starting run is trained first"
        config = json.loads((runs / "ft-1ep" / f"{variant}-seed2" / "config.json").read_text())
        assert config["init_from"]["run"] == f"tiny-1ep/{variant}-seed2"
        assert config["init_from"]["checkpoint_sha256"] == sha256_file(parent)
        assert config["init_from"]["train_wall_s"] > 0
        # at a learning rate of 1e-12 the fine-tuned convolution is its starting run's, not a fresh random one
        child = _conv_kernel(runs / "ft-1ep" / f"{variant}-seed2" / "best.keras")
        kernels[variant] = _conv_kernel(parent)
        np.testing.assert_allclose(child, kernels[variant], atol=1e-6)
    assert not np.allclose(kernels["unweighted"], kernels["weighted"]), "each variant starts from its own run"


def test_a_run_of_another_architecture_is_refused(tmp_path, data):
    """The starting run is a finished compact run (written here, not trained: only its architecture matters)."""
    runs = tmp_path / "runs"
    finished_run(runs, "compact")
    ft = replace(FROZEN, init_from="compact-1ep/{variant}-seed{seed}")  # a compact model, not tiny
    with pytest.raises(RunMismatchError, match=r"compact-1ep/unweighted-seed0/best\.keras.*architecture"):
        train_and_report(data, ft, ("unweighted",), seed=0, runs_root=runs, report=False)


def test_an_unparseable_starting_run_is_refused_before_the_data_is_read(tmp_path):
    ft = replace(FROZEN, init_from="tiny/{variant}")
    with pytest.raises(TeacherError, match="init_from 'tiny/unweighted'"):
        train_and_report(tmp_path / "absent.csv", ft, ("unweighted",), seed=0, runs_root=tmp_path)


def test_prerequisites_come_before_what_needs_them_once_each(tmp_path):
    names = [str(s.run_dir.relative_to(tmp_path)) for s in
             prerequisite_specs(RECIPES["finetuned"], ("unweighted", "weighted"), 0, tmp_path)]
    assert names == ["wide-40ep/unweighted-seed0", "compact-50ep/unweighted-seed0", "distilled-60ep/unweighted-seed0",
                     "distilled-60ep/weighted-seed0"]


def test_the_finetuned_recipe_matches_the_architecture_it_starts_from():
    ft = RECIPES["finetuned"]
    parent = RECIPES[ft.init_from.split("-")[0]]
    for field in ("widths", "convs", "head", "dense_units", "block_dropout", "head_dropout", "bn_momentum"):
        assert getattr(ft, field) == getattr(parent, field), field
    assert ft.rotation_deg == ft.translate == ft.zoom == 0.0 and ft.flip


@pytest.mark.parametrize("warmup", [0, 1])
def test_cosine_schedule_warms_up_only_when_asked(warmup):
    recipe = replace(TINY, epochs=4, learning_rate=1e-3, warmup_epochs=warmup)
    schedule = _lr_schedule(keras, recipe, steps_per_epoch=10)
    first, last = float(schedule(0)), float(schedule(40))
    assert first == pytest.approx(1e-3 if warmup == 0 else 1e-4)
    assert last == pytest.approx(0.0, abs=1e-9)
    if warmup:
        assert float(schedule(10)) == pytest.approx(1e-3)


def test_a_run_whose_starting_checkpoint_changed_is_not_resumed(tmp_path, data):
    runs = tmp_path / "runs"
    train_and_report(data, FROZEN, ("unweighted",), seed=0, runs_root=runs, report=False)
    child = runs / "ft-1ep" / "unweighted-seed0"
    (child / "metrics.json").unlink()  # as if interrupted mid-epoch: the next call would resume it
    log = child / "log.csv"
    log.write_text(log.read_text().splitlines(keepends=True)[0])  # no finished epoch yet
    (child / "backup").mkdir()
    parent = runs / "tiny-1ep" / "unweighted-seed0" / "best.keras"
    parent.write_bytes(parent.read_bytes() + b"\0")  # the starting run was retrained meanwhile
    with pytest.raises(RunMismatchError, match="its starting run was retrained"):
        train_and_report(data, FROZEN, ("unweighted",), seed=0, runs_root=runs, report=False)


def test_a_needed_run_kept_in_the_repository_is_put_in_place_not_trained(tmp_path, data, monkeypatch, capsys):
    """A fresh checkout has no runs/: the starting run kept with its model (python -m train.archive --checkpoint)
    is used as it is, while the asked-for run itself trains."""
    from synthetic import finished_run

    import train.archive as archive

    repo = tmp_path / "repo"
    monkeypatch.setattr(archive, "project_root", lambda: repo)
    kept = finished_run(repo / archive.KEPT_ROOTS[0], "tiny")
    runs = tmp_path / "runs"
    from train.pipeline import plan_text

    assert "tiny-1ep/unweighted-seed0 (1 epoch, kept in " in plan_text(FROZEN, ("unweighted",), 0, runs)
    train_and_report(data, FROZEN, ("unweighted",), seed=0, runs_root=runs, report=False)
    start = runs / "tiny-1ep" / "unweighted-seed0"
    assert "the kept run" in capsys.readouterr().out
    assert (start / "best.keras").read_bytes() == (kept / "best.keras").read_bytes(), "not trained again"
    assert not (start / "log.csv").exists()
    config = json.loads((runs / "ft-1ep" / "unweighted-seed0" / "config.json").read_text())
    assert config["init_from"]["checkpoint_sha256"] == sha256_file(kept / "best.keras")
    assert (runs / "ft-1ep" / "unweighted-seed0" / "log.csv").is_file(), "the asked-for run trains"
