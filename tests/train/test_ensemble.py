"""Teachers scored alone and as an ensemble, with test-time views."""

from __future__ import annotations

import numpy as np
import pytest

from train import ensemble
from train.runs import RunRef
from train.teachers import parse_teacher


def test_views_are_the_face_corner_crops_and_mirrors():
    x = np.arange(2 * 48 * 48, dtype=np.float32).reshape(2, 48, 48, 1) % 251
    assert len(ensemble.views(x, "one")) == 1
    one, mirrored = ensemble.views(x, "mirror")
    np.testing.assert_array_equal(mirrored, x[:, :, ::-1])
    ten = ensemble.views(x, "tencrop")
    assert len(ten) == 10 and all(v.shape == x.shape for v in ten)
    np.testing.assert_array_equal(ten[5], x[:, :, ::-1])  # the mirrors follow the five plain views
    assert not np.array_equal(ten[1], x)  # a corner crop, scaled back up
    with pytest.raises(ValueError, match="expected one of"):
        ensemble.views(x, "zoom")


def test_ensemble_averages_members_in_log_space(tmp_path, monkeypatch):
    y = np.array([0, 1, 2, 3])
    x = np.zeros((4, 48, 48, 1), np.float32)
    # member a is right on faces 0, 1; member b on faces 2, 3; together they are more confident where right
    tables = {"a": np.eye(7)[[0, 1, 0, 0]] * 0.6 + 0.4 / 7, "b": np.eye(7)[[1, 1, 2, 3]] * 0.5 + 0.5 / 7}
    for name in tables:
        folder = RunRef(name, 1, "unweighted", 0).folder(tmp_path)
        folder.mkdir(parents=True)
        (folder / "best.keras").write_bytes(b"stub")
    monkeypatch.setattr("train.models.load_float32", lambda path: path.parent.parent.name.split("-")[0])
    monkeypatch.setattr("train.models.predict_probs", lambda model, v, batch_size=512: tables[model])
    members = [parse_teacher(name, tmp_path) for name in ("a-1ep/unweighted-seed0", "b-1ep/unweighted-seed0")]
    result = ensemble.score(members, x, y, ("one",))
    assert result["members"]["a-1ep/unweighted-seed0"]["one"] == 0.5
    assert result["members"]["b-1ep/unweighted-seed0"]["one"] == 0.75
    logp = np.log(tables["a"]) + np.log(tables["b"])
    assert result["ensemble"]["one"] == float((logp.argmax(1) == y).mean())


def test_missing_member_is_a_clear_error(tmp_path, capsys):
    assert ensemble.main(["--data", str(tmp_path / "x.csv"), "--members", "teacher-vgg-60ep/unweighted-seed0",
                          "--runs", str(tmp_path)]) == 2
    assert "teacher-vgg-60ep/unweighted-seed0/best.keras" in capsys.readouterr().err
    assert ensemble.main(["--data", "x", "--members", "nonsense"]) == 2


def test_a_recipe_distils_only_from_views_the_ensemble_knows():
    from dataclasses import replace

    from train.recipes import RECIPES, TEACHER_VIEWS, TINY

    assert set(TEACHER_VIEWS) <= set(ensemble.VIEWS)
    assert RECIPES["student-vgg"].teacher_views == RECIPES["student-vgg-tail"].teacher_views == "tencrop"
    with pytest.raises(ValueError, match="teacher_views 'sevencrop'"):
        replace(TINY, teacher_views="sevencrop")


def test_an_output_folder_that_cannot_be_written_is_refused_first(tmp_path, capsys):
    from train.ensemble import main

    (tmp_path / "a-file").write_text("in the way")
    rc = main(["--data", str(tmp_path / "fer.csv"), "--members", "nope-1ep/unweighted-seed0",
               "--out", str(tmp_path / "a-file" / "report")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: --out ") and "a-file" in err, err
