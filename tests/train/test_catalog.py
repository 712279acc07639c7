"""The recipe listing and the README's recipe table come from the recipes table, and the README's copy is current."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.readme import block
from train import catalog
from train.recipes import DEFAULT_RECIPE, RECIPES, STUDY_RECIPE


def test_readme_recipe_table_is_current(repo_root: Path):
    expected = catalog.render_table(RECIPES.values(), catalog.shipped_recipes(repo_root / "models"))
    assert block((repo_root / "README.md").read_text(encoding="utf-8"), catalog.BLOCK) == expected, (
        "README recipe table is stale: run `make readme` after changing train/recipes.py")


def test_teachers_show_their_pinned_views_else_the_recipes():
    recipe = replace(RECIPES["wide"], teachers=("wide-40ep/unweighted-seed0", "compact-50ep/unweighted-seed1@one",
                                                "models/x.tflite#sha256=0123456789ab@tencrop"),
                     teacher_views="mirror")
    assert catalog.teacher_labels(recipe) == ["wide-40ep/unweighted-seed0@mirror",
                                              "compact-50ep/unweighted-seed1@one",
                                              "models/x.tflite#sha256=0123456789ab@tencrop"]


def test_table_rows_carry_cost_start_and_role():
    table = catalog.render_table([RECIPES["student-duo-2x-plain-tail"], RECIPES[DEFAULT_RECIPE],
                                  RECIPES[STUDY_RECIPE]])
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    params, macs = RECIPES["student-duo-2x-plain-tail"].cost()
    assert rows[0].startswith(f"| `student-duo-2x-plain-tail` | {params:,} | {macs / 1e6:.1f}M | 4 | "
                              "`student-duo-2x-60ep/<variant>-seed<seed>` | "
                              "`teacher-vgg-60ep/unweighted-seed0@tencrop`")
    assert rows[1].startswith(f"| `{DEFAULT_RECIPE}` (default) |")
    assert rows[2].startswith(f"| `{STUDY_RECIPE}` (the study's) |")


def test_shipped_recipes_come_from_the_manifest(tmp_path: Path):
    assert catalog.shipped_recipes(tmp_path) == set()
    (tmp_path / "manifest.json").write_text(json.dumps({"models": [
        {"file": "a.tflite", "training": {"recipe": "finetuned"}}, {"file": "b.tflite"}]}), encoding="utf-8")
    assert catalog.shipped_recipes(tmp_path) == {"finetuned"}
    table = catalog.render_table([RECIPES["finetuned"], RECIPES["wide"]], {"finetuned"})
    assert "| `finetuned` (ships) |" in table and "| `wide` |" in table


def test_listing_prints_what_a_recipe_needs(tmp_path: Path, capsys):
    assert catalog.main(["--recipes", "finetuned", "--models", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("finetuned: 576,167 parameters, 75.0M multiply-adds a face, 4 epochs, float32")
    assert "starts from distilled-60ep/<variant>-seed<seed>" in out
    assert "teachers: distilled-60ep/unweighted-seed0@mirror, wide-40ep/unweighted-seed0@mirror" in out
    assert "(50% of the target, temperature 2)" in out


def test_readme_flag_rewrites_only_the_block(tmp_path: Path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- recipes:begin -->\nstale\n<!-- recipes:end -->\noutro\n", encoding="utf-8")
    assert catalog.main(["--readme", str(readme), "--recipes", "tiny", "--models", str(tmp_path)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("intro\n<!-- recipes:begin -->") and text.endswith("<!-- recipes:end -->\noutro\n")
    assert "| `tiny` | 435 | 0.2M | 1 | - | - | float32 |" in text and "stale" not in text


@pytest.mark.parametrize("content", [None, "no markers\n"])
def test_readme_without_the_block_is_an_error_naming_it(tmp_path: Path, capsys, content):
    readme = tmp_path / "README.md"
    if content is not None:
        readme.write_text(content, encoding="utf-8")
    assert catalog.main(["--readme", str(readme)]) == 2
    assert str(readme) in capsys.readouterr().err
    assert content is None or readme.read_text(encoding="utf-8") == content


def test_unreadable_manifest_is_an_error_naming_it(tmp_path: Path, capsys):
    (tmp_path / "manifest.json").write_text("{", encoding="utf-8")
    assert catalog.main(["--models", str(tmp_path)]) == 2
    assert str(tmp_path / "manifest.json") in capsys.readouterr().err
