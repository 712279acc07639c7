"""A distilled or fine-tuned model's budget in the manifest names the runs it needed first and their training time."""

from __future__ import annotations

import json

from convert.pipeline import _training_info


def _run(folder, config: dict, metrics: dict):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "best.keras").write_bytes(b"")
    return folder / "best.keras"


def test_budget_includes_the_teachers(tmp_path):
    runs = tmp_path / "runs"
    _run(runs / "wide-40ep" / "unweighted-seed0", {"recipe": {"name": "wide", "epochs": 40}},
         {"train_wall_s": 4620.0, "splits": {}})
    ckpt = _run(runs / "distilled-60ep" / "unweighted-seed0",
                {"recipe": {"name": "distilled", "epochs": 60}, "host": "h", "threads": 2, "gpus": [],
                 "teachers": {"runs": ["wide-40ep/unweighted-seed0", "compact-50ep/unweighted-seed0"]}},
                {"train_wall_s": 6000.0, "completed_epochs": 60, "best_epoch": 55, "splits": {}})
    info = _training_info(ckpt)
    assert info["budget"] == (
        "60 epochs of the distilled recipe, 100 min wall on 2 CPU thread(s) of h, no GPU, after the runs it needed "
        "first: wide-40ep/unweighted-seed0 (77 min), compact-50ep/unweighted-seed0 (time unknown); 177 min in all"
    )
    assert info["teachers"]["runs"][0] == "wide-40ep/unweighted-seed0"
    assert info["total_train_min"] == 177.0


def test_fine_tuned_budget_counts_its_starting_run_and_every_teacher_once(tmp_path):
    runs = tmp_path / "runs"
    _run(runs / "wide-40ep" / "unweighted-seed0", {"recipe": {"name": "wide"}}, {"train_wall_s": 600.0})
    _run(runs / "distilled-60ep" / "weighted-seed0",
         {"recipe": {"name": "distilled"}, "teachers": {"runs": ["wide-40ep/unweighted-seed0"]}},
         {"train_wall_s": 1200.0})
    _run(runs / "distilled-60ep" / "unweighted-seed0",
         {"recipe": {"name": "distilled"}, "teachers": {"runs": ["wide-40ep/unweighted-seed0"]}},
         {"train_wall_s": 1800.0})
    ckpt = _run(runs / "finetuned-4ep" / "weighted-seed0",
                {"recipe": {"name": "finetuned", "epochs": 4}, "host": "h", "threads": 2, "gpus": [],
                 "init_from": {"run": "distilled-60ep/weighted-seed0"},
                 "teachers": {"runs": ["distilled-60ep/unweighted-seed0", "wide-40ep/unweighted-seed0"]}},
                {"train_wall_s": 300.0, "splits": {}})
    info = _training_info(ckpt)
    assert info["budget"] == (
        "4 epochs of the finetuned recipe, 5 min wall on 2 CPU thread(s) of h, no GPU, after the runs it needed "
        "first: distilled-60ep/weighted-seed0 (20 min), distilled-60ep/unweighted-seed0 (30 min), "
        "wide-40ep/unweighted-seed0 (10 min); 65 min in all"
    )
    assert info["init_from"]["run"] == "distilled-60ep/weighted-seed0" and info["total_train_min"] == 65.0


def test_a_weight_average_needed_first_counts_no_time_not_an_unknown_one(tmp_path):
    """A soup (0 epochs, train_wall_s 0) that a later run starts from is a run of known cost: none."""
    runs = tmp_path / "runs"
    _run(runs / "soup-0ep" / "unweighted-seed0", {"recipe": {"name": "soup", "epochs": 0}}, {"train_wall_s": 0.0})
    ckpt = _run(runs / "tail-4ep" / "weighted-seed0",
                {"recipe": {"name": "tail", "epochs": 4}, "host": "h", "threads": 2, "gpus": [],
                 "init_from": {"run": "soup-0ep/unweighted-seed0"}},
                {"train_wall_s": 480.0, "splits": {}})
    assert _training_info(ckpt)["budget"] == (
        "4 epochs of the tail recipe, 8 min wall on 2 CPU thread(s) of h, no GPU, after the runs it needed first: "
        "soup-0ep/unweighted-seed0 (0 min); 8 min in all")


def test_plain_run_budget_has_no_teachers(tmp_path):
    ckpt = _run(tmp_path / "runs" / "wide-40ep" / "weighted-seed0",
                {"recipe": {"name": "wide", "epochs": 40}, "host": "h", "threads": 2, "gpus": []},
                {"train_wall_s": 4620.0, "splits": {}})
    assert _training_info(ckpt)["budget"] == "40 epochs of the wide recipe, 77 min wall on 2 CPU thread(s) of h, no GPU"
    assert _training_info(ckpt)["precision"] == "float32"  # runs from before Recipe.precision


def test_mixed_precision_run_says_so_in_its_budget(tmp_path):
    ckpt = _run(tmp_path / "runs" / "wide-bf16-40ep" / "weighted-seed0",
                {"recipe": {"name": "wide-bf16", "epochs": 40, "precision": "mixed_bfloat16"}, "host": "h",
                 "threads": 2, "gpus": []},
                {"train_wall_s": 3000.0, "splits": {}})
    info = _training_info(ckpt)
    assert info["precision"] == "mixed_bfloat16"
    assert info["budget"] == ("40 epochs of the wide-bf16 recipe in mixed_bfloat16 maths, 50 min wall on 2 CPU "
                              "thread(s) of h, no GPU")


def test_budget_names_the_precision_the_run_trained_in_not_the_one_asked_for(tmp_path):
    ckpt = _run(tmp_path / "runs" / "wide-bf16-40ep" / "weighted-seed0",
                {"recipe": {"name": "wide-bf16", "epochs": 40, "precision": "mixed_bfloat16"}, "precision": "float32",
                 "host": "h", "threads": 2, "gpus": []},
                {"train_wall_s": 3000.0, "splits": {}})
    info = _training_info(ckpt)
    assert info["precision"] == "float32" and "maths" not in info["budget"]


def test_a_teachers_pinned_views_name_the_same_run_and_model_file(tmp_path):
    runs = tmp_path / "runs"
    _run(runs / "teacher-vgg-60ep" / "unweighted-seed0", {"recipe": {"name": "teacher-vgg"}}, {"train_wall_s": 600.0})
    model = "models/unweighted_float32.tflite#sha256=e34666a8a414"
    _run(runs / "student-duo-60ep" / "unweighted-seed0",
         {"recipe": {"name": "student-duo"}, "teachers": {"runs": ["teacher-vgg-60ep/unweighted-seed0@tencrop",
                                                                   f"{model}@one"]}},
         {"train_wall_s": 1200.0})
    ckpt = _run(runs / "student-duo-plain-tail-4ep" / "unweighted-seed0",
                {"recipe": {"name": "student-duo-plain-tail", "epochs": 4}, "host": "h", "threads": 2, "gpus": [],
                 "init_from": {"run": "student-duo-60ep/unweighted-seed0"},
                 "teachers": {"runs": ["teacher-vgg-60ep/unweighted-seed0@tencrop", f"{model}@one"]}},
                {"train_wall_s": 300.0, "splits": {}})
    assert _training_info(ckpt)["budget"] == (
        "4 epochs of the student-duo-plain-tail recipe, 5 min wall on 2 CPU thread(s) of h, no GPU, after the runs it "
        "needed first: student-duo-60ep/unweighted-seed0 (20 min), teacher-vgg-60ep/unweighted-seed0 (10 min), "
        f"{model} (a converted model: its own budget is in the manifest it shipped with); 35 min in all"
    )


def test_weight_average_names_its_members_and_inherits_the_teachers_of_the_run_that_distilled(tmp_path):
    runs = tmp_path / "runs"
    teachers = {"runs": ["wide-40ep/unweighted-seed0"], "val_accuracy": 0.70}
    _run(runs / "wide-40ep" / "unweighted-seed0", {"recipe": {"name": "wide"}}, {"train_wall_s": 600.0})
    _run(runs / "tail-4ep" / "unweighted-seed0", {"recipe": {"name": "tail"}, "teachers": teachers},
         {"train_wall_s": 300.0})
    _run(runs / "plain-4ep" / "unweighted-seed0", {"recipe": {"name": "plain"}}, {"train_wall_s": 300.0})
    ckpt = _run(runs / "soup-0ep" / "unweighted-seed0",
                {"recipe": {"name": "soup", "epochs": 0}, "host": "h", "threads": 2, "gpus": [],
                 "tensorflow": "2.21.0",
                 "soup": {"runs": ["plain-4ep/unweighted-seed0", "tail-4ep/unweighted-seed0"]}},
                {"train_wall_s": 0, "completed_epochs": 0, "splits": {}})
    info = _training_info(ckpt)
    assert info["soup"] == {"runs": ["plain-4ep/unweighted-seed0", "tail-4ep/unweighted-seed0"]}
    assert info["teachers"] == {**teachers, "via": "tail-4ep/unweighted-seed0"}
    assert info["tensorflow"] == "2.21.0" and info["total_train_min"] == 20.0


def test_run_that_distilled_nothing_anywhere_has_no_teachers(tmp_path):
    runs = tmp_path / "runs"
    _run(runs / "plain-4ep" / "unweighted-seed0", {"recipe": {"name": "plain"}}, {"train_wall_s": 300.0})
    ckpt = _run(runs / "soup-0ep" / "unweighted-seed0",
                {"recipe": {"name": "soup"}, "soup": {"runs": ["plain-4ep/unweighted-seed0"]}},
                {"train_wall_s": 0})
    assert _training_info(ckpt)["teachers"] is None
