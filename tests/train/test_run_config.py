"""A run folder is only reused or resumed for the recipe it was trained with."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from train.__main__ import main as train_main
from train.recipes import TINY
from train.runs import RunMismatchError, check_run_config


def _write_config(folder, recipe) -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"recipe": recipe.to_dict()}))


def test_same_recipe_passes_and_missing_config_passes(tmp_path):
    check_run_config(tmp_path / "absent", TINY)
    _write_config(tmp_path / "run", TINY)
    check_run_config(tmp_path / "run", TINY)


def test_rename_or_reworded_description_keeps_the_run(tmp_path):
    _write_config(tmp_path / "run", TINY)
    check_run_config(tmp_path / "run", replace(TINY, name="renamed", description="other words"))


def test_changed_architecture_is_refused_with_the_field_named(tmp_path):
    _write_config(tmp_path / "run", TINY)
    with pytest.raises(RunMismatchError) as err:
        check_run_config(tmp_path / "run", replace(TINY, widths=(8, 16)))
    msg = str(err.value)
    assert "config.json" in msg and "widths" in msg and "[4, 8]" in msg and "(8, 16)" in msg
    assert "convs" not in msg


def test_unreadable_config_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{not json")
    with pytest.raises(RunMismatchError, match="unreadable"):
        check_run_config(tmp_path / "run", TINY)


def test_cli_exits_2_on_a_stale_run_folder(tmp_path, capsys):
    runs = tmp_path / "runs"
    _write_config(runs / "tiny-1ep" / "unweighted-seed0", replace(TINY, learning_rate=1.0))
    data = tmp_path / "absent.csv"  # never read: the folder check comes first
    data.write_text("emotion,pixels,Usage\n")
    rc = train_main(["--data", str(data), "--recipe", "tiny", "--epochs", "1", "--runs", str(runs),
                     "--variants", "unweighted", "--no-report"])
    err = capsys.readouterr().err
    assert rc == 2 and "learning_rate" in err and "different recipe" in err


def test_run_ref_names_its_folder_and_parses_back(tmp_path):
    from train.runs import RunNameError, RunRef, run_dir

    ref = RunRef("wide-bf16", 40, "weighted", 2)
    assert ref.name == "wide-bf16-40ep/weighted-seed2" == str(ref)
    assert ref.folder(tmp_path) == run_dir(tmp_path, "wide-bf16", 40, "weighted", 2)
    assert RunRef.parse(ref.name) == ref
    for bad in ("wide/unweighted-seed0", "wide-40ep/unweighted", "wide-40ep/unweighted-seedx"):
        with pytest.raises(RunNameError, match="is not <recipe>-<epochs>ep/<variant>-seed<seed>"):
            RunRef.parse(bad)


def test_recorded_sessions_of_new_old_and_current_run_folders(tmp_path):
    from train.runs import recorded_sessions

    assert recorded_sessions(tmp_path) == [], "a new run has no session yet"
    (tmp_path / "config.json").write_text(json.dumps({"recipe": {}, "created": "2026-11-01T00:00:00+00:00",
                                                      "host": "vm"}))
    assert recorded_sessions(tmp_path) == [{"created": "2026-11-01T00:00:00+00:00", "host": "vm",
                                            "epochs_done": None}], "a config from before sessions: one, start unknown"
    kept = [{"created": "a", "host": "vm", "epochs_done": 0}, {"created": "b", "host": "gpu", "epochs_done": 12}]
    (tmp_path / "config.json").write_text(json.dumps({"recipe": {}, "host": "gpu", "sessions": kept}))
    assert recorded_sessions(tmp_path) == kept
    (tmp_path / "config.json").write_text("{")
    assert recorded_sessions(tmp_path) == []
