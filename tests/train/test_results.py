"""The README's results block is exactly what `make readme` generates from the committed manifest and study."""

from __future__ import annotations

from pathlib import Path

import pytest

from train import results


def test_readme_block_matches_committed_outputs(repo_root: Path):
    readme = repo_root / "README.md"
    if not (repo_root / "models" / "manifest.json").is_file():
        pytest.skip("no models/manifest.json")
    expected = results.render(repo_root / "models", results.default_studies(repo_root), repo_root)
    assert results.generated_block(readme.read_text()) == expected, (
        "README results block is stale: run `make readme` after `make convert` / `make study`"
    )


def test_generated_block_requires_markers():
    with pytest.raises(ValueError, match="markers"):
        results.generated_block("no markers here")


def test_models_section_lists_each_conversion_and_the_teachers():
    def entry(variant: str, fmt: str, command: str, teachers: dict | None) -> dict:
        training = {"command": f"python -m train --variants {variant}", "host": "h", "platform": "p",
                    "completed_epochs": 60, "best_epoch": 50, "train_wall_s": 600.0, "teachers": teachers,
                    "keras_metrics": {"val": {"accuracy": 0.642}}}
        acc = {"val": {"accuracy": 0.66, "macro_f1": 0.6, "agreement": 0.98, "n": 3589}}
        return {"variant": variant, "format": fmt, "file": f"{variant}_{fmt}.tflite", "size_bytes": 2048,
                "conversion": {"command": command}, "training": training, "accuracy": acc,
                "keras": {"val": {"accuracy": 0.65}}, "mirror_average": teachers is not None}

    teachers = {"runs": ["wide-40ep/unweighted-seed0"], "val_accuracy": 0.6615}
    manifest = {"command": "convert B", "host": "h", "models": [
        entry("unweighted", "int8", "convert B", teachers), entry("weighted", "int8", "convert A", None)]}
    text = "\n".join(results.models_section(manifest, "models"))
    assert "converted by `convert B` (unweighted); `convert A` (weighted) on `h`" in text
    assert "distilled from `wide-40ep/unweighted-seed0` (their ensemble: 66.15% on val)" in text
    # Wilson 95% interval of 66% of 3589 faces: 64.44-67.54%
    assert ("| unweighted_int8.tflite | 2 | 2.0 | 66.00 (64.4-67.5) | +1.00 | 60.00 | 98.00 | 64.20 | 60 (50) "
            "| 10 min |") in text
    assert "| weighted_int8.tflite | 1 | 2.0 | 66.00 (64.4-67.5) |" in text


def _section_of_one_model(training: dict) -> str:
    """The README models section of a manifest holding one unweighted int8 model trained as ``training`` says."""
    entry = {"variant": "unweighted", "format": "int8", "file": "unweighted_int8.tflite", "size_bytes": 2048,
             "conversion": {"command": "convert"}, "training": training,
             "accuracy": {"val": {"accuracy": 0.68, "macro_f1": 0.6, "agreement": 0.98}},
             "keras": {"val": {"accuracy": 0.68}}, "mirror_average": True}
    return "\n".join(results.models_section({"host": "h", "models": [entry]}, "models"))


def test_models_section_names_the_starting_run_and_the_whole_budget():
    training = {"command": "python -m train --recipe finetuned", "host": "h", "platform": "p",
                "completed_epochs": 4, "best_epoch": 4, "train_wall_s": 360.0, "total_train_min": 390.4,
                "init_from": {"run": "distilled-60ep/unweighted-seed0", "val_accuracy": 0.6567},
                "teachers": {"runs": ["wide-40ep/unweighted-seed0"], "val_accuracy": 0.6687},
                "keras_metrics": {"val": {"accuracy": 0.68}}}
    text = _section_of_one_model(training)
    assert ("4 epochs in 6 min, fine-tuned from `distilled-60ep/unweighted-seed0` (65.67% on val), distilled from "
            "`wide-40ep/unweighted-seed0` (their ensemble: 66.87% on val); 390 min with the runs it needed first"
            ) in text


def test_budgets_plot_is_linked_from_the_readme_by_its_project_path(tmp_path: Path):
    import json

    budgets = {"meta": {"recipe": "compact", "command": "c", "host": "h", "platform": "p", "created": "now"},
               "budgets": [], "pending": [{"epochs": 32, "runs_left": 6}]}
    folder = tmp_path / "reports" / "study" / "compact-budgets"
    folder.mkdir(parents=True)
    (folder / "budgets.json").write_text(json.dumps(budgets))
    (tmp_path / "models").mkdir()
    text = results.render(tmp_path / "models", [], tmp_path)
    assert "budgets.png" not in text, "no plot written: no link"
    (folder / "budgets.png").write_bytes(b"png")
    text = results.render(tmp_path / "models", [], tmp_path)
    assert "](reports/study/compact-budgets/budgets.png)" in text


def test_study_reports_are_listed_by_recipe_then_budget(tmp_path: Path):
    """Budgets in numeric order (a 128-epoch report after the 16-epoch one), whatever the folder names sort to."""
    from train.results import default_studies

    for name in ("compact-32ep", "compact-128ep", "compact-16ep", "paper-100ep", "notes"):
        (tmp_path / "reports" / "study" / name).mkdir(parents=True)
        (tmp_path / "reports" / "study" / name / "study.json").write_text("{}")
    assert [p.parent.name for p in default_studies(tmp_path)] == [
        "compact-16ep", "compact-32ep", "compact-128ep", "notes", "paper-100ep"]


def test_models_section_says_a_weight_average_trained_nothing_itself_and_names_its_members_and_teachers():
    training = {"command": "python -m train --recipe soup", "host": "h", "platform": "p",
                "completed_epochs": 0, "best_epoch": 0, "train_wall_s": 0, "total_train_min": 162.2,
                "soup": {"runs": ["tail-4ep/unweighted-seed0", "plain-tail-4ep/unweighted-seed0"]},
                "teachers": {"runs": ["big.tflite"], "val_accuracy": 0.7113, "via": "tail-4ep/unweighted-seed0"},
                "keras_metrics": {"val": {"accuracy": 0.68}}}
    text = _section_of_one_model(training)
    assert "0 epochs in 0 min" not in text
    assert ("no epochs of its own, the weight average of `tail-4ep/unweighted-seed0` + "
            "`plain-tail-4ep/unweighted-seed0`, distilled from `big.tflite` (by way of `tail-4ep/unweighted-seed0`) "
            "(their ensemble: 71.13% on val); 162 min with the runs it needed first") in text


@pytest.mark.parametrize(("content", "message"), [("{not json", "not a readable study.json"),
                                                  ('{"seeds": []}', "no meta, claims")])
def test_a_study_file_that_is_not_one_is_refused_before_the_readme_is_touched(tmp_path: Path, capsys, content,
                                                                               message):
    from train.results import main

    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- results:begin -->\n<!-- results:end -->\n")
    study = tmp_path / "study.json"
    study.write_text(content)
    assert main(["--readme", str(readme), "--models", str(tmp_path / "models"), "--studies", str(study)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "study.json: " in err and message in err, err
    assert readme.read_text() == "# x\n<!-- results:begin -->\n<!-- results:end -->\n"
