"""Teachers named as runs or as converted model files (``train.teachers``): parsing, the digest that pins a file,
the TFLite predictor, and their use by distillation, the ensemble score and the training plan."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from synthetic import synthetic_images, write_fer_csv

from core.fileio import sha256_file
from device.classifier import ClassifierOptions, EmotionClassifier
from train.distill import teacher_probs
from train.ensemble import main as ensemble_main
from train.ensemble import views
from train.pipeline import TeacherError, plan_text, train_and_report
from train.recipes import TINY
from train.runs import RunNameError
from train.teachers import (
    TeacherFileError,
    keep_teacher_file,
    kept_path,
    model_teacher_name,
    names_model_file,
    parse_teacher,
)


@pytest.fixture
def model_file(tmp_path: Path, fixtures_dir: Path) -> tuple[Path, str]:
    """A float32 TFLite model inside a fake project root, and its teacher name."""
    path = tmp_path / "project" / "models" / "m_float32.tflite"
    path.parent.mkdir(parents=True)
    shutil.copyfile(fixtures_dir / "tiny_float32.tflite", path)
    return path, f"models/m_float32.tflite#sha256={sha256_file(path)[:12]}"


def test_a_run_name_is_its_best_checkpoint(tmp_path: Path) -> None:
    t = parse_teacher("wide-40ep/unweighted-seed0", tmp_path)
    assert t.is_run and t.path == tmp_path / "wide-40ep" / "unweighted-seed0" / "best.keras"
    assert (t.run.recipe, t.run.epochs, t.run.variant, t.run.seed) == ("wide", 40, "unweighted", 0)
    with pytest.raises(FileNotFoundError, match=r"python -m train --recipe wide --epochs 40"):
        t.check()


def test_a_model_file_is_pinned_by_its_digest(model_file: tuple[Path, str], tmp_path: Path) -> None:
    path, name = model_file
    root = tmp_path / "project"
    t = parse_teacher(name, tmp_path / "runs", root)
    assert not t.is_run and t.path == path and len(t.digest) == 12
    t.check()
    assert model_teacher_name(path, root) == name
    other = parse_teacher(name.replace(t.digest, "0" * 12), tmp_path / "runs", root)
    with pytest.raises(TeacherFileError, match=f"has sha256 {t.digest}.*not 000000000000.*teachers"):
        other.check()
    # a newer model ships at the path: the named one is found where it was kept
    kept = kept_path(path, t.digest)
    assert kept == path.parent / "teachers" / f"m_float32-{t.digest}.tflite"
    kept.parent.mkdir()
    shutil.copyfile(path, kept)
    path.write_bytes(b"a newer model")
    assert t.located() == kept
    kept.unlink()
    with pytest.raises(TeacherFileError, match=f"not {t.digest}"):
        t.check()
    path.unlink()
    with pytest.raises(TeacherFileError, match="m_float32.tflite.*missing"):
        t.check()


@pytest.mark.parametrize("name,why", [("models/m.tflite", "#sha256="), ("models/m.tflite#sha256=abc", "#sha256="),
                                      ("not-a-run", "nor <path>.tflite")])
def test_names_that_are_neither_say_how_to_name_them(name: str, why: str, tmp_path: Path) -> None:
    with pytest.raises(RunNameError, match=why):
        parse_teacher(name, tmp_path)


def test_a_model_teacher_predicts_in_the_device_interpreter(model_file: tuple[Path, str], tmp_path: Path) -> None:
    path, name = model_file
    x, _ = synthetic_images(1, seed=4)
    faces = x[..., None].astype(np.float32)
    expected = EmotionClassifier(ClassifierOptions(path)).predict_proba(faces)
    got = parse_teacher(name, tmp_path, tmp_path / "project").predictor()(faces)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("threads,expected", [(0, 3), (1, 1), (2, 2)])
def test_a_model_teacher_uses_every_core_unless_told(model_file: tuple[Path, str], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch, threads: int,
                                                     expected: int) -> None:
    """Ten views of every training face through a large teacher take an hour on one thread: 0 means all cores."""
    import device.classifier

    path, name = model_file
    seen = []
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    monkeypatch.setattr(device.classifier, "EmotionClassifier",
                        lambda options: seen.append(options) or SimpleNamespace(predict_proba=None))
    parse_teacher(name, tmp_path, tmp_path / "project").predictor(threads)
    assert [o.num_threads for o in seen] == [expected]


def test_distillation_averages_a_model_teachers_views(model_file: tuple[Path, str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path, name = model_file
    monkeypatch.setattr("train.teachers.project_root", lambda: tmp_path / "project")
    x, _ = synthetic_images(1, seed=6)
    faces = x[..., None].astype(np.float32)
    (logp,) = teacher_probs(tmp_path / "runs", (name,), faces, views="mirror")
    clf = EmotionClassifier(ClassifierOptions(path))
    expected = np.mean([np.log(np.clip(clf.predict_proba(v), 1e-7, 1)) for v in views(faces, "mirror")], axis=0)
    np.testing.assert_allclose(logp, expected, rtol=1e-5)
    with pytest.raises(TeacherFileError):  # every teacher is checked before any predicts
        teacher_probs(tmp_path / "runs", (name, name.replace(name[-12:], "f" * 12)), faces)


def test_the_plan_checks_a_model_teacher_before_any_data_loads(model_file: tuple[Path, str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path, name = model_file
    monkeypatch.setattr("train.teachers.project_root", lambda: tmp_path / "project")
    recipe = replace(TINY, name="tiny", teachers=(name,), distill_weight=0.5)
    assert f"teacher model: {path}" in plan_text(recipe, ("unweighted",), 0, tmp_path / "runs")
    stale = replace(recipe, teachers=(name.replace(name[-12:], "0" * 12),))
    with pytest.raises(TeacherError, match="m_float32.tflite"):
        train_and_report(data=tmp_path / "no-such.csv", recipe=stale, variants=("unweighted",), seed=0,
                         runs_root=tmp_path / "runs", report=False)


def test_the_ensemble_scores_a_model_file_beside_nothing_else(model_file: tuple[Path, str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path, name = model_file
    monkeypatch.setattr("train.teachers.project_root", lambda: tmp_path / "project")
    data = write_fer_csv(tmp_path / "fer.csv", {"train": 1, "val": 2})
    out = tmp_path / "report"
    assert ensemble_main(["--data", str(data), "--members", name, "--views", "one", "mirror", "--out", str(out)]) == 0
    text = (out / "ensemble.md").read_text()
    assert f"| {name} | " in text and "| **ensemble** |" in text
    assert ensemble_main(["--data", str(data), "--members", "models/m_float32.tflite", "--out", str(out)]) == 2
    assert "#sha256=" in capsys.readouterr().err


def test_a_model_a_recipe_names_is_kept_before_a_new_one_replaces_it(model_file: tuple[Path, str],
                                                                      tmp_path: Path) -> None:
    path, name = model_file
    root = tmp_path / "project"
    digest = name[-12:]
    assert keep_teacher_file(path, ["wide-40ep/unweighted-seed0"], root) is None  # no teacher names it
    assert keep_teacher_file(path, [name.replace(digest, "0" * 12)], root) is None  # another file's digest
    kept = keep_teacher_file(path, ["wide-40ep/unweighted-seed0", name], root)
    assert kept == kept_path(path, digest) and kept.read_bytes() == path.read_bytes()
    assert keep_teacher_file(path, [name], root) is None  # kept already
    path.write_bytes(b"the newly shipped model")  # what convert writes next
    assert parse_teacher(name, tmp_path / "runs", root).located() == kept
    assert keep_teacher_file(tmp_path / "nothing.tflite", [name], root) is None


def test_a_name_may_pin_the_teachers_views(model_file: tuple[Path, str], tmp_path: Path) -> None:
    path, name = model_file
    root = tmp_path / "project"
    run = parse_teacher("teacher-vgg-60ep/unweighted-seed0@tencrop", tmp_path)
    assert run.is_run and run.views == "tencrop" and run.views_or("mirror") == "tencrop"
    assert run.path == tmp_path / "teacher-vgg-60ep" / "unweighted-seed0" / "best.keras"
    assert parse_teacher("teacher-vgg-60ep/unweighted-seed0", tmp_path).views_or("mirror") == "mirror"
    pinned = parse_teacher(f"{name}@one", tmp_path, root)
    assert not pinned.is_run and pinned.views == "one" and pinned.path == path and pinned.located() == path
    assert names_model_file(f"{name}@one") and not names_model_file("wide-40ep/unweighted-seed0@one")
    with pytest.raises(RunNameError, match="one, mirror, tencrop; not 'sevencrop'"):
        parse_teacher("teacher-vgg-60ep/unweighted-seed0@sevencrop", tmp_path)
    assert not names_model_file(f"{name}@sevencrop")
    kept = keep_teacher_file(path, [f"{name}@one"], root)  # a pinned name keeps its file too
    assert kept == kept_path(path, name[-12:])


def test_distillation_and_the_ensemble_use_a_pinned_teachers_views(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, int] = {}

    def load(path: Path) -> str:
        return path.parent.parent.name

    def predict(model: str, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
        calls[model] = calls.get(model, 0) + 1
        return np.full((len(x), 7), 1 / 7, np.float32)

    for recipe in ("a-1ep", "b-1ep"):
        (tmp_path / recipe / "unweighted-seed0").mkdir(parents=True)
        (tmp_path / recipe / "unweighted-seed0" / "best.keras").write_bytes(b"stub")
    monkeypatch.setattr("train.models.load_float32", load)
    monkeypatch.setattr("train.models.predict_probs", predict)
    x = np.zeros((3, 48, 48, 1), np.float32)
    names = ("a-1ep/unweighted-seed0@tencrop", "b-1ep/unweighted-seed0")
    teacher_probs(tmp_path, names, x, views="mirror")
    assert calls == {"a-1ep": 10, "b-1ep": 2}
    calls.clear()
    from train.ensemble import render, score

    result = score([parse_teacher(n, tmp_path) for n in names], x, np.zeros(3, int), ("one", "mirror"))
    assert calls == {"a-1ep": 10, "b-1ep": 3}, "the pinned member: its ten views, predicted once for both columns"
    assert result["pinned"] == {names[0]: "tencrop"}
    meta = {"command": "c", "host": "h", "platform": "p", "created": "t", "split": "val", "faces": 3}
    note = "averaged over those views in every column"
    assert note in render(result, meta)
    assert note not in render(score([parse_teacher(names[1], tmp_path)], x, np.zeros(3, int), ("one",)), meta)


def test_the_plan_trains_a_pinned_teacher_run_under_its_own_name(tmp_path: Path) -> None:
    recipe = replace(TINY, name="tiny", teachers=("tiny-1ep/unweighted-seed0@tencrop",), distill_weight=0.5)
    assert "needed first: tiny-1ep/unweighted-seed0 (1 epoch, to train)" in plan_text(
        recipe, ("unweighted",), 0, tmp_path / "runs")
