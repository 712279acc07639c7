"""Distillation: soft targets from teacher runs, the student's run folder, and a clear error for a missing teacher."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from synthetic import write_fer_csv

import train.distill as distill
import train.models
import train.trainer as trainer
from train.distill import (
    KEPT_TARGETS,
    TEACHER_CACHE,
    cached_teacher_probs,
    distillation_targets,
    teacher_cache_dir,
    teacher_probs,
)
from train.pipeline import TeacherError, train_and_report
from train.recipes import RECIPES, TINY
from train.teachers import parse_teacher

pytestmark = pytest.mark.slow


def test_targets_mix_label_and_softened_teacher():
    logp = np.log(np.array([[0.7, 0.1, 0.05, 0.05, 0.05, 0.03, 0.02]]))
    y = np.array([1])
    labels_only = distillation_targets(logp, y, weight=0.0, temperature=2.0)
    np.testing.assert_allclose(labels_only, np.eye(7)[[1]])
    t1 = distillation_targets(logp, y, weight=1.0, temperature=1.0)
    np.testing.assert_allclose(t1, np.exp(logp) / np.exp(logp).sum(), rtol=1e-6)
    t2 = distillation_targets(logp, y, weight=1.0, temperature=2.0)
    assert t2[0, 0] < t1[0, 0] and t2[0, 6] > t1[0, 6]  # a higher temperature flattens the teacher
    half = distillation_targets(logp, y, weight=0.5, temperature=2.0)
    np.testing.assert_allclose(half.sum(axis=1), 1.0)
    np.testing.assert_allclose(half[0, 1], 0.5 + 0.5 * t2[0, 1])


def test_distillation_feeds_class_weights_as_per_image_sample_weights():
    """Distilling, fit() gets no class_weight (it would weigh the soft target's arg-max): the weighted variant's
    weights must reach the loss as each image's weight of its true label, in the same order as the images."""
    from core.dataset import Dataset, Split
    from train.models import build_augmenter
    from train.runs import class_weights

    rng = np.random.default_rng(0)
    y = np.array([0, 0, 0, 0, 1, 2, 3, 3, 4, 5, 6, 6])  # imbalanced: weights differ per class
    x = (np.arange(len(y))[:, None, None, None] * np.ones((1, 48, 48, 1))).astype(np.uint8)  # image i is all i
    ds = Dataset("mem", {"train": Split(x, y), "val": Split(x[:7], np.arange(7))})
    weights = class_weights(y)
    targets = distillation_targets(rng.normal(size=(len(y), 7)), y, weight=0.5, temperature=2.0)
    recipe = replace(TINY, flip=False, rotation_deg=0.0, translate=0.0, zoom=0.0, batch_size=len(y))
    train_ds, _ = trainer._datasets(ds, recipe, 0, build_augmenter(recipe, 0), targets, weights)
    batch = next(iter(train_ds))
    assert len(batch) == 3, "(images, soft targets, per-image weights)"
    images, soft, sample_w = (np.asarray(t) for t in batch)
    index = images[:, 0, 0, 0].round().astype(int)  # which image each row is (shuffled)
    np.testing.assert_allclose(soft, targets[index], rtol=1e-6)
    np.testing.assert_allclose(sample_w, [weights[int(k)] for k in y[index]], rtol=1e-6)
    assert len(set(np.round(sample_w, 4))) > 2, "the weights really differ between classes"


def test_missing_teacher_names_the_folder_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        teacher_probs(tmp_path, ("wide-40ep/unweighted-seed0",), np.zeros((2, 48, 48, 1), np.float32))
    msg = str(err.value)
    assert "wide-40ep/unweighted-seed0" in msg and "best.keras" in msg and "python -m train" in msg


@pytest.mark.parametrize("name", [n for n, r in sorted(RECIPES.items()) if r.teachers])
def test_distilling_recipes_name_existing_recipes_as_teachers(name):
    recipe = RECIPES[name]
    assert recipe.teachers and 0 < recipe.distill_weight < 1
    for teacher in recipe.teachers:
        resolved = parse_teacher(teacher, Path("runs"))
        if not resolved.is_run:  # a committed model file, pinned by its digest
            resolved.check()
            continue
        assert resolved.run.recipe in RECIPES and resolved.run.variant in ("unweighted", "weighted")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One small dataset and runs folder for the distillation tests: a teacher is trained once, by the first test
    that needs it (the pipeline trains a missing teacher run itself)."""
    tmp = tmp_path_factory.mktemp("distill")
    return write_fer_csv(tmp / "fer.csv.gz", {"train": 40, "val": 10, "test": 10}), tmp / "runs"


def test_student_trains_from_a_teacher_run_trained_first(shared):
    """The teacher run is missing: the pipeline trains it first, then both variants of the student from it."""
    data, runs = shared
    assert not (runs / "tiny-1ep").exists()
    student = replace(TINY, name="student", teachers=("tiny-1ep/unweighted-seed0",), distill_weight=0.5,
                      distill_temperature=2.0)
    results = train_and_report(data, student, ("unweighted", "weighted"), seed=0, runs_root=runs, report=False)
    for variant in ("unweighted", "weighted"):
        folder = runs / "student-1ep" / f"{variant}-seed0"
        config = json.loads((folder / "config.json").read_text())
        assert config["teachers"]["runs"] == ["tiny-1ep/unweighted-seed0"]
        assert 0.0 <= config["teachers"]["val_accuracy"] <= 1.0
        assert 0.5 <= config["teachers"]["mean_target_on_label"] <= 1.0
        assert (config["class_weights"] is None) == (variant == "unweighted")
        assert config["teachers"]["views"] == "mirror"
        log = (folder / "log.csv").read_text().splitlines()
        assert "val_accuracy" in log[0] and len(log) == 2
        assert 0.0 <= results[variant]["splits"]["test"]["accuracy"] <= 1.0
    teacher = json.loads((runs / "tiny-1ep" / "unweighted-seed0" / "metrics.json").read_text())
    assert teacher["completed_epochs"] == 1
    assert len(list((runs / TEACHER_CACHE).glob("*.npz"))) == 1, "both variants share one teacher cache"


@pytest.mark.parametrize("teacher", ["wide/unweighted-seed0", "nosuch-10ep/unweighted-seed0",
                                     "tiny-1ep/balanced-seed0"])
def test_unparseable_teacher_is_refused_before_training(tmp_path, teacher):
    student = replace(TINY, name="student", teachers=(teacher,), distill_weight=0.5)
    with pytest.raises(TeacherError, match=teacher):
        train_and_report(tmp_path / "absent.csv", student, ("unweighted",), seed=0, runs_root=tmp_path)


def test_teacher_predictions_are_cached_until_a_teacher_or_the_images_change(tmp_path, monkeypatch):
    calls = []

    def fake_teacher_probs(runs_root, teachers, *arrays, views="mirror"):
        calls.append(views)
        return [np.full((len(x), 7), float(len(calls)), np.float32) for x in arrays]

    monkeypatch.setattr(distill, "teacher_probs", fake_teacher_probs)
    teacher = tmp_path / "runs" / "t-1ep" / "unweighted-seed0" / "best.keras"
    teacher.parent.mkdir(parents=True)
    teacher.write_bytes(b"weights v1")
    cache = tmp_path / "runs" / TEACHER_CACHE
    x, v = np.zeros((5, 48, 48, 1), np.uint8), np.ones((3, 48, 48, 1), np.uint8)
    args = (tmp_path / "runs", ("t-1ep/unweighted-seed0",))

    first = cached_teacher_probs(cache, *args, x, v)
    again = cached_teacher_probs(cache, *args, x, v)
    assert len(calls) == 1 and len(list(cache.glob("*.npz"))) == 1
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert [a.shape for a in again] == [(5, 7), (3, 7)]

    teacher.write_bytes(b"weights v2")  # a retrained teacher makes the cache stale
    assert cached_teacher_probs(cache, *args, x, v)[0][0, 0] == 2.0
    cached_teacher_probs(cache, *args, x, v + 1)  # so do other images
    assert len(calls) == 3
    for kept in cache.glob("*.npz"):
        kept.write_bytes(b"not an npz")  # a damaged cache is rebuilt, not fatal
    cached_teacher_probs(cache, *args, x, v + 1)
    assert len(calls) == 4
    cached_teacher_probs(cache, *args, x, v + 1, views="tencrop")  # other views: other predictions
    assert calls[-1] == "tencrop" and len(calls) == 5


def test_a_cache_folder_keeps_one_file_per_teachers_views_and_images(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(distill, "teacher_probs",
                        lambda runs_root, teachers, *arrays, views="mirror": calls.append(views) or
                        [np.zeros((len(x), 7), np.float32) for x in arrays])
    folder = tmp_path / "runs" / TEACHER_CACHE
    x = np.zeros((4, 48, 48, 1), np.uint8)
    args = (tmp_path / "runs", ("t-1ep/unweighted-seed0",))
    (tmp_path / "runs" / "t-1ep" / "unweighted-seed0").mkdir(parents=True)
    (tmp_path / "runs" / "t-1ep" / "unweighted-seed0" / "best.keras").write_bytes(b"weights")
    for views in ("mirror", "tencrop", "mirror", "tencrop"):
        cached_teacher_probs(folder, *args, x, views=views)
    assert calls == ["mirror", "tencrop"], "each student after the first reuses the file"
    assert len(list(folder.glob("*.npz"))) == 2


def _fake_teachers(tmp_path, monkeypatch, names):
    """Teacher runs whose 'predictions' are a constant per teacher (its index + 1); the names each call predicted."""
    calls = []

    def fake_teacher_probs(runs_root, teachers, *arrays, views="mirror"):
        calls.append(teachers)
        value = np.mean([names.index(t) + 1.0 for t in teachers])
        return [np.full((len(x), 7), value, np.float32) for x in arrays]

    monkeypatch.setattr(distill, "teacher_probs", fake_teacher_probs)
    for name in names:
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        (folder / "best.keras").write_bytes(name.encode())
    return calls


def test_an_ensemble_is_put_together_from_the_kept_predictions_of_its_parts(tmp_path, monkeypatch):
    """A kept pair (an earlier student's whole-ensemble file) plus a new teacher: only the new one predicts, and the
    three-teacher mean weights the pair by its two teachers; a retrained teacher predicts again alone."""
    names = ["a-1ep/unweighted-seed0", "b-1ep/unweighted-seed0", "c-1ep/unweighted-seed0"]
    calls = _fake_teachers(tmp_path, monkeypatch, names)
    runs, folder = tmp_path / "runs", tmp_path / "runs" / TEACHER_CACHE
    x, v = np.zeros((4, 48, 48, 1), np.uint8), np.ones((2, 48, 48, 1), np.uint8)
    digests = distill._teacher_digests(runs, tuple(names))
    pair = tuple(names[:2])
    distill._write_kept(folder, distill._teacher_fingerprint(pair, digests, (x, v), "tencrop"),
                        [np.full((4, 7), 1.5, np.float32), np.full((2, 7), 1.5, np.float32)])

    logp, val_logp = cached_teacher_probs(folder, runs, tuple(names), x, v, views="tencrop")
    assert calls == [(names[2],)], "the kept pair is not predicted again"
    np.testing.assert_allclose(logp, (2 * 1.5 + 3.0) / 3, rtol=1e-6)
    assert logp.shape == (4, 7) and val_logp.shape == (2, 7) and logp.dtype == np.float32

    again = cached_teacher_probs(folder, runs, tuple(names), x, v, views="tencrop")
    assert len(calls) == 1, "the new teacher's own file is kept"
    np.testing.assert_array_equal(again[0], logp)
    alone = cached_teacher_probs(folder, runs, (names[2], names[0]), x, v, views="tencrop")
    assert calls == [(names[2],), (names[0],)], "another set reuses the parts it shares"
    np.testing.assert_allclose(alone[0], (3.0 + 1.0) / 2, rtol=1e-6)

    (runs / names[1] / "best.keras").write_bytes(b"retrained")  # the pair's file is stale now
    cached_teacher_probs(folder, runs, tuple(names), x, v, views="tencrop")
    assert calls[2:] == [(names[1],)], "only the retrained teacher predicts; the others' own files are used"
    cached_teacher_probs(folder, runs, tuple(names), x, v, views="mirror")
    assert len(calls) == 6, "other views: every teacher predicts again"


def test_every_teacher_to_predict_is_checked_before_the_first_predicts(tmp_path, monkeypatch):
    names = ["a-1ep/unweighted-seed0", "b-1ep/unweighted-seed0"]
    calls = _fake_teachers(tmp_path, monkeypatch, names)
    (tmp_path / "runs" / names[1] / "best.keras").unlink()
    with pytest.raises(FileNotFoundError, match="b-1ep"):
        cached_teacher_probs(tmp_path / "runs" / TEACHER_CACHE, tmp_path / "runs", tuple(names),
                             np.zeros((2, 48, 48, 1), np.uint8))
    assert calls == []


def test_teacher_views_average_the_ensembles_views(monkeypatch, tmp_path):
    """teacher_probs averages a teacher's log-probabilities over the recipe's views (train.ensemble.views)."""
    seen = []

    class Model:
        def predict(self, batch, batch_size=None, verbose=0):
            seen.append(batch.shape)
            return np.full((len(batch), 7), 1 / 7, np.float32)

    (tmp_path / "t-1ep" / "unweighted-seed0").mkdir(parents=True)
    (tmp_path / "t-1ep" / "unweighted-seed0" / "best.keras").write_bytes(b"x")
    monkeypatch.setattr(train.models, "load_float32", lambda path: Model())
    x = np.zeros((3, 48, 48, 1), np.float32)
    for views, count in (("mirror", 2), ("tencrop", 10)):
        seen.clear()
        (logp,) = teacher_probs(tmp_path, ("t-1ep/unweighted-seed0",), x, views=views)
        assert len(seen) == count and logp.shape == (3, 7)
        np.testing.assert_allclose(logp, np.log(1 / 7), rtol=1e-5)


def test_predictions_of_committed_model_teachers_are_kept_in_the_repository(tmp_path):
    """Teachers that are all model files inside the project depend on committed files alone: their predictions are
    kept beside them (to commit), so a fresh checkout does not predict them again; anything else stays in runs/."""
    root, runs = tmp_path / "project", tmp_path / "runs"
    inside = "models/teachers/t_float16.tflite#sha256=0123456789ab@tencrop"
    shipped = "models/unweighted_float32.tflite#sha256=ba9876543210@one"
    assert teacher_cache_dir(runs, (inside, shipped), root) == root.resolve() / KEPT_TARGETS
    assert teacher_cache_dir(runs, (inside, "t-1ep/unweighted-seed0"), root) == runs / TEACHER_CACHE
    outside = f"{tmp_path}/elsewhere/t.tflite#sha256=0123456789ab"
    assert teacher_cache_dir(runs, (inside, outside), root) == runs / TEACHER_CACHE
    assert teacher_cache_dir(runs, (), root) == runs / TEACHER_CACHE
