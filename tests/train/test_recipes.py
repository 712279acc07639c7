"""The recipe table (train/recipes.py) against what the repository holds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from train.recipes import RECIPES
from train.teachers import names_model_file, parse_teacher

MODEL_TEACHERS = sorted({(r.name, t) for r in RECIPES.values() for t in r.teachers if names_model_file(t)})


@pytest.mark.parametrize("recipe,teacher", MODEL_TEACHERS, ids=[f"{r}:{t}" for r, t in MODEL_TEACHERS])
def test_every_model_file_a_recipe_learns_from_is_committed(recipe, teacher, tmp_path):
    """A model-file teacher is never trained first: a recipe naming one that is missing, or another version of it,
    would fail on every fresh checkout (kept models: models/teachers/)."""
    parse_teacher(teacher, tmp_path).check()


def test_some_recipe_learns_from_a_model_file():
    assert MODEL_TEACHERS, "the check above would pass vacuously"


def test_device_crops_need_a_detector_and_a_share_between_0_and_1():
    from dataclasses import replace

    from train.recipes import TINY

    for crops, share in (("", 0.5), ("blazeface", 0.0), ("blazeface", 1.5)):
        with pytest.raises(ValueError, match="device_crop_share"):
            replace(TINY, device_crops=crops, device_crop_share=share)
    assert replace(TINY, device_crops="blazeface", device_crop_share=1.0).device_crop_share == 1.0
    assert any(r.device_crops for r in RECIPES.values())


def test_a_reseeded_recipe_holds_its_base_at_seed_0_and_needs_a_seeded_base() -> None:
    from train.recipes import reseeded
    from train.runs import init_run_name

    tail = reseeded(RECIPES["student-deep-tail"])
    assert tail.name == "student-deep-tail-reseeded" and RECIPES[tail.name] == tail
    assert init_run_name(tail, "weighted", 2) == "student-deep-60ep/weighted-seed0"
    assert init_run_name(RECIPES["student-deep-tail"], "weighted", 2) == "student-deep-60ep/weighted-seed2"
    with pytest.raises(ValueError, match="init_from"):
        reseeded(RECIPES["wide"])


def test_a_retaught_chain_trains_again_under_its_new_teachers_from_the_same_base() -> None:
    """student-vggnet3-restart*: the shipped restart chain with three teachers; its own runs renamed, its base kept,
    the soup distilling from none."""
    from train.recipes import VGGNET3_TEACHERS

    restart, tail, soup = (RECIPES[f"student-vggnet3-restart{s}"] for s in ("", "-tail", "-soup"))
    assert restart.teachers == tail.teachers == VGGNET3_TEACHERS and len(VGGNET3_TEACHERS) == 3
    base = "student-vggnet-60ep/{variant}-seed{seed}"
    assert restart.init_from == RECIPES["student-vggnet-restart"].init_from == base
    assert tail.init_from == "student-vggnet3-restart-30ep/{variant}-seed{seed}"
    assert soup.teachers == () and soup.soup == ("student-vggnet3-restart-tail-4ep/{variant}-seed{seed}",
                                                 "student-vggnet3-restart-plain-tail-4ep/{variant}-seed{seed}")
    assert tail.epochs == RECIPES["student-vggnet-restart-tail"].epochs


def test_the_deferred_tails_start_every_variant_from_the_shipped_unweighted_soup() -> None:
    """student-vggnet-deferred*: the shipped chain's two tails and soup, changed only in where they start: the shipped
    unweighted soup's checkpoint, whatever the variant, so a weighted run applies its class weights in the last
    stage alone (deferred re-weighting)."""
    from train.runs import init_run_name

    for suffix in ("-tail", "-plain-tail"):
        old, new = RECIPES[f"student-vggnet-restart{suffix}"], RECIPES[f"student-vggnet-deferred{suffix}"]
        assert init_run_name(new, "weighted", 0) == "student-vggnet-restart-soup-0ep/unweighted-seed0"
        assert init_run_name(new, "weighted", 3) == "student-vggnet-restart-soup-0ep/unweighted-seed3"
        assert replace(new, name=old.name, description=old.description, init_from=old.init_from) == old
    assert RECIPES["student-vggnet-deferred-soup"].soup == (
        "student-vggnet-deferred-tail-4ep/{variant}-seed{seed}",
        "student-vggnet-deferred-plain-tail-4ep/{variant}-seed{seed}")
    for suffix in ("-tail", "-plain-tail"):
        again = RECIPES[f"student-vggnet-deferred{suffix}-reseeded"]
        assert init_run_name(again, "weighted", 1) == "student-vggnet-restart-soup-0ep/unweighted-seed0"
    assert RECIPES["student-vggnet-deferred-soup4"].soup == (
        "student-vggnet-deferred-tail-4ep/{variant}-seed0", "student-vggnet-deferred-plain-tail-4ep/{variant}-seed0",
        "student-vggnet-deferred-tail-reseeded-4ep/{variant}-seed1",
        "student-vggnet-deferred-plain-tail-reseeded-4ep/{variant}-seed1")


def test_the_third_cycle_starts_from_the_second_and_changes_nothing_else() -> None:
    """student-vggnet-restart2*: the shipped restart chain once more, from the restart's own run; the same teachers,
    epochs, rate and tails, its soup of its own two tails."""
    restart, again = RECIPES["student-vggnet-restart"], RECIPES["student-vggnet-restart2"]
    assert again.init_from == "student-vggnet-restart-30ep/{variant}-seed{seed}"
    assert (again.teachers, again.epochs, again.learning_rate) == (restart.teachers, restart.epochs,
                                                                  restart.learning_rate)
    for suffix in ("-tail", "-plain-tail"):
        old, new = RECIPES[f"student-vggnet-restart{suffix}"], RECIPES[f"student-vggnet-restart2{suffix}"]
        assert new.init_from == "student-vggnet-restart2-30ep/{variant}-seed{seed}"
        assert replace(new, name=old.name, description=old.description, init_from=old.init_from) == old
    assert RECIPES["student-vggnet-restart2-soup"].soup == (
        "student-vggnet-restart2-tail-4ep/{variant}-seed{seed}",
        "student-vggnet-restart2-plain-tail-4ep/{variant}-seed{seed}")
